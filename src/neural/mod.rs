//! Neural predicates: networks at the leaves of the circuit, trained
//! through it.
//!
//! `nn(net, [X], Y, [0, …, 9])::digit(X, Y).` makes `digit(x, ·)` one
//! annotated disjunction over the domain for every input `x` the queries
//! reach, whose probabilities are network `net`'s outputs on `x`. A model is
//! compiled **once per query shape**: its queries name placeholder inputs
//! (`query(addition(a, b, Z)).`), and each example binds the placeholders to
//! real inputs (`a = img17, b = img4`). A batch of examples is then one
//! batched evaluation of the same circuit, its neural inputs filled column
//! by column from one batched forward pass of each network, and the
//! gradient of the loss with respect to every network output goes back to
//! the network through [`Network::backward`].
//!
//! The networks are the caller's: anything that implements [`Network`] —
//! with `--features candle`, `candle::CandleNetwork` wraps a model of
//! the candle deep-learning library — or, in the tests, a table of logits.
//! [`train`] runs the epochs.

#[cfg(feature = "candle")]
pub mod candle;
pub mod train;

use std::collections::HashMap;

use deeplog_language::syntax::TermKind;

use crate::error::Error;
use crate::formulas::{Formulas, QueryAtom};
use crate::{Model, QueryOptions};

/// A network behind a neural predicate.
pub trait Network {
    /// For each input — the ground terms the predicate's input variables
    /// are bound to, e.g. `["img17"]` — a probability distribution over the
    /// predicate's domain, in the domain's order: `[inputs.len() × domain]`;
    /// or why not (an input it does not know, say), which stops the caller
    /// with the network's name.
    fn forward(&mut self, inputs: &[Vec<String>]) -> Result<Vec<f64>, String>;
    /// The gradient of the loss with respect to the outputs of the last
    /// [`Network::forward`], in the same shape. The network takes its own
    /// step (its optimiser is its business).
    fn backward(&mut self, gradient: &[f64]) -> Result<(), String>;
}

/// A training or test example: placeholders bound to real inputs, and the
/// query that should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuralExample {
    /// Placeholder constant of the model's queries → the input it stands
    /// for in this example.
    pub bindings: HashMap<String, String>,
    /// Index of the query (in the model's answer order) that holds.
    pub query: usize,
}

/// One neural choice of the compiled model: its network, its inputs with
/// placeholders, and its input rows (one per domain value).
struct NeuralChoice {
    network: String,
    inputs: Vec<String>,
    rows: Vec<usize>,
}

/// One network input of a batch: neural choice `choice` for example
/// `example`, on these real inputs.
struct Call {
    choice: usize,
    example: usize,
    inputs: Vec<String>,
}

/// The calls of a batch, by network, in the order the network sees them.
type Calls = Vec<(String, Vec<Call>)>;

/// A model with neural predicates, compiled once.
pub struct NeuralModel {
    formulas: Formulas,
    choices: Vec<NeuralChoice>,
    /// Per query answer: its functor and printed arguments.
    answers: Vec<(String, Vec<String>)>,
}

/// A network the model calls: its name, how many inputs it takes and how
/// many values its output distribution has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkUse {
    pub name: String,
    pub inputs: usize,
    pub outputs: usize,
}

/// What one batch gave.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchResult {
    /// Mean of `−ln P(query)` over the batch.
    pub loss: f64,
    /// Per example, every query's probability.
    pub probabilities: Vec<Vec<f64>>,
}

impl NeuralModel {
    /// Grounds and compiles `model` (probability logic) once.
    pub fn new(model: &Model, options: &QueryOptions) -> Result<NeuralModel, Error> {
        let formulas = model.formulas(options)?;
        let mut choices: Vec<NeuralChoice> = Vec::new();
        for (row, input) in formulas.inputs().iter().enumerate() {
            let Some(network) = &input.network else { continue };
            match choices.last_mut() {
                Some(c) if formulas.inputs()[c.rows[0]].choice == input.choice => c.rows.push(row),
                _ => choices.push(NeuralChoice {
                    network: network.clone(),
                    inputs: input.network_inputs.clone(),
                    rows: vec![row],
                }),
            }
        }
        let answers = (formulas.query_atoms().iter().zip(formulas.queries()))
            .map(|(atom, text)| match atom {
                Some(QueryAtom { predicate, args }) => (predicate.clone(), args.clone()),
                None => (text.clone(), Vec::new()),
            })
            .collect();
        Ok(NeuralModel { formulas, choices, answers })
    }

    /// The networks the model calls, by first use.
    pub fn networks(&self) -> Vec<NetworkUse> {
        let mut uses: Vec<NetworkUse> = Vec::new();
        for c in &self.choices {
            if !uses.iter().any(|u| u.name == c.network) {
                uses.push(NetworkUse { name: c.network.clone(), inputs: c.inputs.len(), outputs: c.rows.len() });
            }
        }
        uses
    }

    /// The placeholders of the model's queries: the constants its neural
    /// predicates take as inputs, which an example binds to real inputs.
    pub fn placeholders(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for input in self.choices.iter().flat_map(|c| &c.inputs) {
            if !names.contains(input) {
                names.push(input.clone());
            }
        }
        names
    }

    /// The example a ground atom states: `sum2(img3, img9, 12)` against
    /// the compiled `sum2(a1, a2, Z)` binds `a1 = img3`, `a2 = img9` and
    /// names the answer `sum2(a1,a2,12)`. An atom no query answer has the
    /// shape of — another predicate, or a value outside the domain — is an
    /// error that says which answers there are.
    pub fn example(&self, atom: &str) -> Result<NeuralExample, String> {
        let (functor, args) = parse_atom(atom).ok_or_else(|| format!("`{atom}` is not an atom"))?;
        let placeholders = self.placeholders();
        let mut shaped = Vec::new();
        for (query, (f, pattern)) in self.answers.iter().enumerate() {
            if *f != functor || pattern.len() != args.len() {
                continue;
            }
            shaped.push(query);
            let mut bindings: HashMap<String, String> = HashMap::new();
            let fits = pattern.iter().zip(&args).all(|(p, a)| {
                if placeholders.contains(p) {
                    bindings.entry(p.clone()).or_insert_with(|| a.clone()) == a
                } else {
                    p == a
                }
            });
            if fits {
                return Ok(NeuralExample { bindings, query });
            }
        }
        let queries = self.formulas.queries();
        Err(match shaped.as_slice() {
            [] => format!(
                "`{atom}` is not the shape of any query of the model ({} answers, e.g. {})",
                queries.len(),
                queries.first().map_or("none", String::as_str)
            ),
            [first, ..] => format!(
                "`{atom}` is not among the model's answers for {functor}/{} ({} answers, from {} to {})",
                args.len(),
                shaped.len(),
                queries[*first],
                queries[shaped[shaped.len() - 1]]
            ),
        })
    }

    /// Whether `example`'s answer is the most probable of the answers of
    /// its shape (the same predicate and the same inputs), given every
    /// query's probability for it.
    pub fn most_probable(&self, example: &NeuralExample, probabilities: &[f64]) -> bool {
        let placeholders = self.placeholders();
        let (functor, pattern) = &self.answers[example.query];
        let same_shape = |(f, p): &(String, Vec<String>)| {
            f == functor
                && p.len() == pattern.len()
                && p.iter().zip(pattern).all(|(a, b)| a == b || !placeholders.contains(a) && !placeholders.contains(b))
        };
        let mine = probabilities[example.query];
        self.answers
            .iter()
            .enumerate()
            .filter(|(q, a)| *q != example.query && same_shape(a))
            .all(|(q, _)| probabilities[q] < mine)
    }

    /// The compiled model (its queries, inputs, size).
    pub fn formulas(&self) -> &Formulas {
        &self.formulas
    }

    /// Per neural choice and example: the network and its real inputs.
    fn calls(&self, examples: &[NeuralExample]) -> Calls {
        let mut calls: Calls = Vec::new();
        for (c, choice) in self.choices.iter().enumerate() {
            let at = match calls.iter().position(|(name, _)| *name == choice.network) {
                Some(at) => at,
                None => {
                    calls.push((choice.network.clone(), Vec::new()));
                    calls.len() - 1
                }
            };
            for (b, e) in examples.iter().enumerate() {
                let inputs = choice.inputs.iter().map(|i| e.bindings.get(i).unwrap_or(i).clone()).collect();
                calls[at].1.push(Call { choice: c, example: b, inputs });
            }
        }
        calls
    }

    /// Runs the networks and fills the input matrix `[inputs × batch]`.
    fn fill(
        &self,
        networks: &mut HashMap<String, Box<dyn Network>>,
        examples: &[NeuralExample],
    ) -> Result<(Vec<f64>, Calls), Error> {
        let batch = examples.len();
        let base = self.formulas.initial_values();
        let mut values: Vec<f64> = base.iter().flat_map(|&v| std::iter::repeat_n(v, batch)).collect();
        let calls = self.calls(examples);
        for (name, calls) in &calls {
            let network = networks
                .get_mut(name)
                .ok_or_else(|| Error::Input(format!("no network `{name}` was given for the neural predicate")))?;
            let inputs: Vec<Vec<String>> = calls.iter().map(|c| c.inputs.clone()).collect();
            let outputs =
                network.forward(&inputs).map_err(|message| Error::Network { network: name.clone(), message })?;
            let width = calls.first().map_or(0, |c| self.choices[c.choice].rows.len());
            if outputs.len() != calls.len() * width {
                return Err(Error::Network {
                    network: name.clone(),
                    message: format!("gave {} outputs for {} inputs × a domain of {width}", outputs.len(), calls.len()),
                });
            }
            for (k, call) in calls.iter().enumerate() {
                for (j, &row) in self.choices[call.choice].rows.iter().enumerate() {
                    values[row * batch + call.example] = outputs[k * width + j];
                }
            }
        }
        Ok((values, calls))
    }

    /// Every query's probability for each example, networks forward only.
    pub fn evaluate(
        &self,
        networks: &mut HashMap<String, Box<dyn Network>>,
        examples: &[NeuralExample],
    ) -> Result<Vec<Vec<f64>>, Error> {
        if examples.is_empty() {
            return Ok(Vec::new());
        }
        let (values, _) = self.fill(networks, examples)?;
        Ok(self.formulas.evaluate_batch(&values, examples.len())?.into_iter().map(|e| e.queries).collect())
    }

    /// One training step on a batch: forward through the networks and the
    /// circuit, the mean of `−ln P(query)` as the loss, and its gradient
    /// with respect to every network output handed to the networks.
    pub fn train_step(
        &self,
        networks: &mut HashMap<String, Box<dyn Network>>,
        examples: &[NeuralExample],
    ) -> Result<BatchResult, Error> {
        let batch = examples.len();
        if batch == 0 {
            return Err(Error::Input("an empty batch".to_string()));
        }
        let q = self.formulas.queries().len();
        if let Some(e) = examples.iter().find(|e| e.query >= q) {
            return Err(Error::Input(format!("an example names query {}, and the model has {q}", e.query)));
        }
        let (values, order) = self.fill(networks, examples)?;
        let probabilities: Vec<Vec<f64>> =
            self.formulas.evaluate_batch(&values, batch)?.into_iter().map(|e| e.queries).collect();
        let mut seeds = vec![0.0; q * batch];
        let mut loss = 0.0;
        for (b, e) in examples.iter().enumerate() {
            let p = probabilities[b][e.query].max(1e-12);
            loss -= p.ln();
            seeds[e.query * batch + b] = -1.0 / (p * batch as f64);
        }
        let (_, grads) = self.formulas.gradient_batch(&values, batch, &seeds)?;
        for (name, calls) in order {
            let width = calls.first().map_or(0, |c| self.choices[c.choice].rows.len());
            let mut gradient = vec![0.0; calls.len() * width];
            for (k, call) in calls.iter().enumerate() {
                for (j, &row) in self.choices[call.choice].rows.iter().enumerate() {
                    gradient[k * width + j] = grads[row * batch + call.example];
                }
            }
            if let Some(network) = networks.get_mut(&name) {
                network.backward(&gradient).map_err(|message| Error::Network { network: name.clone(), message })?;
            }
        }
        Ok(BatchResult { loss: loss / batch as f64, probabilities })
    }
}

/// An atom a user wrote (an example's `sum2(img3, img9, 12)`): its functor
/// and its arguments, printed as the model language prints them.
fn parse_atom(text: &str) -> Option<(String, Vec<String>)> {
    let program = deeplog_language::parse(&format!("{text}.")).ok()?;
    let [clause] = program.clauses.as_slice() else { return None };
    match &clause.term.kind {
        TermKind::Atom(name) => Some((name.clone(), Vec::new())),
        TermKind::Compound { functor, args } => Some((functor.clone(), args.iter().map(ToString::to_string).collect())),
        _ => None,
    }
}
