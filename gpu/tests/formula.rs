//! The GPU formula evaluator against the CPU's `ExprEvaluator` (`f64`, the
//! reference), on the same inputs: random formula DAGs over every op but
//! `Nested` at batch sizes 1, 7 and 128 (and in tiles); nodes wider than a
//! chunk, split into trees on upload, with and without ties; a forall over
//! 10⁶ implications and an input read by 10⁶ formulas; a level of more
//! threads than one dimension of workgroups holds; infinities; and the
//! errors.
//!
//! A GPU number passes where it is within 1e-5 of the CPU's relative to
//! the CPU's size, or 1e-6 absolute (values near 0). A gradient near 0 is
//! near 0 relative to its batch column: its absolute bound is 1e-6 times
//! the column's largest gradient (at least 1), since an entry that is a
//! sum of terms of both signs keeps the rounding of its terms in `f32`.
//! Every op's own rounding is compensated on the GPU (sums and products of
//! many terms too), but a forall over `n` formulas still multiplies `n`
//! values each rounded to `f32`: the forall allows `4 √n ε` on top.
//!
//! The random DAGs keep away from what would part `f32` from `f64` by more
//! than rounding (see [`random_expr`] and [`random_batch`]): ties that one
//! precision breaks and the other does not, and cancellations. With that,
//! 300 DAGs of 250 nodes pass on lavapipe, the worst at 0.86 of the
//! tolerance; the test runs 40.
//!
//! Without an adapter these tests skip, unless `DEEPLOG_REQUIRE_GPU=1` (CI
//! sets it and installs Mesa's lavapipe).

use std::time::Instant;

use deeplog_circuits::formula::{Expr, ExprBuilder, ExprEvaluator, ExprId, Implication, Op, TNorm};
use deeplog_circuits::testing::Rng;
use deeplog_circuits::EvalError;
use deeplog_gpu::{gpu_for_tests, GpuFormulaEvaluator};

const RELATIVE: f64 = 1e-5;
const ABSOLUTE: f64 = 1e-6;

/// Asserts `gpu` within `RELATIVE + slack` of `cpu` relative to the CPU's
/// size, or `ABSOLUTE` times `scale` (1 for values; for gradients the
/// largest of their batch column, at least 1); returns the largest
/// distance in units of the tolerance. `cpu` is `[rows × batch]`.
fn assert_close(what: &str, gpu: &[f32], cpu: &[f64], batch: usize, slack: f64, per_column: bool) -> f64 {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let mut scale = vec![1.0f64; batch];
    if per_column {
        for (i, &c) in cpu.iter().enumerate() {
            scale[i % batch] = scale[i % batch].max(c.abs());
        }
    }
    let mut worst: f64 = 0.0;
    for (i, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let bound = ((RELATIVE + slack) * c.abs()).max(ABSOLUTE * scale[i % batch]);
        let d = (g as f64 - c).abs() / bound;
        assert!(d <= 1.0, "{what}[{i}] (row {}, column {}): GPU {g}, CPU {c}", i / batch, i % batch);
        worst = worst.max(d);
    }
    worst
}

/// Slack for sums and products of `n` terms: `4 √n ε` of `f32`.
fn slack(n: usize) -> f64 {
    4.0 * (n as f64).sqrt() * f32::EPSILON as f64 / 2.0
}

/// Forward values and gradients of GPU and CPU on the same inputs; also
/// that `forward` and `forward_backward` give the same values.
fn compare(
    what: &str,
    gpu: &GpuFormulaEvaluator,
    expr: &Expr,
    inputs: &[f32],
    batch: usize,
    seeds: &[f32],
    slack: f64,
) {
    let cpu = ExprEvaluator::new(expr, None).unwrap();
    let inputs64: Vec<f64> = inputs.iter().map(|&x| x as f64).collect();
    let seeds64: Vec<f64> = seeds.iter().map(|&x| x as f64).collect();
    let (cpu_values, cpu_grads) = cpu.forward_backward(&inputs64, batch, &seeds64).unwrap();
    let values = gpu.forward(inputs, batch).unwrap();
    let (values_too, grads) = gpu.forward_backward(inputs, batch, seeds).unwrap();
    assert_eq!(values, values_too, "{what}: forward and forward_backward differ");
    let v = assert_close(&format!("{what} values"), &values, &cpu_values, batch, slack, false);
    let g = assert_close(&format!("{what} gradients"), &grads, &cpu_grads, batch, slack, true);
    eprintln!("{what}: worst distances {v:.3} (values), {g:.3} (gradients) of the tolerance");
}

/// A random DAG over `inputs` rows in which every op but `Nested`, every
/// t-norm and every implication occurs. Nodes keep to classes where `f32`
/// stays well conditioned, so that its rounding, not a cancellation the
/// CPU's `f64` hides, is all that separates the two:
/// - truth values in `[0, 1]` (`truth`), read by the connectives;
/// - positive values with a small relative error (`positive`): inputs,
///   constants, and sums, products, extrema, ratios and p-means of them,
///   the only operands of `Ln`, of a divisor, and of a Goguen antecedent;
/// - logarithms of positive truth values (`logs`, all ≤ 0), read by sums,
///   products and extrema of logarithms.
///
/// Divisions read operands over disjoint input rows, and p-means distinct
/// children (reasons at each).
fn random_expr(rng: &mut Rng, inputs: u32, nodes: usize) -> Expr {
    let mut b = ExprBuilder::new(inputs);
    let leaves: Vec<ExprId> = (0..inputs).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    let mut truth = leaves.clone();
    let mut positive = leaves.clone();
    let mut logs: Vec<ExprId> = Vec::new();
    let mut all = leaves;
    // The input rows each node reads, as bits.
    let mut reads: Vec<u64> = (0..inputs).map(|i| 1 << i).collect();
    let pick = |rng: &mut Rng, pool: &[ExprId], k: usize| -> Vec<ExprId> {
        (0..k).map(|_| pool[rng.below(pool.len())]).collect()
    };
    // A p-mean of copies of one value is that value, in f32 only roughly
    // (`(x^p)^(1/p)`), and its ties with the value would fall anywhere.
    let distinct = |rng: &mut Rng, pool: &[ExprId], k: usize| -> Vec<ExprId> {
        let mut cs: Vec<ExprId> = Vec::new();
        while cs.len() < k.min(pool.len()) {
            let c = pool[rng.below(pool.len())];
            if !cs.contains(&c) {
                cs.push(c);
            }
        }
        cs
    };
    for i in 0..nodes {
        let k = 1 + rng.below(4);
        // p ≥ 1: below 1, a p-mean's derivative is infinite at 0 (and a
        // p-mean error's at 1), which truth values reach exactly.
        let p = [1.0, 2.0, 3.0, 1.0 + 2.5 * rng.unit()][rng.below(4)];
        // Cycle through every op, so that each occurs in every DAG.
        let (op, children, is_truth, is_positive, is_log) = match i % 22 {
            0 => {
                let c = b.add(Op::Const((4 + rng.below(56)) as f64 / 64.0), &[]).unwrap();
                if c as usize == reads.len() {
                    reads.push(0);
                }
                truth.push(c);
                positive.push(c);
                continue;
            }
            1 => (Op::Not, pick(rng, &truth, 1), true, false, false),
            2 => {
                let both: Vec<ExprId> = positive.iter().copied().filter(|c| truth.contains(c)).collect();
                (Op::Ln, pick(rng, &both, 1), false, false, true)
            }
            3 => {
                // Operands that read no row in common: in `x / (x·y)`,
                // ∂/∂x is 0 from two terms of 1/(xy) that f32 rounds apart.
                let a = positive[rng.below(positive.len())];
                let apart: Vec<ExprId> =
                    positive.iter().copied().filter(|&c| reads[c as usize] & reads[a as usize] == 0).collect();
                (Op::Div, vec![a, apart[rng.below(apart.len())]], false, true, false)
            }
            4..=7 => {
                let op = [Op::Sum, Op::Product, Op::Max, Op::Min][i % 22 - 4];
                let from_logs = !logs.is_empty() && rng.below(3) == 0;
                let pool = if from_logs {
                    &logs
                } else if rng.below(2) == 0 {
                    &positive
                } else {
                    &truth
                };
                let cs = pick(rng, pool, k);
                // Sums leave [0, 1]; the rest of truth values stay in it.
                let t = !from_logs && op != Op::Sum && cs.iter().all(|c| truth.contains(c));
                let pos = !from_logs && cs.iter().all(|c| positive.contains(c));
                (op, cs, t, pos, from_logs)
            }
            8..=10 => {
                let t = TNorm::ALL[i % 22 - 8];
                let cs = pick(rng, &truth, k);
                // Gödel and product conjunctions of positive values are positive.
                let pos = t != TNorm::Lukasiewicz && cs.iter().all(|c| positive.contains(c));
                (Op::And(t), cs, true, pos, false)
            }
            11..=13 => (Op::Or(TNorm::ALL[i % 22 - 11]), pick(rng, &truth, k), true, false, false),
            14..=18 => {
                let kind = Implication::ALL[i % 22 - 14];
                let antecedent = if kind == Implication::Goguen {
                    let both: Vec<ExprId> = positive.iter().copied().filter(|c| truth.contains(c)).collect();
                    both[rng.below(both.len())]
                } else {
                    truth[rng.below(truth.len())]
                };
                (Op::Implies(kind), vec![antecedent, truth[rng.below(truth.len())]], true, false, false)
            }
            19 => {
                let cs = distinct(rng, &truth, k + 1);
                let pos = cs.iter().all(|c| positive.contains(c));
                (Op::PMean(p), cs, true, pos, false)
            }
            _ => (Op::PMeanError(p), distinct(rng, &truth, k + 1), true, false, false),
        };
        let id = b.add(op, &children).unwrap();
        if id as usize == reads.len() {
            reads.push(children.iter().fold(0, |r, &c| r | reads[c as usize]));
        }
        if is_truth {
            truth.push(id);
        }
        if is_positive {
            positive.push(id);
        }
        if is_log {
            logs.push(id);
        }
        all.push(id);
    }
    let n = all.len();
    let mut roots: Vec<ExprId> = all[n - 4..].to_vec();
    roots.extend((0..4).map(|_| all[inputs as usize + rng.below(n - inputs as usize)]));
    b.finish(roots)
}

/// Inputs in (0.05, 0.95) and seeds in (−0.5, 1). Inputs are multiples of
/// 2⁻¹² so that `f32` negates and adds them exactly, as `f64` does: then
/// the ties the CPU's `f64` finds between different expressions of one
/// value (`1 − (1 − x)` and `x`) are ties in `f32` too, and the kinks of
/// extrema and implications fall on the same side.
fn random_batch(rng: &mut Rng, rows: usize, roots: usize, batch: usize) -> (Vec<f32>, Vec<f32>) {
    let inputs = (0..rows * batch).map(|_| ((0.05 + 0.9 * rng.unit()) * 4096.0).round() as f32 / 4096.0).collect();
    let seeds = (0..roots * batch).map(|_| (rng.unit() * 1.5 - 0.5) as f32).collect();
    (inputs, seeds)
}

#[test]
fn random_formulas_agree_with_the_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let start = Instant::now();
    for seed in 0..40 {
        let mut rng = Rng(seed);
        let expr = random_expr(&mut rng, 6, 250);
        let eval = GpuFormulaEvaluator::new(&gpu, &expr).unwrap();
        for batch in [1, 7, 128] {
            let (inputs, seeds) = random_batch(&mut rng, 6, expr.roots().len(), batch);
            compare(&format!("seed {seed}, batch {batch}"), &eval, &expr, &inputs, batch, &seeds, 0.0);
        }
    }
    eprintln!("random formulas: {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn narrow_bindings_cut_the_batch_into_tiles() {
    let Some(gpu) = gpu_for_tests() else { return };
    let mut rng = Rng(42);
    let expr = random_expr(&mut rng, 6, 150);
    let batch = 128;
    let (inputs, seeds) = random_batch(&mut rng, 6, expr.roots().len(), batch);
    let whole = GpuFormulaEvaluator::new(&gpu, &expr).unwrap();
    let tiled = GpuFormulaEvaluator::new(&gpu.with_max_binding(16 << 10), &expr).unwrap();
    let tile = tiled.tile_width(batch);
    assert!(tile < batch / 4, "a tile of {tile} columns: the cap should split the batch");
    assert_eq!(whole.tile_width(batch), batch);
    // Columns are independent: the same bits either way.
    assert_eq!(tiled.forward_backward(&inputs, batch, &seeds), whole.forward_backward(&inputs, batch, &seeds));
    compare("tiled", &tiled, &expr, &inputs, batch, &seeds, 0.0);
}

#[test]
fn wide_nodes_split_into_chunks_agree_with_the_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    let start = Instant::now();
    // Three groups of n input rows: near 1, near 0, and in (0.05, 0.95).
    let n = 2 * 4096 + 1000;
    let mut b = ExprBuilder::new(3 * n as u32);
    let x: Vec<ExprId> = (0..3 * n as u32).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    let (high, low, mid) = (&x[..n], &x[n..2 * n], &x[2 * n..]);
    let mut roots = vec![
        b.add(Op::Product, high).unwrap(),
        b.add(Op::And(TNorm::Product), high).unwrap(),
        b.add(Op::And(TNorm::Lukasiewicz), high).unwrap(),
        b.add(Op::Or(TNorm::Product), low).unwrap(),
        b.add(Op::Or(TNorm::Lukasiewicz), low).unwrap(),
    ];
    for op in [Op::Sum, Op::Max, Op::Min, Op::And(TNorm::Godel), Op::Or(TNorm::Godel)] {
        roots.push(b.add(op, mid).unwrap());
    }
    for p in [0.5, 2.0, 3.5] {
        roots.push(b.add(Op::PMean(p), mid).unwrap());
        roots.push(b.add(Op::PMeanError(p), mid).unwrap());
    }
    // Łukasiewicz on the clamped side of its kinks: 0 and 1, no gradient.
    roots.push(b.add(Op::And(TNorm::Lukasiewicz), mid).unwrap());
    roots.push(b.add(Op::Or(TNorm::Lukasiewicz), mid).unwrap());
    let expr = b.finish(roots);

    let batch = 2;
    let mut rng = Rng(3);
    let mut inputs = vec![0f32; 3 * n * batch];
    for i in 0..n {
        for col in 0..batch {
            // Σ (1 − x) and Σ x about 0.5 over a group.
            inputs[i * batch + col] = (1.0 - rng.unit() / n as f64) as f32;
            inputs[(n + i) * batch + col] = (rng.unit() / n as f64) as f32;
            inputs[(2 * n + i) * batch + col] = (0.05 + 0.9 * rng.unit()) as f32;
        }
    }
    // Column 0 ties the extrema across chunks (the first one takes the
    // gradient); column 1 has no ties.
    let mid_at = |i: usize| (2 * n + i) * batch;
    for (i, v) in [(100, 0.97), (n - 100, 0.97), (200, 0.01), (n - 200, 0.01)] {
        inputs[mid_at(i)] = v;
    }
    let seeds: Vec<f32> = (0..expr.roots().len() * batch).map(|_| (0.5 + rng.unit()) as f32).collect();
    let eval = GpuFormulaEvaluator::new(&gpu, &expr).unwrap();
    compare("wide nodes", &eval, &expr, &inputs, batch, &seeds, 0.0);

    let (_, grads) = eval.forward_backward(&inputs, batch, &seeds).unwrap();
    // Max and Gödel's ∨ (roots 6, 9) reach row 100, Min and Gödel's ∧
    // (roots 7, 8) row 200; the tied rows after them get nothing of those.
    let s = |root: usize| seeds[root * batch];
    assert!((grads[mid_at(100)] - grads[mid_at(n - 100)] - (s(6) + s(9))).abs() < 1e-3);
    assert!((grads[mid_at(200)] - grads[mid_at(n - 200)] - (s(7) + s(8))).abs() < 1e-3);
    eprintln!("wide nodes ({n} children): {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn a_wide_forall_and_an_input_read_by_every_formula() {
    let Some(gpu) = gpu_for_tests() else { return };
    let start = Instant::now();
    // Rows: P(i), Q(i) for n constants, then A.
    // ∀i P(i) → Q(i) as a product of Reichenbach implications, and two
    // aggregations of A → Q(i), whose A has n parents.
    let n = 1_000_000;
    let mut b = ExprBuilder::new(2 * n as u32 + 1);
    let x: Vec<ExprId> = (0..2 * n as u32 + 1).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    let a = x[2 * n];
    let reichenbach = Op::Implies(Implication::Reichenbach);
    let each: Vec<ExprId> = (0..n).map(|i| b.add(reichenbach, &[x[i], x[n + i]]).unwrap()).collect();
    let shared: Vec<ExprId> = (0..n).map(|i| b.add(reichenbach, &[a, x[n + i]]).unwrap()).collect();
    let forall = b.add(Op::And(TNorm::Product), &each).unwrap();
    let error = b.add(Op::PMeanError(2.0), &shared).unwrap();
    let mean = b.add(Op::PMean(1.5), &shared).unwrap();
    let expr = b.finish(vec![forall, error, mean]);

    let batch = 2;
    let mut rng = Rng(9);
    let mut inputs = vec![0f32; (2 * n + 1) * batch];
    for (k, v) in inputs.iter_mut().enumerate() {
        let row = k / batch;
        *v = if row < n {
            // Small antecedents keep the product of 10⁵ truths near e^-0.5.
            (rng.unit() * 2.0 / n as f64) as f32
        } else if row < 2 * n {
            (0.05 + 0.9 * rng.unit()) as f32
        } else {
            (0.3 + 0.6 * rng.unit()) as f32
        };
    }
    let seeds: Vec<f32> = (0..3 * batch).map(|_| (0.5 + rng.unit()) as f32).collect();
    let built = start.elapsed().as_secs_f64();
    let eval = GpuFormulaEvaluator::new(&gpu, &expr).unwrap();
    let uploaded = start.elapsed().as_secs_f64();
    compare("wide forall", &eval, &expr, &inputs, batch, &seeds, slack(n));
    eprintln!(
        "forall over {n} implications, A read by {n}: built in {built:.1} s, uploaded at {uploaded:.1} s, in all {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn a_level_wider_than_65535_workgroups() {
    let Some(gpu) = gpu_for_tests() else { return };
    let start = Instant::now();
    // 17 input rows over 10⁶ columns: level 0 alone is more than 65535 ×
    // 256 threads, which takes a second dimension of workgroups. (Forward
    // only: lavapipe spends about 0.1 µs a thread.)
    let rows = 17;
    let mut b = ExprBuilder::new(rows);
    let x: Vec<ExprId> = (0..rows).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect();
    let roots = vec![b.add(Op::Sum, &x).unwrap(), b.add(Op::Not, &x[16..]).unwrap()];
    let expr = b.finish(roots);
    let batch = 1_000_000;
    let eval = GpuFormulaEvaluator::new(&gpu, &expr).unwrap();
    assert!(rows as usize * eval.tile_width(batch) > 65535 * 256);
    let mut rng = Rng(1);
    let (inputs, _) = random_batch(&mut rng, rows as usize, 0, batch);
    let values = eval.forward(&inputs, batch).unwrap();
    let inputs64: Vec<f64> = inputs.iter().map(|&x| x as f64).collect();
    let cpu = ExprEvaluator::new(&expr, None).unwrap().forward(&inputs64, batch).unwrap();
    assert_close("10⁶ columns", &values, &cpu, batch, 0.0, false);
    eprintln!("17 rows × 10⁶ columns: {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn infinities_stay_infinite() {
    let Some(gpu) = gpu_for_tests() else { return };
    // ln 0 = −∞ through a sum and a product, and x / 0 = ∞, as on the CPU
    // (the compensation of sums and products must not make them NaN).
    let mut b = ExprBuilder::new(2);
    let (x, y) = (b.add(Op::Input(0), &[]).unwrap(), b.add(Op::Input(1), &[]).unwrap());
    let ln = b.add(Op::Ln, &[x]).unwrap();
    let roots = vec![
        ln,
        b.add(Op::Sum, &[y, ln, y]).unwrap(),
        b.add(Op::Product, &[y, ln, y]).unwrap(),
        b.add(Op::Div, &[y, x]).unwrap(),
    ];
    let expr = b.finish(roots);
    let eval = GpuFormulaEvaluator::new(&gpu, &expr).unwrap();
    let cpu = ExprEvaluator::new(&expr, None).unwrap().forward(&[0.0, 0.5], 1).unwrap();
    let values = eval.forward(&[0.0, 0.5], 1).unwrap();
    assert_eq!(values.iter().map(|&v| v as f64).collect::<Vec<_>>(), cpu);
    assert_eq!(cpu, vec![f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY, f64::INFINITY]);
}

#[test]
fn nested_leaves_and_wrong_shapes_are_errors() {
    let Some(gpu) = gpu_for_tests() else { return };
    let mut b = ExprBuilder::new(2);
    let x = b.add(Op::Input(0), &[]).unwrap();
    let q = b.add(Op::Nested(0), &[]).unwrap();
    let both = b.add(Op::And(TNorm::Product), &[x, q]).unwrap();
    let message = GpuFormulaEvaluator::new(&gpu, &b.finish(vec![both])).unwrap_err().to_string();
    assert!(message.contains("nested compiled circuit") && message.contains("CPU only"), "{message}");

    // x read by two roots, row 1 by none, a constant root.
    let mut b = ExprBuilder::new(2);
    let x = b.add(Op::Input(0), &[]).unwrap();
    let c = b.add(Op::Const(0.25), &[]).unwrap();
    let expr = b.finish(vec![x, x, c]);
    let eval = GpuFormulaEvaluator::new(&gpu, &expr).unwrap();
    assert_eq!(eval.forward(&[0.5; 3], 2), Err(EvalError::WeightShape { got: 3, expected: 4, slots: 2, batch: 2 }));
    assert_eq!(eval.forward(&[], 0), Err(EvalError::EmptyBatch));
    assert_eq!(
        eval.forward_backward(&[0.5; 4], 2, &[1.0; 2]),
        Err(EvalError::ColumnSeedShape { got: 2, roots: 3, batch: 2 })
    );
    let (v, g) = eval.forward_backward(&[0.5, 0.1, 0.2, 0.3], 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    assert_eq!(v, vec![0.5, 0.1, 0.5, 0.1, 0.25, 0.25]);
    assert_eq!(g, vec![4.0, 6.0, 0.0, 0.0]);
    // Buffers for 2 columns serve a call of 1 (the gradient buffer is
    // cleared, not left from the last call).
    assert_eq!(eval.forward_backward(&[0.5, 0.2], 1, &[1.0, 0.0, 1.0]).unwrap().1, vec![1.0, 0.0]);
}
