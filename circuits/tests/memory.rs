//! Peak memory of a large evaluation. In its own test binary so that the
//! process's high-water mark belongs to this test alone.

use deeplog_circuits::{CircuitBuilder, CpuEvaluator, LayeredCircuit, NodeId, SlotId, Weights};
use deeplog_semirings::LogProbability;

/// Peak resident memory of this process, from /proc (Linux only).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// An ordered decision diagram as a d-DNNF: `levels` variables, `width`
/// decision nodes per level, each choosing its two branches at random from
/// the level below; the bottom level is `width` distinct terms over 24 more
/// variables. Every node of the top level is a root.
fn decision_diagram(levels: u32, width: usize) -> deeplog_circuits::Circuit {
    const TERM_VARS: u32 = 24;
    let mut b = CircuitBuilder::new(levels + TERM_VARS);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut below: Vec<NodeId> = (0..width)
        .map(|_| {
            // One literal from each third of the term variables: distinct variables.
            let lits = (0..3)
                .map(|g| {
                    let r = next();
                    let v = levels + g * (TERM_VARS / 3) + (r % (TERM_VARS / 3) as u64) as u32;
                    b.literal(SlotId(v), r & 64 == 0)
                })
                .collect::<Vec<_>>();
            b.product(lits)
        })
        .collect();
    for level in (0..levels).rev() {
        let (x, nx) = (b.literal(SlotId(level), true), b.literal(SlotId(level), false));
        let mut here = Vec::with_capacity(width);
        for _ in 0..width {
            let hi = below[(next() % below.len() as u64) as usize];
            let lo = below[(next() % below.len() as u64) as usize];
            let h = b.product(vec![x, hi]);
            let l = b.product(vec![nx, lo]);
            here.push(b.sum(vec![h, l]));
        }
        below = here;
    }
    b.finish(below)
}

#[test]
fn a_million_edges_at_batch_1024_stay_under_2_gib() {
    let circuit = decision_diagram(185, 1700);
    let layered = LayeredCircuit::new(&circuit);
    assert!(layered.num_edges() >= 1_000_000, "only {} edges", layered.num_edges());
    let eval = CpuEvaluator::<LogProbability<f64>>::new(&layered).unwrap();
    let batch = 1024;
    let slots = circuit.num_slots() as usize;
    let w: Vec<f64> = (0..slots * batch).map(|i| (0.05 + 0.9 * ((i as f64 * 0.618).fract())).ln()).collect();
    let (values, grads) = eval.forward_backward(&Weights::complementary(batch, w), None).unwrap();
    assert!(values.iter().all(|v| v.is_finite() && *v <= 1e-9));
    assert!(grads.positive.iter().all(|g| g.is_finite()));
    let Some(peak) = peak_rss_bytes() else {
        eprintln!("no /proc/self/status here: peak memory not measured");
        return;
    };
    eprintln!(
        "{} edges, batch {batch}, forward+backward: peak resident memory {:.0} MiB",
        layered.num_edges(),
        peak as f64 / (1u64 << 20) as f64
    );
    assert!(peak < 2 << 30, "peak {peak} bytes");
}
