//! Flags that name one of a fixed set of values (`--device`, `--logic`,
//! `--algebra`, `--compiler`, `--optimize`): clap parses them straight into
//! the library's own enums, so a command receives a `Device` or a `Logic`
//! and never a string to parse again.
//!
//! The spelling a flag accepts is the library's `FromStr`, aliases and case
//! included (`--algebra log-probability`, `--logic log_probability`), and a
//! bad value stops clap with the library's message. The names listed here are
//! what `--help` offers: each is the value's own `name()`, which the tests
//! below hold to.

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::str::FromStr;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};

use deeplog_circuits::optimize::Mode;
use deeplog_circuits::Method;
use deeplog_semirings::{AlgebraKind, Logic};

use crate::Device;

/// Parses a flag's value with `T`'s `FromStr`, and offers `names` in
/// `--help`.
#[derive(Clone, Debug)]
pub struct Named<T> {
    names: &'static [&'static str],
    value: PhantomData<fn() -> T>,
}

/// A [`Named`] parser for `T`, listing `names` in `--help`.
pub fn named<T>(names: &'static [&'static str]) -> Named<T> {
    Named { names, value: PhantomData }
}

impl<T> TypedValueParser for Named<T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<T, clap::Error> {
        // Through clap's own mapping, so that a bad value reads like any
        // other: `invalid value 'x' for '--flag <FLAG>': <the library's why>`.
        StringValueParser::new().try_map(|s| s.parse::<T>()).parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.names.iter().map(PossibleValue::new)))
    }
}

/// `--device`: where to evaluate.
pub fn device() -> Named<Device> {
    named(&["cpu", "gpu", "auto"])
}

/// `--compiler`: which knowledge compiler runs.
pub fn compiler() -> Named<Method> {
    named(&["auto", "top-down", "bottom-up"])
}

/// `--optimize`: whether to rewrite by algebraic laws.
pub fn optimize_mode() -> Named<Mode> {
    named(&["off", "on", "auto"])
}

/// `circuit eval --algebra`: the algebra a circuit is evaluated in.
pub fn algebra() -> Named<AlgebraKind> {
    named(&[
        "boolean",
        "probability",
        "probability-f32",
        "log-probability",
        "log-probability-f32",
        "counting",
        "maxproduct",
        "godel",
        "product",
        "lukasiewicz",
    ])
}

/// `--logic`, offering `names`: each command answers in its own subset of
/// the logics (one of the lists below).
pub fn logic(names: &'static [&'static str]) -> Named<Logic> {
    named(names)
}

/// `query --logic`: every logic a model can be answered in.
pub const QUERY_LOGICS: &[&str] =
    &["probability", "log-probability", "boolean", "maxproduct", "counting", "godel", "product", "lukasiewicz"];

/// `check --logic`: the logics a model file can name in `:- logic(NAME).`
/// (counting is a way to answer, not a logic to read a model in).
pub const MODEL_LOGICS: &[&str] =
    &["boolean", "probability", "log-probability", "godel", "product", "lukasiewicz", "maxproduct"];

/// `scene check --logic`: the logics a scene specification is checked in.
pub const SCENE_LOGICS: &[&str] = &["probability", "godel", "product", "lukasiewicz"];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T>(parser: &Named<T>, value: &str) -> Result<T, String>
    where
        Named<T>: TypedValueParser<Value = T>,
    {
        let cmd = clap::Command::new("deeplog");
        parser.parse_ref(&cmd, None, OsStr::new(value)).map_err(|e| e.to_string())
    }

    /// Every name `--help` offers parses to the value of that name: a
    /// renamed or removed value fails here, not in a user's shell.
    fn offered_names_round_trip<T>(parser: Named<T>, name: impl Fn(T) -> &'static str)
    where
        Named<T>: TypedValueParser<Value = T>,
    {
        let offered: Vec<String> =
            parser.possible_values().into_iter().flatten().map(|v| v.get_name().into()).collect();
        assert!(!offered.is_empty());
        for offered in offered {
            assert_eq!(parse(&parser, &offered).map(&name), Ok(offered.as_str()));
        }
    }

    #[test]
    fn every_offered_name_is_the_name_of_what_it_parses_to() {
        offered_names_round_trip(device(), Device::name);
        offered_names_round_trip(compiler(), Method::name);
        offered_names_round_trip(algebra(), AlgebraKind::name);
        for logics in [QUERY_LOGICS, MODEL_LOGICS, SCENE_LOGICS] {
            offered_names_round_trip(logic(logics), Logic::name);
        }
        let modes: Vec<Result<Mode, String>> =
            ["off", "on", "auto"].iter().map(|m| parse(&optimize_mode(), m)).collect();
        assert_eq!(modes, [Ok(Mode::Off), Ok(Mode::On), Ok(Mode::Auto)]);
    }

    #[test]
    fn aliases_the_library_accepts_are_accepted() {
        assert_eq!(parse(&algebra(), "log-probability"), Ok(AlgebraKind::LogProbability));
        assert_eq!(parse(&algebra(), "log"), Ok(AlgebraKind::LogProbability));
        assert_eq!(parse(&algebra(), "Viterbi"), Ok(AlgebraKind::MaxProduct));
        assert_eq!(parse(&logic(QUERY_LOGICS), "log_probability"), Ok(Logic::LogProbability));
        assert_eq!(parse(&device(), "GPU"), Ok(Device::Gpu));
    }

    #[test]
    fn a_bad_value_carries_the_library_s_reason() {
        let err = parse(&device(), "tpu").unwrap_err();
        assert!(err.contains("'tpu'") && err.contains("unknown device `tpu`; expected cpu, gpu or auto"), "{err}");
        let err = parse(&optimize_mode(), "sometimes").unwrap_err();
        assert!(err.contains("unknown optimisation mode `sometimes`"), "{err}");
    }
}
