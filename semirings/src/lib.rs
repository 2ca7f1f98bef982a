//! The algebras deeplog evaluates circuits in.
//!
//! An [`Algebra`] is a set of labels with zero, one, an associative and
//! commutative sum and product, and negation where defined. It says which
//! laws it satisfies ([`Laws`]) and what a circuit must guarantee before it
//! may evaluate it ([`Requirements`]): an algebra whose sum is not idempotent
//! (probability, counting) needs a deterministic, decomposable circuit.
//! [`Differentiable`] algebras also give the derivatives reverse mode needs.
//! Each algebra carries the WGSL text of its operations, so the GPU
//! evaluator shares one definition with the CPU.
//!
//! The batched kernels ([`Algebra::sum_rows`], [`Algebra::product_rows`])
//! reduce whole rows of a batch at once, with the batch index innermost.
//!
//! ```
//! use deeplog_semirings::{Algebra, LogProbability, Probability};
//!
//! // P(a ∨ b) for independent a, b, written deterministically: a ∨ (¬a ∧ b).
//! type P = Probability<f64>;
//! let (a, b) = (0.3, 0.6);
//! let p = P::add(a, P::mul(P::negate(a).unwrap(), b));
//! assert!((p - 0.72).abs() < 1e-12);
//!
//! // The same in log space.
//! type L = LogProbability<f64>;
//! let (la, lb) = (L::from_probability(a), L::from_probability(b));
//! let lp = L::add(la, L::mul(L::negate(la).unwrap(), lb));
//! assert!((lp.exp() - 0.72).abs() < 1e-12);
//! ```

pub mod algebra;
pub mod boolean;
pub mod counting;
pub mod float;
pub mod fuzzy;
pub mod godel;
pub mod log_probability;
pub mod logic;
pub mod lukasiewicz;
pub mod max_product;
pub mod probability;
pub mod product_tnorm;

pub use algebra::{Algebra, Differentiable, Laws, LogDomain, NodeRows, Requirements, Segment};
pub use boolean::Boolean;
pub use counting::Counting;
pub use float::Float;
pub use fuzzy::{Implication, TNorm};
pub use godel::Godel;
pub use log_probability::LogProbability;
pub use logic::Logic;
pub use lukasiewicz::Lukasiewicz;
pub use max_product::MaxProduct;
pub use probability::Probability;
pub use product_tnorm::ProductTNorm;

use std::fmt;
use std::str::FromStr;

/// An algebra chosen at run time (from a command-line flag or a file).
/// Use [`with_algebra!`] to call generic code with the matching type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlgebraKind {
    Boolean,
    Probability,
    ProbabilityF32,
    LogProbability,
    LogProbabilityF32,
    Counting,
    MaxProduct,
    Godel,
    Product,
    Lukasiewicz,
}

impl AlgebraKind {
    pub const ALL: [AlgebraKind; 10] = [
        AlgebraKind::Boolean,
        AlgebraKind::Probability,
        AlgebraKind::ProbabilityF32,
        AlgebraKind::LogProbability,
        AlgebraKind::LogProbabilityF32,
        AlgebraKind::Counting,
        AlgebraKind::MaxProduct,
        AlgebraKind::Godel,
        AlgebraKind::Product,
        AlgebraKind::Lukasiewicz,
    ];

    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            AlgebraKind::Boolean => "boolean",
            AlgebraKind::Probability => "probability",
            AlgebraKind::ProbabilityF32 => "probability-f32",
            AlgebraKind::LogProbability => "log-probability",
            AlgebraKind::LogProbabilityF32 => "log-probability-f32",
            AlgebraKind::Counting => "counting",
            AlgebraKind::MaxProduct => "maxproduct",
            AlgebraKind::Godel => "godel",
            AlgebraKind::Product => "product",
            AlgebraKind::Lukasiewicz => "lukasiewicz",
        }
    }

    /// Whether reverse mode is defined (all but boolean).
    pub fn differentiable(self) -> bool {
        self != AlgebraKind::Boolean
    }
}

impl fmt::Display for AlgebraKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algebra name that is not one of [`AlgebraKind::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAlgebra(pub String);

impl fmt::Display for UnknownAlgebra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = AlgebraKind::ALL.iter().map(|k| k.name()).collect();
        write!(f, "unknown algebra `{}`; expected one of: {}", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownAlgebra {}

impl FromStr for AlgebraKind {
    type Err = UnknownAlgebra;
    /// An algebra's [`name`](AlgebraKind::name), or a logic's name or alias
    /// (`log`, `max-product`, ...: [`Logic`]'s parser): one table of
    /// spellings for `--algebra` and `--logic`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "log-f32" => Some(AlgebraKind::LogProbabilityF32),
            _ => AlgebraKind::ALL.into_iter().find(|k| k.name() == lower),
        };
        kind.or_else(|| lower.parse::<Logic>().ok().map(Logic::algebra)).ok_or(UnknownAlgebra(s.to_string()))
    }
}

/// Runs `$body` with the type alias `$A` bound to the algebra of `$kind`.
///
/// ```
/// use deeplog_semirings::{with_algebra, Algebra, AlgebraKind};
/// let kind: AlgebraKind = "log".parse().unwrap();
/// let name = with_algebra!(kind, A => A::NAME);
/// assert_eq!(name, "log-probability");
/// ```
#[macro_export]
macro_rules! with_algebra {
    ($kind:expr, $A:ident => $body:expr) => {
        match $kind {
            $crate::AlgebraKind::Boolean => {
                type $A = $crate::Boolean;
                $body
            }
            $crate::AlgebraKind::Probability => {
                type $A = $crate::Probability<f64>;
                $body
            }
            $crate::AlgebraKind::ProbabilityF32 => {
                type $A = $crate::Probability<f32>;
                $body
            }
            $crate::AlgebraKind::LogProbability => {
                type $A = $crate::LogProbability<f64>;
                $body
            }
            $crate::AlgebraKind::LogProbabilityF32 => {
                type $A = $crate::LogProbability<f32>;
                $body
            }
            $crate::AlgebraKind::Counting => {
                type $A = $crate::Counting;
                $body
            }
            $crate::AlgebraKind::MaxProduct => {
                type $A = $crate::MaxProduct<f64>;
                $body
            }
            $crate::AlgebraKind::Godel => {
                type $A = $crate::Godel<f64>;
                $body
            }
            $crate::AlgebraKind::Product => {
                type $A = $crate::ProductTNorm<f64>;
                $body
            }
            $crate::AlgebraKind::Lukasiewicz => {
                type $A = $crate::Lukasiewicz<f64>;
                $body
            }
        }
    };
}

/// Like [`with_algebra!`] for code that needs [`Differentiable`]; boolean
/// runs `$otherwise` instead.
#[macro_export]
macro_rules! with_differentiable {
    ($kind:expr, $A:ident => $body:expr, otherwise => $otherwise:expr) => {
        match $kind {
            $crate::AlgebraKind::Boolean => $otherwise,
            $crate::AlgebraKind::Probability => {
                type $A = $crate::Probability<f64>;
                $body
            }
            $crate::AlgebraKind::ProbabilityF32 => {
                type $A = $crate::Probability<f32>;
                $body
            }
            $crate::AlgebraKind::LogProbability => {
                type $A = $crate::LogProbability<f64>;
                $body
            }
            $crate::AlgebraKind::LogProbabilityF32 => {
                type $A = $crate::LogProbability<f32>;
                $body
            }
            $crate::AlgebraKind::Counting => {
                type $A = $crate::Counting;
                $body
            }
            $crate::AlgebraKind::MaxProduct => {
                type $A = $crate::MaxProduct<f64>;
                $body
            }
            $crate::AlgebraKind::Godel => {
                type $A = $crate::Godel<f64>;
                $body
            }
            $crate::AlgebraKind::Product => {
                type $A = $crate::ProductTNorm<f64>;
                $body
            }
            $crate::AlgebraKind::Lukasiewicz => {
                type $A = $crate::Lukasiewicz<f64>;
                $body
            }
        }
    };
}

#[cfg(test)]
mod laws;
