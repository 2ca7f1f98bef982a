//! [`CompileError`]: why a ground program could not be compiled.
//!
//! An error names atoms by [`AtomId`]; the compiler knows no atom's text.
//! [`CompileError::describe`] writes the message with a caller's names for
//! them (the model layer passes each atom's text from the ground program),
//! and `Display` writes `atom N`.

use std::fmt;
use std::time::Duration;

use deeplog_program::AtomId;

/// Why a program could not be compiled. `query: None` means the evidence.
#[derive(Clone, Debug, PartialEq)]
pub enum CompileError {
    Budget { query: Option<AtomId>, nodes: usize, lineage: usize },
    TopDownBudget { query: Option<AtomId>, nodes: usize, states: usize, rules: usize },
    LineageBudget { query: Option<AtomId>, nodes: usize },
    Timeout { query: Option<AtomId>, nodes: usize, elapsed: Duration },
    UnknownAtom { atom: AtomId, num_atoms: usize },
    NotStratified { atom: AtomId, negated: AtomId },
    BadProbability { choice: usize, atom: AtomId, probability: f64 },
    DisjunctionOverOne { choice: usize, total: f64 },
    EvidenceImpossible { atom: AtomId, value: bool },
}

impl CompileError {
    /// The message, with each atom written by `name`.
    pub fn describe(&self, name: impl Fn(AtomId) -> String) -> String {
        let what = |query: &Option<AtomId>| match query {
            Some(q) => format!("query {}", name(*q)),
            None => "the evidence".to_string(),
        };
        match self {
            CompileError::Budget { query, nodes, lineage } => format!(
                "compiling {} exceeded the node budget: its BDD reached {nodes} nodes (lineage: {lineage} formula \
                 nodes); raise the budget or simplify the program",
                what(query)
            ),
            CompileError::TopDownBudget { query, nodes, states, rules } => format!(
                "compiling {} exceeded the node budget: {nodes} BDD nodes and {states} cached residual programs \
                 (from {rules} relevant rules); raise the budget or simplify the program",
                what(query)
            ),
            CompileError::LineageBudget { query, nodes } => {
                format!("the lineage of {} exceeded the node budget at {nodes} formula nodes", what(query))
            }
            CompileError::Timeout { query, nodes, elapsed } => {
                format!("compiling {} timed out after {elapsed:?}, with {nodes} nodes built", what(query))
            }
            CompileError::UnknownAtom { atom, num_atoms } => {
                format!("{} is out of range: the program has {num_atoms} atoms", name(*atom))
            }
            CompileError::NotStratified { atom, negated } => format!(
                "negation through recursion: {} depends on the negation of {}, which depends on {}; deeplog answers \
                 programs whose ground negation is stratified",
                name(*atom),
                name(*negated),
                name(*atom)
            ),
            CompileError::BadProbability { choice, atom, probability } => {
                format!("choice {choice} gives {} the probability {probability}, outside [0, 1]", name(*atom))
            }
            CompileError::DisjunctionOverOne { choice, total } => {
                format!(
                    "the annotated disjunction of choice {choice} has probabilities summing to {total}, more than 1"
                )
            }
            CompileError::EvidenceImpossible { atom, value } => format!(
                "the evidence is impossible: no world has {} {value} together with the evidence before it",
                name(*atom)
            ),
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(|a| format!("atom {}", a.raw())))
    }
}

impl std::error::Error for CompileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_are_named_by_the_caller() {
        let e = CompileError::NotStratified { atom: AtomId::new(3), negated: AtomId::new(5) };
        assert!(e.to_string().starts_with("negation through recursion: atom 3 depends on the negation of atom 5,"));
        let named = e.describe(|a| format!("`p{}`", a.raw()));
        assert!(named
            .starts_with("negation through recursion: `p3` depends on the negation of `p5`, which depends on `p3`;"));
        let t = CompileError::Timeout { query: None, nodes: 7, elapsed: Duration::from_millis(5) };
        assert_eq!(t.to_string(), "compiling the evidence timed out after 5ms, with 7 nodes built");
    }
}
