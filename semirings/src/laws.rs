//! Property tests of the laws each algebra claims, and counterexamples for
//! the laws it disclaims; kernels against their binary definitions; backward
//! kernels against finite differences.

use proptest::prelude::*;

use crate::algebra::{NodeRows, Segment};
use crate::*;

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn prob() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0f64]
}

/// Checks the semiring laws (and idempotence where claimed) on three labels.
fn check_laws<A: Algebra>(a: A::Value, b: A::Value, c: A::Value, eq: impl Fn(A::Value, A::Value) -> bool) {
    let (add, mul) = (A::add, A::mul);
    assert!(eq(add(a, add(b, c)), add(add(a, b), c)), "sum associative");
    assert!(eq(mul(a, mul(b, c)), mul(mul(a, b), c)), "product associative");
    assert!(eq(add(a, b), add(b, a)), "sum commutative");
    assert!(eq(mul(a, b), mul(b, a)), "product commutative");
    assert!(eq(add(a, A::zero()), a), "zero is the sum's identity");
    assert!(eq(mul(a, A::one()), a), "one is the product's identity");
    assert!(eq(mul(a, A::zero()), A::zero()), "zero annihilates");
    if A::LAWS.distributive {
        assert!(eq(mul(a, add(b, c)), add(mul(a, b), mul(a, c))), "distributive");
    }
    if A::LAWS.sum_idempotent {
        assert!(eq(add(a, a), a), "idempotent sum");
    }
    if A::LAWS.lattice {
        assert!(eq(mul(a, a), a), "idempotent product");
        assert!(eq(add(a, mul(a, b)), a), "sum absorbs");
        assert!(eq(mul(a, add(a, b)), a), "product absorbs");
        assert!(eq(add(a, A::one()), A::one()), "one is the top");
    }
}

fn float_eq<F: Float>(a: F, b: F) -> bool {
    close(a.to_f64(), b.to_f64())
}

proptest! {
    #[test]
    fn boolean_laws(a: bool, b: bool, c: bool) {
        check_laws::<Boolean>(a, b, c, |x, y| x == y);
    }

    #[test]
    fn probability_laws(a in prob(), b in prob(), c in prob()) {
        check_laws::<Probability<f64>>(a, b, c, float_eq);
    }

    #[test]
    fn log_laws(a in prob(), b in prob(), c in prob()) {
        let l = |p: f64| p.ln();
        check_laws::<LogProbability<f64>>(l(a), l(b), l(c), |x, y| close(x.exp(), y.exp()));
    }

    #[test]
    fn counting_laws(a in 0u128..1000, b in 0u128..1000, c in 0u128..1000) {
        check_laws::<Counting>(a, b, c, |x, y| x == y);
    }

    #[test]
    fn max_product_laws(a in prob(), b in prob(), c in prob()) {
        check_laws::<MaxProduct<f64>>(a.ln(), b.ln(), c.ln(), |x, y| close(x.exp(), y.exp()));
    }

    #[test]
    fn godel_laws(a in prob(), b in prob(), c in prob()) {
        check_laws::<Godel<f64>>(a, b, c, float_eq);
    }

    #[test]
    fn product_tnorm_laws(a in prob(), b in prob(), c in prob()) {
        check_laws::<ProductTNorm<f64>>(a, b, c, float_eq);
    }

    #[test]
    fn lukasiewicz_laws(a in prob(), b in prob(), c in prob()) {
        check_laws::<Lukasiewicz<f64>>(a, b, c, float_eq);
    }

    #[test]
    fn negation_is_an_involution(p in 0.001..0.999f64) {
        let l = LogProbability::<f64>::negate(LogProbability::<f64>::negate(p.ln()).unwrap()).unwrap();
        prop_assert!(close(l.exp(), p));
        prop_assert!(close(Probability::<f64>::negate(Probability::<f64>::negate(p).unwrap()).unwrap(), p));
    }

    #[test]
    fn nary_kernels_equal_folded_binary_operations(xs in prop::collection::vec(prob(), 1..7)) {
        kernel_matches_fold::<Probability<f64>>(&xs, |p| p);
        kernel_matches_fold::<LogProbability<f64>>(&xs, f64::ln);
        kernel_matches_fold::<MaxProduct<f64>>(&xs, f64::ln);
        kernel_matches_fold::<Godel<f64>>(&xs, |p| p);
        kernel_matches_fold::<ProductTNorm<f64>>(&xs, |p| p);
        kernel_matches_fold::<Lukasiewicz<f64>>(&xs, |p| p);
    }

    #[test]
    fn backward_kernels_match_finite_differences(xs in prop::collection::vec(0.05..0.95f64, 1..6)) {
        kernel_gradient_matches::<Probability<f64>>(&xs, |p| p);
        kernel_gradient_matches::<LogProbability<f64>>(&xs, f64::ln);
        kernel_gradient_matches::<ProductTNorm<f64>>(&xs, |p| p);
    }
}

/// One batch row per element of `xs`, and one node over all of them.
fn kernel_matches_fold<A: Algebra<Value = f64>>(xs: &[f64], label: impl Fn(f64) -> f64) {
    let rows: Vec<f64> = xs.iter().map(|&p| label(p)).collect();
    let children: Vec<u32> = (0..xs.len() as u32).collect();
    let mut out = [0.0];
    A::sum_rows(&mut out, &rows, &children, 1);
    let folded = rows.iter().fold(A::zero(), |acc, &x| A::add(acc, x));
    assert!(close(out[0], folded), "{} sum {} vs {}", A::NAME, out[0], folded);
    A::product_rows(&mut out, &rows, &children, 1);
    let folded = rows.iter().fold(A::one(), |acc, &x| A::mul(acc, x));
    assert!(close(out[0], folded), "{} product {} vs {}", A::NAME, out[0], folded);
}

fn kernel_gradient_matches<A: Differentiable<Value = f64>>(xs: &[f64], label: impl Fn(f64) -> f64) {
    let rows: Vec<f64> = xs.iter().map(|&p| label(p)).collect();
    let children: Vec<u32> = (0..xs.len() as u32).collect();
    type Kernel = fn(&mut [f64], &[f64], &[u32], usize);
    type Fused = fn(&mut [f64], &[f64], &[u32], usize, &mut [f64]);
    type Derivs = fn(NodeRows<'_, f64>, &mut [f64]);
    let kernels: [(Kernel, Fused, Derivs); 2] = [
        (A::sum_rows, A::sum_rows_with_derivatives, A::sum_derivatives),
        (A::product_rows, A::product_rows_with_derivatives, A::product_derivatives),
    ];
    for (forward, fused, derivatives) in kernels {
        let mut out = [0.0];
        forward(&mut out, &rows, &children, 1);
        let mut derivs = vec![0.0; rows.len()];
        derivatives(NodeRows { out: &out, rows: &rows, children: &children, width: 1 }, &mut derivs);
        // The fused kernel gives the same value and, where it stores them, the same derivatives.
        let mut fused_out = [0.0];
        let mut fused_derivs = derivs.clone();
        fused(&mut fused_out, &rows, &children, 1, &mut fused_derivs);
        assert!(close(out[0], fused_out[0]));
        for (a, b) in derivs.iter().zip(&fused_derivs) {
            assert!(close(*a, *b), "{}: fused derivative {b} vs {a}", A::NAME);
        }
        for i in 0..rows.len() {
            let h = 1e-6;
            let mut plus = rows.clone();
            plus[i] += h;
            let mut minus = rows.clone();
            minus[i] -= h;
            let (mut fp, mut fm) = ([0.0], [0.0]);
            forward(&mut fp, &plus, &children, 1);
            forward(&mut fm, &minus, &children, 1);
            let numeric = (fp[0] - fm[0]) / (2.0 * h);
            assert!(
                (numeric - derivs[i]).abs() < 1e-6 * numeric.abs().max(1.0),
                "{}: {numeric} vs {}",
                A::NAME,
                derivs[i]
            );
        }
    }
}

#[test]
fn disclaimed_laws_really_fail() {
    // Product t-norm: 0.5 · (0.5 ⊕ 0.5) = 0.375 but 0.25 ⊕ 0.25 = 0.4375.
    type P = ProductTNorm<f64>;
    assert!(!close(P::mul(0.5, P::add(0.5, 0.5)), P::add(P::mul(0.5, 0.5), P::mul(0.5, 0.5))));
    assert!(!close(P::add(0.5, 0.5), 0.5));
    // Łukasiewicz: 0.5 ⊗ (0.5 ⊕ 0.5) = 0.5 but (0.5 ⊗ 0.5) ⊕ (0.5 ⊗ 0.5) = 0.
    type L = Lukasiewicz<f64>;
    assert!(!close(L::mul(0.5, L::add(0.5, 0.5)), L::add(L::mul(0.5, 0.5), L::mul(0.5, 0.5))));
    // Probability and counting: the sum is not idempotent.
    assert!(!close(Probability::<f64>::add(0.5, 0.5), 0.5));
    assert_ne!(Counting::add(1, 1), 1);
    // Max-product is no lattice: 0.5 ⊗ 0.5 = 0.25.
    type M = MaxProduct<f64>;
    assert!(!close(M::mul(0.5f64.ln(), 0.5f64.ln()), 0.5f64.ln()));
}

#[test]
fn log_sum_of_zeros_is_zero_not_nan() {
    type L = LogProbability<f64>;
    let rows = [f64::NEG_INFINITY, f64::NEG_INFINITY];
    let mut out = [0.0];
    L::sum_rows(&mut out, &rows, &[0, 1], 1);
    assert_eq!(out[0], f64::NEG_INFINITY);
    let mut derivs = [f64::NAN; 2];
    L::sum_derivatives(NodeRows { out: &out, rows: &rows, children: &[0, 1], width: 1 }, &mut derivs);
    assert_eq!(derivs, [0.0, 0.0]);
    L::sum_rows_with_derivatives(&mut out, &rows, &[0, 1], 1, &mut derivs);
    assert_eq!(derivs, [0.0, 0.0]);
}

#[test]
fn ties_in_max_send_the_gradient_to_the_first_child() {
    let rows = [0.5, 0.5, 0.2];
    let mut out = [0.0];
    Godel::<f64>::sum_rows(&mut out, &rows, &[0, 1, 2], 1);
    // Children listed as (1, 0, 2): child 1 comes first and takes the gradient.
    let mut derivs = [f64::NAN; 3];
    Godel::<f64>::sum_derivatives(NodeRows { out: &out, rows: &rows, children: &[1, 0, 2], width: 1 }, &mut derivs);
    assert_eq!(derivs, [1.0, 0.0, 0.0]);
}

#[test]
fn counting_saturates_instead_of_wrapping() {
    assert_eq!(Counting::mul(u128::MAX / 2, 3), u128::MAX);
}

#[test]
fn names_round_trip_and_unknown_names_are_listed() {
    for kind in AlgebraKind::ALL {
        assert_eq!(kind.name().parse::<AlgebraKind>().unwrap(), kind);
        let name = with_algebra!(kind, A => A::NAME);
        assert!(kind.name().starts_with(name));
    }
    let err = "tropical".parse::<AlgebraKind>().unwrap_err().to_string();
    assert!(err.contains("tropical") && err.contains("lukasiewicz"), "{err}");
}

#[test]
fn log_sums_are_exact_far_from_zero_at_every_width() {
    // Magnitudes where an unshifted exp would underflow or overflow.
    type L = LogProbability<f64>;
    for base in [-5000.0, -650.0, -1.0, 650.0, 5000.0] {
        let xs = [base, base - 0.5, base - 3.0];
        let expected = base + (1.0 + (-0.5f64).exp() + (-3.0f64).exp()).ln();
        for width in [1usize, 3] {
            // Row c holds xs[c] in every column.
            let rows: Vec<f64> = xs.iter().flat_map(|&x| std::iter::repeat_n(x, width)).collect();
            let mut out = vec![0.0; width];
            L::sum_rows(&mut out, &rows, &[0, 1, 2], width);
            let mut seg_out = vec![0.0; width];
            let mut derivs = vec![0.0; 3 * width];
            let mut scratch = Vec::new();
            L::sum_segment_with_derivatives(Segment {
                out: &mut seg_out,
                rows: &rows,
                offsets: &[0, 3],
                children: &[0, 1, 2],
                width,
                derivs: Some(&mut derivs),
                scratch: &mut scratch,
            });
            for (o, s) in out.iter().zip(&seg_out) {
                assert!(close(*o, expected) && close(*s, expected), "{base} width {width}: {o}, {s} vs {expected}");
            }
            let share: f64 = (0..3).map(|j| derivs[j * width]).sum();
            assert!(close(share, 1.0), "derivatives of a log-sum-exp sum to 1, got {share}");
        }
    }
}

/// The probabilistic sum of values far below machine epsilon is their
/// sum, not 0 (as `1 − ∏(1 − x)` would give), in the n-ary kernel and
/// the binary operation alike.
#[test]
fn product_tnorm_sum_keeps_tiny_values() {
    let rows = [1e-20f64, 2e-20, 3e-20];
    let mut out = [0.0];
    ProductTNorm::<f64>::sum_rows(&mut out, &rows, &[0, 1, 2], 1);
    assert!(close(out[0], 6e-20), "{}", out[0]);
    assert!(close(ProductTNorm::<f64>::add(1e-20, 2e-20), 3e-20));
    // And near 1 it is still 1 − ∏(1 − x).
    ProductTNorm::<f64>::sum_rows(&mut out, &[0.9, 0.5, 0.2], &[0, 1, 2], 1);
    assert!(close(out[0], 1.0 - 0.1 * 0.5 * 0.8), "{}", out[0]);
}
