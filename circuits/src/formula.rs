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

/// `run` on every tile: in parallel for a large batch, in order otherwise (a
/// small batch never starts rayon's pool).
fn in_tiles<T: Send>(tiles: &[Range<usize>], batch: usize, run: impl Fn(&Range<usize>) -> T + Sync + Send) -> Vec<T> {
    if batch >= PARALLEL_BATCH && tiles.len() > 1 {
        tiles.par_iter().map(run).collect()
    } else {
        tiles.iter().map(run).collect()
    }
}

/// Where the leaves of a tile read from: the full input and nested-root
/// matrices, and the tile's first column.
struct Source<'a> {
    inputs: &'a [f64],
    nested: &'a [f64],
    batch: usize,
    start: usize,
}

impl Source<'_> {
    fn input(&self, i: u32, width: usize) -> &[f64] {
        &self.inputs[i as usize * self.batch + self.start..][..width]
    }
    fn nested(&self, r: u32, width: usize) -> &[f64] {
        &self.nested[r as usize * self.batch + self.start..][..width]
    }
}

/// One tile's rows: node values, node adjoints, and room for intermediate
/// rows of the reverse pass.
#[derive(Default)]
struct Workspace {
    values: Vec<f64>,
    adjoints: Vec<f64>,
    scratch: Vec<f64>,
}

impl Workspace {
    /// The first `n` values. The forward pass writes every row before it
    /// reads it, so a reused buffer needs no clearing.
    fn values(&mut self, n: usize) -> &mut [f64] {
        if self.values.len() < n {
            self.values.resize(n, 0.0);
        }
        &mut self.values[..n]
    }
}

/// What the reverse pass hands out of a tile: adjoints of the input rows and
/// of the nested roots, `[rows × width]`.
struct LeafAdjoints {
    inputs: Vec<f64>,
    nested: Vec<f64>,
}

#[inline(always)]
fn row(m: &[f64], i: u32, width: usize) -> &[f64] {
    &m[i as usize * width..][..width]
}

#[inline(always)]
fn row_mut(m: &mut [f64], i: u32, width: usize) -> &mut [f64] {
    &mut m[i as usize * width..][..width]
}

/// `a += g`, elementwise.
#[inline(always)]
fn accumulate(a: &mut [f64], g: &[f64]) {
    for (a, &g) in a.iter_mut().zip(g) {
        *a += g;
    }
}

fn read_roots(expr: &Expr, values: &[f64], width: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(expr.roots.len() * width);
    for &r in &expr.roots {
        out.extend_from_slice(row(values, r, width));
    }
    out
}

/// The forward pass over a tile of `width` columns, one row per node.
fn forward_tile(expr: &Expr, source: &Source<'_>, width: usize, values: &mut [f64]) {
    // The same loop twice: inlined with a constant width of 1, every row
    // operation becomes a scalar one.
    if width == 1 {
        forward_rows(expr, source, 1, values);
    } else {
        forward_rows(expr, source, width, values);
    }
}

#[inline(always)]
fn forward_rows(expr: &Expr, source: &Source<'_>, width: usize, values: &mut [f64]) {
    for (node, &op) in expr.ops.iter().enumerate() {
        let (earlier, rest) = values.split_at_mut(node * width);
        let earlier = &*earlier;
        let out = &mut rest[..width];
        let cs = expr.children_of(node);
        let n = cs.len() as f64;
        match op {
            Op::Input(i) => out.copy_from_slice(source.input(i, width)),
            Op::Const(x) => out.fill(x),
            Op::Nested(r) => out.copy_from_slice(source.nested(r, width)),
            Op::Not => map(out, row(earlier, cs[0], width), negation),
            Op::Ln => map(out, row(earlier, cs[0], width), f64::ln),
            Op::Div => {
                let (a, b) = (row(earlier, cs[0], width), row(earlier, cs[1], width));
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    *o = a / b;
                }
            }
            Op::Sum => fold(out, earlier, cs, |x| x, |s, x| s + x),
            Op::Product => fold(out, earlier, cs, |x| x, |s, x| s * x),
            Op::Max => fold(out, earlier, cs, |x| x, f64::max),
            Op::Min => fold(out, earlier, cs, |x| x, f64::min),
            Op::And(t) => t.and_rows(out, earlier, cs, width),
            Op::Or(t) => t.or_rows(out, earlier, cs, width),
            Op::Implies(kind) => {
                let (a, b) = (row(earlier, cs[0], width), row(earlier, cs[1], width));
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    *o = kind.apply(a, b);
                }
            }
            Op::PMean(p) => {
                fold(out, earlier, cs, |x| pow(x, p), |s, x| s + pow(x, p));
                out.iter_mut().for_each(|v| *v = pow(*v / n, 1.0 / p));
            }
            Op::PMeanError(p) => {
                fold(out, earlier, cs, |x| pow(1.0 - x, p), |s, x| s + pow(1.0 - x, p));
                out.iter_mut().for_each(|v| *v = 1.0 - pow(*v / n, 1.0 / p));
            }
        }
    }
}

/// `x^p`. The common exponents of p-means are multiplications or a square
/// root: `powf` costs about 20 ns, which a p-mean over a million formulas
/// pays once per formula and pass.
#[inline(always)]
fn pow(x: f64, p: f64) -> f64 {
    if p == 1.0 {
        x
    } else if p == 2.0 {
        x * x
    } else if p == 0.5 {
        x.sqrt()
    } else if p == -1.0 {
        1.0 / x
    } else if p == p.trunc() && p.abs() <= 16.0 {
        x.powi(p as i32)
    } else {
        x.powf(p)
    }
}

/// `out = f(x)`, elementwise.
#[inline(always)]
fn map(out: &mut [f64], x: &[f64], f: impl Fn(f64) -> f64) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = f(x);
    }
}

/// `out = step(…step(init(x_0), x_1)…, x_{n−1})` over the rows of children
/// `cs`, elementwise.
#[inline(always)]
fn fold(out: &mut [f64], rows: &[f64], cs: &[ExprId], init: impl Fn(f64) -> f64, step: impl Fn(f64, f64) -> f64) {
    let width = out.len();
    map(out, row(rows, cs[0], width), init);
    for &c in &cs[1..] {
        for (o, &x) in out.iter_mut().zip(row(rows, c, width)) {
            *o = step(*o, x);
        }
    }
}

/// The reverse pass over a tile whose node values are in `ws` and whose root
/// adjoints are seeded there.
fn backward_tile(expr: &Expr, width: usize, ws: &mut Workspace, out: &mut LeafAdjoints) {
    let Workspace { values, adjoints, scratch } = ws;
    if width == 1 {
        backward_rows(expr, values, 1, adjoints, scratch, out);
    } else {
        backward_rows(expr, values, width, adjoints, scratch, out);
    }
}

#[inline(always)]
fn backward_rows(
    expr: &Expr,
    values: &[f64],
    width: usize,
    adjoints: &mut [f64],
    scratch: &mut Vec<f64>,
    out: &mut LeafAdjoints,
) {
    for (node, &op) in expr.ops.iter().enumerate().rev() {
        let (earlier, rest) = adjoints.split_at_mut(node * width);
        let g = &rest[..width];
        if g.iter().all(|&g| g == 0.0) {
            continue;
        }
        let v = row(values, node as ExprId, width);
        let cs = expr.children_of(node);
        let n = cs.len() as f64;
        match op {
            Op::Input(i) => accumulate(row_mut(&mut out.inputs, i, width), g),
            Op::Nested(r) => accumulate(row_mut(&mut out.nested, r, width), g),
            Op::Const(_) => {}
            Op::Not => {
                for (a, &g) in row_mut(earlier, cs[0], width).iter_mut().zip(g) {
                    *a -= g;
                }
            }
            Op::Ln => {
                let x = row(values, cs[0], width);
                for ((a, &g), &x) in row_mut(earlier, cs[0], width).iter_mut().zip(g).zip(x) {
                    *a += g / x;
                }
            }
            Op::Div => {
                // One pass per operand: `a / a` has one child twice.
                let (a, b) = (row(values, cs[0], width), row(values, cs[1], width));
                for ((d, &g), &b) in row_mut(earlier, cs[0], width).iter_mut().zip(g).zip(b) {
                    *d += g / b;
                }
                for (((d, &g), &a), &b) in row_mut(earlier, cs[1], width).iter_mut().zip(g).zip(a).zip(b) {
                    *d -= g * a / (b * b);
                }
            }
            Op::Sum => {
                for &c in cs {
                    accumulate(row_mut(earlier, c, width), g);
                }
            }
            Op::Product => exclusive_products(earlier, values, cs, g, scratch),
            Op::And(t) | Op::Or(t) => {
                let node = NodeRows { out: v, rows: values, children: cs, width };
                let d = scratch_row(scratch, cs.len() * width);
                if let Op::And(_) = op {
                    t.and_derivatives(node, d);
                } else {
                    t.or_derivatives(node, d);
                }
                // A child whose derivative is 0 gets nothing, even from an
                // infinite adjoint (a clamped or unselected child).
                for (&c, d) in cs.iter().zip(d.chunks_exact(width)) {
                    for ((a, &g), &d) in row_mut(earlier, c, width).iter_mut().zip(g).zip(d) {
                        *a += if d == 0.0 { 0.0 } else { g * d };
                    }
                }
            }
            Op::Max | Op::Min => {
                for (b, (&v, &g)) in v.iter().zip(g).enumerate() {
                    if let Some(&c) = cs.iter().find(|&&c| values[c as usize * width + b] == v) {
                        earlier[c as usize * width + b] += g;
                    }
                }
            }
            Op::Implies(kind) => {
                // One pass per operand: `a → a` has one child twice.
                let (a, b) = (row(values, cs[0], width), row(values, cs[1], width));
                for (((d, &g), &a), &b) in row_mut(earlier, cs[0], width).iter_mut().zip(g).zip(a).zip(b) {
                    *d += g * kind.derivatives(a, b).0;
                }
                for (((d, &g), &a), &b) in row_mut(earlier, cs[1], width).iter_mut().zip(g).zip(a).zip(b) {
                    *d += g * kind.derivatives(a, b).1;
                }
            }
            Op::PMean(p) => {
                // ∂M/∂x_i = (1/n) x_i^(p−1) M^(1−p), 0 where M = 0.
                let f = scratch_row(scratch, width);
                for ((f, &g), &m) in f.iter_mut().zip(g).zip(v) {
                    *f = if m == 0.0 { 0.0 } else { g * pow(m, 1.0 - p) / n };
                }
                for &c in cs {
                    let x = row(values, c, width);
                    for ((a, &f), &x) in row_mut(earlier, c, width).iter_mut().zip(f.iter()).zip(x) {
                        *a += if f == 0.0 { 0.0 } else { f * pow(x, p - 1.0) };
                    }
                }
            }
            Op::PMeanError(p) => {
                // E = 1 − D: ∂E/∂x_i = (1/n) (1 − x_i)^(p−1) D^(1−p), 0 where
                // D = 0. D is recomputed: 1 − E loses its small values.
                let f = scratch_row(scratch, width);
                fold(f, values, cs, |x| pow(1.0 - x, p), |s, x| s + pow(1.0 - x, p));
                for (f, &g) in f.iter_mut().zip(g) {
                    let d = pow(*f / n, 1.0 / p);
                    *f = if d == 0.0 { 0.0 } else { g * pow(d, 1.0 - p) / n };
                }
                for &c in cs {
                    let x = row(values, c, width);
                    for ((a, &f), &x) in row_mut(earlier, c, width).iter_mut().zip(f.iter()).zip(x) {
                        *a += if f == 0.0 { 0.0 } else { f * pow(1.0 - x, p - 1.0) };
                    }
                }
            }
        }
    }
}

/// The first `width` entries of `scratch`, grown if needed.
#[inline(always)]
fn scratch_row(scratch: &mut Vec<f64>, width: usize) -> &mut [f64] {
    if scratch.len() < width {
        scratch.resize(width, 0.0);
    }
    &mut scratch[..width]
}

/// `adj[c_i] += g · Π_{j≠i} x_j` for every child, from prefix and suffix
/// products (exact where some `x_j` is 0, unlike dividing the product).
#[inline(always)]
fn exclusive_products(adjoints: &mut [f64], values: &[f64], cs: &[ExprId], g: &[f64], scratch: &mut Vec<f64>) {
    let width = g.len();
    let n = cs.len();
    if scratch.len() < (n + 1) * width {
        scratch.resize((n + 1) * width, 0.0);
    }
    // Row 0: g times the prefix product; row i + 1: Π_{j>i} f(x_j).
    let (prefix, suffix) = scratch.split_at_mut(width);
    suffix[(n - 1) * width..n * width].fill(1.0);
    for i in (0..n - 1).rev() {
        let (head, tail) = suffix.split_at_mut((i + 1) * width);
        let x = row(values, cs[i + 1], width);
        for ((s, &t), &x) in head[i * width..].iter_mut().zip(&tail[..width]).zip(x) {
            *s = t * x;
        }
    }
    prefix.copy_from_slice(g);
    for (i, &c) in cs.iter().enumerate() {
        let s = &suffix[i * width..(i + 1) * width];
        for ((a, &p), &s) in row_mut(adjoints, c, width).iter_mut().zip(prefix.iter()).zip(s) {
            *a += p * s;
        }
        for (p, &x) in prefix.iter_mut().zip(row(values, c, width)) {
            *p *= x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{compile, Budget};
    use crate::fuzzy::choice_inputs;
    use crate::testing::Rng;
    use deeplog_program::{Choice, GroundProgram, Rule};

    /// `op` over the inputs `xs` (one child per input, in order).
    fn value(op: Op, xs: &[f64]) -> f64 {
        let mut b = ExprBuilder::new(xs.len() as u32);
        let children: Vec<ExprId> = (0..xs.len() as u32).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
        let node = b.add(op, &children).unwrap();
        let expr = b.finish(vec![node]);
        ExprEvaluator::new(&expr, None).unwrap().forward(xs, 1).unwrap()[0]
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// The gradient of `Σ seeds · roots` against central differences.
    fn assert_gradients(eval: &ExprEvaluator, inputs: &[f64], batch: usize, seeds: &[f64]) {
        let (values, grads) = eval.forward_backward(inputs, batch, seeds).unwrap();
        assert_eq!(values, eval.forward(inputs, batch).unwrap());
        let objective = |x: &[f64]| eval.forward(x, batch).unwrap().iter().zip(seeds).map(|(v, s)| v * s).sum::<f64>();
        let h = 1e-6;
        for i in 0..inputs.len() {
            let mut x = inputs.to_vec();
            x[i] = inputs[i] + h;
            let up = objective(&x);
            x[i] = inputs[i] - h;
            let down = objective(&x);
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - grads[i]).abs() <= 1e-6 * fd.abs().max(1.0),
                "input {i} (row {}, column {}): finite differences {fd}, gradient {}",
                i / batch,
                i % batch,
                grads[i]
            );
        }
    }

    fn random_unit(rng: &mut Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| 0.1 + 0.8 * rng.unit()).collect()
    }

    #[test]
    fn connectives_agree_with_boolean_logic_on_0_and_1() {
        for a in [false, true] {
            for b in [false, true] {
                let xs = [a as u8 as f64, b as u8 as f64];
                for t in TNorm::ALL {
                    assert_eq!(value(Op::And(t), &xs), (a && b) as u8 as f64, "{t:?} {a} ∧ {b}");
                    assert_eq!(value(Op::Or(t), &xs), (a || b) as u8 as f64, "{t:?} {a} ∨ {b}");
                    for c in [false, true] {
                        let xs = [xs[0], xs[1], c as u8 as f64];
                        assert_eq!(value(Op::And(t), &xs), (a && b && c) as u8 as f64);
                        assert_eq!(value(Op::Or(t), &xs), (a || b || c) as u8 as f64);
                    }
                }
                for i in Implication::ALL {
                    assert_eq!(value(Op::Implies(i), &xs), (!a || b) as u8 as f64, "{i:?} {a} → {b}");
                }
            }
            assert_eq!(value(Op::Not, &[a as u8 as f64]), (!a) as u8 as f64);
        }
    }

    #[test]
    fn hand_computed_values() {
        let ab = [0.8, 0.4];
        assert!(close(value(Op::Implies(Implication::Godel), &ab), 0.4));
        assert!(close(value(Op::Implies(Implication::Goguen), &ab), 0.5));
        assert!(close(value(Op::Implies(Implication::Reichenbach), &ab), 0.52));
        assert!(close(value(Op::Implies(Implication::Lukasiewicz), &ab), 0.6));
        assert!(close(value(Op::Implies(Implication::KleeneDienes), &ab), 0.4));
        assert_eq!(value(Op::Implies(Implication::Goguen), &[0.4, 0.8]), 1.0);
        assert!(close(value(Op::Implies(Implication::KleeneDienes), &[0.3, 0.4]), 0.7));

        let xy = [0.7, 0.6];
        assert!(close(value(Op::And(TNorm::Godel), &xy), 0.6));
        assert!(close(value(Op::And(TNorm::Product), &xy), 0.42));
        assert!(close(value(Op::And(TNorm::Lukasiewicz), &xy), 0.3));
        assert!(close(value(Op::Or(TNorm::Godel), &xy), 0.7));
        assert!(close(value(Op::Or(TNorm::Product), &xy), 0.88));
        assert_eq!(value(Op::Or(TNorm::Lukasiewicz), &xy), 1.0);
        assert!(close(value(Op::Or(TNorm::Lukasiewicz), &[0.2, 0.3]), 0.5));
        assert_eq!(value(Op::And(TNorm::Lukasiewicz), &[0.3, 0.4]), 0.0);
        assert!(close(value(Op::And(TNorm::Lukasiewicz), &[0.9, 0.8, 0.7]), 0.4));

        assert!(close(value(Op::PMean(2.0), &[0.2, 0.8]), 0.34f64.sqrt()));
        assert!(close(value(Op::PMean(1.0), &[0.2, 0.8, 0.5]), 0.5));
        assert!(close(value(Op::PMeanError(2.0), &[0.2, 0.8]), 1.0 - 0.34f64.sqrt()));
        assert!(close(value(Op::PMeanError(1.0), &[0.2, 0.8, 0.5]), 0.5));

        let xs = [0.5, 0.25, 2.0];
        assert!(close(value(Op::Sum, &xs), 2.75));
        assert!(close(value(Op::Product, &xs), 0.25));
        assert_eq!(value(Op::Max, &xs), 2.0);
        assert_eq!(value(Op::Min, &xs), 0.25);
        assert!(close(value(Op::Not, &[0.3]), 0.7));
        assert!(close(value(Op::Ln, &[0.5]), -std::f64::consts::LN_2));
        assert_eq!(value(Op::Ln, &[0.0]), f64::NEG_INFINITY);
        assert!(close(value(Op::Div, &[0.3, 0.6]), 0.5));
        assert_eq!(value(Op::Const(0.25), &[]), 0.25);
    }

    /// One root per op and shape, over four inputs.
    fn every_op() -> Expr {
        let mut b = ExprBuilder::new(4);
        let x: Vec<ExprId> = (0..4).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
        let mut roots = Vec::new();
        let mut root = |b: &mut ExprBuilder, op: Op, cs: &[ExprId]| roots.push(b.add(op, cs).unwrap());
        root(&mut b, Op::Not, &[x[0]]);
        root(&mut b, Op::Ln, &[x[1]]);
        root(&mut b, Op::Div, &[x[2], x[3]]);
        root(&mut b, Op::Div, &[x[0], x[0]]);
        root(&mut b, Op::Sum, &[x[0], x[1], x[2], x[0]]);
        root(&mut b, Op::Product, &[x[0], x[1], x[2], x[0]]);
        root(&mut b, Op::Product, &[x[3]]);
        root(&mut b, Op::Max, &[x[0], x[1], x[2]]);
        root(&mut b, Op::Min, &[x[1], x[2], x[3]]);
        for t in TNorm::ALL {
            root(&mut b, Op::And(t), &[x[0], x[1]]);
            root(&mut b, Op::And(t), &[x[1], x[2], x[3]]);
            root(&mut b, Op::And(t), &[x[2], x[2]]);
            root(&mut b, Op::Or(t), &[x[0], x[1]]);
            root(&mut b, Op::Or(t), &[x[1], x[2], x[3]]);
            root(&mut b, Op::Or(t), &[x[3], x[3]]);
        }
        for i in Implication::ALL {
            root(&mut b, Op::Implies(i), &[x[0], x[1]]);
            root(&mut b, Op::Implies(i), &[x[2], x[3]]);
            root(&mut b, Op::Implies(i), &[x[1], x[1]]);
        }
        for p in [0.5, 1.0, 2.0, 3.5] {
            root(&mut b, Op::PMean(p), &[x[0], x[1], x[2]]);
            root(&mut b, Op::PMeanError(p), &[x[1], x[2], x[3], x[1]]);
        }
        b.finish(roots)
    }

    #[test]
    fn every_op_has_the_gradient_of_finite_differences() {
        let expr = every_op();
        let eval = ExprEvaluator::new(&expr, None).unwrap();
        let mut rng = Rng(7);
        for batch in [1, 5] {
            for _ in 0..20 {
                let inputs = random_unit(&mut rng, 4 * batch);
                let seeds: Vec<f64> = (0..expr.roots().len() * batch).map(|_| rng.unit() - 0.3).collect();
                assert_gradients(&eval, &inputs, batch, &seeds);
            }
        }
    }

    /// A random DAG of fuzzy ops over `inputs` rows, values in [0, 1].
    fn random_expr(rng: &mut Rng, inputs: u32, nodes: usize) -> Expr {
        let mut b = ExprBuilder::new(inputs);
        let mut ids: Vec<ExprId> = (0..inputs).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
        for _ in 0..nodes {
            let op = match rng.below(9) {
                0 => Op::Not,
                1 => Op::And(TNorm::ALL[rng.below(3)]),
                2 => Op::Or(TNorm::ALL[rng.below(3)]),
                3 => Op::Implies(Implication::ALL[rng.below(5)]),
                4 => Op::Max,
                5 => Op::Min,
                6 => Op::Product,
                7 => Op::PMean(1.0 + 2.0 * rng.unit()),
                _ => Op::PMeanError(1.0 + 2.0 * rng.unit()),
            };
            let arity = match op {
                Op::Not => 1,
                Op::Implies(_) => 2,
                _ => 1 + rng.below(3),
            };
            let children: Vec<ExprId> = (0..arity).map(|_| ids[rng.below(ids.len())]).collect();
            ids.push(b.add(op, &children).unwrap());
        }
        let n = ids.len();
        b.finish(vec![ids[n - 1], ids[n - 2], ids[rng.below(n)]])
    }

    #[test]
    fn random_formulas_have_the_gradient_of_finite_differences() {
        for seed in 0..30 {
            let mut rng = Rng(seed);
            let expr = random_expr(&mut rng, 5, 40);
            let eval = ExprEvaluator::new(&expr, None).unwrap();
            for batch in [1, 5] {
                let inputs = random_unit(&mut rng, 5 * batch);
                let seeds: Vec<f64> = (0..3 * batch).map(|_| rng.unit() + 0.1).collect();
                assert_gradients(&eval, &inputs, batch, &seeds);
            }
        }
    }

    #[test]
    fn zero_factors_and_ties_have_exact_gradients() {
        let mut b = ExprBuilder::new(3);
        let x: Vec<ExprId> = (0..3).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
        let product = b.add(Op::Product, &x).unwrap();
        let or = b.add(Op::Or(TNorm::Product), &x).unwrap();
        let max = b.add(Op::Max, &[x[1], x[0], x[2]]).unwrap();
        let min = b.add(Op::And(TNorm::Godel), &[x[2], x[0], x[1]]).unwrap();
        let mean = b.add(Op::PMean(0.5), &[x[1], x[1]]).unwrap();
        let expr = b.finish(vec![product, or, max, min, mean]);
        let eval = ExprEvaluator::new(&expr, None).unwrap();
        let grad = |root: usize, inputs: &[f64]| {
            let mut seeds = vec![0.0; 5];
            seeds[root] = 1.0;
            eval.forward_backward(inputs, 1, &seeds).unwrap().1
        };
        // ∂(x0·x1·x2)/∂x1 = x0·x2 even though x1 = 0.
        assert_eq!(grad(0, &[0.5, 0.0, 0.25]), vec![0.0, 0.125, 0.0]);
        // ∂(1 − Π(1 − x))/∂x1 = (1 − x0)(1 − x2) even though x1 = 1.
        assert_eq!(grad(1, &[0.5, 1.0, 0.75]), vec![0.0, 0.125, 0.0]);
        // Ties: the whole adjoint to the first child attaining the extremum.
        assert_eq!(grad(2, &[0.5, 0.5, 0.25]), vec![0.0, 1.0, 0.0]);
        assert_eq!(grad(3, &[0.25, 0.5, 0.25]), vec![0.0, 0.0, 1.0]);
        // A p-mean of zeros passes nothing on, even where x^(p − 1) is infinite.
        assert_eq!(grad(4, &[0.5, 0.0, 0.5]), vec![0.0, 0.0, 0.0]);
    }

    #[test]
    fn equal_nodes_are_shared_and_nothing_else_is() {
        let mut b = ExprBuilder::new(2);
        let (x, y) = (b.add(Op::Input(0), &[]).unwrap(), b.add(Op::Input(1), &[]).unwrap());
        assert_eq!(b.add(Op::Input(0), &[]).unwrap(), x);
        let xy = b.add(Op::Implies(Implication::Goguen), &[x, y]).unwrap();
        assert_eq!(b.add(Op::Implies(Implication::Goguen), &[x, y]).unwrap(), xy);
        assert_ne!(b.add(Op::Implies(Implication::Goguen), &[y, x]).unwrap(), xy);
        assert_ne!(b.add(Op::Implies(Implication::Godel), &[x, y]).unwrap(), xy);
        assert_ne!(b.add(Op::And(TNorm::Product), &[x, x]).unwrap(), x);
        assert_ne!(b.add(Op::Const(0.0), &[]).unwrap(), b.add(Op::Const(-0.0), &[]).unwrap());
        assert_ne!(b.add(Op::PMean(2.0), &[x, y]).unwrap(), b.add(Op::PMean(3.0), &[x, y]).unwrap());
        let len = b.len();
        assert_eq!(b.add(Op::Const(f64::NAN), &[]).unwrap(), b.add(Op::Const(f64::NAN), &[]).unwrap());
        assert_eq!(b.len(), len + 1);
        // In product logic x ∧ x is x², not x.
        let square = b.add(Op::And(TNorm::Product), &[x, x]).unwrap();
        let expr = b.finish(vec![square]);
        assert_eq!(expr.children_of(square as usize), &[x, x]);
        assert_eq!(ExprEvaluator::new(&expr, None).unwrap().forward(&[0.5, 0.1], 1).unwrap(), vec![0.25]);
    }

    #[test]
    fn malformed_nodes_are_errors() {
        let mut b = ExprBuilder::new(2);
        let x = b.add(Op::Input(0), &[]).unwrap();
        assert!(matches!(b.add(Op::Not, &[x, x]), Err(FormulaError::Arity { op: "not", got: 2, .. })));
        assert!(matches!(b.add(Op::Ln, &[]), Err(FormulaError::Arity { op: "ln", got: 0, .. })));
        assert!(matches!(b.add(Op::Implies(Implication::Godel), &[x]), Err(FormulaError::Arity { got: 1, .. })));
        assert!(matches!(b.add(Op::And(TNorm::Product), &[]), Err(FormulaError::Arity { got: 0, .. })));
        assert!(matches!(b.add(Op::Max, &[]), Err(FormulaError::Arity { got: 0, .. })));
        assert!(matches!(b.add(Op::Div, &[x]), Err(FormulaError::Arity { op: "div", got: 1, .. })));
        assert!(matches!(b.add(Op::Const(1.0), &[x]), Err(FormulaError::Arity { got: 1, .. })));
        assert_eq!(b.add(Op::Not, &[7]), Err(FormulaError::UnknownChild { child: 7, len: 1 }));
        assert_eq!(b.add(Op::Input(2), &[]), Err(FormulaError::InputOutOfRange { input: 2, num_inputs: 2 }));
        for p in [0.0, -1.0, f64::INFINITY] {
            assert_eq!(b.add(Op::PMean(p), &[x]), Err(FormulaError::BadExponent { p }));
            assert_eq!(b.add(Op::PMeanError(p), &[x]), Err(FormulaError::BadExponent { p }));
        }
        assert_eq!(b.len(), 1);
        let message = b.add(Op::Implies(Implication::Godel), &[x]).unwrap_err().to_string();
        assert_eq!(message, "implies takes two children, and was given 1");
    }

    #[test]
    fn shape_errors_are_errors() {
        let mut b = ExprBuilder::new(2);
        let x = b.add(Op::Input(0), &[]).unwrap();
        let expr = b.finish(vec![x, x]);
        let eval = ExprEvaluator::new(&expr, None).unwrap();
        assert_eq!(
            eval.forward(&[0.5; 3], 2),
            Err(FormulaError::InputShape { got: 3, expected: 4, rows: 2, batch: 2 })
        );
        assert_eq!(eval.forward(&[], 0), Err(FormulaError::EmptyBatch));
        assert_eq!(
            eval.forward_backward(&[0.5; 4], 2, &[1.0; 2]),
            Err(FormulaError::SeedShape { got: 2, expected: 4, roots: 2, batch: 2 })
        );
        // x is read by both roots: its gradient is the sum of their seeds.
        let (_, g) = eval.forward_backward(&[0.5, 0.1, 0.2, 0.3], 2, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(g, vec![4.0, 6.0, 0.0, 0.0]);
    }

    /// `0.2::x1; 0.3::x2; 0.4::x3.  0.6::f.  q :- x2, f.  r :- x1.  r :- x3, \+ f.`
    /// Atoms x1, x2, x3, f, q, r are 0..6; input rows p1, p2, p3, pf.
    fn nested_program() -> (GroundProgram, Nested) {
        let program = GroundProgram::propositional(
            6,
            vec![
                Rule { head: AtomId::new(4), body: vec![(AtomId::new(1), true), (AtomId::new(3), true)] },
                Rule { head: AtomId::new(5), body: vec![(AtomId::new(0), true)] },
                Rule { head: AtomId::new(5), body: vec![(AtomId::new(2), true), (AtomId::new(3), false)] },
            ],
            vec![
                Choice::Disjunction {
                    atoms: vec![(AtomId::new(0), 0.2), (AtomId::new(1), 0.3), (AtomId::new(2), 0.4)],
                },
                Choice::Fact { atom: AtomId::new(3), probability: 0.6 },
            ],
        );
        let compiled = compile(&program, &[AtomId::new(4), AtomId::new(5)], &[], &Budget::default()).unwrap();
        let rows = choice_inputs(&program);
        assert_eq!(rows, vec![vec![0, 1, 2], vec![3]]);
        let slots = slot_sources(&compiled.slots, &rows).unwrap();
        assert_eq!(
            slots,
            vec![
                SlotSource::Input(0),
                SlotSource::Chain(vec![0, 1]),
                SlotSource::Chain(vec![0, 1, 2]),
                SlotSource::Input(3)
            ]
        );
        (program, Nested { circuit: LayeredCircuit::new(&compiled.circuit), slots })
    }

    #[test]
    fn nested_circuits_give_probabilities_and_their_gradients() {
        let (_, nested) = nested_program();
        let mut b = ExprBuilder::new(4);
        let (q, r) = (b.add(Op::Nested(0), &[]).unwrap(), b.add(Op::Nested(1), &[]).unwrap());
        let pf = b.add(Op::Input(3), &[]).unwrap();
        let p1 = b.add(Op::Input(0), &[]).unwrap();
        let roots = vec![
            q,
            r,
            b.add(Op::And(TNorm::Product), &[q, pf]).unwrap(),
            b.add(Op::Ln, &[r]).unwrap(),
            b.add(Op::Sum, &[q, p1]).unwrap(),
            b.add(Op::Implies(Implication::Reichenbach), &[q, r]).unwrap(),
        ];
        let expr = b.finish(roots);
        assert_eq!(expr.num_nested(), 2);
        let eval = ExprEvaluator::new(&expr, Some(&nested)).unwrap();

        // P(q) = p2·pf, P(r) = p1 + p3·(1 − pf).
        let inputs = [0.2, 0.3, 0.4, 0.6];
        let v = eval.forward(&inputs, 1).unwrap();
        let expected = [0.18, 0.36, 0.108, 0.36f64.ln(), 0.38, 1.0 - 0.18 + 0.18 * 0.36];
        for (v, e) in v.iter().zip(expected) {
            assert!(close(*v, e), "{v} vs {e}");
        }
        let grad = |root: usize| {
            let mut seeds = vec![0.0; 6];
            seeds[root] = 1.0;
            eval.forward_backward(&inputs, 1, &seeds).unwrap().1
        };
        let expected = [[0.0, 0.6, 0.0, 0.3], [1.0, 0.0, 0.4, -0.4]];
        for (root, expected) in expected.iter().enumerate() {
            for (g, e) in grad(root).iter().zip(expected) {
                assert!(close(*g, *e), "root {root}: {g} vs {e}");
            }
        }

        let mut rng = Rng(11);
        for batch in [1, 5] {
            for _ in 0..10 {
                let mut inputs = vec![0.0; 4 * batch];
                for b in 0..batch {
                    // An annotated disjunction's probabilities sum below 1.
                    let (a, c, d) = (rng.unit(), rng.unit(), rng.unit());
                    let scale = 0.95 / (a + c + d + rng.unit());
                    for (row, p) in [a * scale, c * scale, d * scale, 0.05 + 0.9 * rng.unit()].into_iter().enumerate() {
                        inputs[row * batch + b] = p;
                    }
                }
                let seeds: Vec<f64> = (0..6 * batch).map(|_| rng.unit() - 0.5).collect();
                assert_gradients(&eval, &inputs, batch, &seeds);
            }
        }
    }

    #[test]
    fn nested_roots_and_slots_are_checked() {
        let (_, nested) = nested_program();
        let mut b = ExprBuilder::new(4);
        let far = b.add(Op::Nested(2), &[]).unwrap();
        let expr = b.finish(vec![far]);
        assert_eq!(ExprEvaluator::new(&expr, None).err(), Some(FormulaError::NoNested { root: 2 }));
        assert_eq!(
            ExprEvaluator::new(&expr, Some(&nested)).err(),
            Some(FormulaError::NestedRoot { root: 2, roots: 2 })
        );

        let mut b = ExprBuilder::new(4);
        let q = b.add(Op::Nested(0), &[]).unwrap();
        let expr = b.finish(vec![q]);
        let mut short = nested.clone();
        short.slots.pop();
        assert_eq!(
            ExprEvaluator::new(&expr, Some(&short)).err(),
            Some(FormulaError::SlotSources { slots: 4, sources: 3 })
        );
        let mut wide = nested.clone();
        wide.slots[2] = SlotSource::Chain(vec![0, 9]);
        assert_eq!(
            ExprEvaluator::new(&expr, Some(&wide)).err(),
            Some(FormulaError::SlotInput { slot: 2, input: 9, num_inputs: 4 })
        );
        let mut empty = nested;
        empty.slots[1] = SlotSource::Chain(vec![]);
        assert_eq!(ExprEvaluator::new(&expr, Some(&empty)).err(), Some(FormulaError::EmptyChain { slot: 1 }));
    }

    #[test]
    fn large_batches_agree_with_their_columns() {
        let (_, nested) = nested_program();
        let mut rng = Rng(5);
        let mut b = ExprBuilder::new(4);
        let q = b.add(Op::Nested(1), &[]).unwrap();
        let x = b.add(Op::Input(3), &[]).unwrap();
        let y = b.add(Op::Input(1), &[]).unwrap();
        let and = b.add(Op::And(TNorm::Lukasiewicz), &[q, x, y]).unwrap();
        let all = b.add(Op::PMeanError(2.0), &[and, q, x]).unwrap();
        let expr = b.finish(vec![all, and]);
        let eval = ExprEvaluator::new(&expr, Some(&nested)).unwrap();
        let batch = 150;
        let inputs: Vec<f64> = (0..4 * batch).map(|_| 0.24 * rng.unit()).collect();
        let seeds: Vec<f64> = (0..2 * batch).map(|_| rng.unit()).collect();
        let (values, grads) = eval.forward_backward(&inputs, batch, &seeds).unwrap();
        for b in 0..batch {
            let column: Vec<f64> = (0..4).map(|i| inputs[i * batch + b]).collect();
            let (v, g) = eval.forward_backward(&column, 1, &[seeds[b], seeds[batch + b]]).unwrap();
            assert_eq!(v, vec![values[b], values[batch + b]]);
            for i in 0..4 {
                assert!(close(g[i], grads[i * batch + b]));
            }
        }
    }
}
