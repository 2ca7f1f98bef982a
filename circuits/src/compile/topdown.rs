//! Top-down compilation of positive programs: Shannon expansion of the
//! *residual program*, with a cache of residual programs.
//!
//! The Kleene iteration of [`lineage`](super::lineage) builds, on the way to
//! a cyclic atom's least fixpoint, the formulas "derivable in at most `k`
//! steps", whose diagrams remember path lengths and grow far beyond the
//! final one (reachability in a graph of 11 nodes: a million intermediate
//! BDD nodes for a final diagram of four thousand). This compiler never
//! builds them. It decides the slots one at a time, in a fixed order, and
//! after each decision simplifies what is left of the program:
//!
//! - a rule with a false literal goes, a true literal leaves its body;
//! - atoms derivable without undecided slots are true, atoms not derivable
//!   even with every undecided slot true are false (an unfounded loop is
//!   false), and both are substituted away;
//! - rules that cannot reach the target atom go;
//! - an atom whose rules no longer mention any slot is *unfolded* into the
//!   rules that use it (`h :- a, B` and `a :- C` give `h :- B, C`), which
//!   preserves the least model; a rule whose body holds its own head goes;
//! - duplicate and subsumed rules go, and the rest is sorted.
//!
//! The result is a canonical residual program; equal residual programs
//! have equal functions, so the cache maps each to its diagram node. For a
//! graph, the residual program after the edges near the source are decided
//! is, in effect, which frontier nodes are connected to which: the state of
//! frontier-based reachability algorithms, found here for any positive
//! program. Decisions follow one global order, so the nodes it makes are
//! those of the reduced ordered BDD, in the same manager as the other
//! compiler's, and evidence and queries combine with its operations.
//!
//! Slots are those of [`Lineage`](super::lineage::Lineage) (one per fact,
//! one per alternative of an annotated disjunction, in choice order). An
//! atom defined only by one choice is replaced by the choice's literals
//! wherever it is used. Programs whose relevant part negates an atom are
//! left to the lineage compiler.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;

use crate::logic::{AtomId, Choice, LogicProgram};

use super::bdd::{self, Bdd};
use super::{FxMap, Limits, Stop};

const NONE: u32 = u32::MAX;

/// A literal: `var << 1 | negated`, `var` the slot's place in the order.
type Lit = u32;

/// A rule of the slot program: `head :- lits, atoms` (both sorted, distinct).
#[derive(Clone, Debug)]
struct SlotRule {
    head: AtomId,
    lits: Vec<Lit>,
    atoms: Vec<AtomId>,
}

/// A rule before the order is known: head, slot literals `(slot, value)`,
/// body atoms.
type RawRule = (AtomId, Vec<(u32, bool)>, Vec<AtomId>);

/// What a residual program reduces to.
enum Reduced {
    Constant(u32),
    /// The canonical encoding: target, then per rule
    /// `head, #lits, #atoms, lits…, atoms…`, rules sorted.
    State(Box<[u32]>),
}

/// The compiler for one program: its slot program, the variable order, and
/// the cache of residual programs.
pub(crate) struct TopDown<'l> {
    /// Whether the relevant rules have a cycle (where this compiler pays:
    /// bottom-up compilation of an acyclic program builds no
    /// intermediate diagrams that the final one does not contain).
    pub cyclic: bool,
    /// `var_of_slot[slot]`: the slot's place in the order.
    pub var_of_slot: Vec<u32>,
    rules: Vec<SlotRule>,
    /// Rule indices by head.
    by_head: Vec<Vec<u32>>,
    /// Packed residual programs ([`pack`]) and their diagrams.
    cache: FxMap<Box<[u8]>, u32>,
    cached_bytes: usize,
    limits: &'l Limits,
    scratch: Scratch,
    visits: usize,
    /// Set when a racing compilation has finished first.
    cancel: Option<&'l AtomicBool>,
    /// Where to pause: a visit count and an instant.
    pause: Option<(usize, std::time::Instant)>,
    paused: bool,
}

impl<'l> TopDown<'l> {
    /// The compiler for `program`, targets `targets`; `None` if the part of
    /// the program the targets depend on negates an atom.
    pub fn new(program: &LogicProgram, targets: &[AtomId], limits: &'l Limits, greedy: Order) -> Option<Self> {
        let n = program.num_atoms as usize;
        let mut by_head_program: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (r, rule) in program.rules.iter().enumerate() {
            by_head_program[rule.head as usize].push(r as u32);
        }
        // The choices' literals per atom, over slots (in slot numbering).
        let mut chosen: Vec<Vec<Vec<(u32, bool)>>> = vec![Vec::new(); n];
        let mut slot = 0u32;
        for c in &program.choices {
            match c {
                Choice::Fact { atom, .. } => {
                    chosen[*atom as usize].push(vec![(slot, true)]);
                    slot += 1;
                }
                Choice::Disjunction { atoms } => {
                    let first = slot;
                    for &(atom, _) in atoms {
                        let mut lits: Vec<(u32, bool)> = (first..slot).map(|s| (s, false)).collect();
                        lits.push((slot, true));
                        chosen[atom as usize].push(lits);
                        slot += 1;
                    }
                }
            }
        }
        let num_slots = slot as usize;

        // The relevant atoms, breadth first from the targets; an atom
        // defined by exactly one choice and no rule is inlined.
        let inlined = |a: usize| by_head_program[a].is_empty() && chosen[a].len() == 1;
        let mut seen = vec![false; n];
        let mut queue: VecDeque<AtomId> = VecDeque::new();
        for &t in targets {
            if !std::mem::replace(&mut seen[t as usize], true) {
                queue.push_back(t);
            }
        }
        let mut var_of_slot = vec![NONE; num_slots];
        let mut next_var = 0u32;
        let mut order = |s: u32, var_of_slot: &mut Vec<u32>| {
            if var_of_slot[s as usize] == NONE {
                var_of_slot[s as usize] = next_var;
                next_var += 1;
            }
        };
        // (head, slot literals, body atoms) in slot numbering.
        let mut raw: Vec<RawRule> = Vec::new();
        while let Some(a) = queue.pop_front() {
            let ai = a as usize;
            for lits in &chosen[ai] {
                for &(s, _) in lits {
                    order(s, &mut var_of_slot);
                }
                raw.push((a, lits.clone(), Vec::new()));
            }
            for &r in &by_head_program[ai] {
                let rule = &program.rules[r as usize];
                let mut lits = Vec::new();
                let mut atoms = Vec::new();
                for &(b, positive) in &rule.body {
                    let bi = b as usize;
                    if inlined(bi) {
                        match (&chosen[bi][0][..], positive) {
                            (lits_of_b, true) => {
                                for &(s, value) in lits_of_b {
                                    order(s, &mut var_of_slot);
                                    lits.push((s, value));
                                }
                            }
                            // `\+ fact`: the fact's slot, negated.
                            (&[(s, value)], false) => {
                                order(s, &mut var_of_slot);
                                lits.push((s, !value));
                            }
                            _ => return None,
                        }
                    } else if !positive {
                        return None;
                    } else {
                        atoms.push(b);
                        if !std::mem::replace(&mut seen[bi], true) {
                            queue.push_back(b);
                        }
                    }
                }
                raw.push((a, lits, atoms));
            }
        }
        for v in var_of_slot.iter_mut().filter(|v| **v == NONE) {
            *v = next_var;
            next_var += 1;
        }
        let cyclic = has_cycle(&raw);
        if let Some(vars) = frontier_order(&raw, targets, num_slots, greedy) {
            var_of_slot = vars;
        }
        let mut rules = Vec::with_capacity(raw.len());
        let mut by_head = vec![Vec::new(); n];
        'rules: for (head, slot_lits, mut atoms) in raw {
            let mut lits: Vec<Lit> =
                slot_lits.iter().map(|&(s, value)| var_of_slot[s as usize] << 1 | (!value) as u32).collect();
            lits.sort_unstable();
            lits.dedup();
            // `x ∧ ¬x`: the rule never fires.
            for pair in lits.windows(2) {
                if pair[0] >> 1 == pair[1] >> 1 {
                    continue 'rules;
                }
            }
            atoms.sort_unstable();
            atoms.dedup();
            by_head[head as usize].push(rules.len() as u32);
            rules.push(SlotRule { head, lits, atoms });
        }
        Some(TopDown {
            cyclic,
            var_of_slot,
            rules,
            by_head,
            cache: FxMap::default(),
            cached_bytes: 0,
            limits,
            scratch: Scratch::new(n, 2 * num_slots),
            visits: 0,
            cancel: None,
            pause: None,
            paused: false,
        })
    }

    /// Stop (with [`Stop::Cancelled`]) once `flag` is set.
    pub fn cancel_on(&mut self, flag: &'l AtomicBool) {
        self.cancel = Some(flag);
    }

    /// Pause (stop with [`Stop::Cancelled`], [`TopDown::paused`] then
    /// true) after `visits` more visits or once `time` has passed,
    /// whichever comes first; `None`: never. A paused compilation run again
    /// on the same diagram carries on from its cache.
    pub fn pause_after(&mut self, limit: Option<(usize, std::time::Duration)>) {
        self.paused = false;
        self.pause = limit.map(|(visits, time)| (self.visits.saturating_add(visits), std::time::Instant::now() + time));
    }

    /// Whether the last compilation stopped at the pause.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Residual programs cached so far.
    pub fn states(&self) -> usize {
        self.cache.len()
    }

    /// Rules of the slot program (the part the targets depend on).
    pub fn num_rules(&self) -> usize {
        self.rules.len()
    }

    /// The diagram of `target`, in `bdd`, whose variables are this
    /// compiler's order.
    pub fn compile(&mut self, bdd: &mut Bdd, target: AtomId) -> Result<u32, Stop> {
        // The whole relevant program, as a raw (unsorted) state.
        let mut start = vec![target];
        let mut seen = vec![false; self.by_head.len()];
        let mut stack = vec![target];
        seen[target as usize] = true;
        while let Some(a) = stack.pop() {
            for &r in &self.by_head[a as usize] {
                let rule = &self.rules[r as usize];
                start.extend([rule.head, rule.lits.len() as u32, rule.atoms.len() as u32]);
                start.extend_from_slice(&rule.lits);
                start.extend_from_slice(&rule.atoms);
                for &b in &rule.atoms {
                    if !std::mem::replace(&mut seen[b as usize], true) {
                        stack.push(b);
                    }
                }
            }
        }

        enum Task {
            Visit(Vec<u32>),
            Join { key: Box<[u8]>, var: u32 },
        }
        let mut tasks = vec![Task::Visit(start)];
        let mut results: Vec<u32> = Vec::new();
        let byte_limit = self.limits.max_nodes.saturating_mul(16);
        while let Some(task) = tasks.pop() {
            match task {
                Task::Visit(raw) => {
                    self.visits += 1;
                    // A visit costs microseconds: the loser of a race stops
                    // as soon as the winner is done, not 1024 visits later.
                    if self.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                        return Err(Stop::Cancelled);
                    }
                    if let Some((visits, at)) = self.pause {
                        if self.visits > visits || (self.visits.is_multiple_of(16) && std::time::Instant::now() >= at) {
                            self.paused = true;
                            return Err(Stop::Cancelled);
                        }
                    }
                    if self.visits.is_multiple_of(256) {
                        self.limits.check_time(bdd.len())?;
                    }
                    match self.scratch.reduce(&raw) {
                        Reduced::Constant(c) => results.push(c),
                        Reduced::State(key) => {
                            let packed = pack(&key);
                            if let Some(&node) = self.cache.get(&packed) {
                                results.push(node);
                                continue;
                            }
                            let var = first_var(&key);
                            let lo = condition(&key, var, false);
                            let hi = condition(&key, var, true);
                            tasks.push(Task::Join { key: packed, var });
                            tasks.push(Task::Visit(lo));
                            tasks.push(Task::Visit(hi));
                        }
                    }
                }
                Task::Join { key, var } => {
                    let lo = results.pop().expect("the low branch's result");
                    let hi = results.pop().expect("the high branch's result");
                    let node = bdd.make(var, lo, hi)?;
                    self.cached_bytes += key.len();
                    if self.cached_bytes > byte_limit {
                        return Err(Stop::Nodes(bdd.len()));
                    }
                    self.cache.insert(key, node);
                    results.push(node);
                }
            }
        }
        Ok(results.pop().expect("the target's diagram"))
    }
}

/// Whether the atoms' dependencies (head on body atom) have a cycle
/// (Kahn's algorithm: a cycle is what never drains).
fn has_cycle(raw: &[RawRule]) -> bool {
    let mut local: FxMap<AtomId, usize> = FxMap::default();
    for (head, _, atoms) in raw {
        for &a in std::iter::once(head).chain(atoms) {
            let next = local.len();
            local.entry(a).or_insert(next);
        }
    }
    let n = local.len();
    let mut waiting = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (head, _, atoms) in raw {
        let h = local[head];
        for a in atoms {
            waiting[h] += 1;
            dependents[local[a]].push(h);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&a| waiting[a] == 0).collect();
    let mut drained = 0;
    while let Some(a) = ready.pop() {
        drained += 1;
        for &h in &dependents[a] {
            waiting[h] -= 1;
            if waiting[h] == 0 {
                ready.push(h);
            }
        }
    }
    drained < n
}

/// Two greedy slot orders; neither dominates (on the shared graphs each is
/// several times faster than the other somewhere), so compilation races
/// them where there are two cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Each step places the atom that leaves the fewest placed atoms with
    /// unplaced neighbours.
    Frontier,
    /// The same, counting a placed atom as open only while most of its
    /// neighbours are unplaced: it pulls in dense neighbourhoods earlier.
    Majority,
}

/// Most atoms for which [`frontier_order`] runs (it takes time quadratic in
/// them).
const MOST_ATOMS_ORDERED: usize = 4000;

/// A variable order that keeps the frontier small: atoms are placed one at
/// a time, from the targets, each time the one that leaves the fewest
/// placed atoms with unplaced neighbours (ties: more placed neighbours,
/// then breadth-first position), where a rule makes its head and body
/// atoms neighbours; a rule's slots come as soon as all its atoms are
/// placed. The residual programs of the top-down compiler then only
/// distinguish how the frontier's atoms are connected. `None` when there
/// are too many atoms to order this way.
fn frontier_order(raw: &[RawRule], targets: &[AtomId], num_slots: usize, order: Order) -> Option<Vec<u32>> {
    // Local numbering in breadth-first order (the order of `raw`).
    let mut local: FxMap<AtomId, u32> = FxMap::default();
    let number = |a: AtomId, local: &mut FxMap<AtomId, u32>| {
        let next = local.len() as u32;
        *local.entry(a).or_insert(next)
    };
    for &t in targets {
        number(t, &mut local);
    }
    let rules: Vec<(u32, Vec<u32>)> = raw
        .iter()
        .map(|(head, _, atoms)| {
            let h = number(*head, &mut local);
            (h, atoms.iter().map(|&a| number(a, &mut local)).collect())
        })
        .collect();
    let n = local.len();
    if n > MOST_ATOMS_ORDERED {
        return None;
    }
    let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut rules_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (r, (h, body)) in rules.iter().enumerate() {
        rules_of[*h as usize].push(r as u32);
        for &b in body {
            rules_of[b as usize].push(r as u32);
            if b != *h {
                neighbours[*h as usize].push(b);
                neighbours[b as usize].push(*h);
            }
        }
    }
    for list in neighbours.iter_mut().chain(rules_of.iter_mut()) {
        list.sort_unstable();
        list.dedup();
    }
    let mut unplaced_neighbours: Vec<u32> = neighbours.iter().map(|l| l.len() as u32).collect();
    let mut placed = vec![false; n];
    let mut placed_neighbours = vec![0u32; n];
    let mut candidates: Vec<u32> = Vec::new();
    let mut is_candidate = vec![false; n];
    let mut var_of_slot = vec![NONE; num_slots];
    let mut next_var = 0u32;
    let mut next_unplaced = 0usize;
    for step in 0..n {
        let v = if step < targets.len().min(n) && !placed[step] {
            step as u32
        } else if candidates.is_empty() {
            while placed[next_unplaced] {
                next_unplaced += 1;
            }
            next_unplaced as u32
        } else {
            // Frontier change: +1 if `v` keeps unplaced neighbours, −1 per
            // placed neighbour whose last unplaced neighbour `v` is.
            let score = |v: u32| {
                let vi = v as usize;
                let stays = match order {
                    Order::Frontier => (unplaced_neighbours[vi] > 0) as i64,
                    Order::Majority => (unplaced_neighbours[vi] > placed_neighbours[vi]) as i64,
                };
                let closes = neighbours[vi]
                    .iter()
                    .filter(|&&u| placed[u as usize] && unplaced_neighbours[u as usize] == 1)
                    .count() as i64;
                (stays - closes, std::cmp::Reverse(placed_neighbours[vi]), v)
            };
            let (i, _) = candidates.iter().enumerate().min_by_key(|(_, &v)| score(v)).expect("candidates");
            candidates.swap_remove(i)
        };
        let vi = v as usize;
        if placed[vi] {
            continue;
        }
        placed[vi] = true;
        is_candidate[vi] = false;
        candidates.retain(|&c| c != v);
        for &u in &neighbours[vi] {
            let ui = u as usize;
            unplaced_neighbours[ui] -= 1;
            placed_neighbours[ui] += 1;
            if !placed[ui] && !std::mem::replace(&mut is_candidate[ui], true) {
                candidates.push(u);
            }
        }
        for &r in &rules_of[vi] {
            let (h, body) = &rules[r as usize];
            if placed[*h as usize] && body.iter().all(|&b| placed[b as usize]) {
                for &(s, _) in &raw[r as usize].1 {
                    if var_of_slot[s as usize] == NONE {
                        var_of_slot[s as usize] = next_var;
                        next_var += 1;
                    }
                }
            }
        }
    }
    for v in var_of_slot.iter_mut().filter(|v| **v == NONE) {
        *v = next_var;
        next_var += 1;
    }
    Some(var_of_slot)
}

/// A state's key in LEB128 (seven bits a byte): most numbers in a key are
/// small, so this stores it in a third of the bytes, losslessly.
fn pack(key: &[u32]) -> Box<[u8]> {
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
fn rules_of(state: &[u32]) -> impl Iterator<Item = (u32, &[u32], &[u32])> {
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
fn first_var(state: &[u32]) -> u32 {
    rules_of(state).filter_map(|(_, lits, _)| lits.first()).min().expect("a reduced state mentions a slot") >> 1
}

/// `state` with `var` set to `value` (`var` is the state's first variable,
/// so it can only be the first literal of a rule).
fn condition(state: &[u32], var: u32, value: bool) -> Vec<u32> {
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

/// Reusable working memory for [`Scratch::reduce`]; atoms are renumbered
/// densely per state, in increasing order, so local order is global order.
struct Scratch {
    /// Canonical names: `name_base + literal`; the target's is fixed.
    name_base: u32,
    target_name: u32,
    names: Vec<u32>,
    bodies: Vec<u32>,
    /// Global atom → local number (`NONE` outside a reduction).
    local: Vec<u32>,
    /// Local → global.
    global: Vec<u32>,
    head: Vec<u32>,
    lits: Vec<(u32, u32)>,
    atoms: Vec<(u32, u32)>,
    alive: Vec<bool>,
    pool: Vec<u32>,
    defs: Vec<Vec<u32>>,
    uses: Vec<Vec<u32>>,
    sure: Vec<bool>,
    possible: Vec<bool>,
    relevant: Vec<bool>,
    direct: Vec<bool>,
    implicants: Vec<u64>,
    words: usize,
    units: Vec<(u32, u32)>,
    representative: Vec<u32>,
    need: Vec<u32>,
    queue: Vec<u32>,
    graph: GraphScratch,
}

/// Working memory of [`Scratch::prune_circular_graph`], kept between
/// states so that a visit allocates nothing.
#[derive(Default)]
struct GraphScratch {
    bases: Vec<u32>,
    post: Vec<u32>,
    postorder: Vec<u32>,
    visited: Vec<bool>,
    stack: Vec<(u32, u32)>,
    pred_start: Vec<u32>,
    preds: Vec<u32>,
    idom: Vec<u32>,
    child_start: Vec<u32>,
    children: Vec<u32>,
    fill: Vec<u32>,
    enter: Vec<u32>,
    leave: Vec<u32>,
}

impl Scratch {
    /// Scratch for programs of `num_atoms` atoms and `num_literals`
    /// literals (canonical names extend the atom ids past both).
    fn new(num_atoms: usize, num_literals: usize) -> Self {
        Scratch {
            local: vec![NONE; num_atoms + num_literals + 1],
            name_base: num_atoms as u32,
            target_name: (num_atoms + num_literals) as u32,
            names: Vec::new(),
            bodies: Vec::new(),
            global: Vec::new(),
            head: Vec::new(),
            lits: Vec::new(),
            atoms: Vec::new(),
            alive: Vec::new(),
            pool: Vec::new(),
            defs: Vec::new(),
            uses: Vec::new(),
            sure: Vec::new(),
            possible: Vec::new(),
            relevant: Vec::new(),
            direct: Vec::new(),
            implicants: Vec::new(),
            words: 0,
            units: Vec::new(),
            representative: Vec::new(),
            need: Vec::new(),
            queue: Vec::new(),
            graph: GraphScratch::default(),
        }
    }

    fn lits(&self, r: usize) -> &[u32] {
        let (s, e) = self.lits[r];
        &self.pool[s as usize..e as usize]
    }

    fn body(&self, r: usize) -> &[u32] {
        let (s, e) = self.atoms[r];
        &self.pool[s as usize..e as usize]
    }

    /// Adds a rule over local atoms; returns its index.
    fn push_rule(&mut self, head: u32, lits: std::ops::Range<usize>, atoms: &[u32]) -> usize {
        let r = self.head.len();
        let ls = self.pool.len() as u32;
        self.pool.extend_from_within(lits);
        let as_ = self.pool.len() as u32;
        self.pool.extend_from_slice(atoms);
        self.head.push(head);
        self.lits.push((ls, as_));
        self.atoms.push((as_, self.pool.len() as u32));
        self.alive.push(true);
        r
    }

    /// The canonical residual program of `raw`, or its constant value.
    fn reduce(&mut self, raw: &[u32]) -> Reduced {
        // Local numbering, in global order.
        self.global.clear();
        self.global.push(raw[0]);
        for (head, _, atoms) in rules_of(raw) {
            self.global.push(head);
            self.global.extend_from_slice(atoms);
        }
        self.global.sort_unstable();
        self.global.dedup();
        for (i, &g) in self.global.iter().enumerate() {
            self.local[g as usize] = i as u32;
        }
        let k = self.global.len();
        let target = self.local[raw[0] as usize];
        self.head.clear();
        self.lits.clear();
        self.atoms.clear();
        self.alive.clear();
        self.pool.clear();
        for (head, lits, atoms) in rules_of(raw) {
            let ls = self.pool.len() as u32;
            self.pool.extend_from_slice(lits);
            let as_ = self.pool.len() as u32;
            self.pool.extend(atoms.iter().map(|&a| self.local[a as usize]));
            self.head.push(self.local[head as usize]);
            self.lits.push((ls, as_));
            self.atoms.push((as_, self.pool.len() as u32));
            self.alive.push(true);
        }
        let result = self.simplify(k, target);
        for &g in &self.global {
            self.local[g as usize] = NONE;
        }
        result
    }

    /// Rebuilds `uses` and `defs` from the live rules.
    fn index(&mut self, k: usize) {
        self.uses.resize_with(k.max(self.uses.len()), Vec::new);
        self.defs.resize_with(k.max(self.defs.len()), Vec::new);
        for a in 0..k {
            self.uses[a].clear();
            self.defs[a].clear();
        }
        for r in 0..self.head.len() {
            if self.alive[r] {
                self.defs[self.head[r] as usize].push(r as u32);
                let (s, e) = self.atoms[r];
                for i in s..e {
                    let a = self.pool[i as usize] as usize;
                    self.uses[a].push(r as u32);
                }
            }
        }
    }

    /// Drops the rules `h :- L, B` of which some `b ∈ B` cannot be derived
    /// without `h`, even with every slot true: such a rule only ever
    /// derives `h` in a circle, so the least model does not need it.
    /// Expects `defs`/`uses` up to date; leaves them so (rules dropped are
    /// only marked dead).
    fn prune_circular(&mut self, k: usize) {
        if (0..self.head.len()).all(|r| !self.alive[r] || self.body(r).len() <= 1) {
            self.prune_circular_graph(k);
        } else {
            self.prune_circular_general(k);
        }
    }

    /// [`Scratch::prune_circular`] where every body has at most one atom:
    /// then `b` cannot be derived without `h` exactly when `h` dominates
    /// `b` in the derivation graph (a root before every atom with a rule
    /// without body atoms, `b → h` per rule `h :- L, b`), found in linear
    /// time per round by Cooper, Harvey and Kennedy's iteration.
    fn prune_circular_graph(&mut self, k: usize) {
        let root = k;
        let g = &mut self.graph;
        g.bases.clear();
        g.bases.extend((0..k as u32).filter(|&a| {
            self.defs[a as usize]
                .iter()
                .any(|&r| self.alive[r as usize] && self.atoms[r as usize].0 == self.atoms[r as usize].1)
        }));
        // Postorder of a depth-first walk from the root.
        g.post.clear();
        g.post.resize(k + 1, NONE);
        g.postorder.clear();
        g.visited.clear();
        g.visited.resize(k + 1, false);
        g.stack.clear();
        g.stack.push((root as u32, 0));
        g.visited[root] = true;
        while let Some(&mut (n, ref mut next)) = g.stack.last_mut() {
            let n = n as usize;
            let child = if n == root {
                g.bases.get(*next as usize).map(|&a| a as usize)
            } else {
                self.uses[n].get(*next as usize).map(|&r| {
                    if self.alive[r as usize] {
                        self.head[r as usize] as usize
                    } else {
                        n
                    }
                })
            };
            match child {
                Some(c) => {
                    *next += 1;
                    if !g.visited[c] {
                        g.visited[c] = true;
                        g.stack.push((c as u32, 0));
                    }
                }
                None => {
                    g.post[n] = g.postorder.len() as u32;
                    g.postorder.push(n as u32);
                    g.stack.pop();
                }
            }
        }
        // Each atom's predecessors (the first body atom of each live rule,
        // the root for a rule without one), once, in CSR form.
        g.pred_start.clear();
        g.preds.clear();
        for n in 0..k {
            g.pred_start.push(g.preds.len() as u32);
            let mut base = false;
            for &r in &self.defs[n] {
                let r = r as usize;
                if !self.alive[r] {
                    continue;
                }
                let (s, e) = self.atoms[r];
                if s == e {
                    base = true;
                } else {
                    g.preds.push(self.pool[s as usize]);
                }
            }
            if base {
                g.preds.push(root as u32);
            }
        }
        g.pred_start.push(g.preds.len() as u32);
        g.idom.clear();
        g.idom.resize(k + 1, NONE);
        g.idom[root] = root as u32;
        let post = &g.post;
        let intersect = |idom: &[u32], mut a: usize, mut b: usize| {
            while a != b {
                while post[a] < post[b] {
                    a = idom[a] as usize;
                }
                while post[b] < post[a] {
                    b = idom[b] as usize;
                }
            }
            a
        };
        let mut changed = true;
        while changed {
            changed = false;
            for &n in g.postorder.iter().rev() {
                let n = n as usize;
                if n == root {
                    continue;
                }
                let mut new = NONE as usize;
                for &p in &g.preds[g.pred_start[n] as usize..g.pred_start[n + 1] as usize] {
                    let p = p as usize;
                    if g.idom[p] != NONE {
                        new = if new == NONE as usize { p } else { intersect(&g.idom, p, new) };
                    }
                }
                if new != NONE as usize && g.idom[n] != new as u32 {
                    g.idom[n] = new as u32;
                    changed = true;
                }
            }
        }
        // Dominator tree intervals: `h` dominates `b` iff `b`'s interval
        // lies in `h`'s. Children in CSR form (counting sort by parent).
        g.child_start.clear();
        g.child_start.resize(k + 2, 0);
        for n in 0..k {
            if g.idom[n] != NONE {
                g.child_start[g.idom[n] as usize + 1] += 1;
            }
        }
        for i in 0..=k {
            g.child_start[i + 1] += g.child_start[i];
        }
        g.children.clear();
        g.children.resize(g.child_start[k + 1] as usize, 0);
        g.fill.clear();
        g.fill.extend_from_slice(&g.child_start[..k + 1]);
        for n in 0..k {
            if g.idom[n] != NONE {
                let p = g.idom[n] as usize;
                g.children[g.fill[p] as usize] = n as u32;
                g.fill[p] += 1;
            }
        }
        g.enter.clear();
        g.enter.resize(k + 1, 0);
        g.leave.clear();
        g.leave.resize(k + 1, 0);
        let mut clock = 0u32;
        g.stack.clear();
        g.stack.push((root as u32, g.child_start[root]));
        g.enter[root] = clock;
        while let Some(&mut (n, ref mut next)) = g.stack.last_mut() {
            let n = n as usize;
            if *next < g.child_start[n + 1] {
                let c = g.children[*next as usize];
                *next += 1;
                clock += 1;
                g.enter[c as usize] = clock;
                g.stack.push((c, g.child_start[c as usize]));
            } else {
                g.leave[n] = clock;
                g.stack.pop();
            }
        }
        for r in 0..self.head.len() {
            if !self.alive[r] {
                continue;
            }
            let (s, e) = self.atoms[r];
            if s < e {
                let (h, b) = (self.head[r] as usize, self.pool[s as usize] as usize);
                if g.idom[b] != NONE && g.idom[h] != NONE && g.enter[h] <= g.enter[b] && g.leave[b] <= g.leave[h] {
                    self.alive[r] = false;
                }
            }
        }
    }

    fn prune_circular_general(&mut self, k: usize) {
        let mut without = vec![false; k];
        let mut queue = Vec::new();
        let mut need = vec![0u32; self.head.len()];
        for h in 0..k {
            if !self.defs[h].iter().any(|&r| self.alive[r as usize] && !self.body(r as usize).is_empty()) {
                continue;
            }
            without.fill(false);
            queue.clear();
            for (r, waiting) in need.iter_mut().enumerate() {
                *waiting = if self.alive[r] && self.head[r] as usize != h { self.body(r).len() as u32 } else { NONE };
                if *waiting == 0 {
                    queue.push(self.head[r]);
                }
            }
            while let Some(a) = queue.pop() {
                if std::mem::replace(&mut without[a as usize], true) {
                    continue;
                }
                for &r in &self.uses[a as usize] {
                    let n = &mut need[r as usize];
                    if *n != NONE {
                        *n -= 1;
                        if *n == 0 {
                            queue.push(self.head[r as usize]);
                        }
                    }
                }
            }
            for i in 0..self.defs[h].len() {
                let r = self.defs[h][i] as usize;
                if self.alive[r] && self.body(r).iter().any(|&b| !without[b as usize]) {
                    self.alive[r] = false;
                }
            }
        }
    }

    /// `implicants`: for each atom `a`, the atoms `c` with `c →⁺ a`
    /// through live rules `h :- b` without slots (bitsets, `words` per
    /// atom).
    fn closure(&mut self, k: usize) {
        self.words = k.div_ceil(64);
        let w = self.words;
        self.implicants.clear();
        self.implicants.resize(k * w, 0);
        self.units.clear();
        for r in 0..self.head.len() {
            if self.alive[r] && self.lits(r).is_empty() && self.body(r).len() == 1 {
                self.units.push((self.head[r], self.body(r)[0]));
            }
        }
        loop {
            let mut changed = false;
            for &(a, b) in &self.units {
                let (a, b) = (a as usize, b as usize);
                let before = self.implicants[a * w + b / 64];
                self.implicants[a * w + b / 64] |= 1 << (b % 64);
                changed |= before != self.implicants[a * w + b / 64];
                for i in 0..w {
                    let add = self.implicants[b * w + i] & !self.implicants[a * w + i];
                    if add != 0 {
                        self.implicants[a * w + i] |= add;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Whether `c →⁺ a` (after [`Scratch::closure`]).
    fn implied_by(&self, a: u32, c: u32) -> bool {
        let (a, c) = (a as usize, c as usize);
        self.implicants[a * self.words + c / 64] >> (c % 64) & 1 == 1
    }

    /// Atoms that imply each other through rules without slots (a cycle of
    /// `a :- b`, `b :- a`) are equal in every world: each class becomes
    /// its smallest atom. Whether any class had two atoms.
    fn merge_equivalent(&mut self, k: usize, target: &mut u32) -> bool {
        self.closure(k);
        self.representative.clear();
        self.representative.extend(0..k as u32);
        // Only atoms on slot-free rules `h :- b` can imply each other.
        let mut involved: Vec<u32> = self.units.iter().flat_map(|&(h, b)| [h, b]).collect();
        involved.sort_unstable();
        involved.dedup();
        let mut merged = false;
        for (i, &a) in involved.iter().enumerate() {
            for &c in &involved[..i] {
                if self.implied_by(a, c) && self.implied_by(c, a) {
                    self.representative[a as usize] = self.representative[c as usize];
                    merged = true;
                    break;
                }
            }
        }
        if !merged {
            return false;
        }
        for r in 0..self.head.len() {
            if !self.alive[r] {
                continue;
            }
            let head = self.representative[self.head[r] as usize];
            self.head[r] = head;
            let (s, e) = self.atoms[r];
            for i in s..e {
                self.pool[i as usize] = self.representative[self.pool[i as usize] as usize];
            }
            let body = &mut self.pool[s as usize..e as usize];
            body.sort_unstable();
            let mut w = s;
            for i in s..e {
                let a = self.pool[i as usize];
                if w == s || self.pool[w as usize - 1] != a {
                    self.pool[w as usize] = a;
                    w += 1;
                }
            }
            self.atoms[r].1 = w;
            if self.body(r).contains(&head) {
                self.alive[r] = false;
            }
        }
        *target = self.representative[*target as usize];
        true
    }

    fn simplify(&mut self, k: usize, mut target: u32) -> Reduced {
        let mut t = target as usize;
        let mut first_round = true;
        loop {
            self.index(k);
            // `t :- a` alone: the target is `a`. A minimal derivation of
            // `a` uses `t` (derived from `a` alone) nowhere, so the rules
            // whose body holds `t` go with `t :- a`.
            if let [r] = self.defs[t][..] {
                debug_assert!(self.alive[r as usize]);
                if self.lits(r as usize).is_empty() && self.body(r as usize).len() == 1 {
                    self.alive[r as usize] = false;
                    for &u in &self.uses[t] {
                        self.alive[u as usize] = false;
                    }
                    target = self.body(r as usize)[0];
                    t = target as usize;
                    continue;
                }
            }
            // Derivable for sure, and derivable at all.
            self.sure.clear();
            self.sure.resize(k, false);
            self.possible.clear();
            self.possible.resize(k, false);
            for pass in 0..2 {
                let only_sure = pass == 0;
                self.need.clear();
                self.queue.clear();
                for r in 0..self.head.len() {
                    let waiting = if !self.alive[r] || (only_sure && !self.lits(r).is_empty()) {
                        NONE
                    } else {
                        self.body(r).len() as u32
                    };
                    self.need.push(waiting);
                    if waiting == 0 {
                        self.queue.push(self.head[r]);
                    }
                }
                let known = if only_sure { &mut self.sure } else { &mut self.possible };
                while let Some(a) = self.queue.pop() {
                    if std::mem::replace(&mut known[a as usize], true) {
                        continue;
                    }
                    for &r in &self.uses[a as usize] {
                        let need = &mut self.need[r as usize];
                        if *need != NONE {
                            *need -= 1;
                            if *need == 0 {
                                self.queue.push(self.head[r as usize]);
                            }
                        }
                    }
                }
                if only_sure && self.sure[t] {
                    return Reduced::Constant(bdd::TRUE);
                }
            }
            if !self.possible[t] {
                return Reduced::Constant(bdd::FALSE);
            }

            // The atoms the target follows from through rules `h :- a`
            // without slots (`a → h → … → t`). Any derivation of the target
            // that uses such an atom `a` below its root can stop at `a`
            // instead, and none uses the target itself below its root: so
            // rules whose body holds either can go, and `t :- a` takes
            // their place. The target's rules then name its frontier.
            self.direct.clear();
            self.direct.resize(k, false);
            self.queue.clear();
            self.queue.push(target);
            let mut implied = Vec::new();
            while let Some(h) = self.queue.pop() {
                for &r in &self.defs[h as usize] {
                    if self.lits(r as usize).is_empty() && self.body(r as usize).len() == 1 {
                        let a = self.body(r as usize)[0];
                        if a != target && !std::mem::replace(&mut self.direct[a as usize], true) {
                            implied.push(a);
                            self.queue.push(a);
                        }
                    }
                }
            }
            // Drop rules that cannot fire or are not needed; take sure
            // atoms out of bodies.
            for r in 0..self.head.len() {
                if !self.alive[r] {
                    continue;
                }
                let h = self.head[r] as usize;
                let (s, e) = self.atoms[r];
                let body = &self.pool[s as usize..e as usize];
                if self.sure[h]
                    || body.iter().any(|&a| {
                        let a = a as usize;
                        !self.possible[a] || a == h || a == t || self.direct[a]
                    })
                {
                    self.alive[r] = false;
                    continue;
                }
                let mut w = s;
                for i in s..e {
                    let a = self.pool[i as usize];
                    if !self.sure[a as usize] {
                        self.pool[w as usize] = a;
                        w += 1;
                    }
                }
                self.atoms[r].1 = w;
            }
            for a in implied {
                if self.possible[a as usize] && !self.sure[a as usize] {
                    self.push_rule(target, 0..0, &[a]);
                }
            }
            self.index(k);

            // Relevance: atoms the target's rules reach.
            self.relevant.clear();
            self.relevant.resize(k, false);
            self.relevant[t] = true;
            self.queue.clear();
            self.queue.push(target);
            while let Some(a) = self.queue.pop() {
                for i in 0..self.defs[a as usize].len() {
                    let r = self.defs[a as usize][i] as usize;
                    let (s, e) = self.atoms[r];
                    for j in s..e {
                        let b = self.pool[j as usize];
                        if !std::mem::replace(&mut self.relevant[b as usize], true) {
                            self.queue.push(b);
                        }
                    }
                }
            }
            for a in 0..k {
                if !self.relevant[a] {
                    for &r in &self.defs[a] {
                        self.alive[r as usize] = false;
                    }
                }
            }
            self.index(k);

            // In the first round only (a quarter of a reduction's time per
            // round): unfolding and merging keep the least model, so a later
            // round seldom finds another circular rule, and one left in is
            // harmless (the key still is the residual program, only less
            // often equal to another's: smokers_30 has 6522 distinct states
            // instead of 6496, path_dense_11 1080 either way).
            if first_round {
                self.prune_circular(k);
            }
            first_round = false;

            // Unfold atoms whose rules mention no slot, cheapest first,
            // while the program does not grow much.
            let mut candidates: Vec<(usize, u32)> = (0..k as u32)
                .filter(|&a| {
                    a != target
                        && self.relevant[a as usize]
                        && !self.defs[a as usize].is_empty()
                        && self.defs[a as usize].iter().all(|&r| self.lits(r as usize).is_empty())
                })
                .map(|a| (self.defs[a as usize].len() * self.uses[a as usize].len(), a))
                .collect();
            candidates.sort_unstable();
            let initial = self.alive.iter().filter(|&&a| a).count();
            let mut live_rules = initial;
            let mut body = Vec::new();
            let mut unfolded = false;
            for (_, a) in candidates {
                let ai = a as usize;
                let defs: Vec<u32> = self.defs[ai].iter().copied().filter(|&r| self.alive[r as usize]).collect();
                let uses: Vec<u32> = self.uses[ai].iter().copied().filter(|&r| self.alive[r as usize]).collect();
                let grown = live_rules + defs.len() * uses.len() - defs.len() - uses.len();
                if grown > 2 * initial + 64 {
                    continue;
                }
                unfolded = true;
                for &u in &uses {
                    let u = u as usize;
                    self.alive[u] = false;
                    live_rules -= 1;
                    let head = self.head[u];
                    let (ls, le) = self.lits[u];
                    for &d in &defs {
                        body.clear();
                        merge_without(self.body(u), self.body(d as usize), a, &mut body);
                        if body.binary_search(&head).is_ok() {
                            continue;
                        }
                        let r = self.push_rule(head, ls as usize..le as usize, &body);
                        self.defs[head as usize].push(r as u32);
                        for &b in &body {
                            self.uses[b as usize].push(r as u32);
                        }
                        live_rules += 1;
                    }
                }
                for &d in &defs {
                    self.alive[d as usize] = false;
                    live_rules -= 1;
                }
            }
            let merged = self.merge_equivalent(k, &mut target);
            t = target as usize;
            let mut target_rules = self.defs[t].iter().filter(|&&r| self.alive[r as usize]);
            let single_unit = match (target_rules.next(), target_rules.next()) {
                (Some(&r), None) => self.lits(r as usize).is_empty() && self.body(r as usize).len() == 1,
                _ => false,
            };
            if !unfolded && !merged && !single_unit {
                // `merge_equivalent` left `implicants` up to date.
                break;
            }
        }

        // Canonical order, without duplicates or subsumed rules.
        let mut order: Vec<u32> = (0..self.head.len() as u32).filter(|&r| self.alive[r as usize]).collect();
        // Grouped by head; within a group the order does not matter (what
        // survives does not depend on it, and the key is sorted below),
        // and a duplicate goes as a rule the first copy subsumes.
        order.sort_unstable_by_key(|&r| self.head[r as usize]);
        let mut start = 0;
        while start < order.len() {
            let head = self.head[order[start] as usize];
            let mut end = start + 1;
            while end < order.len() && self.head[order[end] as usize] == head {
                end += 1;
            }
            for i in start..end {
                let x = order[i] as usize;
                if !self.alive[x] {
                    continue;
                }
                let unit = self.lits(x).is_empty() && self.body(x).len() == 1;
                if unit {
                    // `h :- c` where `c → m → h` through another `h :- m`:
                    // a transitive edge (the implications form a DAG
                    // after merging, so dropping every such edge keeps
                    // the closure).
                    let c = self.body(x)[0];
                    let transitive = order[start..end].iter().any(|&y| {
                        let y = y as usize;
                        y != x
                            && self.lits(y).is_empty()
                            && self.body(y).len() == 1
                            && self.implied_by(self.body(y)[0], c)
                    });
                    if transitive {
                        self.alive[x] = false;
                        continue;
                    }
                } else if self.body(x).iter().any(|&c| self.implied_by(head, c)) {
                    // Whenever the body holds, so does `c`, hence `h`.
                    self.alive[x] = false;
                    continue;
                }
                for &y in &order[start..end] {
                    let y = y as usize;
                    // `y` fires only where `x` does: its literals include
                    // `x`'s, and each atom of `x`'s body is one of `y`'s
                    // or implied by one.
                    if y != x
                        && self.alive[y]
                        && is_subset(self.lits(x), self.lits(y))
                        && self.body(x).iter().all(|&b| self.body(y).iter().any(|&c| c == b || self.implied_by(b, c)))
                    {
                        self.alive[y] = false;
                    }
                }
            }
            start = end;
        }
        // Canonical names: the target one fixed name, any other atom the
        // smallest literal of its rules where no other atom shares it (a
        // name that follows from the residual program alone, not from the
        // history that led to it), else its own id. Names are distinct, so
        // the key is the residual program up to renaming atoms other than
        // the target, which leaves the target's function unchanged.
        self.names.clear();
        self.names.resize(k, NONE);
        for &r in &order {
            let r = r as usize;
            if self.alive[r] {
                if let Some(&l) = self.lits(r).first() {
                    let h = self.head[r] as usize;
                    self.names[h] = self.names[h].min(l);
                }
            }
        }
        self.queue.clear();
        self.queue.extend(self.names.iter().copied().filter(|&l| l != NONE));
        self.queue.sort_unstable();
        for a in 0..k {
            let l = self.names[a];
            let shared = l == NONE || {
                let i = self.queue.partition_point(|&x| x < l);
                self.queue.get(i + 1) == Some(&l)
            };
            self.names[a] = if a == t {
                self.target_name
            } else if shared {
                self.global[a]
            } else {
                self.name_base + l
            };
        }
        self.separate_names(k, t);
        self.bodies.clear();
        // Each rule's place in the key: a prefix (head's name, first
        // literal) that orders most pairs by itself, then the rule.
        let mut records: Vec<(u64, u32, u32, u32)> = Vec::with_capacity(order.len());
        for &r in &order {
            let r = r as usize;
            if !self.alive[r] {
                continue;
            }
            let start = self.bodies.len() as u32;
            let (s, e) = self.atoms[r];
            for i in s..e {
                self.bodies.push(self.names[self.pool[i as usize] as usize]);
            }
            self.bodies[start as usize..].sort_unstable();
            let prefix =
                (self.names[self.head[r] as usize] as u64) << 33 | self.lits(r).first().map_or(0, |&l| l as u64 + 1);
            records.push((prefix, r as u32, start, self.bodies.len() as u32));
        }
        records.sort_unstable_by(|&(xp, x, xs, xe), &(yp, y, ys, ye)| {
            xp.cmp(&yp).then_with(|| {
                let (x, y) = (x as usize, y as usize);
                self.lits(x)
                    .cmp(self.lits(y))
                    .then_with(|| self.bodies[xs as usize..xe as usize].cmp(&self.bodies[ys as usize..ye as usize]))
            })
        });
        let mut key = Vec::with_capacity(1 + records.len() * 5);
        key.push(self.target_name);
        for (_, r, s, e) in records {
            let r = r as usize;
            key.extend([self.names[self.head[r] as usize], self.lits(r).len() as u32, e - s]);
            key.extend_from_slice(self.lits(r));
            key.extend_from_slice(&self.bodies[s as usize..e as usize]);
        }
        Reduced::State(key.into_boxed_slice())
    }
}

impl Scratch {
    /// Makes the names of the `k` atoms distinct. An atom named by its raw
    /// id keeps a name that may be a literal name of an earlier state
    /// (`name_base + l`); where another atom's literal name here is the
    /// same, that atom takes its raw id too (raw ids are distinct), until
    /// no two names are equal. Two atoms under one name would merge in
    /// the key, and the cache would then answer for another function.
    fn separate_names(&mut self, k: usize, t: usize) {
        let raw_named = |s: &Self, a: usize| a != t && s.names[a] == s.global[a];
        // Raw ids below `name_base` are atom ids, never literal names.
        if !(0..k).any(|a| raw_named(self, a) && self.global[a] >= self.name_base) {
            return;
        }
        let mut taken = std::mem::take(&mut self.queue);
        loop {
            taken.clear();
            taken.extend((0..k).filter(|&a| raw_named(self, a)).map(|a| self.global[a]));
            taken.sort_unstable();
            let mut changed = false;
            for a in 0..k {
                if a != t && !raw_named(self, a) && taken.binary_search(&self.names[a]).is_ok() {
                    self.names[a] = self.global[a];
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.queue = taken;
    }
}

/// `x ∪ y` without `skip`, sorted (both inputs sorted).
fn merge_without(x: &[u32], y: &[u32], skip: u32, out: &mut Vec<u32>) {
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        let next = if j == y.len() || (i < x.len() && x[i] <= y[j]) {
            let v = x[i];
            if j < y.len() && y[j] == v {
                j += 1;
            }
            i += 1;
            v
        } else {
            j += 1;
            y[j - 1]
        };
        if next != skip {
            out.push(next);
        }
    }
}

/// Whether sorted `x` is a subset of sorted `y`.
fn is_subset(x: &[u32], y: &[u32]) -> bool {
    let mut j = 0;
    for &v in x {
        while j < y.len() && y[j] < v {
            j += 1;
        }
        if j == y.len() || y[j] != v {
            return false;
        }
        j += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Budget;
    use crate::logic::Rule;

    /// `path(0, 6)` on an 8-node ring with chords, every edge a fact.
    fn ring() -> (LogicProgram, AtomId) {
        let n = 8;
        let mut edges: Vec<(usize, usize)> = (0..n).map(|x| (x, (x + 1) % n)).collect();
        edges.extend((0..n).map(|x| (x, (x + 3) % n)));
        let path = |x: usize, y: usize| (edges.len() + x * n + y) as AtomId;
        let mut rules = Vec::new();
        for (e, &(x, z)) in edges.iter().enumerate() {
            rules.push(Rule { head: path(x, z), body: vec![(e as AtomId, true)] });
            for y in 0..n {
                rules.push(Rule { head: path(x, y), body: vec![(e as AtomId, true), (path(z, y), true)] });
            }
        }
        let choices = (0..edges.len()).map(|e| Choice::Fact { atom: e as AtomId, probability: 0.5 }).collect();
        (LogicProgram { num_atoms: (edges.len() + n * n) as u32, rules, choices }, path(0, 6))
    }

    #[test]
    fn a_paused_compilation_carries_on_to_the_same_diagram() {
        let (program, target) = ring();
        let limits = Limits::new(&Budget::default());
        let mut bdd = Bdd::new(&limits);
        let mut paused = TopDown::new(&program, &[target], &limits, Order::Frontier).expect("positive program");
        assert!(paused.cyclic);
        // Each run starts again from the target, so it gets further only if
        // it can go deeper than the diagram (79 visits unpaused).
        let mut pauses = 0;
        let resumed = loop {
            paused.pause_after(Some((20, std::time::Duration::from_secs(60))));
            match paused.compile(&mut bdd, target) {
                Ok(root) => break root,
                Err(Stop::Cancelled) if paused.paused() => pauses += 1,
                Err(other) => panic!("stopped: {other:?}"),
            }
        };
        assert!(pauses > 1, "paused {pauses} times");
        assert!(!paused.paused());
        // A reduced ordered diagram is canonical: the same function in the
        // same order, built afresh in the same manager, is the same node.
        let mut fresh = TopDown::new(&program, &[target], &limits, Order::Frontier).expect("positive program");
        assert_eq!(fresh.var_of_slot, paused.var_of_slot);
        assert_eq!(fresh.compile(&mut bdd, target).expect("compiles"), resumed);
    }
}
