//! Builtins: the predicates the grounder solves itself (`is/2`, the
//! comparisons, `=/2`, `==/2`, `between/3`, `member/2`, `append/3`,
//! `length/2`, `succ/2`, `plus/3`). A builtin literal is solved under the
//! bindings of its clause instance, and the clause continues once per
//! solution.

use super::arithmetic::{apply, compare, eval, not_function, Num};
use super::bindings::Env;
use super::clauses::{Builtin, Cmp, Pat, Program};
use super::tabling::State;
use super::GroundError;
use crate::syntax::Span;
use deeplog_program::stack::guard;
use deeplog_program::terms::{Node, TermId};

impl State {
    /// Continues clause `clause` after its builtin literal at `pos`, once
    /// per solution (once if the negated builtin has none).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn builtin(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
        op: Builtin,
        args: &[Pat],
        negated: bool,
        span: Span,
    ) -> Result<(), GroundError> {
        let mark = env.mark();
        let holds = match op {
            Builtin::Unify | Builtin::NotUnify => {
                let lenient = negated || op == Builtin::NotUnify;
                let unified = self.unify_pats(&args[0], &args[1], env, lenient).map_err(|()| {
                    GroundError::new(span, "`=` would bind a variable to a term with unbound variables here; deeplog grounds only ground terms")
                })?;
                if lenient {
                    env.undo(mark);
                }
                Some(unified == (op == Builtin::Unify))
            }
            Builtin::Identical | Builtin::NotIdentical => {
                Some(self.identical(&args[0], &args[1], env) == (op == Builtin::Identical))
            }
            _ => None,
        };
        if let Some(holds) = holds {
            if holds != negated {
                self.run(p, env, clause, pos + 1, body)?;
            }
            env.undo(mark);
            return Ok(());
        }
        let solutions = self.solve(op, args, env, span)?;
        if negated {
            let any = solutions.iter().any(|s| {
                let ok = s.iter().all(|&(i, t)| State::unify(&self.terms, &args[i], t, env));
                env.undo(mark);
                ok
            });
            return if any { Ok(()) } else { self.run(p, env, clause, pos + 1, body) };
        }
        for s in solutions {
            if s.iter().all(|&(i, t)| State::unify(&self.terms, &args[i], t, env)) {
                self.run(p, env, clause, pos + 1, body)?;
            }
            env.undo(mark);
        }
        Ok(())
    }

    /// The value of the arithmetic expression `pat` under `env`, evaluated
    /// in place (building its ground term would intern every intermediate
    /// sum); `None` when a variable in it is unbound.
    pub(super) fn eval_pat(&self, pat: &Pat, env: &Env, span: Span) -> Result<Option<Num>, GroundError> {
        match pat {
            Pat::Ground(t) => eval(&self.terms, *t, span).map(Some),
            Pat::Var(v) => match env.vals[*v as usize] {
                TermId::UNBOUND => Ok(None),
                t => eval(&self.terms, t, span).map(Some),
            },
            Pat::Compound(f, args) => {
                let mut values = [Num::Int(0); 2];
                if args.len() > 2 {
                    return Err(not_function(self.terms.text(*f), args.len(), span));
                }
                for (i, a) in args.iter().enumerate() {
                    match guard(|| self.eval_pat(a, env, span))? {
                        Some(x) => values[i] = x,
                        None => return Ok(None),
                    }
                }
                apply(self.terms.text(*f), &values[..args.len()], span).map(Some)
            }
        }
    }

    /// The integer `pat` denotes, `None` while unbound.
    pub(super) fn int_arg(
        &mut self,
        pat: &Pat,
        env: &Env,
        op: Builtin,
        span: Span,
    ) -> Result<Option<i64>, GroundError> {
        let Some(t) = self.ground(pat, env) else { return Ok(None) };
        match self.terms.node(t) {
            Node::Int(i) => Ok(Some(i)),
            _ => Err(GroundError::new(span, format!("`{}` needs integers, not `{}`", op.name(), self.terms.show(t)))),
        }
    }

    /// The items of the list `pat` denotes, `None` while unbound.
    pub(super) fn ground_list(
        &mut self,
        pat: &Pat,
        env: &Env,
        op: Builtin,
        span: Span,
    ) -> Result<Option<Vec<TermId>>, GroundError> {
        let Some(t) = self.ground(pat, env) else { return Ok(None) };
        match self.terms.list_items(t) {
            Some(items) => Ok(Some(items)),
            None => Err(GroundError::new(span, format!("`{}` needs a list, not `{}`", op.name(), self.terms.show(t)))),
        }
    }

    /// The solutions of a builtin other than the unification tests: each
    /// a list of (argument, value) to unify.
    pub(super) fn solve(
        &mut self,
        op: Builtin,
        args: &[Pat],
        env: &Env,
        span: Span,
    ) -> Result<Vec<Vec<(usize, TermId)>>, GroundError> {
        let unbound = |what: &str| GroundError::new(span, format!("`{}` needs {what} ground here", op.name()));
        let yes = |holds: bool| if holds { vec![Vec::new()] } else { Vec::new() };
        Ok(match op {
            Builtin::Is => {
                let Some(value) = self.eval_pat(&args[1], env, span)? else { return Err(unbound("its right side")) };
                vec![vec![(0, value.term(&mut self.terms))]]
            }
            Builtin::Compare(cmp) => {
                let (Some(a), Some(b)) = (self.eval_pat(&args[0], env, span)?, self.eval_pat(&args[1], env, span)?)
                else {
                    return Err(unbound("both sides"));
                };
                let order = compare(a, b);
                use std::cmp::Ordering::*;
                yes(match cmp {
                    Cmp::Eq => order == Some(Equal),
                    Cmp::Ne => matches!(order, Some(Less | Greater)),
                    Cmp::Lt => order == Some(Less),
                    Cmp::Gt => order == Some(Greater),
                    Cmp::Le => matches!(order, Some(Less | Equal)),
                    Cmp::Ge => matches!(order, Some(Greater | Equal)),
                })
            }
            Builtin::Between => {
                let Some(low) = self.int_arg(&args[0], env, op, span)? else { return Err(unbound("its bounds")) };
                let high = match self.ground(&args[1], env) {
                    None => return Err(unbound("its bounds")),
                    Some(t) => match self.terms.node(t) {
                        Node::Int(i) => Some(i),
                        Node::Atom(s) if matches!(self.terms.text(s), "inf" | "infinite") => None,
                        _ => return Err(unbound("integer bounds")),
                    },
                };
                match (self.int_arg(&args[2], env, op, span)?, high) {
                    (Some(x), high) => yes(x >= low && high.is_none_or(|h| x <= h)),
                    (None, None) => return Err(unbound("its third argument (the upper bound is infinite)")),
                    (None, Some(high)) => {
                        if high.saturating_sub(low) >= self.limits.max_atoms as i64 {
                            return Err(GroundError::new(
                                span,
                                format!("`between({low}, {high}, X)` enumerates too many values"),
                            ));
                        }
                        (low..=high).map(|i| vec![(2, self.terms.int(i))]).collect()
                    }
                }
            }
            Builtin::Member => {
                let Some(items) = self.ground_list(&args[1], env, op, span)? else { return Err(unbound("its list")) };
                items.into_iter().map(|x| vec![(0, x)]).collect()
            }
            Builtin::Append => {
                let a = self.ground_list(&args[0], env, op, span)?;
                let b = self.ground(&args[1], env);
                match (a, b) {
                    (Some(a), Some(b)) => vec![vec![(2, self.terms.list(&a, b))]],
                    _ => {
                        let Some(c) = self.ground_list(&args[2], env, op, span)? else {
                            return Err(unbound("its first two arguments or its third"));
                        };
                        let nil = self.terms.nil();
                        (0..=c.len())
                            .map(|i| {
                                let front = self.terms.list(&c[..i], nil);
                                let back = self.terms.list(&c[i..], nil);
                                vec![(0, front), (1, back)]
                            })
                            .collect()
                    }
                }
            }
            Builtin::Length => {
                let Some(items) = self.ground_list(&args[0], env, op, span)? else { return Err(unbound("its list")) };
                vec![vec![(1, self.terms.int(items.len() as i64))]]
            }
            Builtin::Succ => match (self.int_arg(&args[0], env, op, span)?, self.int_arg(&args[1], env, op, span)?) {
                (Some(x), _) if x < 0 => return Err(GroundError::new(span, "`succ` needs natural numbers")),
                (Some(x), _) => vec![vec![(1, self.terms.int(x + 1))]],
                (None, Some(y)) if y > 0 => vec![vec![(0, self.terms.int(y - 1))]],
                (None, Some(_)) => Vec::new(),
                (None, None) => return Err(unbound("one argument")),
            },
            Builtin::Plus => {
                let x = self.int_arg(&args[0], env, op, span)?;
                let y = self.int_arg(&args[1], env, op, span)?;
                let z = self.int_arg(&args[2], env, op, span)?;
                let overflow = || GroundError::new(span, "integer overflow in `plus`");
                match (x, y, z) {
                    (Some(x), Some(y), _) => vec![vec![(2, self.terms.int(x.checked_add(y).ok_or_else(overflow)?))]],
                    (Some(x), None, Some(z)) => vec![vec![(1, self.terms.int(z.checked_sub(x).ok_or_else(overflow)?))]],
                    (None, Some(y), Some(z)) => vec![vec![(0, self.terms.int(z.checked_sub(y).ok_or_else(overflow)?))]],
                    _ => return Err(unbound("two of its arguments")),
                }
            }
            Builtin::Named(op) => return self.solve_term(op, args, env, span),
            Builtin::Unify | Builtin::NotUnify | Builtin::Identical | Builtin::NotIdentical => {
                unreachable!("handled by `builtin`")
            }
        })
    }
}
