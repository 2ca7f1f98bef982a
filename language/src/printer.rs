//! The pretty-printer: syntax trees back to model text.
//!
//! What it prints parses back to the same tree (spans aside): operators get
//! the fewest parentheses that keep their structure, names are quoted where
//! a plain name would read differently, and floats print their shortest
//! exact form. Terms print through [`Display`](fmt::Display):
//!
//! ```
//! use deeplog_language::parse;
//!
//! let program = parse("0.2::c(red);0.5::c(green):-ball,\\+ (wet;cold).").unwrap();
//! assert_eq!(program.to_string(), "0.2::c(red) ; 0.5::c(green) :- ball, \\+ (wet ; cold).\n");
//! ```

use std::fmt::{self, Write};

use deeplog_program::stack::guard;

use crate::syntax::{Clause, Program, Term, TermKind};

/// The precedence of a compound term's argument or a list element.
const ARGUMENT: u32 = 999;
/// The precedence of a whole clause.
const CLAUSE: u32 = 1200;

/// How an operator takes its operands: the largest precedence allowed on
/// the left and the right of an infix operator.
#[derive(Clone, Copy)]
enum Shape {
    Infix { precedence: u32, left: u32, right: u32 },
    Prefix { precedence: u32, operand: u32 },
    Curly,
    Canonical,
}

/// The operator table of `grammar.lalrpop`, for printing.
fn shape(functor: &str, arity: usize) -> Shape {
    let xfx = |p| Shape::Infix { precedence: p, left: p - 1, right: p - 1 };
    let xfy = |p| Shape::Infix { precedence: p, left: p - 1, right: p };
    let yfx = |p| Shape::Infix { precedence: p, left: p, right: p - 1 };
    match (functor, arity) {
        (":-" | "<-", 2) => xfx(1200),
        (";" | "or", 2) => xfy(1100),
        ("::", 2) => xfx(1080),
        ("->" | "implies" | "<->" | "iff", 2) => xfy(1050),
        ("," | "and", 2) => xfy(1000),
        ("=" | "\\=" | "==" | "\\==" | "<" | ">" | "=<" | ">=" | "=:=" | "=\\=" | "is" | "in", 2) => xfx(700),
        ("=.." | "@<" | "@>" | "@=<" | "@>=" | "=@=" | "\\=@=", 2) => xfx(700),
        ("+" | "-" | "/\\" | "\\/" | "xor", 2) => yfx(500),
        ("*" | "/" | "//" | "mod" | "rem" | "div" | "<<" | ">>", 2) => yfx(400),
        ("**", 2) => xfx(200),
        ("^" | ":", 2) => xfy(200),
        (":-", 1) => Shape::Prefix { precedence: 1200, operand: 1149 },
        ("dynamic" | "discontiguous", 1) => Shape::Prefix { precedence: 1150, operand: 1100 },
        ("\\", 1) => Shape::Prefix { precedence: 200, operand: 200 },
        ("\\+" | "not", 1) => Shape::Prefix { precedence: 900, operand: 900 },
        ("-", 1) => Shape::Prefix { precedence: 200, operand: 200 },
        ("{}", 1) => Shape::Curly,
        _ => Shape::Canonical,
    }
}

/// Names the lexer reads as operators when written plainly.
const WORD_OPERATORS: [&str; 13] =
    ["is", "mod", "in", "and", "or", "not", "implies", "iff", "xor", "rem", "div", "dynamic", "discontiguous"];

fn is_plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !WORD_OPERATORS.contains(&name)
}

/// Writes `name` as an atom: plain when it reads back as itself, else quoted.
fn write_name(out: &mut impl Write, name: &str) -> fmt::Result {
    if is_plain_name(name) {
        out.write_str(name)
    } else {
        write_quoted(out, name, '\'')
    }
}

fn write_quoted(out: &mut impl Write, text: &str, quote: char) -> fmt::Result {
    out.write_char(quote)?;
    for c in text.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\t' => out.write_str("\\t")?,
            '\r' => out.write_str("\\r")?,
            c if c == quote => write!(out, "\\{c}")?,
            c if c.is_control() => write!(out, "\\x{:x}\\", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char(quote)
}

fn write_term(out: &mut fmt::Formatter<'_>, term: &Term, max: u32) -> fmt::Result {
    // Terms nest as deep as their text: a body of 100,000 goals is 100,000 `,` deep.
    guard(|| write_nested(out, term, max))
}

fn write_nested(out: &mut fmt::Formatter<'_>, term: &Term, max: u32) -> fmt::Result {
    match &term.kind {
        TermKind::Var(name) => out.write_str(name),
        TermKind::Atom(name) => write_name(out, name),
        TermKind::Int(n) => write!(out, "{n}"),
        // `{:?}` is the shortest text that reads back as the same float, and
        // always has a `.` or an exponent.
        TermKind::Float(x) => write!(out, "{x:?}"),
        TermKind::Str(text) => write_quoted(out, text, '"'),
        TermKind::List { items, tail } => {
            if items.is_empty() {
                // `[|T]` is not syntax; the list it would denote is `T`.
                return match tail {
                    Some(tail) => write_term(out, tail, max),
                    None => out.write_str("[]"),
                };
            }
            out.write_char('[')?;
            write_arguments(out, items)?;
            if let Some(tail) = tail {
                out.write_char('|')?;
                write_term(out, tail, ARGUMENT)?;
            }
            out.write_char(']')
        }
        TermKind::Annotated { term: inner, algebra } => {
            // The annotation must follow a `)` directly.
            if matches!(&inner.kind, TermKind::Compound { functor, args } if matches!(shape(functor, args.len()), Shape::Canonical))
            {
                write_term(out, inner, 0)?;
            } else {
                out.write_char('(')?;
                write_term(out, inner, CLAUSE)?;
                out.write_char(')')?;
            }
            write!(out, "_{algebra}")
        }
        TermKind::Compound { functor, args } => match shape(functor, args.len()) {
            Shape::Infix { precedence, left, right } => {
                let open = precedence > max;
                if open {
                    out.write_char('(')?;
                }
                write_term(out, &args[0], left)?;
                match functor.as_str() {
                    "," => out.write_str(", ")?,
                    "::" => out.write_str("::")?,
                    op => write!(out, " {op} ")?,
                }
                write_term(out, &args[1], right)?;
                if open {
                    out.write_char(')')?;
                }
                Ok(())
            }
            Shape::Prefix { precedence, operand } => {
                let open = precedence > max;
                if open {
                    out.write_char('(')?;
                }
                // The space keeps `- 1` from reading as the number `-1` and
                // `- (a)` from reading as the compound `-(a)`.
                write!(out, "{functor} ")?;
                write_term(out, &args[0], operand)?;
                if open {
                    out.write_char(')')?;
                }
                Ok(())
            }
            Shape::Curly => {
                out.write_char('{')?;
                write_term(out, &args[0], CLAUSE)?;
                out.write_char('}')
            }
            Shape::Canonical => {
                write_name(out, functor)?;
                out.write_char('(')?;
                write_arguments(out, args)?;
                out.write_char(')')
            }
        },
    }
}

fn write_arguments(out: &mut fmt::Formatter<'_>, terms: &[Term]) -> fmt::Result {
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        write_term(out, term, ARGUMENT)?;
    }
    Ok(())
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_term(f, self, CLAUSE)
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_term(f, &self.term, CLAUSE)?;
        f.write_char('.')
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for clause in &self.clauses {
            writeln!(f, "{clause}")?;
        }
        Ok(())
    }
}
