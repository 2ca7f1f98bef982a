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
    /// A distributive lattice besides: both operations idempotent and
    /// absorbing (`a ⊕ a ⊗ b = a`, `a ⊗ (a ⊕ b) = a`), `1` its top.
    pub lattice: bool,
}

/// How a log-domain algebra's values (logarithms) and adjoints (plain
/// numbers) convert to and from `f64`, a slice at a time (`dst` and `src`
/// of equal length); see [`Algebra::LOG_DOMAIN`].
pub struct LogDomain<V> {
    pub to_f64: fn(src: &[V], dst: &mut [f64]),
    pub from_f64: fn(src: &[f64], dst: &mut [V]),
}

impl<V> Clone for LogDomain<V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<V> Copy for LogDomain<V> {}

/// A structure of labels: zero, one, an associative and commutative sum and
/// product, and negation where it is defined.
pub trait Algebra: Send + Sync + 'static {
    /// A label.
    type Value: Copy + Send + Sync + Debug + PartialEq + Default + 'static;
    /// The name users type (`--algebra NAME`).
    const NAME: &'static str;
    const LAWS: Laws;
    const REQUIRES: Requirements;
    /// WGSL text of the same operations over `f32` (`dl_zero`, `dl_one`,
    /// `dl_add`, `dl_mul`, `dl_neg`); `None` where the algebra has no GPU
    /// form. A [`Differentiable`] algebra adds its derivative rules, the
    /// same as its Rust ones: `dl_dneg(x)` = ∂ neg(x)/∂x, and
    /// `dl_dadd(out, c, others, first)` / `dl_dmul(...)` = the derivative of
    /// an n-ary sum / product node of value `out` with respect to a child of
    /// value `c`, where `others` folds the siblings with the same operation
    /// and `first` says no earlier sibling equals `out` (ties go to the
    /// first child); constants `DL_DADD_ONE`/`DL_DMUL_ONE` say the
    /// derivative is identically 1 and `DL_DADD_OTHERS`/`DL_DMUL_OTHERS`
    /// whether it reads `others` (so kernels skip the folds otherwise).
    /// Every text also sets `DL_LOG_SUM_EXP`: whether an n-ary sum is
    /// `ln Σ exp`, which kernels then compute with one shift and one `log`
    /// per node rather than pairwise (more accurate in `f32`). Texts call
    /// `dl_exp` and `dl_ln` rather than WGSL's `exp` and `log`, whose
    /// accuracy the WebGPU spec leaves loose (about 2⁻²¹ for `log`): the
    /// GPU crate defines both to about an ulp, the same on every vendor.
    const WGSL: Option<&'static str>;
    /// `Some` where a value is the natural logarithm of a non-negative real
    /// and the operations are `+` and `×` of those reals (log-probability):
    /// an evaluator may then compute in the linear domain, in `f64`, where
    /// it can show that no value leaves `f64`'s normal range — the same
    /// values and gradients without an `exp` and a `ln` per edge.
    const LOG_DOMAIN: Option<LogDomain<Self::Value>> = None;

    fn zero() -> Self::Value;
    fn one() -> Self::Value;
    fn add(a: Self::Value, b: Self::Value) -> Self::Value;
    fn mul(a: Self::Value, b: Self::Value) -> Self::Value;
    /// The complement of a label (`1 − p`, `log(1 − e^x)`, `¬b`), or `None`
    /// where the algebra has none.
    fn negate(a: Self::Value) -> Option<Self::Value>;
    /// `out[t] = negate(src[t])`, for algebras that have a negation.
    #[inline]
    fn negate_rows(out: &mut [Self::Value], src: &[Self::Value]) {
        for (o, &x) in out.iter_mut().zip(src) {
            *o = Self::negate(x).unwrap_or_else(Self::zero);
        }
    }
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

    /// Every node of a segment of sums (see [`Segment`]). Algebras override
    /// it where whole segments vectorise better than single nodes (a batch
    /// of one, where the only long loops run over edges).
    #[inline]
    fn sum_segment(seg: Segment<'_, Self::Value>) {
        seg.each_node(Self::sum_rows);
    }

    /// Every node of a segment of products.
    #[inline]
    fn product_segment(seg: Segment<'_, Self::Value>) {
        seg.each_node(Self::product_rows);
    }

    /// Every node of a segment of *sums of pairs*: a node's children come in
    /// pairs `(a, b)` and its value is `⊕_j (a_j ⊗ b_j)`. This is a sum whose
    /// binary products were fused into it (an SDD's decision node), which
    /// saves a row and a pass per product.
    #[inline]
    fn sum_of_pairs_segment(seg: Segment<'_, Self::Value>) {
        pairs_by_parts::<Self>(seg, None);
    }
}

/// [`Algebra::sum_of_pairs_segment`] from the algebra's own kernels: each
/// pair's product into a scratch row, then the sum over those rows; with
/// `derivs`, the chain rule through both.
pub fn pairs_by_parts<A: Algebra + ?Sized>(seg: Segment<'_, A::Value>, derivatives: Option<PairDerivatives<A::Value>>) {
    let Segment { out, rows, offsets, children, width: w, mut derivs, scratch } = seg;
    let base = offsets[0] as usize;
    let most = offsets.windows(2).map(|o| (o[1] - o[0]) as usize / 2).max().unwrap_or(0);
    let iota: Vec<u32> = (0..most as u32).collect();
    scratch.clear();
    scratch.resize((2 * most + 2) * w, A::zero());
    let (terms, rest) = scratch.split_at_mut(most * w);
    let (dterms, dpair) = rest.split_at_mut(most * w);
    for i in 0..offsets.len() - 1 {
        let e = offsets[i] as usize - base..offsets[i + 1] as usize - base;
        let k = e.len() / 2;
        for j in 0..k {
            let pair = &children[e.start + 2 * j..e.start + 2 * j + 2];
            A::product_rows(&mut terms[j * w..(j + 1) * w], rows, pair, w);
        }
        let node_out = &mut out[i * w..(i + 1) * w];
        let Some(PairDerivatives { sum_with_derivatives, product_derivatives, product_unit, one, mul }) = derivatives
        else {
            A::sum_rows(node_out, terms, &iota[..k], w);
            continue;
        };
        let Some(d) = derivs.as_deref_mut() else { continue };
        dterms[..k * w].fill(one);
        sum_with_derivatives(node_out, terms, &iota[..k], w, &mut dterms[..k * w]);
        for j in 0..k {
            let pair = &children[e.start + 2 * j..e.start + 2 * j + 2];
            let term = &terms[j * w..(j + 1) * w];
            if product_unit {
                dpair.fill(one);
            } else {
                product_derivatives(NodeRows { out: term, rows, children: pair, width: w }, dpair);
            }
            let dt = &dterms[j * w..(j + 1) * w];
            let dst = &mut d[(e.start + 2 * j) * w..(e.start + 2 * j + 2) * w];
            for f in 0..2 {
                for t in 0..w {
                    dst[f * w + t] = mul(dt[t], dpair[f * w + t]);
                }
            }
        }
    }
}

/// A per-node kernel that also writes its edges' derivatives:
/// `(out, rows, children, width, derivs)`.
pub type KernelWithDerivatives<V> = fn(&mut [V], &[V], &[u32], usize, &mut [V]);

/// What [`pairs_by_parts`] needs to also compute derivatives.
pub struct PairDerivatives<V> {
    pub sum_with_derivatives: KernelWithDerivatives<V>,
    pub product_derivatives: fn(NodeRows<'_, V>, &mut [V]),
    pub product_unit: bool,
    pub one: V,
    pub mul: fn(V, V) -> V,
}

/// A run of nodes of one kind, all of whose children lie before it: node `i`
/// of the segment writes row `i` of `out` from the rows of `rows` listed in
/// `children[offsets[i] - offsets[0]..offsets[i + 1] - offsets[0]]`.
pub struct Segment<'a, V> {
    /// The segment's rows, `nodes × width`.
    pub out: &'a mut [V],
    /// All earlier rows.
    pub rows: &'a [V],
    /// `nodes + 1` edge offsets (absolute, as in the circuit's CSR).
    pub offsets: &'a [u32],
    /// The segment's children, from edge `offsets[0]` on.
    pub children: &'a [u32],
    pub width: usize,
    /// Local derivatives of the segment's edges, `edges × width`, when the
    /// caller wants them ([`Differentiable`]).
    pub derivs: Option<&'a mut [V]>,
    /// Room for per-edge intermediate values.
    pub scratch: &'a mut Vec<V>,
}

impl<V> Segment<'_, V> {
    pub fn num_nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Edge range of node `i`, relative to the segment.
    #[inline(always)]
    pub fn edges(&self, i: usize) -> std::ops::Range<usize> {
        let base = self.offsets[0] as usize;
        self.offsets[i] as usize - base..self.offsets[i + 1] as usize - base
    }

    /// Runs a per-node kernel over every node.
    #[inline]
    pub fn each_node(self, kernel: impl Fn(&mut [V], &[V], &[u32], usize)) {
        let w = self.width;
        for i in 0..self.offsets.len() - 1 {
            let e = self.edges(i);
            kernel(&mut self.out[i * w..(i + 1) * w], self.rows, &self.children[e], w);
        }
    }

    /// Runs a per-node kernel that also writes its edges' derivatives.
    #[inline]
    pub fn each_node_with_derivatives(self, kernel: impl Fn(&mut [V], &[V], &[u32], usize, &mut [V])) {
        let w = self.width;
        let Some(derivs) = self.derivs else { return };
        for i in 0..self.offsets.len() - 1 {
            let base = self.offsets[0] as usize;
            let e = self.offsets[i] as usize - base..self.offsets[i + 1] as usize - base;
            kernel(
                &mut self.out[i * w..(i + 1) * w],
                self.rows,
                &self.children[e.clone()],
                w,
                &mut derivs[e.start * w..e.end * w],
            );
        }
    }
}

/// An algebra with derivatives for reverse mode. Adjoints live in the
/// algebra's value type but mean ordinary derivatives: for log-probability
/// they are `∂L/∂x` of the log-values, not log-values themselves.
///
/// An algebra gives the *local* derivative of each node with respect to
/// each of its children (one row per edge); the evaluator's reverse pass is
/// then the same for every algebra: `adj[child] += adj[node] · ∂node/∂child`.
/// Computing the local derivatives during the forward pass lets an algebra
/// reuse work (log-probability reuses its `exp`s).
pub trait Differentiable: Algebra {
    /// `∂(⊕)/∂child = 1` everywhere: no derivative rows are needed for sums.
    const SUM_DERIVATIVE_IS_ONE: bool = false;
    /// `∂(⊗)/∂child = 1` everywhere.
    const PRODUCT_DERIVATIVE_IS_ONE: bool = false;

    /// `∂ negate(x) / ∂x`, given also `negated = negate(x)`.
    fn negate_derivative(x: Self::Value, negated: Self::Value) -> Self::Value;
    /// The adjoint `1`, and `0`.
    fn adjoint_one() -> Self::Value;
    fn adjoint_zero() -> Self::Value;
    /// Sum and product of adjoints (ordinary arithmetic, not the algebra's).
    fn adjoint_add(a: Self::Value, b: Self::Value) -> Self::Value;
    fn adjoint_mul(a: Self::Value, b: Self::Value) -> Self::Value;

    /// `derivs[j * width + t] = ∂out[t] / ∂rows[children[j]][t]` for a sum
    /// node whose forward value is `node.out`.
    fn sum_derivatives(node: NodeRows<'_, Self::Value>, derivs: &mut [Self::Value]);
    /// The same for a product node.
    fn product_derivatives(node: NodeRows<'_, Self::Value>, derivs: &mut [Self::Value]);

    /// [`Algebra::sum_rows`] and [`Differentiable::sum_derivatives`] in one
    /// go; algebras override it to share work.
    #[inline]
    fn sum_rows_with_derivatives(
        out: &mut [Self::Value],
        rows: &[Self::Value],
        children: &[u32],
        width: usize,
        derivs: &mut [Self::Value],
    ) {
        Self::sum_rows(out, rows, children, width);
        if !Self::SUM_DERIVATIVE_IS_ONE {
            Self::sum_derivatives(NodeRows { out, rows, children, width }, derivs);
        }
    }

    /// [`Algebra::product_rows`] and its derivatives in one go.
    #[inline]
    fn product_rows_with_derivatives(
        out: &mut [Self::Value],
        rows: &[Self::Value],
        children: &[u32],
        width: usize,
        derivs: &mut [Self::Value],
    ) {
        Self::product_rows(out, rows, children, width);
        if !Self::PRODUCT_DERIVATIVE_IS_ONE {
            Self::product_derivatives(NodeRows { out, rows, children, width }, derivs);
        }
    }

    /// [`Algebra::sum_segment`] that also fills `seg.derivs`.
    #[inline]
    fn sum_segment_with_derivatives(seg: Segment<'_, Self::Value>) {
        seg.each_node_with_derivatives(Self::sum_rows_with_derivatives);
    }

    /// [`Algebra::product_segment`] that also fills `seg.derivs`.
    #[inline]
    fn product_segment_with_derivatives(seg: Segment<'_, Self::Value>) {
        seg.each_node_with_derivatives(Self::product_rows_with_derivatives);
    }

    /// [`Algebra::sum_of_pairs_segment`] that also fills `seg.derivs` (per
    /// child, i.e. per factor of each pair).
    #[inline]
    fn sum_of_pairs_segment_with_derivatives(seg: Segment<'_, Self::Value>) {
        let parts = PairDerivatives {
            sum_with_derivatives: Self::sum_rows_with_derivatives,
            product_derivatives: Self::product_derivatives,
            product_unit: Self::PRODUCT_DERIVATIVE_IS_ONE,
            one: Self::adjoint_one(),
            mul: Self::adjoint_mul,
        };
        pairs_by_parts::<Self>(seg, Some(parts));
    }
}

/// The adjoint arithmetic of every algebra over a [`Float`](crate::Float)
/// `F`: ordinary real numbers. Expands inside `impl Differentiable`.
macro_rules! float_adjoints {
    () => {
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
    };
}
pub(crate) use float_adjoints;

/// What a derivative kernel reads about one node after its forward pass.
#[derive(Clone, Copy)]
pub struct NodeRows<'a, V> {
    /// The node's forward values.
    pub out: &'a [V],
    /// Forward values of all earlier nodes.
    pub rows: &'a [V],
    pub children: &'a [u32],
    pub width: usize,
}

/// Batch elements per block in kernels that keep per-element state on the
/// stack.
pub const BLOCK: usize = 64;

/// Row `c` of a row-major matrix of rows `width` wide.
#[inline(always)]
pub fn row<V>(rows: &[V], c: u32, width: usize) -> &[V] {
    let start = c as usize * width;
    &rows[start..start + width]
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

/// Derivatives of `⊗_i f(x_i)` for a multiplicative `⊗` where `f` is the
/// identity (a product) or `1 − x` under an outer `1 − ·` (the
/// probabilistic sum): child `j` gets the product of its siblings' `f(x_i)`.
/// Prefix products, then a running suffix: O(k) per node, exact with zeros,
/// no division.
#[inline]
pub fn sibling_products<V: Copy>(
    node: NodeRows<'_, V>,
    derivs: &mut [V],
    one: V,
    mul: impl Fn(V, V) -> V,
    map: impl Fn(V) -> V,
) {
    let NodeRows { rows, children, width, .. } = node;
    let k = children.len();
    if k == 2 {
        let (a, b) = (row(rows, children[0], width), row(rows, children[1], width));
        let (d0, d1) = derivs[..2 * width].split_at_mut(width);
        for t in 0..width {
            d0[t] = map(b[t]);
            d1[t] = map(a[t]);
        }
        return;
    }
    for start in (0..width).step_by(BLOCK) {
        let w = BLOCK.min(width - start);
        let mut acc = [one; BLOCK];
        for (j, &c) in children.iter().enumerate() {
            let x = &row(rows, c, width)[start..start + w];
            let d = &mut derivs[j * width + start..j * width + start + w];
            for t in 0..w {
                d[t] = acc[t];
                acc[t] = mul(acc[t], map(x[t]));
            }
        }
        acc[..w].fill(one);
        for (j, &c) in children.iter().enumerate().rev() {
            let x = &row(rows, c, width)[start..start + w];
            let d = &mut derivs[j * width + start..j * width + start + w];
            for t in 0..w {
                d[t] = mul(d[t], acc[t]);
                acc[t] = mul(acc[t], map(x[t]));
            }
        }
    }
}

/// Derivatives of an idempotent selection (max or min): 1 for the first
/// child whose value equals the node's, 0 for every other, so ties are
/// broken the same way every time.
#[inline]
pub fn first_extreme<V: Copy + PartialEq>(node: NodeRows<'_, V>, derivs: &mut [V], one: V, zero: V) {
    let NodeRows { out, rows, children, width } = node;
    for start in (0..width).step_by(BLOCK) {
        let w = BLOCK.min(width - start);
        let mut taken = [false; BLOCK];
        for (j, &c) in children.iter().enumerate() {
            let x = &row(rows, c, width)[start..start + w];
            let d = &mut derivs[j * width + start..j * width + start + w];
            for t in 0..w {
                let take = !taken[t] && x[t] == out[start + t];
                d[t] = if take { one } else { zero };
                taken[t] |= take;
            }
        }
    }
}
