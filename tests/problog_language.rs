//! ProbLog programs as users write them, answered as ProbLog 2.3 answers
//! them (each expected value below is ProbLog's, or worked by hand where
//! ProbLog refuses the construct): non-ground clauses that the call binds,
//! `findall/3` with every solution in proof order, if-then-else.

use deeplog::{Model, QueryOptions};

fn answers(source: &str) -> Vec<(String, f64)> {
    let model = Model::from_source("test.pl", source).unwrap_or_else(|e| panic!("{e}"));
    let answers = model.query(&QueryOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    answers.answers.into_iter().map(|a| (a.query, a.value)).collect()
}

fn assert_answers(source: &str, expected: &[(&str, f64)]) {
    let got = answers(source);
    let names: Vec<&str> = got.iter().map(|(q, _)| q.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|(q, _)| *q).collect();
    assert_eq!(names, want, "{source}");
    for ((q, p), (_, e)) in got.iter().zip(expected) {
        assert!((p - e).abs() <= 1e-12, "{q}: {p}, expected {e}\n{source}");
    }
}

#[test]
fn non_ground_clauses_are_bound_by_their_calls() {
    // One independent coin per instance the program calls.
    assert_answers(
        "0.5::heads(C).\n\
         count([], 0).\n\
         count([C|Cs], N) :- count(Cs, N0), heads(C), N is N0 + 1.\n\
         count([C|Cs], N) :- count(Cs, N), \\+ heads(C).\n\
         query(count([a, b, c], 2)).\n",
        &[("count([a, b, c],2)", 0.375)],
    );
    assert_answers("0.5::b(X).\np(X) :- member(X, [1, 2]), b(X).\nquery(p(_)).\n", &[("p(1)", 0.5), ("p(2)", 0.5)]);
    // A visited list: the head's third argument is bound by the call.
    assert_answers(
        "0.5::edge(a,b). 0.5::edge(b,c). 0.5::edge(c,a). 0.5::edge(a,c).\n\
         path(X, Y) :- path(X, Y, [X]).\n\
         path(X, Y, V) :- edge(X, Y), \\+ member(Y, V).\n\
         path(X, Y, V) :- edge(X, Z), \\+ member(Z, V), path(Z, Y, [Z|V]).\n\
         query(path(a, c)).\n",
        &[("path(a,c)", 0.625)],
    );
}

#[test]
fn an_atom_still_not_ground_where_it_is_reached_is_an_error_at_its_clause() {
    let model = Model::from_source("test.pl", "0.3::broken(X).\nq :- broken(_).\nquery(q).\n").unwrap();
    let e = model.query(&QueryOptions::default()).unwrap_err().to_string();
    assert!(e.contains("test.pl:1:1") && e.contains("not ground") && e.contains("`X`"), "{e}");
}

#[test]
fn findall_collects_every_solution_in_proof_order() {
    // The answer a known bug gave here was `all_p([3,2,1])`.
    assert_answers(
        "0.4::all_p(L) :- findall(X, p(X, _), L).\n\
         p(X, Y) :- between(1, 3, X), q(Y).\nq(a).\nq(b).\n\
         query(all_p(_)).\n",
        &[("all_p([1, 1, 2, 2, 3, 3])", 0.4)],
    );
}

#[test]
fn if_then_else_is_the_condition_or_its_negation() {
    let (a, b, c, d) = (0.3, 0.6, 0.2, 0.5);
    assert_answers(
        "0.3::a. 0.6::b. 0.2::c. 0.5::d.\n\
         q :- (a -> b ; c).\n\
         r :- (a -> b ; c -> d ; true).\n\
         s :- (a -> b).\n\
         t(X) :- member(X, [1, 2, 3]), (X > 1 -> Y = big ; Y = small), Y == big.\n\
         query(q). query(r). query(s). query(t(_)).\n",
        &[
            ("q", a * b + (1.0 - a) * c),
            ("r", a * b + (1.0 - a) * (c * d + (1.0 - c))),
            ("s", a * b),
            ("t(2)", 1.0),
            ("t(3)", 1.0),
        ],
    );
}

#[test]
fn library_lists_predicates_are_there_without_a_definition() {
    assert_answers(
        ":- use_module(library(lists)).\n\
         q(L) :- append([[1], [2, 3]], L).\n\
         r(X) :- nth0(1, [a, b, c], X).\ns(X) :- nth1(1, [a, b, c], X).\n\
         i(I) :- nth0(I, [a, b, c], c).\nt(X) :- last([a, b, c], X).\n\
         u(X) :- reverse([1, 2, 3], X).\nv(X) :- sum_list([1, 2, 3], X).\nw(X) :- sumlist([1, 2.5], X).\n\
         x(X) :- max_list([1, 5, 3], X).\ny(X) :- min_list([4, 2, 3], X).\n\
         a(X) :- select(b, [a, b, c], X).\nd(X) :- list_to_set([a, b, a], X).\n\
         e(X) :- subtract([a, b, c], [b], X).\nf :- memberchk(b, [a, b, c]).\n\
         h(X) :- delete([a, b, a, c], a, X).\nj(L) :- numlist(1, 4, L).\n\
         k(X) :- intersection([a, b, c], [c, a], X).\nl(X) :- union([a, b], [b, c], X).\n\
         query(q(_)). query(r(_)). query(s(_)). query(i(_)). query(t(_)). query(u(_)). query(v(_)).\n\
         query(w(_)). query(x(_)). query(y(_)). query(a(_)). query(d(_)). query(e(_)). query(f).\n\
         query(h(_)). query(j(_)). query(k(_)). query(l(_)).\n",
        &[
            ("q([1, 2, 3])", 1.0),
            ("r(b)", 1.0),
            ("s(a)", 1.0),
            ("i(2)", 1.0),
            ("t(c)", 1.0),
            ("u([3, 2, 1])", 1.0),
            ("v(6)", 1.0),
            ("w(3.5)", 1.0),
            ("x(5)", 1.0),
            ("y(2)", 1.0),
            ("a([a, c])", 1.0),
            ("d([a, b])", 1.0),
            ("e([a, c])", 1.0),
            ("f", 1.0),
            ("h([b, c])", 1.0),
            ("j([1, 2, 3, 4])", 1.0),
            ("k([a, c])", 1.0),
            ("l([a, b, c])", 1.0),
        ],
    );
    // Over probabilistic facts, and a model's own definition wins.
    assert_answers(
        "0.25::coin.\np(1). p(2).\nlast(_, mine).\n\
         big :- coin, findall(X, p(X), L), sum_list(L, S), S > 2.\nl(X) :- last([a], X).\n\
         query(big). query(l(_)).\n",
        &[("big", 0.25), ("l(mine)", 1.0)],
    );
}

#[test]
fn an_explanation_keeps_its_negations_names_rules_by_their_heads_and_keeps_evidence_apart() {
    let explain = |source: &str| {
        let model = Model::from_source("test.pl", source).unwrap_or_else(|e| panic!("{e}"));
        let options = QueryOptions { explain: true, ..QueryOptions::default() };
        let answers = model.query(&options).unwrap_or_else(|e| panic!("{e}"));
        answers.answers.into_iter().map(|a| (a.query, a.value, a.explanation.expect("a proof"))).collect::<Vec<_>>()
    };
    // The proof needs `b` false: 0.3 * 0.1, no more probable than the query.
    let got = explain("0.3::a.\n0.9::b.\nq :- a, \\+ b.\nquery(q).\n");
    let (_, value, e) = &got[0];
    assert_eq!(e.facts, ["a", "\\+b"]);
    assert!((e.probability - 0.03).abs() < 1e-12 && e.probability <= value + 1e-12, "{e:?}");
    // A decision the compiler takes is not part of the proof: `c` alone.
    let got = explain("0.4::a.\n0.5::c.\nq :- a.\nq :- c.\nquery(q).\n");
    assert_eq!(got[0].2.facts, ["c"]);
    assert!((got[0].2.probability - 0.5).abs() < 1e-12);
    // The alarm: the 0.8 rule needs no earthquake; the evidence's part is
    // listed apart; rule choices are named by their heads (and their rank
    // among the head's probabilistic rules where it has several).
    let got = explain(
        "person(john). person(mary).\n0.7::burglary. 0.2::earthquake.\n\
         0.9::alarm :- burglary, earthquake.\n0.8::alarm :- burglary, \\+earthquake.\n\
         0.1::alarm :- \\+burglary, earthquake.\n\
         0.8::calls(X) :- alarm, person(X).\n0.1::calls(X) :- \\+alarm, person(X).\n\
         evidence(calls(john), true).\nquery(calls(mary)).\n",
    );
    let (_, value, e) = &got[0];
    assert_eq!(e.facts, ["calls(mary) (rule 1)"]);
    assert_eq!(e.evidence, ["burglary", "\\+earthquake", "alarm (rule 2)", "calls(john) (rule 1)"]);
    assert!(e.probability <= value + 1e-12, "{e:?} for {value}");
}

#[test]
fn an_explanation_through_an_annotated_disjunction_weighs_the_alternatives_own_probability() {
    // The chain's slot for `y` weighs 0.5 / 0.7; the alternative `y`, 0.5
    // (ProbLog's explain: `r :- \+x, y. % P=0.5`). With only false
    // alternatives, "none of them up to the last" (`\+x, c`: 0.7 · 0.2).
    let explain = |text: &str| {
        let model = Model::from_source("t.pl", text).unwrap();
        let options = QueryOptions { explain: true, ..QueryOptions::default() };
        let answers = model.query(&options).unwrap();
        answers.answers.into_iter().map(|a| a.explanation.expect("a proof")).collect::<Vec<_>>()
    };
    let e = &explain("0.3::x; 0.5::y.\n0.2::c.\nr :- x.\nr :- y.\nr :- c.\nquery(r).\n")[0];
    assert_eq!(e.facts, ["y"]);
    assert!((e.probability - 0.5).abs() < 1e-12, "{e:?}");
    let e = &explain("0.3::x; 0.5::y.\n0.2::c.\nr :- \\+x, c.\nquery(r).\n")[0];
    assert_eq!(e.facts, ["\\+x", "c"]);
    assert!((e.probability - 0.14).abs() < 1e-12, "{e:?}");
}

#[test]
fn maxproduct_ranges_over_whole_worlds_with_annotated_disjunctions_too() {
    // The most probable world where the query holds: the alternatives'
    // own probabilities, the slots after the chosen one summed out (0.3
    // for `x`, not 0.3 · max(5/7, 2/7)).
    let value = |text: &str| {
        let model = Model::from_source("t.pl", text).unwrap();
        let options = QueryOptions { logic: Some(deeplog::Logic::MaxProduct), ..QueryOptions::default() };
        model.query(&options).unwrap().answers[0].value
    };
    assert!((value("0.3::x; 0.5::y.\nr :- x.\nquery(r).\n") - 0.3).abs() < 1e-12);
    assert!((value("0.3::x; 0.5::y.\nr :- x.\nr :- y.\nquery(r).\n") - 0.5).abs() < 1e-12);
    // With a fact beside it: `y` and `c` false, 0.5 · 0.8.
    let v = value("0.2::c.\n0.3::x; 0.5::y.\nr :- x.\nr :- y.\nr :- c.\nquery(r).\n");
    assert!((v - 0.4).abs() < 1e-12, "{v}");
}
