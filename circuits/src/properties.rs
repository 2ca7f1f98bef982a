//! Structural properties of circuits, their checkers, and smoothing.
//!
//! * **Decomposable**: the children of every product mention disjoint sets
//!   of slots. Checked exactly, in memory that follows the circuit rather
//!   than its depth times its size (see `SlotSets`).
//! * **Deterministic**: the children of every sum are mutually exclusive.
//!   Deciding it is coNP-hard in general; the checker proves it where it is
//!   cheap (every pair of children implies opposite literals of some slot, as
//!   in decision nodes) and otherwise leaves it unknown, unless the maker of
//!   the circuit declared it (SDDs and compiled d-DNNFs are deterministic by
//!   construction). [`test_determinism`] evaluates every sum under all
//!   assignments of a small circuit (a proof either way) or many random
//!   ones (a refutation at best).
//! * **Smooth**: the children of every sum mention the same slots. Checked
//!   exactly; [`smooth`] makes any circuit smooth.
//!
//! Evaluators refuse an algebra whose [`Requirements`] the circuit does not
//! meet: a wrong probability is worse than an error.

use std::fmt;

use deeplog_semirings::Requirements;
use rustc_hash::{FxHashMap, FxHashSet};

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

/// The slots one node mentions.
type SlotSet = FxHashSet<u32>;

/// The slot sets of a circuit's nodes, computed children first and each
/// kept only until its last reader has read it. A node's set is built on
/// its largest child's, taken over outright when that child has no other
/// reader left, so a chain of `n` products holds one set of at most `n`
/// slots at a time instead of `n` sets of up to `n` (which took 5 GiB for a
/// chain of 50,000); merging the smaller children into the largest keeps
/// the work near-linear where children are not shared.
struct SlotSets {
    sets: Vec<Option<SlotSet>>,
    /// Readers still to come per node: parent edges, plus those the caller
    /// keeps (roots it reads at the end).
    readers: Vec<u32>,
}

/// The union of a node's children's slot sets.
struct Union {
    slots: SlotSet,
    /// Some slot is mentioned by two children (or a child is repeated).
    shared: bool,
    /// Every child mentions exactly the union.
    all_equal: bool,
    /// The child whose set the union was built on, and the slots the others
    /// added to it (the ones that child misses), where asked for.
    base: usize,
    added: Vec<u32>,
}

impl SlotSets {
    fn new(circuit: &Circuit, kept: &[NodeId]) -> Self {
        let mut readers = vec![0u32; circuit.num_nodes()];
        for c in circuit.nodes().iter().flat_map(Node::children).chain(kept) {
            readers[c.index()] += 1;
        }
        SlotSets { sets: Vec::with_capacity(circuit.num_nodes()), readers }
    }

    fn get(&self, node: NodeId) -> &SlotSet {
        // Sets are dropped only after their last reader.
        self.sets[node.index()].as_ref().expect("a slot set is read before its last reader is done")
    }

    /// The union of `children`'s sets; with `record_added`, the slots the
    /// other children add to the base child's. The children still count
    /// as readers until [`SlotSets::release`].
    fn union(&mut self, children: &[NodeId], record_added: bool) -> Union {
        let base = (0..children.len()).max_by_key(|&k| self.get(children[k]).len()).unwrap_or(0);
        let Some(&base_id) = children.get(base) else {
            return Union { slots: SlotSet::default(), shared: false, all_equal: true, base, added: Vec::new() };
        };
        let mut slots = if self.readers[base_id.index()] == 1 {
            self.sets[base_id.index()].take().unwrap_or_default()
        } else {
            self.get(base_id).clone()
        };
        let base_len = slots.len();
        let (mut shared, mut all_equal, mut added) = (false, true, Vec::new());
        for (k, &c) in children.iter().enumerate() {
            if k == base {
                continue;
            }
            let child = self.get(c);
            all_equal &= child.len() == base_len;
            for &s in child {
                if slots.insert(s) {
                    all_equal = false;
                    if record_added {
                        added.push(s);
                    }
                } else {
                    shared = true;
                }
            }
        }
        Union { slots, shared, all_equal, base, added }
    }

    /// `children` have read their sets: drop those no one else will read.
    fn release(&mut self, children: &[NodeId]) {
        for c in children {
            let left = &mut self.readers[c.index()];
            *left -= 1;
            if *left == 0 {
                self.sets[c.index()] = None;
            }
        }
    }

    /// Stores the next node's set (nodes come in order).
    fn push(&mut self, set: SlotSet) {
        let i = self.sets.len();
        self.sets.push((self.readers[i] > 0).then_some(set));
    }
}

/// A leaf's slot set.
fn leaf_slots(node: &Node) -> SlotSet {
    match node {
        Node::Literal(l) => std::iter::once(l.slot.0).collect(),
        _ => SlotSet::default(),
    }
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
    let mut sets = SlotSets::new(circuit, &[]);
    let mut decomposable = Knowledge::Holds(Evidence::Checked);
    let mut smooth = Knowledge::Holds(Evidence::Checked);
    for (i, node) in circuit.nodes().iter().enumerate() {
        let id = NodeId(i as u32);
        let set = match node {
            Node::Product(cs) | Node::Sum(cs) => {
                let union = sets.union(cs, false);
                let is_sum = matches!(node, Node::Sum(_));
                if !is_sum && union.shared && decomposable.holds() {
                    decomposable = Knowledge::Fails(id);
                }
                if is_sum && !union.all_equal && smooth.holds() {
                    smooth = Knowledge::Fails(id);
                }
                sets.release(cs);
                union.slots
            }
            leaf => leaf_slots(leaf),
        };
        sets.push(set);
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
    let code = |slot: u32| mix(u64::from(slot) + 1);
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

/// SplitMix64's finaliser: a well-spread 64-bit word from any input.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Slot `slot`'s values in 64 pseudo-random assignments (bit `j` is its
/// value in assignment `j`), round `round` of them. Fixed rather than
/// seeded from the clock, so a file is accepted or refused the same way
/// every run.
pub(crate) fn random_bits(round: u64, slot: u32) -> u64 {
    mix(mix(round ^ 0x5eed) ^ (u64::from(slot) + 1))
}

/// Two children of a sum that hold together under some assignment: the
/// sum is not deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overlap {
    pub sum: NodeId,
    pub children: [NodeId; 2],
}

/// Which assignments [`test_determinism`] tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Every assignment of the circuit's variables: a proof either way.
    Exhaustive { variables: u32 },
    /// This many pseudo-random assignments: an overlap found is a proof of
    /// non-determinism; none found proves nothing.
    Random { assignments: u64 },
}

impl fmt::Display for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Search::Exhaustive { variables } => {
                write!(f, "exhaustive: all 2^{variables} assignments of the {variables} variables it mentions")
            }
            Search::Random { assignments } => write!(f, "random: {assignments} assignments (not a proof)"),
        }
    }
}

/// What [`test_determinism`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeterminismTest {
    pub search: Search,
    pub overlap: Option<Overlap>,
}

impl DeterminismTest {
    /// What the test proved: determinism after an exhaustive search without
    /// overlap, its failure wherever an overlap was found; else nothing.
    pub fn proved(&self) -> Option<Knowledge> {
        match (self.overlap, self.search) {
            (Some(o), _) => Some(Knowledge::Fails(o.sum)),
            (None, Search::Exhaustive { .. }) => Some(Knowledge::Holds(Evidence::Checked)),
            (None, Search::Random { .. }) => None,
        }
    }

    /// Records what the test proved on the circuit it tested, over any
    /// declaration: an overlap makes it non-deterministic there, an
    /// exhaustive pass deterministic (checked).
    pub fn record(&self, circuit: &mut Circuit) {
        match self.proved() {
            Some(Knowledge::Fails(at)) => {
                circuit.declared_deterministic = None;
                circuit.refute_deterministic(at);
            }
            Some(_) => circuit.establish_deterministic(),
            None => {}
        }
    }
}

/// Node visits [`test_determinism`] may spend by default (each visit covers
/// 64 assignments): a few seconds on one core.
pub const DETERMINISM_WORK: u64 = 1 << 31;

/// The most variables searched exhaustively.
const MAX_EXHAUSTIVE_VARIABLES: usize = 24;

/// Tests every sum of `circuit` for children that hold together: over every
/// assignment of the variables it mentions where that takes at most `work`
/// node visits (at most 24 variables), otherwise over as many random
/// assignments as `work` allows (at least 64). Boolean evaluation, 64
/// assignments per pass, one bit each.
pub fn test_determinism(circuit: &Circuit, work: u64) -> DeterminismTest {
    let size = (circuit.num_nodes() + circuit.num_edges()).max(1) as u64;
    let mut used: Vec<u32> = circuit
        .nodes()
        .iter()
        .filter_map(|n| match n {
            Node::Literal(l) => Some(l.slot.0),
            _ => None,
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    let position: FxHashMap<u32, u32> = used.iter().enumerate().map(|(k, &s)| (s, k as u32)).collect();
    let variable_of: Vec<u32> = circuit
        .nodes()
        .iter()
        .map(|n| match n {
            Node::Literal(l) => position[&l.slot.0],
            _ => u32::MAX,
        })
        .collect();
    let n = used.len();
    let exhaustive_passes = (n <= MAX_EXHAUSTIVE_VARIABLES).then(|| 1u64 << n.saturating_sub(6));
    let mut values = Vec::with_capacity(circuit.num_nodes());
    let mut bits = vec![0u64; n];
    if let Some(passes) = exhaustive_passes.filter(|p| p.saturating_mul(size) <= work) {
        // Assignment j of pass p: variable k < 6 is bit k of j, variable
        // k ≥ 6 bit k − 6 of p.
        const LOW: [u64; 6] = [
            0xaaaa_aaaa_aaaa_aaaa,
            0xcccc_cccc_cccc_cccc,
            0xf0f0_f0f0_f0f0_f0f0,
            0xff00_ff00_ff00_ff00,
            0xffff_0000_ffff_0000,
            0xffff_ffff_0000_0000,
        ];
        for pass in 0..passes {
            for (k, b) in bits.iter_mut().enumerate() {
                *b = if k < 6 { LOW[k] } else { 0u64.wrapping_sub((pass >> (k - 6)) & 1) };
            }
            if let Some(overlap) = overlap_in(circuit, &variable_of, &bits, &mut values) {
                return DeterminismTest { search: Search::Exhaustive { variables: n as u32 }, overlap: Some(overlap) };
            }
        }
        return DeterminismTest { search: Search::Exhaustive { variables: n as u32 }, overlap: None };
    }
    let rounds = (work / size).clamp(1, 1 << 16);
    for round in 0..rounds {
        for (b, &slot) in bits.iter_mut().zip(&used) {
            *b = random_bits(round, slot);
        }
        if let Some(overlap) = overlap_in(circuit, &variable_of, &bits, &mut values) {
            return DeterminismTest {
                search: Search::Random { assignments: 64 * (round + 1) },
                overlap: Some(overlap),
            };
        }
    }
    DeterminismTest { search: Search::Random { assignments: 64 * rounds }, overlap: None }
}

/// The first sum (in node order) with two children true together in one of
/// 64 assignments, where `bits[variable_of[literal node]]` holds a literal's
/// variable's values.
fn overlap_in(circuit: &Circuit, variable_of: &[u32], bits: &[u64], values: &mut Vec<u64>) -> Option<Overlap> {
    values.clear();
    for (i, node) in circuit.nodes().iter().enumerate() {
        let v = match node {
            Node::False => 0,
            Node::True => !0,
            Node::Literal(l) => {
                let b = bits[variable_of[i] as usize];
                if l.positive {
                    b
                } else {
                    !b
                }
            }
            Node::Product(cs) => cs.iter().fold(!0, |acc, c| acc & values[c.index()]),
            Node::Sum(cs) => {
                let mut seen = 0u64;
                for (k, c) in cs.iter().enumerate() {
                    let v = values[c.index()];
                    let both = seen & v;
                    if both != 0 {
                        let earlier = cs[..k].iter().find(|d| values[d.index()] & both != 0).copied().unwrap_or(*c);
                        return Some(Overlap { sum: NodeId(i as u32), children: [earlier, *c] });
                    }
                    seen |= v;
                }
                seen
            }
        };
        values.push(v);
    }
    None
}

/// A smooth copy of `circuit`: every child of a sum that misses slots of its
/// siblings is multiplied by `(x ∨ ¬x)` for each missing `x`. With
/// `all_slots`, every root is also completed to mention every slot, so that
/// counting and max-product range over all variables. Decomposability and
/// determinism are preserved.
pub fn smooth(circuit: &Circuit, all_slots: bool) -> Circuit {
    let kept: &[NodeId] = if all_slots { circuit.roots() } else { &[] };
    let mut sets = SlotSets::new(circuit, kept);
    let mut b = CircuitBuilder::new(circuit.num_slots());
    let mut map: Vec<NodeId> = Vec::with_capacity(circuit.num_nodes());
    let mut tautologies: FxHashMap<u32, NodeId> = FxHashMap::default();
    let mut pad = |b: &mut CircuitBuilder, node: NodeId, mut missing: Vec<u32>| {
        if missing.is_empty() {
            return node;
        }
        // Sorted, so that the padding's nodes come in the same order every run.
        missing.sort_unstable();
        let mut factors = vec![node];
        for s in missing {
            factors.push(*tautologies.entry(s).or_insert_with(|| {
                let pos = b.literal(SlotId(s), true);
                let neg = b.literal(SlotId(s), false);
                b.sum(vec![pos, neg])
            }));
        }
        b.product(factors)
    };
    for node in circuit.nodes() {
        let (new, set) = match node {
            Node::False => (b.constant(false), SlotSet::default()),
            Node::True => (b.constant(true), SlotSet::default()),
            Node::Literal(Literal { slot, positive }) => (b.literal(*slot, *positive), leaf_slots(node)),
            Node::Product(cs) => {
                let union = sets.union(cs, false);
                sets.release(cs);
                (b.product(cs.iter().map(|c| map[c.index()]).collect()), union.slots)
            }
            Node::Sum(cs) => {
                let mut union = sets.union(cs, true);
                let mut children = Vec::with_capacity(cs.len());
                for (k, c) in cs.iter().enumerate() {
                    let missing = if k == union.base {
                        std::mem::take(&mut union.added)
                    } else {
                        let have = sets.get(*c);
                        if have.len() == union.slots.len() {
                            Vec::new()
                        } else {
                            union.slots.iter().copied().filter(|s| !have.contains(s)).collect()
                        }
                    };
                    children.push(pad(&mut b, map[c.index()], missing));
                }
                sets.release(cs);
                (b.sum(children), union.slots)
            }
        };
        map.push(new);
        sets.push(set);
    }
    let roots = circuit
        .roots()
        .iter()
        .map(|r| {
            let node = map[r.index()];
            if !all_slots {
                return node;
            }
            let have = sets.get(*r);
            pad(&mut b, node, (0..circuit.num_slots()).filter(|s| !have.contains(s)).collect())
        })
        .collect();
    let mut out = b.finish(roots);
    out.declared_deterministic = circuit.declared_deterministic;
    out.declared_decomposable = circuit.declared_decomposable;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{random_case, Rng};

    /// A random circuit of `seed`, neither decomposable nor deterministic
    /// as a rule: sums and products over any earlier nodes.
    fn random_circuit(seed: u64) -> Circuit {
        let mut rng = Rng(seed);
        let n = 1 + rng.below(6) as u32;
        let mut b = CircuitBuilder::new(n);
        let mut nodes = Vec::new();
        for v in 0..n {
            for positive in [true, false] {
                nodes.push(b.literal(SlotId(v), positive));
            }
        }
        for _ in 0..5 + rng.below(30) {
            let children = (0..2 + rng.below(3)).map(|_| nodes[rng.below(nodes.len())]).collect();
            let node = if rng.below(2) == 0 { b.sum(children) } else { b.product(children) };
            nodes.push(node);
        }
        let roots = (0..1 + rng.below(3)).map(|_| nodes[nodes.len() - 1 - rng.below(3)]).collect();
        b.finish(roots)
    }

    /// Decomposability and smoothness the plain way: every node's sorted
    /// slot set, kept whole.
    fn reference(circuit: &Circuit) -> (Knowledge, Knowledge) {
        let mut sets: Vec<Vec<u32>> = Vec::new();
        let (mut decomposable, mut smooth) = (Knowledge::Holds(Evidence::Checked), Knowledge::Holds(Evidence::Checked));
        for (i, node) in circuit.nodes().iter().enumerate() {
            let mut set: Vec<u32> = match node {
                Node::Literal(l) => vec![l.slot.0],
                _ => node.children().iter().flat_map(|c| sets[c.index()].clone()).collect(),
            };
            let total = set.len();
            set.sort_unstable();
            set.dedup();
            match node {
                Node::Product(_) if total != set.len() && decomposable.holds() => {
                    decomposable = Knowledge::Fails(NodeId(i as u32))
                }
                Node::Sum(cs) if cs.iter().any(|c| sets[c.index()].len() != set.len()) && smooth.holds() => {
                    smooth = Knowledge::Fails(NodeId(i as u32))
                }
                _ => {}
            }
            sets.push(set);
        }
        (decomposable, smooth)
    }

    /// Each node's value as a polynomial evaluated at `p` (slot probability
    /// `p`, its negation `1 − p`), sums added and products multiplied.
    fn values(circuit: &Circuit, p: &[f64]) -> Vec<f64> {
        let mut v: Vec<f64> = Vec::new();
        for node in circuit.nodes() {
            v.push(match node {
                Node::False => 0.0,
                Node::True => 1.0,
                Node::Literal(l) if l.positive => p[l.slot.0 as usize],
                Node::Literal(l) => 1.0 - p[l.slot.0 as usize],
                Node::Sum(cs) => cs.iter().map(|c| v[c.index()]).sum(),
                Node::Product(cs) => cs.iter().map(|c| v[c.index()]).product(),
            });
        }
        v
    }

    #[test]
    fn streamed_slot_sets_agree_with_whole_ones() {
        for seed in 0..400 {
            let c = if seed % 2 == 0 { random_circuit(seed) } else { random_case(seed).0 };
            let p = check(&c);
            assert_eq!((p.decomposable, p.smooth), reference(&c), "seed {seed}");
            // Smoothing keeps every root's value (a tautology is worth 1).
            for all in [false, true] {
                let s = smooth(&c, all);
                assert!(check(&s).smooth.holds(), "seed {seed}");
                let probs: Vec<f64> = (0..c.num_slots()).map(|v| 0.1 + 0.8 * f64::from(v) / 7.0).collect();
                let (before, after) = (values(&c, &probs), values(&s, &probs));
                for (r, t) in c.roots().iter().zip(s.roots()) {
                    let (x, y) = (before[r.index()], after[t.index()]);
                    assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "seed {seed}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn a_deep_chain_is_checked_without_a_set_per_node() {
        // p_k = x_k ⊗ p_{k−1}: each node mentions every slot below it, so
        // whole sets would hold 5·10⁹ slots.
        let n = 100_000u32;
        let mut b = CircuitBuilder::new(n);
        let mut chain = b.literal(SlotId(0), true);
        for v in 1..n {
            let x = b.literal(SlotId(v), v % 2 == 0);
            chain = b.product(vec![x, chain]);
        }
        let c = b.finish(vec![chain]);
        let p = check(&c);
        assert_eq!(
            (p.decomposable, p.smooth),
            (Knowledge::Holds(Evidence::Checked), Knowledge::Holds(Evidence::Checked))
        );
        // One repeated slot at the top breaks it there.
        let mut b = CircuitBuilder::new(n);
        let mut chain = b.literal(SlotId(0), true);
        for v in 1..n {
            let x = b.literal(SlotId(v % (n - 1)), true);
            chain = b.product(vec![x, chain]);
        }
        let c = b.finish(vec![chain]);
        assert_eq!(check(&c).decomposable, Knowledge::Fails(chain));
        // Smoothing over every slot adds x_n ∨ ¬x_n, the only slot missing.
        assert_eq!(smooth(&c, true).num_nodes(), c.num_nodes() + 4);
    }

    /// Whether two children of some sum hold together, by trying every
    /// assignment of every slot.
    fn overlaps(c: &Circuit) -> bool {
        let n = c.num_slots();
        (0..1u32 << n).any(|a| {
            let p: Vec<f64> = (0..n).map(|v| f64::from((a >> v) & 1)).collect();
            let v = values(c, &p);
            c.nodes()
                .iter()
                .any(|node| matches!(node, Node::Sum(cs) if cs.iter().filter(|x| v[x.index()] > 0.0).count() > 1))
        })
    }

    #[test]
    fn the_exhaustive_determinism_test_agrees_with_enumeration() {
        let mut found = 0;
        for seed in 0..300 {
            let c = if seed % 3 == 0 { random_case(seed).0 } else { random_circuit(seed) };
            let t = test_determinism(&c, DETERMINISM_WORK);
            assert!(matches!(t.search, Search::Exhaustive { .. }), "seed {seed}");
            assert_eq!(t.overlap.is_some(), overlaps(&c), "seed {seed}");
            if let Some(o) = t.overlap {
                found += 1;
                assert!(
                    matches!(c.node(o.sum), Node::Sum(cs) if cs.contains(&o.children[0]) && cs.contains(&o.children[1]))
                );
                assert_eq!(t.proved(), Some(Knowledge::Fails(o.sum)));
            } else {
                assert_eq!(t.proved(), Some(Knowledge::Holds(Evidence::Checked)));
            }
        }
        assert!(found > 50, "{found}");
        // Random d-DNNFs are deterministic.
        for seed in 0..100 {
            assert_eq!(test_determinism(&random_case(seed).0, DETERMINISM_WORK).overlap, None, "seed {seed}");
        }
    }

    #[test]
    fn past_its_budget_the_determinism_test_samples() {
        // x1 ∨ … ∨ x30: 2^30 assignments is past any budget.
        let mut b = CircuitBuilder::new(30);
        let xs = (0..30).map(|v| b.literal(SlotId(v), true)).collect();
        let or = b.sum(xs);
        let c = b.finish(vec![or]);
        let t = test_determinism(&c, 1 << 20);
        assert_eq!(t.search, Search::Random { assignments: 64 });
        assert_eq!(t.overlap.map(|o| o.sum), Some(or));
        // A decision over 30 variables is not refuted, and nothing is proved.
        let mut b = CircuitBuilder::new(30);
        let mut chain = b.constant(true);
        for v in 0..30 {
            let (x, nx) = (b.literal(SlotId(v), true), b.literal(SlotId(v), false));
            let hi = b.product(vec![x, chain]);
            chain = b.sum(vec![hi, nx]);
        }
        let c = b.finish(vec![chain]);
        let t = test_determinism(&c, 1 << 20);
        let rounds = (1 << 20) / (c.num_nodes() + c.num_edges()) as u64;
        assert_eq!(t.search, Search::Random { assignments: 64 * rounds });
        assert_eq!((t.overlap, t.proved()), (None, None));
        assert_eq!(t.search.to_string(), format!("random: {} assignments (not a proof)", 64 * rounds));
    }

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
