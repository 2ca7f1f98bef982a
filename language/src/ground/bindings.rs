//! Bindings: the values of a clause instance's variables ([`Env`]), and
//! how patterns meet ground terms under them: grounding a pattern,
//! matching it against a term, unifying two patterns (`=/2`) and testing
//! identity (`==/2`).

use super::clauses::{Pat, Program};
use super::derive::AtomKind;
use super::tabling::State;
use super::{AtomNo, PredId};
use deeplog_program::stack::guard;
use deeplog_program::terms::{Node, TermId, Terms};

/// Variable bindings of one clause instance, with a trail to undo them.
///
/// Invariant: every variable bound since a [`Env::mark`] is on the trail
/// after it, so [`Env::undo`] restores exactly the bindings at the mark.
#[derive(Default)]
pub(super) struct Env {
    pub(super) vals: Vec<TermId>,
    pub(super) trail: Vec<u32>,
}

impl Env {
    /// `n` unbound variables.
    #[inline]
    pub(super) fn reset(&mut self, n: usize) {
        self.vals.clear();
        self.vals.resize(n, TermId::UNBOUND);
        self.trail.clear();
    }

    /// The bindings `vals`, saved earlier.
    #[inline]
    pub(super) fn load(&mut self, vals: &[TermId]) {
        self.vals.clear();
        self.vals.extend_from_slice(vals);
        self.trail.clear();
    }

    #[inline]
    pub(super) fn bind(&mut self, v: u32, t: TermId) {
        self.vals[v as usize] = t;
        self.trail.push(v);
    }

    #[inline]
    pub(super) fn mark(&self) -> usize {
        self.trail.len()
    }

    #[inline]
    pub(super) fn undo(&mut self, mark: usize) {
        while self.trail.len() > mark {
            if let Some(v) = self.trail.pop() {
                self.vals[v as usize] = TermId::UNBOUND;
            }
        }
    }
}

impl State {
    /// The ground term `pat` denotes, if every variable in it is bound.
    #[inline]
    pub(super) fn ground(&mut self, pat: &Pat, env: &Env) -> Option<TermId> {
        match pat {
            Pat::Ground(t) => Some(*t),
            Pat::Var(v) => Some(env.vals[*v as usize]).filter(|&t| t != TermId::UNBOUND),
            Pat::Compound(f, args) => {
                let mut ground = Vec::with_capacity(args.len());
                for a in args.iter() {
                    ground.push(guard(|| self.ground(a, env))?);
                }
                Some(self.terms.compound(*f, &ground))
            }
        }
    }

    /// The ground atom `pred(args)` under `env`, if every variable in it is bound.
    #[inline]
    pub(super) fn ground_atom(&mut self, p: &Program, pred: PredId, args: &[Pat], env: &Env) -> Option<TermId> {
        let mut ground = Vec::with_capacity(args.len());
        for a in args {
            ground.push(self.ground(a, env)?);
        }
        Some(self.terms.compound(p.preds[pred as usize].name, &ground))
    }

    /// Matches `pat` against the ground term `t`, binding variables.
    #[inline]
    pub(super) fn unify(terms: &Terms, pat: &Pat, t: TermId, env: &mut Env) -> bool {
        match pat {
            Pat::Ground(g) => *g == t,
            Pat::Var(v) => match env.vals[*v as usize] {
                TermId::UNBOUND => {
                    env.bind(*v, t);
                    true
                }
                bound => bound == t,
            },
            Pat::Compound(f, args) => match terms.node(t) {
                Node::Compound { functor, arity, .. } if functor == *f && arity as usize == args.len() => {
                    let targs = terms.args(t);
                    guard(|| args.iter().zip(targs).all(|(a, &b)| State::unify(terms, a, b, env)))
                }
                _ => false,
            },
        }
    }

    /// Matches `args` against the arguments of the atom `atom`.
    #[inline]
    pub(super) fn unify_atom(&self, args: &[Pat], atom: AtomNo, env: &mut Env) -> bool {
        let AtomKind::Term { term, .. } = self.atoms[atom as usize] else { return false };
        let targs = self.terms.args(term);
        args.iter().zip(targs).all(|(a, &b)| State::unify(&self.terms, a, b, env))
    }

    /// Unifies two patterns. `Err(())` when it would bind a variable to a
    /// term that is not ground; when `lenient`, such a pair counts as
    /// unifiable instead.
    pub(super) fn unify_pats(&mut self, a: &Pat, b: &Pat, env: &mut Env, lenient: bool) -> Result<bool, ()> {
        match (self.ground(a, env), self.ground(b, env)) {
            (Some(x), Some(y)) => Ok(x == y),
            (Some(x), None) => Ok(State::unify(&self.terms, b, x, env)),
            (None, Some(y)) => Ok(State::unify(&self.terms, a, y, env)),
            (None, None) => match (a, b) {
                (Pat::Compound(f, xs), Pat::Compound(g, ys)) => {
                    if f != g || xs.len() != ys.len() {
                        return Ok(false);
                    }
                    for (x, y) in xs.iter().zip(ys.iter()) {
                        if !guard(|| self.unify_pats(x, y, env, lenient))? {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                }
                (Pat::Var(x), Pat::Var(y)) if x == y => Ok(true),
                _ if lenient => Ok(true),
                _ => Err(()),
            },
        }
    }

    /// Structural identity (`==`); unbound variables are identical only to
    /// themselves.
    pub(super) fn identical(&mut self, a: &Pat, b: &Pat, env: &Env) -> bool {
        match (self.ground(a, env), self.ground(b, env)) {
            (Some(x), Some(y)) => x == y,
            (Some(_), None) | (None, Some(_)) => false,
            (None, None) => match (a, b) {
                (Pat::Var(x), Pat::Var(y)) => x == y,
                (Pat::Compound(f, xs), Pat::Compound(g, ys)) => {
                    f == g
                        && xs.len() == ys.len()
                        && guard(|| xs.iter().zip(ys.iter()).all(|(x, y)| self.identical(x, y, env)))
                }
                _ => false,
            },
        }
    }
}

/// Whether variable `v` occurs in `pat`.
pub(super) fn occurs(pat: &Pat, v: u32) -> bool {
    match pat {
        Pat::Var(w) => *w == v,
        Pat::Ground(_) => false,
        Pat::Compound(_, args) => guard(|| args.iter().any(|a| occurs(a, v))),
    }
}
