//! The deeplog model language: model text in, checked program out.
//!
//! A model is a file of Prolog-style clauses: ProbLog's probabilistic facts,
//! rules and annotated disjunctions, DeepProbLog's neural annotations, and
//! DeepLog's additions (a choice of logic, quantified formulas, algebra
//! annotations such as `p(X)_probability`); `docs/language.md` is the
//! specification. This crate is the front end, in pipeline order:
//!
//! - `lexer.rs` turns text into tokens with byte spans;
//! - `grammar.lalrpop` (LALRPOP) and `parser.rs` turn tokens into a
//!   [`Program`] of generic terms ([`syntax`]), each with its [`Span`];
//!   operators become compound terms named after them, and nothing is
//!   interpreted yet; errors are [`ParseError`]s;
//! - `printer.rs` prints a tree back, through `Display`, as text that parses
//!   to the same tree.
//!
//! ```
//! use deeplog_language::{parse, TermKind};
//!
//! let source = "\
//! 0.3::rain.
//! 0.2::c(red); 0.5::c(green) :- ball.
//! wet :- rain.
//! query(wet).
//! ";
//! let program = parse(source)?;
//! assert_eq!(program.clauses.len(), 4);
//!
//! // `:-( ;( ::(0.2, c(red)), ::(0.5, c(green)) ), ball )`
//! let (neck, [head, body]) = program.clauses[1].term.as_compound().unwrap() else { panic!() };
//! assert_eq!(neck, ":-");
//! assert_eq!(head.as_compound().map(|(f, args)| (f, args.len())), Some((";", 2)));
//! assert_eq!(body.kind, TermKind::Atom("ball".into()));
//! assert_eq!(&source[head.span.range()], "0.2::c(red); 0.5::c(green)");
//!
//! // Errors say where, and what would have been valid there.
//! let error = parse("wet :- rain").unwrap_err();
//! assert_eq!(error.span.line_col("wet :- rain").column, 12);
//! assert!(error.expected.contains(&"`.`".to_string()));
//! # Ok::<(), deeplog_language::ParseError>(())
//! ```

pub mod check;
pub mod data;
pub mod diagnostic;
pub mod ground;
mod lexer;
mod library;
pub mod model;
mod parser;
mod printer;
pub mod syntax;

#[cfg(test)]
mod tests;

pub use parser::{parse, ParseError, MAX_DEPTH};
pub use syntax::{Clause, LineCol, Program, Span, Term, TermKind};

use diagnostic::Diagnostic;
use model::Model;

/// What checking a model file found: the model (when it parsed) and every
/// diagnostic, errors and warnings, in file order per check.
#[derive(Clone, Debug)]
pub struct Checked {
    pub model: Option<Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, classifies and checks a model: the front end in one call.
///
/// ```
/// let checked = deeplog_language::check_source("0.3::a(s); 0.7::a(t).\nquery(a(s)).\n");
/// assert!(checked.diagnostics.is_empty() && checked.model.is_some());
/// let checked = deeplog_language::check_source("2::a.\n");
/// assert!(checked.has_errors());
/// ```
pub fn check_source(source: &str) -> Checked {
    check_source_in(source, std::path::Path::new("."))
}

/// [`check_source`] for a model in the folder `base`, from which the data
/// files it loads (`:- csv_load('edges.csv', edge).`) are read.
pub fn check_source_in(source: &str, base: &std::path::Path) -> Checked {
    let program = match parse(source) {
        Ok(p) => p,
        Err(e) => {
            // The parser's message already says what was expected.
            let d = Diagnostic::error(e.span, format!("syntax error: {}", e.message));
            return Checked { model: None, diagnostics: vec![d] };
        }
    };
    let (mut model, mut diagnostics) = model::lower(program);
    data::load(&mut model, base, &mut diagnostics);
    library::negative_heads(&mut model);
    library::head_aggregates(&mut model);
    library::expand(&mut model);
    library::link(&mut model);
    diagnostics.extend(check::check(&model));
    // File order, as a reader goes through the file (stable: ties keep the
    // order of the checks).
    diagnostics.sort_by_key(|d| d.span.start);
    Checked { model: Some(model), diagnostics }
}
