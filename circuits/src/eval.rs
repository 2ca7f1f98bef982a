//! Batched evaluation on the CPU, forward and backward, in any algebra.
//!
//! Inputs are a weight matrix `[slots × batch]` (row-major: slot `s`, batch
//! element `b` at `s * batch + b`), outputs `[roots × batch]`, gradients
//! `[slots × batch]`. The batch is cut into *tiles* of at most [`MAX_TILE`]
//! columns; a tile runs through the whole circuit on one thread (rayon runs
//! tiles in parallel), with every node's values for the tile in one
//! contiguous row, so each node is a gather of child rows and a reduction
//! with the batch index innermost.
//!
//! Backward is reverse mode over the same rows. The forward pass also stores
//! each edge's local derivative `∂node/∂child` (one row per edge, skipped
//! where the algebra's derivative is identically 1), so the reverse pass is
//! the same loop for every algebra: `adj[child] += adj[node] · ∂node/∂child`.
//! A leaf hands its adjoint to its slot (through `negate`'s derivative for a
//! negative literal whose weight is derived from the positive one).
//!
//! Log-probability takes a faster route where a call's weights allow it:
//! the same circuit in the linear domain, in `f64` (`linear.rs`),
//! checked exact to rounding, else log space as above.

use std::sync::Mutex;

use rayon::prelude::*;

use deeplog_semirings::{Algebra, Differentiable, Segment};

use crate::layered::{LayeredCircuit, Leaf, Op};
use crate::linear;
use crate::properties::Unmet;

/// Largest number of batch columns one tile holds.
pub const MAX_TILE: usize = 64;
/// Workspace budget per tile (values and adjoints), in bytes; tiles narrow
/// to stay under it, which bounds peak memory on huge circuits.
const TILE_BYTES: usize = 256 << 20;
/// Edges × batch columns below which a batch's tiles run one after the
/// other on the calling thread: handing them to rayon's threads costs more
/// than it saves (measured on the shared circuits, 2 cores: at 6k–70k
/// edge-columns the sequential pass took 35–60% of the parallel one's time,
/// at 0.7M they were even, from 2M on the parallel one won by 1.4–1.7×),
/// and threads that wait spinning compete with a caller's own (a torch
/// training loop's).
const PARALLEL_MIN_WORK: usize = 1 << 19;

/// Literal weights for a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights<V> {
    pub batch: usize,
    /// Weight of each slot's positive literal, `[slots × batch]`.
    pub positive: Vec<V>,
    /// Weight of each negative literal, `[slots × batch]`; `None` derives it
    /// with the algebra's negation (`1 − p`, `log1mexp`, ...).
    pub negative: Option<Vec<V>>,
}

impl<V: Copy> Weights<V> {
    /// Complementary weights: negative literals get `negate(positive)`.
    pub fn complementary(batch: usize, positive: Vec<V>) -> Self {
        Weights { batch, positive, negative: None }
    }
}

/// Gradients of the seeded sum of roots with respect to the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<V> {
    /// `[slots × batch]`, with respect to the positive weights (including the
    /// path through derived negative weights).
    pub positive: Vec<V>,
    /// `[slots × batch]`, with respect to explicit negative weights.
    pub negative: Option<Vec<V>>,
}

/// Root values `[roots × batch]` and gradients.
pub type Evaluated<V> = (Vec<V>, Gradients<V>);

/// Why an evaluation was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("the {algebra} algebra needs a {} circuit, and this one is {}", .unmet.property, describe(.unmet))]
    Unmet { algebra: &'static str, unmet: Unmet },
    #[error("the {algebra} algebra needs a smooth circuit when negative weights are given explicitly, and this one is {}", describe(.unmet))]
    ExplicitNegativesNeedSmooth { algebra: &'static str, unmet: Unmet },
    #[error(
        "this circuit was optimised with the {rewrites} laws, which the {algebra} algebra does not satisfy; \
         optimise the original for {algebra} (or not at all)"
    )]
    Rewritten { algebra: &'static str, rewrites: &'static str },
    #[error("the {algebra} algebra has no negation: give explicit negative literal weights")]
    NoNegation { algebra: &'static str },
    #[error("weights have {got} entries, expected {expected} ({slots} slots × batch {batch})")]
    WeightShape { got: usize, expected: usize, slots: u32, batch: usize },
    #[error("batch size must be at least 1")]
    EmptyBatch,
    #[error("{got} root seeds for {roots} roots")]
    SeedShape { got: usize, roots: usize },
    #[error("{got} root seeds, expected {} ({roots} roots × batch {batch})", .roots * .batch)]
    ColumnSeedShape { got: usize, roots: usize, batch: usize },
    #[error("the {algebra} algebra has no GPU form ({why})")]
    NoGpuForm { algebra: &'static str, why: &'static str },
    #[error("GPU: {0}")]
    Device(String),
}

/// What every evaluator offers, on the CPU ([`CpuEvaluator`]) or a GPU
/// (`deeplog_gpu::GpuEvaluator`): batched forward passes and, in a
/// differentiable algebra, forward+backward passes.
pub trait Evaluate<A: Algebra> {
    /// Root values, `[roots × batch]`.
    fn forward(&self, w: &Weights<A::Value>) -> Result<Vec<A::Value>, EvalError>;
    /// Root values `[roots × batch]` and the gradient of
    /// `Σ_r seeds[r] · root_r` (for every batch element) with respect to the
    /// weights; `seeds: None` means all ones.
    fn forward_backward(
        &self,
        w: &Weights<A::Value>,
        seeds: Option<&[A::Value]>,
    ) -> Result<Evaluated<A::Value>, EvalError>
    where
        A: Differentiable;
}

impl<A: Algebra> Evaluate<A> for CpuEvaluator<'_, A> {
    fn forward(&self, w: &Weights<A::Value>) -> Result<Vec<A::Value>, EvalError> {
        CpuEvaluator::forward(self, w)
    }

    fn forward_backward(
        &self,
        w: &Weights<A::Value>,
        seeds: Option<&[A::Value]>,
    ) -> Result<Evaluated<A::Value>, EvalError>
    where
        A: Differentiable,
    {
        CpuEvaluator::forward_backward(self, w, seeds)
    }
}

/// Refuses a circuit that lacks a property `A` needs (what every
/// evaluator checks before it takes a circuit).
pub fn check_requirements<A: Algebra>(circuit: &LayeredCircuit) -> Result<(), EvalError> {
    if let Some(rewrites) = circuit.rewritten().filter(|r| !r.valid_in(A::LAWS)) {
        return Err(EvalError::Rewritten { algebra: A::NAME, rewrites: rewrites.name() });
    }
    match circuit.properties().unmet(A::REQUIRES) {
        Some(unmet) => Err(EvalError::Unmet { algebra: A::NAME, unmet }),
        None => Ok(()),
    }
}

/// Refuses weights that do not fit `circuit` in algebra `A` (shape,
/// explicit negatives on a circuit that is not smooth, a negative literal
/// in an algebra without negation).
pub fn check_weights<A: Algebra>(circuit: &LayeredCircuit, w: &Weights<A::Value>) -> Result<(), EvalError> {
    let c = circuit;
    if w.batch == 0 {
        return Err(EvalError::EmptyBatch);
    }
    let expected = c.num_slots as usize * w.batch;
    for m in std::iter::once(&w.positive).chain(&w.negative) {
        if m.len() != expected {
            return Err(EvalError::WeightShape { got: m.len(), expected, slots: c.num_slots, batch: w.batch });
        }
    }
    if w.negative.is_some() {
        let needs = deeplog_semirings::Requirements { smooth: true, ..Default::default() };
        if let Some(unmet) = c.properties().unmet(needs) {
            return Err(EvalError::ExplicitNegativesNeedSmooth { algebra: A::NAME, unmet });
        }
    } else if A::negate(A::one()).is_none() && c.leaves.iter().any(|l| matches!(l, Leaf::Literal(l) if !l.positive)) {
        return Err(EvalError::NoNegation { algebra: A::NAME });
    }
    Ok(())
}

fn describe(unmet: &Unmet) -> String {
    match unmet.knowledge {
        crate::properties::Knowledge::Fails(n) => format!("not (node {n} breaks it)"),
        crate::properties::Knowledge::Unknown => "not known to be (the checker cannot prove it)".to_string(),
        crate::properties::Knowledge::Holds(_) => "fine".to_string(),
    }
}

/// One tile's rows: node values, node adjoints, edge derivatives, and room
/// for the kernels' intermediate values.
struct Workspace<V> {
    values: Vec<V>,
    adjoints: Vec<V>,
    derivs: Vec<V>,
    scratch: Vec<V>,
}

/// Evaluates one layered circuit in algebra `A` on the CPU, many times.
pub struct CpuEvaluator<'c, A: Algebra> {
    circuit: &'c LayeredCircuit,
    pool: Mutex<Vec<Workspace<A::Value>>>,
    /// Workspaces of the linear-domain route ([`crate::linear`]).
    linear: Mutex<Vec<linear::Workspace>>,
    /// Whether a log-domain algebra may take the linear-domain route.
    linear_route: bool,
    /// The plan of a batch of one on all cores, for large circuits, and
    /// how many batches of one have been asked for.
    single: std::sync::OnceLock<linear::single::Plan>,
    single_calls: std::sync::atomic::AtomicUsize,
}

impl<'c, A: Algebra> CpuEvaluator<'c, A> {
    /// Refuses a circuit that lacks a property `A` needs.
    pub fn new(circuit: &'c LayeredCircuit) -> Result<Self, EvalError> {
        check_requirements::<A>(circuit)?;
        Ok(CpuEvaluator {
            circuit,
            pool: Mutex::new(Vec::new()),
            linear: Mutex::new(Vec::new()),
            linear_route: true,
            single: std::sync::OnceLock::new(),
            single_calls: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Evaluates a log-domain algebra (log-probability) in log space
    /// always, never by the faster linear-domain route it takes where the
    /// weights allow (see [`Algebra::LOG_DOMAIN`]): for comparisons.
    pub fn in_log_space(mut self) -> Self {
        self.linear_route = false;
        self
    }

    /// The linear-domain route for `w`, where the algebra has one and the
    /// weights keep every value in range.
    fn linear_route(&self, w: &Weights<A::Value>) -> Option<deeplog_semirings::LogDomain<A::Value>> {
        A::LOG_DOMAIN.filter(|&d| self.linear_route && linear::admissible(w, d))
    }

    pub fn circuit(&self) -> &LayeredCircuit {
        self.circuit
    }

    fn validate(&self, w: &Weights<A::Value>) -> Result<(), EvalError> {
        check_weights::<A>(self.circuit, w)
    }

    /// Tile width for `batch`: wide enough to vectorise, narrow enough that
    /// both cores get tiles and a tile's rows fit the memory budget.
    fn tile_width(&self, batch: usize) -> usize {
        if batch == 1 {
            // One column is one tile: asking rayon would start its pool
            // (two thread spawns, a visible share of a small query's time).
            return 1;
        }
        let c = self.circuit;
        let threads = if c.num_edges().saturating_mul(batch) < PARALLEL_MIN_WORK {
            1 // one thread's work: as few tiles as the width allows
        } else {
            rayon::current_num_threads().max(1)
        };
        let per_thread = batch.div_ceil(threads);
        let row_bytes = (2 * c.num_rows() + c.num_edges()).max(1) * std::mem::size_of::<A::Value>();
        let by_memory = (TILE_BYTES / row_bytes).max(1);
        per_thread.clamp(1, MAX_TILE).min(by_memory)
    }

    fn workspace(&self) -> Workspace<A::Value> {
        self.pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or(Workspace {
            values: Vec::new(),
            adjoints: Vec::new(),
            derivs: Vec::new(),
            scratch: Vec::new(),
        })
    }

    fn give_back(&self, ws: Workspace<A::Value>) {
        if let Ok(mut p) = self.pool.lock() {
            p.push(ws);
        }
    }

    /// The plan of a one-column batch spread over all cores
    /// ([`linear::single`]), where the circuit is large enough to pay for
    /// it and this is not the first such call: a single pass (one query)
    /// runs on the calling thread rather than pay for starting rayon's
    /// threads and building the plan; repeated passes (a benchmark, a
    /// training loop) get the plan from the second on.
    fn single_plan(&self, batch: usize) -> Option<&linear::single::Plan> {
        use std::sync::atomic::Ordering::Relaxed;
        let large = batch == 1 && self.circuit.num_edges() >= linear::single::MIN_EDGES;
        let repeated = large && self.single_calls.fetch_add(1, Relaxed) > 0;
        (repeated && rayon::current_num_threads() > 1)
            .then(|| self.single.get_or_init(|| linear::single::Plan::new(self.circuit)))
    }

    /// Whether a batch's tiles are worth spreading over rayon's threads.
    fn parallel(&self, batch: usize, tiles: usize) -> bool {
        tiles > 1 && self.circuit.num_edges().saturating_mul(batch) >= PARALLEL_MIN_WORK
    }

    /// `run` on every tile, on rayon's threads where [`Self::parallel`].
    fn each_tile<T: Send>(
        &self,
        tiles: &[std::ops::Range<usize>],
        batch: usize,
        run: impl Fn(&std::ops::Range<usize>) -> T + Sync + Send,
    ) -> Vec<T> {
        if self.parallel(batch, tiles.len()) {
            tiles.par_iter().map(run).collect()
        } else {
            tiles.iter().map(run).collect()
        }
    }

    /// The tiles of a batch: column ranges, one per task.
    fn tiles(&self, batch: usize) -> Vec<std::ops::Range<usize>> {
        let tile = self.tile_width(batch);
        (0..batch).step_by(tile).map(|s| s..(s + tile).min(batch)).collect()
    }

    /// `run` on every tile (in parallel where there are several) with a
    /// linear-domain workspace from the pool.
    fn linear_tiles<T: Send>(
        &self,
        tiles: &[std::ops::Range<usize>],
        run: impl Fn(std::ops::Range<usize>, &mut linear::Workspace) -> T + Sync,
    ) -> Vec<T> {
        let one = |range: &std::ops::Range<usize>| {
            let mut ws = self.linear.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default();
            let out = run(range.clone(), &mut ws);
            if let Ok(mut p) = self.linear.lock() {
                p.push(ws);
            }
            out
        };
        self.each_tile(tiles, tiles.last().map_or(0, |t| t.end), one)
    }

    /// Root values, `[roots × batch]`.
    pub fn forward(&self, w: &Weights<A::Value>) -> Result<Vec<A::Value>, EvalError> {
        self.validate(w)?;
        let tiles = self.tiles(w.batch);
        if let Some(d) = self.linear_route(w) {
            let parts = match self.single_plan(w.batch) {
                Some(plan) => self.linear_tiles(&tiles, |range, ws| {
                    linear::single::forward_column(self.circuit, plan, w, range.start, d, ws)
                }),
                None => self.linear_tiles(&tiles, |range, ws| linear::forward_tile(self.circuit, w, range, d, ws)),
            };
            // A tile whose values left the range sends the batch to log space.
            if let Some(parts) = parts.into_iter().collect::<Option<Vec<_>>>() {
                return Ok(scatter_columns(parts, &tiles, self.circuit.num_roots(), w.batch));
            }
        }
        let run = |range: &std::ops::Range<usize>| {
            let mut ws = self.workspace();
            fill_leaves::<A>(self.circuit, w, range.clone(), &mut ws.values, &mut ws.scratch);
            forward_tile::<A>(self.circuit, range.len(), &mut ws.values, None, &mut ws.scratch, plain());
            let roots = read_roots(self.circuit, &ws.values, range.len());
            self.give_back(ws);
            roots
        };
        let parts: Vec<Vec<A::Value>> = self.each_tile(&tiles, w.batch, run);
        Ok(scatter_columns(parts, &tiles, self.circuit.num_roots(), w.batch))
    }
}

impl<A: Differentiable> CpuEvaluator<'_, A> {
    /// Root values `[roots × batch]` and the gradient of
    /// `Σ_r seeds[r] · root_r` (for every batch element) with respect to the
    /// weights. `seeds: None` means all ones: the gradient of the sum of roots.
    pub fn forward_backward(
        &self,
        w: &Weights<A::Value>,
        seeds: Option<&[A::Value]>,
    ) -> Result<Evaluated<A::Value>, EvalError> {
        let roots = self.circuit.num_roots();
        let ones;
        let seeds = match seeds {
            Some(s) if s.len() != roots => return Err(EvalError::SeedShape { got: s.len(), roots }),
            Some(s) => s,
            None => {
                ones = vec![A::adjoint_one(); roots];
                &ones
            }
        };
        self.seeded(w, Seeds::PerRoot(seeds))
    }

    /// Root values `[roots × batch]` and the gradient of
    /// `Σ_{r,b} seeds[r, b] · root_r[b]` with respect to the weights, where
    /// `seeds` is `[roots × batch]`: a seed per root and batch column (the
    /// adjoints an outer computation hands back, column by column).
    pub fn forward_backward_columns(
        &self,
        w: &Weights<A::Value>,
        seeds: &[A::Value],
    ) -> Result<Evaluated<A::Value>, EvalError> {
        let roots = self.circuit.num_roots();
        if seeds.len() != roots * w.batch {
            return Err(EvalError::ColumnSeedShape { got: seeds.len(), roots, batch: w.batch });
        }
        self.seeded(w, Seeds::PerColumn { seeds, batch: w.batch })
    }

    fn seeded(&self, w: &Weights<A::Value>, seeds: Seeds<'_, A::Value>) -> Result<Evaluated<A::Value>, EvalError> {
        self.validate(w)?;
        let c = self.circuit;
        let tiles = self.tiles(w.batch);
        if let Some(d) = self.linear_route(w) {
            let parts = match self.single_plan(w.batch) {
                Some(plan) => self.linear_tiles(&tiles, |range, ws| {
                    linear::single::forward_backward_column(c, plan, w, range.start, seeds, d, ws)
                }),
                None => self.linear_tiles(&tiles, |range, ws| linear::forward_backward_tile(c, w, range, seeds, d, ws)),
            };
            // A tile whose values or gradients left the range sends the
            // whole batch to log space.
            if let Some(parts) = parts.into_iter().collect::<Option<Vec<_>>>() {
                return Ok(self.gather(parts, &tiles, w));
            }
        }
        let run = |range: &std::ops::Range<usize>| {
            let mut ws = self.workspace();
            fill_leaves::<A>(c, w, range.clone(), &mut ws.values, &mut ws.scratch);
            // Every derivative the reverse pass reads is written by the
            // forward pass first, so a reused buffer needs no clearing.
            let n = c.num_edges() * range.len();
            if ws.derivs.len() < n {
                ws.derivs.resize(n, A::adjoint_zero());
            }
            let derivs = Some(&mut ws.derivs[..n]);
            forward_tile::<A>(c, range.len(), &mut ws.values, derivs, &mut ws.scratch, with_derivatives());
            let roots = read_roots(c, &ws.values, range.len());
            let grads = backward_tile::<A>(c, w, range.clone(), seeds, &mut ws);
            self.give_back(ws);
            (roots, grads)
        };
        let parts: Vec<_> = self.each_tile(&tiles, w.batch, run);
        Ok(self.gather(parts, &tiles, w))
    }

    /// Per-tile root values and gradients joined into batch matrices.
    fn gather(
        &self,
        parts: Vec<TileResult<A::Value>>,
        tiles: &[std::ops::Range<usize>],
        w: &Weights<A::Value>,
    ) -> Evaluated<A::Value> {
        let c = self.circuit;
        let (roots, grads): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let values = scatter_columns(roots, tiles, c.num_roots(), w.batch);
        let slots = c.num_slots as usize;
        let (positive, negative): (Vec<_>, Vec<_>) = grads.into_iter().unzip();
        let positive = scatter_columns(positive, tiles, slots, w.batch);
        let negative = w.negative.as_ref().map(|_| {
            let parts = negative.into_iter().map(Option::unwrap_or_default).collect();
            scatter_columns(parts, tiles, slots, w.batch)
        });
        (values, Gradients { positive, negative })
    }
}

/// The adjoints the roots start the reverse pass with.
#[derive(Clone, Copy)]
pub(crate) enum Seeds<'s, V> {
    /// One per root, the same in every batch column.
    PerRoot(&'s [V]),
    /// `[roots × batch]`.
    PerColumn { seeds: &'s [V], batch: usize },
}

impl<V: Copy> Seeds<'_, V> {
    /// The seed of root `r` in batch column `column`.
    pub(crate) fn get(self, r: usize, column: usize) -> V {
        match self {
            Seeds::PerRoot(s) => s[r],
            Seeds::PerColumn { seeds, batch } => seeds[r * batch + column],
        }
    }
}

/// Sizes `values` to `rows × width` and fills the leaf rows for batch
/// columns `range`.
fn fill_leaves<A: Algebra>(
    c: &LayeredCircuit,
    w: &Weights<A::Value>,
    range: std::ops::Range<usize>,
    values: &mut Vec<A::Value>,
    scratch: &mut Vec<A::Value>,
) {
    let width = range.len();
    // Every row is written before it is read: leaves here, the rest by the
    // forward pass. A reused buffer needs no clearing.
    let n = c.num_rows() * width;
    if values.len() != n {
        values.clear();
        values.resize(n, A::zero());
    }
    // When the tile is the whole batch, derived negative weights are one
    // vectorised pass over all slots rather than one short pass per leaf
    // (at batch 1, a leaf's row is a single element).
    let negated = if w.negative.is_none() && w.batch == width {
        scratch.clear();
        scratch.resize(w.positive.len(), A::zero());
        A::negate_rows(scratch, &w.positive);
        Some(&scratch[..])
    } else {
        None
    };
    if width == 1 {
        // One element per row: plain indexing, no slice copies.
        for (v, leaf) in values.iter_mut().zip(&c.leaves) {
            *v = match *leaf {
                Leaf::Constant(b) => {
                    if b {
                        A::one()
                    } else {
                        A::zero()
                    }
                }
                Leaf::Literal(l) => {
                    let at = l.slot.0 as usize * w.batch + range.start;
                    match (&w.negative, l.positive, negated) {
                        (_, true, _) => w.positive[at],
                        (Some(neg), false, _) => neg[at],
                        (None, false, Some(n)) => n[at],
                        (None, false, None) => A::negate(w.positive[at]).unwrap_or_else(A::zero),
                    }
                }
            };
        }
        return;
    }
    for (row, leaf) in c.leaves.iter().enumerate() {
        let out = &mut values[row * width..(row + 1) * width];
        match *leaf {
            Leaf::Constant(b) => out.fill(if b { A::one() } else { A::zero() }),
            Leaf::Literal(l) => {
                let at = l.slot.0 as usize * w.batch;
                let src = at + range.start..at + range.end;
                match (&w.negative, l.positive) {
                    (_, true) => out.copy_from_slice(&w.positive[src]),
                    (Some(neg), false) => out.copy_from_slice(&neg[src]),
                    (None, false) => match negated {
                        Some(n) => out.copy_from_slice(&n[src]),
                        // validate() made sure negation exists.
                        None => A::negate_rows(out, &w.positive[src]),
                    },
                }
            }
        }
    }
}

/// The forward pass over internal rows, leaves already filled; with
/// `derivs`, also each edge's local derivative (`edges × width`, CSR order).
fn forward_tile<A: Algebra>(
    c: &LayeredCircuit,
    width: usize,
    values: &mut [A::Value],
    mut derivs: Option<&mut [A::Value]>,
    scratch: &mut Vec<A::Value>,
    kernels: Kernels<A>,
) {
    let first = c.leaves.len();
    for layer in &c.layers {
        for seg in &layer.segments {
            let (start, end) = (seg.rows.start as usize, seg.rows.end as usize);
            let offsets = &c.offsets[start - first..=end - first];
            let (e0, e1) = (offsets[0] as usize, offsets[end - start] as usize);
            let (earlier, rest) = values.split_at_mut(start * width);
            let segment = Segment {
                out: &mut rest[..(end - start) * width],
                rows: earlier,
                offsets,
                children: &c.children[e0..e1],
                width,
                derivs: derivs.as_deref_mut().map(|d| &mut d[e0 * width..e1 * width]),
                scratch,
            };
            match seg.op {
                Op::Sum => (kernels.sum)(segment),
                Op::Product => (kernels.product)(segment),
                Op::SumOfPairs => (kernels.pairs)(segment),
            }
        }
    }
}

/// The segment kernels a pass runs: plain, or storing derivatives.
struct Kernels<A: Algebra> {
    sum: fn(Segment<'_, A::Value>),
    product: fn(Segment<'_, A::Value>),
    pairs: fn(Segment<'_, A::Value>),
}

impl<A: Algebra> Clone for Kernels<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A: Algebra> Copy for Kernels<A> {}

fn plain<A: Algebra>() -> Kernels<A> {
    Kernels { sum: A::sum_segment, product: A::product_segment, pairs: A::sum_of_pairs_segment }
}

fn with_derivatives<A: Differentiable>() -> Kernels<A> {
    Kernels {
        sum: A::sum_segment_with_derivatives,
        product: A::product_segment_with_derivatives,
        pairs: A::sum_of_pairs_segment_with_derivatives,
    }
}

/// Root rows of a finished tile, `[roots × width]`.
fn read_roots<V: Copy>(c: &LayeredCircuit, values: &[V], width: usize) -> Vec<V> {
    let mut out = Vec::with_capacity(c.roots.len() * width);
    for &r in &c.roots {
        out.extend_from_slice(&values[r as usize * width..(r as usize + 1) * width]);
    }
    out
}

/// A tile's gradients: positive, and negative where the weights give them.
pub(crate) type TileGradients<V> = (Vec<V>, Option<Vec<V>>);
/// A tile's root values and gradients.
pub(crate) type TileResult<V> = (Vec<V>, TileGradients<V>);

/// Reverse pass over a tile whose forward values and edge derivatives are
/// in `ws`.
fn backward_tile<A: Differentiable>(
    c: &LayeredCircuit,
    w: &Weights<A::Value>,
    range: std::ops::Range<usize>,
    seeds: Seeds<'_, A::Value>,
    ws: &mut Workspace<A::Value>,
) -> TileGradients<A::Value> {
    let width = range.len();
    let Workspace { values, adjoints, derivs, scratch } = ws;
    adjoints.clear();
    adjoints.resize(c.num_rows() * width, A::adjoint_zero());
    for (i, &r) in c.roots.iter().enumerate() {
        for (a, column) in adjoints[r as usize * width..(r as usize + 1) * width].iter_mut().zip(range.clone()) {
            *a = A::adjoint_add(*a, seeds.get(i, column));
        }
    }
    let first = c.leaves.len();
    let constants = c.num_constants;
    for layer in c.layers.iter().rev() {
        for seg in layer.segments.iter().rev() {
            let unit = match seg.op {
                Op::Sum => A::SUM_DERIVATIVE_IS_ONE,
                Op::Product => A::PRODUCT_DERIVATIVE_IS_ONE,
                Op::SumOfPairs => false,
            };
            if width == 1 {
                // One batch element: scalar loops without per-edge slicing.
                for row in (seg.rows.start as usize..seg.rows.end as usize).rev() {
                    let g = adjoints[row];
                    let i = row - first;
                    let (e0, e1) = (c.offsets[i] as usize, c.offsets[i + 1] as usize);
                    for (&child, &d) in c.children[e0..e1].iter().zip(&derivs[e0..e1]) {
                        if child >= constants {
                            let a = &mut adjoints[child as usize];
                            *a = A::adjoint_add(*a, if unit { g } else { A::adjoint_mul(g, d) });
                        }
                    }
                }
                continue;
            }
            for row in (seg.rows.start as usize..seg.rows.end as usize).rev() {
                let (earlier, rest) = adjoints.split_at_mut(row * width);
                let g = &rest[..width];
                let i = row - first;
                let (e0, e1) = (c.offsets[i] as usize, c.offsets[i + 1] as usize);
                for (e, &child) in (e0..e1).zip(&c.children[e0..e1]) {
                    if child < constants {
                        continue;
                    }
                    let a = &mut earlier[child as usize * width..(child as usize + 1) * width];
                    if unit {
                        for (a, &g) in a.iter_mut().zip(g) {
                            *a = A::adjoint_add(*a, g);
                        }
                    } else {
                        let d = &derivs[e * width..(e + 1) * width];
                        for ((a, &g), &d) in a.iter_mut().zip(g).zip(d) {
                            *a = A::adjoint_add(*a, A::adjoint_mul(g, d));
                        }
                    }
                }
            }
        }
    }
    let slots = c.num_slots as usize;
    let mut pos = vec![A::adjoint_zero(); slots * width];
    let mut neg = w.negative.as_ref().map(|_| vec![A::adjoint_zero(); slots * width]);
    if width == 1 && w.negative.is_none() {
        // Derivatives of the derived negative weights in one vectorised pass
        // (`scratch` holds, per leaf, its slot's weight, then its value).
        let n = c.leaves.len();
        scratch.clear();
        scratch.resize(2 * n, A::adjoint_zero());
        let (xs, vs) = scratch.split_at_mut(n);
        for (row, leaf) in c.leaves.iter().enumerate() {
            if let Leaf::Literal(l) = leaf {
                xs[row] = w.positive[l.slot.0 as usize * w.batch + range.start];
                vs[row] = values[row];
            }
        }
        for (x, &v) in xs.iter_mut().zip(vs.iter()) {
            *x = A::negate_derivative(*x, v);
        }
        for (row, leaf) in c.leaves.iter().enumerate() {
            if let Leaf::Literal(l) = leaf {
                let g = &mut pos[l.slot.0 as usize];
                let a = adjoints[row];
                *g = A::adjoint_add(*g, if l.positive { a } else { A::adjoint_mul(a, xs[row]) });
            }
        }
        return (pos, neg);
    }
    for (row, leaf) in c.leaves.iter().enumerate() {
        let Leaf::Literal(l) = *leaf else { continue };
        let adj = &adjoints[row * width..(row + 1) * width];
        let s = l.slot.0 as usize;
        let dst = s * width..(s + 1) * width;
        match (&mut neg, l.positive) {
            (_, true) => {
                for (g, &a) in pos[dst].iter_mut().zip(adj) {
                    *g = A::adjoint_add(*g, a);
                }
            }
            (Some(neg), false) => {
                for (g, &a) in neg[dst].iter_mut().zip(adj) {
                    *g = A::adjoint_add(*g, a);
                }
            }
            (None, false) => {
                let x = &w.positive[s * w.batch + range.start..s * w.batch + range.end];
                let negated = &values[row * width..(row + 1) * width];
                for (((g, &a), &x), &n) in pos[dst].iter_mut().zip(adj).zip(x).zip(negated) {
                    *g = A::adjoint_add(*g, A::adjoint_mul(a, A::negate_derivative(x, n)));
                }
            }
        }
    }
    (pos, neg)
}

/// Joins per-tile `[rows × tile]` blocks into one `[rows × batch]` matrix.
pub(crate) fn scatter_columns<V: Copy + Default>(
    mut parts: Vec<Vec<V>>,
    tiles: &[std::ops::Range<usize>],
    rows: usize,
    batch: usize,
) -> Vec<V> {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut out = vec![V::default(); rows * batch];
    for (part, range) in parts.iter().zip(tiles) {
        let width = range.len();
        for r in 0..rows {
            out[r * batch + range.start..r * batch + range.end].copy_from_slice(&part[r * width..(r + 1) * width]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use deeplog_semirings::Probability;

    use super::*;
    use crate::testing::{random_case, Rng};

    #[test]
    fn column_seeds_agree_with_root_seeds() {
        let batch = 5;
        for seed in 0..40 {
            let (circuit, p) = random_case(seed);
            let layered = LayeredCircuit::new(&circuit);
            let eval = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
            let mut rng = Rng(seed ^ 0x5eed);
            let slots = p.len();
            let weights: Vec<f64> = (0..slots * batch).map(|_| 0.02 + 0.96 * rng.unit()).collect();
            let w = Weights::complementary(batch, weights.clone());
            let roots = layered.num_roots();
            let root_seeds: Vec<f64> = (0..roots).map(|_| rng.unit() - 0.5).collect();

            // The same seeds in every column: forward_backward's answer.
            let repeated: Vec<f64> = root_seeds.iter().flat_map(|&s| std::iter::repeat_n(s, batch)).collect();
            let by_root = eval.forward_backward(&w, Some(&root_seeds)).unwrap();
            assert_eq!(eval.forward_backward_columns(&w, &repeated).unwrap(), by_root);

            // Distinct seeds per column: column b is forward_backward on that column alone.
            let seeds: Vec<f64> = (0..roots * batch).map(|_| rng.unit() - 0.5).collect();
            let (values, grads) = eval.forward_backward_columns(&w, &seeds).unwrap();
            for b in 0..batch {
                let column: Vec<f64> = (0..slots).map(|s| weights[s * batch + b]).collect();
                let column_seeds: Vec<f64> = (0..roots).map(|r| seeds[r * batch + b]).collect();
                let (v, g) = eval.forward_backward(&Weights::complementary(1, column), Some(&column_seeds)).unwrap();
                for r in 0..roots {
                    assert!((values[r * batch + b] - v[r]).abs() < 1e-12);
                }
                for s in 0..slots {
                    assert!((grads.positive[s * batch + b] - g.positive[s]).abs() < 1e-12, "seed {seed} slot {s}");
                }
            }
        }
    }

    #[test]
    fn column_seeds_of_the_wrong_shape_are_refused() {
        let (circuit, p) = random_case(3);
        let layered = LayeredCircuit::new(&circuit);
        let eval = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
        let w = Weights::complementary(2, p.iter().flat_map(|&x| [x, x]).collect());
        let roots = layered.num_roots();
        let err = eval.forward_backward_columns(&w, &vec![1.0; roots]).unwrap_err();
        assert_eq!(err, EvalError::ColumnSeedShape { got: roots, roots, batch: 2 });
    }
}
