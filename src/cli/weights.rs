//! Input weights for `deeplog circuit eval`: the benchmark formula shared
//! with KLay's timing script, or a JSON file.

use std::path::Path;

use deeplog_circuits::Weights;
use deeplog_semirings::Algebra;

use super::CliError;

/// `p(v, r) = 0.05 + 0.9 · frac(v · φ⁻¹ + r · 0.1234)` for 1-based variable
/// `v` and batch row `r`: the weights of `../shared/bench/BASELINES.md`.
pub fn benchmark_probability(v: usize, r: usize) -> f64 {
    let x = v as f64 * 0.618_033_988_749_894_9 + r as f64 * 0.1234;
    0.05 + 0.9 * (x - x.floor())
}

/// `[slots × batch]` probabilities, either from the formula or from `file`.
pub struct Probabilities {
    pub batch: usize,
    pub positive: Vec<f64>,
    pub negative: Option<Vec<f64>>,
}

impl Probabilities {
    /// The same probability per slot in every row.
    pub fn repeated(per_slot: &[f64], batch: usize) -> Self {
        let positive = per_slot.iter().flat_map(|&p| std::iter::repeat_n(p, batch)).collect();
        Probabilities { batch, positive, negative: None }
    }

    pub fn formula(slots: usize, batch: usize) -> Self {
        let mut positive = vec![0.0; slots * batch];
        for s in 0..slots {
            for r in 0..batch {
                positive[s * batch + r] = benchmark_probability(s + 1, r);
            }
        }
        Probabilities { batch, positive, negative: None }
    }

    /// Reads `{"probabilities": [[p per slot] per row], "negative": ...}`.
    pub fn read(path: &Path, slots: usize) -> Result<Self, CliError> {
        let err = |message: String| CliError::Weights { path: path.to_path_buf(), message };
        let text = deeplog_circuits::formats::read_text(path)?;
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            probabilities: Vec<Vec<f64>>,
            negative: Option<Vec<Vec<f64>>>,
        }
        let file: File = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        let batch = file.probabilities.len();
        if batch == 0 {
            return Err(err("no rows in \"probabilities\"".into()));
        }
        let transpose = |rows: &[Vec<f64>], name: &str| -> Result<Vec<f64>, CliError> {
            if rows.len() != batch {
                return Err(err(format!("\"{name}\" has {} rows, \"probabilities\" has {batch}", rows.len())));
            }
            let mut out = vec![0.0; slots * batch];
            for (r, row) in rows.iter().enumerate() {
                if row.len() != slots {
                    return Err(err(format!(
                        "\"{name}\" row {r} has {} values; the circuit has {slots} variables",
                        row.len()
                    )));
                }
                for (s, &p) in row.iter().enumerate() {
                    if !(0.0..=1.0).contains(&p) {
                        return Err(err(format!("\"{name}\" row {r}, variable {}: {p} is not a probability", s + 1)));
                    }
                    out[s * batch + r] = p;
                }
            }
            Ok(out)
        };
        let positive = transpose(&file.probabilities, "probabilities")?;
        let negative = file.negative.as_deref().map(|n| transpose(n, "negative")).transpose()?;
        Ok(Probabilities { batch, positive, negative })
    }

    /// The weights in algebra `A`. An algebra without negation (counting)
    /// gets explicit negative weights.
    pub fn into_weights<A: Algebra>(self) -> Weights<A::Value> {
        let positive = self.positive.iter().map(|&p| A::from_probability(p)).collect();
        let negative = match self.negative {
            Some(n) => Some(n.iter().map(|&p| A::from_probability(p)).collect()),
            None if A::negate(A::one()).is_none() => {
                Some(self.positive.iter().map(|&p| A::from_probability(1.0 - p)).collect())
            }
            None => None,
        };
        Weights { batch: self.batch, positive, negative }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_matches_the_baselines_document() {
        // v = 1, r = 0: 0.05 + 0.9 · 0.6180339887498949.
        assert!((benchmark_probability(1, 0) - 0.606_230_589_874_905_4).abs() < 1e-15);
        let p = benchmark_probability(3, 2);
        let x: f64 = 3.0 * 0.618_033_988_749_894_9 + 2.0 * 0.1234;
        assert!((p - (0.05 + 0.9 * x.fract())).abs() < 1e-15);
    }
}
