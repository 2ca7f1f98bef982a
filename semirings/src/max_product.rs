//! The max-product (Viterbi) semiring in log space: `(ℝ ∪ {−∞}, max, +, −∞, 0)`.
//!
//! Evaluated on a smooth, decomposable circuit it gives the log-probability
//! of the most probable model (MPE). Idempotent, so determinism is not
//! needed; smoothness is, since a variable missing from a branch must
//! contribute `max(w, w̄)`, not 1. The gradient goes to the first child that
//! attains the max.

use std::marker::PhantomData;

use crate::algebra::float_adjoints;
use crate::algebra::{first_extreme, Algebra, Differentiable, Laws, NodeRows, Requirements};
use crate::float::Float;

/// Log-probabilities under `max` and `+`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MaxProduct<F = f64>(PhantomData<F>);

impl<F: Float> Algebra for MaxProduct<F> {
    type Value = F;
    const NAME: &'static str = "maxproduct";
    const LAWS: Laws = Laws { sum_idempotent: true, distributive: true, lattice: false };
    const REQUIRES: Requirements = Requirements { decomposable: true, deterministic: false, smooth: true };
    const WGSL: Option<&'static str> = Some(
        "const DL_LOG_ZERO: f32 = -3.4028235e38;
fn dl_zero() -> f32 { return DL_LOG_ZERO; }
const DL_LOG_SUM_EXP: bool = false;
fn dl_one() -> f32 { return 0.0; }
fn dl_add(a: f32, b: f32) -> f32 { return max(a, b); }
fn dl_mul(a: f32, b: f32) -> f32 { return max(a + b, DL_LOG_ZERO); }
fn dl_neg(a: f32) -> f32 {
  if (a > -0.6931472) { return dl_ln(-(dl_exp(a) - 1.0)); }
  return dl_ln(1.0 - dl_exp(a));
}
fn dl_dneg(a: f32) -> f32 { return -dl_exp(a - dl_neg(a)); }
const DL_DADD_ONE: bool = false;
const DL_DMUL_ONE: bool = true;
const DL_DADD_OTHERS: bool = false;
const DL_DMUL_OTHERS: bool = false;
fn dl_dadd(out: f32, c: f32, others: f32, first: bool) -> f32 { return select(0.0, 1.0, first && c == out); }
fn dl_dmul(out: f32, c: f32, others: f32, first: bool) -> f32 { return 1.0; }
",
    );

    fn zero() -> F {
        F::NEG_INFINITY
    }
    fn one() -> F {
        F::ZERO
    }
    #[inline(always)]
    fn add(a: F, b: F) -> F {
        a.max(b)
    }
    #[inline(always)]
    fn mul(a: F, b: F) -> F {
        a + b
    }
    fn negate(a: F) -> Option<F> {
        Some(a.fast_log1mexp())
    }
    fn negate_rows(out: &mut [F], src: &[F]) {
        for (o, &x) in out.iter_mut().zip(src) {
            *o = x.fast_log1mexp();
        }
    }
    fn from_probability(p: f64) -> F {
        F::from_f64(p.ln())
    }
    fn to_f64(a: F) -> f64 {
        a.to_f64()
    }
}

impl<F: Float> Differentiable for MaxProduct<F> {
    fn negate_derivative(x: F, negated: F) -> F {
        -(x - negated).fast_exp()
    }
    float_adjoints!();
    const PRODUCT_DERIVATIVE_IS_ONE: bool = true;
    fn sum_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        first_extreme(node, derivs, F::ONE, F::ZERO);
    }
    fn product_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        derivs[..node.children.len() * node.width].fill(F::ONE);
    }
}
