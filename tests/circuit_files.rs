//! The shared benchmark circuits against PySDD's reference answers
//! (`../shared/bench/circuits/reference.json`): log weighted model counts
//! under the benchmark weights, and model counts.

use std::path::PathBuf;

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
