//! Lineage rewritten by the laws of the boolean lattice before the BDD
//! compiler sees it (where [`Budget::rewrite_lineage`] says).
//!
//! The formulas the roots reach go into negation normal form (a negation
//! pushed down to the slots by De Morgan's laws, each formula at most once
//! per polarity, so the DAG at most doubles), become a circuit of sums (or)
//! and products (and) over literals, are saturated by
//! [`optimize`] under [`Rewrites::Lattice`] (boolean is a
//! distributive lattice: idempotence, absorption `a ∨ a∧b = a`, factoring
//! `a∧b ∨ a∧c = a∧(b ∨ c)`), and the extracted circuit comes back as new
//! formulas of the same lineage. The BDD of a rewritten root is the BDD of
//! the original (both denote the same boolean function; a reduced ordered
//! BDD is canonical): only the work of building it changes.
//!
//! [`Budget::rewrite_lineage`]: super::Budget::rewrite_lineage

use std::time::Instant;

use crate::circuit::{CircuitBuilder, Node, NodeId};
use crate::optimize::{self, Rewrites};

use super::lineage::{Formula, FormulaId, Lineage};
use super::{LineageRewrite, Stop};

/// The roots rewritten, or the same roots where the rewrite found nothing
/// cheaper, and what it did.
pub(crate) fn rewrite(
    lineage: &mut Lineage,
    roots: &[FormulaId],
    budget: &optimize::Budget,
) -> Result<(Vec<FormulaId>, LineageRewrite), Stop> {
    let start = Instant::now();
    let mut builder = CircuitBuilder::new(lineage.num_slots() as u32);
    let mut memo = vec![[u32::MAX; 2]; lineage.len()];
    let circuit_roots = roots.iter().map(|&r| to_nnf(lineage, &mut builder, &mut memo, r)).collect();
    let circuit = builder.finish(circuit_roots);
    let optimized = optimize::optimize(&circuit, Rewrites::Lattice, budget);
    let report = &optimized.report;
    let mut done = LineageRewrite {
        edges_before: report.edges_before,
        edges_after: report.edges_before,
        improved: report.improved,
        micros: 0,
    };
    let rewritten = if report.improved {
        done.edges_after = report.edges_after;
        from_circuit(lineage, &optimized.circuit)?
    } else {
        roots.to_vec()
    };
    done.micros = start.elapsed().as_micros() as u64;
    Ok((rewritten, done))
}

/// The circuit node of `root` in negation normal form, built bottom-up
/// without recursion; `memo[f][polarity]` caches each formula's nodes.
fn to_nnf(lineage: &Lineage, b: &mut CircuitBuilder, memo: &mut [[u32; 2]], root: FormulaId) -> NodeId {
    // (formula, positive?, children done?)
    let mut stack = vec![(root, true, false)];
    while let Some((f, positive, expanded)) = stack.pop() {
        let p = positive as usize;
        if memo[f.index()][p] != u32::MAX {
            continue;
        }
        let node = lineage.formula(f);
        if !expanded {
            stack.push((f, positive, true));
            match node {
                Formula::Not(c) => stack.push((*c, !positive, false)),
                Formula::And(cs) | Formula::Or(cs) => stack.extend(cs.iter().map(|&c| (c, positive, false))),
                _ => {}
            }
            continue;
        }
        let child = |memo: &[[u32; 2]], c: FormulaId, positive: bool| NodeId(memo[c.index()][positive as usize]);
        let id = match node {
            Formula::False => b.constant(!positive),
            Formula::True => b.constant(positive),
            Formula::Slot(s) => b.literal(*s, positive),
            Formula::Not(c) => child(memo, *c, !positive),
            // ¬(a ∧ b) = ¬a ∨ ¬b and ¬(a ∨ b) = ¬a ∧ ¬b.
            Formula::And(cs) | Formula::Or(cs) => {
                let children = cs.iter().map(|&c| child(memo, c, positive)).collect();
                if matches!(node, Formula::And(_)) == positive {
                    b.product(children)
                } else {
                    b.sum(children)
                }
            }
        };
        memo[f.index()][p] = id.0;
    }
    NodeId(memo[root.index()][true as usize])
}

/// The roots of `circuit` (nodes in topological order) as formulas of
/// `lineage`.
fn from_circuit(lineage: &mut Lineage, circuit: &crate::circuit::Circuit) -> Result<Vec<FormulaId>, Stop> {
    let mut formula = Vec::with_capacity(circuit.num_nodes());
    for node in circuit.nodes() {
        let f = match node {
            Node::False => super::lineage::FALSE,
            Node::True => super::lineage::TRUE,
            Node::Literal(l) => {
                let x = lineage.slot(l.slot);
                if l.positive {
                    x
                } else {
                    lineage.not(x)
                }
            }
            Node::Sum(cs) => lineage.or(cs.iter().map(|c| formula[c.index()]).collect())?,
            Node::Product(cs) => lineage.and(cs.iter().map(|c| formula[c.index()]).collect())?,
        };
        formula.push(f);
    }
    Ok(circuit.roots().iter().map(|r| formula[r.index()]).collect())
}
