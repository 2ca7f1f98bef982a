//! `deeplog train` and `deeplog query` for a model with a neural predicate
//! (`--features candle`), run as a user runs them: a digit classifier
//! learned from sums of pairs of the repository's handwritten digits,
//! reproducible under `--seed`, loaded back by `deeplog query`; bad data
//! stops with the line, and leaves the saved weights alone.
#![cfg(feature = "candle")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn deeplog(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

const MODEL: &str = "nn(net, [X], Y, [0,1,2,3,4,5,6,7,8,9])::digit(X, Y).\n\
                     sum2(X1, X2, Z) :- digit(X1, A1), digit(X2, A2), Z is A1 + A2.\n\
                     query(sum2(a1, a2, Z)).\n";

/// A directory of task files: the model, `inputs.csv` (every image),
/// `train.jsonl` (sums of pairs of the first 600 images), `test.jsonl`
/// (pairs of the next 200), and the labels of all.
struct Task {
    dir: PathBuf,
    labels: Vec<usize>,
}

impl Task {
    fn new(name: &str) -> Task {
        let dir = std::env::temp_dir().join(format!("deeplog-cli-neural-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/digit_addition/digits.csv"))
            .unwrap();
        let mut inputs = String::from("id,features...\n");
        let mut labels = Vec::new();
        for (i, line) in csv.lines().skip(1).take(800).enumerate() {
            let (label, pixels) = line.split_once(',').unwrap();
            labels.push(label.parse().unwrap());
            let scaled: Vec<String> =
                pixels.split(',').map(|p| format!("{}", p.parse::<f32>().unwrap() / 16.0)).collect();
            inputs.push_str(&format!("img{i},{}\n", scaled.join(",")));
        }
        let pairs = |from: usize, to: usize| -> String {
            (from..to)
                .step_by(2)
                .map(|i| format!("{{\"query\": \"sum2(img{i},img{},{})\"}}\n", i + 1, labels[i] + labels[i + 1]))
                .collect()
        };
        std::fs::write(dir.join("model.pl"), MODEL).unwrap();
        std::fs::write(dir.join("inputs.csv"), inputs).unwrap();
        std::fs::write(dir.join("train.jsonl"), pairs(0, 600)).unwrap();
        std::fs::write(dir.join("test.jsonl"), pairs(600, 800)).unwrap();
        Task { dir, labels }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn train(&self, extra: &[&str]) -> (bool, String, String) {
        let (model, data, inputs) = (self.path("model.pl"), self.path("train.jsonl"), self.path("inputs.csv"));
        let mut args = vec!["train", &model, "--data", &data, "--inputs", &inputs];
        args.extend_from_slice(extra);
        deeplog(&args)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_digit_classifier_learns_from_sums_reproducibly_and_answers_queries_after() {
    let task = Task::new("learns");
    let (test, out_a, out_b) = (task.path("test.jsonl"), task.path("a.json"), task.path("b.json"));
    let (ok, stdout, stderr) = task.train(&["--test", &test, "--epochs", "12", "--seed", "3", "-o", &out_a, "--json"]);
    assert!(ok, "{stderr}");
    let epochs = json_lines(&stdout);
    assert_eq!(epochs.len(), 12);
    let first = epochs[0]["loss"].as_f64().unwrap();
    let last = &epochs[11];
    assert!(last["loss"].as_f64().unwrap() < first / 3.0, "{stdout}");
    let accuracy = last["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.75, "held-out sum accuracy {accuracy}\n{stdout}");

    // Same seed, same weights, byte for byte.
    let (ok, again, stderr) = task.train(&["--test", &test, "--epochs", "12", "--seed", "3", "-o", &out_b, "--json"]);
    assert!(ok, "{stderr}");
    let losses = |lines: &[serde_json::Value]| lines.iter().map(|l| l["loss"].as_f64()).collect::<Vec<_>>();
    assert_eq!(losses(&epochs), losses(&json_lines(&again)));
    assert_eq!(std::fs::read(&out_a).unwrap(), std::fs::read(&out_b).unwrap());

    // The saved network answers a query over real images: digit(img_k, D)
    // for held-out images mostly picks their label.
    let mut queries: String = MODEL.lines().take(1).collect();
    for k in 700..760 {
        queries.push_str(&format!("\nquery(digit(img{k}, D))."));
    }
    std::fs::write(task.dir.join("digits.pl"), queries + "\n").unwrap();
    let (ok, stdout, stderr) = deeplog(&[
        "query",
        &task.path("digits.pl"),
        "--params",
        &out_a,
        "--inputs",
        &task.path("inputs.csv"),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let answers: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut best: std::collections::HashMap<usize, (f64, usize)> = Default::default();
    for a in answers["queries"].as_array().unwrap() {
        let q = a["query"].as_str().unwrap();
        let (image, digit) = q.trim_start_matches("digit(img").trim_end_matches(')').split_once(',').unwrap();
        let (image, digit): (usize, usize) = (image.parse().unwrap(), digit.parse().unwrap());
        let p = a["value"].as_f64().unwrap();
        let entry = best.entry(image).or_insert((-1.0, 0));
        if p > entry.0 {
            *entry = (p, digit);
        }
    }
    assert_eq!(best.len(), 60);
    let right = best.iter().filter(|(&image, &(_, digit))| task.labels[image] == digit).count();
    assert!(right >= 45, "{right}/60 held-out digits right");

    // A parameter file without the network's weights is named.
    let empty = task.dir.join("empty.json");
    std::fs::write(&empty, "{\"parameters\": {}, \"networks\": {}}").unwrap();
    let empty = empty.display().to_string();
    let (ok, _, stderr) =
        deeplog(&["query", &task.path("digits.pl"), "--params", &empty, "--inputs", &task.path("inputs.csv")]);
    assert!(!ok && stderr.contains(&format!("{empty}: network `net`: no weights for it")), "{stderr}");
}

#[test]
fn bad_data_stops_at_its_line_and_leaves_the_saved_weights_alone() {
    let task = Task::new("bad");
    let saved = task.path("saved.json");
    std::fs::write(&saved, "previous weights").unwrap();
    let cases: [(&str, &str); 4] = [
        ("{\"query\": \"sum2(img1,img9999,5)\"}", "no input `img9999`"),
        ("{\"query\": \"sum2(img1,img2,19)\"}", "not among the model's answers"),
        ("{\"query\": \"sum2(img1,img2,3)\"", "not JSON"),
        ("{\"query\": \"sum3(img1,img2,img3,3)\"}", "not the shape of any query"),
    ];
    for (line, why) in cases {
        let data = task.dir.join("bad.jsonl");
        std::fs::write(&data, format!("{{\"query\": \"sum2(img1,img2,3)\"}}\n\n{line}\n")).unwrap();
        let (model, inputs) = (task.path("model.pl"), task.path("inputs.csv"));
        let (ok, _, stderr) =
            deeplog(&["train", &model, "--data", &data.display().to_string(), "--inputs", &inputs, "-o", &saved]);
        assert!(!ok, "{line} was accepted");
        assert!(stderr.contains("bad.jsonl:3:") && stderr.contains(why), "{line}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "previous weights");

    // A bad inputs file names its line too.
    let inputs = task.dir.join("short.csv");
    std::fs::write(&inputs, "img0,0.5,0.25\nimg1,0.5\n").unwrap();
    let (model, data) = (task.path("model.pl"), task.path("train.jsonl"));
    let (ok, _, stderr) = deeplog(&["train", &model, "--data", &data, "--inputs", &inputs.display().to_string()]);
    assert!(!ok && stderr.contains("short.csv:2:"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_a_whole_weights_file() {
    let task = Task::new("interrupted");
    let out = task.path("weights.json");
    let (model, data, inputs) = (task.path("model.pl"), task.path("train.jsonl"), task.path("inputs.csv"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_deeplog"))
        .args(["train", &model, "--data", &data, "--inputs", &inputs, "--epochs", "100000", "-o", &out, "--json"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !Path::new(&out).exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Stop it mid-run, between or during saves: SIGTERM removes a save's
    // temporary (SIGKILL could not), and the run exits as a stopped one.
    std::thread::sleep(std::time::Duration::from_millis(137));
    // SAFETY: signals the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(child.wait().unwrap().code(), Some(143));
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let tensors = saved["networks"]["net"]["tensors"].as_object().unwrap();
    assert_eq!(tensors.len(), 4, "two linear layers, weight and bias each");
    let leftovers: Vec<_> = std::fs::read_dir(&task.dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
