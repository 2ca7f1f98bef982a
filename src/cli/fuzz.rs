//! Entry points for the fuzzers: each reader the command line has, run on
//! arbitrary bytes, and whatever it accepts pushed on through the stages a
//! command would run next (a model checked, grounded, compiled and
//! answered; a circuit checked, smoothed and evaluated with gradients).
//!
//! Each target returns normally whatever the input: errors are the
//! expected outcome of most inputs and are only rendered (the renderers
//! are under test too). A panic, an abort or a budget overrun is a finding.
//! The budgets are small, so that one input costs milliseconds: the fuzzers
//! look for crashes, not for hard programs.
//!
//! `fuzz/` (cargo-fuzz, coverage-guided) and `tests/fuzz.rs` (a mutation
//! driver on stable Rust, run for a bounded time in CI) both call these.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deeplog_circuits::formats::{read_cnf, read_path};
use deeplog_circuits::properties::{check, smooth};
use deeplog_circuits::{compile_with, Budget, Circuit, CpuEvaluator, LayeredCircuit, Method, Weights};
use deeplog_semirings::{LogProbability, Logic, Probability};

use crate::model::{Model, QueryOptions};
use crate::scene::SceneGraph;

/// The readers, by the name a fuzzer calls them.
pub const TARGETS: [&str; 9] =
    ["model", "sdd", "vtree", "nnf", "json_circuit", "dimacs", "scene_graph", "training_data", "parameters"];

/// Runs target `name` on `data`; `false` if there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "model" => model(data),
        "sdd" => sdd(data),
        "vtree" => vtree(data),
        "nnf" => circuit_text(data, deeplog_circuits::formats::read_nnf),
        "json_circuit" => json_circuit(data),
        "dimacs" => dimacs(data),
        "scene_graph" => scene_graph(data),
        "training_data" => training_data(data),
        "parameters" => parameters(data),
        _ => return false,
    }
    true
}

/// Small budgets: each input stops in milliseconds.
fn options(logic: Option<Logic>) -> QueryOptions {
    QueryOptions {
        logic,
        timeout: Some(Duration::from_millis(500)),
        max_nodes: 20_000,
        grounding: deeplog_language::ground::Limits {
            max_atoms: 50_000,
            max_rules: 100_000,
            max_calls: 50_000,
            max_terms: 200_000,
            ..Default::default()
        },
        ..QueryOptions::default()
    }
}

/// The logic an input is answered in, from its length (so that every logic
/// sees every shape of program).
fn logic_for(data: &[u8]) -> Option<Logic> {
    match data.len() % 5 {
        0 => None,
        1 => Some(Logic::Boolean),
        2 => Some(Logic::Godel),
        3 => Some(Logic::Lukasiewicz),
        _ => Some(Logic::MaxProduct),
    }
}

/// Model text: checked, then every query answered.
pub fn model(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Model::from_source("fuzz.pl", text) {
        Ok(model) => {
            let _ = model.warnings();
            match model.query(&options(logic_for(data))) {
                Ok(answers) => drop(serde_json::to_string(&answers.answers)),
                Err(e) => drop(e.to_string()),
            }
        }
        Err(e) => drop(e.to_string()),
    }
}

/// A scratch directory of this process and thread for files a reader
/// must find on disk (an SDD's vtree sits beside it).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("deeplog-fuzz-{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], ""));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(name)
}

fn write(path: &Path, data: &[u8]) -> bool {
    std::fs::write(path, data).is_ok()
}

/// An SDD file alone.
pub fn sdd(data: &[u8]) {
    circuit_text(data, deeplog_circuits::formats::read_sdd);
}

/// An SDD file with its vtree: the input is the SDD, a line `----`, the
/// vtree.
pub fn vtree(data: &[u8]) {
    let split = data.windows(6).position(|w| w == b"\n----\n");
    let (sdd, vtree) = match split {
        Some(at) => (&data[..at + 1], &data[at + 6..]),
        None => (data, &b""[..]),
    };
    if write(&scratch("fuzz.vtree"), vtree) {
        circuit_file(sdd, "sdd");
    }
}

/// A circuit file: read, checked, and evaluated in probability with its
/// gradient.
fn circuit_file(data: &[u8], extension: &str) {
    let path = scratch(&format!("fuzz.{extension}"));
    if !write(&path, data) {
        return;
    }
    match read_path(&path) {
        Ok(circuit) => exercise(&circuit),
        Err(e) => drop(e.to_string()),
    }
}

/// A circuit's text, read by `read`, checked and evaluated.
fn circuit_text<E: std::fmt::Display>(data: &[u8], read: fn(&str) -> Result<Circuit, E>) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match read(text) {
        Ok(circuit) => exercise(&circuit),
        Err(e) => drop(e.to_string()),
    }
}

/// What `circuit stats` and `circuit eval --grad` do with a circuit.
fn exercise(circuit: &Circuit) {
    let properties = check(circuit);
    let _ = format!("{properties:?}");
    let smoothed = smooth(circuit, false);
    let layered = LayeredCircuit::new(&smoothed);
    let slots = layered.num_slots() as usize;
    let positive: Vec<f64> = (0..slots).map(|v| crate::cli::weights::benchmark_probability(v, 0)).collect();
    if let Ok(eval) = CpuEvaluator::<Probability<f64>>::new(&layered) {
        let _ = eval.forward(&Weights::complementary(1, positive.clone()));
    }
    if let Ok(eval) = CpuEvaluator::<LogProbability<f64>>::new(&layered) {
        let logs = positive.iter().map(|p| p.ln()).collect();
        let _ = eval.forward_backward(&Weights::complementary(1, logs), None);
    }
}

/// A JSON circuit, with a `model` section when it has one.
pub fn json_circuit(data: &[u8]) {
    circuit_text(data, deeplog_circuits::formats::read_json);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = deeplog_circuits::formats::read_json_model(text);
    }
}

/// A DIMACS CNF: read, and compiled with a small budget.
pub fn dimacs(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match read_cnf(text) {
        Ok(cnf) => {
            let (program, root) = cnf.to_program();
            let budget = Budget { max_nodes: 20_000, timeout: Some(Duration::from_millis(500)), ..Budget::default() };
            if let Ok(compiled) = compile_with(&program, &[root], &[], &budget, Method::Auto) {
                exercise(&compiled.circuit);
            }
        }
        Err(e) => drop(e.to_string()),
    }
}

/// The scene-graph specification the scene target checks graphs against.
const SPECS: &str = include_str!("../../examples/scene_graphs/specs.pl");

/// A scene graph (one object, or one a line): read, validated, listed as
/// facts, and checked against the example specification.
pub fn scene_graph(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let graphs = if text.trim_start().starts_with('{') && text.trim().lines().count() > 1 {
        SceneGraph::from_json_lines("fuzz.jsonl", text)
    } else {
        SceneGraph::from_json("fuzz.json", text).map(|g| vec![g])
    };
    let graphs = match graphs {
        Ok(graphs) => graphs,
        Err(e) => return drop(e.to_string()),
    };
    for g in &graphs {
        let _ = g.thresholded(0.5);
        let _ = g.to_model(false);
    }
    if let Ok(scene) = crate::scene::Scene::from_source("specs.pl", SPECS) {
        match scene.check(&graphs, None, true) {
            Ok(results) => drop(format!("{}", results.len())),
            Err(e) => drop(e.to_string()),
        }
    }
}

/// The model the training-data and parameter targets read against.
const TRAINED: &str = "t(0.5)::a. t(0.5)::b. 0.3::c. q :- a, b. r :- a; c. query(q). query(r).\n";

/// A training data file: read, and trained on for one epoch.
pub fn training_data(data: &[u8]) {
    let path = scratch("fuzz.jsonl");
    if !write(&path, data) {
        return;
    }
    let Ok(model) = Model::from_source("trained.pl", TRAINED) else { return };
    match super::train::read_examples(&path) {
        Ok((examples, _lines)) => {
            let options = crate::learn::TrainOptions { epochs: 1, ..crate::learn::TrainOptions::default() };
            match crate::learn::train(&model, &examples, &options) {
                Ok(trained) => drop(trained.parameters.len()),
                Err(e) => drop(e.to_string()),
            }
        }
        Err(e) => drop(e.to_string()),
    }
}

/// A parameter file: read, and the model answered with it.
pub fn parameters(data: &[u8]) {
    let path = scratch("fuzz.params.json");
    if !write(&path, data) {
        return;
    }
    let Ok(model) = Model::from_source("trained.pl", TRAINED) else { return };
    match super::train::ParameterFile::read(&path) {
        Ok(file) => {
            let options = QueryOptions { parameters: Some(file.values.clone()), ..options(None) };
            match model.query(&options) {
                Ok(answers) => drop(serde_json::to_string(&answers.answers)),
                Err(e) => drop(file.locate(e).to_string()),
            }
        }
        Err(e) => drop(e.to_string()),
    }
}
