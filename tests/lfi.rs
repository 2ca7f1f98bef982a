//! Learning from interpretations (`deeplog lfi`): known weights recovered
//! from sampled interpretations, tied parameters, ProbLog's output, bad
//! input.

use deeplog::lfi::{lfi, LfiOptions};
use deeplog::Model;

struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn recovers_the_weights_that_generated_partial_interpretations() {
    // a, b facts; x; y a disjunction; c and d derived (with negation).
    let model =
        Model::from_source("m.pl", "t(_)::a.\nt(0.5)::b.\nt(_)::x; t(_)::y.\nc :- a, \\+b.\nd :- x.\nd :- b, y.\n")
            .unwrap();
    let (pa, pb, px, py) = (0.3, 0.6, 0.2, 0.5);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut interpretations = Vec::new();
    for _ in 0..3000 {
        let a = rng.uniform() < pa;
        let b = rng.uniform() < pb;
        let u = rng.uniform();
        let (x, y) = (u < px, (px..px + py).contains(&u));
        let c = a && !b;
        let d = x || (b && y);
        // Each atom seen with probability 0.7.
        let mut seen = Vec::new();
        for (name, v) in [("a", a), ("b", b), ("x", x), ("y", y), ("c", c), ("d", d)] {
            if rng.uniform() < 0.7 {
                seen.push((name.to_string(), v));
            }
        }
        interpretations.push(seen);
    }
    let learned = lfi(&model, &interpretations, &LfiOptions::default()).unwrap();
    assert_eq!(learned.names, ["t(_)::a", "t(0.5)::b", "t(_)::x", "t(_)::y"]);
    for (got, want) in learned.weights.iter().zip([pa, pb, px, py]) {
        assert!((got - want).abs() < 0.03, "{:?} vs {want}", learned.weights);
    }
    assert!(learned.log_likelihood < 0.0 && learned.iterations > 1);
    // The learned program holds the learned values.
    assert!(learned.program.starts_with(&format!("{}::a.", deeplog_format(learned.weights[0]))), "{}", learned.program);
}

fn deeplog_format(x: f64) -> String {
    // 15 significant digits, as the learned program writes them.
    let s = format!("{:.*e}", 14, x);
    let (m, e) = s.split_once('e').unwrap();
    let v: f64 = format!("{m}e{e}").parse().unwrap();
    format!("{v}")
}

#[test]
fn ground_instances_of_one_statement_share_their_parameter() {
    // One weight for all three coins: the frequency of heads over all of
    // them (fully observed, so EM lands on it).
    let model = Model::from_source("m.pl", "coin(c1). coin(c2). coin(c3).\nt(_)::heads(C) :- coin(C).\n").unwrap();
    let seen = |h: [bool; 3]| -> Vec<(String, bool)> {
        h.iter().enumerate().map(|(i, &v)| (format!("heads(c{})", i + 1), v)).collect()
    };
    let interpretations = vec![seen([true, false, true]), seen([true, true, true]), seen([false, false, true])];
    let learned = lfi(&model, &interpretations, &LfiOptions::default()).unwrap();
    assert_eq!(learned.names, ["t(_)::heads(C)"]);
    assert!((learned.weights[0] - 6.0 / 9.0).abs() < 1e-9, "{:?}", learned.weights);
    assert!(learned.program.contains("::heads(C) :- coin(C)."), "{}", learned.program);
}

fn deeplog(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deeplog")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_prints_what_problog_prints_and_refuses_bad_evidence() {
    let dir = std::env::temp_dir().join(format!("deeplog-lfi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("alarm.pl");
    std::fs::write(
        &model,
        "t(0.5)::burglary.\n0.2::earthquake.\nt(_)::p_alarm1.\nt(_)::p_alarm2.\nt(_)::p_alarm3.\n\
         alarm :- burglary, earthquake, p_alarm1.\nalarm :- burglary, \\+earthquake, p_alarm2.\n\
         alarm :- \\+burglary, earthquake, p_alarm3.\n",
    )
    .unwrap();
    let evidence = dir.join("evidence.pl");
    std::fs::write(
        &evidence,
        "evidence(burglary,false).\nevidence(alarm,false).\n----------------\nevidence(earthquake,false).\n\
         evidence(alarm,true).\nevidence(burglary,true).\n----------------\nevidence(burglary,false).\n",
    )
    .unwrap();
    let out_model = dir.join("learned.pl");
    let (code, out, err) =
        deeplog(&["lfi".as_ref(), model.as_os_str(), evidence.as_os_str(), "-O".as_ref(), out_model.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    // ProbLog 2.3 learns 1/3, 1.0 and 0.0 for the parameters the evidence
    // determines (p_alarm1 it cannot: it keeps its start value).
    let (ll, rest) = out.trim().split_once(' ').unwrap();
    let ll: f64 = ll.parse().unwrap();
    assert!((ll - (2.0f64 / 3.0 * 0.8 / 3.0 * 2.0 / 3.0).ln()).abs() < 1e-6, "{out}");
    assert!(
        rest.starts_with(
            "[0.33333333, 0.5, 1.0, 0.0] [t(0.5)::burglary, t(_)::p_alarm1, t(_)::p_alarm2, t(_)::p_alarm3] "
        ),
        "{out}"
    );
    let learned = std::fs::read_to_string(&out_model).unwrap();
    assert!(
        learned.starts_with(
            "0.333333333333333::burglary.\n0.2::earthquake.\n0.5::p_alarm1.\n1.0::p_alarm2.\n0.0::p_alarm3.\n"
        ),
        "{learned}"
    );
    // JSON.
    let (code, out, _) = deeplog(&["lfi".as_ref(), model.as_os_str(), evidence.as_os_str(), "--json".as_ref()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["names"][0], "t(0.5)::burglary");
    assert!((v["weights"][2].as_f64().unwrap() - 1.0).abs() < 1e-9);
    // A malformed line, and an atom the model lacks: errors at their lines,
    // the output model left as it was.
    std::fs::write(&out_model, "kept").unwrap();
    std::fs::write(&evidence, "evidence(burglary,false).\n---\nevidence(alarm,maybe).\n").unwrap();
    let (code, _, err) =
        deeplog(&["lfi".as_ref(), model.as_os_str(), evidence.as_os_str(), "-O".as_ref(), out_model.as_os_str()]);
    assert!(code == 1 && err.contains("evidence.pl:3:") && err.contains("maybe"), "{err}");
    std::fs::write(&evidence, "evidence(burglary,false).\n---\nevidence(unicorn,true).\n").unwrap();
    let (code, _, err) =
        deeplog(&["lfi".as_ref(), model.as_os_str(), evidence.as_os_str(), "-O".as_ref(), out_model.as_os_str()]);
    assert!(code == 1 && err.contains("evidence.pl:3:") && err.contains("unicorn"), "{err}");
    assert_eq!(std::fs::read_to_string(&out_model).unwrap(), "kept");
    // `t(_)` on a rule whose body can never hold: an error at its line; on
    // one no interpretation reaches: a warning, the value kept.
    std::fs::write(&evidence, "evidence(burglary,false).\n").unwrap();
    let never = dir.join("never.pl");
    std::fs::write(&never, "t(0.5)::burglary.\nt(_)::ghost :- burglary, \\+burglary.\n").unwrap();
    let (code, _, err) = deeplog(&["lfi".as_ref(), never.as_os_str(), evidence.as_os_str()]);
    assert!(code == 1 && err.contains("never.pl:2:") && err.contains("never hold"), "{err}");
    std::fs::write(&never, "t(0.5)::burglary.\n0.5::c.\nt(_)::other :- c.\n").unwrap();
    let (code, out, err) = deeplog(&["lfi".as_ref(), never.as_os_str(), evidence.as_os_str()]);
    assert!(code == 0 && err.contains("never.pl:3:") && err.contains("keeps its value"), "{err}");
    assert!(out.contains("[0.0] [t(0.5)::burglary]"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
