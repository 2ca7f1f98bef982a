//! A model compiled for `deeplog.torch.Layer` and `NeuralModel`
//! ([`Compiled`]): its circuit, its slot table, which roots answer which
//! query; forward and backward through annotated disjunctions' chains and
//! the evidence's division, and the networks' outputs filled into the slots
//! ([`NeuralLayout`]).

use super::circuit::{transpose_into, Circuit, Matrix};
use super::*;

/// A model compiled for `deeplog.torch.Layer`: its circuit, what each slot
/// stands for, which slots the caller's inputs fill, and which roots answer
/// each query.
#[pyclass(module = "deeplog._deeplog", frozen, get_all)]
pub(crate) struct Compiled {
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
    pub(crate) fn new(
        py: Python<'_>,
        compiled: deeplog::CompiledModel,
        queries: &[String],
        inputs: &[String],
    ) -> PyResult<Self> {
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
        let p = Matrix { address: slots, rows: batch, cols: self.slot_names.len() };
        match dtype {
            "float64" => self.fill_slots::<f64>(py, layout, &nets, &p)?,
            "float32" => self.fill_slots::<f32>(py, layout, &nets, &p)?,
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
        match dtype {
            "float64" => self.add_gradients::<f64>(py, layout, &nets, batch, dtype, (slots, roots, seeds)),
            "float32" => self.add_gradients::<f32>(py, layout, &nets, batch, dtype, (slots, roots, seeds)),
            other => Err(input_error(py, format!("dtype {other} is not supported: use float32 or float64"))),
        }
    }
}

impl Compiled {
    /// The slot matrix `p` (`[batch × slots]`): the model's probabilities,
    /// the networks' outputs `nets` in the columns `layout` gives them.
    fn fill_slots<V: Real>(&self, py: Python<'_>, layout: &NeuralLayout, nets: &[Matrix], p: &Matrix) -> PyResult<()> {
        p.check::<V>(py, "tensor")?;
        for m in nets {
            m.check::<V>(py, "network output")?;
        }
        let n_slots = p.cols;
        // SAFETY: as in `Circuit::evaluate`; `matrices` checked each output's
        // width against the columns read.
        unsafe {
            let dst = p.write::<V>();
            for row in dst.chunks_mut(n_slots.max(1)) {
                for (d, &v) in row.iter_mut().zip(&self.slot_probabilities) {
                    *d = V::of(v);
                }
            }
            let srcs: Vec<&[V]> = nets.iter().map(|m| m.read::<V>()).collect();
            layout.links(nets, p.rows, |b, c, k, at| dst[b * n_slots + c] = srcs[k][at]);
        }
        Ok(())
    }

    /// The slots' gradient (`_backward`, given the addresses of the slots,
    /// the roots and the seeds), summed into each network output's gradient
    /// in `nets` (written whole, zero where no slot reads).
    fn add_gradients<V: Real + std::ops::AddAssign>(
        &self,
        py: Python<'_>,
        layout: &NeuralLayout,
        nets: &[Matrix],
        batch: usize,
        dtype: &str,
        (slots, roots, seeds): (usize, usize, usize),
    ) -> PyResult<()> {
        for m in nets {
            m.check::<V>(py, "gradient")?;
        }
        let n_slots = self.slot_names.len();
        let mut grad = vec![V::of(0.0); batch * n_slots];
        self.call(py, dtype, batch, slots, grad.as_mut_ptr() as usize, roots, Some(seeds))?;
        // SAFETY: as in `fill_slots`.
        unsafe {
            let mut dsts: Vec<&mut [V]> = nets.iter().map(|m| m.write::<V>()).collect();
            dsts.iter_mut().for_each(|d| d.fill(V::of(0.0)));
            layout.links(nets, batch, |b, c, k, at| dsts[k][at] += grad[b * n_slots + c]);
        }
        Ok(())
    }
}

/// One network call's place in the slots, as Python describes it:
/// `(members, columns, member, output)`.
type GroupSpec = (usize, Vec<usize>, Vec<usize>, Vec<usize>);

/// Where networks' outputs go in a compiled model's slots (see
/// `Compiled._neural_layout`).
#[pyclass(module = "deeplog._deeplog", frozen)]
pub(crate) struct NeuralLayout {
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
    /// Calls `f(row, slot, output, at)` for every batch row and every slot
    /// the layout fills: the slot takes entry `at` of network output
    /// `output` (laid out as `nets` are).
    fn links(&self, nets: &[Matrix], batch: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        for (k, (g, m)) in self.groups.iter().zip(nets).enumerate() {
            for ((&c, &mem), &o) in g.columns.iter().zip(&g.member).zip(&g.output) {
                for b in 0..batch {
                    f(b, c, k, (mem * batch + b) * m.cols + o);
                }
            }
        }
    }

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
                let eval: &CpuEvaluator<'static, $A> = ev.evaluator(&ev.$cell).map_err(|e| to_py(py, e.into()))?;
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
