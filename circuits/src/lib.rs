//! Algebraic circuits: the IR, its properties, layering, batched CPU
//! evaluation forward and backward, and circuit files.
//!
//! A [`Circuit`] is a hash-consed DAG of n-ary sums and products over
//! literal leaves (an input slot with a polarity) and constants, with many
//! roots. [`properties`] checks decomposability, determinism and smoothness
//! (and [`properties::smooth`] enforces the last); a [`LayeredCircuit`] lays
//! it out as per-layer CSR index arrays; a [`CpuEvaluator`] runs it in any
//! algebra of `deeplog-semirings`, batched over rayon, and refuses an algebra
//! whose requirements the circuit does not meet. [`formats`] reads SDD
//! (`.sdd`) and d-DNNF (`.nnf`, c2d and d4 dialects) files, reads and writes
//! the project's own JSON format, and writes Graphviz DOT. [`compile`](mod@compile)
//! turns a [`GroundProgram`] (the grounder's output, from
//! `deeplog-program`) and its queries into one such
//! circuit, deterministic and decomposable, for exact inference.
//!
//! A [`formula`] circuit ([`Expr`]) evaluates ground formulas
//! truth-functionally instead: fuzzy connectives under a t-norm,
//! implications, aggregations and p-means, forward and backward, batched,
//! over an input matrix and the roots of a nested compiled circuit.
//! [`fuzzy`] builds the fuzzy truth values of a logic program's atoms
//! (recursion included) as nodes of one.
//!
//! ```
//! use deeplog_circuits::{CircuitBuilder, CpuEvaluator, LayeredCircuit, SlotId, Weights};
//! use deeplog_semirings::Probability;
//!
//! // P(a ∨ b) = P(a) + P(¬a)·P(b), for two batch rows.
//! let mut b = CircuitBuilder::new(2);
//! let (a, na) = (b.literal(SlotId(0), true), b.literal(SlotId(0), false));
//! let x = b.literal(SlotId(1), true);
//! let rest = b.product(vec![na, x]);
//! let root = b.sum(vec![a, rest]);
//! let layered = LayeredCircuit::new(&b.finish(vec![root]));
//! let eval = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
//! // [slots × batch]: a = (0.3, 0.5), b = (0.6, 0.5).
//! let w = Weights::complementary(2, vec![0.3, 0.5, 0.6, 0.5]);
//! let (values, grads) = eval.forward_backward(&w, None).unwrap();
//! assert!((values[0] - 0.72).abs() < 1e-12 && (values[1] - 0.75).abs() < 1e-12);
//! // ∂P/∂P(a) = 1 − P(b) in row 0.
//! assert!((grads.positive[0] - 0.4).abs() < 1e-12);
//! ```

pub mod circuit;
pub mod compile;
pub mod eval;
pub mod explain;
pub mod formats;
pub mod formula;
pub mod fuzzy;
pub mod layered;
mod linear;
pub mod optimize;
pub mod properties;
mod scc;
pub mod testing;

pub use circuit::{Circuit, CircuitBuilder, Literal, Node, NodeId, SlotId};
pub use compile::{compile, compile_with, Budget, CompileError, Compiled, Method};
pub use deeplog_program::GroundProgram;
pub use eval::{CpuEvaluator, EvalError, Evaluate, Evaluated, Gradients, Weights};
pub use formula::{Expr, ExprBuilder, ExprEvaluator, ExprId, FormulaError, Implication, Nested, SlotSource, TNorm};
pub use fuzzy::FuzzyLimits;
pub use layered::LayeredCircuit;
pub use properties::{Knowledge, Properties};
