//! Grounding: small programs whose ground programs can be checked by hand,
//! the limits and errors, and every shared benchmark program.

use std::path::Path;
use std::time::Instant;

use deeplog_language::ground::{ground, Bodies, GroundError, GroundProgram, Limits};
use deeplog_language::model::{lower, Logic};
use deeplog_language::{check_source, parse};
use deeplog_program::{AtomId, Choice as GroundChoice, FormulaId};

/// Grounds `source`; every program the grounder emits keeps the ground
/// program's invariants (`GroundProgram::check`).
fn grounded_with(source: &str, limits: &Limits) -> Result<GroundProgram, GroundError> {
    let checked = check_source(source);
    if checked.has_errors() {
        panic!("{source}\n{:#?}", checked.diagnostics);
    }
    let program = ground(checked.model.as_ref().expect("a model"), limits, Bodies::Boolean)?;
    if let Err(broken) = program.check() {
        panic!("{source}\n{broken}\n{program}");
    }
    Ok(program)
}

fn grounded(source: &str) -> GroundProgram {
    grounded_with(source, &Limits::default()).unwrap_or_else(|e| panic!("{source}\n{e}"))
}

/// Grounds without the checker, for programs the checker rejects.
fn grounded_unchecked(source: &str) -> Result<GroundProgram, GroundError> {
    let (model, _) = lower(parse(source).expect("parses"));
    ground(&model, &Limits::default(), Bodies::Boolean)
}

fn error_of(source: &str) -> GroundError {
    match grounded_with(source, &Limits::default()) {
        Ok(p) => panic!("expected an error, got\n{p}"),
        Err(e) => e,
    }
}

fn queries(p: &GroundProgram) -> Vec<(String, bool)> {
    p.queries.iter().map(|q| (p.query_text(q), q.atom_id().is_some())).collect()
}

fn owned(expected: &[(&str, bool)]) -> Vec<(String, bool)> {
    expected.iter().map(|&(q, possible)| (q.to_string(), possible)).collect()
}

/// Every atom of `p`, printed.
fn atom_texts(p: &GroundProgram) -> Vec<String> {
    (0..p.atoms.len()).map(|a| p.atom_text(AtomId::from_index(a))).collect()
}

#[test]
fn probabilistic_facts_and_a_rule() {
    let p = grounded("0.3::a.\n0.4::b.\n0.5::unused.\nc :- a, b.\nquery(c).\n");
    assert_eq!(p.to_string(), "0.3::a.\n0.4::b.\nc :- a, b.\nquery(c).\n");
    assert_eq!(atom_texts(&p), ["a", "b", "c"]);
}

#[test]
fn annotated_disjunction_fact_uses_its_heads() {
    let p = grounded("0.3::a(s); 0.7::a(t).\nquery(a(s)).\n");
    assert_eq!(p.choices, [GroundChoice::Disjunction { atoms: vec![(AtomId::new(0), 0.3), (AtomId::new(1), 0.7)] }]);
    assert_eq!(atom_texts(&p), ["a(s)", "a(t)"]);
    assert!(p.rules.is_empty());
    assert_eq!(queries(&p), owned(&[("a(s)", true)]));
}

#[test]
fn annotated_disjunction_in_a_rule_head_shares_one_choice_per_body_instance() {
    let p =
        grounded("0.5::x(1).\n0.5::x(2).\n0.2::h(X, r); 0.3::h(X, g) :- x(X).\nq :- h(1, r), h(1, g).\nquery(q).\n");
    assert_eq!(
        p.to_string(),
        "0.5::x(1).\n\
         0.2::choice(2,0,[X=1]); 0.3::choice(2,1,[X=1]).\n\
         h(1,r) :- x(1), choice(2,0,[X=1]).\n\
         h(1,g) :- x(1), choice(2,1,[X=1]).\n\
         q :- h(1,r), h(1,g).\n\
         query(q).\n"
    );
}

#[test]
fn annotated_disjunction_whose_head_has_another_definition_gets_fresh_atoms() {
    let p = grounded("0.3::a; 0.7::b.\n0.2::c.\na :- c.\nquery(a).\n");
    assert_eq!(p.to_string(), "0.3::choice(0,0,[]); 0.7::b.\n0.2::c.\na :- c.\na :- choice(0,0,[]).\nquery(a).\n");
}

#[test]
fn two_probabilistic_facts_on_one_atom_are_independent() {
    let p = grounded("0.3::a.\n0.4::a.\nquery(a).\n");
    assert_eq!(p.choices.len(), 2);
    assert_eq!(p.rules.len(), 2);
    assert!(p.rules.iter().all(|r| r.body.len() == 1 && p.atom_text(r.head) == "a"));
}

#[test]
fn non_ground_probabilistic_rule_is_one_independent_choice_per_instance() {
    let p = grounded(
        "person(ann).\nperson(bob).\n0.2::stressed(X) :- person(X).\nquery(stressed(ann)).\nquery(stressed(bob)).\n",
    );
    assert_eq!(
        p.to_string(),
        "0.2::stressed(ann).\n0.2::stressed(bob).\nquery(stressed(ann)).\nquery(stressed(bob)).\n"
    );

    // With an uncertain body, the choice is a fresh atom beside it.
    let p = grounded("0.5::person(ann).\n0.2::stressed(X) :- person(X).\nquery(stressed(ann)).\n");
    assert_eq!(
        p.to_string(),
        "0.5::person(ann).\n0.2::choice(1,0,[X=ann]).\nstressed(ann) :- person(ann), choice(1,0,[X=ann]).\nquery(stressed(ann)).\n"
    );

    // Every variable of the clause counts, as in ProbLog: two instances.
    let p = grounded("b(1).\nb(2).\n0.2::h :- b(X).\nquery(h).\n");
    assert_eq!(p.to_string(), "0.2::choice(2,0,[X=1]).\n0.2::choice(2,0,[X=2]).\nh :- choice(2,0,[X=1]).\nh :- choice(2,0,[X=2]).\nquery(h).\n");
}

#[test]
fn learnable_probabilities_ground_like_their_initial_value() {
    let p = grounded("t(0.25)::a.\nt(_)::b.\nc :- a, b.\nquery(c).\n");
    assert_eq!(p.to_string(), "0.25::a.\n0.5::b.\nc :- a, b.\nquery(c).\n");
}

#[test]
fn negation_of_a_probabilistic_atom_is_kept() {
    let p = grounded("0.3::rain.\ndry :- \\+ rain.\nquery(dry).\n");
    assert_eq!(p.to_string(), "0.3::rain.\ndry :- \\+rain.\nquery(dry).\n");
    let p = grounded("0.3::rain.\ndry :- not(rain).\nquery(dry).\n");
    assert_eq!(p.to_string(), "0.3::rain.\ndry :- \\+rain.\nquery(dry).\n");
}

#[test]
fn negation_of_certain_atoms() {
    // `\+ b` with `b` never derivable holds: `a` is certain.
    let p = grounded_unchecked("a :- \\+ b.\nquery(a).\n").unwrap();
    assert_eq!(p.to_string(), "a.\nquery(a).\n");
    // `\+ b` with `b` certain fails: `a` is certainly false.
    let p = grounded("b.\na :- \\+ b.\nquery(a).\n");
    assert_eq!(queries(&p), owned(&[("a", false)]));
    assert!(p.rules.is_empty() && p.atoms.is_empty());
}

#[test]
fn negation_of_a_conjunction_with_local_variables() {
    let p = grounded(
        "0.5::e(1,2).\nnode(1).\nnode(2).\nnode(3).\nsource(X) :- node(X), \\+ (e(Y, X), node(Y)).\nquery(source(X)).\n",
    );
    let texts: Vec<String> = p.queries.iter().map(|q| p.query_text(q)).collect();
    assert_eq!(texts, ["source(1)", "source(2)", "source(3)"]);
    // source(2) depends on the negation of an auxiliary atom for `e(Y, 2)`.
    let s2 = AtomId::from_index(atom_texts(&p).iter().position(|a| a == "source(2)").unwrap());
    let rule = p.rules.iter().find(|r| r.head == s2).unwrap();
    assert_eq!(rule.body.len(), 1);
    assert!(!rule.body[0].1);
    // source(1) and source(3) are certain.
    assert!(p.rules.iter().filter(|r| r.body.is_empty()).count() == 2);
}

#[test]
fn stratified_negation_waits_for_the_lower_stratum() {
    let p = grounded(
        "0.4::e(a,b).\n0.4::e(b,c).\nr(X,Y) :- e(X,Y).\nr(X,Y) :- e(X,Z), r(Z,Y).\nn(X,Y) :- node(X), node(Y), \\+ r(X,Y).\nnode(a).\nnode(c).\nquery(n(a,c)).\nquery(n(c,a)).\n",
    );
    assert_eq!(queries(&p), owned(&[("n(a,c)", true), ("n(c,a)", true)]));
    // n(c,a) is certain: r(c,a) is never derivable.
    let nca = p.queries[1].atom_id().unwrap();
    assert!(p.rules.iter().any(|r| r.head == nca && r.body.is_empty()));
    let nac = p.queries[0].atom_id().unwrap();
    let rule = p.rules.iter().find(|r| r.head == nac).unwrap();
    assert_eq!(p.atom_text(rule.body[0].0), "r(a,c)");
    assert!(!rule.body[0].1);
}

#[test]
fn negation_through_recursion_is_grounded_per_atom() {
    // win/1 negates itself, but no ground atom depends on its own negation.
    let p = grounded(
        "0.5::move(a,b).\n0.6::move(b,c).\n0.7::move(a,c).\nwin(X) :- move(X,Y), \\+ win(Y).\n\
         query(win(a)).\nquery(win(b)).\nquery(win(c)).\n",
    );
    assert_eq!(queries(&p), owned(&[("win(a)", true), ("win(b)", true), ("win(c)", false)]));
    let name = |a: AtomId| p.atom_text(a);
    let mut rules: Vec<String> = p
        .rules
        .iter()
        .map(|r| {
            let body: Vec<String> =
                r.body.iter().map(|&(a, pos)| format!("{}{}", if pos { "" } else { "\\+" }, name(a))).collect();
            format!("{} :- {}", name(r.head), body.join(", "))
        })
        .collect();
    rules.sort();
    // win(c) is never derived, so its negation holds and leaves the body;
    // win(b) is derived after win(a)'s rule was reached, and stays.
    assert_eq!(rules, ["win(a) :- move(a,b), \\+win(b)", "win(a) :- move(a,c)", "win(b) :- move(b,c)"]);
}

#[test]
fn arithmetic_and_list_builtins() {
    let p = grounded("n(X) :- between(1, 5, X), X mod 2 =:= 1.\nquery(n(X)).\n");
    assert_eq!(queries(&p), owned(&[("n(1)", true), ("n(3)", true), ("n(5)", true)]));

    let p = grounded("sq(X, Y) :- between(1, 3, X), Y is X * X.\nquery(sq(3, Y)).\nquery(sq(2, 5)).\n");
    assert_eq!(queries(&p), owned(&[("sq(3,9)", true), ("sq(2,5)", false)]));

    let p = grounded("m(X) :- member(X, [a, f(b), [1, 2]]).\nquery(m(X)).\n");
    assert_eq!(queries(&p), owned(&[("m([1, 2])", true), ("m(a)", true), ("m(f(b))", true)]));

    let p = grounded("s(A, B) :- append(A, B, [1, 2]).\nquery(s(A, B)).\n");
    assert_eq!(queries(&p), owned(&[("s([1, 2],[])", true), ("s([1],[2])", true), ("s([],[1, 2])", true)]));

    let p = grounded("c(L) :- append([x], [y, z], L).\nl(N) :- c(L), length(L, N).\nquery(l(N)).\n");
    assert_eq!(queries(&p), owned(&[("l(3)", true)]));

    let p = grounded("f(X, Y) :- Y = 1, X = g(Y, 2).\nk(X) :- f(g(X, 2), X).\nquery(k(X)).\n");
    assert_eq!(queries(&p), owned(&[("k(1)", true)]));

    let p = grounded(
        "v(X) :- member(X, [1, 2.5, -3, 7]), X >= 0, X =\\= 7, X \\== 2.5, succ(X, S), plus(S, 1, T), T < 10.\nquery(v(X)).\n",
    );
    assert_eq!(queries(&p), owned(&[("v(1)", true)]));

    let p = grounded("d(X) :- X is 7 / 2.\ne(X) :- X is 6 / 2.\nf(X) :- X is -7 // 2 + -7 mod 2 + 2 ** 3 + max(1, 2.0) + abs(-1).\nquery(d(X)).\nquery(e(X)).\nquery(f(X)).\n");
    // As ProbLog (Python): `/` makes a float, `//` rounds down.
    assert_eq!(queries(&p), owned(&[("d(3.5)", true), ("e(3.0)", true), ("f(8.0)", true)]));

    let p = grounded("p(1).\np(2).\np(3).\ncount(N) :- findall(X, p(X), L), length(L, N).\nquery(count(N)).\n");
    assert_eq!(queries(&p), owned(&[("count(3)", true)]));

    let p = grounded("x(a).\ny(X) :- x(X), X \\= b, \\+ X = c, true.\nz :- fail.\nquery(y(X)).\nquery(z).\n");
    assert_eq!(queries(&p), owned(&[("y(a)", true), ("z", false)]));
}

#[test]
fn findall_keeps_every_solution_in_proof_order() {
    // As Prolog and ProbLog: one item per solution, duplicates included
    // (`_` counts), in the order the proofs are found.
    let p = grounded(
        "p(X, Y) :- between(1, 3, X), q(Y).\nq(a).\nq(b).\n\
         all(L) :- findall(X, p(X, _), L).\nys(L) :- findall(Y-X, p(X, Y), L).\n\
         query(all(_)).\nquery(ys(_)).\n",
    );
    assert_eq!(queries(&p), owned(&[("all([1, 1, 2, 2, 3, 3])", true), ("ys([a-1, b-1, a-2, b-2, a-3, b-3])", true)]));
}

#[test]
fn findall_over_a_probabilistic_goal_has_one_case_per_world() {
    let p = grounded("0.5::p(1).\nall(L) :- findall(X, p(X), L).\nquery(all(L)).\n");
    // Instances in ProbLog's order: by their text.
    assert_eq!(queries(&p), owned(&[("all([1])", true), ("all([])", true)]));
    assert!(p.to_string().contains("all([]) :- \\+'$findall1'(1,1)."), "{p}");
}

#[test]
fn cyclic_graph_keeps_its_cycle() {
    let p = grounded(
        "0.5::e(1,2).\n0.5::e(2,1).\n0.5::e(2,3).\n0.5::e(4,1).\np(X,Y) :- e(X,Y).\np(X,Y) :- e(X,Z), p(Z,Y).\nquery(p(1,3)).\n",
    );
    let text = p.to_string();
    for line in ["p(1,3) :- e(1,2), p(2,3).", "p(2,3) :- e(2,3).", "p(2,3) :- e(2,1), p(1,3)."] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    // e(4,1) cannot matter to p(1,3).
    assert!(!text.contains("e(4,1)"), "{text}");
    assert_eq!(p.choices.len(), 3);
    assert_eq!(p.rules.len(), 3);
}

#[test]
fn query_on_an_underivable_atom_is_certainly_false() {
    let p = grounded_unchecked("0.5::a.\nquery(b).\nquery(c(1)).\n").unwrap();
    assert_eq!(p.queries.len(), 2);
    assert_eq!(queries(&p), owned(&[("b", false), ("c(1)", false)]));
    assert!(p.atoms.is_empty() && p.choices.is_empty());
    // A non-ground query with no answers has no entries.
    let p = grounded("0.5::a(1).\nb(X) :- a(X), X > 1.\nquery(b(X)).\n");
    assert!(p.queries.is_empty());
}

#[test]
fn evidence_is_grounded_and_checked() {
    let p = grounded("0.3::a.\n0.4::b.\nc :- a.\nevidence(c, true).\nevidence(\\+ b).\nquery(b).\n");
    assert_eq!(p.to_string(), "0.3::a.\n0.4::b.\nc :- a.\nquery(b).\nevidence(c, true).\nevidence(b, false).\n");
    let e = grounded_unchecked("0.3::a.\nevidence(d, true).\nquery(a).\n").unwrap_err();
    assert!(e.message.contains("probability zero") && e.message.contains("`d`"), "{e}");
    let e = error_of("a.\nevidence(a, false).\nquery(a).\n");
    assert!(e.message.contains("probability zero"), "{e}");
}

#[test]
fn infinite_grounding_stops_at_the_limits() {
    let nat = "nat(0).\nnat(s(X)) :- nat(X).\nquery(nat(X)).\n";
    let e = grounded_with(nat, &Limits { max_depth: 50, ..Limits::default() }).unwrap_err();
    assert!(e.message.contains("`nat/1`") && e.message.contains("--max-depth"), "{e}");
    assert_eq!(&nat[e.span.range()], "nat(s(X)) :- nat(X).");
    let e = grounded_with(nat, &Limits { max_atoms: 100, ..Limits::default() }).unwrap_err();
    assert!(e.message.contains("`nat/1`") && e.message.contains("--max-atoms"), "{e}");
    let e = grounded_with(nat, &Limits::default()).unwrap_err();
    assert!(e.message.contains("`nat/1`") && e.message.contains("10000"), "{e}");

    let count = "c(0).\nc(N) :- c(M), N is M + 1.\nquery(c(5)).\n";
    let e = grounded_with(count, &Limits { max_atoms: 1000, ..Limits::default() }).unwrap_err();
    assert_eq!(
        e.message,
        "grounding stopped: more than 1000 ground atoms (raise --max-atoms) while deriving `c/1`; is the recursion \
         infinite?"
    );
    assert_eq!(&count[e.span.range()], "c(N) :- c(M), N is M + 1.");
    let e = grounded_with(
        "0.5::e(0).\nr(X) :- e(X).\nr(Y) :- r(X), Y is X + 1.\nquery(r(3)).\n",
        &Limits { max_rules: 50, ..Limits::default() },
    )
    .unwrap_err();
    assert!(e.message.contains("`r/1`") && e.message.contains("--max-rules"), "{e}");
}

/// `p(X) :- p(s(X)).` derives no atom: it only calls itself with ever
/// deeper arguments, which neither the atom limit nor the depth of atoms
/// saw (it grew past 10 GiB). Its calls, and their depth, are bounded.
#[test]
fn a_recursion_that_only_calls_stops_at_the_call_limits() {
    let deeper = "p(X) :- p(s(X)).\nquery(p(a)).\n";
    let start = Instant::now();
    let e = grounded_with(deeper, &Limits::default()).unwrap_err();
    assert_eq!(
        e.message,
        "grounding stopped: `p/1` is called with terms nested deeper than 10000 (raise --max-depth); is the \
         recursion infinite?"
    );
    assert_eq!(&deeper[e.span.range()], "p(X) :- p(s(X)).");
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
    let e = grounded_with(deeper, &Limits { max_calls: 100, ..Limits::default() }).unwrap_err();
    assert!(e.message.contains("more than 100 calls (raise --max-calls) while calling `p/1`"), "{e}");

    let wider = "p(X) :- Y is X + 1, p(Y).\nquery(p(0)).\n";
    let e = grounded_with(wider, &Limits { max_calls: 1000, ..Limits::default() }).unwrap_err();
    assert_eq!(
        e.message,
        "grounding stopped: more than 1000 calls (raise --max-calls) while calling `p/1`; is the recursion infinite?"
    );
}

#[test]
fn the_term_store_and_the_clock_bound_grounding() {
    let count = "c(0).\nc(N) :- c(M), N is M + 1.\nquery(c(5)).\n";
    let e = grounded_with(count, &Limits { max_terms: 5000, ..Limits::default() }).unwrap_err();
    assert!(e.message.contains("more than 5000 ground terms (raise --max-terms) while deriving `c/1`"), "{e}");
    let deadline = Some(Instant::now() + std::time::Duration::from_millis(200));
    let limits =
        Limits { max_atoms: usize::MAX, max_rules: usize::MAX, max_terms: usize::MAX, deadline, ..Limits::default() };
    let start = Instant::now();
    let e = grounded_with(count, &limits).unwrap_err();
    assert_eq!(e.message, "grounding stopped: the time limit (--timeout) ran out while deriving `c/1`");
    assert_eq!(&count[e.span.range()], "c(N) :- c(M), N is M + 1.");
    assert!(start.elapsed().as_secs_f64() < 2.0, "{:?}", start.elapsed());
    // A grounding that ends in time is not disturbed by its deadline.
    let limits = Limits { deadline: Some(Instant::now() + std::time::Duration::from_secs(60)), ..Limits::default() };
    assert!(grounded_with("c(0).\nc(N) :- c(M), M < 3, N is M + 1.\nquery(c(3)).\n", &limits).is_ok());
}

#[test]
fn unbound_arithmetic_is_an_error_that_names_it() {
    let source = "a(Y) :- Y is X + 1.\nquery(a(2)).\n";
    let e = error_of(source);
    assert_eq!(e.message, "`is` needs its right side ground here");
    assert_eq!(&source[e.span.range()], "Y is X + 1");
    let e = grounded_unchecked("b(X) :- X > 1.\nquery(b(Y)).\n").unwrap_err();
    assert_eq!(e.message, "`>` needs both sides ground here");
}

#[test]
fn heads_bound_by_the_call_ground_per_call() {
    // A non-ground probabilistic fact is one independent choice per
    // instance the program calls; a non-ground fact holds for any call.
    let p = grounded(
        "0.5::heads(C).\nany(X).\n\
         count([], 0).\n\
         count([C|Cs], N) :- count(Cs, N0), heads(C), N is N0 + 1.\n\
         count([C|Cs], N) :- count(Cs, N), \\+ heads(C).\n\
         q :- any(f(1)), count([a, b], 1).\nquery(q).\n",
    );
    assert_eq!(queries(&p), owned(&[("q", true)]));
    assert_eq!(p.choices.len(), 2, "{p}");
    // An atom still not ground where it is reached is an error at its clause.
    let source = "0.3::broken(X).\nq :- broken(_).\nquery(q).\n";
    let e = error_of(source);
    assert!(source[e.span.range()].starts_with("0.3::broken(X)"), "{e}");
    assert!(e.message.contains("not ground") && e.message.contains("`X`"), "{e}");
}

#[test]
fn neural_predicates_ground_to_one_disjunction_per_input() {
    let source =
        "nn(net, [X], Y, [0, 1, 2])::digit(X, Y).\n0.5::a.\nadd(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n\
                  query(add(i1, i2, 3)).\nquery(a).\n";
    let p = grounded(source);
    assert_eq!(queries(&p), owned(&[("add(i1,i2,3)", true), ("a", true)]));
    let neural: Vec<_> = p.choices.iter().zip(&p.neural).filter_map(|(c, n)| Some((c, n.as_ref()?))).collect();
    assert_eq!(neural.len(), 2, "{p}");
    for (choice, n) in &neural {
        let GroundChoice::Disjunction { atoms } = choice else { panic!("{choice:?}") };
        assert_eq!(atoms.len(), 3);
        assert_eq!(n.network, "net");
        let input = p.neural_inputs_text(n).remove(0);
        assert_eq!(p.atom_text(atoms[0].0), format!("digit({input},0)"));
    }
    let inputs: Vec<String> = neural.iter().map(|(_, n)| p.neural_inputs_text(n).remove(0)).collect();
    assert_eq!(inputs, ["i1", "i2"]);
    // Unused, a neural predicate costs nothing.
    let p = grounded("nn(net, [X], Y, [0, 1])::digit(X, Y).\n0.5::a.\nquery(a).\n");
    assert!(p.neural.iter().all(Option::is_none));
    let e = grounded_unchecked("nn(net, [X], f(Y), [0, 1])::digit(X, Y).\nquery(digit(i, 0)).\n").unwrap_err();
    assert!(e.message.contains("output must be a variable"), "{}", e.message);
}

#[test]
fn an_unknown_domain_is_an_error_at_its_name() {
    let source = "p(1).\nquery(forall(X in d, p(X))).\n";
    let e = grounded_unchecked(source).unwrap_err();
    assert_eq!(e.message, "unknown domain `d`: declare it with `domain(d, [...])` or give facts `d(x)`");
    assert_eq!(&source[e.span.range()], "d");
}

#[test]
fn atoms_print_as_problog_prints_them() {
    let p = grounded("p(-1, 2.5, 'New York', [a, b], f(x, y), [c|d], \"s\").\nquery(p(A, B, C, D, E, F, G)).\n");
    assert_eq!(p.query_text(&p.queries[0]), "p(-1,2.5,'New York',[a, b],f(x,y),[c | d],\"s\")");
    let p = grounded("q(1 + 2).\nquery(q(X)).\n");
    assert_eq!(p.query_text(&p.queries[0]), "q(1+2)");
}

#[test]
fn a_query_with_a_logic_keeps_its_target() {
    let p = grounded("0.3::a.\nquery(a, logic(godel)).\n");
    assert_eq!(queries(&p), owned(&[("a", true)]));
}

#[test]
fn disjunctive_bodies_share_the_choice_of_their_clause() {
    let p = grounded("0.5::a.\n0.5::b.\n0.3::h :- a ; b.\nquery(h).\n");
    // One choice, two ways to its head: P(h) = 0.3 * P(a or b).
    assert_eq!(p.choices.len(), 3);
    assert_eq!(p.rules.len(), 2);
}

/// A chain of 100,000 probabilistic edges: the whole chain is relevant to
/// `path(0, N)`, only its end to `path(N-10, N)`.
#[test]
fn large_fact_base_grounds_fast() {
    let n = 100_000;
    let mut source = String::with_capacity(n * 24);
    for i in 0..n {
        source.push_str(&format!("0.9::edge({i},{}).\n", i + 1));
    }
    source.push_str("path(X,Y) :- edge(X,Y).\npath(X,Y) :- edge(X,Z), path(Z,Y).\n");
    let (model, _) = lower(parse(&(source.clone() + &format!("query(path({},{n})).\n", n - 10))).unwrap());
    let start = Instant::now();
    let p = ground(&model, &Limits::default(), Bodies::Boolean).unwrap();
    let near = start.elapsed();
    assert_eq!(p.choices.len(), 10);
    assert_eq!(p.atoms.len(), 20);

    let (model, _) = lower(parse(&(source + &format!("query(path(0,{n})).\n"))).unwrap());
    let start = Instant::now();
    let p = ground(&model, &Limits::default(), Bodies::Boolean).unwrap();
    let whole = start.elapsed();
    assert_eq!(p.choices.len(), n);
    assert_eq!(p.rules.len(), n);
    println!("100,000-edge chain: path({},{n}) grounds in {near:?}, path(0,{n}) in {whole:?}", n - 10);
}

/// The fastest of three groundings of `source`.
fn fastest_grounding(source: &str) -> std::time::Duration {
    let (model, _) = lower(parse(source).unwrap());
    (0..3)
        .map(|_| {
            let start = Instant::now();
            ground(&model, &Limits::default(), Bodies::Boolean).unwrap();
            start.elapsed()
        })
        .min()
        .unwrap()
}

/// `p_0 :- \+ p_1. ... p_{n-1} :- \+ p_n.` has one stratum per link;
/// finding the strata and deciding the waiting negations stratum by
/// stratum once took time quadratic in `n` (31.8 s at 100,000 links).
#[test]
fn a_chain_of_negations_grounds_in_linear_time() {
    let chain = |n: usize| {
        let mut s = format!("0.5::p_{n}.\n");
        for i in 0..n {
            s.push_str(&format!("p_{i} :- \\+ p_{}.\n", i + 1));
        }
        s + "query(p_0).\n"
    };
    let (model, _) = lower(parse(&chain(5)).unwrap());
    let p = ground(&model, &Limits::default(), Bodies::Boolean).unwrap();
    assert_eq!(p.to_string().lines().nth(1), Some("p_4 :- \\+p_5."), "{p}");
    let small = fastest_grounding(&chain(10_000));
    let large = fastest_grounding(&chain(80_000));
    // Linear: 8 times longer, up to some 12 where the small one fits the
    // caches and the large one does not; quadratic: 64.
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    println!("negation chain: 10,000 links in {small:?}, 80,000 in {large:?} ({ratio:.1}x)");
    assert!(ratio < 30.0, "10,000 links in {small:?}, 80,000 in {large:?}");
}

#[test]
fn every_benchmark_program_grounds() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench/programs"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!("skipped: {} is missing", dir.display());
        return;
    };
    let reference: Option<serde_json::Value> =
        std::fs::read_to_string(dir.join("../reference.json")).ok().and_then(|s| serde_json::from_str(&s).ok());
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    assert_eq!(files.len(), 55);
    let mut times = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let source = std::fs::read_to_string(path).unwrap();
        let checked = check_source(&source);
        assert!(!checked.has_errors(), "{name}: {:?}", checked.diagnostics);
        let model = checked.model.unwrap();
        let start = Instant::now();
        let p = ground(&model, &Limits::default(), Bodies::Boolean).unwrap_or_else(|e| panic!("{name}: {e}"));
        times.push((start.elapsed(), name.clone(), p.atoms.len(), p.rules.len(), p.choices.len()));
        assert_eq!(p.check(), Ok(()), "{name}");

        let expected: Vec<String> = source
            .lines()
            .filter_map(|l| l.strip_prefix("query(").and_then(|q| q.strip_suffix(")).")).map(|q| format!("{q})")))
            .collect();
        let texts: Vec<String> = p.queries.iter().map(|q| p.query_text(q)).collect();
        assert_eq!(texts, expected, "{name}");
        assert!(p.queries.iter().all(|q| q.atom_id().is_some()), "{name}: a query is certainly false");
        if let Some(answers) = reference.as_ref().and_then(|r| r.get(&name)) {
            let mut keys: Vec<&String> = answers["queries"].as_object().unwrap().keys().collect();
            keys.sort();
            let mut texts: Vec<&String> = texts.iter().collect();
            texts.sort();
            assert_eq!(texts, keys, "{name}: query texts differ from the reference");
        }
        match name.as_str() {
            "mnist_flat_2.pl" => {
                assert_eq!(p.choices.len(), 2);
                for c in &p.choices {
                    assert!(matches!(c, GroundChoice::Disjunction { atoms } if atoms.len() == 10), "{c:?}");
                }
                assert_eq!(texts, ["sum(9)"]);
                assert_eq!(p.rules.len(), 10);
            }
            "path_sparse_10.pl" => {
                assert_eq!(p.choices.len(), 28);
                assert!(p.choices.iter().all(|c| matches!(c, GroundChoice::Fact { .. })));
            }
            "smokers_5.pl" => assert!(!atom_texts(&p).iter().any(|a| a.starts_with("asthma"))),
            _ => {}
        }
    }
    times.sort();
    for (t, name, atoms, rules, choices) in times.iter().rev().take(8) {
        println!("{name}: ground {t:?} ({atoms} atoms, {rules} rules, {choices} choices)");
    }
}

/// P(atom) by enumerating every world of the choices and taking the least
/// model of the (positive) rules in each.
fn brute_force(p: &GroundProgram, atom: AtomId) -> f64 {
    let options: Vec<Vec<(Option<AtomId>, f64)>> = p
        .choices
        .iter()
        .map(|c| match c {
            GroundChoice::Fact { atom, probability } => vec![(Some(*atom), *probability), (None, 1.0 - probability)],
            GroundChoice::Disjunction { atoms } => {
                let rest = 1.0 - atoms.iter().map(|a| a.1).sum::<f64>();
                atoms.iter().map(|&(a, q)| (Some(a), q)).chain([(None, rest)]).collect()
            }
        })
        .collect();
    let mut total = 0.0;
    let mut pick = vec![0usize; options.len()];
    loop {
        let mut truth = vec![false; p.atoms.len()];
        let mut weight = 1.0;
        for (o, &k) in options.iter().zip(&pick) {
            if let Some(a) = o[k].0 {
                truth[a.index()] = true;
            }
            weight *= o[k].1;
        }
        let mut changed = true;
        while changed {
            changed = false;
            for r in &p.rules {
                if !truth[r.head.index()] && r.body.iter().all(|&(a, positive)| truth[a.index()] == positive) {
                    truth[r.head.index()] = true;
                    changed = true;
                }
            }
        }
        if truth[atom.index()] {
            total += weight;
        }
        let Some(i) = (0..pick.len()).find(|&i| pick[i] + 1 < options[i].len()) else { break };
        pick[i] += 1;
        pick[..i].iter_mut().for_each(|k| *k = 0);
    }
    total
}

/// The ground programs of the small benchmark programs give the reference
/// probabilities (a check of the grounding alone, by enumeration).
#[test]
fn small_benchmark_ground_programs_give_the_reference_answers() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench"));
    let Ok(text) = std::fs::read_to_string(dir.join("reference.json")) else {
        println!("skipped: {} is missing", dir.display());
        return;
    };
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for (name, answers) in reference.as_object().unwrap() {
        let source = std::fs::read_to_string(dir.join("programs").join(name)).unwrap();
        let p = grounded(&source);
        let worlds: f64 = p
            .choices
            .iter()
            .map(|c| match c {
                GroundChoice::Fact { .. } => 2.0,
                GroundChoice::Disjunction { atoms } => atoms.len() as f64 + 1.0,
            })
            .product();
        if worlds > 20_000.0 {
            continue;
        }
        for q in &p.queries {
            let text = p.query_text(q);
            let expected: f64 = answers["queries"][&text]["decimal"].as_str().unwrap().parse().unwrap();
            let got = brute_force(&p, q.atom_id().unwrap());
            assert!((got - expected).abs() < 1e-9, "{name} {text}: {got} vs {expected}");
        }
        checked += 1;
    }
    println!("{checked} programs checked by enumeration");
    assert!(checked >= 8);
}

// --- formulas

/// A formula node printed back, atoms by name.
fn show(p: &GroundProgram, node: FormulaId) -> String {
    use deeplog_program::Formula as F;
    let list = |items: &[FormulaId], sep: &str| items.iter().map(|&c| show(p, c)).collect::<Vec<_>>().join(sep);
    match &p.formulas[node.index()] {
        F::Atom(a) => p.atom_text(*a),
        F::Const(b) => b.to_string(),
        F::Number(x) => x.to_string(),
        F::Not(a) => format!("not {}", show(p, *a)),
        F::And(items) => format!("[{}]", list(items, " and ")),
        F::Or(items) => format!("[{}]", list(items, " or ")),
        F::Implies(a, b) => format!("({} -> {})", show(p, *a), show(p, *b)),
        F::RImplies(a, b) => format!("({} r-> {})", show(p, *a), show(p, *b)),
        F::SImplies(a, b) => format!("({} s-> {})", show(p, *a), show(p, *b)),
        F::Iff(a, b) => format!("({} <-> {})", show(p, *a), show(p, *b)),
        F::Aggregate(op, items) => format!("{op:?}({})", list(items, ", ")),
        F::Transform(l, a) => format!("({})_{l}", show(p, *a)),
    }
}

#[test]
fn quantifiers_expand_over_facts_and_declared_domains() {
    let p = grounded(
        "person(ann). person(bob).\n0.3::smokes(ann). 0.4::smokes(bob).\n0.5::cancer(X) :- smokes(X).\n\
         query(forall(X in person, smokes(X) implies cancer(X))).\n\
         domain(colour, [red, green]).\n0.2::paint(red).\n\
         query(exists(C in colour, paint(C))).\n",
    );
    let [q1, q2] = &p.queries[..] else { panic!("{:?}", p.queries) };
    assert_eq!(q1.atom_id(), None);
    assert_eq!(show(&p, q1.formula().unwrap()), "[(smokes(ann) -> cancer(ann)) and (smokes(bob) -> cancer(bob))]");
    // `paint(green)` is never derived: false.
    assert_eq!(show(&p, q2.formula().unwrap()), "[paint(red) or false]");
    assert_eq!(p.query_text(q2), "exists(C in colour, paint(C))");
    // The formulas' atoms are relevant: their choices and rules are kept.
    assert!(atom_texts(&p).iter().any(|a| a == "cancer(bob)"));
    assert_eq!(p.choices.len(), 5, "{p}");
}

#[test]
fn formula_queries_keep_file_order_among_atom_queries() {
    let p = grounded("0.5::a. 0.5::b.\nquery(a).\nquery(a and b).\nquery(b).\n");
    let kinds: Vec<_> = p.queries.iter().map(|q| (p.query_text(q), q.formula().is_some())).collect();
    assert_eq!(kinds, owned(&[("a", false), ("a and b", true), ("b", false)]));
}

#[test]
fn aggregations_annotations_and_boolean_variables() {
    let p = grounded(
        "0.1::burglary. 0.2::earthquake.\n\
         query(sum(A in bool, sum(B in bool, (A or B)_probability))).\n\
         query(sum(B in bool, (B iff burglary)_probability * 2)).\n\
         person(a). person(b). 0.5::s(a). 0.5::s(b).\n\
         constraint(pmean_error(X in person, s(X)_product, 2)).\n\
         0.5::constraint(forall(X in person, forall(Y in person, X \\= Y implies s(X)))).\n",
    );
    let q = |i: usize| show(&p, p.queries[i].formula().unwrap());
    assert_eq!(
        q(0),
        "Sum(Sum(([true or true])_probability, ([true or false])_probability), \
         Sum(([false or true])_probability, ([false or false])_probability))"
    );
    assert_eq!(
        q(1),
        "Sum(Product(((true <-> burglary))_probability, 2), Product(((false <-> burglary))_probability, 2))"
    );
    let [c1, c2] = &p.constraints[..] else { panic!() };
    assert_eq!(show(&p, c1.formula), "PMeanError(2.0)((s(a))_product, (s(b))_product)");
    assert_eq!(c1.weight, None);
    assert_eq!(c2.weight, Some(0.5));
    assert_eq!(show(&p, c2.formula), "[[(false -> s(a)) and (true -> s(a))] and [(true -> s(b)) and (false -> s(b))]]");
}

#[test]
fn formula_errors_say_where_and_why() {
    let e = error_of("0.5::a(x).\nquery(forall(X in thing, a(X))).\n");
    assert!(e.message.contains("unknown domain `thing`"), "{}", e.message);
    let e = error_of("0.5::a(x).\nquery(a(X) and a(x)).\n");
    assert!(e.message.contains("variable `X` is not bound"), "{}", e.message);
    let e = error_of("0.5::a(x). 0.5::d(x).\nquery(forall(X in d, a(X))).\n");
    assert!(e.message.contains("domain `d` must be certain"), "{}", e.message);
    let e = error_of("domain(d, [x, y]).\nquery(forall(X in d, X)).\n");
    assert!(e.message.contains("must be `true` or `false`, not `x`"), "{}", e.message);
    let e = error_of("0.5::a(1).\nquery(forall(X in bool, between(1, 2, X))).\n");
    assert!(e.message.contains("cannot be used inside a formula"), "{}", e.message);
    let e = error_of("0.5::a.\nquery((a)_nonsense).\n");
    assert!(e.message.contains("unknown logic"), "{}", e.message);
}

#[test]
fn domains_may_be_derived_by_rules() {
    let p = grounded("n(X) :- between(1, 3, X).\n0.5::on(X) :- n(X).\nquery(sum(X in n, on(X)_probability)).\n");
    assert_eq!(
        show(&p, p.queries[0].formula().unwrap()),
        "Sum((on(1))_probability, (on(2))_probability, (on(3))_probability)"
    );
}

/// A t-norm reads a body as written: `a, \+ a` is `T(a, 1 − a)` and `a, a`
/// is `T(a, a)`, so the boolean laws that drop the first rule and shorten
/// the second apply only to boolean bodies.
#[test]
fn bodies_read_by_a_tnorm_keep_their_literals_as_written() {
    let source = "0.6::a.\n1.0::t.\np :- a, \\+ a.\nq :- a, a, t.\nr :- q, \\+ p.\nquery(p).\nquery(q).\nquery(r).\n";
    let (model, _) = lower(parse(source).unwrap());
    let boolean = ground(&model, &Limits::default(), Bodies::Boolean).unwrap();
    assert_eq!(boolean.to_string(), "0.6::a.\n1::t.\nq :- a, t.\nr :- q.\nquery(p).\nquery(q).\nquery(r).\n");
    let as_written = ground(&model, &Limits::default(), Bodies::AsWritten).unwrap();
    assert_eq!(
        as_written.to_string(),
        "0.6::a.\n1::t.\np :- a, \\+a.\nq :- a, a, t.\nr :- \\+p, q.\nquery(p).\nquery(q).\nquery(r).\n"
    );
    assert_eq!(as_written.check(), Ok(()));
    // Laws of every t-norm still apply: a certainly true literal leaves its
    // body, a certainly false one (or the negation of a true one) drops it.
    let source = "0.6::a.\ns.\np :- a, s, s.\np :- a, \\+ s.\np :- a, u.\nquery(p).\n";
    let (model, _) = lower(parse(source).unwrap());
    assert_eq!(
        ground(&model, &Limits::default(), Bodies::AsWritten).unwrap().to_string(),
        "0.6::a.\np :- a.\nquery(p).\n"
    );
    // Negation through recursion resolves its pending literals as written too.
    let source = "0.6::a.\nw(X) :- m(X, Y), \\+ w(Y), a, a.\nm(1, 2).\nm(2, 3).\nquery(w(1)).\n";
    let (model, _) = lower(parse(source).unwrap());
    let p = ground(&model, &Limits::default(), Bodies::AsWritten).unwrap();
    assert!(p.to_string().contains("w(2) :- a, a.") && p.to_string().contains("w(1) :- a, a, \\+w(2)."), "{p}");
}

#[test]
fn bodies_are_read_by_a_tnorm_where_any_logic_of_the_model_is_fuzzy() {
    let bodies = |source: &str, forced: Option<Logic>| {
        let (model, _) = lower(parse(source).unwrap());
        Bodies::for_model(&model, forced)
    };
    let plain = "0.5::a.\nq :- a, a.\nquery(q).\n";
    assert_eq!(bodies(plain, None), Bodies::Boolean);
    assert_eq!(bodies(plain, Some(Logic::Lukasiewicz)), Bodies::AsWritten);
    let product = format!(":- logic(product).\n{plain}");
    assert_eq!(bodies(&product, None), Bodies::AsWritten);
    assert_eq!(bodies(&product, Some(Logic::Probability)), Bodies::Boolean);
    let own = format!("{plain}query(q, logic(godel)).\n");
    assert_eq!(bodies(&own, None), Bodies::AsWritten);
    assert_eq!(bodies(&own, Some(Logic::Boolean)), Bodies::Boolean, "--logic overrides the queries' own");
    let annotated = format!("{plain}query((q and a)_godel).\n");
    assert_eq!(bodies(&annotated, Some(Logic::Probability)), Bodies::AsWritten);
    assert_eq!(bodies(&format!("{plain}query((q and a)_probability).\n"), None), Bodies::Boolean);
}

/// Each rule and evidence entry keeps where its statement was written, so
/// that a later stage's error about it can say where.
#[test]
fn rules_and_evidence_keep_their_origins() {
    let source = "0.5::a.\ne(1).\np(X) :- e(X), a.\nq :- p(1), \\+ a.\nevidence(q, false).\nquery(p(1)).\n";
    let p = grounded(source);
    assert_eq!(p.to_string(), "0.5::a.\np(1) :- a.\nq :- \\+a, p(1).\nquery(p(1)).\nevidence(q, false).\n");
    let text = |o: deeplog_program::Origin| &source[o.start as usize..o.end as usize];
    let texts: Vec<&str> = p.origins.rules.iter().map(|&o| text(o)).collect();
    assert_eq!(texts, ["p(X) :- e(X), a.", "q :- p(1), \\+ a."]);
    let texts: Vec<&str> = p.origins.evidence.iter().map(|&o| text(o)).collect();
    assert_eq!(texts, ["evidence(q, false)."]);
    let [p1, q] = [1, 2].map(AtomId::new);
    assert_eq!(p.rule_origin(q, Some(AtomId::new(0))).map(text), Some("q :- p(1), \\+ a."));
    assert_eq!(p.rule_origin(p1, None).map(text), Some("p(X) :- e(X), a."));
    assert_eq!(p.evidence_origin(Some(q)).map(text), Some("evidence(q, false)."));
}
