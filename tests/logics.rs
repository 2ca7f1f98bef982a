//! One model, many logics: hand-computed values of small formulas in every
//! logic, DeepLog's documented formulas, the smokers example under each
//! `--logic`, recursion in the fuzzy logics, and gradients against finite
//! differences.

use std::path::Path;

use deeplog::circuits::testing::Rng;
use deeplog::Error;
use deeplog::{Model, QueryOptions};
use deeplog_language::model::Logic;

fn options(logic: Logic) -> QueryOptions {
    QueryOptions { logic: Some(logic), ..QueryOptions::default() }
}

fn values(source: &str, logic: Logic) -> Vec<(String, f64)> {
    let model = Model::from_source("test.pl", source).unwrap_or_else(|e| panic!("{e}"));
    let answers = model.query(&options(logic)).unwrap_or_else(|e| panic!("{logic}: {e}"));
    answers.answers.into_iter().map(|a| (a.query, a.value)).collect()
}

fn assert_values(source: &str, logic: Logic, expected: &[f64]) {
    let got = values(source, logic);
    assert_eq!(got.len(), expected.len(), "{logic}: {got:?}");
    for ((query, value), want) in got.iter().zip(expected) {
        assert!((value - want).abs() < 1e-12, "{logic}: {query} = {value}, expected {want}");
    }
}

/// Connectives, one nested quantifier and the aggregations; their values in
/// each logic are worked out by hand in the comments of `connectives_*`.
const SMALL: &str = "\
0.8::a. 0.4::b.
domain(d, [x, y]).
0.8::p(x). 0.4::p(y). 0.5::q(x). 0.85::q(y).
query(a and b).
query(a or b).
query(a implies b).
query(r_implies(a, b)).
query(s_implies(a, b)).
query(a iff b).
query(not a).
query(forall(X in d, exists(Y in d, p(X) and q(Y)))).
query(pmean(X in d, p(X), 2)).
query(pmean_error(X in d, p(X), 2)).
query(sum(X in d, p(X))).
query(max(X in d, p(X))).
query(min(X in d, p(X))).
query(product(X in d, p(X))).
";

/// The aggregations read atoms as numbers, the same in every logic:
/// pmean = √((0.64 + 0.16)/2), pmean_error = 1 − √((0.04 + 0.36)/2).
const AGGREGATES: [f64; 6] = [0.632_455_532_033_675_9, 0.552_786_404_500_042_1, 1.2, 0.8, 0.4, 0.32];

fn with_aggregates(first: &[f64]) -> Vec<f64> {
    first.iter().chain(&AGGREGATES).copied().collect()
}

#[test]
fn connectives_in_godel_logic() {
    // min, max, Gödel implication (0.8 > 0.4: 0.4), its residuum, Kleene–
    // Dienes max(0.2, 0.4), iff = min(0.4, 1), 1 − 0.8; the nested formula:
    // X = x: max(min(.8, .5), min(.8, .85)) = .8, X = y: .4; min = 0.4.
    let expected = with_aggregates(&[0.4, 0.8, 0.4, 0.4, 0.4, 0.4, 1.0 - 0.8, 0.4]);
    assert_values(SMALL, Logic::Godel, &expected);
}

#[test]
fn connectives_in_product_logic() {
    // 0.32, 0.8 + 0.4 − 0.32, Reichenbach 1 − 0.8 + 0.32, Goguen 0.4/0.8,
    // Reichenbach again, iff = 0.52 · (1 − 0.4 + 0.32); nested: X = x:
    // S(0.4, 0.68) = 0.808, X = y: S(0.2, 0.34) = 0.472; product 0.381376.
    let expected = with_aggregates(&[0.32, 0.88, 0.52, 0.5, 0.52, 0.52 * 0.92, 1.0 - 0.8, 0.808 * 0.472]);
    let got = values(SMALL, Logic::Product);
    for ((q, v), want) in got.iter().zip(&expected) {
        assert!((v - want).abs() < 1e-12, "{q} = {v}, expected {want}");
    }
}

#[test]
fn connectives_in_lukasiewicz_logic() {
    // max(0, 0.2), min(1, 1.2), min(1, 1 − 0.8 + 0.4) three times, iff =
    // T(0.6, 1); nested: X = x: min(1, 0.3 + 0.65) = 0.95, X = y:
    // 0 + 0.25; T(0.95, 0.25) = 0.2.
    let expected = with_aggregates(&[0.2, 1.0, 0.6, 0.6, 0.6, 0.6, 1.0 - 0.8, 0.2]);
    let got = values(SMALL, Logic::Lukasiewicz);
    for ((q, v), want) in got.iter().zip(&expected) {
        assert!((v - want).abs() < 1e-12, "{q} = {v}, expected {want}");
    }
}

#[test]
fn connectives_in_probability_logic() {
    // Independent facts: P(a ∧ b), P(a ∨ b), P(¬a ∨ b) = 1 − 0.8 · 0.6 for
    // all three implications, P(a ↔ b) = 0.32 + 0.2 · 0.6, P(¬a); nested:
    // P(p(x) ∧ p(y) ∧ (q(x) ∨ q(y))) = 0.32 · (1 − 0.5 · 0.15).
    let expected = with_aggregates(&[0.32, 0.88, 0.52, 0.52, 0.52, 0.44, 1.0 - 0.8, 0.32 * 0.925]);
    let got = values(SMALL, Logic::Probability);
    for ((q, v), want) in got.iter().zip(&expected) {
        assert!((v - want).abs() < 1e-12, "{q} = {v}, expected {want}");
    }
    // Log-probability is its logarithm; boolean says whether it is possible.
    let logs = values(SMALL, Logic::LogProbability);
    for ((q, v), want) in logs.iter().zip(&expected).take(8) {
        assert!((v - want.ln()).abs() < 1e-12, "{q} = {v}, expected ln {want}");
    }
    let possible = values("0.5::a.\nquery(a and not a).\nquery(a or not a).\n", Logic::Boolean);
    assert_eq!(possible.iter().map(|p| p.1).collect::<Vec<_>>(), [0.0, 1.0]);
}

#[test]
fn truth_tables_of_the_fuzzy_connectives_are_boolean_on_crisp_inputs() {
    for logic in [Logic::Godel, Logic::Product, Logic::Lukasiewicz] {
        for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let source = format!(
                "{a}::a. {b}::b.\nquery(a and b).\nquery(a or b).\nquery(a implies b).\nquery(r_implies(a, b)).\n\
                 query(s_implies(a, b)).\nquery(a iff b).\nquery(not a).\n"
            );
            let (a, b) = (a == 1, b == 1);
            let want = [a && b, a || b, !a || b, !a || b, !a || b, a == b, !a].map(|t| f64::from(u8::from(t)));
            assert_values(&source, logic, &want);
        }
    }
}

#[test]
fn deeplogs_documented_counts() {
    // DeepLog's model counting: A ∨ B has 3 models.
    let count = "query(sum(A in bool, sum(B in bool, (A or B)_probability))).\n";
    // Weighted model counting: the sum over interpretations of the formula
    // moved into probability times each interpretation's weight.
    let wmc = "0.1::burglary. 0.2::earthquake.\n\
               query(sum(B in bool, sum(E in bool, (B or E)_probability * (B iff burglary)_probability \
               * (E iff earthquake)_probability))).\nquery(burglary or earthquake).\n";
    for logic in [Logic::Probability, Logic::Godel, Logic::Product, Logic::Lukasiewicz] {
        assert_values(count, logic, &[3.0]);
        let got = values(wmc, logic);
        assert!((got[0].1 - 0.28).abs() < 1e-12, "{logic}: {got:?}");
    }
    assert!((values(wmc, Logic::Probability)[1].1 - 0.28).abs() < 1e-12);
}

#[test]
fn annotations_move_parts_between_logics() {
    let source = "0.8::a. 0.4::b.\n\
                  query((a and b)_godel * 2).\n\
                  query((a and b)_probability + (a and b)_lukasiewicz).\n\
                  query((a)_probability and b).\n";
    // In product logic: 2 · min; 0.32 + 0.2; the third: the product t-norm
    // of a probability and a truth value.
    assert_values(source, Logic::Product, &[0.8, 0.52, 0.32]);
    // In probability logic the first two are the same numbers; the third
    // puts a number under `and`, which is refused with the reason.
    let model = Model::from_source("t.pl", source).unwrap();
    let e = model.query(&options(Logic::Probability)).unwrap_err();
    assert!(e.to_string().contains("combine numbers with `*` and `+`"), "{e}");
    assert_values("0.8::a. 0.4::b.\nquery((a and b)_godel * 2).\n", Logic::Probability, &[0.8]);
}

fn smokers() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/smokers/smokers.pl")).unwrap()
}

#[test]
fn smokers_in_every_logic_without_edits() {
    let source = smokers();
    // Probability: the atom queries equal those of the same model without
    // its formula queries, which takes the compiled-circuit path that is
    // checked against ProbLog.
    let atoms_only: String = source.lines().filter(|l| !l.contains(" in person")).map(|l| format!("{l}\n")).collect();
    let reference = values(&atoms_only, Logic::Probability);
    let got = values(&source, Logic::Probability);
    assert_eq!(reference.len(), 3);
    for ((q, v), (_, r)) in got.iter().zip(&reference) {
        assert!((v - r).abs() < 1e-12, "{q}: {v} vs {r}");
    }
    // The formula queries, against the equivalent rules.
    let with_rules = format!(
        "{atoms_only}some_asthma :- asthma(X).\nbad(X) :- person(X), smokes(X), \\+ asthma(X).\nsome_bad :- bad(X).\n\
         query(some_asthma).\nquery(some_bad).\n"
    );
    let rules = values(&with_rules, Logic::Probability);
    assert!((got[3].1 - rules[3].1).abs() < 1e-12, "{} vs {}", got[3].1, rules[3].1);
    assert!((got[4].1 - (1.0 - rules[4].1)).abs() < 1e-12, "{} vs {}", got[4].1, 1.0 - rules[4].1);
    // Fuzzy: stress 0.3 beats every influence (0.2 · smokes), so every
    // smokes is 0.3; asthma is T(0.4, 0.3).
    let product_asthma: f64 = 0.4 * 0.3;
    assert_values(&source, Logic::Godel, &[0.3, 0.3, 0.3, 0.3, 1.0]);
    assert_values(
        &source,
        Logic::Product,
        &[0.3, 0.3, product_asthma, 1.0 - (1.0 - product_asthma).powi(4), (1.0 - 0.3 + 0.3 * product_asthma).powi(4)],
    );
    assert_values(&source, Logic::Lukasiewicz, &[0.3, 0.3, 0.0, 0.0, 0.0]);
}

#[test]
fn fuzzy_recursion_takes_the_best_derivation() {
    let graph =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/graph.pl")).unwrap();
    // path(1,5), path(1,6), path(5,5) on a graph with a cycle through 5 → 1:
    // Gödel: the widest path; product: the most probable path; Łukasiewicz:
    // a path of two edges 0.6, 0.4 is already 0.
    assert_values(&graph, Logic::Godel, &[0.4, 0.3, 0.4]);
    assert_values(&graph, Logic::Product, &[0.6 * 0.4, 0.6 * 0.3, 0.5 * 0.6 * 0.4]);
    assert_values(&graph, Logic::Lukasiewicz, &[0.0, 0.0, 0.0]);
}

#[test]
fn constraints_report_their_value_and_loss() {
    let source = "0.8::a. 0.4::b.\nconstraint(a implies b).\n0.5::constraint(a or b).\nquery(a).\n";
    let model = Model::from_source("c.pl", source).unwrap();
    let fuzzy = model.query(&options(Logic::Product)).unwrap();
    let truths: Vec<f64> = fuzzy.constraints.iter().map(|c| c.value).collect();
    assert!((truths[0] - 0.52).abs() < 1e-12 && (truths[1] - 0.88).abs() < 1e-12, "{truths:?}");
    assert!((fuzzy.loss.unwrap() - (0.48 + 0.5 * 0.12)).abs() < 1e-12);
    let probability = model.query(&options(Logic::Probability)).unwrap();
    let want = -(0.52f64.ln()) - 0.5 * 0.88f64.ln();
    assert!((probability.loss.unwrap() - want).abs() < 1e-12, "{:?}", probability.loss);
}

/// Central differences of `f` at `x` in every coordinate.
fn finite_differences(x: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let h = 1e-6;
    (0..x.len())
        .map(|i| {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[i] += h;
            down[i] -= h;
            (f(&up) - f(&down)) / (2.0 * h)
        })
        .collect()
}

#[test]
fn gradients_match_finite_differences_in_every_logic() {
    // Inputs away from the kinks of min, max and the bounded sums.
    let source = "0.7::a. 0.35::b. 0.55::c.\ndomain(d, [x, y]).\n0.6::p(x). 0.3::p(y).\n\
                  0.45::e(x, y). 0.25::e(y, x).\n\
                  r(X) :- p(X). r(Y) :- e(X, Y), r(X).\n0.3::col(red); 0.5::col(blue).\n\
                  query(col(red) or (col(blue) and a)).\n\
                  query((a and b) or c).\nquery(a implies (b iff c)).\nquery(r_implies(b, a)).\n\
                  query(forall(X in d, exists(Y in d, e(X, Y) or r(Y)))).\n\
                  query(pmean_error(X in d, r(X), 2) * pmean(X in d, p(X), 3)).\n\
                  constraint(forall(X in d, r(X) implies p(X))).\n0.5::constraint(exists(X in d, not r(X))).\n";
    let model = Model::from_source("g.pl", source).unwrap();
    for logic in [Logic::Probability, Logic::Godel, Logic::Product, Logic::Lukasiewicz] {
        let formulas = model.formulas(&options(logic)).unwrap();
        let x = formulas.initial_values();
        for q in 0..formulas.queries().len() {
            let (_, grad) = formulas.query_gradient(&x, q).unwrap();
            let fd = finite_differences(&x, |x| formulas.evaluate(x).unwrap().queries[q]);
            for (i, (g, f)) in grad.iter().zip(&fd).enumerate() {
                assert!((g - f).abs() < 1e-6, "{logic}, query {q}, input {i}: {g} vs {f}");
            }
        }
        let (_, grad) = formulas.loss_gradient(&x).unwrap();
        let fd = finite_differences(&x, |x| formulas.evaluate(x).unwrap().loss);
        for (i, (g, f)) in grad.iter().zip(&fd).enumerate() {
            assert!((g - f).abs() < 1e-6, "{logic}, loss, input {i}: {g} vs {f}");
        }
    }
}

#[test]
fn errors_are_clear() {
    let model = Model::from_source("e.pl", "0.5::a.\nquery(a and b).\n").unwrap();
    let e = model.query(&options(Logic::Counting)).unwrap_err();
    assert!(e.to_string().contains("not supported in the counting logic"), "{e}");
    assert!(matches!(
        Model::from_source("e.pl", "query(forall(X in nowhere, p(X))).\n").unwrap().query(&options(Logic::Godel)),
        Err(Error::Ground { .. })
    ));
}

#[test]
fn a_query_may_name_its_own_logic() {
    let source = "0.8::a. 0.4::b.\nquery(a and b).\nquery(a and b, logic(godel)).\nquery(a, logic(log_probability)).\n";
    let model = Model::from_source("q.pl", source).unwrap();
    let answers = model.query(&QueryOptions::default()).unwrap();
    let got: Vec<(f64, Option<Logic>)> = answers.answers.iter().map(|a| (a.value, a.logic)).collect();
    assert!((got[0].0 - 0.32).abs() < 1e-12 && got[0].1.is_none(), "{got:?}");
    assert!((got[1].0 - 0.4).abs() < 1e-12 && got[1].1 == Some(Logic::Godel), "{got:?}");
    assert!((got[2].0 - 0.8f64.ln()).abs() < 1e-12 && got[2].1 == Some(Logic::LogProbability), "{got:?}");
    // `--logic` overrides every query's own.
    assert_values(source, Logic::Product, &[0.32, 0.32, 0.8]);
}

#[test]
fn the_gpu_agrees_with_the_cpu_in_every_logic() {
    let Some(gpu) = deeplog_gpu::gpu_for_tests() else { return };
    let model = Model::from_source(
        "s.pl",
        &(smokers() + &SMALL.replace("0.8::a. 0.4::b.", "0.8::a. 0.4::b.\nconstraint(a implies b).")),
    )
    .unwrap();
    for logic in [Logic::Probability, Logic::Godel, Logic::Product, Logic::Lukasiewicz] {
        let cpu = model.formulas(&options(logic)).unwrap();
        let on_gpu = model.formulas(&options(logic)).unwrap().on_gpu(&gpu).unwrap();
        assert_ne!(on_gpu.device(), "cpu");
        let x = cpu.initial_values();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * a.abs().max(1.0);
        let (want, want_grad) = cpu.loss_gradient(&x).unwrap();
        let (got, got_grad) = on_gpu.loss_gradient(&x).unwrap();
        for (i, (a, b)) in want.queries.iter().zip(&got.queries).enumerate() {
            assert!(close(*a, *b), "{logic}: query {i}: cpu {a}, gpu {b}");
        }
        assert!(close(want.loss, got.loss), "{logic}: loss cpu {}, gpu {}", want.loss, got.loss);
        for (i, (a, b)) in want_grad.iter().zip(&got_grad).enumerate() {
            assert!(close(*a, *b), "{logic}: gradient {i}: cpu {a}, gpu {b}");
        }
        for q in [0, 5] {
            let (_, a) = cpu.query_gradient(&x, q).unwrap();
            let (_, b) = on_gpu.query_gradient(&x, q).unwrap();
            for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                assert!(close(*a, *b), "{logic}: query {q}, gradient {i}: cpu {a}, gpu {b}");
            }
        }
    }
}

#[test]
fn a_batch_evaluates_like_its_columns_on_cpu_and_gpu() {
    let source = format!("{}constraint(forall(X in person, smokes(X) implies asthma(X))).\n", smokers());
    let model = Model::from_source("b.pl", &source).unwrap();
    let gpu = deeplog_gpu::gpu_for_tests();
    for logic in [Logic::Probability, Logic::Product] {
        let mut devices = vec![model.formulas(&options(logic)).unwrap()];
        if let Some(gpu) = &gpu {
            devices.push(model.formulas(&options(logic)).unwrap().on_gpu(gpu).unwrap());
        }
        for formulas in &devices {
            let base = formulas.initial_values();
            let (n, batch) = (base.len(), 3);
            // Column b scales every input by (1 - 0.2 b).
            let column = |b: usize| base.iter().map(|&x| x * (1.0 - 0.2 * b as f64)).collect::<Vec<f64>>();
            let matrix: Vec<f64> = (0..n * batch).map(|k| column(k % batch)[k / batch]).collect();
            let (evaluations, grads) = formulas.loss_gradient_batch(&matrix, batch).unwrap();
            for b in 0..batch {
                let (one, g) = formulas.loss_gradient(&column(b)).unwrap();
                let close = |x: f64, y: f64| (x - y).abs() <= 1e-5 * x.abs().max(1.0);
                assert!(close(one.loss, evaluations[b].loss), "{logic} {}: column {b}", formulas.device());
                for (q, (x, y)) in one.queries.iter().zip(&evaluations[b].queries).enumerate() {
                    assert!(close(*x, *y), "{logic} {}: column {b}, query {q}: {x} vs {y}", formulas.device());
                }
                for i in 0..n {
                    assert!(close(g[i], grads[i * batch + b]), "{logic} {}: column {b}, input {i}", formulas.device());
                }
            }
            assert!(formulas.evaluate_batch(&matrix, 2).is_err());
        }
    }
}

/// A rule's body is the t-norm of its literals as written: `p :- a, \+ a`
/// is `a and not a`, `q :- a, a` is `a and a` (they answered 0 and 0.6 in
/// every fuzzy logic, the boolean readings).
#[test]
fn a_rule_body_is_the_tnorm_of_its_literals_as_written() {
    let source = "0.6::a.\np :- a, \\+ a.\nq :- a, a.\nquery(p).\nquery(q).\nquery(a and not a).\nquery(a and a).\n";
    assert_values(source, Logic::Godel, &[0.4, 0.6, 0.4, 0.6]);
    assert_values(source, Logic::Product, &[0.24, 0.36, 0.24, 0.36]);
    assert_values(source, Logic::Lukasiewicz, &[0.0, 0.2, 0.0, 0.2]);
    assert_values(source, Logic::Probability, &[0.0, 0.6, 0.0, 0.6]);
    let model = format!(":- logic(product).\n{source}");
    assert_values(&model, Logic::Product, &[0.24, 0.36, 0.24, 0.36]);
}

/// A random acyclic program over facts `f0..` and derived atoms `d0..`,
/// each derived atom with one rule whose body draws literals from the
/// facts and earlier derived atoms and often repeats or negates one of
/// them; the facts' values and each rule's body, for a reference.
struct Random {
    text: String,
    facts: Vec<f64>,
    /// Per derived atom: its body, `(atom, positive)` with facts first
    /// (`atom < facts.len()`) and derived atoms after them.
    bodies: Vec<Vec<(usize, bool)>>,
}

fn random_program(rng: &mut Rng) -> Random {
    let facts: Vec<f64> = (0..2 + rng.below(3)).map(|_| 0.05 + 0.9 * rng.unit()).collect();
    let name = |a: usize| if a < facts.len() { format!("f{a}") } else { format!("d{}", a - facts.len()) };
    let mut text: String = facts.iter().enumerate().map(|(i, p)| format!("{p}::f{i}.\n")).collect();
    let mut bodies = Vec::new();
    for d in 0..2 + rng.below(4) {
        let before = facts.len() + d;
        let mut body: Vec<(usize, bool)> =
            (0..1 + rng.below(2)).map(|_| (rng.below(before), rng.below(3) > 0)).collect();
        for _ in 0..1 + rng.below(2) {
            let (atom, positive) = body[rng.below(body.len())];
            body.push((atom, if rng.below(2) == 0 { positive } else { !positive }));
        }
        let literal = |&(a, positive): &(usize, bool)| if positive { name(a) } else { format!("\\+ {}", name(a)) };
        text.push_str(&format!("d{d} :- {}.\n", body.iter().map(literal).collect::<Vec<_>>().join(", ")));
        bodies.push(body);
    }
    for (d, body) in bodies.iter().enumerate() {
        let literal = |&(a, positive): &(usize, bool)| if positive { name(a) } else { format!("not {}", name(a)) };
        let formula = body.iter().map(literal).collect::<Vec<_>>().join(" and ");
        text.push_str(&format!("query(d{d}).\nquery({formula}).\n"));
    }
    Random { text, facts, bodies }
}

/// Every value of `program` under t-norm `logic`, facts first.
fn reference_values(program: &Random, logic: Logic) -> Vec<f64> {
    let mut values = program.facts.clone();
    for body in &program.bodies {
        let literals: Vec<f64> =
            body.iter().map(|&(a, positive)| if positive { values[a] } else { 1.0 - values[a] }).collect();
        values.push(match logic {
            Logic::Godel => literals.iter().copied().fold(1.0, f64::min),
            Logic::Product => literals.iter().product(),
            Logic::Lukasiewicz => (literals.iter().sum::<f64>() - (literals.len() - 1) as f64).max(0.0),
            _ => unreachable!("a fuzzy logic"),
        });
    }
    values
}

/// Rules answer as their bodies' formulas and as a reference t-norm
/// evaluator, on random programs whose bodies repeat and negate atoms; and
/// where a body is read as written (a fuzzy query among probabilistic
/// ones), the probabilities stay those of the boolean reading.
#[test]
fn random_rules_answer_as_their_bodies_written_as_formulas() {
    let mut rng = Rng(2026);
    for round in 0..40 {
        let program = random_program(&mut rng);
        for logic in [Logic::Godel, Logic::Product, Logic::Lukasiewicz] {
            let got = values(&program.text, logic);
            let reference = reference_values(&program, logic);
            for (d, pair) in got.chunks(2).enumerate() {
                let [(rule, by_rule), (formula, by_formula)] = pair else { unreachable!("two queries per atom") };
                let want = reference[program.facts.len() + d];
                assert!(
                    (by_rule - by_formula).abs() < 1e-12 && (by_rule - want).abs() < 1e-12,
                    "round {round}, {logic}: {rule} = {by_rule}, {formula} = {by_formula}, reference {want}\n{}",
                    program.text
                );
            }
        }
        let boolean = values(&program.text, Logic::Probability);
        let mixed = Model::from_source("mixed.pl", &format!("{}query(d0, logic(product)).\n", program.text)).unwrap();
        let as_written = mixed.query(&QueryOptions::default()).unwrap();
        assert_eq!(as_written.answers.len(), boolean.len() + 1);
        for ((query, p), a) in boolean.iter().zip(&as_written.answers) {
            assert!(
                (p - a.value).abs() < 1e-12,
                "round {round}: {query} = {p}, read as written {}\n{}",
                a.value,
                program.text
            );
        }
    }
}
