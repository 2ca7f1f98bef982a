//! The algebraic circuit IR: a hash-consed DAG of n-ary sums and products
//! over literal leaves and the constants true and false, with many roots.
//!
//! Circuits are built through [`CircuitBuilder`], which keeps three
//! invariants: **children come before their parents** (`child < parent` for
//! every edge, so node order is a topological order), **no two nodes are
//! equal** (hash-consing, with children sorted since every algebra is
//! commutative), and **constants are folded** using only laws that hold in
//! every algebra (identities and annihilation: `x ⊗ 0 = 0`, `x ⊗ 1 = x`,
//! `x ⊕ 0 = x`; never `x ⊕ 1 = 1`, which is false for probabilities).
//!
//! ```
//! use deeplog_circuits::{CircuitBuilder, SlotId};
//!
//! let mut b = CircuitBuilder::new(2);
//! let (a, not_a) = (b.literal(SlotId(0), true), b.literal(SlotId(0), false));
//! let x = b.literal(SlotId(1), true);
//! let not_a_and_x = b.product(vec![not_a, x]);
//! let a_or_x = b.sum(vec![a, not_a_and_x]); // a ∨ (¬a ∧ x), deterministic
//! let circuit = b.finish(vec![a_or_x]);
//! assert_eq!(circuit.num_edges(), 4);
//! ```

use std::collections::HashMap;
use std::fmt;

use crate::optimize::Rewrites;
use crate::properties::{Evidence, Knowledge, Properties};

/// An input slot: one annotated choice (a probabilistic fact, a neural
/// output, a variable of a CNF). Slot ids are dense: `0..num_slots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u32);

/// A node of a [`Circuit`]; an index into [`Circuit::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A slot with a polarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Literal {
    pub slot: SlotId,
    pub positive: bool,
}

impl Literal {
    /// DIMACS-style signed, 1-based variable number.
    pub fn dimacs(self) -> i64 {
        let v = self.slot.0 as i64 + 1;
        if self.positive {
            v
        } else {
            -v
        }
    }
}

/// One node. Sum and product children are sorted, never empty and never
/// constants (the builder folds those away).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    False,
    True,
    Literal(Literal),
    Sum(Box<[NodeId]>),
    Product(Box<[NodeId]>),
}

impl Node {
    pub fn children(&self) -> &[NodeId] {
        match self {
            Node::Sum(c) | Node::Product(c) => c,
            _ => &[],
        }
    }
}

/// A circuit: nodes in topological order, roots, and what is known about its
/// properties beyond what the checkers can establish (e.g. an SDD file is
/// deterministic by construction).
#[derive(Clone, Debug)]
pub struct Circuit {
    nodes: Vec<Node>,
    roots: Vec<NodeId>,
    num_slots: u32,
    /// Determinism established by whoever made the circuit.
    pub(crate) declared_deterministic: Option<Evidence>,
    /// Decomposability established by whoever made the circuit.
    pub(crate) declared_decomposable: Option<Evidence>,
    /// A sum whose children were seen true together (a file's reader
    /// evaluated it under random assignments), where no one promised
    /// determinism: the circuit is known not to be deterministic there.
    pub(crate) refuted_deterministic: Option<NodeId>,
    /// The laws an optimiser rewrote it by: its values hold only in
    /// algebras that satisfy them.
    pub(crate) rewritten: Option<Rewrites>,
    /// Properties carried over from the circuit it was rewritten from.
    pub(crate) inherited: Option<Properties>,
}

impl Circuit {
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }
    pub fn roots(&self) -> &[NodeId] {
        &self.roots
    }
    pub fn num_slots(&self) -> u32 {
        self.num_slots
    }
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }
    pub fn num_edges(&self) -> usize {
        self.nodes.iter().map(|n| n.children().len()).sum()
    }

    /// Records that the circuit is deterministic because of how it was made
    /// (an SDD, a d-DNNF from a compiler); the checker cannot always see it.
    pub fn declare_deterministic(&mut self, because: &'static str) {
        self.declared_deterministic = Some(Evidence::ByConstruction(because));
    }

    /// Records that every sum was verified deterministic on this circuit
    /// (under every assignment of its slots: see
    /// [`test_determinism`](crate::properties::test_determinism)).
    pub fn establish_deterministic(&mut self) {
        self.declared_deterministic = Some(Evidence::Checked);
    }

    /// Records that the children of sum `at` hold together under some
    /// assignment, so the circuit is not deterministic.
    pub(crate) fn refute_deterministic(&mut self, at: NodeId) {
        self.refuted_deterministic = Some(at);
    }

    pub(crate) fn declared_deterministic(&self) -> Option<Knowledge> {
        self.declared_deterministic.map(Knowledge::Holds).or(self.refuted_deterministic.map(Knowledge::Fails))
    }

    /// Records that every product's children mention disjoint slots, by
    /// construction (`because` says why): the property check then skips
    /// the slot sets, whose size is quadratic on deep circuits (a long
    /// decision chain mentions every slot below each node).
    pub fn declare_decomposable(&mut self, because: &'static str) {
        self.declared_decomposable = Some(Evidence::ByConstruction(because));
    }

    pub(crate) fn declared_decomposable(&self) -> Option<Knowledge> {
        self.declared_decomposable.map(Knowledge::Holds)
    }

    /// The laws an optimiser rewrote this circuit by, if any: it may be
    /// evaluated only in algebras that satisfy them.
    pub fn rewritten(&self) -> Option<Rewrites> {
        self.rewritten
    }

    /// Marks the circuit as rewritten by `rewrites` (a circuit file records it).
    pub fn declare_rewritten(&mut self, rewrites: Rewrites) {
        self.rewritten = Some(rewrites);
    }

    /// Longest path from a root to a leaf, in edges.
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            depth[i] = n.children().iter().map(|c| depth[c.index()] + 1).max().unwrap_or(0);
        }
        self.roots.iter().map(|r| depth[r.index()]).max().unwrap_or(0)
    }
}

/// Builds a [`Circuit`], hash-consing nodes and folding constants.
#[derive(Debug)]
pub struct CircuitBuilder {
    nodes: Vec<Node>,
    index: HashMap<Node, NodeId>,
    num_slots: u32,
}

impl CircuitBuilder {
    /// A builder for circuits over slots `0..num_slots`.
    pub fn new(num_slots: u32) -> Self {
        let mut b = CircuitBuilder { nodes: Vec::new(), index: HashMap::new(), num_slots };
        b.intern(Node::False);
        b.intern(Node::True);
        b
    }

    pub fn num_slots(&self) -> u32 {
        self.num_slots
    }

    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn constant(&mut self, value: bool) -> NodeId {
        NodeId(value as u32)
    }

    /// The literal leaf of `slot`; grows the slot count if needed.
    pub fn literal(&mut self, slot: SlotId, positive: bool) -> NodeId {
        self.num_slots = self.num_slots.max(slot.0 + 1);
        self.intern(Node::Literal(Literal { slot, positive }))
    }

    /// `⊕ children`; `false` when empty.
    pub fn sum(&mut self, mut children: Vec<NodeId>) -> NodeId {
        children.retain(|&c| self.nodes[c.index()] != Node::False);
        match children.len() {
            0 => NodeId(0),
            1 => children[0],
            _ => {
                children.sort_unstable();
                self.intern(Node::Sum(children.into_boxed_slice()))
            }
        }
    }

    /// `⊗ children`; `true` when empty, `false` when any child is.
    pub fn product(&mut self, mut children: Vec<NodeId>) -> NodeId {
        if children.iter().any(|&c| self.nodes[c.index()] == Node::False) {
            return NodeId(0);
        }
        children.retain(|&c| self.nodes[c.index()] != Node::True);
        match children.len() {
            0 => NodeId(1),
            1 => children[0],
            _ => {
                children.sort_unstable();
                self.intern(Node::Product(children.into_boxed_slice()))
            }
        }
    }

    fn intern(&mut self, node: Node) -> NodeId {
        if let Some(&id) = self.index.get(&node) {
            return id;
        }
        let id = NodeId(self.nodes.len() as u32);
        debug_assert!(node.children().iter().all(|c| *c < id));
        self.nodes.push(node.clone());
        self.index.insert(node, id);
        id
    }

    /// The circuit with these roots (in this order; repeats allowed).
    pub fn finish(self, roots: Vec<NodeId>) -> Circuit {
        Circuit {
            nodes: self.nodes,
            roots,
            num_slots: self.num_slots,
            declared_deterministic: None,
            declared_decomposable: None,
            refuted_deterministic: None,
            rewritten: None,
            inherited: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_fold_only_by_laws_of_every_algebra() {
        let mut b = CircuitBuilder::new(1);
        let x = b.literal(SlotId(0), true);
        let (f, t) = (b.constant(false), b.constant(true));
        assert_eq!(b.product(vec![x, f]), f);
        assert_eq!(b.product(vec![x, t]), x);
        assert_eq!(b.sum(vec![x, f]), x);
        // x ⊕ 1 is 1 + p in probability: it must stay a node.
        let s = b.sum(vec![x, t]);
        assert!(matches!(b.node(s), Node::Sum(_)));
        assert_eq!(b.sum(vec![]), f);
        assert_eq!(b.product(vec![]), t);
    }

    #[test]
    fn equal_nodes_are_shared() {
        let mut b = CircuitBuilder::new(2);
        let x = b.literal(SlotId(0), true);
        let y = b.literal(SlotId(1), false);
        let p1 = b.product(vec![x, y]);
        let p2 = b.product(vec![y, x]);
        assert_eq!(p1, p2);
        // x ⊗ x is x² in probability: repeats are kept.
        let xx = b.product(vec![x, x]);
        assert_eq!(b.node(xx).children().len(), 2);
    }
}
