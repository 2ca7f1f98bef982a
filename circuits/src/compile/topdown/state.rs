//! Encoded residual programs: the states the top-down compiler expands,
//! as flat `u32` arrays (target, then per rule `head, #lits, #atoms,
//! lits…, atoms…`), and what it does to them between reductions.

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
