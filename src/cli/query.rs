//! `deeplog query FILE`: every query's probability, as ProbLog prints them.

use std::path::Path;
use std::time::Duration;

use deeplog_language::model::Logic;

use super::CliError;
use crate::{Model, QueryOptions};

pub struct QueryArgs<'a> {
    pub file: &'a Path,
    pub json: bool,
    pub logic: Option<&'a str>,
    pub timings: bool,
    pub timeout: Option<f64>,
    pub max_nodes: usize,
    pub compiler: &'a str,
}

/// `x` with `digits` significant digits, trailing zeros dropped (C's `%g`).
fn significant(x: f64, digits: usize) -> String {
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

pub fn query(args: QueryArgs<'_>) -> Result<(), CliError> {
    let logic: Option<Logic> = args.logic.map(str::parse).transpose().map_err(CliError::Usage)?;
    let compiler = args.compiler.parse().map_err(CliError::Usage)?;
    let model = Model::from_file(args.file)?;
    let warnings = model.warnings();
    if !warnings.is_empty() && !args.json {
        eprint!("{warnings}");
    }
    let options =
        QueryOptions { logic, timeout: args.timeout.map(Duration::from_secs_f64), max_nodes: args.max_nodes, compiler };
    let answers = model.query(&options)?;
    if args.json {
        let mut out = serde_json::json!({
            "logic": answers.logic,
            "queries": answers.answers,
        });
        if args.timings {
            out["timings"] = serde_json::to_value(&answers.timings).unwrap_or_default();
        }
        println!("{out}");
        return Ok(());
    }
    for a in &answers.answers {
        println!("{}: {}", a.query, significant(a.value, 8));
    }
    if args.timings {
        let t = &answers.timings;
        eprintln!(
            "parse+check {:.3} s, ground {:.3} s ({} atoms, {} rules), compile {:.3} s ({}: {} nodes, {} edges), evaluate {:.3} s",
            t.parse_and_check_s,
            t.ground_s,
            t.ground_atoms,
            t.ground_rules,
            t.compile_s,
            t.compiler,
            t.circuit_nodes,
            t.circuit_edges,
            t.evaluate_s
        );
    }
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
