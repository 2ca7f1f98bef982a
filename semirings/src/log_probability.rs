//! The log-probability semiring `(ℝ ∪ {−∞}, logaddexp, +, −∞, 0)`: the
//! probability semiring carried in log space, so products of thousands of
//! factors neither underflow nor lose precision.
//!
//! A sum node computes `m + ln Σ exp(x_i − m)` with `m` the largest child
//! (taken without gradient), and `−∞` when every child is `−∞` (never
//! `(−∞) − (−∞) = NaN`). Negation is `log1mexp`. Same requirements as
//! [`Probability`](crate::Probability).

use std::marker::PhantomData;

use crate::algebra::{pass_adjoint_to_children, row, row_mut, Algebra, Differentiable, Laws, NodeRows, Requirements};
use crate::float::Float;

/// Log-probabilities under `logaddexp` and `+`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogProbability<F = f64>(PhantomData<F>);

/// Batch elements handled per block of the n-ary log-sum-exp (stack buffers).
const BLOCK: usize = 64;

impl<F: Float> Algebra for LogProbability<F> {
    type Value = F;
    const NAME: &'static str = "log";
    const LAWS: Laws = Laws { sum_idempotent: false, distributive: true };
    const REQUIRES: Requirements = Requirements { decomposable: true, deterministic: true, smooth: false };
    // WGSL has no portable infinity: log-zero is the most negative f32.
    const WGSL: Option<&'static str> = Some(
        "const DL_LOG_ZERO: f32 = -3.4028235e38;
fn dl_zero() -> f32 { return DL_LOG_ZERO; }
fn dl_one() -> f32 { return 0.0; }
fn dl_add(a: f32, b: f32) -> f32 {
  let m = max(a, b);
  if (m <= DL_LOG_ZERO) { return DL_LOG_ZERO; }
  return m + log(exp(a - m) + exp(b - m));
}
fn dl_mul(a: f32, b: f32) -> f32 { return max(a + b, DL_LOG_ZERO); }
fn dl_neg(a: f32) -> f32 {
  if (a > -0.6931472) { return log(-(exp(a) - 1.0)); }
  return log(1.0 - exp(a));
}
fn dl_dneg(a: f32) -> f32 { return -exp(a - dl_neg(a)); }
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
        let m = a.max(b);
        if m == F::NEG_INFINITY {
            m
        } else {
            m + ((a - m).fast_exp() + (b - m).fast_exp()).fast_ln()
        }
    }
    #[inline(always)]
    fn mul(a: F, b: F) -> F {
        a + b
    }
    fn negate(a: F) -> Option<F> {
        Some(a.log1mexp())
    }
    fn from_probability(p: f64) -> F {
        F::from_f64(p.ln())
    }
    fn to_f64(a: F) -> f64 {
        a.to_f64()
    }

    fn sum_rows(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        match children {
            [] => out.fill(F::NEG_INFINITY),
            [c] => out.copy_from_slice(row(rows, *c, width)),
            _ => {
                for start in (0..width).step_by(BLOCK) {
                    let w = BLOCK.min(width - start);
                    let mut m = [F::NEG_INFINITY; BLOCK];
                    for &c in children {
                        let x = &row(rows, c, width)[start..start + w];
                        for t in 0..w {
                            m[t] = m[t].max(x[t]);
                        }
                    }
                    for mt in &mut m[..w] {
                        // All children −∞: shift by 0 so the sum is ln 0 = −∞.
                        *mt = if *mt == F::NEG_INFINITY { F::ZERO } else { *mt };
                    }
                    let mut s = [F::ZERO; BLOCK];
                    for &c in children {
                        let x = &row(rows, c, width)[start..start + w];
                        for t in 0..w {
                            s[t] = s[t] + (x[t] - m[t]).fast_exp();
                        }
                    }
                    for t in 0..w {
                        out[start + t] = m[t] + s[t].fast_ln();
                    }
                }
            }
        }
    }

    fn product_rows(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        crate::algebra::fold_rows(out, rows, children, width, F::ZERO, |a, b| a + b);
    }
}

impl<F: Float> Differentiable for LogProbability<F> {
    fn negate_derivative(x: F) -> F {
        // d/dx ln(1 − eˣ) = −eˣ / (1 − eˣ) = −exp(x − log1mexp(x)).
        -(x - x.log1mexp()).fast_exp()
    }
    fn adjoint_one() -> F {
        F::ONE
    }
    fn adjoint_zero() -> F {
        F::ZERO
    }
    #[inline(always)]
    fn adjoint_add(a: F, b: F) -> F {
        a + b
    }
    #[inline(always)]
    fn adjoint_mul(a: F, b: F) -> F {
        a * b
    }
    fn sum_backward(node: NodeRows<'_, F>, adj: &mut [F], _: &mut Vec<F>) {
        // ∂ logsumexp / ∂x_i = exp(x_i − out): the child's share of the sum.
        let NodeRows { out, adj_out, rows, children, width } = node;
        if let [c] = children {
            for (a, &g) in row_mut(adj, *c, width).iter_mut().zip(adj_out) {
                *a = *a + g;
            }
            return;
        }
        for &c in children {
            let x = row(rows, c, width);
            let a = row_mut(adj, c, width);
            for t in 0..width {
                let d = if out[t] == F::NEG_INFINITY { F::NEG_INFINITY } else { x[t] - out[t] };
                a[t] = a[t] + adj_out[t] * d.fast_exp();
            }
        }
    }
    fn product_backward(node: NodeRows<'_, F>, adj: &mut [F], _: &mut Vec<F>) {
        pass_adjoint_to_children(node, adj, |a, b| a + b);
    }
}
