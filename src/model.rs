//! [`Model`]: a model file loaded, checked, and answered — the whole
//! pipeline behind one type.
//!
//! ```
//! use deeplog::{Model, QueryOptions};
//!
//! let model = Model::from_source("coins.pl", "0.3::a(s); 0.7::a(t).\nquery(a(s)).\n").unwrap();
//! let answers = model.query(&QueryOptions::default()).unwrap();
//! assert_eq!(answers.answers[0].query, "a(s)");
//! assert!((answers.answers[0].value - 0.3).abs() < 1e-12);
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use deeplog_circuits::compile::LineageRewriting;
use deeplog_circuits::explain::heaviest;
use deeplog_circuits::logic::{self, Choice, LogicProgram};
use deeplog_circuits::optimize::{self, Rewrites};
use deeplog_circuits::properties::{check, smooth};
use deeplog_circuits::{compile_with, Budget, Circuit, Method};
use deeplog_circuits::{CpuEvaluator, Evaluate, LayeredCircuit, Weights};
use deeplog_gpu::GpuEvaluator;
use deeplog_language::ground::{ground, GroundChoice, GroundProgram, Limits};
use deeplog_language::model::Logic;
use deeplog_language::{check_source, Checked};
use deeplog_semirings::{Counting, LogProbability};

use crate::formulas::{self, Formulas};

/// Why a model could not be answered. The `Display` text is what a user
/// reads: rendered diagnostics with source lines, or a one-line cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{rendered}")]
    Invalid { rendered: String, errors: usize },
    #[error("{0}")]
    Ground(String),
    #[error("{0}")]
    Compile(String),
    #[error("{0}")]
    Evaluate(String),
    #[error("evidence has probability zero: {0}")]
    ImpossibleEvidence(String),
    #[error("{0}")]
    Unsupported(String),
}

/// How to answer.
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// Overrides the model's `:- logic(...)`.
    pub logic: Option<Logic>,
    /// Stop compiling after this long.
    pub timeout: Option<Duration>,
    /// Stop compiling past this many circuit nodes.
    pub max_nodes: usize,
    /// Which knowledge compiler to run (default: chosen per program).
    pub compiler: Method,
    /// Also find each query's most probable explanation.
    pub explain: bool,
    /// Where the circuit is evaluated: the CPU (`f64`, the default), a GPU
    /// (`f32`) or a GPU when there is one.
    pub device: crate::Device,
    /// Probabilities that replace the model's, by atom (`deeplog train`'s
    /// output): each names a learnable fact or alternative of the model.
    pub parameters: Option<std::collections::HashMap<String, f64>>,
    /// Whether to rewrite the circuit smaller by the laws of the algebra it
    /// is evaluated in before evaluating it. `auto` (the default) leaves
    /// alone a circuit [`Model::query`] evaluates only once.
    pub optimize: optimize::Mode,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            logic: None,
            timeout: None,
            max_nodes: 50_000_000,
            compiler: Method::Auto,
            explain: false,
            device: crate::Device::Cpu,
            parameters: None,
            optimize: optimize::Mode::Auto,
        }
    }
}

/// One query's answer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Answer {
    pub query: String,
    /// In the chosen logic: a probability, a log-probability, 1 or 0
    /// (boolean), the most probable world's probability (max-product), or
    /// a number of worlds (counting).
    pub value: f64,
    /// Counting: the exact number of worlds, as decimal text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// With [`QueryOptions::explain`]: the most probable explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
    /// The query's own logic, when it differs from the model's
    /// (`query(q, logic(L))`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logic: Option<String>,
}

/// The most probable proof of a query: facts (and choices of annotated
/// disjunctions) whose truth alone makes it true, of the highest joint
/// probability. Exact for positive programs: negative information only
/// enters through the alternatives an annotated disjunction did not take
/// and through negation in the program.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// Probability of the proof (the product over its facts and choices).
    pub probability: f64,
    /// Its facts and chosen alternatives, in the model's order.
    pub facts: Vec<String>,
}

/// Seconds spent per stage, and the circuit's size.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Timings {
    pub parse_and_check_s: f64,
    pub ground_s: f64,
    pub compile_s: f64,
    pub evaluate_s: f64,
    /// The knowledge compiler that ran: `top-down` or `bottom-up`.
    pub compiler: &'static str,
    pub ground_atoms: usize,
    pub ground_rules: usize,
    pub circuit_nodes: usize,
    pub circuit_edges: usize,
    /// Time spent on `--optimize` (0 when off).
    pub optimize_s: f64,
    /// Edges after optimisation, where it was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimized_edges: Option<usize>,
    /// Where the circuit was evaluated: `cpu` or the GPU adapter's name.
    pub device: String,
    /// Edges of the lineage (negation normal form) before and after
    /// `--optimize on` rewrote it, where it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage_edges: Option<(usize, usize)>,
    /// Time spent rewriting the lineage (part of `compile_s`).
    pub lineage_rewrite_s: f64,
}

/// All answers of a model, in query order.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Answers {
    pub logic: String,
    pub answers: Vec<Answer>,
    /// Each constraint's value in the logic (truth, or probability).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<ConstraintAnswer>,
    /// With constraints: `Σ weight · (1 − truth)` in a fuzzy logic,
    /// `Σ weight · −ln P` in the probability logic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    pub timings: Timings,
}

/// A constraint's value.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ConstraintAnswer {
    pub constraint: String,
    pub weight: f64,
    /// Its truth (fuzzy) or probability.
    pub value: f64,
}

/// A checked model file.
pub struct Model {
    name: String,
    source: String,
    checked: Checked,
    check_s: f64,
}

impl Model {
    /// Reads and checks a model file.
    pub fn from_file(path: &Path) -> Result<Model, Error> {
        let source =
            std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.display().to_string(), source })?;
        Model::from_source(&path.display().to_string(), &source)
    }

    /// Checks model text; `name` is used in messages. Errors stop here;
    /// warnings are kept ([`Model::warnings`]).
    pub fn from_source(name: &str, source: &str) -> Result<Model, Error> {
        let start = Instant::now();
        let checked = check_source(source);
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            let rendered = checked.diagnostics.iter().map(|d| d.render(name, source)).collect::<String>();
            return Err(Error::Invalid { rendered: rendered.trim_end().to_string(), errors });
        }
        Ok(Model {
            name: name.to_string(),
            source: source.to_string(),
            checked,
            check_s: start.elapsed().as_secs_f64(),
        })
    }

    /// This model with `extra` clauses after its own (checked again).
    pub fn with_source_appended(&self, extra: &str) -> Result<Model, Error> {
        Model::from_source(&self.name, &format!("{}\n{extra}\n", self.source))
    }

    /// The networks the model's neural predicates (`nn(net, …)::`) name,
    /// in file order.
    pub fn networks(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let heads = self.checked.model.iter().flat_map(|m| m.rules()).flat_map(|r| &r.heads);
        for head in heads {
            if let deeplog_language::model::Annotation::Neural(n) = &head.annotation {
                if !names.contains(&n.network) {
                    names.push(n.network.clone());
                }
            }
        }
        names
    }

    /// Warnings, rendered with their source lines.
    pub fn warnings(&self) -> String {
        self.checked.diagnostics.iter().map(|d| d.render(&self.name, &self.source)).collect()
    }

    /// Answers every query of the model.
    pub fn query(&self, options: &QueryOptions) -> Result<Answers, Error> {
        let Some(model) = &self.checked.model else { unreachable!("a checked model without errors has a model") };
        let logic = options.logic.or(model.logic()).unwrap_or(Logic::Probability);
        let (grounded, program, timings) = self.ground(options)?;
        if let Some(n) = grounded.neural.iter().flatten().next() {
            return Err(Error::Unsupported(format!(
                "the model's answers depend on the neural predicate network `{}`, which a model file cannot run by \
                 itself; evaluate it from Rust with deeplog::neural::NeuralModel and the network",
                n.network
            )));
        }
        if formulas::needed(logic, options.logic.is_some(), &grounded) {
            return self.query_formulas(&grounded, &program, timings, logic, options);
        }
        let compiled = self.compile_grounded(&grounded, &program, timings, options)?;
        if matches!(logic, Logic::MaxProduct | Logic::Counting) && compiled.disjunctive.iter().any(|&d| d) {
            return Err(Error::Unsupported(format!(
                "the {logic} reading ranges over whole worlds, and deeplog does not yet combine it with annotated \
                 disjunctions (this model has some); use probability, log-probability or boolean"
            )));
        }
        let CompiledModel { circuit, slots, queries, with_evidence, evidence_root, evidence, disjunctive, mut timings } =
            compiled;

        // One evaluation costs less than any rewrite of the circuit (on the
        // shared programs, evaluating takes milliseconds and optimising tens
        // of them): `auto` leaves a circuit evaluated once alone.
        let mode = match options.optimize {
            optimize::Mode::Auto => optimize::Mode::Off,
            mode => mode,
        };
        let optimized = optimize_compiled(&circuit, mode, &mut timings);
        let start = Instant::now();
        let layered = LayeredCircuit::new(optimized.as_ref().unwrap_or(&circuit));
        // Evaluated in log space (stable for tiny probabilities), then
        // reported in the logic asked for.
        let values: Vec<f64> = if layered.num_roots() == 0 {
            Vec::new()
        } else {
            let log_weights: Vec<f64> = slots.iter().map(|s| s.probability.ln()).collect();
            match options.device.open().map_err(|e| Error::Evaluate(e.to_string()))? {
                None => {
                    timings.device = "cpu".to_string();
                    let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered)
                        .map_err(|e| Error::Evaluate(e.to_string()))?;
                    eval.forward(&Weights::complementary(1, log_weights)).map_err(|e| Error::Evaluate(e.to_string()))?
                }
                Some(gpu) => {
                    timings.device = gpu.name();
                    let eval = GpuEvaluator::<LogProbability<f32>>::new(&gpu, &layered)
                        .map_err(|e| Error::Evaluate(e.to_string()))?;
                    let w = Weights::complementary(1, log_weights.iter().map(|&x| x as f32).collect());
                    let values = eval.forward(&w).map_err(|e| Error::Evaluate(e.to_string()))?;
                    values.into_iter().map(f64::from).collect()
                }
            }
        };
        // Max-product and counting range over whole worlds: every slot in
        // every branch (smoothed over all of them).
        let smoothed = matches!(logic, Logic::MaxProduct | Logic::Counting).then(|| smooth(&circuit, true));
        let counts = match (&smoothed, logic) {
            (Some(c), Logic::Counting) if !c.roots().is_empty() => {
                let layered = LayeredCircuit::with_properties(c, check(c));
                let n = c.num_slots() as usize;
                let ones = Weights { batch: 1, positive: vec![1u128; n], negative: Some(vec![1u128; n]) };
                let eval = CpuEvaluator::<Counting>::new(&layered).map_err(|e| Error::Evaluate(e.to_string()))?;
                Some(eval.forward(&ones).map_err(|e| Error::Evaluate(e.to_string()))?)
            }
            _ => None,
        };
        timings.evaluate_s = start.elapsed().as_secs_f64();
        if evidence_root.is_some_and(|e| values[e] == f64::NEG_INFINITY) {
            return Err(Error::ImpossibleEvidence(evidence));
        }

        // An instance of a query with variables that no world (consistent
        // with the evidence) makes true is left out, as ProbLog leaves it
        // out: `path(a, X)` lists the `X` that can be reached.
        let satisfiable = grounded.queries.iter().any(|g| g.instance).then(|| satisfiable_nodes(&circuit));
        let mut answers = Vec::with_capacity(queries.len());
        for (q, g) in queries.iter().zip(&grounded.queries) {
            if let (true, Some(root), Some(sat)) = (g.instance, q.root, &satisfiable) {
                if !sat[circuit.roots()[root].index()] {
                    continue;
                }
            }
            let log_value = match q.root {
                None => f64::NEG_INFINITY,
                Some(root) if with_evidence => values[root] - values[root + 1],
                Some(root) => values[root],
            };
            // Boolean and counting read the joint root (query and evidence).
            let (value, exact) = match (logic, q.root) {
                (Logic::LogProbability, _) => (log_value, None),
                (Logic::Probability, _) => (log_value.exp(), None),
                (_, None) => (0.0, (logic == Logic::Counting).then(|| "0".to_string())),
                (Logic::Boolean, Some(root)) => (possible(&circuit, &slots, root) as u8 as f64, None),
                (Logic::MaxProduct, Some(root)) => {
                    // The most probable world with the query (and the
                    // evidence), given the evidence.
                    let given = if with_evidence { values[root + 1] } else { 0.0 };
                    (most_probable_world(smoothed.as_ref().expect("smoothed"), &slots, root).exp() / given.exp(), None)
                }
                (_, Some(root)) => {
                    let count = counts.as_ref().expect("counted")[root];
                    let text = if count == u128::MAX { "at least 2^128".to_string() } else { count.to_string() };
                    (count as f64, Some(text))
                }
            };
            let explanation = match q.root {
                Some(root) if options.explain => self.explain(&circuit, &slots, &disjunctive, root),
                _ => None,
            };
            answers.push(Answer { query: q.query.clone(), value, exact, explanation, logic: None });
        }
        Ok(Answers { logic: logic.name().to_string(), answers, constraints: Vec::new(), loss: None, timings })
    }

    /// The model built for `options`' logic as a formula circuit (see
    /// [`crate::formulas`]): evaluate its queries and constraints and
    /// differentiate its loss with new input values, as often as needed.
    pub fn formulas(&self, options: &QueryOptions) -> Result<Formulas, Error> {
        let Some(model) = &self.checked.model else { unreachable!("a checked model without errors has a model") };
        let logic = options.logic.or(model.logic()).unwrap_or(Logic::Probability);
        let (grounded, program, _) = self.ground(options)?;
        self.build_formulas(&grounded, &program, logic, options)
    }

    fn build_formulas(
        &self,
        grounded: &GroundProgram,
        program: &LogicProgram,
        logic: Logic,
        options: &QueryOptions,
    ) -> Result<Formulas, Error> {
        let budget = Budget { max_nodes: options.max_nodes, timeout: options.timeout, ..Budget::default() };
        let request =
            formulas::Request { logic, forced: options.logic.is_some(), budget: &budget, method: options.compiler };
        formulas::build(grounded, program, &request).map_err(|e| match e {
            Error::Compile(text) => Error::Compile(format!("{}: {}", self.name, name_atoms(&text, &grounded.atoms))),
            other => other,
        })
    }

    /// Answers through the formula circuit: fuzzy logics, formula queries,
    /// constraints.
    fn query_formulas(
        &self,
        grounded: &GroundProgram,
        program: &LogicProgram,
        mut timings: Timings,
        logic: Logic,
        options: &QueryOptions,
    ) -> Result<Answers, Error> {
        if options.explain {
            return Err(Error::Unsupported(
                "--explain works for atom queries in the probability logics; this model is answered as a formula \
                 circuit"
                    .to_string(),
            ));
        }
        let start = Instant::now();
        let mut built = self.build_formulas(grounded, program, logic, options)?;
        if let Some(gpu) = options.device.open().map_err(|e| Error::Evaluate(e.to_string()))? {
            built = built.on_gpu(&gpu)?;
        }
        timings.compile_s = start.elapsed().as_secs_f64();
        timings.compiler = built.compiler.unwrap_or("none (truth-functional)");
        (timings.circuit_nodes, timings.circuit_edges) = built.size();
        timings.device = built.device();
        let start = Instant::now();
        let evaluation = built.evaluate(&built.initial_values())?;
        timings.evaluate_s = start.elapsed().as_secs_f64();
        if evaluation.queries.iter().chain(&evaluation.constraints).any(|v| v.is_nan()) && !grounded.evidence.is_empty()
        {
            return Err(Error::ImpossibleEvidence(describe_evidence(&grounded.evidence, &grounded.atoms)));
        }
        let answers = built
            .queries()
            .iter()
            .zip(&evaluation.queries)
            .zip(built.query_logics())
            .map(|((q, &value), &own)| Answer {
                query: q.clone(),
                value,
                exact: None,
                explanation: None,
                logic: (own != logic).then(|| own.name().to_string()),
            })
            .collect();
        let constraints = built
            .constraints()
            .iter()
            .zip(&evaluation.constraints)
            .map(|(c, &value)| ConstraintAnswer { constraint: c.text.clone(), weight: c.weight, value })
            .collect();
        Ok(Answers {
            logic: logic.name().to_string(),
            answers,
            constraints,
            loss: (!grounded.constraints.is_empty()).then_some(evaluation.loss),
            timings,
        })
    }

    /// The heaviest proof under `root` (see [`Explanation`]): facts weigh
    /// their probability when used and 1 when not; an annotated
    /// disjunction's chain links weigh their conditional probabilities
    /// either way, so that taking alternative `i` weighs `p_i`.
    fn explain(&self, circuit: &Circuit, slots: &[SlotInfo], disjunctive: &[bool], root: usize) -> Option<Explanation> {
        let weight = |l: deeplog_circuits::Literal| {
            let (p, chained) = (slots[l.slot.0 as usize].probability, disjunctive[l.slot.0 as usize]);
            match (l.positive, chained) {
                (true, _) => p.ln(),
                (false, true) => (1.0 - p).ln(),
                (false, false) => 0.0,
            }
        };
        let (log_p, literals) = heaviest(circuit, circuit.roots()[root], weight)?;
        let mut used: Vec<usize> = literals.iter().filter(|l| l.positive).map(|l| l.slot.0 as usize).collect();
        used.sort_by_key(|&s| (slots[s].choice, slots[s].alternative));
        Some(Explanation { probability: log_p.exp(), facts: used.iter().map(|&s| slots[s].name.clone()).collect() })
    }

    /// Grounds and compiles the model: one circuit for all its queries,
    /// with the slot table that says what each input is. The circuit can be
    /// saved ([`CompiledModel::to_json`]) and evaluated again without the
    /// model.
    pub fn compile(&self, options: &QueryOptions) -> Result<CompiledModel, Error> {
        let (grounded, program, timings) = self.ground(options)?;
        if !grounded.constraints.is_empty() || grounded.queries.iter().any(|q| q.formula.is_some()) {
            return Err(Error::Unsupported(
                "this model has formula queries or constraints, which are evaluated as a formula circuit rather than \
                 one compiled circuit; answer it with `deeplog query`"
                    .to_string(),
            ));
        }
        self.compile_grounded(&grounded, &program, timings, options)
    }

    /// The model grounded, as the ground program and as the circuits'
    /// logic program.
    fn ground(&self, options: &QueryOptions) -> Result<(GroundProgram, LogicProgram, Timings), Error> {
        let Some(model) = &self.checked.model else { unreachable!("a checked model without errors has a model") };
        let mut timings = Timings { parse_and_check_s: self.check_s, ..Timings::default() };

        let start = Instant::now();
        let mut grounded = ground(model, &Limits::default()).map_err(|e| {
            let at = e.span.line_col(&self.source);
            Error::Ground(format!("{}:{}:{}: {}", self.name, at.line, at.column, e.message))
        })?;
        if let Some(parameters) = &options.parameters {
            set_parameters(&mut grounded, parameters)?;
        }
        timings.ground_s = start.elapsed().as_secs_f64();
        timings.ground_atoms = grounded.atoms.len();
        timings.ground_rules = grounded.rules.len();

        let program = LogicProgram {
            num_atoms: grounded.atoms.len() as u32,
            rules: grounded.rules.iter().map(|r| logic::Rule { head: r.head, body: r.body.clone() }).collect(),
            choices: grounded
                .choices
                .iter()
                .map(|c| match c {
                    GroundChoice::Fact { atom, probability } => Choice::Fact { atom: *atom, probability: *probability },
                    GroundChoice::Disjunction { atoms } => Choice::Disjunction { atoms: atoms.clone() },
                })
                .collect(),
        };
        Ok((grounded, program, timings))
    }

    fn compile_grounded(
        &self,
        grounded: &GroundProgram,
        program: &LogicProgram,
        mut timings: Timings,
        options: &QueryOptions,
    ) -> Result<CompiledModel, Error> {
        // Queries that cannot be derived are false without compiling them.
        let mut derivable: Vec<u32> = grounded.queries.iter().filter_map(|q| q.atom).collect();
        // With evidence and no query to carry it, an evidence atom stands in
        // for one, so that the circuit still has the evidence's root:
        // impossible evidence is an error whatever is asked.
        if derivable.is_empty() {
            derivable.extend(grounded.evidence.first().map(|&(atom, _)| atom));
        }
        let start = Instant::now();
        let budget = Budget {
            max_nodes: options.max_nodes,
            timeout: options.timeout,
            rewrite_lineage: match options.optimize {
                optimize::Mode::Off => LineageRewriting::Never,
                optimize::Mode::Auto => LineageRewriting::Unrolled,
                optimize::Mode::On => LineageRewriting::Always,
            },
        };
        let compiled =
            compile_with(program, &derivable, &grounded.evidence, &budget, options.compiler).map_err(|e| {
                let text = e.to_string();
                Error::Compile(format!("{}: {}", self.name, name_atoms(&text, &grounded.atoms)))
            })?;
        timings.compile_s = start.elapsed().as_secs_f64();
        timings.compiler = compiled.stats.method.name();
        timings.circuit_nodes = compiled.circuit.num_nodes();
        timings.circuit_edges = compiled.circuit.num_edges();
        if let Some(r) = compiled.stats.lineage_rewrite {
            timings.lineage_edges = Some((r.edges_before, if r.improved { r.edges_after } else { r.edges_before }));
            timings.lineage_rewrite_s = r.micros as f64 * 1e-6;
        }

        let mut queries = Vec::with_capacity(grounded.queries.len());
        let mut next = 0;
        let per_query = if compiled.with_evidence { 2 } else { 1 };
        for q in &grounded.queries {
            let root = q.atom.map(|_| {
                next += 1;
                (next - 1) * per_query
            });
            queries.push(CompiledQuery { query: q.text.clone(), root });
        }
        let slots = compiled
            .slots
            .iter()
            .map(|s| {
                let atom = match &grounded.choices[s.choice] {
                    GroundChoice::Fact { atom, .. } => *atom,
                    GroundChoice::Disjunction { atoms } => atoms[s.alternative].0,
                };
                SlotInfo {
                    name: grounded.atoms[atom as usize].clone(),
                    probability: s.probability,
                    choice: s.choice,
                    alternative: s.alternative,
                }
            })
            .collect();
        let disjunctive = compiled
            .slots
            .iter()
            .map(|s| matches!(grounded.choices[s.choice], GroundChoice::Disjunction { .. }))
            .collect();
        Ok(CompiledModel {
            disjunctive,
            circuit: compiled.circuit,
            slots,
            queries,
            with_evidence: compiled.with_evidence,
            evidence_root: compiled.with_evidence.then_some(1),
            evidence: describe_evidence(&grounded.evidence, &grounded.atoms),
            timings,
        })
    }
}

/// `circuit` rewritten smaller by the semiring laws (which hold in every
/// algebra exact inference reads a compiled circuit in), as `mode` says;
/// `None` where it stays as it is. Under `auto`, saturation gets a quarter
/// of the compile time (at least 20 ms). Records time and size in `timings`.
pub fn optimize_compiled(circuit: &Circuit, mode: optimize::Mode, timings: &mut Timings) -> Option<Circuit> {
    let start = Instant::now();
    let budget = match mode {
        optimize::Mode::Auto => optimize::Budget {
            time: Duration::from_secs_f64((timings.compile_s / 4.0).clamp(0.02, 10.0)),
            ..Default::default()
        },
        _ => optimize::Budget::default(),
    };
    let optimized = optimize::run(circuit, Rewrites::Semiring, mode, &budget);
    timings.optimize_s = start.elapsed().as_secs_f64();
    timings.optimized_edges = optimized.as_ref().filter(|o| o.report.improved).map(|o| o.report.edges_after);
    optimized.filter(|o| o.report.improved).map(|o| o.circuit)
}

/// What one input slot of a compiled model stands for.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlotInfo {
    /// The probabilistic fact, or the alternative of an annotated
    /// disjunction, the slot encodes.
    pub name: String,
    /// Probability of the slot's positive literal (the negative one has the
    /// rest). For alternative `i > 0` of a disjunction this is conditional on
    /// the earlier alternatives being false: `p_i / (1 − p_1 − … − p_{i−1})`.
    pub probability: f64,
    /// Index of the choice (fact or disjunction) in grounding order.
    pub choice: usize,
    /// Alternative within a disjunction (0 for a fact).
    pub alternative: usize,
}

/// A query of a compiled model and the root that answers it (`None`: it
/// cannot be derived, probability 0). With evidence, root `r` is
/// `query ∧ evidence` and `r + 1` is the evidence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompiledQuery {
    pub query: String,
    pub root: Option<usize>,
}

/// A model compiled into one circuit ([`Model::compile`]).
pub struct CompiledModel {
    pub circuit: Circuit,
    pub slots: Vec<SlotInfo>,
    pub queries: Vec<CompiledQuery>,
    pub with_evidence: bool,
    /// The root of the evidence alone, where there is evidence (every
    /// query's second root is one; this one exists also where no query is
    /// derivable).
    pub evidence_root: Option<usize>,
    /// The evidence, as text (for messages).
    pub evidence: String,
    /// Per slot: whether it is a link of an annotated disjunction's chain.
    pub disjunctive: Vec<bool>,
    pub timings: Timings,
}

impl CompiledModel {
    /// The circuit in deeplog's JSON circuit format, with a `model` section
    /// holding the slot table and the queries' roots, so that
    /// `deeplog circuit eval` evaluates it with the model's probabilities.
    pub fn to_json(&self, source: &str) -> String {
        let model = serde_json::json!({
            "source": source,
            "slots": self.slots,
            "queries": self.queries,
            "with_evidence": self.with_evidence,
        });
        deeplog_circuits::formats::write_json_with_model(&self.circuit, &model)
    }
}

/// Whether some world of nonzero probability makes `root` true.
fn possible(circuit: &Circuit, slots: &[SlotInfo], root: usize) -> bool {
    let weight = |l: deeplog_circuits::Literal| {
        let p = slots[l.slot.0 as usize].probability;
        if (l.positive && p > 0.0) || (!l.positive && p < 1.0) {
            0.0
        } else {
            f64::NEG_INFINITY
        }
    };
    heaviest(circuit, circuit.roots()[root], weight).is_some()
}

/// Per node of a decomposable circuit, whether some world makes it true
/// (whatever the weights): a product where all its children are, a sum
/// where one is.
fn satisfiable_nodes(circuit: &Circuit) -> Vec<bool> {
    use deeplog_circuits::Node;
    let mut sat = Vec::with_capacity(circuit.num_nodes());
    for node in circuit.nodes() {
        let s = match node {
            Node::False => false,
            Node::True | Node::Literal(_) => true,
            Node::Product(cs) => cs.iter().all(|c| sat[c.index()]),
            Node::Sum(cs) => cs.iter().any(|c| sat[c.index()]),
        };
        sat.push(s);
    }
    sat
}

/// `ln` of the probability of the most probable world under `root` of a
/// circuit smoothed over every slot (so every world names every slot).
fn most_probable_world(smoothed: &Circuit, slots: &[SlotInfo], root: usize) -> f64 {
    let weight = |l: deeplog_circuits::Literal| {
        let p = slots[l.slot.0 as usize].probability;
        if l.positive {
            p.ln()
        } else {
            (1.0 - p).ln()
        }
    };
    heaviest(smoothed, smoothed.roots()[root], weight).map_or(f64::NEG_INFINITY, |(w, _)| w)
}

/// Replaces the probabilities of the learnable choices named in
/// `parameters`.
fn set_parameters(
    grounded: &mut GroundProgram,
    parameters: &std::collections::HashMap<String, f64>,
) -> Result<(), Error> {
    let mut used = 0;
    for (c, choice) in grounded.choices.iter_mut().enumerate() {
        if !grounded.learnable.get(c).copied().unwrap_or(false) {
            continue;
        }
        let atoms = &grounded.atoms;
        let mut set = |atom: u32, p: &mut f64| {
            if let Some(&value) = parameters.get(&atoms[atom as usize]) {
                *p = value;
                used += 1;
            }
        };
        match choice {
            GroundChoice::Fact { atom, probability } => set(*atom, probability),
            GroundChoice::Disjunction { atoms } => atoms.iter_mut().for_each(|(a, p)| set(*a, p)),
        }
    }
    if used < parameters.len() {
        let learnable: std::collections::HashSet<&str> = grounded
            .choices
            .iter()
            .enumerate()
            .filter(|(c, _)| grounded.learnable.get(*c).copied().unwrap_or(false))
            .flat_map(|(_, choice)| match choice {
                GroundChoice::Fact { atom, .. } => vec![*atom],
                GroundChoice::Disjunction { atoms } => atoms.iter().map(|a| a.0).collect(),
            })
            .map(|a| grounded.atoms[a as usize].as_str())
            .collect();
        let mut unknown: Vec<&str> = parameters.keys().map(String::as_str).filter(|k| !learnable.contains(k)).collect();
        unknown.sort_unstable();
        return Err(Error::Unsupported(format!(
            "parameter `{}` is not a learnable (`t(p)::`) fact or alternative of this model",
            unknown.first().copied().unwrap_or("?")
        )));
    }
    Ok(())
}

fn describe_evidence(evidence: &[(u32, bool)], atoms: &[String]) -> String {
    evidence
        .iter()
        .map(|&(a, v)| format!("evidence({}, {v})", atoms.get(a as usize).map_or("?", String::as_str)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces `atom N` in a compiler message by the atom's text in backquotes.
pub(crate) fn name_atoms(text: &str, atoms: &[String]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("atom ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 5..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<usize>().ok().and_then(|n| atoms.get(n)) {
            Some(name) => {
                out.push_str(&format!("`{name}`"));
                rest = &after[digits.len()..];
            }
            None => {
                out.push_str("atom ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
