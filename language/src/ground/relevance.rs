//! Relevance and output: once evaluation is complete, the queries and
//! evidence are resolved to atoms, and only the atoms, rules and choices
//! reachable backward from them are renumbered densely and emitted as a
//! [`GroundProgram`].

use super::bindings::Env;
use super::clauses::{Goal, Program};
use super::derive::{contradictory, AtomKind, Group, LitCode, PENDING};
use super::formula;
use super::tabling::State;
use super::{origin, AtomNo, Bodies, GroundError, NONE};
use crate::model::Logic;
use crate::syntax::Span;
use deeplog_program::terms::TermId;
use deeplog_program::{Atom, AtomId, Choice, Constraint, GroundProgram, Neural, Origin, Origins, Query, Rule, Subject};

impl State {
    /// Replaces each pending negation by the negation of its atom, or drops
    /// it (true) where the atom was never derived. Returns the rules whose
    /// bodies turn out contradictory (`a, \+ a`), which never hold where
    /// bodies are boolean; read by a t-norm, bodies stay as written.
    pub(super) fn resolve_pending(&mut self) -> Vec<bool> {
        let mut dead = vec![false; self.rules.len()];
        if self.pending.is_empty() {
            return dead;
        }
        let mut rules = std::mem::take(&mut self.rules);
        for ((_, body), dead) in rules.iter_mut().zip(&mut dead) {
            if body.iter().all(|&l| l >> 1 < PENDING) {
                continue;
            }
            let mut resolved: Vec<LitCode> = body
                .iter()
                .filter_map(|&l| match l >> 1 {
                    a if a < PENDING => Some(l),
                    i => self.atom_of_term(self.pending[(i - PENDING) as usize]).map(|a| (a << 1) | 1),
                })
                .collect();
            resolved.sort_unstable();
            if self.bodies == Bodies::Boolean {
                resolved.dedup();
                *dead = contradictory(&resolved);
            }
            *body = resolved.into();
        }
        self.rules = rules;
        dead
    }

    /// The ground program: the steps below, in order.
    pub(super) fn finish(mut self, p: &Program) -> Result<GroundProgram, GroundError> {
        let contradictory = self.resolve_pending();
        let goals = self.resolve_goals(p)?;
        let neural = self.neural_inputs(p);
        self.split_shared_choices(p)?;
        let deleted = self.merge_choice_rules(contradictory);
        let by_head = self.rules_by_head(&deleted);
        let relevant = self.relevant(p, &goals, &by_head);
        let mut program = self.emit(p, goals, neural, &by_head, &relevant);
        // The atoms are terms of the grounder's store: it goes with them.
        program.terms = std::mem::take(&mut self.terms);
        Ok(program)
    }

    /// Resolves every query and evidence goal to its atoms, before
    /// anything is renumbered: a ground goal to its one atom (`None` where
    /// it was never derived), a goal with variables to each possible answer.
    /// Evidence that cannot hold is an error here.
    fn resolve_goals(&mut self, p: &Program) -> Result<Goals, GroundError> {
        let mut env = Env::default();
        let mut goals = Goals { queries: Vec::new(), per_query_goal: Vec::new(), evidence: Vec::new() };
        for goal in &p.goals {
            let (Goal::Query(t) | Goal::Evidence(t, _)) = goal;
            env.reset(t.vars);
            let ground = self.ground_atom(p, t.pred, &t.args, &env);
            let answers: Vec<(TermId, Option<AtomNo>)> = match (ground, &t.condition) {
                // Every instance the condition can derive, in the order
                // derived, each once.
                (_, Some((pred, args))) => {
                    let (ix, b) = self.demand(p, *pred, args, &env);
                    let mut out: Vec<(TermId, Option<AtomNo>)> = Vec::new();
                    for a in self.bucket(*pred, ix, b).atoms.clone() {
                        let mark = env.mark();
                        if self.unify_atom(args, a, &mut env) {
                            let Some(term) = self.ground_atom(p, t.pred, &t.args, &env) else {
                                return Err(GroundError::new(
                                    t.span,
                                    "this goal is not ground after its condition: every variable of a conditional \
                                     query or evidence must be bound by its body",
                                ));
                            };
                            if !out.iter().any(|&(seen, _)| seen == term) {
                                out.push((term, self.atom_of_term(term)));
                            }
                        }
                        env.undo(mark);
                    }
                    out
                }
                (Some(term), None) => vec![(term, self.atom_of_term(term))],
                (None, None) => {
                    let (ix, b) = self.demand(p, t.pred, &t.args, &env);
                    let mut out = Vec::new();
                    for &a in &self.bucket(t.pred, ix, b).atoms {
                        let mark = env.mark();
                        if self.unify_atom(&t.args, a, &mut env) {
                            let AtomKind::Term { term, .. } = self.atoms[a as usize] else { continue };
                            out.push((term, Some(a)));
                        }
                        env.undo(mark);
                    }
                    out
                }
            };
            match goal {
                Goal::Query(t) => {
                    goals.per_query_goal.push(answers.len());
                    let instance = ground.is_none() || t.condition.is_some();
                    // A query's instances in ProbLog's order: by their text.
                    let mut answers = answers;
                    if instance && answers.len() > 1 {
                        let mut keyed: Vec<(String, (TermId, Option<AtomNo>))> =
                            answers.into_iter().map(|a| (self.terms.show(a.0), a)).collect();
                        keyed.sort_by(|x, y| x.0.cmp(&y.0));
                        answers = keyed.into_iter().map(|(_, a)| a).collect();
                    }
                    goals.queries.extend(answers.into_iter().map(|(term, atom)| AtomQuery {
                        term,
                        atom,
                        logic: t.logic,
                        instance,
                    }))
                }
                Goal::Evidence(t, value) => {
                    if ground.is_none() && t.condition.is_none() {
                        return Err(GroundError::new(t.span, "evidence must be a ground atom"));
                    }
                    for (term, atom) in answers {
                        if let Some(a) = self.evidence_atom(t.span, term, atom, *value)? {
                            goals.evidence.push((a, *value, origin(t.span)));
                        }
                    }
                }
            }
        }
        Ok(goals)
    }

    /// The atom that evidence `term` = `value` is on; `None` where it holds
    /// for sure (a false atom never derived), an error where it cannot.
    fn evidence_atom(
        &self,
        span: Span,
        term: TermId,
        atom: Option<AtomNo>,
        value: bool,
    ) -> Result<Option<AtomNo>, GroundError> {
        let text = self.terms.show(term);
        match (atom, value) {
            (None, false) => Ok(None),
            (None, true) => Err(GroundError::new(
                span,
                format!(
                    "evidence `{text}` is true, but `{text}` can never be derived: this evidence has probability zero"
                ),
            )),
            (Some(a), false) if self.certain[a as usize] => Err(GroundError::new(
                span,
                format!(
                    "evidence `{text}` is false, but `{text}` is certainly true: this evidence has probability zero"
                ),
            )),
            (Some(a), _) => Ok(Some(a)),
        }
    }

    /// Per choice group, the network and ground inputs of a neural
    /// choice (`None` for an input still unbound), else `None`.
    fn neural_inputs(&mut self, p: &Program) -> Vec<Option<Neural>> {
        let mut env = Env::default();
        let mut neural_of_group: Vec<Option<Neural>> = vec![None; self.groups.len()];
        for (g, slot) in neural_of_group.iter_mut().enumerate() {
            let Some(n) = p.clauses[self.groups[g].clause as usize].neural.as_ref() else { continue };
            env.load(&self.groups[g].instance.clone());
            let mut inputs = Vec::with_capacity(n.inputs.len());
            for pat in n.inputs.iter() {
                inputs.push(self.ground(pat, &env));
            }
            *slot = Some(Neural { network: n.network.clone(), inputs });
        }
        neural_of_group
    }

    /// Guarantees that a direct choice's atom (the head itself) has no
    /// other definition: where it has, the choice gets a fresh atom and
    /// the rule `head :- atom`.
    fn split_shared_choices(&mut self, p: &Program) -> Result<(), GroundError> {
        for g in 0..self.groups.len() {
            let Group { clause, start, .. } = self.groups[g];
            for k in 0..p.clauses[clause as usize].heads.len() {
                let i = start as usize + k;
                let a = self.choice_atoms[i];
                if self.choice_direct[i] && self.defs[a as usize] > 1 {
                    let span = p.clauses[clause as usize].span;
                    let c = self.new_atom(p, AtomKind::Choice { group: g as u32, head: k as u32 }, None, span)?;
                    self.choice_atoms[i] = c;
                    self.choice_direct[i] = false;
                    self.add_rule(p, a, vec![c << 1], span)?;
                }
            }
        }
        Ok(())
    }

    /// Where a rule `head :- atom` over a choice's fresh atom is all an
    /// uncertain head has, the head becomes the choice's atom and the rule
    /// goes. Returns, per rule, whether it is deleted (these, and the
    /// `contradictory` ones, which never hold).
    fn merge_choice_rules(&mut self, contradictory: Vec<bool>) -> Vec<bool> {
        let mut deleted = contradictory;
        deleted.resize(self.rules.len(), false); // rules added since
        for (r, (head, body)) in self.rules.iter().enumerate() {
            let [l] = **body else { continue };
            if l & 1 == 1 || self.defs[*head as usize] != 1 || self.certain[*head as usize] {
                continue;
            }
            let AtomKind::Choice { group, head: k } = self.atoms[(l >> 1) as usize] else { continue };
            let i = (self.groups[group as usize].start + k) as usize;
            if self.choice_atoms[i] == l >> 1 {
                self.choice_atoms[i] = *head;
                self.choice_direct[i] = true;
                deleted[r] = true;
            }
        }
        deleted
    }

    /// The rules not `deleted`, grouped by head.
    fn rules_by_head(&self, deleted: &[bool]) -> ByHead {
        let n = self.atoms.len();
        let mut start = vec![0u32; n + 1];
        for (r, (head, _)) in self.rules.iter().enumerate() {
            if !deleted[r] {
                start[*head as usize + 1] += 1;
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut rules = vec![0u32; start[n] as usize];
        for (r, (head, _)) in self.rules.iter().enumerate() {
            if !deleted[r] {
                rules[fill[*head as usize] as usize] = r as u32;
                fill[*head as usize] += 1;
            }
        }
        ByHead { start, rules }
    }

    /// The atoms of choice group `g`, one per head of its clause.
    fn group_atoms(&self, p: &Program, g: &Group) -> &[AtomNo] {
        let start = g.start as usize;
        &self.choice_atoms[start..start + p.clauses[g.clause as usize].heads.len()]
    }

    /// Whether rule `r` can hold: none of its negations is of a certain atom.
    fn live(&self, r: u32) -> bool {
        self.rules[r as usize].1.iter().all(|&l| l & 1 == 0 || !self.certain[(l >> 1) as usize])
    }

    /// Per atom, whether the goals' answers depend on it: the atoms of the
    /// queries, evidence and formulas, and backward from an uncertain atom,
    /// the literals of its live rules (certain positive ones excepted) and
    /// the other atoms of its choice.
    fn relevant(&self, p: &Program, goals: &Goals, by_head: &ByHead) -> Vec<bool> {
        let n = self.atoms.len();
        let mut group_of = vec![NONE; n];
        for (g, group) in self.groups.iter().enumerate() {
            for &a in self.group_atoms(p, group) {
                group_of[a as usize] = g as u32;
            }
        }
        let mut group_done = vec![false; self.groups.len()];
        let mut relevant = vec![false; n];
        let mut stack: Vec<AtomNo> = Vec::new();
        let mark = |a: AtomNo, relevant: &mut Vec<bool>, stack: &mut Vec<AtomNo>| {
            if !std::mem::replace(&mut relevant[a as usize], true) {
                stack.push(a);
            }
        };
        let formula_atoms = self.formulas.atom_nodes.keys().filter_map(|&t| self.atom_of_term(t));
        let roots = goals.queries.iter().filter_map(|q| q.atom).chain(goals.evidence.iter().map(|e| e.0));
        for a in roots.chain(formula_atoms) {
            mark(a, &mut relevant, &mut stack);
        }
        while let Some(a) = stack.pop() {
            if self.certain[a as usize] {
                continue;
            }
            for &r in by_head.of(a) {
                if !self.live(r) {
                    continue;
                }
                for &l in self.rules[r as usize].1.iter() {
                    let b = l >> 1;
                    if l & 1 == 1 || !self.certain[b as usize] {
                        mark(b, &mut relevant, &mut stack);
                    }
                }
            }
            // A group's atoms are marked once, when the first of them is
            // reached: an annotated disjunction of 100,000 heads is not
            // walked 100,000 times.
            let g = group_of[a as usize];
            if g != NONE && !std::mem::replace(&mut group_done[g as usize], true) {
                for &b in self.group_atoms(p, &self.groups[g as usize]) {
                    mark(b, &mut relevant, &mut stack);
                }
            }
        }
        relevant
    }

    /// The ground program of the relevant atoms, numbered densely in the
    /// order they were derived: a certain atom is a fact; an uncertain one
    /// keeps its live rules, without their certain positive literals; a
    /// choice is kept where one of its atoms is relevant.
    fn emit(
        &self,
        p: &Program,
        goals: Goals,
        mut neural_of_group: Vec<Option<Neural>>,
        by_head: &ByHead,
        relevant: &[bool],
    ) -> GroundProgram {
        let n = self.atoms.len();
        let mut new_id = vec![NONE; n];
        let mut atoms = Vec::new();
        for a in 0..n {
            if relevant[a] {
                new_id[a] = atoms.len() as u32;
                atoms.push(self.atom_out(p, a as AtomNo));
            }
        }
        let id = |a: AtomNo| AtomId::new(new_id[a as usize]);
        let mut rules = Vec::new();
        let mut rule_origins = Vec::new();
        for a in (0..n).filter(|&a| relevant[a]) {
            if self.certain[a] {
                rules.push(Rule { head: id(a as AtomNo), body: Vec::new() });
                let first = by_head.of(a as AtomNo).first();
                rule_origins.push(first.map_or(Origin::default(), |&r| self.rule_origins[r as usize]));
                continue;
            }
            for &r in by_head.of(a as AtomNo) {
                if !self.live(r) {
                    continue;
                }
                rule_origins.push(self.rule_origins[r as usize]);
                let body = self.rules[r as usize]
                    .1
                    .iter()
                    .filter(|&&l| l & 1 == 1 || !self.certain[(l >> 1) as usize])
                    .map(|&l| (id(l >> 1), l & 1 == 0))
                    .collect();
                rules.push(Rule { head: id(a as AtomNo), body });
            }
        }
        let kept: Vec<usize> = (0..self.groups.len())
            .filter(|&g| self.group_atoms(p, &self.groups[g]).iter().any(|&a| relevant[a as usize]))
            .collect();
        let learnable = kept.iter().map(|&g| p.clauses[self.groups[g].clause as usize].learnable).collect();
        let decisions: Vec<bool> = kept.iter().map(|&g| p.clauses[self.groups[g].clause as usize].decision).collect();
        let decisions = if decisions.contains(&true) { decisions } else { Vec::new() };
        let neural = kept.iter().map(|&g| neural_of_group[g].take()).collect();
        let choices = kept
            .iter()
            .map(|&g| {
                let g = &self.groups[g];
                let probabilities = match &g.probabilities {
                    Some(own) => own,
                    None => p.clauses[g.clause as usize].probabilities.as_deref().unwrap_or_default(),
                };
                match (self.group_atoms(p, g), probabilities) {
                    ([a], [probability]) => Choice::Fact { atom: id(*a), probability: *probability },
                    (atoms, _) => Choice::Disjunction {
                        atoms: atoms.iter().zip(probabilities).map(|(&a, &q)| (id(a), q)).collect(),
                    },
                }
            })
            .collect();
        let formulas = formula::renumber(&self.formulas, |t| self.atom_of_term(t).map(id));
        let evidence = goals.evidence.iter().map(|&(a, v, _)| (id(a), v)).collect();
        let choice_origins =
            kept.iter().map(|&g| super::origin(p.clauses[self.groups[g].clause as usize].span)).collect();
        let origins = Origins {
            rules: rule_origins,
            evidence: goals.evidence.iter().map(|e| e.2).collect(),
            choices: choice_origins,
        };
        let (queries, constraints) = self.queries_and_constraints(p, goals, &new_id);
        GroundProgram {
            terms: Default::default(),
            atoms,
            rules,
            choices,
            queries,
            evidence,
            formulas,
            constraints,
            learnable,
            decisions,
            neural,
            origins,
        }
    }

    /// The queries in file order, atom queries (renumbered by `new_id`)
    /// with formula queries between them, and the constraints.
    fn queries_and_constraints(&self, p: &Program, goals: Goals, new_id: &[u32]) -> (Vec<Query>, Vec<Constraint>) {
        let mut per_goal = goals.per_query_goal.into_iter();
        let mut atom_queries = goals.queries.into_iter().map(|q| Query {
            subject: Subject::Atom { term: q.term, atom: q.atom.map(|a| AtomId::new(new_id[a as usize])) },
            logic: q.logic,
            instance: q.instance,
        });
        let mut all_queries = Vec::new();
        let mut constraints = Vec::new();
        let mut emitted = 0;
        for (goal, &root) in p.formulas.iter().zip(&self.formulas.roots) {
            match goal.purpose {
                formula::Purpose::Query { position, logic } => {
                    while emitted < position {
                        let n = per_goal.next().unwrap_or(0);
                        all_queries.extend(atom_queries.by_ref().take(n));
                        emitted += 1;
                    }
                    let subject = Subject::Formula { text: goal.text.clone(), root };
                    all_queries.push(Query { subject, logic, instance: false });
                }
                formula::Purpose::Constraint { weight } => {
                    constraints.push(Constraint { text: goal.text.clone(), formula: root, weight })
                }
            }
        }
        all_queries.extend(atom_queries);
        (all_queries, constraints)
    }

    /// Atom `a` as the ground program holds it: a derived atom is its
    /// term; a choice's fresh atom names its clause, head and the values of
    /// the clause's variables (an anonymous one as `_N`, by position).
    fn atom_out(&self, p: &Program, a: AtomNo) -> Atom {
        match self.atoms[a as usize] {
            AtomKind::Term { term, .. } => Atom::Term(term),
            AtomKind::Choice { group, head } => {
                let g = &self.groups[group as usize];
                let c = &p.clauses[g.clause as usize];
                let names = &p.var_names[c.vars as usize];
                let bindings = (g.instance.iter().enumerate())
                    .filter(|&(_, &t)| t != TermId::UNBOUND)
                    .map(|(v, &t)| {
                        let name = match names[v].as_str() {
                            "_" => format!("_{v}"),
                            name => name.to_string(),
                        };
                        (name, t)
                    })
                    .collect();
                Atom::Choice { clause: c.origin, head, bindings }
            }
        }
    }
}

/// The queries and evidence, resolved to atoms before renumbering.
struct Goals {
    /// The answers of the atom queries, in file order.
    queries: Vec<AtomQuery>,
    /// How many answers each query goal gave, to place formula queries
    /// between them.
    per_query_goal: Vec<usize>,
    /// With where each was written.
    evidence: Vec<(AtomNo, bool, Origin)>,
}

/// One answer of an atom query.
struct AtomQuery {
    term: TermId,
    /// `None` where the atom was never derived: it is certainly false.
    atom: Option<AtomNo>,
    logic: Option<Logic>,
    instance: bool,
}

/// Rule numbers grouped by head: those of atom `a` are
/// `rules[start[a]..start[a + 1]]`, in the order they were added.
struct ByHead {
    start: Vec<u32>,
    rules: Vec<u32>,
}

impl ByHead {
    fn of(&self, a: AtomNo) -> &[u32] {
        &self.rules[self.start[a as usize] as usize..self.start[a as usize + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ground, Bodies, Limits};
    use crate::check_source;

    /// The ground program of `source`, as ProbLog text.
    fn grounded(source: &str) -> String {
        let checked = check_source(source);
        let model = checked.model.as_ref().expect("the source parses");
        ground(model, &Limits::default(), Bodies::Boolean).expect("the source grounds").to_string()
    }

    #[test]
    fn atoms_the_queries_do_not_reach_are_dropped() {
        let source = "0.5::a. 0.5::b. 0.5::c.\nq :- a.\nr :- b.\ns :- q, c.\nquery(q).\n";
        assert_eq!(grounded(source), "0.5::a.\nq :- a.\nquery(q).\n");
    }

    #[test]
    fn certain_atoms_become_facts_and_leave_bodies() {
        let source = "e(1, 2).\n0.4::f.\nq :- e(1, 2), f.\nquery(q).\n";
        assert_eq!(grounded(source), "0.4::f.\nq :- f.\nquery(q).\n");
    }

    #[test]
    fn a_rule_negating_a_certain_atom_is_dropped() {
        let source = "t.\n0.3::p.\nq :- p, \\+ t.\nq :- p.\nquery(q).\n";
        assert_eq!(grounded(source), "0.3::p.\nq :- p.\nquery(q).\n");
    }

    #[test]
    fn an_annotated_disjunction_stays_whole_when_one_head_is_relevant() {
        let source = "0.2::c(r); 0.3::c(g); 0.5::c(b).\nred :- c(r).\nquery(red).\n";
        assert_eq!(grounded(source), "0.2::c(r); 0.3::c(g); 0.5::c(b).\nred :- c(r).\nquery(red).\n");
    }

    #[test]
    fn evidence_that_cannot_hold_is_an_error() {
        let checked = check_source("0.5::a.\nevidence(b, true).\n");
        let error = ground(checked.model.as_ref().unwrap(), &Limits::default(), Bodies::Boolean).unwrap_err();
        assert_eq!(
            error.message,
            "evidence `b` is true, but `b` can never be derived: this evidence has probability zero"
        );
    }
}
