//! Structural properties of circuits, their checkers, and smoothing.
//!
//! * **Decomposable**: the children of every product mention disjoint sets
//!   of slots. Checked exactly.
//! * **Deterministic**: the children of every sum are mutually exclusive.
//!   Deciding it is coNP-hard in general; the checker proves it where it is
//!   cheap (every pair of children implies opposite literals of some slot, as
//!   in decision nodes) and otherwise leaves it unknown, unless the maker of
//!   the circuit declared it (SDDs and compiled d-DNNFs are deterministic by
//!   construction).
//! * **Smooth**: the children of every sum mention the same slots. Checked
//!   exactly; [`smooth`] makes any circuit smooth.
//!
//! Evaluators refuse an algebra whose [`Requirements`] the circuit does not
//! meet: a wrong probability is worse than an error.

use std::fmt;

use deeplog_semirings::Requirements;

use crate::circuit::{Circuit, CircuitBuilder, Literal, Node, NodeId, SlotId};

/// Why a property is known to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// The checker verified it on this circuit.
    Checked,
    /// It holds by how the circuit was made (the reason is given).
    ByConstruction(&'static str),
}

/// What is known about one property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knowledge {
    Holds(Evidence),
    /// Fails at this node.
    Fails(NodeId),
    /// Not decided (possible only for determinism).
    Unknown,
}

impl Knowledge {
    pub fn holds(self) -> bool {
        matches!(self, Knowledge::Holds(_))
    }
}

impl fmt::Display for Knowledge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Knowledge::Holds(Evidence::Checked) => f.write_str("yes (checked)"),
            Knowledge::Holds(Evidence::ByConstruction(why)) => write!(f, "yes ({why})"),
            Knowledge::Fails(n) => write!(f, "no (at node {n})"),
            Knowledge::Unknown => f.write_str("unknown"),
        }
    }
}

/// The three properties of a circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Properties {
    pub decomposable: Knowledge,
    pub deterministic: Knowledge,
    pub smooth: Knowledge,
}

/// A property an algebra needs and the circuit does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmet {
    pub property: &'static str,
    pub knowledge: Knowledge,
}

impl Properties {
    /// The first requirement the circuit does not meet, if any.
    pub fn unmet(&self, needs: Requirements) -> Option<Unmet> {
        let checks = [
            (needs.decomposable, "decomposable", self.decomposable),
            (needs.deterministic, "deterministic", self.deterministic),
            (needs.smooth, "smooth", self.smooth),
        ];
        checks
            .into_iter()
            .find(|(needed, _, k)| *needed && !k.holds())
            .map(|(_, property, knowledge)| Unmet { property, knowledge })
    }
}

/// Sorted, deduplicated slots a node mentions.
fn slot_sets(circuit: &Circuit) -> Vec<Vec<u32>> {
    let mut sets: Vec<Vec<u32>> = Vec::with_capacity(circuit.num_nodes());
    for node in circuit.nodes() {
        let set = match node {
            Node::False | Node::True => Vec::new(),
            Node::Literal(l) => vec![l.slot.0],
            Node::Sum(cs) | Node::Product(cs) => {
                let mut s: Vec<u32> = cs.iter().flat_map(|c| sets[c.index()].iter().copied()).collect();
                s.sort_unstable();
                s.dedup();
                s
            }
        };
        sets.push(set);
    }
    sets
}

/// Checks all three properties (determinism only where cheap).
pub fn check(circuit: &Circuit) -> Properties {
    if let Some(inherited) = circuit.inherited {
        return inherited;
    }
    if let Some(decomposable) = circuit.declared_decomposable() {
        let deterministic = circuit.declared_deterministic().unwrap_or_else(|| check_determinism(circuit));
        return Properties { decomposable, deterministic, smooth: fingerprint_smoothness(circuit) };
    }
    let sets = slot_sets(circuit);
    let mut decomposable = Knowledge::Holds(Evidence::Checked);
    let mut smooth = Knowledge::Holds(Evidence::Checked);
    for (i, node) in circuit.nodes().iter().enumerate() {
        let id = NodeId(i as u32);
        match node {
            Node::Product(cs) if decomposable.holds() => {
                let total: usize = cs.iter().map(|c| sets[c.index()].len()).sum();
                if total != sets[i].len() {
                    decomposable = Knowledge::Fails(id);
                }
            }
            Node::Sum(cs) if smooth.holds() && cs.iter().any(|c| sets[c.index()].len() != sets[i].len()) => {
                smooth = Knowledge::Fails(id);
            }
            _ => {}
        }
    }
    let deterministic = circuit.declared_deterministic().unwrap_or_else(|| check_determinism(circuit));
    Properties { decomposable, deterministic, smooth }
}

/// Smoothness of a circuit known to be decomposable, in linear time: each
/// node's slot set is summarised by its size and the wrapping sum of a
/// random 64-bit code per slot — exact for a product's disjoint children,
/// and for a sum whose children agree (as long as every sum so far was
/// smooth, each child's summary is its set's). Two different sets of one
/// size with equal sums are a 2⁻⁶⁴ accident.
fn fingerprint_smoothness(circuit: &Circuit) -> Knowledge {
    let code = |slot: u32| {
        let mut z = (u64::from(slot) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut summary: Vec<(usize, u64)> = Vec::with_capacity(circuit.num_nodes());
    for (i, node) in circuit.nodes().iter().enumerate() {
        let s = match node {
            Node::False | Node::True => (0, 0),
            Node::Literal(l) => (1, code(l.slot.0)),
            Node::Product(cs) => {
                cs.iter().fold((0, 0u64), |(n, h), c| (n + summary[c.index()].0, h.wrapping_add(summary[c.index()].1)))
            }
            Node::Sum(cs) => {
                let first = summary[cs[0].index()];
                if cs.iter().any(|c| summary[c.index()] != first) {
                    return Knowledge::Fails(NodeId(i as u32));
                }
                first
            }
        };
        summary.push(s);
    }
    Knowledge::Holds(Evidence::Checked)
}

/// Most literals remembered per node when proving determinism; a cap keeps
/// the check linear (a subset of the implied literals is still sound).
const IMPLIED_CAP: usize = 32;
/// Sums with more children than this are not checked pairwise.
const PAIRWISE_CAP: usize = 16;

/// Proves determinism where every pair of a sum's children implies opposite
/// literals. Returns `Unknown` (never `Fails`) where no such proof exists,
/// except for the plain `x ⊕ x`, which is certainly not deterministic.
fn check_determinism(circuit: &Circuit) -> Knowledge {
    // Literals each node implies, as signed codes, sorted.
    let mut implied: Vec<Vec<i64>> = Vec::with_capacity(circuit.num_nodes());
    let mut verdict = Knowledge::Holds(Evidence::Checked);
    for (i, node) in circuit.nodes().iter().enumerate() {
        let set = match node {
            Node::False | Node::True => Vec::new(),
            Node::Literal(l) => vec![l.dimacs()],
            Node::Product(cs) => {
                let mut s: Vec<i64> = cs.iter().flat_map(|c| implied[c.index()].iter().copied()).collect();
                s.sort_unstable();
                s.dedup();
                s.truncate(IMPLIED_CAP);
                s
            }
            Node::Sum(cs) => {
                if verdict.holds() {
                    if cs.windows(2).any(|w| w[0] == w[1]) {
                        verdict = Knowledge::Fails(NodeId(i as u32));
                    } else if cs.len() > PAIRWISE_CAP || !pairwise_exclusive(cs, &implied) {
                        verdict = Knowledge::Unknown;
                    }
                }
                let mut s = implied[cs[0].index()].clone();
                for c in &cs[1..] {
                    s.retain(|l| implied[c.index()].binary_search(l).is_ok());
                }
                s
            }
        };
        implied.push(set);
    }
    verdict
}

fn pairwise_exclusive(children: &[NodeId], implied: &[Vec<i64>]) -> bool {
    children.iter().enumerate().all(|(i, a)| {
        children[i + 1..].iter().all(|b| {
            let (sa, sb) = (&implied[a.index()], &implied[b.index()]);
            sa.iter().any(|l| sb.binary_search(&-l).is_ok())
        })
    })
}

/// A smooth copy of `circuit`: every child of a sum that misses slots of its
/// siblings is multiplied by `(x ∨ ¬x)` for each missing `x`. With
/// `all_slots`, every root is also completed to mention every slot, so that
/// counting and max-product range over all variables. Decomposability and
/// determinism are preserved.
pub fn smooth(circuit: &Circuit, all_slots: bool) -> Circuit {
    let sets = slot_sets(circuit);
    let mut b = CircuitBuilder::new(circuit.num_slots());
    let mut map: Vec<NodeId> = Vec::with_capacity(circuit.num_nodes());
    let mut tautologies: Vec<Option<NodeId>> = vec![None; circuit.num_slots() as usize];
    let mut tautology = |b: &mut CircuitBuilder, slot: u32| {
        *tautologies[slot as usize].get_or_insert_with(|| {
            let pos = b.literal(SlotId(slot), true);
            let neg = b.literal(SlotId(slot), false);
            b.sum(vec![pos, neg])
        })
    };
    let mut pad = |b: &mut CircuitBuilder, node: NodeId, have: &[u32], want: &[u32]| {
        let mut factors = vec![node];
        for &s in want {
            if have.binary_search(&s).is_err() {
                factors.push(tautology(b, s));
            }
        }
        b.product(factors)
    };
    for (i, node) in circuit.nodes().iter().enumerate() {
        let new = match node {
            Node::False => b.constant(false),
            Node::True => b.constant(true),
            Node::Literal(Literal { slot, positive }) => b.literal(*slot, *positive),
            Node::Product(cs) => b.product(cs.iter().map(|c| map[c.index()]).collect()),
            Node::Sum(cs) => {
                let children = cs.iter().map(|c| pad(&mut b, map[c.index()], &sets[c.index()], &sets[i])).collect();
                b.sum(children)
            }
        };
        map.push(new);
    }
    let every: Vec<u32> = (0..circuit.num_slots()).collect();
    let roots = circuit
        .roots()
        .iter()
        .map(|r| if all_slots { pad(&mut b, map[r.index()], &sets[r.index()], &every) } else { map[r.index()] })
        .collect();
    let mut out = b.finish(roots);
    out.declared_deterministic = circuit.declared_deterministic;
    out.declared_decomposable = circuit.declared_decomposable;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(b: &mut CircuitBuilder, slot: u32, hi: NodeId, lo: NodeId) -> NodeId {
        let (x, nx) = (b.literal(SlotId(slot), true), b.literal(SlotId(slot), false));
        let h = b.product(vec![x, hi]);
        let l = b.product(vec![nx, lo]);
        b.sum(vec![h, l])
    }

    #[test]
    fn decision_nodes_are_proved_deterministic() {
        let mut b = CircuitBuilder::new(2);
        let y = b.literal(SlotId(1), true);
        let t = b.constant(true);
        let root = decision(&mut b, 0, y, t);
        let c = b.finish(vec![root]);
        let p = check(&c);
        assert_eq!(p.decomposable, Knowledge::Holds(Evidence::Checked));
        assert_eq!(p.deterministic, Knowledge::Holds(Evidence::Checked));
        assert!(matches!(p.smooth, Knowledge::Fails(_)));
        let s = smooth(&c, false);
        assert_eq!(check(&s).smooth, Knowledge::Holds(Evidence::Checked));
        assert_eq!(check(&s).deterministic, Knowledge::Holds(Evidence::Checked));
    }

    #[test]
    fn shared_variables_break_decomposability_and_overlap_is_unknown() {
        let mut b = CircuitBuilder::new(2);
        let x = b.literal(SlotId(0), true);
        let y = b.literal(SlotId(1), true);
        let nx = b.literal(SlotId(0), false);
        let p = b.product(vec![x, y]);
        let bad = b.product(vec![p, nx]);
        let or = b.sum(vec![x, y]);
        let c = b.finish(vec![bad, or]);
        let props = check(&c);
        assert_eq!(props.decomposable, Knowledge::Fails(bad));
        assert_eq!(props.deterministic, Knowledge::Unknown);
        let needs = Requirements { decomposable: true, deterministic: true, smooth: false };
        assert_eq!(props.unmet(needs).unwrap().property, "decomposable");
    }
}
