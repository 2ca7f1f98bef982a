//! A bounded fuzzing run of every reader, on stable Rust: inputs made by
//! mutating the seed files of `fuzz/corpus/<target>/` (byte flips, cuts,
//! repeats, splices, and the tokens and numbers each format is made of),
//! each run through `deeplog::cli::fuzz`. A panic fails the test and the
//! input is saved under `target/fuzz-findings/`; running out of the
//! memory budget (2 GiB here) or an abort ends the test binary with the
//! input saved the same way.
//!
//! `DEEPLOG_FUZZ_SECONDS` (default 6) is each target's time;
//! `DEEPLOG_FUZZ_SEED` changes the inputs. `fuzz/` holds the
//! coverage-guided harnesses for long runs (`fuzz/README.md`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use deeplog::cli::fuzz::TARGETS;
use deeplog::memory::{self, Budgeted};

#[global_allocator]
static GLOBAL: Budgeted<std::alloc::System> = Budgeted(std::alloc::System);

/// The input each target is running, for the report of a stop for lack of
/// memory (which may come from a worker thread of the engine).
static CURRENT: [(AtomicPtr<u8>, AtomicUsize); TARGETS.len()] =
    [const { (AtomicPtr::new(std::ptr::null_mut()), AtomicUsize::new(0)) }; TARGETS.len()];

fn findings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings")
}

/// Saves an input that crashed a target; returns where.
fn save(target: &str, what: &str, data: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(findings());
    let path = findings().join(format!("{target}-{what}-{}", std::process::id()));
    let _ = std::fs::write(&path, data);
    path
}

/// Run by the memory budget's stop: saves the inputs being run (one of
/// them ran out).
fn report_stop() {
    for (target, (ptr, len)) in TARGETS.iter().zip(&CURRENT) {
        let ptr = ptr.load(Ordering::SeqCst);
        if !ptr.is_null() {
            // SAFETY: set from a slice that lives until the target returns (the
            // process ends before it does).
            let data = unsafe { std::slice::from_raw_parts(ptr, len.load(Ordering::SeqCst)) };
            let path = save(target, "memory", data);
            eprintln!("fuzz: the {target} target was running the input saved at {}", path.display());
        }
    }
}

/// xorshift64*: fast, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Tokens every text format is made of, and numbers at the edges of what
/// readers must refuse or survive.
const COMMON: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "1.0000000001",
    "2147483648",
    "4294967296",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "1e-320",
    "999999999",
    "\n",
    " ",
    "\t",
    "\r\n",
    "\u{feff}",
    "\u{0}",
    "é",
    "\"",
    "'",
    "\\",
];

fn dictionary(target: &str) -> Vec<&'static str> {
    let own: &[&str] = match target {
        "model" => &[
            ":-",
            "::",
            ".",
            ",",
            ";",
            "(",
            ")",
            "[",
            "]",
            "|",
            "\\+",
            "query(",
            "evidence(",
            "is",
            "X",
            "Y",
            "_",
            "p(X)",
            "q(X,Y)",
            "t(0.5)::",
            "t(_)::",
            "0.3::a; 0.7::b.",
            "between(1,1000,X)",
            "findall(",
            "forall(",
            "->",
            "=",
            "\\=",
            "==",
            "<",
            ">=",
            "+",
            "*",
            "/",
            "//",
            "mod",
            "**",
            "abs(",
            "length(",
            "member(",
            "append(",
            ":- logic(godel).",
            ":- logic(product).",
            "and",
            "or",
            "not",
            "implies",
            "forall X in",
            "exists",
            "constraint(",
            "nn(",
            "p(s(X)) :- p(X).",
            "%",
            "/*",
            "*/",
            "0'",
            "\"str\"",
            "''",
        ],
        "sdd" | "vtree" => {
            &["sdd ", "L ", "D ", "T ", "F ", "c ", "vtree ", "I ", "\n----\n", "L 0 0 1\n", "D 3 1 2 0 1 2 3\n"]
        }
        "nnf" => &["nnf ", "L ", "A ", "O ", "0 ", "c ", "a ", "o ", "t ", "f ", "1 0\n", "O 1 2 0 1\n"],
        "json_circuit" => &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"slots\"",
            "\"nodes\"",
            "\"roots\"",
            "\"model\"",
            "\"op\"",
            "\"and\"",
            "\"or\"",
            "\"lit\"",
            "\"children\"",
            "\"probability\"",
            "\"name\"",
            "null",
            "true",
            "false",
        ],
        "dimacs" => &["p cnf ", "c p weight ", " 0\n", "-", "c ", "%", "p wcnf "],
        "scene_graph" => &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"frames\"",
            "\"objects\"",
            "\"relations\"",
            "\"attributes\"",
            "\"id\"",
            "\"p\"",
            "\"probability\"",
            "\"frame\"",
            "\"label\"",
            "null",
            "true",
            "false",
        ],
        "training_data" => &[
            "{",
            "}",
            ":",
            ",",
            "\"query\"",
            "\"evidence\"",
            "\"probability\"",
            "\"q\"",
            "\"r\"",
            "\"a\"",
            "true",
            "false",
            "null",
            "\"zzz(1)\"",
            "\n",
        ],
        "parameters" => &["{", "}", ":", ",", "\"parameters\"", "\"networks\"", "\"a\"", "\"b\"", "\"zzz\"", "null"],
        _ => &[],
    };
    COMMON.iter().chain(own).copied().collect()
}

/// One mutation of `data`, with `other` (another seed) for splices.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dict: &[&str]) {
    let len = data.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.next() as u8;
        }
        2 if len > 0 => {
            // Cut a range out.
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            data.drain(i..i + n);
        }
        3 if len > 0 => {
            // Repeat a range, sometimes many times (flat, long inputs).
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            let chunk = data[i..i + n].to_vec();
            let times = if rng.below(8) == 0 { 1 + rng.below(2000) } else { 1 + rng.below(4) };
            for _ in 0..times {
                data.splice(i..i, chunk.iter().copied());
            }
        }
        4 | 5 => {
            let token = dict[rng.below(dict.len())].as_bytes();
            let i = rng.below(len + 1);
            data.splice(i..i, token.iter().copied());
        }
        6 if len > 0 => {
            // Replace a number by another.
            let digits: Vec<usize> = (0..len).filter(|&i| data[i].is_ascii_digit()).collect();
            if let Some(&start) = digits.get(rng.below(digits.len())) {
                let mut end = start;
                while end < len && (data[end].is_ascii_digit() || data[end] == b'.') {
                    end += 1;
                }
                let numbers = &COMMON[..15];
                let n = numbers[rng.below(numbers.len())].as_bytes();
                data.splice(start..end, n.iter().copied());
            }
        }
        7 if !other.is_empty() => {
            // Splice: our head, the other seed's tail.
            let i = rng.below(len + 1);
            let j = rng.below(other.len());
            data.truncate(i);
            data.extend_from_slice(&other[j..]);
        }
        _ => {
            let i = rng.below(len + 1);
            data.insert(i, rng.next() as u8);
        }
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    // The examples' own files seed their readers too, rather than copies.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    if target == "model" {
        files.extend([examples.join("models/graph.pl"), examples.join("smokers/smokers.pl")]);
    }
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Fuzzes `target` for the configured time; panics with the saved inputs
/// if any input panicked.
fn fuzz(target: &'static str) {
    memory::set_limit(2 << 30);
    memory::on_stop(report_stop);
    let seconds: f64 = std::env::var("DEEPLOG_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6.0);
    let seed: u64 = std::env::var("DEEPLOG_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let mut rng =
        Rng(seed ^ target.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)));
    let seeds = seeds(target);
    let dict = dictionary(target);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut runs = 0usize;
    let mut crashes = Vec::new();
    // The seeds themselves first, then mutants.
    let mut queue: Vec<Vec<u8>> = seeds.clone();
    while Instant::now() < deadline || !queue.is_empty() {
        let data = match queue.pop() {
            Some(d) => d,
            None => {
                let mut d = seeds[rng.below(seeds.len())].clone();
                let other = &seeds[rng.below(seeds.len())];
                for _ in 0..1 + rng.below(6) {
                    mutate(&mut rng, &mut d, other, &dict);
                }
                d.truncate(1 << 20);
                d
            }
        };
        let slot = &CURRENT[TARGETS.iter().position(|&t| t == target).expect("a target")];
        slot.1.store(data.len(), Ordering::SeqCst);
        slot.0.store(data.as_ptr().cast_mut(), Ordering::SeqCst);
        let outcome = catch_unwind(AssertUnwindSafe(|| assert!(deeplog::cli::fuzz::run(target, &data))));
        slot.0.store(std::ptr::null_mut(), Ordering::SeqCst);
        if outcome.is_err() {
            crashes.push(save(target, &format!("panic{}", crashes.len()), &data));
        }
        runs += 1;
    }
    eprintln!("fuzz {target}: {runs} inputs in {seconds} s (seed {seed}), {} panicked", crashes.len());
    assert!(crashes.is_empty(), "{target}: inputs that panicked were saved: {crashes:?}");
}

#[test]
fn fuzz_model_text() {
    fuzz("model");
}

#[test]
fn fuzz_sdd() {
    fuzz("sdd");
}

#[test]
fn fuzz_sdd_with_vtree() {
    fuzz("vtree");
}

#[test]
fn fuzz_nnf() {
    fuzz("nnf");
}

#[test]
fn fuzz_json_circuit() {
    fuzz("json_circuit");
}

#[test]
fn fuzz_dimacs() {
    fuzz("dimacs");
}

#[test]
fn fuzz_scene_graph() {
    fuzz("scene_graph");
}

#[test]
fn fuzz_training_data() {
    fuzz("training_data");
}

#[test]
fn fuzz_parameters() {
    fuzz("parameters");
}

#[test]
fn every_target_has_a_test_and_seeds() {
    for target in TARGETS {
        assert!(!seeds(target).is_empty());
    }
    assert!(!deeplog::cli::fuzz::run("no such target", b""));
}
