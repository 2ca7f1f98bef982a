//! Fuzzy values of a ground logic program, as nodes of a formula circuit.
//!
//! Exact inference gives each atom of a [`GroundProgram`] its *probability*
//! (see [`compile`](mod@crate::compile)). This module gives it a *fuzzy truth
//! value* instead, computed truth-functionally by an [`Expr`](crate::formula::Expr):
//! cheap for any size of program and differentiable in the choices'
//! probabilities. A fuzzy value is not a probability: under the product
//! t-norm (or the smaller Łukasiewicz one), a program with neither negation
//! nor annotated disjunctions gives an atom at most the probability of its
//! most probable proof, a lower bound of its probability; Gödel values may
//! lie on either side of it.
//!
//! # Semantics
//!
//! The program is read as a fuzzy logic program: every rule `head :- body`
//! is an implication that must hold fully, i.e. have truth 1 under the
//! residuum of the t-norm `T`, which is to say `value(head) ≥ T(body)`. Its
//! least model gives every atom `a`
//!
//! ```text
//! value(a) = max( choice(a),  max over rules r with head a of T(body of r) )
//! ```
//!
//! where
//!
//! - `choice(a)` is the input row of `a`'s choice: the annotated probability
//!   of a fact `p::a`, or of the alternative `p::a` of an annotated
//!   disjunction (the caller fills the rows, see [`choice_inputs`]); the
//!   largest one if `a` is in several choices; absent (0) if in none;
//! - a positive body literal `b` is `value(b)`, a negative one `\+ b` is
//!   `1 − value(b)`, and an empty body is 1;
//! - an atom with evidence `(a, v)` is the constant 1 or 0, whatever its
//!   rules and choices say (evidence fixes an observed atom; with several
//!   entries for one atom the last wins);
//! - an atom with no rule, no choice and no evidence is certainly false: it
//!   gets no node (`None`), a rule reading it positively is dropped and a
//!   literal `\+` of it is dropped from its body (both laws of every t-norm).
//!
//! Rules combine with `max`, not with the t-conorm of `T`: several
//! derivations of the same atom do not add up. This also makes the least
//! fixpoint well defined on recursive programs: every t-norm is ≤ `min`, so
//! a derivation that goes around a cycle is never better than the acyclic
//! derivation inside it, and Kleene iteration from 0 reaches the least
//! fixpoint after at most `n` rounds on a strongly connected component of
//! `n` atoms (the best derivation is acyclic, so its height is at most `n`).
//! Under Gödel logic this is the least fixpoint of the rules read with `max`,
//! the t-conorm itself. With the product or Łukasiewicz t-conorm in place of
//! `max`, the cycle `a :- b. b :- a. a :- c.` would count the same
//! derivation from `c` again and again and drift to 1.
//!
//! Negation must be stratified: an atom may not depend on `\+ b` where `b`
//! depends on it.
//!
//! # Construction
//!
//! Atoms are built per strongly connected component of the dependency graph
//! (positive and negative edges; evidence cuts an atom's edges),
//! dependencies first, by an iterative Tarjan (programs have millions of
//! atoms). An acyclic single-atom component is one node. A cyclic component
//! of `n` atoms is unrolled: round 0 has every member at its choice value
//! (or 0), round `k = 1..=n` computes every member from the round `k − 1`
//! values of members and the final values of earlier components, and the
//! last round gives the members' values. Hash-consing shares what does not
//! change from round to round; a cyclic component costs
//! `O(n · (rules + n))` nodes, bounded by [`FuzzyLimits`].
//!
//! ```
//! use deeplog_circuits::formula::{ExprBuilder, ExprEvaluator, TNorm};
//! use deeplog_circuits::fuzzy::{choice_inputs, program_values, FuzzyLimits};
//! use deeplog_program::{AtomId, Choice, GroundProgram, Rule};
//!
//! // 0.9::edge(x,y). 0.8::edge(y,x). 0.5::start(x).
//! // at(X) :- start(X).   at(Y) :- at(X), edge(X,Y).
//! let [edge_xy, edge_yx, start_x, at_x, at_y] = [0, 1, 2, 3, 4].map(AtomId::new);
//! let rules = vec![
//!     Rule { head: at_x, body: vec![(start_x, true)] },
//!     Rule { head: at_y, body: vec![(at_x, true), (edge_xy, true)] },
//!     Rule { head: at_x, body: vec![(at_y, true), (edge_yx, true)] },
//! ];
//! let choices = vec![
//!     Choice::Fact { atom: edge_xy, probability: 0.9 },
//!     Choice::Fact { atom: edge_yx, probability: 0.8 },
//!     Choice::Fact { atom: start_x, probability: 0.5 },
//! ];
//! let program = GroundProgram::propositional(5, rules, choices);
//! let rows = choice_inputs(&program); // [[0], [1], [2]]
//! let mut b = ExprBuilder::new(3);
//! let values = program_values(&mut b, &program, TNorm::Product, &rows, &[], FuzzyLimits::default()).unwrap();
//! let expr = b.finish(vec![values[at_x.index()].unwrap(), values[at_y.index()].unwrap()]);
//! let v = ExprEvaluator::new(&expr, None).unwrap().forward(&[0.9, 0.8, 0.5], 1).unwrap();
//! // The cycle does not support at(x) beyond its start: 0.5 and 0.5 · 0.9.
//! assert!((v[0] - 0.5).abs() < 1e-12 && (v[1] - 0.45).abs() < 1e-12);
//! ```

use crate::formula::{ExprBuilder, ExprId, FormulaError, Op, TNorm};
use crate::scc::Tarjan;
use deeplog_program::{AtomId, Choice, GroundProgram};

/// How large the fuzzy values may grow the formula circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuzzyLimits {
    /// Most nodes the builder may hold (those it held before included).
    pub max_nodes: usize,
}

impl Default for FuzzyLimits {
    fn default() -> Self {
        FuzzyLimits { max_nodes: 50_000_000 }
    }
}

/// Input rows of each choice, in choice order: one row for a fact, one per
/// alternative for an annotated disjunction, numbered consecutively from 0.
/// The rows hold the annotated probabilities, which the caller fills.
pub fn choice_inputs(program: &GroundProgram) -> Vec<Vec<u32>> {
    let mut next = 0u32;
    program
        .choices
        .iter()
        .map(|choice| {
            let k = match choice {
                Choice::Fact { .. } => 1,
                Choice::Disjunction { atoms } => atoms.len() as u32,
            };
            next += k;
            (next - k..next).collect()
        })
        .collect()
}

/// Adds to `b` one node per atom of `program`: the atom's fuzzy truth under
/// t-norm `t` (see the [module docs](self)), and returns them (`None` for
/// atoms that are certainly false: no rule, no choice, no evidence).
/// `inputs` gives each choice's input rows, as [`choice_inputs`] numbers
/// them; `evidence` fixes atoms to 1 (`true`) or 0 (`false`).
///
/// On an error the builder keeps the nodes added so far.
pub fn program_values(
    b: &mut ExprBuilder,
    program: &GroundProgram,
    t: TNorm,
    inputs: &[Vec<u32>],
    evidence: &[(AtomId, bool)],
    limits: FuzzyLimits,
) -> Result<Vec<Option<ExprId>>, FormulaError> {
    let mut fuzzy = Fuzzy::new(b, program, t, inputs, evidence, limits)?;
    for atom in (0..program.num_atoms()).map(AtomId::from_index) {
        fuzzy.build(atom)?;
    }
    Ok(fuzzy.values)
}

/// The state of one [`program_values`] call.
struct Fuzzy<'a> {
    b: &'a mut ExprBuilder,
    program: &'a GroundProgram,
    t: TNorm,
    max_nodes: usize,
    /// Atoms in the component being built, for the size error.
    component_atoms: usize,
    observed: Vec<Option<bool>>,
    /// The max of each atom's choice inputs.
    chosen: Vec<Option<ExprId>>,
    /// Rules of atom `a` (none for an observed atom):
    /// `rules_of[rule_start[a]..rule_start[a + 1]]`.
    rule_start: Vec<u32>,
    rules_of: Vec<u32>,
    /// Each atom's value once its component is built.
    values: Vec<Option<ExprId>>,
    /// The components of the dependency graph, found as they are built.
    tarjan: Tarjan,
    /// Reused lists of a value's candidates and of a body's conjuncts.
    candidates: Vec<ExprId>,
    conjuncts: Vec<ExprId>,
}

impl<'a> Fuzzy<'a> {
    fn new(
        b: &'a mut ExprBuilder,
        program: &'a GroundProgram,
        t: TNorm,
        inputs: &[Vec<u32>],
        evidence: &[(AtomId, bool)],
        limits: FuzzyLimits,
    ) -> Result<Self, FormulaError> {
        let n = program.num_atoms();
        let in_range = |atom: AtomId| {
            if atom.index() < program.num_atoms() {
                Ok(atom.index())
            } else {
                Err(FormulaError::UnknownAtom { atom, num_atoms: program.num_atoms() })
            }
        };
        if inputs.len() != program.choices.len() {
            return Err(FormulaError::ChoiceCount { got: inputs.len(), choices: program.choices.len() });
        }
        let mut observed = vec![None; n];
        for &(atom, value) in evidence {
            observed[in_range(atom)?] = Some(value);
        }
        let mut rule_start = vec![0u32; n + 1];
        for rule in &program.rules {
            let head = in_range(rule.head)?;
            for &(atom, _) in &rule.body {
                in_range(atom)?;
            }
            if observed[head].is_none() {
                rule_start[head + 1] += 1;
            }
        }
        for a in 0..n {
            rule_start[a + 1] += rule_start[a];
        }
        let mut fill = rule_start.clone();
        let mut rules_of = vec![0u32; rule_start[n] as usize];
        for (r, rule) in program.rules.iter().enumerate() {
            let head = rule.head.index();
            if observed[head].is_none() {
                rules_of[fill[head] as usize] = r as u32;
                fill[head] += 1;
            }
        }
        let mut fuzzy = Fuzzy {
            b,
            program,
            t,
            max_nodes: limits.max_nodes,
            component_atoms: 1,
            observed,
            chosen: vec![None; n],
            rule_start,
            rules_of,
            values: vec![None; n],
            tarjan: Tarjan::new(n),
            candidates: Vec::new(),
            conjuncts: Vec::new(),
        };
        for (choice, (c, rows)) in program.choices.iter().zip(inputs).enumerate() {
            let alternatives = match c {
                Choice::Fact { .. } => 1,
                Choice::Disjunction { atoms } => atoms.len(),
            };
            if rows.len() != alternatives {
                return Err(FormulaError::ChoiceInputs { choice, expected: alternatives, got: rows.len() });
            }
            match c {
                Choice::Fact { atom, .. } => fuzzy.choose(*atom, rows[0])?,
                Choice::Disjunction { atoms } => {
                    for (&(atom, _), &row) in atoms.iter().zip(rows) {
                        fuzzy.choose(atom, row)?;
                    }
                }
            }
        }
        Ok(fuzzy)
    }

    /// Adds input `row` to the choices of `atom`.
    fn choose(&mut self, atom: AtomId, row: u32) -> Result<(), FormulaError> {
        let a = atom.index();
        if a >= self.chosen.len() {
            return Err(FormulaError::UnknownAtom { atom, num_atoms: self.program.num_atoms() });
        }
        if self.observed[a].is_some() {
            return Ok(());
        }
        let x = self.add(Op::Input(row), &[])?;
        self.chosen[a] = Some(match self.chosen[a] {
            Some(before) => self.add(Op::Max, &[before, x])?,
            None => x,
        });
        Ok(())
    }

    /// `b.add`, held to the node limit.
    fn add(&mut self, op: Op, children: &[ExprId]) -> Result<ExprId, FormulaError> {
        let id = self.b.add(op, children)?;
        if self.b.len() > self.max_nodes {
            return Err(FormulaError::TooLarge {
                atoms: self.component_atoms,
                nodes: self.b.len(),
                max_nodes: self.max_nodes,
            });
        }
        Ok(id)
    }

    fn rule_range(&self, atom: AtomId) -> std::ops::Range<usize> {
        self.rule_start[atom.index()] as usize..self.rule_start[atom.index() + 1] as usize
    }

    /// Builds the component of `atom` and every component it depends on.
    fn build(&mut self, atom: AtomId) -> Result<(), FormulaError> {
        if self.tarjan.visited(atom) {
            return Ok(());
        }
        self.tarjan.start(atom);
        loop {
            let (program, rule_start, rules_of) = (self.program, &self.rule_start, &self.rules_of);
            let body = |v: AtomId, k: usize| {
                let r = rule_start[v.index()] as usize + k;
                (r < rule_start[v.index() + 1] as usize).then(|| program.rules[rules_of[r] as usize].body.as_slice())
            };
            let Some(members) = self.tarjan.next_component(body, |_| false) else { break };
            self.build_component(&members)?;
        }
        Ok(())
    }

    /// Builds the values of one component, whose dependencies outside it
    /// are all built.
    fn build_component(&mut self, members: &[AtomId]) -> Result<(), FormulaError> {
        let id = self.tarjan.component[members[0].index()];
        let program = self.program;
        self.component_atoms = members.len();
        let mut cyclic = members.len() > 1;
        for &a in members {
            for r in self.rule_range(a) {
                for &(b, positive) in &program.rules[self.rules_of[r] as usize].body {
                    if self.tarjan.component[b.index()] == id {
                        if !positive {
                            return Err(FormulaError::NotStratified { atom: a, negated: b });
                        }
                        cyclic = true;
                    }
                }
            }
        }
        if !cyclic {
            let a = members[0];
            self.values[a.index()] = self.value(a, &[])?;
            return Ok(());
        }
        let mut current = Vec::with_capacity(members.len());
        for &a in members {
            let start = match self.chosen[a.index()] {
                Some(x) => x,
                None => self.add(Op::Const(0.0), &[])?,
            };
            current.push(start);
        }
        let mut next = Vec::with_capacity(members.len());
        for _ in 0..members.len() {
            next.clear();
            for &a in members {
                // A member of a cycle has a rule, so it always gets a node.
                let v = self.value(a, &current)?.expect("a cyclic component's atoms have rules");
                next.push(v);
            }
            if next == current {
                break;
            }
            std::mem::swap(&mut current, &mut next);
        }
        for (&a, &v) in members.iter().zip(&current) {
            self.values[a.index()] = Some(v);
        }
        Ok(())
    }

    /// The node of `atom`'s value from its choice and rules, reading members
    /// of its own component from `round` (by position) and other atoms from
    /// their final values.
    fn value(&mut self, atom: AtomId, round: &[ExprId]) -> Result<Option<ExprId>, FormulaError> {
        if let Some(v) = self.observed[atom.index()] {
            return self.add(Op::Const(if v { 1.0 } else { 0.0 }), &[]).map(Some);
        }
        let mut candidates = std::mem::take(&mut self.candidates);
        let mut conjuncts = std::mem::take(&mut self.conjuncts);
        let value = self.derive(atom, round, &mut candidates, &mut conjuncts);
        self.candidates = candidates;
        self.conjuncts = conjuncts;
        value
    }

    /// [`value`](Self::value) of an unobserved atom, with `candidates` and
    /// `conjuncts` as room for its lists.
    fn derive(
        &mut self,
        atom: AtomId,
        round: &[ExprId],
        candidates: &mut Vec<ExprId>,
        conjuncts: &mut Vec<ExprId>,
    ) -> Result<Option<ExprId>, FormulaError> {
        let program = self.program;
        let own = self.tarjan.component[atom.index()];
        candidates.clear();
        candidates.extend(self.chosen[atom.index()]);
        let rules = self.rule_range(atom);
        let has_rules = !rules.is_empty();
        'rules: for r in rules {
            conjuncts.clear();
            for &(b, positive) in &program.rules[self.rules_of[r] as usize].body {
                let bi = b.index();
                let value = if self.tarjan.component[bi] == own {
                    Some(round[self.tarjan.position[bi] as usize])
                } else {
                    self.values[bi]
                };
                match (value, positive) {
                    (None, true) => continue 'rules,
                    (None, false) => {}
                    (Some(x), true) => conjuncts.push(x),
                    (Some(x), false) => conjuncts.push(self.add(Op::Not, &[x])?),
                }
            }
            let body = match conjuncts[..] {
                [] => self.add(Op::Const(1.0), &[])?,
                [x] => x,
                _ => self.add(Op::And(self.t), conjuncts)?,
            };
            candidates.push(body);
        }
        Ok(match candidates[..] {
            [] if has_rules => Some(self.add(Op::Const(0.0), &[])?),
            [] => None,
            [x] => Some(x),
            _ => Some(self.add(Op::Max, candidates)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::ExprEvaluator;
    use crate::testing::Rng;
    use deeplog_program::Rule;

    fn rule(head: u32, body: &[(u32, bool)]) -> Rule {
        Rule { head: AtomId::new(head), body: body.iter().map(|&(a, v)| (AtomId::new(a), v)).collect() }
    }

    fn fact(atom: u32, probability: f64) -> Choice {
        Choice::Fact { atom: AtomId::new(atom), probability }
    }

    /// Every atom's fuzzy value, with the choices' input rows set to their
    /// annotated probabilities.
    fn values(
        program: &GroundProgram,
        t: TNorm,
        evidence: &[(AtomId, bool)],
    ) -> Result<Vec<Option<f64>>, FormulaError> {
        let rows = choice_inputs(program);
        let inputs: Vec<f64> = program
            .choices
            .iter()
            .flat_map(|c| match c {
                Choice::Fact { probability, .. } => vec![*probability],
                Choice::Disjunction { atoms } => atoms.iter().map(|&(_, p)| p).collect(),
            })
            .collect();
        let mut b = ExprBuilder::new(inputs.len() as u32);
        let nodes = program_values(&mut b, program, t, &rows, evidence, FuzzyLimits::default())?;
        let expr = b.finish(nodes.iter().flatten().copied().collect());
        let mut roots = ExprEvaluator::new(&expr, None)?.forward(&inputs, 1)?.into_iter();
        Ok(nodes.iter().map(|n| n.map(|_| roots.next().expect("one root per atom with a node"))).collect())
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    /// `a :- b.  b :- a.  a :- c.  0.3::c.` with a, b, c = 0, 1, 2.
    fn cycle() -> GroundProgram {
        GroundProgram::propositional(
            3,
            vec![rule(0, &[(1, true)]), rule(1, &[(0, true)]), rule(0, &[(2, true)])],
            vec![fact(2, 0.3)],
        )
    }

    #[test]
    fn a_cycle_does_not_support_itself() {
        for t in TNorm::ALL {
            let v = values(&cycle(), t, &[]).unwrap();
            assert!(close(v[0], 0.3) && close(v[1], 0.3) && close(v[2], 0.3), "{t:?}: {v:?}");
        }
    }

    /// T over a derivation's edge probabilities.
    fn conjunction(t: TNorm, ps: &[f64]) -> f64 {
        match t {
            TNorm::Godel => ps.iter().copied().fold(1.0, f64::min),
            TNorm::Product => ps.iter().product(),
            TNorm::Lukasiewicz => (ps.iter().sum::<f64>() - (ps.len() as f64 - 1.0)).max(0.0),
        }
    }

    /// The best value of a path from `from` to `to` over walks that repeat no
    /// vertex (other walks are never better under a t-norm).
    fn best_path(t: TNorm, edges: &[(usize, usize, f64)], from: usize, to: usize, nodes: usize) -> f64 {
        fn walk(
            t: TNorm,
            edges: &[(usize, usize, f64)],
            at: usize,
            to: usize,
            visited: &mut [bool],
            ps: &mut Vec<f64>,
        ) -> f64 {
            let mut best: f64 = 0.0;
            for &(u, w, p) in edges {
                if u != at {
                    continue;
                }
                ps.push(p);
                if w == to {
                    best = best.max(conjunction(t, ps));
                } else if !visited[w] {
                    visited[w] = true;
                    best = best.max(walk(t, edges, w, to, visited, ps));
                    visited[w] = false;
                }
                ps.pop();
            }
            best
        }
        let mut visited = vec![false; nodes];
        visited[from] = true;
        walk(t, edges, from, to, &mut visited, &mut Vec::new())
    }

    #[test]
    fn paths_get_their_best_derivation() {
        // edge(U, V) is atom k, path(I, J) is atom E + I·N + J.
        // path(I, J) :- edge(I, J).   path(I, J) :- edge(I, K), path(K, J).
        let n = 5;
        let links = [(0, 1), (1, 2), (2, 0), (1, 3), (3, 4), (4, 1), (2, 4), (0, 3)];
        let e = links.len() as u32;
        let path = |i: usize, j: usize| e + (i * n + j) as u32;
        let mut rng = Rng(3);
        for _ in 0..5 {
            let edges: Vec<(usize, usize, f64)> = links.iter().map(|&(u, v)| (u, v, 0.5 + 0.5 * rng.unit())).collect();
            let mut rules = Vec::new();
            for (k, &(u, v, _)) in edges.iter().enumerate() {
                rules.push(rule(path(u, v), &[(k as u32, true)]));
                for j in 0..n {
                    rules.push(rule(path(u, j), &[(k as u32, true), (path(v, j), true)]));
                }
            }
            let choices = edges.iter().enumerate().map(|(k, &(_, _, p))| fact(k as u32, p)).collect();
            let program = GroundProgram::propositional(e + (n * n) as u32, rules, choices);
            for t in TNorm::ALL {
                let v = values(&program, t, &[]).unwrap();
                for i in 0..n {
                    for j in 0..n {
                        let expected = best_path(t, &edges, i, j, n);
                        let got = v[path(i, j) as usize];
                        assert!(close(got, expected), "{t:?} path({i}, {j}): {got:?}, expected {expected}");
                    }
                }
            }
        }
    }

    #[test]
    fn negation_is_one_minus_the_value() {
        // 0.7::x.  0.4::y.  z :- x, \+ y.  w :- \+ u.  v :- u, x.  (u has nothing)
        let (x, y, z, u, w, v) = (0, 1, 2, 3, 4, 5);
        let program = GroundProgram::propositional(
            6,
            vec![rule(z, &[(x, true), (y, false)]), rule(w, &[(u, false)]), rule(v, &[(u, true), (x, true)])],
            vec![fact(x, 0.7), fact(y, 0.4)],
        );
        for (t, expected) in TNorm::ALL.into_iter().zip([0.6, 0.42, 0.3]) {
            let values = values(&program, t, &[]).unwrap();
            assert!(close(values[z as usize], expected), "{t:?}: {values:?}");
            assert_eq!(values[u as usize], None);
            assert_eq!(values[w as usize], Some(1.0));
            assert_eq!(values[v as usize], Some(0.0));
        }
    }

    #[test]
    fn negation_through_a_cycle_is_refused() {
        let program = GroundProgram::propositional(2, vec![rule(0, &[(1, false)]), rule(1, &[(0, true)])], vec![]);
        let err = values(&program, TNorm::Product, &[]).unwrap_err();
        assert!(matches!(err, FormulaError::NotStratified { .. }), "{err}");
        let program = GroundProgram::propositional(1, vec![rule(0, &[(0, false)])], vec![]);
        assert_eq!(
            values(&program, TNorm::Godel, &[]),
            Err(FormulaError::NotStratified { atom: AtomId::new(0), negated: AtomId::new(0) })
        );
    }

    #[test]
    fn evidence_fixes_atoms() {
        for t in TNorm::ALL {
            let v = values(&cycle(), t, &[(AtomId::new(0), true)]).unwrap();
            assert_eq!((v[0], v[1]), (Some(1.0), Some(1.0)));
            let v = values(&cycle(), t, &[(AtomId::new(2), false)]).unwrap();
            assert_eq!((v[0], v[1], v[2]), (Some(0.0), Some(0.0), Some(0.0)));
            let v = values(&cycle(), t, &[(AtomId::new(1), false)]).unwrap();
            assert!(v[1] == Some(0.0) && close(v[0], 0.3));
            // Evidence on an atom with nothing behind it still gives it a value.
            let empty = GroundProgram::propositional(1, vec![], vec![]);
            assert_eq!(values(&empty, t, &[(AtomId::new(0), true)]).unwrap(), vec![Some(1.0)]);
        }
    }

    #[test]
    fn choices_are_input_rows() {
        // 0.1::a.  0.2::b; 0.3::c; 0.4::d.  0.5::a.  e :- c.
        let program = GroundProgram::propositional(
            5,
            vec![rule(4, &[(2, true)])],
            vec![
                fact(0, 0.1),
                Choice::Disjunction {
                    atoms: vec![(AtomId::new(1), 0.2), (AtomId::new(2), 0.3), (AtomId::new(3), 0.4)],
                },
                fact(0, 0.5),
            ],
        );
        assert_eq!(choice_inputs(&program), vec![vec![0], vec![1, 2, 3], vec![4]]);
        let v = values(&program, TNorm::Product, &[]).unwrap();
        let expected = [0.5, 0.2, 0.3, 0.4, 0.3];
        assert!(v.iter().zip(expected).all(|(&v, e)| close(v, e)), "{v:?}");

        let mut b = ExprBuilder::new(5);
        let limits = FuzzyLimits::default();
        let err = program_values(&mut b, &program, TNorm::Godel, &[vec![0]], &[], limits).unwrap_err();
        assert_eq!(err, FormulaError::ChoiceCount { got: 1, choices: 3 });
        let rows = [vec![0], vec![1, 2], vec![4]];
        let err = program_values(&mut b, &program, TNorm::Godel, &rows, &[], limits).unwrap_err();
        assert_eq!(err, FormulaError::ChoiceInputs { choice: 1, expected: 3, got: 2 });
        let rows = choice_inputs(&program);
        let err = program_values(&mut b, &program, TNorm::Godel, &rows, &[(AtomId::new(9), true)], limits).unwrap_err();
        assert_eq!(err, FormulaError::UnknownAtom { atom: AtomId::new(9), num_atoms: 5 });
    }

    #[test]
    fn large_components_stop_at_the_node_limit() {
        // a_i :- a_{i+1}, d around a ring of 50 atoms, a_0 :- c.  0.3::c.  0.9::d.
        let ring = 50u32;
        let (c, d) = (ring, ring + 1);
        let mut rules: Vec<Rule> = (0..ring).map(|i| rule(i, &[((i + 1) % ring, true), (d, true)])).collect();
        rules.push(rule(0, &[(c, true)]));
        let program = GroundProgram::propositional(ring + 2, rules, vec![fact(c, 0.3), fact(d, 0.9)]);
        let rows = choice_inputs(&program);
        let mut b = ExprBuilder::new(2);
        let limits = FuzzyLimits { max_nodes: 500 };
        let err = program_values(&mut b, &program, TNorm::Product, &rows, &[], limits).unwrap_err();
        assert!(matches!(err, FormulaError::TooLarge { atoms: 50, nodes: 501, max_nodes: 500 }), "{err:?}");
        assert!(err.to_string().contains("component of 50 atoms"), "{err}");

        // With room, a_i is reached from c around the ring: 0.3 · 0.9^(50 − i).
        let v = values(&program, TNorm::Product, &[]).unwrap();
        assert!(close(v[0], 0.3));
        for i in 1..ring {
            assert!(close(v[i as usize], 0.3 * 0.9f64.powi((ring - i) as i32)), "a_{i}: {:?}", v[i as usize]);
        }
    }
}
