//! The issue's performance target for the logics: a `forall` over a domain
//! of 10⁴ constants and a binary predicate over 10⁴ × 10² pairs — 10⁶
//! ground formulas — evaluated forward and backward in a fuzzy logic.
//!
//! ```text
//! cargo run --release --example logics_bench [-- N M REPEAT [gpu]]
//! ```
//!
//! With `gpu`, the formula circuit runs on the first GPU adapter (f32)
//! instead of the CPU.
//!
//! The model (generated, then read like any model file):
//!
//! ```prolog
//! n(X) :- between(1, N, X).            m(Y) :- between(1, M, Y).
//! t(0.9)::p(X) :- n(X).                t(0.5)::r(X, Y) :- n(X), m(Y).
//! constraint(forall(X in n, forall(Y in m, p(X) implies r(X, Y)))).
//! ```
//!
//! Prints each stage's time (parse and check, grounding and building the
//! formula circuit, forward, forward+backward) as the median of REPEAT runs,
//! for the Gödel, product and Łukasiewicz logics.

use std::time::Instant;

use deeplog::{Model, QueryOptions};
use deeplog_language::model::Logic;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gpu = std::env::args().any(|a| a == "gpu");
    let args: Vec<usize> =
        std::env::args().skip(1).filter(|a| a != "gpu").map(|a| a.parse().expect("numbers: N M REPEAT")).collect();
    let gpu = if gpu { Some(deeplog::gpu::Gpu::new()?) } else { None };
    let (n, m, repeat) = (
        args.first().copied().unwrap_or(10_000),
        args.get(1).copied().unwrap_or(100),
        args.get(2).copied().unwrap_or(5),
    );
    let source = format!(
        "n(X) :- between(1, {n}, X).\nm(Y) :- between(1, {m}, Y).\nt(0.9)::p(X) :- n(X).\n\
         t(0.5)::r(X, Y) :- n(X), m(Y).\nconstraint(forall(X in n, forall(Y in m, p(X) implies r(X, Y)))).\n"
    );
    let device = gpu.as_ref().map_or_else(|| "cpu".to_string(), |g| g.name());
    println!("forall over {n} x {m} = {} ground formulas on {device}; medians of {repeat} runs", n * m);
    let start = Instant::now();
    let model = Model::from_source("bench.pl", &source)?;
    println!("parse+check: {:.3} s", start.elapsed().as_secs_f64());
    println!("| logic | ground + build (s) | circuit nodes | forward (s) | forward+backward (s) | loss |");
    println!("|---|---|---|---|---|---|");
    for logic in [Logic::Godel, Logic::Product, Logic::Lukasiewicz] {
        let start = Instant::now();
        let mut formulas = model.formulas(&QueryOptions { logic: Some(logic), ..QueryOptions::default() })?;
        if let Some(gpu) = &gpu {
            formulas = formulas.on_gpu(gpu)?;
        }
        let build_s = start.elapsed().as_secs_f64();
        let x = formulas.initial_values();
        let mut forward = Vec::new();
        let mut both = Vec::new();
        let mut loss = 0.0;
        for _ in 0..repeat {
            let t = Instant::now();
            loss = formulas.evaluate(&x)?.loss;
            forward.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let (_, grad) = formulas.loss_gradient(&x)?;
            both.push(t.elapsed().as_secs_f64());
            assert_eq!(grad.len(), x.len());
        }
        println!(
            "| {logic} | {build_s:.3} | {} | {:.4} | {:.4} | {loss:.6} |",
            formulas.size().0,
            median(forward),
            median(both)
        );
    }
    Ok(())
}
