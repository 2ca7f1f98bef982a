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
            Statement::Query(q) => mentions(&q.target, &mut wanted),
            Statement::Evidence(e) => mentions(&e.atom, &mut wanted),
            _ => {}
        }
    }
    if wanted.is_empty() {
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
            at(&mut rule, span);
            if let Some(body) = &rule.body {
                let mut more = Vec::new();
                mentions(body, &mut more);
                wanted.extend(more.into_iter().map(|(n, a, _)| (n, a, span)));
            }
            model.statements.push(Statement::Rule(rule));
        }
    }
}

/// `rule`, every span of it moved to `span`.
fn at(rule: &mut Rule, span: Span) {
    rule.span = span;
    for head in &mut rule.heads {
        head.span = span;
        head.atom.visit_mut(&mut |t| t.span = span);
    }
    if let Some(body) = &mut rule.body {
        body.visit_mut(&mut |t| t.span = span);
    }
}
