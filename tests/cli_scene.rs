//! `deeplog scene` as a user runs it, on the kitchen example: the three
//! specifications (true, false, ambiguous), a batch, the thresholded facts,
//! and errors with their places.

use std::process::Command;

fn deeplog(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn example(name: &str) -> String {
    format!("{}/examples/scene_graphs/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_kitchen_specs_are_true_false_and_ambiguous() {
    let (ok, out, err) =
        deeplog(&["scene", "check", &example("specs.pl"), "--graph", &example("kitchen.json"), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let specs = v["specs"].as_array().unwrap();
    let value = |name: &str| specs.iter().find(|s| s["spec"] == name).unwrap()["value"].as_f64().unwrap();
    assert!(value("cup_to_table") > 0.7, "{out}");
    assert!(value("drops_knife") < 0.05, "{out}");
    assert!((0.3..0.7).contains(&value("takes_plate")), "{out}");
    let cup = specs.iter().find(|s| s["spec"] == "cup_to_table").unwrap();
    assert_eq!(cup["binding"]["objects"], serde_json::json!([["P", "person1"], ["C", "cup1"]]));
    let frames: Vec<u64> =
        cup["alignment"].as_array().unwrap().iter().map(|a| a["best_frame"].as_u64().unwrap()).collect();
    // reaches within 6..=8, holds within 9..=20, on the table from 22.
    assert!((6..=8).contains(&frames[0]) && (9..=20).contains(&frames[1]) && frames[2] >= 22, "{frames:?}");

    let (ok, text, _) = deeplog(&["scene", "check", &example("specs.pl"), "--graph", &example("kitchen.json")]);
    assert!(ok && text.contains("most probable binding: P = person1, C = cup1"), "{text}");
}

#[test]
fn a_batch_checks_every_graph() {
    let (ok, out, err) =
        deeplog(&["scene", "check", &example("specs.pl"), "--graph", &example("kitchen_batch.jsonl"), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let graphs = v["graphs"].as_array().unwrap();
    assert_eq!(graphs.len(), 4);
    assert!(graphs.iter().all(|g| g["specs"][0]["value"].as_f64().unwrap() > 0.6), "{out}");
}

#[test]
fn facts_above_a_threshold() {
    let (ok, out, err) = deeplog(&["scene", "facts", "--graph", &example("kitchen.json"), "--threshold", "0.5"]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l == "0.97::category(person1, person)."), "{out}");
    assert!(out.lines().all(|l| l.split("::").next().unwrap().parse::<f64>().unwrap() >= 0.5), "{out}");
    let (ok, json, _) =
        deeplog(&["scene", "facts", "--graph", &example("kitchen.json"), "--threshold", "0.5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(ok && v["facts"].as_array().unwrap().len() == out.lines().count());
}

#[test]
fn bad_input_exits_with_the_place() {
    let dir = std::env::temp_dir().join(format!("deeplog-cli-scene-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let graph = dir.join("bad.json");
    std::fs::write(&graph, r#"{"frames": 3, "objects": [{"id": "a"}], "unary": [{"predicate": "p", "object": "a", "frame": 3, "probability": 0.5}]}"#).unwrap();
    let (ok, _, err) = deeplog(&["scene", "check", &example("specs.pl"), "--graph", &graph.display().to_string()]);
    assert!(!ok && err.contains("bad.json: unary[0]") && err.contains("frame 3 is out of range"), "{err}");
    let spec = dir.join("free.pl");
    std::fs::write(&spec, "spec(s, eventually(holds(P, cup1))).\n").unwrap();
    let (ok, _, err) = deeplog(&["scene", "check", &spec.display().to_string(), "--graph", &example("kitchen.json")]);
    assert!(!ok && err.contains("free.pl:1:9") && err.contains("free variable `P`"), "{err}");
    // A tiny graph claiming a billion frames is refused by the field.
    let huge = dir.join("huge.json");
    std::fs::write(&huge, r#"{"frames": 1000000000, "objects": [{"id": "a"}]}"#).unwrap();
    let (ok, _, err) = deeplog(&["scene", "check", &example("specs.pl"), "--graph", &huge.display().to_string()]);
    assert!(!ok, "{err}");
    assert_eq!(
        err.trim_end(),
        format!("error: {}: frames: 1000000000 is more than the 200000 frames a graph may have", huge.display())
    );
    // An error in the rules a spec became is the spec's, at its line.
    std::fs::write(&spec, "% compares objects as numbers\nspec(cmp, exists(X, exists(Y, X < Y))).\n").unwrap();
    let (ok, _, err) = deeplog(&["scene", "check", &spec.display().to_string(), "--graph", &example("kitchen.json")]);
    assert!(!ok && err.contains("free.pl:2:1: spec `cmp`: ") && err.contains("is not a number"), "{err}");
    // A predicate no graph atom and no rule defines: a warning, and false.
    std::fs::write(&spec, "spec(s, eventually(exists(X, jumps(X)))).\n").unwrap();
    let (ok, out, err) = deeplog(&["scene", "check", &spec.display().to_string(), "--graph", &example("kitchen.json")]);
    assert!(ok && err.contains("`jumps/2`") && out.starts_with("s: 0"), "{out} {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
