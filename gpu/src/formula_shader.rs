//! The WGSL module of [`GpuFormulaEvaluator`](crate::GpuFormulaEvaluator):
//! one kernel per step of a pass, with every op of a formula circuit behind
//! a `switch` on the node's [`Kind`].
//!
//! Every kernel runs one thread per (item, batch column) of a range of
//! items (nodes, chunks or roots): thread `i` takes item `start + i /
//! width`, column `i % width`. A dispatch covers one level of the circuit;
//! the range comes from a uniform at a dynamic offset, the tile's width
//! from another.
//!
//! Backward is a gather (WGSL has no float atomics): going down the levels,
//! a node sums the contributions its parents left on its incoming edges
//! (and a root's seed, which the host writes on an edge of its own), then
//! writes `adjoint · ∂node/∂child` onto each of its own edges.
//!
//! lavapipe ends an invocation after 65535 loop iterations in all; no
//! invocation here loops more than `3 · CHUNK` times (a product's gather,
//! suffix and prefix): nodes have at most [`CHUNK`](crate::formula::CHUNK)
//! children and gather at most that many parents or parent chunks, and no
//! loop calls a function that loops (`powi` squares without one).

use deeplog_semirings::Implication;

/// Threads per workgroup (the WebGPU default limit for one dimension).
pub const WORKGROUP: u32 = 256;

/// What a node of the uploaded circuit computes, `k` being its number of
/// children. The CPU's ops map onto these one to one, except that the
/// t-norms' Gödel and product forms share [`Kind::Min`], [`Kind::Max`] and
/// [`Kind::Product`], that every implication is [`Kind::Implies`] (which one
/// is its `arg`), and that p-means wider than a chunk are lowered into power
/// sums and a mean of sums.
///
/// The implications' WGSL is [`Implication::WGSL`], the text that sits
/// beside their Rust form. The n-ary t-norms and t-conorms here are the
/// algebras' operations folded with compensation (see `Acc` in the
/// kernels), which the algebras' own WGSL, written for the layered
/// evaluator's pairwise kernels, does not carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// Input row `arg`.
    Input,
    /// The `f32` whose bits are `arg`.
    Const,
    Not,
    Ln,
    Div,
    Sum,
    /// `Op::Product` and `And(Product)`.
    Product,
    /// `Op::Max` and `Or(Godel)`.
    Max,
    /// `Op::Min` and `And(Godel)`.
    Min,
    /// `1 − Π (1 − x)`.
    OrProduct,
    /// `max(0, Σ x − (k − 1))`.
    AndLukasiewicz,
    /// `min(1, Σ x)`.
    OrLukasiewicz,
    /// `a → b` for the [`Implication`] whose code (`implication as u32`)
    /// is `arg`.
    Implies,
    /// `(Σ x^p / k)^(1/p)`, `p` the `f32` bits of `arg`.
    PMean,
    /// `1 − (Σ (1 − x)^p / k)^(1/p)`.
    PMeanError,
    /// `Σ x^p`: one chunk of a wide p-mean.
    PowerSum,
    /// `Σ (1 − x)^p`: one chunk of a wide p-mean error.
    ErrorPowerSum,
    /// `(Σ s / n)^(1/p)` over power sums `s` (or sums of them), `n` the
    /// `f32` bits of `arg2`: the top of a wide p-mean.
    PMeanOfSums,
    /// `1 − (Σ s / n)^(1/p)`: the top of a wide p-mean error.
    PMeanErrorOfSums,
}

impl Kind {
    pub const COUNT: usize = 19;

    const ALL: [(Kind, &'static str); Kind::COUNT] = [
        (Kind::Input, "INPUT"),
        (Kind::Const, "CONST"),
        (Kind::Not, "NOT"),
        (Kind::Ln, "LN"),
        (Kind::Div, "DIV"),
        (Kind::Sum, "SUM"),
        (Kind::Product, "PRODUCT"),
        (Kind::Max, "MAX"),
        (Kind::Min, "MIN"),
        (Kind::OrProduct, "OR_PRODUCT"),
        (Kind::AndLukasiewicz, "AND_LUKASIEWICZ"),
        (Kind::OrLukasiewicz, "OR_LUKASIEWICZ"),
        (Kind::Implies, "IMPLIES"),
        (Kind::PMean, "PMEAN"),
        (Kind::PMeanError, "PMEAN_ERROR"),
        (Kind::PowerSum, "POWER_SUM"),
        (Kind::ErrorPowerSum, "ERROR_POWER_SUM"),
        (Kind::PMeanOfSums, "PMEAN_OF_SUMS"),
        (Kind::PMeanErrorOfSums, "PMEAN_ERROR_OF_SUMS"),
    ];
}

/// Bindings of group 0 (group 1 holds the per-dispatch range).
pub const SHAPE: u32 = 0;
pub const VALUES: u32 = 1;
pub const NODES: u32 = 2;
pub const CHILDREN: u32 = 3;
pub const INPUTS: u32 = 4;
pub const ROOTS: u32 = 5;
pub const OUT: u32 = 6;
pub const CONTRIB: u32 = 7;
pub const PARENT_EDGES: u32 = 8;
pub const CHUNK_RANGES: u32 = 9;
pub const PARTIALS: u32 = 10;
pub const GRADS: u32 = 11;

const KERNELS: &str = r#"
struct Shape {
  width: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

struct Range {
  start: u32,
  count: u32,
  pad0: u32,
  pad1: u32,
}

// Children are edges c0 .. c1 (CSR). The adjoint gathers the contributions
// on parent edges parent_edges[q0 .. q1], or, where `chunked` is 1, the
// partial sums q0 .. q1 that the `gather` kernel left for the node.
struct Node {
  kind: u32,
  c0: u32,
  c1: u32,
  arg: u32,
  arg2: u32,
  q0: u32,
  q1: u32,
  chunked: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<storage, read> nodes: array<Node>;
@group(0) @binding(3) var<storage, read> children: array<u32>;
@group(0) @binding(4) var<storage, read> inputs: array<f32>;
@group(0) @binding(5) var<storage, read> roots: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> contrib: array<f32>;
@group(0) @binding(8) var<storage, read> parent_edges: array<u32>;
@group(0) @binding(9) var<storage, read> chunk_ranges: array<u32>;
@group(0) @binding(10) var<storage, read_write> partials: array<f32>;
@group(0) @binding(11) var<storage, read_write> grads: array<f32>;
@group(1) @binding(0) var<uniform> range: Range;

fn thread_index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WORKGROUP + li;
}

fn infinity() -> f32 {
  return bitcast<f32>(0x7f800000u);
}

fn not_a_number() -> f32 {
  return bitcast<f32>(0x7fc00000u);
}

// The value of child edge e.
fn x(e: u32, col: u32) -> f32 {
  return values[children[e] * shape.width + col];
}

fn put(e: u32, col: u32, d: f32) {
  contrib[e * shape.width + col] = d;
}

// Compensated sums (Neumaier) and products (Dekker): a value `s + c`. A
// node may sum or multiply a chunk of terms and a wide node's tree adds a
// few levels; without the compensation the rounding grows with the number
// of terms, and products near 1 (a forall over many true formulas) drift
// one way. Where a term or the result is not finite (ln 0 = −∞, overflow),
// the compensation is left out, so that it does not turn ±∞ into NaN.
struct Acc {
  s: f32,
  c: f32,
}

fn finite(v: f32) -> bool {
  return abs(v) <= 3.4028235e38;
}

fn add(a: Acc, y: f32) -> Acc {
  let t = a.s + y;
  var c = a.c;
  if (finite(t)) {
    if (abs(a.s) >= abs(y)) { c += (a.s - t) + y; } else { c += (y - t) + a.s; }
  }
  return Acc(t, c);
}

// Veltkamp's split of x into two halves of 12 significant bits.
fn split(x: f32) -> vec2<f32> {
  let c = 4097.0 * x;
  let hi = c - (c - x);
  return vec2<f32>(hi, x - hi);
}

fn mul(a: Acc, y: f32) -> Acc {
  let t = a.s * y;
  if (!finite(t)) { return Acc(t, a.c); }
  // Dekker's exact error of the product, without fma (on lavapipe,
  // fma(a, b, −ab) does not recover it): products of the halves are exact.
  // 4097·x overflows past 8e34, where the error is left out.
  var e = 0.0;
  if (abs(a.s) < 1e34 && abs(y) < 1e34) {
    let u = split(a.s);
    let w = split(y);
    e = ((u.x * w.x - t) + u.x * w.y + u.y * w.x) + u.y * w.y;
  }
  return Acc(t, a.c * y + e);
}

fn total(a: Acc) -> f32 {
  return a.s + a.c;
}

const ZERO = Acc(0.0, 0.0);
const ONE = Acc(1.0, 0.0);

fn ln(x: f32) -> f32 {
  if (x > 0.0) { return dl_ln(x); }
  if (x == 0.0) { return -infinity(); }
  return not_a_number();
}

// x^n for 0 ≤ n ≤ 31 by squaring, without a loop.
fn powi(x: f32, n: u32) -> f32 {
  var r = 1.0;
  var b = x;
  if ((n & 1u) != 0u) { r *= b; }
  b *= b;
  if ((n & 2u) != 0u) { r *= b; }
  b *= b;
  if ((n & 4u) != 0u) { r *= b; }
  b *= b;
  if ((n & 8u) != 0u) { r *= b; }
  b *= b;
  if ((n & 16u) != 0u) { r *= b; }
  return r;
}

// x^p with the CPU's shortcuts for the common exponents of p-means.
fn power(x: f32, p: f32) -> f32 {
  if (p == 1.0) { return x; }
  if (p == 2.0) { return x * x; }
  if (p == 0.5) { return sqrt(x); }
  if (p == -1.0) { return 1.0 / x; }
  if (p == trunc(p) && abs(p) <= 16.0) {
    if (p >= 0.0) { return powi(x, u32(p)); }
    return 1.0 / powi(x, u32(-p));
  }
  if (x > 0.0) { return dl_exp(p * dl_ln(x)); }
  if (x == 0.0) {
    if (p > 0.0) { return 0.0; }
    return infinity();
  }
  return not_a_number();
}

fn evaluate(n: Node, col: u32) -> f32 {
  let k = f32(n.c1 - n.c0);
  let p = bitcast<f32>(n.arg);
  var v = not_a_number();
  switch n.kind {
    case INPUT: { v = inputs[n.arg * shape.width + col]; }
    case CONST: { v = bitcast<f32>(n.arg); }
    case NOT: { v = 1.0 - x(n.c0, col); }
    case LN: { v = ln(x(n.c0, col)); }
    case DIV: { v = x(n.c0, col) / x(n.c0 + 1u, col); }
    case SUM: {
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, x(e, col)); }
      v = total(s);
    }
    case PRODUCT: {
      var q = ONE;
      for (var e = n.c0; e < n.c1; e++) { q = mul(q, x(e, col)); }
      v = total(q);
    }
    case MAX: {
      v = x(n.c0, col);
      for (var e = n.c0 + 1u; e < n.c1; e++) { v = max(v, x(e, col)); }
    }
    case MIN: {
      v = x(n.c0, col);
      for (var e = n.c0 + 1u; e < n.c1; e++) { v = min(v, x(e, col)); }
    }
    case OR_PRODUCT: {
      var q = ONE;
      for (var e = n.c0; e < n.c1; e++) { q = mul(q, 1.0 - x(e, col)); }
      v = 1.0 - total(q);
    }
    case AND_LUKASIEWICZ: {
      // Σx − (k − 1) as the CPU computes it (so that a ∧ of one child is
      // that child, bit for bit); the compensation keeps what rounding Σx
      // near k loses, and subtracting k − 1 from it is exact.
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, x(e, col)); }
      v = max((s.s - (k - 1.0)) + s.c, 0.0);
    }
    case OR_LUKASIEWICZ: {
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, x(e, col)); }
      v = min(total(s), 1.0);
    }
    case IMPLIES: { v = dl_implies(n.arg, x(n.c0, col), x(n.c0 + 1u, col)); }
    case PMEAN, POWER_SUM: {
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, power(x(e, col), p)); }
      v = total(s);
      if (n.kind == PMEAN) { v = power(v / k, 1.0 / p); }
    }
    case PMEAN_ERROR, ERROR_POWER_SUM: {
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, power(1.0 - x(e, col), p)); }
      v = total(s);
      if (n.kind == PMEAN_ERROR) { v = 1.0 - power(v / k, 1.0 / p); }
    }
    case PMEAN_OF_SUMS, PMEAN_ERROR_OF_SUMS: {
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, x(e, col)); }
      v = power(total(s) / bitcast<f32>(n.arg2), 1.0 / p);
      if (n.kind == PMEAN_ERROR_OF_SUMS) { v = 1.0 - v; }
    }
    default: {}
  }
  return v;
}

// One level's nodes (or the leaves).
@compute @workgroup_size(WORKGROUP)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= range.count * shape.width) { return; }
  let node = range.start + i / shape.width;
  let col = i % shape.width;
  values[node * shape.width + col] = evaluate(nodes[node], col);
}

// out[r · width + col] = value of root r.
@compute @workgroup_size(WORKGROUP)
fn read_roots(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= range.count * shape.width) { return; }
  let r = i / shape.width;
  let col = i % shape.width;
  out[i] = values[roots[r] * shape.width + col];
}

// Per (chunk, column): the sum of one chunk of a many-parent node's
// incoming contributions, for the node's own invocation to add up.
@compute @workgroup_size(WORKGROUP)
fn gather(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= range.count * shape.width) { return; }
  let c = range.start + i / shape.width;
  let col = i % shape.width;
  var s = ZERO;
  for (var q = chunk_ranges[2u * c]; q < chunk_ranges[2u * c + 1u]; q++) {
    s = add(s, contrib[parent_edges[q] * shape.width + col]);
  }
  partials[c * shape.width + col] = total(s);
}

// g · Π_{j≠i} f(x_j) on every edge i, f(x) = x or 1 − x: suffix products
// parked on the edges, then a running prefix (exact where a factor is 0).
fn exclusive_products(n: Node, col: u32, g: f32, complement: bool) {
  var s = ONE;
  for (var e = n.c1; e > n.c0; e--) {
    put(e - 1u, col, total(s));
    s = mul(s, select(x(e - 1u, col), 1.0 - x(e - 1u, col), complement));
  }
  var prefix = Acc(g, 0.0);
  for (var e = n.c0; e < n.c1; e++) {
    put(e, col, total(prefix) * contrib[e * shape.width + col]);
    prefix = mul(prefix, select(x(e, col), 1.0 - x(e, col), complement));
  }
}

@compute @workgroup_size(WORKGROUP)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= range.count * shape.width) { return; }
  let node = range.start + i / shape.width;
  let col = i % shape.width;
  let n = nodes[node];
  // Every parent lies on a higher level, so its contributions are final.
  var sum = ZERO;
  if (n.chunked == 0u) {
    for (var q = n.q0; q < n.q1; q++) { sum = add(sum, contrib[parent_edges[q] * shape.width + col]); }
  } else {
    for (var c = n.q0; c < n.q1; c++) { sum = add(sum, partials[c * shape.width + col]); }
  }
  let g = total(sum);
  if (n.kind == INPUT) {
    grads[n.arg * shape.width + col] = g;
    return;
  }
  // A node nothing reads passes nothing on, even where a derivative is
  // infinite (and its edges must not keep the last call's contributions).
  if (g == 0.0) {
    for (var e = n.c0; e < n.c1; e++) { put(e, col, 0.0); }
    return;
  }
  let v = values[node * shape.width + col];
  let k = f32(n.c1 - n.c0);
  let p = bitcast<f32>(n.arg);
  switch n.kind {
    case NOT: { put(n.c0, col, -g); }
    case LN: { put(n.c0, col, g / x(n.c0, col)); }
    case DIV: {
      let a = x(n.c0, col);
      let b = x(n.c0 + 1u, col);
      put(n.c0, col, g / b);
      put(n.c0 + 1u, col, -g * a / (b * b));
    }
    case SUM: {
      for (var e = n.c0; e < n.c1; e++) { put(e, col, g); }
    }
    case PRODUCT: { exclusive_products(n, col, g, false); }
    case OR_PRODUCT: { exclusive_products(n, col, g, true); }
    case MAX, MIN: {
      // The whole adjoint to the first child attaining the extremum.
      var taken = false;
      for (var e = n.c0; e < n.c1; e++) {
        let first = !taken && x(e, col) == v;
        put(e, col, select(0.0, g, first));
        taken = taken || first;
      }
    }
    case AND_LUKASIEWICZ: {
      let d = select(0.0, g, v > 0.0);
      for (var e = n.c0; e < n.c1; e++) { put(e, col, d); }
    }
    case OR_LUKASIEWICZ: {
      let d = select(0.0, g, v < 1.0);
      for (var e = n.c0; e < n.c1; e++) { put(e, col, d); }
    }
    case IMPLIES: {
      let d = dl_implies_derivatives(n.arg, x(n.c0, col), x(n.c0 + 1u, col));
      put(n.c0, col, g * d.x);
      put(n.c0 + 1u, col, g * d.y);
    }
    case PMEAN: {
      // ∂M/∂x_i = (1/k) x_i^(p−1) M^(1−p), 0 where M = 0.
      let f = select(g * power(v, 1.0 - p) / k, 0.0, v == 0.0);
      for (var e = n.c0; e < n.c1; e++) {
        put(e, col, select(f * power(x(e, col), p - 1.0), 0.0, f == 0.0));
      }
    }
    case PMEAN_ERROR: {
      // E = 1 − D: ∂E/∂x_i = (1/k) (1 − x_i)^(p−1) D^(1−p), 0 where D = 0.
      // D is recomputed: 1 − E loses its small values.
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, power(1.0 - x(e, col), p)); }
      let d = power(total(s) / k, 1.0 / p);
      let f = select(g * power(d, 1.0 - p) / k, 0.0, d == 0.0);
      for (var e = n.c0; e < n.c1; e++) {
        put(e, col, select(f * power(1.0 - x(e, col), p - 1.0), 0.0, f == 0.0));
      }
    }
    case POWER_SUM: {
      for (var e = n.c0; e < n.c1; e++) { put(e, col, g * p * power(x(e, col), p - 1.0)); }
    }
    case ERROR_POWER_SUM: {
      for (var e = n.c0; e < n.c1; e++) { put(e, col, -g * p * power(1.0 - x(e, col), p - 1.0)); }
    }
    case PMEAN_OF_SUMS: {
      // M = (S/n)^(1/p): ∂M/∂S = M^(1−p) / (p n), 0 where M = 0.
      let f = select(g * power(v, 1.0 - p) / (p * bitcast<f32>(n.arg2)), 0.0, v == 0.0);
      for (var e = n.c0; e < n.c1; e++) { put(e, col, f); }
    }
    case PMEAN_ERROR_OF_SUMS: {
      // E = 1 − D, D = (S/n)^(1/p) recomputed: ∂E/∂S = −D^(1−p) / (p n).
      var s = ZERO;
      for (var e = n.c0; e < n.c1; e++) { s = add(s, x(e, col)); }
      let d = power(total(s) / bitcast<f32>(n.arg2), 1.0 / p);
      let f = select(-g * power(d, 1.0 - p) / (p * bitcast<f32>(n.arg2)), 0.0, d == 0.0);
      for (var e = n.c0; e < n.c1; e++) { put(e, col, f); }
    }
    default: {}
  }
}
"#;

/// The module: the [`Kind`] and [`Implication`] codes as WGSL constants,
/// `exp`/`ln`, the implications, kernels.
pub fn module() -> String {
    let mut s = format!("const WORKGROUP: u32 = {WORKGROUP}u;\n");
    for (kind, name) in Kind::ALL {
        s.push_str(&format!("const {name}: u32 = {}u;\n", kind as u32));
    }
    for i in Implication::ALL {
        s.push_str(&format!("const {}: u32 = {}u;\n", i.wgsl_code(), i as u32));
    }
    // `exp` and `ln` to about an ulp of `f32`, shared with the layered
    // evaluator's kernels (WGSL's own are loosely specified).
    s.push_str(crate::shader::PRELUDE);
    s.push_str(Implication::WGSL);
    s.push_str(KERNELS);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code_in_order() {
        for (i, (kind, _)) in Kind::ALL.iter().enumerate() {
            assert_eq!(*kind as u32, i as u32);
        }
    }

    #[test]
    fn every_implication_has_its_own_code_in_order() {
        for (code, i) in Implication::ALL.into_iter().enumerate() {
            assert_eq!(i as usize, code);
        }
    }

    #[test]
    fn the_module_parses_and_validates() {
        let module = wgpu::naga::front::wgsl::parse_str(&module()).unwrap();
        let (flags, capabilities) =
            (wgpu::naga::valid::ValidationFlags::all(), wgpu::naga::valid::Capabilities::empty());
        wgpu::naga::valid::Validator::new(flags, capabilities).validate(&module).unwrap();
    }
}
