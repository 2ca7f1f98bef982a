//! Builtins over terms themselves, solved by the grounder: type tests
//! (`atom/1`, `is_list/1`, ...), the standard order of terms (`compare/3`,
//! `@<`, `msort/2`, `sort/2,4`), taking terms apart and building them
//! (`functor/3`, `arg/3`, `=../2`, `copy_term/2`), and writing to standard
//! error (`write/1`, `writeln/1`, `nl/0`), as in ProbLog and SWI-Prolog.
//!
//! Each works on the ground terms a call gives it; an argument that must be
//! bound and is not is an instantiation error at the literal's place, and
//! one of the wrong kind a type error.

use std::cmp::Ordering;

use super::bindings::Env;
use super::clauses::{Named, Pat};
use super::tabling::State;
use super::GroundError;
use crate::syntax::Span;
use deeplog_program::stack::guard;
use deeplog_program::terms::{Node, TermId, Terms};

/// Solutions of a builtin: per solution, the (argument, value) pairs to unify.
pub(super) type Solutions = Vec<Vec<(usize, TermId)>>;

/// The standard order of terms: numbers (by value; a float before an
/// equal integer), then atoms (by name), strings, and compounds (by arity,
/// then name, then arguments from the left).
pub(super) fn standard_order(terms: &Terms, a: TermId, b: TermId) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let rank = |n: Node| match n {
        Node::Int(_) | Node::Float(_) => 0,
        Node::Atom(_) => 1,
        Node::Str(_) => 2,
        Node::Compound { .. } => 3,
    };
    let (x, y) = (terms.node(a), terms.node(b));
    match (x, y) {
        (Node::Int(i), Node::Int(j)) => i.cmp(&j),
        (Node::Int(_) | Node::Float(_), Node::Int(_) | Node::Float(_)) => {
            let value = |n: Node| match n {
                Node::Int(i) => i as f64,
                Node::Float(bits) => f64::from_bits(bits),
                _ => 0.0,
            };
            value(x).total_cmp(&value(y)).then_with(|| rank_float(x).cmp(&rank_float(y)))
        }
        (Node::Atom(s), Node::Atom(t)) | (Node::Str(s), Node::Str(t)) => terms.text(s).cmp(terms.text(t)),
        (Node::Compound { functor: f, arity: m, .. }, Node::Compound { functor: g, arity: n, .. }) => {
            m.cmp(&n).then_with(|| terms.text(f).cmp(terms.text(g))).then_with(|| {
                let (xs, ys) = (terms.args(a), terms.args(b));
                guard(|| {
                    xs.iter()
                        .zip(ys)
                        .map(|(&s, &t)| standard_order(terms, s, t))
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                })
            })
        }
        _ => rank(x).cmp(&rank(y)),
    }
}

/// A float sorts before the integer of equal value.
fn rank_float(n: Node) -> u8 {
    u8::from(matches!(n, Node::Int(_)))
}

/// The instantiation error of builtin `op`: `what` is not bound where it
/// must be.
pub(super) fn instantiation_error(op: Named, what: &str, span: Span) -> GroundError {
    GroundError::new(span, format!("`{}` needs {what} bound here", op.name()))
}

/// The type error of builtin `op`: `t` is not `what` it needs.
pub(super) fn type_error(terms: &Terms, op: Named, what: &str, t: TermId, span: Span) -> GroundError {
    GroundError::new(span, format!("`{}` needs {what}, not `{}`", op.name(), terms.show(t)))
}

/// The kinds a type test accepts.
fn is_kind(terms: &Terms, t: TermId, kind: Named) -> bool {
    let node = terms.node(t);
    match kind {
        Named::IsAtom => matches!(node, Node::Atom(_)),
        Named::IsNumber => matches!(node, Node::Int(_) | Node::Float(_)),
        Named::IsInteger => matches!(node, Node::Int(_)),
        Named::IsFloat => matches!(node, Node::Float(_)),
        Named::IsAtomic => !matches!(node, Node::Compound { .. }),
        Named::IsCompound => matches!(node, Node::Compound { .. }),
        Named::IsCallable => matches!(node, Node::Atom(_) | Node::Compound { .. }),
        Named::IsString => matches!(node, Node::Str(_)),
        Named::IsList => terms.list_items(t).is_some(),
        _ => unreachable!("a type test"),
    }
}

impl State {
    /// Whether `pat` is an unbound variable under `env`.
    pub(super) fn unbound_var(pat: &Pat, env: &Env) -> bool {
        matches!(pat, Pat::Var(v) if env.vals[*v as usize] == TermId::UNBOUND)
    }

    /// The solutions of the term builtins.
    pub(super) fn solve_term(
        &mut self,
        op: Named,
        args: &[Pat],
        env: &Env,
        span: Span,
    ) -> Result<Solutions, GroundError> {
        let yes = |holds: bool| if holds { vec![Vec::new()] } else { Vec::new() };
        let unbound = |what: &str| instantiation_error(op, what, span);
        let type_error = |terms: &Terms, what: &str, t: TermId| type_error(terms, op, what, t, span);
        let first = self.ground(&args[0], env);
        Ok(match op {
            Named::Var => yes(State::unbound_var(&args[0], env)),
            Named::Nonvar => yes(!State::unbound_var(&args[0], env)),
            Named::Ground => yes(first.is_some()),
            Named::IsAtom
            | Named::IsNumber
            | Named::IsInteger
            | Named::IsFloat
            | Named::IsAtomic
            | Named::IsString
            | Named::IsList => yes(first.is_some_and(|t| is_kind(&self.terms, t, op))),
            // A compound with unbound parts is still a compound.
            Named::IsCompound | Named::IsCallable => yes(match first {
                Some(t) => is_kind(&self.terms, t, op),
                None => matches!(args[0], Pat::Compound(..)),
            }),
            Named::TermLess | Named::TermGreater | Named::TermLessEq | Named::TermGreaterEq => {
                let (Some(a), Some(b)) = (first, self.ground(&args[1], env)) else {
                    return Err(unbound("both sides"));
                };
                let order = standard_order(&self.terms, a, b);
                yes(match op {
                    Named::TermLess => order.is_lt(),
                    Named::TermGreater => order.is_gt(),
                    Named::TermLessEq => order.is_le(),
                    _ => order.is_ge(),
                })
            }
            Named::Compare => {
                let (Some(a), Some(b)) = (self.ground(&args[1], env), self.ground(&args[2], env)) else {
                    return Err(unbound("its second and third arguments"));
                };
                let symbol = match standard_order(&self.terms, a, b) {
                    Ordering::Less => "<",
                    Ordering::Equal => "=",
                    Ordering::Greater => ">",
                };
                vec![vec![(0, self.terms.atom(symbol))]]
            }
            Named::Functor => match first {
                Some(t) => {
                    let (f, n) = match self.terms.node(t) {
                        Node::Compound { functor, arity, .. } => (self.terms.compound(functor, &[]), i64::from(arity)),
                        _ => (t, 0),
                    };
                    let n = self.terms.int(n);
                    vec![vec![(1, f), (2, n)]]
                }
                None => {
                    let (Some(f), Some(n)) = (self.ground(&args[1], env), self.ground(&args[2], env)) else {
                        return Err(unbound("the term, or its name and arity,"));
                    };
                    match (self.terms.node(f), self.terms.node(n)) {
                        (_, Node::Int(0)) => vec![vec![(0, f)]],
                        (_, Node::Int(_)) => return Err(GroundError::new(
                            span,
                            "`functor/3` would build a term with unbound arguments; deeplog grounds only ground terms",
                        )),
                        _ => return Err(type_error(&self.terms, "an integer arity", n)),
                    }
                }
            },
            Named::Arg => {
                let Some(t) = self.ground(&args[1], env) else { return Err(unbound("its term")) };
                if !matches!(self.terms.node(t), Node::Compound { .. }) {
                    return Err(type_error(&self.terms, "a compound term", t));
                }
                let items = self.terms.args(t).to_vec();
                match first {
                    Some(n) => match self.terms.node(n) {
                        Node::Int(i) if i >= 1 && (i as usize) <= items.len() => vec![vec![(2, items[i as usize - 1])]],
                        Node::Int(_) => Vec::new(),
                        _ => return Err(type_error(&self.terms, "an integer position", n)),
                    },
                    None => items
                        .iter()
                        .enumerate()
                        .map(|(i, &a)| vec![(0, self.terms.int(i as i64 + 1)), (2, a)])
                        .collect(),
                }
            }
            Named::Univ => match first {
                Some(t) => {
                    let list = match self.terms.node(t) {
                        Node::Compound { functor, .. } => {
                            let mut items = vec![self.terms.compound(functor, &[])];
                            items.extend_from_slice(self.terms.args(t));
                            self.terms.list(&items, self.terms.nil())
                        }
                        _ => self.terms.list(&[t], self.terms.nil()),
                    };
                    vec![vec![(1, list)]]
                }
                None => {
                    let Some(list) = self.ground(&args[1], env) else {
                        return Err(unbound("its term or its list"));
                    };
                    let Some(items) = self.terms.list_items(list) else {
                        return Err(type_error(&self.terms, "a list", list));
                    };
                    let Some((&head, rest)) = items.split_first() else {
                        return Err(GroundError::new(span, "`=..` needs a non-empty list"));
                    };
                    let term = match (self.terms.node(head), rest.is_empty()) {
                        (_, true) => head,
                        (Node::Atom(s), false) => self.terms.compound(s, rest),
                        _ => return Err(type_error(&self.terms, "an atom as the list's head", head)),
                    };
                    vec![vec![(0, term)]]
                }
            },
            Named::CopyTerm => match first {
                Some(t) => vec![vec![(1, t)]],
                None => vec![Vec::new()],
            },
            Named::Msort | Named::Sort2 | Named::MaxMember | Named::MinMember | Named::Keysort => {
                let list_arg = if matches!(op, Named::MaxMember | Named::MinMember) { 1 } else { 0 };
                let Some(list) = self.ground(&args[list_arg], env) else { return Err(unbound("its list")) };
                let Some(mut items) = self.terms.list_items(list) else {
                    return Err(type_error(&self.terms, "a list", list));
                };
                let terms = &self.terms;
                match op {
                    Named::MaxMember | Named::MinMember => {
                        let best = if op == Named::MaxMember {
                            items.iter().copied().reduce(|a, b| if standard_order(terms, b, a).is_gt() { b } else { a })
                        } else {
                            items.iter().copied().reduce(|a, b| if standard_order(terms, b, a).is_lt() { b } else { a })
                        };
                        best.map_or_else(Vec::new, |m| vec![vec![(0, m)]])
                    }
                    Named::Keysort => {
                        let mut keyed = Vec::with_capacity(items.len());
                        for &item in &items {
                            match (terms.node(item), terms.args(item)) {
                                (Node::Compound { functor, .. }, [k, _]) if terms.text(functor) == "-" => {
                                    keyed.push((*k, item))
                                }
                                _ => return Err(type_error(terms, "a list of `Key-Value` pairs", list)),
                            }
                        }
                        keyed.sort_by(|a, b| standard_order(terms, a.0, b.0));
                        let sorted: Vec<TermId> = keyed.into_iter().map(|(_, item)| item).collect();
                        vec![vec![(1, self.terms.list(&sorted, self.terms.nil()))]]
                    }
                    _ => {
                        items.sort_by(|&a, &b| standard_order(terms, a, b));
                        if op == Named::Sort2 {
                            items.dedup();
                        }
                        vec![vec![(1, self.terms.list(&items, self.terms.nil()))]]
                    }
                }
            }
            Named::Sort4 => {
                let (Some(key), Some(order), Some(list)) =
                    (first, self.ground(&args[1], env), self.ground(&args[2], env))
                else {
                    return Err(unbound("its key, order and list"));
                };
                let Node::Int(key) = self.terms.node(key) else {
                    return Err(type_error(&self.terms, "an integer key", key));
                };
                let order_text = match self.terms.node(order) {
                    Node::Atom(s) => self.terms.text(s).to_string(),
                    _ => String::new(),
                };
                let Some(items) = self.terms.list_items(list) else {
                    return Err(type_error(&self.terms, "a list", list));
                };
                let terms = &self.terms;
                let mut keyed = Vec::with_capacity(items.len());
                for &item in &items {
                    let k = if key == 0 {
                        item
                    } else {
                        match terms.args(item).get(key as usize - 1) {
                            Some(&k) if key > 0 => k,
                            _ => return Err(type_error(terms, &format!("terms with an argument {key}"), item)),
                        }
                    };
                    keyed.push((k, item));
                }
                let (descending, dedup) = match order_text.as_str() {
                    "@<" => (false, true),
                    "@=<" => (false, false),
                    "@>" => (true, true),
                    "@>=" => (true, false),
                    _ => return Err(type_error(terms, "an order `@<`, `@=<`, `@>` or `@>=`", order)),
                };
                keyed.sort_by(|a, b| {
                    let o = standard_order(terms, a.0, b.0);
                    if descending {
                        o.reverse()
                    } else {
                        o
                    }
                });
                if dedup {
                    keyed.dedup_by(|a, b| a.0 == b.0);
                }
                let sorted: Vec<TermId> = keyed.into_iter().map(|(_, item)| item).collect();
                vec![vec![(3, self.terms.list(&sorted, self.terms.nil()))]]
            }
            Named::Write | Named::Writeln | Named::Print => {
                let text = match first {
                    Some(t) => match self.terms.node(t) {
                        Node::Atom(s) | Node::Str(s) => self.terms.text(s).to_string(),
                        _ => self.terms.show(t),
                    },
                    None => "_".to_string(),
                };
                if op == Named::Writeln {
                    eprintln!("{text}");
                } else {
                    eprint!("{text}");
                }
                vec![Vec::new()]
            }
            Named::Nl => {
                eprintln!();
                vec![Vec::new()]
            }
            Named::IsSimple => yes(match first {
                Some(t) => !matches!(self.terms.node(t), Node::Compound { .. }),
                None => State::unbound_var(&args[0], env),
            }),
            Named::PrintAll | Named::Raise => {
                let items = match first {
                    Some(list) => self.terms.list_items(list).unwrap_or_default(),
                    None => Vec::new(),
                };
                let text: Vec<String> = items
                    .iter()
                    .map(|&t| match self.terms.node(t) {
                        Node::Atom(s) | Node::Str(s) => self.terms.text(s).to_string(),
                        _ => self.terms.show(t),
                    })
                    .collect();
                if op == Named::Raise {
                    return Err(GroundError::new(span, text.concat()));
                }
                eprintln!("{}", text.join(" "));
                vec![Vec::new()]
            }
            _ => return self.solve_text(op, args, env, span),
        })
    }
}
