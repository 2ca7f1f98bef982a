//! The candle adapter (`--features candle`): a small MLP learns to classify
//! synthetic "images" from the sums of pairs of them alone.
#![cfg(feature = "candle")]

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder, VarMap};

use deeplog::circuits::testing::Rng;
use deeplog::neural::candle::CandleNetwork;
use deeplog::neural::{Network, NeuralExample, NeuralModel};
use deeplog::{Model, QueryOptions};

struct Mlp {
    hidden: Linear,
    out: Linear,
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.out.forward(&self.hidden.forward(x)?.relu()?)
    }
}

const ADDITION: &str = "nn(net, [X], Y, [0, 1, 2])::digit(X, Y).\n\
                        addition(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n\
                        query(addition(a, b, Z)).\n";

#[test]
fn an_mlp_learns_digits_from_sums() {
    let model = NeuralModel::new(&Model::from_source("add.pl", ADDITION).unwrap(), &QueryOptions::default()).unwrap();
    let queries = model.formulas().queries().to_vec();
    let index = |s: usize| queries.iter().position(|q| q == &format!("addition(a,b,{s})")).unwrap();
    // 30 noisy one-hot "images" of 3 digits, 6 features each.
    let mut rng = Rng(5);
    let digits: Vec<usize> = (0..30).map(|i| i % 3).collect();
    let features: HashMap<String, Vec<f32>> = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let f = (0..6).map(|k| if k % 3 == d { 1.0 } else { 0.0 } + 0.3 * (rng.unit() as f32 - 0.5)).collect();
            (format!("img{i}"), f)
        })
        .collect();
    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu);
    let mlp = Mlp { hidden: linear(6, 16, vb.pp("hidden")).unwrap(), out: linear(16, 3, vb.pp("out")).unwrap() };
    let network = CandleNetwork::new(mlp, &vars, 0.02, features).unwrap();
    let mut networks: HashMap<String, Box<dyn Network>> = HashMap::from([("net".to_string(), Box::new(network) as _)]);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..60 {
        let batch: Vec<NeuralExample> = (0..20)
            .map(|_| {
                let (i, j) = (rng.below(30), rng.below(30));
                NeuralExample {
                    bindings: HashMap::from([("a".into(), format!("img{i}")), ("b".into(), format!("img{j}"))]),
                    query: index(digits[i] + digits[j]),
                }
            })
            .collect();
        last = model.train_step(&mut networks, &batch).unwrap().loss;
        first.get_or_insert(last);
    }
    assert!(last < first.unwrap() / 4.0, "loss {first:?} -> {last}");
    // The sum of an image with itself is twice its digit.
    let probe: Vec<NeuralExample> = (0..30)
        .map(|i| NeuralExample {
            bindings: HashMap::from([("a".into(), format!("img{i}")), ("b".into(), format!("img{i}"))]),
            query: 0,
        })
        .collect();
    let p = model.evaluate(&mut networks, &probe).unwrap();
    let correct = (0..30)
        .filter(|&i| (0..3).max_by(|&x, &y| p[i][index(2 * x)].total_cmp(&p[i][index(2 * y)])) == Some(digits[i]))
        .count();
    assert!(correct >= 27, "{correct}/30 digits right");
}
