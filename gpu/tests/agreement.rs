//! The GPU evaluator against the CPU evaluator: forward values and
//! gradients of every algebra with a GPU form, on random circuits and on
//! the shared benchmark circuits, at batch sizes 1, 7, 128 and 1024.
//!
//! The GPU and the CPU compute in `f32`; the CPU in `f64` is the exact
//! reference. Distances are normalised per comparison:
//! - values: by their size in the probability algebra; by `max(1, |v|)` in
//!   log space (an absolute error ε in `ln p` is a relative error ε in `p`,
//!   which is what matters near `ln p = 0`) and for the t-norms, whose
//!   values are truth degrees in `[0, 1]` (Łukasiewicz's `max(0, a + b − 1)`
//!   cancels near 0 in any order of operations); magnitudes below 1e-30
//!   count as 1e-30 (`f32` underflow, where devices may flush subnormals
//!   and the CPU does not);
//! - gradients: by the largest `|gradient|` of their batch column (the
//!   column's gradient vector in the ∞-norm): an entry that is a sum of
//!   terms of both signs carries the rounding of its terms, not of its own
//!   size, in any `f32` evaluation.
//!
//! A comparison passes where the GPU is within 1e-5 of the exact result, or
//! no further from it than four times the CPU's own `f32` evaluation is.
//! Each prints its largest GPU–CPU (`f32`) differences and both distances
//! from the exact result: the figures of `docs/gpu.md`.
//!
//! Without an adapter these tests skip, unless `DEEPLOG_REQUIRE_GPU=1` (CI
//! sets it and installs Mesa's lavapipe).

use std::path::PathBuf;

use deeplog_circuits::formats::read_path;
use deeplog_circuits::properties::smooth;
use deeplog_circuits::testing::{random_case, Rng};
use deeplog_circuits::{Circuit, CpuEvaluator, Evaluate, LayeredCircuit, Weights};
use deeplog_gpu::{gpu_for_tests, Gpu, GpuAlgebra, GpuEvaluator};
use deeplog_semirings::{Algebra, Boolean, Differentiable, Godel, LogProbability, Lukasiewicz, MaxProduct};
use deeplog_semirings::{Probability, ProductTNorm};

const BATCHES: [usize; 4] = [1, 7, 128, 1024];
const TOLERANCE: f32 = 1e-5;
/// Magnitudes below which `f32` results are compared absolutely: products
/// of many small weights leave `f32`'s normal range (1.2e-38) on the way,
/// where devices may flush subnormals to zero and the CPU does not.
const UNDERFLOW: f64 = 1e-30;

/// A circuit laid out for `A`: smoothed where `A` needs it.
fn layered_for<A: Algebra>(c: &Circuit) -> LayeredCircuit {
    let l = LayeredCircuit::new(c);
    if CpuEvaluator::<A>::new(&l).is_ok() {
        l
    } else {
        LayeredCircuit::new(&smooth(c, false))
    }
}

/// Weights in `A` for `batch` rows: probabilities in `[0.02, 0.98)`.
fn weights<A: Algebra<Value = f32>>(slots: usize, batch: usize, seed: u64) -> Weights<f32> {
    let mut rng = Rng(seed);
    let w = (0..slots * batch).map(|_| A::from_probability(0.02 + 0.96 * rng.unit())).collect();
    Weights::complementary(batch, w)
}

/// The largest normalised differences of one comparison: GPU against the
/// CPU in `f32`, and each of them against the exact (CPU `f64`) result.
#[derive(Clone, Copy, Debug, Default)]
struct Worst {
    value: f64,
    gradient: f64,
    gpu_from_exact: f64,
    cpu_from_exact: f64,
}

/// Raises `worst` to `d` (a NaN distance counts as infinite).
fn record<T: Into<f64> + Copy>(worst: &mut f64, d: T) {
    let d: f64 = d.into();
    *worst = worst.max(if d.is_nan() { f64::INFINITY } else { d });
}

impl Worst {
    /// `gpu` against `cpu` (both `f32`) and `exact` (`f64`), normalised by
    /// `scale`, into `gpu_cpu` (values or gradients).
    fn compare(&mut self, gpu: f32, cpu: f32, exact: f64, scale: f64, gradient: bool) {
        let d = (gpu - cpu).abs() as f64 / scale;
        record(if gradient { &mut self.gradient } else { &mut self.value }, d);
        record(&mut self.gpu_from_exact, (gpu as f64 - exact).abs() / scale);
        record(&mut self.cpu_from_exact, (cpu as f64 - exact).abs() / scale);
    }
}

/// Compares forward values and gradients at every batch size: `A` is the
/// algebra in `f32`, `B` the same in `f64` (the exact reference).
fn agree<A, B>(gpu: &Gpu, c: &Circuit, what: &str, batches: &[usize], absolute: bool) -> Worst
where
    A: GpuAlgebra<Value = f32> + Differentiable,
    B: Differentiable<Value = f64>,
{
    let l = layered_for::<A>(c);
    // The CPU in f32 arithmetic: log-probability's linear-domain route
    // would compute in f64 and be no f32 yardstick.
    let cpu = CpuEvaluator::<A>::new(&l).unwrap().in_log_space();
    let exact = CpuEvaluator::<B>::new(&l).unwrap();
    let dev = GpuEvaluator::<A>::differentiable(gpu, &l).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut worst = Worst::default();
    for &batch in batches {
        let w = weights::<A>(l.num_slots() as usize, batch, batch as u64 ^ 0x5eed);
        let w64 = Weights::complementary(batch, w.positive.iter().map(|&x| x as f64).collect());
        let (cv, cg) = cpu.forward_backward(&w, None).unwrap();
        let (ev, eg) = exact.forward_backward(&w64, None).unwrap();
        let (gv, gg) = dev.forward_backward(&w, None).unwrap_or_else(|e| panic!("{what}: {e}"));
        if batch <= 128 {
            let fwd = dev.forward(&w).unwrap();
            assert_eq!(gv, fwd, "{what} {}: forward alone differs from forward+backward", A::NAME);
        }
        for ((&g, &c), &e) in gv.iter().zip(&cv).zip(&ev) {
            if g == c && (g as f64 == e || (g.is_infinite() && e.is_infinite())) {
                continue;
            }
            let floor = if absolute { 1.0 } else { UNDERFLOW };
            let scale = (g.abs() as f64).max(c.abs() as f64).max(e.abs()).max(floor);
            worst.compare(g, c, e, scale, false);
        }
        let slots = l.num_slots() as usize;
        for col in 0..batch {
            let largest = (0..slots).map(|s| eg.positive[s * batch + col].abs()).fold(0f64, f64::max);
            let scale = largest.max(UNDERFLOW);
            for s in 0..slots {
                let i = s * batch + col;
                worst.compare(gg.positive[i], cg.positive[i], eg.positive[i], scale, true);
            }
        }
    }
    worst
}

/// Every differentiable algebra on `c`. Passes where the GPU is within
/// [`TOLERANCE`] of the exact result, or no further from it than four
/// times the CPU's `f32` evaluator (a different order of `f32` operations
/// over a deep circuit); prints the largest GPU–CPU differences (the
/// figures quoted in the docs).
fn every_algebra(gpu: &Gpu, c: &Circuit, what: &str, batches: &[usize]) {
    let results = [
        ("probability", agree::<Probability<f32>, Probability<f64>>(gpu, c, what, batches, false)),
        ("log", agree::<LogProbability<f32>, LogProbability<f64>>(gpu, c, what, batches, true)),
        ("maxproduct", agree::<MaxProduct<f32>, MaxProduct<f64>>(gpu, c, what, batches, true)),
        ("godel", agree::<Godel<f32>, Godel<f64>>(gpu, c, what, batches, true)),
        ("product", agree::<ProductTNorm<f32>, ProductTNorm<f64>>(gpu, c, what, batches, true)),
        ("lukasiewicz", agree::<Lukasiewicz<f32>, Lukasiewicz<f64>>(gpu, c, what, batches, true)),
    ];
    for (name, w) in results {
        eprintln!(
            "{what:>24} {name:>12}: gpu-cpu values {:.1e}, gradients {:.1e}; from exact: gpu {:.1e}, cpu f32 {:.1e}",
            w.value, w.gradient, w.gpu_from_exact, w.cpu_from_exact
        );
        assert!(
            w.gpu_from_exact <= (TOLERANCE as f64).max(4.0 * w.cpu_from_exact),
            "{what} {name}: the GPU is {:e} from the exact result, the CPU in f32 {:e}",
            w.gpu_from_exact,
            w.cpu_from_exact
        );
    }
}

#[test]
fn random_circuits_agree_with_the_cpu_in_every_algebra() {
    let Some(gpu) = gpu_for_tests() else { return };
    eprintln!("adapter: {}", gpu.name());
    for seed in 0..30 {
        let (c, _) = random_case(seed);
        every_algebra(&gpu, &c, &format!("random circuit {seed}"), &BATCHES);
    }
}

#[test]
fn boolean_forward_agrees_with_the_cpu() {
    let Some(gpu) = gpu_for_tests() else { return };
    for seed in 0..30 {
        let (c, _) = random_case(seed);
        let l = LayeredCircuit::new(&c);
        let cpu = CpuEvaluator::<Boolean>::new(&l).unwrap();
        let dev = GpuEvaluator::<Boolean>::new(&gpu, &l).unwrap();
        let mut rng = Rng(seed);
        let batch = 7;
        let w: Vec<bool> = (0..l.num_slots() as usize * batch).map(|_| rng.below(2) == 0).collect();
        let w = Weights::complementary(batch, w);
        assert_eq!(dev.forward(&w).unwrap(), cpu.forward(&w).unwrap(), "random circuit {seed}");
    }
}

fn bench_circuit(name: &str) -> Option<Circuit> {
    // `DEEPLOG_CIRCUITS` names another folder of them, for a test binary
    // carried to a machine without this checkout (bench/device.sh).
    let dir = std::env::var_os("DEEPLOG_CIRCUITS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/circuits"));
    if !dir.is_dir() {
        eprintln!("skipped: {} is missing (the shared folder sits beside the repository)", dir.display());
        return None;
    }
    Some(read_path(&dir.join(format!("{name}.sdd"))).unwrap())
}

macro_rules! bench_circuit_tests {
    ($($test:ident: $name:expr),* $(,)?) => {$(
        #[test]
        fn $test() {
            let Some(gpu) = gpu_for_tests() else { return };
            let Some(c) = bench_circuit($name) else { return };
            every_algebra(&gpu, &c, $name, &BATCHES);
        }
    )*};
}

bench_circuit_tests!(
    sudoku_4_agrees: "sudoku_4",
    road_r_agrees: "road_r",
    grid_4_agrees: "4-grid",
    seq_fun_agrees: "seq_fun",
    cnf3_v46_agrees: "cnf3_v46_c23_s1",
    cnf3_v50_agrees: "cnf3_v50_c25_s1",
);

/// Reads an `f32` buffer back (`DeviceResults` stay on the device).
fn read_back(gpu: &Gpu, buffer: &wgpu::Buffer) -> Vec<f32> {
    let (device, queue) = (gpu.device(), gpu.queue());
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: buffer.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    queue.submit([encoder.finish()]);
    staging.slice(..).map_async(wgpu::MapMode::Read, |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let view = staging.slice(..).get_mapped_range().unwrap();
    bytemuck::cast_slice(&view).to_vec()
}

/// Results kept on the device equal, bit for bit, those read back, over
/// several tiles, with and without explicit negative weights, on a `Gpu`
/// made from a device the caller holds.
#[test]
fn results_kept_on_the_device_equal_those_read_back() {
    let Some(gpu) = gpu_for_tests() else { return };
    let shared = Gpu::from_device(gpu.adapter_info().clone(), gpu.device().clone(), gpu.queue().clone());
    type A = LogProbability<f32>;
    let mut tiled = 0;
    for seed in 0..12u64 {
        let (c, _) = random_case(seed);
        let l = LayeredCircuit::new(&smooth(&c, false));
        let (slots, batch) = (l.num_slots() as usize, 7);
        // Bindings of three columns of the widest per-column buffer: tiles
        // of at most 3 columns.
        let words = l.num_rows().max(l.num_edges()).max(2 * slots).max(l.num_roots());
        let narrow = shared.with_max_binding(3 * 4 * words as u64);
        let dev = GpuEvaluator::<A>::differentiable(&narrow, &l).unwrap();
        tiled += (dev.tile_width(batch, true) < batch) as usize;
        let mut w = weights::<A>(slots, batch, seed);
        if seed % 2 == 1 {
            w.negative = Some(weights::<A>(slots, batch, seed ^ 7).positive);
        }
        let seeds: Vec<f32> = (0..l.num_roots()).map(|r| 0.5 + r as f32).collect();
        let (values, grads) = dev.forward_backward(&w, Some(&seeds)).unwrap();
        let kept = dev.forward_backward_on_device(&w, Some(&seeds)).unwrap();
        let host = |xs: Vec<f32>| xs.into_iter().map(A::from_gpu).collect::<Vec<_>>();
        assert_eq!(kept.batch, batch);
        assert_eq!(host(read_back(&shared, &kept.roots)), values, "seed {seed}: roots");
        let kept_grads = read_back(&shared, kept.gradients.as_ref().unwrap());
        assert_eq!(&kept_grads[..slots * batch], &grads.positive[..], "seed {seed}: gradients");
        match (&kept.negative_gradients, &grads.negative) {
            (Some(k), Some(g)) => assert_eq!(&read_back(&shared, k)[..slots * batch], &g[..], "seed {seed}"),
            (None, None) => {}
            _ => panic!("seed {seed}: negative gradients kept {}", kept.negative_gradients.is_some()),
        }
        let forward = dev.forward_on_device(&w).unwrap();
        assert_eq!(host(read_back(&shared, &forward.roots)), dev.forward(&w).unwrap(), "seed {seed}: forward");
        assert!(forward.gradients.is_none());
    }
    assert!(tiled >= 6, "only {tiled} circuits were cut into tiles");
}
