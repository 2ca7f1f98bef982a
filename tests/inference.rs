//! Exact inference end to end: every benchmark program with a reference
//! answer (`../shared/bench/reference.json`, exact rational arithmetic) is
//! answered within 1e-9; hand-checked programs for annotated disjunctions,
//! cycles, negation and evidence.

use std::path::PathBuf;
use std::time::Instant;

use deeplog::{Error, Logic, Model, QueryOptions};

fn answers(source: &str) -> Vec<(String, f64)> {
    let model = Model::from_source("test.pl", source).unwrap_or_else(|e| panic!("{e}"));
    let answers = model.query(&QueryOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    answers.answers.into_iter().map(|a| (a.query, a.value)).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

#[test]
fn annotated_disjunctions_are_exclusive_choices() {
    // A known peer bug answers 0.51 here.
    let got = answers("0.3::a(s); 0.7::a(t).\nquery(a(s)).\nquery(a(t)).\n");
    assert!(close(got[0].1, 0.3) && close(got[1].1, 0.7), "{got:?}");
    // In a rule head with a shared body: one choice per body instance.
    let got = answers("0.5::ball.\n0.2::c(red); 0.5::c(green) :- ball.\nquery(c(red)).\nquery(c(green)).\n");
    assert!(close(got[0].1, 0.1) && close(got[1].1, 0.25), "{got:?}");
    // Two digits, exclusive per digit: P(sum = 1) = p1(0)p2(1) + p1(1)p2(0).
    let got = answers(
        "0.1::d(1,0); 0.9::d(1,1).\n0.4::d(2,0); 0.6::d(2,1).\ns(S) :- d(1,A), d(2,B), S is A+B.\nquery(s(1)).\n",
    );
    assert!(close(got[0].1, 0.1 * 0.6 + 0.9 * 0.4), "{got:?}");
}

#[test]
fn cycles_have_least_model_semantics() {
    // 0→1 (0.6), 1→0 (0.5), 1→2 (0.7): path(0,2) needs 0→1 and 1→2; the
    // cycle 0→1→0 adds nothing.
    let src = "0.6::e(0,1). 0.5::e(1,0). 0.7::e(1,2).\n\
               p(X,Y) :- e(X,Y).\np(X,Y) :- e(X,Z), p(Z,Y).\n\
               query(p(0,2)).\nquery(p(0,0)).\nquery(p(2,0)).\n";
    let got = answers(src);
    assert!(close(got[0].1, 0.6 * 0.7), "{got:?}");
    assert!(close(got[1].1, 0.6 * 0.5), "{got:?}");
    assert_eq!(got[2].1, 0.0, "{got:?}");
}

#[test]
fn negation_and_evidence() {
    // P(b) = 0.4, P(\+ a) = 0.7; c :- b, \+ a.
    let got = answers("0.3::a.\n0.4::b.\nc :- b, \\+ a.\nquery(c).\n");
    assert!(close(got[0].1, 0.4 * 0.7), "{got:?}");
    // Conditioning: P(a | a ∨ b) = 0.3 / (1 − 0.7·0.6).
    let got = answers("0.3::a.\n0.4::b.\nab :- a.\nab :- b.\nevidence(ab, true).\nquery(a).\n");
    assert!(close(got[0].1, 0.3 / (1.0 - 0.7 * 0.6)), "{got:?}");
    let got = answers("0.3::a.\n0.4::b.\nab :- a.\nab :- b.\nevidence(ab, false).\nquery(a).\n");
    assert!(close(got[0].1, 0.0), "{got:?}");
}

#[test]
fn negation_through_recursion_is_answered_where_the_ground_program_is_stratified() {
    // The game: a position is won if some move leads to a lost one. By
    // cases on move(c,d): 0.4 · 0.5 + 0.6 · (1 − (1 − 0.5 · 0.4)(1 − 0.7)).
    let src = "0.5::move(a,b).\n0.6::move(b,c).\n0.7::move(a,c).\n0.4::move(c,d).\n\
               win(X) :- move(X,Y), \\+ win(Y).\nquery(win(a)).\nquery(win(b)).\nquery(win(c)).\n";
    let got = answers(src);
    assert!(close(got[0].1, 0.4 * 0.5 + 0.6 * (1.0 - 0.8 * 0.3)), "{got:?}");
    assert!(close(got[1].1, 0.6 * 0.6) && close(got[2].1, 0.4), "{got:?}");
    // A cycle of moves: win(a) depends on its own negation, an error that
    // names the atoms (ProbLog: NegativeCycle).
    let src = "0.5::move(a,b).\n0.6::move(b,a).\nwin(X) :- move(X,Y), \\+ win(Y).\nquery(win(a)).\n";
    let model = Model::from_source("t.pl", src).unwrap();
    let err = model.query(&QueryOptions::default()).unwrap_err().to_string();
    assert!(err.contains("negation through recursion") && err.contains("`win(a)`"), "{err}");
    assert!(err.starts_with("t.pl:3:1: "), "at the rule that negates: {err}");
    // A body with an atom and its negation never holds, and leaves no
    // cycle behind: r(a,b) :- r(b,a), \+ r(b,a) (ProbLog drops it too).
    let src = "0.5::s(b,a).\nr(X,Y) :- s(X,Y).\nr(Z,X) :- r(X,Z), \\+ r(X,a).\nquery(r(_,_)).\n";
    assert_eq!(answers(src), [("r(b,a)".to_string(), 0.5)]);
    // An instance whose body holds `e(d), \+ e(d)` derives no head, so
    // r1(d) does not exist and closes no cycle through r2 (it once did).
    let src = "0.5::e(d).\nr0(d).\n0.3::r1(X) :- r0(X), e(X), \\+ e(X).\ng(c).\ng(d).\n\
               r2(Y) :- g(Y), r1(Z), \\+ r2(Z).\nquery(r2(c)).\n";
    assert_eq!(answers(src), [("r2(c)".to_string(), 0.0)]);
    // Found by bench/differential.py, where grounding panicked: a fact
    // that is also the head of a rule gets a rule of its own after the
    // negations are resolved.
    let got = answers("0.5::a.\na :- b.\n0.3::b.\ne(p,q).\nwin(X) :- e(X,Y), \\+ win(Y).\nquery(a).\nquery(win(p)).\n");
    assert!(close(got[0].1, 1.0 - 0.5 * 0.7) && close(got[1].1, 1.0), "{got:?}");
}

#[test]
fn impossible_evidence_is_an_error_that_names_it() {
    // Found by the compiler: `d` is `a ∧ ¬a` through other atoms.
    let src = "0.3::a.\nb :- a.\nc :- \\+ a.\nd :- b, c.\nevidence(d, true).\nquery(a).\n";
    let err = Model::from_source("t.pl", src).unwrap().query(&QueryOptions::default()).unwrap_err().to_string();
    assert!(err.contains("evidence is impossible") && err.contains("`d`"), "{err}");
    assert!(err.starts_with("t.pl:5:1: "), "at the evidence: {err}");
    // Found by the grounder, at the evidence: a body `a, \+ a` derives
    // nothing.
    let src = "0.3::a.\nb :- a, \\+ a.\nevidence(b, true).\nquery(a).\n";
    let err = Model::from_source("t.pl", src).unwrap().query(&QueryOptions::default()).unwrap_err().to_string();
    assert!(err.contains("t.pl:3:1") && err.contains("`b` can never be derived"), "{err}");
}

#[test]
fn a_query_with_variables_lists_the_instances_that_can_hold() {
    let names = |source: &str| answers(source).into_iter().map(|(q, p)| format!("{q}={p}")).collect::<Vec<_>>();
    // `g(X)` is `f(X) ∧ ¬f(X)`: impossible for every X. Asked by name, an
    // impossible atom is still answered.
    let src = "0.5::f(a).\n0.5::f(b).\ng(X) :- f(X), \\+ f(X).\nquery(g(_)).\nquery(g(a)).\n";
    assert_eq!(names(src), ["g(a)=0"]);
    // Evidence rules instances out: r(a) and r(b) are false given it.
    let src = "0.5::f(a).\n0.5::f(b).\n1.0::f(c).\nr(X) :- f(X).\n\
               evidence(f(a), false).\nevidence(r(b), false).\nquery(r(_)).\n";
    assert_eq!(names(src), ["r(c)=1"]);
    // Possible worlds, whatever their weights: a fact of probability 0 is
    // listed, and so is an instance that only a certain fact rules out
    // (ProbLog lists both too).
    let src = "0.0::e(a).\n0.5::e(b).\nquery(e(_)).\n1.0::f(a).\n0.5::f(b).\nq(X) :- f(X), \\+ f(a).\nquery(q(_)).\n";
    assert_eq!(names(src), ["e(a)=0", "e(b)=0.5", "q(b)=0"]);
}

#[test]
fn evidence_of_probability_zero_is_an_error_whatever_is_asked() {
    // `a` is certain, so `evidence(a, false)` has probability zero; found by
    // bench/differential.py, where deeplog answered these without a word
    // (ProbLog: InconsistentEvidenceError). A query nothing derives, and a
    // query with variables and no instance, still see the evidence.
    for queries in ["query(c).\n", "query(r(_)).\n", "query(r(_)).\nquery(c).\n", ""] {
        let source = format!("1.0::a.\n0.5::b.\nr(X) :- b, s(X).\ns(x) :- fail.\nevidence(a, false).\n{queries}");
        let model = Model::from_source("t.pl", &source).unwrap();
        let err = model.query(&QueryOptions::default()).unwrap_err().to_string();
        assert!(
            err.contains("evidence has probability zero") && err.contains("evidence(a, false)"),
            "{queries}: {err}"
        );
    }
}

/// Errors a stage after grounding finds in the model's statements point
/// at them, as grounding's own errors do: evidence of probability zero
/// (it said "evidence has probability zero: evidence(a, true)" with no
/// file or line), and negation through recursion in the fuzzy logics.
#[test]
fn errors_found_after_grounding_are_located() {
    let model = Model::from_source("zero.pl", "0::a.\nevidence(a).\nquery(a).\n").unwrap();
    let err = model.query(&QueryOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "zero.pl:2:1: evidence has probability zero: evidence(a, true)");
    let Error::At { source, .. } = &err else { panic!("{err:?}") };
    assert!(matches!(**source, Error::ImpossibleEvidence(_)), "{source:?}");
    // Several pieces of evidence, impossible together: at the first.
    let model = Model::from_source("two.pl", "0.5::a.\nb :- \\+ a.\nevidence(a).\nevidence(b).\nquery(a).\n").unwrap();
    let err = model.query(&QueryOptions::default()).unwrap_err().to_string();
    assert!(err.starts_with("two.pl:") && err.contains("impossible"), "{err}");

    let source = "0.5::a.\np :- a, \\+ q.\nq :- \\+ p.\nquery(p).\n";
    let model = Model::from_source("cycle.pl", source).unwrap();
    let message = "cycle.pl:3:1: negation through recursion: `q` depends on the negation of `p`, which depends on \
                   `q`; deeplog answers programs whose ground negation is stratified";
    for logic in [Logic::Probability, Logic::Boolean, Logic::Godel, Logic::Product, Logic::Lukasiewicz] {
        let options = QueryOptions { logic: Some(logic), ..QueryOptions::default() };
        assert_eq!(model.query(&options).unwrap_err().to_string(), message, "{logic}");
    }
    let fuzzy = QueryOptions { logic: Some(Logic::Product), ..QueryOptions::default() };
    assert_eq!(model.formulas(&fuzzy).err().map(|e| e.to_string()).as_deref(), Some(message));
    assert_eq!(model.compile(&QueryOptions::default()).err().map(|e| e.to_string()).as_deref(), Some(message));
}

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is missing", dir.display());
        None
    }
}

/// Reference programs deeplog cannot answer yet within the test's budget.
const NOT_YET: &[&str] = &[];

#[test]
fn every_reference_program_is_answered_exactly() {
    let Some(dir) = shared() else { return };
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let options = QueryOptions {
        max_nodes: 10_000_000,
        timeout: Some(std::time::Duration::from_secs(20)),
        ..QueryOptions::default()
    };
    let (mut checked, mut unanswered) = (0, Vec::new());
    for (file, expected) in reference.as_object().unwrap() {
        let start = Instant::now();
        let model = Model::from_file(&dir.join("programs").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = match model.query(&options) {
            Ok(got) => got,
            Err(e) => {
                eprintln!("{file}: not answered: {e}");
                unanswered.push(file.trim_end_matches(".pl").to_string());
                continue;
            }
        };
        for (query, value) in expected["queries"].as_object().unwrap() {
            let want: f64 = value["decimal"].as_str().unwrap().parse().unwrap();
            let answer = got.answers.iter().find(|a| &a.query == query).unwrap_or_else(|| panic!("{file}: no {query}"));
            assert!((answer.value - want).abs() <= 1e-9, "{file} {query}: {} vs {want}", answer.value);
            checked += 1;
        }
        eprintln!("{file}: {:.3} s", start.elapsed().as_secs_f64());
    }
    unanswered.sort();
    assert_eq!(unanswered, NOT_YET, "programs not answered within the budget changed");
    assert!(checked > 40, "only {checked} answers checked");
}
