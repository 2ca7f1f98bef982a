//! The clause compiler: a checked [`Model`] becomes a [`Program`] of
//! compiled clauses, with every constant interned in [`Terms`].
//!
//! A rule's heads and body become patterns over numbered variables; a body
//! with `;` becomes one clause per alternative; `\+ G` over a conjunction,
//! or over variables of its own, and `findall/3` get an auxiliary predicate
//! (`$not1`, `$findall2`, ...) whose answers the literal reads. Formulas
//! (queries and constraints over connectives and quantifiers) are compiled
//! by `formula` once every predicate is known.

use std::collections::HashMap;

use super::clauses::{Builtin, Clause, Goal, Lit, NeuralClause, Pat, Pred, Program, Target};
use super::stratify::stratify;
use super::{formula, FxMap, GroundError, PredId};
use crate::model::{Annotation, Model, Rule, Statement};
use crate::syntax::{Span, Term, TermKind};
use deeplog_program::stack::guard;
use deeplog_program::terms::{Sym, TermId, Terms};

/// The numbers of a clause's variables, in order of first occurrence;
/// every `_` gets a number of its own.
#[derive(Default)]
pub(super) struct VarTable {
    pub(super) names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl VarTable {
    pub(super) fn var(&mut self, name: &str) -> u32 {
        if name != "_" {
            if let Some(&v) = self.ids.get(name) {
                return v;
            }
            self.ids.insert(name.to_string(), self.names.len() as u32);
        }
        self.names.push(name.to_string());
        self.names.len() as u32 - 1
    }
}

/// How often each named variable (not `_`) occurs in `terms`.
fn count_vars<'t>(terms: impl IntoIterator<Item = &'t Term>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (v, _) in terms.into_iter().flat_map(Term::variables).filter(|(v, _)| *v != "_") {
        *counts.entry(v.to_string()).or_default() += 1;
    }
    counts
}

/// Variables of `inner` that also occur elsewhere in the clause, in order
/// of first occurrence.
fn shared_vars(inner: &[&Term], clause_counts: &HashMap<String, usize>) -> Vec<String> {
    let counts = count_vars(inner.iter().copied());
    let mut order: Vec<String> = Vec::new();
    for (v, _) in inner.iter().flat_map(|t| t.variables()) {
        if v != "_" && !order.iter().any(|seen| seen == v) {
            order.push(v.to_string());
        }
    }
    order.retain(|v| clause_counts.get(v).copied().unwrap_or(0) > counts[v]);
    order
}

fn is_connective(name: &str, arity: usize) -> bool {
    matches!(
        (name, arity),
        ("," | ";" | "->" | "*->" | "and" | "or" | "implies" | "<->" | "iff", 2) | ("\\+" | "not", 1)
    )
}

fn is_formula(term: &Term) -> bool {
    match &term.kind {
        TermKind::Annotated { .. } => true,
        TermKind::Compound { functor, args } => {
            is_connective(functor, args.len())
                || matches!((functor.as_str(), args.len()), ("r_implies" | "s_implies" | "*" | "+", 2))
                || (matches!(
                    (functor.as_str(), args.len()),
                    ("forall" | "exists" | "sum" | "max" | "min" | "product", 2) | ("pmean" | "pmean_error", 3)
                ) && matches!(args[0].as_compound(), Some(("in", [_, _]))))
        }
        _ => false,
    }
}

/// Compiles a model's clauses into predicates and clauses.
pub(super) struct Compiler<'t> {
    pub(super) terms: &'t mut Terms,
    preds: Vec<Pred>,
    pub(super) pred_ids: FxMap<(Sym, u32), PredId>,
    clauses: Vec<Clause>,
    facts: Vec<u32>,
    var_names: Vec<Vec<String>>,
    aux: u32,
    /// Names written as data (atoms, functors of argument terms): the
    /// predicates `call/N` may reach.
    mentioned: rustc_hash::FxHashSet<Sym>,
    /// Predicates the model defines: one that shares a name with a term or
    /// text builtin (`number(1). number(2).`) is the model's.
    defined: std::collections::HashSet<(String, usize)>,
}

/// Alternatives of a body: each a conjunction of literals.
type Alternatives = Vec<Vec<Lit>>;

/// Compiles and stratifies `model`.
pub(super) fn compile(model: &Model, terms: &mut Terms) -> Result<Program, GroundError> {
    let mut c = Compiler {
        terms,
        preds: Vec::new(),
        pred_ids: FxMap::default(),
        clauses: Vec::new(),
        facts: Vec::new(),
        var_names: Vec::new(),
        aux: 0,
        mentioned: Default::default(),
        defined: model
            .rules()
            .flat_map(|r| r.heads.iter())
            .filter_map(|h| match &h.atom.kind {
                TermKind::Atom(n) => Some((n.clone(), 0)),
                TermKind::Compound { functor, args } => Some((functor.clone(), args.len())),
                _ => None,
            })
            .collect(),
    };
    let mut goals = Vec::new();
    // Formulas are compiled once every predicate is known (a domain may be
    // defined after the formula that ranges over it).
    let mut formulas = Vec::new();
    let mut domains = HashMap::new();
    for (i, statement) in model.statements.iter().enumerate() {
        match statement {
            Statement::Rule(rule) => c.rule(i as u32, rule)?,
            Statement::Query(q) if is_formula(&q.target) => {
                let position = goals.iter().filter(|g| matches!(g, Goal::Query(_))).count();
                formulas.push((&q.target, formula::Purpose::Query { position, logic: q.logic.map(|l| l.0) }));
            }
            Statement::Query(q) => {
                let target = c.target(&q.target, q.span, q.condition.as_deref())?;
                goals.push(Goal::Query(Target { logic: q.logic.map(|l| l.0), ..target }))
            }
            Statement::Evidence(e) => {
                goals.push(Goal::Evidence(c.target(&e.atom, e.span, e.condition.as_deref())?, e.value))
            }
            Statement::Constraint(k) => {
                formulas.push((&k.formula, formula::Purpose::Constraint { weight: k.weight.map(|w| w.0) }))
            }
            Statement::Domain(d) => {
                let mut vars = VarTable::default();
                let mut values = Vec::with_capacity(d.values.len());
                for v in &d.values {
                    match c.pat(v, &mut vars)? {
                        Pat::Ground(t) => values.push(t),
                        _ => return Err(GroundError::new(v.span, "a domain's values must be ground terms")),
                    }
                }
                domains.insert(d.name.clone(), std::rc::Rc::<[TermId]>::from(values));
            }
            Statement::Logic(..)
            | Statement::UseModule(..)
            | Statement::Dynamic(..)
            | Statement::Load(..)
            | Statement::Include(..) => {}
        }
    }
    let formulas = formulas
        .into_iter()
        .map(|(term, purpose)| {
            let mut vars = VarTable::default();
            let pat = c.formula(term, &mut vars, &domains)?;
            Ok(formula::FormulaGoal { pat, vars: vars.names, text: term.to_string(), purpose })
        })
        .collect::<Result<Vec<_>, GroundError>>()?;
    for p in &mut c.preds {
        p.complete = p.rules.is_empty();
    }
    let reachable = c.preds.iter().map(|p| c.mentioned.contains(&p.name)).collect();
    let mut program = Program {
        clauses: c.clauses,
        facts: c.facts,
        preds: c.preds,
        var_names: c.var_names,
        goals,
        formulas,
        local_negation: false,
        pred_ids: c.pred_ids,
        reachable,
    };
    stratify(&mut program)?;
    Ok(program)
}

impl Compiler<'_> {
    /// The builtin `name/arity` calls, unless the model defines a predicate
    /// of that name over a term or text builtin (`number/1`, `print/1`).
    pub(super) fn builtin(&self, name: &str, arity: usize) -> Option<Builtin> {
        Builtin::of(name, arity)
            .filter(|op| !matches!(op, Builtin::Named(_)) || !self.defined.contains(&(name.to_string(), arity)))
    }

    fn pred(&mut self, name: &str, arity: usize) -> PredId {
        let name = self.terms.name(name);
        let next = self.preds.len() as PredId;
        let id = *self.pred_ids.entry((name, arity as u32)).or_insert(next);
        if id == next {
            self.preds.push(Pred { name, arity: arity as u32, rules: Vec::new(), complete: false, stratum: 0 });
        }
        id
    }

    pub(super) fn pat(&mut self, term: &Term, vars: &mut VarTable) -> Result<Pat, GroundError> {
        Ok(match &term.kind {
            TermKind::Var(v) => Pat::Var(vars.var(v)),
            TermKind::Atom(a) => {
                let t = self.terms.atom(a);
                self.mentioned.insert(self.terms.name(a));
                Pat::Ground(t)
            }
            TermKind::Int(i) => Pat::Ground(self.terms.int(*i)),
            TermKind::Float(x) => Pat::Ground(self.terms.float(*x)),
            TermKind::Str(s) => Pat::Ground(self.terms.string(s)),
            TermKind::Compound { functor, args } => {
                let args = guard(|| args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>())?;
                let f = self.terms.name(functor);
                self.mentioned.insert(f);
                self.build(f, args)
            }
            TermKind::List { items, tail } => {
                let mut rest = match tail {
                    Some(t) => guard(|| self.pat(t, vars))?,
                    None => Pat::Ground(self.terms.nil()),
                };
                for item in items.iter().rev() {
                    let item = guard(|| self.pat(item, vars))?;
                    rest = self.build(self.terms.cons(), vec![item, rest]);
                }
                rest
            }
            TermKind::Annotated { .. } => {
                return Err(GroundError::new(term.span, "algebra annotations are not supported by grounding yet"))
            }
        })
    }

    /// `f(args)`, ground when its arguments are.
    fn build(&mut self, functor: Sym, args: Vec<Pat>) -> Pat {
        let ground: Option<Vec<TermId>> =
            args.iter().map(|a| if let Pat::Ground(t) = a { Some(*t) } else { None }).collect();
        match ground {
            Some(g) => Pat::Ground(self.terms.compound(functor, &g)),
            None => Pat::Compound(functor, args.into()),
        }
    }

    pub(super) fn callable(&mut self, term: &Term, vars: &mut VarTable) -> Result<(PredId, Box<[Pat]>), GroundError> {
        match &term.kind {
            TermKind::Atom(name) => Ok((self.pred(name, 0), Box::new([]))),
            TermKind::Compound { functor, args } => {
                let pats = args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                Ok((self.pred(functor, args.len()), pats.into()))
            }
            TermKind::Var(_) => Err(GroundError::new(term.span, "a variable cannot be called as a goal here")),
            _ => Err(GroundError::new(term.span, "this is not an atom or a compound term, so it cannot be a goal")),
        }
    }

    fn target(&mut self, term: &Term, span: Span, condition: Option<&Term>) -> Result<Target, GroundError> {
        if is_formula(term) {
            return Err(GroundError::new(span, "formula queries are not supported yet"));
        }
        let callable = match &term.kind {
            TermKind::Atom(n) => self.builtin(n, 0).is_none(),
            TermKind::Compound { functor, args } => self.builtin(functor, args.len()).is_none() && functor != "findall",
            _ => false,
        };
        if !callable {
            return Err(GroundError::new(term.span, "a query or evidence must be an atom of a predicate, like `p(a)`"));
        }
        let mut vars = VarTable::default();
        let (pred, args) = self.callable(term, &mut vars)?;
        let condition = match condition {
            None => None,
            Some(body) => {
                let mut names: Vec<String> = Vec::new();
                for (v, _) in term.variables() {
                    if v != "_" && !names.iter().any(|n| n == v) {
                        names.push(v.to_string());
                    }
                }
                let head: Vec<Term> = names.iter().map(|v| Term::new(TermKind::Var(v.clone()), span)).collect();
                let head_refs: Vec<&Term> = head.iter().collect();
                let aux = self.aux("$condition", &head_refs, body, span)?;
                let args: Vec<Pat> = names.iter().map(|v| Pat::Var(vars.var(v))).collect();
                Some((aux, args.into()))
            }
        };
        Ok(Target { pred, args, vars: vars.names.len(), span, logic: None, condition })
    }

    fn rule(&mut self, origin: u32, rule: &Rule) -> Result<(), GroundError> {
        let counts = count_vars(rule.heads.iter().map(|h| &h.atom).chain(rule.body.as_deref()));
        let mut vars = VarTable::default();
        let mut heads = Vec::with_capacity(rule.heads.len());
        let neural = match rule.heads.iter().find_map(|h| match &h.annotation {
            Annotation::Neural(n) => Some((h, n)),
            _ => None,
        }) {
            Some((head, n)) => Some(self.neural(rule, head, n, &mut vars, &mut heads)?),
            None => {
                for h in &rule.heads {
                    heads.push(self.callable(&h.atom, &mut vars)?);
                }
                None
            }
        };
        let annotated = rule.heads.len() > 1 || rule.heads.iter().any(|h| !matches!(h.annotation, Annotation::None));
        let neural_probabilities = neural.as_ref().map(|_| vec![1.0 / (heads.len() as f64 + 1.0); heads.len()].into());
        let probabilities: Option<Box<[f64]>> = neural_probabilities.or_else(|| {
            annotated.then(|| {
                rule.heads
                    .iter()
                    .map(|h| match h.annotation {
                        Annotation::Probability { value, .. } => value,
                        // `t(_)`: uniform over the heads and "none" (0.5 for
                        // a fact).
                        Annotation::Learnable { initial, .. } => {
                            initial.unwrap_or(1.0 / (rule.heads.len() as f64 + 1.0))
                        }
                        Annotation::None | Annotation::Neural(_) | Annotation::Computed { .. } => 1.0,
                    })
                    .collect()
            })
        });
        let learnable =
            rule.heads.iter().any(|h| matches!(h.annotation, Annotation::Learnable { decision: false, .. }));
        let decision = rule.heads.iter().any(|h| matches!(h.annotation, Annotation::Learnable { decision: true, .. }));
        // Flexible probabilities: every head's label as a pattern, computed
        // per instance once the body holds.
        let labels: Option<Box<[Pat]>> =
            if rule.heads.iter().any(|h| matches!(h.annotation, Annotation::Computed { .. })) {
                let mut labels = Vec::with_capacity(rule.heads.len());
                for (h, p) in rule.heads.iter().zip(probabilities.iter().flat_map(|p| p.iter())) {
                    labels.push(match &h.annotation {
                        Annotation::Computed { expression, .. } => self.pat(expression, &mut vars)?,
                        _ => Pat::Ground(self.terms.float(*p)),
                    });
                }
                Some(labels.into())
            } else {
                None
            };
        let alternatives = match &rule.body {
            None => vec![Vec::new()],
            Some(body) => self.goal(body, &counts, &mut vars)?,
        };
        let table = self.var_names.len() as u32;
        self.var_names.push(vars.names);
        let heads: Box<[(PredId, Box<[Pat]>)]> = heads.into();
        let all_ground = heads.iter().all(|(_, args)| args.iter().all(|a| matches!(a, Pat::Ground(_))));
        let count = alternatives.len();
        let (mut heads, mut probabilities, mut neural) = (Some(heads), Some(probabilities), Some(neural));
        for (i, body) in alternatives.into_iter().enumerate() {
            let id = self.clauses.len() as u32;
            // The last alternative takes the heads, the others copy them.
            let labels = labels.clone();
            let (heads, probabilities, neural) = if i + 1 == count {
                (heads.take().unwrap_or_default(), probabilities.take().flatten(), neural.take().flatten())
            } else {
                (heads.clone().unwrap_or_default(), probabilities.clone().flatten(), neural.clone().flatten())
            };
            let mut ground_heads: Box<[TermId]> = Box::new([]);
            if body.is_empty() && neural.is_none() && all_ground && labels.is_none() {
                self.facts.push(id);
                ground_heads = heads
                    .iter()
                    .map(|(pred, args)| {
                        let args: Vec<TermId> =
                            args.iter().map(|a| if let Pat::Ground(t) = a { *t } else { TermId::UNBOUND }).collect();
                        self.terms.compound(self.preds[*pred as usize].name, &args)
                    })
                    .collect();
            } else {
                for (k, (pred, _)) in heads.iter().enumerate() {
                    self.preds[*pred as usize].rules.push((id, k as u32));
                }
            }
            self.clauses.push(Clause {
                origin,
                span: rule.span,
                heads,
                probabilities,
                learnable,
                decision,
                neural,
                labels,
                body: body.into(),
                vars: table,
                ground_heads,
            });
        }
        Ok(())
    }

    /// A neural head: `nn(net, Inputs, Y, Domain)::h(..Y..)` becomes the
    /// heads `h(..d..)` for every `d` of the domain (one annotated
    /// disjunction per instance); `nn(net, Inputs)::h` stays one head.
    fn neural(
        &mut self,
        rule: &Rule,
        head: &crate::model::Head,
        n: &crate::model::Neural,
        vars: &mut VarTable,
        heads: &mut Vec<(PredId, Box<[Pat]>)>,
    ) -> Result<Box<NeuralClause>, GroundError> {
        if rule.heads.len() != 1 {
            return Err(GroundError::new(n.span, "a neural annotation must be the only head of its clause"));
        }
        match (&n.output, &n.domain) {
            (Some(output), Some(domain)) => {
                let TermKind::Var(y) = &output.kind else {
                    return Err(GroundError::new(output.span, "a neural predicate's output must be a variable"));
                };
                for value in domain {
                    heads.push(self.callable(&substitute(&head.atom, y, value), vars)?);
                }
            }
            _ => heads.push(self.callable(&head.atom, vars)?),
        }
        let inputs = n.inputs.iter().map(|t| self.pat(t, vars)).collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(NeuralClause { network: n.network.clone(), inputs: inputs.into() }))
    }

    /// An auxiliary predicate `name(head...) :- goal`, for a negated or
    /// aggregated conjunction.
    fn aux(&mut self, kind: &str, head: &[&Term], goal: &Term, span: Span) -> Result<PredId, GroundError> {
        self.aux += 1;
        let pred = self.pred(&format!("{kind}{}", self.aux), head.len());
        let counts = count_vars(head.iter().copied().chain([goal]));
        let mut vars = VarTable::default();
        let args = head.iter().map(|t| self.pat(t, &mut vars)).collect::<Result<Vec<_>, _>>()?;
        let alternatives = self.goal(goal, &counts, &mut vars)?;
        let table = self.var_names.len() as u32;
        self.var_names.push(vars.names);
        let heads: Box<[(PredId, Box<[Pat]>)]> = Box::new([(pred, args.into())]);
        for body in alternatives {
            let id = self.clauses.len() as u32;
            self.preds[pred as usize].rules.push((id, 0));
            self.clauses.push(Clause {
                origin: u32::MAX,
                span,
                heads: heads.clone(),
                probabilities: None,
                learnable: false,
                decision: false,
                neural: None,
                labels: None,
                body: body.into(),
                vars: table,
                ground_heads: Box::new([]),
            });
        }
        Ok(pred)
    }

    fn goal(
        &mut self,
        term: &Term,
        counts: &HashMap<String, usize>,
        vars: &mut VarTable,
    ) -> Result<Alternatives, GroundError> {
        let span = term.span;
        if let TermKind::Annotated { .. } = term.kind {
            return Err(GroundError::new(span, "algebra annotations are not supported by grounding yet"));
        }
        if let TermKind::Atom(name) = &term.kind {
            match name.as_str() {
                "true" => return Ok(vec![Vec::new()]),
                "fail" | "false" => return Ok(Vec::new()),
                "!" => return Err(GroundError::new(span, "the cut `!` is not supported")),
                _ => {}
            }
        }
        let Some((name, args)) = term.as_compound() else {
            let (pred, args) = self.callable(term, vars)?;
            return Ok(vec![vec![Lit::Call { pred, args }]]);
        };
        match (name, args) {
            // A body of 100,000 goals is a chain of 100,000 `,` (or `;`):
            // each chain is walked, not recursed into.
            ("," | "and", [_, _]) => {
                let mut out: Alternatives = vec![Vec::new()];
                for conjunct in chain(term, &[",", "and"]) {
                    let next = guard(|| self.goal(conjunct, counts, vars))?;
                    out = match <[_; 1]>::try_from(next) {
                        // The common case: one alternative, added in place.
                        Ok([only]) => {
                            if let [alternative] = &mut out[..] {
                                alternative.extend(only);
                            } else {
                                for alternative in &mut out {
                                    alternative.extend(only.iter().map(clone_lit));
                                }
                            }
                            out
                        }
                        Err(next) => out
                            .iter()
                            .flat_map(|l| next.iter().map(move |r| l.iter().chain(r).map(clone_lit).collect()))
                            .collect(),
                    };
                }
                Ok(out)
            }
            // `C -> T ; E` is `(C, T) ; (\+ C, E)`, and a chain `C1 -> T1 ;
            // C2 -> T2 ; E` negates every condition before its arm.
            (";" | "or", [_, _]) => {
                let mut out = Vec::new();
                let mut failed: Vec<Term> = Vec::new();
                for alternative in chain(term, &[";", "or"]) {
                    let arm = match alternative.as_compound() {
                        Some(("->" | "*->", [condition, then])) => {
                            let arm =
                                conjunction(failed.iter().cloned().chain([condition.clone(), then.clone()]), span);
                            failed.push(Term::new(
                                TermKind::Compound { functor: "\\+".into(), args: vec![condition.clone()] },
                                condition.span,
                            ));
                            arm
                        }
                        _ => conjunction(failed.iter().cloned().chain([alternative.clone()]), span),
                    };
                    out.extend(guard(|| self.goal(&arm, counts, vars))?);
                }
                Ok(out)
            }
            // `C -> T` alone fails where `C` does: `C, T`.
            ("->" | "*->", [condition, then]) => {
                guard(|| self.goal(&conjunction([condition.clone(), then.clone()].into_iter(), span), counts, vars))
            }
            ("\\+" | "not", [inner]) => self.negation(inner, span, counts, vars),
            // `once(G)` and `ignore(G)`: over probabilistic goals the
            // answer is whether `G` holds at all, so `once` is `G` itself
            // (as in ProbLog) and `ignore` is `G ; \+ G`.
            ("once" | "try_call" | "call_nc", [inner]) => guard(|| self.goal(inner, counts, vars)),
            // ProbLog's `writenl/N`, `debugprint/N` (to standard error) and
            // `error/N` (stops with the message), over any number of
            // arguments.
            ("writenl" | "debugprint" | "error", _) if !self.defined.contains(&(name.to_string(), args.len())) => {
                let list = Term::new(TermKind::List { items: args.to_vec(), tail: None }, span);
                let op = if name == "error" { "$raise" } else { "$print_all" };
                let call = Term::new(TermKind::Compound { functor: op.into(), args: vec![list] }, span);
                guard(|| self.goal(&call, counts, vars))
            }
            ("ignore", [inner]) => {
                let negated = Term::new(TermKind::Compound { functor: "\\+".into(), args: vec![inner.clone()] }, span);
                let either =
                    Term::new(TermKind::Compound { functor: ";".into(), args: vec![inner.clone(), negated] }, span);
                guard(|| self.goal(&either, counts, vars))
            }
            // `forall(C, A)`: no `C` without `A`, `\+ (C, \+ A)`.
            ("forall", [condition, action]) if !matches!(condition.as_compound(), Some(("in", [_, _]))) => {
                let fails = Term::new(TermKind::Compound { functor: "\\+".into(), args: vec![action.clone()] }, span);
                let both = conjunction([condition.clone(), fails].into_iter(), span);
                self.negation(&both, span, counts, vars)
            }
            ("call", [goal, extra @ ..]) => match &goal.kind {
                // A goal written in the clause: the call is the goal with
                // the extra arguments appended.
                TermKind::Atom(_) | TermKind::Compound { .. } => {
                    let term = match (&goal.kind, extra.is_empty()) {
                        (_, true) => goal.clone(),
                        (TermKind::Atom(name), false) => {
                            Term::new(TermKind::Compound { functor: name.clone(), args: extra.to_vec() }, span)
                        }
                        (TermKind::Compound { functor, args }, false) => Term::new(
                            TermKind::Compound {
                                functor: functor.clone(),
                                args: args.iter().chain(extra).cloned().collect(),
                            },
                            span,
                        ),
                        _ => unreachable!("an atom or a compound"),
                    };
                    guard(|| self.goal(&term, counts, vars))
                }
                TermKind::Var(_) => {
                    let goal = self.pat(goal, vars)?;
                    let extra = extra.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                    Ok(vec![vec![Lit::Dynamic { goal, extra: extra.into(), span }]])
                }
                _ => Err(GroundError::new(goal.span, "`call` needs a goal: an atom or a compound term")),
            },
            ("findall", [template, goal, result]) => self.findall(template, goal, result, span, counts, vars),
            _ => {
                if let Some(op) = self.builtin(name, args.len()) {
                    let args = args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                    return Ok(vec![vec![Lit::Builtin { op, args: args.into(), negated: false, span }]]);
                }
                let (pred, args) = self.callable(term, vars)?;
                Ok(vec![vec![Lit::Call { pred, args }]])
            }
        }
    }

    /// `\+ inner`: a negated literal where `inner` is a call whose
    /// variables are all bound by the rest of the clause, else the negation
    /// of an auxiliary predicate over the variables it shares with it.
    fn negation(
        &mut self,
        inner: &Term,
        span: Span,
        counts: &HashMap<String, usize>,
        vars: &mut VarTable,
    ) -> Result<Alternatives, GroundError> {
        let shared = shared_vars(&[inner], counts);
        let inner_counts = count_vars([inner]);
        let simple = match &inner.kind {
            TermKind::Atom(n) => !matches!(n.as_str(), "true" | "fail" | "false" | "!"),
            TermKind::Compound { functor, args } => {
                !is_connective(functor, args.len())
                    && !matches!(functor.as_str(), "findall" | "call" | "once" | "ignore" | "forall")
            }
            _ => false,
        };
        if simple {
            if let Some((f, args)) = inner.as_compound() {
                if let Some(op) = self.builtin(f, args.len()) {
                    let args = args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                    return Ok(vec![vec![Lit::Builtin { op, args: args.into(), negated: true, span }]]);
                }
            }
            let anonymous = inner.variables().any(|(v, _)| v == "_");
            if shared.len() == inner_counts.len() && !anonymous {
                let (pred, args) = self.callable(inner, vars)?;
                return Ok(vec![vec![Lit::Not { pred, args, span }]]);
            }
        }
        // `\+ G` with G a conjunction or with variables of its own:
        // `aux(Shared) :- G`, and `\+ aux(Shared)`.
        let head: Vec<Term> = shared.iter().map(|v| Term::new(TermKind::Var(v.clone()), span)).collect();
        let head_refs: Vec<&Term> = head.iter().collect();
        let pred = self.aux("$not", &head_refs, inner, span)?;
        let args = shared.iter().map(|v| Pat::Var(vars.var(v))).collect::<Vec<_>>();
        Ok(vec![vec![Lit::Not { pred, args: args.into(), span }]])
    }

    /// `findall(template, goal, result)`: a literal over the auxiliary
    /// predicate `aux(Shared..., template) :- goal`.
    fn findall(
        &mut self,
        template: &Term,
        goal: &Term,
        result: &Term,
        span: Span,
        counts: &HashMap<String, usize>,
        vars: &mut VarTable,
    ) -> Result<Alternatives, GroundError> {
        let shared = shared_vars(&[template, goal], counts);
        // Every solution counts, `_` included: each `_` of the goal gets a
        // name, and the goal's variables join the head.
        let mut goal = goal.clone();
        name_anonymous(&mut goal);
        let mut local: Vec<String> = Vec::new();
        for (v, _) in goal.variables() {
            if !shared.iter().any(|s| s == v) && !local.iter().any(|l| l == v) {
                local.push(v.to_string());
            }
        }
        let var = |v: &String| Term::new(TermKind::Var(v.clone()), span);
        let mut head: Vec<Term> = shared.iter().map(var).collect();
        head.push(template.clone());
        head.extend(local.iter().map(var));
        let head_refs: Vec<&Term> = head.iter().collect();
        let pred = self.aux("$findall", &head_refs, &goal, span)?;
        let mut args = shared.iter().map(|v| Pat::Var(vars.var(v))).collect::<Vec<_>>();
        args.extend((0..=local.len()).map(|_| Pat::Var(vars.var("_"))));
        let result = self.pat(result, vars)?;
        let template = shared.len() as u32;
        Ok(vec![vec![Lit::Findall { pred, args: args.into(), template, result, span }]])
    }
}

/// The conjunction `a, b, …` of `goals` (`true` when there are none).
fn conjunction(goals: impl DoubleEndedIterator<Item = Term>, span: Span) -> Term {
    let mut goals = goals.rev();
    let Some(mut out) = goals.next() else { return Term::new(TermKind::Atom("true".into()), span) };
    for goal in goals {
        out = Term::new(TermKind::Compound { functor: ",".into(), args: vec![goal, out] }, span);
    }
    out
}

/// Renames each anonymous variable `_` of `term` apart (`_$0`, `_$1`,
/// ...), so that it can stand in a head.
fn name_anonymous(term: &mut Term) {
    let mut next = 0;
    term.visit_mut(&mut |t| {
        if let TermKind::Var(name) = &mut t.kind {
            if name == "_" {
                *name = format!("_${next}");
                next += 1;
            }
        }
    });
}

/// The operands of a right-leaning chain of the operators `ops`, in order:
/// `a, b, c` gives `a`, `b`, `c` (a parenthesised `(a, b), c` gives
/// `(a, b)` and `c`).
fn chain<'t>(term: &'t Term, ops: &'t [&str]) -> impl Iterator<Item = &'t Term> {
    let mut rest = Some(term);
    std::iter::from_fn(move || {
        let t = rest?;
        match t.as_compound() {
            Some((op, [a, b])) if ops.contains(&op) => {
                rest = Some(b);
                Some(a)
            }
            _ => rest.take(),
        }
    })
}

/// A copy of `l`, for a conjunction that appears in several alternatives.
fn clone_lit(l: &Lit) -> Lit {
    match l {
        Lit::Call { pred, args } => Lit::Call { pred: *pred, args: args.clone() },
        Lit::Not { pred, args, span } => Lit::Not { pred: *pred, args: args.clone(), span: *span },
        Lit::Builtin { op, args, negated, span } => {
            Lit::Builtin { op: *op, args: args.clone(), negated: *negated, span: *span }
        }
        Lit::Findall { pred, args, template, result, span } => {
            Lit::Findall { pred: *pred, args: args.clone(), template: *template, result: result.clone(), span: *span }
        }
        Lit::Dynamic { goal, extra, span } => Lit::Dynamic { goal: goal.clone(), extra: extra.clone(), span: *span },
    }
}

/// `term` with variable `var` replaced by `value`.
fn substitute(term: &Term, var: &str, value: &Term) -> Term {
    guard(|| substitute_nested(term, var, value))
}

fn substitute_nested(term: &Term, var: &str, value: &Term) -> Term {
    let kind = match &term.kind {
        TermKind::Var(v) if v == var => return value.clone(),
        TermKind::Compound { functor, args } => TermKind::Compound {
            functor: functor.clone(),
            args: args.iter().map(|a| substitute(a, var, value)).collect(),
        },
        TermKind::List { items, tail } => TermKind::List {
            items: items.iter().map(|a| substitute(a, var, value)).collect(),
            tail: tail.as_ref().map(|t| Box::new(substitute(t, var, value))),
        },
        other => other.clone(),
    };
    Term::new(kind, term.span)
}
