//! Łukasiewicz logic: t-norm `max(0, a + b − 1)`, t-conorm `min(1, a + b)`,
//! negation `1 − x`.
//!
//! **Not a semiring**: the t-norm does not distribute over the t-conorm, and
//! neither operation is idempotent. Both are associative and commutative,
//! with identities 1 and 0 and annihilators 0 and 1. The n-ary forms are
//! `min(1, Σ xᵢ)` and `max(0, Σ xᵢ − (k − 1))`, equal to the folded binary
//! ones. Gradients are 1 inside the unsaturated region and 0 outside
//! (including the boundary), so they vanish once a formula saturates.

use std::marker::PhantomData;

use crate::algebra::float_adjoints;
use crate::algebra::{fold_rows, Algebra, Differentiable, Laws, NodeRows, Requirements};
use crate::float::Float;
use crate::fuzzy::negation;

/// Truth degrees under bounded sum and bounded product.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lukasiewicz<F = f64>(PhantomData<F>);

impl<F: Float> Algebra for Lukasiewicz<F> {
    type Value = F;
    const NAME: &'static str = "lukasiewicz";
    const LAWS: Laws = Laws { sum_idempotent: false, distributive: false, lattice: false };
    const REQUIRES: Requirements = Requirements { decomposable: false, deterministic: false, smooth: false };
    const WGSL: Option<&'static str> = Some(
        "fn dl_zero() -> f32 { return 0.0; }
const DL_LOG_SUM_EXP: bool = false;
fn dl_one() -> f32 { return 1.0; }
fn dl_add(a: f32, b: f32) -> f32 { return min(1.0, a + b); }
fn dl_mul(a: f32, b: f32) -> f32 { return max(0.0, a + b - 1.0); }
fn dl_neg(a: f32) -> f32 { return 1.0 - a; }
fn dl_dneg(a: f32) -> f32 { return -1.0; }
const DL_DADD_ONE: bool = false;
const DL_DMUL_ONE: bool = false;
const DL_DADD_OTHERS: bool = false;
const DL_DMUL_OTHERS: bool = false;
fn dl_dadd(out: f32, c: f32, others: f32, first: bool) -> f32 { return select(0.0, 1.0, out < 1.0); }
fn dl_dmul(out: f32, c: f32, others: f32, first: bool) -> f32 { return select(0.0, 1.0, out > 0.0); }
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
        (a + b).min(F::ONE)
    }
    #[inline(always)]
    fn mul(a: F, b: F) -> F {
        (a + b - F::ONE).max(F::ZERO)
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
        sum_children(out, rows, children, width);
        for o in out.iter_mut() {
            *o = o.min(F::ONE);
        }
    }

    #[inline]
    fn product_rows(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        sum_children(out, rows, children, width);
        let shift = F::from_f64(children.len().saturating_sub(1) as f64);
        for o in out.iter_mut() {
            *o = (*o - shift).max(F::ZERO);
        }
    }
}

/// `Σ` over the children, folded from the first (so that the sum of one
/// child is that child, bit for bit).
#[inline(always)]
fn sum_children<F: Float>(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
    fold_rows(out, rows, children, width, F::ZERO, |a, b| a + b);
}

/// Derivative 1 for every child where the node is unsaturated, else 0.
fn one_where<F: Float>(node: NodeRows<'_, F>, derivs: &mut [F], active: impl Fn(F) -> bool) {
    let NodeRows { out, children, width, .. } = node;
    for j in 0..children.len() {
        for (d, &o) in derivs[j * width..(j + 1) * width].iter_mut().zip(out) {
            *d = if active(o) { F::ONE } else { F::ZERO };
        }
    }
}

impl<F: Float> Differentiable for Lukasiewicz<F> {
    fn negate_derivative(_: F, _: F) -> F {
        -F::ONE
    }
    float_adjoints!();
    fn sum_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        one_where(node, derivs, |v| v < F::ONE);
    }
    fn product_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        one_where(node, derivs, |v| v > F::ZERO);
    }
}
