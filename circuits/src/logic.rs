//! Propositional logic programs, as the grounder hands them over, and their
//! compilation into circuits.
//!
//! A [`LogicProgram`] is ground rules over dense atom ids plus the
//! probabilistic *choices* (independent facts and annotated disjunctions)
//! that are the circuit's input slots. Its meaning is the distribution
//! semantics: each total choice of the facts gives the least model of the
//! rules (cycles included); a query's probability is the weight of the total
//! choices whose least model contains it.
//!
//! [`compile`](crate::compile::compile) turns the program into one circuit with a root per query
//! (and, with evidence, per query-and-evidence plus one for the evidence),
//! deterministic and decomposable so that the probability algebra may
//! evaluate it.

/// A ground atom: a dense index `0..num_atoms`.
pub type AtomId = u32;

/// `head :- body`, a conjunction of literals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub head: AtomId,
    /// `(atom, true)` for `atom`, `(atom, false)` for `\+ atom`.
    pub body: Vec<(AtomId, bool)>,
}

/// A probabilistic choice: the only atoms with no rules behind them that may
/// be true.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// The atom holds with this probability, independently of all others.
    Fact { atom: AtomId, probability: f64 },
    /// At most one of the atoms holds: atom `i` with probability `p_i`, none
    /// with `1 − Σ p_i` (annotated disjunction).
    Disjunction { atoms: Vec<(AtomId, f64)> },
}

/// A ground program: rules, choices, and how many atoms there are. Atoms
/// that are neither a head nor a choice are false.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogicProgram {
    pub num_atoms: u32,
    pub rules: Vec<Rule>,
    pub choices: Vec<Choice>,
}
