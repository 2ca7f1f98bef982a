//! Data from outside the model file, as ProbLog's `library(db)` loads it:
//! `:- csv_load('edges.csv', edge).` makes one fact `edge(...)` per row of
//! a CSV file (the first row names the columns; each column's type, integer,
//! float or text, is read from the first data row, as ProbLog does), and
//! `:- sqlite_load('graph.db').` makes one predicate per table of an
//! SQLite database, one fact per row. Text becomes atoms, numbers numbers;
//! relative paths are read from the model file's folder.
//!
//! Every problem is a diagnostic at the directive that names the file and,
//! for a bad row, the row: a missing file, a row with the wrong number of
//! fields, a value of another type than its column's, a table cell SQLite
//! cannot give as a number or text.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::model::{Annotation, Head, Model, Rule, Statement};
use crate::syntax::{Span, Term, TermKind};

/// Where a directive's data comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `csv_load(File, Predicate)`.
    Csv { file: String, predicate: String },
    /// `sqlite_load(File)`.
    Sqlite { file: String },
}

/// A column's type, as read from the first data row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Float,
    Text,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Integer => "an integer",
            Kind::Float => "a float",
            Kind::Text => "text",
        }
    }
}

/// How deep `:- include` may nest (a file including itself is caught
/// before that).
const MAX_INCLUDE_DEPTH: usize = 32;

/// Adds to `model` what its directives load: the clauses of the files it
/// includes (`:- include('other.pl').`, in place of the directive) and the
/// facts of its data files; files are read from `base` where their path is
/// relative.
pub fn load(model: &mut Model, base: &Path, diagnostics: &mut Vec<Diagnostic>) {
    include(model, base, diagnostics, &mut Vec::new());
    splice(
        model,
        |s| matches!(s, Statement::Load(..)),
        |statement, out| {
            let Statement::Load(source, span) = statement else { unreachable!("picked by splice") };
            let loaded = match &source {
                Source::Csv { file, predicate } => csv_facts(&resolve(base, file), file, predicate, span),
                Source::Sqlite { file } => sqlite_facts(&resolve(base, file), file, span),
            };
            match loaded {
                Ok(facts) => out.extend(facts),
                Err(message) => diagnostics.push(Diagnostic::error(span, message).with_label("loaded here")),
            }
            // The directive stays, so that its predicates count as declared
            // even when the data holds no row.
            out.push(Statement::Load(source, span));
        },
    );
}

/// Rebuilds the model's statements in order, handing each one `pick`
/// chooses to `each` (with the list being rebuilt, for what replaces it);
/// the others stay where they are.
fn splice(model: &mut Model, pick: impl Fn(&Statement) -> bool, mut each: impl FnMut(Statement, &mut Vec<Statement>)) {
    if !model.statements.iter().any(&pick) {
        return;
    }
    let statements = std::mem::take(&mut model.statements);
    for statement in statements {
        if pick(&statement) {
            each(statement, &mut model.statements);
        } else {
            model.statements.push(statement);
        }
    }
}

/// Replaces each `:- include(File).` with the clauses of `File`, every
/// span moved to the directive (the file's own text is not at hand where
/// a diagnostic is shown); a problem inside it is reported at the directive
/// with the file and line.
fn include(model: &mut Model, base: &Path, diagnostics: &mut Vec<Diagnostic>, open: &mut Vec<PathBuf>) {
    splice(
        model,
        |s| matches!(s, Statement::Include(..)),
        |statement, out| {
            let Statement::Include(file, span) = statement else { unreachable!("picked by splice") };
            let path = resolve(base, &file);
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if open.contains(&canonical) || open.len() >= MAX_INCLUDE_DEPTH {
                diagnostics.push(
                    Diagnostic::error(span, format!("`{file}` includes itself, directly or through other files"))
                        .with_label("included here"),
                );
                return;
            }
            let source = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) => {
                    diagnostics.push(
                        Diagnostic::error(span, format!("cannot read the included file `{file}`: {e}"))
                            .with_label("included here"),
                    );
                    return;
                }
            };
            let line = |offset: usize| source[..offset.min(source.len())].matches('\n').count() + 1;
            let program = match crate::parse(&source) {
                Ok(p) => p,
                Err(e) => {
                    diagnostics.push(
                        Diagnostic::error(span, format!("{file}:{}: syntax error: {}", line(e.span.start), e.message))
                            .with_label("included here"),
                    );
                    return;
                }
            };
            let (mut included, found) = crate::model::lower(program);
            for d in found {
                diagnostics.push(
                    Diagnostic::error(span, format!("{file}:{}: {}", line(d.span.start), d.message))
                        .with_label("included here"),
                );
            }
            let folder = path.parent().map_or_else(|| base.to_path_buf(), Path::to_path_buf);
            open.push(canonical);
            include(&mut included, &folder, diagnostics, open);
            open.pop();
            for mut s in included.statements {
                respan(&mut s, span);
                out.push(s);
            }
        },
    );
}

/// `statement` with every span moved to `span`.
fn respan(statement: &mut Statement, span: Span) {
    let mut at = |t: &mut Term| t.visit_mut(&mut |t| t.span = span);
    match statement {
        Statement::Rule(rule) => respan_rule(rule, span),
        Statement::Query(q) => {
            q.span = span;
            at(&mut q.target);
            if let Some((_, s)) = &mut q.logic {
                *s = span;
            }
            if let Some(c) = &mut q.condition {
                at(c);
            }
        }
        Statement::Evidence(e) => {
            e.span = span;
            at(&mut e.atom);
            if let Some(c) = &mut e.condition {
                at(c);
            }
        }
        Statement::Constraint(c) => {
            c.span = span;
            at(&mut c.formula);
            if let Some((_, s)) = &mut c.weight {
                *s = span;
            }
        }
        Statement::Domain(d) => {
            d.span = span;
            d.values.iter_mut().for_each(&mut at);
        }
        Statement::Logic(_, s)
        | Statement::UseModule(_, s)
        | Statement::Dynamic(_, s)
        | Statement::Load(_, s)
        | Statement::Include(_, s) => *s = span,
    }
}

/// `rule` with every span moved to `span`, its annotations' included: the
/// clauses of another text (an included file, the library) are shown at
/// the place that brought them in.
pub(crate) fn respan_rule(rule: &mut Rule, span: Span) {
    let mut at = |t: &mut Term| t.visit_mut(&mut |t| t.span = span);
    rule.span = span;
    for h in &mut rule.heads {
        h.span = span;
        at(&mut h.atom);
        match &mut h.annotation {
            Annotation::None => {}
            Annotation::Probability { span: s, .. } | Annotation::Learnable { span: s, .. } => *s = span,
            Annotation::Computed { expression, span: s } => {
                *s = span;
                at(expression);
            }
            Annotation::Neural(n) => {
                n.span = span;
                n.inputs.iter_mut().for_each(&mut at);
                n.output.iter_mut().for_each(&mut at);
                n.domain.iter_mut().flatten().for_each(&mut at);
            }
        }
    }
    if let Some(body) = &mut rule.body {
        at(body);
    }
}

fn resolve(base: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The fact `predicate(values...)`.
fn fact(predicate: &str, values: Vec<Term>, span: Span) -> Statement {
    let atom = if values.is_empty() {
        Term::new(TermKind::Atom(predicate.to_string()), span)
    } else {
        Term::new(TermKind::Compound { functor: predicate.to_string(), args: values }, span)
    };
    Statement::Rule(Rule { heads: vec![Head { annotation: Annotation::None, atom, span }], body: None, span })
}

fn kind_of(field: &str) -> Kind {
    let field = field.trim();
    if field.parse::<i64>().is_ok() {
        Kind::Integer
    } else if field.parse::<f64>().is_ok() {
        Kind::Float
    } else {
        Kind::Text
    }
}

fn csv_facts(path: &Path, file: &str, predicate: &str, span: Span) -> Result<Vec<Statement>, String> {
    let reader = std::fs::File::open(path).map_err(|e| format!("cannot read the CSV file `{file}`: {e}"))?;
    let mut rows = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(reader);
    let mut records = rows.records();
    let header = match records.next() {
        None => return Err(format!("the CSV file `{file}` is empty: its first row must name the columns")),
        Some(r) => r.map_err(|e| format!("{file}: {e}"))?,
    };
    let columns: Vec<String> = header.iter().map(str::to_string).collect();
    let mut kinds: Option<Vec<Kind>> = None;
    let mut out = Vec::new();
    for (i, record) in records.enumerate() {
        // Rows count from 1, the header's.
        let row = i + 2;
        let record = record.map_err(|e| format!("{file}:{row}: {e}"))?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != columns.len() {
            return Err(format!(
                "{file}:{row}: {} fields where the header names {} columns",
                record.len(),
                columns.len()
            ));
        }
        let kinds = kinds.get_or_insert_with(|| record.iter().map(kind_of).collect());
        let mut values = Vec::with_capacity(columns.len());
        for ((field, &kind), column) in record.iter().zip(kinds.iter()).zip(&columns) {
            let text = field.trim();
            let value = match kind {
                Kind::Integer => text.parse::<i64>().ok().map(TermKind::Int),
                Kind::Float => text.parse::<f64>().ok().filter(|x| x.is_finite()).map(TermKind::Float),
                Kind::Text => Some(TermKind::Atom(text.to_string())),
            };
            let Some(value) = value else {
                return Err(format!(
                    "{file}:{row}: column `{column}` holds {} (from the first row), not `{text}`",
                    kind.name()
                ));
            };
            values.push(Term::new(value, span));
        }
        out.push(fact(predicate, values, span));
    }
    Ok(out)
}

fn sqlite_facts(path: &Path, file: &str, span: Span) -> Result<Vec<Statement>, String> {
    use rusqlite::types::ValueRef;
    use rusqlite::{Connection, OpenFlags};
    // Read-only: a path that names no database is an error, not a new file.
    if !path.is_file() {
        return Err(format!("cannot read the SQLite database `{file}`: no such file"));
    }
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("cannot open the SQLite database `{file}`: {e}"))?;
    let error = |e: rusqlite::Error| format!("{file}: {e}");
    let mut tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
        .map_err(error)?;
    let names: Vec<String> =
        tables.query_map([], |r| r.get::<_, String>(0)).map_err(error)?.collect::<Result<_, _>>().map_err(error)?;
    let mut out = Vec::new();
    for table in names {
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        let mut select = db.prepare(&format!("SELECT * FROM {quoted}")).map_err(error)?;
        let columns: Vec<String> = select.column_names().map(str::to_string).collect();
        let mut rows = select.query([]).map_err(error)?;
        let mut row_number = 0usize;
        while let Some(row) = rows.next().map_err(error)? {
            row_number += 1;
            let mut values = Vec::with_capacity(columns.len());
            for (c, column) in columns.iter().enumerate() {
                let value = match row.get_ref(c).map_err(error)? {
                    ValueRef::Integer(i) => TermKind::Int(i),
                    ValueRef::Real(x) if x.is_finite() => TermKind::Float(x),
                    ValueRef::Text(t) => TermKind::Atom(String::from_utf8_lossy(t).into_owned()),
                    other => {
                        return Err(format!(
                            "{file}: table `{table}`, row {row_number}, column `{column}`: a {} value is neither a \
                             number nor text",
                            match other {
                                ValueRef::Null => "NULL",
                                ValueRef::Blob(_) => "BLOB",
                                _ => "non-finite",
                            }
                        ))
                    }
                };
                values.push(Term::new(value, span));
            }
            out.push(fact(&table, values, span));
        }
    }
    Ok(out)
}
