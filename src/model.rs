//! [`Model`]: a model file loaded, checked, and answered — the whole
//! pipeline behind one type.
//!
//! A query goes down once: [`Model::query`] grounds the model
//! (`deeplog-language`), then either compiles the ground program into one
//! circuit ([`crate::compiled`]), evaluates it and reads the answers out
//! (`read_out.rs`), or — for fuzzy logics, formula queries and
//! constraints — builds and evaluates a formula circuit
//! ([`crate::formulas`]). Each stage hands typed data to the next.
//!
//! ```
//! use deeplog::{Model, QueryOptions};
//!
//! let model = Model::from_source("coins.pl", "0.3::a(s); 0.7::a(t).\nquery(a(s)).\n").unwrap();
//! let answers = model.query(&QueryOptions::default()).unwrap();
//! assert_eq!(answers.answers[0].query, "a(s)");
//! assert!((answers.answers[0].value - 0.3).abs() < 1e-12);
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use deeplog_circuits::compile::cnf::{weighted_cnf, WeightedCnf};
use deeplog_circuits::formula::FormulaError;
use deeplog_circuits::optimize;
use deeplog_circuits::{Budget, CompileError, Method};
use deeplog_language::ground::{ground, Bodies, Limits};
use deeplog_language::model::Statement;
use deeplog_language::syntax::Span;
use deeplog_language::{check_source_in, Checked};
use deeplog_program::{AtomId, GroundProgram};
use deeplog_semirings::Logic;

use crate::answers::{Answer, Answers, ConstraintAnswer, Timings};
use crate::compiled::{self, optimize_compiled, CompiledModel};
use crate::error::{Diagnosed, Error};
use crate::formulas::{self, Formulas};
use crate::memory::{self, Stage};
use crate::read_out;

/// How to answer.
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// Overrides the model's `:- logic(...)`.
    pub logic: Option<Logic>,
    /// Stop after this long: grounding, compiling and evaluating together,
    /// counted from the call that answers (a deadline then, not a time per
    /// stage). Evaluating is not interrupted once begun (its work is
    /// bounded by the circuit's size).
    pub timeout: Option<Duration>,
    /// How far grounding may go; its deadline, if any, is kept where it
    /// comes before the timeout's.
    pub grounding: Limits,
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
            grounding: Limits::default(),
            max_nodes: 50_000_000,
            compiler: Method::Auto,
            explain: false,
            device: crate::Device::Cpu,
            parameters: None,
            optimize: optimize::Mode::Auto,
        }
    }
}

/// A checked model file.
pub struct Model {
    name: String,
    source: String,
    checked: Checked,
    check_s: f64,
}

/// The ground program and the time spent so far.
struct Grounded {
    program: GroundProgram,
    timings: Timings,
}

impl Model {
    /// Reads and checks a model file.
    pub fn from_file(path: &Path) -> Result<Model, Error> {
        let reading = memory::enter(Stage::Reading);
        let source = deeplog_circuits::formats::read_text(path)?;
        drop(reading);
        Model::from_source(&path.display().to_string(), &source)
    }

    /// Checks model text; `name` is used in messages. Errors stop here;
    /// warnings are kept ([`Model::warnings`]).
    pub fn from_source(name: &str, source: &str) -> Result<Model, Error> {
        let _parsing = memory::enter(Stage::Parsing);
        let start = Instant::now();
        // Data files a model loads are read from its own folder.
        let base = std::path::Path::new(name).parent().filter(|p| !p.as_os_str().is_empty());
        let checked = check_source_in(source, base.unwrap_or(std::path::Path::new(".")));
        if checked.has_errors() {
            return Err(Error::Invalid(Box::new(Diagnosed {
                file: name.to_string(),
                source: source.to_string(),
                diagnostics: checked.diagnostics,
            })));
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

    /// This model asked `queries` (atoms, as a `query(...)` would name
    /// them) in place of its own `query(...)` statements; evidence and
    /// everything else stay. An atom that does not read is an error at the
    /// line it is given on, after the model's own.
    pub fn with_queries(&self, queries: &[String]) -> Result<Model, Error> {
        let mut extra = String::new();
        for q in queries {
            if q.contains('\n') || q.trim().is_empty() {
                return Err(Error::Input(format!("query `{q}` is not one atom on one line")));
            }
            extra.push_str(&format!("query({q}).\n"));
        }
        let mut model = self.with_source_appended(&extra)?;
        let own = self.source.len();
        // A query of a predicate the model never defines is a typo here,
        // not a query whose answer is 0.
        let diagnostics = std::mem::take(&mut model.checked.diagnostics);
        for d in diagnostics {
            if d.span.start < own {
                model.checked.diagnostics.push(d);
            } else if d.message.contains("is never defined") {
                let asked = model.source.get(d.span.start..d.span.end).unwrap_or("?");
                return Err(Error::Input(format!("query `{asked}`: {}", d.message)));
            }
        }
        if let Some(m) = &mut model.checked.model {
            m.statements.retain(|s| !matches!(s, Statement::Query(q) if q.span.start < own));
        }
        Ok(model)
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

    /// The checker's diagnostics as data (warnings: a model with errors is
    /// never made), with the text their spans index.
    /// The model's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The model's name in messages (its file).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn diagnostics(&self) -> (&str, &[deeplog_language::diagnostic::Diagnostic]) {
        (&self.source, &self.checked.diagnostics)
    }

    /// The logic the model is answered in: the options', else the model's
    /// `:- logic(...)`, else probability.
    fn logic(&self, options: &QueryOptions) -> Logic {
        options.logic.or(self.model().logic()).unwrap_or(Logic::Probability)
    }

    fn model(&self) -> &deeplog_language::model::Model {
        let Some(model) = &self.checked.model else { unreachable!("a checked model without errors has a model") };
        model
    }

    /// Answers every query of the model: ground, then compile, evaluate and
    /// read out — or, for fuzzy logics, formulas and constraints, build and
    /// evaluate the formula circuit.
    pub fn query(&self, options: &QueryOptions) -> Result<Answers, Error> {
        let clock = Clock::start(options);
        let Grounded { program, timings } = self.ground(options, &clock)?;
        self.answer(&program, timings, options, &clock).map_err(|e| self.locate(&program, e))
    }

    /// [`Model::query`] once the model is grounded.
    fn answer(
        &self,
        program: &GroundProgram,
        timings: Timings,
        options: &QueryOptions,
        clock: &Clock,
    ) -> Result<Answers, Error> {
        let logic = self.logic(options);
        let options = &clock.rest(options, "compiling")?;
        if let Some(n) = program.neural.iter().flatten().next() {
            return Err(Error::Unsupported(format!(
                "the model's answers depend on the neural predicate network `{}`, which a model file cannot run by \
                 itself; evaluate it from Rust with deeplog::neural::NeuralModel and the network",
                n.network
            )));
        }
        if formulas::needed(logic, options.logic.is_some(), program) {
            return self.answer_formulas(program, timings, logic, options);
        }
        let compiling = memory::enter(Stage::Compiling);
        let mut compiled = compiled::compile(program, timings, options, &self.name)?;
        drop(compiling);
        if logic == Logic::Counting && compiled.disjunctive.iter().any(|&d| d) {
            return Err(Error::Unsupported(format!(
                "the {logic} reading ranges over whole worlds, and deeplog does not yet combine it with annotated \
                 disjunctions (this model has some); use probability, log-probability or boolean"
            )));
        }
        // One evaluation costs less than any rewrite of the circuit (on the
        // shared programs, evaluating takes milliseconds and optimising tens
        // of them): `auto` leaves a circuit evaluated once alone.
        let mode = match options.optimize {
            optimize::Mode::Auto => optimize::Mode::Off,
            mode => mode,
        };
        let mut timings = std::mem::take(&mut compiled.timings);
        let optimizing = memory::enter(Stage::Optimizing);
        let optimized = optimize_compiled(&compiled.circuit, mode, &mut timings);
        drop(optimizing);
        let circuit = optimized.as_ref().unwrap_or(&compiled.circuit);
        clock.left("evaluating")?;
        let _evaluating = memory::enter(Stage::Evaluating);
        let evaluated = read_out::evaluate(&compiled, circuit, logic, options.device, &mut timings)?;
        compiled.timings = timings;
        Ok(read_out::answers(program, compiled, &evaluated, logic, options.explain))
    }

    /// The model built for `options`' logic as a formula circuit (see
    /// [`crate::formulas`]): evaluate its queries and constraints and
    /// differentiate its loss with new input values, as often as needed.
    pub fn formulas(&self, options: &QueryOptions) -> Result<Formulas, Error> {
        let clock = Clock::start(options);
        let Grounded { program, .. } = self.ground(options, &clock)?;
        let options = clock.rest(options, "building the formula circuit")?;
        self.build_formulas(&program, self.logic(&options), &options).map_err(|e| self.locate(&program, e))
    }

    fn build_formulas(&self, program: &GroundProgram, logic: Logic, options: &QueryOptions) -> Result<Formulas, Error> {
        let _compiling = memory::enter(Stage::Compiling);
        let budget = Budget { max_nodes: options.max_nodes, timeout: options.timeout, ..Budget::default() };
        let request =
            formulas::Request { logic, forced: options.logic.is_some(), budget: &budget, method: options.compiler };
        formulas::build(program, &request).map_err(|e| match e {
            Error::Compile { named, source, .. } => Error::Compile { file: self.name.clone(), named, source },
            other => other,
        })
    }

    /// Answers through the formula circuit: fuzzy logics, formula queries,
    /// constraints.
    fn answer_formulas(
        &self,
        program: &GroundProgram,
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
        let mut built = self.build_formulas(program, logic, options)?;
        if let Some(gpu) = options.device.open()? {
            built = built.on_gpu(&gpu)?;
        }
        timings.compile_s = start.elapsed().as_secs_f64();
        timings.compiler = built.compiler.unwrap_or("none (truth-functional)");
        (timings.circuit_nodes, timings.circuit_edges) = built.size();
        timings.device = built.device();
        let start = Instant::now();
        let _evaluating = memory::enter(Stage::Evaluating);
        let evaluation = built.evaluate(&built.initial_values())?;
        timings.evaluate_s = start.elapsed().as_secs_f64();
        if evaluation.queries.iter().chain(&evaluation.constraints).any(|v| v.is_nan()) && !program.evidence.is_empty()
        {
            return Err(Error::ImpossibleEvidence(program.evidence_text()));
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
                logic: (own != logic).then_some(own),
            })
            .collect();
        let constraints = built
            .constraints()
            .iter()
            .zip(&evaluation.constraints)
            .map(|(c, &value)| ConstraintAnswer { constraint: c.text.clone(), weight: c.weight, value })
            .collect();
        Ok(Answers {
            logic,
            answers,
            constraints,
            loss: (!program.constraints.is_empty()).then_some(evaluation.loss),
            timings,
        })
    }

    /// Grounds and compiles the model: one circuit for all its queries,
    /// with the slot table that says what each input is. The circuit can be
    /// saved ([`CompiledModel::to_json`]) and evaluated again without the
    /// model.
    pub fn compile(&self, options: &QueryOptions) -> Result<CompiledModel, Error> {
        self.compile_grounded(options).map(|(_, compiled)| compiled)
    }

    /// [`Model::compile`], with the ground program it compiled.
    pub(crate) fn compile_grounded(&self, options: &QueryOptions) -> Result<(GroundProgram, CompiledModel), Error> {
        let clock = Clock::start(options);
        let Grounded { program, timings } = self.ground(options, &clock)?;
        if !program.constraints.is_empty() || program.queries.iter().any(|q| q.formula().is_some()) {
            return Err(Error::Unsupported(
                "this model has formula queries or constraints, which are evaluated as a formula circuit rather than \
                 one compiled circuit; answer it with `deeplog query`"
                    .to_string(),
            ));
        }
        let _compiling = memory::enter(Stage::Compiling);
        let compiled = compiled::compile(&program, timings, &clock.rest(options, "compiling")?, &self.name)
            .map_err(|e| self.locate(&program, e))?;
        Ok((program, compiled))
    }

    /// `e`, at the statement of the model it is about, where it names one
    /// whose origin the ground program keeps: a rule through which
    /// negation recurses, evidence that cannot hold.
    fn locate(&self, program: &GroundProgram, e: Error) -> Error {
        let origin = match &e {
            Error::Compile { source: CompileError::NotStratified { atom, negated }, .. }
            | Error::Formula { source: FormulaError::NotStratified { atom, negated }, .. } => {
                program.rule_origin(*atom, Some(*negated))
            }
            Error::Compile { source: CompileError::EvidenceImpossible { atom, .. }, .. } => {
                program.evidence_origin(Some(*atom))
            }
            Error::ImpossibleEvidence(_) => program.evidence_origin(None),
            _ => None,
        };
        let Some(origin) = origin else { return e };
        let at = Span::new(origin.start as usize, origin.end as usize).line_col(&self.source);
        // The location names the file: the cause need not again.
        let source = match e {
            Error::Compile { named, source, .. } => Error::Compile { file: String::new(), named, source },
            e => e,
        };
        Error::At { file: self.name.clone(), at, source: Box::new(source) }
    }

    /// The relevant ground program: what the queries and evidence depend
    /// on, as `deeplog ground` prints it.
    pub fn ground_program(&self, options: &QueryOptions) -> Result<GroundProgram, Error> {
        let clock = Clock::start(options);
        Ok(self.ground(options, &clock)?.program)
    }

    /// The ground program as a weighted CNF: the lineage of its queries and
    /// evidence, Tseitin encoded (see `deeplog_circuits::compile::cnf`).
    pub fn weighted_cnf(&self, options: &QueryOptions) -> Result<(GroundProgram, WeightedCnf), Error> {
        let clock = Clock::start(options);
        let program = self.ground(options, &clock)?.program;
        let queries: Vec<AtomId> = program.queries.iter().filter_map(|q| q.atom_id()).collect();
        let budget = compiled::budget(&clock.rest(options, "encoding")?);
        let cnf = weighted_cnf(&program, &queries, &program.evidence, &budget).map_err(|e| {
            let named = e.describe(|a| crate::formulas::name_atom(&program, a));
            self.locate(&program, Error::Compile { file: self.name.clone(), named, source: e })
        })?;
        Ok((program, cnf))
    }

    /// The model grounded, with the options' parameters in place, its
    /// bodies read as the logics it is answered in need.
    fn ground(&self, options: &QueryOptions, clock: &Clock) -> Result<Grounded, Error> {
        let mut timings = Timings { parse_and_check_s: self.check_s, ..Timings::default() };
        let _grounding = memory::enter(Stage::Grounding);
        let start = Instant::now();
        let limits = Limits {
            deadline: options.grounding.deadline.into_iter().chain(clock.deadline).min(),
            ..options.grounding
        };
        let bodies = Bodies::for_model(self.model(), options.logic);
        let mut program = ground(self.model(), &limits, bodies).map_err(|source| Error::Ground {
            file: self.name.clone(),
            at: source.span.line_col(&self.source),
            source,
        })?;
        if let Some(parameters) = &options.parameters {
            set_parameters(&mut program, parameters)?;
        }
        timings.ground_s = start.elapsed().as_secs_f64();
        timings.ground_atoms = program.atoms.len();
        timings.ground_rules = program.rules.len();
        Ok(Grounded { program, timings })
    }
}

/// The one deadline of a request (`QueryOptions::timeout`), which every
/// stage shares.
struct Clock {
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl Clock {
    fn start(options: &QueryOptions) -> Clock {
        Clock { timeout: options.timeout, deadline: options.timeout.map(|t| Instant::now() + t) }
    }

    /// `options` for the stages from `stage` on: their timeout is the time
    /// left. An error where none is.
    fn rest(&self, options: &QueryOptions, stage: &'static str) -> Result<QueryOptions, Error> {
        Ok(QueryOptions { timeout: self.left(stage)?, ..options.clone() })
    }

    /// The time left before `stage`, if there is a deadline; an error
    /// where none is left.
    fn left(&self, stage: &'static str) -> Result<Option<Duration>, Error> {
        let (Some(timeout), Some(deadline)) = (self.timeout, self.deadline) else { return Ok(None) };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout { timeout, stage });
        }
        Ok(Some(left))
    }
}

/// Replaces the probabilities of the learnable choices named in
/// `parameters` (by atom, as `deeplog train` saves them).
fn set_parameters(program: &mut GroundProgram, parameters: &HashMap<String, f64>) -> Result<(), Error> {
    let mut used = 0;
    let mut learnable_names = Vec::new();
    for c in 0..program.choices.len() {
        if !program.learnable.get(c).copied().unwrap_or(false) {
            continue;
        }
        let names: Vec<String> = program.choices[c].alternatives().map(|(a, _)| program.atom_text(a)).collect();
        for ((_, p), name) in program.choices[c].probabilities_mut().into_iter().zip(&names) {
            if let Some(&value) = parameters.get(name) {
                *p = value;
                used += 1;
            }
        }
        learnable_names.extend(names);
    }
    if used < parameters.len() {
        let mut unknown: Vec<&str> =
            parameters.keys().map(String::as_str).filter(|k| !learnable_names.iter().any(|n| n == k)).collect();
        unknown.sort_unstable();
        return Err(Error::UnknownParameter(unknown.first().copied().unwrap_or("?").to_string()));
    }
    Ok(())
}
