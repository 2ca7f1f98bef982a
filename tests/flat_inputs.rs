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
    // Head k costs the compilers O(k²) (its chain `¬c1 ∧ … ∧ ¬c(k−1) ∧ ck`
    // is rebuilt for each new slot): heads far down a disjunction this long
    // are out of their reach for now.
    let source = format!("{}.\nquery(h(7)).\nquery(h(1000)).\n", heads.join("; "));
    let got = answers(&source);
    assert_eq!(got.iter().map(|(q, _)| q.as_str()).collect::<Vec<_>>(), ["h(7)", "h(1000)"]);
    assert!(got.iter().all(|&(_, p)| close(p, 1e-5)), "{got:?}");
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
