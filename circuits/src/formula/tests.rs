//! Tests of formula circuits: building, forward and backward values against
//! hand-computed ones and finite differences, batches, tiles, nested circuits.

use super::*;
use crate::compile::{compile, Budget};
use crate::fuzzy::choice_inputs;
use crate::testing::Rng;
use deeplog_program::{Choice, GroundProgram, Rule};

/// `op` over the inputs `xs` (one child per input, in order).
fn value(op: Op, xs: &[f64]) -> f64 {
    let mut b = ExprBuilder::new(xs.len() as u32);
    let children: Vec<ExprId> = (0..xs.len() as u32).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    let node = b.add(op, &children).unwrap();
    let expr = b.finish(vec![node]);
    ExprEvaluator::new(&expr, None).unwrap().forward(xs, 1).unwrap()[0]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// The gradient of `Σ seeds · roots` against central differences.
fn assert_gradients(eval: &ExprEvaluator, inputs: &[f64], batch: usize, seeds: &[f64]) {
    let (values, grads) = eval.forward_backward(inputs, batch, seeds).unwrap();
    assert_eq!(values, eval.forward(inputs, batch).unwrap());
    let objective = |x: &[f64]| eval.forward(x, batch).unwrap().iter().zip(seeds).map(|(v, s)| v * s).sum::<f64>();
    let h = 1e-6;
    for i in 0..inputs.len() {
        let mut x = inputs.to_vec();
        x[i] = inputs[i] + h;
        let up = objective(&x);
        x[i] = inputs[i] - h;
        let down = objective(&x);
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - grads[i]).abs() <= 1e-6 * fd.abs().max(1.0),
            "input {i} (row {}, column {}): finite differences {fd}, gradient {}",
            i / batch,
            i % batch,
            grads[i]
        );
    }
}

fn random_unit(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| 0.1 + 0.8 * rng.unit()).collect()
}

#[test]
fn connectives_agree_with_boolean_logic_on_0_and_1() {
    for a in [false, true] {
        for b in [false, true] {
            let xs = [a as u8 as f64, b as u8 as f64];
            for t in TNorm::ALL {
                assert_eq!(value(Op::And(t), &xs), (a && b) as u8 as f64, "{t:?} {a} ∧ {b}");
                assert_eq!(value(Op::Or(t), &xs), (a || b) as u8 as f64, "{t:?} {a} ∨ {b}");
                for c in [false, true] {
                    let xs = [xs[0], xs[1], c as u8 as f64];
                    assert_eq!(value(Op::And(t), &xs), (a && b && c) as u8 as f64);
                    assert_eq!(value(Op::Or(t), &xs), (a || b || c) as u8 as f64);
                }
            }
            for i in Implication::ALL {
                assert_eq!(value(Op::Implies(i), &xs), (!a || b) as u8 as f64, "{i:?} {a} → {b}");
            }
        }
        assert_eq!(value(Op::Not, &[a as u8 as f64]), (!a) as u8 as f64);
    }
}

#[test]
fn hand_computed_values() {
    let ab = [0.8, 0.4];
    assert!(close(value(Op::Implies(Implication::Godel), &ab), 0.4));
    assert!(close(value(Op::Implies(Implication::Goguen), &ab), 0.5));
    assert!(close(value(Op::Implies(Implication::Reichenbach), &ab), 0.52));
    assert!(close(value(Op::Implies(Implication::Lukasiewicz), &ab), 0.6));
    assert!(close(value(Op::Implies(Implication::KleeneDienes), &ab), 0.4));
    assert_eq!(value(Op::Implies(Implication::Goguen), &[0.4, 0.8]), 1.0);
    assert!(close(value(Op::Implies(Implication::KleeneDienes), &[0.3, 0.4]), 0.7));

    let xy = [0.7, 0.6];
    assert!(close(value(Op::And(TNorm::Godel), &xy), 0.6));
    assert!(close(value(Op::And(TNorm::Product), &xy), 0.42));
    assert!(close(value(Op::And(TNorm::Lukasiewicz), &xy), 0.3));
    assert!(close(value(Op::Or(TNorm::Godel), &xy), 0.7));
    assert!(close(value(Op::Or(TNorm::Product), &xy), 0.88));
    assert_eq!(value(Op::Or(TNorm::Lukasiewicz), &xy), 1.0);
    assert!(close(value(Op::Or(TNorm::Lukasiewicz), &[0.2, 0.3]), 0.5));
    assert_eq!(value(Op::And(TNorm::Lukasiewicz), &[0.3, 0.4]), 0.0);
    assert!(close(value(Op::And(TNorm::Lukasiewicz), &[0.9, 0.8, 0.7]), 0.4));

    assert!(close(value(Op::PMean(2.0), &[0.2, 0.8]), 0.34f64.sqrt()));
    assert!(close(value(Op::PMean(1.0), &[0.2, 0.8, 0.5]), 0.5));
    assert!(close(value(Op::PMeanError(2.0), &[0.2, 0.8]), 1.0 - 0.34f64.sqrt()));
    assert!(close(value(Op::PMeanError(1.0), &[0.2, 0.8, 0.5]), 0.5));

    let xs = [0.5, 0.25, 2.0];
    assert!(close(value(Op::Sum, &xs), 2.75));
    assert!(close(value(Op::Product, &xs), 0.25));
    assert_eq!(value(Op::Max, &xs), 2.0);
    assert_eq!(value(Op::Min, &xs), 0.25);
    assert!(close(value(Op::Not, &[0.3]), 0.7));
    assert!(close(value(Op::Ln, &[0.5]), -std::f64::consts::LN_2));
    assert_eq!(value(Op::Ln, &[0.0]), f64::NEG_INFINITY);
    assert!(close(value(Op::Div, &[0.3, 0.6]), 0.5));
    assert_eq!(value(Op::Const(0.25), &[]), 0.25);
}

/// One root per op and shape, over four inputs.
fn every_op() -> Expr {
    let mut b = ExprBuilder::new(4);
    let x: Vec<ExprId> = (0..4).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    let mut roots = Vec::new();
    let mut root = |b: &mut ExprBuilder, op: Op, cs: &[ExprId]| roots.push(b.add(op, cs).unwrap());
    root(&mut b, Op::Not, &[x[0]]);
    root(&mut b, Op::Ln, &[x[1]]);
    root(&mut b, Op::Div, &[x[2], x[3]]);
    root(&mut b, Op::Div, &[x[0], x[0]]);
    root(&mut b, Op::Sum, &[x[0], x[1], x[2], x[0]]);
    root(&mut b, Op::Product, &[x[0], x[1], x[2], x[0]]);
    root(&mut b, Op::Product, &[x[3]]);
    root(&mut b, Op::Max, &[x[0], x[1], x[2]]);
    root(&mut b, Op::Min, &[x[1], x[2], x[3]]);
    for t in TNorm::ALL {
        root(&mut b, Op::And(t), &[x[0], x[1]]);
        root(&mut b, Op::And(t), &[x[1], x[2], x[3]]);
        root(&mut b, Op::And(t), &[x[2], x[2]]);
        root(&mut b, Op::Or(t), &[x[0], x[1]]);
        root(&mut b, Op::Or(t), &[x[1], x[2], x[3]]);
        root(&mut b, Op::Or(t), &[x[3], x[3]]);
    }
    for i in Implication::ALL {
        root(&mut b, Op::Implies(i), &[x[0], x[1]]);
        root(&mut b, Op::Implies(i), &[x[2], x[3]]);
        root(&mut b, Op::Implies(i), &[x[1], x[1]]);
    }
    for p in [0.5, 1.0, 2.0, 3.5] {
        root(&mut b, Op::PMean(p), &[x[0], x[1], x[2]]);
        root(&mut b, Op::PMeanError(p), &[x[1], x[2], x[3], x[1]]);
    }
    b.finish(roots)
}

#[test]
fn every_op_has_the_gradient_of_finite_differences() {
    let expr = every_op();
    let eval = ExprEvaluator::new(&expr, None).unwrap();
    let mut rng = Rng(7);
    for batch in [1, 5] {
        for _ in 0..20 {
            let inputs = random_unit(&mut rng, 4 * batch);
            let seeds: Vec<f64> = (0..expr.roots().len() * batch).map(|_| rng.unit() - 0.3).collect();
            assert_gradients(&eval, &inputs, batch, &seeds);
        }
    }
}

/// A random DAG of fuzzy ops over `inputs` rows, values in [0, 1].
fn random_expr(rng: &mut Rng, inputs: u32, nodes: usize) -> Expr {
    let mut b = ExprBuilder::new(inputs);
    let mut ids: Vec<ExprId> = (0..inputs).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    for _ in 0..nodes {
        let op = match rng.below(9) {
            0 => Op::Not,
            1 => Op::And(TNorm::ALL[rng.below(3)]),
            2 => Op::Or(TNorm::ALL[rng.below(3)]),
            3 => Op::Implies(Implication::ALL[rng.below(5)]),
            4 => Op::Max,
            5 => Op::Min,
            6 => Op::Product,
            7 => Op::PMean(1.0 + 2.0 * rng.unit()),
            _ => Op::PMeanError(1.0 + 2.0 * rng.unit()),
        };
        let arity = match op {
            Op::Not => 1,
            Op::Implies(_) => 2,
            _ => 1 + rng.below(3),
        };
        let children: Vec<ExprId> = (0..arity).map(|_| ids[rng.below(ids.len())]).collect();
        ids.push(b.add(op, &children).unwrap());
    }
    let n = ids.len();
    b.finish(vec![ids[n - 1], ids[n - 2], ids[rng.below(n)]])
}

#[test]
fn random_formulas_have_the_gradient_of_finite_differences() {
    for seed in 0..30 {
        let mut rng = Rng(seed);
        let expr = random_expr(&mut rng, 5, 40);
        let eval = ExprEvaluator::new(&expr, None).unwrap();
        for batch in [1, 5] {
            let inputs = random_unit(&mut rng, 5 * batch);
            let seeds: Vec<f64> = (0..3 * batch).map(|_| rng.unit() + 0.1).collect();
            assert_gradients(&eval, &inputs, batch, &seeds);
        }
    }
}

#[test]
fn zero_factors_and_ties_have_exact_gradients() {
    let mut b = ExprBuilder::new(3);
    let x: Vec<ExprId> = (0..3).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    let product = b.add(Op::Product, &x).unwrap();
    let or = b.add(Op::Or(TNorm::Product), &x).unwrap();
    let max = b.add(Op::Max, &[x[1], x[0], x[2]]).unwrap();
    let min = b.add(Op::And(TNorm::Godel), &[x[2], x[0], x[1]]).unwrap();
    let mean = b.add(Op::PMean(0.5), &[x[1], x[1]]).unwrap();
    let expr = b.finish(vec![product, or, max, min, mean]);
    let eval = ExprEvaluator::new(&expr, None).unwrap();
    let grad = |root: usize, inputs: &[f64]| {
        let mut seeds = vec![0.0; 5];
        seeds[root] = 1.0;
        eval.forward_backward(inputs, 1, &seeds).unwrap().1
    };
    // ∂(x0·x1·x2)/∂x1 = x0·x2 even though x1 = 0.
    assert_eq!(grad(0, &[0.5, 0.0, 0.25]), vec![0.0, 0.125, 0.0]);
    // ∂(1 − Π(1 − x))/∂x1 = (1 − x0)(1 − x2) even though x1 = 1.
    assert_eq!(grad(1, &[0.5, 1.0, 0.75]), vec![0.0, 0.125, 0.0]);
    // Ties: the whole adjoint to the first child attaining the extremum.
    assert_eq!(grad(2, &[0.5, 0.5, 0.25]), vec![0.0, 1.0, 0.0]);
    assert_eq!(grad(3, &[0.25, 0.5, 0.25]), vec![0.0, 0.0, 1.0]);
    // A p-mean of zeros passes nothing on, even where x^(p − 1) is infinite.
    assert_eq!(grad(4, &[0.5, 0.0, 0.5]), vec![0.0, 0.0, 0.0]);
}

#[test]
fn equal_nodes_are_shared_and_nothing_else_is() {
    let mut b = ExprBuilder::new(2);
    let (x, y) = (b.add(Op::Input(0), &[]).unwrap(), b.add(Op::Input(1), &[]).unwrap());
    assert_eq!(b.add(Op::Input(0), &[]).unwrap(), x);
    let xy = b.add(Op::Implies(Implication::Goguen), &[x, y]).unwrap();
    assert_eq!(b.add(Op::Implies(Implication::Goguen), &[x, y]).unwrap(), xy);
    assert_ne!(b.add(Op::Implies(Implication::Goguen), &[y, x]).unwrap(), xy);
    assert_ne!(b.add(Op::Implies(Implication::Godel), &[x, y]).unwrap(), xy);
    assert_ne!(b.add(Op::And(TNorm::Product), &[x, x]).unwrap(), x);
    assert_ne!(b.add(Op::Const(0.0), &[]).unwrap(), b.add(Op::Const(-0.0), &[]).unwrap());
    assert_ne!(b.add(Op::PMean(2.0), &[x, y]).unwrap(), b.add(Op::PMean(3.0), &[x, y]).unwrap());
    let len = b.len();
    assert_eq!(b.add(Op::Const(f64::NAN), &[]).unwrap(), b.add(Op::Const(f64::NAN), &[]).unwrap());
    assert_eq!(b.len(), len + 1);
    // In product logic x ∧ x is x², not x.
    let square = b.add(Op::And(TNorm::Product), &[x, x]).unwrap();
    let expr = b.finish(vec![square]);
    assert_eq!(expr.children_of(square as usize), &[x, x]);
    assert_eq!(ExprEvaluator::new(&expr, None).unwrap().forward(&[0.5, 0.1], 1).unwrap(), vec![0.25]);
}

#[test]
fn malformed_nodes_are_errors() {
    let mut b = ExprBuilder::new(2);
    let x = b.add(Op::Input(0), &[]).unwrap();
    assert!(matches!(b.add(Op::Not, &[x, x]), Err(FormulaError::Arity { op: "not", got: 2, .. })));
    assert!(matches!(b.add(Op::Ln, &[]), Err(FormulaError::Arity { op: "ln", got: 0, .. })));
    assert!(matches!(b.add(Op::Implies(Implication::Godel), &[x]), Err(FormulaError::Arity { got: 1, .. })));
    assert!(matches!(b.add(Op::And(TNorm::Product), &[]), Err(FormulaError::Arity { got: 0, .. })));
    assert!(matches!(b.add(Op::Max, &[]), Err(FormulaError::Arity { got: 0, .. })));
    assert!(matches!(b.add(Op::Div, &[x]), Err(FormulaError::Arity { op: "div", got: 1, .. })));
    assert!(matches!(b.add(Op::Const(1.0), &[x]), Err(FormulaError::Arity { got: 1, .. })));
    assert_eq!(b.add(Op::Not, &[7]), Err(FormulaError::UnknownChild { child: 7, len: 1 }));
    assert_eq!(b.add(Op::Input(2), &[]), Err(FormulaError::InputOutOfRange { input: 2, num_inputs: 2 }));
    for p in [0.0, -1.0, f64::INFINITY] {
        assert_eq!(b.add(Op::PMean(p), &[x]), Err(FormulaError::BadExponent { p }));
        assert_eq!(b.add(Op::PMeanError(p), &[x]), Err(FormulaError::BadExponent { p }));
    }
    assert_eq!(b.len(), 1);
    let message = b.add(Op::Implies(Implication::Godel), &[x]).unwrap_err().to_string();
    assert_eq!(message, "implies takes two children, and was given 1");
}

#[test]
fn shape_errors_are_errors() {
    let mut b = ExprBuilder::new(2);
    let x = b.add(Op::Input(0), &[]).unwrap();
    let expr = b.finish(vec![x, x]);
    let eval = ExprEvaluator::new(&expr, None).unwrap();
    assert_eq!(eval.forward(&[0.5; 3], 2), Err(FormulaError::InputShape { got: 3, expected: 4, rows: 2, batch: 2 }));
    assert_eq!(eval.forward(&[], 0), Err(FormulaError::EmptyBatch));
    assert_eq!(
        eval.forward_backward(&[0.5; 4], 2, &[1.0; 2]),
        Err(FormulaError::SeedShape { got: 2, expected: 4, roots: 2, batch: 2 })
    );
    // x is read by both roots: its gradient is the sum of their seeds.
    let (_, g) = eval.forward_backward(&[0.5, 0.1, 0.2, 0.3], 2, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(g, vec![4.0, 6.0, 0.0, 0.0]);
}

/// `0.2::x1; 0.3::x2; 0.4::x3.  0.6::f.  q :- x2, f.  r :- x1.  r :- x3, \+ f.`
/// Atoms x1, x2, x3, f, q, r are 0..6; input rows p1, p2, p3, pf.
fn nested_program() -> (GroundProgram, Nested) {
    let program = GroundProgram::propositional(
        6,
        vec![
            Rule { head: AtomId::new(4), body: vec![(AtomId::new(1), true), (AtomId::new(3), true)] },
            Rule { head: AtomId::new(5), body: vec![(AtomId::new(0), true)] },
            Rule { head: AtomId::new(5), body: vec![(AtomId::new(2), true), (AtomId::new(3), false)] },
        ],
        vec![
            Choice::Disjunction { atoms: vec![(AtomId::new(0), 0.2), (AtomId::new(1), 0.3), (AtomId::new(2), 0.4)] },
            Choice::Fact { atom: AtomId::new(3), probability: 0.6 },
        ],
    );
    let compiled = compile(&program, &[AtomId::new(4), AtomId::new(5)], &[], &Budget::default()).unwrap();
    let rows = choice_inputs(&program);
    assert_eq!(rows, vec![vec![0, 1, 2], vec![3]]);
    let slots = slot_sources(&compiled.slots, &rows).unwrap();
    assert_eq!(
        slots,
        vec![
            SlotSource::Input(0),
            SlotSource::Chain(vec![0, 1]),
            SlotSource::Chain(vec![0, 1, 2]),
            SlotSource::Input(3)
        ]
    );
    (program, Nested { circuit: LayeredCircuit::new(&compiled.circuit), slots })
}

#[test]
fn nested_circuits_give_probabilities_and_their_gradients() {
    let (_, nested) = nested_program();
    let mut b = ExprBuilder::new(4);
    let (q, r) = (b.add(Op::Nested(0), &[]).unwrap(), b.add(Op::Nested(1), &[]).unwrap());
    let pf = b.add(Op::Input(3), &[]).unwrap();
    let p1 = b.add(Op::Input(0), &[]).unwrap();
    let roots = vec![
        q,
        r,
        b.add(Op::And(TNorm::Product), &[q, pf]).unwrap(),
        b.add(Op::Ln, &[r]).unwrap(),
        b.add(Op::Sum, &[q, p1]).unwrap(),
        b.add(Op::Implies(Implication::Reichenbach), &[q, r]).unwrap(),
    ];
    let expr = b.finish(roots);
    assert_eq!(expr.num_nested(), 2);
    let eval = ExprEvaluator::new(&expr, Some(&nested)).unwrap();

    // P(q) = p2·pf, P(r) = p1 + p3·(1 − pf).
    let inputs = [0.2, 0.3, 0.4, 0.6];
    let v = eval.forward(&inputs, 1).unwrap();
    let expected = [0.18, 0.36, 0.108, 0.36f64.ln(), 0.38, 1.0 - 0.18 + 0.18 * 0.36];
    for (v, e) in v.iter().zip(expected) {
        assert!(close(*v, e), "{v} vs {e}");
    }
    let grad = |root: usize| {
        let mut seeds = vec![0.0; 6];
        seeds[root] = 1.0;
        eval.forward_backward(&inputs, 1, &seeds).unwrap().1
    };
    let expected = [[0.0, 0.6, 0.0, 0.3], [1.0, 0.0, 0.4, -0.4]];
    for (root, expected) in expected.iter().enumerate() {
        for (g, e) in grad(root).iter().zip(expected) {
            assert!(close(*g, *e), "root {root}: {g} vs {e}");
        }
    }

    let mut rng = Rng(11);
    for batch in [1, 5] {
        for _ in 0..10 {
            let mut inputs = vec![0.0; 4 * batch];
            for b in 0..batch {
                // An annotated disjunction's probabilities sum below 1.
                let (a, c, d) = (rng.unit(), rng.unit(), rng.unit());
                let scale = 0.95 / (a + c + d + rng.unit());
                for (row, p) in [a * scale, c * scale, d * scale, 0.05 + 0.9 * rng.unit()].into_iter().enumerate() {
                    inputs[row * batch + b] = p;
                }
            }
            let seeds: Vec<f64> = (0..6 * batch).map(|_| rng.unit() - 0.5).collect();
            assert_gradients(&eval, &inputs, batch, &seeds);
        }
    }
}

#[test]
fn nested_roots_and_slots_are_checked() {
    let (_, nested) = nested_program();
    let mut b = ExprBuilder::new(4);
    let far = b.add(Op::Nested(2), &[]).unwrap();
    let expr = b.finish(vec![far]);
    assert_eq!(ExprEvaluator::new(&expr, None).err(), Some(FormulaError::NoNested { root: 2 }));
    assert_eq!(ExprEvaluator::new(&expr, Some(&nested)).err(), Some(FormulaError::NestedRoot { root: 2, roots: 2 }));

    let mut b = ExprBuilder::new(4);
    let q = b.add(Op::Nested(0), &[]).unwrap();
    let expr = b.finish(vec![q]);
    let mut short = nested.clone();
    short.slots.pop();
    assert_eq!(ExprEvaluator::new(&expr, Some(&short)).err(), Some(FormulaError::SlotSources { slots: 4, sources: 3 }));
    let mut wide = nested.clone();
    wide.slots[2] = SlotSource::Chain(vec![0, 9]);
    assert_eq!(
        ExprEvaluator::new(&expr, Some(&wide)).err(),
        Some(FormulaError::SlotInput { slot: 2, input: 9, num_inputs: 4 })
    );
    let mut empty = nested;
    empty.slots[1] = SlotSource::Chain(vec![]);
    assert_eq!(ExprEvaluator::new(&expr, Some(&empty)).err(), Some(FormulaError::EmptyChain { slot: 1 }));
}

#[test]
fn large_batches_agree_with_their_columns() {
    let (_, nested) = nested_program();
    let mut rng = Rng(5);
    let mut b = ExprBuilder::new(4);
    let q = b.add(Op::Nested(1), &[]).unwrap();
    let x = b.add(Op::Input(3), &[]).unwrap();
    let y = b.add(Op::Input(1), &[]).unwrap();
    let and = b.add(Op::And(TNorm::Lukasiewicz), &[q, x, y]).unwrap();
    let all = b.add(Op::PMeanError(2.0), &[and, q, x]).unwrap();
    let expr = b.finish(vec![all, and]);
    let eval = ExprEvaluator::new(&expr, Some(&nested)).unwrap();
    let batch = 150;
    let inputs: Vec<f64> = (0..4 * batch).map(|_| 0.24 * rng.unit()).collect();
    let seeds: Vec<f64> = (0..2 * batch).map(|_| rng.unit()).collect();
    let (values, grads) = eval.forward_backward(&inputs, batch, &seeds).unwrap();
    for b in 0..batch {
        let column: Vec<f64> = (0..4).map(|i| inputs[i * batch + b]).collect();
        let (v, g) = eval.forward_backward(&column, 1, &[seeds[b], seeds[batch + b]]).unwrap();
        assert_eq!(v, vec![values[b], values[batch + b]]);
        for i in 0..4 {
            assert!(close(g[i], grads[i * batch + b]));
        }
    }
}
