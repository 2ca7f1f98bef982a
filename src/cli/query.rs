//! `deeplog query FILE`: every query's probability, as ProbLog prints them.

use std::path::Path;
use std::time::{Duration, Instant};

use deeplog_circuits::compile::{compile_with, Budget};
use deeplog_circuits::formats::{read_cnf, write_atomically, write_json_with_model};
use deeplog_circuits::properties::{check, smooth};
use deeplog_circuits::{CpuEvaluator, LayeredCircuit, Weights};
use deeplog_language::ground::Limits;
use deeplog_semirings::{Counting, LogProbability, Logic};

use super::circuit::COUNT_OVERFLOW;
use super::{CliError, CompileArgs};
use crate::answers::Timings;
use crate::compiled::optimize_compiled;
use crate::{Device, Model, QueryOptions};

pub struct QueryArgs<'a> {
    pub file: &'a Path,
    pub json: bool,
    pub logic: Option<Logic>,
    pub timings: bool,
    pub limits: &'a CompileArgs,
    pub explain: bool,
    pub device: Device,
    pub params: Option<&'a Path>,
    pub inputs: Option<&'a Path>,
}

/// `x` with `digits` significant digits, trailing zeros dropped (C's `%g`).
pub(super) fn significant(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exponent = x.abs().log10().floor() as i32;
    if !(-5..digits as i32).contains(&exponent) {
        return format!("{x:.*e}", digits - 1);
    }
    let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A model with neural predicates, answered with the networks `deeplog
/// train` saved.
fn neural_query(model: &Model, args: &QueryArgs<'_>) -> Result<(), CliError> {
    let Some(params) = args.params else {
        return Err(CliError::Usage(format!(
            "the model's neural predicates call `{}`: give trained networks with --params FILE (from `deeplog train \
             … -o FILE`) and their inputs with --inputs FEATURES.csv",
            model.networks().join("`, `")
        )));
    };
    let answers = super::neural::query(model, params, args.inputs)?;
    if args.json {
        let queries: Vec<serde_json::Value> =
            answers.iter().map(|(q, v)| serde_json::json!({ "query": q, "value": v })).collect();
        println!("{}", serde_json::json!({ "logic": "probability", "queries": queries }));
    } else {
        for (q, v) in &answers {
            println!("{q}: {}", significant(*v, 8));
        }
    }
    Ok(())
}

impl CompileArgs {
    /// The grounding limits the options set.
    pub(super) fn grounding(&self) -> Limits {
        Limits {
            max_atoms: self.max_atoms,
            max_rules: self.max_rules,
            max_calls: self.max_calls,
            max_terms: self.max_terms,
            max_depth: self.max_depth,
            deadline: None,
        }
    }

    /// `--timeout` less the time the command has run since `started`: one
    /// deadline for the whole command.
    pub(super) fn time_left(&self, started: Instant) -> Option<Duration> {
        self.timeout.map(|t| t.saturating_sub(started.elapsed()))
    }
}

/// The model in `file`, or on standard input where `file` is `-` (named
/// `<stdin>` in messages; data files it loads are read from the current
/// folder).
pub(super) fn read_model(file: &Path) -> Result<Model, CliError> {
    if file != Path::new("-") {
        return Ok(Model::from_file(file)?);
    }
    let mut source = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut source)
        .map_err(|e| CliError::Usage(format!("cannot read the model from standard input: {e}")))?;
    Ok(Model::from_source("<stdin>", &source)?)
}

pub fn query(args: QueryArgs<'_>) -> Result<(), CliError> {
    let started = Instant::now();
    let model = read_model(args.file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() && !args.json {
        eprint!("{warnings}");
    }
    if !model.networks().is_empty() {
        return neural_query(&model, &args);
    }
    let params = args.params.map(super::train::ParameterFile::read).transpose()?;
    let options = QueryOptions {
        logic: args.logic,
        timeout: args.limits.time_left(started),
        grounding: args.limits.grounding(),
        max_nodes: args.limits.max_nodes,
        compiler: args.limits.compiler,
        explain: args.explain,
        device: args.device,
        parameters: params.as_ref().map(|p| p.values.clone()),
        optimize: args.limits.optimize,
    };
    let answers = model.query(&options).map_err(|e| match &params {
        Some(params) => params.locate(e),
        None => e.into(),
    })?;
    if args.json {
        let mut out = serde_json::json!({
            "logic": answers.logic.name(),
            "queries": answers.answers,
        });
        if !answers.constraints.is_empty() {
            out["constraints"] = serde_json::to_value(&answers.constraints).unwrap_or_default();
            out["loss"] = serde_json::json!(answers.loss);
        }
        if args.timings {
            out["timings"] = serde_json::to_value(&answers.timings).unwrap_or_default();
        }
        println!("{out}");
        return Ok(());
    }
    for a in &answers.answers {
        let logic = a.logic.unwrap_or(answers.logic);
        let value = match (&a.exact, logic) {
            (Some(exact), _) => exact.clone(),
            (None, Logic::Boolean) => (a.value != 0.0).to_string(),
            (None, _) => significant(a.value, 8),
        };
        match &a.logic {
            Some(own) => println!("{} ({own}): {value}", a.query),
            None => println!("{}: {value}", a.query),
        }
        if args.explain {
            match &a.explanation {
                Some(e) => {
                    let facts = if e.facts.is_empty() {
                        "nothing beyond the evidence's".to_string()
                    } else {
                        e.facts.join(", ")
                    };
                    println!("  most probable proof ({}): {facts}", significant(e.probability, 8));
                    if !e.evidence.is_empty() {
                        println!("  and for the evidence: {}", e.evidence.join(", "));
                    }
                }
                None => println!("  no proof"),
            }
        }
    }
    for c in &answers.constraints {
        let what = if answers.logic.tnorm().is_some() { "truth" } else { "probability" };
        println!("constraint {}: {what} {}", c.constraint, significant(c.value, 8));
    }
    if let Some(loss) = answers.loss {
        println!("loss: {}", significant(loss, 8));
    }
    if args.timings {
        let t = &answers.timings;
        eprintln!(
            "{} ({}: {} nodes, {} edges), optimize {:.3} s{}, evaluate {:.3} s on {}",
            stages_note(t),
            compiler_note(t),
            t.circuit_nodes,
            t.circuit_edges,
            t.optimize_s,
            optimized_note(t),
            t.evaluate_s,
            t.device
        );
    }
    Ok(())
}

/// `deeplog compile FILE -o OUT`.
pub fn compile(file: &Path, output: &Path, limits: &CompileArgs, timings: bool) -> Result<(), CliError> {
    let started = Instant::now();
    let model = Model::from_file(file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() {
        eprint!("{warnings}");
    }
    let options = QueryOptions {
        timeout: limits.time_left(started),
        grounding: limits.grounding(),
        max_nodes: limits.max_nodes,
        compiler: limits.compiler,
        ..Default::default()
    };
    let mut compiled = model.compile(&options)?;
    if let Some(optimized) = optimize_compiled(&compiled.circuit, limits.optimize, &mut compiled.timings) {
        compiled.circuit = optimized;
    }
    let text = compiled.to_json(&file.display().to_string());
    write_atomically(output, &text).map_err(|source| CliError::Write { path: output.to_path_buf(), source })?;
    let t = &compiled.timings;
    eprintln!(
        "{}: {} slots, {} nodes, {} edges{}, {} roots for {} queries",
        output.display(),
        compiled.circuit.num_slots(),
        t.circuit_nodes,
        t.circuit_edges,
        optimized_note(t),
        compiled.circuit.roots().len(),
        compiled.queries.len()
    );
    if timings {
        eprintln!("{} ({}), optimize {:.3} s", stages_note(t), compiler_note(t), t.optimize_s);
    }
    Ok(())
}

/// `parse+check … s, ground … s (A atoms, R rules), compile … s`.
fn stages_note(t: &Timings) -> String {
    format!(
        "parse+check {:.3} s, ground {:.3} s ({} atoms, {} rules), compile {:.3} s",
        t.parse_and_check_s, t.ground_s, t.ground_atoms, t.ground_rules, t.compile_s
    )
}

/// The compiler that ran, and what rewriting the lineage did where it ran.
fn compiler_note(t: &Timings) -> String {
    match t.lineage_edges {
        Some((before, after)) => {
            format!("{}, lineage rewritten {before} → {after} edges in {:.3} s", t.compiler, t.lineage_rewrite_s)
        }
        None => t.compiler.to_string(),
    }
}

/// `" (optimised to N edges)"` where optimisation was kept.
fn optimized_note(t: &Timings) -> String {
    t.optimized_edges.map_or(String::new(), |e| format!(" (optimised to {e} edges)"))
}

/// `deeplog compile --cnf F.cnf -o OUT`: the formula's circuit, saved with
/// its weights, and its weighted model count printed.
pub fn compile_cnf(file: &Path, output: &Path, limits: &CompileArgs) -> Result<(), CliError> {
    let text = deeplog_circuits::formats::read_text(file)?;
    let cnf = read_cnf(&text).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let (program, formula) = cnf.to_program();
    let start = Instant::now();
    let budget = Budget { max_nodes: limits.max_nodes, timeout: limits.timeout, ..Budget::default() };
    let compiled = compile_with(&program, &[formula], &[], &budget, limits.compiler)
        .map_err(|e| CliError::Usage(format!("{}: {}", file.display(), e.to_string().replace("query atom", "atom"))))?;
    let compile_s = start.elapsed().as_secs_f64();
    let layered = LayeredCircuit::new(&compiled.circuit);
    let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered)?;
    let log_p =
        eval.forward(&Weights::complementary(1, compiled.slots.iter().map(|s| s.probability.ln()).collect()))?[0];
    let log_wmc = log_p + cnf.log_scale();
    let slots: Vec<serde_json::Value> = compiled
        .slots
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": format!("x{}", s.choice + 1),
                "probability": s.probability,
                "choice": s.choice,
                "alternative": 0,
            })
        })
        .collect();
    let model = serde_json::json!({
        "source": file.display().to_string(),
        "slots": slots,
        "queries": [{"query": "cnf", "root": 0}],
        "with_evidence": false,
        "log_scale": cnf.log_scale(),
    });
    write_atomically(output, &write_json_with_model(&compiled.circuit, &model))
        .map_err(|source| CliError::Write { path: output.to_path_buf(), source })?;
    println!(
        "{}: {} variables, {} clauses; circuit {} nodes, {} edges ({}, {compile_s:.3} s)",
        file.display(),
        cnf.num_vars,
        cnf.clauses.len(),
        compiled.circuit.num_nodes(),
        compiled.circuit.num_edges(),
        compiled.stats.method.name()
    );
    if cnf.is_unweighted() {
        // Unweighted: the exact count, in 128-bit integers over the
        // circuit smoothed over every variable.
        let smoothed = smooth(&compiled.circuit, true);
        let layered = LayeredCircuit::with_properties(&smoothed, check(&smoothed));
        let n = smoothed.num_slots() as usize;
        let ones = Weights { batch: 1, positive: vec![1u128; n], negative: Some(vec![1u128; n]) };
        let count = CpuEvaluator::<Counting>::new(&layered)?.forward(&ones)?[0];
        // Each variable no clause mentions doubles the count.
        let count = match 1u128.checked_shl(cnf.free_variables()) {
            _ if count == 0 => 0,
            Some(free) => count.saturating_mul(free),
            None => u128::MAX,
        };
        if count == u128::MAX {
            println!("model count: {COUNT_OVERFLOW}");
        } else {
            println!("model count: {count}");
        }
    }
    println!("log weighted model count: {log_wmc}");
    println!("weighted model count: {}", log_wmc.exp());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::significant;

    #[test]
    fn values_print_like_problog() {
        assert_eq!(significant(0.1924542831673045, 8), "0.19245428");
        assert_eq!(significant(0.3, 8), "0.3");
        assert_eq!(significant(1.0, 8), "1");
        assert_eq!(significant(0.0, 8), "0");
        assert_eq!(significant(3.5e-7, 8), "3.5000000e-7");
    }
}
