//! Gödel logic: truth degrees in `[0, 1]` under `max` (t-conorm) and `min`
//! (t-norm), negation `1 − x`.
//!
//! A bounded distributive lattice, so every semiring law holds and the sum is
//! idempotent. Truth-functional: evaluated on any circuit as it is. The
//! gradient of `max`/`min` goes to the first extreme child; it vanishes for
//! every other child, which is why Gödel semantics learn slowly.

use std::marker::PhantomData;

use crate::algebra::float_adjoints;
use crate::algebra::{first_extreme, Algebra, Differentiable, Laws, NodeRows, Requirements};
use crate::float::Float;
use crate::fuzzy::negation;

/// Truth degrees under `max` and `min`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Godel<F = f64>(PhantomData<F>);

impl<F: Float> Algebra for Godel<F> {
    type Value = F;
    const NAME: &'static str = "godel";
    const LAWS: Laws = Laws { sum_idempotent: true, distributive: true, lattice: true };
    const REQUIRES: Requirements = Requirements { decomposable: false, deterministic: false, smooth: false };
    const WGSL: Option<&'static str> = Some(
        "fn dl_zero() -> f32 { return 0.0; }
const DL_LOG_SUM_EXP: bool = false;
fn dl_one() -> f32 { return 1.0; }
fn dl_add(a: f32, b: f32) -> f32 { return max(a, b); }
fn dl_mul(a: f32, b: f32) -> f32 { return min(a, b); }
fn dl_neg(a: f32) -> f32 { return 1.0 - a; }
fn dl_dneg(a: f32) -> f32 { return -1.0; }
const DL_DADD_ONE: bool = false;
const DL_DMUL_ONE: bool = false;
const DL_DADD_OTHERS: bool = false;
const DL_DMUL_OTHERS: bool = false;
fn dl_dadd(out: f32, c: f32, others: f32, first: bool) -> f32 { return select(0.0, 1.0, first && c == out); }
fn dl_dmul(out: f32, c: f32, others: f32, first: bool) -> f32 { return select(0.0, 1.0, first && c == out); }
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
        a.max(b)
    }
    #[inline(always)]
    fn mul(a: F, b: F) -> F {
        a.min(b)
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
}

impl<F: Float> Differentiable for Godel<F> {
    fn negate_derivative(_: F, _: F) -> F {
        -F::ONE
    }
    float_adjoints!();
    fn sum_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        first_extreme(node, derivs, F::ONE, F::ZERO);
    }
    fn product_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        first_extreme(node, derivs, F::ONE, F::ZERO);
    }
}
