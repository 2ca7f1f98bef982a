//! One batch column of a large circuit, on every core.
//!
//! A batch of one is a single tile, so tiling leaves all but one core idle,
//! and one column of a 10⁵–10⁶-edge circuit is a few hundred microseconds:
//! too short to hand each layer to rayon (waking a thread per layer costs
//! more than the layer). Instead each pass is one list of *phases* — the
//! layers in order for the forward pass, then in reverse for the backward
//! pass, then the literal leaves — each cut into chunks of about
//! [`CHUNK_EDGES`] edges. Every thread that joins walks the phases, claims
//! chunks of the current one (the caller from the front, helpers from the
//! back), and moves on once all its chunks are done, spinning briefly,
//! then yielding, while the last ones finish. A chunk is only ever waited
//! for while its claimer is running it, so a thread that joins late, or
//! never, changes the speed and nothing else; the caller alone finishes
//! the pass if it must.
//!
//! The reverse pass *pulls*: a row's adjoint is the sum over its parents of
//! the parent's adjoint times `∂parent/∂row`, so each row is written once,
//! by one thread, with no read-modify-write of shared memory (the push
//! form's scattered `adj[child] += …` would race). `∂parent/∂row` is the
//! value of a *partner* row: 1 under a sum (an extra row holding 1), the
//! other factor of a pair or a binary product; under a product of more
//! than two children it is `parent / row` (every value is a positive
//! normal `f64` on this route, so the quotient is exact to rounding).
//!
//! Values and adjoints live in `AtomicU64`s read and written with relaxed
//! ordering (plain loads and stores on the machines we target); the
//! release/acquire counters of the phases order them.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::OnceLock;

use deeplog_semirings::LogDomain;

use super::{fill_leaves, leaf_gradients, normal, run_children, run_values, seed_f64, sum4, Workspace};
use crate::eval::{Seeds, TileResult, Weights};
use crate::layered::{LayeredCircuit, Op};

/// Edges in a chunk: large enough that claiming one (a compare-and-swap)
/// is noise, small enough that a layer splits between the cores (1024 and
/// 2048 were equally fast on cnf3_v46, 4096 and 8192 10% slower).
const CHUNK_EDGES: usize = 2048;

/// Circuits with fewer edges run on the calling thread alone: a pass is
/// then a few microseconds, less than waking a second thread.
pub(crate) const MIN_EDGES: usize = 1 << 15;

/// One chunk of a pass.
enum Step {
    /// Rows of one kind, computed from their children.
    Forward(Op, Range<u32>),
    /// Rows whose adjoints are pulled from their parents.
    Backward(Range<u32>),
}

/// The chunked forward phases of one circuit, built once, and what the
/// reverse pass needs, built on its first use.
pub(crate) struct Plan {
    /// The layers, each a list of chunks.
    forward: Vec<Vec<Step>>,
    reverse: OnceLock<Reverse>,
}

/// The reverse edges and the backward phases.
struct Reverse {
    /// CSR over all rows: `adj[r] += adj[p] · value[m]` for each `(p, m)`
    /// in `pulls[pull_offsets[r]..pull_offsets[r + 1]]`.
    pull_offsets: Vec<u32>,
    pulls: Vec<[u32; 2]>,
    /// CSR over all rows, empty when no product has more than two
    /// children: `adj[r] += adj[p] · value[p] / value[r]` for each `p`.
    quotient_offsets: Vec<u32>,
    quotients: Vec<u32>,
    /// The layers in reverse, then the literal leaves.
    phases: Vec<Vec<Step>>,
    /// `(row, root index)` sorted by row.
    roots: Vec<(u32, u32)>,
}

/// `rows` cut into runs of about [`CHUNK_EDGES`] edges.
fn chunks(rows: Range<u32>, edges: impl Fn(u32) -> usize) -> Vec<Range<u32>> {
    let mut out = Vec::new();
    let (mut start, mut load) = (rows.start, 0);
    for r in rows.clone() {
        load += edges(r) + 1;
        if load >= CHUNK_EDGES {
            out.push(start..r + 1);
            (start, load) = (r + 1, 0);
        }
    }
    if start < rows.end {
        out.push(start..rows.end);
    }
    out
}

impl Plan {
    pub(crate) fn new(c: &LayeredCircuit) -> Plan {
        let layer = |l: &crate::layered::Layer| {
            let steps = |s: &crate::layered::Segment| {
                let op = s.op;
                chunks(s.rows.clone(), |r| c.children_of(r as usize).len())
                    .into_iter()
                    .map(move |r| Step::Forward(op, r))
            };
            l.segments.iter().flat_map(steps).collect()
        };
        Plan { forward: c.layers.iter().map(layer).collect(), reverse: OnceLock::new() }
    }

    fn reverse(&self, c: &LayeredCircuit) -> &Reverse {
        self.reverse.get_or_init(|| Reverse::new(c))
    }
}

impl Reverse {
    fn new(c: &LayeredCircuit) -> Reverse {
        let rows = c.num_rows();
        let first = c.leaves.len();
        let one = rows as u32;
        let internal =
            || c.layers.iter().flat_map(|l| &l.segments).flat_map(|s| s.rows.clone().map(move |r| (s.op, r)));
        // Each (child, parent, partner) edge, with partner `None` for a
        // quotient; visited twice: to count, then to fill.
        let visit = |f: &mut dyn FnMut(u32, u32, Option<u32>)| {
            for (op, row) in internal() {
                let ks = c.children_of(row as usize);
                match op {
                    Op::Sum => ks.iter().for_each(|&k| f(k, row, Some(one))),
                    Op::SumOfPairs => ks.chunks_exact(2).for_each(|p| {
                        f(p[0], row, Some(p[1]));
                        f(p[1], row, Some(p[0]));
                    }),
                    Op::Product => match *ks {
                        [a] => f(a, row, Some(one)),
                        [a, b] => {
                            f(a, row, Some(b));
                            f(b, row, Some(a));
                        }
                        _ => ks.iter().for_each(|&k| f(k, row, None)),
                    },
                }
            }
        };
        let (mut pull_count, mut quotient_count) = (vec![0u32; rows + 1], vec![0u32; rows + 1]);
        visit(&mut |k, _, m| match m {
            Some(_) => pull_count[k as usize + 1] += 1,
            None => quotient_count[k as usize + 1] += 1,
        });
        let prefix = |counts: &mut Vec<u32>| {
            for i in 1..counts.len() {
                counts[i] += counts[i - 1];
            }
        };
        prefix(&mut pull_count);
        prefix(&mut quotient_count);
        let (pull_offsets, mut quotient_offsets) = (pull_count, quotient_count);
        let mut pulls = vec![[0u32; 2]; pull_offsets[rows] as usize];
        let mut quotients = vec![0u32; quotient_offsets[rows] as usize];
        let (mut next_pull, mut next_quotient) = (pull_offsets.clone(), quotient_offsets.clone());
        visit(&mut |k, p, m| {
            let k = k as usize;
            match m {
                Some(m) => {
                    pulls[next_pull[k] as usize] = [p, m];
                    next_pull[k] += 1;
                }
                None => {
                    quotients[next_quotient[k] as usize] = p;
                    next_quotient[k] += 1;
                }
            }
        });
        if quotients.is_empty() {
            quotient_offsets = Vec::new();
        }

        let parents = |r: u32| {
            let r = r as usize;
            let q = if quotient_offsets.is_empty() { 0 } else { quotient_offsets[r + 1] - quotient_offsets[r] };
            (pull_offsets[r + 1] - pull_offsets[r] + q) as usize
        };
        let layer_rows = |l: &crate::layered::Layer| {
            let starts = l.segments.iter().map(|s| s.rows.start).min();
            let ends = l.segments.iter().map(|s| s.rows.end).max();
            starts.zip(ends).map(|(s, e)| s..e)
        };
        // Constants' adjoints are never read: `true`, partner of every
        // unpaired child, would be one long serial chunk.
        let literals = c.num_constants..first as u32;
        let phases = c
            .layers
            .iter()
            .rev()
            .filter_map(layer_rows)
            .chain(std::iter::once(literals))
            .map(|rows| chunks(rows, parents).into_iter().map(Step::Backward).collect())
            .collect();
        let mut roots: Vec<(u32, u32)> = c.roots.iter().enumerate().map(|(i, &r)| (r, i as u32)).collect();
        roots.sort_unstable();
        Reverse { pull_offsets, pulls, quotient_offsets, quotients, phases, roots }
    }
}

#[inline(always)]
fn load(x: &AtomicU64) -> f64 {
    f64::from_bits(x.load(Relaxed))
}

#[inline(always)]
fn store(x: &AtomicU64, v: f64) {
    x.store(v.to_bits(), Relaxed)
}

/// Runs `work` on every chunk of every phase, phase after phase, on the
/// calling thread and as many of rayon's as join in. The caller claims a
/// phase's chunks from its front, helpers from its back, so that from one
/// pass to the next each core tends to meet the rows it already holds.
/// `work` returns whether to go on; once one says no, the remaining
/// phases are skipped by every thread.
fn run_phases<T: Sync>(phases: &[&[T]], work: &(dyn Fn(&T) -> bool + Sync)) -> bool {
    // Per phase: the unclaimed chunks `front..back` as `back << 32 | front`.
    let unclaimed: Vec<AtomicU64> = phases.iter().map(|p| AtomicU64::new((p.len() as u64) << 32)).collect();
    let done: Vec<AtomicUsize> = phases.iter().map(|_| AtomicUsize::new(0)).collect();
    let stop = AtomicBool::new(false);
    let claim = |i: usize, from_back: bool| {
        let taken = unclaimed[i].fetch_update(Relaxed, Relaxed, |u| {
            let (front, back) = (u & 0xffff_ffff, u >> 32);
            (front < back).then(|| if from_back { (back - 1) << 32 | front } else { back << 32 | (front + 1) })
        });
        taken.ok().map(|u| if from_back { (u >> 32) as usize - 1 } else { (u & 0xffff_ffff) as usize })
    };
    let walk = |helper: bool| {
        for (i, chunks) in phases.iter().enumerate() {
            if stop.load(Acquire) {
                return;
            }
            while let Some(j) = claim(i, helper) {
                if !work(&chunks[j]) {
                    stop.store(true, Release);
                }
                done[i].fetch_add(1, Release);
            }
            let mut spins = 0u32;
            while done[i].load(Acquire) < chunks.len() {
                if spins < 1 << 14 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    };
    let helpers = rayon::current_num_threads().saturating_sub(1);
    rayon::in_place_scope(|s| {
        for _ in 0..helpers {
            s.spawn(|_| walk(true));
        }
        walk(false);
    });
    !stop.load(Acquire)
}

/// The forward pass of `plan` over `values` (leaf rows filled, the extra
/// last row 1) and, given `reverse`, the backward pass into `adjoints`, the
/// roots' seeds being `seeds[i] / value`; `false` where a value left the
/// normal range (the backward phases are then skipped).
fn pass(
    c: &LayeredCircuit,
    plan: &Plan,
    reverse: Option<&Reverse>,
    values: &[AtomicU64],
    adjoints: &[AtomicU64],
    seeds: &[f64],
) -> bool {
    let backward = reverse.map_or(&[][..], |r| &r.phases[..]);
    let phases: Vec<&[Step]> = plan.forward.iter().chain(backward).map(Vec::as_slice).collect();
    run_phases(&phases, &|step: &Step| match (step, reverse) {
        (Step::Forward(op, rows), _) => forward_rows(c, *op, rows, values),
        (Step::Backward(rows), Some(reverse)) => {
            backward_rows(reverse, rows, values, adjoints, seeds);
            true
        }
        (Step::Backward(_), None) => unreachable!("backward phases come with the reverse edges"),
    })
}

/// Forward values of `rows`; `false` where one is not a normal `f64`.
fn forward_rows(c: &LayeredCircuit, op: Op, rows: &Range<u32>, values: &[AtomicU64]) -> bool {
    let mut ok = true;
    let v = |k: u32| load(&values[k as usize]);
    // The runs (rows of one fan-in) that overlap `rows`.
    let first = c.runs.partition_point(|run| run.rows.end <= rows.start);
    for run in c.runs[first..].iter().take_while(|run| run.rows.start < rows.end) {
        let (from, to) = (run.rows.start.max(rows.start), run.rows.end.min(rows.end));
        let kids = run_children(c, run, from..to);
        let out = &values[from as usize..to as usize];
        run_values(op, run.fan_in as usize, out.len(), kids, v, |i, x| {
            ok &= normal(x);
            store(&out[i], x);
        });
    }
    ok
}

/// Adjoints of `rows`, pulled from their parents'.
fn backward_rows(plan: &Reverse, rows: &Range<u32>, values: &[AtomicU64], adjoints: &[AtomicU64], seeds: &[f64]) {
    let adj = |p: u32| load(&adjoints[p as usize]);
    let v = |m: u32| load(&values[m as usize]);
    let span = rows.start as usize..rows.end as usize;
    for (r, out) in span.clone().zip(&adjoints[span]) {
        let pulls = &plan.pulls[plan.pull_offsets[r] as usize..plan.pull_offsets[r + 1] as usize];
        let mut a = sum4(pulls, |&[p, m]| adj(p) * v(m));
        if !plan.quotient_offsets.is_empty() {
            let ps = &plan.quotients[plan.quotient_offsets[r] as usize..plan.quotient_offsets[r + 1] as usize];
            if !ps.is_empty() {
                a += sum4(ps, |&p| adj(p) * v(p)) / v(r as u32);
            }
        }
        store(out, a);
    }
    // The roots among these rows add their seeds.
    let from = plan.roots.partition_point(|&(r, _)| r < rows.start);
    for &(r, i) in plan.roots[from..].iter().take_while(|&&(r, _)| r < rows.end) {
        let r = r as usize;
        store(&adjoints[r], load(&adjoints[r]) + seeds[i as usize] / load(&values[r]));
    }
}

/// Fills the workspace's atomic rows for column `column`: leaves from the
/// weights, the extra last row 1; `false` where a leaf weight is not a
/// normal `f64`.
fn start<V: Copy>(c: &LayeredCircuit, w: &Weights<V>, column: usize, d: LogDomain<V>, ws: &mut Workspace) -> bool {
    let rows = c.num_rows();
    let first = c.leaves.len();
    ws.values.resize(rows, 0.0);
    fill_leaves(c, w, &(column..column + 1), d, ws);
    if ws.shared_values.len() != rows + 1 {
        ws.shared_values = (0..=rows).map(|_| AtomicU64::new(0)).collect();
    }
    for (to, &v) in ws.shared_values.iter().zip(&ws.values[..first]) {
        store(to, v);
    }
    store(&ws.shared_values[rows], 1.0);
    ws.values[c.num_constants as usize..first].iter().all(|&v| normal(v))
}

fn root_values<V: Copy + Default>(c: &LayeredCircuit, values: &[AtomicU64], d: LogDomain<V>) -> Vec<V> {
    let logs: Vec<f64> = c.roots.iter().map(|&r| load(&values[r as usize]).ln()).collect();
    let mut out = vec![V::default(); logs.len()];
    (d.from_f64)(&logs, &mut out);
    out
}

/// Root values of batch column `column`; `None` where a value left `f64`'s
/// normal range.
pub(crate) fn forward_column<V: Copy + Default>(
    c: &LayeredCircuit,
    plan: &Plan,
    w: &Weights<V>,
    column: usize,
    d: LogDomain<V>,
    ws: &mut Workspace,
) -> Option<Vec<V>> {
    let leaves_ok = start(c, w, column, d, ws);
    (pass(c, plan, None, &ws.shared_values, &[], &[]) && leaves_ok).then(|| root_values(c, &ws.shared_values, d))
}

/// Root values and gradients of batch column `column` (see
/// [`super::forward_backward_tile`]).
pub(crate) fn forward_backward_column<V: Copy + Default>(
    c: &LayeredCircuit,
    plan: &Plan,
    w: &Weights<V>,
    column: usize,
    seeds: Seeds<'_, V>,
    d: LogDomain<V>,
    ws: &mut Workspace,
) -> Option<TileResult<V>> {
    if !start(c, w, column, d, ws) {
        return None;
    }
    let rows = c.num_rows();
    // ∂(Σ seed · ln R)/∂R = seed / R at each root.
    let seeds: Vec<f64> = (0..c.roots.len()).map(|i| seed_f64(seeds, i, column, d)).collect();
    if ws.shared_adjoints.len() != rows {
        ws.shared_adjoints = (0..rows).map(|_| AtomicU64::new(0)).collect();
    }
    let reverse = plan.reverse(c);
    if !pass(c, plan, Some(reverse), &ws.shared_values, &ws.shared_adjoints, &seeds) {
        return None;
    }
    let root_values = root_values(c, &ws.shared_values, d);
    let first = c.leaves.len();
    ws.adjoints.clear();
    ws.adjoints.extend(ws.shared_adjoints[..first].iter().map(load));
    let gradients = leaf_gradients(c, w, 1, &ws.values, &ws.adjoints, &ws.positive, d)?;
    Some((root_values, gradients))
}

#[cfg(test)]
mod tests {
    use deeplog_semirings::{Algebra, LogProbability};

    use super::*;
    use crate::linear::forward_backward_tile;
    use crate::testing::{random_case, Rng};

    fn close(a: f64, b: f64, scale: f64) -> bool {
        a == b || (a - b).abs() <= 1e-12 * scale.max(1e-300)
    }

    /// The column route, on however many threads rayon has, gives the tile
    /// route's root values and gradients: random circuits (shared nodes,
    /// products of three children, up to three roots), derived and
    /// explicit negative weights, a seed per root and column.
    #[test]
    fn matches_the_tile_route() {
        let d = LogProbability::<f64>::LOG_DOMAIN.unwrap();
        for seed in 0..400 {
            let (circuit, p) = random_case(seed);
            let c = LayeredCircuit::new(&circuit);
            let plan = Plan::new(&c);
            let mut rng = Rng(seed);
            let batch = 3;
            let column = seed as usize % batch;
            let positive: Vec<f64> =
                p.iter().flat_map(|&p| (0..batch).map(move |b| (p * (1.0 - 0.2 * b as f64)).ln())).collect();
            let negative = (seed % 2 == 0).then(|| positive.iter().map(|_| (0.1 + rng.unit()).ln()).collect());
            let w = Weights { batch, positive, negative };
            let seeds: Vec<f64> = (0..c.num_roots() * batch).map(|_| rng.unit() - 0.3).collect();
            let seeds = Seeds::PerColumn { seeds: &seeds, batch };
            let tile = forward_backward_tile(&c, &w, column..column + 1, seeds, d, &mut Workspace::default());
            let got = forward_backward_column(&c, &plan, &w, column, seeds, d, &mut Workspace::default());
            let (Some((want_roots, (want_pos, want_neg))), Some((roots, (pos, neg)))) = (tile, got) else {
                panic!("seed {seed}: a route left the normal range");
            };
            for (a, b) in roots.iter().zip(&want_roots) {
                assert!(close(*a, *b, b.abs().max(1.0)), "seed {seed}: root {a} vs {b}");
            }
            let scale = want_pos.iter().chain(want_neg.iter().flatten()).fold(0.0f64, |m, g| m.max(g.abs()));
            for (a, b) in pos.iter().zip(&want_pos).chain(neg.iter().flatten().zip(want_neg.iter().flatten())) {
                assert!(close(*a, *b, scale), "seed {seed}: gradient {a} vs {b}");
            }
            let forward = forward_column(&c, &plan, &w, column, d, &mut Workspace::default()).unwrap();
            assert_eq!(forward, roots, "seed {seed}");
        }
    }

    /// A weight that underflows sends the column route back, like the
    /// tile route.
    #[test]
    fn an_underflow_is_reported() {
        let d = LogProbability::<f64>::LOG_DOMAIN.unwrap();
        let mut b = crate::circuit::CircuitBuilder::new(2);
        let x = |b: &mut crate::circuit::CircuitBuilder, s, pos| b.literal(crate::circuit::SlotId(s), pos);
        let (a, na, y) = (x(&mut b, 0, true), x(&mut b, 0, false), x(&mut b, 1, true));
        let (p, q) = (b.product(vec![a, y]), b.product(vec![na, y]));
        let root = b.sum(vec![p, q]);
        let c = LayeredCircuit::new(&b.finish(vec![root]));
        let plan = Plan::new(&c);
        let w = Weights { batch: 1, positive: vec![-800.0; 2], negative: Some(vec![-800.0; 2]) };
        let seeds = vec![1.0; c.num_roots()];
        let got = forward_backward_column(&c, &plan, &w, 0, Seeds::PerRoot(&seeds), d, &mut Workspace::default());
        assert!(got.is_none());
        assert!(forward_column(&c, &plan, &w, 0, d, &mut Workspace::default()).is_none());
    }
}
