//! Encoded residual programs: the states the top-down compiler expands,
//! as flat `u32` arrays (target, then per rule `head, #lits, #atoms,
//! lits…, atoms…`), and what it does to them between reductions: condition
//! on one decision, or split off a [`Chain`] of decisions that only one set
//! of rules depends on.

/// A state's key in LEB128 (seven bits a byte): most numbers in a key are
/// small, so this stores it in a third of the bytes, losslessly.
pub(super) fn pack(key: &[u32]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(key.len() * 2);
    for &x in key {
        let mut x = x;
        while x >= 0x80 {
            out.push((x as u8) | 0x80);
            x >>= 7;
        }
        out.push(x as u8);
    }
    out.into_boxed_slice()
}

/// Iterates over the rules of an encoded state: `(head, lits, atoms)`.
pub(super) fn rules_of(state: &[u32]) -> impl Iterator<Item = (u32, &[u32], &[u32])> {
    let mut at = 1;
    std::iter::from_fn(move || {
        if at >= state.len() {
            return None;
        }
        let (head, nl, na) = (state[at], state[at + 1] as usize, state[at + 2] as usize);
        let lits = &state[at + 3..at + 3 + nl];
        let atoms = &state[at + 3 + nl..at + 3 + nl + na];
        at += 3 + nl + na;
        Some((head, lits, atoms))
    })
}

/// The first variable of the order in a reduced state (which has at least
/// one literal: a state without any is a constant).
pub(super) fn first_var(state: &[u32]) -> u32 {
    rules_of(state).filter_map(|(_, lits, _)| lits.first()).min().expect("a reduced state mentions a slot") >> 1
}

/// `state` with `var` set to `value` (`var` is the state's first variable,
/// so it can only be the first literal of a rule).
pub(super) fn condition(state: &[u32], var: u32, value: bool) -> Vec<u32> {
    let mut out = Vec::with_capacity(state.len());
    out.push(state[0]);
    for (head, lits, atoms) in rules_of(state) {
        let lits = match lits.first() {
            Some(&l) if l >> 1 == var => {
                if (l & 1 == 0) != value {
                    continue;
                }
                &lits[1..]
            }
            _ => lits,
        };
        out.extend([head, lits.len() as u32, atoms.len() as u32]);
        out.extend_from_slice(lits);
        out.extend_from_slice(atoms);
    }
    out
}

/// A run of decisions that one set of rules depends on alike: `lits`
/// begin each rule of the set, mention the state's first variables, and
/// no other rule mentions them. The state's function is then `lits ∧
/// f(after) ∨ ¬lits ∧ f(without)`, `after` the state with the run gone from
/// the set's rules and `without` the state without them. Its diagram is a
/// chain of the run's variables, each falling to `without`'s diagram, the
/// last going on to `after`'s: two states to reduce and cache instead of
/// one per variable, each a copy of what is left. Rules using heads `k`
/// and `k + 1` of an annotated disjunction share `k − 1` such literals;
/// they cost `k` steps rather than `k²`.
pub(super) struct Chain {
    pub lits: Vec<u32>,
    pub without: Vec<u32>,
    pub after: Vec<u32>,
}

/// The [`Chain`] at the top of a reduced state, if it is two variables or
/// longer (one is a decision like any other).
pub(super) fn chain(state: &[u32]) -> Option<Chain> {
    let var = first_var(state);
    // The rules that begin with `var` (the set) must begin alike; the run
    // is their common prefix, up to the first variable of any other rule.
    let mut set: Option<&[u32]> = None;
    let mut common = 0;
    let mut others_first = u32::MAX;
    for (_, lits, _) in rules_of(state) {
        match lits.first() {
            Some(&l) if l >> 1 == var => match set {
                None => {
                    set = Some(lits);
                    common = lits.len();
                }
                Some(first) => common = common.min(first.iter().zip(lits).take_while(|(a, b)| a == b).count()),
            },
            Some(&l) => others_first = others_first.min(l >> 1),
            None => {}
        }
    }
    let first = set?;
    let run = first[..common].iter().take_while(|&&l| l >> 1 < others_first).count();
    if run < 2 {
        return None;
    }
    let mut without = Vec::with_capacity(state.len());
    let mut after = Vec::with_capacity(state.len());
    without.push(state[0]);
    after.push(state[0]);
    for (head, lits, atoms) in rules_of(state) {
        let in_set = lits.first().is_some_and(|&l| l >> 1 == var);
        let kept = if in_set { &lits[run..] } else { lits };
        after.extend([head, kept.len() as u32, atoms.len() as u32]);
        after.extend_from_slice(kept);
        after.extend_from_slice(atoms);
        if !in_set {
            without.extend([head, lits.len() as u32, atoms.len() as u32]);
            without.extend_from_slice(lits);
            without.extend_from_slice(atoms);
        }
    }
    Some(Chain { lits: first[..run].to_vec(), without, after })
}
