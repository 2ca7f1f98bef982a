//! `deeplog mpe` and `deeplog map`: ProbLog's tasks of the same names, in
//! its output shape (`--json` for programs).

use std::path::Path;
use std::time::Instant;

use super::query::read_model;
use super::{CliError, CompileArgs};
use crate::QueryOptions;

fn options(limits: &CompileArgs, started: Instant) -> QueryOptions {
    QueryOptions {
        timeout: limits.time_left(started),
        grounding: limits.grounding(),
        max_nodes: limits.max_nodes,
        compiler: limits.compiler,
        optimize: limits.optimize,
        ..QueryOptions::default()
    }
}

/// `x` as C's `printf("%.{precision}g")` prints it (ProbLog's format), so
/// that the two outputs diff clean: fixed notation for exponents from −4
/// to `precision − 1`, else `1.5e-07`; trailing zeros dropped.
pub(crate) fn c_general(x: f64, precision: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let precision = precision.max(1);
    let scientific = format!("{x:.*e}", precision - 1);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim(&format!("{x:.decimals$}"))
    }
}

fn negated(name: &str, value: bool) -> String {
    if value {
        name.to_string()
    } else {
        format!("\\+{name}")
    }
}

/// The most probable explanation: with queries, their values in the most
/// probable world (as ProbLog prints them), else every relevant fact's.
pub fn mpe(file: &Path, json: bool, limits: &CompileArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let model = read_model(file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() && !json {
        eprint!("{warnings}");
    }
    let mpe = model.mpe(&options(limits, started))?;
    if json {
        let facts: serde_json::Map<String, serde_json::Value> =
            mpe.facts.iter().map(|(n, v)| (n.clone(), serde_json::Value::Bool(*v))).collect();
        let queries: serde_json::Map<String, serde_json::Value> =
            mpe.queries.iter().map(|(n, v)| (n.clone(), serde_json::Value::Bool(*v))).collect();
        println!("{}", serde_json::json!({ "probability": mpe.probability, "assignment": facts, "queries": queries }));
        return Ok(());
    }
    let shown = if mpe.queries.is_empty() { &mpe.facts } else { &mpe.queries };
    for (name, value) in shown {
        println!("{}", negated(name, *value));
    }
    println!("% Probability: {}", c_general(mpe.probability, 10));
    Ok(())
}

/// The most probable assignment of the query facts, the rest summed out.
pub fn map(file: &Path, json: bool, limits: &CompileArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let model = read_model(file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() && !json {
        eprint!("{warnings}");
    }
    let map = model.map(&options(limits, started))?;
    if json {
        let assignment: serde_json::Map<String, serde_json::Value> =
            map.assignment.iter().map(|(n, v)| (n.clone(), serde_json::Value::Bool(*v))).collect();
        println!("{}", serde_json::json!({ "probability": map.probability, "assignment": assignment }));
        return Ok(());
    }
    let width = map.assignment.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    for (name, value) in &map.assignment {
        println!("{name:>width$}:\t{} ", u8::from(*value));
    }
    println!("% Probability: {}", c_general(map.probability, 10));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::c_general;

    #[test]
    fn prints_as_c_does() {
        for (x, want) in [
            (0.2352, "0.2352"),
            (4.933415509e-05, "4.933415509e-05"),
            (0.0001, "0.0001"),
            (1.0, "1"),
            (0.168, "0.168"),
            (1.547200495e-08, "1.547200495e-08"),
            (2.886145465e-11, "2.886145465e-11"),
            (0.99999999999, "1"),
            (9.99999999999e-5, "0.0001"),
            (12345678901.0, "1.23456789e+10"),
        ] {
            assert_eq!(c_general(x, 10), want, "{x}");
        }
    }
}

/// `deeplog ground`'s formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GroundFormat {
    /// ProbLog's syntax.
    Pl,
    /// DIMACS CNF with weights.
    Cnf,
    /// JSON.
    Json,
}

/// The relevant ground program, as text, CNF or JSON, on stdout or into
/// `output` (written whole or not at all).
pub fn ground(file: &Path, format: GroundFormat, output: Option<&Path>, limits: &CompileArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let model = read_model(file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() {
        eprint!("{warnings}");
    }
    let options = options(limits, started);
    let text = match format {
        GroundFormat::Pl => model.ground_program(&options)?.to_string(),
        GroundFormat::Json => ground_json(&model.ground_program(&options)?),
        GroundFormat::Cnf => {
            let (program, cnf) = model.weighted_cnf(&options)?;
            let name = crate::compiled::choice_namer(&program);
            let slot_name = |w: &deeplog_circuits::compile::SlotWeight| {
                let atom = program.choices[w.choice].alternatives().nth(w.alternative).map(|(a, _)| a);
                atom.map_or_else(String::new, &name)
            };
            let queries: Vec<String> =
                program.queries.iter().filter(|q| q.atom_id().is_some()).map(|q| program.query_text(q)).collect();
            let evidence: Vec<String> =
                program.evidence.iter().map(|&(a, v)| format!("evidence({}, {v})", program.atom_text(a))).collect();
            cnf.to_dimacs(slot_name, &queries, &evidence)
        }
    };
    match output {
        Some(path) => deeplog_circuits::formats::write_atomically(path, &text)
            .map_err(|source| CliError::Write { path: path.to_path_buf(), source }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn ground_json(program: &deeplog_program::GroundProgram) -> String {
    use serde_json::json;
    let name = |a: deeplog_program::AtomId| program.atom_text(a);
    let choices: Vec<serde_json::Value> = program
        .choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let alternatives: Vec<serde_json::Value> =
                c.alternatives().map(|(a, p)| json!({ "atom": name(a), "probability": p })).collect();
            json!({
                "alternatives": alternatives,
                "learnable": program.learnable.get(i).copied().unwrap_or(false),
            })
        })
        .collect();
    let rules: Vec<serde_json::Value> = program
        .rules
        .iter()
        .map(|r| {
            let body: Vec<serde_json::Value> =
                r.body.iter().map(|&(a, positive)| json!({ "atom": name(a), "positive": positive })).collect();
            json!({ "head": name(r.head), "body": body })
        })
        .collect();
    let queries: Vec<String> = program.queries.iter().map(|q| program.query_text(q)).collect();
    let evidence: Vec<serde_json::Value> =
        program.evidence.iter().map(|&(a, v)| json!({ "atom": name(a), "value": v })).collect();
    let mut text = json!({ "choices": choices, "rules": rules, "queries": queries, "evidence": evidence }).to_string();
    text.push('\n');
    text
}

/// A float as Python's `repr` writes it (ProbLog's output): shortest
/// round-trip digits, `1.0` for an integer value.
fn python_float(x: f64) -> String {
    let s = format!("{x}");
    if x.is_finite() && !s.contains('.') && !s.contains('e') {
        format!("{s}.0")
    } else {
        s
    }
}

/// Learning from interpretations, ProbLog's `lfi`: prints the
/// log-likelihood, the weights, their names and the iterations as ProbLog
/// does; `-O` writes the learned program.
pub fn lfi(
    file: &Path,
    evidence: &Path,
    options: &crate::lfi::LfiOptions,
    output_model: Option<&Path>,
    json: bool,
) -> Result<(), CliError> {
    let model = read_model(file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() && !json {
        eprint!("{warnings}");
    }
    let text = std::fs::read_to_string(evidence)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", evidence.display())))?;
    let interpretations = crate::lfi::read_interpretations(&text)
        .map_err(|(line, message)| CliError::Usage(format!("{}:{line}: {message}", evidence.display())))?;
    let examples: Vec<Vec<(String, bool)>> = interpretations.iter().map(|i| i.evidence.clone()).collect();
    let at = |index: usize| interpretations.get(index).and_then(|i| i.lines.first()).map_or(0, |&l| l);
    let learned = crate::lfi::lfi(&model, &examples, options).map_err(|e| match e {
        crate::Error::Example { index, message } => {
            CliError::Usage(format!("{}:{}: {message}", evidence.display(), at(index)))
        }
        e => e.into(),
    })?;
    for &index in &learned.ignored {
        eprintln!(
            "warning: {}:{}: this interpretation holds in no world of the model; it is left out (as ProbLog does)",
            evidence.display(),
            at(index)
        );
    }
    for line in &learned.unreached {
        eprintln!(
            "warning: {}:{line}: nothing is learned of this parameter: no interpretation reaches an instance of it \
             (its body never holds, or nothing observed depends on it); it keeps its value",
            file.display()
        );
    }
    if let Some(path) = output_model {
        deeplog_circuits::formats::write_atomically(path, &learned.program)
            .map_err(|source| CliError::Write { path: path.to_path_buf(), source })?;
    }
    if json {
        println!(
            "{}",
            serde_json::json!({
                "log_likelihood": learned.log_likelihood,
                "iterations": learned.iterations,
                "names": learned.names,
                "weights": learned.weights,
                "program": learned.program,
            })
        );
    } else {
        let weights: Vec<String> = learned.weights.iter().map(|w| python_float((w * 1e8).round() / 1e8)).collect();
        println!(
            "{} [{}] [{}] {}",
            python_float(learned.log_likelihood),
            weights.join(", "),
            learned.names.join(", "),
            learned.iterations
        );
    }
    Ok(())
}

/// Samples of the program's worlds (ProbLog's `sample`): per sample the
/// queries true in it, `----------------` between samples; with
/// `estimate`, each query's Monte Carlo estimate and its 95% interval.
pub fn sample(
    file: &Path,
    options: &crate::sample::SampleOptions,
    estimate: bool,
    json: bool,
    limits: &CompileArgs,
) -> Result<(), CliError> {
    let started = Instant::now();
    let model = read_model(file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() && !json {
        eprint!("{warnings}");
    }
    let samples = model.sample(&self::options(limits, started), options)?;
    let seconds = started.elapsed().as_secs_f64();
    if estimate {
        let estimates = samples.estimates();
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "logic": "probability",
                    "samples": samples.worlds.len(),
                    "drawn": samples.drawn,
                    "queries": estimates,
                })
            );
        } else {
            println!(
                "% Probability estimate after {} samples ({:.4} samples/second):",
                samples.worlds.len(),
                samples.worlds.len() as f64 / seconds.max(1e-9)
            );
            for e in &estimates {
                println!("{}:\t{}", e.query, c_general(e.value, 8));
            }
            println!("% 95% intervals (Wilson):");
            for e in &estimates {
                println!("% {}:\t[{}, {}]", e.query, c_general(e.lower, 6), c_general(e.upper, 6));
            }
        }
        return Ok(());
    }
    if json {
        let worlds: Vec<Vec<&str>> = samples
            .worlds
            .iter()
            .map(|w| samples.queries.iter().zip(w).filter(|(_, &v)| v).map(|(q, _)| q.as_str()).collect())
            .collect();
        println!("{}", serde_json::json!({ "queries": samples.queries, "samples": worlds }));
        return Ok(());
    }
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (i, w) in samples.worlds.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "----------------");
        }
        for (q, _) in samples.queries.iter().zip(w).filter(|(_, &v)| v) {
            let _ = writeln!(out, "{q}.");
        }
    }
    let _ = out.flush();
    Ok(())
}

/// Decision-theoretic ProbLog: the best strategy and its expected utility,
/// as ProbLog prints them (`umbrella:\t1 `, `SCORE: 43.0`).
pub fn dt(file: &Path, local: bool, json: bool, limits: &CompileArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let model = read_model(file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() && !json {
        eprint!("{warnings}");
    }
    let search = if local { crate::tasks::DtSearch::Local } else { crate::tasks::DtSearch::Exhaustive };
    let dt = model.dt(&options(limits, started), search)?;
    if json {
        let decisions: serde_json::Map<String, serde_json::Value> =
            dt.decisions.iter().map(|(n, v)| (n.clone(), serde_json::json!(u8::from(*v)))).collect();
        println!("{}", serde_json::json!({ "decisions": decisions, "score": dt.score }));
        return Ok(());
    }
    // Names right-aligned, as ProbLog prints them.
    let width = dt.decisions.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    for (name, value) in &dt.decisions {
        println!("{name:>width$}:\t{} ", u8::from(*value));
    }
    println!("SCORE: {}", python_float(dt.score));
    Ok(())
}
