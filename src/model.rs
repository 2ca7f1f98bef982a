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

use deeplog_circuits::logic::{self, Choice, LogicProgram};
use deeplog_circuits::{compile_with, Budget, Method};
use deeplog_circuits::{CpuEvaluator, LayeredCircuit, Weights};
use deeplog_language::ground::{ground, GroundChoice, Limits};
use deeplog_language::model::Logic;
use deeplog_language::{check_source, Checked};
use deeplog_semirings::LogProbability;

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
    #[error("the {0} logic is not supported by `query` yet (supported: probability, log-probability)")]
    UnsupportedLogic(Logic),
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
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions { logic: None, timeout: None, max_nodes: 50_000_000, compiler: Method::Auto }
    }
}

/// One query's answer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Answer {
    pub query: String,
    /// In the chosen logic: a probability, or a log-probability.
    pub value: f64,
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
}

/// All answers of a model, in query order.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Answers {
    pub logic: String,
    pub answers: Vec<Answer>,
    pub timings: Timings,
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

    /// Warnings, rendered with their source lines.
    pub fn warnings(&self) -> String {
        self.checked.diagnostics.iter().map(|d| d.render(&self.name, &self.source)).collect()
    }

    /// Answers every query of the model.
    pub fn query(&self, options: &QueryOptions) -> Result<Answers, Error> {
        let Some(model) = &self.checked.model else { unreachable!("a checked model without errors has a model") };
        let logic = options.logic.or(model.logic()).unwrap_or(Logic::Probability);
        if !matches!(logic, Logic::Probability | Logic::LogProbability) {
            return Err(Error::UnsupportedLogic(logic));
        }
        let mut timings = Timings { parse_and_check_s: self.check_s, ..Timings::default() };

        let start = Instant::now();
        let grounded = ground(model, &Limits::default()).map_err(|e| {
            let at = e.span.line_col(&self.source);
            Error::Ground(format!("{}:{}:{}: {}", self.name, at.line, at.column, e.message))
        })?;
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
        // Queries that cannot be derived are false without compiling them.
        let derivable: Vec<u32> = grounded.queries.iter().filter_map(|q| q.atom).collect();
        let start = Instant::now();
        let budget = Budget { max_nodes: options.max_nodes, timeout: options.timeout };
        let compiled =
            compile_with(&program, &derivable, &grounded.evidence, &budget, options.compiler).map_err(|e| {
                let text = e.to_string();
                Error::Compile(format!("{}: {}", self.name, name_atoms(&text, &grounded.atoms)))
            })?;
        timings.compile_s = start.elapsed().as_secs_f64();
        timings.compiler = compiled.stats.method.name();
        timings.circuit_nodes = compiled.circuit.num_nodes();
        timings.circuit_edges = compiled.circuit.num_edges();

        let start = Instant::now();
        let layered = LayeredCircuit::new(&compiled.circuit);
        let p: Vec<f64> = compiled.slots.iter().map(|s| s.probability).collect();
        // Evaluated in log space (stable for tiny probabilities), then
        // reported in the logic asked for.
        let values: Vec<f64> = if layered.num_roots() == 0 {
            Vec::new()
        } else {
            let eval =
                CpuEvaluator::<LogProbability<f64>>::new(&layered).map_err(|e| Error::Evaluate(e.to_string()))?;
            let w = Weights::complementary(1, p.iter().map(|x| x.ln()).collect());
            eval.forward(&w).map_err(|e| Error::Evaluate(e.to_string()))?
        };
        timings.evaluate_s = start.elapsed().as_secs_f64();

        let mut answers = Vec::with_capacity(grounded.queries.len());
        let mut next = 0;
        for q in &grounded.queries {
            let log_value = match q.atom {
                None => f64::NEG_INFINITY,
                Some(_) if compiled.with_evidence => {
                    let (joint, evidence) = (values[2 * next], values[2 * next + 1]);
                    next += 1;
                    if evidence == f64::NEG_INFINITY {
                        return Err(Error::ImpossibleEvidence(describe_evidence(&grounded.evidence, &grounded.atoms)));
                    }
                    joint - evidence
                }
                Some(_) => {
                    next += 1;
                    values[next - 1]
                }
            };
            let value = if logic == Logic::LogProbability { log_value } else { log_value.exp() };
            answers.push(Answer { query: q.text.clone(), value });
        }
        Ok(Answers { logic: logic.name().to_string(), answers, timings })
    }
}

fn describe_evidence(evidence: &[(u32, bool)], atoms: &[String]) -> String {
    evidence
        .iter()
        .map(|&(a, v)| format!("evidence({}, {v})", atoms.get(a as usize).map_or("?", String::as_str)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces `atom N` in a compiler message by the atom's text in backquotes.
fn name_atoms(text: &str, atoms: &[String]) -> String {
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
