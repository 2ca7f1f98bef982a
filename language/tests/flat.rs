//! Flat inputs of hostile size through parsing, checking and grounding: a
//! body of 100,000 goals, an annotated disjunction of 100,000 heads, a list
//! of 100,000 items and a sum of 100,000 terms (`tests/flat_inputs.rs` at
//! the root answers the same shapes' queries). Tests run on threads of
//! 2 MiB of stack, a quarter of a main thread's, in debug builds too: no
//! step may recurse once per goal, head, item or term on the thread's own
//! stack. The runaway-recursion check (`max_depth`) still stops `s(s(…))`.

use deeplog_language::check_source;
use deeplog_language::ground::{ground, Bodies, GroundProgram, Limits};

const N: usize = 100_000;

fn grounded(source: &str) -> GroundProgram {
    let checked = check_source(source);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics.first().map(|d| &d.message));
    let program = ground(checked.model.as_ref().expect("a model"), &Limits::default(), Bodies::Boolean)
        .unwrap_or_else(|e| panic!("{e}"));
    program.check().unwrap_or_else(|broken| panic!("{broken}"));
    program
}

/// The queries' texts, and whether each is an atom that may hold.
fn queries(p: &GroundProgram) -> Vec<(String, bool)> {
    p.queries.iter().map(|q| (p.query_text(q), q.atom_id().is_some())).collect()
}

#[test]
fn a_body_of_flat_goals() {
    let mut source = String::from("0.5::c.\n");
    for i in 0..N {
        source.push_str(&format!("f({i}).\n"));
    }
    let goals: Vec<String> = (0..N).map(|i| format!("f({i})")).collect();
    source.push_str(&format!("q :- {}, c.\nquery(q).\n", goals.join(", ")));
    let program = grounded(&source);
    assert_eq!(queries(&program), [("q".to_string(), true)]);
    // The certain goals leave the body: `q :- c.`
    assert_eq!(program.rules.len(), 1);
    assert_eq!(program.rules[0].body.len(), 1);
}

#[test]
fn an_annotated_disjunction_of_flat_heads() {
    let heads: Vec<String> = (1..=N).map(|i| format!("1e-5::h({i})")).collect();
    let program = grounded(&format!("{}.\nquery(h(7)).\nquery(h({N})).\n", heads.join("; ")));
    assert_eq!(queries(&program), [("h(7)".to_string(), true), (format!("h({N})"), true)]);
    let [deeplog_program::Choice::Disjunction { atoms }] = &program.choices[..] else { panic!() };
    assert_eq!(atoms.len(), N);
}

#[test]
fn a_list_of_flat_items() {
    let items: Vec<String> = (1..=N).map(|i| i.to_string()).collect();
    let program = grounded(&format!(
        "l([{}]).\n\
         n(N) :- l(L), length(L, N).\n\
         m :- l(L), member({N}, L).\n\
         sum([], 0).\n\
         sum([H|T], S) :- sum(T, S0), S is S0 + H.\n\
         s(S) :- l(L), sum(L, S).\n\
         query(l(_)).\nquery(n(_)).\nquery(m).\nquery(s(_)).\n",
        items.join(",")
    ));
    let got = queries(&program);
    assert_eq!(got[0].0.len(), "l([])".len() + items.join(", ").len());
    let expected = [format!("n({N})"), "m".to_string(), format!("s({})", N * (N + 1) / 2)];
    assert_eq!(got[1..].iter().map(|(q, _)| q.clone()).collect::<Vec<_>>(), expected);
}

#[test]
fn a_sum_of_flat_terms() {
    let program = grounded(&format!("s(X) :- X is {}1.\nquery(s(_)).\n", "1+".repeat(N - 1)));
    assert_eq!(queries(&program), [(format!("s({N})"), true)]);
}

#[test]
fn a_runaway_recursion_is_still_stopped() {
    let nat = "nat(0).\nnat(s(X)) :- nat(X).\nquery(nat(_)).\n";
    let checked = check_source(nat);
    let e = ground(checked.model.as_ref().expect("a model"), &Limits::default(), Bodies::Boolean).unwrap_err();
    assert!(e.message.contains("`nat/1`") && e.message.contains("--max-depth"), "{e}");
}
