//! The syntax tree: what a model file says, before anything interprets it.
//!
//! The tree is generic Prolog-style terms. Operators are compound terms named
//! after the operator (`a :- b, c` is `:-(a, ','(b, c))`, `0.3::a` is
//! `::(0.3, a)`, `\+ a` is `\+(a)`), so a later stage decides what a clause
//! means by matching on functors. Every node carries the [`Span`] of its text.
//!
//! ```
//! use deeplog_language::{parse, TermKind};
//!
//! let program = parse("0.3::rain.").unwrap();
//! let TermKind::Compound { functor, args } = &program.clauses[0].term.kind else { panic!() };
//! assert_eq!((functor.as_str(), args.len()), ("::", 2));
//! assert_eq!(args[0].kind, TermKind::Float(0.3));
//! assert_eq!(&"0.3::rain."[args[1].span.range()], "rain");
//! ```

use std::ops::Range;

/// A range of byte offsets into the source text, `start..end`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }

    /// The line and column where the span starts in `source`.
    pub fn line_col(self, source: &str) -> LineCol {
        LineCol::of(source, self.start)
    }
}

/// A position for people: line and column, both counted from 1; the column
/// counts characters, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl LineCol {
    /// The position of byte `offset` of `source` (clamped to its length).
    pub fn of(source: &str, offset: usize) -> LineCol {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        LineCol { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }
}

/// A term and the span of its text (for an operator term, from its first
/// operand to its last; for a term in parentheses, the parentheses).
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub kind: TermKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TermKind {
    /// `X`, `_X` or `_`.
    Var(String),
    /// `a`, `'New York'`, `[]` written quoted, `{}`, or an operator written
    /// where a term is expected (`f(-)`, `(mod)`).
    Atom(String),
    Int(i64),
    /// Always finite.
    Float(f64),
    Str(String),
    /// `f(a, B)`, or an operator applied to its operands. `args` is never
    /// empty. `{T}` is the compound `{}(T)`.
    Compound {
        functor: String,
        args: Vec<Term>,
    },
    /// `[]`, `[a, b]`, `[H|T]`. Items are flat, however long the list; a
    /// `tail` is only there when written with `|`.
    List {
        items: Vec<Term>,
        tail: Option<Box<Term>>,
    },
    /// DeepLog's algebra annotation: `p(X)_probability`, `(a ; b)_godel`.
    /// `algebra` is the name without its `_`.
    Annotated {
        term: Box<Term>,
        algebra: String,
    },
}

impl Term {
    pub fn new(kind: TermKind, span: Span) -> Term {
        Term { kind, span }
    }

    /// The functor and arguments of a compound term.
    pub fn as_compound(&self) -> Option<(&str, &[Term])> {
        match &self.kind {
            TermKind::Compound { functor, args } => Some((functor, args)),
            _ => None,
        }
    }
}

/// One clause: a term ended by `.`. Its span includes the `.`.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub term: Term,
    pub span: Span,
}

/// A model file: its clauses in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub clauses: Vec<Clause>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_in_characters() {
        let src = "a.\nb(é, x).";
        assert_eq!(LineCol::of(src, 0), LineCol { line: 1, column: 1 });
        assert_eq!(LineCol::of(src, 3), LineCol { line: 2, column: 1 });
        assert_eq!(Span::new(9, 10).line_col(src), LineCol { line: 2, column: 6 });
        assert_eq!(LineCol::of(src, 6), LineCol { line: 2, column: 3 }); // inside `é`
        assert_eq!(LineCol::of(src, 99), LineCol { line: 2, column: 9 });
    }
}
