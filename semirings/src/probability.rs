//! The probability semiring `(ℝ≥0, +, ×, 0, 1)`, in `f64` or `f32`.
//!
//! Not idempotent, so a circuit must be deterministic and decomposable for
//! sums to mean probabilities. With complementary literal weights
//! (`w(¬x) = 1 − w(x)`) smoothness is not needed: a variable missing from a
//! branch contributes `w + w̄ = 1`. In `f32` products of about 100 factors
//! underflow; prefer [`LogProbability`](crate::LogProbability) there.

use std::marker::PhantomData;

use crate::algebra::float_adjoints;
use crate::algebra::{sibling_products, Algebra, Differentiable, Laws, NodeRows, Requirements};
use crate::float::Float;

/// Probabilities under `+` and `×`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Probability<F = f64>(PhantomData<F>);

impl<F: Float> Algebra for Probability<F> {
    type Value = F;
    const NAME: &'static str = "probability";
    const LAWS: Laws = Laws { sum_idempotent: false, distributive: true, lattice: false };
    const REQUIRES: Requirements = Requirements { decomposable: true, deterministic: true, smooth: false };
    const WGSL: Option<&'static str> = Some(
        "fn dl_zero() -> f32 { return 0.0; }
const DL_LOG_SUM_EXP: bool = false;
fn dl_one() -> f32 { return 1.0; }
fn dl_add(a: f32, b: f32) -> f32 { return a + b; }
fn dl_mul(a: f32, b: f32) -> f32 { return a * b; }
fn dl_neg(a: f32) -> f32 { return 1.0 - a; }
fn dl_dneg(a: f32) -> f32 { return -1.0; }
const DL_DADD_ONE: bool = true;
const DL_DMUL_ONE: bool = false;
const DL_DADD_OTHERS: bool = false;
const DL_DMUL_OTHERS: bool = true;
fn dl_dadd(out: f32, c: f32, others: f32, first: bool) -> f32 { return 1.0; }
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
        a + b
    }
    #[inline(always)]
    fn mul(a: F, b: F) -> F {
        a * b
    }
    fn negate(a: F) -> Option<F> {
        Some(F::ONE - a)
    }
    fn from_probability(p: f64) -> F {
        F::from_f64(p)
    }
    fn to_f64(a: F) -> f64 {
        a.to_f64()
    }
}

impl<F: Float> Differentiable for Probability<F> {
    fn negate_derivative(_: F, _: F) -> F {
        -F::ONE
    }
    float_adjoints!();
    const SUM_DERIVATIVE_IS_ONE: bool = true;
    fn sum_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        derivs[..node.children.len() * node.width].fill(F::ONE);
    }
    fn product_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        sibling_products(node, derivs, F::ONE, |a, b| a * b, |x| x);
    }
}
