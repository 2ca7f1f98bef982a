//! The library: predicates written in Prolog (`library.pl`: ProbLog's and
//! SWI-Prolog's `library(lists)`) that a model may call without defining.
//! [`link`] adds to a model the library's clauses for every predicate it
//! mentions and does not define, and those they call in turn; a model's
//! own definition always wins. The clauses carry the place of the call
//! that brought them in, so an error inside one points at the user's text.

use std::collections::{BTreeMap, HashSet};

use crate::model::{self, Model, Rule, Statement};
use crate::syntax::{Span, Term, TermKind};

const SOURCE: &str = include_str!("library.pl");

/// The library's clauses by predicate (name, arity), in text order.
fn clauses() -> BTreeMap<(String, usize), Vec<Rule>> {
    let program = crate::parse(SOURCE).expect("the library parses");
    let (model, diagnostics) = model::lower(program);
    assert!(diagnostics.is_empty(), "the library lowers: {diagnostics:?}");
    let mut out: BTreeMap<(String, usize), Vec<Rule>> = BTreeMap::new();
    for statement in model.statements {
        if let Statement::Rule(rule) = statement {
            let key = predicate(&rule.heads[0].atom).expect("library heads are atoms");
            out.entry((key.0.to_string(), key.1)).or_default().push(rule);
        }
    }
    out
}

/// The names the library's clauses define, read off the start of its lines.
fn head_names() -> &'static HashSet<&'static str> {
    static NAMES: std::sync::OnceLock<HashSet<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        SOURCE
            .lines()
            // `P::name(...)`: a probabilistic clause, named after its `::`.
            .map(|l| {
                if l.starts_with(|c: char| c.is_ascii_uppercase()) {
                    l.split_once("::").map_or(l, |(_, r)| r)
                } else {
                    l
                }
            })
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase() || c == '\''))
            .filter_map(|l| l.split(['(', ' ', '.']).next())
            .map(|n| n.trim_matches('\''))
            .collect()
    })
}

fn predicate(term: &Term) -> Option<(&str, usize)> {
    match &term.kind {
        TermKind::Atom(n) => Some((n.as_str(), 0)),
        TermKind::Compound { functor, args } => Some((functor.as_str(), args.len())),
        _ => None,
    }
}

/// Every (name, arity, span) of a term and its subterms: the predicates a
/// body may call, and some data besides (which links nothing the model
/// does not call).
fn mentions(term: &Term, out: &mut Vec<(String, usize, Span)>) {
    out.extend(term.subterms().filter_map(|t| predicate(t).map(|(n, a)| (n.to_string(), a, t.span))));
}

/// Rewrites the all-solutions goals of `model`'s rule bodies into
/// `findall/3` and list predicates: `aggregate_all(sum(E), G, S)` is
/// `findall(E, G, L), sum_list(L, S)`; `bagof/3` and `setof/3` group the
/// solutions by the goal's free variables (those not in the template and
/// not bound by `V^`), one answer per group, and fail where there is none.
pub fn expand(model: &mut Model) {
    let mut fresh = 0usize;
    // `clause(H, B)` reads the model's clauses as data, each head and body
    // as written (a fact's body is `true`).
    let mut clauses: BTreeMap<(String, usize), Vec<(Term, Term)>> = BTreeMap::new();
    for rule in model.rules() {
        for h in &rule.heads {
            if let Some((n, a)) = predicate(&h.atom) {
                let body =
                    rule.body.as_deref().cloned().unwrap_or_else(|| Term::new(TermKind::Atom("true".into()), h.span));
                clauses.entry((n.to_string(), a)).or_default().push((h.atom.clone(), body));
            }
        }
    }
    for statement in &mut model.statements {
        let Statement::Rule(rule) = statement else { continue };
        let Some(body) = &mut rule.body else { continue };
        // `clause/2` first, at goal positions only: the clauses it puts in
        // are data, not goals to expand again.
        if !clauses.is_empty() {
            expand_clause_goals(body, &clauses, &mut fresh);
        }
        body.visit_mut(&mut |t| {
            if let Some(expanded) = expansion(t, &mut fresh) {
                *t = expanded;
            }
        });
    }
}

/// Expands every `clause(H, B)` at a goal position of `goal`: through
/// conjunctions, disjunctions, if-then-else, negation and the goals of the
/// all-solutions predicates.
fn expand_clause_goals(goal: &mut Term, clauses: &BTreeMap<(String, usize), Vec<(Term, Term)>>, fresh: &mut usize) {
    deeplog_program::stack::guard(|| {
        // A model's own `clause/2` or `cut/N` is its own.
        let own = |name: &str, arity: usize| clauses.contains_key(&(name.to_string(), arity));
        if let Some(("clause", [head, body])) = goal.as_compound().filter(|_| !own("clause", 2)) {
            if let Some(expanded) = clause_expansion(head, body, clauses, fresh, goal.span) {
                *goal = expanded;
            }
            return;
        }
        if let Some(("cut", [call, rest @ ..])) = goal.as_compound() {
            if rest.len() <= 1 && !own("cut", rest.len() + 1) {
                if let Some(expanded) = cut_expansion(call, rest.first(), clauses, goal.span) {
                    *goal = expanded;
                }
            }
            return;
        }
        let TermKind::Compound { functor, args } = &mut goal.kind else { return };
        let goals: &mut [Term] = match (functor.as_str(), args.len()) {
            ("," | ";" | "->" | "*->" | "forall", 2) | ("\\+" | "not" | "once" | "ignore" | "call", 1) => args,
            ("findall" | "bagof" | "setof" | "aggregate_all" | "all", 3) => &mut args[1..2],
            ("^", 2) => &mut args[1..2],
            _ => return,
        };
        for g in goals {
            expand_clause_goals(g, clauses, fresh);
        }
    })
}

/// The most indexes `cut/1,2` takes the clauses of.
const MAX_CUT_INDEXES: usize = 1000;

/// ProbLog's `library(cut)`: `cut(r(Args))` takes the clauses of
/// `r(Index, Args)` in the order of their indexes and answers with the
/// first whose call succeeds: alternative `j` is `r(i_j, Args)` where no
/// clause of an earlier index succeeds at all (`\+ r(i_1, _...)`, ...).
/// `cut(r(Args), Index)` also gives the index. The indexes must be written
/// as constants in the clauses' heads.
fn cut_expansion(
    call: &Term,
    index: Option<&Term>,
    clauses: &BTreeMap<(String, usize), Vec<(Term, Term)>>,
    span: Span,
) -> Option<Term> {
    let (name, args): (&str, &[Term]) = match &call.kind {
        TermKind::Atom(n) => (n.as_str(), &[]),
        TermKind::Compound { functor, args } => (functor.as_str(), args.as_slice()),
        _ => return None,
    };
    let mut indexes: Vec<Term> = Vec::new();
    for (h, _) in clauses.get(&(name.to_string(), args.len() + 1))? {
        let (_, hargs) = h.as_compound()?;
        let i = hargs.first()?;
        if !matches!(i.kind, TermKind::Int(_) | TermKind::Atom(_)) {
            return None;
        }
        if !indexes.iter().any(|seen| seen.kind == i.kind) {
            indexes.push(i.clone());
        }
    }
    // The standard order: numbers before atoms.
    indexes.sort_by(|a, b| match (&a.kind, &b.kind) {
        (TermKind::Int(x), TermKind::Int(y)) => x.cmp(y),
        (TermKind::Int(_), _) => std::cmp::Ordering::Less,
        (_, TermKind::Int(_)) => std::cmp::Ordering::Greater,
        (TermKind::Atom(x), TermKind::Atom(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    let compound =
        |functor: &str, args: Vec<Term>| Term::new(TermKind::Compound { functor: functor.into(), args }, span);
    // Alternative `j` negates the `j - 1` before it: quadratic in the
    // indexes, so a long list is refused where the call is grounded.
    if indexes.len() > MAX_CUT_INDEXES {
        let message = format!(
            "`cut` over the {} indexes of `{name}/{}` is not supported (at most {MAX_CUT_INDEXES})",
            indexes.len(),
            args.len() + 1
        );
        return Some(compound("error", vec![Term::new(TermKind::Atom(message), span)]));
    }
    let with_index = |i: &Term, rest: Vec<Term>| compound(name, std::iter::once(i.clone()).chain(rest).collect());
    let anonymous: Vec<Term> = args.iter().map(|_| Term::new(TermKind::Var("_".into()), span)).collect();
    let mut alternatives = Vec::new();
    for (j, i) in indexes.iter().enumerate() {
        let mut goal = with_index(i, args.to_vec());
        if let Some(index) = index {
            goal = compound(",", vec![goal, compound("=", vec![index.clone(), i.clone()])]);
        }
        for earlier in indexes[..j].iter().rev() {
            let none = compound("\\+", vec![with_index(earlier, anonymous.clone())]);
            goal = compound(",", vec![none, goal]);
        }
        alternatives.push(goal);
    }
    let mut out = alternatives.pop().unwrap_or_else(|| Term::new(TermKind::Atom("fail".into()), span));
    while let Some(a) = alternatives.pop() {
        out = compound(";", vec![a, out]);
    }
    Some(out)
}

/// `clause(H, B)` with `H` written in the clause: one alternative per
/// clause of its predicate, `H = Head, B = Body`, each clause's variables
/// renamed apart; `fail` where it has none.
fn clause_expansion(
    head: &Term,
    body: &Term,
    clauses: &BTreeMap<(String, usize), Vec<(Term, Term)>>,
    fresh: &mut usize,
    span: Span,
) -> Option<Term> {
    let (name, arity) = predicate(head)?;
    let call = |name: &str, args: Vec<Term>| Term::new(TermKind::Compound { functor: name.into(), args }, span);
    let mut alternatives: Vec<Term> = Vec::new();
    for (h, b) in clauses.get(&(name.to_string(), arity)).into_iter().flatten() {
        *fresh += 1;
        let suffix = format!("_$cl{fresh}");
        let rename = |t: &Term| {
            let mut t = t.clone();
            t.visit_mut(&mut |x| {
                x.span = span;
                if let TermKind::Var(v) = &mut x.kind {
                    if v != "_" {
                        v.push_str(&suffix);
                    }
                }
            });
            t
        };
        alternatives
            .push(call(",", vec![call("=", vec![head.clone(), rename(h)]), call("=", vec![body.clone(), rename(b)])]));
    }
    let mut out = alternatives.pop().unwrap_or_else(|| Term::new(TermKind::Atom("fail".into()), span));
    while let Some(a) = alternatives.pop() {
        out = call(";", vec![a, out]);
    }
    Some(out)
}

/// The expansion of one all-solutions goal, if `t` is one.
fn expansion(t: &Term, fresh: &mut usize) -> Option<Term> {
    let (name, args) = t.as_compound()?;
    let span = t.span;
    let mut var = || {
        *fresh += 1;
        Term::new(TermKind::Var(format!("_$all{fresh}")), span)
    };
    let call = |name: &str, args: Vec<Term>| Term::new(TermKind::Compound { functor: name.into(), args }, span);
    let and = |a: Term, b: Term| call(",", vec![a, b]);
    match (name, args) {
        ("aggregate_all", [spec, goal, result]) => {
            let list = var();
            let (template, finish) = match spec.as_compound() {
                Some(("sum", [e])) => (e.clone(), Some("sum_list")),
                Some(("max", [e])) => (e.clone(), Some("max_list")),
                Some(("min", [e])) => (e.clone(), Some("min_list")),
                Some(("bag", [e])) => (e.clone(), None),
                Some(("set", [e])) => (e.clone(), Some("sort")),
                Some(("count", [e])) => (e.clone(), Some("length")),
                _ if matches!(&spec.kind, TermKind::Atom(a) if a == "count") => {
                    (Term::new(TermKind::Atom("x".into()), span), Some("length"))
                }
                _ => return None,
            };
            Some(match finish {
                Some(f) => and(
                    call("findall", vec![template, goal.clone(), list.clone()]),
                    call(f, vec![list, result.clone()]),
                ),
                // `bag`: the list itself.
                None => call("findall", vec![template, goal.clone(), result.clone()]),
            })
        }
        // ProbLog's `all/3`: every solution, failing on none;
        // `all_or_none/3` is `findall/3`.
        ("all", [template, goal, result]) => {
            let list = var();
            let findall = call("findall", vec![template.clone(), goal.clone(), list.clone()]);
            let nonempty =
                call("\\==", vec![list.clone(), Term::new(TermKind::List { items: vec![], tail: None }, span)]);
            Some(and(findall, and(nonempty, call("=", vec![list, result.clone()]))))
        }
        ("all_or_none", [template, goal, result]) => {
            Some(call("findall", vec![template.clone(), goal.clone(), result.clone()]))
        }
        ("bagof" | "setof", [template, goal, result]) => {
            // `V^G`: `V` is not free.
            let mut goal = goal;
            let mut bound: Vec<&str> = template.variables().map(|(v, _)| v).collect();
            while let Some(("^", [v, g])) = goal.as_compound() {
                bound.extend(v.variables().map(|(v, _)| v));
                goal = g;
            }
            let mut free: Vec<Term> = Vec::new();
            for (v, s) in goal.variables() {
                if v != "_"
                    && !bound.contains(&v)
                    && !free.iter().any(|f| matches!(&f.kind, TermKind::Var(n) if n == v))
                {
                    free.push(Term::new(TermKind::Var(v.to_string()), s));
                }
            }
            let sort = |list: Term, result: Term| call("sort", vec![list, result]);
            if free.is_empty() {
                let list = var();
                let findall = call("findall", vec![template.clone(), goal.clone(), list.clone()]);
                let nonempty =
                    call("\\==", vec![list.clone(), Term::new(TermKind::List { items: vec![], tail: None }, span)]);
                let finish =
                    if name == "setof" { sort(list, result.clone()) } else { call("=", vec![list, result.clone()]) };
                return Some(and(findall, and(nonempty, finish)));
            }
            let witness = call("$w", free);
            let pairs = var();
            let pair = call("-", vec![witness.clone(), template.clone()]);
            let findall = call("findall", vec![pair, goal.clone(), pairs.clone()]);
            let group = var();
            let groups = call("$bag_groups", vec![pairs, witness, group.clone()]);
            let finish =
                if name == "setof" { sort(group, result.clone()) } else { call("=", vec![group, result.clone()]) };
            Some(and(findall, and(groups, finish)))
        }
        _ => None,
    }
}

/// Negative heads, as ProbLog reads them: `0.5::\+ a :- c.` makes `a`
/// false in the worlds where it fires, whatever else derives `a`. For each
/// predicate with one, the positive clauses define `'$pos_p'`, the negative
/// ones `'$neg_p'`, and `p(X...) :- '$pos_p'(X...), \+ '$neg_p'(X...)`.
pub fn negative_heads(model: &mut Model) {
    let negative = |t: &Term| match t.as_compound() {
        Some(("\\+", [inner])) => predicate(inner).map(|(n, a)| (n.to_string(), a)),
        _ => None,
    };
    let mut found: Vec<((String, usize), Span)> = Vec::new();
    for rule in model.rules() {
        for h in &rule.heads {
            if let Some(key) = negative(&h.atom) {
                if !found.iter().any(|(k, _)| *k == key) {
                    found.push((key, h.span));
                }
            }
        }
    }
    if found.is_empty() {
        return;
    }
    let renamed = |term: &Term, prefix: &str| -> Term {
        let kind = match &term.kind {
            TermKind::Atom(n) => TermKind::Atom(format!("{prefix}{n}")),
            TermKind::Compound { functor, args } => {
                TermKind::Compound { functor: format!("{prefix}{functor}"), args: args.clone() }
            }
            other => other.clone(),
        };
        Term::new(kind, term.span)
    };
    for statement in &mut model.statements {
        let Statement::Rule(rule) = statement else { continue };
        for h in &mut rule.heads {
            if let Some(key) = negative(&h.atom) {
                let Some((_, [inner])) = h.atom.as_compound() else { continue };
                let inner = inner.clone();
                if found.iter().any(|(k, _)| *k == key) {
                    h.atom = renamed(&inner, "$neg_");
                }
            } else if let Some((n, a)) = predicate(&h.atom) {
                if found.iter().any(|(k, _)| k.0 == n && k.1 == a) {
                    h.atom = renamed(&h.atom, "$pos_");
                }
            }
        }
    }
    for ((name, arity), span) in found {
        let vars: Vec<Term> = (0..arity).map(|i| Term::new(TermKind::Var(format!("X{i}")), span)).collect();
        let atom = |n: String| {
            if arity == 0 {
                Term::new(TermKind::Atom(n), span)
            } else {
                Term::new(TermKind::Compound { functor: n, args: vars.clone() }, span)
            }
        };
        let negated =
            Term::new(TermKind::Compound { functor: "\\+".into(), args: vec![atom(format!("$neg_{name}"))] }, span);
        let body = Term::new(
            TermKind::Compound { functor: ",".into(), args: vec![atom(format!("$pos_{name}")), negated] },
            span,
        );
        model
            .statements
            .push(Statement::Dynamic(vec![(format!("$pos_{name}"), arity), (format!("$neg_{name}"), arity)], span));
        model.statements.push(Statement::Rule(Rule {
            heads: vec![model::Head { annotation: model::Annotation::None, atom: atom(name.clone()), span }],
            body: Some(Box::new(body)),
            span,
        }));
    }
}

/// ProbLog's head aggregates (`library(aggregate)`): `avg_age(G, avg<A>)
/// :- Body.` collects `A` over the solutions of `Body`, grouped by the
/// other head arguments, and applies the function: `sum`, `avg`, `min`,
/// `max`, `count`, or a predicate `F(List, Result)` of the model. A group
/// with no solution has no answer. It becomes `bagof/3` with every body
/// variable outside the group bound by `^`.
pub fn head_aggregates(model: &mut Model) {
    let mut fresh = 0usize;
    for statement in &mut model.statements {
        let Statement::Rule(rule) = statement else { continue };
        let [head] = rule.heads.as_mut_slice() else { continue };
        let TermKind::Compound { args, .. } = &mut head.atom.kind else { continue };
        let Some(k) = args.iter().position(|a| matches!(a.as_compound(), Some(("$aggregate", [_, _])))) else {
            continue;
        };
        let span = args[k].span;
        let Some((_, [function, value])) = args[k].as_compound() else { continue };
        let (function, value) = (function.clone(), value.clone());
        fresh += 1;
        let var = |name: String| Term::new(TermKind::Var(name), span);
        let result = var(format!("_$agg{fresh}"));
        let list = var(format!("_$agg{fresh}list"));
        args[k] = result.clone();
        let group: Vec<String> = args.iter().flat_map(|a| a.variables().map(|(v, _)| v.to_string())).collect();
        let body = rule.body.take().map_or_else(|| Term::new(TermKind::Atom("true".into()), span), |b| *b);
        let mut hidden: Vec<Term> = Vec::new();
        for (v, _) in body.variables() {
            let v = v.to_string();
            let in_value = value.variables().any(|(w, _)| w == v);
            if v != "_"
                && !group.contains(&v)
                && !in_value
                && !hidden.iter().any(|h| matches!(&h.kind, TermKind::Var(n) if *n == v))
            {
                hidden.push(var(v));
            }
        }
        let call = |name: &str, args: Vec<Term>| Term::new(TermKind::Compound { functor: name.into(), args }, span);
        let goal = if hidden.is_empty() { body } else { call("^", vec![call("$e", hidden), body]) };
        let bagof = call("bagof", vec![value, goal, list.clone()]);
        let finish = match &function.kind {
            TermKind::Atom(f) if f == "sum" => call("sum_list", vec![list, result]),
            TermKind::Atom(f) if f == "min" => call("min_list", vec![list, result]),
            TermKind::Atom(f) if f == "max" => call("max_list", vec![list, result]),
            TermKind::Atom(f) if f == "count" => call("length", vec![list, result]),
            TermKind::Atom(f) if f == "avg" => {
                let (sum, count) = (var(format!("_$agg{fresh}sum")), var(format!("_$agg{fresh}count")));
                let mean = call("/", vec![sum.clone(), count.clone()]);
                call(
                    ",",
                    vec![
                        call("sum_list", vec![list.clone(), sum]),
                        call(",", vec![call("length", vec![list, count]), call("is", vec![result, mean])]),
                    ],
                )
            }
            TermKind::Atom(f) => call(f, vec![list, result]),
            _ => call("call", vec![function.clone(), list, result]),
        };
        rule.body = Some(Box::new(call(",", vec![bagof, finish])));
    }
}

/// Adds to `model` the library clauses it needs.
pub fn link(model: &mut Model) {
    let defined: HashSet<(String, usize)> = model
        .rules()
        .flat_map(|r| r.heads.iter().filter_map(|h| predicate(&h.atom).map(|(n, a)| (n.to_string(), a))))
        .collect();
    let mut wanted = Vec::new();
    for statement in &model.statements {
        match statement {
            Statement::Rule(r) => {
                if let Some(body) = &r.body {
                    mentions(body, &mut wanted);
                }
            }
            Statement::Query(q) => {
                mentions(&q.target, &mut wanted);
                q.condition.iter().for_each(|c| mentions(c, &mut wanted));
            }
            Statement::Evidence(e) => {
                mentions(&e.atom, &mut wanted);
                e.condition.iter().for_each(|c| mentions(c, &mut wanted));
            }
            _ => {}
        }
    }
    // Parsing the library costs more than most small models: only where
    // the model mentions one of its names.
    let names = head_names();
    if !wanted.iter().any(|(n, a, _)| names.contains(n.as_str()) && !defined.contains(&(n.clone(), *a))) {
        return;
    }
    let mut library = clauses();
    let mut linked: HashSet<(String, usize)> = HashSet::new();
    while let Some((name, arity, span)) = wanted.pop() {
        let key = (name, arity);
        if defined.contains(&key) || linked.contains(&key) {
            continue;
        }
        let Some(rules) = library.remove(&key) else { continue };
        linked.insert(key);
        for mut rule in rules {
            crate::data::respan_rule(&mut rule, span);
            if let Some(body) = &rule.body {
                let mut more = Vec::new();
                mentions(body, &mut more);
                wanted.extend(more.into_iter().map(|(n, a, _)| (n, a, span)));
            }
            model.statements.push(Statement::Rule(rule));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_predicate_is_found_by_its_name() {
        let names = head_names();
        for (name, _) in clauses().keys() {
            assert!(names.contains(name.as_str()), "{name} is not read off the library's lines");
        }
    }
}
