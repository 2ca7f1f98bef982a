//! One model, many logics: a grounded model read in a chosen logic as one
//! *formula circuit* ([`deeplog_circuits::formula`]) whose outputs are the
//! model's queries, its constraints and their loss.
//!
//! - In a fuzzy logic (Gödel, product, Łukasiewicz) every atom's truth is
//!   the least fixpoint of its rules ([`deeplog_circuits::fuzzy`]) and the
//!   connectives, quantifiers and implications of a formula are the
//!   logic's own operations: nothing is knowledge-compiled.
//! - In the probability logic a formula's largest boolean parts (atoms
//!   under connectives and quantifiers) are *transformed* into
//!   probabilities: each becomes an auxiliary atom defined by rules, all of
//!   them are compiled into one d-DNNF, and that circuit sits nested in the
//!   formula circuit. Aggregations, `+` and `*` then combine probabilities
//!   as numbers.
//! - `(F)_S` evaluates `F` in algebra `S` wherever it stands, so a fuzzy
//!   part can sit inside a probabilistic model and the reverse.
//!
//! The inputs are the model's choices: one per probabilistic fact and one
//! per alternative of an annotated disjunction, valued by their annotation
//! (a probability, or a fuzzy truth). Outputs and the loss are
//! differentiable with respect to them.

use std::collections::HashMap;

use deeplog_circuits::formula::{Expr, ExprBuilder, ExprEvaluator, ExprId, Nested, Op, SlotSource, TNorm};
use deeplog_circuits::fuzzy::{self, FuzzyLimits};
use deeplog_circuits::{compile_with, Budget, Evaluate, LayeredCircuit, Method, Weights};
use deeplog_gpu::{Gpu, GpuEvaluator, GpuFormulaEvaluator};
use deeplog_program::{Aggregate, Atom, AtomId, Choice, Formula, FormulaId, GroundProgram, Rule, Subject, View};
use deeplog_semirings::{Logic, Probability};

use crate::error::Error;

/// What the formula path needs to know of the request.
pub(crate) struct Request<'a> {
    /// The model's logic: queries that name none are read in it.
    pub logic: Logic,
    /// Whether `logic` overrides the queries' own (`--logic`).
    pub forced: bool,
    pub budget: &'a Budget,
    pub method: Method,
}

/// One input of a formula circuit: a probabilistic fact or one alternative
/// of an annotated disjunction.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Input {
    /// The atom the choice makes true.
    pub name: String,
    /// Its annotation: a probability, or a fuzzy truth value.
    pub value: f64,
    /// The choice it belongs to (a fact, or an annotated disjunction whose
    /// alternatives are consecutive inputs), in grounding order.
    pub choice: usize,
    /// Whether the choice is a parameter to learn (`t(p)::`).
    pub learnable: bool,
    /// For a neural choice: the network whose output this is, and the
    /// network's inputs (ground terms, printed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_inputs: Vec<String>,
    /// The statement the choice is an instance of (byte offsets in the
    /// model text), where known: instances of one `t(_)::` statement share
    /// it.
    #[serde(skip)]
    pub origin: Option<(u32, u32)>,
}

/// One constraint of a model, as the formula circuit reports it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ConstraintInfo {
    pub text: String,
    pub weight: f64,
}

/// A grounded model built for one logic: evaluate it, and differentiate its
/// loss, as often as needed with new input values.
pub struct Formulas {
    logic: Logic,
    expr: Expr,
    nested: Option<Nested>,
    inputs: Vec<Input>,
    queries: Vec<String>,
    /// Each query's atom, for an atom query.
    query_atoms: Vec<Option<QueryAtom>>,
    /// Each query's logic.
    query_logics: Vec<Logic>,
    constraints: Vec<ConstraintInfo>,
    /// Whether the last root is the loss (there are constraints).
    has_loss: bool,
    /// The nested circuit's compiler, if one ran.
    pub(crate) compiler: Option<&'static str>,
    /// Set by [`Formulas::on_gpu`].
    gpu: Option<OnGpu>,
}

/// A formula circuit on a GPU, in f32: the nested compiled circuit through
/// the GPU circuit evaluator, the formula circuit through the GPU formula
/// evaluator, which reads the nested roots as inputs after the model's own.
struct OnGpu {
    name: String,
    formula: GpuFormulaEvaluator,
    nested: Option<GpuEvaluator<Probability<f32>>>,
}

/// Values of one evaluation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Per query, in the logic (a probability, a log-probability, a truth
    /// value, 0/1 for boolean).
    pub queries: Vec<f64>,
    /// Per constraint: its truth (fuzzy) or probability.
    pub constraints: Vec<f64>,
    /// `Σ weight · (1 − truth)` (fuzzy) or `Σ weight · −ln P` (probability)
    /// over the constraints; 0 without constraints.
    pub loss: f64,
}

impl Formulas {
    pub fn logic(&self) -> Logic {
        self.logic
    }

    /// The inputs in order, with the values the model gives them.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// The model's input values, in [`Formulas::inputs`] order.
    pub fn initial_values(&self) -> Vec<f64> {
        self.inputs.iter().map(|i| i.value).collect()
    }

    pub fn queries(&self) -> &[String] {
        &self.queries
    }

    /// Per query, its atom as data (`None` for a formula query).
    pub fn query_atoms(&self) -> &[Option<QueryAtom>] {
        &self.query_atoms
    }

    /// The logic each query is read in: the model's, or the query's own
    /// (`query(q, logic(L))`).
    pub fn query_logics(&self) -> &[Logic] {
        &self.query_logics
    }

    pub fn constraints(&self) -> &[ConstraintInfo] {
        &self.constraints
    }

    /// Nodes and edges of the formula circuit and of the nested compiled
    /// circuit.
    pub fn size(&self) -> (usize, usize) {
        let nested = self.nested.as_ref().map_or((0, 0), |n| (n.circuit.num_rows(), n.circuit.num_edges()));
        (self.expr.num_nodes() + nested.0, self.expr.num_edges() + nested.1)
    }

    /// Moves evaluation (and differentiation) onto `gpu`, in f32.
    pub fn on_gpu(mut self, gpu: &Gpu) -> Result<Formulas, Error> {
        let n = self.expr.num_inputs();
        // Nested roots become inputs `n + k`.
        let mut b = ExprBuilder::new(n + self.expr.num_nested());
        let mut map = Vec::with_capacity(self.expr.num_nodes());
        for i in 0..self.expr.num_nodes() {
            let children: Vec<ExprId> = self.expr.children_of(i).iter().map(|&c| map[c as usize]).collect();
            let op = match self.expr.op(i) {
                Op::Nested(k) => Op::Input(n + k),
                op => op,
            };
            map.push(b.add(op, &children)?);
        }
        let expr = b.finish(self.expr.roots().iter().map(|&r| map[r as usize]).collect());
        let formula = GpuFormulaEvaluator::new(gpu, &expr)?;
        let nested = match &self.nested {
            Some(nested) => Some(GpuEvaluator::differentiable(gpu, &nested.circuit)?),
            None => None,
        };
        self.gpu = Some(OnGpu { name: gpu.name(), formula, nested });
        Ok(self)
    }

    /// Where evaluation runs: `cpu` or the GPU adapter's name.
    pub fn device(&self) -> String {
        self.gpu.as_ref().map_or_else(|| "cpu".to_string(), |g| g.name.clone())
    }

    /// The nested circuit's slot weights and its roots' values on the GPU,
    /// appended to the inputs (`[inputs × batch]`, then `[roots × batch]`).
    fn gpu_inputs(&self, gpu: &OnGpu, values: &[f64], batch: usize) -> Result<(Vec<f32>, Option<Weights<f32>>), Error> {
        let mut inputs: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let (Some(nested), Some(eval)) = (&self.nested, &gpu.nested) else { return Ok((inputs, None)) };
        let w = Weights::complementary(batch, nested.weights(values, batch).iter().map(|&x| x as f32).collect());
        inputs.extend(eval.forward(&w)?);
        Ok((inputs, Some(w)))
    }

    fn evaluator(&self) -> Result<ExprEvaluator<'_>, Error> {
        Ok(ExprEvaluator::new(&self.expr, self.nested.as_ref())?)
    }

    fn check_inputs(&self, values: &[f64], batch: usize) -> Result<(), Error> {
        if batch == 0 || values.len() != self.inputs.len() * batch {
            return Err(Error::Input(format!(
                "{} input values given for {} inputs × a batch of {batch}",
                values.len(),
                self.inputs.len()
            )));
        }
        Ok(())
    }

    /// Root values `[roots × batch]`, one evaluation per column.
    fn split(&self, roots: &[f64], batch: usize) -> Vec<Evaluation> {
        let q = self.queries.len();
        let k = self.constraints.len();
        let column = |b: usize, rows: std::ops::Range<usize>| rows.map(|r| roots[r * batch + b]).collect::<Vec<f64>>();
        (0..batch)
            .map(|b| {
                let mut queries = column(b, 0..q);
                for (v, logic) in queries.iter_mut().zip(&self.query_logics) {
                    if *logic == Logic::Boolean {
                        *v = if *v > 0.0 { 1.0 } else { 0.0 };
                    }
                }
                Evaluation {
                    queries,
                    constraints: column(b, q..q + k),
                    loss: if self.has_loss { roots[(q + k) * batch + b] } else { 0.0 },
                }
            })
            .collect()
    }

    /// Queries, constraints and loss for input `values`.
    pub fn evaluate(&self, values: &[f64]) -> Result<Evaluation, Error> {
        Ok(self.evaluate_batch(values, 1)?.remove(0))
    }

    /// One evaluation per column of `values` (`[inputs × batch]`, row
    /// `i`, column `b` at `i · batch + b`): many examples in one pass.
    pub fn evaluate_batch(&self, values: &[f64], batch: usize) -> Result<Vec<Evaluation>, Error> {
        self.check_inputs(values, batch)?;
        let roots = match &self.gpu {
            None => self.evaluator()?.forward(values, batch)?,
            Some(gpu) => {
                let (inputs, _) = self.gpu_inputs(gpu, values, batch)?;
                gpu.formula.forward(&inputs, batch)?.into_iter().map(f64::from).collect()
            }
        };
        Ok(self.split(&roots, batch))
    }

    /// Evaluation and the gradient of the loss with respect to every input.
    pub fn loss_gradient(&self, values: &[f64]) -> Result<(Evaluation, Vec<f64>), Error> {
        let (mut evaluations, grads) = self.loss_gradient_batch(values, 1)?;
        Ok((evaluations.remove(0), grads))
    }

    /// [`Formulas::loss_gradient`] for every column of `values`
    /// (`[inputs × batch]`); the gradients are `[inputs × batch]`.
    pub fn loss_gradient_batch(&self, values: &[f64], batch: usize) -> Result<(Vec<Evaluation>, Vec<f64>), Error> {
        self.gradient_of(values, batch, |_, _, is_loss| if is_loss { 1.0 } else { 0.0 })
    }

    /// Evaluation and the gradient of `Σ_q seeds[q] · query_q` (one seed
    /// per query) with respect to every input.
    pub fn gradient(&self, values: &[f64], seeds: &[f64]) -> Result<(Evaluation, Vec<f64>), Error> {
        self.gradient_with_loss(values, seeds, 0.0)
    }

    /// [`Formulas::gradient`] of `Σ_q seeds[q] · query_q + loss_seed · loss`
    /// (the constraints' loss).
    pub fn gradient_with_loss(
        &self,
        values: &[f64],
        seeds: &[f64],
        loss_seed: f64,
    ) -> Result<(Evaluation, Vec<f64>), Error> {
        let q = self.queries.len();
        if seeds.len() != q {
            return Err(Error::Input(format!("{} seeds for {q} queries", seeds.len())));
        }
        let seed = |r: usize, _, is_loss: bool| match (is_loss, seeds.get(r)) {
            (true, _) => loss_seed,
            (false, Some(&s)) if r < q => s,
            _ => 0.0,
        };
        let (mut evaluations, grads) = self.gradient_of(values, 1, seed)?;
        Ok((evaluations.remove(0), grads))
    }

    /// [`Formulas::gradient`] for every column of `values` (`[inputs ×
    /// batch]`), with a seed per query and column (`[queries × batch]`);
    /// the gradients are `[inputs × batch]`.
    pub fn gradient_batch(
        &self,
        values: &[f64],
        batch: usize,
        seeds: &[f64],
    ) -> Result<(Vec<Evaluation>, Vec<f64>), Error> {
        let q = self.queries.len();
        if seeds.len() != q * batch {
            return Err(Error::Input(format!("{} seeds for {q} queries × a batch of {batch}", seeds.len())));
        }
        self.gradient_of(values, batch, |r, b, _| if r < q { seeds[r * batch + b] } else { 0.0 })
    }

    /// Evaluation and the gradient of query `q`'s value.
    pub fn query_gradient(&self, values: &[f64], q: usize) -> Result<(Evaluation, Vec<f64>), Error> {
        if q >= self.queries.len() {
            return Err(Error::Input(format!("there is no query {q}; the model has {}", self.queries.len())));
        }
        let (mut evaluations, grads) = self.gradient_of(values, 1, |r, _, _| if r == q { 1.0 } else { 0.0 })?;
        Ok((evaluations.remove(0), grads))
    }

    fn gradient_of(
        &self,
        values: &[f64],
        batch: usize,
        seed: impl Fn(usize, usize, bool) -> f64,
    ) -> Result<(Vec<Evaluation>, Vec<f64>), Error> {
        self.check_inputs(values, batch)?;
        let n = self.expr.roots().len();
        let seeds: Vec<f64> = (0..n)
            .flat_map(|r| (0..batch).map(move |b| (r, b)))
            .map(|(r, b)| seed(r, b, self.has_loss && r == n - 1))
            .collect();
        let Some(gpu) = &self.gpu else {
            let (roots, grads) = self.evaluator()?.forward_backward(values, batch, &seeds)?;
            return Ok((self.split(&roots, batch), grads));
        };
        let (inputs, weights) = self.gpu_inputs(gpu, values, batch)?;
        let seeds: Vec<f32> = seeds.iter().map(|&s| s as f32).collect();
        let (roots, grads) = gpu.formula.forward_backward(&inputs, batch, &seeds)?;
        let roots: Vec<f64> = roots.into_iter().map(f64::from).collect();
        let mut input_grads: Vec<f64> = grads[..values.len()].iter().map(|&g| f64::from(g)).collect();
        if let (Some(nested), Some(eval), Some(w)) = (&self.nested, &gpu.nested, weights) {
            // The formula's gradient for each nested root seeds the nested
            // circuit's reverse pass, a column at a time (its seeds differ
            // per column); its slot gradients map back to inputs.
            let slots = nested.slots.len();
            let root_grads = &grads[values.len()..];
            let roots_n = root_grads.len() / batch;
            let mut slot_grads = vec![0.0; slots * batch];
            for b in 0..batch {
                let column = Weights::complementary(1, (0..slots).map(|s| w.positive[s * batch + b]).collect());
                let seeds: Vec<f32> = (0..roots_n).map(|r| root_grads[r * batch + b]).collect();
                let (_, g) = eval.forward_backward(&column, Some(&seeds))?;
                for (s, &g) in g.positive.iter().enumerate() {
                    slot_grads[s * batch + b] = f64::from(g);
                }
            }
            nested.add_slot_gradients(values, batch, &slot_grads, &mut input_grads);
        }
        Ok((self.split(&roots, batch), input_grads))
    }
}

/// Whether a model must take the formula path: a fuzzy logic, formula
/// queries, constraints, or queries in a logic of their own.
pub(crate) fn needed(logic: Logic, forced: bool, grounded: &GroundProgram) -> bool {
    logic.tnorm().is_some()
        || grounded.queries.iter().any(|q| q.formula().is_some() || (!forced && q.logic.is_some_and(|l| l != logic)))
        || !grounded.constraints.is_empty()
}

fn context(logic: Logic) -> Result<Ctx, Error> {
    if let Some(t) = logic.tnorm() {
        return Ok(Ctx::Fuzzy(t));
    }
    match logic {
        Logic::Probability | Logic::LogProbability | Logic::Boolean => Ok(Ctx::Probability),
        _ => Err(Error::Unsupported(format!(
            "formula queries, constraints and queries in a logic of their own are not supported in the {logic} \
             logic yet; use probability, log-probability, boolean, godel, product or lukasiewicz"
        ))),
    }
}

/// The context a formula node is evaluated in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ctx {
    /// Boolean parts are transformed into probabilities.
    Probability,
    Fuzzy(TNorm),
}

/// A boolean part of a formula, to be compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Region {
    Node(FormulaId),
    Atom(AtomId),
}

/// The formula circuit under construction, over the ground program `g`.
struct Builder<'g> {
    g: &'g GroundProgram,
    choice_rows: Vec<Vec<u32>>,
    b: ExprBuilder,
    fuzzy_atoms: HashMap<TNorm, Vec<Option<ExprId>>>,
    memo: HashMap<(FormulaId, Ctx), ExprId>,
    /// Regions in order of first use; `Op::Nested(k)` reads region `k`
    /// (through [`Builder::placeholder`] until the circuit is compiled).
    regions: Vec<Region>,
    region_ids: HashMap<Region, u32>,
    boolean: Vec<bool>,
    budget: usize,
}

impl<'g> Builder<'g> {
    fn add(&mut self, op: Op, children: &[ExprId]) -> Result<ExprId, Error> {
        if self.b.len() >= self.budget {
            return Err(Error::Unsupported(format!(
                "the formula circuit exceeded the node budget of {}; raise it with --max-nodes",
                self.budget
            )));
        }
        Ok(self.b.add(op, children)?)
    }

    fn fuzzy_atom(&mut self, t: TNorm, atom: AtomId) -> Result<ExprId, Error> {
        if !self.fuzzy_atoms.contains_key(&t) {
            let limits = FuzzyLimits { max_nodes: self.budget };
            let g = self.g;
            let values = fuzzy::program_values(&mut self.b, g, t, &self.choice_rows, &g.evidence, limits)
                .map_err(|e| Error::formula(e, |a| format!("`{}`", g.atom_text(a))))?;
            self.fuzzy_atoms.insert(t, values);
        }
        match self.fuzzy_atoms[&t][atom.index()] {
            Some(id) => Ok(id),
            None => self.add(Op::Const(0.0), &[]),
        }
    }

    fn region(&mut self, r: Region) -> Result<ExprId, Error> {
        let next = self.regions.len() as u32;
        let k = *self.region_ids.entry(r).or_insert(next);
        if k == next {
            self.regions.push(r);
        }
        self.add(Op::Nested(k), &[])
    }

    fn build(&mut self, node: FormulaId, ctx: Ctx) -> Result<ExprId, Error> {
        if let Some(&id) = self.memo.get(&(node, ctx)) {
            return Ok(id);
        }
        let id = self.build_new(node, ctx)?;
        self.memo.insert((node, ctx), id);
        Ok(id)
    }

    fn children(&mut self, items: &[FormulaId], ctx: Ctx) -> Result<Vec<ExprId>, Error> {
        items.iter().map(|&c| self.build(c, ctx)).collect()
    }

    fn build_new(&mut self, node: FormulaId, ctx: Ctx) -> Result<ExprId, Error> {
        let g = self.g;
        let f = &g.formulas[node.index()];
        if ctx == Ctx::Probability && self.boolean[node.index()] {
            return match f {
                Formula::Const(b) => self.add(Op::Const(f64::from(u8::from(*b))), &[]),
                Formula::Atom(a) => self.region(Region::Atom(*a)),
                _ => self.region(Region::Node(node)),
            };
        }
        match f {
            Formula::Atom(a) => match ctx {
                Ctx::Fuzzy(t) => self.fuzzy_atom(t, *a),
                Ctx::Probability => unreachable!("an atom is boolean"),
            },
            Formula::Const(b) => self.add(Op::Const(f64::from(u8::from(*b))), &[]),
            Formula::Number(x) => self.add(Op::Const(*x), &[]),
            Formula::Aggregate(op, items) => {
                let children = self.children(items, ctx)?;
                if children.is_empty() {
                    let empty = match op {
                        Aggregate::Sum => 0.0,
                        Aggregate::Product => 1.0,
                        _ => return Err(Error::Unsupported(format!("{op:?} over an empty domain has no value"))),
                    };
                    return self.add(Op::Const(empty), &[]);
                }
                let op = match op {
                    Aggregate::Sum => Op::Sum,
                    Aggregate::Product => Op::Product,
                    Aggregate::Max => Op::Max,
                    Aggregate::Min => Op::Min,
                    Aggregate::PMean(p) => Op::PMean(*p),
                    Aggregate::PMeanError(p) => Op::PMeanError(*p),
                };
                self.add(op, &children)
            }
            Formula::Transform(logic, inner) => match (*logic, logic.tnorm()) {
                (_, Some(t)) => self.build(*inner, Ctx::Fuzzy(t)),
                (Logic::Probability, None) => self.build(*inner, Ctx::Probability),
                (Logic::LogProbability, None) => {
                    let p = self.build(*inner, Ctx::Probability)?;
                    self.add(Op::Ln, &[p])
                }
                (other, None) => Err(Error::Unsupported(format!(
                    "a formula cannot be moved into the {other} algebra (`_{other}`); use probability, \
                     log-probability, godel, product or lukasiewicz"
                ))),
            },
            connective => {
                let Ctx::Fuzzy(t) = ctx else {
                    return Err(Error::Unsupported(
                        "in the probability logic the connectives combine boolean formulas, and one of these operands \
                         is a number (an aggregation, a number or a `_logic` part); combine numbers with `*` and `+`"
                            .to_string(),
                    ));
                };
                match connective {
                    Formula::Not(a) => {
                        let a = self.build(*a, ctx)?;
                        self.add(Op::Not, &[a])
                    }
                    Formula::And(items) if items.is_empty() => self.add(Op::Const(1.0), &[]),
                    Formula::Or(items) if items.is_empty() => self.add(Op::Const(0.0), &[]),
                    Formula::And(items) => {
                        let c = self.children(items, ctx)?;
                        self.add(Op::And(t), &c)
                    }
                    Formula::Or(items) => {
                        let c = self.children(items, ctx)?;
                        self.add(Op::Or(t), &c)
                    }
                    Formula::Implies(a, b) | Formula::RImplies(a, b) | Formula::SImplies(a, b) => {
                        let kind = match connective {
                            Formula::Implies(..) => t.implication(),
                            Formula::RImplies(..) => t.residuum(),
                            _ => t.s_implication(),
                        };
                        let (a, b) = (self.build(*a, ctx)?, self.build(*b, ctx)?);
                        self.add(Op::Implies(kind), &[a, b])
                    }
                    Formula::Iff(a, b) => {
                        let (a, b) = (self.build(*a, ctx)?, self.build(*b, ctx)?);
                        let there = self.add(Op::Implies(t.implication()), &[a, b])?;
                        let back = self.add(Op::Implies(t.implication()), &[b, a])?;
                        self.add(Op::And(t), &[there, back])
                    }
                    _ => unreachable!("handled above"),
                }
            }
        }
    }
}

/// Which nodes are boolean: atoms and constants under connectives only.
fn boolean_nodes(formulas: &[Formula]) -> Vec<bool> {
    let mut boolean = vec![false; formulas.len()];
    for (i, f) in formulas.iter().enumerate() {
        let all = |items: &[FormulaId], boolean: &[bool]| items.iter().all(|&c| boolean[c.index()]);
        boolean[i] = match f {
            Formula::Atom(_) | Formula::Const(_) => true,
            Formula::Not(a) => boolean[a.index()],
            Formula::And(items) | Formula::Or(items) => all(items, &boolean),
            Formula::Implies(a, b) | Formula::RImplies(a, b) | Formula::SImplies(a, b) | Formula::Iff(a, b) => {
                boolean[a.index()] && boolean[b.index()]
            }
            Formula::Number(_) | Formula::Aggregate(..) | Formula::Transform(..) => false,
        };
    }
    boolean
}

/// A boolean region's truth as a literal over the program's atoms, adding
/// auxiliary atoms and rules for its connectives; constants fold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lit {
    True,
    False,
    Atom(AtomId),
}

/// Adds the auxiliary atoms and rules of boolean regions to (a
/// propositional copy of) the ground program.
struct Aux<'p> {
    program: &'p mut GroundProgram,
    memo: HashMap<FormulaId, Lit>,
}

impl Aux<'_> {
    /// A new atom defined by one rule per body.
    fn fresh_atom(&mut self, bodies: Vec<Vec<(AtomId, bool)>>) -> AtomId {
        let head = AtomId::from_index(self.program.atoms.len());
        self.program.atoms.push(Atom::Numbered(head.raw()));
        for body in bodies {
            self.program.rules.push(Rule { head, body });
        }
        head
    }

    fn fresh(&mut self, bodies: Vec<Vec<(AtomId, bool)>>) -> Lit {
        Lit::Atom(self.fresh_atom(bodies))
    }

    /// `lits` conjoined (`and`) or disjoined, each with its sign.
    fn combine(&mut self, lits: Vec<(Lit, bool)>, and: bool) -> Lit {
        let mut atoms = Vec::new();
        for (lit, positive) in lits {
            let value = match lit {
                Lit::True => Some(positive),
                Lit::False => Some(!positive),
                Lit::Atom(a) => {
                    atoms.push((a, positive));
                    None
                }
            };
            match (value, and) {
                (Some(false), true) => return Lit::False,
                (Some(true), false) => return Lit::True,
                _ => {}
            }
        }
        match (atoms.as_slice(), and) {
            ([], true) => Lit::True,
            ([], false) => Lit::False,
            ([(a, true)], _) => Lit::Atom(*a),
            (_, true) => self.fresh(vec![atoms]),
            (_, false) => self.fresh(atoms.into_iter().map(|l| vec![l]).collect()),
        }
    }

    fn lit(&mut self, formulas: &[Formula], node: FormulaId) -> Lit {
        if let Some(&l) = self.memo.get(&node) {
            return l;
        }
        let sub = |s: &mut Self, n: FormulaId| s.lit(formulas, n);
        let l = match &formulas[node.index()] {
            Formula::Atom(a) => Lit::Atom(*a),
            Formula::Const(true) => Lit::True,
            Formula::Const(false) => Lit::False,
            Formula::Not(a) => {
                let a = sub(self, *a);
                self.combine(vec![(a, false)], true)
            }
            Formula::And(items) | Formula::Or(items) => {
                let and = matches!(formulas[node.index()], Formula::And(_));
                let lits = items.iter().map(|&c| (sub(self, c), true)).collect();
                self.combine(lits, and)
            }
            Formula::Implies(a, b) | Formula::RImplies(a, b) | Formula::SImplies(a, b) => {
                let (a, b) = (sub(self, *a), sub(self, *b));
                self.combine(vec![(a, false), (b, true)], false)
            }
            Formula::Iff(a, b) => {
                let (a, b) = (sub(self, *a), sub(self, *b));
                let both = self.combine(vec![(a, true), (b, true)], true);
                let neither = self.combine(vec![(a, false), (b, false)], true);
                self.combine(vec![(both, true), (neither, true)], false)
            }
            _ => unreachable!("regions are boolean"),
        };
        self.memo.insert(node, l);
        l
    }
}

/// Builds the formula circuit of a grounded model in `req.logic`: its
/// inputs, then the queries', constraints' and loss's roots, then the
/// boolean regions compiled into one nested circuit.
pub(crate) fn build(grounded: &GroundProgram, req: &Request) -> Result<Formulas, Error> {
    let logic = req.logic;
    let ctx = context(logic)?;
    let choice_rows = fuzzy::choice_inputs(grounded);
    let inputs = inputs(grounded);
    let mut builder = Builder {
        g: grounded,
        choice_rows,
        b: ExprBuilder::new(inputs.len() as u32),
        fuzzy_atoms: HashMap::new(),
        memo: HashMap::new(),
        regions: Vec::new(),
        region_ids: HashMap::new(),
        boolean: boolean_nodes(&grounded.formulas),
        budget: req.budget.max_nodes,
    };
    let (mut roots, query_logics) = query_roots(&mut builder, req)?;
    let (constraint_roots, constraints, loss) = constraint_roots(&mut builder, ctx)?;
    roots.extend(constraint_roots);
    let has_loss = loss.is_some();
    roots.extend(loss);
    let Builder { b, regions, choice_rows, .. } = builder;
    let (nested, compiler) = match nested_circuit(grounded, &regions, &choice_rows, req)? {
        Some((nested, with_evidence, method)) => (Some((nested, with_evidence)), Some(method)),
        None => (None, None),
    };
    // With evidence, region k is `q ∧ E` at root 2k and `E` at 2k + 1:
    // rewrite the placeholders `Nested(k)` into the conditional.
    let (expr, nested) = match nested {
        None => (b.finish(roots), None),
        Some((nested, false)) => (b.finish(roots), Some(nested)),
        Some((nested, true)) => (condition(b, roots)?, Some(nested)),
    };
    Ok(Formulas {
        logic,
        expr,
        nested,
        inputs,
        queries: grounded.queries.iter().map(|q| grounded.query_text(q)).collect(),
        query_atoms: grounded.queries.iter().map(|q| QueryAtom::of(grounded, q)).collect(),
        query_logics,
        constraints,
        has_loss,
        compiler,
        gpu: None,
    })
}

/// The circuit's inputs: one per probabilistic fact and one per
/// alternative of an annotated disjunction, in choice order.
fn inputs(grounded: &GroundProgram) -> Vec<Input> {
    let mut inputs = Vec::new();
    for (choice, c) in grounded.choices.iter().enumerate() {
        let learnable = grounded.learnable.get(choice).copied().unwrap_or(false);
        let neural = grounded.neural.get(choice).and_then(Option::as_ref);
        inputs.extend(c.alternatives().map(|(atom, value)| Input {
            name: grounded.atom_text(atom),
            value,
            choice,
            learnable,
            network: neural.map(|n| n.network.clone()),
            network_inputs: neural.map(|n| grounded.neural_inputs_text(n)).unwrap_or_default(),
            origin: grounded.origins.choices.get(choice).map(|o| (o.start, o.end)),
        }));
    }
    inputs
}

/// Each query's root, in its own logic (the model's unless it names one
/// and `--logic` does not override it), and that logic.
fn query_roots(builder: &mut Builder, req: &Request) -> Result<(Vec<ExprId>, Vec<Logic>), Error> {
    let g = builder.g;
    let mut roots = Vec::with_capacity(g.queries.len());
    let mut logics = Vec::with_capacity(g.queries.len());
    for q in &g.queries {
        let logic = if req.forced { req.logic } else { q.logic.unwrap_or(req.logic) };
        logics.push(logic);
        let value = match (&q.subject, context(logic)?) {
            (Subject::Formula { root, .. }, ctx) => builder.build(*root, ctx)?,
            (Subject::Atom { atom: Some(a), .. }, Ctx::Probability) => builder.region(Region::Atom(*a))?,
            (Subject::Atom { atom: Some(a), .. }, Ctx::Fuzzy(t)) => builder.fuzzy_atom(t, *a)?,
            (Subject::Atom { atom: None, .. }, _) => builder.add(Op::Const(0.0), &[])?,
        };
        roots.push(if logic == Logic::LogProbability { builder.add(Op::Ln, &[value])? } else { value });
    }
    Ok((roots, logics))
}

/// Each constraint's root and description, and the loss's root where there
/// are constraints: `Σ w · (1 − truth)` in a fuzzy logic, `Σ w · −ln P` in
/// the probability logic.
type ConstraintRoots = (Vec<ExprId>, Vec<ConstraintInfo>, Option<ExprId>);

fn constraint_roots(builder: &mut Builder, ctx: Ctx) -> Result<ConstraintRoots, Error> {
    let g = builder.g;
    let (mut roots, mut constraints, mut loss_terms) = (Vec::new(), Vec::new(), Vec::new());
    for c in &g.constraints {
        let value = builder.build(c.formula, ctx)?;
        roots.push(value);
        let weight = c.weight.unwrap_or(1.0);
        constraints.push(ConstraintInfo { text: c.text.clone(), weight });
        let term = match ctx {
            Ctx::Fuzzy(_) => {
                let miss = builder.add(Op::Not, &[value])?;
                let w = builder.add(Op::Const(weight), &[])?;
                builder.add(Op::Product, &[w, miss])?
            }
            Ctx::Probability => {
                let ln = builder.add(Op::Ln, &[value])?;
                let w = builder.add(Op::Const(-weight), &[])?;
                builder.add(Op::Product, &[w, ln])?
            }
        };
        loss_terms.push(term);
    }
    let loss = if loss_terms.is_empty() { None } else { Some(builder.add(Op::Sum, &loss_terms)?) };
    Ok((roots, constraints, loss))
}

/// The boolean regions compiled into one circuit (a root per region, two
/// with evidence), whether it has the evidence's roots, and which compiler
/// ran; `None` without regions. `rows` are each choice's input rows, which
/// the circuit's slots read.
fn nested_circuit(
    grounded: &GroundProgram,
    regions: &[Region],
    rows: &[Vec<u32>],
    req: &Request,
) -> Result<Option<(Nested, bool, &'static str)>, Error> {
    if regions.is_empty() {
        return Ok(None);
    }
    // The compilers need rules and choices only: a propositional copy
    // grows the auxiliary atoms, not the ground program's terms.
    let mut extended =
        GroundProgram::propositional(grounded.atoms.len() as u32, grounded.rules.clone(), grounded.choices.clone());
    let mut aux = Aux { program: &mut extended, memo: HashMap::new() };
    let lits: Vec<Lit> = regions
        .iter()
        .map(|r| match r {
            Region::Atom(a) => Lit::Atom(*a),
            Region::Node(n) => aux.lit(&grounded.formulas, *n),
        })
        .collect();
    // Constant regions still need a root: an atom that is always true or
    // never.
    let targets: Vec<AtomId> = lits
        .iter()
        .map(|l| match *l {
            Lit::Atom(a) => a,
            Lit::True => aux.fresh_atom(vec![Vec::new()]),
            Lit::False => aux.fresh_atom(Vec::new()),
        })
        .collect();
    let compiled = compile_with(&extended, &targets, &grounded.evidence, req.budget, req.method).map_err(|e| {
        Error::Compile { file: String::new(), named: e.describe(|a| name_atom(grounded, a)), source: e }
    })?;
    let slots = compiled
        .slots
        .iter()
        .map(|s| match &grounded.choices[s.choice] {
            Choice::Fact { .. } => SlotSource::Input(rows[s.choice][0]),
            Choice::Disjunction { .. } => SlotSource::Chain(rows[s.choice][..=s.alternative].to_vec()),
        })
        .collect();
    let layered = LayeredCircuit::new(&compiled.circuit);
    let method = compiled.stats.method.name();
    Ok(Some((Nested { circuit: layered, slots }, compiled.with_evidence, method)))
}

/// An atom in a message: its text in backquotes (an auxiliary atom of a
/// formula has none: `a formula`).
pub(crate) fn name_atom(grounded: &GroundProgram, a: AtomId) -> String {
    match grounded.atoms.get(a.index()) {
        Some(_) => format!("`{}`", grounded.atom_text(a)),
        None => "a formula".to_string(),
    }
}

/// A query's atom as data: its predicate and its arguments, printed (they
/// are matched against names a user wrote: scene items, example atoms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryAtom {
    pub predicate: String,
    pub args: Vec<String>,
}

impl QueryAtom {
    /// The atom of an atom query (`None` for a formula query).
    fn of(grounded: &GroundProgram, query: &deeplog_program::Query) -> Option<QueryAtom> {
        let Subject::Atom { term, .. } = query.subject else { return None };
        let args = grounded.terms.args(term).iter().map(|&t| grounded.terms.show(t)).collect();
        match grounded.terms.view(term) {
            View::Atom(name) | View::Compound(name, _) => Some(QueryAtom { predicate: name.to_string(), args }),
            _ => None,
        }
    }
}

/// Rebuilds a circuit whose `Nested(k)` leaves mean "region k" into one
/// that reads `Nested(2k) / Nested(2k + 1)`: the region's probability given
/// the evidence.
fn condition(b: ExprBuilder, roots: Vec<ExprId>) -> Result<Expr, Error> {
    let old = b.finish(roots);
    let mut nb = ExprBuilder::new(old.num_inputs());
    let mut map = Vec::with_capacity(old.num_nodes());
    for i in 0..old.num_nodes() {
        let children: Vec<ExprId> = old.children_of(i).iter().map(|&c| map[c as usize]).collect();
        let id = match old.op(i) {
            Op::Nested(k) => {
                let joint = nb.add(Op::Nested(2 * k), &[])?;
                let evidence = nb.add(Op::Nested(2 * k + 1), &[])?;
                nb.add(Op::Div, &[joint, evidence])?
            }
            op => nb.add(op, &children)?,
        };
        map.push(id);
    }
    Ok(nb.finish(old.roots().iter().map(|&r| map[r as usize]).collect()))
}
