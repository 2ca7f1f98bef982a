//! The ground program: the one hand-over between deeplog's grounder
//! (`deeplog-language`) and its compilers (`deeplog-circuits`).
//!
//! A [`GroundProgram`] is what a model means once its variables are gone:
//! interned ground [`Atom`]s with their structure kept ([`terms`]), ground
//! [`Rule`]s over [`AtomId`]s, the probabilistic [`Choice`]s (independent
//! facts and annotated disjunctions) that are the circuit's input slots, the
//! [`Query`]s and evidence, and the ground [`formula`]s of formula queries
//! and constraints. Nothing downstream parses text: a scene-graph check or
//! a neural predicate reads an atom's predicate and arguments from
//! [`GroundProgram::predicate`], and text is made only where a user reads it
//! ([`GroundProgram::atom_text`], the `Display` of the whole program in
//! ProbLog's syntax).
//!
//! Its meaning is the distribution semantics: each total choice of the
//! choices gives the least model of the rules (cycles included); a query's
//! probability is the weight of the total choices whose least model contains
//! it.
//!
//! ```
//! use deeplog_program::{Atom, AtomId, Choice, GroundProgram, Query, Rule};
//!
//! // 0.3::rain. wet :- rain. query(wet).
//! let mut program = GroundProgram::default();
//! let rain = program.add_atom_named("rain");
//! let wet = program.add_atom_named("wet");
//! program.choices.push(Choice::Fact { atom: rain, probability: 0.3 });
//! program.learnable.push(false);
//! program.neural.push(None);
//! program.rules.push(Rule { head: wet, body: vec![(rain, true)] });
//! let Atom::Term(term) = program.atoms[wet.index()] else { unreachable!() };
//! program.queries.push(Query::atom(term, Some(wet)));
//! assert_eq!(program.atom_text(wet), "wet");
//! assert_eq!(program.predicate(wet), Some(("wet", &[][..])));
//! assert_eq!(program.to_string(), "0.3::rain.\nwet :- rain.\nquery(wet).\n");
//! assert!(program.check().is_ok());
//! ```

pub mod formula;
pub mod interrupt;
pub mod stack;
pub mod terms;

mod display;

use deeplog_semirings::Logic;

pub use formula::{Aggregate, Constraint, Formula, FormulaId};
pub use terms::{TermId, Terms, View};

/// A ground atom of a [`GroundProgram`]: its index in
/// [`GroundProgram::atoms`].
///
/// Invariant: ids are dense, `0..atoms.len()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AtomId(u32);

impl AtomId {
    #[inline]
    pub const fn new(index: u32) -> AtomId {
        AtomId(index)
    }

    /// The id of the atom at `index`; panics past `u32::MAX` atoms, which
    /// the grounder's limits keep far away.
    #[inline]
    pub fn from_index(index: usize) -> AtomId {
        AtomId(u32::try_from(index).expect("fewer than 2^32 atoms"))
    }

    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    #[inline]
    pub const fn raw(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for AtomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "atom {}", self.0)
    }
}

/// How far above 1 the probabilities of an annotated disjunction may sum
/// and still be read as summing to 1: decimal probabilities that add up to
/// 1 on paper (`0.1; 0.2; 0.7`) round to a little more in binary. Beyond
/// it, the model is an error wherever it is checked.
pub const SUM_TOLERANCE: f64 = 1e-9;

/// What a ground atom is.
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    /// An atom of the model: a callable ground term (a name or a compound),
    /// e.g. `path(0,9)`.
    Term(TermId),
    /// An atom the grounder made for alternative `head` of one instance of
    /// a probabilistic rule (clause `clause` of the model, its variables
    /// bound as `bindings`): `0.3::p(X) :- q(X)` is `p(X) :- q(X), c(X)`
    /// with `c(X)` such an atom. Printed `choice(clause,head,[X=1])`.
    Choice { clause: u32, head: u32, bindings: Vec<(String, TermId)> },
    /// An atom with no structure: a variable of a program read from a CNF
    /// file or written by hand, or an auxiliary atom a later stage adds (a
    /// formula's boolean part, before it is compiled). Printed `x<N>`.
    Numbered(u32),
}

/// `head :- body`: the head holds when every literal of the body does;
/// `(atom, true)` is `atom`, `(atom, false)` is `\+ atom`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub head: AtomId,
    pub body: Vec<(AtomId, bool)>,
}

/// A probabilistic choice: the only atoms with no rules behind them that
/// may be true.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// The atom holds with this probability, independently of all others.
    Fact { atom: AtomId, probability: f64 },
    /// At most one of the atoms holds: atom `i` with probability `p_i`, none
    /// with `1 − Σ p_i` (one instance of an annotated disjunction).
    Disjunction { atoms: Vec<(AtomId, f64)> },
}

impl Choice {
    /// The choice's atoms with their probabilities (one for a fact).
    pub fn alternatives(&self) -> impl Iterator<Item = (AtomId, f64)> + '_ {
        let (fact, alternatives) = match self {
            Choice::Fact { atom, probability } => (Some((*atom, *probability)), &[][..]),
            Choice::Disjunction { atoms } => (None, &atoms[..]),
        };
        fact.into_iter().chain(alternatives.iter().copied())
    }

    /// The probabilities of the choice's alternatives, to change in place.
    pub fn probabilities_mut(&mut self) -> Vec<(AtomId, &mut f64)> {
        match self {
            Choice::Fact { atom, probability } => vec![(*atom, probability)],
            Choice::Disjunction { atoms } => atoms.iter_mut().map(|(a, p)| (*a, p)).collect(),
        }
    }
}

/// What a query asks.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    /// The probability of a ground atom; `atom` is `None` when it can never
    /// be derived (probability 0).
    Atom { term: TermId, atom: Option<AtomId> },
    /// The value of a formula (`query(forall(X in d, p(X)))`), rooted at
    /// `root` of [`GroundProgram::formulas`]; `text` is the formula as
    /// written.
    Formula { text: String, root: FormulaId },
}

/// A ground query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub subject: Subject,
    /// The query's own logic, when it names one (`query(q, logic(L))`).
    pub logic: Option<Logic>,
    /// One instance of a query with variables (`query(path(a, X))`), which
    /// answers list only where it is possible (as ProbLog's do).
    pub instance: bool,
}

impl Query {
    /// A plain query on a ground atom.
    pub fn atom(term: TermId, atom: Option<AtomId>) -> Query {
        Query { subject: Subject::Atom { term, atom }, logic: None, instance: false }
    }

    /// The atom asked about, where the query is on a derivable atom.
    pub fn atom_id(&self) -> Option<AtomId> {
        match self.subject {
            Subject::Atom { atom, .. } => atom,
            Subject::Formula { .. } => None,
        }
    }

    /// The formula asked about, where the query is a formula.
    pub fn formula(&self) -> Option<FormulaId> {
        match self.subject {
            Subject::Formula { root, .. } => Some(root),
            Subject::Atom { .. } => None,
        }
    }
}

/// Where a statement was written in the model text: byte offsets, `start`
/// included, `end` not. The ground program knows no syntax; whoever holds
/// the text turns an origin into a line and column for a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub start: u32,
    pub end: u32,
}

/// Where each rule and each evidence entry of a [`GroundProgram`] came
/// from, so that an error a later stage finds in them (negation through
/// recursion, impossible evidence) can point at the clause responsible.
///
/// Invariant: each list is empty (a program not grounded from a model
/// text: built by hand, read from a file) or has one entry per rule, or
/// per evidence entry, in their order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origins {
    /// Per rule: the clause it is an instance of (for a certainly true
    /// atom's fact, a clause that derived it).
    pub rules: Vec<Origin>,
    /// Per evidence entry: its `evidence(...)` statement.
    pub evidence: Vec<Origin>,
    /// Per choice: the statement it is an instance of (the ground instances
    /// of `t(_)::p(X).` share one, which is what ties their parameter in
    /// learning from interpretations).
    pub choices: Vec<Origin>,
}

/// The network behind a neural choice (`nn(net, Inputs, Y, Domain)::h` is
/// one annotated disjunction over the domain per ground instance of the
/// inputs).
#[derive(Clone, Debug, PartialEq)]
pub struct Neural {
    pub network: String,
    /// The ground inputs; `None` where an input was left unbound.
    pub inputs: Vec<Option<TermId>>,
}

/// A ground program: the input of lineage and knowledge compilation.
///
/// Invariants ([`GroundProgram::check`] verifies them):
/// - every [`AtomId`] in a rule, choice, query, evidence or formula is below
///   `atoms.len()`, and every [`TermId`] is in `terms`;
/// - an atom of a choice has no rule (a choice whose head is also defined
///   otherwise gets a fresh atom and the rule `head :- choice`);
/// - a rule with an empty body makes its head certainly true;
/// - `learnable` and `neural` have one entry per choice; `origins` has
///   none or one per rule and per evidence entry;
/// - formula nodes come children first; queries and constraints point at
///   nodes that exist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroundProgram {
    /// The ground terms that atoms, queries and neural inputs refer to.
    pub terms: Terms,
    pub atoms: Vec<Atom>,
    pub rules: Vec<Rule>,
    pub choices: Vec<Choice>,
    /// One per `query(...)` statement, in file order; a non-ground query
    /// gives one entry per possibly-true answer.
    pub queries: Vec<Query>,
    pub evidence: Vec<(AtomId, bool)>,
    /// The nodes of every formula query and constraint, children first.
    pub formulas: Vec<Formula>,
    pub constraints: Vec<Constraint>,
    /// Per choice: whether its probabilities are parameters to learn
    /// (`t(p)::`).
    pub learnable: Vec<bool>,
    /// Per choice: the network whose outputs its probabilities are, if any.
    pub neural: Vec<Option<Neural>>,
    /// Per choice: whether it is a decision (`?::d.`) that a strategy sets
    /// true or false (decision-theoretic ProbLog); empty where the program
    /// has none.
    pub decisions: Vec<bool>,
    /// Where the rules and evidence were written, where known.
    pub origins: Origins,
}

/// A broken invariant of a [`GroundProgram`] (a bug in whoever built it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid ground program: {}", self.0)
    }
}

impl std::error::Error for Invalid {}

impl GroundProgram {
    /// A propositional program over `num_atoms` unnamed atoms (printed
    /// `x0`, `x1`, …): what the compilers need and nothing else.
    pub fn propositional(num_atoms: u32, rules: Vec<Rule>, choices: Vec<Choice>) -> GroundProgram {
        let n = choices.len();
        GroundProgram {
            atoms: (0..num_atoms).map(Atom::Numbered).collect(),
            rules,
            choices,
            learnable: vec![false; n],
            neural: vec![None; n],
            ..GroundProgram::default()
        }
    }

    #[inline]
    pub fn num_atoms(&self) -> usize {
        self.atoms.len()
    }

    /// Appends the atom `name` (a constant) and returns its id.
    pub fn add_atom_named(&mut self, name: &str) -> AtomId {
        let term = self.terms.atom(name);
        self.atoms.push(Atom::Term(term));
        AtomId::from_index(self.atoms.len() - 1)
    }

    /// An atom of the model's: its predicate's name and its arguments
    /// (`None` for an atom the grounder or a file made).
    pub fn predicate(&self, atom: AtomId) -> Option<(&str, &[TermId])> {
        match self.atoms[atom.index()] {
            Atom::Term(t) => Some((self.terms.functor(t)?, self.terms.args(t))),
            Atom::Choice { .. } | Atom::Numbered(_) => None,
        }
    }

    /// The atom as ProbLog prints it: `path(0,9)`.
    pub fn atom_text(&self, atom: AtomId) -> String {
        let mut out = String::new();
        self.write_atom(&mut out, atom);
        out
    }

    /// The query as a user reads it: the atom, or the formula as written.
    pub fn query_text(&self, query: &Query) -> String {
        match &query.subject {
            Subject::Atom { term, .. } => self.terms.show(*term),
            Subject::Formula { text, .. } => text.clone(),
        }
    }

    /// The evidence as text: `evidence(a, true), evidence(b, false)`.
    pub fn evidence_text(&self) -> String {
        let items: Vec<String> =
            self.evidence.iter().map(|&(a, v)| format!("evidence({}, {v})", self.atom_text(a))).collect();
        items.join(", ")
    }

    /// A neural choice's inputs as text (`_` for one left unbound), as the
    /// network's input table names them.
    pub fn neural_inputs_text(&self, neural: &Neural) -> Vec<String> {
        neural.inputs.iter().map(|t| t.map_or_else(|| "_".to_string(), |t| self.terms.show(t))).collect()
    }

    /// Where the rule that makes `atom` depend on `\+ negated` was
    /// written (else a rule of `atom`), if origins are known.
    pub fn rule_origin(&self, atom: AtomId, negated: Option<AtomId>) -> Option<Origin> {
        let of_atom = || self.rules.iter().enumerate().filter(|(_, r)| r.head == atom);
        let r =
            negated.and_then(|b| of_atom().find(|(_, r)| r.body.contains(&(b, false)))).or_else(|| of_atom().next())?.0;
        self.origins.rules.get(r).copied()
    }

    /// Where the evidence on `atom` (or, for `None`, the first evidence)
    /// was written, if origins are known.
    pub fn evidence_origin(&self, atom: Option<AtomId>) -> Option<Origin> {
        let e = self.evidence.iter().position(|&(a, _)| atom.is_none_or(|atom| atom == a))?;
        self.origins.evidence.get(e).copied()
    }

    /// Checks the invariants the type documents.
    pub fn check(&self) -> Result<(), Invalid> {
        let n = self.atoms.len();
        let atom_ok = |a: AtomId| a.index() < n;
        let term_ok = |t: TermId| t.index() < self.terms.len();
        for (i, atom) in self.atoms.iter().enumerate() {
            let terms_ok = match atom {
                Atom::Term(t) => term_ok(*t),
                Atom::Choice { bindings, .. } => bindings.iter().all(|(_, t)| term_ok(*t)),
                Atom::Numbered(_) => true,
            };
            if !terms_ok {
                return Err(Invalid(format!("atom {i} names a term outside the store")));
            }
        }
        if let Some(r) = self.rules.iter().find(|r| !atom_ok(r.head) || r.body.iter().any(|&(a, _)| !atom_ok(a))) {
            return Err(Invalid(format!("a rule of {} names an atom past {n}", r.head)));
        }
        let mut chosen = vec![false; n];
        for c in &self.choices {
            for (a, _) in c.alternatives() {
                if !atom_ok(a) {
                    return Err(Invalid(format!("a choice names {a}, past {n}")));
                }
                chosen[a.index()] = true;
            }
        }
        if let Some(r) = self.rules.iter().find(|r| chosen[r.head.index()]) {
            return Err(Invalid(format!("{} is the atom of a choice and has a rule", r.head)));
        }
        if self.learnable.len() != self.choices.len() || self.neural.len() != self.choices.len() {
            return Err(Invalid("`learnable` and `neural` need one entry per choice".to_string()));
        }
        if !(self.decisions.is_empty() || self.decisions.len() == self.choices.len()) {
            return Err(Invalid("`decisions` needs none or one entry per choice".to_string()));
        }
        if self.evidence.iter().any(|&(a, _)| !atom_ok(a)) {
            return Err(Invalid(format!("evidence names an atom past {n}")));
        }
        let Origins { rules, evidence, choices } = &self.origins;
        if !(rules.is_empty() || rules.len() == self.rules.len())
            || !(evidence.is_empty() || evidence.len() == self.evidence.len())
            || !(choices.is_empty() || choices.len() == self.choices.len())
        {
            return Err(Invalid(
                "`origins` needs none or one entry per rule, per evidence entry and per choice".to_string(),
            ));
        }
        self.check_formulas()?;
        for q in &self.queries {
            let ok = match &q.subject {
                Subject::Atom { term, atom } => term_ok(*term) && atom.is_none_or(atom_ok),
                Subject::Formula { root, .. } => root.index() < self.formulas.len(),
            };
            if !ok {
                return Err(Invalid(format!("query `{}` points outside the program", self.query_text(q))));
            }
        }
        Ok(())
    }

    fn check_formulas(&self) -> Result<(), Invalid> {
        for (i, f) in self.formulas.iter().enumerate() {
            let earlier = |c: &FormulaId| c.index() < i;
            let ok = match f {
                Formula::Atom(a) => a.index() < self.atoms.len(),
                Formula::Const(_) | Formula::Number(_) => true,
                Formula::Not(c) | Formula::Transform(_, c) => earlier(c),
                Formula::And(cs) | Formula::Or(cs) | Formula::Aggregate(_, cs) => cs.iter().all(earlier),
                Formula::Implies(a, b) | Formula::RImplies(a, b) | Formula::SImplies(a, b) | Formula::Iff(a, b) => {
                    earlier(a) && earlier(b)
                }
            };
            if !ok {
                return Err(Invalid(format!("formula node {i} points at a later node or a missing atom")));
            }
        }
        match self.constraints.iter().find(|c| c.formula.index() >= self.formulas.len()) {
            Some(c) => Err(Invalid(format!("constraint `{}` has no formula node", c.text))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coin_program() -> (GroundProgram, AtomId, AtomId) {
        let mut p = GroundProgram::default();
        let heads = p.add_atom_named("heads");
        let win = p.add_atom_named("win");
        p.choices.push(Choice::Fact { atom: heads, probability: 0.5 });
        p.learnable.push(false);
        p.neural.push(None);
        p.rules.push(Rule { head: win, body: vec![(heads, false)] });
        (p, heads, win)
    }

    #[test]
    fn check_finds_a_rule_on_a_choice_atom() {
        let (mut p, heads, _) = coin_program();
        assert!(p.check().is_ok());
        p.rules.push(Rule { head: heads, body: vec![] });
        let err = p.check().unwrap_err();
        assert!(err.0.contains("atom 0 is the atom of a choice"), "{err}");
    }

    #[test]
    fn check_finds_atoms_out_of_range() {
        let (mut p, _, win) = coin_program();
        p.evidence.push((AtomId::new(7), true));
        assert!(p.check().is_err());
        p.evidence.clear();
        p.formulas.push(Formula::Not(FormulaId(0)));
        assert!(p.check().is_err(), "a node pointing at itself");
        p.formulas = vec![Formula::Atom(win), Formula::Not(FormulaId(0))];
        assert!(p.check().is_ok());
    }

    #[test]
    fn origins_are_none_or_one_per_rule_and_evidence() {
        let (mut p, heads, win) = coin_program();
        assert_eq!(p.rule_origin(win, Some(heads)), None, "none known");
        p.origins.rules.push(Origin { start: 10, end: 24 });
        assert_eq!(p.rule_origin(win, Some(heads)), Some(Origin { start: 10, end: 24 }));
        assert_eq!(p.rule_origin(heads, None), None, "no rule of its own");
        assert!(p.check().is_ok());
        p.evidence.push((win, true));
        assert!(p.check().is_ok(), "origins of the evidence unknown");
        p.origins.evidence = vec![Origin { start: 25, end: 40 }; 2];
        assert!(p.check().is_err(), "two origins for one evidence entry");
        p.origins.evidence.pop();
        assert!(p.check().is_ok());
        assert_eq!(p.evidence_origin(None), Some(Origin { start: 25, end: 40 }));
        assert_eq!(p.evidence_origin(Some(heads)), None);
    }

    #[test]
    fn predicates_are_structured() {
        let mut p = GroundProgram::default();
        let edge = p.terms.name("edge");
        let (one, two) = (p.terms.int(1), p.terms.int(2));
        let t = p.terms.compound(edge, &[one, two]);
        p.atoms.push(Atom::Term(t));
        p.atoms.push(Atom::Numbered(4));
        let (e, x) = (AtomId::new(0), AtomId::new(1));
        assert_eq!(p.predicate(e), Some(("edge", &[one, two][..])));
        assert_eq!(p.atom_text(e), "edge(1,2)");
        assert_eq!(p.predicate(x), None);
        assert_eq!(p.atom_text(x), "x4");
    }

    #[test]
    fn alternatives_list_a_choice() {
        let (a, b) = (AtomId::new(0), AtomId::new(1));
        let c = Choice::Disjunction { atoms: vec![(a, 0.2), (b, 0.3)] };
        assert_eq!(c.alternatives().collect::<Vec<_>>(), vec![(a, 0.2), (b, 0.3)]);
        let mut f = Choice::Fact { atom: a, probability: 0.4 };
        for (_, p) in f.probabilities_mut() {
            *p = 0.9;
        }
        assert_eq!(f, Choice::Fact { atom: a, probability: 0.9 });
    }
}
