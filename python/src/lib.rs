//! `deeplog._deeplog`: the engine as a Python extension module.
//!
//! The Python package (`python/deeplog/`) is the public face; this module
//! is its native half: models loaded, checked, grounded, compiled and
//! answered ([`Model`]), circuits laid out and evaluated forward and
//! backward on the CPU ([`Circuit`]), and a model compiled for a torch
//! layer ([`Compiled`]: the circuit with its slot table and which root
//! answers which query).
//!
//! Every call that grounds or compiles releases the GIL and runs on a
//! worker thread while the calling thread watches for Ctrl-C; on one it
//! raises the engine's stop flag (`deeplog::program::interrupt`), waits for
//! the stages to stop at their next clock check, and raises
//! `KeyboardInterrupt`. Evaluation releases the GIL too (its work is bounded
//! by the circuit's size and the batch).
//!
//! Tensors cross as addresses: the Python half checks a tensor's device,
//! dtype, shape and contiguity and passes `tensor.data_ptr()`; the native
//! half reads the inputs and writes the outputs and gradients in place,
//! with no copy of either on the Python side. The `_`-prefixed methods that
//! take addresses are private to the package for that reason.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use deeplog::circuits::formats::read_path;
use deeplog::circuits::layered::{Leaf, Op};
use deeplog::circuits::properties::{check, smooth};
use deeplog::circuits::{CpuEvaluator, LayeredCircuit, Weights};
use deeplog::semirings::{Differentiable, LogProbability, Probability};
use deeplog::{Error, Logic, QueryOptions};

// ---------------------------------------------------------------- errors

/// A Python exception of class `name` (from `deeplog.errors`) with its
/// message and, where known, the file, line and column it is about.
fn raise(py: Python<'_>, name: &str, message: String, file: Option<String>, at: Option<(usize, usize)>) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let class = py.import("deeplog.errors")?.getattr(name)?;
        let (line, column) = at.map_or((None, None), |(l, c)| (Some(l), Some(c)));
        let value = class.call1((message.clone(), file, line, column))?;
        Ok(PyErr::from_value(value))
    })();
    made.unwrap_or_else(|_| PyRuntimeError::new_err(message))
}

/// The engine's error as the `deeplog.errors` class that says what went
/// wrong, with its location.
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    match &e {
        Error::Invalid(d) => {
            let first = d.diagnostics.iter().find(|x| x.is_error()).or(d.diagnostics.first());
            let at = first.map(|x| x.span.line_col(&d.source)).map(|lc| (lc.line, lc.column));
            raise(py, "ModelError", message, Some(d.file.clone()), at)
        }
        Error::Read(r) => raise(py, "FileError", message, Some(read_path_of(r)), None),
        Error::Spec { file, at, .. } => {
            raise(py, "ModelError", message, Some(file.clone()), at.map(|lc| (lc.line, lc.column)))
        }
        Error::Ground { file, at, .. } => {
            let class = if message.contains("time limit") { "TimeoutError" } else { "GroundingError" };
            raise(py, class, message, Some(file.clone()), Some((at.line, at.column)))
        }
        Error::At { file, at, source } => {
            raise(py, class_of(source), message, Some(file.clone()), Some((at.line, at.column)))
        }
        _ => raise(py, class_of(&e), message, None, None),
    }
}

fn read_path_of(e: &deeplog::circuits::formats::TextError) -> String {
    use deeplog::circuits::formats::TextError as T;
    match e {
        T::Io { path, .. } | T::Device { path } | T::TooLarge { path } | T::NotUtf8 { path, .. } => {
            path.display().to_string()
        }
    }
}

/// The exception class for an error without a location of its own.
fn class_of(e: &Error) -> &'static str {
    match e {
        Error::Read(_) => "FileError",
        Error::Invalid(_) | Error::Spec { .. } => "ModelError",
        Error::Ground { .. } => "GroundingError",
        Error::At { source, .. } => class_of(source),
        Error::Compile { source: deeplog::circuits::CompileError::Timeout { .. }, .. } | Error::Timeout { .. } => {
            "TimeoutError"
        }
        Error::Compile { .. } | Error::Formula { .. } => "CompileError",
        Error::ImpossibleEvidence(_) => "EvidenceError",
        Error::Evaluate(_) | Error::Gpu(_) | Error::Network { .. } => "EvaluationError",
        Error::UnknownParameter(_) | Error::Input(_) | Error::Example { .. } => "InputError",
        Error::Unsupported(_) => "UnsupportedError",
        _ => "Error",
    }
}

fn input_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    raise(py, "InputError", message.into(), None, None)
}

// ------------------------------------------------- interruptible work

/// Runs `work` on a worker thread with the GIL released, watching for
/// Ctrl-C on the calling thread; see the module's text.
fn interruptible<T: Send>(py: Python<'_>, work: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    let rx = Mutex::new(rx);
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new().name("deeplog".into()).spawn_scoped(scope, move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(outcome);
        });
        if let Err(e) = spawned {
            return Err(PyRuntimeError::new_err(format!("cannot start a worker thread: {e}")));
        }
        let wait = |timeout: Option<Duration>| {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            match timeout {
                Some(t) => rx.recv_timeout(t).ok(),
                None => rx.recv().ok(),
            }
        };
        loop {
            let got = py.detach(|| wait(Some(Duration::from_millis(50))));
            let outcome = match got {
                Some(outcome) => outcome,
                None => {
                    let Err(signal) = py.check_signals() else { continue };
                    // Ctrl-C (or another signal handler's exception): stop
                    // the stages, wait for them, and raise it.
                    deeplog::program::interrupt::request();
                    let _ = py.detach(|| wait(None));
                    deeplog::program::interrupt::clear();
                    return Err(signal);
                }
            };
            return match outcome {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(to_py(py, e)),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown".into());
                    Err(raise(
                        py,
                        "Error",
                        format!("internal error (a bug in deeplog; please report it): {what}"),
                        None,
                        None,
                    ))
                }
            };
        }
    })
}

// ---------------------------------------------------------------- models

fn parse_logic(py: Python<'_>, logic: Option<&str>) -> PyResult<Option<Logic>> {
    let Some(name) = logic else { return Ok(None) };
    name.parse::<Logic>().map(Some).map_err(|e| input_error(py, e.to_string()))
}

fn options(py: Python<'_>, logic: Option<&str>, timeout: Option<f64>) -> PyResult<QueryOptions> {
    let timeout = match timeout {
        None => None,
        Some(t) if t.is_finite() && t > 0.0 => Some(Duration::from_secs_f64(t)),
        Some(t) => return Err(input_error(py, format!("timeout must be a positive number of seconds, not {t}"))),
    };
    Ok(QueryOptions { logic: parse_logic(py, logic)?, timeout, ..QueryOptions::default() })
}

/// A model file, loaded and checked.
#[pyclass(module = "deeplog._deeplog", frozen)]
struct Model {
    inner: Arc<deeplog::Model>,
    name: String,
}

#[pymethods]
impl Model {
    /// Checks model text. `name` is used in messages and to find files
    /// the model loads (`:- include`, `csv_load`), relative to its folder.
    #[staticmethod]
    #[pyo3(signature = (text, name = "<string>"))]
    fn from_source(py: Python<'_>, text: String, name: &str) -> PyResult<Model> {
        let owned = name.to_string();
        let inner = interruptible(py, move || deeplog::Model::from_source(&owned, &text))?;
        Ok(Model { inner: Arc::new(inner), name: name.to_string() })
    }

    /// Reads and checks a model file.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
        let name = path.display().to_string();
        let inner = interruptible(py, move || deeplog::Model::from_file(&path))?;
        Ok(Model { inner: Arc::new(inner), name })
    }

    /// The name the model was loaded under (its path, for a file).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The checker's warnings, rendered with their source lines ("" when
    /// there are none).
    #[getter]
    fn warnings(&self) -> String {
        self.inner.warnings()
    }

    /// The networks the model's neural predicates name, in file order.
    fn networks(&self) -> Vec<String> {
        self.inner.networks()
    }

    /// Every ground query, as `deeplog query` prints it, to its value in
    /// the model's logic (or `logic`).
    #[pyo3(signature = (*, logic = None, timeout = None))]
    fn query<'py>(&self, py: Python<'py>, logic: Option<&str>, timeout: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let options = options(py, logic, timeout)?;
        let model = self.inner.clone();
        let answers = interruptible(py, move || model.query(&options))?;
        let dict = PyDict::new(py);
        for a in answers.answers {
            dict.set_item(a.query, a.value)?;
        }
        Ok(dict)
    }

    /// This model asked `queries` in place of its own queries, with
    /// `inputs` (probabilistic facts or alternatives, by atom) marked as the
    /// slots a caller fills: compiled once.
    #[pyo3(signature = (queries, inputs, *, timeout = None))]
    fn _compile(
        &self,
        py: Python<'_>,
        queries: Vec<String>,
        inputs: Vec<String>,
        timeout: Option<f64>,
    ) -> PyResult<Compiled> {
        let options = options(py, None, timeout)?;
        let model = self.inner.clone();
        let asked: Vec<String> = queries.iter().chain(&inputs).cloned().collect();
        let compiled = interruptible(py, move || model.with_queries(&asked)?.compile(&options))?;
        Compiled::new(py, compiled, &queries, &inputs)
    }

    fn __repr__(&self) -> String {
        format!("deeplog.Model({:?})", self.name)
    }
}

// -------------------------------------------------------------- circuits

/// Which numbers a circuit is evaluated over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Semiring {
    /// Probabilities (the sum-product semiring over the reals).
    Real,
    /// Log-probabilities (log-sum-exp and +).
    Log,
}

impl Semiring {
    fn parse(py: Python<'_>, name: &str) -> PyResult<Semiring> {
        match name {
            "real" | "probability" | "prob" => Ok(Semiring::Real),
            "log" | "log-probability" | "log_probability" => Ok(Semiring::Log),
            other => Err(input_error(
                py,
                format!("unknown semiring `{other}`: use \"real\" (probabilities) or \"log\" (log-probabilities)"),
            )),
        }
    }
}

/// One layered circuit and its CPU evaluators, made on first use.
///
/// The evaluators borrow the circuit: it is boxed (its address never
/// moves) and the evaluators are declared first, so they are dropped
/// before it.
struct Evaluators {
    real64: OnceLock<CpuEvaluator<'static, Probability<f64>>>,
    real32: OnceLock<CpuEvaluator<'static, Probability<f32>>>,
    log64: OnceLock<CpuEvaluator<'static, LogProbability<f64>>>,
    log32: OnceLock<CpuEvaluator<'static, LogProbability<f32>>>,
    layered: Box<LayeredCircuit>,
}

impl Evaluators {
    fn new(layered: LayeredCircuit) -> Evaluators {
        Evaluators {
            real64: OnceLock::new(),
            real32: OnceLock::new(),
            log64: OnceLock::new(),
            log32: OnceLock::new(),
            layered: Box::new(layered),
        }
    }

    fn circuit(&self) -> &'static LayeredCircuit {
        // SAFETY: the box lives as long as `self`, and every reference made
        // here is held only by `self`'s evaluators, dropped before it.
        unsafe { &*(self.layered.as_ref() as *const LayeredCircuit) }
    }
}

/// A `[rows × cols]` row-major matrix at a caller's address.
struct Matrix {
    address: usize,
    rows: usize,
    cols: usize,
}

impl Matrix {
    fn check<V>(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        let align = std::mem::align_of::<V>();
        if self.address == 0 || !self.address.is_multiple_of(align) {
            return Err(input_error(py, format!("{what}: not a valid tensor address")));
        }
        Ok(())
    }

    /// # Safety
    /// The address holds `rows × cols` values of `V`, alive and not
    /// written to by anyone else during the call.
    unsafe fn read<V: Copy>(&self) -> &[V] {
        std::slice::from_raw_parts(self.address as *const V, self.rows * self.cols)
    }

    /// # Safety
    /// As [`Matrix::read`], and no one else reads it during the call.
    #[allow(clippy::mut_from_ref)]
    unsafe fn write<V: Copy>(&self) -> &mut [V] {
        std::slice::from_raw_parts_mut(self.address as *mut V, self.rows * self.cols)
    }
}

/// `[batch × slots]` (torch's layout) into `[slots × batch]` (the
/// evaluator's).
fn transpose<V: Copy>(m: &[V], rows: usize, cols: usize) -> Vec<V> {
    let mut out = Vec::with_capacity(m.len());
    for c in 0..cols {
        out.extend((0..rows).map(|r| m[r * cols + c]));
    }
    out
}

/// Writes `[rows_in × batch]` transposed into `out` (`[batch × rows_in]`).
fn transpose_into<V: Copy>(m: &[V], rows: usize, batch: usize, out: &mut [V]) {
    for r in 0..rows {
        for b in 0..batch {
            out[b * rows + r] = m[r * batch + b];
        }
    }
}

/// What a backward pass takes and gives: seeds (`None`: all ones), and
/// where the gradients go (positive weights, explicit negative weights).
type Backward<'a, V> = (Option<&'a [V]>, &'a mut [V], Option<&'a mut [V]>);

/// The first weight (`[batch × slots]`) that is not one of `semiring`'s
/// probabilities, as an error: checked here, in the pass that reads the
/// weights anyway, rather than by tensor operations before the call. With
/// explicit negative weights any number is a weight.
fn check_weights<V: Copy + Into<f64>>(w: &[V], slots: usize, semiring: Semiring) -> Result<(), Error> {
    let fits = |v: f64| match semiring {
        Semiring::Real => (0.0..=1.0).contains(&v),
        Semiring::Log => v <= 0.0,
    };
    let Some(at) = w.iter().position(|&v| !fits(v.into())) else { return Ok(()) };
    let what = match semiring {
        Semiring::Real => "a probability in [0, 1]",
        Semiring::Log => "a log-probability (at most 0)",
    };
    let value: f64 = w[at].into();
    Err(Error::Input(format!("weights: {value} at [{}, {}] is not {what}", at / slots, at % slots)))
}

/// Evaluation in `A`, from torch's layout to torch's layout.
fn run<A: Differentiable>(
    eval: &CpuEvaluator<'_, A>,
    semiring: Semiring,
    w: &[A::Value],
    neg: Option<&[A::Value]>,
    batch: usize,
    out: &mut [A::Value],
    grad: Option<Backward<'_, A::Value>>,
) -> Result<(), Error>
where
    A::Value: Copy + Send + Sync + Into<f64>,
{
    let c = eval.circuit();
    let slots = c.num_slots() as usize;
    let roots = c.num_roots();
    if neg.is_none() {
        check_weights(w, slots, semiring)?;
    }
    let weights =
        Weights { batch, positive: transpose(w, batch, slots), negative: neg.map(|n| transpose(n, batch, slots)) };
    match grad {
        None => {
            let values = eval.forward(&weights)?;
            transpose_into(&values, roots, batch, out);
        }
        Some((seeds, grad_pos, grad_neg)) => {
            let (values, grads) = match seeds {
                Some(s) => eval.forward_backward_columns(&weights, &transpose(s, batch, roots))?,
                None => eval.forward_backward(&weights, None)?,
            };
            transpose_into(&values, roots, batch, out);
            transpose_into(&grads.positive, slots, batch, grad_pos);
            if let (Some(g), Some(n)) = (grad_neg, grads.negative) {
                transpose_into(&n, slots, batch, g);
            }
        }
    }
    Ok(())
}

/// A circuit laid out for evaluation on the CPU, forward and backward, in
/// the real or the log semiring; what `deeplog.torch.CircuitModule` and
/// `deeplog.torch.Layer` run.
#[pyclass(module = "deeplog._deeplog", frozen)]
struct Circuit {
    plain: Arc<Evaluators>,
    /// The same circuit smoothed, for explicit negative weights (made on
    /// first use where the circuit is not smooth already).
    smoothed: OnceLock<Arc<Evaluators>>,
    /// The circuit as read, kept for smoothing where it is not smooth.
    source: Option<deeplog::circuits::Circuit>,
}

impl Circuit {
    fn from_circuit(circuit: deeplog::circuits::Circuit) -> Circuit {
        let props = check(&circuit);
        let layered = LayeredCircuit::with_properties(&circuit, props);
        let source = (!layered.properties().smooth.holds()).then_some(circuit);
        Circuit { plain: Arc::new(Evaluators::new(layered)), smoothed: OnceLock::new(), source }
    }

    fn evaluators(&self, explicit_negatives: bool) -> &Arc<Evaluators> {
        let Some(source) = self.source.as_ref().filter(|_| explicit_negatives) else { return &self.plain };
        self.smoothed.get_or_init(|| {
            let smoothed = smooth(source, false);
            let props = check(&smoothed);
            Arc::new(Evaluators::new(LayeredCircuit::with_properties(&smoothed, props)))
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        py: Python<'_>,
        semiring: &str,
        dtype: &str,
        batch: usize,
        weights: usize,
        negatives: Option<usize>,
        out: usize,
        backward: Option<(Option<usize>, usize, Option<usize>)>,
    ) -> PyResult<()> {
        let semiring = Semiring::parse(py, semiring)?;
        let ev = self.evaluators(negatives.is_some()).clone();
        let slots = ev.layered.num_slots() as usize;
        let roots = ev.layered.num_roots();
        if batch == 0 {
            return Err(input_error(py, "the batch is empty"));
        }
        let w = Matrix { address: weights, rows: batch, cols: slots };
        let n = negatives.map(|a| Matrix { address: a, rows: batch, cols: slots });
        let o = Matrix { address: out, rows: batch, cols: roots };
        let b = backward.map(|(s, g, gn)| {
            (
                s.map(|a| Matrix { address: a, rows: batch, cols: roots }),
                Matrix { address: g, rows: batch, cols: slots },
                gn.map(|a| Matrix { address: a, rows: batch, cols: slots }),
            )
        });
        macro_rules! go {
            ($A:ty, $V:ty, $cell:ident) => {{
                for (m, what) in [(Some(&w), "weights"), (n.as_ref(), "negative weights"), (Some(&o), "output")] {
                    if let Some(m) = m {
                        m.check::<$V>(py, what)?;
                    }
                }
                if let Some((s, g, gn)) = &b {
                    for m in [s.as_ref(), Some(g), gn.as_ref()].into_iter().flatten() {
                        m.check::<$V>(py, "gradient")?;
                    }
                }
                let eval = match ev.$cell.get() {
                    Some(e) => e,
                    None => {
                        let made = CpuEvaluator::<$A>::new(ev.circuit()).map_err(|e| to_py(py, e.into()))?;
                        let _ = ev.$cell.set(made);
                        ev.$cell.get().expect("just set")
                    }
                };
                let result = py.detach(|| {
                    // SAFETY: the Python half passes live, contiguous CPU
                    // tensors of these shapes and dtype, the outputs freshly
                    // made, and holds them for the call.
                    unsafe {
                        let grad = b.as_ref().map(|(s, g, gn)| {
                            (s.as_ref().map(|s| s.read::<$V>()), g.write::<$V>(), gn.as_ref().map(|g| g.write::<$V>()))
                        });
                        run::<$A>(eval, semiring, w.read(), n.as_ref().map(|n| n.read()), batch, o.write(), grad)
                    }
                });
                result.map_err(|e| to_py(py, e))
            }};
        }
        match (semiring, dtype) {
            (Semiring::Real, "float64") => go!(Probability<f64>, f64, real64),
            (Semiring::Real, "float32") => go!(Probability<f32>, f32, real32),
            (Semiring::Log, "float64") => go!(LogProbability<f64>, f64, log64),
            (Semiring::Log, "float32") => go!(LogProbability<f32>, f32, log32),
            (_, other) => Err(input_error(py, format!("dtype {other} is not supported: use float32 or float64"))),
        }
    }
}

#[pymethods]
impl Circuit {
    /// Reads a circuit file that `deeplog circuit` reads: `.sdd` (with
    /// `name.vtree` beside it, if there is one), `.nnf` (c2d, d4) or
    /// deeplog's JSON.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Circuit> {
        let circuit = py.detach(|| read_path(&path));
        match circuit {
            Ok(c) => Ok(Circuit::from_circuit(c)),
            Err(e) => Err(raise(py, "FileError", e.to_string(), Some(path.display().to_string()), None)),
        }
    }

    /// Variables (input slots).
    #[getter]
    fn num_vars(&self) -> usize {
        self.plain.layered.num_slots() as usize
    }

    #[getter]
    fn num_roots(&self) -> usize {
        self.plain.layered.num_roots()
    }

    #[getter]
    fn num_nodes(&self) -> usize {
        self.plain.layered.num_rows()
    }

    #[getter]
    fn num_edges(&self) -> usize {
        self.plain.layered.num_edges()
    }

    /// Whether the circuit is smooth (every sum's children mention the same
    /// variables).
    #[getter]
    fn smooth(&self) -> bool {
        self.plain.layered.properties().smooth.holds()
    }

    /// Roots `[batch × roots]` written at `out`, for weights `[batch ×
    /// vars]` at `weights` (and explicit negative weights at `negatives`).
    #[pyo3(signature = (semiring, dtype, batch, weights, negatives, out))]
    #[allow(clippy::too_many_arguments)]
    fn _forward(
        &self,
        py: Python<'_>,
        semiring: &str,
        dtype: &str,
        batch: usize,
        weights: usize,
        negatives: Option<usize>,
        out: usize,
    ) -> PyResult<()> {
        self.evaluate(py, semiring, dtype, batch, weights, negatives, out, None)
    }

    /// [`Circuit::_forward`], and the gradient of `Σ seeds · roots` (seeds
    /// `[batch × roots]`, all ones where `None`) written at `grad` (and
    /// `grad_negatives`), `[batch × vars]`.
    #[pyo3(signature = (semiring, dtype, batch, weights, negatives, out, seeds, grad, grad_negatives))]
    #[allow(clippy::too_many_arguments)]
    fn _forward_backward(
        &self,
        py: Python<'_>,
        semiring: &str,
        dtype: &str,
        batch: usize,
        weights: usize,
        negatives: Option<usize>,
        out: usize,
        seeds: Option<usize>,
        grad: usize,
        grad_negatives: Option<usize>,
    ) -> PyResult<()> {
        if negatives.is_some() != grad_negatives.is_some() {
            return Err(input_error(py, "negative weights and their gradient come together"));
        }
        self.evaluate(py, semiring, dtype, batch, weights, negatives, out, Some((seeds, grad, grad_negatives)))
    }

    /// The layered circuit as plain lists, for an evaluation in torch
    /// operations on any device: `leaves` (per leaf row: `[kind, slot]`
    /// with kind 0 false, 1 true, 2 a positive literal, 3 a negative one),
    /// `layers` (per layer, per segment: `[op, first_row, end_row]` with op
    /// 0 sum, 1 product, 2 sum of pairs), `offsets` and `children` (CSR over
    /// the internal rows) and `roots`. `negatives`: the smoothed circuit
    /// that explicit negative weights need.
    #[pyo3(signature = (negatives = false))]
    fn _structure<'py>(&self, py: Python<'py>, negatives: bool) -> PyResult<Bound<'py, PyDict>> {
        let ev = self.evaluators(negatives);
        let c = &ev.layered;
        let d = PyDict::new(py);
        let leaves: Vec<(u8, u32)> = c
            .leaves()
            .iter()
            .map(|l| match l {
                Leaf::Constant(false) => (0, 0),
                Leaf::Constant(true) => (1, 0),
                Leaf::Literal(l) if l.positive => (2, l.slot.0),
                Leaf::Literal(l) => (3, l.slot.0),
            })
            .collect();
        let layers = PyList::empty(py);
        for layer in c.layers() {
            let segs: Vec<(u8, u32, u32)> = layer
                .segments
                .iter()
                .map(|s| {
                    let op = match s.op {
                        Op::Sum => 0,
                        Op::Product => 1,
                        Op::SumOfPairs => 2,
                    };
                    (op, s.rows.start, s.rows.end)
                })
                .collect();
            layers.append(segs)?;
        }
        d.set_item("leaves", leaves)?;
        d.set_item("layers", layers)?;
        d.set_item("offsets", c.offsets().to_vec())?;
        d.set_item("children", c.children().to_vec())?;
        d.set_item("roots", c.roots().to_vec())?;
        d.set_item("num_vars", c.num_slots())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let c = &self.plain.layered;
        format!(
            "deeplog.Circuit(vars={}, roots={}, nodes={}, edges={})",
            c.num_slots(),
            c.num_roots(),
            c.num_rows(),
            c.num_edges()
        )
    }
}

// ---------------------------------------------------- compiled models

/// A model compiled for `deeplog.torch.Layer`: its circuit, what each slot
/// stands for, which slots the caller's inputs fill, and which roots answer
/// each query.
#[pyclass(module = "deeplog._deeplog", frozen, get_all)]
struct Compiled {
    circuit: Py<Circuit>,
    /// Per slot: its choice, and its alternative's own (unconditional)
    /// probability in the model.
    slot_choices: Vec<usize>,
    slot_probabilities: Vec<f64>,
    slot_names: Vec<String>,
    /// Per caller input: its slot.
    input_slots: Vec<usize>,
    /// Per query instance: its text, as `deeplog query` prints it.
    query_names: Vec<String>,
    /// Per slot of a neural predicate: its network, the network's inputs
    /// (printed ground terms) and which output it is.
    slot_networks: Vec<Option<(String, Vec<String>, usize)>>,
    /// Per query: the root of `query ∧ evidence` and of the evidence
    /// (`None` where the query cannot be derived; the evidence root is
    /// `None` without evidence).
    query_roots: Vec<(Option<usize>, Option<usize>)>,
    /// Per slot: the slot before it in its choice's chain, if any.
    slot_previous: Vec<Option<usize>>,
}

/// The two float types a tensor may hold.
trait Real: Copy + Send + Sync + Into<f64> {
    fn of(x: f64) -> Self;
}

impl Real for f64 {
    fn of(x: f64) -> f64 {
        x
    }
}

impl Real for f32 {
    fn of(x: f64) -> f32 {
        x as f32
    }
}

/// How far past 1 the alternatives of one choice may sum (rounding).
fn slack<V: Real>() -> f64 {
    if std::mem::size_of::<V>() == 4 {
        1e-5
    } else {
        1e-9
    }
}

impl Compiled {
    fn new(py: Python<'_>, compiled: deeplog::CompiledModel, queries: &[String], inputs: &[String]) -> PyResult<Self> {
        // The circuit's queries: the caller's, then one per input (with
        // inputs, each query must be one ground atom; without, a query
        // with variables asks all its instances).
        let asked = if inputs.is_empty() { compiled.queries.len() } else { queries.len() };
        if !inputs.is_empty() && compiled.queries.len() != queries.len() + inputs.len() {
            let expected = queries.len() + inputs.len();
            return Err(input_error(
                py,
                format!(
                    "each query and input must name one ground atom; {} asked for {} atoms (a query with variables \
                     names several)",
                    compiled.queries.len(),
                    expected
                ),
            ));
        }
        let with_evidence = compiled.with_evidence;
        let query_names = compiled.queries[..asked].iter().map(|q| q.query.clone()).collect();
        let query_roots = compiled.queries[..asked]
            .iter()
            .map(|q| (q.root, q.root.filter(|_| with_evidence).map(|r| r + 1)))
            .collect();
        let slot_names: Vec<String> = compiled.slots.iter().map(|s| s.name.clone()).collect();
        let mut input_slots = Vec::with_capacity(inputs.len());
        for (i, name) in inputs.iter().enumerate() {
            let printed = &compiled.queries[asked + i].query;
            let slot = slot_names.iter().position(|s| s == printed);
            match slot {
                Some(s) if !input_slots.contains(&s) => input_slots.push(s),
                Some(_) => return Err(input_error(py, format!("input `{name}` is given twice"))),
                None => {
                    return Err(input_error(
                        py,
                        format!(
                            "input `{name}` is not a probabilistic fact or alternative of the model (only those can \
                             take probabilities from a tensor)"
                        ),
                    ))
                }
            }
        }
        // Unconditional probabilities from the slots' chain (alternative
        // `i` of a disjunction holds `p_i / (1 − p_0 − … − p_{i−1})`).
        let mut slot_probabilities = Vec::with_capacity(compiled.slots.len());
        let mut before = std::collections::HashMap::<usize, f64>::new();
        for s in &compiled.slots {
            let used = before.entry(s.choice).or_insert(0.0);
            let p = s.probability * (1.0 - *used);
            *used += p;
            slot_probabilities.push(p);
        }
        let slot_networks = compiled
            .slots
            .iter()
            .map(|s| s.network.clone().map(|n| (n, s.network_inputs.clone(), s.alternative)))
            .collect();
        let mut last = std::collections::HashMap::<usize, usize>::new();
        let slot_previous = compiled.slots.iter().enumerate().map(|(i, s)| last.insert(s.choice, i)).collect();
        let circuit = Py::new(py, Circuit::from_circuit(compiled.circuit))?;
        Ok(Compiled {
            slot_previous,
            circuit,
            query_names,
            slot_networks,
            slot_choices: compiled.slots.iter().map(|s| s.choice).collect(),
            slot_probabilities,
            slot_names,
            input_slots,
            query_roots,
        })
    }
}

impl Compiled {
    /// The chain's slot weights `[slots × batch]` (alternative `i` of a
    /// choice given the earlier ones false: `p_i / (1 − p_0 − … − p_{i−1})`)
    /// from the alternatives' own probabilities `p` (`[batch × slots]`), and
    /// each slot's remainder `1 − p_0 − … − p_{i−1}` (`[slots × batch]`);
    /// an error names the first probability out of range or the first
    /// choice whose alternatives sum past 1.
    fn conditionals<V: Real>(&self, p: &[V], batch: usize) -> Result<(Vec<V>, Vec<f64>), Error> {
        let slots = self.slot_names.len();
        let mut weights = vec![V::of(0.0); slots * batch];
        let mut rest = vec![1.0f64; slots * batch];
        for b in 0..batch {
            let row = &p[b * slots..(b + 1) * slots];
            for (i, &v) in row.iter().enumerate() {
                let v: f64 = v.into();
                if !(0.0..=1.0).contains(&v) {
                    let name = &self.slot_names[i];
                    return Err(Error::Input(format!("example {b}: `{name}` has {v}, not a probability in [0, 1]")));
                }
                let r = match self.slot_previous[i] {
                    Some(j) => rest[j * batch + b] - row[j].into(),
                    None => 1.0,
                };
                if v > r + slack::<V>() {
                    let name = &self.slot_names[i];
                    return Err(Error::Input(format!(
                        "example {b}: the alternatives of an annotated disjunction sum to {}, more than 1 (at `{name}`)",
                        1.0 - r + v
                    )));
                }
                rest[i * batch + b] = r;
                weights[i * batch + b] = V::of(if r > 0.0 { (v / r).min(1.0) } else { 0.0 });
            }
        }
        Ok((weights, rest))
    }

    /// Query values `[batch × queries]` from root values `[roots × batch]`:
    /// `P(q ∧ e) / P(e)`, 0 where the query cannot be derived.
    fn answers<V: Real>(&self, roots: &[V], batch: usize, out: &mut [V]) {
        let q = self.query_roots.len();
        for (k, &(num, den)) in self.query_roots.iter().enumerate() {
            for b in 0..batch {
                let n = num.map_or(0.0, |r| roots[r * batch + b].into());
                let d = den.map_or(1.0, |r| roots[r * batch + b].into());
                out[b * q + k] = V::of(if d > 0.0 { n / d } else { 0.0 });
            }
        }
    }

    /// Forward: query values `[batch × queries]` at `out` and the roots
    /// `[batch × roots]` at `roots` (for the backward pass), from the
    /// alternatives' probabilities `[batch × slots]` at `slots`.
    fn run_forward<A: Differentiable>(
        &self,
        eval: &CpuEvaluator<'_, A>,
        p: &[A::Value],
        batch: usize,
        out: &mut [A::Value],
        roots_out: &mut [A::Value],
    ) -> Result<(), Error>
    where
        A::Value: Real,
    {
        let (weights, _) = self.conditionals(p, batch)?;
        let roots = eval.forward(&Weights::complementary(batch, weights))?;
        self.answers(&roots, batch, out);
        transpose_into(&roots, eval.circuit().num_roots(), batch, roots_out);
        Ok(())
    }

    /// Backward: the gradient `[batch × slots]` at `grad` of `Σ g · query`
    /// (`g`: `[batch × queries]`), given the forward pass's roots.
    fn run_backward<A: Differentiable>(
        &self,
        eval: &CpuEvaluator<'_, A>,
        p: &[A::Value],
        batch: usize,
        roots: &[A::Value],
        g: &[A::Value],
        grad: &mut [A::Value],
    ) -> Result<(), Error>
    where
        A::Value: Real,
    {
        let slots = self.slot_names.len();
        let num_roots = eval.circuit().num_roots();
        let q = self.query_roots.len();
        // Seeds per root: ∂(n/d)/∂n = 1/d, ∂(n/d)/∂d = −n/d².
        let mut seeds = vec![0.0f64; num_roots * batch];
        for (k, &(num, den)) in self.query_roots.iter().enumerate() {
            let Some(num) = num else { continue };
            for b in 0..batch {
                let gk: f64 = g[b * q + k].into();
                let n: f64 = roots[b * num_roots + num].into();
                let d = den.map_or(1.0, |r| roots[b * num_roots + r].into());
                if d <= 0.0 {
                    continue;
                }
                seeds[num * batch + b] += gk / d;
                if let Some(den) = den {
                    seeds[den * batch + b] -= gk * n / (d * d);
                }
            }
        }
        let seeds: Vec<A::Value> = seeds.into_iter().map(A::Value::of).collect();
        let (weights, rest) = self.conditionals(p, batch)?;
        let (_, grads) = eval.forward_backward_columns(&Weights::complementary(batch, weights), &seeds)?;
        // Through the chain: c_i = p_i / r_i with r_i = 1 − Σ_{j<i} p_j, so
        // ∂c_i/∂p_i = 1/r_i and ∂c_i/∂p_j = p_i / r_i² for j before i.
        let mut after = vec![0.0f64; slots];
        for b in 0..batch {
            after.iter_mut().for_each(|a| *a = 0.0);
            for i in (0..slots).rev() {
                let r = rest[i * batch + b];
                let gc: f64 = grads.positive[i * batch + b].into();
                let pi: f64 = p[b * slots + i].into();
                let own = if r > 0.0 { gc / r } else { 0.0 };
                grad[b * slots + i] = A::Value::of(own + after[i]);
                if let Some(j) = self.slot_previous[i] {
                    let through = if r > 0.0 { gc * pi / (r * r) } else { 0.0 };
                    after[j] = after[i] + through;
                }
            }
        }
        Ok(())
    }
}

#[pymethods]
impl Compiled {
    /// Query values `[batch × queries]` at `out` and roots `[batch ×
    /// roots]` at `roots`, from the alternatives' probabilities `[batch ×
    /// slots]` at `slots` (addresses of contiguous CPU tensors of `dtype`).
    fn _forward(
        &self,
        py: Python<'_>,
        dtype: &str,
        batch: usize,
        slots: usize,
        out: usize,
        roots: usize,
    ) -> PyResult<()> {
        self.call(py, dtype, batch, slots, out, roots, None)
    }

    /// The gradient `[batch × slots]` at `grad` of `Σ g · queries` (`g`
    /// `[batch × queries]` at `seeds`), given the roots of `_forward`.
    #[allow(clippy::too_many_arguments)]
    fn _backward(
        &self,
        py: Python<'_>,
        dtype: &str,
        batch: usize,
        slots: usize,
        roots: usize,
        seeds: usize,
        grad: usize,
    ) -> PyResult<()> {
        self.call(py, dtype, batch, slots, grad, roots, Some(seeds))
    }

    /// Where the networks' outputs go, for `_forward_neural` and
    /// `_backward_neural`: per network call `(members, columns, member,
    /// output)`, its output laid out `[members·batch, K]` (member `m`'s row
    /// `b` at row `m·batch + b`), and slot `columns[i]` taking column
    /// `output[i]` of member `member[i]`'s row.
    fn _neural_layout(&self, py: Python<'_>, groups: Vec<GroupSpec>) -> PyResult<NeuralLayout> {
        let slots = self.slot_names.len();
        let mut out = Vec::with_capacity(groups.len());
        for (members, columns, member, output) in groups {
            let fits = columns.len() == member.len()
                && columns.len() == output.len()
                && columns.iter().all(|&c| c < slots)
                && member.iter().all(|&m| m < members);
            if !fits {
                return Err(input_error(py, "a neural layout that does not fit the model's slots"));
            }
            let width = output.iter().max().map_or(0, |&o| o + 1);
            out.push(NeuralGroup { members, columns, member, output, width });
        }
        Ok(NeuralLayout { groups: out })
    }

    /// Forward from the networks' outputs (`outs`: per group of `layout`,
    /// the address of its `[members·batch, K]` tensor and `K`): the slot
    /// matrix `[batch × slots]` at `slots` (the model's probabilities, the
    /// networks' in their columns; kept for `_backward_neural`), then as
    /// `_forward`.
    #[allow(clippy::too_many_arguments)]
    fn _forward_neural(
        &self,
        py: Python<'_>,
        layout: &NeuralLayout,
        dtype: &str,
        batch: usize,
        outs: Vec<(usize, usize)>,
        slots: usize,
        out: usize,
        roots: usize,
    ) -> PyResult<()> {
        let nets = layout.matrices(py, batch, &outs)?;
        let n_slots = self.slot_names.len();
        let p = Matrix { address: slots, rows: batch, cols: n_slots };
        macro_rules! fill {
            ($V:ty) => {{
                p.check::<$V>(py, "tensor")?;
                for m in &nets {
                    m.check::<$V>(py, "network output")?;
                }
                // SAFETY: as in `Circuit::evaluate`; `matrices` checked each
                // output's width against the columns read.
                unsafe {
                    let dst = p.write::<$V>();
                    for b in 0..batch {
                        for (d, &v) in dst[b * n_slots..(b + 1) * n_slots].iter_mut().zip(&self.slot_probabilities) {
                            *d = <$V>::of(v);
                        }
                    }
                    for (g, m) in layout.groups.iter().zip(&nets) {
                        let src = m.read::<$V>();
                        for ((&c, &mem), &o) in g.columns.iter().zip(&g.member).zip(&g.output) {
                            for b in 0..batch {
                                dst[b * n_slots + c] = src[(mem * batch + b) * m.cols + o];
                            }
                        }
                    }
                }
            }};
        }
        match dtype {
            "float64" => fill!(f64),
            "float32" => fill!(f32),
            other => return Err(input_error(py, format!("dtype {other} is not supported: use float32 or float64"))),
        }
        self.call(py, dtype, batch, slots, out, roots, None)
    }

    /// Backward to the networks' outputs: as `_backward`, the slots'
    /// gradient then summed into each output's gradient (`grads`, laid out
    /// as `outs` were; written whole, zero where no slot reads).
    #[allow(clippy::too_many_arguments)]
    fn _backward_neural(
        &self,
        py: Python<'_>,
        layout: &NeuralLayout,
        dtype: &str,
        batch: usize,
        slots: usize,
        roots: usize,
        seeds: usize,
        grads: Vec<(usize, usize)>,
    ) -> PyResult<()> {
        let nets = layout.matrices(py, batch, &grads)?;
        let n_slots = self.slot_names.len();
        macro_rules! go {
            ($V:ty) => {{
                for m in &nets {
                    m.check::<$V>(py, "gradient")?;
                }
                let mut grad = vec![<$V>::of(0.0); batch * n_slots];
                self.call(py, dtype, batch, slots, grad.as_mut_ptr() as usize, roots, Some(seeds))?;
                // SAFETY: as in `_forward_neural`.
                unsafe {
                    for m in &nets {
                        m.write::<$V>().fill(<$V>::of(0.0));
                    }
                    for (g, m) in layout.groups.iter().zip(&nets) {
                        let dst = m.write::<$V>();
                        for ((&c, &mem), &o) in g.columns.iter().zip(&g.member).zip(&g.output) {
                            for b in 0..batch {
                                let at = (mem * batch + b) * m.cols + o;
                                dst[at] += grad[b * n_slots + c];
                            }
                        }
                    }
                }
                Ok(())
            }};
        }
        match dtype {
            "float64" => go!(f64),
            "float32" => go!(f32),
            other => Err(input_error(py, format!("dtype {other} is not supported: use float32 or float64"))),
        }
    }
}

/// One network call's place in the slots, as Python describes it:
/// `(members, columns, member, output)`.
type GroupSpec = (usize, Vec<usize>, Vec<usize>, Vec<usize>);

/// Where networks' outputs go in a compiled model's slots (see
/// `Compiled._neural_layout`).
#[pyclass(module = "deeplog._deeplog", frozen)]
struct NeuralLayout {
    groups: Vec<NeuralGroup>,
}

struct NeuralGroup {
    members: usize,
    columns: Vec<usize>,
    member: Vec<usize>,
    output: Vec<usize>,
    /// The fewest columns an output must have.
    width: usize,
}

impl NeuralLayout {
    /// The outputs (or their gradients) `(address, K)` as matrices, each
    /// checked wide enough for the columns the layout reads.
    fn matrices(&self, py: Python<'_>, batch: usize, outs: &[(usize, usize)]) -> PyResult<Vec<Matrix>> {
        if outs.len() != self.groups.len() {
            return Err(input_error(
                py,
                format!("{} network outputs for {} network calls", outs.len(), self.groups.len()),
            ));
        }
        if batch == 0 {
            return Err(input_error(py, "the batch is empty"));
        }
        let mut m = Vec::with_capacity(outs.len());
        for (g, &(address, k)) in self.groups.iter().zip(outs) {
            if k < g.width {
                return Err(input_error(py, format!("a network output of {k} columns where {} are read", g.width)));
            }
            m.push(Matrix { address, rows: g.members * batch, cols: k });
        }
        Ok(m)
    }
}

impl Compiled {
    /// `_forward` (`seeds: None`; `out` the queries) or `_backward`
    /// (`out` the gradient).
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        py: Python<'_>,
        dtype: &str,
        batch: usize,
        slots: usize,
        out: usize,
        roots: usize,
        seeds: Option<usize>,
    ) -> PyResult<()> {
        if batch == 0 {
            return Err(input_error(py, "the batch is empty"));
        }
        let ev = self.circuit.get().plain.clone();
        let n_slots = self.slot_names.len();
        let n_roots = ev.layered.num_roots();
        let q = self.query_roots.len();
        let p = Matrix { address: slots, rows: batch, cols: n_slots };
        let r = Matrix { address: roots, rows: batch, cols: n_roots };
        let o = Matrix { address: out, rows: batch, cols: if seeds.is_some() { n_slots } else { q } };
        let g = seeds.map(|a| Matrix { address: a, rows: batch, cols: q });
        macro_rules! go {
            ($A:ty, $V:ty, $cell:ident) => {{
                for m in [Some(&p), Some(&r), Some(&o), g.as_ref()].into_iter().flatten() {
                    m.check::<$V>(py, "tensor")?;
                }
                let eval = match ev.$cell.get() {
                    Some(e) => e,
                    None => {
                        let made = CpuEvaluator::<$A>::new(ev.circuit()).map_err(|e| to_py(py, e.into()))?;
                        let _ = ev.$cell.set(made);
                        ev.$cell.get().expect("just set")
                    }
                };
                // SAFETY: as in `Circuit::evaluate`: live, contiguous CPU
                // tensors of these shapes and dtype, held by the caller.
                let result = py.detach(|| unsafe {
                    match &g {
                        None => self.run_forward::<$A>(eval, p.read(), batch, o.write(), r.write()),
                        Some(g) => self.run_backward::<$A>(eval, p.read(), batch, r.read(), g.read(), o.write()),
                    }
                });
                result.map_err(|e| to_py(py, e))
            }};
        }
        match dtype {
            "float64" => go!(Probability<f64>, f64, real64),
            "float32" => go!(Probability<f32>, f32, real32),
            other => Err(input_error(py, format!("dtype {other} is not supported: use float32 or float64"))),
        }
    }
}

/// The native half of the `deeplog` package.
#[pymodule]
fn _deeplog(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<Circuit>()?;
    m.add_class::<Compiled>()?;
    m.add_class::<NeuralLayout>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
