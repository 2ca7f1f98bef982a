//! Relevance and output: once evaluation is complete, the queries and
//! evidence are resolved to atoms, and only the atoms, rules and choices
//! reachable backward from them are renumbered densely and emitted as a
//! [`GroundProgram`].

use std::fmt::Write as _;

use super::bindings::Env;
use super::clauses::{Goal, Program};
use super::derive::{contradictory, AtomKind, Group, LitCode, PENDING};
use super::formula;
use super::tabling::State;
use super::terms::UNBOUND;
use super::{
    AtomId, GroundChoice, GroundConstraint, GroundError, GroundNeural, GroundProgram, GroundQuery, GroundRule, NONE,
};
use crate::model::Logic;

impl State {
    /// Replaces each pending negation by the negation of its atom, or drops
    /// it (true) where the atom was never derived. Returns the rules whose
    /// bodies turn out contradictory (`a, \+ a`), which never hold.
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
            resolved.dedup();
            *dead = contradictory(&resolved);
            *body = resolved.into();
        }
        self.rules = rules;
        dead
    }

    pub(super) fn finish(mut self, p: &Program) -> Result<GroundProgram, GroundError> {
        let contradictory = self.resolve_pending();
        // Resolve queries and evidence before anything is renumbered.
        let mut env = Env::default();
        let mut queries: Vec<(String, Option<AtomId>, Option<Logic>, bool)> = Vec::new();
        // How many answers each query goal gave, to place formula queries.
        let mut query_goal_sizes = Vec::new();
        let mut evidence = Vec::new();
        for goal in &p.goals {
            let (Goal::Query(t) | Goal::Evidence(t, _)) = goal;
            env.reset(t.vars);
            let ground = self.ground_atom(p, t.pred, &t.args, &env);
            let answers: Vec<(String, Option<AtomId>)> = match ground {
                Some(term) => vec![(self.terms.show(term), self.atom_of_term(term))],
                None => {
                    let (ix, b) = self.demand(p, t.pred, &t.args, &env);
                    let mut out = Vec::new();
                    for &a in &self.bucket(t.pred, ix, b).atoms {
                        let mark = env.mark();
                        if self.unify_atom(&t.args, a, &mut env) {
                            let AtomKind::Term { term, .. } = self.atoms[a as usize] else { continue };
                            out.push((self.terms.show(term), Some(a)));
                        }
                        env.undo(mark);
                    }
                    out
                }
            };
            match goal {
                Goal::Query(t) => {
                    query_goal_sizes.push(answers.len());
                    let instance = ground.is_none();
                    queries.extend(answers.into_iter().map(|(text, atom)| (text, atom, t.logic, instance)))
                }
                Goal::Evidence(t, value) => {
                    if ground.is_none() {
                        return Err(GroundError::new(t.span, "evidence must be a ground atom"));
                    }
                    let (text, atom) = &answers[0];
                    match (atom, value) {
                        (None, false) => {}
                        (None, true) => {
                            return Err(GroundError::new(
                                t.span,
                                format!("evidence `{text}` is true, but `{text}` can never be derived: this evidence has probability zero"),
                            ))
                        }
                        (Some(a), false) if self.certain[*a as usize] => {
                            return Err(GroundError::new(
                                t.span,
                                format!("evidence `{text}` is false, but `{text}` is certainly true: this evidence has probability zero"),
                            ))
                        }
                        (Some(a), _) => evidence.push((*a, *value)),
                    }
                }
            }
        }

        // The networks and inputs of neural choices.
        let mut neural_of_group: Vec<Option<GroundNeural>> = vec![None; self.groups.len()];
        for (g, slot) in neural_of_group.iter_mut().enumerate() {
            let Some(n) = p.clauses[self.groups[g].clause as usize].neural.as_ref() else { continue };
            env.load(&self.groups[g].instance.clone());
            let mut inputs = Vec::with_capacity(n.inputs.len());
            for pat in n.inputs.iter() {
                inputs.push(self.ground(pat, &env).map_or_else(|| "_".to_string(), |t| self.terms.show(t)));
            }
            *slot = Some(GroundNeural { network: n.network.clone(), inputs });
        }

        // A direct choice whose head has other definitions gets a fresh
        // atom and the rule `head :- atom`.
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
        // A rule `head :- atom` that is all a head has: the head becomes the
        // choice's atom.
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

        // Rules by head, and the group of each choice atom.
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
        let mut by_head = vec![0u32; start[n] as usize];
        for (r, (head, _)) in self.rules.iter().enumerate() {
            if !deleted[r] {
                by_head[fill[*head as usize] as usize] = r as u32;
                fill[*head as usize] += 1;
            }
        }
        let group_atoms = |g: &Group| {
            let start = g.start as usize;
            &self.choice_atoms[start..start + p.clauses[g.clause as usize].heads.len()]
        };
        let mut group_of = vec![NONE; n];
        for (g, group) in self.groups.iter().enumerate() {
            for &a in group_atoms(group) {
                group_of[a as usize] = g as u32;
            }
        }
        let live = |r: u32, certain: &[bool]| {
            self.rules[r as usize].1.iter().all(|&l| l & 1 == 0 || !certain[(l >> 1) as usize])
        };

        // Relevance: backward from the queries and evidence.
        let mut relevant = vec![false; n];
        let mut stack: Vec<AtomId> = Vec::new();
        let mark = |a: AtomId, relevant: &mut Vec<bool>, stack: &mut Vec<AtomId>| {
            if !std::mem::replace(&mut relevant[a as usize], true) {
                stack.push(a);
            }
        };
        let formula_atoms: Vec<AtomId> =
            self.formulas.atom_nodes.keys().filter_map(|&t| self.atom_of_term(t)).collect();
        for a in queries.iter().filter_map(|q| q.1).chain(evidence.iter().map(|e| e.0)).chain(formula_atoms) {
            mark(a, &mut relevant, &mut stack);
        }
        while let Some(a) = stack.pop() {
            if self.certain[a as usize] {
                continue;
            }
            for &r in &by_head[start[a as usize] as usize..start[a as usize + 1] as usize] {
                if !live(r, &self.certain) {
                    continue;
                }
                for &l in self.rules[r as usize].1.iter() {
                    let b = l >> 1;
                    if l & 1 == 1 || !self.certain[b as usize] {
                        mark(b, &mut relevant, &mut stack);
                    }
                }
            }
            if group_of[a as usize] != NONE {
                for &b in group_atoms(&self.groups[group_of[a as usize] as usize]) {
                    mark(b, &mut relevant, &mut stack);
                }
            }
        }

        let mut new_id = vec![NONE; n];
        let mut atoms = Vec::new();
        for a in 0..n {
            if relevant[a] {
                new_id[a] = atoms.len() as u32;
                atoms.push(self.atom_text(p, a as AtomId));
            }
        }
        let mut rules = Vec::new();
        for a in (0..n).filter(|&a| relevant[a]) {
            if self.certain[a] {
                rules.push(GroundRule { head: new_id[a], body: Vec::new() });
                continue;
            }
            for &r in &by_head[start[a] as usize..start[a + 1] as usize] {
                if !live(r, &self.certain) {
                    continue;
                }
                let body = self.rules[r as usize]
                    .1
                    .iter()
                    .filter(|&&l| l & 1 == 1 || !self.certain[(l >> 1) as usize])
                    .map(|&l| (new_id[(l >> 1) as usize], l & 1 == 0))
                    .collect();
                rules.push(GroundRule { head: new_id[a], body });
            }
        }
        let kept: Vec<usize> = (0..self.groups.len())
            .filter(|&g| group_atoms(&self.groups[g]).iter().any(|&a| relevant[a as usize]))
            .collect();
        let learnable = kept.iter().map(|&g| p.clauses[self.groups[g].clause as usize].learnable).collect();
        let neural = kept.iter().map(|&g| neural_of_group[g].take()).collect();
        let choices = kept
            .iter()
            .map(|&g| {
                let g = &self.groups[g];
                let probabilities = p.clauses[g.clause as usize].probabilities.as_deref().unwrap_or_default();
                match (group_atoms(g), probabilities) {
                    ([a], [probability]) => GroundChoice::Fact { atom: new_id[*a as usize], probability: *probability },
                    (atoms, _) => GroundChoice::Disjunction {
                        atoms: atoms.iter().zip(probabilities).map(|(&a, &q)| (new_id[a as usize], q)).collect(),
                    },
                }
            })
            .collect();
        let formulas = formula::renumber(&self.formulas, |t| self.atom_of_term(t).map(|a| new_id[a as usize]));
        // Atom queries in file order, with formula queries between them.
        let mut per_goal = query_goal_sizes.into_iter();
        let mut atom_queries = queries.into_iter().map(|(text, atom, logic, instance)| GroundQuery {
            text,
            atom: atom.map(|a| new_id[a as usize]),
            formula: None,
            logic,
            instance,
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
                    all_queries.push(GroundQuery {
                        text: goal.text.clone(),
                        atom: None,
                        formula: Some(root),
                        logic,
                        instance: false,
                    });
                }
                formula::Purpose::Constraint { weight } => {
                    constraints.push(GroundConstraint { text: goal.text.clone(), formula: root, weight })
                }
            }
        }
        all_queries.extend(atom_queries);
        Ok(GroundProgram {
            atoms,
            rules,
            choices,
            queries: all_queries,
            evidence: evidence.into_iter().map(|(a, v)| (new_id[a as usize], v)).collect(),
            formulas,
            constraints,
            learnable,
            neural,
        })
    }

    pub(super) fn atom_text(&self, p: &Program, a: AtomId) -> String {
        match self.atoms[a as usize] {
            AtomKind::Term { term, .. } => self.terms.show(term),
            AtomKind::Choice { group, head } => {
                let g = &self.groups[group as usize];
                let c = &p.clauses[g.clause as usize];
                let names = &p.var_names[c.vars as usize];
                let mut out = format!("choice({},{head},[", c.origin);
                let mut first = true;
                for (v, &t) in g.instance.iter().enumerate() {
                    if t == UNBOUND {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    match names[v].as_str() {
                        "_" => {
                            let _ = write!(out, "_{v}=");
                        }
                        name => {
                            let _ = write!(out, "{name}=");
                        }
                    }
                    self.terms.write(&mut out, t);
                }
                out.push_str("])");
                out
            }
        }
    }
}
