//! The CPU evaluator against brute force: weighted model counts of random
//! deterministic, decomposable circuits equal sums over all assignments;
//! gradients equal finite differences and hand-derived values.

use deeplog_circuits::layered::Op;
use deeplog_circuits::properties::{check, smooth};
use deeplog_circuits::testing::{random_case, Rng};
use deeplog_circuits::{Circuit, CircuitBuilder, CpuEvaluator, EvalError, LayeredCircuit, Node, SlotId, Weights};
use deeplog_semirings::{Counting, Godel, LogProbability, Lukasiewicz, MaxProduct, Probability, ProductTNorm};

/// The truth of every node under one assignment, by direct interpretation.
fn truth(c: &Circuit, assignment: u32) -> Vec<bool> {
    let mut t = Vec::with_capacity(c.num_nodes());
    for n in c.nodes() {
        let v = match n {
            Node::False => false,
            Node::True => true,
            Node::Literal(l) => ((assignment >> l.slot.0) & 1 == 1) == l.positive,
            Node::Sum(cs) => cs.iter().any(|c| t[c.index()]),
            Node::Product(cs) => cs.iter().all(|c| t[c.index()]),
        };
        t.push(v);
    }
    t
}

struct Brute {
    wmc: Vec<f64>,
    count: Vec<u128>,
    mpe: Vec<f64>,
}

fn brute_force(c: &Circuit, p: &[f64]) -> Brute {
    let n = c.num_slots();
    let roots = c.roots().len();
    let mut out = Brute { wmc: vec![0.0; roots], count: vec![0; roots], mpe: vec![0.0; roots] };
    for a in 0..(1u32 << n) {
        let t = truth(c, a);
        let w: f64 = (0..n).map(|v| if (a >> v) & 1 == 1 { p[v as usize] } else { 1.0 - p[v as usize] }).product();
        for (i, r) in c.roots().iter().enumerate() {
            if t[r.index()] {
                out.wmc[i] += w;
                out.count[i] += 1;
                out.mpe[i] = out.mpe[i].max(w);
            }
        }
    }
    out
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
}

#[test]
fn weighted_model_counts_equal_brute_force_in_every_semiring() {
    for seed in 0..300 {
        let (c, p) = random_case(seed);
        let props = check(&c);
        assert!(props.decomposable.holds() && props.deterministic.holds(), "seed {seed}: {props:?}");
        let expected = brute_force(&c, &p);
        let layered = LayeredCircuit::new(&c);

        let prob = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
        let got = prob.forward(&Weights::complementary(1, p.clone())).unwrap();
        for (g, e) in got.iter().zip(&expected.wmc) {
            assert!(rel_close(*g, *e, 1e-12), "seed {seed}: probability {g} vs {e}");
        }

        let log = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
        let lp: Vec<f64> = p.iter().map(|x| x.ln()).collect();
        let got = log.forward(&Weights::complementary(1, lp.clone())).unwrap();
        for (g, e) in got.iter().zip(&expected.wmc) {
            assert!(rel_close(g.exp(), *e, 1e-12), "seed {seed}: log {} vs {e}", g.exp());
        }

        // Counting and max-product range over all variables: smooth first.
        let smoothed = LayeredCircuit::new(&smooth(&c, true));
        let count = CpuEvaluator::<Counting>::new(&smoothed).unwrap();
        let ones = Weights { batch: 1, positive: vec![1u128; p.len()], negative: Some(vec![1u128; p.len()]) };
        assert_eq!(count.forward(&ones).unwrap(), expected.count, "seed {seed}: counting");

        let mpe = CpuEvaluator::<MaxProduct<f64>>::new(&smoothed).unwrap();
        let got = mpe.forward(&Weights::complementary(1, lp)).unwrap();
        for (g, e) in got.iter().zip(&expected.mpe) {
            assert!(rel_close(g.exp(), *e, 1e-12), "seed {seed}: max-product {} vs {e}", g.exp());
        }
    }
}

#[test]
fn gradients_equal_central_finite_differences() {
    for seed in 300..400 {
        let (c, p) = random_case(seed);
        let layered = LayeredCircuit::new(&c);
        let eval = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
        let (_, grads) = eval.forward_backward(&Weights::complementary(1, p.clone()), None).unwrap();
        let total = |p: &[f64]| -> f64 { eval.forward(&Weights::complementary(1, p.to_vec())).unwrap().iter().sum() };
        for v in 0..p.len() {
            let h = 1e-6;
            let (mut up, mut down) = (p.clone(), p.clone());
            up[v] += h;
            down[v] -= h;
            let numeric = (total(&up) - total(&down)) / (2.0 * h);
            let analytic = grads.positive[v];
            assert!(
                (numeric - analytic).abs() <= 1e-6 * numeric.abs().max(analytic.abs()).max(1e-3),
                "seed {seed} slot {v}: finite difference {numeric} vs {analytic}"
            );
        }
    }
}

#[test]
fn log_gradients_are_probability_gradients_rescaled() {
    // d ln P / d ln p_v = (p_v / P) · dP/dp_v.
    for seed in 400..450 {
        let (c, p) = random_case(seed);
        let layered = LayeredCircuit::new(&c);
        let prob = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
        let log = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
        for r in 0..c.roots().len() {
            let mut seeds = vec![0.0; c.roots().len()];
            seeds[r] = 1.0;
            let (pv, pg) = prob.forward_backward(&Weights::complementary(1, p.clone()), Some(&seeds)).unwrap();
            let lp: Vec<f64> = p.iter().map(|x| x.ln()).collect();
            let (_, lg) = log.forward_backward(&Weights::complementary(1, lp), Some(&seeds)).unwrap();
            if pv[r] == 0.0 {
                continue;
            }
            for ((pv_v, pg_v), lg_v) in p.iter().zip(&pg.positive).zip(&lg.positive) {
                let expected = pv_v / pv[r] * pg_v;
                assert!((lg_v - expected).abs() < 1e-9 * expected.abs().max(1.0), "seed {seed}");
            }
        }
    }
}

/// (a ∧ b) ∨ (¬a ∧ c), as a decision on a.
fn hand_built() -> (Circuit, LayeredCircuit) {
    let mut b = CircuitBuilder::new(3);
    let (a, na) = (b.literal(SlotId(0), true), b.literal(SlotId(0), false));
    let (x, y) = (b.literal(SlotId(1), true), b.literal(SlotId(2), true));
    let ab = b.product(vec![a, x]);
    let nac = b.product(vec![na, y]);
    let root = b.sum(vec![ab, nac]);
    let c = b.finish(vec![root]);
    let l = LayeredCircuit::new(&c);
    (c, l)
}

#[test]
fn gradients_match_hand_derivation() {
    let (_, l) = hand_built();
    let (pa, pb, pc) = (0.3, 0.6, 0.8);
    // P = pa·pb + (1 − pa)·pc; ∂/∂pa = pb − pc, ∂/∂pb = pa, ∂/∂pc = 1 − pa.
    let eval = CpuEvaluator::<Probability<f64>>::new(&l).unwrap();
    let (v, g) = eval.forward_backward(&Weights::complementary(1, vec![pa, pb, pc]), None).unwrap();
    assert!((v[0] - (pa * pb + (1.0 - pa) * pc)).abs() < 1e-15);
    let expected = [pb - pc, pa, 1.0 - pa];
    for (g, e) in g.positive.iter().zip(expected) {
        assert!((g - e).abs() < 1e-15, "{g} vs {e}");
    }
    // Gödel: max(min(a, b), min(1 − a, c)) = max(0.3, 0.7) = 0.7 via ¬a.
    let eval = CpuEvaluator::<Godel<f64>>::new(&l).unwrap();
    let (v, g) = eval.forward_backward(&Weights::complementary(1, vec![pa, pb, pc]), None).unwrap();
    assert!((v[0] - 0.7).abs() < 1e-15);
    assert_eq!(g.positive, vec![-1.0, 0.0, 0.0]);
    // Product t-norm: s = pa·pb, t = (1 − pa)·pc, value s + t − s·t.
    let eval = CpuEvaluator::<ProductTNorm<f64>>::new(&l).unwrap();
    let (v, g) = eval.forward_backward(&Weights::complementary(1, vec![pa, pb, pc]), None).unwrap();
    let (s, t) = (pa * pb, (1.0 - pa) * pc);
    assert!((v[0] - (s + t - s * t)).abs() < 1e-15);
    let ds = 1.0 - t;
    let dt = 1.0 - s;
    assert!((g.positive[0] - (ds * pb - dt * pc)).abs() < 1e-15);
    // Łukasiewicz: a⊗b = max(0, 0.3 + 0.6 − 1) = 0, ¬a⊗c = 0.5, sum 0.5.
    let eval = CpuEvaluator::<Lukasiewicz<f64>>::new(&l).unwrap();
    let (v, g) = eval.forward_backward(&Weights::complementary(1, vec![pa, pb, pc]), None).unwrap();
    assert!((v[0] - 0.5).abs() < 1e-15);
    assert_eq!(g.positive, vec![-1.0, 0.0, 1.0]);
}

#[test]
fn batches_split_into_tiles_agree_with_single_rows() {
    let (c, _) = random_case(7);
    let l = LayeredCircuit::new(&c);
    let eval = CpuEvaluator::<LogProbability<f64>>::new(&l).unwrap();
    let n = c.num_slots() as usize;
    for batch in [1usize, 7, 64, 130, 1024] {
        let mut rng = Rng(batch as u64);
        let w: Vec<f64> = (0..n * batch).map(|_| (0.05 + 0.9 * rng.unit()).ln()).collect();
        let (values, grads) = eval.forward_backward(&Weights::complementary(batch, w.clone()), None).unwrap();
        for col in [0, batch / 2, batch - 1] {
            let single: Vec<f64> = (0..n).map(|s| w[s * batch + col]).collect();
            let (v1, g1) = eval.forward_backward(&Weights::complementary(1, single), None).unwrap();
            for r in 0..c.roots().len() {
                assert_eq!(values[r * batch + col], v1[r]);
            }
            for s in 0..n {
                assert_eq!(grads.positive[s * batch + col], g1.positive[s]);
            }
        }
    }
}

#[test]
fn algebras_refuse_circuits_that_lack_what_they_need() {
    let mut b = CircuitBuilder::new(2);
    let (x, y) = (b.literal(SlotId(0), true), b.literal(SlotId(1), true));
    let or = b.sum(vec![x, y]); // not deterministic
    let c = b.finish(vec![or]);
    let l = LayeredCircuit::new(&c);
    let err = CpuEvaluator::<Probability<f64>>::new(&l).err().unwrap();
    assert!(matches!(err, EvalError::Unmet { .. }));
    assert!(err.to_string().contains("deterministic"), "{err}");
    // Truth-functional logics evaluate it as it is.
    let g = CpuEvaluator::<Godel<f64>>::new(&l).unwrap();
    assert_eq!(g.forward(&Weights::complementary(1, vec![0.2, 0.9])).unwrap(), vec![0.9]);
    // Counting without smoothing is refused, not silently wrong.
    let (c, l) = hand_built();
    assert!(CpuEvaluator::<Counting>::new(&l).is_err());
    let smoothed = LayeredCircuit::new(&smooth(&c, true));
    let count = CpuEvaluator::<Counting>::new(&smoothed).unwrap();
    // Counting has no negation: negative weights must be given.
    let err = count.forward(&Weights::complementary(1, vec![1, 1, 1])).unwrap_err();
    assert!(matches!(err, EvalError::NoNegation { .. }));
    let w = Weights { batch: 1, positive: vec![1, 1, 1], negative: Some(vec![1, 1, 1]) };
    assert_eq!(count.forward(&w).unwrap(), vec![4]);
    // Wrongly shaped weights are an error.
    let err = count.forward(&Weights { batch: 2, positive: vec![1; 3], negative: Some(vec![1; 3]) }).unwrap_err();
    assert!(err.to_string().contains("expected 6"), "{err}");
}

#[test]
fn random_cases_are_not_trivial() {
    let sizes: Vec<usize> = (0..300).map(|s| random_case(s).0.num_edges()).collect();
    let nontrivial = sizes.iter().filter(|&&e| e >= 6).count();
    eprintln!("edges: max {:?}, mean {}", sizes.iter().max(), sizes.iter().sum::<usize>() / sizes.len());
    assert!(nontrivial > 150, "only {nontrivial} of 300 random circuits have 6 or more edges");
}

#[test]
fn a_literal_root_gets_its_seed_and_its_parents_adjoints() {
    // Roots: x itself, and x ∧ y.
    let mut b = CircuitBuilder::new(2);
    let (x, y) = (b.literal(SlotId(0), true), b.literal(SlotId(1), true));
    let xy = b.product(vec![x, y]);
    let l = LayeredCircuit::new(&b.finish(vec![x, xy]));
    let eval = CpuEvaluator::<Probability<f64>>::new(&l).unwrap();
    for batch in [1, 3] {
        let w = Weights::complementary(batch, [vec![0.3; batch], vec![0.6; batch]].concat());
        let (_, g) = eval.forward_backward(&w, Some(&[2.0, 1.0])).unwrap();
        // ∂(2x + xy)/∂x = 2 + y, ∂/∂y = x.
        assert!((g.positive[0] - 2.6).abs() < 1e-15 && (g.positive[batch] - 0.3).abs() < 1e-15, "{g:?}");
    }
}

/// Log-probability takes a linear-domain route where the weights keep every
/// value in `f64`'s range; it must give log space's values and gradients:
/// complementary and explicit negative weights, several batch columns,
/// seeds per root and per column.
#[test]
fn the_linear_route_agrees_with_log_space() {
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0);
    for seed in 0..200u64 {
        let (c, p) = random_case(seed);
        // Explicit negative weights need a smooth circuit.
        let c = if seed % 2 == 0 { c } else { smooth(&c, false) };
        let layered = LayeredCircuit::new(&c);
        let fast = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
        let slow = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap().in_log_space();
        let mut rng = Rng(seed ^ 0xa11);
        let batch = 1 + rng.below(3);
        let positive: Vec<f64> =
            p.iter().flat_map(|&x| (0..batch).map(move |b| (x * (0.5 + 0.1 * b as f64)).ln())).collect();
        let w = if seed % 2 == 0 {
            Weights::complementary(batch, positive)
        } else {
            let negative = positive.iter().map(|_| (0.05 + 0.9 * rng.unit()).ln()).collect();
            Weights { batch, positive, negative: Some(negative) }
        };
        let roots = layered.num_roots();
        let seeds: Vec<f64> = (0..roots * batch).map(|_| rng.unit() - 0.3).collect();
        let (fv, fg) = fast.forward_backward_columns(&w, &seeds).unwrap();
        let (sv, sg) = slow.forward_backward_columns(&w, &seeds).unwrap();
        assert_eq!(fv.len(), sv.len());
        for (a, b) in fv.iter().zip(&sv) {
            assert!(a == b || close(*a, *b, 1e-12), "seed {seed}: value {a} vs {b}");
        }
        for (a, b) in fg.positive.iter().zip(&sg.positive) {
            assert!(close(*a, *b, 1e-10), "seed {seed}: gradient {a} vs {b}");
        }
        for (a, b) in fg.negative.iter().flatten().zip(sg.negative.iter().flatten()) {
            assert!(close(*a, *b, 1e-10), "seed {seed}: negative gradient {a} vs {b}");
        }
        let (f, s) = (fast.forward(&w).unwrap(), slow.forward(&w).unwrap());
        assert!(f.iter().zip(&s).all(|(a, b)| a == b || close(*a, *b, 1e-12)), "seed {seed}: forward");
    }
}

/// A product of 300 literals of probability 10⁻³ is e^-2072, far below
/// `f64`'s range: the linear route must step aside and log space answer.
#[test]
fn tiny_probabilities_fall_back_to_log_space() {
    let n = 300;
    let mut b = CircuitBuilder::new(n);
    let literals = (0..n).map(|v| b.literal(SlotId(v), true)).collect();
    let root = b.product(literals);
    let layered = LayeredCircuit::new(&b.finish(vec![root]));
    let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
    let w = Weights::complementary(1, vec![1e-3f64.ln(); n as usize]);
    let (v, g) = eval.forward_backward(&w, None).unwrap();
    let expected = n as f64 * 1e-3f64.ln();
    assert!((v[0] - expected).abs() < 1e-9 * expected.abs(), "{} vs {expected}", v[0]);
    assert!(g.positive.iter().all(|&x| (x - 1.0).abs() < 1e-12), "{:?}", &g.positive[..3]);
}

/// Rows cut to a bound on their fan-in (`with_fan_in_at_most`, as the GPU
/// lays circuits out) give the same roots and gradients in every algebra:
/// to rounding where sums and products are reassociated, exactly where
/// they are minima and maxima (Gödel), ties included.
#[test]
fn rows_cut_to_a_fan_in_bound_evaluate_the_same() {
    fn compare<A: deeplog_semirings::Differentiable<Value = f64>>(
        original: &LayeredCircuit,
        cut: &LayeredCircuit,
        w: &Weights<f64>,
        tol: f64,
        what: &str,
    ) {
        // Algebras that need a smooth circuit refuse an unsmoothed one.
        let Ok(a) = CpuEvaluator::<A>::new(original) else { return };
        let b = CpuEvaluator::<A>::new(cut).unwrap_or_else(|e| panic!("{what}, {}: {e}", A::NAME));
        let close = |x: f64, y: f64| x == y || (x - y).abs() <= tol * x.abs().max(y.abs()).max(1.0);
        let (va, ga) = a.forward_backward(w, None).unwrap();
        let (vb, gb) = b.forward_backward(w, None).unwrap();
        for (x, y) in va.iter().zip(&vb).chain(ga.positive.iter().zip(&gb.positive)) {
            assert!(close(*x, *y), "{what}, {}: {x} vs {y}", A::NAME);
        }
    }
    // Exactly one of n: a sum of n binary products (fused into one row of
    // 2n children, pairs to be cut whole) of a literal and a wide product.
    let exactly_one = |n: u32| {
        let mut b = CircuitBuilder::new(n);
        let terms = (0..n)
            .map(|i| {
                let x = b.literal(SlotId(i), true);
                let others = (0..n).filter(|&j| j != i).map(|j| b.literal(SlotId(j), false)).collect();
                let rest = b.product(others);
                b.product(vec![x, rest])
            })
            .collect();
        let s = b.sum(terms);
        let c = b.finish(vec![s]);
        let p = (0..n).map(|i| 0.1 + 0.8 * i as f64 / n as f64).collect();
        (c, p)
    };
    let cases =
        (0..2000u64).map(|seed| (seed, random_case(seed))).chain((3..=12).map(|n| (10_000 + n as u64, exactly_one(n))));
    let (mut cut_rows, mut cut_pairs) = (0, 0);
    for (seed, (c, p)) in cases {
        let c = smooth(&c, false);
        let original = LayeredCircuit::new(&c);
        let max = if seed % 3 == 0 { 6 } else { 4 };
        let Some(cut) = original.with_fan_in_at_most(max) else { continue };
        cut_rows += 1;
        let wide_pairs = original.layers().iter().flat_map(|l| &l.segments).filter(|s| s.op == Op::SumOfPairs);
        if wide_pairs.flat_map(|s| s.rows.clone()).any(|r| original.children_of(r as usize).len() > max as usize) {
            cut_pairs += 1;
        }
        for row in cut.leaves().len()..cut.num_rows() {
            assert!(cut.children_of(row).len() <= max as usize, "seed {seed}: row {row}");
            assert!(cut.children_of(row).iter().all(|&c| (c as usize) < row), "seed {seed}: row {row}");
        }
        assert_eq!((cut.num_roots(), cut.num_slots()), (original.num_roots(), original.num_slots()));
        let what = format!("seed {seed}, fan-in at most {max}");
        let batch = 3;
        let mut rng = Rng(seed ^ 0xfa1);
        let w: Vec<f64> = p.iter().flat_map(|&x| (0..batch).map(move |b| x * (0.6 + 0.2 * b as f64))).collect();
        let logs = w.iter().map(|x| x.ln()).collect();
        compare::<Probability<f64>>(&original, &cut, &Weights::complementary(batch, w.clone()), 1e-12, &what);
        compare::<ProductTNorm<f64>>(&original, &cut, &Weights::complementary(batch, w.clone()), 1e-12, &what);
        compare::<Lukasiewicz<f64>>(&original, &cut, &Weights::complementary(batch, w.clone()), 1e-12, &what);
        compare::<LogProbability<f64>>(&original, &cut, &Weights::complementary(batch, logs), 1e-12, &what);
        let mp = w.iter().map(|x| x.ln()).collect();
        compare::<MaxProduct<f64>>(&original, &cut, &Weights::complementary(batch, mp), 1e-12, &what);
        // Truth degrees from three values: many ties, which must go to the
        // same child.
        let ties = (0..w.len()).map(|_| [0.25, 0.5, 0.75][rng.below(3)]).collect();
        compare::<Godel<f64>>(&original, &cut, &Weights::complementary(batch, ties), 0.0, &what);
    }
    assert!(cut_rows > 100 && cut_pairs >= 10, "only {cut_rows} circuits had rows to cut, {cut_pairs} sums of pairs");
}
