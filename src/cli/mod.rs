//! The `deeplog` command line: argument parsing and the error type every
//! subcommand returns. Each subcommand lives in its own module.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use deeplog_circuits::formats::ReadError;
use deeplog_circuits::optimize::Mode;
use deeplog_circuits::{EvalError, Method};
use deeplog_language::ground::Limits;
use deeplog_semirings::{AlgebraKind, Logic};

use crate::Device;

mod check;
mod choices;
mod circuit;
pub mod fuzz;
mod neural;
mod numbers;
mod query;
mod scene;
mod tasks;
pub(crate) use tasks::c_general;
mod train;
mod weights;

/// deeplog: annotated logic compiled to algebraic circuits, evaluated and
/// differentiated in a chosen algebra.
#[derive(Debug, Parser)]
#[command(name = "deeplog", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The memory budget, e.g. 8G or 512M (default: 8 GiB, or less where the process or machine has less). A run
    /// that would pass it stops with an error naming the stage (reading, grounding, compiling, ...).
    #[arg(long, global = true, value_parser = crate::memory::parse_size)]
    max_memory: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and check a model file; print its diagnostics (exit 1 on errors).
    Check {
        file: PathBuf,
        /// Print the diagnostics as a JSON array of {file, line, column, severity, message}.
        #[arg(long)]
        json: bool,
        /// The logic to read the model in, overriding its `:- logic(NAME).`.
        #[arg(long, value_parser = choices::logic(choices::MODEL_LOGICS))]
        logic: Option<Logic>,
    },
    /// Answer every query of a model: exact probabilities (ProbLog's output shape).
    Query {
        /// The model file, or `-` to read it from standard input.
        file: PathBuf,
        /// Print {"queries": [{"query": ..., "value": ...}]}.
        #[arg(long)]
        json: bool,
        /// probability (default), log-probability, boolean (can the query hold?), maxproduct (the most
        /// probable world's probability), counting (worlds in which it holds), or a fuzzy logic: godel,
        /// product, lukasiewicz; overrides `:- logic(...)` and the queries' own.
        #[arg(long, value_parser = choices::logic(choices::QUERY_LOGICS))]
        logic: Option<Logic>,
        /// Learned parameters to use instead of the model's (a file written by `deeplog train`); for a model
        /// with neural predicates, the trained networks.
        #[arg(long)]
        params: Option<PathBuf>,
        /// For a model with neural predicates: the networks' inputs, lines `id,feature,feature,…`.
        #[arg(long)]
        inputs: Option<PathBuf>,
        /// Print per-stage times and the circuit's size (on stderr; in the JSON with --json).
        #[arg(long)]
        timings: bool,
        #[command(flatten)]
        limits: CompileArgs,
        /// Also print each query's most probable explanation: the facts of its most probable proof.
        #[arg(long)]
        explain: bool,
        /// Evaluate on cpu (f64, default), gpu (wgpu, f32) or auto (a GPU when there is one); --timings names it.
        #[arg(long, default_value = "cpu", value_parser = choices::device())]
        device: Device,
    },
    /// The most probable explanation: the most probable world of the probabilistic choices the queries and
    /// evidence depend on, given the evidence (ProbLog's `mpe`): the queries' values in it (or, without
    /// queries, every fact's) and its probability.
    Mpe {
        /// The model file, or `-` to read it from standard input.
        file: PathBuf,
        /// Print {"probability": p, "assignment": {"fact": true, ...}, "queries": {"q": false, ...}}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: CompileArgs,
    },
    /// The most probable assignment of the query facts, every other choice summed out, given the evidence
    /// (exact maximum a posteriori; ProbLog's `map` task, whose SCORE is not a probability): each fact's value
    /// and the assignment's probability with the evidence.
    Map {
        /// The model file, or `-` to read it from standard input.
        file: PathBuf,
        /// Print {"probability": p, "assignment": {"fact": true, ...}}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: CompileArgs,
    },
    /// The relevant ground program (what the queries and evidence depend on): in ProbLog's syntax, as a
    /// weighted DIMACS CNF (the lineage Tseitin encoded; `deeplog compile --cnf` reads it), or as JSON.
    Ground {
        /// The model file, or `-` to read it from standard input.
        file: PathBuf,
        /// pl (ProbLog's syntax, the default), cnf or json.
        #[arg(long, value_enum, default_value = "pl")]
        format: tasks::GroundFormat,
        /// Write it here (whole or not at all) instead of to standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        limits: CompileArgs,
    },
    /// Decision-theoretic ProbLog: the strategy (a value for each decision `?::d.`) with the highest expected
    /// utility over the `utility(Atom, Value).` facts, exact; printed as ProbLog prints it.
    Dt {
        /// The model file, or `-` to read it from standard input.
        file: PathBuf,
        /// exhaustive (every strategy, the default; at most 20 decisions) or local (one decision flipped at a
        /// time from all false, while it improves).
        #[arg(short = 's', long, default_value = "exhaustive", value_parser = ["exhaustive", "local"])]
        search: String,
        /// Print {"decisions": {"d": 1, ...}, "score": s}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: CompileArgs,
    },
    /// Worlds sampled from the program given its evidence (ProbLog's `sample`): per sample the queries true in
    /// it, `----------------` between samples; --estimate: each query's Monte Carlo estimate with a 95%
    /// interval. Samples come from the program (its lineage), not a compiled circuit.
    Sample {
        /// The model file, or `-` to read it from standard input.
        file: PathBuf,
        /// How many samples (worlds where the evidence holds).
        #[arg(short = 'N', long = "samples", default_value_t = 1, value_parser = numbers::at_least_one())]
        samples: usize,
        /// Seeds the draws: the same seed, the same samples.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print each query's fraction of the samples and its 95% interval (Wilson's) instead of the samples.
        #[arg(long)]
        estimate: bool,
        /// Print JSON: with --estimate, `deeplog query --json`'s shape with "lower" and "upper" beside each value.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: CompileArgs,
    },
    /// Learning from interpretations (ProbLog's `lfi`): expectation maximisation of the model's `t(p)::` and
    /// `t(_)::` parameters from an evidence file of `evidence(atom, true|false).` interpretations separated by
    /// `---` lines; prints the log-likelihood, the weights, their names and the iterations as ProbLog does.
    Lfi {
        /// The model file.
        file: PathBuf,
        /// The evidence file.
        evidence: PathBuf,
        /// At most this many iterations (ProbLog's -n).
        #[arg(short = 'n', long = "max-iterations", default_value_t = 10_000, value_parser = numbers::at_least_one())]
        max_iterations: usize,
        /// Stop once the sum of the parameters' logarithms grows by no more than this (ProbLog's -d).
        #[arg(short = 'd', long = "delta", default_value_t = 1e-10)]
        delta: f64,
        /// Write the learned program here (whole or not at all).
        #[arg(short = 'O', long = "output-model")]
        output_model: Option<PathBuf>,
        /// Print {"log_likelihood", "iterations", "names", "weights", "program"}.
        #[arg(long)]
        json: bool,
    },
    /// Learn a model's `t(p)::` parameters, or train its neural predicates'
    /// networks, from examples by gradient descent; save them for
    /// `deeplog query --params`.
    Train {
        file: PathBuf,
        /// Examples, one JSON object a line: {"query": "q(a)", "probability": 0.7} (probability defaults
        /// to 1) or {"evidence": {"a": true, "b": false}} (a partial interpretation). For neural predicates,
        /// a query with real inputs in place of the model query's placeholders: {"query": "sum2(img3,img9,12)"}.
        #[arg(long)]
        data: PathBuf,
        /// Neural: held-out examples (same format); their accuracy is reported every epoch.
        #[arg(long)]
        test: Option<PathBuf>,
        /// Neural: the networks' inputs, lines `id,feature,feature,…` (a header line is skipped).
        #[arg(long)]
        inputs: Option<PathBuf>,
        /// Neural: a network's architecture, NAME=mlp:H1,H2,… or NAME=linear (default mlp:128); repeatable.
        #[arg(long = "network")]
        networks: Vec<String>,
        /// Passes over the data (default 100 for parameters, 10 for networks).
        #[arg(long, value_parser = numbers::at_least_one())]
        epochs: Option<usize>,
        /// Adam's step size (default 0.05 on the parameters' logits, 0.003 for networks).
        #[arg(long, value_parser = numbers::positive())]
        rate: Option<f64>,
        /// Neural: examples per training step, each step one batched circuit evaluation.
        #[arg(long, default_value_t = 16, value_parser = numbers::at_least_one())]
        batch: usize,
        /// Neural: seeds the networks' initial weights and the example order; same seed, same run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to save what was learned ({"parameters": {"atom": p}, "networks": {...}}); written whole or
        /// not at all (for networks, after every epoch).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Print JSON: per-epoch losses and the parameters; for networks, one object per epoch.
        #[arg(long)]
        json: bool,
    },
    /// Compile a model into one circuit and save it (deeplog's JSON circuit
    /// format, with the slot table and each query's root) for
    /// `deeplog circuit eval` or the library.
    Compile {
        /// The model file (or give --cnf).
        #[arg(required_unless_present = "cnf", conflicts_with = "cnf")]
        file: Option<PathBuf>,
        /// Compile a DIMACS CNF file instead (weights from `c p weight LIT W 0` lines;
        /// unweighted literals weigh 1, so the count is the model count).
        #[arg(long)]
        cnf: Option<PathBuf>,
        /// Output file (JSON); written whole or not at all.
        #[arg(short, long)]
        output: PathBuf,
        /// Print per-stage times and the circuit's size on stderr.
        #[arg(long)]
        timings: bool,
        #[command(flatten)]
        limits: CompileArgs,
    },
    /// Work with circuit files (.sdd, .nnf, .json).
    #[command(subcommand)]
    Circuit(CircuitCommand),
    /// Probabilistic scene graphs: check temporal specifications, list grounded facts.
    #[command(subcommand)]
    Scene(SceneCommand),
}

#[derive(Debug, Subcommand)]
enum SceneCommand {
    /// The probability that each spec of SPEC holds on a graph, its most probable binding and the frames of its
    /// events; on a batch of graphs (`.jsonl`), one compile per graph structure and one batched evaluation.
    Check {
        /// A spec file: `spec(Name, Formula).` clauses and helper rules (docs/scene-graphs.md).
        spec: PathBuf,
        /// A scene graph (`.json`) or one graph a line (`.jsonl`).
        #[arg(long)]
        graph: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// probability (default) or a fuzzy logic: godel, product, lukasiewicz.
        #[arg(long, value_parser = choices::logic(choices::SCENE_LOGICS))]
        logic: Option<Logic>,
        /// Evaluate on cpu (f64, default), gpu (wgpu, f32) or auto (a GPU when there is one).
        #[arg(long, default_value = "cpu", value_parser = choices::device())]
        device: Device,
    },
    /// The facts of a graph with probability at least --threshold, as model text or JSON (e.g. for a prompt).
    Facts {
        #[arg(long)]
        graph: PathBuf,
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CircuitCommand {
    /// Size, depth, layers and properties of a circuit.
    Stats {
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Test determinism by evaluating every sum: under all assignments where the circuit mentions at most 24
        /// variables and that takes a few seconds, else under many random ones (which proves nothing if none
        /// overlaps). The output says which.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Evaluate a circuit in an algebra, batched; optionally differentiate and time it.
    Eval(EvalArgs),
    /// Convert a circuit to deeplog's JSON format or Graphviz DOT (by the output's extension).
    Convert {
        file: PathBuf,
        /// Output file: `.json` or `.dot`.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// How far grounding and compilation may go, and which compiler runs
/// (`query` and `compile` alike).
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Give up after this many seconds, counted from the start of the command: reading, grounding, compiling and
    /// evaluating together.
    #[arg(long, value_parser = numbers::seconds())]
    pub timeout: Option<std::time::Duration>,
    /// Give up compiling past this many circuit nodes.
    #[arg(long, default_value_t = 50_000_000)]
    pub max_nodes: usize,
    /// Give up grounding past this many ground atoms.
    #[arg(long, default_value_t = Limits::default().max_atoms, help_heading = "Grounding limits")]
    pub max_atoms: usize,
    /// Give up grounding past this many ground rules.
    #[arg(long, default_value_t = Limits::default().max_rules, help_heading = "Grounding limits")]
    pub max_rules: usize,
    /// Give up grounding past this many calls (a predicate with the arguments bound when it is called).
    #[arg(long, default_value_t = Limits::default().max_calls, help_heading = "Grounding limits")]
    pub max_calls: usize,
    /// Give up grounding past this many distinct ground terms (subterms and arithmetic results included).
    #[arg(long, default_value_t = Limits::default().max_terms, help_heading = "Grounding limits")]
    pub max_terms: usize,
    /// Give up grounding where an atom or a call holds terms nested deeper than this.
    #[arg(long, default_value_t = Limits::default().max_depth, help_heading = "Grounding limits")]
    pub max_depth: usize,
    /// Knowledge compiler: auto (top-down for cyclic positive programs, else bottom-up), top-down or bottom-up.
    #[arg(long, default_value = "auto", value_parser = choices::compiler())]
    pub compiler: Method,
    /// Rewrite by algebraic laws (egg equality saturation): the lineage before the bottom-up compiler builds
    /// its BDD (boolean lattice laws), and the compiled circuit before evaluating or saving it (the laws of its
    /// algebra). off, on, or auto: lineage where a cycle was unrolled, the circuit only where a quick scan says
    /// it pays (and kept only if it did).
    #[arg(long, default_value = "auto", value_parser = choices::optimize_mode())]
    pub optimize: Mode,
}

#[derive(Debug, Args)]
struct EvalArgs {
    file: PathBuf,
    /// The algebra to evaluate in (log-probability by default).
    #[arg(long, default_value = "log-probability", value_parser = choices::algebra())]
    algebra: AlgebraKind,
    /// Batch size. Without --weights, variable v in row r gets probability
    /// 0.05 + 0.9·frac(v·0.6180339887498949 + r·0.1234).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Also compute the gradient of the sum of roots over the batch.
    #[arg(long)]
    grad: bool,
    /// Time N forward and N forward+backward passes and report medians (N at most 1000000).
    #[arg(long)]
    repeat: Option<usize>,
    /// Weights file: {"probabilities": [[p per variable] per batch row],
    /// "negative": optional, same shape}. A circuit saved by `deeplog
    /// compile` carries its model's probabilities, used when this is absent.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Counting and max-product range over every variable of the file, not
    /// only those the circuit mentions (PySDD's `global_model_count`).
    #[arg(long)]
    all_variables: bool,
    /// Rewrite the circuit smaller first by the laws of the algebra (egg equality saturation): off, on, or auto
    /// (only where a quick scan says it pays). The timing then measures the rewritten circuit.
    #[arg(long, default_value = "off", value_parser = choices::optimize_mode())]
    optimize: Mode,
    /// cpu, gpu (through wgpu, in f32; an error without an adapter) or auto
    /// (a GPU when there is one). The device is named in the output.
    #[arg(long, default_value = "cpu", value_parser = choices::device())]
    device: Device,
    /// Test determinism first, as `circuit stats --check-determinism` does; an exhaustive test that passes lets a
    /// circuit no one declared deterministic be evaluated in probability.
    #[arg(long)]
    check_determinism: bool,
}

/// Everything that can stop a command; printed as `error: ...`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Text(#[from] deeplog_circuits::formats::TextError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Weights { path: PathBuf, message: String },
    #[error(transparent)]
    Model(#[from] crate::error::Error),
    #[error("{file}: {errors} error{}, {warnings} warning{}", if *errors == 1 { "" } else { "s" }, if *warnings == 1 { "" } else { "s" })]
    Diagnostics { file: String, errors: usize, warnings: usize },
}

impl CliError {
    /// Whether the text carries its own `error:` labels (a model's rendered
    /// diagnostics), so that the printer adds none.
    pub fn is_rendered(&self) -> bool {
        matches!(self, CliError::Model(e) if e.is_rendered())
    }
}

impl Command {
    /// The file the command writes (`-o`), and the files it reads.
    fn output_and_inputs(&self) -> Option<(&Path, Vec<&Path>)> {
        match self {
            Command::Train { output: Some(output), file, data, test, inputs, .. } => {
                let read = [Some(file), Some(data), test.as_ref(), inputs.as_ref()];
                Some((output, read.into_iter().flatten().map(PathBuf::as_path).collect()))
            }
            Command::Compile { output, file, cnf, .. } => {
                Some((output, [file, cnf].into_iter().flatten().map(PathBuf::as_path).collect()))
            }
            Command::Circuit(CircuitCommand::Convert { file, output }) => Some((output, vec![file])),
            Command::Ground { output: Some(output), file, .. } => Some((output, vec![file])),
            Command::Lfi { output_model: Some(output), file, evidence, .. } => Some((output, vec![file, evidence])),
            _ => None,
        }
    }
}

/// Refuses, before any work, an output that cannot be written safely (a
/// directory, a block device) or that is one of the command's own inputs,
/// which writing would destroy (through a link or a second name too).
fn check_output(output: &Path, inputs: &[&Path]) -> Result<(), CliError> {
    let target = deeplog_circuits::formats::output_target(output)
        .map_err(|source| CliError::Write { path: output.to_path_buf(), source })?;
    let deeplog_circuits::formats::Target::File(target) = target else { return Ok(()) };
    for input in inputs {
        if same_file(&target, input) {
            return Err(CliError::Usage(format!(
                "-o {} would overwrite the input {}: give another output file",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Whether two paths name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (ma.dev(), ma.ino()) == (mb.dev(), mb.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    if let Some(bytes) = cli.max_memory {
        crate::memory::set_limit(bytes);
    }
    // The stage a command starts in; the model's own stages (parsing,
    // grounding, compiling, ...) mark themselves inside it.
    let _stage = crate::memory::enter(match &cli.command {
        Command::Train { .. } => crate::memory::Stage::Training,
        _ => crate::memory::Stage::Reading,
    });
    if let Some((output, inputs)) = cli.command.output_and_inputs() {
        check_output(output, &inputs)?;
    }
    match cli.command {
        Command::Check { file, json, logic } => check::check(&file, json, logic),
        Command::Query { file, json, logic, params, inputs, timings, limits, explain, device } => {
            query::query(query::QueryArgs {
                file: &file,
                json,
                logic,
                timings,
                limits: &limits,
                explain,
                device,
                params: params.as_deref(),
                inputs: inputs.as_deref(),
            })
        }
        Command::Mpe { file, json, limits } => tasks::mpe(&file, json, &limits),
        Command::Dt { file, search, json, limits } => tasks::dt(&file, search == "local", json, &limits),
        Command::Sample { file, samples, seed, estimate, json, limits } => tasks::sample(
            &file,
            &crate::sample::SampleOptions { samples, seed, ..Default::default() },
            estimate,
            json,
            &limits,
        ),
        Command::Lfi { file, evidence, max_iterations, delta, output_model, json } => tasks::lfi(
            &file,
            &evidence,
            &crate::lfi::LfiOptions { max_iterations, min_improvement: delta },
            output_model.as_deref(),
            json,
        ),
        Command::Ground { file, format, output, limits } => tasks::ground(&file, format, output.as_deref(), &limits),
        Command::Map { file, json, limits } => tasks::map(&file, json, &limits),
        Command::Train { file, data, test, inputs, networks, epochs, rate, batch, seed, output, json } => {
            train::train(&train::TrainArgs {
                file: &file,
                data: &data,
                test: test.as_deref(),
                inputs: inputs.as_deref(),
                networks: &networks,
                epochs,
                rate,
                batch,
                seed,
                output: output.as_deref(),
                json,
            })
        }
        Command::Compile { file, cnf, output, timings, limits } => match (file, cnf) {
            (_, Some(cnf)) => query::compile_cnf(&cnf, &output, &limits),
            (Some(file), None) => query::compile(&file, &output, &limits, timings),
            (None, None) => Err(CliError::Usage("give a model file or --cnf FILE".into())),
        },
        Command::Circuit(CircuitCommand::Stats { file, json, check_determinism }) => {
            circuit::stats(&file, json, check_determinism)
        }
        Command::Circuit(CircuitCommand::Eval(args)) => circuit::eval(&args),
        Command::Circuit(CircuitCommand::Convert { file, output }) => circuit::convert(&file, &output),
        Command::Scene(SceneCommand::Check { spec, graph, json, logic, device }) => {
            scene::check(&spec, &graph, json, logic, device)
        }
        Command::Scene(SceneCommand::Facts { graph, threshold, json }) => scene::facts(&graph, threshold, json),
    }
}
