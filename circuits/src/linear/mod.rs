//! The log-probability algebra evaluated in the linear domain.
//!
//! A log-probability circuit computes `ln R` where `R` is the circuit read
//! in the probability semiring: sums are sums, products are products of
//! `e^w`. Computing `R` itself, in `f64`, and taking one `ln` per root costs
//! a multiply-add per edge where log space costs an `exp` (and the reverse
//! pass reads values instead of stored per-edge derivatives).
//!
//! It is exact to rounding wherever no value under- or overflows, and the
//! forward pass proves that for each call: with every weight finite (and a
//! derived negative weight `1 − e^x` positive), every value is positive in
//! exact arithmetic (compiled circuits have no unsatisfiable inner nodes:
//! constants are folded away), so if every computed value is a normal
//! `f64`, no operation under- or overflowed, and sums of positive terms and
//! products lose only rounding: the values are log space's to about
//! `depth · 2⁻⁵³` relative. Adjoints are `seed / R · ∂R/∂node`; the pass
//! checks that every gradient came out finite. Where a check fails (tiny
//! probabilities over hundreds of variables, a weight of exactly 0), the
//! evaluator answers in log space instead, having spent one cheap pass.
//! Negated weights come from `−expm1(x)`, as accurate as log space's
//! `log1mexp`.

use std::sync::atomic::AtomicU64;

use deeplog_semirings::{Float, LogDomain};

use crate::eval::{Seeds, TileGradients, TileResult, Weights};
use crate::layered::{LayeredCircuit, Leaf, Op};

pub(crate) mod single;

/// Buffers of one tile, reused across calls.
#[derive(Default)]
pub(crate) struct Workspace {
    values: Vec<f64>,
    adjoints: Vec<f64>,
    scratch: Vec<f64>,
    /// Each slot's positive and negative weight, `[slots × width]`.
    positive: Vec<f64>,
    negative: Vec<f64>,
    /// Rows of the one-column route on all cores ([`single`]).
    shared_values: Vec<AtomicU64>,
    shared_adjoints: Vec<AtomicU64>,
}

/// Whether the weights admit the linear route: every weight finite, and
/// every derived negative weight `1 − e^x` positive (`x < 0`).
pub(crate) fn admissible<V: Copy>(w: &Weights<V>, d: LogDomain<V>) -> bool {
    let mut buf = [0.0f64; 256];
    let all = |v: &[V], buf: &mut [f64; 256], ok: fn(f64) -> bool| {
        v.chunks(256).all(|chunk| {
            let b = &mut buf[..chunk.len()];
            (d.to_f64)(chunk, b);
            b.iter().all(|&x| ok(x))
        })
    };
    match &w.negative {
        Some(n) => all(&w.positive, &mut buf, f64::is_finite) && all(n, &mut buf, f64::is_finite),
        None => all(&w.positive, &mut buf, |x| x.is_finite() && x < 0.0),
    }
}

/// Whether every value but the constants' is a normal `f64` (see the
/// module documentation); branch-free, so that it vectorises.
fn all_normal(c: &LayeredCircuit, width: usize, values: &[f64]) -> bool {
    values[c.num_constants as usize * width..c.num_rows() * width].iter().fold(true, |ok, &v| ok & normal(v))
}

/// Whether `v` is a normal `f64`: its biased exponent in 1..=2046, neither
/// zero, subnormal, infinite nor NaN.
#[inline(always)]
fn normal(v: f64) -> bool {
    ((v.to_bits() >> 52) & 0x7ff).wrapping_sub(1) < 0x7fe
}

/// `1 − e^x` for `x < 0` given `p = e^x`, to a few ulps and without a
/// branch: `1 − p` where `p < ½` (no cancellation), else
/// `−2 sinh(x/2) · e^{x/2}` with `sinh` by its series on `|x/2| < ln2 / 2`
/// and `e^{x/2} = √p`.
#[inline(always)]
fn one_minus_exp(x: f64, p: f64) -> f64 {
    let h = 0.5 * x;
    let h2 = h * h;
    // sinh(h) / h = Σ h^(2k) / (2k + 1)!; the terms past h¹⁴ are below 1e-19.
    let mut s = 1.0 / 1_307_674_368_000.0;
    for c in [1.0 / 6_227_020_800.0, 1.0 / 39_916_800.0, 1.0 / 362_880.0, 1.0 / 5040.0, 1.0 / 120.0, 1.0 / 6.0, 1.0] {
        s = s.mul_add(h2, c);
    }
    let near = -2.0 * h * s * p.sqrt();
    if x < -std::f64::consts::LN_2 {
        1.0 - p
    } else {
        near
    }
}

/// Fills the slots' linear weights of a tile (columns `range`) with
/// vectorisable `exp`s, then the leaf rows from them.
fn fill_leaves<V: Copy>(
    c: &LayeredCircuit,
    w: &Weights<V>,
    range: &std::ops::Range<usize>,
    d: LogDomain<V>,
    ws: &mut Workspace,
) {
    let width = range.len();
    let slots = c.num_slots as usize;
    ws.positive.resize(slots * width, 0.0);
    ws.negative.resize(slots * width, 0.0);
    // `[slots × width]` is `[slots × batch]` when the tile is the batch:
    // one pass over every slot (at batch 1, one vectorised loop rather than
    // a scalar `exp` per slot).
    let spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = if width == w.batch {
        vec![(0..slots * width, 0..slots * width)]
    } else {
        (0..slots).map(|s| (s * w.batch + range.start..s * w.batch + range.end, s * width..(s + 1) * width)).collect()
    };
    for (src, dst) in spans {
        let (p, q) = (&mut ws.positive[dst.clone()], &mut ws.negative[dst]);
        (d.to_f64)(&w.positive[src.clone()], p);
        match &w.negative {
            Some(n) => {
                (d.to_f64)(&n[src], q);
                q.iter_mut().for_each(|y| *y = y.fast_exp());
            }
            None => {
                p.iter_mut().zip(q.iter_mut()).for_each(|(p, q)| {
                    let x = *p;
                    *p = x.fast_exp();
                    *q = one_minus_exp(x, *p);
                });
                continue;
            }
        }
        p.iter_mut().for_each(|x| *x = x.fast_exp());
    }
    if width == 1 {
        // One element per leaf: a copy call per leaf would cost more than it moves.
        for (v, leaf) in ws.values.iter_mut().zip(&c.leaves) {
            *v = match *leaf {
                Leaf::Constant(b) => f64::from(u8::from(b)),
                Leaf::Literal(l) => (if l.positive { &ws.positive } else { &ws.negative })[l.slot.0 as usize],
            };
        }
        return;
    }
    for (row, leaf) in c.leaves.iter().enumerate() {
        let out = &mut ws.values[row * width..(row + 1) * width];
        match *leaf {
            Leaf::Constant(b) => out.fill(if b { 1.0 } else { 0.0 }),
            Leaf::Literal(l) => {
                let s = l.slot.0 as usize;
                let from = if l.positive { &ws.positive } else { &ws.negative };
                out.copy_from_slice(&from[s * width..(s + 1) * width]);
            }
        }
    }
}

/// The forward pass of a tile in the linear domain, leaves filled.
fn forward(c: &LayeredCircuit, width: usize, values: &mut [f64]) {
    let first = c.leaves.len();
    if width == 1 {
        for run in &c.runs {
            // Children lie in earlier layers, so below the run's rows.
            let (earlier, rest) = values.split_at_mut(run.rows.start as usize);
            let out = &mut rest[..run.rows.len()];
            let (k, kids) = (run.fan_in as usize, run_children(c, run, run.rows.clone()));
            run_values(run.op, k, out.len(), kids, |k| earlier[k as usize], |i, x| out[i] = x);
        }
        return;
    }
    for layer in &c.layers {
        for seg in &layer.segments {
            for row in seg.rows.start as usize..seg.rows.end as usize {
                let i = row - first;
                let kids = &c.children[c.offsets[i] as usize..c.offsets[i + 1] as usize];
                let (earlier, rest) = values.split_at_mut(row * width);
                let out = &mut rest[..width];
                let at = |k: u32| &earlier[k as usize * width..(k as usize + 1) * width];
                match seg.op {
                    Op::Sum => {
                        out.fill(0.0);
                        for &k in kids {
                            for (o, &v) in out.iter_mut().zip(at(k)) {
                                *o += v;
                            }
                        }
                    }
                    Op::Product => {
                        out.fill(1.0);
                        for &k in kids {
                            for (o, &v) in out.iter_mut().zip(at(k)) {
                                *o *= v;
                            }
                        }
                    }
                    Op::SumOfPairs => {
                        out.fill(0.0);
                        for p in kids.chunks_exact(2) {
                            for ((o, &a), &b) in out.iter_mut().zip(at(p[0])).zip(at(p[1])) {
                                *o = a.mul_add(b, *o);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The values of `rows` consecutive rows of one kind and fan-in `k` from
/// their children `kids` (`k` per row): `put(i, value)` for the `i`-th
/// row. The common fan-ins are spelled out.
#[inline(always)]
fn run_values(op: Op, k: usize, rows: usize, kids: &[u32], v: impl Fn(u32) -> f64, mut put: impl FnMut(usize, f64)) {
    match (op, k) {
        (Op::Product, 2) => kids.as_chunks().0.iter().enumerate().for_each(|(i, &[a, b])| put(i, v(a) * v(b))),
        (Op::Sum, 2) => kids.as_chunks().0.iter().enumerate().for_each(|(i, &[a, b])| put(i, v(a) + v(b))),
        (Op::SumOfPairs, 4) => {
            for (i, &[a, b, c, d]) in kids.as_chunks().0.iter().enumerate() {
                put(i, v(a).mul_add(v(b), v(c) * v(d)));
            }
        }
        // Rows without children (the builder folds them into constants).
        (op, 0) => (0..rows).for_each(|i| put(i, if op == Op::Product { 1.0 } else { 0.0 })),
        (op, k) => {
            for (i, ks) in kids.chunks(k).enumerate() {
                put(
                    i,
                    match op {
                        Op::Sum => sum4(ks, |&k| v(k)),
                        Op::Product => ks.iter().map(|&k| v(k)).product(),
                        Op::SumOfPairs => sum4(ks.as_chunks::<2>().0, |&[a, b]| v(a) * v(b)),
                    },
                );
            }
        }
    }
}

/// `Σ f(x)` over `xs` with four running sums, so that a long list (the
/// root's thousands of children, a literal's thousands of parents) is not
/// one chain of dependent additions.
#[inline(always)]
fn sum4<T>(xs: &[T], f: impl Fn(&T) -> f64) -> f64 {
    let (quads, rest) = xs.as_chunks::<4>();
    let mut s = [0.0; 4];
    for q in quads {
        for (s, x) in s.iter_mut().zip(q) {
            *s += f(x);
        }
    }
    let tail: f64 = rest.iter().map(&f).sum();
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// The children of rows `rows` of `run` (a part of its rows), `fan_in`
/// per row.
fn run_children<'c>(c: &'c LayeredCircuit, run: &crate::layered::Run, rows: std::ops::Range<u32>) -> &'c [u32] {
    let k = run.fan_in as usize;
    let start = run.children as usize + (rows.start - run.rows.start) as usize * k;
    &c.children[start..start + rows.len() * k]
}

/// Root values of a tile as log-domain values, `[roots × width]`.
fn roots<V: Copy + Default>(c: &LayeredCircuit, width: usize, values: &[f64], d: LogDomain<V>) -> Vec<V> {
    let mut out = Vec::with_capacity(c.roots.len() * width);
    for &r in &c.roots {
        let logs: Vec<f64> = values[r as usize * width..(r as usize + 1) * width].iter().map(|v| v.ln()).collect();
        let at = out.len();
        out.resize(at + width, V::default());
        (d.from_f64)(&logs, &mut out[at..]);
    }
    out
}

/// Root values of columns `range`; `None` where a value left `f64`'s
/// normal range.
pub(crate) fn forward_tile<V: Copy + Default>(
    c: &LayeredCircuit,
    w: &Weights<V>,
    range: std::ops::Range<usize>,
    d: LogDomain<V>,
    ws: &mut Workspace,
) -> Option<Vec<V>> {
    let width = range.len();
    ws.values.resize(c.num_rows() * width, 0.0);
    fill_leaves(c, w, &range, d, ws);
    forward(c, width, &mut ws.values);
    all_normal(c, width, &ws.values).then(|| roots(c, width, &ws.values, d))
}

/// Root values and gradients (positive, and negative where the weights
/// give negatives) of columns `range`; `None` where a value left `f64`'s
/// normal range or a gradient is not finite (log space then answers).
pub(crate) fn forward_backward_tile<V: Copy + Default>(
    c: &LayeredCircuit,
    w: &Weights<V>,
    range: std::ops::Range<usize>,
    seeds: Seeds<'_, V>,
    d: LogDomain<V>,
    ws: &mut Workspace,
) -> Option<TileResult<V>> {
    let width = range.len();
    let rows = c.num_rows();
    ws.values.resize(rows * width, 0.0);
    fill_leaves(c, w, &range, d, ws);
    let Workspace { values, adjoints, scratch, positive, .. } = ws;
    forward(c, width, values);
    if !all_normal(c, width, values) {
        return None;
    }
    let root_values = roots(c, width, values, d);

    // ∂(Σ seed · ln R)/∂R = seed / R at each root.
    adjoints.clear();
    adjoints.resize(rows * width, 0.0);
    for (i, &r) in c.roots.iter().enumerate() {
        for (t, column) in range.clone().enumerate() {
            let at = r as usize * width + t;
            adjoints[at] += seed_f64(seeds, i, column, d) / values[at];
        }
    }
    backward(c, width, values, adjoints, scratch);

    let gradients = leaf_gradients(c, w, width, values, adjoints, positive, d)?;
    Some((root_values, gradients))
}

/// The seed of root `i` in batch column `column`, as an `f64`.
fn seed_f64<V: Copy>(seeds: Seeds<'_, V>, i: usize, column: usize, d: LogDomain<V>) -> f64 {
    let mut seed = [0.0];
    (d.to_f64)(&[seeds.get(i, column)], &mut seed);
    seed[0]
}

/// The weights' gradients `[slots × width]` from the leaf rows' values and
/// adjoints (the first `leaves × width` entries of each); `None` where one
/// is not finite.
fn leaf_gradients<V: Copy + Default>(
    c: &LayeredCircuit,
    w: &Weights<V>,
    width: usize,
    values: &[f64],
    adjoints: &[f64],
    positive: &[f64],
    d: LogDomain<V>,
) -> Option<TileGradients<V>> {
    // ∂/∂ln w = w · ∂/∂w; a derived negative weight 1 − w adds −w · ∂/∂w̄.
    let slots = c.num_slots as usize;
    let mut pos = vec![0.0f64; slots * width];
    let mut neg = w.negative.as_ref().map(|_| vec![0.0f64; slots * width]);
    for (row, leaf) in c.leaves.iter().enumerate().skip(c.num_constants as usize) {
        let Leaf::Literal(l) = *leaf else { continue };
        let s = l.slot.0 as usize;
        if width == 1 {
            // One element per leaf: no column loop.
            let (a, v) = (adjoints[row], values[row]);
            match (&mut neg, l.positive) {
                (_, true) => pos[s] += v * a,
                (Some(neg), false) => neg[s] += v * a,
                (None, false) => pos[s] -= positive[s] * a,
            }
            continue;
        }
        for t in 0..width {
            let (a, v) = (adjoints[row * width + t], values[row * width + t]);
            match (&mut neg, l.positive) {
                (_, true) => pos[s * width + t] += v * a,
                (Some(neg), false) => neg[s * width + t] += v * a,
                (None, false) => pos[s * width + t] -= positive[s * width + t] * a,
            }
        }
    }
    let convert = |g: Vec<f64>| -> Option<Vec<V>> {
        g.iter().all(|x| x.is_finite()).then(|| {
            let mut out = vec![V::default(); g.len()];
            (d.from_f64)(&g, &mut out);
            out
        })
    };
    let neg = match neg {
        Some(n) => Some(convert(n)?),
        None => None,
    };
    Some((convert(pos)?, neg))
}

/// Reverse pass: `adjoints` holds the roots' seeds on entry and every
/// row's `∂/∂value` on exit.
fn backward(c: &LayeredCircuit, width: usize, values: &[f64], adjoints: &mut [f64], scratch: &mut Vec<f64>) {
    if width == 1 {
        for run in c.runs.iter().rev() {
            // Children lie in earlier layers, so below the run's rows.
            let (earlier, rest) = adjoints.split_at_mut(run.rows.start as usize);
            let gs = &rest[..run.rows.len()];
            let kids = run_children(c, run, run.rows.clone());
            let v = |k: u32| values[k as usize];
            // (Rows without children have nothing to pass on; `chunks`
            // needs a non-zero size.)
            for (&g, ks) in gs.iter().zip(kids.chunks(run.fan_in.max(1) as usize)) {
                if g == 0.0 {
                    continue;
                }
                match (run.op, ks) {
                    (Op::Sum, _) => ks.iter().for_each(|&k| earlier[k as usize] += g),
                    (Op::SumOfPairs, _) | (Op::Product, &[_, _]) => {
                        for &[a, b] in ks.as_chunks().0 {
                            earlier[a as usize] += g * v(b);
                            earlier[b as usize] += g * v(a);
                        }
                    }
                    (Op::Product, _) => product_adjoints(ks, values, earlier, g, scratch),
                }
            }
        }
        return;
    }
    let first = c.leaves.len();
    for layer in c.layers.iter().rev() {
        for seg in layer.segments.iter().rev() {
            for row in (seg.rows.start as usize..seg.rows.end as usize).rev() {
                let i = row - first;
                let kids = &c.children[c.offsets[i] as usize..c.offsets[i + 1] as usize];
                let (earlier, rest) = adjoints.split_at_mut(row * width);
                let g = &rest[..width];
                let span = |k: u32| k as usize * width..(k as usize + 1) * width;
                // `adj[a] += g · value[b]` over the tile's columns.
                let mut add_scaled = |a: u32, b: Option<u32>| {
                    let adj = &mut earlier[span(a)];
                    match b {
                        None => adj.iter_mut().zip(g).for_each(|(x, &g)| *x += g),
                        Some(b) => {
                            for ((x, &g), &v) in adj.iter_mut().zip(g).zip(&values[span(b)]) {
                                *x = g.mul_add(v, *x);
                            }
                        }
                    }
                };
                match seg.op {
                    Op::Sum => kids.iter().for_each(|&k| add_scaled(k, None)),
                    Op::SumOfPairs => {
                        for p in kids.chunks_exact(2) {
                            add_scaled(p[0], Some(p[1]));
                            add_scaled(p[1], Some(p[0]));
                        }
                    }
                    Op::Product if kids.len() == 2 => {
                        add_scaled(kids[0], Some(kids[1]));
                        add_scaled(kids[1], Some(kids[0]));
                    }
                    Op::Product => {
                        // Prefix products row by row, then suffix products.
                        // Rows 0..=k: prefix products; row k + 1: the suffix.
                        scratch.clear();
                        scratch.resize((kids.len() + 2) * width, 1.0);
                        for (j, &k) in kids.iter().enumerate() {
                            let (done, next) = scratch.split_at_mut((j + 1) * width);
                            let prev = &done[j * width..];
                            for ((n, &p), &v) in next[..width].iter_mut().zip(prev).zip(&values[span(k)]) {
                                *n = p * v;
                            }
                        }
                        let (prefixes, suffix) = scratch.split_at_mut((kids.len() + 1) * width);
                        for (j, &k) in kids.iter().enumerate().rev() {
                            let prefix = &prefixes[j * width..(j + 1) * width];
                            let adj = &mut earlier[span(k)];
                            for t in 0..width {
                                adj[t] += g[t] * prefix[t] * suffix[t];
                            }
                            for (s, &v) in suffix.iter_mut().zip(&values[span(k)]) {
                                *s *= v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `adj[k] += g · Π_{j ≠ k} value[j]` for the children of a product at
/// batch width 1, by prefix and suffix products (no division: a child may
/// be 0).
fn product_adjoints(kids: &[u32], values: &[f64], adjoints: &mut [f64], g: f64, scratch: &mut Vec<f64>) {
    let v = |k: u32| values[k as usize];
    scratch.clear();
    let mut prefix = 1.0;
    for &k in kids {
        scratch.push(prefix);
        prefix *= v(k);
    }
    let mut suffix = 1.0;
    for (j, &k) in kids.iter().enumerate().rev() {
        adjoints[k as usize] += g * scratch[j] * suffix;
        suffix *= v(k);
    }
}

#[cfg(test)]
mod tests {
    use deeplog_semirings::{Algebra, LogProbability};

    use super::*;

    #[test]
    fn one_minus_exp_is_accurate_near_both_ends() {
        for i in 1..2000 {
            let x = -(i as f64) * 1e-3 - 1e-12 * i as f64;
            let exact = -x.exp_m1();
            let got = one_minus_exp(x, x.exp());
            assert!((got - exact).abs() <= 4.0 * f64::EPSILON * exact, "x = {x}: {got} vs {exact}");
        }
        let tiny = -1e-15;
        assert!((one_minus_exp(tiny, tiny.exp()) - 1e-15).abs() < 1e-29);
    }

    #[test]
    fn finite_weights_are_admissible_and_others_not() {
        let d = LogProbability::<f64>::LOG_DOMAIN.unwrap();
        let ordinary: Vec<f64> = (0..100).map(|i| (0.05 + 0.009 * i as f64).ln()).collect();
        assert!(admissible(&Weights::complementary(1, ordinary.clone()), d));
        // A zero weight, and a "probability" of 1 or above with derived negation.
        assert!(!admissible(&Weights::complementary(1, vec![f64::NEG_INFINITY]), d));
        assert!(!admissible(&Weights::complementary(1, vec![0.0]), d));
        assert!(!admissible(&Weights::complementary(1, vec![0.5]), d));
        // Explicit negatives may be anything finite.
        let w = Weights { batch: 1, positive: vec![5.0; 100], negative: Some(vec![5.0; 100]) };
        assert!(admissible(&w, d));
        let w = Weights { batch: 1, positive: ordinary, negative: Some(vec![f64::NAN; 100]) };
        assert!(!admissible(&w, d));
    }
}
