//! The [`Algebra`] trait: what an evaluator needs to know about a structure of
//! labels, and the batched n-ary kernels it runs per circuit node.
//!
//! Kernels work on *rows*: a node's values for `width` consecutive batch
//! elements. `rows` holds the rows of all earlier nodes (`rows[c * width + t]`
//! is child `c` at batch element `t`), so a kernel gathers its children by
//! index and reduces over them with the batch index innermost, which the
//! compiler vectorises.

use std::fmt::Debug;

/// What a circuit must guarantee before an algebra may evaluate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Requirements {
    /// Children of a product share no variable.
    pub decomposable: bool,
    /// Children of a sum are mutually exclusive.
    pub deterministic: bool,
    /// Children of a sum mention the same variables.
    pub smooth: bool,
}

/// Laws an algebra satisfies; documented per algebra and checked by
/// property tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Laws {
    /// `a ⊕ a = a`.
    pub sum_idempotent: bool,
    /// `a ⊗ (b ⊕ c) = a ⊗ b ⊕ a ⊗ c`: the structure is a commutative semiring.
    pub distributive: bool,
}

/// A structure of labels: zero, one, an associative and commutative sum and
/// product, and negation where it is defined.
pub trait Algebra: Send + Sync + 'static {
    /// A label.
    type Value: Copy + Send + Sync + Debug + PartialEq + Default + 'static;
    /// The name users type (`--algebra NAME`).
    const NAME: &'static str;
    const LAWS: Laws;
    const REQUIRES: Requirements;
    /// WGSL text of the same operations (`dl_zero`, `dl_one`, `dl_add`,
    /// `dl_mul`, `dl_neg`, and the derivative helpers `dl_dadd`, `dl_dmul`,
    /// `dl_dneg`), over `f32`; `None` where the algebra has no GPU form.
    const WGSL: Option<&'static str>;

    fn zero() -> Self::Value;
    fn one() -> Self::Value;
    fn add(a: Self::Value, b: Self::Value) -> Self::Value;
    fn mul(a: Self::Value, b: Self::Value) -> Self::Value;
    /// The complement of a label (`1 − p`, `log(1 − e^x)`, `¬b`), or `None`
    /// where the algebra has none.
    fn negate(a: Self::Value) -> Option<Self::Value>;
    /// The label of an event of probability `p` (`p`, `ln p`, `p ≥ 0.5`, a
    /// count of 1, ...): how weights given as probabilities enter.
    fn from_probability(p: f64) -> Self::Value;
    /// A label as a number, for display.
    fn to_f64(a: Self::Value) -> f64;

    /// `out[t] = ⊕_c rows[c][t]` over `children`.
    #[inline]
    fn sum_rows(out: &mut [Self::Value], rows: &[Self::Value], children: &[u32], width: usize) {
        fold_rows(out, rows, children, width, Self::zero(), Self::add);
    }

    /// `out[t] = ⊗_c rows[c][t]` over `children`.
    #[inline]
    fn product_rows(out: &mut [Self::Value], rows: &[Self::Value], children: &[u32], width: usize) {
        fold_rows(out, rows, children, width, Self::one(), Self::mul);
    }
}

/// An algebra with derivatives for reverse mode. Adjoints live in the
/// algebra's value type but mean ordinary derivatives: for log-probability
/// they are `∂L/∂x` of the log-values, not log-values themselves.
pub trait Differentiable: Algebra {
    /// `∂ negate(x) / ∂x`.
    fn negate_derivative(x: Self::Value) -> Self::Value;
    /// The adjoint `1`, and `0`.
    fn adjoint_one() -> Self::Value;
    fn adjoint_zero() -> Self::Value;
    /// Sum and product of adjoints (ordinary arithmetic, not the algebra's).
    fn adjoint_add(a: Self::Value, b: Self::Value) -> Self::Value;
    fn adjoint_mul(a: Self::Value, b: Self::Value) -> Self::Value;
    /// `adj[c][t] += adj_out[t] · ∂out[t]/∂rows[c][t]` for a sum node.
    fn sum_backward(node: NodeRows<'_, Self::Value>, adj: &mut [Self::Value], scratch: &mut Vec<Self::Value>);
    /// The same for a product node.
    fn product_backward(node: NodeRows<'_, Self::Value>, adj: &mut [Self::Value], scratch: &mut Vec<Self::Value>);
}

/// What a backward kernel reads about one node.
#[derive(Clone, Copy)]
pub struct NodeRows<'a, V> {
    /// The node's forward values.
    pub out: &'a [V],
    /// The node's adjoints.
    pub adj_out: &'a [V],
    /// Forward values of all earlier nodes.
    pub rows: &'a [V],
    pub children: &'a [u32],
    pub width: usize,
}

/// Row `c` of a row-major matrix of rows `width` wide.
#[inline(always)]
pub fn row<V>(rows: &[V], c: u32, width: usize) -> &[V] {
    let start = c as usize * width;
    &rows[start..start + width]
}

/// Mutable row `c`.
#[inline(always)]
pub fn row_mut<V>(rows: &mut [V], c: u32, width: usize) -> &mut [V] {
    let start = c as usize * width;
    &mut rows[start..start + width]
}

/// `out[t] = init ∘ rows[c0][t] ∘ rows[c1][t] ∘ ...`.
#[inline(always)]
pub fn fold_rows<V: Copy>(out: &mut [V], rows: &[V], children: &[u32], width: usize, init: V, op: impl Fn(V, V) -> V) {
    match children {
        [] => out.fill(init),
        [first, rest @ ..] => {
            out.copy_from_slice(row(rows, *first, width));
            for &c in rest {
                for (o, &x) in out.iter_mut().zip(row(rows, c, width)) {
                    *o = op(*o, x);
                }
            }
        }
    }
}

/// Backward through an n-ary product of a field-like algebra: each child
/// receives the product of its siblings, by prefix and suffix products
/// (O(k) per node, exact with zeros, no division).
#[inline]
pub fn product_backward_by_siblings<V: Copy>(
    node: NodeRows<'_, V>,
    adj: &mut [V],
    scratch: &mut Vec<V>,
    one: V,
    mul: impl Fn(V, V) -> V,
    add: impl Fn(V, V) -> V,
) {
    product_backward_by_mapped_siblings(node, adj, scratch, one, mul, add, |x| x);
}

/// Backward through `⊗_i f(x_i)` where `f` has derivative 1 (the identity)
/// or −1 with an outer negation (`1 − ∏(1 − x_i)`): each child receives the
/// product of its siblings' `f(x_j)`.
#[inline]
pub fn product_backward_by_mapped_siblings<V: Copy>(
    node: NodeRows<'_, V>,
    adj: &mut [V],
    scratch: &mut Vec<V>,
    one: V,
    mul: impl Fn(V, V) -> V,
    add: impl Fn(V, V) -> V,
    map: impl Fn(V) -> V,
) {
    let NodeRows { adj_out, rows, children, width, .. } = node;
    match children {
        [] => {}
        [c] => {
            for (a, &g) in row_mut(adj, *c, width).iter_mut().zip(adj_out) {
                *a = add(*a, g);
            }
        }
        [c0, c1] => {
            // The common case in compiled circuits: each child gets the other.
            let (c0, c1) = (*c0, *c1);
            for t in 0..width {
                let v0 = map(rows[c0 as usize * width + t]);
                let v1 = map(rows[c1 as usize * width + t]);
                let g = adj_out[t];
                let a0 = &mut adj[c0 as usize * width + t];
                *a0 = add(*a0, mul(g, v1));
                let a1 = &mut adj[c1 as usize * width + t];
                *a1 = add(*a1, mul(g, v0));
            }
        }
        _ => {
            // prefix[i] = adj_out · v_0 · ... · v_{i-1}; a running suffix
            // product then completes each child's sibling product.
            let k = children.len();
            scratch.clear();
            scratch.resize((k + 1) * width, one);
            scratch[..width].copy_from_slice(adj_out);
            for (i, &c) in children.iter().enumerate() {
                let (done, next) = scratch.split_at_mut((i + 1) * width);
                let prev = &done[i * width..];
                for ((n, &p), &v) in next[..width].iter_mut().zip(prev).zip(row(rows, c, width)) {
                    *n = mul(p, map(v));
                }
            }
            let suffix = &mut scratch[k * width..];
            suffix.fill(one);
            for (i, &c) in children.iter().enumerate().rev() {
                let (head, suffix) = scratch.split_at_mut(k * width);
                let prefix = &head[i * width..(i + 1) * width];
                let a = row_mut(adj, c, width);
                let v = row(rows, c, width);
                for t in 0..width {
                    a[t] = add(a[t], mul(prefix[t], suffix[t]));
                    suffix[t] = mul(suffix[t], map(v[t]));
                }
            }
        }
    }
}

/// Backward through an n-ary sum whose derivative is 1 in every child.
#[inline]
pub fn pass_adjoint_to_children<V: Copy>(node: NodeRows<'_, V>, adj: &mut [V], add: impl Fn(V, V) -> V) {
    for &c in node.children {
        for (a, &g) in row_mut(adj, c, node.width).iter_mut().zip(node.adj_out) {
            *a = add(*a, g);
        }
    }
}

/// Backward through an idempotent selection (max or min): the whole adjoint
/// goes to the first child whose value equals the node's, so ties are broken
/// the same way every time.
#[inline]
pub fn select_backward<V: Copy + PartialEq>(
    node: NodeRows<'_, V>,
    adj: &mut [V],
    scratch: &mut Vec<V>,
    zero: V,
    add: impl Fn(V, V) -> V,
) {
    let NodeRows { out, adj_out, rows, children, width } = node;
    // `remaining[t]` is the adjoint not yet handed out: it drops to zero once
    // the first matching child has taken it.
    scratch.clear();
    scratch.extend_from_slice(adj_out);
    for &c in children {
        let v = row(rows, c, width);
        let a = row_mut(adj, c, width);
        for t in 0..width {
            let take = v[t] == out[t];
            let g = if take { scratch[t] } else { zero };
            a[t] = add(a[t], g);
            scratch[t] = if take { zero } else { scratch[t] };
        }
    }
}
