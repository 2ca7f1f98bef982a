//! Sampling possible worlds from a program (ProbLog's `sample`), and Monte
//! Carlo estimates of its queries.
//!
//! Samples come from the program, not from a compiled circuit: the lineage
//! of the queries and evidence (each atom's formula over the choices, cycles
//! unrolled into least-model formulas, no knowledge compilation) is
//! evaluated in 64 worlds at a time, one bit per world, so a program too
//! large to compile can still be sampled. Every choice is drawn as the
//! program says: a fact with its probability, an annotated disjunction's
//! alternatives through its chain of slots (alternative `i` when slot `i`
//! is the first true one). With evidence, worlds where it fails are
//! rejected (the samples are of the program given the evidence).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use deeplog_circuits::compile::cnf::{lineage_dag, LineageNode};
use deeplog_program::AtomId;

use crate::error::Error;
use crate::model::{Model, QueryOptions};

/// How to sample.
#[derive(Clone, Debug)]
pub struct SampleOptions {
    pub samples: usize,
    pub seed: u64,
    /// Give up when this many worlds were drawn per accepted one (the
    /// evidence is that improbable) — 0 for no limit.
    pub max_rejections_per_sample: usize,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions { samples: 1000, seed: 0, max_rejections_per_sample: 100_000 }
    }
}

/// The samples: per accepted world, which queries hold in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// Each query, as `deeplog query` prints it.
    pub queries: Vec<String>,
    /// Per sample, per query: whether it holds.
    pub worlds: Vec<Vec<bool>>,
    /// Worlds drawn in all (accepted and rejected by the evidence).
    pub drawn: usize,
}

/// A query's Monte Carlo estimate with its 95% interval (Wilson's).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub query: String,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Samples {
    /// Each query's fraction of samples, with its 95% Wilson interval.
    pub fn estimates(&self) -> Vec<Estimate> {
        let n = self.worlds.len() as f64;
        let z: f64 = 1.959_963_984_540_054;
        self.queries
            .iter()
            .enumerate()
            .map(|(q, name)| {
                let k = self.worlds.iter().filter(|w| w[q]).count() as f64;
                let p = if n > 0.0 { k / n } else { f64::NAN };
                let denom = 1.0 + z * z / n;
                let centre = (p + z * z / (2.0 * n)) / denom;
                let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
                // (At 0 of n or n of n the bound is exactly 0 or 1; the
                // formula leaves rounding there.)
                let lower = if k == 0.0 { 0.0 } else { (centre - half).max(0.0) };
                let upper = if k == n { 1.0 } else { (centre + half).min(1.0) };
                Estimate { query: name.clone(), value: p, lower, upper }
            })
            .collect()
    }
}

impl Model {
    /// `options.samples` worlds of the program given its evidence, each
    /// with the values of the queries; the same seed gives the same samples.
    pub fn sample(&self, query: &QueryOptions, options: &SampleOptions) -> Result<Samples, Error> {
        let program = self.ground_program(query)?;
        let asked: Vec<(String, Option<AtomId>)> =
            program.queries.iter().map(|q| (program.query_text(q), q.atom_id())).collect();
        let atoms: Vec<AtomId> = asked.iter().filter_map(|(_, a)| *a).collect();
        let budget = crate::compiled::budget(query);
        let dag = lineage_dag(&program, &atoms, &program.evidence, &budget).map_err(|e| {
            let named = e.describe(|a| crate::formulas::name_atom(&program, a));
            Error::Compile { file: self.name().to_string(), named, source: e }
        })?;
        // Where each query's bit comes from: its node, or none (false).
        let mut next = dag.queries.iter();
        let query_nodes: Vec<Option<usize>> =
            asked.iter().map(|(_, a)| if a.is_some() { next.next().map(|&n| n as usize) } else { None }).collect();
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut bits = vec![0u64; dag.nodes.len()];
        let mut worlds = Vec::with_capacity(options.samples);
        let mut drawn = 0usize;
        while worlds.len() < options.samples {
            // 64 worlds: the slots' bits, then every node's.
            let slot_bits: Vec<u64> = dag
                .slots
                .iter()
                .map(|s| (0..64).fold(0u64, |acc, b| acc | (u64::from(rng.random::<f64>() < s.probability) << b)))
                .collect();
            for (i, node) in dag.nodes.iter().enumerate() {
                bits[i] = match node {
                    LineageNode::False => 0,
                    LineageNode::True => u64::MAX,
                    LineageNode::Slot(s) => slot_bits[*s as usize],
                    LineageNode::Not(c) => !bits[*c as usize],
                    LineageNode::And(cs) => cs.iter().fold(u64::MAX, |acc, &c| acc & bits[c as usize]),
                    LineageNode::Or(cs) => cs.iter().fold(0, |acc, &c| acc | bits[c as usize]),
                };
            }
            let accepted = dag.evidence.iter().fold(u64::MAX, |acc, &e| acc & bits[e as usize]);
            for b in 0..64 {
                if worlds.len() == options.samples {
                    break;
                }
                drawn += 1;
                if accepted >> b & 1 == 1 {
                    worlds.push(query_nodes.iter().map(|n| n.is_some_and(|n| bits[n] >> b & 1 == 1)).collect());
                }
            }
            let limit = options.max_rejections_per_sample.saturating_mul(worlds.len().max(1));
            if options.max_rejections_per_sample > 0 && drawn > limit.max(options.max_rejections_per_sample) {
                return Err(Error::ImpossibleEvidence(format!(
                    "{} (or nearly: {} of {drawn} sampled worlds satisfy it; rejection sampling gives up)",
                    program.evidence_text(),
                    worlds.len()
                )));
            }
            crate::program::interrupt::requested()
                .then_some(())
                .map_or(Ok(()), |_| Err(Error::Input("interrupted".to_string())))?;
        }
        Ok(Samples { queries: asked.into_iter().map(|(q, _)| q).collect(), worlds, drawn })
    }
}
