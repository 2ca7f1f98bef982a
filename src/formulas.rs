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
use deeplog_circuits::logic::{self, LogicProgram};
use deeplog_circuits::{compile_with, Budget, Evaluate, LayeredCircuit, Method, Weights};
use deeplog_gpu::{Gpu, GpuEvaluator, GpuFormulaEvaluator};
use deeplog_language::ground::{Aggregate, GroundFormula, GroundProgram};
use deeplog_language::model::Logic;
use deeplog_semirings::Probability;

use crate::model::Error;

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
            map.push(b.add(op, &children).map_err(err)?);
        }
        let expr = b.finish(self.expr.roots().iter().map(|&r| map[r as usize]).collect());
        let formula = GpuFormulaEvaluator::new(gpu, &expr).map_err(err)?;
        let nested = match &self.nested {
            Some(nested) => Some(GpuEvaluator::differentiable(gpu, &nested.circuit).map_err(err)?),
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
        inputs.extend(eval.forward(&w).map_err(err)?);
        Ok((inputs, Some(w)))
    }

    fn evaluator(&self) -> Result<ExprEvaluator<'_>, Error> {
        ExprEvaluator::new(&self.expr, self.nested.as_ref()).map_err(|e| Error::Evaluate(e.to_string()))
    }

    fn check_inputs(&self, values: &[f64], batch: usize) -> Result<(), Error> {
        if batch == 0 || values.len() != self.inputs.len() * batch {
            return Err(Error::Evaluate(format!(
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
            None => self.evaluator()?.forward(values, batch).map_err(err)?,
            Some(gpu) => {
                let (inputs, _) = self.gpu_inputs(gpu, values, batch)?;
                gpu.formula.forward(&inputs, batch).map_err(err)?.into_iter().map(f64::from).collect()
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
            return Err(Error::Evaluate(format!("{} seeds for {q} queries", seeds.len())));
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
            return Err(Error::Evaluate(format!("{} seeds for {q} queries × a batch of {batch}", seeds.len())));
        }
        self.gradient_of(values, batch, |r, b, _| if r < q { seeds[r * batch + b] } else { 0.0 })
    }

    /// Evaluation and the gradient of query `q`'s value.
    pub fn query_gradient(&self, values: &[f64], q: usize) -> Result<(Evaluation, Vec<f64>), Error> {
        if q >= self.queries.len() {
            return Err(Error::Evaluate(format!("there is no query {q}; the model has {}", self.queries.len())));
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
            let (roots, grads) = self.evaluator()?.forward_backward(values, batch, &seeds).map_err(err)?;
            return Ok((self.split(&roots, batch), grads));
        };
        let (inputs, weights) = self.gpu_inputs(gpu, values, batch)?;
        let seeds: Vec<f32> = seeds.iter().map(|&s| s as f32).collect();
        let (roots, grads) = gpu.formula.forward_backward(&inputs, batch, &seeds).map_err(err)?;
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
                let (_, g) = eval.forward_backward(&column, Some(&seeds)).map_err(err)?;
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
        || grounded.queries.iter().any(|q| q.formula.is_some() || (!forced && q.logic.is_some_and(|l| l != logic)))
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
    Node(u32),
    Atom(u32),
}

struct Builder<'g> {
    g: &'g GroundProgram,
    program: &'g LogicProgram,
    choice_rows: Vec<Vec<u32>>,
    b: ExprBuilder,
    fuzzy_atoms: HashMap<TNorm, Vec<Option<ExprId>>>,
    memo: HashMap<(u32, Ctx), ExprId>,
    /// Regions in order of first use; `Op::Nested(k)` reads region `k`
    /// (through [`Builder::placeholder`] until the circuit is compiled).
    regions: Vec<Region>,
    region_ids: HashMap<Region, u32>,
    boolean: Vec<bool>,
    budget: usize,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Evaluate(e.to_string())
}

impl<'g> Builder<'g> {
    fn add(&mut self, op: Op, children: &[ExprId]) -> Result<ExprId, Error> {
        if self.b.len() >= self.budget {
            return Err(Error::Compile(format!(
                "the formula circuit exceeded the node budget of {}; raise it with --max-nodes",
                self.budget
            )));
        }
        self.b.add(op, children).map_err(err)
    }

    fn fuzzy_atom(&mut self, t: TNorm, atom: u32) -> Result<ExprId, Error> {
        if !self.fuzzy_atoms.contains_key(&t) {
            let limits = FuzzyLimits { max_nodes: self.budget };
            let values =
                fuzzy::program_values(&mut self.b, self.program, t, &self.choice_rows, &self.g.evidence, limits)
                    .map_err(|e| Error::Evaluate(crate::model::name_atoms(&e.to_string(), &self.g.atoms)))?;
            self.fuzzy_atoms.insert(t, values);
        }
        match self.fuzzy_atoms[&t][atom as usize] {
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

    fn build(&mut self, node: u32, ctx: Ctx) -> Result<ExprId, Error> {
        if let Some(&id) = self.memo.get(&(node, ctx)) {
            return Ok(id);
        }
        let id = self.build_new(node, ctx)?;
        self.memo.insert((node, ctx), id);
        Ok(id)
    }

    fn children(&mut self, items: &[u32], ctx: Ctx) -> Result<Vec<ExprId>, Error> {
        items.iter().map(|&c| self.build(c, ctx)).collect()
    }

    fn build_new(&mut self, node: u32, ctx: Ctx) -> Result<ExprId, Error> {
        let g = self.g;
        let f = &g.formulas[node as usize];
        if ctx == Ctx::Probability && self.boolean[node as usize] {
            return match f {
                GroundFormula::Const(b) => self.add(Op::Const(f64::from(u8::from(*b))), &[]),
                GroundFormula::Atom(a) => self.region(Region::Atom(*a)),
                _ => self.region(Region::Node(node)),
            };
        }
        match f {
            GroundFormula::Atom(a) => match ctx {
                Ctx::Fuzzy(t) => self.fuzzy_atom(t, *a),
                Ctx::Probability => unreachable!("an atom is boolean"),
            },
            GroundFormula::Const(b) => self.add(Op::Const(f64::from(u8::from(*b))), &[]),
            GroundFormula::Number(x) => self.add(Op::Const(*x), &[]),
            GroundFormula::Aggregate(op, items) => {
                let children = self.children(items, ctx)?;
                if children.is_empty() {
                    let empty = match op {
                        Aggregate::Sum => 0.0,
                        Aggregate::Product => 1.0,
                        _ => return Err(Error::Evaluate(format!("{op:?} over an empty domain has no value"))),
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
            GroundFormula::Transform(logic, inner) => match (*logic, logic.tnorm()) {
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
                    GroundFormula::Not(a) => {
                        let a = self.build(*a, ctx)?;
                        self.add(Op::Not, &[a])
                    }
                    GroundFormula::And(items) if items.is_empty() => self.add(Op::Const(1.0), &[]),
                    GroundFormula::Or(items) if items.is_empty() => self.add(Op::Const(0.0), &[]),
                    GroundFormula::And(items) => {
                        let c = self.children(items, ctx)?;
                        self.add(Op::And(t), &c)
                    }
                    GroundFormula::Or(items) => {
                        let c = self.children(items, ctx)?;
                        self.add(Op::Or(t), &c)
                    }
                    GroundFormula::Implies(a, b) | GroundFormula::RImplies(a, b) | GroundFormula::SImplies(a, b) => {
                        let kind = match connective {
                            GroundFormula::Implies(..) => t.implication(),
                            GroundFormula::RImplies(..) => t.residuum(),
                            _ => t.s_implication(),
                        };
                        let (a, b) = (self.build(*a, ctx)?, self.build(*b, ctx)?);
                        self.add(Op::Implies(kind), &[a, b])
                    }
                    GroundFormula::Iff(a, b) => {
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
fn boolean_nodes(formulas: &[GroundFormula]) -> Vec<bool> {
    let mut boolean = vec![false; formulas.len()];
    for (i, f) in formulas.iter().enumerate() {
        let all = |items: &[u32], boolean: &[bool]| items.iter().all(|&c| boolean[c as usize]);
        boolean[i] = match f {
            GroundFormula::Atom(_) | GroundFormula::Const(_) => true,
            GroundFormula::Not(a) => boolean[*a as usize],
            GroundFormula::And(items) | GroundFormula::Or(items) => all(items, &boolean),
            GroundFormula::Implies(a, b)
            | GroundFormula::RImplies(a, b)
            | GroundFormula::SImplies(a, b)
            | GroundFormula::Iff(a, b) => boolean[*a as usize] && boolean[*b as usize],
            GroundFormula::Number(_) | GroundFormula::Aggregate(..) | GroundFormula::Transform(..) => false,
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
    Atom(u32),
}

struct Aux<'p> {
    program: &'p mut LogicProgram,
    memo: HashMap<u32, Lit>,
}

impl Aux<'_> {
    fn fresh(&mut self, bodies: Vec<Vec<(u32, bool)>>) -> Lit {
        let head = self.program.num_atoms;
        self.program.num_atoms += 1;
        for body in bodies {
            self.program.rules.push(logic::Rule { head, body });
        }
        Lit::Atom(head)
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

    fn lit(&mut self, formulas: &[GroundFormula], node: u32) -> Lit {
        if let Some(&l) = self.memo.get(&node) {
            return l;
        }
        let sub = |s: &mut Self, n: u32| s.lit(formulas, n);
        let l = match &formulas[node as usize] {
            GroundFormula::Atom(a) => Lit::Atom(*a),
            GroundFormula::Const(true) => Lit::True,
            GroundFormula::Const(false) => Lit::False,
            GroundFormula::Not(a) => {
                let a = sub(self, *a);
                self.combine(vec![(a, false)], true)
            }
            GroundFormula::And(items) | GroundFormula::Or(items) => {
                let and = matches!(formulas[node as usize], GroundFormula::And(_));
                let lits = items.iter().map(|&c| (sub(self, c), true)).collect();
                self.combine(lits, and)
            }
            GroundFormula::Implies(a, b) | GroundFormula::RImplies(a, b) | GroundFormula::SImplies(a, b) => {
                let (a, b) = (sub(self, *a), sub(self, *b));
                self.combine(vec![(a, false), (b, true)], false)
            }
            GroundFormula::Iff(a, b) => {
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

/// Builds the formula circuit of a grounded model in `req.logic`.
pub(crate) fn build(grounded: &GroundProgram, program: &LogicProgram, req: &Request) -> Result<Formulas, Error> {
    let logic = req.logic;
    let ctx = context(logic)?;
    let choice_rows = fuzzy::choice_inputs(program);
    let num_inputs = choice_rows.iter().map(Vec::len).sum::<usize>() as u32;
    let mut inputs = Vec::with_capacity(num_inputs as usize);
    for (choice, c) in grounded.choices.iter().enumerate() {
        let learnable = grounded.learnable.get(choice).copied().unwrap_or(false);
        let neural = grounded.neural.get(choice).and_then(Option::as_ref);
        let input = |atom: u32, value: f64| Input {
            name: grounded.atoms[atom as usize].clone(),
            value,
            choice,
            learnable,
            network: neural.map(|n| n.network.clone()),
            network_inputs: neural.map(|n| n.inputs.clone()).unwrap_or_default(),
        };
        match c {
            deeplog_language::ground::GroundChoice::Fact { atom, probability } => {
                inputs.push(input(*atom, *probability))
            }
            deeplog_language::ground::GroundChoice::Disjunction { atoms } => {
                inputs.extend(atoms.iter().map(|&(a, p)| input(a, p)));
            }
        }
    }
    let mut builder = Builder {
        g: grounded,
        program,
        choice_rows,
        b: ExprBuilder::new(num_inputs),
        fuzzy_atoms: HashMap::new(),
        memo: HashMap::new(),
        regions: Vec::new(),
        region_ids: HashMap::new(),
        boolean: boolean_nodes(&grounded.formulas),
        budget: req.budget.max_nodes,
    };
    let mut roots = Vec::new();
    let mut query_logics = Vec::with_capacity(grounded.queries.len());
    for q in &grounded.queries {
        let logic = if req.forced { logic } else { q.logic.unwrap_or(logic) };
        query_logics.push(logic);
        let ctx = context(logic)?;
        let value = match (q.formula, q.atom, ctx) {
            (Some(f), _, _) => builder.build(f, ctx)?,
            (None, Some(a), Ctx::Probability) => builder.region(Region::Atom(a))?,
            (None, Some(a), Ctx::Fuzzy(t)) => builder.fuzzy_atom(t, a)?,
            (None, None, _) => builder.add(Op::Const(0.0), &[])?,
        };
        roots.push(if logic == Logic::LogProbability { builder.add(Op::Ln, &[value])? } else { value });
    }
    let mut constraints = Vec::new();
    let mut loss_terms = Vec::new();
    for c in &grounded.constraints {
        let value = builder.build(c.formula, ctx)?;
        roots.push(value);
        let weight = c.weight.unwrap_or(1.0);
        constraints.push(ConstraintInfo { text: c.text.clone(), weight });
        // Fuzzy: w · (1 − truth); probability: w · −ln P.
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
    let has_loss = !loss_terms.is_empty();
    if has_loss {
        let loss = builder.add(Op::Sum, &loss_terms)?;
        roots.push(loss);
    }

    // Compile the boolean regions into one nested circuit.
    let Builder { b, regions, .. } = builder;
    let (nested, compiler) = if regions.is_empty() {
        (None, None)
    } else {
        let mut extended = program.clone();
        let mut aux = Aux { program: &mut extended, memo: HashMap::new() };
        let lits: Vec<Lit> = regions
            .iter()
            .map(|r| match r {
                Region::Atom(a) => Lit::Atom(*a),
                Region::Node(n) => aux.lit(&grounded.formulas, *n),
            })
            .collect();
        // Constant regions still need a root: an atom that is always true
        // or never.
        let mut targets = Vec::with_capacity(lits.len());
        for l in &lits {
            targets.push(match *l {
                Lit::Atom(a) => a,
                Lit::True => match aux.fresh(vec![Vec::new()]) {
                    Lit::Atom(a) => a,
                    _ => unreachable!("fresh gives an atom"),
                },
                Lit::False => match aux.fresh(Vec::new()) {
                    Lit::Atom(a) => a,
                    _ => unreachable!("fresh gives an atom"),
                },
            });
        }
        let compiled = compile_with(&extended, &targets, &grounded.evidence, req.budget, req.method)
            .map_err(|e| Error::Compile(crate::model::name_atoms(&e.to_string(), &grounded.atoms)))?;
        let rows = fuzzy::choice_inputs(program);
        let slots = compiled
            .slots
            .iter()
            .map(|s| match &program.choices[s.choice] {
                logic::Choice::Fact { .. } => SlotSource::Input(rows[s.choice][0]),
                logic::Choice::Disjunction { .. } => SlotSource::Chain(rows[s.choice][..=s.alternative].to_vec()),
            })
            .collect();
        let layered = LayeredCircuit::new(&compiled.circuit);
        let method = compiled.stats.method.name();
        (Some((Nested { circuit: layered, slots }, compiled.with_evidence)), Some(method))
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
        queries: grounded.queries.iter().map(|q| q.text.clone()).collect(),
        query_logics,
        constraints,
        has_loss,
        compiler,
        gpu: None,
    })
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
                let joint = nb.add(Op::Nested(2 * k), &[]).map_err(err)?;
                let evidence = nb.add(Op::Nested(2 * k + 1), &[]).map_err(err)?;
                nb.add(Op::Div, &[joint, evidence]).map_err(err)?
            }
            op => nb.add(op, &children).map_err(err)?,
        };
        map.push(id);
    }
    Ok(nb.finish(old.roots().iter().map(|&r| map[r as usize]).collect()))
}
