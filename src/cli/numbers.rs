//! Flags that take numbers, each checked for the range it means when clap
//! reads it: a value out of range (`--timeout inf`, `--rate nan`,
//! `--epochs 0`) stops with a usage error naming the flag (exit 2), never a
//! panic or a silent nonsense run later.

use std::time::Duration;

use clap::builder::{StringValueParser, TypedValueParser};

/// The longest time limit accepted: a year (a larger one means "no limit",
/// which is the flag left out).
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// `--timeout`: a finite, non-negative number of seconds, at most a year.
pub fn seconds() -> impl TypedValueParser<Value = Duration> {
    StringValueParser::new().try_map(|s| parse_seconds(&s))
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let x: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(x.is_finite() && (0.0..=MAX_SECONDS).contains(&x)) {
        return Err(format!("a time limit is a number of seconds from 0 to {MAX_SECONDS} (a year), not {text}"));
    }
    Ok(Duration::from_secs_f64(x))
}

/// `--rate`: a finite, positive step size.
pub fn positive() -> impl TypedValueParser<Value = f64> {
    StringValueParser::new().try_map(|s| parse_positive(&s))
}

fn parse_positive(text: &str) -> Result<f64, String> {
    let x: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
    if !(x.is_finite() && x > 0.0) {
        return Err(format!("expected a finite number above 0, not {text}"));
    }
    Ok(x)
}

/// `--epochs`, `--batch`: a count of at least one.
pub fn at_least_one() -> impl TypedValueParser<Value = usize> {
    StringValueParser::new().try_map(|s| parse_count(&s))
}

fn parse_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, not {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_are_finite_and_in_range() {
        assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        for bad in ["inf", "nan", "-1", "1e308", "soon", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_are_finite_and_positive() {
        assert_eq!(parse_positive("0.05"), Ok(0.05));
        for bad in ["0", "-1", "nan", "inf", "x"] {
            assert!(parse_positive(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_start_at_one() {
        assert_eq!(parse_count("3"), Ok(3));
        for bad in ["0", "-2", "1.5", ""] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
    }
}
