//! The memory budget (`--max-memory`): a run that would pass it stops with
//! exit 1 and an error naming the stage, never an abort; and a run that
//! fits is not disturbed by it.

use std::path::PathBuf;
use std::process::Command;

/// Runs `deeplog`, returning its exit code and standard error.
fn deeplog(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().expect("run deeplog");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A scratch model file, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, content: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("deeplog-memory-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        Scratch(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Asserts a clean stop for lack of memory in `stage`.
fn assert_stops_in(stage: &str, (code, out, err): (Option<i32>, String, String)) {
    assert_eq!(code, Some(1), "exit status (stderr: {err})");
    assert!(out.is_empty(), "no answer is printed: {out}");
    assert!(err.starts_with(&format!("error: out of memory while {stage}: the budget is ")), "{err}");
    assert!(err.contains("--max-memory"), "{err}");
}

#[test]
fn reading_a_file_larger_than_the_budget_stops_while_reading() {
    let model = Scratch::new("comment.pl", &format!("% {}\na. query(a).\n", "x".repeat(40 << 20)));
    assert_stops_in("reading", deeplog(&["query", model.path(), "--max-memory", "32M"]));
}

#[test]
fn grounding_past_the_budget_stops_while_grounding() {
    // Four million derived atoms, each relevant to the query.
    let model =
        Scratch::new("grid.pl", "r(X,Y) :- between(1,2000,X), between(1,2000,Y).\nq :- r(X,Y), Y > 1998.\nquery(q).\n");
    assert_stops_in("grounding", deeplog(&["query", model.path(), "--max-memory", "64M"]));
}

#[test]
fn compiling_past_the_budget_stops_while_compiling() {
    // Reachability in a complete graph of 10 nodes: a small ground program
    // whose circuit is large.
    let mut text = String::new();
    for i in 1..=10 {
        for j in 1..=10 {
            if i != j {
                text.push_str(&format!("0.5::e({i},{j}).\n"));
            }
        }
    }
    text.push_str("p(X,Y) :- e(X,Y).\np(X,Y) :- e(X,Z), p(Z,Y).\nquery(p(1,10)).\n");
    let model = Scratch::new("dense.pl", &text);
    // The budget is a global option: it may come before the command.
    assert_stops_in("compiling", deeplog(&["--max-memory", "32M", "query", model.path()]));
}

#[test]
fn a_run_within_the_budget_answers_as_before() {
    let model = Scratch::new("small.pl", "0.3::a. 0.6::b. c :- a. c :- b. query(c).\n");
    let (code, out, err) = deeplog(&["query", model.path(), "--max-memory", "16M"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "c: 0.72");
}

#[test]
fn a_budget_that_is_no_size_is_a_usage_error() {
    for bad in ["lots", "8X", "1K", "-1G"] {
        let (code, _, err) = deeplog(&["query", "model.pl", &format!("--max-memory={bad}")]);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains("--max-memory"), "{bad}: {err}");
    }
}
