//! [`GpuEvaluator`]: a layered circuit on the device, evaluated many times.

use std::marker::PhantomData;
use std::sync::Mutex;

use deeplog_circuits::eval::{check_requirements, check_weights, Evaluate, Evaluated};
use deeplog_circuits::layered::{Leaf, Op};
use deeplog_circuits::{EvalError, Gradients, LayeredCircuit, Weights};
use deeplog_semirings::{Algebra, Boolean, Differentiable, Godel, LogProbability, Lukasiewicz, MaxProduct};
use deeplog_semirings::{Probability, ProductTNorm};

use crate::shader::{self, GATHER_CHUNK, MAX_FAN_IN, OP_LEAF, OP_PAIRS, OP_PRODUCT, OP_SUM, WORKGROUP};
use crate::Gpu;

/// An algebra the GPU evaluates: its values as the shaders' `f32`.
pub trait GpuAlgebra: Algebra {
    fn to_gpu(v: Self::Value) -> f32;
    fn from_gpu(x: f32) -> Self::Value;
    /// Adjoints (gradients) are ordinary real numbers in every algebra,
    /// `f32` on the GPU.
    fn adjoint_to_gpu(v: Self::Value) -> f32;
    fn adjoint_from_gpu(x: f32) -> Self::Value;
}

/// The log-space algebras' zero: WGSL has no infinities, so −∞ travels as
/// the most negative finite `f32` (`DL_LOG_ZERO` in their WGSL).
const LOG_ZERO: f32 = -f32::MAX;

macro_rules! plain_f32 {
    ($($t:ty),*) => {$(
        impl GpuAlgebra for $t {
            fn to_gpu(v: f32) -> f32 { v }
            fn from_gpu(x: f32) -> f32 { x }
            fn adjoint_to_gpu(v: f32) -> f32 { v }
            fn adjoint_from_gpu(x: f32) -> f32 { x }
        }
    )*};
}
plain_f32!(Probability<f32>, Godel<f32>, ProductTNorm<f32>, Lukasiewicz<f32>);

macro_rules! log_f32 {
    ($($t:ty),*) => {$(
        impl GpuAlgebra for $t {
            fn to_gpu(v: f32) -> f32 { v.max(LOG_ZERO) }
            fn from_gpu(x: f32) -> f32 { if x <= LOG_ZERO { f32::NEG_INFINITY } else { x } }
            fn adjoint_to_gpu(v: f32) -> f32 { v }
            fn adjoint_from_gpu(x: f32) -> f32 { x }
        }
    )*};
}
log_f32!(LogProbability<f32>, MaxProduct<f32>);

impl GpuAlgebra for Boolean {
    fn to_gpu(v: bool) -> f32 {
        v as u8 as f32
    }
    fn from_gpu(x: f32) -> bool {
        x >= 0.5
    }
    fn adjoint_to_gpu(v: bool) -> f32 {
        v as u8 as f32
    }
    fn adjoint_from_gpu(x: f32) -> bool {
        x != 0.0
    }
}

/// Bytes of one kernel's parameter block, padded to the uniform offset
/// alignment that every adapter accepts.
const PARAMS_STRIDE: u64 = 256;
/// Memory for one tile's per-column buffers (values, edge contributions),
/// beyond which the batch is cut into narrower tiles.
const TILE_BUDGET: u64 = 1 << 30;

/// The per-dispatch parameters (`Params` in the shader).
#[derive(Clone, Copy, Default)]
struct Params {
    start: u32,
    count: u32,
    op: u32,
    width: u32,
    first: u32,
    flags: u32,
}

impl Params {
    fn bytes(&self) -> [u8; 32] {
        let words = [self.start, self.count, self.op, self.width, self.first, self.flags, 0, 0];
        let mut out = [0u8; 32];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// One dispatch of a pass: which kernel, over which rows.
#[derive(Clone, Copy)]
enum Kernel {
    FillLeaves,
    Forward,
    ReadRoots,
    Backward,
    Gradients,
    Gather,
}

const KERNELS: [Kernel; 6] =
    [Kernel::FillLeaves, Kernel::Forward, Kernel::ReadRoots, Kernel::Backward, Kernel::Gradients, Kernel::Gather];

/// Storage buffers the backward kernel binds (WebGPU's default limit is 8;
/// native adapters allow far more).
const BACKWARD_BUFFERS: u32 = 10;

/// Buffers whose size depends on the tile width, with the bind groups
/// that name them.
struct Work {
    width: u32,
    weights: wgpu::Buffer,
    neg_weights: wgpu::Buffer,
    out: wgpu::Buffer,
    grads: Option<wgpu::Buffer>,
    contrib: Option<wgpu::Buffer>,
    seeds: Option<wgpu::Buffer>,
    dneg: Option<wgpu::Buffer>,
    staging: wgpu::Buffer,
    groups: Vec<Option<wgpu::BindGroup>>,
}

struct Pipelines {
    fill: wgpu::ComputePipeline,
    forward: wgpu::ComputePipeline,
    read_roots: wgpu::ComputePipeline,
    backward: Option<wgpu::ComputePipeline>,
    gradients: Option<wgpu::ComputePipeline>,
    gather: Option<wgpu::ComputePipeline>,
}

impl Pipelines {
    fn get(&self, k: Kernel) -> &wgpu::ComputePipeline {
        match k {
            Kernel::FillLeaves => &self.fill,
            Kernel::Forward => &self.forward,
            Kernel::ReadRoots => &self.read_roots,
            Kernel::Backward => self.backward.as_ref().expect("a differentiable evaluator"),
            Kernel::Gradients => self.gradients.as_ref().expect("a differentiable evaluator"),
            Kernel::Gather => self.gather.as_ref().expect("a differentiable evaluator"),
        }
    }
}

/// A circuit uploaded to a GPU, evaluated in algebra `A`.
pub struct GpuEvaluator<A: GpuAlgebra> {
    gpu: Gpu,
    pipelines: Pipelines,
    /// The circuit's shape.
    rows: u32,
    edges: u32,
    leaves: u32,
    /// Leading leaf rows that are constants.
    constants: u32,
    slots: u32,
    roots: u32,
    segments: Vec<(Op, u32, u32)>,
    /// Explicit negative weights need a smooth circuit (checked on the CPU
    /// side of every call); whether each leaf is a negative literal.
    circuit: LayeredCircuit,
    /// Structure buffers, uploaded once.
    offsets: wgpu::Buffer,
    children: wgpu::Buffer,
    leaf_codes: wgpu::Buffer,
    root_rows: wgpu::Buffer,
    parent_offsets: wgpu::Buffer,
    parent_edges: wgpu::Buffer,
    slot_offsets: wgpu::Buffer,
    slot_leaves: wgpu::Buffer,
    /// Rows with more than [`GATHER_CHUNK`] parents: per row, its chunks
    /// (CSR, empty for other rows), and each chunk's range of parent edges.
    chunk_offsets: Vec<u32>,
    chunk_offsets_buf: wgpu::Buffer,
    chunk_ranges: wgpu::Buffer,
    chunks: u32,
    /// One parameter block per dispatch of the longest pass, and the bind
    /// group (per kernel) that names each block.
    params: wgpu::Buffer,
    param_groups: Vec<[Option<wgpu::BindGroup>; 6]>,
    work: Mutex<Option<Work>>,
    /// Widest tile the limits allow, forward only and with gradients.
    max_tile: u32,
    max_tile_backward: u32,
    _algebra: PhantomData<A>,
}

impl<A: GpuAlgebra> std::fmt::Debug for GpuEvaluator<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuEvaluator").field("algebra", &A::NAME).field("gpu", &self.gpu.name()).finish()
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

/// The widest tiles (batch columns per submission), forward only and with
/// gradients, whose per-column buffers each fit one storage binding and
/// [`TILE_BUDGET`]; an error where not even one column fits, or gradients
/// need more storage buffers than the adapter binds.
fn tile_widths(gpu: &Gpu, circuit: &LayeredCircuit, backward: bool) -> Result<(u32, u32), EvalError> {
    let rows = circuit.num_rows() as u32;
    let edges = circuit.num_edges() as u32;
    let slots = circuit.num_slots();
    let roots = circuit.num_roots() as u32;
    let bind = gpu.max_binding();
    let per_value = rows as u64 * 4;
    let per_edge = edges.max(1) as u64 * 4;
    let fit = |per_column: u64| (bind / per_column).min(TILE_BUDGET / per_column).min(u32::MAX as u64) as u32;
    let max_tile = fit(per_value).min(fit(4 * (roots.max(2 * slots).max(1) as u64)));
    let max_tile_backward =
        max_tile.min(fit(per_edge)).min(TILE_BUDGET.checked_div(per_value + per_edge).unwrap_or(0) as u32);
    if backward && gpu.limits.max_storage_buffers_per_shader_stage < BACKWARD_BUFFERS {
        return Err(EvalError::Device(format!(
            "gradients need {BACKWARD_BUFFERS} storage buffers per shader stage; the adapter allows {}",
            gpu.limits.max_storage_buffers_per_shader_stage
        )));
    }
    if max_tile == 0 || (backward && max_tile_backward == 0) || per_edge > bind {
        return Err(EvalError::Device(format!(
            "the circuit ({rows} rows, {edges} edges) does not fit one storage binding of {bind} bytes even for \
             a single batch column"
        )));
    }
    Ok((max_tile, max_tile_backward))
}

impl Pipelines {
    /// The kernels of the shader module for an algebra named `label` with
    /// WGSL `wgsl`; the backward ones only where `backward`.
    fn new(device: &wgpu::Device, label: &str, wgsl: &str, backward: bool) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(shader::module(wgsl, backward).into()),
        });
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Pipelines {
            fill: pipeline("fill_leaves"),
            forward: pipeline("forward"),
            read_roots: pipeline("read_roots"),
            backward: backward.then(|| pipeline("backward")),
            gradients: backward.then(|| pipeline("gradients")),
            gather: backward.then(|| pipeline("gather")),
        }
    }
}

/// The index arrays the kernels read beside the circuit's own (offsets,
/// children, roots), built on the CPU once per upload. CSR arrays have one
/// offset per row (slot) plus one, the last their entries' count.
struct Structure {
    /// Per leaf row: `0`/`1` for a constant, `2 + 2·slot + positive` for a
    /// literal.
    leaf_codes: Vec<u32>,
    /// Per row, the edges that point at it (CSR).
    parent_offsets: Vec<u32>,
    parent_edges: Vec<u32>,
    /// Per row with more than [`GATHER_CHUNK`] parents (constants aside),
    /// its chunks (CSR, empty for other rows), and each chunk's range of
    /// `parent_edges` as two words.
    chunk_offsets: Vec<u32>,
    chunk_ranges: Vec<u32>,
    /// Per slot, its leaf rows, each `row << 1 | positive` (CSR).
    slot_offsets: Vec<u32>,
    slot_leaves: Vec<u32>,
    /// The non-empty segments of every layer in order: op, first row, rows.
    segments: Vec<(Op, u32, u32)>,
}

impl Structure {
    fn of(circuit: &LayeredCircuit) -> Self {
        let rows = circuit.num_rows();
        let leaf_codes = circuit
            .leaves()
            .iter()
            .map(|l| match *l {
                Leaf::Constant(b) => b as u32,
                Leaf::Literal(l) => 2 + 2 * l.slot.0 + l.positive as u32,
            })
            .collect();
        let children = circuit.children();
        let (parent_offsets, parent_edges) =
            csr(rows, children.iter().enumerate().map(|(e, &c)| (c as usize, e as u32)));
        let mut chunk_offsets = vec![0u32; rows + 1];
        let mut chunk_ranges = Vec::new();
        for r in 0..rows {
            let (q0, q1) = (parent_offsets[r], parent_offsets[r + 1]);
            if r as u32 >= circuit.num_constants() && q1 - q0 > GATHER_CHUNK {
                for start in (q0..q1).step_by(GATHER_CHUNK as usize) {
                    chunk_ranges.extend([start, (start + GATHER_CHUNK).min(q1)]);
                }
            }
            chunk_offsets[r + 1] = (chunk_ranges.len() / 2) as u32;
        }
        let (slot_offsets, slot_leaves) = csr(
            circuit.num_slots() as usize,
            circuit.leaves().iter().enumerate().filter_map(|(row, l)| match l {
                Leaf::Literal(l) => Some((l.slot.0 as usize, (row as u32) << 1 | l.positive as u32)),
                Leaf::Constant(_) => None,
            }),
        );
        let segments = circuit
            .layers()
            .iter()
            .flat_map(|layer| layer.segments.iter())
            .filter(|s| s.rows.end > s.rows.start)
            .map(|s| (s.op, s.rows.start, s.rows.end - s.rows.start))
            .collect();
        Structure {
            leaf_codes,
            parent_offsets,
            parent_edges,
            chunk_offsets,
            chunk_ranges,
            slot_offsets,
            slot_leaves,
            segments,
        }
    }
}

/// `(group, value)` pairs grouped by `group` (of `groups`), by counting
/// sort: per group its offset, and the values, each group's in the order
/// given.
fn csr(groups: usize, entries: impl Iterator<Item = (usize, u32)> + Clone) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; groups + 1];
    for (g, _) in entries.clone() {
        offsets[g + 1] += 1;
    }
    for i in 0..groups {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut values = vec![0u32; offsets[groups] as usize];
    for (g, v) in entries {
        values[fill[g] as usize] = v;
        fill[g] += 1;
    }
    (offsets, values)
}

/// A storage buffer holding `data` (a word where it is empty: zero-sized
/// bindings are invalid).
fn upload(gpu: &Gpu, label: &str, data: &[u32]) -> wgpu::Buffer {
    let contents = bytes_of(data);
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: contents.len() as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&buffer, 0, &contents);
    buffer
}

/// The uniform buffer of one [`PARAMS_STRIDE`] block per dispatch of the
/// longest pass (`dispatches`), and per block the bind group of each
/// kernel that names it (`None` for the backward kernels where not
/// `backward`).
fn param_blocks(
    device: &wgpu::Device,
    pipelines: &Pipelines,
    dispatches: usize,
    backward: bool,
) -> (wgpu::Buffer, Vec<[Option<wgpu::BindGroup>; 6]>) {
    let params = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("params"),
        size: dispatches as u64 * PARAMS_STRIDE,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let param_groups = (0..dispatches)
        .map(|i| {
            KERNELS.map(|k| {
                if !backward && matches!(k, Kernel::Backward | Kernel::Gradients | Kernel::Gather) {
                    return None;
                }
                let layout = pipelines.get(k).get_bind_group_layout(1);
                Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &layout,
                    entries: &[wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &params,
                            offset: i as u64 * PARAMS_STRIDE,
                            size: wgpu::BufferSize::new(32),
                        }),
                    }],
                }))
            })
        })
        .collect();
    (params, param_groups)
}

impl<A: GpuAlgebra> GpuEvaluator<A> {
    /// Uploads `circuit`. Forward passes only; [`GpuEvaluator::differentiable`]
    /// also compiles the backward kernels.
    pub fn new(gpu: &Gpu, circuit: &LayeredCircuit) -> Result<Self, EvalError> {
        Self::build(gpu, circuit, false)
    }

    /// Uploads `circuit` (its wide rows cut first) in steps: the tile
    /// widths that fit the adapter, the pipelines, the structure arrays
    /// and their buffers, and the parameter blocks; device errors in any
    /// step are collected by one error scope and reported at the end.
    fn build(gpu: &Gpu, circuit: &LayeredCircuit, backward: bool) -> Result<Self, EvalError> {
        check_requirements::<A>(circuit)?;
        let Some(wgsl) = A::WGSL else {
            return Err(EvalError::NoGpuForm { algebra: A::NAME, why: "its values are not f32 numbers" });
        };
        gpu.check()?;
        // One thread reads a row's children in turn: a row of 10⁴ children
        // (an SDD's root often has them) would hold up its layer, so wide
        // rows become sums (products) of chunks of rows.
        let cut = circuit.with_fan_in_at_most(MAX_FAN_IN);
        let circuit = cut.as_ref().unwrap_or(circuit);
        let device = &gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);

        let (max_tile, max_tile_backward) = tile_widths(gpu, circuit, backward)?;
        let pipelines = Pipelines::new(device, A::NAME, wgsl, backward);
        let structure = Structure::of(circuit);
        let upload = |label: &str, data: &[u32]| upload(gpu, label, data);
        // A pass: fill, forward per segment, roots, backward (with a gather
        // before it) per segment and the leaves, gradients.
        let dispatches = 3 * structure.segments.len() + 6;
        let (params, param_groups) = param_blocks(device, &pipelines, dispatches, backward);

        let evaluator = GpuEvaluator {
            gpu: gpu.clone(),
            rows: circuit.num_rows() as u32,
            edges: circuit.num_edges() as u32,
            leaves: circuit.leaves().len() as u32,
            constants: circuit.num_constants(),
            slots: circuit.num_slots(),
            roots: circuit.num_roots() as u32,
            circuit: circuit.clone(),
            offsets: upload("offsets", circuit.offsets()),
            children: upload("children", circuit.children()),
            leaf_codes: upload("leaves", &structure.leaf_codes),
            root_rows: upload("roots", circuit.roots()),
            parent_offsets: upload("parent offsets", &structure.parent_offsets),
            parent_edges: upload("parent edges", &structure.parent_edges),
            slot_offsets: upload("slot offsets", &structure.slot_offsets),
            slot_leaves: upload("slot leaves", &structure.slot_leaves),
            chunk_offsets_buf: upload("chunk offsets", &structure.chunk_offsets),
            chunk_ranges: upload("chunk ranges", &structure.chunk_ranges),
            chunks: (structure.chunk_ranges.len() / 2) as u32,
            chunk_offsets: structure.chunk_offsets,
            segments: structure.segments,
            pipelines,
            params,
            param_groups,
            work: Mutex::new(None),
            max_tile,
            max_tile_backward,
            _algebra: PhantomData,
        };
        gpu.finish_upload(scope, oom, "the circuit")?;
        Ok(evaluator)
    }

    /// The adapter this evaluator runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The widest tile (batch columns per submission) for a batch. A
    /// differentiable evaluator's forward passes use its backward tiles too,
    /// so that both share one set of buffers.
    pub fn tile_width(&self, batch: usize, backward: bool) -> usize {
        let backward = backward || self.pipelines.backward.is_some();
        let most = if backward { self.max_tile_backward } else { self.max_tile };
        batch.min(most as usize).max(1)
    }

    /// Buffers for tiles of `width` columns (grown, never shrunk).
    fn work(&self, width: u32, backward: bool) -> Result<std::sync::MutexGuard<'_, Option<Work>>, EvalError> {
        let mut guard = self.work.lock().map_err(|_| EvalError::Device("a previous call panicked".into()))?;
        let fits = guard.as_ref().is_some_and(|w| w.width >= width && (!backward || w.contrib.is_some()));
        if fits {
            return Ok(guard);
        }
        let width = guard.as_ref().map_or(width, |w| w.width.max(width));
        let backward = backward || guard.as_ref().is_some_and(|w| w.contrib.is_some());
        *guard = None;
        let device = &self.gpu.device;
        let invalid = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = |label: &str, words: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: words.max(1) * 4,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let w = width as u64;
        let out_words = (self.roots.max(1) as u64) * w;
        let grad_words = 2 * self.slots.max(1) as u64 * w;
        let values = buffer("values", self.rows as u64 * w, U::STORAGE);
        let weights = buffer("weights", self.slots as u64 * w, U::STORAGE | U::COPY_DST);
        let neg_weights = buffer("negative weights", self.slots as u64 * w, U::STORAGE | U::COPY_DST);
        let out = buffer("roots", out_words, U::STORAGE | U::COPY_SRC);
        let staging_words = if backward { out_words + grad_words } else { out_words };
        let staging = buffer("staging", staging_words, U::MAP_READ | U::COPY_DST);
        let (grads, contrib, adjoints, seeds, dneg, partials) = if backward {
            (
                Some(buffer("gradients", grad_words, U::STORAGE | U::COPY_SRC)),
                Some(buffer("contributions", self.edges as u64 * w, U::STORAGE)),
                Some(buffer("adjoints", self.leaves as u64 * w, U::STORAGE)),
                Some(buffer("seeds", self.rows as u64, U::STORAGE | U::COPY_DST)),
                Some(buffer("negation derivatives", self.slots as u64 * w, U::STORAGE | U::COPY_DST)),
                Some(buffer("partial sums", self.chunks as u64 * w, U::STORAGE)),
            )
        } else {
            (None, None, None, None, None, None)
        };
        if let Some(e) = pollster::block_on(oom.pop()) {
            return Err(EvalError::Device(format!("out of memory for tiles of {width} columns: {e}")));
        }
        let groups = KERNELS
            .iter()
            .map(|&k| {
                let entries: Vec<(u32, &wgpu::Buffer)> = match k {
                    Kernel::FillLeaves => {
                        vec![(0, &values), (3, &self.leaf_codes), (4, &weights), (5, &neg_weights)]
                    }
                    Kernel::Forward => vec![(0, &values), (1, &self.offsets), (2, &self.children)],
                    Kernel::ReadRoots => vec![(0, &values), (6, &self.root_rows), (7, &out)],
                    Kernel::Backward => match (&contrib, &seeds, &adjoints, &partials) {
                        (Some(c), Some(s), Some(a), Some(pa)) => vec![
                            (0, &values),
                            (1, &self.offsets),
                            (2, &self.children),
                            (8, c),
                            (9, &self.parent_offsets),
                            (10, &self.parent_edges),
                            (11, s),
                            (12, a),
                            (17, &self.chunk_offsets_buf),
                            (19, pa),
                        ],
                        _ => return None,
                    },
                    Kernel::Gather => match (&contrib, &partials) {
                        (Some(c), Some(pa)) => {
                            vec![(8, c), (10, &self.parent_edges), (18, &self.chunk_ranges), (19, pa)]
                        }
                        _ => return None,
                    },
                    Kernel::Gradients => match (&adjoints, &grads, &dneg) {
                        (Some(a), Some(g), Some(d)) => {
                            vec![(12, a), (13, &self.slot_offsets), (14, &self.slot_leaves), (15, g), (16, d)]
                        }
                        _ => return None,
                    },
                };
                let layout = self.pipelines.get(k).get_bind_group_layout(0);
                let entries: Vec<wgpu::BindGroupEntry> = entries
                    .into_iter()
                    .map(|(binding, b)| wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() })
                    .collect();
                Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &layout,
                    entries: &entries,
                }))
            })
            .collect();
        if let Some(e) = pollster::block_on(invalid.pop()) {
            return Err(EvalError::Device(e.to_string()));
        }
        *guard = Some(Work { width, weights, neg_weights, out, grads, contrib, seeds, dneg, staging, groups });
        Ok(guard)
    }

    /// The dispatches of a pass over a tile of `width` columns, in order.
    fn plan(&self, width: u32, explicit: bool, backward: bool) -> Vec<(Kernel, Params)> {
        let flags = explicit as u32;
        let p = |start, count, op| Params { start, count, op, width, first: self.leaves, flags };
        let op = |o: Op| match o {
            Op::Sum => OP_SUM,
            Op::Product => OP_PRODUCT,
            Op::SumOfPairs => OP_PAIRS,
        };
        let mut plan = vec![(Kernel::FillLeaves, p(0, self.leaves, 0))];
        plan.extend(self.segments.iter().map(|&(o, start, count)| (Kernel::Forward, p(start, count, op(o)))));
        plan.push((Kernel::ReadRoots, p(0, self.roots, 0)));
        if backward {
            // Rows `start .. start + count`, after the chunks of their
            // many-parent rows.
            let mut backward = |start: u32, count: u32, op: u32| {
                let (c0, c1) = (self.chunk_offsets[start as usize], self.chunk_offsets[(start + count) as usize]);
                if c1 > c0 {
                    plan.push((Kernel::Gather, p(c0, c1 - c0, 0)));
                }
                plan.push((Kernel::Backward, p(start, count, op)));
            };
            for &(o, start, count) in self.segments.iter().rev() {
                backward(start, count, op(o));
            }
            // Constant leaves need no adjoint (and `true` may have 10⁵ parents).
            backward(self.constants, self.leaves - self.constants, OP_LEAF);
            plan.push((Kernel::Gradients, p(0, self.slots, 0)));
        }
        plan
    }

    /// Runs one tile; returns the roots `[roots × tile]` and, with
    /// `seeds`, the gradients `[2 · slots × tile]` (positive, then explicit
    /// negative).
    ///
    /// With `keep`, the roots and gradients are copied into columns `cols`
    /// of whole-batch buffers on the device instead, and nothing is read
    /// back.
    fn run_tile(
        &self,
        input: &Tile,
        seeds: Option<&[f32]>,
        keep: Option<(&DeviceResults, std::ops::Range<usize>)>,
    ) -> Result<(Vec<f32>, Vec<f32>), EvalError> {
        self.gpu.check()?;
        let width = input.width;
        let backward = seeds.is_some();
        let guard = self.work(width, backward)?;
        let work = guard.as_ref().expect("work buffers");
        let queue = &self.gpu.queue;
        let device = &self.gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);

        if self.slots > 0 {
            queue.write_buffer(&work.weights, 0, bytemuck::cast_slice(&input.positive));
            queue.write_buffer(&work.neg_weights, 0, bytemuck::cast_slice(&input.negative));
            if let (Some(d), Some(buf)) = (&input.dneg, &work.dneg) {
                queue.write_buffer(buf, 0, bytemuck::cast_slice(d));
            }
        }
        if let (Some(seeds), Some(buf)) = (seeds, &work.seeds) {
            let mut per_row = vec![0f32; self.rows as usize];
            for (&r, &s) in self.circuit.roots().iter().zip(seeds) {
                per_row[r as usize] += s;
            }
            queue.write_buffer(buf, 0, bytemuck::cast_slice(&per_row));
        }
        let plan = self.plan(width, input.explicit, backward);
        let mut blocks = vec![0u8; plan.len() * PARAMS_STRIDE as usize];
        for (i, (_, p)) in plan.iter().enumerate() {
            blocks[i * PARAMS_STRIDE as usize..][..32].copy_from_slice(&p.bytes());
        }
        queue.write_buffer(&self.params, 0, &blocks);

        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("pass") });
        {
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            let per_dim = self.gpu.limits.max_compute_workgroups_per_dimension.max(1);
            for (i, (kernel, p)) in plan.iter().enumerate() {
                let threads = p.count as u64 * width as u64;
                if threads == 0 {
                    continue;
                }
                let groups = threads.div_ceil(WORKGROUP as u64);
                let x = groups.min(per_dim as u64) as u32;
                let y = groups.div_ceil(x as u64) as u32;
                let k = *kernel as usize;
                pass.set_pipeline(self.pipelines.get(*kernel));
                pass.set_bind_group(0, work.groups[k].as_ref(), &[]);
                pass.set_bind_group(1, self.param_groups[i][k].as_ref(), &[]);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
        let root_bytes = self.roots as u64 * width as u64 * 4;
        let grad_bytes = if backward { 2 * self.slots as u64 * width as u64 * 4 } else { 0 };
        if let Some((kept, cols)) = keep {
            // Row by row: a tile's rows are `width` long, the results' `batch`.
            let row = width as u64 * 4;
            let at = |r: u64| (r * kept.batch as u64 + cols.start as u64) * 4;
            for r in 0..self.roots as u64 {
                encoder.copy_buffer_to_buffer(&work.out, r * row, &kept.roots, at(r), row);
            }
            let slots = self.slots as u64;
            let targets = [(0, kept.gradients.as_ref()), (slots, kept.negative_gradients.as_ref())];
            if let (Some(g), true) = (&work.grads, backward) {
                for (first, target) in targets {
                    let Some(target) = target else { continue };
                    for s in 0..slots {
                        encoder.copy_buffer_to_buffer(g, (first + s) * row, target, at(s), row);
                    }
                }
            }
            self.gpu.submit_and_read(encoder, scope, &work.staging, 0)?;
            return Ok((Vec::new(), Vec::new()));
        }
        if root_bytes > 0 {
            encoder.copy_buffer_to_buffer(&work.out, 0, &work.staging, 0, root_bytes);
        }
        if let (Some(g), true) = (&work.grads, grad_bytes > 0) {
            encoder.copy_buffer_to_buffer(g, 0, &work.staging, root_bytes, grad_bytes);
        }
        let data = self.gpu.submit_and_read(encoder, scope, &work.staging, root_bytes + grad_bytes)?;
        if data.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let (roots, grads) = data.split_at((root_bytes / 4) as usize);
        Ok((roots.to_vec(), grads.to_vec()))
    }

    /// Columns `cols` of `w` as the shaders take them: slot-major, `f32`,
    /// negative literals' weights given or derived here by the algebra's
    /// own negation (and, for gradients, its derivative).
    fn tile(&self, w: &Weights<A::Value>, cols: std::ops::Range<usize>, dneg: Option<DerivativeOfNegation<A>>) -> Tile {
        let slots = self.slots as usize;
        let n = slots * cols.len();
        let mut xs = Vec::with_capacity(n);
        for s in 0..slots {
            xs.extend_from_slice(&w.positive[s * w.batch + cols.start..s * w.batch + cols.end]);
        }
        // The CPU evaluator's own negation (`negate_rows`, bit for bit).
        let negs = match &w.negative {
            Some(neg) => {
                let mut v = Vec::with_capacity(n);
                for s in 0..slots {
                    v.extend_from_slice(&neg[s * w.batch + cols.start..s * w.batch + cols.end]);
                }
                v
            }
            None if A::negate(A::one()).is_some() => {
                let mut v = vec![A::zero(); n];
                A::negate_rows(&mut v, &xs);
                v
            }
            None => vec![A::zero(); n],
        };
        let derivative = dneg.map(|f| xs.iter().zip(&negs).map(|(&x, &n)| f(x, n)).collect());
        let positive = xs.into_iter().map(A::to_gpu).collect();
        let negative = negs.into_iter().map(A::to_gpu).collect();
        Tile { width: cols.len() as u32, positive, negative, dneg: derivative, explicit: w.negative.is_some() }
    }

    fn forward_impl(&self, w: &Weights<A::Value>) -> Result<Vec<A::Value>, EvalError> {
        check_weights::<A>(&self.circuit, w)?;
        let tile = self.tile_width(w.batch, false);
        let mut out = vec![A::zero(); self.roots as usize * w.batch];
        for start in (0..w.batch).step_by(tile) {
            let cols = start..(start + tile).min(w.batch);
            let (roots, _) = self.run_tile(&self.tile(w, cols.clone(), None), None, None)?;
            scatter(&roots, &cols, w.batch, &mut out, A::from_gpu);
        }
        Ok(out)
    }

    /// [`Evaluate::forward`] with the roots left on the device (see
    /// [`DeviceResults`]). Returns once the work is done.
    pub fn forward_on_device(&self, w: &Weights<A::Value>) -> Result<DeviceResults, EvalError> {
        check_weights::<A>(&self.circuit, w)?;
        let kept = self.results_on_device(w.batch, false, false)?;
        let tile = self.tile_width(w.batch, false);
        for start in (0..w.batch).step_by(tile) {
            let cols = start..(start + tile).min(w.batch);
            self.run_tile(&self.tile(w, cols.clone(), None), None, Some((&kept, cols)))?;
        }
        Ok(kept)
    }

    /// Whole-batch buffers for results kept on the device.
    fn results_on_device(&self, batch: usize, gradients: bool, negative: bool) -> Result<DeviceResults, EvalError> {
        let device = &self.gpu.device;
        // A size past the device's limits is a validation error: caught
        // here, not left to the device's handler (the caller's, for a
        // `Gpu::from_device`).
        let invalid = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = |label: &str, rows: u32| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (rows.max(1) as u64 * batch as u64) * 4,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let kept = DeviceResults {
            batch,
            roots: buffer("roots", self.roots),
            gradients: gradients.then(|| buffer("gradients", self.slots)),
            negative_gradients: (gradients && negative).then(|| buffer("negative gradients", self.slots)),
        };
        if let Some(e) = pollster::block_on(oom.pop()) {
            return Err(EvalError::Device(format!("out of memory for results of batch {batch}: {e}")));
        }
        if let Some(e) = pollster::block_on(invalid.pop()) {
            return Err(EvalError::Device(format!("results of batch {batch} on the device: {e}")));
        }
        Ok(kept)
    }
}

/// `∂ negate(x)/∂x` as the GPU takes it, given `x` and `negate(x)`.
type DerivativeOfNegation<A> = fn(<A as Algebra>::Value, <A as Algebra>::Value) -> f32;

/// One tile's inputs.
struct Tile {
    width: u32,
    positive: Vec<f32>,
    negative: Vec<f32>,
    dneg: Option<Vec<f32>>,
    explicit: bool,
}

/// Writes a tile's `[rows × tile]` block into columns `cols` of a
/// `[rows × batch]` matrix.
fn scatter<V>(block: &[f32], cols: &std::ops::Range<usize>, batch: usize, out: &mut [V], convert: impl Fn(f32) -> V) {
    let width = cols.len();
    for (r, chunk) in block.chunks_exact(width).enumerate() {
        for (t, &x) in chunk.iter().enumerate() {
            out[r * batch + cols.start + t] = convert(x);
        }
    }
}

impl<A: GpuAlgebra + Differentiable> GpuEvaluator<A> {
    /// Uploads `circuit` with the backward kernels too.
    pub fn differentiable(gpu: &Gpu, circuit: &LayeredCircuit) -> Result<Self, EvalError> {
        Self::build(gpu, circuit, true)
    }

    fn forward_backward_impl(
        &self,
        w: &Weights<A::Value>,
        seeds: Option<&[A::Value]>,
    ) -> Result<Evaluated<A::Value>, EvalError> {
        check_weights::<A>(&self.circuit, w)?;
        let seeds = self.gpu_seeds(seeds)?;
        let roots = self.roots as usize;
        let tile = self.tile_width(w.batch, true);
        let slots = self.slots as usize;
        let mut values = vec![A::zero(); roots * w.batch];
        let mut positive = vec![A::adjoint_zero(); slots * w.batch];
        let mut negative = w.negative.as_ref().map(|_| vec![A::adjoint_zero(); slots * w.batch]);
        let dneg: DerivativeOfNegation<A> = |x, n| A::adjoint_to_gpu(A::negate_derivative(x, n));
        for start in (0..w.batch).step_by(tile) {
            let cols = start..(start + tile).min(w.batch);
            let (r, g) = self.run_tile(&self.tile(w, cols.clone(), Some(dneg)), Some(&seeds), None)?;
            scatter(&r, &cols, w.batch, &mut values, A::from_gpu);
            let (gp, gn) = g.split_at(slots * cols.len());
            scatter(gp, &cols, w.batch, &mut positive, A::adjoint_from_gpu);
            if let Some(neg) = &mut negative {
                scatter(gn, &cols, w.batch, neg, A::adjoint_from_gpu);
            }
        }
        Ok((values, Gradients { positive, negative }))
    }

    /// The seeds as the shaders take them (all ones for `None`), once the
    /// evaluator is known to have its backward kernels.
    fn gpu_seeds(&self, seeds: Option<&[A::Value]>) -> Result<Vec<f32>, EvalError> {
        if self.pipelines.backward.is_none() {
            return Err(EvalError::Device(
                "this GPU evaluator was made for forward passes only (use GpuEvaluator::differentiable)".into(),
            ));
        }
        let roots = self.roots as usize;
        match seeds {
            Some(s) if s.len() != roots => Err(EvalError::SeedShape { got: s.len(), roots }),
            Some(s) => Ok(s.iter().map(|&v| A::adjoint_to_gpu(v)).collect()),
            None => Ok(vec![1.0; roots]),
        }
    }

    /// [`Evaluate::forward_backward`] with the results left on the device
    /// (see [`DeviceResults`]): for a caller whose next step runs on the
    /// same GPU (a network's backward pass, say, on a device shared through
    /// [`Gpu::from_device`]), nothing is read back. Returns once the work
    /// is done.
    pub fn forward_backward_on_device(
        &self,
        w: &Weights<A::Value>,
        seeds: Option<&[A::Value]>,
    ) -> Result<DeviceResults, EvalError> {
        check_weights::<A>(&self.circuit, w)?;
        let seeds = self.gpu_seeds(seeds)?;
        let kept = self.results_on_device(w.batch, true, w.negative.is_some())?;
        let dneg: DerivativeOfNegation<A> = |x, n| A::adjoint_to_gpu(A::negate_derivative(x, n));
        let tile = self.tile_width(w.batch, true);
        for start in (0..w.batch).step_by(tile) {
            let cols = start..(start + tile).min(w.batch);
            self.run_tile(&self.tile(w, cols.clone(), Some(dneg)), Some(&seeds), Some((&kept, cols)))?;
        }
        Ok(kept)
    }
}

/// Roots and gradients left on the device by
/// [`GpuEvaluator::forward_on_device`] and
/// [`GpuEvaluator::forward_backward_on_device`]: `f32` matrices laid out as
/// the host results are, in the algebra's GPU form (log-space algebras'
/// zero is `-f32::MAX`, see [`GpuAlgebra`]). Each buffer can be bound as
/// storage or copied from (and to).
#[derive(Debug)]
pub struct DeviceResults {
    pub batch: usize,
    /// `[roots × batch]`.
    pub roots: wgpu::Buffer,
    /// `[slots × batch]`: the gradient with respect to the positive
    /// weights (forward_backward only).
    pub gradients: Option<wgpu::Buffer>,
    /// `[slots × batch]`: with respect to explicit negative weights, when
    /// they were given.
    pub negative_gradients: Option<wgpu::Buffer>,
}

impl<A: GpuAlgebra> Evaluate<A> for GpuEvaluator<A> {
    fn forward(&self, w: &Weights<A::Value>) -> Result<Vec<A::Value>, EvalError> {
        self.forward_impl(w)
    }

    fn forward_backward(
        &self,
        w: &Weights<A::Value>,
        seeds: Option<&[A::Value]>,
    ) -> Result<Evaluated<A::Value>, EvalError>
    where
        A: Differentiable,
    {
        self.forward_backward_impl(w, seeds)
    }
}
