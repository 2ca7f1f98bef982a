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

use deeplog::circuits::compile::Method;
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

/// One program compiled bottom-up with and without rewriting its lineage.
struct LineageRow {
    name: String,
    /// The compiler `auto` picks for the program.
    auto: &'static str,
    edges: Option<(usize, usize)>,
    rewrite_s: f64,
    /// Median compile seconds without and with the rewrite (`None`: over
    /// the limit).
    compile_s: (Option<f64>, Option<f64>),
    circuit_edges: (usize, usize),
    /// Whether `--optimize auto` rewrites this program's lineage (where a
    /// cycle was unrolled).
    auto_rewrites: bool,
}

/// Compiles `path` bottom-up without and with lineage rewriting, three
/// times each, alternating; medians.
fn lineage_row(name: String, path: &Path, auto: &'static str, limit: Duration) -> Option<LineageRow> {
    let model = Model::from_file(path).ok()?;
    let options = |optimize| QueryOptions {
        timeout: Some(limit),
        compiler: Method::BottomUp,
        optimize,
        ..QueryOptions::default()
    };
    let (off, on) = (options(Mode::Off), options(Mode::On));
    let (mut t_off, mut t_on) = (Vec::new(), Vec::new());
    let mut row = LineageRow {
        name,
        auto,
        edges: None,
        rewrite_s: 0.0,
        compile_s: (None, None),
        circuit_edges: (0, 0),
        auto_rewrites: false,
    };
    // A variant that fails (over the limit) is not run again.
    let (mut off_failed, mut on_failed) = (false, false);
    for _ in 0..3 {
        if !off_failed {
            match model.compile(&off) {
                Ok(c) => {
                    t_off.push(c.timings.compile_s);
                    row.circuit_edges.0 = c.timings.circuit_edges;
                }
                Err(_) => off_failed = true,
            }
        }
        if !on_failed {
            match model.compile(&on) {
                Ok(c) => {
                    t_on.push(c.timings.compile_s);
                    row.edges = c.timings.lineage_edges;
                    row.rewrite_s = c.timings.lineage_rewrite_s;
                    row.circuit_edges.1 = c.timings.circuit_edges;
                }
                Err(_) => on_failed = true,
            }
        }
    }
    if off_failed {
        t_off.clear();
    }
    // Where the plain compile finished, what `auto` would do.
    if !off_failed {
        let auto = options(Mode::Auto);
        row.auto_rewrites = model.compile(&auto).is_ok_and(|c| c.timings.lineage_edges.is_some());
    }
    if on_failed {
        t_on.clear();
    }
    row.compile_s = ((!t_off.is_empty()).then(|| median(t_off)), (!t_on.is_empty()).then(|| median(t_on)));
    Some(row)
}

fn lineage_table(rows: &[LineageRow], limit: Duration) {
    println!("## Lineage rewritten before compilation (bottom-up compiler)\n");
    println!(
        "Every program compiled by the bottom-up compiler (lineage formulas, then BDD operations), without and \
         with its lineage rewritten first by the boolean lattice's laws (`--optimize on`; negation normal form, \
         idempotence, absorption, factoring): compile time with both, median of three, alternating; the rewrite's \
         time is part of the second. Limit {} s a compile. `compiler` is the one `--compiler auto` picks (the \
         top-down one reads rules, not lineage); `auto rewrites` says whether `--optimize auto` rewrites the \
         lineage (where a cycle was unrolled into fixpoint rounds). The circuit is the same either way (a \
         reduced ordered BDD is canonical).\n",
        limit.as_secs()
    );
    println!(
        "| program | compiler | auto rewrites | lineage edges before | after | reduction | rewrite s | \
         compile s without | compile s with | with / without |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let secs = |t: Option<f64>| t.map_or(format!(">{}", limit.as_secs()), |t| format!("{t:.3}"));
    for r in rows {
        let (before, after, reduction) = match r.edges {
            Some((b, a)) => {
                (b.to_string(), a.to_string(), format!("{:.1}%", 100.0 * (1.0 - a as f64 / b.max(1) as f64)))
            }
            None => ("–".to_string(), "–".to_string(), "–".to_string()),
        };
        let ratio = match r.compile_s {
            (Some(a), Some(b)) => format!("{:.2}×", b / a),
            _ => "–".to_string(),
        };
        debug_assert!(r.compile_s.0.is_none() || r.compile_s.1.is_none() || r.circuit_edges.0 == r.circuit_edges.1);
        println!(
            "| {} | {} | {} | {before} | {after} | {reduction} | {:.3} | {} | {} | {ratio} |",
            r.name,
            r.auto,
            if r.auto_rewrites { "yes" } else { "no" },
            r.rewrite_s,
            secs(r.compile_s.0),
            secs(r.compile_s.1),
        );
    }
    // Sub-millisecond compiles time process noise, not the rewrite.
    let timed = |r: &&LineageRow| matches!(r.compile_s, (Some(a), Some(_)) if a >= 0.1);
    let ratio = |r: &&LineageRow| r.compile_s.1.unwrap() / r.compile_s.0.unwrap();
    let auto: Vec<&LineageRow> = rows.iter().filter(|r| r.auto_rewrites).filter(timed).collect();
    let other: Vec<&LineageRow> = rows.iter().filter(|r| !r.auto_rewrites).filter(timed).collect();
    let list = |rs: &[&LineageRow]| rs.iter().map(|r| format!("{} {:.2}×", r.name, ratio(r))).collect::<Vec<_>>();
    println!(
        "\n**Compiles of at least 0.1 s where `auto` rewrites the lineage: median {:.2}× the time without ({}). \
         Where it does not (acyclic lineage), `on` costs: median {:.2}× ({}).**\n",
        median(auto.iter().map(ratio).collect()),
        list(&auto).join(", "),
        median(other.iter().map(ratio).collect()),
        list(&other).join(", "),
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
    let mut lineage_rows = Vec::new();
    let lineage_limit = Duration::from_secs(10);
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
        lineage_rows.extend(lineage_row(name.clone(), path, compiled.timings.compiler, lineage_limit));
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
    lineage_table(&lineage_rows, lineage_limit);
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
