//! Diagnostics: what is wrong (or suspicious) in a model file, where, and
//! how it reads with the source line and a caret under the span.
//!
//! ```
//! use deeplog_language::diagnostic::{Diagnostic, Severity};
//! use deeplog_language::Span;
//!
//! let source = "1.5::rain.\n";
//! let d = Diagnostic::error(Span::new(0, 3), "probability 1.5 is outside [0, 1]");
//! let text = d.render("model.pl", source);
//! assert!(text.contains("model.pl:1:1") && text.contains("^^^"));
//! ```

use codespan_reporting::diagnostic::{Diagnostic as Report, Label, Severity as ReportSeverity};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};

use crate::syntax::Span;

/// How bad it is: errors stop a model from running, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding, anchored at a span of the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Text under the caret (defaults to nothing).
    pub label: Option<String>,
    /// Further spans worth showing, with their labels.
    pub related: Vec<(Span, String)>,
    /// Hints printed after the source excerpt.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            related: vec![],
            notes: vec![],
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(span, message) }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The diagnostic as people read it: message, `file:line:column`, the
    /// source line with a caret under the span, notes. No colour.
    pub fn render(&self, file: &str, source: &str) -> String {
        let files = SimpleFile::new(file, source);
        let clamp = |s: Span| {
            let end = s.end.min(source.len());
            s.start.min(end)..end
        };
        let severity = match self.severity {
            Severity::Warning => ReportSeverity::Warning,
            Severity::Error => ReportSeverity::Error,
        };
        let mut labels =
            vec![Label::primary((), clamp(self.span)).with_message(self.label.clone().unwrap_or_default())];
        labels.extend(self.related.iter().map(|(s, l)| Label::secondary((), clamp(*s)).with_message(l.clone())));
        let report =
            Report::new(severity).with_message(self.message.clone()).with_labels(labels).with_notes(self.notes.clone());
        let mut out = String::new();
        if term::emit_to_string(&mut out, &Config::default(), &files, &report).is_err() {
            // Only a span outside the file can fail here; say what we know.
            let at = self.span.line_col(source);
            out = format!("{}: {}\n  --> {file}:{}:{}\n", self.severity.name(), self.message, at.line, at.column);
        }
        out
    }

    /// One JSON object: file, line, column (1-based), severity, message.
    pub fn to_json(&self, file: &str, source: &str) -> serde_json::Value {
        let at = self.span.line_col(source);
        serde_json::json!({
            "file": file,
            "line": at.line,
            "column": at.column,
            "severity": self.severity.name(),
            "message": self.message,
        })
    }
}
