//! Learning a model's parameters — its `t(p)::` facts and learnable
//! annotated disjunctions — by gradient descent on examples.
//!
//! Examples are queries with a target probability (`heads(c1)` holds with
//! probability 0.7) or partial interpretations (these atoms were observed
//! true, those false). The model is grounded and compiled **once**, every
//! distinct example becoming one root of its formula circuit
//! ([`crate::formulas`]); an epoch is one forward and one backward pass over
//! all of them, and Adam updates the parameters. The loss is the mean of
//! the examples' cross-entropies: `−(t ln P + (1 − t) ln(1 − P))` for a query
//! with target `t`, `−ln P(evidence)` for a partial interpretation — plus
//! the model's constraints, `Σ weight · −ln P(constraint)` (semantic loss:
//! logic in the loss beside the queries' logic in the architecture).
//!
//! A learnable fact is kept a probability through a sigmoid, a learnable
//! annotated disjunction through a softmax over its alternatives and the
//! implicit "none of them", so its probabilities stay non-negative and sum
//! to at most 1.
//!
//! ```
//! use deeplog::learn::{train, Example, TrainOptions};
//! use deeplog::Model;
//!
//! let model = Model::from_source("coin.pl", "t(0.5)::heads.\n").unwrap();
//! let examples: Vec<Example> = [true, true, false, true]
//!     .iter()
//!     .map(|&h| Example::Evidence { evidence: vec![("heads".to_string(), h)] })
//!     .collect();
//! let trained = train(&model, &examples, &TrainOptions { epochs: 300, ..TrainOptions::default() }).unwrap();
//! assert!((trained.parameters[0].value - 0.75).abs() < 0.01);
//! ```

use std::collections::HashMap;

use deeplog_language::model::Logic;

use deeplog_language::diagnostic::Diagnostic;

use crate::error::Error;
use crate::formulas::Formulas;
use crate::{Model, QueryOptions};

/// One training example.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Example {
    /// `query` holds with probability `probability` (1 for an observed
    /// positive example).
    Query { query: String, probability: f64 },
    /// A partial interpretation: each atom was observed with this truth
    /// value.
    Evidence { evidence: Vec<(String, bool)> },
}

impl Example {
    /// The formula whose probability the example is about.
    fn formula(&self) -> String {
        match self {
            Example::Query { query, .. } => format!("({query})"),
            Example::Evidence { evidence } if evidence.is_empty() => "true".to_string(),
            Example::Evidence { evidence } => {
                let literals: Vec<String> = evidence
                    .iter()
                    .map(|(atom, value)| if *value { format!("({atom})") } else { format!("not ({atom})") })
                    .collect();
                format!("({})", literals.join(" and "))
            }
        }
    }

    /// The target probability of the example's formula.
    fn target(&self) -> f64 {
        match self {
            Example::Query { probability, .. } => *probability,
            Example::Evidence { .. } => 1.0,
        }
    }
}

/// How to train.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub epochs: usize,
    /// Adam's step size, in logit space.
    pub learning_rate: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { epochs: 100, learning_rate: 0.05 }
    }
}

/// A learned parameter: a fact's probability, or one alternative's.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Parameter {
    pub name: String,
    pub value: f64,
}

/// What training found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Trained {
    /// Every learnable probability, in the model's order.
    pub parameters: Vec<Parameter>,
    /// Mean loss of each epoch (before its update).
    pub losses: Vec<f64>,
}

/// The learnable choices, as logits.
struct Parameterization {
    /// Per learnable choice: its input rows (one for a fact, one per
    /// alternative of a disjunction).
    groups: Vec<Vec<usize>>,
    /// Per group: a fact's logit, or the alternatives' logits then the
    /// logit of "none".
    logits: Vec<Vec<f64>>,
}

impl Parameterization {
    fn new(formulas: &Formulas) -> Parameterization {
        let mut by_choice: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, input) in formulas.inputs().iter().enumerate().filter(|(_, input)| input.learnable) {
            match by_choice.last_mut() {
                Some((choice, rows)) if *choice == input.choice => rows.push(i),
                _ => by_choice.push((input.choice, vec![i])),
            }
        }
        let values = formulas.initial_values();
        let logits = by_choice
            .iter()
            .map(|(_, rows)| {
                let p: Vec<f64> = rows.iter().map(|&i| values[i].clamp(1e-6, 1.0 - 1e-6)).collect();
                if let [p] = p[..] {
                    return vec![(p / (1.0 - p)).ln()];
                }
                // A disjunction whose initial values leave no room for
                // "none" (as `t(_)` everywhere does) starts uniform.
                let total: f64 = p.iter().sum();
                let k = p.len() as f64;
                let (p, none) =
                    if total < 1.0 { (p, 1.0 - total) } else { (vec![1.0 / (k + 1.0); p.len()], 1.0 / (k + 1.0)) };
                p.iter().chain([none].iter()).map(|x| x.ln()).collect()
            })
            .collect();
        Parameterization { groups: by_choice.into_iter().map(|(_, rows)| rows).collect(), logits }
    }

    fn probabilities(logits: &[f64]) -> Vec<f64> {
        if let [x] = logits {
            return vec![1.0 / (1.0 + (-x).exp())];
        }
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|x| (x - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        e.iter().map(|x| x / sum).collect()
    }

    /// The input values with every learnable choice at the centre of its
    /// range: a fact at 1/2, each of `k` alternatives at 1/(k + 1).
    fn values_at_centre(&self, base: &[f64]) -> Vec<f64> {
        let mut values = base.to_vec();
        for rows in &self.groups {
            let p = if rows.len() == 1 { 0.5 } else { 1.0 / (rows.len() + 1) as f64 };
            rows.iter().for_each(|&i| values[i] = p);
        }
        values
    }

    /// The input values with the current parameters.
    fn values(&self, base: &[f64]) -> Vec<f64> {
        let mut values = base.to_vec();
        for (rows, logits) in self.groups.iter().zip(&self.logits) {
            for (&i, p) in rows.iter().zip(Self::probabilities(logits)) {
                values[i] = p;
            }
        }
        values
    }

    /// The gradient with respect to the logits, from the gradient with
    /// respect to the inputs.
    fn chain(&self, grads: &[f64]) -> Vec<Vec<f64>> {
        self.groups
            .iter()
            .zip(&self.logits)
            .map(|(rows, logits)| {
                let p = Self::probabilities(logits);
                if let [p] = p[..] {
                    return vec![grads[rows[0]] * p * (1.0 - p)];
                }
                // ∂p_i/∂θ_j = p_i (δ_ij − p_j); "none" has no input, so its
                // gradient is 0.
                let g: Vec<f64> = (0..p.len()).map(|i| rows.get(i).map_or(0.0, |&r| grads[r])).collect();
                let dot: f64 = g.iter().zip(&p).map(|(g, p)| g * p).sum();
                p.iter().zip(&g).map(|(p, g)| p * (g - dot)).collect()
            })
            .collect()
    }
}

/// Trains `model`'s learnable parameters on `examples` (probability logic).
///
/// An example the model cannot explain is an [`Error::Example`] naming it:
/// a probability outside [0, 1], text that is not one formula, an atom of
/// a predicate the model never defines, evidence no world of the model
/// satisfies, or a query whose probability is fixed at 0 or 1 while the
/// example asks for another.
pub fn train(model: &Model, examples: &[Example], options: &TrainOptions) -> Result<Trained, Error> {
    train_with(model, examples, options, |_, _| {})
}

/// The distinct formulas of the examples, each one query of the augmented
/// model.
pub(crate) struct Distinct {
    formula: String,
    /// What it observes, for messages: `` `q(a)` ``, or the evidence.
    observed: Observed,
    target: f64,
    /// How many examples it stands for.
    pub(crate) weight: f64,
    /// The first of them (0-based), to name in messages.
    pub(crate) example: usize,
    /// Its `query(…).` line in the text appended to the model.
    text: std::ops::Range<usize>,
}

/// What an example observes.
enum Observed {
    Query(String),
    Evidence(Vec<(String, bool)>),
}

/// One query per distinct example formula, weighted by how often it
/// occurs; each example checked on its own first.
pub(crate) fn distinct_examples(examples: &[Example]) -> Result<Vec<Distinct>, Error> {
    let mut index: HashMap<(String, u64), usize> = HashMap::new();
    let mut distinct: Vec<Distinct> = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        // An empty interpretation observes nothing: it holds in every
        // world, so it adds 0 to the loss and nothing to the gradient, but
        // still counts in the mean.
        if matches!(e, Example::Evidence { evidence } if evidence.is_empty()) {
            continue;
        }
        let bad = |message: String| Error::Example { index: i, message };
        let target = e.target();
        if !(0.0..=1.0).contains(&target) {
            return Err(bad(format!("probability {target} is not in [0, 1]")));
        }
        let formula = e.formula();
        // Exactly one clause, `query(F)`: text that closes the formula and
        // goes on (`a)). b :- c. query((a`) would add clauses to the model.
        let one_query = deeplog_language::parse(&format!("query({formula})."))
            .is_ok_and(|p| matches!(&p.clauses[..], [c] if matches!(c.term.as_compound(), Some(("query", [_])))));
        if !one_query {
            return Err(bad(format!("`{formula}` is not a formula")));
        }
        let k = *index.entry((formula.clone(), target.to_bits())).or_insert_with(|| {
            let observed = match e {
                Example::Query { query, .. } => Observed::Query(query.clone()),
                Example::Evidence { evidence } => Observed::Evidence(evidence.clone()),
            };
            distinct.push(Distinct { formula, observed, target, weight: 0.0, example: i, text: 0..0 });
            distinct.len() - 1
        });
        distinct[k].weight += 1.0;
    }
    if distinct.is_empty() {
        return Err(Error::Input(
            "every example is an empty interpretation: none observes anything to learn from".to_string(),
        ));
    }
    Ok(distinct)
}

/// `model` with one `query(F).` per distinct example (recording where each
/// is). A checker error or warning in an example's query — a predicate
/// the model never defines, a query that is no atom — is an error of that
/// example, as `deeplog query` reports it for a query in the model.
pub(crate) fn with_example_queries(model: &Model, distinct: &mut [Distinct]) -> Result<Model, Error> {
    let mut extra = String::new();
    for d in distinct.iter_mut() {
        extra.push('\n');
        let start = extra.len();
        extra.push_str(&format!("query({}).", d.formula));
        d.text = start..extra.len();
    }
    // Where a span in the augmented text falls: the example whose query
    // holds it. The extra text is appended after the model's and a newline.
    let locate = |source: &str, diagnostics: &[Diagnostic]| -> Option<Error> {
        let offset = source.len().checked_sub(extra.len() + 1)?;
        diagnostics.iter().find_map(|d| {
            let at = d.span.start.checked_sub(offset)?;
            let example = distinct.iter().find(|x| x.text.contains(&at))?;
            let mut message = d.message.clone();
            d.notes.iter().for_each(|n| message.push_str(&format!("; {n}")));
            Some(Error::Example { index: example.example, message })
        })
    };
    match model.with_source_appended(&extra) {
        Ok(augmented) => {
            let (source, diagnostics) = augmented.diagnostics();
            match locate(source, diagnostics) {
                Some(e) => Err(e),
                None => Ok(augmented),
            }
        }
        Err(Error::Invalid(d)) => Err(locate(&d.source, &d.diagnostics).unwrap_or(Error::Invalid(d))),
        Err(e) => Err(e),
    }
}

/// The index of the first example's query among the formulas' queries:
/// the examples' queries come last, one per distinct example.
pub(crate) fn first_example_query(formulas: &Formulas, distinct: &[Distinct]) -> Result<usize, Error> {
    formulas.queries().len().checked_sub(distinct.len()).ok_or_else(|| {
        Error::Input(format!(
            "{} distinct examples but {} queries in the model built for them",
            distinct.len(),
            formulas.queries().len()
        ))
    })
}

/// Refuses, before training, an example whose probability no value of the
/// learnable parameters can move: evidence or a query that holds in no
/// world of the model (or in every world) while the example asks for
/// more (or less). The model is evaluated with every learnable parameter
/// strictly inside (0, 1), where a probability is 0 only if it is 0 for
/// every value of them. A constraint that can never hold is refused too:
/// its loss is infinite.
fn check_possible(formulas: &Formulas, params: &Parameterization, distinct: &[Distinct]) -> Result<(), Error> {
    let values = params.values_at_centre(&formulas.initial_values());
    let evaluation = formulas.evaluate(&values)?;
    let first = first_example_query(formulas, distinct)?;
    for (k, d) in distinct.iter().enumerate() {
        let p = evaluation.queries[first + k];
        let message = match (&d.observed, p) {
            (Observed::Evidence(atoms), 0.0) => {
                let literals: Vec<String> =
                    atoms.iter().map(|(a, v)| format!("`{a}` {}", if *v { "true" } else { "false" })).collect();
                format!("the evidence is impossible: no world of the model has {}", literals.join(" and "))
            }
            (Observed::Query(q), 0.0) if d.target > 0.0 => {
                let given = if d.target < 1.0 {
                    format!(", and the example gives it probability {}", d.target)
                } else {
                    String::new()
                };
                format!("`{q}` has probability zero: no world of the model makes it true{given}")
            }
            (Observed::Query(q), 1.0) if d.target < 1.0 => {
                format!("`{q}` holds in every world of the model, and the example gives it probability {}", d.target)
            }
            (_, p) if p.is_nan() => "the model's own evidence is impossible".to_string(),
            _ => continue,
        };
        return Err(Error::Example { index: d.example, message });
    }
    if !evaluation.loss.is_finite() {
        let never: Vec<String> = formulas
            .constraints()
            .iter()
            .zip(&evaluation.constraints)
            .filter(|(_, &p)| p == 0.0)
            .map(|(c, _)| format!("`{}`", c.text))
            .collect();
        return Err(Error::Input(format!(
            "the constraints' loss is {}: {} can never hold",
            evaluation.loss,
            if never.is_empty() { "a constraint".to_string() } else { never.join(", ") }
        )));
    }
    Ok(())
}

/// [`train`], calling `on_epoch` after every epoch with its number (from 1)
/// and mean loss.
pub fn train_with(
    model: &Model,
    examples: &[Example],
    options: &TrainOptions,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<Trained, Error> {
    if examples.is_empty() {
        return Err(Error::Input("no training examples".to_string()));
    }
    let mut distinct = distinct_examples(examples)?;
    let augmented = with_example_queries(model, &mut distinct)?;
    let formulas = augmented.formulas(&QueryOptions { logic: Some(Logic::Probability), ..QueryOptions::default() })?;
    let first = first_example_query(&formulas, &distinct)?;
    let mut params = Parameterization::new(&formulas);
    check_possible(&formulas, &params, &distinct)?;
    if params.groups.is_empty() {
        return Err(Error::Input("the model has no learnable parameters (`t(p)::` facts)".to_string()));
    }
    let base = formulas.initial_values();
    let total = examples.len() as f64;
    let (beta1, beta2, eps) = (0.9, 0.999, 1e-8);
    let mut m: Vec<Vec<f64>> = params.logits.iter().map(|l| vec![0.0; l.len()]).collect();
    let mut v = m.clone();
    let mut losses = Vec::with_capacity(options.epochs);
    for epoch in 1..=options.epochs {
        let values = params.values(&base);
        let evaluation = formulas.evaluate(&values)?;
        let probabilities = evaluation.queries;
        let mut seeds = vec![0.0; probabilities.len()];
        let mut loss = 0.0;
        for (k, d) in distinct.iter().enumerate() {
            // A parameter driven to the edge of [0, 1] may round a
            // probability to 0 or 1; the clamp keeps the loss finite there.
            let (t, w) = (d.target, d.weight);
            let p = probabilities[first + k].clamp(1e-12, 1.0 - 1e-12);
            loss -= w * (t * p.ln() + (1.0 - t) * (1.0 - p).ln());
            seeds[first + k] = -w * (t / p - (1.0 - t) / (1.0 - p)) / total;
        }
        loss = loss / total + evaluation.loss;
        // The examples' terms are clamped; a constraint that the current
        // parameters make impossible is not.
        if !loss.is_finite() {
            return Err(Error::Input(format!(
                "epoch {epoch}: the loss is {loss}: the parameters reached values where a constraint has \
                 probability zero (its loss: {})",
                evaluation.loss
            )));
        }
        losses.push(loss);
        on_epoch(epoch, loss);
        let (_, grads) = formulas.gradient_with_loss(&values, &seeds, 1.0)?;
        let step = epoch as i32;
        let logit_grads = params.chain(&grads);
        for (((logits, g), m), v) in params.logits.iter_mut().zip(&logit_grads).zip(&mut m).zip(&mut v) {
            for j in 0..logits.len() {
                m[j] = beta1 * m[j] + (1.0 - beta1) * g[j];
                v[j] = beta2 * v[j] + (1.0 - beta2) * g[j] * g[j];
                let (mh, vh) = (m[j] / (1.0 - beta1.powi(step)), v[j] / (1.0 - beta2.powi(step)));
                logits[j] -= options.learning_rate * mh / (vh.sqrt() + eps);
            }
        }
    }
    let values = params.values(&base);
    let parameters = params
        .groups
        .iter()
        .flatten()
        .map(|&i| Parameter { name: formulas.inputs()[i].name.clone(), value: values[i] })
        .collect();
    Ok(Trained { parameters, losses })
}
