//! Arithmetic: the numbers of `is/2` and the comparisons, and the
//! functions over them, as ProbLog evaluates them (it follows Python):
//! `/` divides into a float (`6 / 2` is `3.0`), `//`, `mod` and `rem`
//! round toward negative infinity (`-7 // 2` is `-4`), `round` rounds
//! half to even; integer overflow and division by zero are errors, not
//! wrapped values. Beyond ProbLog's functions, the rest of ISO's (`gcd`,
//! `div`, `msb`, `log/2`, hyperbolic functions) are here too.

use super::GroundError;
use crate::syntax::Span;
use deeplog_program::stack::guard;
use deeplog_program::terms::{Node, TermId, Terms};

/// A number: an integer or a float, as the term it came from was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    /// The number as a ground term.
    pub(super) fn term(self, terms: &mut Terms) -> TermId {
        match self {
            Num::Int(i) => terms.int(i),
            Num::Float(x) => terms.float(x),
        }
    }

    pub(super) fn float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }
}

/// The order of two numbers by value (`1 =:= 1.0`); `None` when one is NaN.
pub(super) fn compare(a: Num, b: Num) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        _ => a.float().partial_cmp(&b.float()),
    }
}

pub(super) fn not_function(name: &str, arity: usize, span: Span) -> GroundError {
    GroundError::new(span, format!("`{name}/{arity}` is not an arithmetic function"))
}

/// An arithmetic function applied to its evaluated arguments, as in SWI-Prolog:
/// integers stay integers where the result is one (`6 / 2` is `3`).
pub(super) fn apply(name: &str, args: &[Num], span: Span) -> Result<Num, GroundError> {
    let err = |m: String| GroundError::new(span, m);
    let overflow = || err(format!("integer overflow in `{name}`"));
    let zero = || err(format!("division by zero in `{name}`"));
    if let [x] = *args {
        let float = |f: fn(f64) -> f64| Ok(Num::Float(f(x.float())));
        let int = |f: f64| {
            if f.is_finite() && f.abs() < 9.2e18 {
                Ok(Num::Int(f as i64))
            } else {
                Err(err(format!("`{name}` of {f} is not an integer")))
            }
        };
        return match (name, x) {
            ("-", Num::Int(i)) => i.checked_neg().map(Num::Int).ok_or_else(overflow),
            ("-", Num::Float(f)) => Ok(Num::Float(-f)),
            ("+", _) => Ok(x),
            ("abs", Num::Int(i)) => i.checked_abs().map(Num::Int).ok_or_else(overflow),
            ("abs", Num::Float(f)) => Ok(Num::Float(f.abs())),
            ("sign", Num::Int(i)) => Ok(Num::Int(i.signum())),
            ("sign", Num::Float(f)) => Ok(Num::Int(if f == 0.0 { 0 } else { f.signum() as i64 })),
            ("float", _) => Ok(Num::Float(x.float())),
            ("integer" | "round", Num::Float(f)) => int(f.round_ties_even()),
            ("floor", Num::Float(f)) => int(f.floor()),
            ("ceiling", Num::Float(f)) => int(f.ceil()),
            ("truncate", Num::Float(f)) => int(f.trunc()),
            ("integer" | "round" | "floor" | "ceiling" | "truncate", Num::Int(_)) => Ok(x),
            ("float_integer_part", _) => float(f64::trunc),
            ("float_fractional_part", _) => float(f64::fract),
            ("\\", Num::Int(i)) => Ok(Num::Int(!i)),
            ("msb", Num::Int(i)) if i > 0 => Ok(Num::Int(63 - i64::from(i.leading_zeros()))),
            ("\\" | "msb", _) => Err(err(format!("`{name}` needs a positive integer"))),
            ("sqrt", _) if x.float() < 0.0 => Err(err("`sqrt` of a negative number is undefined".to_string())),
            ("log" | "log2", _) if x.float() <= 0.0 => {
                Err(err(format!("`{name}` of a number that is not positive is undefined")))
            }
            ("sqrt", _) => float(f64::sqrt),
            ("exp", _) => float(f64::exp),
            ("log", _) => float(f64::ln),
            ("log2", _) => float(f64::log2),
            ("sin", _) => float(f64::sin),
            ("cos", _) => float(f64::cos),
            ("tan", _) => float(f64::tan),
            ("asin", _) => float(f64::asin),
            ("acos", _) => float(f64::acos),
            ("atan", _) => float(f64::atan),
            ("sinh", _) => float(f64::sinh),
            ("cosh", _) => float(f64::cosh),
            ("tanh", _) => float(f64::tanh),
            ("asinh", _) => float(f64::asinh),
            ("acosh", _) => float(f64::acosh),
            ("atanh", _) => float(f64::atanh),
            ("cot", _) => float(|v| 1.0 / v.tan()),
            ("acot", _) => float(|v| (1.0 / v).atan()),
            _ => Err(not_function(name, 1, span)),
        };
    }
    let [x, y] = *args else { return Err(not_function(name, args.len(), span)) };
    match (name, x, y) {
        ("+", Num::Int(i), Num::Int(j)) => i.checked_add(j).map(Num::Int).ok_or_else(overflow),
        ("-", Num::Int(i), Num::Int(j)) => i.checked_sub(j).map(Num::Int).ok_or_else(overflow),
        ("*", Num::Int(i), Num::Int(j)) => i.checked_mul(j).map(Num::Int).ok_or_else(overflow),
        ("+", ..) => Ok(Num::Float(x.float() + y.float())),
        ("-", ..) => Ok(Num::Float(x.float() - y.float())),
        ("*", ..) => Ok(Num::Float(x.float() * y.float())),
        ("/" | "//" | "mod" | "rem" | "div", _, Num::Int(0)) => Err(zero()),
        ("/" | "//" | "mod" | "rem" | "div", _, Num::Float(0.0)) => Err(zero()),
        ("/", ..) => Ok(Num::Float(x.float() / y.float())),
        ("//" | "div", Num::Int(i), Num::Int(j)) => {
            i.checked_div_euclid(j).map(|_| Num::Int(floor_div(i, j))).ok_or_else(overflow)
        }
        ("//", ..) => Ok(Num::Float((x.float() / y.float()).floor())),
        ("mod" | "rem", Num::Int(i), Num::Int(j)) => i
            .checked_rem(j)
            .map(|r| Num::Int(if r != 0 && (r < 0) != (j < 0) { r + j } else { r }))
            .ok_or_else(overflow),
        ("mod" | "rem", ..) => {
            let (a, b) = (x.float(), y.float());
            Ok(Num::Float(a - b * (a / b).floor()))
        }
        ("**" | "^", Num::Int(i), Num::Int(j)) if j >= 0 => {
            u32::try_from(j).ok().and_then(|j| i.checked_pow(j)).map(Num::Int).ok_or_else(overflow)
        }
        ("^", Num::Int(i), Num::Int(_)) if i.abs() != 1 => {
            Err(err("`^`: a negative integer power of an integer is not an integer".to_string()))
        }
        ("^", Num::Int(i), Num::Int(j)) => Ok(Num::Int(if j % 2 == 0 { 1 } else { i })),
        ("**" | "^", ..) => Ok(Num::Float(x.float().powf(y.float()))),
        ("min", ..) => Ok(if compare(y, x) == Some(std::cmp::Ordering::Less) { y } else { x }),
        ("max", ..) => Ok(if compare(y, x) == Some(std::cmp::Ordering::Greater) { y } else { x }),
        ("atan2" | "atan", ..) => Ok(Num::Float(x.float().atan2(y.float()))),
        ("copysign", ..) => Ok(Num::Float(x.float().copysign(y.float()))),
        ("log", ..) if x.float() <= 0.0 || y.float() <= 0.0 => {
            Err(err("`log/2` of a number that is not positive is undefined".to_string()))
        }
        ("log", ..) => Ok(Num::Float(y.float().ln() / x.float().ln())),
        (">>", Num::Int(i), Num::Int(j)) => Ok(Num::Int(i >> j.clamp(0, 63))),
        ("<<", Num::Int(i), Num::Int(j)) => u32::try_from(j)
            .ok()
            .and_then(|j| i.checked_shl(j))
            .filter(|v| v >> j.clamp(0, 63) == i)
            .map(Num::Int)
            .ok_or_else(overflow),
        ("/\\", Num::Int(i), Num::Int(j)) => Ok(Num::Int(i & j)),
        ("\\/", Num::Int(i), Num::Int(j)) => Ok(Num::Int(i | j)),
        ("xor", Num::Int(i), Num::Int(j)) => Ok(Num::Int(i ^ j)),
        ("gcd", Num::Int(i), Num::Int(j)) => {
            let (mut a, mut b) = (i.unsigned_abs(), j.unsigned_abs());
            while b != 0 {
                (a, b) = (b, a % b);
            }
            i64::try_from(a).map(Num::Int).map_err(|_| overflow())
        }
        ("div" | ">>" | "<<" | "/\\" | "\\/" | "xor" | "gcd", ..) => Err(err(format!("`{name}` needs integers"))),
        _ => Err(not_function(name, 2, span)),
    }
}

/// Integer division rounding toward negative infinity, as Python's `//`.
fn floor_div(i: i64, j: i64) -> i64 {
    let q = i / j;
    if (i % j != 0) && ((i < 0) != (j < 0)) {
        q - 1
    } else {
        q
    }
}

/// The value of the arithmetic expression `t`.
pub(super) fn eval(terms: &Terms, t: TermId, span: Span) -> Result<Num, GroundError> {
    match terms.node(t) {
        Node::Int(i) => Ok(Num::Int(i)),
        Node::Float(bits) => Ok(Num::Float(f64::from_bits(bits))),
        Node::Atom(s) => constant(terms.text(s), span),
        Node::Str(_) => Err(GroundError::new(span, format!("{} is not a number", terms.show(t)))),
        Node::Compound { functor, .. } => {
            let args = terms.args(t);
            let mut values = [Num::Int(0); 2];
            if args.len() > 2 {
                return Err(not_function(terms.text(functor), args.len(), span));
            }
            for (i, &a) in args.iter().enumerate() {
                // `1+1+…+1` nests as deep as it is long.
                values[i] = guard(|| eval(terms, a, span))?;
            }
            apply(terms.text(functor), &values[..args.len()], span)
        }
    }
}

/// The value of a named constant (`pi`, `e`, `inf`, `nan`).
fn constant(name: &str, span: Span) -> Result<Num, GroundError> {
    match name {
        "pi" => Ok(Num::Float(std::f64::consts::PI)),
        "e" => Ok(Num::Float(std::f64::consts::E)),
        "epsilon" => Ok(Num::Float(f64::EPSILON)),
        "max_tagged_integer" => Ok(Num::Int((1 << 60) - 1)),
        "inf" | "infinite" => Ok(Num::Float(f64::INFINITY)),
        "nan" => Ok(Num::Float(f64::NAN)),
        other => Err(GroundError::new(span, format!("`{other}` is not a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str, args: &[Num]) -> Result<Num, String> {
        apply(name, args, Span::default()).map_err(|e| e.message)
    }

    #[test]
    fn integers_stay_integers_where_the_result_is_one() {
        use Num::{Float, Int};
        assert_eq!(at("+", &[Int(2), Int(3)]), Ok(Int(5)));
        assert_eq!(at("+", &[Int(2), Float(0.5)]), Ok(Float(2.5)));
        assert_eq!(at("/", &[Int(6), Int(2)]), Ok(Float(3.0)));
        assert_eq!(at("/", &[Int(7), Int(2)]), Ok(Float(3.5)));
        assert_eq!(at("//", &[Int(-7), Int(2)]), Ok(Int(-4)));
        assert_eq!(at("mod", &[Int(-7), Int(2)]), Ok(Int(1)));
        assert_eq!(at("mod", &[Int(7), Int(-2)]), Ok(Int(-1)));
        assert_eq!(at("rem", &[Int(-7), Int(2)]), Ok(Int(1)));
        assert_eq!(at("round", &[Float(2.5)]), Ok(Int(2)));
        assert_eq!(at("sign", &[Float(-2.5)]), Ok(Int(-1)));
        assert_eq!(at("gcd", &[Int(12), Int(-18)]), Ok(Int(6)));
        assert_eq!(at("xor", &[Int(5), Int(3)]), Ok(Int(6)));
        assert_eq!(at("\\", &[Int(5)]), Ok(Int(-6)));
        assert_eq!(at("<<", &[Int(1), Int(3)]), Ok(Int(8)));
        assert_eq!(at("msb", &[Int(8)]), Ok(Int(3)));
        assert_eq!(at("log", &[Int(2), Int(8)]), Ok(Float(3.0)));
        assert_eq!(at("**", &[Int(2), Int(10)]), Ok(Int(1024)));
        assert_eq!(at("**", &[Int(2), Int(-1)]), Ok(Float(0.5)));
        assert_eq!(at("^", &[Int(-1), Int(-3)]), Ok(Int(-1)));
        assert_eq!(at("max", &[Int(1), Float(1.5)]), Ok(Float(1.5)));
        assert_eq!(at("-", &[Int(4)]), Ok(Int(-4)));
        assert_eq!(at("floor", &[Float(-0.5)]), Ok(Int(-1)));
    }

    #[test]
    fn overflow_and_division_by_zero_are_errors() {
        use Num::{Float, Int};
        assert_eq!(at("/", &[Int(1), Int(0)]), Err("division by zero in `/`".to_string()));
        assert_eq!(at("mod", &[Int(1), Int(0)]), Err("division by zero in `mod`".to_string()));
        assert_eq!(at("/", &[Float(1.0), Int(0)]), Err("division by zero in `/`".to_string()));
        assert_eq!(at("*", &[Int(i64::MAX), Int(2)]), Err("integer overflow in `*`".to_string()));
        assert_eq!(at("^", &[Int(2), Int(-1)]).map_err(|m| m.contains("not an integer")), Err(true));
        assert_eq!(at("gcd", &[Float(1.0), Int(2)]), Err("`gcd` needs integers".to_string()));
        assert_eq!(at("<<", &[Int(i64::MAX), Int(2)]), Err("integer overflow in `<<`".to_string()));
        assert_eq!(at("foo", &[Int(1)]), Err("`foo/1` is not an arithmetic function".to_string()));
    }

    #[test]
    fn compares_by_value_across_kinds() {
        use std::cmp::Ordering::*;
        assert_eq!(compare(Num::Int(1), Num::Float(1.0)), Some(Equal));
        assert_eq!(compare(Num::Int(2), Num::Int(3)), Some(Less));
        assert_eq!(compare(Num::Float(f64::NAN), Num::Int(0)), None);
    }

    #[test]
    fn evaluates_a_ground_expression() {
        let mut terms = Terms::new();
        let (plus, times) = (terms.name("+"), terms.name("*"));
        let (two, three) = (terms.int(2), terms.int(3));
        let pi = terms.atom("pi");
        let product = terms.compound(times, &[three, pi]);
        let sum = terms.compound(plus, &[two, product]);
        assert_eq!(eval(&terms, sum, Span::default()), Ok(Num::Float(2.0 + 3.0 * std::f64::consts::PI)));
        let x = terms.atom("x");
        assert_eq!(eval(&terms, x, Span::default()).map_err(|e| e.message), Err("`x` is not a number".to_string()));
        assert_eq!(Num::Float(0.5).term(&mut terms), terms.float(0.5));
    }
}
