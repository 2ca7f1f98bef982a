//! The logics a model can be read in: which algebra gives its annotations
//! and connectives their meaning, for the whole model (`:- logic(godel).`),
//! one query (`query(q, logic(product))`) or the command line
//! (`--logic`).
//!
//! [`Logic::algebra`] maps each onto the algebra that evaluates it (in
//! `f64`; [`AlgebraKind`] also names `f32` forms), and [`Logic::tnorm`] the
//! fuzzy ones onto their [`TNorm`], whose connectives the formula circuit
//! uses. A logic has one name ([`Logic::name`], also its algebra's); the
//! parser accepts older spellings too (`log`, `max-product`, `gödel`, ...),
//! so that no command or model that used them breaks.
//!
//! ```
//! use deeplog_semirings::{AlgebraKind, Logic, TNorm};
//!
//! let logic: Logic = "log".parse().unwrap();
//! assert_eq!(logic, Logic::LogProbability);
//! assert_eq!(logic.name(), "log-probability");
//! assert_eq!(logic.algebra(), AlgebraKind::LogProbability);
//! assert_eq!(Logic::Product.tnorm(), Some(TNorm::Product));
//! ```

use std::fmt;
use std::str::FromStr;

use crate::{AlgebraKind, TNorm};

/// A logic (an algebra for the whole model or one query).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Logic {
    Boolean,
    Probability,
    LogProbability,
    Godel,
    Product,
    Lukasiewicz,
    MaxProduct,
    /// The number of total choices (worlds) in which a query holds.
    Counting,
}

impl Logic {
    pub const ALL: [Logic; 8] = [
        Logic::Boolean,
        Logic::Probability,
        Logic::LogProbability,
        Logic::Godel,
        Logic::Product,
        Logic::Lukasiewicz,
        Logic::MaxProduct,
        Logic::Counting,
    ];

    /// The name users type and read; the same as its algebra's
    /// [`AlgebraKind::name`].
    pub fn name(self) -> &'static str {
        match self {
            Logic::Boolean => "boolean",
            Logic::Probability => "probability",
            Logic::LogProbability => "log-probability",
            Logic::Godel => "godel",
            Logic::Product => "product",
            Logic::Lukasiewicz => "lukasiewicz",
            Logic::MaxProduct => "maxproduct",
            Logic::Counting => "counting",
        }
    }
}

impl Logic {
    /// The algebra that evaluates this logic's circuits.
    pub fn algebra(self) -> AlgebraKind {
        match self {
            Logic::Boolean => AlgebraKind::Boolean,
            Logic::Probability => AlgebraKind::Probability,
            Logic::LogProbability => AlgebraKind::LogProbability,
            Logic::Godel => AlgebraKind::Godel,
            Logic::Product => AlgebraKind::Product,
            Logic::Lukasiewicz => AlgebraKind::Lukasiewicz,
            Logic::MaxProduct => AlgebraKind::MaxProduct,
            Logic::Counting => AlgebraKind::Counting,
        }
    }

    /// The t-norm of a fuzzy logic; `None` for the others.
    pub fn tnorm(self) -> Option<TNorm> {
        TNorm::ALL.into_iter().find(|t| t.logic() == self)
    }
}

impl fmt::Display for Logic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Logic {
    type Err = String;
    fn from_str(s: &str) -> Result<Logic, String> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "log_probability" | "logprobability" | "log" | "logprob" => Some(Logic::LogProbability),
            "max_product" | "max-product" | "viterbi" => Some(Logic::MaxProduct),
            "gödel" => Some(Logic::Godel),
            "łukasiewicz" => Some(Logic::Lukasiewicz),
            "bool" => Some(Logic::Boolean),
            _ => None,
        };
        alias.or_else(|| Logic::ALL.into_iter().find(|l| l.name() == s)).ok_or_else(|| {
            let names: Vec<_> = Logic::ALL.iter().map(|l| l.name()).collect();
            format!("unknown logic `{s}`; expected one of: {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_logic_is_evaluated_by_the_algebra_of_its_name() {
        for logic in Logic::ALL {
            assert_eq!(logic.algebra().name(), logic.name());
            assert_eq!(logic.name().parse::<Logic>(), Ok(logic));
            assert_eq!(logic.name().parse::<AlgebraKind>(), Ok(logic.algebra()));
        }
    }

    #[test]
    fn exactly_the_fuzzy_logics_have_a_tnorm() {
        let fuzzy: Vec<_> = Logic::ALL.into_iter().filter_map(Logic::tnorm).collect();
        assert_eq!(fuzzy, TNorm::ALL);
        for t in TNorm::ALL {
            assert_eq!(t.logic().tnorm(), Some(t));
        }
    }

    #[test]
    fn old_spellings_still_parse() {
        for (spelling, logic) in [
            ("log", Logic::LogProbability),
            ("LOG_PROBABILITY", Logic::LogProbability),
            ("logprob", Logic::LogProbability),
            ("max-product", Logic::MaxProduct),
            ("viterbi", Logic::MaxProduct),
            ("gödel", Logic::Godel),
            ("łukasiewicz", Logic::Lukasiewicz),
            ("bool", Logic::Boolean),
        ] {
            assert_eq!(spelling.parse::<Logic>(), Ok(logic));
            assert_eq!(spelling.parse::<AlgebraKind>(), Ok(logic.algebra()));
        }
        assert_eq!("log-f32".parse::<AlgebraKind>(), Ok(AlgebraKind::LogProbabilityF32));
        assert_eq!("fuzzy".parse::<Logic>().unwrap_err(), "unknown logic `fuzzy`; expected one of: boolean, probability, log-probability, godel, product, lukasiewicz, maxproduct, counting");
    }
}
