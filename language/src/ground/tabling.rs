//! Tabled evaluation: goal-directed grounding with a table of answers per
//! call, as the module `ground` describes. A call is a predicate with
//! the arguments bound when it is reached; its answers live in one
//! [`Bucket`] of an [`Index`] of the predicate. Rules run once per call;
//! a rule body waiting on a call is a [`Consumer`], resumed once per
//! answer, so recursion terminates and work follows the ground rules
//! found. Negation and `findall/3` wait ([`Delayed`]) until their stratum
//! is complete.

use std::collections::BTreeMap;
use std::time::Instant;

use super::bindings::Env;
use super::clauses::{Builtin, Goal, Lit, Pat, Program};
use super::derive::{AtomKind, Group, LitCode, PENDING};
use super::{formula, AtomNo, Bodies, FxMap, GroundError, Limits, PredId, NONE};
use crate::syntax::Span;
use deeplog_program::terms::{Node, TermId, Terms};
use deeplog_program::Origin;

/// The answers of one call so far, and the bodies waiting on them.
#[derive(Default)]
pub(super) struct Bucket {
    pub(super) atoms: Vec<AtomNo>,
    /// Indexes in `State::consumers`.
    pub(super) consumers: Vec<u32>,
    /// The call was made: its rules are scheduled or ran.
    pub(super) called: bool,
}

/// The atoms of a predicate by the values at the positions in `mask`.
///
/// An index over every position (`whole`) keeps a bucket only for the
/// calls made: its key is a whole atom, which answers that call alone, so
/// a bucket per derived atom would cost a map entry and an allocation per
/// atom for nothing. A new call's bucket starts with the call's own atom,
/// if derived.
pub(super) struct Index {
    pub(super) mask: u64,
    pub(super) whole: bool,
    pub(super) keys: FxMap<Box<[TermId]>, u32>,
    pub(super) buckets: Vec<Bucket>,
}

impl Index {
    /// The number of the bucket of `key`, made empty on first use.
    pub(super) fn bucket_id(&mut self, key: &[TermId]) -> u32 {
        match self.keys.get(key) {
            Some(&b) => b,
            None => {
                let b = self.buckets.len() as u32;
                self.keys.insert(key.into(), b);
                self.buckets.push(Bucket::default());
                b
            }
        }
    }

    /// The bucket of `key`, made empty on first use.
    pub(super) fn bucket(&mut self, key: &[TermId]) -> &mut Bucket {
        let b = self.bucket_id(key);
        &mut self.buckets[b as usize]
    }
}

/// A rule body waiting at literal `pos` for the answers of a call.
pub(super) struct Consumer {
    pub(super) clause: u32,
    pub(super) pos: u32,
    pub(super) vals: Box<[TermId]>,
    pub(super) body: u32,
}

/// A rule body waiting at a negation or `findall/3` for its stratum.
pub(super) struct Delayed {
    pub(super) clause: u32,
    pub(super) pos: u32,
    pub(super) vals: Box<[TermId]>,
    pub(super) body: u32,
}

/// A unit of work on the task stack.
/// The most solutions depending on probabilistic facts that one
/// `findall/3` enumerates the subsets of.
const MAX_UNCERTAIN_SOLUTIONS: usize = 20;

/// The goal of a `call/N`, resolved while grounding.
pub(super) enum Resolved {
    True,
    Fail,
    Builtin(Builtin),
    Pred(PredId),
}

pub(super) enum Task {
    /// Run the rules of `pred` for the call with `key` at the bound
    /// positions of index `index`.
    Call { pred: PredId, index: u32, key: Box<[TermId]> },
    /// Continue a consumer with one answer.
    Resume { consumer: u32, atom: AtomNo },
}

/// How many clause steps run between two readings of the clock.
const CLOCK_EVERY: u32 = 1024;

/// The bit of argument position `i` in an index mask; positions past 64
/// are never indexed.
#[inline]
pub(super) fn mask_bit(i: usize) -> u64 {
    if i < 64 {
        1 << i
    } else {
        0
    }
}

/// Everything grounding has found so far: the terms, the derived atoms and
/// their indexes, the ground rules and choices, and the work left.
///
/// Invariants: `atoms`, `certain`, `defs` and `watch` have one entry per
/// atom; `rules`, `missing` and `has_negation` one per ground rule, which
/// is never added twice; an atom is certain once a rule with no uncertain
/// positive literal and no negation has it as head, and stays certain.
pub(super) struct State {
    pub(super) terms: Terms,
    pub(super) limits: Limits,
    pub(super) bodies: Bodies,
    /// Calls run so far (each call's rules run once).
    pub(super) calls: usize,
    /// Atoms of the model's predicates derived so far (choice atoms not
    /// counted).
    pub(super) derived: usize,
    /// Clause steps run so far; the clock is read every [`CLOCK_EVERY`].
    pub(super) steps: u32,
    pub(super) atoms: Vec<AtomKind>,
    /// The atom of each term id that is a derived atom, else `NONE`.
    pub(super) atom_of: Vec<AtomNo>,
    pub(super) certain: Vec<bool>,
    /// Definitions of each atom: distinct rules with it as head, and
    /// choices of which it is the atom.
    pub(super) defs: Vec<u32>,
    /// Rules in whose body each atom occurs positively, while uncertain.
    pub(super) watch: Vec<Vec<u32>>,
    pub(super) relations: Vec<Vec<Index>>,
    pub(super) consumers: Vec<Consumer>,
    pub(super) tasks: Vec<Task>,
    /// Waiting negations and `findall/3`s by stratum, the lowest decided
    /// first (a map, not a list searched for its minimum: a chain of
    /// negations has one stratum per link).
    pub(super) delayed: BTreeMap<u32, Vec<Delayed>>,
    /// Body literals so far, as linked lists: (literal, previous link).
    pub(super) links: Vec<(LitCode, u32)>,
    pub(super) rules: Vec<(AtomNo, Box<[LitCode]>)>,
    /// Per rule: the clause it is an instance of, in the model text.
    pub(super) rule_origins: Vec<Origin>,
    pub(super) rule_first: FxMap<u64, u32>,
    pub(super) rule_next: Vec<u32>,
    /// Positive body literals not yet known certain.
    pub(super) missing: Vec<u32>,
    pub(super) has_negation: Vec<bool>,
    pub(super) groups: Vec<Group>,
    pub(super) choice_atoms: Vec<AtomNo>,
    pub(super) choice_direct: Vec<bool>,
    /// Heads of the clause instance being derived (reused).
    pub(super) heads: Vec<(TermId, PredId)>,
    pub(super) group_ids: FxMap<(u32, Box<[TermId]>), u32>,
    pub(super) key: Vec<TermId>,
    /// Formula goals, grounded over terms.
    pub(super) formulas: formula::Built,
    /// Under [`Program::local_negation`], the negated atoms not derived
    /// when their negation was grounded: body literal `PENDING + i` stands
    /// for the negation of `pending[i]`, resolved when grounding ends (to
    /// the atom's negation, or to true where it was never derived).
    pub(super) pending: Vec<TermId>,
}

impl State {
    pub(super) fn new(terms: Terms, program: &Program, limits: Limits, bodies: Bodies) -> State {
        State {
            terms,
            limits,
            bodies,
            calls: 0,
            derived: 0,
            steps: 0,
            atoms: Vec::new(),
            atom_of: Vec::new(),
            certain: Vec::new(),
            defs: Vec::new(),
            watch: Vec::new(),
            relations: program
                .preds
                .iter()
                .map(|_| {
                    let mut keys = FxMap::default();
                    keys.insert(Box::from([]), 0);
                    vec![Index { mask: 0, whole: false, keys, buckets: vec![Bucket::default()] }]
                })
                .collect(),
            consumers: Vec::new(),
            tasks: Vec::new(),
            delayed: BTreeMap::new(),
            links: Vec::new(),
            rules: Vec::new(),
            rule_origins: Vec::new(),
            rule_first: FxMap::default(),
            rule_next: Vec::new(),
            missing: Vec::new(),
            has_negation: Vec::new(),
            groups: Vec::new(),
            choice_atoms: Vec::new(),
            choice_direct: Vec::new(),
            heads: Vec::new(),
            group_ids: FxMap::default(),
            key: Vec::new(),
            formulas: formula::Built::default(),
            pending: Vec::new(),
        }
    }

    /// The atom of `term`, if it was derived.
    #[inline]
    pub(super) fn atom_of_term(&self, term: TermId) -> Option<AtomNo> {
        self.atom_of.get(term.index()).copied().filter(|&a| a != NONE)
    }

    /// `name/arity`, for messages.
    pub(super) fn pred_name(&self, p: &Program, pred: PredId) -> String {
        let pred = &p.preds[pred as usize];
        format!("{}/{}", self.terms.text(pred.name), pred.arity)
    }

    /// The index of `pred` (of `arity`) over the positions in `mask`, built
    /// from its atoms so far on first use; an index over every position
    /// starts empty, its buckets made by the calls ([`Index`]).
    pub(super) fn index(&mut self, pred: PredId, mask: u64, arity: usize) -> usize {
        let indexes = &mut self.relations[pred as usize];
        if let Some(i) = indexes.iter().position(|ix| ix.mask == mask) {
            return i;
        }
        let whole = (1..=64).contains(&arity) && mask == u64::MAX >> (64 - arity);
        let mut index = Index { mask, whole, keys: FxMap::default(), buckets: Vec::new() };
        let atoms: &[AtomNo] = if whole { &[] } else { &indexes[0].buckets[0].atoms };
        for &a in atoms {
            let AtomKind::Term { term, .. } = self.atoms[a as usize] else { continue };
            let key: Box<[TermId]> = self
                .terms
                .args(term)
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & mask_bit(*i) != 0)
                .map(|(_, &t)| t)
                .collect();
            let next = index.buckets.len() as u32;
            let b = *index.keys.entry(key).or_insert(next);
            if b == next {
                index.buckets.push(Bucket::default());
            }
            index.buckets[b as usize].atoms.push(a);
        }
        indexes.push(index);
        indexes.len() - 1
    }

    /// The bucket of the call `pred(args)`: its answers so far. A first
    /// call to a predicate with rules schedules them.
    pub(super) fn demand(&mut self, p: &Program, pred: PredId, args: &[Pat], env: &Env) -> (usize, u32) {
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        let mut mask = 0;
        for (i, a) in args.iter().enumerate().take(64) {
            if let Some(t) = self.ground(a, env) {
                mask |= mask_bit(i);
                key.push(t);
            }
        }
        let ix = self.index(pred, mask, p.preds[pred as usize].arity as usize);
        let index = &mut self.relations[pred as usize][ix];
        let fresh = index.buckets.len() as u32;
        let b = index.bucket_id(&key);
        if b == fresh && index.whole {
            let atom = self.terms.compound(p.preds[pred as usize].name, &key);
            if let Some(a) = self.atom_of_term(atom) {
                self.relations[pred as usize][ix].buckets[b as usize].atoms.push(a);
            }
        }
        let bucket = &mut self.relations[pred as usize][ix].buckets[b as usize];
        if !bucket.called && !p.preds[pred as usize].complete {
            bucket.called = true;
            self.tasks.push(Task::Call { pred, index: ix as u32, key: key.as_slice().into() });
        }
        self.key = key;
        (ix, b)
    }

    #[inline]
    pub(super) fn bucket(&self, pred: PredId, ix: usize, b: u32) -> &Bucket {
        &self.relations[pred as usize][ix].buckets[b as usize]
    }

    /// Loads the facts, then grounds every goal and formula to completion.
    pub(super) fn evaluate(&mut self, p: &Program) -> Result<(), GroundError> {
        let mut env = Env::default();
        for &f in &p.facts {
            env.reset(p.var_names[p.clauses[f as usize].vars as usize].len());
            self.derive(p, &mut env, f, NONE, true)?;
        }
        // The task stack is last in, first out: demanding the goals in
        // reverse answers them in file order.
        for goal in p.goals.iter().rev() {
            let (Goal::Query(t) | Goal::Evidence(t, _)) = goal;
            env.reset(t.vars);
            self.demand(p, t.pred, &t.args, &env);
            if let Some((pred, args)) = &t.condition {
                self.demand(p, *pred, args, &env);
            }
        }
        self.run_to_completion(p, &mut env)?;
        if !p.formulas.is_empty() {
            self.formulas = self.expand_formulas(p, &mut env)?;
            self.run_to_completion(p, &mut env)?;
        }
        Ok(())
    }

    /// Runs tasks and delayed negations until every call is complete.
    pub(super) fn run_to_completion(&mut self, p: &Program, env: &mut Env) -> Result<(), GroundError> {
        loop {
            while let Some(task) = self.tasks.pop() {
                let before = self.tasks.len();
                self.step(p, env, task)?;
                // The stack is last in, first out; the tasks one step made
                // run in the order it made them (answers in the order they
                // were derived, calls in body order), as Prolog's
                // depth-first search meets them.
                self.tasks[before..].reverse();
            }
            // Every call made so far is complete up to its waiting
            // negations; the lowest stratum waiting can be decided.
            let Some((_, now)) = self.delayed.pop_first() else { break };
            for d in now {
                env.load(&d.vals);
                self.decide(p, env, d.clause, d.pos as usize, d.body)?;
            }
        }
        Ok(())
    }

    /// Runs one task.
    pub(super) fn step(&mut self, p: &Program, env: &mut Env, task: Task) -> Result<(), GroundError> {
        match task {
            Task::Call { pred, index, key } => {
                self.count_call(p, pred, &key)?;
                let mask = self.relations[pred as usize][index as usize].mask;
                for &(clause, head) in &p.preds[pred as usize].rules {
                    let c = &p.clauses[clause as usize];
                    env.reset(p.var_names[c.vars as usize].len());
                    let args = &c.heads[head as usize].1;
                    let mut bound = key.iter();
                    let matches = args.iter().enumerate().all(|(i, a)| {
                        mask & mask_bit(i) == 0 || bound.next().is_some_and(|&t| State::unify(&self.terms, a, t, env))
                    });
                    if matches {
                        self.run(p, env, clause, 0, NONE)?;
                    }
                }
                Ok(())
            }
            Task::Resume { consumer, atom } => {
                let c = &self.consumers[consumer as usize];
                let (clause, pos, body) = (c.clause, c.pos as usize, c.body);
                env.load(&c.vals);
                let args = match &p.clauses[clause as usize].body[pos] {
                    Lit::Call { args, .. } => std::borrow::Cow::Borrowed(&args[..]),
                    Lit::Dynamic { goal, extra, span } => {
                        let (_, args) = self.resolve_goal(p, goal, extra, env, *span)?;
                        std::borrow::Cow::Owned(args)
                    }
                    _ => unreachable!("consumers wait on calls"),
                };
                if self.unify_atom(&args, atom, env) {
                    let body = self.extend(body, atom, false);
                    self.run(p, env, clause, pos + 1, body)?;
                }
                Ok(())
            }
        }
    }

    /// Counts a call about to run `pred`'s rules with the arguments `key`
    /// bound, and stops where calls, or the terms they are called with,
    /// pass their limits: a recursion that calls itself with ever new
    /// arguments (`p(X) :- p(s(X)).`) derives no atom, and only its calls
    /// grow.
    fn count_call(&mut self, p: &Program, pred: PredId, key: &[TermId]) -> Result<(), GroundError> {
        self.calls += 1;
        let span = p.preds[pred as usize].rules.first().map_or(Span::default(), |&(c, _)| p.clauses[c as usize].span);
        if self.calls > self.limits.max_calls {
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: more than {} calls (raise --max-calls) while calling `{}`; is the recursion \
                     infinite?",
                    self.limits.max_calls,
                    self.pred_name(p, pred)
                ),
            ));
        }
        if key.iter().any(|&t| self.terms.depth(t) > self.limits.max_depth) {
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: `{}` is called with terms nested deeper than {} (raise --max-depth); is the \
                     recursion infinite?",
                    self.pred_name(p, pred),
                    self.limits.max_depth
                ),
            ));
        }
        Ok(())
    }

    /// Stops grounding where the term store has outgrown its limit or the
    /// deadline has passed (the clock is read every [`CLOCK_EVERY`] steps);
    /// the error is at `clause`, the clause being run.
    #[inline]
    fn within_budget(&mut self, p: &Program, clause: u32) -> Result<(), GroundError> {
        self.steps = self.steps.wrapping_add(1);
        let terms_left = self.terms.len() <= self.limits.max_terms;
        if terms_left
            && (!self.steps.is_multiple_of(CLOCK_EVERY)
                || (self.limits.deadline.is_none_or(|d| Instant::now() < d)
                    && !deeplog_program::interrupt::requested()))
        {
            return Ok(());
        }
        let c = &p.clauses[clause as usize];
        let what =
            c.heads.first().map_or_else(|| "a goal".to_string(), |&(pred, _)| format!("`{}`", self.pred_name(p, pred)));
        let message = if deeplog_program::interrupt::requested() {
            format!("grounding stopped: interrupted while deriving {what}")
        } else if terms_left {
            format!("grounding stopped: the time limit (--timeout) ran out while deriving {what}")
        } else {
            format!(
                "grounding stopped: more than {} ground terms (raise --max-terms) while deriving {what}; is the \
                 recursion infinite?",
                self.limits.max_terms
            )
        };
        Err(GroundError::new(c.span, message))
    }

    /// Continues clause `clause` at body literal `pos`. Each literal
    /// recurses into the next, so a body of 100,000 literals grows the
    /// stack as it goes.
    pub(super) fn run(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
    ) -> Result<(), GroundError> {
        deeplog_program::stack::guard(|| self.run_literal(p, env, clause, pos, body))
    }

    fn run_literal(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
    ) -> Result<(), GroundError> {
        self.within_budget(p, clause)?;
        let c = &p.clauses[clause as usize];
        let Some(lit) = c.body.get(pos) else { return self.derive(p, env, clause, body, false) };
        match lit {
            Lit::Call { pred, args } => self.call(p, env, clause, pos, body, *pred, args),
            Lit::Not { pred, args, span } | Lit::Findall { pred, args, span, .. } => {
                if let Lit::Not { .. } = lit {
                    if args.iter().any(|a| self.ground(a, env).is_none()) {
                        return Err(GroundError::new(
                            *span,
                            format!("the negation of `{}` needs its arguments ground here", self.pred_name(p, *pred)),
                        ));
                    }
                }
                self.demand(p, *pred, args, env);
                if p.preds[*pred as usize].complete {
                    self.decide(p, env, clause, pos, body)
                } else if p.local_negation && matches!(lit, Lit::Not { .. }) {
                    self.negate_locally(p, env, clause, pos, body)
                } else {
                    let stratum = p.preds[*pred as usize].stratum;
                    let vals = env.vals.as_slice().into();
                    self.delayed.entry(stratum).or_default().push(Delayed { clause, pos: pos as u32, vals, body });
                    Ok(())
                }
            }
            Lit::Builtin { op, args, negated, span } => {
                self.builtin(p, env, clause, pos, body, *op, args, *negated, *span)
            }
            Lit::Dynamic { goal, extra, span } => match self.resolve_goal(p, goal, extra, env, *span)? {
                (Resolved::True, _) => self.run(p, env, clause, pos + 1, body),
                (Resolved::Fail, _) => Ok(()),
                (Resolved::Builtin(op), args) => self.builtin(p, env, clause, pos, body, op, &args, false, *span),
                (Resolved::Pred(pred), args) => self.call(p, env, clause, pos, body, pred, &args),
            },
        }
    }

    /// Calls `pred(args)` for the literal at `pos` of `clause`: the clause
    /// goes on with each answer now where the predicate is complete, else
    /// waits as a consumer of the call's answers, those found and to come.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
        pred: PredId,
        args: &[Pat],
    ) -> Result<(), GroundError> {
        let (ix, b) = self.demand(p, pred, args, env);
        if p.preds[pred as usize].complete {
            for i in 0..self.bucket(pred, ix, b).atoms.len() {
                let a = self.bucket(pred, ix, b).atoms[i];
                let mark = env.mark();
                if self.unify_atom(args, a, env) {
                    let next = self.extend(body, a, false);
                    self.run(p, env, clause, pos + 1, next)?;
                }
                env.undo(mark);
            }
        } else {
            let id = self.consumers.len() as u32;
            self.consumers.push(Consumer { clause, pos: pos as u32, vals: env.vals.as_slice().into(), body });
            let bucket = &mut self.relations[pred as usize][ix].buckets[b as usize];
            bucket.consumers.push(id);
            self.tasks.extend(bucket.atoms.iter().map(|&a| Task::Resume { consumer: id, atom: a }));
        }
        Ok(())
    }

    /// What the goal of `call(Goal, Extra...)` is under `env`, with the
    /// arguments to call it with.
    pub(super) fn resolve_goal(
        &mut self,
        p: &Program,
        goal: &Pat,
        extra: &[Pat],
        env: &Env,
        span: Span,
    ) -> Result<(Resolved, Vec<Pat>), GroundError> {
        let Some(t) = self.ground(goal, env) else {
            return Err(GroundError::new(span, "`call` needs its goal bound here"));
        };
        let (name, mut args) = match self.terms.node(t) {
            Node::Atom(s) => (s, Vec::new()),
            Node::Compound { functor, .. } => (functor, self.terms.args(t).iter().map(|&a| Pat::Ground(a)).collect()),
            _ => {
                return Err(GroundError::new(
                    span,
                    format!("`call` needs a goal: an atom or a compound term, not `{}`", self.terms.show(t)),
                ))
            }
        };
        args.extend(extra.iter().cloned());
        let text = self.terms.text(name);
        let arity = args.len();
        match (text, arity) {
            ("true", 0) => return Ok((Resolved::True, args)),
            ("fail" | "false", 0) => return Ok((Resolved::Fail, args)),
            ("," | ";" | "->" | "*->", 2) | ("\\+" | "not" | "once" | "ignore", 1) | ("findall", 3) | ("forall", 2) => {
                return Err(GroundError::new(
                    span,
                    format!(
                        "`call` of the control construct `{text}/{arity}` built while grounding is not supported; write \
                         the goal in the clause"
                    ),
                ))
            }
            _ => {}
        }
        if let Some(op) = Builtin::of(text, arity) {
            return Ok((Resolved::Builtin(op), args));
        }
        match p.pred_ids.get(&(name, arity as u32)) {
            Some(&pred) if p.reachable[pred as usize] => Ok((Resolved::Pred(pred), args)),
            Some(_) => Err(GroundError::new(
                span,
                format!(
                    "`call` reaches `{text}/{arity}`, whose name was built while grounding; deeplog calls only \
                     predicates whose name the program writes"
                ),
            )),
            None => Err(GroundError::new(
                span,
                format!("unknown predicate `{text}/{arity}` called through `call`: no fact or rule defines it"),
            )),
        }
    }

    /// Grounds a negation whose call may still be running
    /// ([`Program::local_negation`]): the negated atom as a literal where
    /// it is derived already, else a pending literal.
    pub(super) fn negate_locally(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
    ) -> Result<(), GroundError> {
        let Lit::Not { pred, args, .. } = &p.clauses[clause as usize].body[pos] else { unreachable!("a negation") };
        let Some(t) = self.ground_atom(p, *pred, args, env) else { unreachable!("checked ground") };
        let body = match self.atom_of_term(t) {
            // Certainty only grows: this instance can never hold.
            Some(a) if self.certain[a as usize] => return Ok(()),
            Some(a) => self.extend(body, a, true),
            None => {
                let code = PENDING + self.pending.len() as AtomNo;
                self.pending.push(t);
                self.links.push(((code << 1) | 1, body));
                self.links.len() as u32 - 1
            }
        };
        self.run(p, env, clause, pos + 1, body)
    }

    /// Decides a negation or `findall/3` whose call is complete.
    pub(super) fn decide(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
    ) -> Result<(), GroundError> {
        match &p.clauses[clause as usize].body[pos] {
            Lit::Not { pred, args, .. } => {
                let Some(t) = self.ground_atom(p, *pred, args, env) else { unreachable!("checked ground") };
                match self.atom_of_term(t) {
                    None => self.run(p, env, clause, pos + 1, body),
                    Some(a) if self.certain[a as usize] => Ok(()),
                    Some(a) => {
                        let body = self.extend(body, a, true);
                        self.run(p, env, clause, pos + 1, body)
                    }
                }
            }
            Lit::Findall { pred, args, template, result, span } => {
                let (ix, b) = self.demand(p, *pred, args, env);
                let atoms = self.bucket(*pred, ix, b).atoms.clone();
                // Every solution in proof order: (item, atom, certain).
                let mut solutions = Vec::new();
                for a in atoms {
                    let mark = env.mark();
                    if self.unify_atom(args, a, env) {
                        let AtomKind::Term { term, .. } = self.atoms[a as usize] else { unreachable!("a term atom") };
                        solutions.push((self.terms.args(term)[*template as usize], a, self.certain[a as usize]));
                    }
                    env.undo(mark);
                }
                // Over probabilistic solutions the list depends on the world:
                // one case per set of the uncertain solutions that hold,
                // each with the literals that say which ones do (exact, and
                // exponential in their number, as in ProbLog).
                let uncertain = solutions.iter().filter(|s| !s.2).count();
                if uncertain > MAX_UNCERTAIN_SOLUTIONS {
                    return Err(GroundError::new(
                        *span,
                        format!(
                            "`findall/3` here has {uncertain} solutions that depend on probabilistic facts: the \
                             collected list would take 2^{uncertain} values; deeplog enumerates at most \
                             2^{MAX_UNCERTAIN_SOLUTIONS}"
                        ),
                    ));
                }
                let mut items = Vec::with_capacity(solutions.len());
                for world in 0u32..1 << uncertain {
                    items.clear();
                    let mut case = body;
                    let mut j = 0;
                    for &(item, a, certain) in &solutions {
                        if certain {
                            items.push(item);
                            continue;
                        }
                        let holds = world & (1 << j) != 0;
                        j += 1;
                        if holds {
                            items.push(item);
                        }
                        case = self.extend(case, a, !holds);
                    }
                    let list = self.terms.list(&items, self.terms.nil());
                    let mark = env.mark();
                    if State::unify(&self.terms, result, list, env) {
                        self.run(p, env, clause, pos + 1, case)?;
                    }
                    env.undo(mark);
                }
                Ok(())
            }
            _ => unreachable!("only negations and findall wait"),
        }
    }
}
