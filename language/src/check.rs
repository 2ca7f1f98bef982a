//! Checks on a [`Model`]: probabilities in range, annotated disjunctions
//! that do not sum above 1, one arity per predicate, safe rules, queries and
//! evidence on defined predicates, stratified negation, and neural
//! predicates used within their output domains.
//!
//! ```
//! use deeplog_language::{check::check, model::lower, parse};
//!
//! let (model, _) = lower(parse("0.7::a; 0.6::a2.\nquery(b).").unwrap());
//! let found = check(&model);
//! assert!(found.iter().any(|d| d.message.contains("sum to 1.3")));
//! assert!(found.iter().any(|d| d.message.contains("`b/0` is never defined")));
//! ```

use std::collections::{HashMap, HashSet};

use deeplog_program::stack::guard;

use crate::diagnostic::Diagnostic;
use crate::model::{Annotation, Model, Neural, Statement};
use crate::syntax::{Span, Term, TermKind};

/// A predicate: name and arity.
pub type Predicate<'a> = (&'a str, usize);

/// Everything suspicious or wrong in `model`, in file order per check.
pub fn check(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_probabilities(model, &mut out);
    check_arities(model, &mut out);
    check_targets(model, &mut out);
    check_defined(model, &mut out);
    check_neural_domains(model, &mut out);
    out
}

/// A query or evidence is on an atom of a predicate (or, for a query, a
/// formula): a variable, a number, a string or a list is not one, and
/// grounding would refuse it; the checker says so first.
fn check_targets(model: &Model, out: &mut Vec<Diagnostic>) {
    for statement in &model.statements {
        let target = match statement {
            Statement::Query(q) => &q.target,
            Statement::Evidence(e) => &e.atom,
            _ => continue,
        };
        if !matches!(target.kind, TermKind::Atom(_) | TermKind::Compound { .. } | TermKind::Annotated { .. }) {
            out.push(
                Diagnostic::error(target.span, "a query or evidence must be an atom of a predicate, like `p(a)`")
                    .with_label("not an atom"),
            );
        }
    }
}

fn fmt_number(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn check_probabilities(model: &Model, out: &mut Vec<Diagnostic>) {
    let in_range = |p: f64| (0.0..=1.0).contains(&p);
    for statement in &model.statements {
        match statement {
            Statement::Rule(rule) => {
                let mut total = 0.0;
                for head in &rule.heads {
                    match head.annotation {
                        Annotation::Probability { value, span }
                        | Annotation::Learnable { initial: Some(value), span, .. } => {
                            if !in_range(value) {
                                out.push(
                                    Diagnostic::error(
                                        span,
                                        format!("probability {} is outside [0, 1]", fmt_number(value)),
                                    )
                                    .with_label("not a probability"),
                                );
                            }
                            total += value;
                        }
                        _ => {}
                    }
                }
                if rule.heads.len() > 1 && total > 1.0 + deeplog_program::SUM_TOLERANCE {
                    let span = rule.heads[0].span.to(rule.heads[rule.heads.len() - 1].span);
                    out.push(
                        Diagnostic::error(
                            span,
                            format!(
                                "the probabilities of this annotated disjunction sum to {}, more than 1 (by more \
                                 than the {:e} allowed for rounding)",
                                // Nine decimals show a sum beyond the tolerance
                                // as above 1, and no binary noise.
                                format!("{total:.9}").trim_end_matches('0').trim_end_matches('.'),
                                deeplog_program::SUM_TOLERANCE
                            ),
                        )
                        .with_note("its choices are exclusive, so at most one holds: their probabilities must sum to 1 or less"),
                    );
                }
            }
            Statement::Constraint(c) => {
                if let Some((w, span)) = c.weight {
                    if !in_range(w) {
                        out.push(Diagnostic::error(
                            span,
                            format!("constraint weight {} is outside [0, 1]", fmt_number(w)),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Operators and control constructs a body is built from.
fn is_connective(name: &str, arity: usize) -> bool {
    matches!((name, arity), ("," | ";" | "->" | "and" | "or" | "implies" | "<->" | "iff", 2) | ("\\+" | "not", 1))
}

/// Built-in predicates: they bind or test, and are never defined by rules.
fn is_builtin(name: &str, arity: usize) -> bool {
    matches!((name, arity), ("true" | "fail" | "false", 0) | ("findall", 3) | ("clause" | "cut", 2) | ("cut", 1))
        || matches!(name, "writenl" | "debugprint" | "error")
        || crate::ground::clauses::is_builtin(name, arity)
}

/// Quantifiers and aggregates of DeepLog formulas: `forall(X in D, F)`.
fn is_binder(name: &str, arity: usize) -> bool {
    matches!((name, arity), ("forall" | "exists" | "sum" | "max" | "min" | "product", 2) | ("pmean" | "pmean_error", 3))
}

/// A literal of a body or formula: its predicate and its term.
struct Use<'a> {
    predicate: Predicate<'a>,
    term: &'a Term,
}

/// Every predicate use in a body or formula, in the order of the text.
/// The walk keeps the terms still to visit on a stack of its own, as a
/// body may be a chain of 100,000 goals.
fn uses<'a>(term: &'a Term, out: &mut Vec<Use<'a>>) {
    let mut todo = vec![term];
    while let Some(term) = todo.pop() {
        match &term.kind {
            TermKind::Atom(name) if !is_builtin(name, 0) => out.push(Use { predicate: (name.as_str(), 0), term }),
            TermKind::Annotated { term, .. } => todo.push(term),
            TermKind::Compound { functor, args } => {
                let (name, arity) = (functor.as_str(), args.len());
                let inner: &[Term] = if matches!((name, arity), ("\\+" | "not", 1))
                    || is_connective(name, arity)
                    || matches!((name, arity), ("r_implies" | "s_implies" | "*" | "+", 2))
                {
                    args
                } else if is_binder(name, arity) {
                    // `X in D` names a domain, not a predicate.
                    &args[1..]
                } else if (name, arity) == ("findall", 3) {
                    &args[1..2]
                } else if matches!((name, arity), ("once" | "ignore" | "try_call" | "call_nc", 1) | ("forall", 2)) {
                    args
                } else if name == "call" && arity >= 1 {
                    // `call(p(X), Y)` uses `p/2`; a variable goal is
                    // resolved while grounding.
                    match &args[0].kind {
                        TermKind::Atom(goal) => out.push(Use { predicate: (goal.as_str(), arity - 1), term }),
                        TermKind::Compound { functor, args: inner }
                            if !is_connective(functor, inner.len())
                                && !is_builtin(functor, inner.len() + arity - 1) =>
                        {
                            out.push(Use { predicate: (functor.as_str(), inner.len() + arity - 1), term })
                        }
                        TermKind::Compound { .. } if arity == 1 => todo.push(&args[0]),
                        _ => {}
                    }
                    &[]
                } else {
                    if !is_builtin(name, arity) {
                        out.push(Use { predicate: (name, arity), term });
                    }
                    &[]
                };
                todo.extend(inner.iter().rev());
            }
            _ => {}
        }
    }
}

fn predicate_of(term: &Term) -> Option<Predicate<'_>> {
    match &term.kind {
        TermKind::Atom(n) => Some((n.as_str(), 0)),
        TermKind::Compound { functor, args } => Some((functor.as_str(), args.len())),
        _ => None,
    }
}

/// Calls `f` with every (predicate, span) a model mentions, heads and
/// bodies, in file order.
fn for_each_mention<'a>(model: &'a Model, mut f: impl FnMut(Predicate<'a>, Span)) {
    let mut found = Vec::new();
    for statement in &model.statements {
        found.clear();
        match statement {
            Statement::Rule(rule) => {
                for h in &rule.heads {
                    if let Some(p) = predicate_of(&h.atom) {
                        f(p, h.atom.span);
                    }
                }
                if let Some(body) = &rule.body {
                    uses(body, &mut found);
                }
            }
            Statement::Query(q) => {
                uses(&q.target, &mut found);
                if let Some(c) = &q.condition {
                    uses(c, &mut found);
                }
            }
            Statement::Evidence(e) => {
                uses(&e.atom, &mut found);
                if let Some(c) = &e.condition {
                    uses(c, &mut found);
                }
            }
            Statement::Constraint(c) => uses(&c.formula, &mut found),
            _ => {}
        }
        for u in &found {
            f(u.predicate, u.term.span);
        }
    }
}

/// A name used with two arities, where one of them has no clause: the
/// usual typo (`parent(a)` for `parent(a, b)`). Two arities that both
/// have clauses (`path/2` calling `path/3`, a common Prolog pattern) are
/// two predicates on purpose.
fn check_arities(model: &Model, out: &mut Vec<Diagnostic>) {
    let defined: HashSet<Predicate<'_>> = model
        .rules()
        .flat_map(|r| r.heads.iter().filter_map(|h| predicate_of(&h.atom)))
        .chain(model.dynamic())
        .collect();
    let mut first: HashMap<&str, (usize, Span)> = HashMap::new();
    let mut reported: HashSet<&str> = HashSet::new();
    for_each_mention(model, |(name, arity), span| match first.get(&name) {
        None => {
            first.insert(name, (arity, span));
        }
        Some(&(a0, s0))
            if a0 != arity
                && !reported.contains(name)
                && !(defined.contains(&(name, arity)) && defined.contains(&(name, a0))) =>
        {
            out.push(
                Diagnostic::warning(
                    span,
                    format!("`{name}` is used with two arities: {name}/{arity} here and {name}/{a0} before"),
                )
                .with_label(format!("{name}/{arity}"))
                .with_related(s0, format!("{name}/{a0}"))
                .with_note("these are two different predicates; if that is intended, give them different names"),
            );
            reported.insert(name);
        }
        _ => {}
    });
}

fn check_defined(model: &Model, out: &mut Vec<Diagnostic>) {
    let defined: HashSet<Predicate<'_>> = model
        .rules()
        .flat_map(|r| r.heads.iter().filter_map(|h| predicate_of(&h.atom)))
        .chain(model.dynamic())
        .collect();
    for statement in &model.statements {
        let (target, what) = match statement {
            Statement::Query(q) => (&q.target, "queried"),
            Statement::Evidence(e) => (&e.atom, "given as evidence"),
            _ => continue,
        };
        let mut found = Vec::new();
        uses(target, &mut found);
        for u in found {
            if !defined.contains(&u.predicate) {
                let (name, arity) = &u.predicate;
                out.push(
                    Diagnostic::warning(u.term.span, format!("`{name}/{arity}` is never defined"))
                        .with_label(format!("{what}, but no fact or rule has this head")),
                );
            }
        }
    }

    // A call of a predicate nothing defines is almost always a typo or a
    // builtin deeplog lacks; ProbLog refuses it too (UnknownClause). With a
    // module in use the definition may live there: then only a warning.
    let modules = model.statements.iter().any(|s| matches!(s, Statement::UseModule(..)));
    let mut reported = HashSet::new();
    for statement in &model.statements {
        let mut found = Vec::new();
        match statement {
            Statement::Rule(rule) => {
                if let Some(body) = &rule.body {
                    uses(body, &mut found);
                }
            }
            Statement::Constraint(c) => uses(&c.formula, &mut found),
            Statement::Query(q) => match &q.condition {
                Some(c) => uses(c, &mut found),
                None => continue,
            },
            Statement::Evidence(e) => match &e.condition {
                Some(c) => uses(c, &mut found),
                None => continue,
            },
            _ => continue,
        }
        for u in found {
            if defined.contains(&u.predicate) || !reported.insert(u.predicate) {
                continue;
            }
            let (name, arity) = u.predicate;
            let message =
                format!("unknown predicate `{name}/{arity}`: no fact or rule defines it and it is not a builtin");
            let mut d = if modules {
                Diagnostic::warning(u.term.span, message)
            } else {
                Diagnostic::error(u.term.span, message)
            };
            d = d.with_label("called here");
            let closest = defined
                .iter()
                .filter(|(_, a)| *a == arity)
                .map(|(n, a)| (edit_distance(name, n), *n, *a))
                .filter(|(d, _, _)| *d <= 2.max(name.len() / 4))
                .min();
            if let Some((_, n, a)) = closest {
                d = d.with_note(format!("did you mean `{n}/{a}`?"));
            } else {
                d = d.with_note(
                    "the builtins and library predicates deeplog has are listed in docs/language.md (\"ProbLog's \
                     language, feature by feature\")",
                );
            }
            out.push(d);
        }
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + (ca != cb) as usize).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Structural equality, ignoring spans.
fn same(a: &Term, b: &Term) -> bool {
    guard(|| same_nested(a, b))
}

fn same_nested(a: &Term, b: &Term) -> bool {
    match (&a.kind, &b.kind) {
        (TermKind::Compound { functor: f, args: x }, TermKind::Compound { functor: g, args: y }) => {
            f == g && x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (TermKind::List { items: x, tail: s }, TermKind::List { items: y, tail: t }) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|(a, b)| same(a, b))
                && match (s, t) {
                    (Some(s), Some(t)) => same(s, t),
                    (None, None) => true,
                    _ => false,
                }
        }
        (TermKind::Annotated { term: x, algebra: p }, TermKind::Annotated { term: y, algebra: q }) => {
            p == q && same(x, y)
        }
        (x, y) => x == y,
    }
}

fn is_constant(t: &Term) -> bool {
    matches!(t.kind, TermKind::Atom(_) | TermKind::Int(_) | TermKind::Float(_) | TermKind::Str(_))
}

fn check_neural_domains(model: &Model, out: &mut Vec<Diagnostic>) {
    // Neural heads with a domain: predicate → (argument position, network, domain).
    let mut declared: HashMap<Predicate<'_>, (usize, &Neural)> = HashMap::new();
    for rule in model.rules() {
        for head in &rule.heads {
            let Annotation::Neural(n) = &head.annotation else { continue };
            let (Some(output), Some(_)) = (&n.output, &n.domain) else { continue };
            let Some((name, args)) = head.atom.as_compound() else { continue };
            match args.iter().position(|a| same(a, output)) {
                Some(k) => {
                    declared.insert((name, args.len()), (k, n));
                }
                None => out.push(
                    Diagnostic::error(
                        output.span,
                        format!("the network's output does not appear in the head `{name}`"),
                    )
                    .with_related(head.atom.span, "head"),
                ),
            }
        }
    }
    if declared.is_empty() {
        return;
    }
    for statement in &model.statements {
        let mut found = Vec::new();
        match statement {
            Statement::Rule(r) => {
                if let Some(b) = &r.body {
                    uses(b, &mut found)
                }
            }
            Statement::Query(q) => uses(&q.target, &mut found),
            Statement::Evidence(e) => uses(&e.atom, &mut found),
            Statement::Constraint(c) => uses(&c.formula, &mut found),
            _ => {}
        }
        for u in found {
            let Some(&(k, n)) = declared.get(&u.predicate) else { continue };
            let Some((name, args)) = u.term.as_compound() else { continue };
            let arg = &args[k];
            let domain = n.domain.as_deref().unwrap_or_default();
            if is_constant(arg) && !domain.iter().any(|d| same(d, arg)) {
                out.push(
                    Diagnostic::error(
                        arg.span,
                        format!(
                            "`{name}/{}` takes argument {} from the outputs of network `{}`, and this value is not one of them",
                            args.len(),
                            k + 1,
                            n.network
                        ),
                    )
                    .with_label("not in the network's output domain")
                    .with_related(n.span, "outputs declared here"),
                );
            }
        }
    }
}
