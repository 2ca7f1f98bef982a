//! Learning parameters: data sampled from known probabilities (fixed seed)
//! give them back within 0.02; query examples with target probabilities;
//! clear errors.

use deeplog::circuits::testing::Rng;
use deeplog::learn::{train, Example, TrainOptions};
use deeplog::Model;

fn learned(source: &str, examples: &[Example], epochs: usize) -> Vec<(String, f64)> {
    let model = Model::from_source("learn.pl", source).unwrap();
    let trained =
        train(&model, examples, &TrainOptions { epochs, learning_rate: 0.05 }).unwrap_or_else(|e| panic!("{e}"));
    let losses = &trained.losses;
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last <= first + 1e-12, "the loss went up: {first} -> {last}");
    trained.parameters.into_iter().map(|p| (p.name, p.value)).collect()
}

fn assert_near(got: &[(String, f64)], want: &[(&str, f64)], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((name, value), (want_name, want_value)) in got.iter().zip(want) {
        assert_eq!(name, want_name);
        assert!((value - want_value).abs() < tolerance, "{name}: learned {value}, true {want_value} ({got:?})");
    }
}

fn observe(atoms: &[(&str, bool)]) -> Example {
    Example::Evidence { evidence: atoms.iter().map(|(a, v)| (a.to_string(), *v)).collect() }
}

#[test]
fn facts_and_an_annotated_disjunction_are_recovered_from_complete_data() {
    let source = "t(0.5)::burglary. t(_)::earthquake.\n\
                  t(_)::colour(red); t(_)::colour(green); t(_)::colour(blue).\n";
    let mut rng = Rng(7);
    let colours = [("colour(red)", 0.2), ("colour(green)", 0.5), ("colour(blue)", 0.1)]; // none: 0.2
    let examples: Vec<Example> = (0..5000)
        .map(|_| {
            let mut seen = vec![("burglary", rng.unit() < 0.3), ("earthquake", rng.unit() < 0.8)];
            let u = rng.unit();
            let mut acc = 0.0;
            let mut chosen = None;
            for (i, (_, p)) in colours.iter().enumerate() {
                acc += p;
                if chosen.is_none() && u < acc {
                    chosen = Some(i);
                }
            }
            seen.extend(colours.iter().enumerate().map(|(i, (c, _))| (*c, chosen == Some(i))));
            observe(&seen)
        })
        .collect();
    let got = learned(source, &examples, 400);
    let want =
        [("burglary", 0.3), ("earthquake", 0.8), ("colour(red)", 0.2), ("colour(green)", 0.5), ("colour(blue)", 0.1)];
    assert_near(&got, &want, 0.02);
}

#[test]
fn a_hidden_cause_is_recovered_from_partial_observations() {
    // `b` is never observed; `c` and `a` are. P(c | ¬a) identifies P(b).
    let source = "t(_)::a. t(_)::b.\nc :- a.\nc :- b.\n";
    let mut rng = Rng(11);
    let examples: Vec<Example> = (0..5000)
        .map(|_| {
            let (a, b) = (rng.unit() < 0.4, rng.unit() < 0.7);
            observe(&[("a", a), ("c", a || b)])
        })
        .collect();
    assert_near(&learned(source, &examples, 400), &[("a", 0.4), ("b", 0.7)], 0.02);
}

#[test]
fn queries_with_target_probabilities() {
    let source = "t(0.5)::x. t(0.5)::y.\nq :- x, y.\n";
    let examples = vec![
        Example::Query { query: "q".to_string(), probability: 0.24 },
        Example::Query { query: "x".to_string(), probability: 0.4 },
    ];
    assert_near(&learned(source, &examples, 600), &[("x", 0.4), ("y", 0.6)], 0.01);
}

#[test]
fn training_errors_say_what_is_wrong() {
    let model = Model::from_source("e.pl", "0.5::x.\n").unwrap();
    let e = train(&model, &[observe(&[("x", true)])], &TrainOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no learnable parameters"), "{e}");
    let model = Model::from_source("e.pl", "t(0.5)::x.\n").unwrap();
    let e = train(&model, &[], &TrainOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no training examples"), "{e}");
    let bad = Example::Query { query: "x(".to_string(), probability: 1.0 };
    let e = train(&model, &[observe(&[("x", true)]), bad], &TrainOptions::default()).unwrap_err();
    assert!(e.to_string().contains("example 2"), "{e}");
    let bad = Example::Query { query: "x".to_string(), probability: 1.5 };
    let e = train(&model, &[bad], &TrainOptions::default()).unwrap_err();
    assert!(e.to_string().contains("not in [0, 1]"), "{e}");
}

/// The example (1-based) and message of a training error.
fn refused(source: &str, examples: &[Example]) -> (usize, String) {
    let model = Model::from_source("learn.pl", source).unwrap();
    match train(&model, examples, &TrainOptions { epochs: 3, learning_rate: 0.05 }) {
        Err(deeplog::Error::Example { index, message }) => (index + 1, message),
        other => panic!("expected an example's error, got {:?}", other.map(|t| t.parameters)),
    }
}

fn query(q: &str, p: f64) -> Example {
    Example::Query { query: q.to_string(), probability: p }
}

#[test]
fn an_example_the_model_cannot_explain_is_refused_by_number() {
    let source = "t(0.5)::a. t(0.3)::b.\nc :- a.\n0.0::z.\nd :- z.\n1.0::w.\ne :- w.\np(1).\n";
    let good = query("c", 0.4);
    let cases: [(Example, &str); 9] = [
        (query("zzz(1)", 1.0), "`zzz/1` is never defined"),
        (observe(&[("zzz", true)]), "`zzz/0` is never defined"),
        (observe(&[("zzz", false)]), "`zzz/0` is never defined"),
        (
            observe(&[("c", true), ("a", false)]),
            "the evidence is impossible: no world of the model has `c` true and `a` false",
        ),
        (observe(&[("p(2)", true)]), "the evidence is impossible: no world of the model has `p(2)` true"),
        (query("d", 1.0), "`d` has probability zero: no world of the model makes it true"),
        (
            query("d", 0.2),
            "`d` has probability zero: no world of the model makes it true, and the example gives it probability 0.2",
        ),
        (query("e", 0.5), "`e` holds in every world of the model, and the example gives it probability 0.5"),
        // Text that closes the query and goes on would add clauses.
        (query("a)). b :- c. query((a", 1.0), "is not a formula"),
    ];
    for (bad, why) in cases {
        let (example, message) = refused(source, &[good.clone(), bad.clone()]);
        assert_eq!(example, 2, "{bad:?}: {message}");
        assert!(message.contains(why), "{bad:?}: {message}");
    }
    // What the model gives probability zero may be observed false, or given 0.
    let model = Model::from_source("learn.pl", source).unwrap();
    let options = TrainOptions { epochs: 3, learning_rate: 0.05 };
    let fine = [good.clone(), query("d", 0.0), observe(&[("p(2)", false)]), query("e", 1.0)];
    assert!(train(&model, &fine, &options).is_ok());
    // A learnable parameter that starts at 0 can move: nothing is refused.
    let model = Model::from_source("learn.pl", "t(0.0)::a.\n").unwrap();
    let trained = train(&model, &[observe(&[("a", true)])], &TrainOptions { epochs: 60, learning_rate: 0.5 }).unwrap();
    assert!(trained.parameters[0].value > 0.5, "{:?}", trained.parameters);
    assert!(trained.losses.iter().all(|l| l.is_finite()), "{:?}", trained.losses);
}

#[test]
fn a_constraint_that_can_never_hold_is_refused() {
    let model = Model::from_source("learn.pl", "t(0.5)::a.\n0.0::z.\nconstraint(z).\n").unwrap();
    let e = train(&model, &[observe(&[("a", true)])], &TrainOptions::default()).unwrap_err();
    assert!(e.to_string().contains("`z` can never hold"), "{e}");
}

#[test]
fn constraints_join_the_loss() {
    // Alone, the examples would make x 0.5; the constraint `x` (semantic
    // loss −ln P(x), weight 0.5 per example-average) pulls it up.
    let source = "t(0.5)::x.\n";
    let examples: Vec<Example> = [true, false].iter().map(|&v| observe(&[("x", v)])).collect();
    let plain = learned(source, &examples, 400);
    assert_near(&plain, &[("x", 0.5)], 0.01);
    let constrained = learned(&format!("{source}0.5::constraint(x).\n"), &examples, 400);
    // Minimise −(ln p + ln(1 − p))/2 − 0.5 ln p: p = 2/3.
    assert_near(&constrained, &[("x", 2.0 / 3.0)], 0.01);
}

#[test]
fn an_empty_interpretation_adds_nothing_to_the_loss() {
    let model = Model::from_source("learn.pl", "t(0.5)::a.\n").unwrap();
    let options = TrainOptions { epochs: 3, learning_rate: 0.05 };
    let only_empty = train(&model, &[observe(&[])], &options).map(|t| t.losses).unwrap_err();
    assert!(only_empty.to_string().contains("none observes anything"), "{only_empty}");
    // Beside an informative example it adds 0, and halves the mean as one
    // of two (it once added 27.6, as if it were impossible).
    let one = train(&model, &[observe(&[("a", true)])], &options).unwrap();
    let with_empty = train(&model, &[observe(&[("a", true)]), observe(&[])], &options).unwrap();
    assert!((with_empty.losses[0] - one.losses[0] / 2.0).abs() < 1e-12, "{:?} {:?}", with_empty.losses, one.losses);
}
