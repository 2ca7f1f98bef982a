//! Arithmetic: the numbers of `is/2` and the comparisons, and the
//! functions over them, as SWI-Prolog evaluates them: integers stay
//! integers where the result is one (`6 / 2` is `3`, `7 / 2` is `3.5`),
//! integer overflow and division by zero are errors, not wrapped values.

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
        return match (name, x) {
            ("-", Num::Int(i)) => i.checked_neg().map(Num::Int).ok_or_else(overflow),
            ("-", Num::Float(f)) => Ok(Num::Float(-f)),
            ("+", _) => Ok(x),
            ("abs", Num::Int(i)) => i.checked_abs().map(Num::Int).ok_or_else(overflow),
            ("abs", Num::Float(f)) => Ok(Num::Float(f.abs())),
            ("sign", Num::Int(i)) => Ok(Num::Int(i.signum())),
            ("sign", Num::Float(f)) => Ok(Num::Float(if f == 0.0 { 0.0 } else { f.signum() })),
            ("float", _) => Ok(Num::Float(x.float())),
            ("integer" | "round", Num::Float(f)) => Ok(Num::Int(f.round() as i64)),
            ("floor", Num::Float(f)) => Ok(Num::Int(f.floor() as i64)),
            ("ceiling", Num::Float(f)) => Ok(Num::Int(f.ceil() as i64)),
            ("truncate", Num::Float(f)) => Ok(Num::Int(f.trunc() as i64)),
            ("integer" | "round" | "floor" | "ceiling" | "truncate", Num::Int(_)) => Ok(x),
            ("sqrt", _) => float(f64::sqrt),
            ("exp", _) => float(f64::exp),
            ("log", _) => float(f64::ln),
            ("sin", _) => float(f64::sin),
            ("cos", _) => float(f64::cos),
            ("tan", _) => float(f64::tan),
            ("atan", _) => float(f64::atan),
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
        ("/", Num::Int(_), Num::Int(0)) => Err(zero()),
        ("/", Num::Int(i), Num::Int(j)) if i % j == 0 => i.checked_div(j).map(Num::Int).ok_or_else(overflow),
        ("/", ..) if y.float() == 0.0 => Err(zero()),
        ("/", ..) => Ok(Num::Float(x.float() / y.float())),
        ("//" | "mod" | "rem", Num::Int(_), Num::Int(0)) => Err(zero()),
        ("//", Num::Int(i), Num::Int(j)) => i.checked_div(j).map(Num::Int).ok_or_else(overflow),
        ("mod", Num::Int(i), Num::Int(j)) => i
            .checked_rem(j)
            .map(|r| Num::Int(if r != 0 && (r < 0) != (j < 0) { r + j } else { r }))
            .ok_or_else(overflow),
        ("rem", Num::Int(i), Num::Int(j)) => i.checked_rem(j).map(Num::Int).ok_or_else(overflow),
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
        (">>", Num::Int(i), Num::Int(j)) => Ok(Num::Int(i >> j.clamp(0, 63))),
        ("<<", Num::Int(i), Num::Int(j)) => {
            u32::try_from(j).ok().and_then(|j| i.checked_shl(j)).map(Num::Int).ok_or_else(overflow)
        }
        ("//" | "mod" | "rem" | ">>" | "<<", ..) => Err(err(format!("`{name}` needs integers"))),
        _ => Err(not_function(name, 2, span)),
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
        assert_eq!(at("/", &[Int(6), Int(2)]), Ok(Int(3)));
        assert_eq!(at("/", &[Int(7), Int(2)]), Ok(Float(3.5)));
        assert_eq!(at("//", &[Int(-7), Int(2)]), Ok(Int(-3)));
        assert_eq!(at("mod", &[Int(-7), Int(2)]), Ok(Int(1)));
        assert_eq!(at("rem", &[Int(-7), Int(2)]), Ok(Int(-1)));
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
        assert_eq!(at("mod", &[Float(1.0), Int(2)]), Err("`mod` needs integers".to_string()));
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
