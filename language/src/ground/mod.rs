//! Grounding: a [`Model`] becomes the [`GroundProgram`] its queries and
//! evidence depend on — ground rules over interned atoms, and the
//! probabilistic choices (independent facts, annotated disjunctions) that
//! make those atoms uncertain. The ground program (crate
//! `deeplog-program`) is all the compilers see.
//!
//! ```
//! use deeplog_language::{check_source, ground::{ground, Bodies, Limits}};
//! use deeplog_program::Choice;
//!
//! let checked = check_source("0.3::a(s); 0.7::a(t).\nb :- a(s).\nquery(b).\nquery(c).\n");
//! let program = ground(checked.model.as_ref().unwrap(), &Limits::default(), Bodies::Boolean).unwrap();
//! // One categorical choice, over the two heads themselves.
//! let [Choice::Disjunction { atoms }] = &program.choices[..] else { panic!() };
//! assert_eq!(atoms.len(), 2);
//! assert_eq!(program.query_text(&program.queries[0]), "b");
//! let b = program.queries[0].atom_id().unwrap();
//! assert_eq!(program.predicate(b), Some(("b", &[][..]))); // structured, not text
//! assert_eq!(program.queries[1].atom_id(), None); // `c` is never derived
//! assert_eq!(program.to_string(), "0.3::a(s); 0.7::a(t).\nb :- a(s).\nquery(b).\nquery(c).\n");
//! ```
//!
//! How it works, in order (one file per step):
//!
//! 1. *Terms* (`deeplog_program::terms`): every ground term is hash-consed into [`Terms`],
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
use std::time::Instant;

use crate::diagnostic::Diagnostic;
use crate::model::{Logic, Model, Statement};
use crate::syntax::{Span, Term, TermKind};

mod arithmetic;
mod bindings;
mod builtins;
pub(crate) mod clauses;
mod compile;
mod derive;
mod formula;
mod inspect;
mod relevance;
mod stratify;
mod tabling;
mod text;

pub use deeplog_program::GroundProgram;

use compile::compile;
use deeplog_program::terms::Terms;
use tabling::State;

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

/// Bounds on grounding's work, so that a grounding that would not end
/// (`p(X) :- p(s(X)).`, `n(Y) :- n(X), Y is X + 1.`) stops with an error
/// that names the predicate and the clause, long before it fills the
/// machine's memory. Each bound is a command-line option of the same name
/// (`--max-atoms`, ...; the deadline is `--timeout`), which the error
/// names.
///
/// The defaults stop the usual runaway recursions within a few seconds and
/// well under 1 GiB (measured: `n(Y) :- n(X), Y is X + 1.` stops at 1.5
/// million atoms in 410 MB, `p(X) :- Y is X + 1, p(Y).` at 1.5 million
/// calls in 460 MB, `p(X) :- p(s(X)).` at depth 10,000 at once), and admit
/// a million formula instances over a million ground atoms
/// (`examples/logics_bench.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Ground atoms of the model's predicates (a probabilistic rule's
    /// fresh choice atoms come with its rules, which `max_rules` bounds).
    pub max_atoms: usize,
    /// Distinct ground rules.
    pub max_rules: usize,
    /// Distinct calls (tabled subgoals): a predicate with the arguments
    /// bound when it is called. `p(X) :- p(s(X)).` makes a new one at each
    /// step and derives no atom.
    pub max_calls: usize,
    /// Distinct ground terms in the store, subterms, list cells and
    /// arithmetic results included.
    pub max_terms: usize,
    /// Nesting of the terms in a ground atom or a call (`f(a)` is 1).
    pub max_depth: usize,
    /// When to give up, whatever else is left.
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_atoms: 1_500_000,
            max_rules: 3_000_000,
            max_calls: 1_500_000,
            max_terms: 6_000_000,
            max_depth: 10_000,
            deadline: None,
        }
    }
}

/// How the rule bodies of the ground program will be read, which decides
/// the laws grounding may simplify them by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bodies {
    /// As boolean conjunctions (the probability logics, boolean, counting,
    /// max-product): a body that holds an atom and its negation never
    /// holds, and a repeated literal counts once.
    #[default]
    Boolean,
    /// By a t-norm (a fuzzy logic reads them somewhere in the model): the
    /// literals stay as written, repeats and contradictions included, since
    /// `a, a` is `T(a, a)` and `a, \+ a` is `T(a, 1 − a)`, neither of them
    /// `a` or 0 in general. Only laws of every t-norm apply: a certainly
    /// true literal leaves its body, a certainly false one drops its rule.
    AsWritten,
}

impl Bodies {
    /// How `model`'s bodies are read when its logic is `logic` where
    /// given (a command line's `--logic`, which overrides the model's and
    /// its queries' own): as written where any of those logics, or an
    /// annotation `(F)_L` in a formula or body, is a fuzzy one.
    pub fn for_model(model: &Model, logic: Option<Logic>) -> Bodies {
        let fuzzy = |l: Logic| l.tnorm().is_some();
        let forced = logic.is_some();
        let mut logics = logic.or(model.logic()).into_iter();
        let annotated = |t: &Term| {
            t.subterms()
                .any(|t| matches!(&t.kind, TermKind::Annotated { algebra, .. } if algebra.parse().is_ok_and(fuzzy)))
        };
        let anywhere = model.statements.iter().any(|s| match s {
            Statement::Query(q) => (!forced && q.logic.is_some_and(|(l, _)| fuzzy(l))) || annotated(&q.target),
            Statement::Constraint(c) => annotated(&c.formula),
            Statement::Rule(r) => r.body.as_deref().is_some_and(annotated),
            _ => false,
        });
        if anywhere || logics.any(fuzzy) {
            Bodies::AsWritten
        } else {
            Bodies::Boolean
        }
    }
}

/// Grounds `model` for its queries and evidence, reading its bodies as
/// `bodies` says.
pub fn ground(model: &Model, limits: &Limits, bodies: Bodies) -> Result<GroundProgram, GroundError> {
    let mut terms = Terms::new();
    let program = compile(model, &mut terms)?;
    let mut state = State::new(terms, &program, *limits, bodies);
    state.evaluate(&program)?;
    state.finish(&program)
}

/// Where `span` is in the model text, as the ground program keeps it.
fn origin(span: Span) -> deeplog_program::Origin {
    let at = |offset: usize| u32::try_from(offset).unwrap_or(u32::MAX);
    deeplog_program::Origin { start: at(span.start), end: at(span.end) }
}

/// Keys are small integers and short names: FxHash, not SipHash.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// A ground atom's number during grounding; the output renumbers the
/// relevant ones densely into [`deeplog_program::AtomId`]s.
type AtomNo = u32;
/// A predicate's index in `Program::preds`.
type PredId = u32;
/// No atom, predicate, rule or body link: the end of a chain.
const NONE: u32 = u32::MAX;
