//! Digit addition: a classifier of single handwritten digits learns only
//! from the sums of N images, through deeplog's circuit.
//!
//! ```text
//! cargo run --release --features candle --example digit_addition -- N EPOCHS
//! ```
//!
//! `digits.csv` is scikit-learn's copy of the UCI optdigits test set (1,797
//! 8×8 images, pixels 0..16), shuffled with a fixed seed; the last fifth
//! is held out. Each training
//! example is N training images and the sum of their labels — never a
//! label itself. The model is compiled once:
//!
//! ```prolog
//! nn(net, [X], Y, [0,1,2,3,4,5,6,7,8,9])::digit(X, Y).
//! sum2(X1, X2, Z) :- digit(X1, A1), digit(X2, A2), Z is A1 + A2.
//! query(sum2(a1, a2, Z)).
//! ```
//!
//! and each batch binds `a1 … aN` to real images. The last line reads
//! `digits=N epochs=E sum_accuracy=A digit_accuracy=D seconds_per_epoch=S`.

use std::collections::HashMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use deeplog::neural::candle::{Architecture, CandleNetwork};
use deeplog::neural::{Network, NeuralExample, NeuralModel};
use deeplog::{Model, QueryOptions};

/// The model for sums of `n` digits.
fn model_text(n: usize) -> String {
    let xs: Vec<String> = (1..=n).map(|i| format!("X{i}")).collect();
    let body: Vec<String> = (1..=n).map(|i| format!("digit(X{i}, A{i})")).collect();
    let sum: Vec<String> = (1..=n).map(|i| format!("A{i}")).collect();
    let placeholders: Vec<String> = (1..=n).map(|i| format!("a{i}")).collect();
    format!(
        "nn(net, [X], Y, [0,1,2,3,4,5,6,7,8,9])::digit(X, Y).\nsum{n}({}, Z) :- {}, Z is {}.\nquery(sum{n}({}, Z)).\n",
        xs.join(", "),
        body.join(", "),
        sum.join(" + "),
        placeholders.join(", ")
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("usage: N EPOCHS")).collect();
    let (n, epochs) = (args.first().copied().unwrap_or(2), args.get(1).copied().unwrap_or(5));
    let csv = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/digit_addition/digits.csv"))?;
    let mut images: Vec<(usize, Vec<f32>)> = Vec::new();
    for (i, line) in csv.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let parse = |s: &str| s.trim().parse::<f32>().map_err(|e| format!("digits.csv:{}: {e}", i + 1));
        let label = parse(fields[0])? as usize;
        let pixels = fields[1..].iter().map(|s| parse(s).map(|p| p / 16.0)).collect::<Result<Vec<_>, _>>()?;
        images.push((label, pixels));
    }
    // A fixed-seed shuffle, then the last fifth is held out.
    images.shuffle(&mut StdRng::seed_from_u64(7));
    let split = images.len() * 4 / 5;
    let features: HashMap<String, Vec<f32>> =
        images.iter().enumerate().map(|(i, (_, p))| (format!("img{i}"), p.clone())).collect();

    let model = NeuralModel::new(&Model::from_source("digit_addition.pl", &model_text(n))?, &QueryOptions::default())?;
    let queries = model.formulas().queries().to_vec();
    let root_of: HashMap<String, usize> = queries.iter().enumerate().map(|(i, q)| (q.clone(), i)).collect();
    let answer = |sum: usize| -> usize {
        let args: Vec<String> = (1..=n).map(|i| format!("a{i}")).collect();
        root_of[&format!("sum{n}({},{sum})", args.join(","))]
    };

    // 64 pixels → 128 (ReLU) → 10 logits, initialised from a fixed seed.
    let (mlp, vars) = Architecture { hidden: vec![128] }.build(64, 10, 1)?;
    let network = CandleNetwork::new(mlp, &vars, 3e-3, features)?;
    let mut networks: HashMap<String, Box<dyn Network>> = HashMap::from([("net".to_string(), Box::new(network) as _)]);

    // Tuples of N images: each training image appears in one per epoch.
    let tuples = |range: std::ops::Range<usize>, rng: &mut StdRng| -> Vec<NeuralExample> {
        let mut order: Vec<usize> = range.collect();
        order.shuffle(rng);
        order
            .chunks_exact(n)
            .map(|c| NeuralExample {
                bindings: c.iter().enumerate().map(|(k, &i)| (format!("a{}", k + 1), format!("img{i}"))).collect(),
                query: answer(c.iter().map(|&i| images[i].0).sum()),
            })
            .collect()
    };
    let mut rng = StdRng::seed_from_u64(42);
    let start = Instant::now();
    for epoch in 1..=epochs {
        let examples = tuples(0..split, &mut rng);
        let mut loss = 0.0;
        for batch in examples.chunks(16) {
            loss += model.train_step(&mut networks, batch)?.loss * batch.len() as f64;
        }
        println!("epoch {epoch}: loss {:.4}", loss / examples.len() as f64);
    }
    let seconds_per_epoch = start.elapsed().as_secs_f64() / epochs.max(1) as f64;

    // Test: sums of held-out tuples (the most probable sum), and single
    // digits (the most probable digit of `sum(x, x, …)` / N).
    let test = tuples(split..images.len(), &mut rng);
    let p = model.evaluate(&mut networks, &test)?;
    let argmax = |v: &[f64]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0);
    let sum_accuracy = test.iter().zip(&p).filter(|(e, p)| argmax(p) == e.query).count() as f64 / test.len() as f64;
    let singles: Vec<NeuralExample> = (split..images.len())
        .map(|i| NeuralExample { bindings: (1..=n).map(|k| (format!("a{k}"), format!("img{i}"))).collect(), query: 0 })
        .collect();
    let p = model.evaluate(&mut networks, &singles)?;
    let digit_accuracy = singles
        .iter()
        .zip(&p)
        .enumerate()
        .filter(|(k, (_, p))| {
            (0..10).max_by(|&a, &b| p[answer(n * a)].total_cmp(&p[answer(n * b)])) == Some(images[split + k].0)
        })
        .count() as f64
        / singles.len() as f64;
    println!(
        "digits={n} epochs={epochs} sum_accuracy={sum_accuracy:.4} digit_accuracy={digit_accuracy:.4} \
         seconds_per_epoch={seconds_per_epoch:.3}"
    );
    Ok(())
}
