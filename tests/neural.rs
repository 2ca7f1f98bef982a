//! Neural predicates: the gradient that reaches a network's outputs equals
//! finite differences of the query probability, and a network learns
//! single digits from sums alone through the compiled-once circuit.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use deeplog::circuits::testing::Rng;
use deeplog::neural::{Network, NeuralExample, NeuralModel};
use deeplog::{Model, QueryOptions};

/// A "network" that is a table of logits per input: softmax forward, and
/// a gradient step on the logits backward. Enough to test the plumbing.
struct Table {
    logits: HashMap<String, Vec<f64>>,
    domain: usize,
    rate: f64,
    last: Vec<(String, Vec<f64>)>,
    /// The last gradient received, for the gradient check.
    seen: Rc<RefCell<Vec<f64>>>,
}

fn softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

impl Network for Table {
    fn forward(&mut self, inputs: &[Vec<String>]) -> Result<Vec<f64>, String> {
        self.last.clear();
        let mut out = Vec::new();
        for input in inputs {
            let logits = self.logits.get(&input[0]).cloned().ok_or_else(|| format!("no input `{}`", input[0]))?;
            let p = softmax(&logits);
            out.extend(&p);
            self.last.push((input[0].clone(), p));
        }
        Ok(out)
    }

    fn backward(&mut self, gradient: &[f64]) -> Result<(), String> {
        *self.seen.borrow_mut() = gradient.to_vec();
        for (k, (id, p)) in self.last.iter().enumerate() {
            let g = &gradient[k * self.domain..(k + 1) * self.domain];
            let dot: f64 = g.iter().zip(p).map(|(g, p)| g * p).sum();
            let logits = self.logits.entry(id.clone()).or_insert_with(|| vec![0.0; self.domain]);
            for j in 0..self.domain {
                logits[j] -= self.rate * p[j] * (g[j] - dot);
            }
        }
        Ok(())
    }
}

const ADDITION: &str = "nn(net, [X], Y, [0, 1, 2])::digit(X, Y).\n\
                        addition(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.\n\
                        query(addition(a, b, Z)).\n";

fn example(x: &str, y: &str, query: usize) -> NeuralExample {
    NeuralExample {
        bindings: HashMap::from([("a".to_string(), x.to_string()), ("b".to_string(), y.to_string())]),
        query,
    }
}

#[test]
fn the_gradient_at_the_network_outputs_matches_finite_differences() {
    let model = NeuralModel::new(&Model::from_source("add.pl", ADDITION).unwrap(), &QueryOptions::default()).unwrap();
    // Queries: addition(a,b,0) … addition(a,b,4), in the grounder's order.
    let queries: Vec<String> = model.formulas().queries().to_vec();
    assert_eq!(queries.len(), 5, "{queries:?}");
    let target = queries.iter().position(|q| q == "addition(a,b,2)").unwrap();
    let logits = HashMap::from([("i1".to_string(), vec![0.3, -0.2, 0.5]), ("i2".to_string(), vec![-0.1, 0.4, 0.0])]);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let table = Table { logits: logits.clone(), domain: 3, rate: 0.0, last: Vec::new(), seen: seen.clone() };
    let mut networks: HashMap<String, Box<dyn Network>> = HashMap::from([("net".to_string(), Box::new(table) as _)]);
    let batch = [example("i1", "i2", target)];
    let result = model.train_step(&mut networks, &batch).unwrap();
    let p = result.probabilities[0][target];
    // P(sum 2) by hand from the two distributions.
    let (d1, d2) = (softmax(&logits["i1"]), softmax(&logits["i2"]));
    let by_hand: f64 =
        (0..3).flat_map(|i| (0..3).map(move |j| (i, j))).filter(|(i, j)| i + j == 2).map(|(i, j)| d1[i] * d2[j]).sum();
    assert!((p - by_hand).abs() < 1e-12, "{p} vs {by_hand}");
    // The loss is −ln P: its gradient at the outputs is −(1/P) ∂P/∂out.
    // The networks are called in choice order: digit(a,·) then digit(b,·).
    let gradient = seen.borrow().clone();
    assert_eq!(gradient.len(), 6);
    let prob = |d1: &[f64], d2: &[f64]| -> f64 {
        (0..3).flat_map(|i| (0..3).map(move |j| (i, j))).filter(|(i, j)| i + j == 2).map(|(i, j)| d1[i] * d2[j]).sum()
    };
    let h = 1e-6;
    for k in 0..6 {
        let (mut a_up, mut b_up, mut a_down, mut b_down) = (d1.clone(), d2.clone(), d1.clone(), d2.clone());
        if k < 3 {
            a_up[k] += h;
            a_down[k] -= h;
        } else {
            b_up[k - 3] += h;
            b_down[k - 3] -= h;
        }
        let fd = (prob(&a_up, &b_up) - prob(&a_down, &b_down)) / (2.0 * h);
        let got = -gradient[k] * p;
        assert!((got - fd).abs() < 1e-6, "output {k}: {got} vs {fd}");
    }
}

#[test]
fn a_network_learns_digits_from_sums_alone() {
    let model = NeuralModel::new(&Model::from_source("add.pl", ADDITION).unwrap(), &QueryOptions::default()).unwrap();
    let queries: Vec<String> = model.formulas().queries().to_vec();
    let index = |s: usize| queries.iter().position(|q| q == &format!("addition(a,b,{s})")).unwrap();
    let digits = [0usize, 1, 2, 1, 2, 0];
    let mut rng = Rng(3);
    let logits: HashMap<String, Vec<f64>> =
        (0..digits.len()).map(|i| (format!("img{i}"), (0..3).map(|_| 0.1 * (rng.unit() - 0.5)).collect())).collect();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let table = Table { logits, domain: 3, rate: 0.5, last: Vec::new(), seen };
    let mut networks: HashMap<String, Box<dyn Network>> = HashMap::from([("net".to_string(), Box::new(table) as _)]);
    let pairs: Vec<NeuralExample> = (0..digits.len())
        .flat_map(|i| (0..digits.len()).map(move |j| (i, j)))
        .map(|(i, j)| example(&format!("img{i}"), &format!("img{j}"), index(digits[i] + digits[j])))
        .collect();
    let first = model.train_step(&mut networks, &pairs).unwrap().loss;
    let mut last = first;
    for _ in 0..300 {
        last = model.train_step(&mut networks, &pairs).unwrap().loss;
    }
    assert!(last < first / 10.0, "loss {first} -> {last}");
    // Each image's most probable digit is its true digit: read it off the
    // probabilities of `addition(img, img, 2·d)`.
    let probe: Vec<NeuralExample> =
        (0..digits.len()).map(|i| example(&format!("img{i}"), &format!("img{i}"), 0)).collect();
    let probabilities = model.evaluate(&mut networks, &probe).unwrap();
    for (i, p) in probabilities.iter().enumerate() {
        let best = (0..3).max_by(|&x, &y| p[index(2 * x)].total_cmp(&p[index(2 * y)])).unwrap();
        assert_eq!(best, digits[i], "image {i}: {p:?}");
    }
}

#[test]
fn a_model_with_a_network_is_not_answered_without_it() {
    let model = Model::from_source("add.pl", ADDITION).unwrap();
    let e = model.query(&QueryOptions::default()).unwrap_err();
    assert!(e.to_string().contains("neural predicate network `net`"), "{e}");
    let neural = NeuralModel::new(&model, &QueryOptions::default()).unwrap();
    let mut none: HashMap<String, Box<dyn Network>> = HashMap::new();
    let e = neural.evaluate(&mut none, &[example("i1", "i2", 0)]).unwrap_err();
    assert!(e.to_string().contains("no network `net`"), "{e}");
    // A network that does not know an input says which, and which network.
    let seen = Rc::new(RefCell::new(Vec::new()));
    let table = Table { logits: HashMap::new(), domain: 3, rate: 0.0, last: Vec::new(), seen };
    let mut networks: HashMap<String, Box<dyn Network>> = HashMap::from([("net".to_string(), Box::new(table) as _)]);
    let e = neural.evaluate(&mut networks, &[example("img9", "i2", 0)]).unwrap_err();
    assert!(e.to_string().contains("network `net`: no input `img9`"), "{e}");
}
