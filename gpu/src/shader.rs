//! The WGSL module of one algebra: its own WGSL text (from `semirings`)
//! followed by the evaluator's kernels, which only call `dl_*` functions.
//!
//! Every kernel runs one thread per (row, batch column) of a range of rows:
//! thread `i` takes row `start + i / width`, column `i % width`, so adjacent
//! threads read adjacent columns of the same children (coalesced for wide
//! batches) or adjacent rows (for a batch of one). A dispatch covers one
//! segment of a layer; the per-dispatch range comes from a small uniform.
//!
//! Backward is a gather, not a scatter (WGSL has no float atomics): going
//! down the layers, a row first sums the contributions its parents left on
//! its incoming edges (`contrib[edge]`), then writes
//! `adjoint · ∂row/∂child` onto each of its own outgoing edges.

/// Threads per workgroup (the WebGPU default limit for one dimension).
pub const WORKGROUP: u32 = 256;

/// Codes of `Params::op`.
pub const OP_SUM: u32 = 0;
pub const OP_PRODUCT: u32 = 1;
pub const OP_PAIRS: u32 = 2;
/// Leaf rows: in backward, only gather their adjoints.
pub const OP_LEAF: u32 = 3;
/// Rows with more parents than this gather them in chunks of this many,
/// one invocation per chunk (the `gather` kernel).
pub const GATHER_CHUNK: u32 = 256;
/// The most children of an uploaded row: wider rows are cut into chunks
/// (`LayeredCircuit::with_fan_in_at_most`), so that no invocation's loop
/// holds up its layer.
pub const MAX_FAN_IN: u32 = 256;

/// `exp` and `ln` to about an ulp of `f32` on every device (WGSL's own
/// are only specified to a few ulps, or 2⁻²¹ absolute for `log` near 1,
/// and differ between vendors): Cody–Waite range reduction and short
/// polynomials, as the CPU's `fast_exp`/`fast_ln` do.
pub(crate) const PRELUDE: &str = r#"
fn dl_exp(x: f32) -> f32 {
  if (x < -104.0) { return 0.0; }
  if (x > 88.72) { return bitcast<f32>(0x7f800000u); }
  let n = round(x * 1.4426950408889634);
  // ln 2 = 0.693145751953125 + 1.4286068203094173e-6 (the first exact in f32)
  let r = fma(-n, 1.4286068203094173e-6, fma(-n, 0.693145751953125, x));
  var q = 1.0 / 5040.0;
  q = fma(q, r, 1.0 / 720.0);
  q = fma(q, r, 1.0 / 120.0);
  q = fma(q, r, 1.0 / 24.0);
  q = fma(q, r, 1.0 / 6.0);
  q = fma(q, r, 0.5);
  q = fma(q, r, 1.0);
  q = fma(q, r, 1.0);
  return ldexp(q, i32(n));
}

fn dl_ln(x: f32) -> f32 {
  if (x <= 0.0) { return -3.4028235e38; }
  let f = frexp(x);
  var m = f.fract;
  var e = f.exp;
  if (m < 0.70710678) {
    m = m * 2.0;
    e = e - 1;
  }
  // ln m = 2 atanh(t), t = (m − 1)/(m + 1), |t| ≤ 0.172.
  let t = (m - 1.0) / (m + 1.0);
  let t2 = t * t;
  var q = 2.0 / 11.0;
  q = fma(q, t2, 2.0 / 9.0);
  q = fma(q, t2, 2.0 / 7.0);
  q = fma(q, t2, 2.0 / 5.0);
  q = fma(q, t2, 2.0 / 3.0);
  q = fma(q, t2, 2.0);
  let fe = f32(e);
  return fma(fe, 0.693145751953125, fma(fe, 1.4286068203094173e-6, t * q));
}
"#;

/// The kernels, over the algebra's `dl_*` functions. `BACKWARD` marks the
/// part that needs the derivative rules.
const KERNELS: &str = r#"
struct Params {
  start: u32,
  count: u32,
  op: u32,
  width: u32,
  first: u32,
  flags: u32,
  pad0: u32,
  pad1: u32,
}

@group(1) @binding(0) var<uniform> p: Params;

@group(0) @binding(0) var<storage, read_write> values: array<f32>;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> children: array<u32>;
@group(0) @binding(3) var<storage, read> leaves: array<u32>;
@group(0) @binding(4) var<storage, read> weights: array<f32>;
@group(0) @binding(5) var<storage, read> neg_weights: array<f32>;
@group(0) @binding(6) var<storage, read> roots: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

fn thread_index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wg.y * nwg.x + wg.x) * WORKGROUP + li;
}

// `m + ln s` for a log-sum-exp shifted by its largest term `m`; zero
// (the algebra's) when every term is.
fn log_sum_exp_finish(m: f32, s: f32) -> f32 {
  if (m <= dl_zero()) { return dl_zero(); }
  return m + dl_ln(s);
}

fn value(row: u32, col: u32) -> f32 {
  return values[row * p.width + col];
}

// Leaf rows: constants (code 0, 1) or literals (2 + 2·slot + positive).
// Negative literals read `neg_weights`: given explicitly, or derived on the
// host by the algebra's own (Rust) negation, so that leaves hold exactly
// the CPU's values.
@compute @workgroup_size(WORKGROUP)
fn fill_leaves(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= p.count * p.width) { return; }
  let row = p.start + i / p.width;
  let col = i % p.width;
  let code = leaves[row];
  var v: f32;
  if (code == 0u) {
    v = dl_zero();
  } else if (code == 1u) {
    v = dl_one();
  } else {
    let slot = (code - 2u) >> 1u;
    let w = slot * p.width + col;
    if ((code & 1u) == 1u) {
      v = weights[w];
    } else {
      v = neg_weights[w];
    }
  }
  values[row * p.width + col] = v;
}

@compute @workgroup_size(WORKGROUP)
fn forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= p.count * p.width) { return; }
  let row = p.start + i / p.width;
  let col = i % p.width;
  let e0 = offsets[row - p.first];
  let e1 = offsets[row - p.first + 1u];
  var acc: f32;
  if (p.op == 0u) {
    if (DL_LOG_SUM_EXP) {
      var m = dl_zero();
      for (var e = e0; e < e1; e++) { m = max(m, value(children[e], col)); }
      var s = 0.0;
      for (var e = e0; e < e1; e++) { s += dl_exp(value(children[e], col) - m); }
      acc = log_sum_exp_finish(m, s);
    } else {
      acc = dl_zero();
      for (var e = e0; e < e1; e++) { acc = dl_add(acc, value(children[e], col)); }
    }
  } else if (p.op == 1u) {
    acc = dl_one();
    for (var e = e0; e < e1; e++) { acc = dl_mul(acc, value(children[e], col)); }
  } else if (DL_LOG_SUM_EXP) {
    var m = dl_zero();
    for (var e = e0; e < e1; e += 2u) {
      m = max(m, dl_mul(value(children[e], col), value(children[e + 1u], col)));
    }
    var s = 0.0;
    for (var e = e0; e < e1; e += 2u) {
      s += dl_exp(dl_mul(value(children[e], col), value(children[e + 1u], col)) - m);
    }
    acc = log_sum_exp_finish(m, s);
  } else {
    acc = dl_zero();
    for (var e = e0; e < e1; e += 2u) {
      acc = dl_add(acc, dl_mul(value(children[e], col), value(children[e + 1u], col)));
    }
  }
  values[row * p.width + col] = acc;
}

// out[r · width + col] = value of root r.
@compute @workgroup_size(WORKGROUP)
fn read_roots(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= p.count * p.width) { return; }
  let r = i / p.width;
  let col = i % p.width;
  out[i] = value(roots[r], col);
}
"#;

const BACKWARD: &str = r#"
@group(0) @binding(8) var<storage, read_write> contrib: array<f32>;
@group(0) @binding(9) var<storage, read> parent_offsets: array<u32>;
@group(0) @binding(10) var<storage, read> parent_edges: array<u32>;
@group(0) @binding(11) var<storage, read> seeds: array<f32>;
@group(0) @binding(12) var<storage, read_write> adjoints: array<f32>;
@group(0) @binding(13) var<storage, read> slot_offsets: array<u32>;
@group(0) @binding(14) var<storage, read> slot_leaves: array<u32>;
@group(0) @binding(15) var<storage, read_write> grads: array<f32>;
@group(0) @binding(16) var<storage, read> dneg: array<f32>;
@group(0) @binding(17) var<storage, read> chunk_offsets: array<u32>;
@group(0) @binding(18) var<storage, read> chunk_ranges: array<u32>;
@group(0) @binding(19) var<storage, read_write> partials: array<f32>;

// Per (chunk, column): the sum of one chunk of a many-parent row's
// incoming contributions (chunks `start .. start + count`). A node shared
// by 10⁵ parents is ordinary; one invocation reading them all in turn
// would hold up its layer (and llvmpipe, Mesa's software Vulkan, ends an
// invocation's loops after 65535 iterations in all). So such a row's
// parents are summed GATHER_CHUNK at a time, one invocation per chunk,
// before the row's own invocation adds up the chunks. Children need no
// such pass: no uploaded row has more than MAX_FAN_IN.
@compute @workgroup_size(WORKGROUP)
fn gather(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= p.count * p.width) { return; }
  let c = p.start + i / p.width;
  let col = i % p.width;
  var s = 0.0;
  for (var q = chunk_ranges[2u * c]; q < chunk_ranges[2u * c + 1u]; q++) {
    s += contrib[edge(parent_edges[q], col)];
  }
  partials[c * p.width + col] = s;
}

fn edge(e: u32, col: u32) -> u32 {
  return e * p.width + col;
}

@compute @workgroup_size(WORKGROUP)
fn backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= p.count * p.width) { return; }
  let row = p.start + i / p.width;
  let col = i % p.width;
  // Every parent lies in a later layer, so its contributions are final.
  var adj = seeds[row];
  let c0 = chunk_offsets[row];
  let c1 = chunk_offsets[row + 1u];
  if (c0 == c1) {
    for (var q = parent_offsets[row]; q < parent_offsets[row + 1u]; q++) {
      adj += contrib[edge(parent_edges[q], col)];
    }
  } else {
    // A row with more than CHUNK parents: the `gather` pass summed each
    // chunk of them.
    for (var c = c0; c < c1; c++) { adj += partials[c * p.width + col]; }
  }
  if (p.op == 3u) {
    adjoints[row * p.width + col] = adj;
    return;
  }
  let e0 = offsets[row - p.first];
  let e1 = offsets[row - p.first + 1u];
  let o = value(row, col);
  if (p.op == 0u) {
    if (DL_DADD_ONE) {
      for (var e = e0; e < e1; e++) { contrib[edge(e, col)] = adj; }
      return;
    }
    // Suffix folds (the siblings after each child) parked on the edges.
    if (DL_DADD_OTHERS) {
      var s = dl_zero();
      for (var e = e1; e > e0; e--) {
        contrib[edge(e - 1u, col)] = s;
        s = dl_add(s, value(children[e - 1u], col));
      }
    }
    var before = dl_zero();
    var taken = false;
    for (var e = e0; e < e1; e++) {
      let c = value(children[e], col);
      var others = dl_zero();
      if (DL_DADD_OTHERS) {
        others = dl_add(before, contrib[edge(e, col)]);
        before = dl_add(before, c);
      }
      let d = dl_dadd(o, c, others, !taken);
      taken = taken || c == o;
      contrib[edge(e, col)] = adj * d;
    }
  } else if (p.op == 1u) {
    if (DL_DMUL_ONE) {
      for (var e = e0; e < e1; e++) { contrib[edge(e, col)] = adj; }
      return;
    }
    if (DL_DMUL_OTHERS) {
      var s = dl_one();
      for (var e = e1; e > e0; e--) {
        contrib[edge(e - 1u, col)] = s;
        s = dl_mul(s, value(children[e - 1u], col));
      }
    }
    var before = dl_one();
    var taken = false;
    for (var e = e0; e < e1; e++) {
      let c = value(children[e], col);
      var others = dl_one();
      if (DL_DMUL_OTHERS) {
        others = dl_mul(before, contrib[edge(e, col)]);
        before = dl_mul(before, c);
      }
      let d = dl_dmul(o, c, others, !taken);
      taken = taken || c == o;
      contrib[edge(e, col)] = adj * d;
    }
  } else {
    // ⊕_j (a_j ⊗ b_j): the chain rule through the pair's product; the
    // suffix folds of the terms are parked on each pair's first edge.
    if (DL_DADD_OTHERS) {
      var s = dl_zero();
      for (var e = e1; e > e0; e -= 2u) {
        contrib[edge(e - 2u, col)] = s;
        s = dl_add(s, dl_mul(value(children[e - 2u], col), value(children[e - 1u], col)));
      }
    }
    var before = dl_zero();
    var taken = false;
    for (var e = e0; e < e1; e += 2u) {
      let a = value(children[e], col);
      let b = value(children[e + 1u], col);
      let t = dl_mul(a, b);
      var others = dl_zero();
      if (DL_DADD_OTHERS) {
        others = dl_add(before, contrib[edge(e, col)]);
        before = dl_add(before, t);
      }
      var dt = 1.0;
      if (!DL_DADD_ONE) { dt = dl_dadd(o, t, others, !taken); }
      taken = taken || t == o;
      var da = 1.0;
      var db = 1.0;
      if (!DL_DMUL_ONE) {
        da = dl_dmul(t, a, b, true);
        db = dl_dmul(t, b, a, !(a == t));
      }
      contrib[edge(e, col)] = adj * dt * da;
      contrib[edge(e + 1u, col)] = adj * dt * db;
    }
  }
}

// Per (slot, column): the sum over the slot's leaves of their adjoints,
// through the negation's derivative (`dneg`, from the host, as the CPU
// computes it) for derived negative literals.
// grads = [positive gradients | negative gradients] (flags bit 0: explicit).
@compute @workgroup_size(WORKGROUP)
fn gradients(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let i = thread_index(wg, nwg, li);
  if (i >= p.count * p.width) { return; }
  let slot = i / p.width;
  let col = i % p.width;
  var g = 0.0;
  var gn = 0.0;
  for (var q = slot_offsets[slot]; q < slot_offsets[slot + 1u]; q++) {
    let code = slot_leaves[q];
    let a = adjoints[(code >> 1u) * p.width + col];
    if ((code & 1u) == 1u) {
      g += a;
    } else if ((p.flags & 1u) == 1u) {
      gn += a;
    } else {
      g += a * dneg[i];
    }
  }
  grads[i] = g;
  grads[p.count * p.width + i] = gn;
}
"#;

/// The module for an algebra with WGSL text `algebra`; with `backward`,
/// also the reverse-mode kernels (which need its derivative rules).
pub fn module(algebra: &str, backward: bool) -> String {
    let mut s = String::with_capacity(PRELUDE.len() + algebra.len() + KERNELS.len() + BACKWARD.len() + 64);
    s.push_str(&format!("const WORKGROUP: u32 = {WORKGROUP}u;\n"));
    s.push_str(PRELUDE);
    s.push_str(algebra);
    s.push_str(KERNELS);
    if backward {
        s.push_str(BACKWARD);
    }
    s
}
