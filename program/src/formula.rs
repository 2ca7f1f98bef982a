//! Ground formulas: `query(F)` and `constraint(F)` where `F` is a
//! first-order formula, grounded into a DAG over the program's atoms.
//!
//! What a node *means* is decided by the evaluator: the connectives are
//! boolean in the probability logic and t-norm operations in a fuzzy one
//! (`docs/logics.md`).

use deeplog_semirings::Logic;

use crate::AtomId;

/// A node of [`crate::GroundProgram::formulas`]: its index there.
///
/// Invariant: a node's children have smaller ids (children first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FormulaId(pub u32);

impl FormulaId {
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A node of the ground formulas.
#[derive(Clone, Debug, PartialEq)]
pub enum Formula {
    /// A ground atom of the program.
    Atom(AtomId),
    /// `true`, `false`, or an atom that can never be derived (false).
    Const(bool),
    /// A number written in the formula (`0.5 * a_probability`).
    Number(f64),
    Not(FormulaId),
    /// Conjunction; `forall` over a domain is the conjunction of its
    /// instances (true when the domain is empty).
    And(Vec<FormulaId>),
    /// Disjunction; `exists` is the disjunction of its instances.
    Or(Vec<FormulaId>),
    /// `implies` / `->`: the logic's own implication.
    Implies(FormulaId, FormulaId),
    /// `r_implies(A, B)`: the residuum of the logic's t-norm.
    RImplies(FormulaId, FormulaId),
    /// `s_implies(A, B)`: `not A or B` in the logic.
    SImplies(FormulaId, FormulaId),
    /// `iff` / `<->`.
    Iff(FormulaId, FormulaId),
    /// An aggregation over its children's values (`sum(X in D, F)`, `+`,
    /// `*`, p-means).
    Aggregate(Aggregate, Vec<FormulaId>),
    /// `(F)_S`: the value of `F` in algebra `S`.
    Transform(Logic, FormulaId),
}

/// How an aggregation combines numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregate {
    Sum,
    Product,
    Max,
    Min,
    /// LTN's generalised mean `(1/n Σ x^p)^(1/p)` (a soft `exists`).
    PMean(f64),
    /// LTN's `1 − (1/n Σ (1 − x)^p)^(1/p)` (a soft `forall`).
    PMeanError(f64),
}

/// `constraint(F)` or `w::constraint(F)`, grounded.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// The formula as written.
    pub text: String,
    /// Its root in [`crate::GroundProgram::formulas`].
    pub formula: FormulaId,
    pub weight: Option<f64>,
}
