//! Equality saturation keeps every root's value and gradient: optimised and
//! original circuits evaluated side by side in every algebra, on random
//! circuits built with something for the rules to find (shared factors,
//! nested sums and products, absorbable terms).

use proptest::prelude::*;

use deeplog_circuits::formats::{read_json, write_json};
use deeplog_circuits::optimize::{optimize, run, Budget, Mode, Rewrites, Stop};
use deeplog_circuits::testing::{random_case, Rng};
use deeplog_circuits::{Circuit, CircuitBuilder, CpuEvaluator, EvalError, LayeredCircuit, NodeId, SlotId, Weights};
use deeplog_semirings::{with_algebra, Algebra, AlgebraKind, Boolean, Differentiable, Probability, ProductTNorm};

/// A deterministic, decomposable circuit over `vars` with room for the
/// rules: decisions whose branches share a factor (`f·x·hi + f·¬x·lo`),
/// products of products, and sums of sums.
fn factorable(b: &mut CircuitBuilder, vars: &[u32], rng: &mut Rng) -> NodeId {
    if vars.len() <= 1 || rng.below(8) == 0 {
        return match vars.first() {
            Some(&v) => b.literal(SlotId(v), rng.below(2) == 0),
            None => b.constant(true),
        };
    }
    let x = vars[rng.below(vars.len())];
    let rest: Vec<u32> = vars.iter().copied().filter(|&v| v != x).collect();
    let (px, nx) = (b.literal(SlotId(x), true), b.literal(SlotId(x), false));
    match rng.below(3) {
        0 => {
            // f·x·hi + f·¬x·lo, f over a part of the other variables.
            let cut = 1 + rng.below(rest.len());
            let (shared, own) = rest.split_at(cut.min(rest.len() - 1).max(1));
            let f = factorable(b, shared, rng);
            let hi = factorable(b, own, rng);
            let lo = factorable(b, own, rng);
            let h = b.product(vec![f, px, hi]);
            let l = b.product(vec![f, nx, lo]);
            b.sum(vec![h, l])
        }
        1 => {
            // A product of a product.
            let cut = 1 + rng.below(rest.len());
            let (left, right) = rest.split_at(cut.min(rest.len()));
            let (l, r) = (factorable(b, left, rng), factorable(b, right, rng));
            let inner = b.product(vec![px, l]);
            b.product(vec![inner, r])
        }
        _ => {
            // x·a + (¬x·y·c + ¬x·¬y·d): a sum of a sum, ¬x shared.
            let y = rest[rng.below(rest.len())];
            let others: Vec<u32> = rest.iter().copied().filter(|&v| v != y).collect();
            let (py, ny) = (b.literal(SlotId(y), true), b.literal(SlotId(y), false));
            let a = factorable(b, &rest, rng);
            let c = factorable(b, &others, rng);
            let d = factorable(b, &others, rng);
            let first = b.product(vec![px, a]);
            let (second, third) = (b.product(vec![nx, py, c]), b.product(vec![nx, ny, d]));
            let inner = b.sum(vec![second, third]);
            b.sum(vec![first, inner])
        }
    }
}

/// A random circuit of `seed` (one of two families) and a probability per
/// slot for each of three batch rows.
fn case(seed: u64) -> (Circuit, Vec<f64>) {
    let mut rng = Rng(seed);
    let circuit = if seed.is_multiple_of(3) {
        random_case(seed).0
    } else {
        let n = 2 + rng.below(7) as u32;
        let mut b = CircuitBuilder::new(n);
        let vars: Vec<u32> = (0..n).collect();
        let roots = (0..1 + rng.below(3)).map(|_| factorable(&mut b, &vars, &mut rng)).collect();
        let mut c = b.finish(roots);
        c.declare_deterministic("decisions on one variable");
        c
    };
    let p = (0..circuit.num_slots() as usize * 3).map(|_| 0.02 + 0.96 * rng.unit()).collect();
    (circuit, p)
}

/// Equal to `tol` relative, or absolute below `floor`.
fn close(a: f64, b: f64, tol: f64, floor: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs()).max(floor)
}

/// Values (and gradients where `A` has them) of both circuits in `A`; the
/// optimised one must be accepted wherever the original is.
fn same<A: Algebra>(original: &Circuit, optimized: &Circuit, p: &[f64], tol: f64) -> Result<(), String> {
    let (lo, lr) = (LayeredCircuit::new(original), LayeredCircuit::new(optimized));
    let Ok(before) = CpuEvaluator::<A>::new(&lo) else { return Ok(()) };
    let after = CpuEvaluator::<A>::new(&lr).map_err(|e| format!("{}: refused after: {e}", A::NAME))?;
    let w = Weights::complementary(3, p.iter().map(|&x| A::from_probability(x)).collect());
    // Weights the algebra cannot take (counting has no negation) fail both alike.
    let Ok(x) = before.forward(&w) else { return Ok(()) };
    let y = after.forward(&w).map_err(|e| e.to_string())?;
    for (i, (a, b)) in x.iter().zip(&y).enumerate() {
        if !close(A::to_f64(*a), A::to_f64(*b), tol, 1e-6) {
            return Err(format!("{}: value {i}: {a:?} before, {b:?} after", A::NAME));
        }
    }
    Ok(())
}

fn same_gradients<A: Differentiable>(
    original: &Circuit,
    optimized: &Circuit,
    p: &[f64],
    tol: f64,
) -> Result<(), String> {
    let (lo, lr) = (LayeredCircuit::new(original), LayeredCircuit::new(optimized));
    let Ok(before) = CpuEvaluator::<A>::new(&lo) else { return Ok(()) };
    let after = CpuEvaluator::<A>::new(&lr).map_err(|e| e.to_string())?;
    let w = Weights::complementary(3, p.iter().map(|&x| A::from_probability(x)).collect());
    let Ok((_, g1)) = before.forward_backward(&w, None) else { return Ok(()) };
    let (_, g2) = after.forward_backward(&w, None).map_err(|e| e.to_string())?;
    for (i, (a, b)) in g1.positive.iter().zip(&g2.positive).enumerate() {
        // Gradients are O(1); f32 leaves noise of ~1e-8 where they vanish.
        if !close(A::to_f64(*a), A::to_f64(*b), tol, 1.0) {
            return Err(format!("{}: gradient {i}: {a:?} before, {b:?} after", A::NAME));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn values_and_gradients_unchanged_in_every_algebra(seed in 0u64..1_000_000) {
        let (original, p) = case(seed);
        for kind in AlgebraKind::ALL {
            let tol = if matches!(kind, AlgebraKind::ProbabilityF32 | AlgebraKind::LogProbabilityF32) { 1e-4 } else { 1e-9 };
            let result = with_algebra!(kind, A => {
                let optimized = optimize(&original, Rewrites::for_laws(A::LAWS), &Budget::default()).circuit;
                same::<A>(&original, &optimized, &p, tol).and_then(|()| {
                    deeplog_semirings::with_differentiable!(kind, D => same_gradients::<D>(&original, &optimized, &p, tol),
                        otherwise => Ok(()))
                })
            });
            prop_assert!(result.is_ok(), "seed {seed}: {}", result.unwrap_err());
        }
    }
}

#[test]
fn the_rules_find_something_on_most_random_circuits() {
    let (mut smaller, mut total) = (0, 0);
    for seed in (1..600u64).filter(|s| !s.is_multiple_of(3)) {
        let (c, _) = case(seed);
        let r = optimize(&c, Rewrites::Semiring, &Budget::default()).report;
        assert!(r.cost_after <= r.cost_before, "seed {seed}: {r:?}");
        total += 1;
        smaller += r.improved as usize;
    }
    assert!(smaller * 2 > total, "only {smaller} of {total} circuits got cheaper");
}

/// `x·y + x·z` over three slots.
fn shared_factor() -> Circuit {
    let mut b = CircuitBuilder::new(3);
    let (x, y, z) = (b.literal(SlotId(0), true), b.literal(SlotId(1), true), b.literal(SlotId(2), true));
    let (xy, xz) = (b.product(vec![x, y]), b.product(vec![x, z]));
    let root = b.sum(vec![xy, xz]);
    b.finish(vec![root])
}

#[test]
fn lattice_laws_absorb_and_only_lattices_take_the_result() {
    // x + x·y = x in boolean and Gödel logic, not in probability.
    let mut b = CircuitBuilder::new(2);
    let (x, y) = (b.literal(SlotId(0), true), b.literal(SlotId(1), true));
    let xy = b.product(vec![x, y]);
    let root = b.sum(vec![x, xy]);
    let c = b.finish(vec![root]);
    let o = optimize(&c, Rewrites::Lattice, &Budget::default());
    assert_eq!((o.report.edges_before, o.report.edges_after), (4, 0));
    assert_eq!(o.circuit.rewritten(), Some(Rewrites::Lattice));
    let layered = LayeredCircuit::new(&o.circuit);
    let eval = CpuEvaluator::<Boolean>::new(&layered).unwrap();
    assert_eq!(eval.forward(&Weights::complementary(1, vec![true, false])).unwrap(), vec![true]);
    let refused = CpuEvaluator::<Probability<f64>>::new(&layered).err().expect("probability refuses it");
    assert!(matches!(refused, EvalError::Rewritten { .. }), "{refused}");
    assert!(refused.to_string().contains("lattice laws"), "{refused}");
}

#[test]
fn t_norms_refuse_a_circuit_factored_by_distributivity() {
    let o = optimize(&shared_factor(), Rewrites::Semiring, &Budget::default());
    assert_eq!(o.report.edges_after, 4);
    let layered = LayeredCircuit::new(&o.circuit);
    assert!(CpuEvaluator::<Boolean>::new(&layered).is_ok());
    assert!(matches!(CpuEvaluator::<ProductTNorm<f64>>::new(&layered), Err(EvalError::Rewritten { .. })));
    // Associativity alone holds in every algebra, t-norms included.
    let o = optimize(&shared_factor(), Rewrites::Associative, &Budget::default());
    assert!(CpuEvaluator::<ProductTNorm<f64>>::new(&LayeredCircuit::new(&o.circuit)).is_ok());
}

#[test]
fn a_circuit_file_records_the_laws_it_was_rewritten_by() {
    let o = optimize(&shared_factor(), Rewrites::Semiring, &Budget::default());
    let back = read_json(&write_json(&o.circuit)).unwrap();
    assert_eq!(back.rewritten(), Some(Rewrites::Semiring));
    assert_eq!(back.num_edges(), o.circuit.num_edges());
    let text = write_json(&o.circuit).replace("\"semiring\"", "\"ring\"");
    let err = read_json(&text).unwrap_err().to_string();
    assert!(err.contains("line 1") && err.contains("unknown `rewritten` laws \"ring\""), "{err}");
}

#[test]
fn budgets_stop_saturation_and_auto_leaves_alone_what_does_not_pay() {
    let c = shared_factor();
    let stopped = optimize(&c, Rewrites::Semiring, &Budget { max_iterations: 0, ..Budget::default() });
    assert_eq!(stopped.report.stop, Stop::Iterations);
    assert!(!stopped.report.improved);
    assert_eq!(stopped.circuit.num_edges(), c.num_edges());
    assert!(stopped.circuit.rewritten().is_none());
    assert_eq!(optimize(&c, Rewrites::Semiring, &Budget::default()).report.stop, Stop::Saturated);

    assert!(run(&c, Rewrites::Semiring, Mode::Off, &Budget::default()).is_none());
    // Factoring x·y + x·z saves product edges, but its layout has as many
    // edges and one layer more: auto keeps the original.
    assert!(run(&c, Rewrites::Semiring, Mode::Auto, &Budget::default()).is_none());
    // A chain of sums flattens into one row: three layers become one.
    let mut b = CircuitBuilder::new(4);
    let l: Vec<NodeId> = (0..4).map(|v| b.literal(SlotId(v), true)).collect();
    let inner = b.sum(vec![l[2], l[3]]);
    let middle = b.sum(vec![l[1], inner]);
    let root = b.sum(vec![l[0], middle]);
    let chain = b.finish(vec![root]);
    let kept = run(&chain, Rewrites::Associative, Mode::Auto, &Budget::default()).expect("auto keeps it");
    assert_eq!((kept.report.edges_before, kept.report.edges_after), (6, 4));
    assert_eq!(LayeredCircuit::new(&kept.circuit).num_layers(), 1);
    // A decision x·y + ¬x·z has nothing to factor or flatten.
    let mut b = CircuitBuilder::new(3);
    let (x, nx) = (b.literal(SlotId(0), true), b.literal(SlotId(0), false));
    let (y, z) = (b.literal(SlotId(1), true), b.literal(SlotId(2), true));
    let (hi, lo) = (b.product(vec![x, y]), b.product(vec![nx, z]));
    let root = b.sum(vec![hi, lo]);
    let decision = b.finish(vec![root]);
    assert!(run(&decision, Rewrites::Semiring, Mode::Auto, &Budget::default()).is_none());
    let on = run(&decision, Rewrites::Semiring, Mode::On, &Budget::default()).unwrap();
    assert!(!on.report.improved);
}

#[test]
fn many_roots_keep_their_order_and_sharing() {
    let (c, p) = case(7);
    let mut roots = c.roots().to_vec();
    roots.extend(c.roots().iter().rev());
    let mut b = CircuitBuilder::new(c.num_slots());
    let mut map = Vec::with_capacity(c.num_nodes());
    for n in c.nodes() {
        let children: Vec<NodeId> = n.children().iter().map(|k| map[k.index()]).collect();
        map.push(match n {
            deeplog_circuits::Node::False => b.constant(false),
            deeplog_circuits::Node::True => b.constant(true),
            deeplog_circuits::Node::Literal(l) => b.literal(l.slot, l.positive),
            deeplog_circuits::Node::Sum(_) => b.sum(children),
            deeplog_circuits::Node::Product(_) => b.product(children),
        });
    }
    let mut doubled = b.finish(roots.iter().map(|r| map[r.index()]).collect());
    doubled.declare_deterministic("decisions on one variable");
    let o = optimize(&doubled, Rewrites::Semiring, &Budget::default()).circuit;
    assert_eq!(o.roots().len(), doubled.roots().len());
    same::<Probability<f64>>(&doubled, &o, &p, 1e-12).unwrap();
}
