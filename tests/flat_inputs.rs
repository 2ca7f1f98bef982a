//! Flat inputs of hostile size, end to end: a body of 100,000 goals, an
//! annotated disjunction of 100,000 heads, a list of 100,000 items and a
//! sum of 100,000 terms are answered right, and a term nested past the
//! parser's limit is an error at its place. Tests run on threads of 2 MiB
//! of stack, a quarter of a main thread's: no stage may recurse once per
//! goal, head, item or term on the thread's own stack.

use deeplog::{Model, QueryOptions};

/// 100,000 in release; debug builds, some 20x slower, check 20,000, still
/// far past the limits of old (a body of 1,000 goals, a list of 10,000).
const N: usize = if cfg!(debug_assertions) { 20_000 } else { 100_000 };

fn answers(source: &str) -> Vec<(String, f64)> {
    let model = Model::from_source("flat.pl", source).unwrap_or_else(|e| panic!("{e}"));
    let answers = model.query(&QueryOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    answers.answers.into_iter().map(|a| (a.query, a.value)).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
}

/// Head `k` of a disjunction is the product of `k` conditional
/// probabilities, each rounded: its relative error grows as `k · ε`
/// (2·10⁻¹² at head 50,000 of 100,000).
fn close_after_a_chain(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * b.abs()
}

#[test]
fn a_body_of_flat_goals() {
    let mut source = String::from("0.5::c.\n0.2::d(7).\n");
    for i in 0..N {
        source.push_str(&format!("f({i}).\n"));
    }
    let goals: Vec<String> = (0..N).map(|i| format!("f({i})")).collect();
    source.push_str(&format!(
        "q :- {}, c.\nr :- {}, d(X).\nquery(q).\nquery(r).\n",
        goals.join(", "),
        goals.join(", ")
    ));
    let got = answers(&source);
    assert_eq!(got.len(), 2);
    assert!(got[0].0 == "q" && close(got[0].1, 0.5), "{got:?}");
    assert!(got[1].0 == "r" && close(got[1].1, 0.2), "{got:?}");
}

#[test]
fn an_annotated_disjunction_of_flat_heads() {
    let heads: Vec<String> = (1..=N).map(|i| format!("1e-5::h({i})")).collect();
    // Heads at the front, the middle and the very end: each costs the
    // compilers its own position, not its square.
    let queries = [7, 1000, N / 2, N - 1, N];
    let source =
        format!("{}.\n{}", heads.join("; "), queries.iter().map(|k| format!("query(h({k})).\n")).collect::<String>());
    let got = answers(&source);
    let names: Vec<String> = queries.iter().map(|k| format!("h({k})")).collect();
    assert_eq!(got.iter().map(|(q, _)| q.clone()).collect::<Vec<_>>(), names);
    assert!(got.iter().all(|&(_, p)| close_after_a_chain(p, 1e-5)), "{got:?}");
}

/// Every head of a long disjunction at once.
#[test]
fn every_head_of_a_long_disjunction() {
    let heads: Vec<String> = (1..=N).map(|i| format!("0.00001::h({i})")).collect();
    let got = answers(&format!("{}.\nquery(h(_)).\n", heads.join("; ")));
    assert_eq!(got.len(), N);
    assert!(got.iter().all(|&(_, p)| close_after_a_chain(p, 1e-5)), "{:?}", &got[..3]);
}

/// The last two heads of a long disjunction in the rules of a cyclic
/// program, which the top-down compiler takes.
#[test]
fn the_last_heads_of_a_long_disjunction_in_a_cyclic_program() {
    let heads: Vec<String> = (1..=N).map(|i| format!("0.00001::h({i})")).collect();
    let source = format!(
        "{}.\n\
         0.5::e(1,2). 0.5::e(2,1). 0.5::e(2,3).\n\
         p(X,Y) :- e(X,Y).\np(X,Y) :- e(X,Z), p(Z,Y).\n\
         a :- h({N}), p(1,3).\na :- h({}), p(2,1).\n\
         query(a).\n",
        heads.join("; "),
        N - 1
    );
    let got = answers(&source);
    assert_eq!(got.len(), 1);
    assert!(got[0].0 == "a" && close_after_a_chain(got[0].1, 1e-5 * 0.25 + 1e-5 * 0.5), "{got:?}");
}

#[test]
fn a_list_of_flat_items() {
    let items: Vec<String> = (1..=N).map(|i| i.to_string()).collect();
    let source = format!(
        "l([{}]).\n\
         n(N) :- l(L), length(L, N).\n\
         m :- l(L), member({N}, L).\n\
         sum([], 0).\n\
         sum([H|T], S) :- sum(T, S0), S is S0 + H.\n\
         s(S) :- l(L), sum(L, S).\n\
         query(n(_)).\nquery(m).\nquery(s(_)).\n",
        items.join(",")
    );
    let got = answers(&source);
    let expected = [format!("n({N})"), "m".to_string(), format!("s({})", N * (N + 1) / 2)];
    assert_eq!(got.iter().map(|(q, _)| q.clone()).collect::<Vec<_>>(), expected);
    assert!(got.iter().all(|&(_, p)| p == 1.0), "{got:?}");
}

#[test]
fn a_sum_of_flat_terms() {
    let source = format!("0.25::a.\ns(X) :- a, X is {}1.\nquery(s(_)).\n", "1+".repeat(N - 1));
    let got = answers(&source);
    assert_eq!(got.len(), 1);
    assert!(got[0].0 == format!("s({N})") && close(got[0].1, 0.25), "{got:?}");
}

#[test]
fn a_term_nested_past_the_limit_is_an_error_at_its_place() {
    let depth = deeplog_language::MAX_DEPTH + 1;
    let source = format!("a.\np :- {}a.\nquery(p).\n", "\\+ ".repeat(depth));
    let error = Model::from_source("deep.pl", &source).err().expect("too deep").to_string();
    let start: String = error.chars().take(300).collect();
    assert!(error.contains("this term nests deeper than 100000 levels"), "{start}");
    // The operand is a level too: the second `\+` is the first too deep.
    assert!(error.contains("deep.pl:2:9"), "{start}");
}
