//! The shared benchmark circuits against PySDD's reference answers
//! (`../shared/bench/circuits/reference.json`): log weighted model counts
//! under the benchmark weights, and model counts. And hostile circuit
//! files through the `deeplog` binary: sizes a few bytes claim, deep
//! chains, SDDs and d-DNNFs that break their promises — each a clear error
//! at its line, or the right answer, in bounded memory.

use std::path::PathBuf;
use std::process::Command;

use deeplog::circuits::formats::read_path;
use deeplog::circuits::properties::{check, smooth};
use deeplog::circuits::{CpuEvaluator, LayeredCircuit, Weights};
use deeplog::semirings::{Counting, LogProbability};

fn bench_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/circuits");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is missing (the shared folder sits beside the repository)", dir.display());
        None
    }
}

/// Variable v (1-based), row r: the weights of BASELINES.md.
fn weight(v: usize, r: usize) -> f64 {
    let x = v as f64 * 0.618_033_988_749_894_9 + r as f64 * 0.1234;
    0.05 + 0.9 * (x - x.floor())
}

fn reference() -> Option<serde_json::Value> {
    let dir = bench_dir()?;
    let text = std::fs::read_to_string(dir.join("reference.json")).ok()?;
    serde_json::from_str(&text).ok()
}

#[test]
fn log_weighted_model_counts_match_pysdd() {
    let Some(reference) = reference() else { return };
    let dir = bench_dir().unwrap();
    let entries = reference.as_object().unwrap();
    assert!(entries.len() >= 6);
    for (name, expected) in entries {
        let circuit = read_path(&dir.join(format!("{name}.sdd"))).unwrap();
        assert_eq!(circuit.num_slots() as u64, expected["vars"].as_u64().unwrap(), "{name}");
        let layered = LayeredCircuit::new(&circuit);
        let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
        let w: Vec<f64> = (1..=circuit.num_slots() as usize).map(|v| weight(v, 0).ln()).collect();
        let got = eval.forward(&Weights::complementary(1, w.clone())).unwrap()[0];
        let want = expected["log_wmc_row0"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-9 * want.abs(), "{name}: {got} vs PySDD {want}");

        // f32 (KLay's precision) stays close.
        let eval32 = CpuEvaluator::<LogProbability<f32>>::new(&layered).unwrap();
        let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
        let got32 = eval32.forward(&Weights::complementary(1, w32)).unwrap()[0] as f64;
        assert!((got32 - want).abs() <= 1e-5 * want.abs(), "{name}: f32 {got32} vs {want}");
    }
}

/// The exact model count of seq_fun over its 500 variables, by an
/// independent computation (Python big integers over the SDD: per element,
/// prime count × sub count × 2^(variables the element misses)). PySDD's
/// reference (6360148465518903296) is this number after 64-bit overflow.
const SEQ_FUN_MODELS: &str =
    "2433829039161411196775846302234251654849069404902925518027180424547874493960068998067651626829251214292631628801";

#[test]
fn model_counts_match_pysdd() {
    let Some(reference) = reference() else { return };
    let dir = bench_dir().unwrap();
    for (name, expected) in reference.as_object().unwrap() {
        let circuit = read_path(&dir.join(format!("{name}.sdd"))).unwrap();
        // PySDD's model_count ranges over the variables the SDD mentions.
        let smoothed = smooth(&circuit, false);
        assert!(check(&smoothed).smooth.holds());
        let layered = LayeredCircuit::new(&smoothed);
        let eval = CpuEvaluator::<Counting>::new(&layered).unwrap();
        let n = circuit.num_slots() as usize;
        let ones = Weights { batch: 1, positive: vec![1u128; n], negative: Some(vec![1u128; n]) };
        let count = eval.forward(&ones).unwrap()[0];
        if name == "seq_fun" {
            // Beyond 2^128: counting saturates (and the CLI says so).
            assert_eq!(count, u128::MAX);
            continue;
        }
        assert_eq!(count, expected["model_count"].as_u64().unwrap() as u128, "{name}");
    }
}

#[test]
fn seq_fun_count_agrees_with_log_space_evaluation() {
    let Some(dir) = bench_dir() else { return };
    let circuit = read_path(&dir.join("seq_fun.sdd")).unwrap();
    let layered = LayeredCircuit::new(&circuit);
    let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
    // With every weight 1/2, log WMC = ln(#models) − 500 ln 2.
    let half = vec![0.5f64.ln(); 500];
    let got = eval.forward(&Weights::complementary(1, half)).unwrap()[0];
    // ln of the exact count, from its leading digits and length.
    let digits = SEQ_FUN_MODELS.len() as f64;
    let lead: f64 = SEQ_FUN_MODELS[..17].parse::<f64>().unwrap() / 1e16;
    let ln_count = lead.ln() + (digits - 1.0) * 10f64.ln();
    let want = ln_count - 500.0 * 2f64.ln();
    assert!((got - want).abs() < 1e-9 * want.abs(), "{got} vs {want}");
}

/// At batch 1 a large circuit's first pass runs on one thread and the
/// later ones on all cores (pulling adjoints instead of pushing them):
/// both give the same values and gradients.
#[test]
fn repeated_single_columns_agree_with_the_first() {
    let Some(dir) = bench_dir() else { return };
    for name in ["cnf3_v46_c23_s1", "cnf3_v50_c25_s1"] {
        let circuit = read_path(&dir.join(format!("{name}.sdd"))).unwrap();
        let layered = LayeredCircuit::new(&circuit);
        let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
        let w: Vec<f64> = (1..=circuit.num_slots() as usize).map(|v| weight(v, 3).ln()).collect();
        let w = Weights::complementary(1, w);
        let (roots, first) = eval.forward_backward(&w, None).unwrap();
        for _ in 0..3 {
            let (again_roots, again) = eval.forward_backward(&w, None).unwrap();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-3);
            assert!(close(again_roots[0], roots[0]), "{name}: {} vs {}", again_roots[0], roots[0]);
            assert_eq!(again.positive.len(), circuit.num_slots() as usize);
            for (a, b) in again.positive.iter().zip(&first.positive) {
                assert!(close(*a, *b), "{name}: gradient {a} vs {b}");
            }
            assert_eq!(eval.forward(&w).unwrap(), again_roots, "{name}");
        }
    }
}

/// A file under a fresh temporary directory, removed with it.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("deeplog-circuit-files-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the `deeplog` binary under a 2 GiB address-space limit (so a
/// claim that would allocate gigabytes shows as an abort, not as a slow
/// test); returns the exit code and stderr.
fn deeplog(args: &[&str]) -> (Option<i32>, String, String) {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!("ulimit -v 2097152 && exec '{}' {}", env!("CARGO_BIN_EXE_deeplog"), quoted.join(" "));
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Asserts that `args` fail cleanly (exit 1, one `error:` line, no panic)
/// with `expected` in the message.
fn refused(args: &[&str], expected: &str) {
    let (code, _, err) = deeplog(args);
    assert_eq!(code, Some(1), "{args:?}: {err}");
    assert!(err.starts_with("error: ") && !err.contains("panicked"), "{args:?}: {err}");
    assert!(err.contains(expected), "{args:?}: expected {expected:?} in {err}");
}

#[test]
fn sizes_a_small_file_states_are_checked_before_memory_is_taken() {
    let dir = Scratch::new("sizes");
    let sdd = dir.file("big.sdd", "sdd 1\nL 0 0 2147483648\n");
    let msg = "big.sdd:2: literal 2147483648 names a variable beyond the 67108864 (2^26) a file may have";
    refused(&["circuit", "eval", &sdd], msg);
    refused(&["circuit", "stats", &sdd], msg);
    let nnf = dir.file("big.nnf", "nnf 1 0 2000000000\nL 1\n");
    refused(
        &["circuit", "eval", &nnf],
        "big.nnf:1: variable count 2000000000 is more than the 67108864 (2^26) variables a file may have",
    );
    let json = dir.file(
        "big.json",
        "{\"format\": \"deeplog-circuit\", \"version\": 1, \"slots\": 2000000000, \"deterministic\": null,\n\
         \"nodes\": [{\"kind\":\"literal\",\"slot\":0,\"positive\":true}],\n\"roots\": [0]}\n",
    );
    refused(&["circuit", "eval", &json], "big.json:1: 2000000000 slots is more than the 67108864 (2^26)");
    let with_vtree = dir.file("v.sdd", "sdd 1\nL 0 0 1\n");
    dir.file("v.vtree", "vtree 1\nL 0 2000000000\n");
    refused(&["circuit", "eval", &with_vtree], "v.vtree:2: variable 2000000000 is more than the 67108864 (2^26)");
    let cnf = dir.file("big.cnf", "p cnf 2000000000 1\n1 0\n");
    let out = dir.0.join("out.json").display().to_string();
    refused(&["compile", "--cnf", &cnf, "-o", &out], "big.cnf: line 1: variable count 2000000000 is more than");
    // A header within the limit costs what the clauses cost: 2^24 free
    // variables multiply the count.
    let wide = dir.file("wide.cnf", "p cnf 16777216 1\n1 2 0\n");
    let (code, stdout, err) = deeplog(&["compile", "--cnf", &wide, "-o", &out]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("model count: overflow: at least 2^128"), "{stdout}");

    let small = dir.file("x.nnf", "nnf 1 0 1\nL 1\n");
    refused(
        &["circuit", "eval", &small, "--batch", "1000000000", "--max-memory", "8G"],
        "x.nnf: evaluating a batch of 1000000000 would take about 37.3 GiB (1 slots, 3 nodes, 0 edges), more than \
         the memory budget of 8 GiB (--max-memory); use a smaller --batch",
    );
    refused(
        &["circuit", "eval", &small, "--repeat", "1000000000000"],
        "--repeat 1000000000000 is more than the 1000000 timed runs allowed",
    );
    let (code, _, err) = deeplog(&["circuit", "eval", &small, "--batch", "100000", "--repeat", "3"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_chain_of_100000_products_is_checked_in_little_memory() {
    // x1 ∧ (x2 ∧ (… ∧ x100000)): each node mentions every variable below
    // it; sets per node took 5.2 GiB at 50,000 and aborted at 100,000.
    let n = 100_000;
    let mut text = format!("nnf {} {} {n}\nL 1\n", 2 * n - 1, 2 * (n - 1));
    for k in 1..n {
        text.push_str(&format!("L {}\nA 2 {} {}\n", k + 1, 2 * k - 2, 2 * k - 1));
    }
    let dir = Scratch::new("chain");
    let chain = dir.file("chain.nnf", &text);
    let (code, out, err) = deeplog(&["circuit", "stats", &chain, "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["depth"].as_u64(), v["decomposable"].as_str()), (Some(n as u64 - 1), Some("yes (checked)")));
}

#[test]
fn sdd_files_that_break_their_promises_are_refused() {
    let dir = Scratch::new("promises");
    // Primes x1 and x2 overlap: P(x1) + P(x2) was printed as P(x1 ∨ x2).
    let shared_leaf = dir.file("leaf.sdd", "sdd 4\nL 0 0 1\nL 1 0 2\nT 2\nD 3 0 2 0 2 1 2\n");
    refused(
        &["circuit", "eval", &shared_leaf, "--algebra", "probability"],
        "leaf.sdd:3: variable 2 at vtree node 0, which holds variable 1 (line 2): a vtree leaf holds one variable",
    );
    let apart = dir.file("apart.sdd", "sdd 4\nL 0 0 1\nL 1 2 2\nT 2\nD 3 1 2 0 2 1 2\n");
    refused(
        &["circuit", "eval", &apart, "--algebra", "probability"],
        "apart.sdd:5: decision node 3: primes 0 and 1 both hold under a sampled assignment (an SDD's primes are \
         mutually exclusive)",
    );
    // With its vtree the same decision is not normalised: x2 is right of the root.
    dir.file("apart.vtree", "vtree 3\nL 0 1\nL 2 2\nI 1 0 2\n");
    refused(
        &["circuit", "eval", &apart],
        "apart.sdd:5: decision node 3 is not normalised for vtree node 1: its prime 1 (line 3) lies outside the left \
         subtree",
    );
    let or = dir.file("or.nnf", "nnf 3 2 2\nL 1\nL 2\nO 1 2 0 1\n");
    refused(&["circuit", "stats", &or], "or.nnf:4: `O` node 2 decides variable 1, yet its children 0 and 1 both hold");
}

#[test]
fn check_determinism_says_what_it_searched() {
    let dir = Scratch::new("check");
    let or = dir.file("or.nnf", "nnf 3 2 2\nL 1\nL 2\nO 0 2 0 1\n");
    let (code, out, err) = deeplog(&["circuit", "stats", &or, "--check-determinism"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("deterministic  no (at node n4)"), "{out}");
    assert!(
        out.contains(
            "determinism test, exhaustive: all 2^2 assignments of the 2 variables it mentions: children n2 and n3 of \
             sum n4 both hold under one assignment"
        ),
        "{out}"
    );
    // x1 ∨ (¬x1 ∧ x2) as an `O 0`, which promises nothing: proved, then evaluated.
    let decided = dir.file("decided.nnf", "nnf 5 4 2\nL 1\nL -1\nL 2\nA 2 1 2\nO 0 2 0 3\n");
    let (code, out, err) =
        deeplog(&["circuit", "eval", &decided, "--algebra", "probability", "--check-determinism", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["determinism_test"]["search"], "exhaustive: all 2^2 assignments of the 2 variables it mentions");
    assert_eq!(v["determinism_test"]["overlap"], serde_json::Value::Null);
    let Some(dir) = bench_dir() else { return };
    let sudoku = dir.join("sudoku_4.sdd").display().to_string();
    let (code, out, err) = deeplog(&["circuit", "stats", &sudoku, "--check-determinism", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let search = v["determinism_test"]["search"].as_str().unwrap();
    assert!(search.starts_with("random: ") && search.ends_with(" assignments (not a proof)"), "{search}");
}

#[test]
fn every_shared_and_example_circuit_passes_the_checks() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/circuits");
    let mut dirs = vec![examples];
    dirs.extend(bench_dir());
    let mut seen = 0;
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sdd" || e == "nnf") {
                let circuit = read_path(&path).unwrap_or_else(|e| panic!("{e}"));
                let props = check(&circuit);
                assert!(props.decomposable.holds() && props.deterministic.holds(), "{}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "{seen}");
}
