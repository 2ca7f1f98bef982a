//! Formula circuits: expression DAGs over real numbers, evaluated forward and
//! backward, batched, in `f64` on the CPU.
//!
//! Where a compiled [`Circuit`](crate::Circuit) computes probabilities by
//! model counting, an [`Expr`] evaluates ground formulas *truth-functionally*:
//! fuzzy connectives under a [`TNorm`], fuzzy [`Implication`]s, aggregations
//! (sums, products, extrema, LTN's p-means), logarithms and quotients, over an input
//! matrix (truth values or probabilities, typically a network's outputs). Its
//! leaves may also read the roots of a [`Nested`] compiled circuit, evaluated
//! in the probability algebra on weights taken from the same inputs, so a
//! formula can mix fuzzy truth with exact probabilities (`−log P(q)` as a
//! loss, or a t-norm over query probabilities).
//!
//! An [`ExprBuilder`] hash-conses nodes: ids are dense, children come before
//! parents (so id order is a topological order), and an equal `(op,
//! children)` pair is one node. Nothing is simplified: children keep their
//! order (it matters for [`Op::Implies`]) and their repetitions (under the
//! product t-norm `a ∧ a` is `a²`, not `a`).
//!
//! An [`ExprEvaluator`] runs the circuit on a batch: inputs `[inputs × batch]`
//! row-major (row `i`, column `b` at `i * batch + b`), values
//! `[roots × batch]`, and, backward, the gradient of `Σ_{r,b} seed[r, b] ·
//! root_r[b]` with respect to the inputs, through the nested circuit too.
//! Node values are stored node-major with the batch innermost, so every
//! node's work is a loop over the batch that the compiler vectorises; batches
//! of [`PARALLEL_BATCH`] columns or more are cut into tiles that rayon runs
//! in parallel.
//!
//! Derivatives follow the usual conventions at kinks: an extremum (and the
//! Gödel connectives) hands its whole adjoint to the *first* child attaining
//! it; a clamped Łukasiewicz connective passes nothing on where it is
//! clamped; a p-mean whose value is 0 passes nothing on. Nodes whose adjoint
//! is 0 in every column of a tile pass nothing on either, so a node that no
//! seeded root reads never turns a gradient into `NaN`.
//!
//! ```
//! use deeplog_circuits::formula::{ExprBuilder, ExprEvaluator, Implication, Op};
//!
//! // ∀x (P(x) → Q(x)) over two constants: Reichenbach's implication,
//! // aggregated by LTN's p-mean error with p = 2.
//! let mut b = ExprBuilder::new(4); // input rows: P(a), P(b), Q(a), Q(b)
//! let [pa, pb, qa, qb] = [0, 1, 2, 3].map(|i| b.add(Op::Input(i), &[]).unwrap());
//! let ia = b.add(Op::Implies(Implication::Reichenbach), &[pa, qa]).unwrap();
//! let ib = b.add(Op::Implies(Implication::Reichenbach), &[pb, qb]).unwrap();
//! let all = b.add(Op::PMeanError(2.0), &[ia, ib]).unwrap();
//! let expr = b.finish(vec![all]);
//!
//! let eval = ExprEvaluator::new(&expr, None).unwrap();
//! let (values, grads) = eval.forward_backward(&[0.8, 0.5, 0.4, 1.0], 1, &[1.0]).unwrap();
//! // P(a) → Q(a) is 1 − 0.8 + 0.8·0.4 = 0.52, P(b) → Q(b) is 1.
//! let d = (0.48f64 * 0.48 / 2.0).sqrt();
//! assert!((values[0] - (1.0 - d)).abs() < 1e-12);
//! // ∂/∂Q(a) = ½ · (1 − 0.52) / d · P(a).
//! assert!((grads[2] - 0.5 * 0.48 / d * 0.8).abs() < 1e-12);
//! ```

use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Mutex;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};

use deeplog_semirings::fuzzy::negation;
pub use deeplog_semirings::fuzzy::{Implication, TNorm};
use deeplog_semirings::{NodeRows, Probability};

use crate::compile::SlotWeight;
use crate::eval::{scatter_columns, CpuEvaluator, EvalError, Weights};
use crate::layered::LayeredCircuit;
use deeplog_program::AtomId;

use crate::compile::CompileError;

mod kernels;

use kernels::*;

/// A node of an [`Expr`]: a dense index, children before parents.
pub type ExprId = u32;

/// Batches of at least this many columns are evaluated in parallel tiles.
pub const PARALLEL_BATCH: usize = 64;
/// Widest tile of a parallel evaluation.
const MAX_TILE: usize = 64;
/// Workspace budget per tile (node values and adjoints), in bytes; tiles
/// narrow to stay under it.
const TILE_BYTES: usize = 256 << 20;
/// "No node" in the builder's hash chains.
const NONE: ExprId = u32::MAX;

/// What a node computes from its children (`n` of them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Row `i` of the input matrix.
    Input(u32),
    Const(f64),
    /// Root `r` of the nested circuit, evaluated in the probability algebra.
    Nested(u32),
    /// 1 − x. One child.
    Not,
    /// t-norm over n ≥ 1 children: Gödel min; product Π; Łukasiewicz max(0, Σx − (n − 1)).
    And(TNorm),
    /// t-conorm: Gödel max; product 1 − Π(1 − x); Łukasiewicz min(1, Σx).
    Or(TNorm),
    /// Two children (a, b): Gödel: 1 if a ≤ b else b; Goguen: 1 if a ≤ b else b / a;
    /// Reichenbach: 1 − a + a·b; Łukasiewicz: min(1, 1 − a + b); Kleene–Dienes: max(1 − a, b).
    Implies(Implication),
    /// n-ary sum (aggregations and `+`).
    Sum,
    /// n-ary product (`*`).
    Product,
    /// n-ary maximum.
    Max,
    /// n-ary minimum.
    Min,
    /// LTN's generalised mean, p > 0: (1/n Σ x^p)^(1/p).
    PMean(f64),
    /// LTN's p-mean error: 1 − (1/n Σ (1 − x)^p)^(1/p).
    PMeanError(f64),
    /// Natural log of one child (for log-probability outputs and −log P losses).
    Ln,
    /// Two children (a, b): a / b (a conditional probability P(q ∧ E) / P(E)).
    Div,
}

/// How many children an op takes.
enum Arity {
    Leaf,
    One,
    Two,
    AtLeastOne,
}

impl Op {
    /// The op's name in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input(_) => "input",
            Op::Const(_) => "constant",
            Op::Nested(_) => "nested root",
            Op::Not => "not",
            Op::And(_) => "and",
            Op::Or(_) => "or",
            Op::Implies(_) => "implies",
            Op::Sum => "sum",
            Op::Product => "product",
            Op::Max => "max",
            Op::Min => "min",
            Op::PMean(_) => "p-mean",
            Op::PMeanError(_) => "p-mean error",
            Op::Ln => "ln",
            Op::Div => "div",
        }
    }

    fn arity(&self) -> Arity {
        match self {
            Op::Input(_) | Op::Const(_) | Op::Nested(_) => Arity::Leaf,
            Op::Not | Op::Ln => Arity::One,
            Op::Implies(_) | Op::Div => Arity::Two,
            Op::And(_) | Op::Or(_) | Op::Sum | Op::Product | Op::Max | Op::Min | Op::PMean(_) | Op::PMeanError(_) => {
                Arity::AtLeastOne
            }
        }
    }

    /// The op as plain bits, for hash-consing: constants and exponents
    /// compare by their bits (so `NaN` is one constant, `0.0` and `−0.0`
    /// are two).
    fn key(&self) -> (u8, u64) {
        match *self {
            Op::Input(i) => (0, i as u64),
            Op::Const(x) => (1, x.to_bits()),
            Op::Nested(r) => (2, r as u64),
            Op::Not => (3, 0),
            Op::And(t) => (4, t as u64),
            Op::Or(t) => (5, t as u64),
            Op::Implies(i) => (6, i as u64),
            Op::Sum => (7, 0),
            Op::Product => (8, 0),
            Op::Max => (9, 0),
            Op::Min => (10, 0),
            Op::PMean(p) => (11, p.to_bits()),
            Op::PMeanError(p) => (12, p.to_bits()),
            Op::Ln => (13, 0),
            Op::Div => (14, 0),
        }
    }
}

/// Why a formula circuit could not be built or evaluated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FormulaError {
    #[error("{op} takes {expected}, and was given {got}")]
    Arity { op: &'static str, expected: &'static str, got: usize },
    #[error("child {child} is not a node yet: the builder has {len} nodes")]
    UnknownChild { child: ExprId, len: usize },
    #[error("input row {input} is out of range: there are {num_inputs} input rows")]
    InputOutOfRange { input: u32, num_inputs: u32 },
    #[error("the exponent of a p-mean must be finite and positive, not {p}")]
    BadExponent { p: f64 },
    #[error("the formula circuit is full: its {what} would not fit in 32-bit indices")]
    Capacity { what: &'static str },
    #[error("the formula reads root {root} of the nested circuit, which has {roots} roots")]
    NestedRoot { root: u32, roots: usize },
    #[error("the formula reads root {root} of a nested circuit, and none was given")]
    NoNested { root: u32 },
    #[error("the nested circuit has {slots} slots and {sources} slot sources")]
    SlotSources { slots: u32, sources: usize },
    #[error("slot {slot} of the nested circuit reads input row {input}, and there are {num_inputs} input rows")]
    SlotInput { slot: usize, input: u32, num_inputs: u32 },
    #[error("slot {slot} of the nested circuit is an empty chain")]
    EmptyChain { slot: usize },
    #[error("nested circuit: {0}")]
    Nested(#[from] EvalError),
    #[error("batch size must be at least 1")]
    EmptyBatch,
    #[error("inputs have {got} entries, expected {expected} ({rows} rows × batch {batch})")]
    InputShape { got: usize, expected: usize, rows: u32, batch: usize },
    #[error("seeds have {got} entries, expected {expected} ({roots} roots × batch {batch})")]
    SeedShape { got: usize, expected: usize, roots: usize, batch: usize },
    #[error("{}", CompileError::UnknownAtom { atom: *.atom, num_atoms: *.num_atoms })]
    UnknownAtom { atom: AtomId, num_atoms: usize },
    #[error("{}", CompileError::NotStratified { atom: *.atom, negated: *.negated })]
    NotStratified { atom: AtomId, negated: AtomId },
    #[error("{got} lists of choice input rows for {choices} choices")]
    ChoiceCount { got: usize, choices: usize },
    #[error("choice {choice} has {got} input rows, expected {expected} (one per alternative)")]
    ChoiceInputs { choice: usize, expected: usize, got: usize },
    #[error(
        "the fuzzy values exceed the limit of {max_nodes} formula nodes: at a strongly connected component of \
         {atoms} atoms (a cyclic component is unrolled over as many rounds) the circuit reached {nodes} nodes"
    )]
    TooLarge { atoms: usize, nodes: usize, max_nodes: usize },
}

impl FormulaError {
    /// The message, with each atom written by `name` (see
    /// [`CompileError::describe`]).
    pub fn describe(&self, name: impl Fn(AtomId) -> String) -> String {
        match *self {
            FormulaError::UnknownAtom { atom, num_atoms } => {
                CompileError::UnknownAtom { atom, num_atoms }.describe(name)
            }
            FormulaError::NotStratified { atom, negated } => {
                CompileError::NotStratified { atom, negated }.describe(name)
            }
            ref other => other.to_string(),
        }
    }
}

/// Builds an [`Expr`] node by node, hash-consing equal nodes.
#[derive(Clone, Debug)]
pub struct ExprBuilder {
    num_inputs: u32,
    ops: Vec<Op>,
    /// CSR: the children of node `i` are `children[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    children: Vec<ExprId>,
    /// Hash of `(op, children)` → the newest node with that hash; older ones
    /// follow `same_hash`, so the table holds no copy of any node.
    index: FxHashMap<u64, ExprId>,
    same_hash: Vec<ExprId>,
}

impl ExprBuilder {
    /// A builder whose [`Op::Input`] leaves read rows `0..num_inputs`.
    pub fn new(num_inputs: u32) -> Self {
        ExprBuilder {
            num_inputs,
            ops: Vec::new(),
            offsets: vec![0],
            children: Vec::new(),
            index: FxHashMap::default(),
            same_hash: Vec::new(),
        }
    }

    /// The node `op(children)`: an existing one if it was added before, else
    /// a new one whose id is [`len`](Self::len) before the call.
    pub fn add(&mut self, op: Op, children: &[ExprId]) -> Result<ExprId, FormulaError> {
        self.check(op, children)?;
        let mut hasher = FxHasher::default();
        op.key().hash(&mut hasher);
        children.hash(&mut hasher);
        let hash = hasher.finish();
        let mut at = self.index.get(&hash).copied().unwrap_or(NONE);
        while at != NONE {
            if self.ops[at as usize].key() == op.key() && self.children_of(at) == children {
                return Ok(at);
            }
            at = self.same_hash[at as usize];
        }
        if self.ops.len() >= NONE as usize {
            return Err(FormulaError::Capacity { what: "nodes" });
        }
        if self.children.len() + children.len() > u32::MAX as usize {
            return Err(FormulaError::Capacity { what: "edges" });
        }
        let id = self.ops.len() as ExprId;
        self.ops.push(op);
        self.children.extend_from_slice(children);
        self.offsets.push(self.children.len() as u32);
        self.same_hash.push(self.index.insert(hash, id).unwrap_or(NONE));
        Ok(id)
    }

    fn check(&self, op: Op, children: &[ExprId]) -> Result<(), FormulaError> {
        let got = children.len();
        let expected = match op.arity() {
            Arity::Leaf if got != 0 => Some("no children"),
            Arity::One if got != 1 => Some("one child"),
            Arity::Two if got != 2 => Some("two children"),
            Arity::AtLeastOne if got == 0 => Some("at least one child"),
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(FormulaError::Arity { op: op.name(), expected, got });
        }
        if let Some(&child) = children.iter().find(|&&c| c as usize >= self.ops.len()) {
            return Err(FormulaError::UnknownChild { child, len: self.ops.len() });
        }
        match op {
            Op::Input(input) if input >= self.num_inputs => {
                Err(FormulaError::InputOutOfRange { input, num_inputs: self.num_inputs })
            }
            Op::PMean(p) | Op::PMeanError(p) if !(p.is_finite() && p > 0.0) => Err(FormulaError::BadExponent { p }),
            _ => Ok(()),
        }
    }

    fn children_of(&self, id: ExprId) -> &[ExprId] {
        let i = id as usize;
        &self.children[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Number of nodes so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn num_inputs(&self) -> u32 {
        self.num_inputs
    }

    /// The finished circuit, whose outputs are `roots` (in that order,
    /// repetitions allowed).
    ///
    /// # Panics
    ///
    /// If a root is not a node of this builder.
    pub fn finish(self, roots: Vec<ExprId>) -> Expr {
        if let Some(&r) = roots.iter().find(|&&r| r as usize >= self.ops.len()) {
            panic!("root {r} is not a node: the builder has {} nodes", self.ops.len());
        }
        let num_nested = self
            .ops
            .iter()
            .filter_map(|op| if let Op::Nested(r) = *op { Some(r + 1) } else { None })
            .max()
            .unwrap_or(0);
        Expr {
            ops: self.ops,
            offsets: self.offsets,
            children: self.children,
            roots,
            num_inputs: self.num_inputs,
            num_nested,
        }
    }
}

/// A finished formula circuit: nodes in topological order as CSR arrays.
///
/// Invariants: every child id is smaller than its parent's; `offsets` has
/// one more entry than `ops` and does not decrease; arities are those of
/// [`Op`]; every root is a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    ops: Vec<Op>,
    offsets: Vec<u32>,
    children: Vec<ExprId>,
    roots: Vec<ExprId>,
    num_inputs: u32,
    /// One more than the largest [`Op::Nested`] root read, 0 if none.
    num_nested: u32,
}

impl Expr {
    pub fn num_nodes(&self) -> usize {
        self.ops.len()
    }
    pub fn num_edges(&self) -> usize {
        self.children.len()
    }
    pub fn roots(&self) -> &[ExprId] {
        &self.roots
    }
    pub fn num_inputs(&self) -> u32 {
        self.num_inputs
    }
    /// One more than the largest nested root the formula reads, 0 if none.
    pub fn num_nested(&self) -> u32 {
        self.num_nested
    }
    pub fn op(&self, node: usize) -> Op {
        self.ops[node]
    }
    #[inline(always)]
    pub fn children_of(&self, node: usize) -> &[ExprId] {
        &self.children[self.offsets[node] as usize..self.offsets[node + 1] as usize]
    }
}

/// A compiled circuit whose roots feed [`Op::Nested`], and where its slots'
/// probabilities come from.
#[derive(Clone, Debug)]
pub struct Nested {
    pub circuit: LayeredCircuit,
    /// One per slot of `circuit`.
    pub slots: Vec<SlotSource>,
}

/// Where a nested circuit's slot takes its probability from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotSource {
    /// The slot's probability is input row `i`.
    Input(u32),
    /// A link of an annotated disjunction's chain (see [`compile::lineage`](crate::compile::lineage)): rows of
    /// the alternatives up to and including this one, in order; the slot's probability is
    /// p_k / (1 − p_1 − … − p_{k−1}) (0 when the denominator is ≤ 0).
    Chain(Vec<u32>),
}

/// The sources of compiled slots (`slots`, as [`Compiled::slots`](crate::Compiled::slots) lists them) whose
/// choices' probabilities are the input rows `choice_rows` (one list per choice, one row per alternative, as
/// [`choice_inputs`](crate::fuzzy::choice_inputs) numbers them).
pub fn slot_sources(slots: &[SlotWeight], choice_rows: &[Vec<u32>]) -> Result<Vec<SlotSource>, FormulaError> {
    slots
        .iter()
        .map(|s| {
            let rows = choice_rows
                .get(s.choice)
                .ok_or(FormulaError::ChoiceCount { got: choice_rows.len(), choices: s.choice + 1 })?;
            let chain = rows.get(..=s.alternative).ok_or(FormulaError::ChoiceInputs {
                choice: s.choice,
                expected: s.alternative + 1,
                got: rows.len(),
            })?;
            // A chain's first link is p_1 / (1 − 0): the alternative's own row.
            Ok(match chain {
                [row] => SlotSource::Input(*row),
                _ => SlotSource::Chain(chain.to_vec()),
            })
        })
        .collect()
}

impl Nested {
    /// The slots' probabilities, `[slots × batch]`.
    pub fn weights(&self, inputs: &[f64], batch: usize) -> Vec<f64> {
        let mut w = vec![0.0; self.slots.len() * batch];
        for (out, source) in w.chunks_exact_mut(batch).zip(&self.slots) {
            match source {
                SlotSource::Input(i) => out.copy_from_slice(row(inputs, *i, batch)),
                SlotSource::Chain(rows) => {
                    let Some((&last, before)) = rows.split_last() else { continue };
                    for (b, o) in out.iter_mut().enumerate() {
                        let left = 1.0 - before.iter().map(|&j| inputs[j as usize * batch + b]).sum::<f64>();
                        *o = if left > 0.0 { inputs[last as usize * batch + b] / left } else { 0.0 };
                    }
                }
            }
        }
        w
    }

    /// Adds to `grads` (`[inputs × batch]`) the slot gradients `slot_grads`
    /// mapped back through the sources.
    pub fn add_slot_gradients(&self, inputs: &[f64], batch: usize, slot_grads: &[f64], grads: &mut [f64]) {
        for (g, source) in slot_grads.chunks_exact(batch).zip(&self.slots) {
            match source {
                SlotSource::Input(i) => accumulate(row_mut(grads, *i, batch), g),
                SlotSource::Chain(rows) => {
                    let Some((&last, before)) = rows.split_last() else { continue };
                    for (b, &g) in g.iter().enumerate() {
                        let left = 1.0 - before.iter().map(|&j| inputs[j as usize * batch + b]).sum::<f64>();
                        if left <= 0.0 {
                            continue;
                        }
                        grads[last as usize * batch + b] += g / left;
                        let d = g * inputs[last as usize * batch + b] / (left * left);
                        for &j in before {
                            grads[j as usize * batch + b] += d;
                        }
                    }
                }
            }
        }
    }
}

/// Evaluates one [`Expr`] (and its [`Nested`] circuit) many times.
pub struct ExprEvaluator<'e> {
    expr: &'e Expr,
    /// Present when the formula reads nested roots.
    nested: Option<(&'e Nested, CpuEvaluator<'e, Probability<f64>>)>,
    /// Workspaces of finished tiles, for the next ones: fresh buffers of
    /// this size cost page faults, and freeing them from several threads
    /// costs TLB shootdowns, more than the evaluation itself.
    pool: Mutex<Vec<Workspace>>,
}

impl<'e> ExprEvaluator<'e> {
    /// Refuses a formula that reads nested roots `nested` lacks, slot
    /// sources that do not fit the circuit or the inputs, and a nested
    /// circuit the probability algebra cannot evaluate.
    pub fn new(expr: &'e Expr, nested: Option<&'e Nested>) -> Result<Self, FormulaError> {
        let Some(n) = nested else {
            if expr.num_nested > 0 {
                return Err(FormulaError::NoNested { root: expr.num_nested - 1 });
            }
            return Ok(ExprEvaluator { expr, nested: None, pool: Mutex::default() });
        };
        let roots = n.circuit.num_roots();
        if expr.num_nested as usize > roots {
            return Err(FormulaError::NestedRoot { root: expr.num_nested - 1, roots });
        }
        if n.slots.len() != n.circuit.num_slots() as usize {
            return Err(FormulaError::SlotSources { slots: n.circuit.num_slots(), sources: n.slots.len() });
        }
        for (slot, source) in n.slots.iter().enumerate() {
            let rows = match source {
                SlotSource::Input(i) => std::slice::from_ref(i),
                SlotSource::Chain(rows) if rows.is_empty() => return Err(FormulaError::EmptyChain { slot }),
                SlotSource::Chain(rows) => rows,
            };
            if let Some(&input) = rows.iter().find(|&&i| i >= expr.num_inputs) {
                return Err(FormulaError::SlotInput { slot, input, num_inputs: expr.num_inputs });
            }
        }
        let eval = CpuEvaluator::new(&n.circuit)?;
        Ok(ExprEvaluator { expr, nested: (expr.num_nested > 0).then_some((n, eval)), pool: Mutex::default() })
    }

    pub fn expr(&self) -> &Expr {
        self.expr
    }

    /// Root values `[roots × batch]` for inputs `[inputs × batch]`.
    pub fn forward(&self, inputs: &[f64], batch: usize) -> Result<Vec<f64>, FormulaError> {
        self.check_inputs(inputs, batch)?;
        let nested = match &self.nested {
            Some((n, eval)) => eval.forward(&Weights::complementary(batch, n.weights(inputs, batch)))?,
            None => Vec::new(),
        };
        let expr = self.expr;
        let tiles = self.tiles(batch, 1);
        let parts = in_tiles(&tiles, batch, |range| {
            let width = range.len();
            let source = Source { inputs, nested: &nested, batch, start: range.start };
            let mut ws = self.workspace();
            let values = ws.values(expr.num_nodes() * width);
            forward_tile(expr, &source, width, values);
            let roots = read_roots(expr, values, width);
            self.give_back(ws);
            roots
        });
        Ok(scatter_columns(parts, &tiles, expr.roots.len(), batch))
    }

    /// Root values `[roots × batch]` and the gradient of
    /// `Σ_{r,b} seeds[r, b] · root_r[b]` with respect to the inputs,
    /// `[inputs × batch]`, the path through the nested circuit included.
    pub fn forward_backward(
        &self,
        inputs: &[f64],
        batch: usize,
        seeds: &[f64],
    ) -> Result<(Vec<f64>, Vec<f64>), FormulaError> {
        self.check_inputs(inputs, batch)?;
        let expr = self.expr;
        let roots = expr.roots.len();
        if seeds.len() != roots * batch {
            return Err(FormulaError::SeedShape { got: seeds.len(), expected: roots * batch, roots, batch });
        }
        let nested_weights = self.nested.as_ref().map(|(n, _)| Weights::complementary(batch, n.weights(inputs, batch)));
        let (nested, nested_roots) = match (&self.nested, &nested_weights) {
            (Some((_, eval)), Some(w)) => (eval.forward(w)?, eval.circuit().num_roots()),
            _ => (Vec::new(), 0),
        };
        let num_inputs = expr.num_inputs as usize;
        let tiles = self.tiles(batch, 2);
        let parts = in_tiles(&tiles, batch, |range| {
            let width = range.len();
            let source = Source { inputs, nested: &nested, batch, start: range.start };
            let mut ws = self.workspace();
            let n = expr.num_nodes() * width;
            forward_tile(expr, &source, width, ws.values(n));
            let root_values = read_roots(expr, &ws.values, width);
            ws.adjoints.clear();
            ws.adjoints.resize(n, 0.0);
            for (r, &root) in expr.roots.iter().enumerate() {
                for (a, column) in row_mut(&mut ws.adjoints, root, width).iter_mut().zip(range.clone()) {
                    *a += seeds[r * batch + column];
                }
            }
            let mut out =
                LeafAdjoints { inputs: vec![0.0; num_inputs * width], nested: vec![0.0; nested_roots * width] };
            backward_tile(expr, width, &mut ws, &mut out);
            self.give_back(ws);
            (root_values, out.inputs, out.nested)
        });
        let mut values = Vec::with_capacity(parts.len());
        let mut grads = Vec::with_capacity(parts.len());
        let mut nested_seeds = Vec::with_capacity(parts.len());
        for (v, g, n) in parts {
            values.push(v);
            grads.push(g);
            nested_seeds.push(n);
        }
        let values = scatter_columns(values, &tiles, roots, batch);
        let mut grads = scatter_columns(grads, &tiles, num_inputs, batch);
        if let (Some((n, eval)), Some(w)) = (&self.nested, &nested_weights) {
            let seeds = scatter_columns(nested_seeds, &tiles, nested_roots, batch);
            let (_, slot_grads) = eval.forward_backward_columns(w, &seeds)?;
            n.add_slot_gradients(inputs, batch, &slot_grads.positive, &mut grads);
        }
        Ok((values, grads))
    }

    fn workspace(&self) -> Workspace {
        self.pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default()
    }

    fn give_back(&self, ws: Workspace) {
        if let Ok(mut p) = self.pool.lock() {
            p.push(ws);
        }
    }

    fn check_inputs(&self, inputs: &[f64], batch: usize) -> Result<(), FormulaError> {
        if batch == 0 {
            return Err(FormulaError::EmptyBatch);
        }
        let rows = self.expr.num_inputs;
        let expected = rows as usize * batch;
        if inputs.len() != expected {
            return Err(FormulaError::InputShape { got: inputs.len(), expected, rows, batch });
        }
        Ok(())
    }

    /// Column ranges of the tiles for `batch`, each needing `rows_per_node`
    /// rows of workspace per node.
    fn tiles(&self, batch: usize, rows_per_node: usize) -> Vec<Range<usize>> {
        let row_bytes = (self.expr.num_nodes() * rows_per_node).max(1) * std::mem::size_of::<f64>();
        let by_memory = (TILE_BYTES / row_bytes).max(1);
        let width = if batch < PARALLEL_BATCH {
            batch
        } else {
            batch.div_ceil(rayon::current_num_threads().max(1)).min(MAX_TILE)
        };
        let width = width.min(by_memory);
        (0..batch).step_by(width).map(|s| s..(s + width).min(batch)).collect()
    }
}

#[cfg(test)]
mod tests;
