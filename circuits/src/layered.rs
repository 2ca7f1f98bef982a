//! Layering: the circuit as per-layer index arrays for batched evaluation.
//!
//! A node's layer is one more than its deepest child's, leaves are layer 0.
//! Rows are numbered leaves first, then layer by layer (products before sums
//! within a layer), so each layer is a contiguous range of rows and one
//! layer is one gather + segmented reduction over a CSR array (`offsets`,
//! `children`). Unlike KLay, an edge may skip layers: a node reads from any
//! earlier layer, so no single-child padding nodes are inserted. Within a
//! segment rows are sorted by fan-in, so rows of equal fan-in form runs
//! (`Run`) whose children need no offsets.
//!
//! Binary products that are used by exactly one sum (an SDD's elements,
//! `prime ∧ sub`) are *fused* into that sum: it becomes a
//! [`Op::SumOfPairs`] row whose children come in pairs `(a, b)` and whose
//! value is `⊕_j (a_j ⊗ b_j)`; its other children are paired with the
//! constant `true`. A fused product needs no row and no pass of its own.
//!
//! [`LayeredCircuit::with_fan_in_at_most`] lays the same circuit out with
//! wide rows cut into chunks (the GPU evaluator's layout).
//!
//! Invariants: every child row is smaller than its parent's row; rows
//! `0..leaves.len()` are leaves; `offsets` is non-decreasing with
//! `offsets.len() == internal nodes + 1`; a `SumOfPairs` row has an even
//! number of children. Nodes unreachable from the roots are dropped.

use std::ops::Range;

use crate::circuit::{Circuit, Literal, Node};
use crate::optimize::Rewrites;
use crate::properties::{check, Properties};

/// A leaf row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf {
    Constant(bool),
    Literal(Literal),
}

/// Whether the internal nodes of a range are sums or products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Sum,
    Product,
    /// `⊕_j (a_j ⊗ b_j)` over consecutive pairs of children.
    SumOfPairs,
}

/// A run of internal rows of one kind within a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub op: Op,
    /// Rows (all internal).
    pub rows: Range<u32>,
}

/// One layer: its product segment and its sum segment (either may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub segments: Vec<Segment>,
}

/// Rows of one segment with the same number of children (rows are sorted
/// by it): their children are one contiguous stretch of the CSR array,
/// `fan_in` per row, so a pass over a run reads no offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) op: Op,
    pub(crate) rows: Range<u32>,
    pub(crate) fan_in: u32,
    /// Where the first row's children start in `children`.
    pub(crate) children: u32,
}

/// Internal rows before layout, children before parents, as CSR. A row's
/// children are *draft ids*: a leaf's row, or the number of leaves plus an
/// earlier internal row's index.
struct Draft {
    first: u32,
    ops: Vec<Op>,
    offsets: Vec<u32>,
    children: Vec<u32>,
}

impl Draft {
    fn new(leaves: usize) -> Draft {
        Draft { first: leaves as u32, ops: Vec::new(), offsets: vec![0], children: Vec::new() }
    }

    /// Appends a row; its draft id.
    fn push(&mut self, op: Op, children: impl IntoIterator<Item = u32>) -> u32 {
        self.children.extend(children);
        self.offsets.push(self.children.len() as u32);
        self.ops.push(op);
        self.first + self.ops.len() as u32 - 1
    }

    fn children(&self, k: usize) -> &[u32] {
        &self.children[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }
}

/// A circuit laid out for evaluation.
#[derive(Clone, Debug)]
pub struct LayeredCircuit {
    pub(crate) leaves: Vec<Leaf>,
    pub(crate) layers: Vec<Layer>,
    /// CSR over internal rows: the children of row `leaves.len() + i` are
    /// `children[offsets[i]..offsets[i + 1]]`.
    pub(crate) offsets: Vec<u32>,
    pub(crate) children: Vec<u32>,
    /// Every internal row, as runs in row order.
    pub(crate) runs: Vec<Run>,
    pub(crate) roots: Vec<u32>,
    pub(crate) num_slots: u32,
    pub(crate) num_constants: u32,
    pub(crate) properties: Properties,
    /// See [`Circuit::rewritten`].
    pub(crate) rewritten: Option<Rewrites>,
}

impl LayeredCircuit {
    /// Lays out `circuit`, checking its properties on the way.
    pub fn new(circuit: &Circuit) -> Self {
        Self::with_properties(circuit, check(circuit))
    }

    /// Lays out `circuit` with properties already known.
    pub fn with_properties(circuit: &Circuit, properties: Properties) -> Self {
        let nodes = circuit.nodes();
        let mut reachable = vec![false; nodes.len()];
        // Parents of each node (roots count as one), and whether the only
        // parent, if there is one, is a sum.
        let mut parents = vec![0u32; nodes.len()];
        let mut under_sum = vec![false; nodes.len()];
        for r in circuit.roots() {
            reachable[r.index()] = true;
            parents[r.index()] += 1;
        }
        for i in (0..nodes.len()).rev() {
            if reachable[i] {
                let is_sum = matches!(nodes[i], Node::Sum(_));
                for c in nodes[i].children() {
                    reachable[c.index()] = true;
                    parents[c.index()] += 1;
                    under_sum[c.index()] = is_sum;
                }
            }
        }
        let fused: Vec<bool> = (0..nodes.len())
            .map(|i| {
                reachable[i]
                    && parents[i] == 1
                    && under_sum[i]
                    && matches!(&nodes[i], Node::Product(cs) if cs.len() == 2)
            })
            .collect();
        let pairs_of = |i: usize| matches!(&nodes[i], Node::Sum(cs) if cs.iter().any(|c| fused[c.index()]));
        let true_node = nodes.iter().position(|n| *n == Node::True);
        let needs_true = (0..nodes.len())
            .any(|i| reachable[i] && pairs_of(i) && nodes[i].children().iter().any(|c| !fused[c.index()]));
        let mut true_row_node = None;
        if needs_true {
            // The builder always interns `true`; fall back to a new leaf if a
            // circuit was made otherwise.
            if let Some(t) = true_node {
                reachable[t] = true;
                true_row_node = Some(t);
            }
        }

        // What each row reads: a fused sum reads its pairs' factors.
        let effective = |i: usize| -> Vec<usize> {
            let cs = nodes[i].children();
            if !pairs_of(i) {
                return cs.iter().map(|c| c.index()).collect();
            }
            let mut out = Vec::with_capacity(2 * cs.len());
            for c in cs {
                if fused[c.index()] {
                    out.extend(nodes[c.index()].children().iter().map(|g| g.index()));
                } else {
                    out.push(c.index());
                    out.push(true_row_node.unwrap_or(usize::MAX));
                }
            }
            out
        };
        let live = |i: usize| reachable[i] && !fused[i];

        // Leaves in node order, constants first: the reverse pass skips rows
        // below the first literal (their adjoints are never read, and
        // `true`, partner of every unpaired child, would serialise the
        // adjoint updates).
        let mut leaves = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            match n {
                _ if !live(i) => {}
                Node::False => leaves.push((i, Leaf::Constant(false))),
                Node::True => leaves.push((i, Leaf::Constant(true))),
                Node::Literal(l) => leaves.push((i, Leaf::Literal(*l))),
                Node::Product(_) | Node::Sum(_) => {}
            }
        }
        if needs_true && true_row_node.is_none() {
            leaves.push((nodes.len(), Leaf::Constant(true)));
        }
        leaves.sort_by_key(|(_, l)| matches!(l, Leaf::Literal(_)));
        // Each live node's draft id: its leaf row, or leaves + its place
        // among the internal nodes (in node order, so children first).
        let mut id = vec![u32::MAX; nodes.len() + 1];
        for (row, (i, _)) in leaves.iter().enumerate() {
            id[*i] = row as u32;
        }
        let true_id = id[true_row_node.unwrap_or(nodes.len())];
        let mut draft = Draft::new(leaves.len());
        for (i, n) in nodes.iter().enumerate() {
            let op = match n {
                _ if !live(i) => continue,
                Node::Product(_) => Op::Product,
                Node::Sum(_) if pairs_of(i) => Op::SumOfPairs,
                Node::Sum(_) => Op::Sum,
                Node::False | Node::True | Node::Literal(_) => continue,
            };
            id[i] = draft.push(op, effective(i).into_iter().map(|c| if c == usize::MAX { true_id } else { id[c] }));
        }
        let roots = circuit.roots().iter().map(|r| id[r.index()]).collect();
        let leaves = leaves.into_iter().map(|(_, l)| l).collect();
        Self::lay_out(leaves, draft, roots, circuit.num_slots(), properties, circuit.rewritten())
    }

    /// Lays out `leaves` (constants first), the internal rows of `draft` and
    /// `roots` (draft ids).
    fn lay_out(
        leaves: Vec<Leaf>,
        draft: Draft,
        roots: Vec<u32>,
        num_slots: u32,
        properties: Properties,
        rewritten: Option<Rewrites>,
    ) -> Self {
        let first = leaves.len() as u32;
        let num_constants = leaves.iter().take_while(|l| matches!(l, Leaf::Constant(_))).count() as u32;
        let layer_of = |layer: &[u32], c: u32| if c < first { 0 } else { layer[(c - first) as usize] };
        let internal = draft.ops.len();
        let mut layer = Vec::with_capacity(internal);
        for k in 0..internal {
            let l = draft.children(k).iter().map(|&c| layer_of(&layer, c)).max().unwrap_or(0) + 1;
            layer.push(l);
        }
        let depth = layer.iter().copied().max().unwrap_or(0) as usize;
        // Bucket internal rows by (layer, op): products, sums, sums of pairs.
        let mut buckets: Vec<[Vec<usize>; 3]> = vec![[Vec::new(), Vec::new(), Vec::new()]; depth];
        for (k, op) in draft.ops.iter().enumerate() {
            let slot = match op {
                Op::Product => 0,
                Op::Sum => 1,
                Op::SumOfPairs => 2,
            };
            buckets[layer[k] as usize - 1][slot].push(k);
        }
        let mut row_of: Vec<u32> = (0..first).chain(std::iter::repeat_n(u32::MAX, internal)).collect();
        let mut next = first;
        let mut offsets = Vec::with_capacity(internal + 1);
        offsets.push(0u32);
        let mut children = Vec::with_capacity(draft.children.len());
        let mut layers = Vec::with_capacity(depth);
        for bucket in buckets.iter_mut() {
            // Rows of equal fan-in together: a pass's per-row loop then
            // runs the same trip count many times over (its branches
            // predicted), and draft order within a fan-in keeps locality.
            for ops in bucket.iter_mut() {
                ops.sort_by_key(|&k| draft.children(k).len());
            }
            let mut segments = Vec::new();
            for (ops, op) in bucket.iter().zip([Op::Product, Op::Sum, Op::SumOfPairs]) {
                if ops.is_empty() {
                    continue;
                }
                let start = next;
                for &k in ops {
                    row_of[first as usize + k] = next;
                    next += 1;
                    children.extend(draft.children(k).iter().map(|&c| row_of[c as usize]));
                    offsets.push(children.len() as u32);
                }
                segments.push(Segment { op, rows: start..next });
            }
            layers.push(Layer { segments });
        }
        let mut runs: Vec<Run> = Vec::new();
        for seg in layers.iter().flat_map(|l| &l.segments) {
            // A run never crosses a segment: its rows must not read each other.
            for row in seg.rows.clone() {
                let (from, to) = (offsets[(row - first) as usize], offsets[(row - first) as usize + 1]);
                match runs.last_mut() {
                    Some(run) if row > seg.rows.start && run.fan_in == to - from => run.rows.end += 1,
                    _ => runs.push(Run { op: seg.op, rows: row..row + 1, fan_in: to - from, children: from }),
                }
            }
        }
        LayeredCircuit {
            leaves,
            layers,
            offsets,
            children,
            runs,
            roots: roots.into_iter().map(|r| row_of[r as usize]).collect(),
            num_slots,
            num_constants,
            properties,
            rewritten,
        }
    }

    /// The same circuit with no row of more than `max` children (`max`
    /// even, at least 4), or `None` when no row has more. A wider row's
    /// children are cut into balanced chunks, each a new row of the same op
    /// (a `SumOfPairs` row's chunks keep whole pairs), and the row becomes
    /// the sum (or product) of its chunks, over as many levels as needed.
    /// Every algebra's sum and product are associative, so values agree up
    /// to rounding, and a maximum's derivative still goes to the first
    /// child attaining it (the first chunk attaining it, and in that chunk
    /// the first child). Row order within a chunk is kept.
    ///
    /// The GPU evaluator lays circuits out this way: one thread reads a
    /// row's children in turn, and a single row of 10⁴ children would hold
    /// up its whole layer.
    pub fn with_fan_in_at_most(&self, max: u32) -> Option<LayeredCircuit> {
        assert!(max >= 4 && max.is_multiple_of(2), "a fan-in bound must be even and at least 4, not {max}");
        let max = max as usize;
        let first = self.leaves.len();
        if (first..self.num_rows()).all(|r| self.children_of(r).len() <= max) {
            return None;
        }
        let ops = self.layers.iter().flat_map(|l| &l.segments).flat_map(|s| std::iter::repeat_n(s.op, s.rows.len()));
        // Each row's draft id (see `lay_out`).
        let mut id: Vec<u32> = (0..first as u32).collect();
        let mut draft = Draft::new(first);
        for (row, mut op) in (first..self.num_rows()).zip(ops) {
            let ks = self.children_of(row);
            if ks.len() <= max {
                let d = draft.push(op, ks.iter().map(|&c| id[c as usize]));
                id.push(d);
                continue;
            }
            let mut children: Vec<u32> = ks.iter().map(|&c| id[c as usize]).collect();
            while children.len() > max {
                let pieces = children.len().div_ceil(max);
                let mut size = children.len().div_ceil(pieces);
                if op == Op::SumOfPairs {
                    size += size % 2;
                }
                let mut chunks = Vec::with_capacity(pieces);
                for chunk in children.chunks(size) {
                    chunks.push(draft.push(op, chunk.iter().copied()));
                }
                children = chunks;
                if op == Op::SumOfPairs {
                    op = Op::Sum;
                }
            }
            id.push(draft.push(op, children));
        }
        let roots = self.roots.iter().map(|&r| id[r as usize]).collect();
        Some(Self::lay_out(self.leaves.clone(), draft, roots, self.num_slots, self.properties, self.rewritten))
    }

    /// Rows `0..num_constants()` are the constant leaves.
    pub fn num_constants(&self) -> u32 {
        self.num_constants
    }

    pub fn num_rows(&self) -> usize {
        self.leaves.len() + self.offsets.len() - 1
    }
    pub fn num_edges(&self) -> usize {
        self.children.len()
    }
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }
    pub fn num_roots(&self) -> usize {
        self.roots.len()
    }
    pub fn num_slots(&self) -> u32 {
        self.num_slots
    }
    pub fn leaves(&self) -> &[Leaf] {
        &self.leaves
    }
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }
    pub fn children(&self) -> &[u32] {
        &self.children
    }
    pub fn roots(&self) -> &[u32] {
        &self.roots
    }
    pub fn properties(&self) -> &Properties {
        &self.properties
    }
    /// See [`Circuit::rewritten`].
    pub fn rewritten(&self) -> Option<Rewrites> {
        self.rewritten
    }

    /// Children of internal row `row` (for a `SumOfPairs` row, its pairs'
    /// factors, two by two).
    #[inline(always)]
    pub fn children_of(&self, row: usize) -> &[u32] {
        let i = row - self.leaves.len();
        &self.children[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::{CircuitBuilder, SlotId};

    #[test]
    fn edges_may_skip_layers_and_rows_are_topological() {
        let mut b = CircuitBuilder::new(3);
        let x = b.literal(SlotId(0), true);
        let y = b.literal(SlotId(1), true);
        let z = b.literal(SlotId(2), true);
        let xy = b.product(vec![x, y]);
        let s = b.sum(vec![xy, z]);
        let top = b.product(vec![s, x]); // x skips a layer
        let unused = b.sum(vec![y, z]);
        let _ = unused;
        let l = LayeredCircuit::new(&b.finish(vec![top]));
        // x ∧ y is fused into its only parent, which pairs z with `true`.
        assert_eq!(l.num_layers(), 2);
        assert_eq!(l.layers()[0].segments[0].op, Op::SumOfPairs);
        assert_eq!(l.num_edges(), 6);
        assert_eq!(l.leaves().len(), 4);
        assert!(l.leaves().contains(&Leaf::Constant(true)));
        for row in l.leaves().len()..l.num_rows() {
            assert!(l.children_of(row).iter().all(|&c| (c as usize) < row));
        }
    }

    #[test]
    fn shared_products_are_not_fused() {
        let mut b = CircuitBuilder::new(3);
        let x = b.literal(SlotId(0), true);
        let y = b.literal(SlotId(1), true);
        let z = b.literal(SlotId(2), true);
        let xy = b.product(vec![x, y]);
        let s1 = b.sum(vec![xy, z]);
        let nz = b.literal(SlotId(2), false);
        let s2 = b.sum(vec![xy, nz]);
        let l = LayeredCircuit::new(&b.finish(vec![s1, s2]));
        let ops: Vec<Op> = l.layers().iter().flat_map(|l| l.segments.iter().map(|s| s.op)).collect();
        assert_eq!(ops, vec![Op::Product, Op::Sum]);
    }
}
