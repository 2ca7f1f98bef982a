//! Training a model's networks through its circuit: epochs over the
//! examples in a seeded random order, each batch one
//! [`NeuralModel::train_step`] (one batched circuit evaluation, one step of
//! every network), and after each epoch a report of its loss, its accuracy
//! on the training examples and, where given, on held-out ones.
//!
//! The caller hears of progress through a callback — after every batch, so
//! that a progress bar can move, and after every epoch — and may stop the
//! run from it with an error of its own (a file that could not be saved).
//! Same seed, same networks, same examples: the same run.
//!
//! ```
//! use std::collections::HashMap;
//! use deeplog::neural::train::{train, Progress, TrainOptions};
//! use deeplog::neural::{Network, NeuralModel};
//! use deeplog::{Model, QueryOptions};
//!
//! /// A network that answers a fair coin for every input and learns nothing.
//! struct Fair;
//! impl Network for Fair {
//!     fn forward(&mut self, inputs: &[Vec<String>]) -> Result<Vec<f64>, String> {
//!         Ok(vec![0.5; 2 * inputs.len()])
//!     }
//!     fn backward(&mut self, _: &[f64]) -> Result<(), String> {
//!         Ok(())
//!     }
//! }
//!
//! let model = Model::from_source("bit.pl", "nn(net, [X], Y, [0, 1])::bit(X, Y).\nquery(bit(a, Y)).\n")?;
//! let model = NeuralModel::new(&model, &QueryOptions::default())?;
//! let examples = vec![model.example("bit(x1,1)")?, model.example("bit(x2,0)")?];
//! let mut networks: HashMap<String, Box<dyn Network>> = HashMap::from([("net".to_string(), Box::new(Fair) as _)]);
//! let options = TrainOptions { epochs: 3, ..TrainOptions::default() };
//! let reports = train(&model, &mut networks, &examples, None, &options, |progress| {
//!     if let Progress::Epoch(report) = progress {
//!         println!("epoch {}: loss {:.4}", report.epoch, report.loss);
//!     }
//!     Ok::<(), deeplog::Error>(())
//! })?;
//! assert_eq!(reports.len(), 3);
//! assert!((reports[2].loss - 2f64.ln()).abs() < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{Network, NeuralExample, NeuralModel};
use crate::error::Error;

/// How to train.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainOptions {
    /// Passes over the examples.
    pub epochs: usize,
    /// Examples per training step (at least 1).
    pub batch: usize,
    /// Seeds the order of the examples in every epoch.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { epochs: 10, batch: 16, seed: 1 }
    }
}

/// An epoch's figures: over the examples seen so far while it runs, over
/// all of them once it is done.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EpochReport {
    /// From 1.
    pub epoch: usize,
    /// Training examples the figures cover.
    pub examples: usize,
    /// Mean of `−ln P(query)` over those examples, each taken before the
    /// step its batch made.
    pub loss: f64,
    /// Share of those examples whose answer was the most probable of its
    /// shape.
    pub train_accuracy: f64,
    /// The same share on the held-out examples, after the epoch; `None`
    /// while it runs, or without held-out examples.
    pub test_accuracy: Option<f64>,
    /// Wall-clock seconds of the epoch's training steps (not of the test).
    pub seconds: f64,
}

impl EpochReport {
    /// Training speed.
    pub fn examples_per_second(&self) -> f64 {
        self.examples as f64 / self.seconds.max(1e-9)
    }
}

/// What [`train`] tells its caller.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// After a batch: the epoch so far.
    Batch(&'a EpochReport),
    /// After an epoch, held-out accuracy included: the networks now are
    /// the ones this report describes (the moment to save them).
    Epoch(&'a EpochReport),
}

/// Trains `networks` on `examples` for `options.epochs` epochs, shuffling
/// the examples anew each epoch and stepping every network once per batch;
/// measures each epoch's accuracy on `test` where given. `on_progress`
/// hears of every batch and every epoch, and an error it returns stops the
/// run. Returns every epoch's report.
pub fn train<E: From<Error>>(
    model: &NeuralModel,
    networks: &mut HashMap<String, Box<dyn Network>>,
    examples: &[NeuralExample],
    test: Option<&[NeuralExample]>,
    options: &TrainOptions,
    mut on_progress: impl FnMut(Progress<'_>) -> Result<(), E>,
) -> Result<Vec<EpochReport>, E> {
    if examples.is_empty() {
        return Err(Error::Input("no training examples".to_string()).into());
    }
    if options.batch == 0 {
        return Err(Error::Input("a batch of no examples".to_string()).into());
    }
    let mut rng = StdRng::seed_from_u64(options.seed);
    // Shuffled in place every epoch: each epoch's order is a new
    // permutation of the last one's.
    let mut order = examples.to_vec();
    let mut reports = Vec::with_capacity(options.epochs);
    for epoch in 1..=options.epochs {
        order.shuffle(&mut rng);
        let start = Instant::now();
        let (mut loss, mut right) = (0.0, 0);
        let mut report =
            EpochReport { epoch, examples: 0, loss: 0.0, train_accuracy: 0.0, test_accuracy: None, seconds: 0.0 };
        for batch in order.chunks(options.batch) {
            let result = model.train_step(networks, batch)?;
            loss += result.loss * batch.len() as f64;
            right += batch.iter().zip(&result.probabilities).filter(|(e, p)| model.most_probable(e, p)).count();
            report.examples += batch.len();
            report.loss = loss / report.examples as f64;
            report.train_accuracy = right as f64 / report.examples as f64;
            report.seconds = start.elapsed().as_secs_f64();
            on_progress(Progress::Batch(&report))?;
        }
        report.test_accuracy = test.map(|t| accuracy(model, networks, t)).transpose()?;
        on_progress(Progress::Epoch(&report))?;
        reports.push(report);
    }
    Ok(reports)
}

/// Share of `examples` whose answer is the most probable of its shape,
/// networks forward only (256 examples a batch); 0 for no examples.
pub fn accuracy(
    model: &NeuralModel,
    networks: &mut HashMap<String, Box<dyn Network>>,
    examples: &[NeuralExample],
) -> Result<f64, Error> {
    if examples.is_empty() {
        return Ok(0.0);
    }
    let mut right = 0;
    for chunk in examples.chunks(256) {
        let p = model.evaluate(networks, chunk)?;
        right += chunk.iter().zip(&p).filter(|(e, p)| model.most_probable(e, p)).count();
    }
    Ok(right as f64 / examples.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Model, QueryOptions};

    /// One learnable distribution over `{0, 1}` per input, by plain
    /// gradient descent on its logits.
    struct Table {
        logits: HashMap<String, [f64; 2]>,
        last: Vec<String>,
    }

    impl Table {
        fn new() -> Table {
            Table { logits: HashMap::new(), last: Vec::new() }
        }

        fn distribution(&self, input: &str) -> [f64; 2] {
            let [a, b] = self.logits.get(input).copied().unwrap_or([0.0, 0.0]);
            let p = 1.0 / (1.0 + (b - a).exp());
            [p, 1.0 - p]
        }
    }

    impl Network for Table {
        fn forward(&mut self, inputs: &[Vec<String>]) -> Result<Vec<f64>, String> {
            self.last = inputs.iter().map(|i| i[0].clone()).collect();
            Ok(self.last.iter().flat_map(|i| self.distribution(i)).collect())
        }

        fn backward(&mut self, gradient: &[f64]) -> Result<(), String> {
            for (k, input) in self.last.iter().enumerate() {
                let p = self.distribution(input);
                let (g0, g1) = (gradient[2 * k], gradient[2 * k + 1]);
                // Through the softmax: ∂L/∂logit_j = p_j (g_j − Σ p g).
                let mean = p[0] * g0 + p[1] * g1;
                let logits = self.logits.entry(input.clone()).or_insert([0.0, 0.0]);
                logits[0] -= p[0] * (g0 - mean);
                logits[1] -= p[1] * (g1 - mean);
            }
            Ok(())
        }
    }

    /// `sum(a, b, Z)` of two bits a network reads: a bit is learnt only
    /// through the sums it takes part in.
    fn task() -> (NeuralModel, Vec<NeuralExample>) {
        let text = "nn(net, [X], Y, [0, 1])::bit(X, Y).\n\
                    sum(X1, X2, Z) :- bit(X1, A), bit(X2, B), Z is A + B.\n\
                    query(sum(a, b, Z)).\n";
        let model = NeuralModel::new(&Model::from_source("sum.pl", text).unwrap(), &QueryOptions::default()).unwrap();
        let bits = [1, 0, 1, 1, 0, 0, 1, 0];
        let mut examples = Vec::new();
        for i in 0..bits.len() {
            for j in 0..bits.len() {
                if i != j && (i + j) % 3 == 0 {
                    let atom = format!("sum(x{i},x{j},{})", bits[i] + bits[j]);
                    examples.push(model.example(&atom).unwrap());
                }
            }
        }
        (model, examples)
    }

    fn table() -> HashMap<String, Box<dyn Network>> {
        HashMap::from([("net".to_string(), Box::new(Table::new()) as Box<dyn Network>)])
    }

    fn run(seed: u64, epochs: usize, batch: usize) -> (Vec<EpochReport>, usize) {
        let (model, examples) = task();
        let options = TrainOptions { epochs, batch, seed };
        let mut batches = 0;
        let reports = train(&model, &mut table(), &examples, Some(&examples), &options, |p| {
            batches += matches!(p, Progress::Batch(_)) as usize;
            Ok::<(), Error>(())
        })
        .unwrap();
        (reports, batches)
    }

    #[test]
    fn every_epoch_reports_all_examples_after_one_callback_per_batch() {
        let examples = task().1.len();
        let (reports, batches) = run(1, 3, 4);
        assert_eq!(reports.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(reports.iter().all(|r| r.examples == examples && r.test_accuracy.is_some()));
        assert_eq!(batches, 3 * examples.div_ceil(4));
    }

    #[test]
    fn the_loss_falls_and_the_same_seed_gives_the_same_run() {
        let (a, _) = run(7, 30, 2);
        let (b, _) = run(7, 30, 2);
        assert_eq!(a.iter().map(|r| r.loss).collect::<Vec<_>>(), b.iter().map(|r| r.loss).collect::<Vec<_>>());
        let (first, last) = (a[0].loss, a[29].loss);
        assert!(last < first / 2.0, "{first} → {last}");
        assert!(a[29].train_accuracy > 0.9 && a[29].test_accuracy > Some(0.9), "{:?}", a[29]);
    }

    #[test]
    fn an_error_from_the_callback_stops_the_run() {
        let (model, examples) = task();
        let mut epochs = 0;
        let stopped = train(&model, &mut table(), &examples, None, &TrainOptions::default(), |p| match p {
            Progress::Epoch(_) => {
                epochs += 1;
                Err(Error::Input("disk full".to_string()))
            }
            Progress::Batch(_) => Ok(()),
        });
        assert!(matches!(stopped, Err(Error::Input(e)) if e == "disk full"));
        assert_eq!(epochs, 1);
    }

    #[test]
    fn no_examples_or_an_empty_batch_is_an_error() {
        let (model, examples) = task();
        let quiet = |_: Progress<'_>| Ok::<(), Error>(());
        let none = train(&model, &mut table(), &[], None, &TrainOptions::default(), quiet);
        assert!(matches!(none, Err(Error::Input(_))));
        let empty = TrainOptions { batch: 0, ..TrainOptions::default() };
        assert!(matches!(train(&model, &mut table(), &examples, None, &empty, quiet), Err(Error::Input(_))));
    }
}
