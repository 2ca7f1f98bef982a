//! Evaluating a compiled model and reading its answers out: the circuit is
//! evaluated once in log space (on the CPU in `f64`, or a GPU in `f32`),
//! and each query's root is read in the logic asked for — a probability, a
//! log-probability, whether it is possible (boolean), the most probable
//! world (max-product, over the circuit smoothed on every slot) or the
//! number of worlds (counting, exact).

use std::time::Instant;

use deeplog_circuits::explain::heaviest;
use deeplog_circuits::properties::{check, smooth};
use deeplog_circuits::{Circuit, CpuEvaluator, Evaluate, LayeredCircuit, Weights};
use deeplog_gpu::GpuEvaluator;
use deeplog_program::GroundProgram;
use deeplog_semirings::{Counting, LogProbability, Logic};

use crate::answers::{Answer, Answers, Explanation, Timings};
use crate::compiled::{CompiledModel, SlotInfo};
use crate::error::Error;
use crate::Device;

/// Root values of one evaluation, and what the whole-world logics need.
pub(crate) struct Evaluated {
    /// Log-probability of every root.
    log_values: Vec<f64>,
    /// Max-product and counting: the circuit smoothed over every slot.
    smoothed: Option<Circuit>,
    /// Counting: each root's number of worlds.
    counts: Option<Vec<u128>>,
}

/// Evaluates `circuit` (the compiled model's, or its optimised form) for
/// `logic` on `device`; records the device and the time in `timings`.
pub(crate) fn evaluate(
    compiled: &CompiledModel,
    circuit: &Circuit,
    logic: Logic,
    device: Device,
    timings: &mut Timings,
) -> Result<Evaluated, Error> {
    let start = Instant::now();
    let layered = LayeredCircuit::new(circuit);
    let log_values = if layered.num_roots() == 0 {
        Vec::new()
    } else {
        let log_weights: Vec<f64> = compiled.slots.iter().map(|s| s.probability.ln()).collect();
        match device.open()? {
            None => {
                timings.device = "cpu".to_string();
                let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered)?;
                eval.forward(&Weights::complementary(1, log_weights))?
            }
            Some(gpu) => {
                timings.device = gpu.name();
                let eval = GpuEvaluator::<LogProbability<f32>>::new(&gpu, &layered)?;
                let w = Weights::complementary(1, log_weights.iter().map(|&x| x as f32).collect());
                eval.forward(&w)?.into_iter().map(f64::from).collect()
            }
        }
    };
    // Max-product and counting range over whole worlds: every slot in
    // every branch (smoothed over all of them).
    let smoothed = matches!(logic, Logic::MaxProduct | Logic::Counting).then(|| smooth(&compiled.circuit, true));
    let counts = match (&smoothed, logic) {
        (Some(c), Logic::Counting) if !c.roots().is_empty() => {
            let layered = LayeredCircuit::with_properties(c, check(c));
            let n = c.num_slots() as usize;
            let ones = Weights { batch: 1, positive: vec![1u128; n], negative: Some(vec![1u128; n]) };
            Some(CpuEvaluator::<Counting>::new(&layered)?.forward(&ones)?)
        }
        _ => None,
    };
    timings.evaluate_s = start.elapsed().as_secs_f64();
    if compiled.evidence_root.is_some_and(|e| log_values[e] == f64::NEG_INFINITY) {
        return Err(Error::ImpossibleEvidence(compiled.evidence.clone()));
    }
    Ok(Evaluated { log_values, smoothed, counts })
}

/// Each query's answer in `logic`, in query order. An instance of a query
/// with variables that no world (consistent with the evidence) makes true
/// is left out, as ProbLog leaves it out: `path(a, X)` lists the `X` that
/// can be reached.
pub(crate) fn answers(
    grounded: &GroundProgram,
    compiled: CompiledModel,
    evaluated: &Evaluated,
    logic: Logic,
    explain: bool,
) -> Answers {
    let circuit = &compiled.circuit;
    let satisfiable = grounded.queries.iter().any(|g| g.instance).then(|| satisfiable_nodes(circuit));
    let mut answers = Vec::with_capacity(compiled.queries.len());
    for (q, g) in compiled.queries.iter().zip(&grounded.queries) {
        if let (true, Some(root), Some(sat)) = (g.instance, q.root, &satisfiable) {
            if !sat[circuit.roots()[root].index()] {
                continue;
            }
        }
        let (value, exact) = value(&compiled, evaluated, logic, q.root);
        let explanation = match q.root {
            Some(root) if explain => {
                let evidence = compiled.with_evidence.then(|| (root + 1, evaluated.log_values[root + 1].exp()));
                explain_root(circuit, &compiled.slots, &compiled.disjunctive, root, evidence)
            }
            _ => None,
        };
        answers.push(Answer { query: q.query.clone(), value, exact, explanation, logic: None });
    }
    Answers { logic, answers, constraints: Vec::new(), loss: None, timings: compiled.timings }
}

/// The value of the query at `root` (none: never derivable) in `logic`, and
/// for counting the exact count as text.
fn value(compiled: &CompiledModel, evaluated: &Evaluated, logic: Logic, root: Option<usize>) -> (f64, Option<String>) {
    let values = &evaluated.log_values;
    let log_value = match root {
        None => f64::NEG_INFINITY,
        Some(root) if compiled.with_evidence => values[root] - values[root + 1],
        Some(root) => values[root],
    };
    // Boolean and counting read the joint root (query and evidence).
    match (logic, root) {
        (Logic::LogProbability, _) => (log_value, None),
        (Logic::Probability, _) => (log_value.exp(), None),
        (_, None) => (0.0, (logic == Logic::Counting).then(|| "0".to_string())),
        (Logic::Boolean, Some(root)) => (f64::from(u8::from(possible(&compiled.circuit, &compiled.slots, root))), None),
        (Logic::MaxProduct, Some(root)) => {
            // The most probable world with the query (and the evidence),
            // given the evidence.
            let given = if compiled.with_evidence { values[root + 1] } else { 0.0 };
            let smoothed = evaluated.smoothed.as_ref().expect("max-product evaluates a smoothed circuit");
            (most_probable_world(smoothed, &compiled.slots, root).exp() / given.exp(), None)
        }
        (_, Some(root)) => {
            let count = evaluated.counts.as_ref().expect("counting counts every root")[root];
            let text = if count == u128::MAX { "at least 2^128".to_string() } else { count.to_string() };
            (count as f64, Some(text))
        }
    }
}

/// The most probable proof found of the query at `root` (see
/// [`Explanation`]): a set of literals — facts, negated facts, rule
/// choices — that alone make the query (and the evidence) true.
///
/// Two candidates, each a heaviest path through the circuit: one where a
/// fact left false costs nothing (right for proofs without negation), one
/// where it costs `1 − p` (right where a negation is needed). Each path is
/// then made minimal: a literal is dropped, the costliest first, where the
/// rest still entail the root, so that a decision the compiler took (`a ?
/// … : ¬a ∧ c`) does not stay in the proof while a negation the query
/// needs (`q :- a, \+ b`) does. The more probable candidate wins; its
/// probability is exact (the product over its literals, given the
/// evidence). With evidence, the literals the evidence alone needs are
/// listed apart.
fn explain_root(
    circuit: &Circuit,
    slots: &[SlotInfo],
    disjunctive: &[bool],
    root: usize,
    evidence: Option<(usize, f64)>,
) -> Option<Explanation> {
    let cost = |l: deeplog_circuits::Literal| log_weight(slots, l);
    let free_negatives = |l: deeplog_circuits::Literal| {
        if !l.positive && !disjunctive[l.slot.0 as usize] {
            0.0
        } else {
            cost(l)
        }
    };
    let node = circuit.roots()[root];
    let mut best: Option<(f64, Vec<deeplog_circuits::Literal>)> = None;
    for path in [heaviest(circuit, node, free_negatives), heaviest(circuit, node, cost)].into_iter().flatten() {
        let proof = as_alternatives(minimal(circuit, node.index(), slots.len(), path.1, &cost), slots, disjunctive);
        let weight: f64 = proof.iter().map(|&l| alternative_log_weight(slots, disjunctive, l)).sum();
        if best.as_ref().is_none_or(|(w, _)| weight > *w) {
            best = Some((weight, proof));
        }
    }
    let (weight, mut proof) = best?;
    let (given, needed_by_evidence) = match evidence {
        Some((e, p_e)) => {
            let e_node = circuit.roots()[e];
            (p_e, minimal(circuit, e_node.index(), slots.len(), proof.clone(), &cost))
        }
        None => (1.0, Vec::new()),
    };
    proof.retain(|l| !needed_by_evidence.contains(l));
    let named = |mut literals: Vec<deeplog_circuits::Literal>| {
        literals.sort_by_key(|l| (slots[l.slot.0 as usize].choice, slots[l.slot.0 as usize].alternative, !l.positive));
        literals
            .iter()
            .map(|l| {
                let name = &slots[l.slot.0 as usize].name;
                if l.positive {
                    name.clone()
                } else {
                    format!("\\+{name}")
                }
            })
            .collect()
    };
    Some(Explanation {
        probability: (weight.exp() / given).min(1.0),
        facts: named(proof),
        evidence: named(needed_by_evidence),
    })
}

/// A proof in the circuit's slots read as the program's atoms: an
/// annotated disjunction's slots are a chain (alternative `k` true when
/// slot `k` is and the earlier ones are not), so a slot literal is not an
/// alternative's literal. A chain's first true slot `k` in the proof becomes
/// alternative `k` (its other literals dropped: implied), and a chain with
/// only false slots, the latest `j`, becomes "none of alternatives 1..j" —
/// each a sub-event of what the slots said, so the proof still entails the
/// query, and its probability is the alternatives' own (`P(y) = 0.5` for
/// `0.3::x; 0.5::y`, not its slot's `0.5 / 0.7`).
fn as_alternatives(
    literals: Vec<deeplog_circuits::Literal>,
    slots: &[SlotInfo],
    disjunctive: &[bool],
) -> Vec<deeplog_circuits::Literal> {
    use deeplog_circuits::{Literal, SlotId};
    let mut out: Vec<Literal> = literals.iter().copied().filter(|l| !disjunctive[l.slot.0 as usize]).collect();
    let mut choices: Vec<usize> =
        literals.iter().filter(|l| disjunctive[l.slot.0 as usize]).map(|l| slots[l.slot.0 as usize].choice).collect();
    choices.sort_unstable();
    choices.dedup();
    for choice in choices {
        let of_choice = |l: &&Literal| slots[l.slot.0 as usize].choice == choice;
        let alternative = |l: &Literal| slots[l.slot.0 as usize].alternative;
        let first_true = literals.iter().filter(of_choice).filter(|l| l.positive).min_by_key(|l| alternative(l));
        match first_true {
            Some(&l) => out.push(l),
            None => {
                let last = literals.iter().filter(of_choice).map(alternative).max().unwrap_or(0);
                for (s, info) in slots.iter().enumerate() {
                    if info.choice == choice && info.alternative <= last {
                        out.push(Literal { slot: SlotId(s as u32), positive: false });
                    }
                }
            }
        }
    }
    out
}

/// `ln` of a proof literal's probability as [`as_alternatives`] reads it:
/// a true alternative its own probability `p_k = c_k · Π_{i<k} (1 − c_i)`,
/// anything else its slot's weight.
fn alternative_log_weight(slots: &[SlotInfo], disjunctive: &[bool], l: deeplog_circuits::Literal) -> f64 {
    let info = &slots[l.slot.0 as usize];
    if !(l.positive && disjunctive[l.slot.0 as usize]) {
        return log_weight(slots, l);
    }
    let before: f64 = slots
        .iter()
        .filter(|s| s.choice == info.choice && s.alternative < info.alternative)
        .map(|s| (1.0 - s.probability).ln())
        .sum();
    info.probability.ln() + before
}

/// `literals`, a path to the node at `root` (so they entail it), less every
/// literal that the others entail it without, the costliest tried first.
fn minimal(
    circuit: &Circuit,
    root: usize,
    slots: usize,
    mut literals: Vec<deeplog_circuits::Literal>,
    cost: &impl Fn(deeplog_circuits::Literal) -> f64,
) -> Vec<deeplog_circuits::Literal> {
    let mut fixed: Vec<Option<bool>> = vec![None; slots];
    for l in &literals {
        fixed[l.slot.0 as usize] = Some(l.positive);
    }
    literals.sort_by(|a, b| cost(*a).total_cmp(&cost(*b)));
    let mut kept = Vec::with_capacity(literals.len());
    for l in literals {
        fixed[l.slot.0 as usize] = None;
        if !entails(circuit, root, &fixed) {
            fixed[l.slot.0 as usize] = Some(l.positive);
            kept.push(l);
        }
    }
    kept
}

/// Whether the slot values `fixed` make the node at `root` true whatever
/// the other slots are: its probability with every other slot at 1/2 is 1.
/// (The circuit is deterministic and decomposable, so a slot a branch does
/// not mention weighs `1/2 + 1/2` there, smooth or not; with every value a
/// dyadic fraction the sum is exact until paths hold more than 50 free
/// slots, where a tolerance of 1e-12 decides.)
fn entails(circuit: &Circuit, root: usize, fixed: &[Option<bool>]) -> bool {
    use deeplog_circuits::Node;
    let nodes = &circuit.nodes()[..=root];
    let mut value = Vec::with_capacity(nodes.len());
    for node in nodes {
        let v = match node {
            Node::False => 0.0,
            Node::True => 1.0,
            Node::Literal(l) => match fixed[l.slot.0 as usize] {
                Some(v) => f64::from(u8::from(v == l.positive)),
                None => 0.5,
            },
            Node::Product(cs) => cs.iter().map(|c| value[c.index()]).product(),
            Node::Sum(cs) => cs.iter().map(|c| value[c.index()]).sum(),
        };
        value.push(v);
    }
    value[root] >= 1.0 - 1e-12
}

/// Whether some world of nonzero probability makes `root` true.
fn possible(circuit: &Circuit, slots: &[SlotInfo], root: usize) -> bool {
    let weight = |l: deeplog_circuits::Literal| {
        let p = slots[l.slot.0 as usize].probability;
        if (l.positive && p > 0.0) || (!l.positive && p < 1.0) {
            0.0
        } else {
            f64::NEG_INFINITY
        }
    };
    heaviest(circuit, circuit.roots()[root], weight).is_some()
}

/// Per node of a decomposable circuit, whether some world makes it true
/// (whatever the weights): a product where all its children are, a sum
/// where one is.
fn satisfiable_nodes(circuit: &Circuit) -> Vec<bool> {
    use deeplog_circuits::Node;
    let mut sat = Vec::with_capacity(circuit.num_nodes());
    for node in circuit.nodes() {
        let s = match node {
            Node::False => false,
            Node::True | Node::Literal(_) => true,
            Node::Product(cs) => cs.iter().all(|c| sat[c.index()]),
            Node::Sum(cs) => cs.iter().any(|c| sat[c.index()]),
        };
        sat.push(s);
    }
    sat
}

/// `ln` of the probability of the most probable world under `root` of a
/// circuit smoothed over every slot (so every world names every slot).
///
/// An annotated disjunction is a chain of slots whose slots after the
/// chosen alternative must be summed out, not maximised; so each chain's
/// weights are rescaled as `deeplog mpe` rescales them (`src/tasks.rs`):
/// with `A_{k+1} = 1` and `A_j = max(c_j, (1 − c_j) · A_{j+1})`, slot `j`
/// weighs `c_j / A_j` true and `(1 − c_j) · A_{j+1} / A_j` false, and the
/// heaviest path times `Π A_1` is the most probable world's probability (a
/// fact is a chain of one: `p / max(p, 1 − p)`, the same world as before).
fn most_probable_world(smoothed: &Circuit, slots: &[SlotInfo], root: usize) -> f64 {
    let mut chains: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for (s, info) in slots.iter().enumerate() {
        chains.entry(info.choice).or_default().push(s);
    }
    let mut weights = vec![(0.0f64, 0.0f64); slots.len()];
    let mut scale = 0.0;
    for chain in chains.values_mut() {
        chain.sort_by_key(|&s| slots[s].alternative);
        let conditionals: Vec<f64> = chain.iter().map(|&s| slots[s].probability).collect();
        let best = crate::tasks::completions(&conditionals, 1.0);
        for (j, (&s, &c)) in chain.iter().zip(&conditionals).enumerate() {
            weights[s] = crate::tasks::rescaled(c, best[j], best[j + 1]);
        }
        scale += best[0].ln();
    }
    let weight = |l: deeplog_circuits::Literal| {
        let (t, f) = weights[l.slot.0 as usize];
        if l.positive {
            t
        } else {
            f
        }
    };
    heaviest(smoothed, smoothed.roots()[root], weight).map_or(f64::NEG_INFINITY, |(w, _)| w + scale)
}

/// `ln` of a literal's probability: its slot's `p`, or `1 − p` negated.
fn log_weight(slots: &[SlotInfo], l: deeplog_circuits::Literal) -> f64 {
    let p = slots[l.slot.0 as usize].probability;
    if l.positive {
        p.ln()
    } else {
        (1.0 - p).ln()
    }
}
