//! The `deeplog` command line, run as a user runs it: answers, JSON shape,
//! and clear errors with a non-zero exit on bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deeplog(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().expect("run deeplog");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/circuits").join(name).display().to_string()
}

/// A scratch file with this content, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("deeplog-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        TempFile(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn eval_prints_the_weighted_model_count_as_json() {
    let (ok, out, err) =
        deeplog(&["circuit", "eval", &example("two_coins.nnf"), "--algebra", "probability", "--grad", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // a ∨ b with p(a) = 0.05 + 0.9·frac(φ⁻¹), p(b) = 0.05 + 0.9·frac(2φ⁻¹).
    let pa = 0.05 + 0.9 * 0.618_033_988_749_894_9_f64;
    let pb = 0.05 + 0.9 * (2.0 * 0.618_033_988_749_894_9_f64).fract();
    let root = v["roots"][0].as_f64().unwrap();
    assert!((root - (1.0 - (1.0 - pa) * (1.0 - pb))).abs() < 1e-12, "{root}");
    assert!((v["gradient"][0].as_f64().unwrap() - (1.0 - pb)).abs() < 1e-12);
    assert_eq!(v["algebra"], "probability");
    assert!(v.get("timing").is_none());
}

#[test]
fn eval_with_repeat_reports_timing() {
    let (ok, out, err) =
        deeplog(&["circuit", "eval", &example("sudoku_4.sdd"), "--batch", "4", "--repeat", "3", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!((v["roots"][0].as_f64().unwrap() - -44.48243752268068).abs() < 1e-9);
    let t = &v["timing"];
    assert!(t["forward_s"].as_f64().unwrap() > 0.0 && t["forward_backward_s"].as_f64().unwrap() > 0.0);
    assert!(t["edges"].as_u64().unwrap() > 1000);
}

#[test]
fn counting_smooths_and_counts_models() {
    let (ok, out, err) = deeplog(&["circuit", "eval", &example("sudoku_4.sdd"), "--algebra", "counting"]);
    assert!(ok, "{err}");
    assert!(out.contains("root 0: 288"), "{out}");
    assert!(err.contains("smoothed"), "{err}");
}

#[test]
fn stats_and_convert_round_trip() {
    let (ok, out, _) = deeplog(&["circuit", "stats", &example("sudoku_4.sdd"), "--json"]);
    assert!(ok);
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats["slots"], 64);
    assert_eq!(stats["deterministic"], "yes (SDD)");
    let json = TempFile::new("sudoku.json", "");
    let (ok, _, err) = deeplog(&["circuit", "convert", &example("sudoku_4.sdd"), "-o", json.path()]);
    assert!(ok, "{err}");
    let (ok, out, _) = deeplog(&["circuit", "stats", json.path(), "--json"]);
    assert!(ok);
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["slots", "edges", "nodes", "layers", "depth"] {
        assert_eq!(stats[key], again[key], "{key}");
    }
    assert!(again["deterministic"].as_str().unwrap().starts_with("yes"));
    let dot = TempFile::new("sudoku.dot", "");
    let (ok, _, _) = deeplog(&["circuit", "convert", &example("sudoku_4.sdd"), "-o", dot.path()]);
    assert!(ok);
    assert!(std::fs::read_to_string(dot.path()).unwrap().starts_with("digraph"));
}

/// Runs `circuit eval` on `content` saved as `name` and returns stderr,
/// asserting the run failed cleanly (exit 1, no panic).
fn fails(name: &str, content: &str, extra: &[&str]) -> String {
    let file = TempFile::new(name, content);
    let mut args = vec!["circuit", "eval", file.path()];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{name}: {err}");
    assert!(err.starts_with("error: "), "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    err
}

#[test]
fn bad_files_give_clear_errors() {
    let truncated = "sdd 3\nL 1 0 1\nL 2 2 2\nD 3 1 2 1 2";
    let err = fails("truncated.sdd", truncated, &[]);
    assert!(err.contains("truncated.sdd:4"), "{err}");

    let unknown = "sdd 2\nL 1 0 1\nD 2 1 1 1 7\n";
    let err = fails("unknown.sdd", unknown, &[]);
    assert!(err.contains("unknown node id 7"), "{err}");

    // d4 edges that go round in a circle.
    let cycle = "o 1 0\na 2 0\no 3 0\n1 2 1 0\n2 3 0\n3 2 0\n";
    let err = fails("cycle.nnf", cycle, &[]);
    assert!(err.contains("cycle"), "{err}");

    let json_cycle = r#"{"format":"deeplog-circuit","version":1,"slots":1,"deterministic":null,"nodes":[
{"kind":"sum","children":[1]},
{"kind":"literal","slot":0,"positive":true}
],"roots":[0]}"#;
    let err = fails("forward.json", json_cycle, &[]);
    assert!(err.contains("forward.json:2"), "{err}");

    let out_of_range = "nnf 1 0 2\nL 3\n";
    let err = fails("range.nnf", out_of_range, &[]);
    assert!(err.contains("range.nnf:2"), "{err}");
    let zero = "sdd 1\nL 1 0 0\n";
    let err = fails("zero.sdd", zero, &[]);
    assert!(err.contains("zero.sdd:2"), "{err}");
}

#[test]
fn bad_arguments_give_clear_errors() {
    // A value no algebra has is a usage error, which clap reports naming
    // the flag and exits 2 for, before the file is read.
    let file = TempFile::new("ok.nnf", "nnf 1 0 1\nL 1\n");
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog"))
        .args(["circuit", "eval", file.path(), "--algebra", "tropical"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("'--algebra <ALGEBRA>'") && err.contains("unknown algebra `tropical`"), "{err}");
    assert!(err.contains("lukasiewicz"), "{err}");
    let err = fails("ok.nnf", "nnf 1 0 1\nL 1\n", &["--algebra", "boolean", "--grad"]);
    assert!(err.contains("no gradient"), "{err}");
    let err = fails("ok.nnf", "nnf 1 0 1\nL 1\n", &["--batch", "0"]);
    assert!(err.contains("at least 1"), "{err}");
    // Not deterministic: a ∨ b as a plain OR.
    let or = "nnf 3 2 2\nL 1\nL 2\nO 0 2 0 1\n";
    let err = fails("or.nnf", or, &["--algebra", "probability"]);
    assert!(err.contains("deterministic"), "{err}");

    let (ok, _, err) = deeplog(&["circuit", "eval", "/no/such/file.sdd"]);
    assert!(!ok && err.contains("/no/such/file.sdd"), "{err}");
    let (ok, _, err) = deeplog(&["circuit", "eval", "model.cnf"]);
    assert!(!ok && err.contains(".sdd"), "{err}");

    let weights = TempFile::new("w.json", r#"{"probabilities": [[0.5, 1.5]]}"#);
    let err = fails("two.nnf", "nnf 3 2 2\nL 1\nL 2\nA 2 0 1\n", &["--weights", weights.path()]);
    assert!(err.contains("1.5 is not a probability"), "{err}");
}

#[test]
fn weights_file_sets_the_batch() {
    let file = TempFile::new("and.nnf", "nnf 3 2 2\nL 1\nL 2\nA 2 0 1\n");
    let weights = TempFile::new("and-w.json", r#"{"probabilities": [[0.5, 0.5], [0.2, 0.25]]}"#);
    let (ok, out, err) = deeplog(&["circuit", "eval", file.path(), "--weights", weights.path(), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["batch"], 2);
    assert!((v["roots"][0].as_f64().unwrap() - 0.25f64.ln()).abs() < 1e-12);
}

#[test]
fn check_reports_diagnostics_with_location_and_exit_code() {
    let good = TempFile::new("good.pl", "0.3::a(s); 0.7::a(t).\nquery(a(s)).\n");
    let (ok, _, err) = deeplog(&["check", good.path()]);
    assert!(ok, "{err}");
    assert!(err.contains("2 statements, 0 warnings; logic: probability (the default)"), "{err}");
    let (ok, _, err) = deeplog(&["check", good.path(), "--logic", "godel"]);
    assert!(ok && err.contains("logic: godel (from --logic)"), "{err}");
    let (ok, _, err) = deeplog(&["check", good.path(), "--logic", "fuzzy"]);
    assert!(!ok && err.contains("unknown logic `fuzzy`"), "{err}");

    let bad = TempFile::new("bad.pl", "1.5::rain.\nquery(wet).\n");
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(["check", bad.path()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("probability 1.5 is outside [0, 1]") && err.contains("bad.pl:1:1"), "{err}");
    assert!(err.contains("`wet/0` is never defined"), "{err}");
    assert!(err.contains("1 error, 1 warning"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(["check", bad.path(), "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["line"], 1);
    assert_eq!(v[0]["column"], 1);
    assert_eq!(v[0]["severity"], "error");
    assert_eq!(v[1]["severity"], "warning");
    assert_eq!(v[1]["line"], 2);

    let syntax = TempFile::new("syntax.pl", "a :- b\nc.\n");
    let (ok, _, err) = deeplog(&["check", syntax.path()]);
    assert!(!ok && err.contains("syntax.pl:1:7") && err.contains("expected `.`"), "{err}");
    let (ok, _, err) = deeplog(&["check", "/no/such/model.pl"]);
    assert!(!ok && err.contains("/no/such/model.pl"), "{err}");
}

#[test]
fn a_compiled_model_evaluates_to_the_query_answers() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    let saved = TempFile::new("graph.json", "");
    let (ok, _, err) = deeplog(&["compile", &model, "-o", saved.path()]);
    assert!(ok && err.contains("roots for 3 queries"), "{err}");
    let text = std::fs::read_to_string(saved.path()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["model"]["queries"][0]["query"], "path(1,5)");
    assert!(v["model"]["slots"][0]["name"].as_str().unwrap().starts_with("edge("), "{}", v["model"]["slots"][0]);
    // The saved circuit carries the model's probabilities and query names.
    let (ok, out, err) = deeplog(&["circuit", "eval", saved.path(), "--algebra", "probability", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["root_names"][1], "path(1,6)");
    for (i, expected) in [0.25824, 0.2167296, 0.12912].into_iter().enumerate() {
        assert!((v["roots"][i].as_f64().unwrap() - expected).abs() < 1e-12, "{out}");
    }
    let (ok, out, _) = deeplog(&["circuit", "eval", saved.path(), "--algebra", "probability"]);
    assert!(ok && out.contains("path(5,5): 0.12912"), "{out}");
    let (ok, _, err) = deeplog(&["compile", &model, "-o", "/no/such/dir/out.json"]);
    assert!(!ok && err.contains("/no/such/dir/out.json"), "{err}");
}

#[test]
fn a_cnf_file_compiles_to_its_weighted_model_count() {
    let cnf = TempFile::new("f.cnf", "c p weight 1 0.3 0\nc p weight -1 0.7 0\np cnf 3 2\n1 -2 0\n2 0\n");
    let out_file = TempFile::new("f.json", "");
    for compiler in ["bottom-up", "top-down"] {
        let (ok, out, err) = deeplog(&["compile", "--cnf", cnf.path(), "-o", out_file.path(), "--compiler", compiler]);
        assert!(ok, "{err}");
        // x2 must hold, hence x1: w(x1)·w(x2)·(w(x3) + w(¬x3)) = 0.3 · 1 · 2.
        let wmc: f64 = out.lines().last().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
        assert!((wmc - 0.6).abs() < 1e-12, "{compiler}: {out}");
    }
    let count = TempFile::new("count.cnf", "p cnf 4 1\n1 2 0\n");
    let (ok, out, err) = deeplog(&["compile", "--cnf", count.path(), "-o", out_file.path()]);
    assert!(ok && out.contains("model count: 12\n"), "{out}{err}");
    let bad = TempFile::new("bad.cnf", "p cnf 2 1\n1 5 0\n");
    let (ok, _, err) = deeplog(&["compile", "--cnf", bad.path(), "-o", out_file.path()]);
    assert!(!ok && err.contains("line 2") && err.contains("variable 5"), "{err}");
}

#[test]
fn other_readings_and_explanations_of_a_model() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    // Expected values by enumerating the 2^8 worlds of the 8 edges.
    let (ok, out, err) = deeplog(&["query", &model, "--logic", "counting"]);
    assert!(ok, "{err}");
    assert_eq!(out, "path(1,5): 88\npath(1,6): 90\npath(5,5): 44\n");
    let (ok, out, err) = deeplog(&["query", &model, "--logic", "maxproduct"]);
    assert!(ok, "{err}");
    assert_eq!(out, "path(1,5): 0.0338688\npath(1,6): 0.0217728\npath(5,5): 0.0338688\n");
    let (ok, out, _) = deeplog(&["query", &model, "--logic", "boolean"]);
    assert!(ok && out == "path(1,5): true\npath(1,6): true\npath(5,5): true\n", "{out}");
    let never = TempFile::new("never.pl", "0.5::a.\n0.0::b.\nc :- a, b.\nquery(c).\nquery(a).\n");
    let (ok, out, _) = deeplog(&["query", never.path(), "--logic", "boolean"]);
    assert!(ok && out == "c: false\na: true\n", "{out}");
    // Most probable proofs: 1→2→5 (0.24) beats 1→3→4→5 (0.024).
    let (ok, out, err) = deeplog(&["query", &model, "--explain"]);
    assert!(ok, "{err}");
    assert!(out.contains("path(1,5): 0.25824\n  most probable proof (0.24): edge(1,2), edge(2,5)\n"), "{out}");
    let (ok, out, _) = deeplog(&["query", &model, "--explain", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(ok && v["queries"][1]["explanation"]["facts"][1] == "edge(2,6)", "{out}");
    let ad = TempFile::new("ad.pl", "0.3::a(s); 0.7::a(t).\nquery(a(s)).\n");
    let (ok, _, err) = deeplog(&["query", ad.path(), "--logic", "counting"]);
    assert!(!ok && err.contains("annotated disjunctions"), "{err}");
}

#[test]
fn query_answers_like_problog() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    // ProbLog 2.3 prints 0.25824, 0.2167296 and 0.12912 for this model.
    let (ok, out, err) = deeplog(&["query", &model]);
    assert!(ok, "{err}");
    assert_eq!(out, "path(1,5): 0.25824\npath(1,6): 0.2167296\npath(5,5): 0.12912\n");
    let (ok, out, err) = deeplog(&["query", &model, "--json", "--timings"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["queries"][0]["query"], "path(1,5)");
    assert!((v["queries"][0]["value"].as_f64().unwrap() - 0.25824).abs() < 1e-12);
    assert!(v["timings"]["circuit_edges"].as_u64().unwrap() > 0);
    let (ok, out, _) = deeplog(&["query", &model, "--logic", "log-probability"]);
    assert!(ok && out.starts_with("path(1,5): -1.35"), "{out}");
    // The same file in a fuzzy logic: the widest path.
    let (ok, out, err) = deeplog(&["query", &model, "--logic", "godel"]);
    assert!(ok, "{err}");
    assert_eq!(out, "path(1,5): 0.4\npath(1,6): 0.3\npath(5,5): 0.4\n");
    let bad = TempFile::new("nat.pl", "nat(0).\nnat(s(X)) :- nat(X).\nquery(nat(X)).\n");
    let (ok, _, err) = deeplog(&["query", bad.path()]);
    assert!(!ok && err.contains("nat.pl:") && err.contains("nat/1"), "{err}");
    let unbound = TempFile::new("is.pl", "p(X) :- q(Y), X is Y + Z.\nq(1).\nquery(p(_)).\n");
    let (ok, _, err) = deeplog(&["query", unbound.path()]);
    assert!(!ok && err.contains("is.pl:1"), "{err}");
}

/// Whether this machine has a GPU adapter; without one (and without
/// `DEEPLOG_REQUIRE_GPU=1`) the GPU command-line tests skip.
fn has_gpu() -> bool {
    deeplog::gpu::gpu_for_tests().is_some()
}

#[test]
fn eval_on_the_gpu_matches_the_cpu_and_names_the_adapter() {
    if !has_gpu() {
        return;
    }
    let run = |device: &str| {
        let (ok, out, err) = deeplog(&[
            "circuit",
            "eval",
            &example("sudoku_4.sdd"),
            "--batch",
            "7",
            "--grad",
            "--json",
            "--device",
            device,
        ]);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let (cpu, gpu) = (run("cpu"), run("gpu"));
    assert_eq!(cpu["device"], "cpu");
    assert_ne!(gpu["device"], "cpu");
    let (c, g) = (cpu["roots"][0].as_f64().unwrap(), gpu["roots"][0].as_f64().unwrap());
    assert!((c - g).abs() <= 1e-5 * c.abs(), "cpu {c} gpu {g}");
    let (cg, gg) = (cpu["gradient"].as_array().unwrap(), gpu["gradient"].as_array().unwrap());
    let largest = cg.iter().map(|x| x.as_f64().unwrap().abs()).fold(0.0, f64::max);
    for (x, y) in cg.iter().zip(gg) {
        assert!((x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= 1e-5 * largest);
    }
    assert_eq!(run("auto")["device"], gpu["device"]);
}

#[test]
fn query_on_the_gpu_answers_in_f32() {
    if !has_gpu() {
        return;
    }
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    let (ok, cpu, err) = deeplog(&["query", &model, "--json"]);
    assert!(ok, "{err}");
    let (ok, gpu, err) = deeplog(&["query", &model, "--json", "--device", "gpu", "--timings"]);
    assert!(ok, "{err}");
    let (cpu, gpu): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&cpu).unwrap(), serde_json::from_str(&gpu).unwrap());
    for (c, g) in cpu["queries"].as_array().unwrap().iter().zip(gpu["queries"].as_array().unwrap()) {
        let (c, g) = (c["value"].as_f64().unwrap(), g["value"].as_f64().unwrap());
        assert!((c - g).abs() <= 1e-6, "cpu {c} gpu {g}");
    }
    assert_ne!(gpu["timings"]["device"], "cpu");
}

#[test]
fn device_errors_are_clear() {
    let (ok, _, err) = deeplog(&["circuit", "eval", &example("sudoku_4.sdd"), "--device", "tpu"]);
    assert!(!ok);
    assert!(err.contains("unknown device `tpu`; expected cpu, gpu or auto"), "{err}");
    let (ok, _, err) =
        deeplog(&["circuit", "eval", &example("sudoku_4.sdd"), "--algebra", "counting", "--device", "gpu"]);
    assert!(!ok);
    assert!(err.contains("no GPU form"), "{err}");
    // Counting under auto stays on the CPU.
    let (ok, out, err) =
        deeplog(&["circuit", "eval", &example("sudoku_4.sdd"), "--algebra", "counting", "--device", "auto", "--json"]);
    assert!(ok, "{err}");
    assert!(out.contains("\"device\":\"cpu\""), "{out}");
}

#[test]
fn without_an_adapter_gpu_is_an_error_and_auto_falls_back_to_the_cpu() {
    // No Metal on Linux (nor Vulkan on macOS): wgpu finds no adapter.
    let backend = if cfg!(target_os = "macos") { "vulkan" } else { "metal" };
    let run = |device: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_deeplog"))
            .args(["circuit", "eval", &example("sudoku_4.sdd"), "--json", "--device", device])
            .env("WGPU_BACKEND", backend)
            .output()
            .expect("run deeplog");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, _, err) = run("gpu");
    assert!(!ok);
    assert!(err.contains("no GPU adapter found") && err.contains("mesa-vulkan-drivers"), "{err}");
    let (ok, out, err) = run("auto");
    assert!(ok, "{err}");
    assert!(out.contains("\"device\":\"cpu\""), "{out}");
}

#[test]
fn query_reads_one_file_in_every_logic_and_reports_constraints() {
    let smokers = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/smokers/smokers.pl").display().to_string();
    for (logic, first) in [("probability", "0.3487032"), ("godel", "0.3"), ("product", "0.3"), ("lukasiewicz", "0.3")] {
        let (ok, out, err) = deeplog(&["query", &smokers, "--logic", logic]);
        assert!(ok, "{logic}: {err}");
        assert!(out.starts_with(&format!("smokes(angelika): {first}\n")), "{logic}: {out}");
        assert!(out.contains("exists(X in person, asthma(X)): "), "{out}");
    }
    let model = TempFile::new("c.pl", "0.8::a. 0.4::b.\nconstraint(a implies b).\nquery(a and b).\n");
    let (ok, out, err) = deeplog(&["query", model.path(), "--logic", "product"]);
    assert!(ok, "{err}");
    assert_eq!(out, "a and b: 0.32\nconstraint a implies b: truth 0.52\nloss: 0.48\n");
    let (ok, out, err) = deeplog(&["query", model.path(), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!((v["constraints"][0]["value"].as_f64().unwrap() - 0.52).abs() < 1e-12, "{v}");
    assert!((v["loss"].as_f64().unwrap() + 0.52f64.ln()).abs() < 1e-12, "{v}");
    // A formula in a logic it cannot be read in says so.
    let (ok, _, err) = deeplog(&["query", model.path(), "--logic", "counting"]);
    assert!(!ok && err.contains("not supported in the counting logic"), "{err}");
    let bad = TempFile::new("d.pl", "0.5::a(x).\nquery(forall(X in nowhere, a(X))).\n");
    let (ok, _, err) = deeplog(&["query", bad.path(), "--logic", "godel"]);
    assert!(!ok && err.contains("d.pl:2:") && err.contains("unknown domain `nowhere`"), "{err}");
}

#[test]
fn train_learns_parameters_that_query_then_uses() {
    let model =
        TempFile::new("coins.pl", "t(_)::heads(c1). t(0.5)::heads(c2).\nboth :- heads(c1), heads(c2).\nquery(both).\n");
    // heads(c1) is observed true in 3 of 4 examples, heads(c2) always.
    let lines = [true, true, false, true]
        .map(|h| format!("{{\"evidence\": {{\"heads(c1)\": {h}, \"heads(c2)\": true}}}}"))
        .join("\n");
    let data = TempFile::new("coins.jsonl", &lines);
    let params = std::env::temp_dir().join(format!("deeplog-cli-{}/params.json", std::process::id()));
    let params = params.to_str().unwrap();
    let (ok, out, err) = deeplog(&["train", model.path(), "--data", data.path(), "--epochs", "400", "-o", params]);
    assert!(ok, "{err}");
    assert!(out.contains("heads(c1): 0.75"), "{out}");
    let (ok, out, err) = deeplog(&["query", model.path(), "--params", params]);
    assert!(ok, "{err}");
    let both: f64 = out.trim().strip_prefix("both: ").unwrap().parse().unwrap();
    assert!((both - 0.75).abs() < 0.01, "{out}");
    // Bad lines and unknown parameters name what is wrong.
    let bad = TempFile::new("bad.jsonl", "{\"evidence\": {\"heads(c1)\": true}}\n{\"query\": 3}\n");
    let (ok, _, err) = deeplog(&["train", model.path(), "--data", bad.path()]);
    assert!(!ok && err.contains("bad.jsonl:2:"), "{err}");
    let unknown = TempFile::new("p.json", "{\"parameters\": {\"tails(c1)\": 0.5}}");
    let (ok, _, err) = deeplog(&["query", model.path(), "--params", unknown.path()]);
    assert!(!ok && err.contains("`tails(c1)` is not a learnable"), "{err}");
}

#[test]
fn optimize_rewrites_a_circuit_without_changing_its_answers() {
    // f·x·a + f·¬x·b: the decision's branches share the factor f.
    let circuit = TempFile::new(
        "shared.json",
        r#"{"format": "deeplog-circuit", "version": 1, "slots": 4, "deterministic": "a decision on x",
"nodes": [{"kind":"false"}, {"kind":"true"},
{"kind":"literal","slot":0,"positive":true}, {"kind":"literal","slot":1,"positive":true},
{"kind":"literal","slot":1,"positive":false}, {"kind":"literal","slot":2,"positive":true},
{"kind":"literal","slot":3,"positive":true},
{"kind":"product","children":[2,3,5]}, {"kind":"product","children":[2,4,6]}, {"kind":"sum","children":[7,8]}],
"roots": [9]}"#,
    );
    let eval = |extra: &[&str]| {
        let mut args = vec!["circuit", "eval", circuit.path(), "--algebra", "probability", "--grad", "--json"];
        args.extend_from_slice(extra);
        let (ok, out, err) = deeplog(&args);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let (plain, optimized) = (eval(&[]), eval(&["--optimize", "on"]));
    assert!(plain.get("optimize").is_none());
    assert_eq!(optimized["optimize"]["rewrites"], "semiring", "{optimized}");
    assert_eq!(optimized["optimize"]["improved"], true, "{optimized}");
    let close =
        |a: &serde_json::Value, b: &serde_json::Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-12;
    assert!(close(&plain["roots"][0], &optimized["roots"][0]), "{plain} vs {optimized}");
    for i in 0..4 {
        assert!(close(&plain["gradient"][i], &optimized["gradient"][i]), "{plain} vs {optimized}");
    }

    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    let (ok, off, _) = deeplog(&["query", &model, "--optimize", "off"]);
    let (ok2, on, err) = deeplog(&["query", &model, "--optimize", "on", "--timings"]);
    assert!(ok && ok2 && off == on && err.contains("optimize"), "{off} vs {on}; {err}");
    // The bottom-up compiler's lineage is rewritten too, to the same answers.
    let bottom_up = ["query", &model, "--compiler", "bottom-up", "--timings", "--optimize"];
    let (ok, off, err_off) = deeplog(&[&bottom_up[..], &["off"]].concat());
    let (ok2, on, err_on) = deeplog(&[&bottom_up[..], &["on"]].concat());
    assert!(ok && ok2 && off == on, "{off} vs {on}; {err_on}");
    assert!(err_on.contains("lineage rewritten") && !err_off.contains("lineage rewritten"), "{err_on}\n{err_off}");
    let (ok, _, err) = deeplog(&["query", &model, "--optimize", "sometimes"]);
    assert!(!ok && err.contains("unknown optimisation mode `sometimes`"), "{err}");
}

#[test]
fn enumerated_flags_list_their_values_and_keep_their_aliases() {
    let (ok, help, err) = deeplog(&["circuit", "eval", "--help"]);
    assert!(ok, "{err}");
    assert!(
        help.contains("[possible values: boolean, probability, probability-f32, log-probability, log-probability-f32"),
        "{help}"
    );
    assert!(help.contains("[possible values: cpu, gpu, auto]"), "{help}");
    let (ok, help, err) = deeplog(&["query", "--help"]);
    assert!(ok, "{err}");
    assert!(help.contains("[possible values: auto, top-down, bottom-up]"), "{help}");
    assert!(help.contains("[possible values: off, on, auto]"), "{help}");

    // Spellings the library accepts beyond the listed names still work.
    let (ok, out, err) = deeplog(&["circuit", "eval", &example("two_coins.nnf"), "--algebra", "log"]);
    assert!(ok && out.contains("log-probability algebra"), "{out}{err}");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    let (ok, listed, err) = deeplog(&["query", &model, "--logic", "log-probability"]);
    assert!(ok, "{err}");
    let (ok, alias, err) = deeplog(&["query", &model, "--logic", "log_probability", "--device", "CPU"]);
    assert!(ok, "{err}");
    assert_eq!(listed, alias);
}

#[test]
fn numbers_out_of_range_are_usage_errors_not_panics() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    let cases: [&[&str]; 7] = [
        &["query", &model, "--timeout", "inf"],
        &["query", &model, "--timeout", "nan"],
        &["query", &model, "--timeout=-1"],
        &["compile", &model, "-o", "/dev/null", "--timeout", "1e308"],
        &["train", &model, "--data", &data, "--rate", "nan"],
        &["train", &model, "--data", &data, "--rate=-1"],
        &["train", &model, "--data", &data, "--epochs", "0"],
    ];
    for args in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().expect("run deeplog");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("invalid value") && !err.contains("panicked"), "{args:?}: {err}");
    }
    let (ok, out, err) = deeplog(&["query", &model, "--timeout", "30"]);
    assert!(ok && out.contains("path(1,5)"), "{out}{err}");
}

#[test]
fn a_saved_model_section_that_does_not_fit_its_circuit_is_refused() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl").display().to_string();
    let saved = TempFile::new("fits.json", "");
    let (ok, _, err) = deeplog(&["compile", &model, "-o", saved.path()]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(saved.path()).unwrap();
    let (ok, out, err) = deeplog(&["circuit", "eval", saved.path(), "--algebra", "probability"]);
    assert!(ok && out.contains("path(1,5)"), "{out}{err}");
    let edge = r#""name":"edge(1,2)","probability":0.6"#;
    assert!(text.contains(edge), "the test edits this slot");
    let cases = [
        ("over_one.json", text.replace(edge, r#""name":"edge(1,2)","probability":2"#), "probability 2, outside [0, 1]"),
        ("negative.json", text.replace(edge, r#""name":"edge(1,2)","probability":-0.1"#), "outside [0, 1]"),
        (
            "missing_slot.json",
            text.replace(r#"{"alternative":0,"choice":0,"name":"edge(1,2)","probability":0.6},"#, ""),
            "names 7 slots, and the circuit has 8",
        ),
        ("far_root.json", text.replace(r#""root":2}"#, r#""root":9}"#), "at root 9, and the circuit has 3 roots"),
    ];
    for (name, content, why) in cases {
        let file = TempFile::new(name, &content);
        let out = Command::new(env!("CARGO_BIN_EXE_deeplog"))
            .args(["circuit", "eval", file.path(), "--algebra", "probability"])
            .output()
            .expect("run deeplog");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(why) && err.contains(name), "{name}: {err}");
    }
}

#[test]
fn every_reader_takes_a_byte_order_mark_and_locates_bad_utf8() {
    let bom = TempFile::new("bom.pl", "\u{feff}0.3::a.\nquery(a).\n");
    let (ok, out, err) = deeplog(&["query", bom.path()]);
    assert!(ok && out.contains("a: 0.3"), "{out}{err}");
    let (ok, _, err) = deeplog(&["check", bom.path()]);
    assert!(ok, "{err}");
    let nnf = TempFile::new("bom.nnf", "\u{feff}nnf 1 0 1\nL 1\n");
    let (ok, out, err) = deeplog(&["circuit", "stats", nnf.path()]);
    assert!(ok, "{out}{err}");

    let bad = std::env::temp_dir().join(format!("deeplog-cli-{}", std::process::id())).join("latin1.pl");
    std::fs::write(&bad, b"0.3::a.\nquery(caf\xE9).\n").unwrap();
    let (ok, _, err) = deeplog(&["query", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("latin1.pl:2:10: not valid UTF-8"), "{err}");
    #[cfg(unix)]
    {
        let (ok, _, err) = deeplog(&["query", "/dev/zero"]);
        assert!(!ok && err.contains("cannot read /dev/zero: it is a device, not a file"), "{err}");
    }
}

/// Runs `deeplog` with `args`: its exit code, its standard error, and the
/// processor time it used (user and system), which the machine's other
/// load changes far less than the wall clock.
#[cfg(target_os = "linux")]
#[expect(clippy::zombie_processes, reason = "`wait4` reaps the child, which `Child::wait` could not time")]
fn deeplog_timed(args: &[&str]) -> (Option<i32>, String, std::time::Duration) {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::Duration;

    let mut child = Command::new(env!("CARGO_BIN_EXE_deeplog"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run deeplog");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).expect("stderr is text");
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is valid; `wait4` reaps our own child,
    // whose id stays valid until then (`Child` does not wait on drop).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let err = reader.join().expect("read stderr");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    (code, err, time(usage.ru_utime) + time(usage.ru_stime))
}

/// Groundings that never end stop by the default limits, quickly and far
/// below the machine's memory, at the clause that recurses: `p(X) :-
/// p(s(X)).` passed 10 GiB in 53 s and `n(Y) :- n(X), Y is X + 1.` 4 GiB
/// (both then died on a failed allocation); `--timeout` and `--max-nodes`
/// bounded compiling only.
#[cfg(target_os = "linux")]
#[test]
fn a_grounding_that_never_ends_stops_with_a_located_error() {
    let deeper = TempFile::new("deeper.pl", "p(X) :- p(s(X)).\nquery(p(a)).\n");
    let (code, err, time) = deeplog_timed(&["query", deeper.path(), "--timeout", "5", "--max-nodes", "1000"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err,
        format!(
            "error: {}:1:1: grounding stopped: `p/1` is called with terms nested deeper than 10000 (raise \
             --max-depth); is the recursion infinite?\n",
            deeper.path()
        )
    );
    assert!(time.as_secs_f64() < 5.0, "{time:?}");

    let counting = TempFile::new("counting.pl", "n(0).\nn(Y) :- n(X), Y is X+1.\nquery(n(5)).\n");
    // A debug build grounds many times slower: there it stops at 50,000
    // atoms, to show the limit and not the build.
    let args: &[&str] = if cfg!(debug_assertions) { &["--max-atoms", "50000"] } else { &[] };
    let (code, err, time) = deeplog_timed(&[&["query", counting.path()], args].concat());
    assert_eq!(code, Some(1), "{err}");
    let atoms = if cfg!(debug_assertions) { "50000" } else { "1500000" };
    assert_eq!(
        err,
        format!(
            "error: {}:2:1: grounding stopped: more than {atoms} ground atoms (raise --max-atoms) while deriving \
             `n/1`; is the recursion infinite?\n",
            counting.path()
        )
    );
    assert!(time.as_secs_f64() < 5.0, "{time:?}");
}

/// `--timeout` is one deadline for the whole command, grounding included.
#[test]
fn the_timeout_stops_a_long_grounding() {
    let counting = TempFile::new("long.pl", "n(0).\nn(Y) :- n(X), Y is X+1.\nquery(n(5)).\n");
    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog"))
        .args(["query", counting.path(), "--timeout", "1", "--max-atoms", "100000000", "--max-terms", "400000000"])
        .output()
        .expect("run deeplog");
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        format!(
            "error: {}:2:1: grounding stopped: the time limit (--timeout) ran out while deriving `n/1`\n",
            counting.path()
        )
    );
    assert!(took.as_secs_f64() < 10.0, "{took:?}");
}

/// Evidence of probability zero and negation through recursion under a
/// fuzzy logic are found after grounding, and were reported without a file
/// or line; now at the statement responsible, with exit code 1.
#[test]
fn errors_found_after_grounding_name_their_line() {
    let zero = TempFile::new("zero.pl", "0::a.\nevidence(a).\nquery(a).\n");
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(["query", zero.path()]).output().expect("run deeplog");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {}:2:1: evidence has probability zero: evidence(a, true)\n", zero.path())
    );
    let cycle = TempFile::new("cycle.pl", "0.5::a.\np :- a, \\+ q.\nq :- \\+ p.\nquery(p).\n");
    for logic in ["godel", "product", "lukasiewicz", "probability"] {
        let out = Command::new(env!("CARGO_BIN_EXE_deeplog"))
            .args(["query", cycle.path(), "--logic", logic])
            .output()
            .expect("run deeplog");
        assert_eq!(out.status.code(), Some(1), "{logic}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: {}:3:1: negation through recursion: `q` depends on the negation of `p`, which depends on \
                 `q`; deeplog answers programs whose ground negation is stratified\n",
                cycle.path()
            ),
            "{logic}"
        );
    }
}

#[test]
fn query_dash_reads_the_model_from_standard_input() {
    let query_stdin = |text: &[u8]| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_deeplog"))
            .args(["query", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run deeplog");
        child.stdin.take().unwrap().write_all(text).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = query_stdin(b"0.3::a.\n0.5::b.\nq :- a, b.\nquery(q).\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "q: 0.15\n");
    // An error names standard input, with the line.
    let out = query_stdin(b"q :- .\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("<stdin>:1:"), "{err}");
}
