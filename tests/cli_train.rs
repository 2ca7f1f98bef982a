//! `deeplog train` and `deeplog query --params` on hostile files: every
//! example the model cannot explain, and every bad parameter, is an error
//! naming the file and its line, with exit status 1.

use std::path::PathBuf;
use std::process::Command;

fn deeplog(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().expect("run deeplog");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A scratch folder of files for one test.
struct Files(PathBuf);

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("deeplog-cli-train-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Files(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const MODEL: &str = "t(0.5)::a. t(0.3)::b.\nc :- a.\n0.0::z.\nd :- z.\n";

#[test]
fn a_bad_example_is_named_by_its_file_and_line() {
    let files = Files::new("examples");
    let model = files.write("m.pl", MODEL);
    let cases = [
        (r#"{"query": "zzz(1)"}"#, "`zzz/1` is never defined"),
        (r#"{"evidence": {"zzz": true}}"#, "`zzz/0` is never defined"),
        (
            r#"{"evidence": {"c": true, "a": false}}"#,
            "the evidence is impossible: no world of the model has `a` false and `c` true",
        ),
        (r#"{"query": "d"}"#, "`d` has probability zero: no world of the model makes it true"),
        (r#"{"query": "a", "probability": 1.5}"#, "probability 1.5 is not in [0, 1]"),
    ];
    for (line, why) in cases {
        // The bad example is on line 4, after a blank line and an empty
        // interpretation (which counts as an example but observes nothing).
        let data = files.write(
            "d.jsonl",
            &format!("{{\"query\": \"c\", \"probability\": 0.4}}\n\n{{\"evidence\": {{}}}}\n{line}\n"),
        );
        let (code, out, err) = deeplog(&["train", &model, "--data", &data, "--epochs", "2"]);
        assert_eq!(code, 1, "{line}: {out}{err}");
        assert_eq!(err.trim_end(), format!("error: {data}:4: {why}"), "{line}");
    }
    // Zero probability where the example asks for zero is fine.
    let data =
        files.write("ok.jsonl", "{\"query\": \"c\", \"probability\": 0.4}\n{\"query\": \"d\", \"probability\": 0}\n");
    let (code, out, err) = deeplog(&["train", &model, "--data", &data, "--epochs", "2"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_bad_parameter_is_named_by_its_file_and_line() {
    let files = Files::new("params");
    let model = files.write("m.pl", "t(0.5)::a. t(0.5)::b.\nquery(a).\n");
    let cases = [
        (
            "{\n  \"parameters\": {\n    \"a\": 0.3,\n    \"zzz\": 0.5\n  }\n}\n",
            ":4: parameter `zzz` is not a learnable (`t(p)::`) fact or alternative of this model",
        ),
        (
            "{\n  \"parameters\": {\n    \"a\": 0.3,\n    \"a\": 0.5\n  }\n}\n",
            ":4: `a` is given twice (first on line 3)",
        ),
        ("{\n  \"parameters\": {\n    \"a\": 1.3\n  }\n}\n", ":3: `a` must be a probability, not 1.3"),
        ("{\"parameters\": {\"a\": 0.3}", ":1: not JSON: EOF while parsing an object at line 1 column 25"),
    ];
    for (text, why) in cases {
        let params = files.write("p.json", text);
        let (code, out, err) = deeplog(&["query", &model, "--params", &params]);
        assert_eq!(code, 1, "{text}: {out}{err}");
        assert_eq!(err.trim_end(), format!("error: {params}{why}"), "{text}");
    }
    // What `deeplog train -o` writes reads back.
    let data = files.write("d.jsonl", "{\"query\": \"a\", \"probability\": 0.25}\n");
    let params = files.0.join("learned.json").display().to_string();
    let (code, _, err) = deeplog(&["train", &model, "--data", &data, "--epochs", "300", "-o", &params]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = deeplog(&["query", &model, "--params", &params]);
    assert_eq!(code, 0, "{err}");
    let a: f64 = out.trim().strip_prefix("a: ").unwrap().parse().unwrap();
    assert!((a - 0.25).abs() < 1e-3, "{out}");
}
