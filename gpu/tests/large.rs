//! A circuit of more than 10⁷ edges at batch 64, with storage bindings
//! capped at 64 MiB: the batch is cut into tiles (a single binding cannot
//! hold the values of all 64 columns), and every root equals the CPU's.
//! Runs in CI on lavapipe (tens of seconds).

use deeplog_circuits::properties::{Knowledge, Properties};
use deeplog_circuits::testing::Rng;
use deeplog_circuits::{CircuitBuilder, CpuEvaluator, Evaluate, LayeredCircuit, SlotId, Weights};
use deeplog_gpu::{gpu_for_tests, GpuEvaluator};
use deeplog_semirings::Godel;

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
