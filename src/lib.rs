//! deeplog: a neurosymbolic reasoning engine.
//!
//! A model is a file of annotated first-order logic; deeplog grounds it,
//! compiles it into an algebraic circuit and evaluates and differentiates
//! that circuit in a chosen algebra, batched, on the CPU or a GPU. This crate
//! is the public face: it re-exports the pieces a program embedding the
//! engine needs, and hosts the `deeplog` command-line tool.
//!
//! [`Model`] is the whole pipeline behind one type: a model file checked,
//! grounded, compiled and answered in a chosen logic ([`Model::query`]), or
//! built once as a differentiable formula circuit ([`Model::formulas`]:
//! fuzzy logics, quantified formulas, constraints and their loss; see
//! `docs/logics.md`). Below it, the circuit layer stands on its own: load a
//! circuit file, evaluate it.
//!
//! ```
//! use deeplog::circuits::{CircuitBuilder, CpuEvaluator, LayeredCircuit, SlotId, Weights};
//! use deeplog::semirings::LogProbability;
//!
//! let mut b = CircuitBuilder::new(1);
//! let x = b.literal(SlotId(0), true);
//! let nx = b.literal(SlotId(0), false);
//! let both = b.sum(vec![x, nx]); // x ∨ ¬x
//! let layered = LayeredCircuit::new(&b.finish(vec![both]));
//! let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
//! let v = eval.forward(&Weights::complementary(1, vec![0.25f64.ln()])).unwrap();
//! assert!(v[0].abs() < 1e-15); // log 1
//! ```

pub use deeplog_circuits as circuits;
pub use deeplog_gpu as gpu;
pub use deeplog_language as language;
pub use deeplog_program as program;
pub use deeplog_semirings as semirings;

pub mod answers;
pub mod cli;
pub mod compiled;
pub mod device;
pub mod error;
pub mod formulas;
pub mod learn;
pub mod lfi;
pub mod memory;
pub mod model;
pub mod neural;
mod read_out;
pub mod sample;
pub mod scene;
pub mod tasks;

pub use answers::{Answer, Answers, ConstraintAnswer, Explanation, Timings};
pub use compiled::{CompiledModel, CompiledQuery, SlotInfo};
pub use deeplog_circuits::compile::Method;
pub use deeplog_semirings::Logic;
pub use device::Device;
pub use error::Error;
pub use formulas::{Evaluation, Formulas, Input};
pub use model::{Model, QueryOptions};
