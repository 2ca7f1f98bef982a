//! [`GpuFormulaEvaluator`]: a formula circuit ([`Expr`]) on the device,
//! evaluated and differentiated many times, in `f32`, with the CPU
//! [`ExprEvaluator`](deeplog_circuits::ExprEvaluator)'s semantics and
//! derivative rules.
//!
//! Upload prepares everything a pass needs; a pass is then a short list of
//! dispatches in one submission:
//!
//! 1. **Lowering.** Every op maps onto a [`Kind`] of the shader. An n-ary
//!    associative op (`And`/`Or` of every t-norm, `Sum`, `Product`, `Max`,
//!    `Min`) with more than [`CHUNK`] children becomes a balanced tree of
//!    nodes of the same op over at most [`CHUNK`] children each: the same
//!    value (for the t-norms, on truth values in `[0, 1]`) and, by the chain
//!    rule, the same derivatives, the first-child tie rule of the extrema
//!    included (the first chunk attaining the extremum holds the first
//!    child attaining it). A p-mean wider than [`CHUNK`] becomes power sums
//!    `Σ x^p` (or `Σ (1 − x)^p`) over chunks, a tree of sums over them if
//!    there are more than [`CHUNK`] chunks, and a mean of the sums `(S /
//!    n)^(1/p)` (or `1 − …`) on top. So no node loops over more than a chunk
//!    of children.
//! 2. **Levels.** A node's level is one more than its children's highest
//!    (leaves: 0). Nodes are renumbered level by level (and by kind within a
//!    level, so neighbouring threads take the same branch), so a level is a
//!    range of ids and one dispatch, one thread per (node, batch column).
//! 3. **Parents.** Each node's incoming edges (a transposed CSR); a root
//!    also has a *seed edge* of its own, past the child edges, where the
//!    host writes the seeds. A node with more than [`CHUNK`] parents gathers
//!    them in chunks: one `gather` invocation per chunk sums its share
//!    before the node's own invocation adds up the chunks.
//!
//! Forward runs the levels upwards, then copies the roots out. Backward runs
//! them downwards: a node's adjoint is the sum of the contributions on its
//! parent edges (deterministic, no atomics), then it writes `adjoint ·
//! ∂node/∂child` onto each of its child edges (products through prefix and
//! suffix products, exact with zero factors); input leaves write their
//! adjoints into the gradient matrix.
//!
//! Sums and products are compensated (Neumaier's sums, Dekker's exact
//! products): node folds, gathers, and prefix and suffix products stay
//! within a few `f32` roundings of the exact result however many terms
//! they have. Without them, the product of 10⁵ truth values just below 1
//! (a forall over true formulas) came out 3e-4 low on lavapipe: each
//! product near 1 drops its second-order term, always the same way.
//!
//! Batches are cut into tiles of columns so that one tile's node values
//! (`nodes × tile`) and edge contributions (`edges × tile`) each fit one
//! storage binding and, all buffers together, 1 GiB. Buffers are allocated
//! for the widest tile once and reused by later calls.

use std::sync::{Mutex, MutexGuard};

use deeplog_circuits::formula::{Expr, Op, TNorm};
use deeplog_circuits::EvalError;

use crate::formula_shader::{self, Kind, WORKGROUP};
use crate::formula_shader::{CHILDREN, CHUNK_RANGES, CONTRIB, GRADS, INPUTS, NODES, OUT, PARENT_EDGES, PARTIALS};
use crate::formula_shader::{ROOTS, SHAPE, VALUES};
use crate::Gpu;

/// The most children a node of the uploaded circuit has, and the most
/// parents (or parent chunks) one invocation gathers. lavapipe ends an
/// invocation after 65535 loop iterations in all; the widest loops of an
/// invocation (a product's gather, suffix and prefix) stay at `3 · CHUNK`.
pub const CHUNK: usize = 4096;

/// Memory for one tile's per-column buffers, beyond which the batch is cut
/// into narrower tiles.
const TILE_BUDGET: u64 = 1 << 30;

/// A node as the device computes it, before renumbering.
#[derive(Clone, Copy, Debug)]
struct Node {
    kind: Kind,
    /// Input row, constant bits, or exponent bits.
    arg: u32,
    /// A wide p-mean's number of terms, as `f32` bits.
    arg2: u32,
}

impl Node {
    fn of(kind: Kind) -> Node {
        Node { kind, arg: 0, arg2: 0 }
    }

    fn with_exponent(kind: Kind, p: f64) -> Node {
        Node { kind, arg: (p as f32).to_bits(), arg2: 0 }
    }
}

/// The circuit as the device runs it, in creation order: children before
/// parents, at most [`CHUNK`] children per node, one node per input row.
struct Lowered {
    nodes: Vec<Node>,
    /// CSR: the children of node `i` are `children[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    children: Vec<u32>,
    roots: Vec<u32>,
}

impl Lowered {
    fn new(expr: &Expr) -> Result<Lowered, EvalError> {
        let mut l = Lowered { nodes: Vec::new(), offsets: vec![0], children: Vec::new(), roots: Vec::new() };
        // Expr node → lowered node, and input row → its leaf.
        let mut map: Vec<u32> = Vec::with_capacity(expr.num_nodes());
        let mut input_leaf = vec![u32::MAX; expr.num_inputs() as usize];
        for id in 0..expr.num_nodes() {
            let cs: Vec<u32> = expr.children_of(id).iter().map(|&c| map[c as usize]).collect();
            let node = match expr.op(id) {
                Op::Nested(root) => {
                    return Err(EvalError::Device(format!(
                        "formula node {id} reads root {root} of a nested compiled circuit; formula circuits with \
                         nested circuits are evaluated on the CPU only (ExprEvaluator), since the nested circuit's \
                         own evaluator is not part of the GPU formula evaluator yet"
                    )))
                }
                Op::Input(row) => {
                    let leaf = &mut input_leaf[row as usize];
                    if *leaf == u32::MAX {
                        *leaf = l.push(Node { kind: Kind::Input, arg: row, arg2: 0 }, &[]);
                    }
                    *leaf
                }
                Op::Const(c) => l.push(Node { kind: Kind::Const, arg: (c as f32).to_bits(), arg2: 0 }, &[]),
                Op::Not => l.push(Node::of(Kind::Not), &cs),
                Op::Ln => l.push(Node::of(Kind::Ln), &cs),
                Op::Div => l.push(Node::of(Kind::Div), &cs),
                Op::Implies(i) => l.push(Node { kind: Kind::Implies, arg: i as u32, arg2: 0 }, &cs),
                Op::Sum => l.associative(Kind::Sum, cs),
                Op::Product | Op::And(TNorm::Product) => l.associative(Kind::Product, cs),
                Op::Max | Op::Or(TNorm::Godel) => l.associative(Kind::Max, cs),
                Op::Min | Op::And(TNorm::Godel) => l.associative(Kind::Min, cs),
                Op::Or(TNorm::Product) => l.associative(Kind::OrProduct, cs),
                Op::And(TNorm::Lukasiewicz) => l.associative(Kind::AndLukasiewicz, cs),
                Op::Or(TNorm::Lukasiewicz) => l.associative(Kind::OrLukasiewicz, cs),
                Op::PMean(p) => l.mean(p, [Kind::PMean, Kind::PowerSum, Kind::PMeanOfSums], cs),
                Op::PMeanError(p) => l.mean(p, [Kind::PMeanError, Kind::ErrorPowerSum, Kind::PMeanErrorOfSums], cs),
            };
            map.push(node);
        }
        l.roots = expr.roots().iter().map(|&r| map[r as usize]).collect();
        Ok(l)
    }

    fn push(&mut self, node: Node, children: &[u32]) -> u32 {
        self.nodes.push(node);
        self.children.extend_from_slice(children);
        self.offsets.push(self.children.len());
        // Ids past u32 are refused by `Layout::new`.
        (self.nodes.len() - 1) as u32
    }

    fn children_of(&self, node: usize) -> &[u32] {
        &self.children[self.offsets[node]..self.offsets[node + 1]]
    }

    /// `kind` over `children`, as a balanced tree of `kind` nodes when
    /// there are more than a chunk of them.
    fn associative(&mut self, kind: Kind, children: Vec<u32>) -> u32 {
        let top = self.chunked(children, Node::of(kind), Node::of(kind));
        self.push(Node::of(kind), &top)
    }

    /// A p-mean (`kinds`: the direct op, the power sum of a chunk, the mean
    /// of the sums) over `children`.
    fn mean(&mut self, p: f64, [direct, power_sum, of_sums]: [Kind; 3], children: Vec<u32>) -> u32 {
        if children.len() <= CHUNK {
            return self.push(Node::with_exponent(direct, p), &children);
        }
        let n = children.len();
        let sums = self.chunked(children, Node::with_exponent(power_sum, p), Node::of(Kind::Sum));
        let top = Node { arg2: (n as f32).to_bits(), ..Node::with_exponent(of_sums, p) };
        self.push(top, &sums)
    }

    /// At most a chunk of nodes that stand for `children`: groups of them
    /// under `first` nodes, groups of those under `then` nodes, and so on.
    /// Groups are as even as can be, in order.
    fn chunked(&mut self, mut level: Vec<u32>, first: Node, then: Node) -> Vec<u32> {
        let mut node = first;
        while level.len() > CHUNK {
            let groups = level.len().div_ceil(CHUNK);
            let len = level.len();
            level = (0..groups).map(|g| self.push(node, &level[g * len / groups..(g + 1) * len / groups])).collect();
            node = then;
        }
        level
    }
}

/// A kernel of the shader, with the group-0 bindings it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    Forward,
    ReadRoots,
    Gather,
    Backward,
}

const KERNELS: [Kernel; 4] = [Kernel::Forward, Kernel::ReadRoots, Kernel::Gather, Kernel::Backward];

impl Kernel {
    fn entry(self) -> &'static str {
        match self {
            Kernel::Forward => "forward",
            Kernel::ReadRoots => "read_roots",
            Kernel::Gather => "gather",
            Kernel::Backward => "backward",
        }
    }

    /// At most 7 storage buffers each (WebGPU's default limit is 8).
    fn bindings(self) -> &'static [u32] {
        match self {
            Kernel::Forward => &[SHAPE, VALUES, NODES, CHILDREN, INPUTS],
            Kernel::ReadRoots => &[SHAPE, VALUES, ROOTS, OUT],
            Kernel::Gather => &[SHAPE, CONTRIB, PARENT_EDGES, CHUNK_RANGES, PARTIALS],
            Kernel::Backward => &[SHAPE, VALUES, NODES, CHILDREN, CONTRIB, PARENT_EDGES, PARTIALS, GRADS],
        }
    }
}

/// One dispatch of a pass: a kernel over items `start .. start + count`
/// (nodes, chunks or roots).
#[derive(Clone, Copy, Debug)]
struct Dispatch {
    kernel: Kernel,
    start: u32,
    count: u32,
}

/// The lowered circuit renumbered level by level, as the device reads it.
struct Layout {
    /// Per node: kind, child edges `c0..c1`, arg, arg2, gather range
    /// `q0..q1` (parent positions, or chunks where `chunked` is 1), chunked
    /// (`Node` in the shader).
    nodes: Vec<[u32; 8]>,
    children: Vec<u32>,
    roots: Vec<u32>,
    /// Per node (CSR by `q0..q1`): its child edges among its parents', then
    /// its seed edges (`edges + r` for root `r`).
    parent_edges: Vec<u32>,
    /// Per chunk: a range of positions in `parent_edges`.
    chunk_ranges: Vec<u32>,
    /// The forward pass (a dispatch per level, then the roots), then the
    /// backward pass (per level from the top: its chunks, then its nodes).
    plan: Vec<Dispatch>,
    forward_dispatches: usize,
    levels: usize,
}

impl Layout {
    fn new(l: &Lowered) -> Result<Layout, EvalError> {
        let n = l.nodes.len();
        let edges = l.children.len();
        if n >= u32::MAX as usize || edges + l.roots.len() >= u32::MAX as usize {
            return Err(EvalError::Device(format!(
                "the formula circuit ({n} nodes, {edges} edges) is too large for 32-bit indices"
            )));
        }
        let mut level = vec![0u32; n];
        for i in 0..n {
            level[i] = l.children_of(i).iter().map(|&c| level[c as usize] + 1).max().unwrap_or(0);
        }
        // By (level, kind, id): a counting sort, stable in the ids.
        let key = |i: usize| level[i] as usize * Kind::COUNT + l.nodes[i].kind as usize;
        let keys = level.iter().max().map_or(0, |&top| (top as usize + 1) * Kind::COUNT);
        let mut slots = vec![0u32; keys + 1];
        for i in 0..n {
            slots[key(i) + 1] += 1;
        }
        for k in 0..keys {
            slots[k + 1] += slots[k];
        }
        let mut order = vec![0u32; n];
        for i in 0..n {
            let slot = &mut slots[key(i)];
            order[*slot as usize] = i as u32;
            *slot += 1;
        }
        let mut rank = vec![0u32; n];
        for (new, &old) in order.iter().enumerate() {
            rank[old as usize] = new as u32;
        }

        let mut children = Vec::with_capacity(edges);
        let mut child_offsets = Vec::with_capacity(n + 1);
        for &old in &order {
            child_offsets.push(children.len() as u32);
            children.extend(l.children_of(old as usize).iter().map(|&c| rank[c as usize]));
        }
        child_offsets.push(children.len() as u32);
        let roots: Vec<u32> = l.roots.iter().map(|&r| rank[r as usize]).collect();

        // Parents, by counting: child edges, then seed edges.
        let mut parent_offsets = vec![0u32; n + 1];
        for &c in children.iter().chain(&roots) {
            parent_offsets[c as usize + 1] += 1;
        }
        for i in 0..n {
            parent_offsets[i + 1] += parent_offsets[i];
        }
        let mut fill = parent_offsets.clone();
        let mut parent_edges = vec![0u32; edges + roots.len()];
        for (e, &c) in children.iter().chain(&roots).enumerate() {
            parent_edges[fill[c as usize] as usize] = e as u32;
            fill[c as usize] += 1;
        }

        // Chunks of many-parent nodes (constants are never gathered), and
        // the first chunk of each node (so that a level's chunks are a range).
        let mut chunk_ranges = Vec::new();
        let mut first_chunk = Vec::with_capacity(n + 1);
        let mut nodes = Vec::with_capacity(n);
        for (new, &old) in order.iter().enumerate() {
            let node = l.nodes[old as usize];
            let (q0, q1) = (parent_offsets[new], parent_offsets[new + 1]);
            let first = (chunk_ranges.len() / 2) as u32;
            first_chunk.push(first);
            let mut gather = [q0, q1, 0];
            if node.kind != Kind::Const && (q1 - q0) as usize > CHUNK {
                for start in (q0..q1).step_by(CHUNK) {
                    chunk_ranges.extend([start, start.saturating_add(CHUNK as u32).min(q1)]);
                }
                let last = (chunk_ranges.len() / 2) as u32;
                if (last - first) as usize > CHUNK {
                    return Err(EvalError::Device(format!(
                        "a formula node has {} parents; the GPU evaluator gathers at most {} (a chunk of chunks)",
                        q1 - q0,
                        CHUNK * CHUNK
                    )));
                }
                gather = [first, last, 1];
            }
            let (c0, c1) = (child_offsets[new], child_offsets[new + 1]);
            nodes.push([node.kind as u32, c0, c1, node.arg, node.arg2, gather[0], gather[1], gather[2]]);
        }
        first_chunk.push((chunk_ranges.len() / 2) as u32);

        // Levels as ranges of the new ids.
        let mut levels: Vec<(u32, u32)> = Vec::new();
        for (new, &old) in order.iter().enumerate() {
            let lv = level[old as usize] as usize;
            if lv == levels.len() {
                levels.push((new as u32, new as u32));
            }
            levels[lv].1 = new as u32 + 1;
        }
        let inputs = l.nodes.iter().filter(|node| node.kind == Kind::Input).count() as u32;

        let mut plan: Vec<Dispatch> = levels
            .iter()
            .map(|&(start, end)| Dispatch { kernel: Kernel::Forward, start, count: end - start })
            .collect();
        plan.push(Dispatch { kernel: Kernel::ReadRoots, start: 0, count: roots.len() as u32 });
        let forward_dispatches = plan.len();
        for (lv, &(start, end)) in levels.iter().enumerate().rev() {
            // Inputs come first on level 0; constants need no adjoint.
            let end = if lv == 0 { inputs } else { end };
            let (k0, k1) = (first_chunk[start as usize], first_chunk[end as usize]);
            if k1 > k0 {
                plan.push(Dispatch { kernel: Kernel::Gather, start: k0, count: k1 - k0 });
            }
            if end > start {
                plan.push(Dispatch { kernel: Kernel::Backward, start, count: end - start });
            }
        }
        Ok(Layout {
            nodes,
            children,
            roots,
            parent_edges,
            chunk_ranges,
            plan,
            forward_dispatches,
            levels: levels.len(),
        })
    }
}

struct Pipelines {
    layouts: Vec<wgpu::BindGroupLayout>,
    pipelines: Vec<wgpu::ComputePipeline>,
}

impl Pipelines {
    fn new(device: &wgpu::Device, params: &wgpu::BindGroupLayout) -> Pipelines {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("formula"),
            source: wgpu::ShaderSource::Wgsl(formula_shader::module().into()),
        });
        let mut layouts = Vec::new();
        let mut pipelines = Vec::new();
        for k in KERNELS {
            let entries: Vec<wgpu::BindGroupLayoutEntry> = k
                .bindings()
                .iter()
                .map(|&binding| {
                    let ty = match binding {
                        SHAPE => wgpu::BufferBindingType::Uniform,
                        VALUES | OUT | CONTRIB | PARTIALS | GRADS => {
                            wgpu::BufferBindingType::Storage { read_only: false }
                        }
                        _ => wgpu::BufferBindingType::Storage { read_only: true },
                    };
                    wgpu::BindGroupLayoutEntry {
                        binding,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
                        count: None,
                    }
                })
                .collect();
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(k.entry()),
                entries: &entries,
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(k.entry()),
                bind_group_layouts: &[Some(&layout), Some(params)],
                immediate_size: 0,
            });
            pipelines.push(device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(k.entry()),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(k.entry()),
                compilation_options: Default::default(),
                cache: None,
            }));
            layouts.push(layout);
        }
        Pipelines { layouts, pipelines }
    }
}

/// Buffers whose size depends on the tile width, with the bind groups
/// (per kernel) that name them.
struct Work {
    width: u32,
    inputs: wgpu::Buffer,
    out: wgpu::Buffer,
    staging: wgpu::Buffer,
    /// Present once a backward pass ran: contributions (child edges, then
    /// seed edges) and gradients (the chunks' partial sums are only bound).
    backward: Option<(wgpu::Buffer, wgpu::Buffer)>,
    groups: Vec<Option<wgpu::BindGroup>>,
}

/// A formula circuit uploaded to a GPU.
///
/// ```no_run
/// use deeplog_circuits::formula::{ExprBuilder, Implication, Op};
/// use deeplog_gpu::{Gpu, GpuFormulaEvaluator};
///
/// // ∀x (P(x) → Q(x)) over two constants, aggregated by LTN's p-mean error.
/// let mut b = ExprBuilder::new(4); // input rows: P(a), P(b), Q(a), Q(b)
/// let [pa, pb, qa, qb] = [0, 1, 2, 3].map(|i| b.add(Op::Input(i), &[]).unwrap());
/// let ia = b.add(Op::Implies(Implication::Reichenbach), &[pa, qa]).unwrap();
/// let ib = b.add(Op::Implies(Implication::Reichenbach), &[pb, qb]).unwrap();
/// let all = b.add(Op::PMeanError(2.0), &[ia, ib]).unwrap();
/// let expr = b.finish(vec![all]);
///
/// let gpu = Gpu::new()?;
/// let eval = GpuFormulaEvaluator::new(&gpu, &expr)?;
/// let (values, grads) = eval.forward_backward(&[0.8, 0.5, 0.4, 1.0], 1, &[1.0])?;
/// assert_eq!((values.len(), grads.len()), (1, 4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GpuFormulaEvaluator {
    gpu: Gpu,
    pipelines: Pipelines,
    num_inputs: u32,
    roots: u32,
    nodes: u32,
    /// Child edges; seed edges follow them in the contributions.
    edges: u32,
    chunks: u32,
    levels: usize,
    plan: Vec<Dispatch>,
    forward_dispatches: usize,
    /// Structure, uploaded once.
    node_buf: wgpu::Buffer,
    children: wgpu::Buffer,
    root_nodes: wgpu::Buffer,
    parent_edges: wgpu::Buffer,
    chunk_ranges: wgpu::Buffer,
    /// The tile's width (`Shape` in the shader), written before each tile.
    shape: wgpu::Buffer,
    /// Each dispatch's range, `params_stride` bytes apart (the adapter's
    /// uniform offset alignment), read at a dynamic offset.
    params: wgpu::BindGroup,
    params_stride: u64,
    work: Mutex<Option<Work>>,
    /// Widest tile the bindings and the budget allow.
    max_tile: u32,
}

impl std::fmt::Debug for GpuFormulaEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuFormulaEvaluator")
            .field("gpu", &self.gpu.name())
            .field("nodes", &self.nodes)
            .field("levels", &self.levels)
            .finish()
    }
}

fn bytes_of(words: &[u32]) -> Vec<u8> {
    let mut v: Vec<u8> = bytemuck::cast_slice(words).to_vec();
    if v.is_empty() {
        // Zero-sized bindings are invalid.
        v.extend_from_slice(&[0; 4]);
    }
    v
}

impl GpuFormulaEvaluator {
    /// Uploads `expr` once. Refuses a circuit with [`Op::Nested`] leaves:
    /// those need the compiled circuit's evaluator, which stays on the CPU
    /// for now.
    pub fn new(gpu: &Gpu, expr: &Expr) -> Result<Self, EvalError> {
        let layout = Layout::new(&Lowered::new(expr)?)?;
        gpu.check()?;
        let device = &gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        let nodes = layout.nodes.len() as u32;
        let edges = layout.children.len() as u32;
        let roots = layout.roots.len() as u32;
        let chunks = (layout.chunk_ranges.len() / 2) as u32;
        let num_inputs = expr.num_inputs();

        // The widest tile whose every buffer fits one binding, and all of
        // them the budget.
        let per_column = [nodes, num_inputs, roots, edges + roots, chunks, num_inputs, roots + num_inputs];
        let bind = gpu.max_binding();
        let widest = per_column.iter().map(|&w| w.max(1) as u64 * 4).max().unwrap_or(4);
        let total: u64 = per_column.iter().map(|&w| w as u64 * 4).sum();
        let max_tile = (bind / widest).min(TILE_BUDGET / total.max(1)).min(u32::MAX as u64) as u32;
        if max_tile == 0 {
            return Err(EvalError::Device(format!(
                "the formula circuit ({nodes} nodes, {edges} edges after lowering) does not fit one storage binding \
                 of {bind} bytes and a budget of {TILE_BUDGET} bytes even for a single batch column"
            )));
        }

        let params_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("dispatch ranges"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(16),
                },
                count: None,
            }],
        });
        let pipelines = Pipelines::new(device, &params_layout);

        let upload = |label: &str, contents: &[u8], usage: wgpu::BufferUsages| {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: contents.len() as u64,
                usage: usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            gpu.queue.write_buffer(&buffer, 0, contents);
            buffer
        };
        let storage = wgpu::BufferUsages::STORAGE;
        let node_buf = upload("formula nodes", &bytes_of(layout.nodes.as_flattened()), storage);
        let children = upload("formula children", &bytes_of(&layout.children), storage);
        let root_nodes = upload("formula roots", &bytes_of(&layout.roots), storage);
        let parent_edges = upload("formula parent edges", &bytes_of(&layout.parent_edges), storage);
        let chunk_ranges = upload("formula chunk ranges", &bytes_of(&layout.chunk_ranges), storage);
        let shape = upload("formula tile shape", &[0; 16], wgpu::BufferUsages::UNIFORM);
        let params_stride = gpu.limits.min_uniform_buffer_offset_alignment.max(16) as u64;
        let mut blocks = vec![0u8; layout.plan.len() * params_stride as usize];
        for (block, d) in blocks.chunks_exact_mut(params_stride as usize).zip(&layout.plan) {
            block[..8].copy_from_slice(&bytes_of(&[d.start, d.count]));
        }
        let params_buf = upload("formula dispatch ranges", &blocks, wgpu::BufferUsages::UNIFORM);
        let params = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("dispatch ranges"),
            layout: &params_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &params_buf,
                    offset: 0,
                    size: wgpu::BufferSize::new(16),
                }),
            }],
        });

        let evaluator = GpuFormulaEvaluator {
            gpu: gpu.clone(),
            pipelines,
            num_inputs,
            roots,
            nodes,
            edges,
            chunks,
            levels: layout.levels,
            plan: layout.plan,
            forward_dispatches: layout.forward_dispatches,
            node_buf,
            children,
            root_nodes,
            parent_edges,
            chunk_ranges,
            shape,
            params,
            params_stride,
            work: Mutex::new(None),
            max_tile,
        };
        gpu.finish_upload(scope, oom, "the formula circuit")?;
        Ok(evaluator)
    }

    /// The adapter this evaluator runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The widest tile (batch columns per submission) for a batch.
    pub fn tile_width(&self, batch: usize) -> usize {
        batch.min(self.max_tile as usize).max(1)
    }

    /// Root values `[roots × batch]` for inputs `[inputs × batch]` (row `i`,
    /// column `b` at `i * batch + b`).
    pub fn forward(&self, inputs: &[f32], batch: usize) -> Result<Vec<f32>, EvalError> {
        self.check_inputs(inputs, batch)?;
        let mut values = vec![0.0; self.roots as usize * batch];
        for cols in self.tiles(batch) {
            let tile = columns(inputs, batch, &cols);
            let (roots, _) = self.run_tile(&tile, None, cols.len() as u32)?;
            scatter(&roots, &cols, batch, &mut values);
        }
        Ok(values)
    }

    /// Root values `[roots × batch]` and the gradient of `Σ_{r,b} seeds[r ·
    /// batch + b] · root_r,b` with respect to the inputs, `[inputs × batch]`.
    pub fn forward_backward(
        &self,
        inputs: &[f32],
        batch: usize,
        seeds: &[f32],
    ) -> Result<(Vec<f32>, Vec<f32>), EvalError> {
        self.check_inputs(inputs, batch)?;
        let roots = self.roots as usize;
        if seeds.len() != roots * batch {
            return Err(EvalError::ColumnSeedShape { got: seeds.len(), roots, batch });
        }
        let mut values = vec![0.0; roots * batch];
        let mut grads = vec![0.0; self.num_inputs as usize * batch];
        for cols in self.tiles(batch) {
            let tile = columns(inputs, batch, &cols);
            let tile_seeds = columns(seeds, batch, &cols);
            let (r, g) = self.run_tile(&tile, Some(&tile_seeds), cols.len() as u32)?;
            scatter(&r, &cols, batch, &mut values);
            scatter(&g, &cols, batch, &mut grads);
        }
        Ok((values, grads))
    }

    /// Input shape errors name the input rows as the slots of
    /// [`EvalError::WeightShape`]: they are the formula's weights.
    fn check_inputs(&self, inputs: &[f32], batch: usize) -> Result<(), EvalError> {
        if batch == 0 {
            return Err(EvalError::EmptyBatch);
        }
        let expected = self.num_inputs as usize * batch;
        if inputs.len() != expected {
            return Err(EvalError::WeightShape { got: inputs.len(), expected, slots: self.num_inputs, batch });
        }
        Ok(())
    }

    fn tiles(&self, batch: usize) -> Vec<std::ops::Range<usize>> {
        let width = self.tile_width(batch);
        (0..batch).step_by(width).map(|s| s..(s + width).min(batch)).collect()
    }

    /// Buffers for tiles of `width` columns (grown, never shrunk).
    fn work(&self, width: u32, backward: bool) -> Result<MutexGuard<'_, Option<Work>>, EvalError> {
        let mut guard = self.work.lock().map_err(|_| EvalError::Device("a previous call panicked".into()))?;
        if guard.as_ref().is_some_and(|w| w.width >= width && (!backward || w.backward.is_some())) {
            return Ok(guard);
        }
        let width = guard.as_ref().map_or(width, |w| w.width.max(width));
        let backward = backward || guard.as_ref().is_some_and(|w| w.backward.is_some());
        *guard = None;
        let device = &self.gpu.device;
        let invalid = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let w = width as u64;
        let buffer = |label: &str, words: u32, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: words.max(1) as u64 * w * 4,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let values = buffer("formula values", self.nodes, U::STORAGE);
        let inputs = buffer("formula inputs", self.num_inputs, U::STORAGE | U::COPY_DST);
        let out = buffer("formula root values", self.roots, U::STORAGE | U::COPY_SRC);
        let staging = buffer("formula staging", self.roots + self.num_inputs, U::MAP_READ | U::COPY_DST);
        let (contrib, partials, grads) = if backward {
            (
                Some(buffer("formula contributions", self.edges + self.roots, U::STORAGE | U::COPY_DST)),
                Some(buffer("formula partial sums", self.chunks, U::STORAGE)),
                Some(buffer("formula gradients", self.num_inputs, U::STORAGE | U::COPY_SRC | U::COPY_DST)),
            )
        } else {
            (None, None, None)
        };
        if let Some(e) = pollster::block_on(oom.pop()) {
            return Err(EvalError::Device(format!("out of memory for tiles of {width} columns: {e}")));
        }
        let groups = KERNELS
            .iter()
            .zip(&self.pipelines.layouts)
            .map(|(&k, layout)| {
                let entries = k
                    .bindings()
                    .iter()
                    .map(|&binding| {
                        let buffer = match binding {
                            SHAPE => Some(&self.shape),
                            VALUES => Some(&values),
                            NODES => Some(&self.node_buf),
                            CHILDREN => Some(&self.children),
                            INPUTS => Some(&inputs),
                            ROOTS => Some(&self.root_nodes),
                            OUT => Some(&out),
                            CONTRIB => contrib.as_ref(),
                            PARENT_EDGES => Some(&self.parent_edges),
                            CHUNK_RANGES => Some(&self.chunk_ranges),
                            PARTIALS => partials.as_ref(),
                            _ => grads.as_ref(),
                        };
                        buffer.map(|b| wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout, entries: &entries }))
            })
            .collect();
        if let Some(e) = pollster::block_on(invalid.pop()) {
            return Err(EvalError::Device(e.to_string()));
        }
        let backward = contrib.zip(grads);
        *guard = Some(Work { width, inputs, out, staging, backward, groups });
        Ok(guard)
    }

    /// Runs one tile of `width` columns: inputs `[inputs × width]`, seeds
    /// `[roots × width]` for a backward pass. Returns the roots `[roots ×
    /// width]` and, with seeds, the gradients `[inputs × width]`.
    fn run_tile(&self, inputs: &[f32], seeds: Option<&[f32]>, width: u32) -> Result<(Vec<f32>, Vec<f32>), EvalError> {
        self.gpu.check()?;
        let guard = self.work(width, seeds.is_some())?;
        let work = guard.as_ref().ok_or_else(|| EvalError::Device("no work buffers".into()))?;
        let queue = &self.gpu.queue;
        let device = &self.gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);

        queue.write_buffer(&self.shape, 0, &bytes_of(&[width, 0, 0, 0]));
        if !inputs.is_empty() {
            queue.write_buffer(&work.inputs, 0, bytemuck::cast_slice(inputs));
        }
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("formula") });
        let dispatches = match (seeds, &work.backward) {
            (Some(seeds), Some((contrib, grads))) => {
                // Seeds go on the roots' own edges, past the child edges.
                if !seeds.is_empty() {
                    queue.write_buffer(contrib, self.edges as u64 * width as u64 * 4, bytemuck::cast_slice(seeds));
                }
                // Rows that no input leaf reads have zero gradients.
                encoder.clear_buffer(grads, 0, None);
                &self.plan[..]
            }
            _ => &self.plan[..self.forward_dispatches],
        };
        {
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            let per_dim = self.gpu.limits.max_compute_workgroups_per_dimension.max(1) as u64;
            for (i, d) in dispatches.iter().enumerate() {
                let threads = d.count as u64 * width as u64;
                if threads == 0 {
                    continue;
                }
                let groups = threads.div_ceil(WORKGROUP as u64);
                let x = groups.min(per_dim);
                let y = groups.div_ceil(x);
                let k = d.kernel as usize;
                pass.set_pipeline(&self.pipelines.pipelines[k]);
                pass.set_bind_group(0, work.groups[k].as_ref(), &[]);
                pass.set_bind_group(1, &self.params, &[(i as u64 * self.params_stride) as u32]);
                pass.dispatch_workgroups(x as u32, y as u32, 1);
            }
        }
        let root_bytes = self.roots as u64 * width as u64 * 4;
        let grad_bytes = if seeds.is_some() { self.num_inputs as u64 * width as u64 * 4 } else { 0 };
        if root_bytes > 0 {
            encoder.copy_buffer_to_buffer(&work.out, 0, &work.staging, 0, root_bytes);
        }
        if let (Some((_, grads)), true) = (&work.backward, grad_bytes > 0) {
            encoder.copy_buffer_to_buffer(grads, 0, &work.staging, root_bytes, grad_bytes);
        }
        let data = self.gpu.submit_and_read(encoder, scope, &work.staging, root_bytes + grad_bytes)?;
        if data.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let (roots, grads) = data.split_at((root_bytes / 4) as usize);
        Ok((roots.to_vec(), grads.to_vec()))
    }
}

/// Columns `cols` of a `[rows × batch]` matrix, as `[rows × cols.len()]`.
fn columns(m: &[f32], batch: usize, cols: &std::ops::Range<usize>) -> Vec<f32> {
    if cols.len() == batch {
        return m.to_vec();
    }
    m.chunks_exact(batch).flat_map(|row| &row[cols.clone()]).copied().collect()
}

/// Writes a tile's `[rows × cols.len()]` block into columns `cols` of a
/// `[rows × batch]` matrix.
fn scatter(block: &[f32], cols: &std::ops::Range<usize>, batch: usize, out: &mut [f32]) {
    for (row, chunk) in out.chunks_exact_mut(batch).zip(block.chunks_exact(cols.len())) {
        row[cols.clone()].copy_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deeplog_circuits::formula::{ExprBuilder, Implication};

    fn inputs(b: &mut ExprBuilder, n: u32) -> Vec<u32> {
        (0..n).map(|i| b.add(Op::Input(i), &[]).unwrap()).collect()
    }

    #[test]
    fn wide_nodes_become_balanced_trees_of_chunks() {
        let n = 3 * CHUNK as u32 + 5;
        let mut b = ExprBuilder::new(n);
        let x = inputs(&mut b, n);
        let max = b.add(Op::Max, &x).unwrap();
        let mean = b.add(Op::PMean(2.0), &x).unwrap();
        let lowered = Lowered::new(&b.finish(vec![max, mean])).unwrap();
        let kinds = |kind| lowered.nodes.iter().filter(|node| node.kind == kind).count();
        // 4 groups of 3073 or 3074 under one top node, for each op.
        assert_eq!(kinds(Kind::Max), 5);
        assert_eq!(kinds(Kind::PowerSum), 4);
        assert_eq!(kinds(Kind::PMeanOfSums), 1);
        assert!((0..lowered.nodes.len()).all(|i| lowered.children_of(i).len() <= CHUNK));
        let top = lowered.roots[1] as usize;
        assert_eq!(f32::from_bits(lowered.nodes[top].arg2), n as f32);
        let sizes: Vec<usize> =
            lowered.children_of(top).iter().map(|&c| lowered.children_of(c as usize).len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), n as usize);
        assert!(sizes.iter().all(|&s| s == 3073 || s == 3074), "{sizes:?}");
        // The groups keep the children's order (the extrema's tie rule).
        let first_group = lowered.children_of(lowered.roots[0] as usize)[0] as usize;
        assert_eq!(lowered.children_of(first_group)[..3], [0, 1, 2]);
    }

    #[test]
    fn levels_are_ranges_and_many_parents_gather_in_chunks() {
        // An input read by CHUNK + 10 implications, one of them a root twice.
        let n = CHUNK as u32 + 10;
        let mut b = ExprBuilder::new(n + 1);
        let x = inputs(&mut b, n + 1);
        let imps: Vec<u32> = (0..n as usize)
            .map(|i| b.add(Op::Implies(Implication::Reichenbach), &[x[n as usize], x[i]]).unwrap())
            .collect();
        let sum = b.add(Op::Sum, &imps[..10]).unwrap();
        let expr = b.finish(vec![sum, imps[0], imps[0]]);
        let layout = Layout::new(&Lowered::new(&expr).unwrap()).unwrap();
        assert_eq!(layout.levels, 3);
        // Node ids grow with the level; the shared input is chunked.
        let chunked: Vec<&[u32; 8]> = layout.nodes.iter().filter(|node| node[7] == 1).collect();
        assert_eq!(chunked.len(), 1);
        assert_eq!(chunked[0][6] - chunked[0][5], 2);
        // imps[0]'s parents: an edge of the sum and two seed edges.
        let edges = layout.children.len() as u32;
        let first_imp = layout.nodes.iter().position(|node| node[0] == Kind::Implies as u32).unwrap();
        let node = layout.nodes[layout.roots[1] as usize];
        assert!(layout.roots[1] as usize >= first_imp);
        let parents = &layout.parent_edges[node[5] as usize..node[6] as usize];
        assert_eq!(parents.len(), 3);
        assert_eq!(parents[1..], [edges + 1, edges + 2]);
        let kernels: Vec<Kernel> = layout.plan.iter().map(|d| d.kernel).collect();
        use Kernel::*;
        assert_eq!(kernels, [Forward, Forward, Forward, ReadRoots, Backward, Backward, Gather, Backward]);
    }

    #[test]
    fn nested_leaves_are_refused() {
        let mut b = ExprBuilder::new(1);
        let q = b.add(Op::Nested(0), &[]).unwrap();
        let message = Lowered::new(&b.finish(vec![q])).err().unwrap().to_string();
        assert!(message.contains("nested compiled circuit") && message.contains("CPU"), "{message}");
    }
}
