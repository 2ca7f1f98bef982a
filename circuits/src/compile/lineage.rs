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
use crate::logic::{AtomId, Choice, LogicProgram};

use super::{CompileError, FxMap, Limits, SlotWeight, Stop, CLOCK_EVERY};

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

const UNVISITED: u32 = 0;
const NO_COMPONENT: u32 = u32::MAX;

/// The formulas of a program's atoms, built on demand.
pub struct Lineage<'p> {
    program: &'p LogicProgram,
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
    /// Tarjan's state: visit number (0 = unvisited), low link, component,
    /// position within its component.
    visit: Vec<u32>,
    low: Vec<u32>,
    component: Vec<u32>,
    position: Vec<u32>,
    visits: u32,
    components: u32,
}

impl<'p> Lineage<'p> {
    /// Checks the program, creates the slots and the choices' formulas.
    pub(crate) fn new(program: &'p LogicProgram, limits: &'p Limits) -> Result<Self, CompileError> {
        let n = program.num_atoms as usize;
        let in_range = |atom: AtomId| {
            if atom < program.num_atoms {
                Ok(())
            } else {
                Err(CompileError::UnknownAtom { atom, num_atoms: program.num_atoms })
            }
        };
        let mut rule_start = vec![0u32; n + 1];
        for rule in &program.rules {
            in_range(rule.head)?;
            for &(atom, _) in &rule.body {
                in_range(atom)?;
            }
            rule_start[rule.head as usize + 1] += 1;
        }
        for a in 0..n {
            rule_start[a + 1] += rule_start[a];
        }
        let mut fill = rule_start.clone();
        let mut rules_of = vec![0u32; program.rules.len()];
        for (r, rule) in program.rules.iter().enumerate() {
            rules_of[fill[rule.head as usize] as usize] = r as u32;
            fill[rule.head as usize] += 1;
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
            visit: vec![UNVISITED; n],
            low: vec![0; n],
            component: vec![NO_COMPONENT; n],
            position: vec![0; n],
            visits: 0,
            components: 0,
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
                    // Decimal probabilities summing to 1 may round above it.
                    if total > 1.0 + 1e-9 {
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
        let a = atom as usize;
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
        if let Some(f) = self.built[atom as usize] {
            return Ok(f);
        }
        // Iterative Tarjan over atoms not built yet. A frame is an atom and
        // the next (rule, body literal) of it to look at.
        let mut calls: Vec<(AtomId, u32, u32)> = Vec::new();
        let mut stack: Vec<AtomId> = Vec::new();
        self.enter(atom, &mut calls, &mut stack);
        while let Some(&(v, r, l)) = calls.last() {
            let vi = v as usize;
            let top = calls.len() - 1;
            if let Some(rule) = self.rule_range(v).nth(r as usize) {
                let body = &self.program.rules[self.rules_of[rule] as usize].body;
                match body.get(l as usize) {
                    Some(&(w, _)) => {
                        calls[top].2 += 1;
                        let wi = w as usize;
                        if self.built[wi].is_some() {
                            continue;
                        }
                        if self.visit[wi] == UNVISITED {
                            self.enter(w, &mut calls, &mut stack);
                        } else if self.component[wi] == NO_COMPONENT {
                            // Visited and without a component: on the stack.
                            self.low[vi] = self.low[vi].min(self.visit[wi]);
                        }
                    }
                    None => calls[top] = (v, r + 1, 0),
                }
                continue;
            }
            calls.pop();
            if let Some(&(u, _, _)) = calls.last() {
                self.low[u as usize] = self.low[u as usize].min(self.low[vi]);
            }
            if self.low[vi] == self.visit[vi] {
                let mut members = Vec::new();
                loop {
                    let w = stack.pop().expect("Tarjan's stack holds the component's root");
                    self.component[w as usize] = self.components;
                    self.position[w as usize] = members.len() as u32;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                self.build_component(&members)?;
                self.components += 1;
            }
        }
        Ok(self.built[atom as usize].expect("the queried atom's component was built"))
    }

    fn enter(&mut self, atom: AtomId, calls: &mut Vec<(AtomId, u32, u32)>, stack: &mut Vec<AtomId>) {
        self.visits += 1;
        self.visit[atom as usize] = self.visits;
        self.low[atom as usize] = self.visits;
        stack.push(atom);
        calls.push((atom, 0, 0));
    }

    /// Builds the formulas of one component, whose dependencies outside it
    /// are all built.
    fn build_component(&mut self, members: &[AtomId]) -> Result<(), Stop> {
        let id = self.component[members[0] as usize];
        let program = self.program;
        let mut cyclic = members.len() > 1;
        for &a in members {
            for r in self.rule_range(a) {
                let rule = &program.rules[self.rules_of[r] as usize];
                for &(b, positive) in &rule.body {
                    if self.component[b as usize] == id {
                        if !positive {
                            return Err(Stop::NotStratified { atom: a, negated: b });
                        }
                        cyclic = true;
                    }
                }
            }
        }
        let rounds = if cyclic { members.len() } else { 1 };
        let mut current = vec![FALSE; members.len()];
        for _ in 0..rounds {
            let mut changed = false;
            for (i, &a) in members.iter().enumerate() {
                let mut disjuncts = vec![self.chosen[a as usize]];
                for r in self.rule_range(a) {
                    let rule = &program.rules[self.rules_of[r] as usize];
                    let mut conjuncts = Vec::with_capacity(rule.body.len());
                    for &(b, positive) in &rule.body {
                        let bi = b as usize;
                        let f = if self.component[bi] == id {
                            current[self.position[bi] as usize]
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
            self.built[a as usize] = Some(f);
        }
        Ok(())
    }

    fn rule_range(&self, atom: AtomId) -> std::ops::Range<usize> {
        self.rule_start[atom as usize] as usize..self.rule_start[atom as usize + 1] as usize
    }
}
