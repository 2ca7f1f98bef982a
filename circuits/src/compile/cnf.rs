//! A ground program as a weighted CNF (what `deeplog ground --format cnf`
//! prints): the lineage of the queries and the evidence (cycles already
//! unrolled into least-model formulas, see [`super::lineage`]), Tseitin
//! encoded. Variables `1..=slots` are the slots, with their literal
//! weights; every other variable names one `And`/`Or` node of the lineage,
//! defined by clauses equivalent to it, so both its literals weigh 1 and
//! the weighted model count of the clauses with the evidence's unit
//! clauses is `P(evidence)` (1 without evidence).

use deeplog_program::{AtomId, GroundProgram};

use super::lineage::{Formula, FormulaId, Lineage};
use super::{Budget, CompileError, Limits, SlotWeight};

/// A weighted CNF of a ground program.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightedCnf {
    pub num_vars: usize,
    /// DIMACS clauses (literals `±var`).
    pub clauses: Vec<Vec<i64>>,
    /// Per slot (variable `s + 1`): its weight and the choice it encodes.
    pub slots: Vec<SlotWeight>,
    /// Per query: the literal equivalent to it (0 where it is false for
    /// certain has the literal of a variable fixed false).
    pub queries: Vec<i64>,
    /// Per evidence entry: the literal its unit clause asserts.
    pub evidence: Vec<i64>,
}

/// The weighted CNF of `program`'s `queries` and `evidence`.
pub fn weighted_cnf(
    program: &GroundProgram,
    queries: &[AtomId],
    evidence: &[(AtomId, bool)],
    budget: &Budget,
) -> Result<WeightedCnf, CompileError> {
    let limits = Limits::new(budget);
    let (lineage, query_formulas, evidence_formulas) = lineage_of(program, queries, evidence, &limits)?;
    let slots = lineage.num_slots();
    let mut encoder =
        Encoder { lineage: &lineage, var_of: vec![0; lineage.len()], num_vars: slots, clauses: Vec::new() };
    let queries = query_formulas.iter().map(|&f| encoder.literal(f)).collect();
    let evidence: Vec<i64> = evidence_formulas.iter().map(|&f| encoder.literal(f)).collect();
    for &e in &evidence {
        encoder.clauses.push(vec![e]);
    }
    let Encoder { num_vars, clauses, .. } = encoder;
    Ok(WeightedCnf { num_vars, clauses, slots: lineage.into_slots(), queries, evidence })
}

/// The lineage of `program` with the formulas of `queries` and of the
/// evidence (each entry's formula, negated where it is observed false).
fn lineage_of<'p>(
    program: &'p GroundProgram,
    queries: &[AtomId],
    evidence: &[(AtomId, bool)],
    limits: &'p Limits,
) -> Result<(Lineage<'p>, Vec<FormulaId>, Vec<FormulaId>), CompileError> {
    for &atom in queries.iter().chain(evidence.iter().map(|(a, _)| a)) {
        if atom.index() >= program.num_atoms() {
            return Err(CompileError::UnknownAtom { atom, num_atoms: program.num_atoms() });
        }
    }
    let mut lineage = Lineage::new(program, limits)?;
    let mut query_formulas = Vec::with_capacity(queries.len());
    for &q in queries {
        query_formulas.push(lineage.atom(q).map_err(|s| s.in_lineage(Some(q), limits))?);
    }
    let mut evidence_formulas = Vec::with_capacity(evidence.len());
    for &(atom, value) in evidence {
        let f = lineage.atom(atom).map_err(|s| s.in_lineage(None, limits))?;
        evidence_formulas.push(if value { f } else { lineage.not(f) });
    }
    Ok((lineage, query_formulas, evidence_formulas))
}

struct Encoder<'l, 'p> {
    lineage: &'l Lineage<'p>,
    /// The variable of each encoded node (0: not yet).
    var_of: Vec<i64>,
    num_vars: usize,
    clauses: Vec<Vec<i64>>,
}

impl Encoder<'_, '_> {
    fn fresh(&mut self) -> i64 {
        self.num_vars += 1;
        self.num_vars as i64
    }

    /// The literal equivalent to formula `f`, defining the variables of its
    /// nodes on the way (children first, without recursion).
    fn literal(&mut self, f: FormulaId) -> i64 {
        let mut stack = vec![(f, false)];
        while let Some((id, expanded)) = stack.pop() {
            if self.var_of[id.index()] != 0 {
                continue;
            }
            match self.lineage.formula(id) {
                Formula::Slot(s) => self.var_of[id.index()] = s.0 as i64 + 1,
                Formula::True | Formula::False => {
                    let v = self.fresh();
                    let value = matches!(self.lineage.formula(id), Formula::True);
                    self.clauses.push(vec![if value { v } else { -v }]);
                    self.var_of[id.index()] = v;
                }
                Formula::Not(c) => {
                    let c = *c;
                    if expanded {
                        // A negation is its child's literal negated: it
                        // records the child's variable, negated.
                        self.var_of[id.index()] = -self.var_of[c.index()];
                    } else {
                        stack.push((id, true));
                        stack.push((c, false));
                    }
                }
                Formula::And(cs) | Formula::Or(cs) => {
                    if expanded {
                        let lits: Vec<i64> = cs.iter().map(|c| self.var_of[c.index()]).collect();
                        let is_and = matches!(self.lineage.formula(id), Formula::And(_));
                        let v = self.fresh();
                        if is_and {
                            // v ↔ ∧ lits
                            for &l in &lits {
                                self.clauses.push(vec![-v, l]);
                            }
                            let mut c: Vec<i64> = lits.iter().map(|&l| -l).collect();
                            c.push(v);
                            self.clauses.push(c);
                        } else {
                            // v ↔ ∨ lits
                            for &l in &lits {
                                self.clauses.push(vec![v, -l]);
                            }
                            let mut c = lits.clone();
                            c.push(-v);
                            self.clauses.push(c);
                        }
                        self.var_of[id.index()] = v;
                    } else {
                        stack.push((id, true));
                        let children: Vec<FormulaId> = cs.to_vec();
                        stack.extend(children.into_iter().map(|c| (c, false)));
                    }
                }
            }
        }
        self.var_of[f.index()]
    }
}

impl WeightedCnf {
    /// DIMACS text with the model-counting competition's weight lines
    /// (`c p weight LIT W 0`, what `deeplog compile --cnf` reads), and
    /// comments naming each slot, query and evidence literal (`names`: the
    /// slot's choice and alternative to its text; `query_names`,
    /// `evidence_names` in their order).
    pub fn to_dimacs(
        &self,
        slot_name: impl Fn(&SlotWeight) -> String,
        query_names: &[String],
        evidence_names: &[String],
    ) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "c the lineage of the queries and evidence, Tseitin encoded: variables 1..{} are",
            self.slots.len()
        );
        let _ = writeln!(out, "c the probabilistic choices (weights below), the rest are defined by their clauses");
        let _ = writeln!(out, "c (weight 1 either way); the weighted model count is P(evidence)");
        let _ = writeln!(out, "p cnf {} {}", self.num_vars, self.clauses.len());
        for (s, w) in self.slots.iter().enumerate() {
            let v = s + 1;
            let _ = writeln!(out, "c p weight {v} {} 0", w.probability);
            let _ = writeln!(out, "c p weight -{v} {} 0", 1.0 - w.probability);
            let _ = writeln!(out, "c slot {v} {}", slot_name(w));
        }
        for (name, lit) in query_names.iter().zip(&self.queries) {
            let _ = writeln!(out, "c query {lit} {name}");
        }
        for (name, lit) in evidence_names.iter().zip(&self.evidence) {
            let _ = writeln!(out, "c evidence {lit} {name}");
        }
        for clause in &self.clauses {
            for l in clause {
                let _ = write!(out, "{l} ");
            }
            out.push_str("0\n");
        }
        out
    }
}

/// A node of a [`LineageDag`]: children come first.
#[derive(Clone, Debug, PartialEq)]
pub enum LineageNode {
    False,
    True,
    Slot(u32),
    Not(u32),
    And(Vec<u32>),
    Or(Vec<u32>),
}

/// The lineage of a program's queries and evidence as a plain DAG over
/// its slots, built from the program without knowledge compilation: what a
/// sampler evaluates per world.
#[derive(Clone, Debug, PartialEq)]
pub struct LineageDag {
    pub nodes: Vec<LineageNode>,
    pub slots: Vec<SlotWeight>,
    /// Per query: its node.
    pub queries: Vec<u32>,
    /// Per evidence entry: the node that holds when it holds.
    pub evidence: Vec<u32>,
}

/// The lineage DAG of `program`'s `queries` and `evidence`.
pub fn lineage_dag(
    program: &GroundProgram,
    queries: &[AtomId],
    evidence: &[(AtomId, bool)],
    budget: &Budget,
) -> Result<LineageDag, CompileError> {
    let limits = Limits::new(budget);
    let (lineage, query_formulas, evidence_formulas) = lineage_of(program, queries, evidence, &limits)?;
    let nodes = (0..lineage.len())
        .map(|i| match lineage.formula(FormulaId(i as u32)) {
            Formula::False => LineageNode::False,
            Formula::True => LineageNode::True,
            Formula::Slot(s) => LineageNode::Slot(s.0),
            Formula::Not(c) => LineageNode::Not(c.0),
            Formula::And(cs) => LineageNode::And(cs.iter().map(|c| c.0).collect()),
            Formula::Or(cs) => LineageNode::Or(cs.iter().map(|c| c.0).collect()),
        })
        .collect();
    Ok(LineageDag {
        nodes,
        slots: lineage.into_slots(),
        queries: query_formulas.iter().map(|f| f.0).collect(),
        evidence: evidence_formulas.iter().map(|f| f.0).collect(),
    })
}
