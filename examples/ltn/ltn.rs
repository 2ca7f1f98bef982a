//! Logic in the loss, LTN style: learn truth values that satisfy quantified
//! axioms by gradient descent through deeplog's formula circuit.
//!
//! `examples/ltn/ltn.pl` makes every `smokes`/`cancer` fact a learnable
//! truth value and states axioms as weighted constraints in the product
//! logic. Each input `x = σ(θ)` keeps a truth value in (0, 1); Adam follows
//! the gradient of the constraints' loss `Σ w · (1 − truth)` with respect
//! to `θ`, which deeplog computes by reverse mode through the whole formula
//! (quantifiers, p-means, implications), built once.
//!
//! Run: `cargo run --release --example ltn`

use std::path::Path;

use deeplog::{Model, QueryOptions};

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ltn/ltn.pl");
    let model = Model::from_file(&path)?;
    let formulas = model.formulas(&QueryOptions::default())?;
    let n = formulas.inputs().len();

    // θ = logit of the model's initial truth values.
    let mut theta: Vec<f64> = formulas.initial_values().iter().map(|&x| (x / (1.0 - x)).ln()).collect();
    let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
    let (rate, beta1, beta2, eps) = (0.1, 0.9, 0.999, 1e-8);
    let steps = 300;
    let start = std::time::Instant::now();
    let mut first = None;
    let mut last = None;
    for step in 1..=steps {
        let x: Vec<f64> = theta.iter().map(|&t| sigmoid(t)).collect();
        let (evaluation, grad) = formulas.loss_gradient(&x)?;
        first.get_or_insert(evaluation.clone());
        if step == 1 || step % 50 == 0 {
            let truth: Vec<String> = evaluation.constraints.iter().map(|t| format!("{t:.3}")).collect();
            println!("step {step:>3}: loss {:.4}   constraint truths [{}]", evaluation.loss, truth.join(", "));
        }
        for i in 0..n {
            // Chain rule through the sigmoid.
            let g = grad[i] * x[i] * (1.0 - x[i]);
            m[i] = beta1 * m[i] + (1.0 - beta1) * g;
            v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
            let (mh, vh) = (m[i] / (1.0 - beta1.powi(step)), v[i] / (1.0 - beta2.powi(step)));
            theta[i] -= rate * mh / (vh.sqrt() + eps);
        }
        last = Some(evaluation);
    }
    let (first, last) = (first.expect("ran"), last.expect("ran"));
    println!("\n{steps} steps in {:.3} s; loss {:.4} -> {:.4}", start.elapsed().as_secs_f64(), first.loss, last.loss);
    println!("\nlearned truth values:");
    for (input, t) in formulas.inputs().iter().zip(&theta) {
        println!("  {:<12} {:.3}", input.name, sigmoid(*t));
    }
    println!("\nqueries:");
    for (q, value) in formulas.queries().iter().zip(&last.queries) {
        println!("  {q}: {value:.3}");
    }
    Ok(())
}
