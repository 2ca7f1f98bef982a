//! Circuits laid out for evaluation on the CPU, forward and backward, in
//! the real or the log semiring: [`Circuit`], what
//! `deeplog.torch.CircuitModule` and `deeplog.torch.Layer` run, and the
//! tensors-as-addresses plumbing ([`Matrix`]) the compiled models share.

use super::*;

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
pub(crate) struct Evaluators {
    pub(crate) real64: OnceLock<CpuEvaluator<'static, Probability<f64>>>,
    pub(crate) real32: OnceLock<CpuEvaluator<'static, Probability<f32>>>,
    pub(crate) log64: OnceLock<CpuEvaluator<'static, LogProbability<f64>>>,
    pub(crate) log32: OnceLock<CpuEvaluator<'static, LogProbability<f32>>>,
    pub(crate) layered: Box<LayeredCircuit>,
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

    /// The evaluator in `cell` (one of `self`'s), made on first use.
    pub(crate) fn evaluator<'s, A: deeplog::semirings::Algebra>(
        &'s self,
        cell: &'s OnceLock<CpuEvaluator<'static, A>>,
    ) -> Result<&'s CpuEvaluator<'static, A>, deeplog::circuits::EvalError> {
        if let Some(e) = cell.get() {
            return Ok(e);
        }
        let _ = cell.set(CpuEvaluator::new(self.circuit())?);
        Ok(cell.get().expect("just set"))
    }
}

/// A `[rows × cols]` row-major matrix at a caller's address.
pub(crate) struct Matrix {
    pub(crate) address: usize,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

impl Matrix {
    pub(crate) fn check<V>(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        let align = std::mem::align_of::<V>();
        if self.address == 0 || !self.address.is_multiple_of(align) {
            return Err(input_error(py, format!("{what}: not a valid tensor address")));
        }
        Ok(())
    }

    /// # Safety
    /// The address holds `rows × cols` values of `V`, alive and not
    /// written to by anyone else during the call.
    pub(crate) unsafe fn read<V: Copy>(&self) -> &[V] {
        std::slice::from_raw_parts(self.address as *const V, self.rows * self.cols)
    }

    /// # Safety
    /// As [`Matrix::read`], and no one else reads it during the call.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn write<V: Copy>(&self) -> &mut [V] {
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
pub(crate) fn transpose_into<V: Copy>(m: &[V], rows: usize, batch: usize, out: &mut [V]) {
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
pub(crate) struct Circuit {
    pub(crate) plain: Arc<Evaluators>,
    /// The same circuit smoothed, for explicit negative weights (made on
    /// first use where the circuit is not smooth already).
    smoothed: OnceLock<Arc<Evaluators>>,
    /// The circuit as read, kept for smoothing where it is not smooth.
    source: Option<deeplog::circuits::Circuit>,
}

impl Circuit {
    pub(crate) fn from_circuit(circuit: deeplog::circuits::Circuit) -> Circuit {
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
                let eval: &CpuEvaluator<'static, $A> = ev.evaluator(&ev.$cell).map_err(|e| to_py(py, e.into()))?;
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
