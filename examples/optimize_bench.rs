//! What equality saturation buys: every shared benchmark program compiled,
//! and every shared benchmark circuit read, then optimised (`--optimize
//! on`, semiring laws) and evaluated before and after in the same run —
//! edges and layers before/after, forward+backward time before/after (log
//! algebra, f64, batch 128, median of repeats), optimisation time against
//! compile time, and what `auto` decides. The shared circuits are also
//! measured smoothed over all their variables, as counting and max-product
//! evaluate them. Prints a Markdown report (`bench/optimize.sh` saves it).
//!
//! ```text
//! cargo run --release --example optimize_bench -- [SHARED_BENCH_DIR] [--max-compile SECONDS]
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use deeplog::circuits::formats::read_path;
use deeplog::circuits::optimize::{self, Budget, Mode, Rewrites};
use deeplog::circuits::properties::smooth;
use deeplog::circuits::{Circuit, CpuEvaluator, LayeredCircuit, Weights};
use deeplog::semirings::LogProbability;
use deeplog::{Model, QueryOptions};

const BATCH: usize = 128;

struct Row {
    name: String,
    /// Compile time (programs) or read time (circuit files), seconds.
    make_s: f64,
    report: optimize::Report,
    layers: (usize, usize),
    eval_s: (f64, f64),
    auto: bool,
}

/// Median seconds of one forward+backward pass of each circuit, the two
/// passes alternating (so both see the same machine), for about a second.
fn time_passes(before: &Circuit, after: &Circuit, log_p: &[f64]) -> (f64, f64) {
    let (lb, la) = (LayeredCircuit::new(before), LayeredCircuit::new(after));
    let eb = CpuEvaluator::<LogProbability<f64>>::new(&lb).expect("a compiled circuit evaluates in log space");
    let ea = CpuEvaluator::<LogProbability<f64>>::new(&la).expect("an optimised one too");
    let positive: Vec<f64> = log_p.iter().flat_map(|&p| std::iter::repeat_n(p, BATCH)).collect();
    let w = Weights::complementary(BATCH, positive);
    let (mut tb, mut ta) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while tb.len() < 5 || (start.elapsed() < Duration::from_secs(1) && tb.len() < 200) {
        for (eval, times) in [(&eb, &mut tb), (&ea, &mut ta)] {
            let t = Instant::now();
            eval.forward_backward(&w, None).expect("evaluates");
            times.push(t.elapsed().as_secs_f64());
        }
    }
    (median(tb), median(ta))
}

fn measure(name: String, make_s: f64, circuit: &Circuit, log_p: &[f64]) -> Row {
    let optimized = optimize::optimize(circuit, Rewrites::Semiring, &Budget::default());
    let auto = optimize::run(circuit, Rewrites::Semiring, Mode::Auto, &Budget::default()).is_some();
    let after = &optimized.circuit;
    let layers = (LayeredCircuit::new(circuit).num_layers(), LayeredCircuit::new(after).num_layers());
    let (before_s, after_s) = time_passes(circuit, after, log_p);
    eprintln!(
        "{name}: {} → {} edges, {:.3} s optimising, {:.2} ms → {:.2} ms",
        optimized.report.edges_before,
        optimized.report.edges_after,
        optimized.report.seconds,
        before_s * 1e3,
        after_s * 1e3
    );
    Row { name, make_s, report: optimized.report, layers, eval_s: (before_s, after_s), auto }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn table(title: &str, what: &str, rows: &[Row]) {
    println!("## {title}\n");
    println!(
        "| {what} | {what} s | edges before | edges after | reduction | layers | fwd+bwd before | fwd+bwd after | \
         speed-up | optimise s | optimise / {what} | stop | auto |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        let o = &r.report;
        println!(
            "| {} | {:.3} | {} | {} | {:.1}% | {} → {} | {:.3} ms | {:.3} ms | {:.2}× | {:.3} | {:.0}% | {:?} | {} |",
            r.name,
            r.make_s,
            o.edges_before,
            o.edges_after,
            100.0 * (1.0 - o.edges_after as f64 / o.edges_before.max(1) as f64),
            r.layers.0,
            r.layers.1,
            r.eval_s.0 * 1e3,
            r.eval_s.1 * 1e3,
            r.eval_s.0 / r.eval_s.1,
            o.seconds,
            100.0 * o.seconds / r.make_s.max(1e-9),
            o.stop,
            if r.auto { "on" } else { "off" },
        );
    }
    let reduction =
        median(rows.iter().map(|r| 1.0 - r.report.edges_after as f64 / r.report.edges_before.max(1) as f64).collect());
    let speedup = median(rows.iter().map(|r| r.eval_s.0 / r.eval_s.1).collect());
    let share = median(rows.iter().map(|r| r.report.seconds / r.make_s.max(1e-9)).collect());
    println!(
        "\n**Median over {} {}: edge reduction {:.1}%, forward+backward speed-up {:.2}×, optimisation {:.0}% of the \
         {what} time.** `auto` turns it on for {} of them.\n",
        rows.len(),
        if what == "compile" { "programs" } else { "circuits" },
        100.0 * reduction,
        speedup,
        100.0 * share,
        rows.iter().filter(|r| r.auto).count()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from("../shared/bench");
    let mut max_compile = 30.0;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--max-compile" => max_compile = args.next().and_then(|s| s.parse().ok()).expect("--max-compile SECONDS"),
            _ => dir = PathBuf::from(a),
        }
    }

    let mut programs: Vec<PathBuf> = std::fs::read_dir(dir.join("programs"))
        .expect("the shared benchmark programs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pl"))
        .collect();
    programs.sort_by_key(|p| {
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        let (family, size) = stem.rsplit_once('_').unwrap_or((&stem, "0"));
        (family.to_string(), size.parse::<u32>().unwrap_or(0))
    });
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let options = QueryOptions {
        timeout: Some(Duration::from_secs_f64(max_compile)),
        optimize: Mode::Off,
        ..QueryOptions::default()
    };
    for path in &programs {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let compiled = match Model::from_file(path)
            .map_err(|e| e.to_string())
            .and_then(|m| m.compile(&options).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{name}: skipped: {e}");
                skipped.push(name);
                continue;
            }
        };
        let log_p: Vec<f64> = compiled.slots.iter().map(|s| s.probability.ln()).collect();
        rows.push(measure(name, compiled.timings.compile_s, &compiled.circuit, &log_p));
    }

    let mut circuits = Vec::new();
    let mut smoothed = Vec::new();
    for name in ["sudoku_4", "road_r", "4-grid", "seq_fun", "cnf3_v46_c23_s1", "cnf3_v50_c25_s1"] {
        let path = dir.join("circuits").join(format!("{name}.sdd"));
        let start = Instant::now();
        let circuit = read_path(Path::new(&path)).expect("a shared circuit reads");
        let read_s = start.elapsed().as_secs_f64();
        // BASELINES.md's weights: variable v gets 0.05 + 0.9·frac(v·φ⁻¹).
        let log_p: Vec<f64> = (0..circuit.num_slots())
            .map(|v| (0.05 + 0.9 * (f64::from(v) * 0.618_033_988_749_894_9).fract()).ln())
            .collect();
        circuits.push(measure(name.to_string(), read_s, &circuit, &log_p));
        let start = Instant::now();
        let s = smooth(&circuit, true);
        smoothed.push(measure(name.to_string(), read_s + start.elapsed().as_secs_f64(), &s, &log_p));
    }

    println!("# Equality saturation (egg) on compiled and shared circuits\n");
    println!(
        "`cargo run --release --example optimize_bench` (or `bench/optimize.sh`), {} cores. Semiring laws \
         (associativity, commutativity, identities, annihilation, distributivity as factoring); extraction \
         keeps sharing and minimises edges plus rows, counting a binary product under a sum as fused \
         (see `circuits/src/optimize.rs`). Edges are those the roots reach. Evaluation: log-probability, f64, \
         batch {BATCH}, forward+backward, median of repeats, same process for before and after.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    table("Compiled benchmark programs", "compile", &rows);
    if !skipped.is_empty() {
        println!("Not compiled within {max_compile} s (left out): {}.\n", skipped.join(", "));
    }
    table("Shared benchmark circuits (`.sdd`)", "read", &circuits);
    table(
        "Shared benchmark circuits smoothed over all variables (as counting and max-product need)",
        "read+smooth",
        &smoothed,
    );
    let mut all = rows;
    all.extend(circuits);
    let reduction =
        median(all.iter().map(|r| 1.0 - r.report.edges_after as f64 / r.report.edges_before.max(1) as f64).collect());
    let speedup = median(all.iter().map(|r| r.eval_s.0 / r.eval_s.1).collect());
    let share = median(all.iter().map(|r| r.report.seconds / r.make_s.max(1e-9)).collect());
    println!(
        "**Programs and circuits together ({}): median edge reduction {:.1}%, median speed-up {:.2}×, median \
         optimisation time {:.0}% of compile (or read) time.**",
        all.len(),
        100.0 * reduction,
        speedup,
        100.0 * share
    );
}
