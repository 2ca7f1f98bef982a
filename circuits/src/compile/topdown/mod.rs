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
//!
//! Here: the slot program (read from the [`GroundProgram`] in
//! [`TopDown::new`]) and the expansion with its cache
//! ([`TopDown::compile`]). Beside it: `order` (the variable orders),
//! `state` (residual programs as flat arrays, conditioning them on a
//! decision, and runs of decisions taken as one chain), and `simplify` (the reduction to a canonical residual
//! program, one pass per file).

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;

use deeplog_program::{AtomId, Choice, GroundProgram};

use super::bdd::{self, Bdd};
use super::{FxMap, Limits, Stop};

mod order;
mod simplify;
mod state;

use order::frontier_order;
pub(crate) use order::Order;
use simplify::{Reduced, Scratch};
use state::{chain, condition, first_var, pack, Chain};

/// No atom, no variable: the mark of an entry not yet filled.
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

/// A rule before the order is known: head, slot literals (as [`Span`]s),
/// body atoms.
type RawRule = (AtomId, Vec<Span>, Vec<AtomId>);

/// Slot literals, compactly: `(first, slot, true)` stands for `¬first …
/// ¬(slot − 1), slot` (an alternative of a choice, `first == slot` for a
/// fact), `(slot, slot, false)` for `¬slot` (a negated fact). Head `k` of
/// an annotated disjunction is `k` literals; spelt out only once the
/// compiler is sure to be used ([`TopDown::new`]).
type Span = (u32, u32, bool);

/// The literals `(slot, value)` of `spans`.
fn literals(spans: &[Span]) -> impl Iterator<Item = (u32, bool)> + '_ {
    spans.iter().flat_map(|&(first, slot, positive)| (first..slot).map(|s| (s, false)).chain([(slot, positive)]))
}

/// The compiler for one program: its slot program, the variable order, and
/// the cache of residual programs.
pub(crate) struct TopDown<'l> {
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
    /// the program the targets depend on negates an atom, or, with
    /// `only_cyclic`, if it has no cycle (checked before the rules are
    /// spelt out: the auto compiler asks this of every program).
    pub fn new(
        program: &GroundProgram,
        targets: &[AtomId],
        limits: &'l Limits,
        greedy: Order,
        only_cyclic: bool,
    ) -> Option<Self> {
        let n = program.num_atoms();
        let mut by_head_program: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (r, rule) in program.rules.iter().enumerate() {
            by_head_program[rule.head.index()].push(r as u32);
        }
        // The choices of each atom, over slots (in slot numbering), as
        // spans `(first, slot)`.
        let mut chosen: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        let mut slot = 0u32;
        for c in &program.choices {
            match c {
                Choice::Fact { atom, .. } => {
                    chosen[(*atom).index()].push((slot, slot));
                    slot += 1;
                }
                Choice::Disjunction { atoms } => {
                    let first = slot;
                    for &(atom, _) in atoms {
                        chosen[atom.index()].push((first, slot));
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
            if !std::mem::replace(&mut seen[t.index()], true) {
                queue.push_back(t);
            }
        }
        let mut raw: Vec<RawRule> = Vec::new();
        while let Some(a) = queue.pop_front() {
            let ai = a.index();
            for &(first, slot) in &chosen[ai] {
                raw.push((a, vec![(first, slot, true)], Vec::new()));
            }
            for &r in &by_head_program[ai] {
                let rule = &program.rules[r as usize];
                let mut spans = Vec::new();
                let mut atoms = Vec::new();
                for &(b, positive) in &rule.body {
                    let bi = b.index();
                    if inlined(bi) {
                        match (chosen[bi][0], positive) {
                            ((first, slot), true) => spans.push((first, slot, true)),
                            // `\+ fact`: the fact's slot, negated.
                            ((first, slot), false) if first == slot => spans.push((slot, slot, false)),
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
                raw.push((a, spans, atoms));
            }
        }
        // A cycle is where this compiler pays: bottom-up compilation of an
        // acyclic program builds no intermediate diagrams that the final
        // one does not contain.
        if only_cyclic && !has_cycle(&raw) {
            return None;
        }
        // Slots in order of first mention, breadth first, then the rest.
        let mut var_of_slot = vec![NONE; num_slots];
        let mut next_var = 0u32;
        for (s, _) in raw.iter().flat_map(|(_, spans, _)| literals(spans)) {
            if var_of_slot[s as usize] == NONE {
                var_of_slot[s as usize] = next_var;
                next_var += 1;
            }
        }
        for v in var_of_slot.iter_mut().filter(|v| **v == NONE) {
            *v = next_var;
            next_var += 1;
        }
        if let Some(vars) = frontier_order(&raw, targets, num_slots, greedy) {
            var_of_slot = vars;
        }
        let var_of_slot = super::last_alternative_first(program, var_of_slot);
        let (rules, by_head) = slot_rules(raw, &var_of_slot, n);
        Some(TopDown {
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
        let mut start = vec![target.raw()];
        let mut seen = vec![false; self.by_head.len()];
        let mut stack = vec![target];
        seen[target.index()] = true;
        while let Some(a) = stack.pop() {
            for &r in &self.by_head[a.index()] {
                let rule = &self.rules[r as usize];
                start.extend([rule.head.raw(), rule.lits.len() as u32, rule.atoms.len() as u32]);
                start.extend_from_slice(&rule.lits);
                start.extend(rule.atoms.iter().map(|a| a.raw()));
                for &b in &rule.atoms {
                    if !std::mem::replace(&mut seen[b.index()], true) {
                        stack.push(b);
                    }
                }
            }
        }

        enum Task {
            Visit(Vec<u32>),
            Join {
                key: Box<[u8]>,
                var: u32,
            },
            /// A [`Chain`]'s literals, above the diagrams of its two states.
            Chain {
                key: Box<[u8]>,
                lits: Vec<u32>,
            },
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
                            if let Some(Chain { lits, without, after }) = chain(&key) {
                                tasks.push(Task::Chain { key: packed, lits });
                                tasks.push(Task::Visit(without));
                                tasks.push(Task::Visit(after));
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
                    self.remember(key, node, byte_limit, bdd)?;
                    results.push(node);
                }
                Task::Chain { key, lits } => {
                    let without = results.pop().expect("the diagram without the rule");
                    let mut node = results.pop().expect("the diagram after the chain");
                    for &lit in lits.iter().rev() {
                        let (var, negated) = (lit >> 1, lit & 1 == 1);
                        node = if negated { bdd.make(var, node, without)? } else { bdd.make(var, without, node)? };
                    }
                    self.remember(key, node, byte_limit, bdd)?;
                    results.push(node);
                }
            }
        }
        Ok(results.pop().expect("the target's diagram"))
    }

    /// Caches `node` as the diagram of the packed state `key`, within the
    /// budget's bytes.
    fn remember(&mut self, key: Box<[u8]>, node: u32, byte_limit: usize, bdd: &Bdd) -> Result<(), Stop> {
        self.cached_bytes += key.len();
        if self.cached_bytes > byte_limit {
            return Err(Stop::Nodes(bdd.len()));
        }
        self.cache.insert(key, node);
        Ok(())
    }
}

/// The slot program: `raw`'s rules with their slots as literals in the
/// order `var_of_slot`, literals and atoms sorted and distinct, without the
/// rules that hold a literal and its negation (they never fire); and the
/// rule indices by head, for `num_atoms` atoms.
fn slot_rules(raw: Vec<RawRule>, var_of_slot: &[u32], num_atoms: usize) -> (Vec<SlotRule>, Vec<Vec<u32>>) {
    let mut rules = Vec::with_capacity(raw.len());
    let mut by_head = vec![Vec::new(); num_atoms];
    'rules: for (head, spans, mut atoms) in raw {
        let mut lits: Vec<Lit> =
            literals(&spans).map(|(s, value)| var_of_slot[s as usize] << 1 | (!value) as u32).collect();
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
        by_head[head.index()].push(rules.len() as u32);
        rules.push(SlotRule { head, lits, atoms });
    }
    (rules, by_head)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Budget;
    use deeplog_program::Rule;

    /// `path(0, 6)` on an 8-node ring with chords, every edge a fact.
    fn ring() -> (GroundProgram, AtomId) {
        let n = 8;
        let mut edges: Vec<(usize, usize)> = (0..n).map(|x| (x, (x + 1) % n)).collect();
        edges.extend((0..n).map(|x| (x, (x + 3) % n)));
        let path = |x: usize, y: usize| AtomId::from_index(edges.len() + x * n + y);
        let mut rules = Vec::new();
        for (e, &(x, z)) in edges.iter().enumerate() {
            rules.push(Rule { head: path(x, z), body: vec![(AtomId::from_index(e), true)] });
            for y in 0..n {
                rules.push(Rule { head: path(x, y), body: vec![(AtomId::from_index(e), true), (path(z, y), true)] });
            }
        }
        let choices =
            (0..edges.len()).map(|e| Choice::Fact { atom: AtomId::from_index(e), probability: 0.5 }).collect();
        (GroundProgram::propositional((edges.len() + n * n) as u32, rules, choices), path(0, 6))
    }

    #[test]
    fn a_paused_compilation_carries_on_to_the_same_diagram() {
        let (program, target) = ring();
        let limits = Limits::new(&Budget::default());
        let mut bdd = Bdd::new(&limits);
        let mut paused = TopDown::new(&program, &[target], &limits, Order::Frontier, true).expect("cyclic, positive");
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
        let mut fresh = TopDown::new(&program, &[target], &limits, Order::Frontier, false).expect("positive program");
        assert_eq!(fresh.var_of_slot, paused.var_of_slot);
        assert_eq!(fresh.compile(&mut bdd, target).expect("compiles"), resumed);
    }
}
