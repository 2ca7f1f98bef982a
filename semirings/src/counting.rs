//! The counting semiring `(ℕ, +, ×, 0, 1)` in exact 128-bit integers.
//!
//! With every literal weighted 1 a smooth, deterministic, decomposable
//! circuit counts its models. Arithmetic saturates at `u128::MAX`, so an
//! overflow shows as that value instead of wrapping to a wrong count; the
//! evaluator's callers report it. There is no negation.

use crate::algebra::{sibling_products, Algebra, Differentiable, Laws, NodeRows, Requirements};

/// Natural numbers under `+` and `×`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counting;

impl Algebra for Counting {
    type Value = u128;
    const NAME: &'static str = "counting";
    const LAWS: Laws = Laws { sum_idempotent: false, distributive: true, lattice: false };
    const REQUIRES: Requirements = Requirements { decomposable: true, deterministic: true, smooth: true };
    const WGSL: Option<&'static str> = None;

    fn zero() -> u128 {
        0
    }
    fn one() -> u128 {
        1
    }
    #[inline(always)]
    fn add(a: u128, b: u128) -> u128 {
        a.saturating_add(b)
    }
    #[inline(always)]
    fn mul(a: u128, b: u128) -> u128 {
        a.saturating_mul(b)
    }
    fn negate(_: u128) -> Option<u128> {
        None
    }
    /// Every event counts once, whatever its probability.
    fn from_probability(_: f64) -> u128 {
        1
    }
    fn to_f64(a: u128) -> f64 {
        a as f64
    }
}

impl Differentiable for Counting {
    fn negate_derivative(_: u128, _: u128) -> u128 {
        0
    }
    fn adjoint_one() -> u128 {
        1
    }
    fn adjoint_zero() -> u128 {
        0
    }
    fn adjoint_add(a: u128, b: u128) -> u128 {
        a.saturating_add(b)
    }
    fn adjoint_mul(a: u128, b: u128) -> u128 {
        a.saturating_mul(b)
    }
    const SUM_DERIVATIVE_IS_ONE: bool = true;
    fn sum_derivatives(node: NodeRows<'_, u128>, derivs: &mut [u128]) {
        derivs[..node.children.len() * node.width].fill(1);
    }
    fn product_derivatives(node: NodeRows<'_, u128>, derivs: &mut [u128]) {
        sibling_products(node, derivs, 1, Self::mul, |x| x);
    }
}
