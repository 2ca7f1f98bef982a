//! The hot loops of formula circuits: forward and backward passes over
//! tiles of the batch, row by row, with the workspaces they reuse. The
//! evaluator in `mod.rs` prepares the data and calls these.

use super::*;

/// `run` on every tile: in parallel for a large batch, in order otherwise (a
/// small batch never starts rayon's pool).
pub(super) fn in_tiles<T: Send>(
    tiles: &[Range<usize>],
    batch: usize,
    run: impl Fn(&Range<usize>) -> T + Sync + Send,
) -> Vec<T> {
    if batch >= PARALLEL_BATCH && tiles.len() > 1 {
        tiles.par_iter().map(run).collect()
    } else {
        tiles.iter().map(run).collect()
    }
}

/// Where the leaves of a tile read from: the full input and nested-root
/// matrices, and the tile's first column.
pub(super) struct Source<'a> {
    pub(super) inputs: &'a [f64],
    pub(super) nested: &'a [f64],
    pub(super) batch: usize,
    pub(super) start: usize,
}

impl Source<'_> {
    pub(super) fn input(&self, i: u32, width: usize) -> &[f64] {
        &self.inputs[i as usize * self.batch + self.start..][..width]
    }
    pub(super) fn nested(&self, r: u32, width: usize) -> &[f64] {
        &self.nested[r as usize * self.batch + self.start..][..width]
    }
}

/// One tile's rows: node values, node adjoints, and room for intermediate
/// rows of the reverse pass.
#[derive(Default)]
pub(super) struct Workspace {
    pub(super) values: Vec<f64>,
    pub(super) adjoints: Vec<f64>,
    pub(super) scratch: Vec<f64>,
}

impl Workspace {
    /// The first `n` values. The forward pass writes every row before it
    /// reads it, so a reused buffer needs no clearing.
    pub(super) fn values(&mut self, n: usize) -> &mut [f64] {
        if self.values.len() < n {
            self.values.resize(n, 0.0);
        }
        &mut self.values[..n]
    }
}

/// What the reverse pass hands out of a tile: adjoints of the input rows and
/// of the nested roots, `[rows × width]`.
pub(super) struct LeafAdjoints {
    pub(super) inputs: Vec<f64>,
    pub(super) nested: Vec<f64>,
}

#[inline(always)]
pub(super) fn row(m: &[f64], i: u32, width: usize) -> &[f64] {
    &m[i as usize * width..][..width]
}

#[inline(always)]
pub(super) fn row_mut(m: &mut [f64], i: u32, width: usize) -> &mut [f64] {
    &mut m[i as usize * width..][..width]
}

/// `a += g`, elementwise.
#[inline(always)]
pub(super) fn accumulate(a: &mut [f64], g: &[f64]) {
    for (a, &g) in a.iter_mut().zip(g) {
        *a += g;
    }
}

pub(super) fn read_roots(expr: &Expr, values: &[f64], width: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(expr.roots.len() * width);
    for &r in &expr.roots {
        out.extend_from_slice(row(values, r, width));
    }
    out
}

/// The forward pass over a tile of `width` columns, one row per node.
pub(super) fn forward_tile(expr: &Expr, source: &Source<'_>, width: usize, values: &mut [f64]) {
    // The same loop twice: inlined with a constant width of 1, every row
    // operation becomes a scalar one.
    if width == 1 {
        forward_rows(expr, source, 1, values);
    } else {
        forward_rows(expr, source, width, values);
    }
}

#[inline(always)]
pub(super) fn forward_rows(expr: &Expr, source: &Source<'_>, width: usize, values: &mut [f64]) {
    for (node, &op) in expr.ops.iter().enumerate() {
        let (earlier, rest) = values.split_at_mut(node * width);
        let earlier = &*earlier;
        let out = &mut rest[..width];
        let cs = expr.children_of(node);
        let n = cs.len() as f64;
        match op {
            Op::Input(i) => out.copy_from_slice(source.input(i, width)),
            Op::Const(x) => out.fill(x),
            Op::Nested(r) => out.copy_from_slice(source.nested(r, width)),
            Op::Not => map(out, row(earlier, cs[0], width), negation),
            Op::Ln => map(out, row(earlier, cs[0], width), f64::ln),
            Op::Div => {
                let (a, b) = (row(earlier, cs[0], width), row(earlier, cs[1], width));
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    *o = a / b;
                }
            }
            Op::Sum => fold(out, earlier, cs, |x| x, |s, x| s + x),
            Op::Product => fold(out, earlier, cs, |x| x, |s, x| s * x),
            Op::Max => fold(out, earlier, cs, |x| x, f64::max),
            Op::Min => fold(out, earlier, cs, |x| x, f64::min),
            Op::And(t) => t.and_rows(out, earlier, cs, width),
            Op::Or(t) => t.or_rows(out, earlier, cs, width),
            Op::Implies(kind) => {
                let (a, b) = (row(earlier, cs[0], width), row(earlier, cs[1], width));
                for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
                    *o = kind.apply(a, b);
                }
            }
            Op::PMean(p) => {
                fold(out, earlier, cs, |x| pow(x, p), |s, x| s + pow(x, p));
                out.iter_mut().for_each(|v| *v = pow(*v / n, 1.0 / p));
            }
            Op::PMeanError(p) => {
                fold(out, earlier, cs, |x| pow(1.0 - x, p), |s, x| s + pow(1.0 - x, p));
                out.iter_mut().for_each(|v| *v = 1.0 - pow(*v / n, 1.0 / p));
            }
        }
    }
}

/// `x^p`. The common exponents of p-means are multiplications or a square
/// root: `powf` costs about 20 ns, which a p-mean over a million formulas
/// pays once per formula and pass.
#[inline(always)]
pub(super) fn pow(x: f64, p: f64) -> f64 {
    if p == 1.0 {
        x
    } else if p == 2.0 {
        x * x
    } else if p == 0.5 {
        x.sqrt()
    } else if p == -1.0 {
        1.0 / x
    } else if p == p.trunc() && p.abs() <= 16.0 {
        x.powi(p as i32)
    } else {
        x.powf(p)
    }
}

/// `out = f(x)`, elementwise.
#[inline(always)]
pub(super) fn map(out: &mut [f64], x: &[f64], f: impl Fn(f64) -> f64) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = f(x);
    }
}

/// `out = step(…step(init(x_0), x_1)…, x_{n−1})` over the rows of children
/// `cs`, elementwise.
#[inline(always)]
pub(super) fn fold(
    out: &mut [f64],
    rows: &[f64],
    cs: &[ExprId],
    init: impl Fn(f64) -> f64,
    step: impl Fn(f64, f64) -> f64,
) {
    let width = out.len();
    map(out, row(rows, cs[0], width), init);
    for &c in &cs[1..] {
        for (o, &x) in out.iter_mut().zip(row(rows, c, width)) {
            *o = step(*o, x);
        }
    }
}

/// The reverse pass over a tile whose node values are in `ws` and whose root
/// adjoints are seeded there.
pub(super) fn backward_tile(expr: &Expr, width: usize, ws: &mut Workspace, out: &mut LeafAdjoints) {
    let Workspace { values, adjoints, scratch } = ws;
    if width == 1 {
        backward_rows(expr, values, 1, adjoints, scratch, out);
    } else {
        backward_rows(expr, values, width, adjoints, scratch, out);
    }
}

#[inline(always)]
pub(super) fn backward_rows(
    expr: &Expr,
    values: &[f64],
    width: usize,
    adjoints: &mut [f64],
    scratch: &mut Vec<f64>,
    out: &mut LeafAdjoints,
) {
    for (node, &op) in expr.ops.iter().enumerate().rev() {
        let (earlier, rest) = adjoints.split_at_mut(node * width);
        let g = &rest[..width];
        if g.iter().all(|&g| g == 0.0) {
            continue;
        }
        let v = row(values, node as ExprId, width);
        let cs = expr.children_of(node);
        let n = cs.len() as f64;
        match op {
            Op::Input(i) => accumulate(row_mut(&mut out.inputs, i, width), g),
            Op::Nested(r) => accumulate(row_mut(&mut out.nested, r, width), g),
            Op::Const(_) => {}
            Op::Not => {
                for (a, &g) in row_mut(earlier, cs[0], width).iter_mut().zip(g) {
                    *a -= g;
                }
            }
            Op::Ln => {
                let x = row(values, cs[0], width);
                for ((a, &g), &x) in row_mut(earlier, cs[0], width).iter_mut().zip(g).zip(x) {
                    *a += g / x;
                }
            }
            Op::Div => {
                // One pass per operand: `a / a` has one child twice.
                let (a, b) = (row(values, cs[0], width), row(values, cs[1], width));
                for ((d, &g), &b) in row_mut(earlier, cs[0], width).iter_mut().zip(g).zip(b) {
                    *d += g / b;
                }
                for (((d, &g), &a), &b) in row_mut(earlier, cs[1], width).iter_mut().zip(g).zip(a).zip(b) {
                    *d -= g * a / (b * b);
                }
            }
            Op::Sum => {
                for &c in cs {
                    accumulate(row_mut(earlier, c, width), g);
                }
            }
            Op::Product => exclusive_products(earlier, values, cs, g, scratch),
            Op::And(t) | Op::Or(t) => {
                let node = NodeRows { out: v, rows: values, children: cs, width };
                let d = scratch_row(scratch, cs.len() * width);
                if let Op::And(_) = op {
                    t.and_derivatives(node, d);
                } else {
                    t.or_derivatives(node, d);
                }
                // A child whose derivative is 0 gets nothing, even from an
                // infinite adjoint (a clamped or unselected child).
                for (&c, d) in cs.iter().zip(d.chunks_exact(width)) {
                    for ((a, &g), &d) in row_mut(earlier, c, width).iter_mut().zip(g).zip(d) {
                        *a += if d == 0.0 { 0.0 } else { g * d };
                    }
                }
            }
            Op::Max | Op::Min => {
                for (b, (&v, &g)) in v.iter().zip(g).enumerate() {
                    if let Some(&c) = cs.iter().find(|&&c| values[c as usize * width + b] == v) {
                        earlier[c as usize * width + b] += g;
                    }
                }
            }
            Op::Implies(kind) => {
                // One pass per operand: `a → a` has one child twice.
                let (a, b) = (row(values, cs[0], width), row(values, cs[1], width));
                for (((d, &g), &a), &b) in row_mut(earlier, cs[0], width).iter_mut().zip(g).zip(a).zip(b) {
                    *d += g * kind.derivatives(a, b).0;
                }
                for (((d, &g), &a), &b) in row_mut(earlier, cs[1], width).iter_mut().zip(g).zip(a).zip(b) {
                    *d += g * kind.derivatives(a, b).1;
                }
            }
            Op::PMean(p) => {
                // ∂M/∂x_i = (1/n) x_i^(p−1) M^(1−p), 0 where M = 0.
                let f = scratch_row(scratch, width);
                for ((f, &g), &m) in f.iter_mut().zip(g).zip(v) {
                    *f = if m == 0.0 { 0.0 } else { g * pow(m, 1.0 - p) / n };
                }
                for &c in cs {
                    let x = row(values, c, width);
                    for ((a, &f), &x) in row_mut(earlier, c, width).iter_mut().zip(f.iter()).zip(x) {
                        *a += if f == 0.0 { 0.0 } else { f * pow(x, p - 1.0) };
                    }
                }
            }
            Op::PMeanError(p) => {
                // E = 1 − D: ∂E/∂x_i = (1/n) (1 − x_i)^(p−1) D^(1−p), 0 where
                // D = 0. D is recomputed: 1 − E loses its small values.
                let f = scratch_row(scratch, width);
                fold(f, values, cs, |x| pow(1.0 - x, p), |s, x| s + pow(1.0 - x, p));
                for (f, &g) in f.iter_mut().zip(g) {
                    let d = pow(*f / n, 1.0 / p);
                    *f = if d == 0.0 { 0.0 } else { g * pow(d, 1.0 - p) / n };
                }
                for &c in cs {
                    let x = row(values, c, width);
                    for ((a, &f), &x) in row_mut(earlier, c, width).iter_mut().zip(f.iter()).zip(x) {
                        *a += if f == 0.0 { 0.0 } else { f * pow(1.0 - x, p - 1.0) };
                    }
                }
            }
        }
    }
}

/// The first `width` entries of `scratch`, grown if needed.
#[inline(always)]
pub(super) fn scratch_row(scratch: &mut Vec<f64>, width: usize) -> &mut [f64] {
    if scratch.len() < width {
        scratch.resize(width, 0.0);
    }
    &mut scratch[..width]
}

/// `adj[c_i] += g · Π_{j≠i} x_j` for every child, from prefix and suffix
/// products (exact where some `x_j` is 0, unlike dividing the product).
#[inline(always)]
pub(super) fn exclusive_products(
    adjoints: &mut [f64],
    values: &[f64],
    cs: &[ExprId],
    g: &[f64],
    scratch: &mut Vec<f64>,
) {
    let width = g.len();
    let n = cs.len();
    if scratch.len() < (n + 1) * width {
        scratch.resize((n + 1) * width, 0.0);
    }
    // Row 0: g times the prefix product; row i + 1: Π_{j>i} f(x_j).
    let (prefix, suffix) = scratch.split_at_mut(width);
    suffix[(n - 1) * width..n * width].fill(1.0);
    for i in (0..n - 1).rev() {
        let (head, tail) = suffix.split_at_mut((i + 1) * width);
        let x = row(values, cs[i + 1], width);
        for ((s, &t), &x) in head[i * width..].iter_mut().zip(&tail[..width]).zip(x) {
            *s = t * x;
        }
    }
    prefix.copy_from_slice(g);
    for (i, &c) in cs.iter().enumerate() {
        let s = &suffix[i * width..(i + 1) * width];
        for ((a, &p), &s) in row_mut(adjoints, c, width).iter_mut().zip(prefix.iter()).zip(s) {
            *a += p * s;
        }
        for (p, &x) in prefix.iter_mut().zip(row(values, c, width)) {
            *p *= x;
        }
    }
}
