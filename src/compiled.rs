//! A model compiled into one circuit: the circuit with a root per query
//! (two with evidence), what each input slot stands for, and which root
//! answers which query. `compile` makes it from the ground program; it
//! can be saved ([`CompiledModel::to_json`]) and evaluated again without the
//! model (`deeplog circuit eval`).

use std::time::{Duration, Instant};

use deeplog_circuits::compile::LineageRewriting;
use deeplog_circuits::optimize::{self, Rewrites};
use deeplog_circuits::{compile_with, Budget, Circuit};
use deeplog_program::{Atom, AtomId, Choice, GroundProgram};

use crate::answers::Timings;
use crate::error::Error;
use crate::formulas::name_atom;
use crate::model::QueryOptions;

/// What one input slot of a compiled model stands for.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlotInfo {
    /// The probabilistic fact, or the alternative of an annotated
    /// disjunction, the slot encodes.
    pub name: String,
    /// Probability of the slot's positive literal (the negative one has the
    /// rest). For alternative `i > 0` of a disjunction this is conditional on
    /// the earlier alternatives being false: `p_i / (1 − p_1 − … − p_{i−1})`.
    pub probability: f64,
    /// Index of the choice (fact or disjunction) in grounding order.
    pub choice: usize,
    /// Alternative within a disjunction (0 for a fact).
    pub alternative: usize,
    /// For a neural predicate's alternative: the network whose output it
    /// is (output `alternative`), and the network's inputs (ground terms,
    /// printed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_inputs: Vec<String>,
}

/// A query of a compiled model and the root that answers it (`None`: it
/// cannot be derived, probability 0). With evidence, root `r` is
/// `query ∧ evidence` and `r + 1` is the evidence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompiledQuery {
    pub query: String,
    pub root: Option<usize>,
}

/// A model compiled into one circuit ([`crate::Model::compile`]).
pub struct CompiledModel {
    pub circuit: Circuit,
    pub slots: Vec<SlotInfo>,
    pub queries: Vec<CompiledQuery>,
    pub with_evidence: bool,
    /// The root of the evidence alone, where there is evidence (every
    /// query's second root is one; this one exists also where no query is
    /// derivable).
    pub evidence_root: Option<usize>,
    /// The evidence, as text (for messages).
    pub evidence: String,
    /// Per slot: whether it is a link of an annotated disjunction's chain.
    pub disjunctive: Vec<bool>,
    pub timings: Timings,
}

impl CompiledModel {
    /// The circuit in deeplog's JSON circuit format, with a `model` section
    /// holding the slot table and the queries' roots, so that
    /// `deeplog circuit eval` evaluates it with the model's probabilities.
    pub fn to_json(&self, source: &str) -> String {
        let model = serde_json::json!({
            "source": source,
            "slots": self.slots,
            "queries": self.queries,
            "with_evidence": self.with_evidence,
        });
        deeplog_circuits::formats::write_json_with_model(&self.circuit, &model)
    }
}

/// Compiles the ground program's derivable queries (and evidence) into one
/// circuit; `file` names the model in messages.
pub(crate) fn compile(
    grounded: &GroundProgram,
    mut timings: Timings,
    options: &QueryOptions,
    file: &str,
) -> Result<CompiledModel, Error> {
    // Queries that cannot be derived are false without compiling them.
    let mut derivable: Vec<AtomId> = grounded.queries.iter().filter_map(|q| q.atom_id()).collect();
    // With evidence and no query to carry it, an evidence atom stands in for
    // one, so that the circuit still has the evidence's root: impossible
    // evidence is an error whatever is asked.
    if derivable.is_empty() {
        derivable.extend(grounded.evidence.first().map(|&(atom, _)| atom));
    }
    let start = Instant::now();
    let compiled =
        compile_with(grounded, &derivable, &grounded.evidence, &budget(options), options.compiler).map_err(|e| {
            Error::Compile { file: file.to_string(), named: e.describe(|a| name_atom(grounded, a)), source: e }
        })?;
    timings.compile_s = start.elapsed().as_secs_f64();
    timings.compiler = compiled.stats.method.name();
    timings.circuit_nodes = compiled.circuit.num_nodes();
    timings.circuit_edges = compiled.circuit.num_edges();
    if let Some(r) = compiled.stats.lineage_rewrite {
        timings.lineage_edges = Some((r.edges_before, if r.improved { r.edges_after } else { r.edges_before }));
        timings.lineage_rewrite_s = r.micros as f64 * 1e-6;
    }
    let per_query = if compiled.with_evidence { 2 } else { 1 };
    let mut next = 0;
    let queries = grounded
        .queries
        .iter()
        .map(|q| {
            let root = q.atom_id().map(|_| {
                next += 1;
                (next - 1) * per_query
            });
            CompiledQuery { query: grounded.query_text(q), root }
        })
        .collect();
    let slot_atom = |choice: usize, alternative: usize| match &grounded.choices[choice] {
        Choice::Fact { atom, .. } => *atom,
        Choice::Disjunction { atoms } => atoms[alternative].0,
    };
    let slot_name = choice_namer(grounded);
    let slots = compiled
        .slots
        .iter()
        .map(|s| {
            let neural = grounded.neural.get(s.choice).and_then(Option::as_ref);
            SlotInfo {
                name: slot_name(slot_atom(s.choice, s.alternative)),
                probability: s.probability,
                choice: s.choice,
                alternative: s.alternative,
                network: neural.map(|n| n.network.clone()),
                network_inputs: neural.map(|n| grounded.neural_inputs_text(n)).unwrap_or_default(),
            }
        })
        .collect();
    let disjunctive =
        compiled.slots.iter().map(|s| matches!(grounded.choices[s.choice], Choice::Disjunction { .. })).collect();
    Ok(CompiledModel {
        disjunctive,
        circuit: compiled.circuit,
        slots,
        queries,
        with_evidence: compiled.with_evidence,
        evidence_root: compiled.with_evidence.then_some(1),
        evidence: grounded.evidence_text(),
        timings,
    })
}

/// Names a choice's atom as users read it: a probabilistic rule's choice by
/// the head it derives (`alarm (rule)`, not the grounder's
/// `choice(5,0,[])`; `calls(john) (rule 2)` for the second of several
/// probabilistic rules for one head), any other by its text.
pub(crate) fn choice_namer(grounded: &GroundProgram) -> impl Fn(AtomId) -> String + '_ {
    // Per choice atom: its head and its rank among the head's choices.
    let mut rule_of_choice: std::collections::HashMap<AtomId, (AtomId, usize)> = std::collections::HashMap::new();
    let mut per_head: std::collections::HashMap<AtomId, usize> = std::collections::HashMap::new();
    for rule in &grounded.rules {
        for &(atom, positive) in &rule.body {
            if positive
                && matches!(grounded.atoms[atom.index()], Atom::Choice { .. })
                && !rule_of_choice.contains_key(&atom)
            {
                let rank = per_head.entry(rule.head).or_insert(0);
                *rank += 1;
                rule_of_choice.insert(atom, (rule.head, *rank));
            }
        }
    }
    move |atom: AtomId| match rule_of_choice.get(&atom) {
        Some(&(head, rank)) if per_head.get(&head).copied().unwrap_or(1) > 1 => {
            format!("{} (rule {rank})", grounded.atom_text(head))
        }
        Some(&(head, _)) => format!("{} (rule)", grounded.atom_text(head)),
        None => grounded.atom_text(atom),
    }
}

/// The compilers' budget from the options: nodes, time, and whether the
/// lineage is rewritten first.
pub(crate) fn budget(options: &QueryOptions) -> Budget {
    Budget {
        max_nodes: options.max_nodes,
        timeout: options.timeout,
        rewrite_lineage: match options.optimize {
            optimize::Mode::Off => LineageRewriting::Never,
            optimize::Mode::Auto => LineageRewriting::Unrolled,
            optimize::Mode::On => LineageRewriting::Always,
        },
    }
}

/// `circuit` rewritten smaller by the semiring laws (which hold in every
/// algebra exact inference reads a compiled circuit in), as `mode` says;
/// `None` where it stays as it is. Under `auto`, saturation gets a quarter
/// of the compile time (at least 20 ms). Records time and size in `timings`.
pub fn optimize_compiled(circuit: &Circuit, mode: optimize::Mode, timings: &mut Timings) -> Option<Circuit> {
    let start = Instant::now();
    let budget = match mode {
        optimize::Mode::Auto => optimize::Budget {
            time: Duration::from_secs_f64((timings.compile_s / 4.0).clamp(0.02, 10.0)),
            ..Default::default()
        },
        _ => optimize::Budget::default(),
    };
    let optimized = optimize::run(circuit, Rewrites::Semiring, mode, &budget);
    timings.optimize_s = start.elapsed().as_secs_f64();
    timings.optimized_edges = optimized.as_ref().filter(|o| o.report.improved).map(|o| o.report.edges_after);
    optimized.filter(|o| o.report.improved).map(|o| o.circuit)
}
