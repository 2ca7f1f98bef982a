//! Circuit files: SDD (`.sdd`), d-DNNF (`.nnf`, c2d and d4 dialects), the
//! project's JSON format, and Graphviz DOT output.
//!
//! Readers take the file's text and build through
//! [`CircuitBuilder`](crate::CircuitBuilder), so a circuit read from a file
//! keeps every IR invariant (children first, hash-consed, constants folded).
//! A malformed file is a [`FormatError`] with the 1-based line it was found
//! on, never a panic. [`read_path`] picks the reader by extension and adds
//! the path to the error. No count a file states sizes memory beyond
//! [`MAX_VARIABLES`]; what each format promises is checked where linear
//! time allows and sampled where not (determinism: 64 assignments per
//! node, evaluated while reading); `docs/circuit-files.md` lists both.
//!
//! ```
//! use deeplog_circuits::formats::{read_json, read_sdd, write_json};
//!
//! // (x1 ∧ x2) ∨ (¬x1 ∧ x3), as libsdd writes it.
//! let sdd = "sdd 5\nL 1 0 1\nL 2 2 2\nL 3 0 -1\nL 4 4 3\nD 0 1 2 1 2 3 4\n";
//! let circuit = read_sdd(sdd).unwrap();
//! assert_eq!((circuit.num_slots(), circuit.num_edges()), (3, 6));
//! let again = read_json(&write_json(&circuit)).unwrap();
//! assert_eq!(again.num_nodes(), circuit.num_nodes());
//!
//! let err = read_sdd("sdd 1\nD 0 1 1 7 8\n").unwrap_err();
//! assert_eq!(err.to_string(), "line 2: unknown node id 7 (nodes must be defined before use)");
//! ```

mod cnf;
mod dot;
mod json;
mod nnf;
mod sdd;
pub mod text;
mod vtree;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::circuit::{Circuit, SlotId};

pub use cnf::{read_cnf, Cnf};
pub use dot::write_dot;
pub use json::{read_json, read_json_model, write_json, write_json_with_model};
pub use nnf::read_nnf;
pub use sdd::read_sdd;
pub use text::{read_text, TextError};
pub use write::{output_target, remove_temporaries, write_atomically, Target};

/// A malformed circuit file: what is wrong and on which line (1-based),
/// where a line can be named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub line: Option<usize>,
    pub message: String,
}

impl FormatError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        FormatError { line: Some(line), message: message.into() }
    }

    fn whole_file(message: impl Into<String>) -> Self {
        FormatError { line: None, message: message.into() }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FormatError {}

/// Why [`read_path`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Text(#[from] TextError),
    #[error("{}: unknown circuit file extension (known: .sdd, .nnf, .json)", path.display())]
    UnknownExtension { path: PathBuf },
    #[error("{}{}: {}", path.display(), error.line.map(|l| format!(":{l}")).unwrap_or_default(), error.message)]
    Format { path: PathBuf, error: FormatError },
}

/// Reads a circuit file, choosing the format by extension: `.sdd`, `.nnf`
/// or `.json`.
///
/// An SDD does not record variables that its function does not depend on,
/// so for `a.sdd` the variable count of its vtree `a.vtree` is used when
/// that file exists (it is what model counts and weights range over), and
/// the SDD is checked against it (see [`read_sdd`]'s module).
pub fn read_path(path: &Path) -> Result<Circuit, ReadError> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let read = |path: &Path| read_text(path).map_err(ReadError::from);
    match extension.as_str() {
        "sdd" => {
            let text = read(path)?;
            let vtree_path = path.with_extension("vtree");
            if !vtree_path.is_file() {
                return read_sdd(&text).map_err(in_file(path));
            }
            let vtree = vtree::Vtree::parse(&read(&vtree_path)?).map_err(in_file(&vtree_path))?;
            sdd::read_sdd_with(&text, Some(&vtree)).map_err(in_file(path))
        }
        "nnf" => read_nnf(&read(path)?).map_err(in_file(path)),
        "json" => read_json(&read(path)?).map_err(in_file(path)),
        _ => Err(ReadError::UnknownExtension { path: path.into() }),
    }
}

fn in_file(path: &Path) -> impl FnOnce(FormatError) -> ReadError + '_ {
    move |error| ReadError::Format { path: path.into(), error }
}

/// The most variables (slots) a file may have, whether a header states the
/// count or a literal, a vtree leaf or a `slots` field names the variable:
/// 2^26. Evaluation holds a value per slot and batch row, so a number that a
/// file of a few bytes merely states must not decide how much memory is
/// taken: 2^26 slots are already 512 MiB per row of `f64` (the largest
/// shared benchmark circuit has 500 variables). A larger count is an error
/// at its line.
pub const MAX_VARIABLES: u32 = 1 << 26;

/// `count` checked against [`MAX_VARIABLES`]; `what` names it in the error.
fn variable_count(count: i64, what: &str, line: usize) -> Result<u32, FormatError> {
    if (0..=i64::from(MAX_VARIABLES)).contains(&count) {
        return Ok(count as u32);
    }
    let message = if count < 0 {
        format!("{what} {count} is negative")
    } else {
        format!("{what} {count} is more than the {MAX_VARIABLES} (2^26) variables a file may have")
    };
    Err(FormatError::at(line, message))
}

/// Parses one whitespace-separated field as a number, naming what was
/// expected when it is not one.
fn parse_field<T: FromStr>(field: &str, what: &str, line: usize) -> Result<T, FormatError> {
    field.parse().map_err(|_| FormatError::at(line, format!("expected {what}, found `{field}`")))
}

/// Parses a signed, 1-based DIMACS literal into a slot and a polarity.
fn parse_literal(field: &str, line: usize) -> Result<(SlotId, bool), FormatError> {
    let lit: i64 = parse_field(field, "a literal (a non-zero integer)", line)?;
    if lit == 0 {
        return Err(FormatError::at(line, "literal 0 is not a variable (variables are numbered from 1)"));
    }
    if lit.unsigned_abs() > u64::from(MAX_VARIABLES) {
        let message = format!("literal {lit} names a variable beyond the {MAX_VARIABLES} (2^26) a file may have");
        return Err(FormatError::at(line, message));
    }
    Ok((SlotId((lit.unsigned_abs() - 1) as u32), lit > 0))
}

/// Checks that a line has `n` fields, naming its shape (`usage`) if not.
fn expect_fields(fields: &[&str], n: usize, usage: &str, line: usize) -> Result<(), FormatError> {
    if fields.len() == n {
        return Ok(());
    }
    Err(FormatError::at(line, format!("`{usage}` has {n} fields, found {}", fields.len())))
}

/// Whether a line is a DIMACS-style comment.
fn is_comment(tag: &str) -> bool {
    tag.starts_with('c')
}

/// The data lines of a DIMACS-style file (SDD, vtree, NNF): blank and
/// comment lines skipped, each line as its number (from 1) and its
/// whitespace-separated fields, never empty. The fields share one buffer,
/// so reading a file of millions of lines allocates once:
/// `while let Some((line, fields)) = lines.next_line()`.
struct DataLines<'t> {
    lines: std::iter::Enumerate<std::str::Lines<'t>>,
    fields: Vec<&'t str>,
}

impl<'t> DataLines<'t> {
    fn new(text: &'t str) -> Self {
        DataLines { lines: text.lines().enumerate(), fields: Vec::new() }
    }

    fn next_line(&mut self) -> Option<(usize, &[&'t str])> {
        let line = loop {
            let (i, text_line) = self.lines.next()?;
            self.fields.clear();
            self.fields.extend(text_line.split_ascii_whitespace());
            if self.fields.first().is_some_and(|tag| !is_comment(tag)) {
                break i + 1;
            }
        };
        Some((line, &self.fields))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("deeplog-formats-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn format_errors_show_their_line() {
        let e = FormatError::at(12, "unknown node id 57");
        assert_eq!(e.to_string(), "line 12: unknown node id 57");
        assert_eq!(FormatError::whole_file("file has no nodes").to_string(), "file has no nodes");
        let r = ReadError::Format { path: "a.sdd".into(), error: e };
        assert_eq!(r.to_string(), "a.sdd:12: unknown node id 57");
    }

    #[test]
    fn read_path_dispatches_on_extension_and_names_the_file() {
        let dir = temp_dir("dispatch");
        let sdd = dir.join("f.sdd");
        write_atomically(&sdd, "sdd 2\nL 1 0 1\nL 2 2 -2\n").unwrap();
        assert_eq!(read_path(&sdd).unwrap().num_slots(), 2);
        let nnf = dir.join("f.nnf");
        write_atomically(&nnf, "nnf 2 1 1\nL 1\nA 1 0\n").unwrap();
        assert_eq!(read_path(&nnf).unwrap().num_slots(), 1);
        let json = dir.join("f.json");
        write_atomically(&json, &write_json(&read_path(&sdd).unwrap())).unwrap();
        assert_eq!(read_path(&json).unwrap().num_slots(), 2);

        let bad = dir.join("bad.nnf");
        write_atomically(&bad, "nnf 1 0 1\nL 0\n").unwrap();
        let msg = read_path(&bad).unwrap_err().to_string();
        assert!(msg.ends_with("bad.nnf:2: literal 0 is not a variable (variables are numbered from 1)"), "{msg}");

        let msg = read_path(&dir.join("f.txt")).unwrap_err().to_string();
        assert!(msg.contains("unknown circuit file extension") && msg.contains(".sdd, .nnf, .json"), "{msg}");
        let msg = read_path(&dir.join("missing.sdd")).unwrap_err().to_string();
        assert!(msg.starts_with("cannot read ") && msg.contains("missing.sdd: "), "{msg}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_sibling_vtree_supplies_variables_the_sdd_does_not_mention() {
        let dir = temp_dir("vtree");
        let sdd = dir.join("g.sdd");
        write_atomically(&sdd, "sdd 1\nL 1 2 2\n").unwrap();
        assert_eq!(read_path(&sdd).unwrap().num_slots(), 2);
        let vtree = dir.join("g.vtree");
        write_atomically(&vtree, "c three variables\nvtree 5\nL 0 1\nL 2 2\nL 4 3\nI 3 2 4\nI 1 0 3\n").unwrap();
        assert_eq!(read_path(&sdd).unwrap().num_slots(), 3);

        write_atomically(&vtree, "vtree 1\nL 0 1\n").unwrap();
        let msg = read_path(&sdd).unwrap_err().to_string();
        assert!(msg.ends_with("g.sdd:2: literal 2 at vtree node 2, which the vtree lacks"), "{msg}");
        write_atomically(&vtree, "vtree 2\nL 0 1\n").unwrap();
        let msg = read_path(&sdd).unwrap_err().to_string();
        assert!(msg.contains("g.vtree:1: header declares 2 nodes but the file has 1"), "{msg}");
        write_atomically(&vtree, "vtree 1\nL 0 2000000000\n").unwrap();
        let msg = read_path(&sdd).unwrap_err().to_string();
        assert!(msg.contains("g.vtree:2: variable 2000000000 is more than the 67108864 (2^26)"), "{msg}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writing_atomically_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = temp_dir("atomic");
        let target = dir.join("out.json");
        write_atomically(&target, "first version, longer").unwrap();
        write_atomically(&target, "second").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "second");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        // A directory that does not exist: an error, and nothing written.
        assert!(write_atomically(&dir.join("no/such/dir.json"), "x").is_err());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
