//! Grounding: a [`Model`] becomes the ground program its queries and
//! evidence depend on — ground rules over interned atoms, and the
//! probabilistic choices (independent facts, annotated disjunctions) that
//! make those atoms uncertain.
//!
//! ```
//! use deeplog_language::{check_source, ground::{ground, GroundChoice, Limits}};
//!
//! let checked = check_source("0.3::a(s); 0.7::a(t).\nb :- a(s).\nquery(b).\nquery(c).\n");
//! let program = ground(checked.model.as_ref().unwrap(), &Limits::default()).unwrap();
//! // One categorical choice, over the two heads themselves.
//! let [GroundChoice::Disjunction { atoms }] = &program.choices[..] else { panic!() };
//! assert_eq!(atoms.len(), 2);
//! assert_eq!(program.queries[0].text, "b");
//! assert_eq!(program.atoms[program.queries[0].atom.unwrap() as usize], "b");
//! assert_eq!(program.queries[1].atom, None); // `c` is never derived
//! assert_eq!(program.to_string(), "0.3::a(s); 0.7::a(t).\nb :- a(s).\nquery(b).\nquery(c).\n");
//! ```
//!
//! How it works, in order (one file per step):
//!
//! 1. *Terms* (`terms`): every ground term is hash-consed into [`Terms`],
//!    so equal terms have equal ids and comparing them is comparing ids.
//! 2. *Compile* (`compile`, into the types of `clauses`): every clause
//!    becomes patterns over numbered variables; a body becomes one or more
//!    conjunctions of literals (user calls, negations, builtins,
//!    `findall/3`); a negated or aggregated conjunction gets an auxiliary
//!    predicate of its own. Ground facts are loaded at once, with an index
//!    per set of bound argument positions. *Stratify* (`stratify`) orders
//!    the predicates so that a negation or `findall/3` waits for its call.
//! 3. *Evaluate* (`tabling`): goal-directed and tabled. Each query,
//!    evidence atom and body literal is a *call*: a predicate with the
//!    arguments bound when it is reached. A call to a predicate with rules
//!    runs those rules once; its answers are the possibly-true ground atoms
//!    that match it, kept in the index bucket of the call. A rule body
//!    waiting on a call is a *consumer*: it is resumed once per answer,
//!    existing or future (semi-naive propagation), so recursion through
//!    cycles terminates, and the work is proportional to the ground rules
//!    found. Negation and `findall/3` wait until their call is complete,
//!    stratum by stratum. Where negation runs through recursion (`win(X)
//!    :- move(X, Y), \+ win(Y)`), no stratum can wait: a negation becomes
//!    a literal at once, resolved when grounding ends (true where its atom
//!    was never derived), and the compiler checks that no ground atom
//!    depends on its own negation. Calls to predicates defined by facts
//!    alone are complete from the start and are looked up directly.
//!    Patterns meet ground terms in `bindings`; builtins (`is/2`,
//!    `between/3`, ...) are solved in `builtins`, over `arithmetic`.
//! 4. *Derive* (`derive`): a clause instance whose body held adds its head
//!    atoms, ground rules and choices. Atoms proved by deterministic facts
//!    and rules alone are certainly true, and leave rule bodies; atoms
//!    never derived are certainly false (a negation of one holds, a query
//!    on one answers 0).
//! 5. *Relevance* (`relevance`): only the atoms, rules and choices
//!    reachable backward from the queries and evidence are emitted, as a
//!    [`GroundProgram`]. Formula queries and constraints (`formula`) are
//!    grounded over the atoms found and renumbered with them.

use std::fmt;

use crate::diagnostic::Diagnostic;
use crate::model::{Logic, Model};
use crate::syntax::Span;

mod arithmetic;
mod bindings;
mod builtins;
mod clauses;
mod compile;
mod derive;
mod formula;
mod relevance;
mod stratify;
mod tabling;
mod terms;

pub use formula::{Aggregate, GroundConstraint, GroundFormula};

use compile::compile;
use tabling::State;
use terms::Terms;

/// A ground program: the input of lineage and knowledge compilation.
///
/// Invariants: atom ids are dense (`0..atoms.len()`); every atom in a rule,
/// choice, query or evidence is below `atoms.len()`; an atom that is the
/// atom of a choice has no rule; a rule with an empty body makes its head
/// certainly true.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroundProgram {
    /// Ground atoms; an atom's id is its index, its text the atom printed
    /// as ProbLog prints it, e.g. `path(0,9)`.
    pub atoms: Vec<String>,
    pub rules: Vec<GroundRule>,
    pub choices: Vec<GroundChoice>,
    /// One per `query(...)` statement, in file order; a non-ground query
    /// gives one entry per possibly-true answer.
    pub queries: Vec<GroundQuery>,
    pub evidence: Vec<(u32, bool)>,
    /// The nodes of every formula query and constraint, children first.
    pub formulas: Vec<GroundFormula>,
    pub constraints: Vec<GroundConstraint>,
    /// Per choice: whether its probabilities are parameters to learn
    /// (`t(p)::`).
    pub learnable: Vec<bool>,
    /// Per choice: the network whose outputs its probabilities are
    /// (`nn(net, Inputs, Y, Domain)::h` is one annotated disjunction over
    /// the domain per ground instance of the inputs), if any.
    pub neural: Vec<Option<GroundNeural>>,
}

/// `head :- body`: the head holds when every literal `(atom, positive)` of
/// the body does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundRule {
    pub head: u32,
    pub body: Vec<(u32, bool)>,
}

/// A probabilistic choice.
#[derive(Clone, Debug, PartialEq)]
pub enum GroundChoice {
    /// An independent probabilistic fact.
    Fact { atom: u32, probability: f64 },
    /// One instance of an annotated disjunction: at most one atom holds.
    Disjunction { atoms: Vec<(u32, f64)> },
}

/// A ground query; `atom` is `None` when it is certainly false or when the
/// query is a formula, whose root in [`GroundProgram::formulas`] is then
/// `formula`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundQuery {
    pub text: String,
    pub atom: Option<u32>,
    pub formula: Option<u32>,
    /// The query's own logic, when it names one (`query(q, logic(L))`).
    pub logic: Option<Logic>,
    /// One instance of a query with variables (`query(path(a, X))`), which
    /// answers list only where it is possible (as ProbLog's do).
    pub instance: bool,
}

/// Why a model could not be grounded, at the clause or literal responsible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundError {
    pub span: Span,
    pub message: String,
}

impl GroundError {
    fn new(span: Span, message: impl Into<String>) -> GroundError {
        GroundError { span, message: message.into() }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(self.span, self.message.clone())
    }
}

impl fmt::Display for GroundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GroundError {}

/// Bounds that stop a grounding that would not end (`nat(s(X)) :- nat(X).`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Ground atoms, choice atoms included.
    pub max_atoms: usize,
    pub max_rules: usize,
    /// Nesting of the terms in a ground atom (`f(a)` is 1).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_atoms: 10_000_000, max_rules: 10_000_000, max_depth: 10_000 }
    }
}

/// Grounds `model` for its queries and evidence.
pub fn ground(model: &Model, limits: &Limits) -> Result<GroundProgram, GroundError> {
    let mut terms = Terms::new();
    let program = compile(model, &mut terms)?;
    let mut state = State::new(terms, &program, *limits);
    state.evaluate(&program)?;
    state.finish(&program)
}

/// A choice whose probabilities a network gives: its name and its inputs
/// (ground terms, printed), e.g. `mnist_net` on `[img3]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundNeural {
    pub network: String,
    pub inputs: Vec<String>,
}

/// Keys are small integers and short names: FxHash, not SipHash.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// A ground atom's id during grounding (renumbered on output).
type AtomId = u32;
/// A predicate's index in `Program::preds`.
type PredId = u32;
/// No atom, predicate, rule or body link: the end of a chain.
const NONE: u32 = u32::MAX;

/// The ground program as ProbLog text: choices, then rules, queries and
/// evidence (a query on a certainly false atom prints its text).
impl fmt::Display for GroundProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |a: u32| self.atoms[a as usize].as_str();
        for c in &self.choices {
            match c {
                GroundChoice::Fact { atom, probability } => writeln!(f, "{probability}::{}.", name(*atom))?,
                GroundChoice::Disjunction { atoms } => {
                    let heads: Vec<String> = atoms.iter().map(|(a, q)| format!("{q}::{}", name(*a))).collect();
                    writeln!(f, "{}.", heads.join("; "))?
                }
            }
        }
        for r in &self.rules {
            if r.body.is_empty() {
                writeln!(f, "{}.", name(r.head))?;
            } else {
                let body: Vec<String> = r
                    .body
                    .iter()
                    .map(|&(a, positive)| format!("{}{}", if positive { "" } else { "\\+" }, name(a)))
                    .collect();
                writeln!(f, "{} :- {}.", name(r.head), body.join(", "))?;
            }
        }
        for q in &self.queries {
            writeln!(f, "query({}).", q.text)?;
        }
        for &(a, value) in &self.evidence {
            writeln!(f, "evidence({}, {value}).", name(a))?;
        }
        for c in &self.constraints {
            match c.weight {
                Some(w) => writeln!(f, "{w}::constraint({}).", c.text)?,
                None => writeln!(f, "constraint({}).", c.text)?,
            }
        }
        Ok(())
    }
}
