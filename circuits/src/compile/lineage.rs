//! Lineage: the boolean formula of each atom over the input slots, under the
//! least-model semantics of the distribution semantics.
//!
//! **Slots.** A [`Choice::Fact`] is one slot. A [`Choice::Disjunction`]
//! `p_1::a_1; …; p_k::a_k` is a chain of independent slots `c_1 … c_k`,
//! `c_i` with probability `p_i / (1 − p_1 − … − p_{i−1})`, and
//! `a_i ≡ ¬c_1 ∧ … ∧ ¬c_{i−1} ∧ c_i`: the alternatives exclude each other and
//! get exactly `p_i`, and every slot's two literal weights sum to 1, so the
//! probability algebra needs no smoothing.
//!
//! **Formulas.** A [`Formula`] is a hash-consed DAG (no two nodes equal,
//! children before parents, `And`/`Or` children sorted and deduplicated,
//! constants folded). An atom's formula is the disjunction of its choices
//! and of its rules' bodies, a negated body atom is the negation of that
//! atom's formula (negation is stratified, so that formula is final).
//!
//! **Cycles.** Atoms are built per strongly connected component of the
//! dependency graph, dependencies first (Tarjan's algorithm, which emits
//! components in that order). An acyclic component is one disjunction. A
//! cyclic one is its least fixpoint by Kleene iteration: `F_0(a) = false`,
//! `F_k(a) = ⋁ choices(a) ∨ ⋁_rules ⋀ body`, the body's same-component
//! atoms read from the latest formulas (those of round `k` for members
//! already updated in this round, Gauss–Seidel style, else round `k − 1`).
//! In each world the operator is monotone and starts from false, so every
//! formula stays below the least model and at least as high as plain
//! round-by-round iteration, whose set of true atoms grows until it is the
//! least model, in at most `n` rounds for `n` atoms. So `F_n` is the
//! least-model formula: a cycle never supports itself. Iteration stops
//! earlier when a round changes no formula (same hash-consed ids). The cost
//! is `O(n · rules of the component)` formula nodes; the BDD compiler
//! digests the rounds after its diagrams stop changing as cache hits. A
//! proof-based cycle breaking (ProbLog's) can instead be exponential.

use crate::circuit::SlotId;
use deeplog_program::{AtomId, Choice, GroundProgram};

use super::{CompileError, FxMap, Limits, SlotWeight, Stop, CLOCK_EVERY};
use crate::scc::Tarjan;

/// A node of a [`Lineage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FormulaId(pub u32);

impl FormulaId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A boolean formula over slots. `And`/`Or` have at least two children,
/// sorted, distinct and never constants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Formula {
    False,
    True,
    Slot(SlotId),
    Not(FormulaId),
    And(Box<[FormulaId]>),
    Or(Box<[FormulaId]>),
}

pub const FALSE: FormulaId = FormulaId(0);
pub const TRUE: FormulaId = FormulaId(1);

/// The formulas of a program's atoms, built on demand.
pub struct Lineage<'p> {
    program: &'p GroundProgram,
    limits: &'p Limits,
    nodes: Vec<Formula>,
    index: FxMap<Formula, FormulaId>,
    slots: Vec<SlotWeight>,
    /// Disjunction of each atom's choices (`FALSE` when it has none).
    chosen: Vec<FormulaId>,
    /// Rules of atom `a`: `rules_of[rule_start[a]..rule_start[a + 1]]`.
    rule_start: Vec<u32>,
    rules_of: Vec<u32>,
    /// Each atom's formula once its component is built.
    built: Vec<Option<FormulaId>>,
    /// The components of the dependency graph, found as they are built.
    tarjan: Tarjan,
    /// Whether a cyclic component was built (by fixpoint rounds).
    unrolled: bool,
}

impl<'p> Lineage<'p> {
    /// Checks the program, creates the slots and the choices' formulas.
    pub(crate) fn new(program: &'p GroundProgram, limits: &'p Limits) -> Result<Self, CompileError> {
        let n = program.num_atoms();
        let in_range = |atom: AtomId| {
            if atom.index() < program.num_atoms() {
                Ok(())
            } else {
                Err(CompileError::UnknownAtom { atom, num_atoms: program.num_atoms() })
            }
        };
        let mut rule_start = vec![0u32; n + 1];
        for rule in &program.rules {
            in_range(rule.head)?;
            for &(atom, _) in &rule.body {
                in_range(atom)?;
            }
            rule_start[rule.head.index() + 1] += 1;
        }
        for a in 0..n {
            rule_start[a + 1] += rule_start[a];
        }
        let mut fill = rule_start.clone();
        let mut rules_of = vec![0u32; program.rules.len()];
        for (r, rule) in program.rules.iter().enumerate() {
            rules_of[fill[rule.head.index()] as usize] = r as u32;
            fill[rule.head.index()] += 1;
        }

        let mut lineage = Lineage {
            program,
            limits,
            nodes: Vec::new(),
            index: FxMap::default(),
            slots: Vec::new(),
            chosen: vec![FALSE; n],
            rule_start,
            rules_of,
            built: vec![None; n],
            tarjan: Tarjan::new(n),
            unrolled: false,
        };
        let too_big = |stop: Stop| stop.in_lineage(None, limits);
        lineage.intern(Formula::False).map_err(too_big)?;
        lineage.intern(Formula::True).map_err(too_big)?;
        for (choice, c) in program.choices.iter().enumerate() {
            match c {
                Choice::Fact { atom, probability } => {
                    in_range(*atom)?;
                    if !(0.0..=1.0).contains(probability) {
                        return Err(CompileError::BadProbability { choice, atom: *atom, probability: *probability });
                    }
                    let x = lineage.new_slot(*probability, choice, 0).map_err(too_big)?;
                    lineage.choose(*atom, x).map_err(too_big)?;
                }
                Choice::Disjunction { atoms } => {
                    let mut total = 0.0;
                    for &(atom, probability) in atoms {
                        in_range(atom)?;
                        if !(0.0..=1.0).contains(&probability) {
                            return Err(CompileError::BadProbability { choice, atom, probability });
                        }
                        total += probability;
                    }
                    if total > 1.0 + deeplog_program::SUM_TOLERANCE {
                        return Err(CompileError::DisjunctionOverOne { choice, total });
                    }
                    let mut none_before = TRUE;
                    let mut left = 1.0;
                    for (alternative, &(atom, probability)) in atoms.iter().enumerate() {
                        let conditional = if left > 0.0 { (probability / left).clamp(0.0, 1.0) } else { 0.0 };
                        left -= probability;
                        let c = lineage.new_slot(conditional, choice, alternative).map_err(too_big)?;
                        let this = lineage.and(vec![none_before, c]).map_err(too_big)?;
                        lineage.choose(atom, this).map_err(too_big)?;
                        let not_c = lineage.not(c);
                        none_before = lineage.and(vec![none_before, not_c]).map_err(too_big)?;
                    }
                }
            }
        }
        Ok(lineage)
    }

    fn new_slot(&mut self, probability: f64, choice: usize, alternative: usize) -> Result<FormulaId, Stop> {
        let slot = SlotId(self.slots.len() as u32);
        self.slots.push(SlotWeight { probability, choice, alternative });
        self.intern(Formula::Slot(slot))
    }

    fn choose(&mut self, atom: AtomId, formula: FormulaId) -> Result<(), Stop> {
        let a = atom.index();
        self.chosen[a] = self.or(vec![self.chosen[a], formula])?;
        Ok(())
    }

    pub fn num_slots(&self) -> usize {
        self.slots.len()
    }

    /// Number of formula nodes, constants included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether some formula was built by unrolling a cycle.
    pub(crate) fn unrolled(&self) -> bool {
        self.unrolled
    }

    /// The formula of slot `slot` (every slot's exists from the start).
    pub(crate) fn slot(&self, slot: SlotId) -> FormulaId {
        self.index[&Formula::Slot(slot)]
    }

    pub fn formula(&self, id: FormulaId) -> &Formula {
        &self.nodes[id.index()]
    }

    pub(crate) fn into_slots(self) -> Vec<SlotWeight> {
        self.slots
    }

    fn intern(&mut self, node: Formula) -> Result<FormulaId, Stop> {
        if let Some(&id) = self.index.get(&node) {
            return Ok(id);
        }
        let len = self.nodes.len();
        if len >= self.limits.max_nodes {
            return Err(Stop::Nodes(len));
        }
        if len.is_multiple_of(CLOCK_EVERY) {
            self.limits.check_time(len)?;
        }
        let id = FormulaId(len as u32);
        self.nodes.push(node.clone());
        self.index.insert(node, id);
        Ok(id)
    }

    pub fn not(&mut self, f: FormulaId) -> FormulaId {
        match self.nodes[f.index()] {
            Formula::False => TRUE,
            Formula::True => FALSE,
            Formula::Not(g) => g,
            // A negation is one node over an existing one; it is not worth
            // failing a compilation over, so it skips the budget.
            _ => {
                let node = Formula::Not(f);
                if let Some(&id) = self.index.get(&node) {
                    return id;
                }
                let id = FormulaId(self.nodes.len() as u32);
                self.nodes.push(node.clone());
                self.index.insert(node, id);
                id
            }
        }
    }

    pub(crate) fn and(&mut self, mut children: Vec<FormulaId>) -> Result<FormulaId, Stop> {
        if children.contains(&FALSE) {
            return Ok(FALSE);
        }
        children.retain(|&c| c != TRUE);
        children.sort_unstable();
        children.dedup();
        match children.len() {
            0 => Ok(TRUE),
            1 => Ok(children[0]),
            _ => self.intern(Formula::And(children.into_boxed_slice())),
        }
    }

    pub(crate) fn or(&mut self, mut children: Vec<FormulaId>) -> Result<FormulaId, Stop> {
        if children.contains(&TRUE) {
            return Ok(TRUE);
        }
        children.retain(|&c| c != FALSE);
        children.sort_unstable();
        children.dedup();
        match children.len() {
            0 => Ok(FALSE),
            1 => Ok(children[0]),
            _ => self.intern(Formula::Or(children.into_boxed_slice())),
        }
    }

    /// The formula of `atom`, building its component and everything it
    /// depends on first.
    pub(crate) fn atom(&mut self, atom: AtomId) -> Result<FormulaId, Stop> {
        if let Some(f) = self.built[atom.index()] {
            return Ok(f);
        }
        // Components not built yet, dependencies first.
        self.tarjan.start(atom);
        loop {
            let (program, rule_start, rules_of, built) = (self.program, &self.rule_start, &self.rules_of, &self.built);
            let body = |v: AtomId, k: usize| {
                let r = rule_start[v.index()] as usize + k;
                (r < rule_start[v.index() + 1] as usize).then(|| program.rules[rules_of[r] as usize].body.as_slice())
            };
            let Some(members) = self.tarjan.next_component(body, |w| built[w.index()].is_some()) else { break };
            self.build_component(&members)?;
        }
        Ok(self.built[atom.index()].expect("the queried atom's component was built"))
    }

    /// Builds the formulas of one component, whose dependencies outside it
    /// are all built.
    fn build_component(&mut self, members: &[AtomId]) -> Result<(), Stop> {
        let id = self.tarjan.component[members[0].index()];
        let program = self.program;
        let mut cyclic = members.len() > 1;
        for &a in members {
            for r in self.rule_range(a) {
                let rule = &program.rules[self.rules_of[r] as usize];
                for &(b, positive) in &rule.body {
                    if self.tarjan.component[b.index()] == id {
                        if !positive {
                            return Err(Stop::NotStratified { atom: a, negated: b });
                        }
                        cyclic = true;
                    }
                }
            }
        }
        self.unrolled |= cyclic;
        let rounds = if cyclic { members.len() } else { 1 };
        let mut current = vec![FALSE; members.len()];
        for _ in 0..rounds {
            let mut changed = false;
            for (i, &a) in members.iter().enumerate() {
                let mut disjuncts = vec![self.chosen[a.index()]];
                for r in self.rule_range(a) {
                    let rule = &program.rules[self.rules_of[r] as usize];
                    let mut conjuncts = Vec::with_capacity(rule.body.len());
                    for &(b, positive) in &rule.body {
                        let bi = b.index();
                        let f = if self.tarjan.component[bi] == id {
                            current[self.tarjan.position[bi] as usize]
                        } else {
                            self.built[bi].expect("dependencies are built before their dependents")
                        };
                        conjuncts.push(if positive { f } else { self.not(f) });
                    }
                    disjuncts.push(self.and(conjuncts)?);
                }
                let f = self.or(disjuncts)?;
                changed |= f != current[i];
                current[i] = f;
            }
            if !changed {
                break;
            }
        }
        for (&a, f) in members.iter().zip(current) {
            self.built[a.index()] = Some(f);
        }
        Ok(())
    }

    fn rule_range(&self, atom: AtomId) -> std::ops::Range<usize> {
        self.rule_start[atom.index()] as usize..self.rule_start[atom.index() + 1] as usize
    }
}
