//! The heaviest way through a circuit: max-product with an argmax trace.
//!
//! For a deterministic, decomposable circuit compiled from a positive
//! program, give each slot's positive literal its probability and each
//! negative literal weight 1 (a fact that is not used costs nothing): the
//! max-product value of a root is then the probability of its most probable
//! *proof* (a set of facts whose truth alone makes the query true), and the
//! trace collects those facts. Sums take their heaviest child, products all
//! of their children; literals left out of a branch weigh 1, so the circuit
//! need not be smooth.

use crate::circuit::{Circuit, Literal, Node, NodeId};

/// The heaviest root-to-leaves selection under `root` (log weights
/// `log_weight(literal)`): its log weight and its literals, in circuit
/// order. `None` when the root is false.
pub fn heaviest(circuit: &Circuit, root: NodeId, log_weight: impl Fn(Literal) -> f64) -> Option<(f64, Vec<Literal>)> {
    let nodes = circuit.nodes();
    // Children come before parents: one pass in index order, up to the root.
    let end = root.index() + 1;
    let mut value = vec![f64::NEG_INFINITY; end];
    let mut choice = vec![u32::MAX; end];
    for (i, node) in nodes[..end].iter().enumerate() {
        value[i] = match node {
            Node::False => f64::NEG_INFINITY,
            Node::True => 0.0,
            Node::Literal(l) => log_weight(*l),
            Node::Product(cs) => cs.iter().map(|c| value[c.index()]).sum(),
            Node::Sum(cs) => {
                let (best, v) = cs
                    .iter()
                    .map(|c| (c, value[c.index()]))
                    .fold((None, f64::NEG_INFINITY), |acc, (c, v)| if v > acc.1 { (Some(c), v) } else { acc });
                if let Some(c) = best {
                    choice[i] = c.0;
                }
                v
            }
        };
    }
    if value[root.index()] == f64::NEG_INFINITY {
        return None;
    }
    let mut literals = Vec::new();
    let mut seen = vec![false; end];
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut seen[n.index()], true) {
            continue;
        }
        match &nodes[n.index()] {
            Node::Literal(l) => literals.push(*l),
            Node::Product(cs) => stack.extend(cs.iter().copied()),
            Node::Sum(_) => stack.push(NodeId(choice[n.index()])),
            Node::False | Node::True => {}
        }
    }
    literals.sort_by_key(|l| (l.slot, l.positive));
    Some((value[root.index()], literals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::{CircuitBuilder, SlotId};

    #[test]
    fn the_most_probable_proof_of_a_disjunction_of_conjunctions() {
        // q = (a ∧ b) ∨ c as a decision diagram: a ? (b ? 1 : c) : c.
        let mut b = CircuitBuilder::new(3);
        let lit = |b: &mut CircuitBuilder, s: u32, p: bool| b.literal(SlotId(s), p);
        let (a, na) = (lit(&mut b, 0, true), lit(&mut b, 0, false));
        let (x, nx) = (lit(&mut b, 1, true), lit(&mut b, 1, false));
        let c = lit(&mut b, 2, true);
        let not_b_c = b.product(vec![nx, c]);
        let inner = b.sum(vec![x, not_b_c]);
        let hi = b.product(vec![a, inner]);
        let lo = b.product(vec![na, c]);
        let q = b.sum(vec![hi, lo]);
        let circuit = b.finish(vec![q]);
        let p = [0.9, 0.8, 0.5];
        let weight = |l: Literal| if l.positive { f64::ln(p[l.slot.0 as usize]) } else { 0.0 };
        let (w, lits) = heaviest(&circuit, q, weight).unwrap();
        // a ∧ b: 0.72 beats c: 0.5.
        assert!((w.exp() - 0.72).abs() < 1e-12, "{}", w.exp());
        let positive: Vec<u32> = lits.iter().filter(|l| l.positive).map(|l| l.slot.0).collect();
        assert_eq!(positive, vec![0, 1]);
        let p = [0.9, 0.5, 0.6];
        let weight = |l: Literal| if l.positive { f64::ln(p[l.slot.0 as usize]) } else { 0.0 };
        let (w, lits) = heaviest(&circuit, q, weight).unwrap();
        assert!((w.exp() - 0.6).abs() < 1e-12);
        assert_eq!(lits.iter().filter(|l| l.positive).map(|l| l.slot.0).collect::<Vec<_>>(), vec![2]);
    }
}
