//! Tests of the syntax layer as a whole: text → tree → text.

use std::fmt::Write;
use std::time::Instant;

use proptest::prelude::*;

use crate::syntax::{Program, Span, Term, TermKind};
use crate::{parse, ParseError, MAX_DEPTH};

/// The tree in functor notation, spans left out: `:-(a, ','(b, c))`.
fn canonical(term: &Term) -> String {
    let mut out = String::new();
    write_canonical(&mut out, term);
    out
}

fn write_canonical(out: &mut String, term: &Term) {
    let list = |out: &mut String, terms: &[Term]| {
        for (i, t) in terms.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_canonical(out, t);
        }
    };
    match &term.kind {
        TermKind::Var(name) | TermKind::Atom(name) => out.push_str(name),
        TermKind::Int(n) => write!(out, "{n}").unwrap(),
        TermKind::Float(x) => write!(out, "{x:?}").unwrap(),
        TermKind::Str(s) => write!(out, "{s:?}").unwrap(),
        TermKind::Compound { functor, args } => {
            out.push_str(if functor == "," { "','" } else { functor });
            out.push('(');
            list(out, args);
            out.push(')');
        }
        TermKind::List { items, tail } => {
            out.push('[');
            list(out, items);
            if let Some(tail) = tail {
                out.push('|');
                write_canonical(out, tail);
            }
            out.push(']');
        }
        TermKind::Annotated { term, algebra } => {
            write_canonical(out, term);
            write!(out, "@{algebra}").unwrap();
        }
    }
}

/// Parses one clause and gives its tree in functor notation.
fn clause(source: &str) -> String {
    let program = parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
    assert_eq!(program.clauses.len(), 1, "{source}");
    canonical(&program.clauses[0].term)
}

/// An indented dump of the tree with every span, and the source text of
/// each leaf, for snapshots.
fn dump(source: &str, program: &Program) -> String {
    fn node(out: &mut String, source: &str, term: &Term, indent: usize) {
        let Span { start, end } = term.span;
        let pad = "  ".repeat(indent);
        let text = &source[start..end];
        match &term.kind {
            TermKind::Var(_) => writeln!(out, "{pad}var {text} @{start}..{end}"),
            TermKind::Atom(name) => writeln!(out, "{pad}atom {name:?} @{start}..{end} {text}"),
            TermKind::Int(n) => writeln!(out, "{pad}int {n} @{start}..{end} {text}"),
            TermKind::Float(x) => writeln!(out, "{pad}float {x:?} @{start}..{end} {text}"),
            TermKind::Str(s) => writeln!(out, "{pad}string {s:?} @{start}..{end} {text}"),
            TermKind::Compound { functor, args } => writeln!(out, "{pad}{functor:?}/{} @{start}..{end}", args.len()),
            TermKind::List { items, tail } => {
                writeln!(
                    out,
                    "{pad}list of {}{} @{start}..{end}",
                    items.len(),
                    if tail.is_some() { " with tail" } else { "" }
                )
            }
            TermKind::Annotated { algebra, .. } => writeln!(out, "{pad}annotated _{algebra} @{start}..{end}"),
        }
        .unwrap();
        match &term.kind {
            TermKind::Compound { args, .. } => args.iter().for_each(|a| node(out, source, a, indent + 1)),
            TermKind::List { items, tail } => {
                items.iter().chain(tail.as_deref()).for_each(|t| node(out, source, t, indent + 1));
            }
            TermKind::Annotated { term, .. } => node(out, source, term, indent + 1),
            _ => {}
        }
    }
    let mut out = String::new();
    for clause in &program.clauses {
        let Span { start, end } = clause.span;
        writeln!(out, "clause @{start}..{end}").unwrap();
        node(&mut out, source, &clause.term, 1);
    }
    out
}

fn erase_spans(term: &mut Term) {
    term.span = Span::default();
    match &mut term.kind {
        TermKind::Compound { args, .. } => args.iter_mut().for_each(erase_spans),
        TermKind::List { items, tail } => {
            items.iter_mut().for_each(erase_spans);
            if let Some(tail) = tail {
                erase_spans(tail);
            }
        }
        TermKind::Annotated { term, .. } => erase_spans(term),
        _ => {}
    }
}

fn without_spans(program: Program) -> Vec<Term> {
    let mut terms: Vec<Term> = program.clauses.into_iter().map(|c| c.term).collect();
    terms.iter_mut().for_each(erase_spans);
    terms
}

/// Printing a parsed program and parsing it again gives the same trees.
fn assert_round_trips(source: &str) {
    let first = parse(source).unwrap_or_else(|e| panic!("{e}"));
    let printed = first.to_string();
    let second = parse(&printed).unwrap_or_else(|e| panic!("{printed}\n{e}"));
    assert_eq!(without_spans(first), without_spans(second), "{printed}");
}

// ---------------------------------------------------------------- operators

#[test]
fn prolog_operators_have_prolog_precedences() {
    assert_eq!(clause("a :- b, c ; d -> e."), ":-(a,;(','(b,c),->(d,e)))");
    assert_eq!(clause("h <- b."), "<-(h,b)");
    assert_eq!(clause(":- logic(godel)."), ":-(logic(godel))");
    assert_eq!(clause("X is 1 + 2 * 3 - 4 mod 5."), "is(X,-(+(1,*(2,3)),mod(4,5)))");
    assert_eq!(clause("X is 8 / 2 / 2 // 1."), "is(X,//(/(/(8,2),2),1))");
    assert_eq!(clause("X = 2 ^ 3 ^ 2."), "=(X,^(2,^(3,2)))");
    assert_eq!(clause("X = 2 ** 3."), "=(X,**(2,3))");
    assert_eq!(clause("a :- \\+ b = c, not d."), ":-(a,','(\\+(=(b,c)),not(d)))");
    assert_eq!(clause("t :- X =:= Y, X =\\= Y, X == Y, X \\== Y, X \\= Y, X < Y, X > Y, X =< Y, X >= Y."),
        ":-(t,','(=:=(X,Y),','(=\\=(X,Y),','(==(X,Y),','(\\==(X,Y),','(\\=(X,Y),','(<(X,Y),','(>(X,Y),','(=<(X,Y),>=(X,Y))))))))))");
    assert!(parse("a :- X = Y = Z.").is_err(), "700 is xfx");
}

#[test]
fn minus_signs_numbers_and_prefix_minus() {
    assert_eq!(clause("p :- X is -1."), ":-(p,is(X,-1))");
    assert_eq!(clause("p :- X is - 1."), ":-(p,is(X,-(1)))");
    assert_eq!(clause("p :- X is -(1)."), ":-(p,is(X,-(1)))");
    assert_eq!(clause("p :- X is N-1."), ":-(p,is(X,-(N,1)))");
    assert_eq!(clause("p :- X is N-(1)."), ":-(p,is(X,-(N,1)))");
    assert_eq!(clause("p :- X is 3 - -1."), ":-(p,is(X,-(3,-1)))");
    assert_eq!(clause("p :- X is - a ^ 2."), ":-(p,is(X,-(^(a,2))))");
    assert_eq!(clause("p :- X is -1 ^ 2."), ":-(p,is(X,^(-1,2)))");
    assert_eq!(clause("f(-2.5, -0.0, 1e-3, 1.5e10)."), "f(-2.5,-0.0,0.001,15000000000.0)");
}

#[test]
fn problog_annotations() {
    assert_eq!(clause("0.3::a."), "::(0.3,a)");
    assert_eq!(clause("0.2::p(X) :- q(X)."), ":-(::(0.2,p(X)),q(X))");
    assert_eq!(clause("0.5*0.4::a."), "::(*(0.5,0.4),a)");
    assert_eq!(clause("1/3::b."), "::(/(1,3),b)");
    assert_eq!(clause("0.2::c(red); 0.5::c(green) :- ball."), ":-(;(::(0.2,c(red)),::(0.5,c(green))),ball)");
    assert_eq!(clause("t(0.5)::coin."), "::(t(0.5),coin)");
    assert_eq!(clause("t(_)::coin."), "::(t(_),coin)");
    assert_eq!(clause("evidence(\\+ a)."), "evidence(\\+(a))");
    assert_eq!(clause("nn(net, [X], Y, [0,1]) :: digit(X, Y)."), "::(nn(net,[X],Y,[0,1]),digit(X,Y))");
    assert_eq!(clause("nn(net, [X]) :: is_red(X)."), "::(nn(net,[X]),is_red(X))");
}

#[test]
fn deeplog_formulas_fit_in_arguments() {
    assert_eq!(
        clause("0.9 :: constraint(forall(X in person, smokes(X) implies cancer(X)))."),
        "::(0.9,constraint(forall(in(X,person),implies(smokes(X),cancer(X)))))"
    );
    assert_eq!(
        clause("query(exists(X in person, smokes(X) and not cancer(X)))."),
        "query(exists(in(X,person),and(smokes(X),not(cancer(X)))))"
    );
    assert_eq!(
        clause("q(a and b implies c, a <-> b, a or b iff c)."),
        "q(implies(and(a,b),c),<->(a,b),or(a,iff(b,c)))"
    );
    assert_eq!(
        clause("query(sum(X in person, smokes(X)_probability))."),
        "query(sum(in(X,person),smokes(X)@probability))"
    );
    assert_eq!(clause("query((a ; b)_probability)."), "query(;(a,b)@probability)");
    assert_eq!(clause("q(p(X)_godel, heads_probability)."), "q(p(X)@godel,heads_probability)");
    assert_eq!(clause("f(a :- b, c)."), "f(:-(a,b),c)");
}

#[test]
fn terms() {
    assert_eq!(
        clause("p('New York', \"a \\\"b\\\"\", 'it''s', [], [a,b], [H|T], [a,b|T], _, _X, Y)."),
        "p(New York,\"a \\\"b\\\"\",it's,[],[a,b],[H|T],[a,b|T],_,_X,Y)"
    );
    assert_eq!(clause("'hello world'(X)."), "hello world(X)");
    assert_eq!(clause("p({a, b}, {})."), "p({}(','(a,b)),{})");
    assert_eq!(clause("p(-, +, mod, (-), [*, is])."), "p(-,+,mod,-,[*,is])");
    assert_eq!(clause("p(X) :- !."), ":-(p(X),!)");
    assert_eq!(clause("/* a */ p % b\n ."), "p");
}

// ---------------------------------------------------------------- programs

#[test]
fn every_benchmark_program_parses_and_round_trips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench/programs");
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!("no benchmark programs at {dir}; skipped");
        return;
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pl") {
            let source = std::fs::read_to_string(&path).unwrap();
            let program = parse(&source).unwrap_or_else(|e| {
                let at = e.span.line_col(&source);
                panic!("{}:{}:{}: {e}", path.display(), at.line, at.column)
            });
            assert!(!program.clauses.is_empty());
            assert_round_trips(&source);
            count += 1;
        }
    }
    println!("{count} benchmark programs parse");
}

const PROBLOG: &str = "\
% Bayesian network with an annotated disjunction and negation.
0.3::burglary.
0.2::earthquake.
0.9::alarm :- burglary, earthquake.
0.8::alarm :- burglary, \\+ earthquake.
0.4::color(red); 0.6::color(blue) :- alarm.
calls(X) :- person(X), alarm, \\+ asleep(X).
person(john). person('Mary Ann').
query(calls(john)).
evidence(color(blue), false).
";

const DEEPPROBLOG: &str = "\
nn(mnist_net, [X], Y, [0,1,2,3,4,5,6,7,8,9]) :: digit(X, Y).
t(0.5)::coin.
addition(X, Y, Z) :- digit(X, N1), digit(Y, N2), Z is N1 + N2.
a :- coin.
evidence(a, true).
query(addition(img1, img2, 7)).
";

const DEEPLOG: &str = "\
:- logic(godel).
person(ann). person(bob).
0.8::smokes(ann).
0.9 :: constraint(forall(X in person, smokes(X) implies cancer(X))).
query(sum(X in person, smokes(X)_probability)).
query((a ; b)_probability).
";

const PROLOG_CORE: &str = "\
/* lists, arithmetic, strings */
len([], 0).
len([_|T], N) :- len(T, M), N is M + 1.
label(X, \"x-ray\") :- X >= -1.5e3, X =\\= 2 ** 3.
";

#[test]
fn syntax_tree_of_a_problog_program() {
    insta::assert_snapshot!(dump(PROBLOG, &parse(PROBLOG).unwrap()));
}

#[test]
fn syntax_tree_of_a_deepproblog_program() {
    insta::assert_snapshot!(dump(DEEPPROBLOG, &parse(DEEPPROBLOG).unwrap()));
}

#[test]
fn syntax_tree_of_a_deeplog_program() {
    insta::assert_snapshot!(dump(DEEPLOG, &parse(DEEPLOG).unwrap()));
}

#[test]
fn syntax_tree_of_prolog_core() {
    insta::assert_snapshot!(dump(PROLOG_CORE, &parse(PROLOG_CORE).unwrap()));
}

#[test]
fn snapshot_programs_round_trip() {
    for source in [PROBLOG, DEEPPROBLOG, DEEPLOG, PROLOG_CORE] {
        assert_round_trips(source);
    }
}

// ---------------------------------------------------------------- errors

fn error(source: &str) -> ParseError {
    parse(source).expect_err(source)
}

#[test]
fn a_missing_end_dot_is_reported_where_the_clause_ends() {
    let src = "a :- b\nc :- d.\n";
    let e = error(src);
    assert_eq!(e.span, Span::new(6, 6), "{e}");
    assert_eq!(e.message, "expected `.` at the end of the clause; found atom `c` on line 2");
    assert_eq!(e.expected, ["`.`", "`,`", "an operator"]);

    let e = error("a :- b");
    assert_eq!(e.span, Span::new(6, 6));
    assert_eq!(e.message, "unexpected end of input; expected `.`, `,` or an operator");
}

#[test]
fn an_unclosed_parenthesis_is_reported_where_the_clause_ends() {
    let e = error("p(a, b.\n");
    assert_eq!(e.span, Span::new(6, 7));
    assert_eq!(e.message, "unexpected end of clause `.`; expected `)`, `,` or an operator");
    assert_eq!(e.expected, ["`)`", "`,`", "an operator"]);
}

#[test]
fn a_stray_closing_parenthesis_is_reported_where_it_is() {
    let e = error("a :- b).\n");
    assert_eq!(e.span, Span::new(6, 7));
    assert_eq!(e.message, "unexpected `)`; expected `.`");
    assert_eq!(e.expected, ["`.`"]);
}

#[test]
fn other_errors_name_what_was_expected() {
    let e = error("a :- .");
    assert_eq!(e.span, Span::new(5, 6));
    assert_eq!(e.expected, ["a term"]);
    let e = error("p(X) :- q(X) r.");
    assert_eq!(e.span, Span::new(13, 14));
    assert_eq!(e.message, "unexpected atom `r`; expected `.`, `,` or an operator");
    let e = error("x :- 'abc.");
    assert_eq!((e.span, e.message.as_str()), (Span::new(5, 6), "unterminated quoted atom"));
}

// ---------------------------------------------------------------- round trip

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-zA-Z0-9_]{0,6}",
        1 => prop::sample::select(vec![
            "[]", "{}", "", "!", "is", "mod", "not", "and", ":-", "::", ",", "|", ";", "-", "\\+", "=\\=", "'", "\"",
            "\\", "A", "_x", "a b", "é", "\n\t\u{7}", "0", "{}",
        ])
        .prop_map(String::from),
        1 => any::<String>(),
    ]
}

const INFIX: &[&str] = &[
    ":-", "<-", ";", "or", "::", "->", "implies", "<->", "iff", ",", "and", "=", "\\=", "==", "\\==", "<", ">", "=<",
    ">=", "=:=", "=\\=", "is", "in", "+", "-", "*", "/", "//", "mod", "**", "^",
];
const PREFIX: &[&str] = &[":-", "\\+", "not", "-"];

fn leaf() -> impl Strategy<Value = Term> {
    let kind = prop_oneof![
        "[A-Z_][a-zA-Z0-9_]{0,4}".prop_map(TermKind::Var),
        name().prop_map(TermKind::Atom),
        any::<i64>().prop_map(TermKind::Int),
        (-5i64..5).prop_map(TermKind::Int),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(TermKind::Float),
        prop::sample::select(vec![0.3, -0.5, 1e-7, 1e22, -0.0, 2.0]).prop_map(TermKind::Float),
        any::<String>().prop_map(TermKind::Str),
        Just(TermKind::List { items: Vec::new(), tail: None }),
    ];
    kind.prop_map(|kind| Term::new(kind, Span::default()))
}

fn term() -> impl Strategy<Value = Term> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        let kind = prop_oneof![
            (name(), prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(functor, args)| TermKind::Compound { functor, args }),
            (prop::sample::select(INFIX), inner.clone(), inner.clone())
                .prop_map(|(op, l, r)| TermKind::Compound { functor: op.to_owned(), args: vec![l, r] }),
            (prop::sample::select(PREFIX), inner.clone())
                .prop_map(|(op, arg)| TermKind::Compound { functor: op.to_owned(), args: vec![arg] }),
            (prop::collection::vec(inner.clone(), 1..4), prop::option::of(inner.clone()))
                .prop_map(|(items, tail)| TermKind::List { items, tail: tail.map(Box::new) }),
            (inner, "[a-z][a-z0-9_]{0,6}")
                .prop_map(|(term, algebra)| TermKind::Annotated { term: Box::new(term), algebra }),
        ];
        kind.prop_map(|kind| Term::new(kind, Span::default()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(terms in prop::collection::vec(term(), 1..4)) {
        let printed: String = terms.iter().map(|t| format!("{t}.\n")).collect();
        let parsed = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}\n{e}")))?;
        prop_assert_eq!(without_spans(parsed), terms, "{}", printed);
    }
}

// ---------------------------------------------------------------- robustness

const INTERESTING: &[char] = &[
    '(', ')', '[', ']', '{', '}', '.', ',', '|', '\'', '"', '%', '/', '*', '\\', '-', '_', ':', ';', '=', '<', '>',
    '+', 'a', 'X', '0', '9', 'e', ' ', '\n', 'é', '\0',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_token_soup_never_panics(chars in prop::collection::vec(prop::sample::select(INTERESTING), 0..120)) {
        let _ = parse(&chars.into_iter().collect::<String>());
    }

    #[test]
    fn mutated_programs_never_panic(
        edits in prop::collection::vec((0..3u8, any::<prop::sample::Index>(), prop::sample::select(INTERESTING)), 1..8),
    ) {
        let mut text: Vec<char> = [PROBLOG, DEEPPROBLOG, DEEPLOG, PROLOG_CORE].concat().chars().collect();
        for (kind, at, c) in edits {
            let i = at.index(text.len() + 1);
            match kind {
                0 => text.insert(i, c),
                1 if i < text.len() => { text.remove(i); }
                _ if i < text.len() => text[i] = c,
                _ => {}
            }
        }
        let source: String = text.into_iter().collect();
        if let Err(e) = parse(&source) {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= source.len());
            prop_assert!(!e.message.is_empty());
        }
    }
}

// ---------------------------------------------------------------- flat and deep

/// The length of the flat inputs below: far past the limits of old (a body
/// of 1,000 goals, a list of 10,000 items), and light enough to leave the
/// timed tests their cores. The end-to-end tests (`tests/flat_inputs.rs`)
/// answer queries over 100,000.
const FLAT: usize = 20_000;

/// `source` is checked without errors, and printed back as itself.
fn checks_and_prints_back(source: &str) -> Program {
    let checked = crate::check_source(source);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics.first().map(|d| &d.message));
    let program = parse(source).unwrap();
    assert_eq!(program.to_string(), source);
    program
}

#[test]
fn a_body_of_flat_goals_is_one_level_deep() {
    let goals: Vec<String> = (0..FLAT).map(|i| format!("q({i})")).collect();
    let source = format!("q(0).\np :- {}.\n", goals.join(", "));
    let program = checks_and_prints_back(&source);
    // Cloned, compared, shown and dropped without running out of stack
    // (tests run on threads of 2 MiB).
    assert_eq!(program.clone(), program);
    assert!(format!("{program:?}").len() > source.len());
}

#[test]
fn an_annotated_disjunction_of_flat_heads_is_one_level_deep() {
    let heads: Vec<String> = (0..FLAT).map(|i| format!("1e-5::h({i})")).collect();
    let program = checks_and_prints_back(&format!("{}.\n", heads.join(" ; ")));
    let (model, _) = crate::model::lower(program);
    let [crate::model::Statement::Rule(rule)] = &model.statements[..] else { panic!() };
    assert_eq!(rule.heads.len(), FLAT);
    // More than 1 in all is still found.
    let over = format!("1::a ; {}.\n", heads.join(" ; "));
    let checked = crate::check_source(&over);
    assert!(checked.diagnostics.iter().any(|d| d.message.contains("sum to")), "{:?}", checked.diagnostics);
}

#[test]
fn a_sum_of_flat_terms_is_one_level_deep() {
    let source = format!("p(X) :- X is {}1.\n", "1 + ".repeat(FLAT - 1));
    let program = checks_and_prints_back(&source);
    // Left-leaning: `((1 + 1) + 1) + …`.
    let (_, [_, body]) = program.clauses[0].term.as_compound().unwrap() else { panic!() };
    let (_, [_, sum]) = body.as_compound().unwrap() else { panic!() };
    let (_, [left, right]) = sum.as_compound().unwrap() else { panic!() };
    assert!(matches!(left.as_compound(), Some(("+", [_, _]))) && right.kind == TermKind::Int(1));
    // A probability too: `1e-5 * 1 * 1 * …`.
    let weight = format!("1e-5{}::a.\n", " * 1".repeat(FLAT));
    assert!(!crate::check_source(&weight).has_errors());
}

#[test]
fn a_list_of_flat_items_and_its_tails_are_one_level_deep() {
    let items: Vec<String> = (0..FLAT).map(|i| i.to_string()).collect();
    let source = format!("p([{}]).\n", items.join(", "));
    checks_and_prints_back(&source);
    // `[0|[1|[2|…]]]`: brackets FLAT deep, a list one level deep.
    let tails = items.iter().map(|i| format!("[{i}|")).collect::<String>();
    let tails = format!("p({tails}[]{}).\n", "]".repeat(FLAT));
    let program = parse(&tails).unwrap();
    assert_eq!(program.clone(), program);
}

#[test]
fn a_term_nested_past_the_limit_is_a_located_error() {
    // Prefix operators nest without brackets: the parser's limit.
    let n = MAX_DEPTH + 1;
    for (before, op, after) in [("p :- ", "\\+ ", "q."), ("p(X) :- X is ", "- ", "1.")] {
        let source = format!("{before}{}{after}", op.repeat(n));
        let e = error(&source);
        assert_eq!(e.message, format!("this term nests deeper than {MAX_DEPTH} levels"), "{op}");
        // The operand is a level too: the second operator is the first
        // too deep, and the error is there.
        assert_eq!(e.span.start, before.len() + op.len(), "{op}");
    }
    // Brackets: the lexer's, at the same depth.
    for (open, close) in [("f(", ")"), ("(", ")"), ("[", "]")] {
        let source = format!("p({}a{}).", open.repeat(n), close.repeat(n));
        let e = error(&source);
        assert_eq!(e.message, format!("brackets nest deeper than {MAX_DEPTH}"), "{open}");
        assert_eq!(e.span.start, 2 + open.len() * (MAX_DEPTH - 1) + open.len() - 1, "{open}");
    }
}

#[test]
fn the_deepest_allowed_term_prints_compares_and_drops() {
    // `\+` MAX_DEPTH - 2 times over `f(a)` (two levels) under `:-`, whose
    // own level makes MAX_DEPTH, but nothing else.
    let source = format!("p :- {}f(a).", "\\+ ".repeat(MAX_DEPTH - 3));
    let program = parse(&source).unwrap();
    assert_eq!(program.to_string(), format!("{source}\n"));
    assert_eq!(program.clone(), program);
    assert!(format!("{program:?}").len() > source.len());
    assert!(crate::check_source(&source).diagnostics.iter().all(|d| !d.message.contains("nests")));
    assert!(parse(&format!("p :- \\+ {}f(a).", "\\+ ".repeat(MAX_DEPTH - 3))).is_err());
}

#[test]
fn wide_terms_are_fine() {
    let n = 10_000;
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let args = format!("p({}).", items.join(", "));
    let program = parse(&args).unwrap();
    assert_eq!(program.clauses[0].term.as_compound().unwrap().1.len(), n);
}

// ---------------------------------------------------------------- speed

#[test]
fn a_million_ground_facts_parse_quickly() {
    // Debug builds are ~20x slower; they check the figure on a tenth.
    let n = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };
    let mut source = String::with_capacity(n * 28);
    for i in 0..n {
        writeln!(source, "0.{}::edge({},{}).", 1 + i % 9, 100_000 + i % 900_000, 100_000 + (i * 7919) % 900_000)
            .unwrap();
    }
    let start = Instant::now();
    let program = parse(&source).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(program.clauses.len(), n);
    let mb = source.len() as f64 / 1e6;
    println!("parsed {n} facts, {mb:.1} MB, in {seconds:.3} s: {:.0} MB/s", mb / seconds);
    if !cfg!(debug_assertions) {
        assert!(seconds < 2.0, "{seconds} s");
    }
}

#[test]
fn every_example_in_the_language_specification_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md");
    let Ok(doc) = std::fs::read_to_string(path) else {
        println!("no specification at {path}; skipped");
        return;
    };
    let blocks: Vec<&str> = doc.split("```").skip(1).step_by(2).filter_map(|b| b.strip_prefix("prolog\n")).collect();
    assert!(blocks.len() >= 5, "{} examples", blocks.len());
    for block in blocks {
        parse(block).unwrap_or_else(|e| panic!("{block}\n{}: {e}", e.span.line_col(block).line));
        assert_round_trips(block);
    }
}
