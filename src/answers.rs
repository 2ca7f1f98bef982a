//! What a model answers: each query's value in the chosen logic, the
//! constraints' values and loss, and where the time went. Plain data, made
//! by [`crate::Model::query`] and printed at the edge (`deeplog query`).

use deeplog_semirings::Logic;

/// One query's answer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Answer {
    pub query: String,
    /// In the chosen logic: a probability, a log-probability, 1 or 0
    /// (boolean), the most probable world's probability (max-product), or
    /// a number of worlds (counting).
    pub value: f64,
    /// Counting: the exact number of worlds, as decimal text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// With [`crate::QueryOptions::explain`]: the most probable explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
    /// The query's own logic, when it differs from the model's
    /// (`query(q, logic(L))`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "own_logic_name")]
    pub logic: Option<Logic>,
}

/// The most probable proof found of a query: literals (facts, facts left
/// false where a negation needs them, choices of annotated disjunctions and
/// of probabilistic rules) whose truth alone makes it true, none of them
/// superfluous. The most probable one for positive programs; with negation,
/// the better of two candidates (finding the best proof is NP-hard in
/// general), and always a true proof at its exact probability.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// Probability of the proof (the product over its facts and choices),
    /// given the evidence where there is some.
    pub probability: f64,
    /// Its facts and chosen alternatives, in the model's order: `a`, a
    /// fact left false `\+b`, a probabilistic rule's choice named by its
    /// head `alarm (rule)`.
    pub facts: Vec<String>,
    /// With evidence: the literals of the proof that the evidence alone
    /// needs, apart from `facts`.
    pub evidence: Vec<String>,
}

/// Seconds spent per stage, and the circuit's size.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Timings {
    pub parse_and_check_s: f64,
    pub ground_s: f64,
    pub compile_s: f64,
    pub evaluate_s: f64,
    /// The knowledge compiler that ran: `top-down` or `bottom-up`.
    pub compiler: &'static str,
    pub ground_atoms: usize,
    pub ground_rules: usize,
    pub circuit_nodes: usize,
    pub circuit_edges: usize,
    /// Time spent on `--optimize` (0 when off).
    pub optimize_s: f64,
    /// Edges after optimisation, where it was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimized_edges: Option<usize>,
    /// Where the circuit was evaluated: `cpu` or the GPU adapter's name.
    pub device: String,
    /// Edges of the lineage (negation normal form) before and after
    /// `--optimize on` rewrote it, where it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage_edges: Option<(usize, usize)>,
    /// Time spent rewriting the lineage (part of `compile_s`).
    pub lineage_rewrite_s: f64,
}

/// All answers of a model, in query order.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Answers {
    #[serde(serialize_with = "logic_name")]
    pub logic: Logic,
    pub answers: Vec<Answer>,
    /// Each constraint's value in the logic (truth, or probability).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<ConstraintAnswer>,
    /// With constraints: `Σ weight · (1 − truth)` in a fuzzy logic,
    /// `Σ weight · −ln P` in the probability logic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    pub timings: Timings,
}

/// A constraint's value.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ConstraintAnswer {
    pub constraint: String,
    pub weight: f64,
    /// Its truth (fuzzy) or probability.
    pub value: f64,
}

fn logic_name<S: serde::Serializer>(logic: &Logic, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(logic.name())
}

fn own_logic_name<S: serde::Serializer>(logic: &Option<Logic>, s: S) -> Result<S::Ok, S::Error> {
    match logic {
        Some(l) => s.serialize_some(l.name()),
        None => s.serialize_none(),
    }
}
