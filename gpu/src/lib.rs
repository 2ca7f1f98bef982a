//! Batched evaluation and differentiation of layered circuits on any GPU
//! that wgpu reaches (Vulkan, Metal, DX12), through compute shaders
//! generated from the algebras' own WGSL text.
//!
//! [`Gpu`] is an adapter and its device; [`GpuEvaluator`] uploads one
//! [`LayeredCircuit`](deeplog_circuits::LayeredCircuit) once and then runs
//! batched forward and forward+backward passes with new weights, with the
//! same [`Evaluate`](deeplog_circuits::Evaluate) trait as the CPU
//! evaluator. Values are `f32` (log space for log-probabilities). Results
//! are read back, or left on the device as [`DeviceResults`] for a next
//! step there (on the caller's own device: [`Gpu::from_device`]).
//!
//! How a pass maps to the device: one dispatch per segment of a layer (a
//! layer's products, then its sums), one thread per (row, batch column);
//! all dispatches of a pass go in one command buffer, one submission. The
//! batch is cut into tiles of columns so that a tile's values (`rows ×
//! tile`) and edge contributions (`edges × tile`) each fit one storage
//! binding and a memory budget: a circuit too large for one binding at the
//! whole batch is evaluated tile by tile rather than refused. Buffers are
//! allocated for the widest tile once and reused by every later call.
//!
//! Without a GPU: [`Gpu::new`] returns an error that says how to get an
//! adapter (on Linux, Mesa's software Vulkan driver lavapipe:
//! `apt-get install mesa-vulkan-drivers`). Device loss, validation errors
//! and out-of-memory become [`EvalError::Device`], never a panic.
//!
//! ```
//! use deeplog_circuits::{CircuitBuilder, CpuEvaluator, Evaluate, LayeredCircuit, SlotId, Weights};
//! use deeplog_gpu::{Gpu, GpuEvaluator};
//! use deeplog_semirings::Probability;
//!
//! // P(a ∨ b) = P(a) + P(¬a)·P(b), for two batch columns.
//! let mut b = CircuitBuilder::new(2);
//! let (a, na) = (b.literal(SlotId(0), true), b.literal(SlotId(0), false));
//! let x = b.literal(SlotId(1), true);
//! let rest = b.product(vec![na, x]);
//! let root = b.sum(vec![a, rest]);
//! let layered = LayeredCircuit::new(&b.finish(vec![root]));
//!
//! // No adapter here (and no lavapipe): nothing to show.
//! let Ok(gpu) = Gpu::new() else { return Ok(()) };
//! let on_gpu = GpuEvaluator::<Probability<f32>>::new(&gpu, &layered)?;
//! // [slots × batch]: a = (0.3, 0.5), b = (0.6, 0.5).
//! let values = on_gpu.forward(&Weights::complementary(2, vec![0.3, 0.5, 0.6, 0.5]))?;
//!
//! let on_cpu = CpuEvaluator::<Probability<f64>>::new(&layered)?;
//! let exact = on_cpu.forward(&Weights::complementary(2, vec![0.3, 0.5, 0.6, 0.5]))?;
//! assert!((exact[0] - 0.72).abs() < 1e-12 && (exact[1] - 0.75).abs() < 1e-12);
//! // The GPU computes in f32.
//! for (v, e) in values.iter().zip(&exact) {
//!     assert!((*v as f64 - e).abs() < 1e-6, "GPU {v}, CPU {e}");
//! }
//! # Ok::<(), deeplog_circuits::EvalError>(())
//! ```

mod evaluator;
mod formula;
mod formula_shader;
pub mod shader;

pub use evaluator::{DeviceResults, GpuAlgebra, GpuEvaluator};
pub use formula::GpuFormulaEvaluator;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deeplog_circuits::EvalError;

/// Longest a submission may run before the evaluator gives up on the
/// device (a hung or lost device must not hang the caller).
pub const SUBMISSION_TIMEOUT: Duration = Duration::from_secs(600);

/// How to get an adapter, for error messages.
pub const HOW_TO_GET_AN_ADAPTER: &str =
    "install a Vulkan driver (on Debian/Ubuntu without a GPU, Mesa's software driver: \
     `apt-get install mesa-vulkan-drivers`), or use `--device cpu`";

/// Why no GPU could be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter found ({0}); {HOW_TO_GET_AN_ADAPTER}")]
    NoAdapter(String),
    #[error("the GPU adapter {adapter} refused a device: {why}")]
    NoDevice { adapter: String, why: String },
}

impl From<GpuError> for EvalError {
    fn from(e: GpuError) -> Self {
        EvalError::Device(e.to_string())
    }
}

/// An adapter and its device, shared by every evaluator made from it.
#[derive(Clone)]
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(crate) limits: wgpu::Limits,
    /// A cap on the bytes of one storage binding below the adapter's own
    /// ([`Gpu::with_max_binding`]).
    binding_cap: Option<u64>,
    /// The first error the device reported outside an error scope (or its
    /// loss); every later call fails with it.
    pub(crate) failure: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("adapter", &self.name()).finish()
    }
}

impl Gpu {
    /// The highest-performance adapter wgpu finds (a discrete GPU before an
    /// integrated one before a software rasteriser), with every limit it
    /// supports.
    pub fn new() -> Result<Gpu, GpuError> {
        // WGPU_BACKEND and friends may narrow the choice.
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        if std::env::var_os("WGPU_BACKEND").is_none() {
            descriptor.backends = wgpu::Backends::PRIMARY;
        }
        let instance = wgpu::Instance::new(descriptor);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter =
            pollster::block_on(instance.request_adapter(&options)).map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("deeplog"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&descriptor))
            .map_err(|e| GpuError::NoDevice { adapter: describe(&info), why: e.to_string() })?;
        let failure = Arc::new(Mutex::new(None));
        let on_error = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut f) = on_error.lock() {
                f.get_or_insert_with(|| e.to_string());
            }
        }));
        let on_lost = Arc::clone(&failure);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut f) = on_lost.lock() {
                f.get_or_insert_with(|| format!("device lost ({reason:?}): {message}"));
            }
        });
        Ok(Gpu { device, queue, info, limits, binding_cap: None, failure })
    }

    /// A device the caller already holds (the one its network runs on, say),
    /// so that results kept on the device
    /// ([`GpuEvaluator::forward_backward_on_device`]) are buffers of that
    /// device. It is asked for the adapter's limits (which the evaluators
    /// size their tiles by) and nothing else: errors outside the
    /// evaluators' own error scopes, and the device's loss, stay with the
    /// caller's handlers.
    pub fn from_device(info: wgpu::AdapterInfo, device: wgpu::Device, queue: wgpu::Queue) -> Gpu {
        let limits = device.limits();
        Gpu { device, queue, info, limits, binding_cap: None, failure: Arc::new(Mutex::new(None)) }
    }

    /// The device, for the caller's own work on it (reading or binding
    /// results kept there).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// What the adapter says of itself.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The device's queue: work submitted there after a call runs after it.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The adapter's name, backend and driver, e.g. `NVIDIA H200 (Vulkan,
    /// NVIDIA 570.x)`.
    pub fn name(&self) -> String {
        describe(&self.info)
    }

    /// Whether the adapter is a software rasteriser (lavapipe, WARP).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The largest storage binding, in bytes.
    pub fn max_binding(&self) -> u64 {
        let adapter = self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size);
        self.binding_cap.map_or(adapter, |cap| cap.min(adapter))
    }

    /// The same device with storage bindings capped at `bytes` (evaluators
    /// made from it cut batches into narrower tiles): bounds the memory a
    /// pass takes, and lets tests split buffers on any device.
    pub fn with_max_binding(&self, bytes: u64) -> Gpu {
        Gpu { binding_cap: Some(bytes), ..self.clone() }
    }

    /// The error the device reported, if any.
    pub(crate) fn check(&self) -> Result<(), EvalError> {
        match self.failure.lock().ok().and_then(|f| f.clone()) {
            Some(e) => Err(EvalError::Device(e)),
            None => Ok(()),
        }
    }

    /// Closes the error scopes opened around an upload (out-of-memory inside
    /// validation) and reports what they caught, naming `what` was uploaded.
    pub(crate) fn finish_upload(
        &self,
        validation: wgpu::ErrorScopeGuard,
        oom: wgpu::ErrorScopeGuard,
        what: &str,
    ) -> Result<(), EvalError> {
        if let Some(e) = pollster::block_on(oom.pop()) {
            return Err(EvalError::Device(format!("out of memory uploading {what}: {e}")));
        }
        if let Some(e) = pollster::block_on(validation.pop()) {
            return Err(EvalError::Device(e.to_string()));
        }
        self.check()
    }

    /// Submits one pass, reports what its error scope caught, waits for it,
    /// and reads the first `bytes` of `staging` back as `f32`s.
    pub(crate) fn submit_and_read(
        &self,
        encoder: wgpu::CommandEncoder,
        scope: wgpu::ErrorScopeGuard,
        staging: &wgpu::Buffer,
        bytes: u64,
    ) -> Result<Vec<f32>, EvalError> {
        let index = self.queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(EvalError::Device(e.to_string()));
        }
        if bytes == 0 {
            self.wait(index)?;
            return Ok(Vec::new());
        }
        let slice = staging.slice(0..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: Some(SUBMISSION_TIMEOUT) })
            .map_err(|e| EvalError::Device(format!("waiting for the GPU: {e}")))?;
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(EvalError::Device(format!("reading results back: {e}"))),
            Err(_) => return Err(EvalError::Device("reading results back: no answer from the device".into())),
        }
        let data: Vec<f32> = {
            let view = slice.get_mapped_range().map_err(|e| EvalError::Device(format!("reading results back: {e}")))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        staging.unmap();
        self.check()?;
        Ok(data)
    }
}

impl Gpu {
    /// Waits (at most [`SUBMISSION_TIMEOUT`]) for submission `index`.
    fn wait(&self, index: wgpu::SubmissionIndex) -> Result<(), EvalError> {
        self.device
            .poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: Some(SUBMISSION_TIMEOUT) })
            .map_err(|e| EvalError::Device(format!("waiting for the GPU: {e}")))?;
        self.check()
    }
}

fn describe(info: &wgpu::AdapterInfo) -> String {
    let mut s = format!("{} ({:?}", info.name, info.backend);
    if !info.driver.is_empty() {
        s.push_str(&format!(", {}", info.driver));
        if !info.driver_info.is_empty() {
            s.push_str(&format!(" {}", info.driver_info));
        }
    }
    s.push(')');
    s
}

/// Whether tests must find an adapter (`DEEPLOG_REQUIRE_GPU=1`, as CI sets
/// it) rather than skip.
pub fn gpu_required() -> bool {
    std::env::var("DEEPLOG_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The GPU for a test: `None` (with a message on stderr) where there is
/// none and it is not required; a panic where it is required.
pub fn gpu_for_tests() -> Option<Gpu> {
    match Gpu::new() {
        Ok(g) => Some(g),
        Err(e) if gpu_required() => panic!("DEEPLOG_REQUIRE_GPU=1 but {e}"),
        Err(e) => {
            eprintln!("skipped: {e} (set DEEPLOG_REQUIRE_GPU=1 to make this a failure)");
            None
        }
    }
}
