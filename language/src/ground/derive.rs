//! Deriving: a clause instance whose body held adds its head atoms, its
//! ground rule (a body of atom literals) and, for a probabilistic clause,
//! its choice. Certainty is kept here as it grows: an atom proved by
//! deterministic facts and rules alone is certainly true, and leaves the
//! bodies of the rules it appears in.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use super::bindings::{occurs, Env};
use super::clauses::{Pat, Program};
use super::tabling::{mask_bit, State, Task};
use super::{origin, AtomNo, Bodies, GroundError, PredId, NONE};
use crate::syntax::Span;
use deeplog_program::terms::TermId;

/// What a ground atom is.
#[derive(Clone, Copy)]
pub(super) enum AtomKind {
    /// A derived ground atom of `pred`.
    Term { term: TermId, pred: PredId },
    /// The fresh atom of head `head` of choice group `group`.
    Choice { group: u32, head: u32 },
}

/// One instance of a probabilistic clause. The atom of its head `k`'s
/// choice is `State::choice_atoms[start + k]`: the head itself when
/// `choice_direct` says so, else a fresh atom that rules
/// `head :- body, atom` use.
pub(super) struct Group {
    pub(super) clause: u32,
    pub(super) instance: Box<[TermId]>,
    pub(super) start: u32,
    /// The instance's own probabilities, where the clause computes them.
    pub(super) probabilities: Option<Box<[f64]>>,
}

/// A body literal: atom id shifted left, low bit set when negative.
pub(super) type LitCode = u32;

/// Whether a sorted body holds an atom and its negation (adjacent codes).
pub(super) fn contradictory(body: &[LitCode]) -> bool {
    body.windows(2).any(|w| w[1] == w[0] | 1 && w[0] & 1 == 0)
}

/// The first atom id of [`State::pending`]'s literals (atom ids stay below
/// it: `max_atoms` is capped there).
pub(super) const PENDING: AtomNo = 1 << 30;

impl State {
    /// A new atom; `pred` names what was being derived if a limit is hit.
    /// `max_atoms` counts the atoms of the model's predicates: a choice's
    /// fresh atom comes with a rule, which `max_rules` counts.
    pub(super) fn new_atom(
        &mut self,
        p: &Program,
        kind: AtomKind,
        pred: Option<PredId>,
        span: Span,
    ) -> Result<AtomNo, GroundError> {
        let derived = matches!(kind, AtomKind::Term { .. });
        if (derived && self.derived >= self.limits.max_atoms) || self.atoms.len() >= PENDING as usize {
            let what = pred.map_or_else(|| "a choice".to_string(), |pred| self.pred_name(p, pred));
            let limit = if derived { self.limits.max_atoms } else { self.atoms.len() };
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: more than {limit} ground atoms (raise --max-atoms) while deriving `{what}`; is \
                     the recursion infinite?"
                ),
            ));
        }
        self.derived += usize::from(derived);
        let a = self.atoms.len() as AtomNo;
        self.atoms.push(kind);
        self.certain.push(false);
        self.defs.push(0);
        self.watch.push(Vec::new());
        Ok(a)
    }

    /// The atom of a derived ground term, made and announced to the calls
    /// it answers if new.
    pub(super) fn atom(&mut self, p: &Program, term: TermId, pred: PredId, span: Span) -> Result<AtomNo, GroundError> {
        if let Some(a) = self.atom_of_term(term) {
            return Ok(a);
        }
        if self.terms.depth(term) > self.limits.max_depth {
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: `{}` builds terms nested deeper than {} (raise --max-depth); is the recursion \
                     infinite?",
                    self.pred_name(p, pred),
                    self.limits.max_depth
                ),
            ));
        }
        let a = self.new_atom(p, AtomKind::Term { term, pred }, Some(pred), span)?;
        if self.atom_of.len() <= term.index() {
            self.atom_of.resize(self.terms.len().max(term.index() + 1), NONE);
        }
        self.atom_of[term.index()] = a;
        let State { terms, relations, key, tasks, .. } = self;
        let args = terms.args(term);
        for index in relations[pred as usize].iter_mut() {
            key.clear();
            key.extend(args.iter().enumerate().filter(|(i, _)| index.mask & mask_bit(*i) != 0).map(|(_, &t)| t));
            let bucket = if index.whole {
                match index.keys.get(key.as_slice()) {
                    Some(&b) => &mut index.buckets[b as usize],
                    None => continue,
                }
            } else {
                index.bucket(key)
            };
            bucket.atoms.push(a);
            tasks.extend(bucket.consumers.iter().map(|&c| Task::Resume { consumer: c, atom: a }));
        }
        Ok(a)
    }

    /// Adds the ground rule `head :- body` unless it is there already or
    /// its head is in its own body (`h :- h, b` adds nothing to the least
    /// model, boolean or fuzzy: `T(h, b) ≤ h`). A repeated literal counts
    /// once only where bodies are boolean ([`Bodies`]).
    pub(super) fn add_rule(
        &mut self,
        p: &Program,
        head: AtomNo,
        mut body: Vec<LitCode>,
        span: Span,
    ) -> Result<(), GroundError> {
        body.sort_unstable();
        if self.bodies == Bodies::Boolean {
            body.dedup();
        }
        if body.contains(&(head << 1)) {
            // `h :- h, ...` adds nothing to the least model.
            return Ok(());
        }
        let mut h = FxHasher::default();
        h.write_u64(head.into());
        body.iter().for_each(|&l| h.write_u64(l.into()));
        let hash = h.finish();
        let mut cur = self.rule_first.get(&hash).copied().unwrap_or(NONE);
        while cur != NONE {
            let (rh, rb) = &self.rules[cur as usize];
            if *rh == head && **rb == *body {
                return Ok(());
            }
            cur = self.rule_next[cur as usize];
        }
        if self.rules.len() >= self.limits.max_rules {
            let name = match self.atoms[head as usize] {
                AtomKind::Term { pred, .. } => self.pred_name(p, pred),
                AtomKind::Choice { .. } => "a choice".to_string(),
            };
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: more than {} ground rules (raise --max-rules) while deriving `{name}`",
                    self.limits.max_rules
                ),
            ));
        }
        let r = self.rules.len() as u32;
        self.rule_next.push(self.rule_first.insert(hash, r).unwrap_or(NONE));
        self.defs[head as usize] += 1;
        let negation = body.iter().any(|l| l & 1 == 1);
        let mut missing = 0;
        for &l in &body {
            let a = (l >> 1) as usize;
            if l & 1 == 0 && !self.certain[a] {
                missing += 1;
                self.watch[a].push(r);
            }
        }
        self.rules.push((head, body.into()));
        self.rule_origins.push(origin(span));
        self.missing.push(missing);
        self.has_negation.push(negation);
        if missing == 0 && !negation {
            self.make_certain(head);
        }
        Ok(())
    }

    /// Makes `atom` certain, and with it every head whose rule has now
    /// no uncertain positive literal and no negation.
    pub(super) fn make_certain(&mut self, atom: AtomNo) {
        let mut stack = vec![atom];
        while let Some(a) = stack.pop() {
            if std::mem::replace(&mut self.certain[a as usize], true) {
                continue;
            }
            for r in std::mem::take(&mut self.watch[a as usize]) {
                let m = &mut self.missing[r as usize];
                *m -= 1;
                if *m == 0 && !self.has_negation[r as usize] {
                    stack.push(self.rules[r as usize].0);
                }
            }
        }
    }

    /// The body `body` with one more literal; a certain positive literal
    /// adds nothing.
    #[inline]
    pub(super) fn extend(&mut self, body: u32, atom: AtomNo, negative: bool) -> u32 {
        if !negative && self.certain[atom as usize] {
            return body;
        }
        self.links.push(((atom << 1) | negative as u32, body));
        self.links.len() as u32 - 1
    }

    /// The literals of the body ending at link `link`, last first.
    pub(super) fn body_of(&self, mut link: u32) -> Vec<LitCode> {
        let mut out = Vec::new();
        while link != NONE {
            let (l, prev) = self.links[link as usize];
            out.push(l);
            link = prev;
        }
        out
    }

    /// A clause instance whose body held: its head atoms, rules and choice.
    /// `fact` says it is a fact being loaded, derived once.
    pub(super) fn derive(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        body: u32,
        fact: bool,
    ) -> Result<(), GroundError> {
        let c = &p.clauses[clause as usize];
        let mut heads = std::mem::take(&mut self.heads);
        heads.clear();
        if c.ground_heads.is_empty() {
            for (pred, args) in c.heads.iter() {
                let Some(t) = self.ground_atom(p, *pred, args, env) else {
                    return Err(self.unbound_head(p, env, clause, *pred, args));
                };
                heads.push((t, *pred));
            }
        } else {
            heads.extend(c.ground_heads.iter().zip(c.heads.iter()).map(|(&t, (pred, _))| (t, *pred)));
        }
        let lits = self.body_of(body);
        // `a, \+ a` never holds in boolean bodies: no rule, and no head
        // atom derived by it. A t-norm gives it a truth of its own.
        if self.bodies == Bodies::Boolean && lits.iter().any(|l| l & 1 == 1) {
            let mut sorted = lits.clone();
            sorted.sort_unstable();
            if contradictory(&sorted) {
                self.heads = heads;
                return Ok(());
            }
        }
        let result = match &c.probabilities {
            None => self.atom(p, heads[0].0, heads[0].1, c.span).and_then(|h| self.add_rule(p, h, lits, c.span)),
            Some(_) => self.choose(p, env, clause, &heads, lits, fact),
        };
        self.heads = heads;
        result
    }

    /// The error for a head left with unbound variables after its body.
    pub(super) fn unbound_head(&self, p: &Program, env: &Env, clause: u32, pred: PredId, args: &[Pat]) -> GroundError {
        let c = &p.clauses[clause as usize];
        let names = &p.var_names[c.vars as usize];
        let unbound: Vec<String> = (0..names.len())
            .filter(|&v| env.vals[v] == TermId::UNBOUND && args.iter().any(|a| occurs(a, v as u32)))
            .map(|v| format!("`{}`", names[v]))
            .collect();
        GroundError::new(
            c.span,
            format!(
                "the head `{}` is not ground after its body: {} unbound",
                self.pred_name(p, pred),
                unbound.join(", ")
            ),
        )
    }

    /// The values of an instance's flexible probabilities: each a number in
    /// [0, 1], together at most 1.
    fn labels(&self, labels: &[Pat], env: &Env, span: Span) -> Result<Box<[f64]>, GroundError> {
        let mut out = Vec::with_capacity(labels.len());
        for label in labels {
            let value = match self.eval_pat(label, env, span)? {
                Some(v) => v.float(),
                None => {
                    return Err(GroundError::new(span, "a probability label is not bound by the body of its clause"))
                }
            };
            if !(0.0..=1.0).contains(&value) {
                return Err(GroundError::new(span, format!("probability {value} computed here is outside [0, 1]")));
            }
            out.push(value);
        }
        let total: f64 = out.iter().sum();
        if total > 1.0 + deeplog_program::SUM_TOLERANCE {
            return Err(GroundError::new(span, format!("the probabilities computed here sum to {total}, more than 1")));
        }
        Ok(out.into())
    }

    /// The choice of a probabilistic clause instance, and its rules.
    pub(super) fn choose(
        &mut self,
        p: &Program,
        env: &Env,
        clause: u32,
        heads: &[(TermId, PredId)],
        lits: Vec<LitCode>,
        fact: bool,
    ) -> Result<(), GroundError> {
        let c = &p.clauses[clause as usize];
        let existing = if fact { None } else { self.group_ids.get(&(c.origin, env.vals.as_slice().into())).copied() };
        let g = match existing {
            Some(g) => g,
            None => {
                let g = self.groups.len() as u32;
                let start = self.choice_atoms.len() as u32;
                for (k, &(t, pred)) in heads.iter().enumerate() {
                    // A choice with an empty body is its head itself, unless
                    // the head turns out to have other definitions.
                    let a = if lits.is_empty() {
                        let a = self.atom(p, t, pred, c.span)?;
                        self.defs[a as usize] += 1;
                        a
                    } else {
                        self.new_atom(p, AtomKind::Choice { group: g, head: k as u32 }, Some(pred), c.span)?
                    };
                    self.choice_atoms.push(a);
                    self.choice_direct.push(lits.is_empty());
                }
                let instance: Box<[TermId]> = env.vals.as_slice().into();
                if !fact {
                    self.group_ids.insert((c.origin, instance.clone()), g);
                }
                let probabilities = match &c.labels {
                    Some(labels) => Some(self.labels(labels, env, c.span)?),
                    None => None,
                };
                self.groups.push(Group { clause, instance, start, probabilities });
                g
            }
        };
        let start = self.groups[g as usize].start as usize;
        for (k, &(t, pred)) in heads.iter().enumerate() {
            if self.choice_direct[start + k] {
                continue;
            }
            let choice = self.choice_atoms[start + k];
            let h = self.atom(p, t, pred, c.span)?;
            let mut rule = lits.clone();
            rule.push(choice << 1);
            self.add_rule(p, h, rule, c.span)?;
        }
        Ok(())
    }
}
