//! Reduction of a residual program to its canonical form: the passes the
//! top-down compiler runs after each decision, so that equal residual
//! programs meet in its cache.
//!
//! [`Scratch::simplify`] calls them in order, to a fixpoint, one file each:
//!
//! 1. [`target`]: a target defined by a single `t :- a` becomes `a`; the
//!    atoms the target follows from through slot-free unit rules.
//! 2. [`derivable`]: atoms derivable for sure are true, atoms not
//!    derivable at all are false; a target of either is a constant. Rules
//!    that cannot fire or are not needed go, sure atoms leave bodies.
//! 3. [`relevance`]: rules of atoms the target does not reach go.
//! 4. [`circular`] (first round only): rules that derive their head only in
//!    a circle go.
//! 5. [`unfold`]: atoms whose rules mention no slot are unfolded into the
//!    rules that use them.
//! 6. [`equivalent`]: atoms that imply each other through slot-free rules
//!    become one.
//!
//! and then, once:
//!
//! 7. [`subsumed`]: duplicate, subsumed and transitive rules go.
//! 8. [`canonical`]: atoms get names that follow from the residual program
//!    alone, and the rules are sorted into the key.
//!
//! Every pass keeps the target's function: the residual program's least
//! model, restricted to the target, is the same in every world of the
//! undecided slots.

mod canonical;
mod circular;
mod derivable;
mod equivalent;
mod relevance;
mod subsumed;
mod target;
mod unfold;

use super::bdd;
use super::state::rules_of;
use super::NONE;

/// What a residual program reduces to.
pub(super) enum Reduced {
    Constant(u32),
    /// The canonical encoding: target, then per rule
    /// `head, #lits, #atoms, lits…, atoms…`, rules sorted.
    State(Box<[u32]>),
}

/// Reusable working memory for [`Scratch::reduce`]; atoms are renumbered
/// densely per state, in increasing order, so local order is global order.
///
/// The residual program being reduced is the live rules: rule `r` is
/// `head[r] :- lits(r), body(r)`, both slices of `pool`, sorted and
/// distinct (passes that rewrite a body keep it so), and counts only while
/// `alive[r]`. Passes drop a rule by clearing `alive`, and add one with
/// [`Scratch::push_rule`]; `defs`/`uses` describe the live rules only
/// right after [`Scratch::index`].
pub(super) struct Scratch {
    /// Canonical names: `name_base + literal`; the target's is fixed.
    name_base: u32,
    target_name: u32,
    /// Per local atom, its canonical name ([`canonical`]).
    names: Vec<u32>,
    /// Rule bodies in canonical names, for the key ([`canonical`]).
    bodies: Vec<u32>,
    /// Global atom → local number (`NONE` outside a reduction).
    local: Vec<u32>,
    /// Local → global.
    global: Vec<u32>,
    head: Vec<u32>,
    /// Each rule's literals, then its body atoms: ranges of `pool`.
    lits: Vec<(u32, u32)>,
    atoms: Vec<(u32, u32)>,
    alive: Vec<bool>,
    pool: Vec<u32>,
    /// Per atom, the rules with it as head, and those with it in the body.
    defs: Vec<Vec<u32>>,
    uses: Vec<Vec<u32>>,
    /// Per atom, derivable with no slot ([`derivable`]), and derivable with
    /// every slot true.
    sure: Vec<bool>,
    possible: Vec<bool>,
    /// Per atom, reached from the target ([`relevance`]).
    relevant: Vec<bool>,
    /// Per atom, implies the target through slot-free unit rules ([`target`]).
    direct: Vec<bool>,
    /// Per atom, the bitset (`words` words) of the atoms that imply it
    /// through slot-free unit rules, kept in `units` ([`equivalent`]).
    implicants: Vec<u64>,
    words: usize,
    units: Vec<(u32, u32)>,
    /// Per atom, the atom it merges into ([`equivalent`]).
    representative: Vec<u32>,
    /// Per rule, its body atoms not yet derived ([`derivable`]).
    need: Vec<u32>,
    /// A work list any pass may use.
    queue: Vec<u32>,
    graph: circular::GraphScratch,
}

impl Scratch {
    /// Scratch for programs of `num_atoms` atoms and `num_literals`
    /// literals (canonical names extend the atom ids past both).
    pub(super) fn new(num_atoms: usize, num_literals: usize) -> Self {
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
            graph: circular::GraphScratch::default(),
        }
    }

    #[inline]
    fn lits(&self, r: usize) -> &[u32] {
        let (s, e) = self.lits[r];
        &self.pool[s as usize..e as usize]
    }

    #[inline]
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
    pub(super) fn reduce(&mut self, raw: &[u32]) -> Reduced {
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

    /// The canonical residual program of the `k` local atoms' live rules
    /// for `target`, or its constant value: the passes in order, to a
    /// fixpoint, then the key.
    fn simplify(&mut self, k: usize, mut target: u32) -> Reduced {
        let mut first_round = true;
        loop {
            self.index(k);
            if let Some(a) = self.follow_unit_target(target) {
                target = a;
                continue;
            }
            if let Some(constant) = self.derivable(k, target) {
                return Reduced::Constant(constant);
            }
            let implied = self.target_implicants(k, target);
            self.drop_unneeded_rules(target);
            self.shortcut_to_target(target, implied);
            self.index(k);
            self.keep_relevant(k, target);
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
            let unfolded = self.unfold_slot_free(k, target);
            let merged = self.merge_equivalent(k, &mut target);
            if !unfolded && !merged && !self.target_is_unit(target) {
                // `merge_equivalent` left `implicants` up to date.
                break;
            }
        }
        let order = self.drop_subsumed();
        self.name_atoms(k, target as usize, &order);
        Reduced::State(self.key(&order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Literals of slot variables 0, 1, 2 (positive).
    const X0: u32 = 0;
    const X1: u32 = 2;
    const X2: u32 = 4;
    /// Local atoms: the target and three others.
    const T: u32 = 0;
    const A: u32 = 1;
    const B: u32 = 2;
    const C: u32 = 3;

    /// A residual program over local atoms `0..4` (`head, lits, body`),
    /// indexed, as [`Scratch::reduce`] leaves it before the passes.
    fn load(rules: &[(u32, &[u32], &[u32])]) -> Scratch {
        let k = 4;
        let mut s = Scratch::new(k, 6);
        s.global.extend(0..k as u32);
        for &(head, lits, atoms) in rules {
            let start = s.pool.len();
            s.pool.extend_from_slice(lits);
            s.push_rule(head, start..s.pool.len(), atoms);
        }
        s.index(k);
        s
    }

    /// The live rules, sorted.
    fn live(s: &Scratch) -> Vec<(u32, Vec<u32>, Vec<u32>)> {
        let mut rules: Vec<_> = (0..s.head.len())
            .filter(|&r| s.alive[r])
            .map(|r| (s.head[r], s.lits(r).to_vec(), s.body(r).to_vec()))
            .collect();
        rules.sort();
        rules
    }

    #[test]
    fn a_unit_target_is_followed_and_its_uses_go() {
        let mut s = load(&[(T, &[], &[A]), (A, &[X0], &[]), (B, &[X1], &[T])]);
        assert_eq!(s.follow_unit_target(T), Some(A));
        assert_eq!(live(&s), vec![(A, vec![X0], vec![])]);
        let mut s = load(&[(T, &[X1], &[A]), (A, &[X0], &[])]);
        assert_eq!(s.follow_unit_target(T), None);
    }

    #[test]
    fn derivability_decides_sure_and_underivable_targets() {
        // `b` holds in every world, `a` in some, `c` (an unfounded loop) in none.
        let mut s = load(&[(T, &[], &[A, B]), (A, &[X0], &[]), (B, &[], &[]), (C, &[], &[C])]);
        assert_eq!(s.derivable(4, T), None);
        assert_eq!(
            (s.sure[..4].to_vec(), s.possible[..4].to_vec()),
            (vec![false, false, true, false], vec![true, true, true, false])
        );
        assert_eq!(load(&[(T, &[], &[B]), (B, &[], &[])]).derivable(4, T), Some(bdd::TRUE));
        assert_eq!(load(&[(T, &[X0], &[C]), (C, &[], &[C])]).derivable(4, T), Some(bdd::FALSE));
    }

    #[test]
    fn known_atoms_leave_and_the_target_names_its_frontier() {
        // `a → t` without slots: `b :- a, x1` feeds `t` only through `a`.
        let mut s = load(&[(T, &[], &[A]), (T, &[X0], &[B]), (A, &[X1], &[B]), (B, &[X2], &[C]), (C, &[], &[])]);
        assert_eq!(s.derivable(4, T), None);
        let implied = s.target_implicants(4, T);
        assert_eq!(implied, vec![A]);
        s.drop_unneeded_rules(T);
        s.shortcut_to_target(T, implied);
        // `c` is sure: it leaves `b`'s body, and its own rule goes.
        assert_eq!(
            live(&s),
            vec![(T, vec![], vec![A]), (T, vec![X0], vec![B]), (A, vec![X1], vec![B]), (B, vec![X2], vec![]),]
        );
    }

    #[test]
    fn rules_the_target_does_not_reach_go() {
        let mut s = load(&[(T, &[X0], &[A]), (A, &[X1], &[]), (C, &[X2], &[])]);
        s.keep_relevant(4, T);
        assert_eq!(live(&s), vec![(T, vec![X0], vec![A]), (A, vec![X1], vec![])]);
    }

    #[test]
    fn a_rule_that_derives_its_head_only_in_a_circle_goes() {
        // Bodies of one atom (dominators): `t` needs `a`, so `a :- t` is circular.
        let mut s = load(&[(T, &[X0], &[A]), (A, &[X1], &[T]), (A, &[X2], &[])]);
        s.prune_circular(4);
        assert_eq!(live(&s), vec![(T, vec![X0], vec![A]), (A, vec![X2], vec![])]);
        // Longer bodies (one derivation per head): the same with `b` beside.
        let mut s = load(&[(T, &[], &[A, B]), (A, &[X1], &[T, B]), (A, &[X2], &[]), (B, &[X0], &[])]);
        s.prune_circular(4);
        assert_eq!(live(&s), vec![(T, vec![], vec![A, B]), (A, vec![X2], vec![]), (B, vec![X0], vec![])]);
    }

    #[test]
    fn a_slot_free_atom_is_unfolded_into_its_uses() {
        let mut s = load(&[(T, &[X0], &[A]), (A, &[], &[B]), (A, &[], &[C]), (B, &[X1], &[]), (C, &[X2], &[])]);
        s.keep_relevant(4, T);
        assert!(s.unfold_slot_free(4, T));
        assert_eq!(
            live(&s),
            vec![(T, vec![X0], vec![B]), (T, vec![X0], vec![C]), (B, vec![X1], vec![]), (C, vec![X2], vec![]),]
        );
    }

    #[test]
    fn atoms_that_imply_each_other_merge() {
        let mut s = load(&[(T, &[X0], &[B]), (A, &[], &[B]), (B, &[], &[A]), (A, &[X1], &[]), (B, &[X2], &[])]);
        let mut target = T;
        assert!(s.merge_equivalent(4, &mut target));
        assert_eq!(live(&s), vec![(T, vec![X0], vec![A]), (A, vec![X1], vec![]), (A, vec![X2], vec![])]);
    }

    #[test]
    fn subsumed_and_duplicate_rules_go() {
        // `t :- x0, x1` fires only where `t :- x0` does; `t :- c` is
        // `t :- b` by way of `b :- c`.
        let mut s = load(&[
            (T, &[X0], &[]),
            (T, &[X0, X1], &[]),
            (T, &[X0], &[]),
            (T, &[], &[B]),
            (T, &[], &[C]),
            (B, &[], &[C]),
            (C, &[X2], &[]),
        ]);
        let mut target = T;
        assert!(!s.merge_equivalent(4, &mut target));
        s.drop_subsumed();
        assert_eq!(
            live(&s),
            vec![(T, vec![], vec![B]), (T, vec![X0], vec![]), (B, vec![], vec![C]), (C, vec![X2], vec![]),]
        );
    }

    /// An encoded state ([`super::super::state`]) over global atoms.
    fn state(target: u32, rules: &[(u32, &[u32], &[u32])]) -> Vec<u32> {
        let mut out = vec![target];
        for &(head, lits, atoms) in rules {
            out.extend([head, lits.len() as u32, atoms.len() as u32]);
            out.extend_from_slice(lits);
            out.extend_from_slice(atoms);
        }
        out
    }

    fn reduce(raw: &[u32]) -> Option<Box<[u32]>> {
        match Scratch::new(40, 6).reduce(raw) {
            Reduced::State(key) => Some(key),
            Reduced::Constant(_) => None,
        }
    }

    #[test]
    fn residual_programs_equal_up_to_renaming_have_one_key() {
        let one = state(10, &[(10, &[X0], &[20]), (10, &[X1], &[21]), (20, &[X1], &[21]), (21, &[X2], &[])]);
        let renamed = state(30, &[(30, &[X0], &[25]), (30, &[X1], &[12]), (25, &[X1], &[12]), (12, &[X2], &[])]);
        let other = state(10, &[(10, &[X0], &[20]), (10, &[X2], &[21]), (20, &[X1], &[21]), (21, &[X2], &[])]);
        let key = reduce(&one).expect("not a constant");
        assert_eq!(reduce(&renamed).expect("not a constant"), key);
        assert_ne!(reduce(&other).expect("not a constant"), key);
    }
}
