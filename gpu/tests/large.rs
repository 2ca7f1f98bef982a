//! A circuit of more than 10⁷ edges at batch 64, with storage bindings
//! capped at 64 MiB: the batch is cut into tiles (a single binding cannot
//! hold the values of all 64 columns), and every root equals the CPU's.
//! Runs in CI on lavapipe (tens of seconds).

use deeplog_circuits::properties::{Knowledge, Properties};
use deeplog_circuits::testing::Rng;
use deeplog_circuits::{CircuitBuilder, CpuEvaluator, Evaluate, LayeredCircuit, SlotId, Weights};
use deeplog_gpu::{gpu_for_tests, GpuEvaluator};
use deeplog_semirings::{Godel, Probability};

#[test]
fn ten_million_edges_at_batch_64_in_tiles() {
    let Some(gpu) = gpu_for_tests() else { return };
    let gpu = gpu.with_max_binding(64 << 20);
    let slots = 256u32;
    let mut b = CircuitBuilder::new(slots);
    let mut nodes: Vec<_> = (0..slots).flat_map(|s| [true, false].map(|pos| b.literal(SlotId(s), pos))).collect();
    let mut rng = Rng(7);
    // Random sums and products of 4 earlier nodes each (Gödel needs no
    // structural property), then 64 roots that cover every node.
    let internal = 2_520_000;
    for i in 0..internal {
        let children = (0..4).map(|_| nodes[rng.below(nodes.len())]).collect();
        nodes.push(if i % 2 == 0 { b.sum(children) } else { b.product(children) });
    }
    let first = 2 * slots as usize;
    let per_root = (nodes.len() - first).div_ceil(64);
    let roots = nodes[first..].chunks(per_root).map(|c| b.sum(c.to_vec())).collect();
    let circuit = b.finish(roots);
    // Gödel needs no property: skip the checks (slot sets of 2.5M nodes).
    let unknown =
        Properties { decomposable: Knowledge::Unknown, deterministic: Knowledge::Unknown, smooth: Knowledge::Unknown };
    let layered = LayeredCircuit::with_properties(&circuit, unknown);
    assert!(layered.num_edges() >= 10_000_000, "{} edges", layered.num_edges());

    let batch = 64;
    let w: Vec<f32> = (0..slots as usize * batch).map(|_| rng.unit() as f32).collect();
    let w = Weights::complementary(batch, w);
    let dev = GpuEvaluator::<Godel<f32>>::new(&gpu, &layered).unwrap();
    let tile = dev.tile_width(batch, false);
    assert!(tile < batch, "a tile of {tile} columns: the cap should split the batch");
    let got = dev.forward(&w).unwrap();
    let want = CpuEvaluator::<Godel<f32>>::new(&layered).unwrap().forward(&w).unwrap();
    assert_eq!(got, want);
    eprintln!(
        "{} edges, {} rows, batch {batch} in tiles of {tile}: roots equal the CPU's",
        layered.num_edges(),
        layered.num_rows()
    );
}

/// A row of 131072 children (even parity over 18 variables as a flat sum
/// of products): more than one invocation could read in turn (llvmpipe
/// stops an invocation's loops after 65535 iterations), so the upload cuts
/// it into chunks. Roots and gradients equal the CPU's and the closed form
/// `P(even) = (1 + Π(1 − 2pᵢ)) / 2`.
#[test]
fn a_row_wider_than_one_invocation_reads() {
    let Some(gpu) = gpu_for_tests() else { return };
    let n = 18u32;
    let mut b = CircuitBuilder::new(n);
    let literals: Vec<_> = (0..n).map(|s| [b.literal(SlotId(s), false), b.literal(SlotId(s), true)]).collect();
    let terms = (0u32..1 << n)
        .filter(|a| a.count_ones() % 2 == 0)
        .map(|a| b.product((0..n).map(|s| literals[s as usize][(a >> s & 1) as usize]).collect()))
        .collect();
    let root = b.sum(terms);
    let mut circuit = b.finish(vec![root]);
    // Too wide for the checker's budget; true by construction.
    circuit.declare_deterministic("the terms are distinct assignments of the same variables");
    let layered = LayeredCircuit::new(&circuit);
    let widest = (layered.leaves().len()..layered.num_rows()).map(|r| layered.children_of(r).len()).max();
    assert_eq!(widest, Some(1 << (n - 1)));

    let batch = 3;
    // Probabilities near 0, so that ∂P/∂pᵢ = −Π_{j≠i}(1 − 2pⱼ) is not tiny
    // beside the two conditional probabilities it is the difference of.
    let p: Vec<f32> = (0..n as usize * batch).map(|i| 0.01 + 0.09 * ((i * 7919) % 101) as f32 / 101.0).collect();
    let w = Weights::complementary(batch, p.clone());
    let dev = GpuEvaluator::<Probability<f32>>::differentiable(&gpu, &layered).unwrap();
    // The reference: the CPU in f64 (its f32 sum of 131072 terms in turn is
    // off by about 5e-5; the GPU's sum of chunks is closer).
    let cpu = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
    let w64 = Weights::complementary(batch, p.iter().map(|&x| x as f64).collect());
    let (got, got_grads) = dev.forward_backward(&w, None).unwrap();
    let (want, want_grads) = cpu.forward_backward(&w64, None).unwrap();
    for col in 0..batch {
        let product: f64 = (0..n as usize).map(|s| 1.0 - 2.0 * p[s * batch + col] as f64).product();
        let exact = (1.0 + product) / 2.0;
        assert!((want[col] - exact).abs() < 1e-12, "column {col}: the CPU's {} vs {exact}", want[col]);
        assert!((got[col] as f64 - exact).abs() < 1e-5, "column {col}: {} vs {exact}", got[col]);
    }
    let scale = want_grads.positive.iter().fold(0f64, |m, g| m.max(g.abs()));
    for (g, c) in got_grads.positive.iter().zip(&want_grads.positive) {
        assert!((*g as f64 - c).abs() <= 1e-5 * scale.max(1e-30), "gradient {g} vs the CPU's {c}");
    }
}
