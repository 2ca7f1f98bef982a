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

mod circuit;
mod compiled;

use circuit::Circuit;
use compiled::{Compiled, NeuralLayout};

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
