//! [`Error`]: why a model could not be answered, typed all the way up.
//!
//! Each stage's own error stays the source of the one a caller sees
//! (`std::error::Error::source` walks back to it); text is made only when the
//! error is displayed. Diagnostics of a model file are kept as data
//! ([`Diagnosed`]) and rendered with their source lines when printed, and
//! compiler errors name atoms by id, which the model layer turns into the
//! atoms' text from the ground program.

use deeplog_circuits::formats::TextError;
use deeplog_circuits::formula::FormulaError;
use deeplog_circuits::{CompileError, EvalError};
use deeplog_gpu::GpuError;
use deeplog_language::diagnostic::Diagnostic;
use deeplog_language::ground::GroundError;
use deeplog_language::syntax::LineCol;

use crate::scene::GraphError;

/// Why a model could not be answered. The `Display` text is what a user
/// reads: rendered diagnostics with source lines, or a one-line cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Read(#[from] TextError),
    /// The model text has errors.
    #[error("{}", .0.render())]
    Invalid(Box<Diagnosed>),
    /// A scene spec file that does not read as specifications.
    #[error("{file}:{}{message}", at.map_or(String::from(" "), |at| format!("{}:{}: ", at.line, at.column)))]
    Spec { file: String, at: Option<LineCol>, message: String },
    /// Grounding stopped, at a place in the model.
    #[error("{file}:{}:{}: {source}", .at.line, .at.column)]
    Ground { file: String, at: LineCol, source: GroundError },
    /// A later stage's error about a statement of the model (a rule through
    /// which negation recurses, evidence that cannot hold), at that
    /// statement.
    #[error("{file}:{}:{}: {source}", .at.line, .at.column)]
    At { file: String, at: LineCol, source: Box<Error> },
    /// A compiler refused the ground program; `named` is its message with
    /// the atoms' text in place of their ids (`file` may be empty where an
    /// [`Error::At`] around it names it).
    #[error("{}{named}", if file.is_empty() { String::new() } else { format!("{file}: ") })]
    Compile { file: String, named: String, source: CompileError },
    /// A formula circuit could not be built or evaluated (atoms named as for
    /// [`Error::Compile`]).
    #[error("{named}")]
    Formula { named: String, source: FormulaError },
    #[error(transparent)]
    Evaluate(#[from] EvalError),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// A scene graph that does not hold together.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A network behind a neural predicate failed or answered with the
    /// wrong shape.
    #[error("network `{network}`: {message}")]
    Network { network: String, message: String },
    #[error("evidence has probability zero: {0}")]
    ImpossibleEvidence(String),
    /// A parameter given by name (`QueryOptions::parameters`) that the
    /// model does not have.
    #[error("parameter `{0}` is not a learnable (`t(p)::`) fact or alternative of this model")]
    UnknownParameter(String),
    /// A training example (0-based `index` into the examples) that cannot
    /// be learned from; a caller that read the examples from a file names
    /// the line.
    #[error("example {}: {message}", index + 1)]
    Example { index: usize, message: String },
    /// The request's time limit ran out between two stages (a stage that
    /// runs out of it reports it itself).
    #[error("stopped: the time limit of {} s (--timeout) ran out before {stage}", timeout.as_secs_f64())]
    Timeout { timeout: std::time::Duration, stage: &'static str },
    /// The model asks for something deeplog does not do (yet); the text
    /// says what, and what to do instead.
    #[error("{0}")]
    Unsupported(String),
    /// A caller's argument does not fit the model (a batch of the wrong
    /// size, a query index past the last one, an empty set of examples).
    #[error("{0}")]
    Input(String),
}

impl Error {
    /// Whether the text already carries its own `error:` labels (rendered
    /// diagnostics), so that a printer must not add another.
    pub fn is_rendered(&self) -> bool {
        matches!(self, Error::Invalid(_))
    }

    /// A formula error, with atoms named by `name`.
    pub(crate) fn formula(source: FormulaError, name: impl Fn(deeplog_program::AtomId) -> String) -> Error {
        Error::Formula { named: source.describe(name), source }
    }
}

impl From<FormulaError> for Error {
    /// A formula error whose atoms (if any) are named by id.
    fn from(source: FormulaError) -> Error {
        Error::Formula { named: source.to_string(), source }
    }
}

/// Diagnostics of one file, kept as data and rendered with the file's lines
/// when displayed.
#[derive(Debug)]
pub struct Diagnosed {
    pub file: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Diagnosed {
    /// How many of the diagnostics are errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The diagnostics with their source lines.
    pub fn render(&self) -> String {
        let rendered: String = self.diagnostics.iter().map(|d| d.render(&self.file, &self.source)).collect();
        rendered.trim_end().to_string()
    }
}
