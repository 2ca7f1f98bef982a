//! The logics a model can be read in: which algebra gives its annotations
//! and connectives their meaning, for the whole model (`:- logic(godel).`),
//! one query (`query(q, logic(product))`) or the command line
//! (`--logic`).
//!
//! ```
//! use deeplog_semirings::Logic;
//!
//! let logic: Logic = "log".parse().unwrap();
//! assert_eq!(logic, Logic::LogProbability);
//! assert_eq!(logic.name(), "log-probability");
//! ```

use std::fmt;
use std::str::FromStr;

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
            "log_probability" | "logprobability" | "log" => Some(Logic::LogProbability),
            "max_product" | "max-product" => Some(Logic::MaxProduct),
            "bool" => Some(Logic::Boolean),
            _ => None,
        };
        alias.or_else(|| Logic::ALL.into_iter().find(|l| l.name() == s)).ok_or_else(|| {
            let names: Vec<_> = Logic::ALL.iter().map(|l| l.name()).collect();
            format!("unknown logic `{s}`; expected one of: {}", names.join(", "))
        })
    }
}
