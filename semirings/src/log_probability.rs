//! The log-probability semiring `(ℝ ∪ {−∞}, logaddexp, +, −∞, 0)`: the
//! probability semiring carried in log space, so products of thousands of
//! factors neither underflow nor lose precision.
//!
//! A sum node computes `m + ln Σ exp(x_i − m)` with `m` the largest child
//! (taken without gradient), and `−∞` when every child is `−∞` (never
//! `(−∞) − (−∞) = NaN`). Negation is `log1mexp`. Same requirements as
//! [`Probability`](crate::Probability).

use std::marker::PhantomData;

use crate::algebra::float_adjoints;
use crate::algebra::{row, Algebra, Differentiable, Laws, LogDomain, NodeRows, Requirements, Segment, BLOCK};
use crate::float::Float;

/// Log-probabilities under `logaddexp` and `+`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogProbability<F = f64>(PhantomData<F>);

impl<F: Float> Algebra for LogProbability<F> {
    type Value = F;
    const NAME: &'static str = "log-probability";
    const LAWS: Laws = Laws { sum_idempotent: false, distributive: true, lattice: false };
    const REQUIRES: Requirements = Requirements { decomposable: true, deterministic: true, smooth: false };
    // WGSL has no portable infinity: log-zero is the most negative f32.
    const WGSL: Option<&'static str> = Some(
        "const DL_LOG_ZERO: f32 = -3.4028235e38;
fn dl_zero() -> f32 { return DL_LOG_ZERO; }
const DL_LOG_SUM_EXP: bool = true;
fn dl_one() -> f32 { return 0.0; }
fn dl_add(a: f32, b: f32) -> f32 {
  let m = max(a, b);
  if (m <= DL_LOG_ZERO) { return DL_LOG_ZERO; }
  return m + dl_ln(dl_exp(a - m) + dl_exp(b - m));
}
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
fn dl_dadd(out: f32, c: f32, others: f32, first: bool) -> f32 {
  if (out <= DL_LOG_ZERO) { return 0.0; }
  return dl_exp(c - out);
}
fn dl_dmul(out: f32, c: f32, others: f32, first: bool) -> f32 { return 1.0; }
",
    );

    const LOG_DOMAIN: Option<LogDomain<F>> = Some(LogDomain { to_f64: to_f64s::<F>, from_f64: from_f64s::<F> });

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

    fn sum_rows(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        log_sum_exp(out, rows, children, width, None);
    }

    fn product_rows(out: &mut [F], rows: &[F], children: &[u32], width: usize) {
        crate::algebra::fold_rows(out, rows, children, width, F::ZERO, |a, b| a + b);
    }

    fn sum_segment(seg: Segment<'_, F>) {
        if seg.width == 1 {
            log_sum_exp_edges(seg);
        } else {
            seg.each_node(Self::sum_rows);
        }
    }

    fn sum_of_pairs_segment(seg: Segment<'_, F>) {
        log_sum_of_pairs(seg);
    }

    fn product_segment(seg: Segment<'_, F>) {
        if seg.width == 1 {
            for i in 0..seg.num_nodes() {
                let mut acc = F::ZERO;
                for &c in &seg.children[seg.edges(i)] {
                    acc = acc + seg.rows[c as usize];
                }
                seg.out[i] = acc;
            }
        } else {
            seg.each_node(Self::product_rows);
        }
    }
}

fn to_f64s<F: Float>(src: &[F], dst: &mut [f64]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s.to_f64();
    }
}

fn from_f64s<F: Float>(src: &[f64], dst: &mut [F]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = F::from_f64(s);
    }
}

/// The shift of a log-sum-exp whose largest term is `m`: none while every
/// `exp` stays finite and the largest term normal (saving a pass), `m`
/// otherwise; 0 when every term is −∞, so that the sum is ln 0 = −∞.
#[inline(always)]
fn shift_for<F: Float>(m: F) -> F {
    if m == F::NEG_INFINITY || (m > -F::EXP_SAFE && m < F::EXP_SAFE) {
        F::ZERO
    } else {
        m
    }
}

/// `⊕_j (a_j ⊗ b_j)` in log space: `ln Σ_j exp(a_j + b_j)`. Both factors
/// of a pair share the pair's derivative `exp(a_j + b_j − out)`.
fn log_sum_of_pairs<F: Float>(seg: Segment<'_, F>) {
    let Segment { out, rows, offsets, children, width: w, derivs, scratch } = seg;
    let base = offsets[0] as usize;
    let n = offsets.len() - 1;
    let pairs = children.len() / 2;
    if w == 1 {
        // Edge-major, as in `log_sum_exp_edges`: one vectorised exp pass.
        scratch.clear();
        scratch.resize(pairs + n, F::ZERO);
        let (buf, sums) = scratch.split_at_mut(pairs);
        for i in 0..n {
            let p = (offsets[i] as usize - base) / 2..(offsets[i + 1] as usize - base) / 2;
            let mut m = F::NEG_INFINITY;
            for (j, b) in p.clone().zip(buf[p.clone()].iter_mut()) {
                *b = rows[children[2 * j] as usize] + rows[children[2 * j + 1] as usize];
                m = m.max(*b);
            }
            let shift = shift_for(m);
            out[i] = shift;
            if shift != F::ZERO {
                for b in &mut buf[p] {
                    *b = *b - shift;
                }
            }
        }
        for b in buf.iter_mut() {
            *b = b.fast_exp();
        }
        for (i, s) in sums.iter_mut().enumerate() {
            let p = (offsets[i] as usize - base) / 2..(offsets[i + 1] as usize - base) / 2;
            *s = buf[p].iter().fold(F::ZERO, |a, &b| a + b);
        }
        for (o, &s) in out.iter_mut().zip(sums.iter()) {
            *o = *o + s.fast_ln();
        }
        if let Some(d) = derivs {
            for (i, &s) in sums.iter().enumerate() {
                let inv = if s > F::ZERO { F::ONE / s } else { F::ZERO };
                let p = (offsets[i] as usize - base) / 2..(offsets[i + 1] as usize - base) / 2;
                for j in p {
                    let share = buf[j] * inv;
                    d[2 * j] = share;
                    d[2 * j + 1] = share;
                }
            }
        }
        return;
    }
    let most = offsets.windows(2).map(|o| (o[1] - o[0]) as usize / 2).max().unwrap_or(0);
    let iota: Vec<u32> = (0..most as u32).collect();
    scratch.clear();
    scratch.resize(2 * most * w, F::ZERO);
    let (terms, dterms) = scratch.split_at_mut(most * w);
    let mut derivs = derivs;
    for i in 0..n {
        let e = offsets[i] as usize - base..offsets[i + 1] as usize - base;
        let k = e.len() / 2;
        for j in 0..k {
            let a = row(rows, children[e.start + 2 * j], w);
            let b = row(rows, children[e.start + 2 * j + 1], w);
            for (t, term) in terms[j * w..(j + 1) * w].iter_mut().enumerate() {
                *term = a[t] + b[t];
            }
        }
        let node_out = &mut out[i * w..(i + 1) * w];
        match derivs.as_deref_mut() {
            None => log_sum_exp(node_out, terms, &iota[..k], w, None),
            Some(d) => {
                log_sum_exp(node_out, terms, &iota[..k], w, Some(&mut dterms[..k * w]));
                for j in 0..k {
                    let share = &dterms[j * w..(j + 1) * w];
                    let at = (e.start + 2 * j) * w;
                    d[at..at + w].copy_from_slice(share);
                    d[at + w..at + 2 * w].copy_from_slice(share);
                }
            }
        }
    }
}

/// A segment of log-sum-exp nodes at batch width 1, edge by edge: the
/// shifted child values of the whole segment go into one buffer, so the
/// `exp`s run as one vectorised loop instead of one short loop per node.
/// With `seg.derivs`, that buffer is the derivative rows themselves.
fn log_sum_exp_edges<F: Float>(seg: Segment<'_, F>) {
    let Segment { out, rows, offsets, children, derivs, scratch, .. } = seg;
    let n = offsets.len() - 1;
    let base = offsets[0] as usize;
    let has_derivs = derivs.is_some();
    scratch.clear();
    scratch.resize(n + if has_derivs { 0 } else { children.len() }, F::ZERO);
    let (sums, spare) = scratch.split_at_mut(n);
    let buf: &mut [F] = match derivs {
        Some(d) => d,
        None => spare,
    };
    for i in 0..n {
        let e = offsets[i] as usize - base..offsets[i + 1] as usize - base;
        // One gather per edge; the shift then runs over the contiguous buffer.
        let mut m = F::NEG_INFINITY;
        for (b, &c) in buf[e.clone()].iter_mut().zip(&children[e.clone()]) {
            *b = rows[c as usize];
            m = m.max(*b);
        }
        let shift = shift_for(m);
        out[i] = shift;
        if shift != F::ZERO {
            for b in &mut buf[e] {
                *b = *b - shift;
            }
        }
    }
    for b in buf.iter_mut() {
        *b = b.fast_exp();
    }
    for (i, s) in sums.iter_mut().enumerate() {
        let e = offsets[i] as usize - base..offsets[i + 1] as usize - base;
        *s = buf[e].iter().fold(F::ZERO, |a, &b| a + b);
    }
    for (o, &s) in out.iter_mut().zip(sums.iter()) {
        *o = *o + s.fast_ln();
    }
    if has_derivs {
        for (i, &s) in sums.iter().enumerate() {
            let inv = if s > F::ZERO { F::ONE / s } else { F::ZERO };
            let e = offsets[i] as usize - base..offsets[i + 1] as usize - base;
            for b in &mut buf[e] {
                *b = *b * inv;
            }
        }
    }
}

/// `out[t] = ln Σ_c exp(rows[c][t])`, shifted by the largest child so that
/// nothing overflows; with `derivs`, also each child's share
/// `exp(rows[c][t] − out[t])`, which is its derivative, from the same `exp`s.
#[inline(always)]
fn log_sum_exp<F: Float>(out: &mut [F], rows: &[F], children: &[u32], width: usize, mut derivs: Option<&mut [F]>) {
    if let [c] = children {
        out.copy_from_slice(row(rows, *c, width));
        if let Some(d) = derivs {
            d[..width].fill(F::ONE);
        }
        return;
    }
    if children.is_empty() {
        out.fill(F::NEG_INFINITY);
        return;
    }
    if width == 1 {
        // One batch element: plain scalar loops, no per-block buffers.
        let mut m = F::NEG_INFINITY;
        for &c in children {
            m = m.max(rows[c as usize]);
        }
        let shift = if m == F::NEG_INFINITY { F::ZERO } else { m };
        let mut s = F::ZERO;
        match derivs.as_deref_mut() {
            Some(d) => {
                for (dj, &c) in d.iter_mut().zip(children) {
                    *dj = (rows[c as usize] - shift).fast_exp();
                    s = s + *dj;
                }
                let inv = if s > F::ZERO { F::ONE / s } else { F::ZERO };
                for dj in &mut d[..children.len()] {
                    *dj = *dj * inv;
                }
            }
            None => {
                for &c in children {
                    s = s + (rows[c as usize] - shift).fast_exp();
                }
            }
        }
        out[0] = shift + s.fast_ln();
        return;
    }
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
        match derivs.as_deref_mut() {
            Some(d) => {
                for (j, &c) in children.iter().enumerate() {
                    let x = &row(rows, c, width)[start..start + w];
                    let dj = &mut d[j * width + start..j * width + start + w];
                    for t in 0..w {
                        dj[t] = (x[t] - m[t]).fast_exp();
                        s[t] = s[t] + dj[t];
                    }
                }
                let mut inv = [F::ZERO; BLOCK];
                for t in 0..w {
                    inv[t] = if s[t] > F::ZERO { F::ONE / s[t] } else { F::ZERO };
                }
                for j in 0..children.len() {
                    let dj = &mut d[j * width + start..j * width + start + w];
                    for t in 0..w {
                        dj[t] = dj[t] * inv[t];
                    }
                }
            }
            None => {
                for &c in children {
                    let x = &row(rows, c, width)[start..start + w];
                    for t in 0..w {
                        s[t] = s[t] + (x[t] - m[t]).fast_exp();
                    }
                }
            }
        }
        for t in 0..w {
            out[start + t] = m[t] + s[t].fast_ln();
        }
    }
}

impl<F: Float> Differentiable for LogProbability<F> {
    const PRODUCT_DERIVATIVE_IS_ONE: bool = true;

    #[inline(always)]
    fn negate_derivative(x: F, negated: F) -> F {
        // d/dx ln(1 − eˣ) = −eˣ / (1 − eˣ) = −exp(x − log1mexp(x)).
        -(x - negated).fast_exp()
    }
    float_adjoints!();
    fn sum_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        // ∂ logsumexp / ∂x_i = exp(x_i − out): the child's share of the sum.
        let NodeRows { out, rows, children, width } = node;
        for (j, &c) in children.iter().enumerate() {
            let x = row(rows, c, width);
            for t in 0..width {
                let d = if out[t] == F::NEG_INFINITY { F::NEG_INFINITY } else { x[t] - out[t] };
                derivs[j * width + t] = d.fast_exp();
            }
        }
    }
    fn product_derivatives(node: NodeRows<'_, F>, derivs: &mut [F]) {
        derivs[..node.children.len() * node.width].fill(F::ONE);
    }
    fn sum_rows_with_derivatives(out: &mut [F], rows: &[F], children: &[u32], width: usize, derivs: &mut [F]) {
        log_sum_exp(out, rows, children, width, Some(derivs));
    }
    fn sum_segment_with_derivatives(seg: Segment<'_, F>) {
        if seg.width == 1 {
            log_sum_exp_edges(seg);
        } else {
            seg.each_node_with_derivatives(Self::sum_rows_with_derivatives);
        }
    }
    fn product_segment_with_derivatives(seg: Segment<'_, F>) {
        // The derivative of a log-space product is 1: nothing to store.
        Self::product_segment(seg);
    }
    fn sum_of_pairs_segment_with_derivatives(seg: Segment<'_, F>) {
        log_sum_of_pairs(seg);
    }
}
