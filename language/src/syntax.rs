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

use std::fmt;
use std::ops::Range;

use deeplog_program::stack::guard;

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
///
/// Terms nest as deep as the text makes them (a body of 100,000 goals is a
/// chain of 100,000 `,`), so what Rust would derive recursively is written
/// out here: dropping walks the tree with a stack on the heap, and cloning,
/// comparing and debug-printing grow the thread's stack as they go
/// ([`deeplog_program::stack`]).
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

impl Clone for Term {
    fn clone(&self) -> Term {
        guard(|| Term { kind: self.kind.clone(), span: self.span })
    }
}

impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        self.span == other.span && guard(|| self.kind == other.kind)
    }
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        guard(|| f.debug_struct("Term").field("kind", &self.kind).field("span", &self.span).finish())
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        // A term at most two levels deep is dropped by the fields' own
        // glue, three calls deep, with no allocation (most terms: facts).
        // Deeper ones move their descendants onto a heap stack, to be
        // dropped there one by one, each with no children left.
        if !self.nests_below(2) {
            return;
        }
        let mut stack = Vec::new();
        self.kind.move_children(&mut stack);
        while let Some(mut term) = stack.pop() {
            term.kind.move_children(&mut stack);
        }
    }
}

impl TermKind {
    /// Moves this term's children to `out`, leaving it without any.
    fn move_children(&mut self, out: &mut Vec<Term>) {
        match self {
            TermKind::Compound { args, .. } => out.append(args),
            TermKind::List { items, tail } => {
                out.append(items);
                out.extend(tail.take().map(|t| *t));
            }
            TermKind::Annotated { term, .. } => out.push(std::mem::replace(&mut **term, Term::placeholder())),
            TermKind::Var(_) | TermKind::Atom(_) | TermKind::Int(_) | TermKind::Float(_) | TermKind::Str(_) => {}
        }
    }
}

impl Term {
    pub fn new(kind: TermKind, span: Span) -> Term {
        Term { kind, span }
    }

    /// A term that owns nothing, to leave behind where one is moved out.
    fn placeholder() -> Term {
        Term::new(TermKind::Int(0), Span::default())
    }

    /// The term's kind, moved out of it (a [`Term`] cannot be taken apart
    /// by a pattern, as it has a destructor).
    pub fn into_kind(mut self) -> TermKind {
        std::mem::replace(&mut self.kind, TermKind::Int(0))
    }

    /// The functor and arguments of a compound term.
    pub fn as_compound(&self) -> Option<(&str, &[Term])> {
        match &self.kind {
            TermKind::Compound { functor, args } => Some((functor, args)),
            _ => None,
        }
    }

    /// Calls `f` on this term and every term inside it, in the order of
    /// [`Term::subterms`], each free to change (the children of the term
    /// `f` leaves behind are visited).
    pub fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Term)) {
        f(self);
        match &mut self.kind {
            TermKind::Compound { args: items, .. } | TermKind::List { items, tail: None } => {
                for t in items {
                    guard(|| t.visit_mut(f));
                }
            }
            TermKind::List { items, tail: Some(tail) } => {
                for t in items {
                    guard(|| t.visit_mut(f));
                }
                guard(|| tail.visit_mut(f));
            }
            TermKind::Annotated { term, .. } => guard(|| term.visit_mut(f)),
            TermKind::Var(_) | TermKind::Atom(_) | TermKind::Int(_) | TermKind::Float(_) | TermKind::Str(_) => {}
        }
    }

    /// This term and every term inside it, in the order of the text: a
    /// compound before its arguments, a list's items before its tail, an
    /// annotated term's term after it.
    pub fn subterms(&self) -> impl Iterator<Item = &Term> {
        Subterms { first: Some(self), items: &[], tail: None, outer: Vec::new() }
    }

    /// Whether terms `levels` below this one have children: `nests_below(0)`
    /// is whether this term has any.
    fn nests_below(&self, levels: u32) -> bool {
        let (items, tail) = self.children();
        match levels {
            0 => !items.is_empty() || tail.is_some(),
            _ => items.iter().chain(tail).any(|t| t.nests_below(levels - 1)),
        }
    }

    /// The terms directly inside this one: a compound's arguments, a list's
    /// items and tail, an annotated term's term.
    fn children(&self) -> (&[Term], Option<&Term>) {
        match &self.kind {
            TermKind::Compound { args, .. } => (args, None),
            TermKind::List { items, tail } => (items, tail.as_deref()),
            TermKind::Annotated { term, .. } => (std::slice::from_ref(&**term), None),
            TermKind::Var(_) | TermKind::Atom(_) | TermKind::Int(_) | TermKind::Float(_) | TermKind::Str(_) => {
                (&[], None)
            }
        }
    }

    /// Every occurrence of a variable in this term, in the order of the
    /// text, with its span; `_` is included, each time it occurs.
    ///
    /// ```
    /// use deeplog_language::parse;
    ///
    /// let program = parse("p(X, [Y, _|X], f(Z)_godel).").unwrap();
    /// let names: Vec<&str> = program.clauses[0].term.variables().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["X", "Y", "_", "X", "Z"]);
    /// ```
    pub fn variables(&self) -> impl Iterator<Item = (&str, Span)> {
        self.subterms().filter_map(|t| match &t.kind {
            TermKind::Var(name) => Some((name.as_str(), t.span)),
            _ => None,
        })
    }
}

/// The walk of [`Term::subterms`]. It allocates only to descend into a
/// term while terms after it wait (`outer`), so the walk of a flat atom
/// such as `edge(1, 2)` allocates nothing: checking and grounding walk
/// every clause.
struct Subterms<'a> {
    /// The term to yield next, before `items` and `tail`.
    first: Option<&'a Term>,
    /// What is left of the innermost level: items, then a list's tail.
    items: &'a [Term],
    tail: Option<&'a Term>,
    /// What is left of the enclosing levels, innermost last.
    outer: Vec<(&'a [Term], Option<&'a Term>)>,
}

impl<'a> Iterator for Subterms<'a> {
    type Item = &'a Term;

    fn next(&mut self) -> Option<&'a Term> {
        let term = loop {
            if let Some(t) = self.first.take() {
                break t;
            }
            if let Some((t, rest)) = self.items.split_first() {
                self.items = rest;
                break t;
            }
            if let Some(t) = self.tail.take() {
                break t;
            }
            (self.items, self.tail) = self.outer.pop()?;
        };
        let (items, tail) = term.children();
        if !items.is_empty() || tail.is_some() {
            if !self.items.is_empty() || self.tail.is_some() {
                self.outer.push((self.items, self.tail));
            }
            (self.items, self.tail) = (items, tail);
        }
        Some(term)
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

    #[test]
    fn subterms_come_in_the_order_of_the_text() {
        let at = |start| Span::new(start, start + 1);
        let var = |name: &str, start| Term::new(TermKind::Var(name.to_string()), at(start));
        let atom = |name: &str, start| Term::new(TermKind::Atom(name.to_string()), at(start));
        // f(A, [b, B|C])
        let list = Term::new(
            TermKind::List { items: vec![atom("b", 7), var("B", 10)], tail: Some(Box::new(var("C", 12))) },
            Span::new(6, 14),
        );
        let term =
            Term::new(TermKind::Compound { functor: "f".to_string(), args: vec![var("A", 2), list] }, Span::new(0, 15));
        let starts: Vec<usize> = term.subterms().map(|t| t.span.start).collect();
        assert_eq!(starts, [0, 2, 6, 7, 10, 12]);
        // g([h(A)|T], B)_godel: the annotated term, then its term, depth first.
        let inner =
            Term::new(TermKind::Compound { functor: "h".to_string(), args: vec![var("A", 5)] }, Span::new(3, 7));
        let list =
            Term::new(TermKind::List { items: vec![inner], tail: Some(Box::new(var("T", 8))) }, Span::new(2, 10));
        let g = Term::new(TermKind::Compound { functor: "g".to_string(), args: vec![list, var("B", 12)] }, at(1));
        let annotated = Term::new(TermKind::Annotated { term: Box::new(g), algebra: "godel".to_string() }, at(0));
        let starts: Vec<usize> = annotated.subterms().map(|t| t.span.start).collect();
        assert_eq!(starts, [0, 1, 2, 3, 5, 8, 12]);
        let vars: Vec<(&str, Span)> = term.variables().collect();
        assert_eq!(vars, [("A", at(2)), ("B", at(10)), ("C", at(12))]);
    }
}
