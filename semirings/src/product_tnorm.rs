//! Product fuzzy logic: t-norm `a·b`, t-conorm (probabilistic sum)
//! `a + b − a·b`, negation `1 − x`.
//!
//! **Not a semiring**: the product does not distribute over the
//! probabilistic sum (`a(b ⊕ c) ≠ ab ⊕ ac` in general), and the sum is not
//! idempotent. Both operations are associative and commutative with the
//! usual identities and annihilator. Truth-functional: evaluated on any
//! circuit as it is; on a deterministic, decomposable circuit it does *not*
//! give probabilities (use [`Probability`](crate::Probability)).

use std::marker::PhantomData;

use crate::algebra::float_adjoints;
use crate::algebra::{fold_rows, sibling_products, Algebra, Differentiable, Laws, NodeRows, Requirements};
use crate::float::Float;
use crate::fuzzy::negation;

/// Truth degrees under the probabilistic sum and the product.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProductTNorm<F = f64>(PhantomData<F>);

impl<F: Float> Algebra for ProductTNorm<F> {
    type Value = F;
    const NAME: &'static str = "product";
    const LAWS: Laws = Laws { sum_idempotent: false, distributive: false, lattice: false };
    const REQUIRES: Requirements = Requirements { decomposable: false, deterministic: false, smooth: false };
    const WGSL: Option<&'static str> = Some(
        "fn dl_zero() -> f32 { return 0.0; }
const DL_LOG_SUM_EXP: bool = false;
fn dl_one() -> f32 { return 1.0; }
fn dl_add(a: f32, b: f32) -> f32 { return a + b * (1.0 - a); }
fn dl_mul(a: f32, b: f32) -> f32 { return a * b; }
fn dl_neg(a: f32) -> f32 { return 1.0 - a; }
fn dl_dneg(a: f32) -> f32 { return -1.0; }
const DL_DADD_ONE: bool = false;
const DL_DMUL_ONE: bool = false;
const DL_DADD_OTHERS: bool = true;
const DL_DMUL_OTHERS: bool = true;
fn dl_dadd(out: f32, c: f32, others: f32, first: bool) -> f32 { return 1.0 - others; }
fn dl_dmul(out: f32, c: f32, others: f32, first: bool) -> f32 { return others; }
",
    );

    fn zero() -> F {
        F::ZERO
    }
    fn one() -> F {
        F::ONE
    }
    #[inline(always)]
    fn add(a: F, b: F) -> F {
        a + b - a * b
    }
    #[inline(always)]
    fn mul(a: F, b: F) -> F {
        a * b
    }
    fn negate(a: F) -> Option<F> {
        Some(negation(a))
    }
    fn from_probability(p: f64) -> F {
        F::from_f64(p)
    }
    fn to_f64(a: F) -> f64 {
        a.to_f64()
    }

    #[inline]
    fn sum_rows(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        // Folded as `acc + x(1 − acc)`, never as `1 − ∏(1 − x)`: the latter
        // rounds every sum of terms below machine epsilon to exactly 0.
        out.fill(F::ZERO);
        for &c in children {
            for (o, &x) in out.iter_mut().zip(crate::algebra::row(rows, c, width)) {
                *o = *o + x * (F::ONE - *o);
            }
        }
    }

    #[inline]
    fn product_rows(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        fold_rows(out, rows, children, width, F::ONE, |a, b| a * b);
    }
}

impl<F: Float> Differentiable for ProductTNorm<F> {
    fn negate_derivative(_: F, _: F) -> F {
        -F::ONE
    }
    float_adjoints!();
    fn sum_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        // ∂(1 − ∏(1 − x_j))/∂x_i = ∏_{j≠i}(1 − x_j).
        sibling_products(node, derivs, F::ONE, |a, b| a * b, |x| F::ONE - x);
    }
    fn product_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        sibling_products(node, derivs, F::ONE, |a, b| a * b, |x| x);
    }
}
