//! Formulas: `query(F)` and `constraint(F)` where `F` is a first-order
//! formula — connectives, quantifiers and aggregations over finite domains,
//! algebra annotations — grounded into a [`GroundFormula`] DAG over the
//! ground program's atoms.
//!
//! A quantifier `forall(X in D, F)` is expanded over the values of domain
//! `D`: a `domain(D, [...])` declaration, else the answers of the unary
//! predicate `D/1` (which must be certain: a domain is not uncertain), else,
//! for `bool`, `[true, false]`. Each instance of `F` is grounded with `X`
//! bound; a variable may stand for a formula when its domain holds `true`
//! and `false` (`sum(A in bool, (A or B)_probability)`). The atoms a formula
//! mentions become goals of grounding, so their rules and choices are kept
//! as relevant.
//!
//! What a node *means* is decided by the evaluator (the root crate): the
//! connectives are boolean in the probability logic and t-norm operations
//! in a fuzzy one; see `docs/logics.md`.

use std::collections::HashMap;

use super::bindings::Env;
use super::clauses::{Pat, Program};
use super::compile::{Compiler, VarTable};
use super::derive::AtomKind;
use super::tabling::State;
use super::{FxMap, GroundError, PredId};
use crate::model::Logic;
use crate::syntax::{Span, Term, TermKind};
use deeplog_program::terms::TermId;
use deeplog_program::{Aggregate, AtomId, Formula, FormulaId};

/// What a formula goal is for.
#[derive(Debug)]
pub(super) enum Purpose {
    /// A query; `position` is the number of atom queries before it in the
    /// file, so answers keep file order.
    Query {
        position: usize,
        logic: Option<Logic>,
    },
    Constraint {
        weight: Option<f64>,
    },
}

/// A formula statement, compiled.
#[derive(Debug)]
pub(super) struct FormulaGoal {
    pub pat: FPat,
    pub vars: Vec<String>,
    pub text: String,
    pub purpose: Purpose,
}

/// Where a quantified variable takes its values.
#[derive(Clone, Debug)]
pub(super) enum DomainRef {
    Values(std::rc::Rc<[TermId]>),
    Pred { pred: PredId, name: String },
}

/// A formula with variables, as compiled from the syntax.
#[derive(Debug)]
pub(super) enum FPat {
    Atom {
        pred: PredId,
        args: Box<[Pat]>,
        span: Span,
    },
    /// A variable standing for a formula: `true` or `false` once bound.
    Var {
        var: u32,
        span: Span,
    },
    Const(bool),
    Number(f64),
    Not(Box<FPat>),
    And(Vec<FPat>),
    Or(Vec<FPat>),
    Binary(Binary, Box<FPat>, Box<FPat>),
    Arith(Aggregate, Vec<FPat>),
    Quant {
        kind: Quant,
        var: u32,
        domain: DomainRef,
        body: Box<FPat>,
    },
    Transform(Logic, Box<FPat>),
    /// `A = B`, `A \= B`, `A == B`, `A \== B` between bound terms.
    Same {
        args: Box<[Pat; 2]>,
        equal: bool,
        span: Span,
    },
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Binary {
    Implies,
    RImplies,
    SImplies,
    Iff,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Quant {
    Forall,
    Exists,
    Aggregate(Aggregate),
}

impl Compiler<'_> {
    /// Compiles a formula; `domains` are the declared ones.
    pub(super) fn formula(
        &mut self,
        term: &Term,
        vars: &mut VarTable,
        domains: &HashMap<String, std::rc::Rc<[TermId]>>,
    ) -> Result<FPat, GroundError> {
        let span = term.span;
        let sub = |c: &mut Self, t: &Term, vars: &mut VarTable| c.formula(t, vars, domains).map(Box::new);
        Ok(match &term.kind {
            TermKind::Annotated { term: inner, algebra } => {
                let logic: Logic = algebra.parse().map_err(|e: String| GroundError::new(span, e))?;
                FPat::Transform(logic, sub(self, inner, vars)?)
            }
            TermKind::Var(v) => FPat::Var { var: vars.var(v), span },
            TermKind::Atom(a) if a == "true" => FPat::Const(true),
            TermKind::Atom(a) if a == "false" || a == "fail" => FPat::Const(false),
            TermKind::Int(i) => FPat::Number(*i as f64),
            TermKind::Float(x) => FPat::Number(*x),
            TermKind::Str(_) | TermKind::List { .. } => {
                return Err(GroundError::new(span, "a string or list is not a formula"));
            }
            TermKind::Compound { functor, args } => match (functor.as_str(), &args[..]) {
                ("," | "and", [a, b]) => FPat::And(vec![*sub(self, a, vars)?, *sub(self, b, vars)?]),
                (";" | "or", [a, b]) => FPat::Or(vec![*sub(self, a, vars)?, *sub(self, b, vars)?]),
                ("\\+" | "not", [a]) => FPat::Not(sub(self, a, vars)?),
                ("->" | "implies", [a, b]) => FPat::Binary(Binary::Implies, sub(self, a, vars)?, sub(self, b, vars)?),
                ("r_implies", [a, b]) => FPat::Binary(Binary::RImplies, sub(self, a, vars)?, sub(self, b, vars)?),
                ("s_implies", [a, b]) => FPat::Binary(Binary::SImplies, sub(self, a, vars)?, sub(self, b, vars)?),
                ("<->" | "iff", [a, b]) => FPat::Binary(Binary::Iff, sub(self, a, vars)?, sub(self, b, vars)?),
                ("+", [a, b]) => FPat::Arith(Aggregate::Sum, vec![*sub(self, a, vars)?, *sub(self, b, vars)?]),
                ("*", [a, b]) => FPat::Arith(Aggregate::Product, vec![*sub(self, a, vars)?, *sub(self, b, vars)?]),
                (op @ ("=" | "\\=" | "==" | "\\=="), [a, b]) => FPat::Same {
                    args: Box::new([self.pat(a, vars)?, self.pat(b, vars)?]),
                    equal: matches!(op, "=" | "=="),
                    span,
                },
                (q @ ("forall" | "exists" | "sum" | "max" | "min" | "product"), [binding, body]) => {
                    let kind = match q {
                        "forall" => Quant::Forall,
                        "exists" => Quant::Exists,
                        "sum" => Quant::Aggregate(Aggregate::Sum),
                        "max" => Quant::Aggregate(Aggregate::Max),
                        "min" => Quant::Aggregate(Aggregate::Min),
                        _ => Quant::Aggregate(Aggregate::Product),
                    };
                    self.quantifier(kind, binding, body, vars, domains)?
                }
                (q @ ("pmean" | "pmean_error"), [binding, body, p]) => {
                    let p = match p.kind {
                        TermKind::Int(i) => i as f64,
                        TermKind::Float(x) => x,
                        _ => return Err(GroundError::new(p.span, "the p of a p-mean must be a number, like 2")),
                    };
                    if !(p > 0.0 && p.is_finite()) {
                        return Err(GroundError::new(span, format!("the p of a p-mean must be positive, not {p}")));
                    }
                    let kind = if q == "pmean" { Aggregate::PMean(p) } else { Aggregate::PMeanError(p) };
                    self.quantifier(Quant::Aggregate(kind), binding, body, vars, domains)?
                }
                _ => self.formula_atom(term, vars)?,
            },
            TermKind::Atom(_) => self.formula_atom(term, vars)?,
        })
    }

    fn formula_atom(&mut self, term: &Term, vars: &mut VarTable) -> Result<FPat, GroundError> {
        let (name, arity) = match &term.kind {
            TermKind::Atom(a) => (a.as_str(), 0),
            TermKind::Compound { functor, args } => (functor.as_str(), args.len()),
            _ => unreachable!("only atoms and compounds reach here"),
        };
        if self.builtin(name, arity).is_some() || name == "findall" {
            return Err(GroundError::new(
                term.span,
                format!("`{name}/{arity}` cannot be used inside a formula; define a predicate with it and use that"),
            ));
        }
        let (pred, args) = self.callable(term, vars)?;
        Ok(FPat::Atom { pred, args, span: term.span })
    }

    fn quantifier(
        &mut self,
        kind: Quant,
        binding: &Term,
        body: &Term,
        vars: &mut VarTable,
        domains: &HashMap<String, std::rc::Rc<[TermId]>>,
    ) -> Result<FPat, GroundError> {
        let usage = "expected `X in DOMAIN`, like `forall(X in person, ...)`";
        let Some(("in", [var, domain])) = binding.as_compound() else {
            return Err(GroundError::new(binding.span, usage));
        };
        let TermKind::Var(name) = &var.kind else { return Err(GroundError::new(var.span, usage)) };
        let TermKind::Atom(dname) = &domain.kind else {
            return Err(GroundError::new(domain.span, "a domain is named by an atom, like `person`"));
        };
        let domain_ref = if let Some(values) = domains.get(dname) {
            DomainRef::Values(values.clone())
        } else if let Some(&pred) = self.pred_ids.get(&(self.terms.name(dname), 1)) {
            DomainRef::Pred { pred, name: dname.clone() }
        } else if dname == "bool" {
            let values = [self.terms.atom("true"), self.terms.atom("false")];
            DomainRef::Values(values.into())
        } else {
            return Err(GroundError::new(
                domain.span,
                format!(
                    "unknown domain `{dname}`: declare it with `domain({dname}, [...])` or give facts `{dname}(x)`"
                ),
            ));
        };
        let var = vars.var(name);
        let body = self.formula(body, vars, domains)?;
        Ok(FPat::Quant { kind, var, domain: domain_ref, body: Box::new(body) })
    }
}

/// Formulas under construction. An atom's node stands for a ground
/// *term* until grounding ends and atoms are numbered: `atom_nodes` says
/// which term each such node is, and the node holds `false` (what it is
/// if the term was never derived) until [`renumber`] decides.
#[derive(Default)]
pub(super) struct Built {
    pub nodes: Vec<Formula>,
    pub atom_nodes: FxMap<TermId, FormulaId>,
    /// Root of each formula goal.
    pub roots: Vec<FormulaId>,
}

impl Built {
    fn push(&mut self, node: Formula) -> FormulaId {
        self.nodes.push(node);
        FormulaId(self.nodes.len() as u32 - 1)
    }
}

impl State {
    /// Grounds every formula goal: domains first (their predicates are
    /// evaluated to completion), then each formula's atoms are demanded.
    pub(super) fn expand_formulas(&mut self, p: &Program, env: &mut Env) -> Result<Built, GroundError> {
        let mut built = Built::default();
        let mut domain_values: FxMap<PredId, std::rc::Rc<[TermId]>> = FxMap::default();
        for goal in &p.formulas {
            self.demand_domains(p, &goal.pat, env);
        }
        self.run_to_completion(p, env)?;
        for goal in &p.formulas {
            env.reset(goal.vars.len());
            let root = self.expand(p, &goal.pat, env, &goal.vars, &mut built, &mut domain_values)?;
            built.roots.push(root);
        }
        Ok(built)
    }

    fn demand_domains(&mut self, p: &Program, pat: &FPat, env: &mut Env) {
        match pat {
            FPat::Quant { domain, body, .. } => {
                if let DomainRef::Pred { pred, .. } = domain {
                    env.reset(1);
                    self.demand(p, *pred, &[Pat::Var(0)], env);
                }
                self.demand_domains(p, body, env);
            }
            FPat::Not(a) | FPat::Transform(_, a) => self.demand_domains(p, a, env),
            FPat::Binary(_, a, b) => {
                self.demand_domains(p, a, env);
                self.demand_domains(p, b, env);
            }
            FPat::And(items) | FPat::Or(items) | FPat::Arith(_, items) => {
                items.iter().for_each(|i| self.demand_domains(p, i, env));
            }
            FPat::Atom { .. } | FPat::Var { .. } | FPat::Const(_) | FPat::Number(_) | FPat::Same { .. } => {}
        }
    }

    /// The values of a domain predicate: the arguments of its answers,
    /// each of which must be certain.
    fn domain_of(&mut self, p: &Program, pred: PredId, name: &str, span: Span) -> Result<Vec<TermId>, GroundError> {
        let mut env = Env::default();
        env.reset(1);
        let (ix, b) = self.demand(p, pred, &[Pat::Var(0)], &env);
        let mut values = Vec::new();
        for &a in &self.bucket(pred, ix, b).atoms {
            let AtomKind::Term { term, .. } = self.atoms[a as usize] else { continue };
            if !self.certain[a as usize] {
                return Err(GroundError::new(
                    span,
                    format!(
                        "domain `{name}` must be certain, but `{}` is uncertain (probabilistic); declare the domain with \
                         `domain({name}, [...])`",
                        self.terms.show(term)
                    ),
                ));
            }
            values.push(self.terms.args(term)[0]);
        }
        Ok(values)
    }

    #[allow(clippy::too_many_arguments)]
    fn expand(
        &mut self,
        p: &Program,
        pat: &FPat,
        env: &mut Env,
        names: &[String],
        built: &mut Built,
        domains: &mut FxMap<PredId, std::rc::Rc<[TermId]>>,
    ) -> Result<FormulaId, GroundError> {
        let each = |s: &mut State, items: &[FPat], env: &mut Env, built: &mut Built, domains: &mut _| {
            items.iter().map(|i| s.expand(p, i, env, names, built, domains)).collect::<Result<Vec<_>, _>>()
        };
        Ok(match pat {
            FPat::Atom { pred, args, span } => {
                let Some(term) = self.ground_atom(p, *pred, args, env) else {
                    let unbound =
                        args.iter().find_map(|a| first_unbound(a, env)).map_or("?", |v| names[v as usize].as_str());
                    return Err(GroundError::new(
                        *span,
                        format!("variable `{unbound}` is not bound by a quantifier here, like `forall({unbound} in D, ...)`"),
                    ));
                };
                if let Some(&n) = built.atom_nodes.get(&term) {
                    return Ok(n);
                }
                self.demand(p, *pred, args, env);
                let n = built.push(Formula::Const(false));
                built.atom_nodes.insert(term, n);
                n
            }
            FPat::Var { var, span } => {
                let value = env.vals[*var as usize];
                let name = &names[*var as usize];
                if value == TermId::UNBOUND {
                    return Err(GroundError::new(
                        *span,
                        format!("variable `{name}` is not bound by a quantifier here"),
                    ));
                }
                match self.terms.show(value).as_str() {
                    "true" => built.push(Formula::Const(true)),
                    "false" => built.push(Formula::Const(false)),
                    other => {
                        return Err(GroundError::new(
                            *span,
                            format!(
                                "`{name}` stands for a formula here, so it must be `true` or `false`, not `{other}`"
                            ),
                        ))
                    }
                }
            }
            FPat::Const(b) => built.push(Formula::Const(*b)),
            FPat::Number(x) => built.push(Formula::Number(*x)),
            FPat::Not(a) => {
                let a = self.expand(p, a, env, names, built, domains)?;
                built.push(Formula::Not(a))
            }
            FPat::And(items) => {
                let c = each(self, items, env, built, domains)?;
                built.push(Formula::And(c))
            }
            FPat::Or(items) => {
                let c = each(self, items, env, built, domains)?;
                built.push(Formula::Or(c))
            }
            FPat::Arith(op, items) => {
                let c = each(self, items, env, built, domains)?;
                built.push(Formula::Aggregate(*op, c))
            }
            FPat::Binary(kind, a, b) => {
                let a = self.expand(p, a, env, names, built, domains)?;
                let b = self.expand(p, b, env, names, built, domains)?;
                built.push(match kind {
                    Binary::Implies => Formula::Implies(a, b),
                    Binary::RImplies => Formula::RImplies(a, b),
                    Binary::SImplies => Formula::SImplies(a, b),
                    Binary::Iff => Formula::Iff(a, b),
                })
            }
            FPat::Transform(logic, a) => {
                let a = self.expand(p, a, env, names, built, domains)?;
                built.push(Formula::Transform(*logic, a))
            }
            FPat::Same { args, equal, span } => {
                let (Some(a), Some(b)) = (self.ground(&args[0], env), self.ground(&args[1], env)) else {
                    return Err(GroundError::new(*span, "both sides of a comparison in a formula must be bound"));
                };
                built.push(Formula::Const((a == b) == *equal))
            }
            FPat::Quant { kind, var, domain, body } => {
                let values: std::rc::Rc<[TermId]> = match domain {
                    DomainRef::Values(v) => v.clone(),
                    DomainRef::Pred { pred, name } => match domains.get(pred) {
                        Some(v) => v.clone(),
                        None => {
                            let span = body_span(body);
                            let v: std::rc::Rc<[TermId]> = self.domain_of(p, *pred, name, span)?.into();
                            domains.insert(*pred, v.clone());
                            v
                        }
                    },
                };
                let mut children = Vec::with_capacity(values.len());
                for &value in values.iter() {
                    let mark = env.mark();
                    env.bind(*var, value);
                    children.push(self.expand(p, body, env, names, built, domains)?);
                    env.undo(mark);
                }
                built.push(match kind {
                    Quant::Forall => Formula::And(children),
                    Quant::Exists => Formula::Or(children),
                    Quant::Aggregate(op) => Formula::Aggregate(*op, children),
                })
            }
        })
    }
}

fn first_unbound(pat: &Pat, env: &Env) -> Option<u32> {
    match pat {
        Pat::Var(v) if env.vals[*v as usize] == TermId::UNBOUND => Some(*v),
        Pat::Var(_) | Pat::Ground(_) => None,
        Pat::Compound(_, args) => args.iter().find_map(|a| first_unbound(a, env)),
    }
}

/// A span to blame for a domain problem: the quantified body's first atom.
fn body_span(pat: &FPat) -> Span {
    match pat {
        FPat::Atom { span, .. } | FPat::Var { span, .. } | FPat::Same { span, .. } => *span,
        FPat::Not(a) | FPat::Transform(_, a) | FPat::Binary(_, a, _) => body_span(a),
        FPat::Quant { body, .. } => body_span(body),
        FPat::And(items) | FPat::Or(items) | FPat::Arith(_, items) => items.first().map_or(Span::default(), body_span),
        FPat::Const(_) | FPat::Number(_) => Span::default(),
    }
}

/// The built formulas over the output's atom ids: an atom's node becomes
/// the atom, or stays false where the atom was never derived.
pub(super) fn renumber(built: &Built, atom_of: impl Fn(TermId) -> Option<AtomId>) -> Vec<Formula> {
    let mut nodes = built.nodes.clone();
    for (&term, &node) in &built.atom_nodes {
        if let Some(a) = atom_of(term) {
            nodes[node.index()] = Formula::Atom(a);
        }
    }
    nodes
}
