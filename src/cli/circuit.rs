//! `deeplog circuit stats | eval | convert`.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use deeplog_circuits::formats::{read_json_model, read_path, write_atomically, write_dot, write_json};
use deeplog_circuits::optimize::{self, Rewrites};
use deeplog_circuits::properties::{check, smooth, test_determinism, DeterminismTest, DETERMINISM_WORK};
use deeplog_circuits::{Circuit, CpuEvaluator, EvalError, Evaluate, LayeredCircuit, Properties};
use deeplog_gpu::{Gpu, GpuEvaluator};
use deeplog_semirings::{with_algebra, with_differentiable, Algebra, AlgebraKind, Boolean, Differentiable};
use deeplog_semirings::{Godel, LogProbability, Lukasiewicz, MaxProduct, Probability, ProductTNorm};

use super::weights::Probabilities;
use super::{CliError, EvalArgs};
use crate::compiled::{CompiledQuery, SlotInfo};

/// How many roots and gradient entries the text output lists.
const SHOWN: usize = 20;

/// The most timed runs `--repeat` asks for: each run's time is kept for
/// the median, so the count, not only the time, must be bounded.
const MAX_REPEAT: usize = 1_000_000;

/// `--check-determinism`: tests the circuit, records what was proved on it
/// and says what was done.
fn determinism(circuit: &mut Circuit) -> (DeterminismTest, Value) {
    let test = test_determinism(circuit, DETERMINISM_WORK);
    test.record(circuit);
    let found = match test.overlap {
        Some(o) => json!({
            "sum": o.sum.to_string(),
            "children": [o.children[0].to_string(), o.children[1].to_string()],
        }),
        None => Value::Null,
    };
    (test, json!({ "search": test.search.to_string(), "overlap": found }))
}

/// One line on a determinism test's outcome.
fn determinism_line(test: &DeterminismTest) -> String {
    match test.overlap {
        Some(o) => format!(
            "{}: children {} and {} of sum {} both hold under one assignment, so it is not deterministic",
            test.search, o.children[0], o.children[1], o.sum
        ),
        None => format!("{}: no sum has two children true together", test.search),
    }
}

pub fn stats(file: &Path, json: bool, check_determinism: bool) -> Result<(), CliError> {
    let mut circuit = read_path(file)?;
    let tested = check_determinism.then(|| determinism(&mut circuit));
    let props = check(&circuit);
    let layered = LayeredCircuit::with_properties(&circuit, props);
    let mut report = json!({
        "file": file.display().to_string(),
        "slots": circuit.num_slots(),
        "nodes": circuit.num_nodes(),
        "edges": circuit.num_edges(),
        "roots": circuit.roots().len(),
        "depth": circuit.depth(),
        "layers": layered.num_layers(),
        "evaluated_nodes": layered.num_rows(),
        "evaluated_edges": layered.num_edges(),
        "decomposable": props.decomposable.to_string(),
        "deterministic": props.deterministic.to_string(),
        "smooth": props.smooth.to_string(),
    });
    if let Some((_, summary)) = &tested {
        report["determinism_test"] = summary.clone();
    }
    if json {
        println!("{report}");
        return Ok(());
    }
    println!("{}", file.display());
    for key in ["slots", "nodes", "edges", "roots", "depth", "layers", "decomposable", "deterministic", "smooth"] {
        let v = &report[key];
        println!("  {key:<14} {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
    }
    if let Some((test, _)) = &tested {
        println!("  determinism test, {}", determinism_line(test));
    }
    Ok(())
}

/// Bytes `circuit eval` holds for a batch, before it allocates any: the
/// input probabilities (`f64`) and the weights in the algebra (values of
/// `value_bytes`, with negatives), the roots' values, the gradients, and
/// the evaluator's workspace (every node and edge for as many columns as
/// run at once). What grows with the batch is what a file and a flag can
/// make huge.
fn evaluation_bytes(circuit: &Circuit, batch: usize, value_bytes: usize, grad: bool) -> u128 {
    let (slots, roots) = (circuit.num_slots() as u128, circuit.roots().len() as u128);
    let per_column = slots * (2 * 8 + 2 * value_bytes as u128)
        + roots * value_bytes as u128
        + if grad { slots * 2 * value_bytes as u128 } else { 0 };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let at_once = batch.min(64 * threads) as u128;
    let workspace = at_once * (2 * circuit.num_nodes() + circuit.num_edges()) as u128 * value_bytes as u128;
    per_column * batch as u128 + workspace
}

/// Refuses an evaluation planned to take more than `limit` bytes.
fn check_memory(
    file: &Path,
    circuit: &Circuit,
    batch: usize,
    value_bytes: usize,
    grad: bool,
    limit: u64,
) -> Result<(), CliError> {
    let bytes = evaluation_bytes(circuit, batch, value_bytes, grad);
    if bytes <= u128::from(limit) {
        return Ok(());
    }
    let gib = |b: u128| b as f64 / f64::from(1u32 << 30);
    Err(CliError::Usage(format!(
        "{}: evaluating a batch of {batch} would take about {:.1} GiB ({} slots, {} nodes, {} edges{}), more than \
         the memory budget of {} (--max-memory); use a smaller --batch",
        file.display(),
        gib(bytes),
        circuit.num_slots(),
        circuit.num_nodes(),
        circuit.num_edges(),
        if grad { ", with gradients" } else { "" },
        crate::memory::human(limit.min(usize::MAX as u64) as usize)
    )))
}

pub fn convert(file: &Path, output: &Path) -> Result<(), CliError> {
    let circuit = read_path(file)?;
    let text = match output.extension().and_then(|e| e.to_str()) {
        Some("json") => write_json(&circuit),
        Some("dot") => write_dot(&circuit),
        _ => return Err(CliError::Usage(format!("{}: the output must end in .json or .dot", output.display()))),
    };
    write_atomically(output, &text).map_err(|source| CliError::Write { path: output.to_path_buf(), source })
}

/// A label as JSON (`-inf` and NaN, which JSON lacks, as strings).
pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl ToJson for f64 {
    fn to_json(&self) -> Value {
        if self.is_finite() {
            json!(self)
        } else {
            json!(self.to_string())
        }
    }
}

impl ToJson for f32 {
    fn to_json(&self) -> Value {
        (*self as f64).to_json()
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Value {
        json!(self)
    }
}

/// What a saturated count prints as.
pub const COUNT_OVERFLOW: &str = "overflow: at least 2^128";

impl ToJson for u128 {
    fn to_json(&self) -> Value {
        if *self == u128::MAX {
            // Counting saturates rather than wrapping to a wrong number.
            return json!(COUNT_OVERFLOW);
        }
        // Exact: serde_json keeps integers up to u128.
        serde_json::to_value(self).unwrap_or_else(|_| json!(self.to_string()))
    }
}

/// What an evaluation produced, for printing.
struct Outcome {
    batch: usize,
    roots_row0: Vec<Value>,
    gradient_row0: Option<Vec<Value>>,
    forward_s: Option<f64>,
    forward_backward_s: Option<f64>,
    /// What `--check-determinism` found, as JSON.
    determinism_test: Option<Value>,
}

/// A saved model's probabilities and root names (`deeplog compile`).
struct SavedModel {
    probabilities: Vec<f64>,
    root_names: Vec<String>,
}

/// The `model` section of a circuit `deeplog compile` saved, checked
/// against the circuit it describes: one slot per input slot of the
/// circuit, each a probability in [0, 1], and every query's root (and the
/// evidence's) a root of the circuit. A section that breaks any of these
/// would print numbers under the wrong names, or numbers that are no
/// probability, so it is an error.
fn saved_model(file: &Path, circuit: &Circuit) -> Result<Option<SavedModel>, CliError> {
    if file.extension().is_none_or(|e| e != "json") {
        return Ok(None);
    }
    let text = deeplog_circuits::formats::read_text(file)?;
    let model = read_json_model(&text).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let Some(model) = model else { return Ok(None) };
    let parsed: Option<(Vec<SlotInfo>, Vec<CompiledQuery>, bool)> = (|| {
        let slots = serde_json::from_value(model.get("slots")?.clone()).ok()?;
        let queries = serde_json::from_value(model.get("queries")?.clone()).ok()?;
        Some((slots, queries, model.get("with_evidence")?.as_bool()?))
    })();
    let Some((slots, queries, with_evidence)) = parsed else {
        return Err(CliError::Usage(format!(
            "{}: its `model` section is not one `deeplog compile` wrote",
            file.display()
        )));
    };
    check_saved_model(&slots, &queries, with_evidence, circuit)
        .map_err(|why| CliError::Usage(format!("{}: its `model` section {why}", file.display())))?;
    let roots = queries.iter().filter_map(|q| q.root).max().map_or(0, |r| r + 1 + with_evidence as usize);
    let mut root_names = vec![String::new(); roots];
    for q in &queries {
        if let Some(r) = q.root {
            if with_evidence {
                root_names[r] = format!("{} ∧ evidence", q.query);
                root_names[r + 1] = "evidence".to_string();
            } else {
                root_names[r] = q.query.clone();
            }
        }
    }
    Ok(Some(SavedModel { probabilities: slots.iter().map(|s| s.probability).collect(), root_names }))
}

/// Why a saved model section does not fit `circuit` (see [`saved_model`]).
fn check_saved_model(
    slots: &[SlotInfo],
    queries: &[CompiledQuery],
    with_evidence: bool,
    circuit: &Circuit,
) -> Result<(), String> {
    let circuit_slots = circuit.num_slots() as usize;
    if slots.len() != circuit_slots {
        return Err(format!("names {} slots, and the circuit has {circuit_slots}", slots.len()));
    }
    if let Some((i, s)) = slots.iter().enumerate().find(|(_, s)| !(0.0..=1.0).contains(&s.probability)) {
        return Err(format!("gives slot {i} (`{}`) the probability {}, outside [0, 1]", s.name, s.probability));
    }
    let roots = circuit.roots().len();
    let last = |r: usize| r + usize::from(with_evidence);
    match queries.iter().find(|q| q.root.is_some_and(|r| last(r) >= roots)) {
        Some(q) => {
            Err(format!("answers `{}` at root {}, and the circuit has {roots} roots", q.query, q.root.unwrap_or(0)))
        }
        None => Ok(()),
    }
}

/// `circuit eval`, within the memory budget (`--max-memory`).
pub fn eval(args: &EvalArgs) -> Result<(), CliError> {
    eval_within(args, crate::memory::limit().min(u64::MAX as usize) as u64)
}

/// [`eval`], refusing a batch planned to take more than `max_memory` bytes.
pub fn eval_within(args: &EvalArgs, max_memory: u64) -> Result<(), CliError> {
    let kind = args.algebra;
    if args.batch == 0 {
        return Err(CliError::Usage("--batch must be at least 1".into()));
    }
    if let Some(n) = args.repeat.filter(|&n| n > MAX_REPEAT) {
        return Err(CliError::Usage(format!(
            "--repeat {n} is more than the {MAX_REPEAT} timed runs allowed (each run's time is kept for the median)"
        )));
    }
    let mut circuit = read_path(&args.file)?;
    let slots = circuit.num_slots() as usize;
    let saved = saved_model(&args.file, &circuit)?;
    let value_bytes = with_algebra!(kind, A => std::mem::size_of::<<A as Algebra>::Value>());
    let memory = |batch| check_memory(&args.file, &circuit, batch, value_bytes, args.grad, max_memory);
    let probabilities = match &args.weights {
        Some(path) => {
            // The file's rows are already in memory; the batch is theirs.
            let p = Probabilities::read(path, slots)?;
            if args.batch != 1 && args.batch != p.batch {
                return Err(CliError::Usage(format!(
                    "--batch {} disagrees with the {} rows of {}",
                    args.batch,
                    p.batch,
                    path.display()
                )));
            }
            memory(p.batch)?;
            p
        }
        None => {
            memory(args.batch)?;
            match &saved {
                Some(saved) if saved.probabilities.len() == slots => {
                    Probabilities::repeated(&saved.probabilities, args.batch)
                }
                _ => Probabilities::formula(slots, args.batch),
            }
        }
    };
    let tested = args.check_determinism.then(|| determinism(&mut circuit));
    if let (Some((test, _)), false) = (&tested, args.json) {
        eprintln!("note: determinism test, {}", determinism_line(test));
    }
    if args.grad && !kind.differentiable() {
        return Err(CliError::Usage(format!(
            "the {kind} algebra has no gradient; drop --grad or pick another algebra"
        )));
    }
    // Counting is exact integer arithmetic: the CPU's, whatever `auto` finds.
    let gpu = match (args.device, kind) {
        (crate::Device::Gpu, AlgebraKind::Counting) => {
            return Err(
                EvalError::NoGpuForm { algebra: "counting", why: "its values are exact integers beyond f32" }.into()
            )
        }
        (crate::Device::Auto, AlgebraKind::Counting) => None,
        _ => args.device.open().map_err(|e| CliError::Eval(e.into()))?,
    };
    let (circuit, props) = prepare(circuit, kind, probabilities.negative.is_some(), args);
    let laws = with_algebra!(kind, A => A::LAWS);
    let optimized = optimize::run(&circuit, Rewrites::for_laws(laws), args.optimize, &optimize::Budget::default());
    let (circuit, props, optimized) = match optimized {
        Some(o) if o.report.improved => {
            let props = check(&o.circuit);
            (o.circuit, props, Some(o.report))
        }
        _ => (circuit, props, None),
    };
    if let (Some(r), false) = (&optimized, args.json) {
        eprintln!(
            "note: optimised by the {} laws in {:.3} s: {} → {} edges",
            r.rewrites, r.seconds, r.edges_before, r.edges_after
        );
    }
    let layered = LayeredCircuit::with_properties(&circuit, props);
    let outcome = match &gpu {
        None => with_differentiable!(
            kind,
            A => run_differentiable::<A, _>(&CpuEvaluator::<A>::new(&layered)?, &layered, probabilities, args)?,
            otherwise => run_forward::<Boolean, _>(&CpuEvaluator::<Boolean>::new(&layered)?, &layered, probabilities, args)?
        ),
        Some(gpu) => run_on_gpu(gpu, kind, &layered, probabilities, args)?,
    };
    let names = saved.map(|s| s.root_names).filter(|n| n.len() == layered.num_roots());
    let device_name = gpu.as_ref().map_or_else(|| "cpu".to_string(), |g| g.name());
    let outcome = Outcome { determinism_test: tested.map(|(_, summary)| summary), ..outcome };
    report(args, kind, &layered, outcome, names.as_deref(), &device_name, optimized.as_ref());
    Ok(())
}

/// [`eval`] on a GPU: the algebra's `f32` form.
fn run_on_gpu(
    gpu: &Gpu,
    kind: AlgebraKind,
    layered: &LayeredCircuit,
    p: Probabilities,
    args: &EvalArgs,
) -> Result<Outcome, CliError> {
    macro_rules! differentiable {
        ($G:ty) => {
            run_differentiable::<$G, _>(&GpuEvaluator::<$G>::differentiable(gpu, layered)?, layered, p, args)
        };
    }
    match kind {
        AlgebraKind::Boolean => {
            run_forward::<Boolean, _>(&GpuEvaluator::<Boolean>::new(gpu, layered)?, layered, p, args)
        }
        AlgebraKind::Probability | AlgebraKind::ProbabilityF32 => differentiable!(Probability<f32>),
        AlgebraKind::LogProbability | AlgebraKind::LogProbabilityF32 => differentiable!(LogProbability<f32>),
        AlgebraKind::MaxProduct => differentiable!(MaxProduct<f32>),
        AlgebraKind::Godel => differentiable!(Godel<f32>),
        AlgebraKind::Product => differentiable!(ProductTNorm<f32>),
        AlgebraKind::Lukasiewicz => differentiable!(Lukasiewicz<f32>),
        AlgebraKind::Counting => {
            Err(EvalError::NoGpuForm { algebra: "counting", why: "its values are exact integers beyond f32" }.into())
        }
    }
}

/// Smooths the circuit when the algebra (or explicit negative weights)
/// needs it. Counting and max-product then range over the variables the
/// circuit mentions (as PySDD's `model_count`), or over every variable with
/// `--all-variables`.
fn prepare(circuit: Circuit, kind: AlgebraKind, explicit_negatives: bool, args: &EvalArgs) -> (Circuit, Properties) {
    let props = check(&circuit);
    let needs = with_algebra!(kind, A => A::REQUIRES.smooth) || explicit_negatives;
    if !needs || (props.smooth.holds() && !args.all_variables) {
        return (circuit, props);
    }
    let smoothed = smooth(&circuit, args.all_variables);
    if !args.json {
        let over = if args.all_variables { "all variables" } else { "the variables it mentions" };
        eprintln!(
            "note: the {kind} algebra needs a smooth circuit: smoothed over {over}, {} → {} edges",
            circuit.num_edges(),
            smoothed.num_edges()
        );
    }
    let props = check(&smoothed);
    (smoothed, props)
}

fn row0<V: ToJson>(matrix: &[V], rows: usize, batch: usize) -> Vec<Value> {
    (0..rows).map(|r| matrix[r * batch].to_json()).collect()
}

fn run_forward<A: Algebra, E: Evaluate<A>>(
    eval: &E,
    layered: &LayeredCircuit,
    p: Probabilities,
    args: &EvalArgs,
) -> Result<Outcome, CliError>
where
    A::Value: ToJson,
{
    let w = p.into_weights::<A>();
    let values = eval.forward(&w)?;
    let forward_s = match args.repeat {
        Some(n) => Some(median_time(n, "forward", || eval.forward(&w).map(drop))?),
        None => None,
    };
    Ok(Outcome {
        batch: w.batch,
        roots_row0: row0(&values, layered.num_roots(), w.batch),
        gradient_row0: None,
        forward_s,
        forward_backward_s: None,
        determinism_test: None,
    })
}

fn run_differentiable<A: Differentiable, E: Evaluate<A>>(
    eval: &E,
    layered: &LayeredCircuit,
    p: Probabilities,
    args: &EvalArgs,
) -> Result<Outcome, CliError>
where
    A::Value: ToJson,
{
    let w = p.into_weights::<A>();
    let (values, gradient_row0) = if args.grad {
        let (values, grads) = eval.forward_backward(&w, None)?;
        (values, Some(row0(&grads.positive, layered.num_slots() as usize, w.batch)))
    } else {
        (eval.forward(&w)?, None)
    };
    let (forward_s, forward_backward_s) = match args.repeat {
        Some(n) => (
            Some(median_time(n, "forward", || eval.forward(&w).map(drop))?),
            Some(median_time(n, "forward+backward", || eval.forward_backward(&w, None).map(drop))?),
        ),
        None => (None, None),
    };
    Ok(Outcome {
        batch: w.batch,
        roots_row0: row0(&values, layered.num_roots(), w.batch),
        gradient_row0,
        forward_s,
        forward_backward_s,
        determinism_test: None,
    })
}

/// Median seconds of `n` runs after one warm-up, with a progress bar on a
/// terminal when the runs take long.
fn median_time<E>(n: usize, what: &str, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    let n = n.max(1);
    let start = Instant::now();
    f()?;
    let estimate = start.elapsed().as_secs_f64() * n as f64;
    let bar = if estimate > 2.0 { ProgressBar::new(n as u64) } else { ProgressBar::hidden() };
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} runs, {eta} left") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
        bar.inc(1);
    }
    bar.finish_and_clear();
    times.sort_by(f64::total_cmp);
    Ok(if n % 2 == 1 { times[n / 2] } else { 0.5 * (times[n / 2 - 1] + times[n / 2]) })
}

fn report(
    args: &EvalArgs,
    kind: AlgebraKind,
    layered: &LayeredCircuit,
    o: Outcome,
    names: Option<&[String]>,
    device: &str,
    optimized: Option<&optimize::Report>,
) {
    let batch = o.batch;
    let edges = layered.num_edges();
    let per_s = |t: Option<f64>| t.map(|t| (edges * batch) as f64 / t);
    if args.json {
        let timing = args.repeat.map(|n| {
            json!({
                "repeat": n,
                "forward_s": o.forward_s,
                "forward_backward_s": o.forward_backward_s,
                "edges": edges,
                "edges_per_s_forward": per_s(o.forward_s),
                "edges_per_s_forward_backward": per_s(o.forward_backward_s),
            })
        });
        let mut out = json!({ "algebra": kind.name(), "batch": batch, "device": device, "roots": o.roots_row0 });
        if let Some(names) = names {
            out["root_names"] = json!(names);
        }
        if let Some(g) = o.gradient_row0 {
            out["gradient"] = json!(g);
        }
        if let Some(t) = timing {
            out["timing"] = t;
        }
        if let Some(r) = optimized {
            out["optimize"] = json!(r);
        }
        if let Some(t) = o.determinism_test {
            out["determinism_test"] = t;
        }
        println!("{out}");
        return;
    }
    println!(
        "{}: {} algebra, batch {batch}, {edges} edges, {} layers, on {device}",
        args.file.display(),
        kind,
        layered.num_layers()
    );
    let show = |label: &str, values: &[Value]| {
        for (i, v) in values.iter().take(SHOWN).enumerate() {
            println!("  {label} {i}: {v}");
        }
        if values.len() > SHOWN {
            println!("  ... {} more", values.len() - SHOWN);
        }
    };
    match names {
        Some(names) => {
            for (name, v) in names.iter().zip(&o.roots_row0).take(SHOWN) {
                println!("  {name}: {v}");
            }
            if names.len() > SHOWN {
                println!("  ... {} more", names.len() - SHOWN);
            }
        }
        None => show("root", &o.roots_row0),
    }
    if let Some(g) = &o.gradient_row0 {
        println!("gradient of the sum of roots, row 0, per variable (1-based):");
        let labelled: Vec<Value> = g.to_vec();
        for (i, v) in labelled.iter().take(SHOWN).enumerate() {
            println!("  x{}: {v}", i + 1);
        }
        if labelled.len() > SHOWN {
            println!("  ... {} more", labelled.len() - SHOWN);
        }
    }
    if let Some(n) = args.repeat {
        println!("timing, median of {n} runs:");
        if let Some(t) = o.forward_s {
            println!("  forward           {t:.6e} s  ({:.3e} edges/s)", per_s(Some(t)).unwrap_or(0.0));
        }
        if let Some(t) = o.forward_backward_s {
            println!(
                "  forward+backward  {t:.6e} s  ({:.3e} edges/s, {:.1} passes/s)",
                per_s(Some(t)).unwrap_or(0.0),
                1.0 / t
            );
        }
    }
}
