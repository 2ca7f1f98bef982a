//! Random circuits for tests and benchmarks (here, in the GPU crate and in
//! the CLI's): a small fixed-seed generator and random deterministic,
//! decomposable circuits, so that every suite draws from the same family
//! and a failure reproduces from its seed.

use crate::circuit::{Circuit, CircuitBuilder, NodeId, SlotId};

/// splitmix64.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A random deterministic, decomposable circuit over `vars`: decision nodes
/// on one variable, products over disjoint variable sets, literals and
/// constants, sometimes shared (`pool` holds earlier subcircuits and their
/// variables).
pub fn random_ddnnf(b: &mut CircuitBuilder, vars: &[u32], rng: &mut Rng, pool: &mut Vec<(Vec<u32>, NodeId)>) -> NodeId {
    if !pool.is_empty() && rng.below(6) == 0 {
        // Reuse a subcircuit whose variables lie within ours (keeps decomposability).
        let (pv, id) = &pool[rng.below(pool.len())];
        if pv.iter().all(|v| vars.contains(v)) {
            return *id;
        }
    }
    let node = match (vars.len(), rng.below(10)) {
        (0, r) => b.constant(r < 8),
        (_, 0) => b.constant(rng.below(2) == 0),
        (1, _) | (_, 1) => b.literal(SlotId(vars[rng.below(vars.len())]), rng.below(2) == 0),
        (_, 2..=5) => {
            let x = vars[rng.below(vars.len())];
            let rest: Vec<u32> = vars.iter().copied().filter(|&v| v != x).collect();
            let hi = random_ddnnf(b, &rest, rng, pool);
            let lo = random_ddnnf(b, &rest, rng, pool);
            let (px, nx) = (b.literal(SlotId(x), true), b.literal(SlotId(x), false));
            let h = b.product(vec![px, hi]);
            let l = b.product(vec![nx, lo]);
            b.sum(vec![h, l])
        }
        _ => {
            let parts = 2 + rng.below(2);
            let mut groups = vec![Vec::new(); parts];
            for &v in vars {
                groups[rng.below(parts)].push(v);
            }
            let children = groups.iter().map(|g| random_ddnnf(b, g, rng, pool)).collect();
            b.product(children)
        }
    };
    pool.push((vars.to_vec(), node));
    node
}

/// A random circuit of `seed` over 1 to 8 variables with 1 to 3 roots,
/// and a probability per variable in `[0.02, 0.98)`.
pub fn random_case(seed: u64) -> (Circuit, Vec<f64>) {
    let mut rng = Rng(seed);
    let n = 1 + rng.below(8) as u32;
    let mut b = CircuitBuilder::new(n);
    let vars: Vec<u32> = (0..n).collect();
    let mut pool = Vec::new();
    let roots = (0..1 + rng.below(3)).map(|_| random_ddnnf(&mut b, &vars, &mut rng, &mut pool)).collect();
    let p = (0..n).map(|_| 0.02 + 0.96 * rng.unit()).collect();
    (b.finish(roots), p)
}
