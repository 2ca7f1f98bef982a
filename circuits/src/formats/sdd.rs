//! SDD text files, as libsdd's `sdd_save` (and PySDD) writes them, and the
//! variable count of their vtree files.
//!
//! ```text
//! c comment
//! sdd COUNT
//! F id | T id | L id vtree literal | D id vtree k prime1 sub1 … primek subk
//! ```
//!
//! Nodes come children first and the root is the last one. A decomposition
//! `D` is the sum over its elements of `prime ⊗ sub`; its primes are
//! mutually exclusive, so the circuit is deterministic by construction. The
//! vtree ids are not needed to evaluate the circuit and are only checked to
//! be numbers.

use std::collections::HashMap;

use super::{is_comment, parse_field, parse_literal, FormatError, MAX_VARIABLE};
use crate::circuit::{Circuit, CircuitBuilder, NodeId};

/// Reads an SDD file. Variable `v` becomes slot `v - 1`; the number of slots
/// is the largest variable mentioned.
pub fn read_sdd(text: &str) -> Result<Circuit, FormatError> {
    read_sdd_over(text, 0)
}

/// Reads an SDD file over at least `min_slots` slots.
pub(crate) fn read_sdd_over(text: &str, min_slots: u32) -> Result<Circuit, FormatError> {
    let mut b = CircuitBuilder::new(min_slots);
    // SDD id ↦ (node, line it was defined on).
    let mut ids = Ids::new(text.len());
    let mut header: Option<(usize, u64)> = None;
    let mut node_lines = 0u64;
    let mut root = None;
    let mut fields: Vec<&str> = Vec::new();
    for (i, text_line) in text.lines().enumerate() {
        let line = i + 1;
        fields.clear();
        fields.extend(text_line.split_ascii_whitespace());
        let Some(&tag) = fields.first() else { continue };
        if is_comment(tag) {
            continue;
        }
        if tag == "sdd" {
            if let Some((first, _)) = header {
                return Err(FormatError::at(line, format!("second `sdd` header (the first is on line {first})")));
            }
            if node_lines > 0 {
                return Err(FormatError::at(line, "the `sdd COUNT` header must come before the nodes"));
            }
            expect_fields(&fields, 2, "sdd COUNT", line)?;
            header = Some((line, parse_field(fields[1], "a node count", line)?));
            continue;
        }
        let arity = match tag {
            "F" | "T" => 2,
            "L" => 4,
            "D" => 4,
            _ => {
                return Err(FormatError::at(line, format!("unknown line tag `{tag}` (expected c, sdd, F, T, L or D)")));
            }
        };
        if header.is_none() {
            return Err(FormatError::at(line, "node line before the `sdd COUNT` header"));
        }
        if tag == "D" {
            if fields.len() < arity {
                return Err(FormatError::at(
                    line,
                    format!("`D` needs at least {arity} fields (D id vtree k prime sub …), found {}", fields.len()),
                ));
            }
        } else {
            let usage = match tag {
                "L" => "L id vtree literal",
                "F" => "F id",
                _ => "T id",
            };
            expect_fields(&fields, arity, usage, line)?;
        }
        let id: u64 = parse_field(fields[1], "a node id (a non-negative integer)", line)?;
        let node = match tag {
            "F" => b.constant(false),
            "T" => b.constant(true),
            "L" => {
                parse_field::<u64>(fields[2], "a vtree id (a non-negative integer)", line)?;
                let (slot, positive) = parse_literal(fields[3], line)?;
                b.literal(slot, positive)
            }
            _ => {
                parse_field::<u64>(fields[2], "a vtree id (a non-negative integer)", line)?;
                let k: u64 = parse_field(fields[3], "an element count (a non-negative integer)", line)?;
                let given = fields.len() - arity;
                if given as u128 != 2 * k as u128 {
                    let needed = 2 * k as u128;
                    let msg = format!(
                        "`D` node {id} declares {k} elements, which need {needed} prime and sub ids, \
                         but the line gives {given}"
                    );
                    return Err(FormatError::at(line, msg));
                }
                let mut terms = Vec::with_capacity(given / 2);
                for pair in fields[arity..].chunks_exact(2) {
                    let prime = lookup(&ids, pair[0], line)?;
                    let sub = lookup(&ids, pair[1], line)?;
                    terms.push(b.product(vec![prime, sub]));
                }
                b.sum(terms)
            }
        };
        if let Some((_, first)) = ids.get(id) {
            return Err(FormatError::at(line, format!("duplicate node id {id} (first defined on line {first})")));
        }
        ids.insert(id, (node, line));
        node_lines += 1;
        root = Some(node);
    }
    let Some((header_line, count)) = header else {
        return Err(FormatError::whole_file("empty file: no `sdd COUNT` header and no nodes"));
    };
    let Some(root) = root else {
        return Err(FormatError::at(header_line, "no nodes after the header (the root is the last node line)"));
    };
    if count != node_lines {
        return Err(FormatError::at(
            header_line,
            format!("header declares {count} nodes but the file has {node_lines} node lines"),
        ));
    }
    let mut circuit = b.finish(vec![root]);
    circuit.declare_deterministic("SDD");
    Ok(circuit)
}

/// The number of variables of a vtree file (as `sdd_vtree_save` writes it:
/// `vtree COUNT`, `L id variable`, `I id left right`): its largest variable.
pub(crate) fn vtree_num_vars(text: &str) -> Result<u32, FormatError> {
    let mut header: Option<(usize, u64)> = None;
    let mut node_lines = 0u64;
    let mut vars = 0u32;
    for (i, text_line) in text.lines().enumerate() {
        let line = i + 1;
        let fields: Vec<&str> = text_line.split_ascii_whitespace().collect();
        let Some(&tag) = fields.first() else { continue };
        if is_comment(tag) {
            continue;
        }
        match tag {
            "vtree" if header.is_none() && node_lines == 0 => {
                expect_fields(&fields, 2, "vtree COUNT", line)?;
                header = Some((line, parse_field(fields[1], "a node count", line)?));
            }
            "vtree" => return Err(FormatError::at(line, "`vtree COUNT` must be the first line, and only once")),
            "L" | "I" if header.is_none() => {
                return Err(FormatError::at(line, "node line before the `vtree COUNT` header"));
            }
            "L" => {
                expect_fields(&fields, 3, "L id variable", line)?;
                parse_field::<u64>(fields[1], "a vtree id (a non-negative integer)", line)?;
                let var: i64 = parse_field(fields[2], "a variable (a positive integer)", line)?;
                if !(1..=MAX_VARIABLE).contains(&var) {
                    return Err(FormatError::at(line, format!("variable {var} is out of range (1 to 2^31)")));
                }
                vars = vars.max(var as u32);
                node_lines += 1;
            }
            "I" => {
                expect_fields(&fields, 4, "I id left right", line)?;
                for f in &fields[1..] {
                    parse_field::<u64>(f, "a vtree id (a non-negative integer)", line)?;
                }
                node_lines += 1;
            }
            _ => return Err(FormatError::at(line, format!("unknown line tag `{tag}` (expected c, vtree, L or I)"))),
        }
    }
    let Some((header_line, count)) = header else {
        return Err(FormatError::whole_file("empty vtree file: no `vtree COUNT` header"));
    };
    if count != node_lines {
        return Err(FormatError::at(
            header_line,
            format!("header declares {count} nodes but the file has {node_lines} node lines"),
        ));
    }
    if vars == 0 {
        return Err(FormatError::at(header_line, "the vtree has no leaves"));
    }
    Ok(vars)
}

/// SDD id ↦ (node, line that defined it). libsdd numbers nodes densely from
/// 0, so ids index a vector; an id beyond a quarter of the text's length
/// (more than any dense numbering of its lines needs) goes to a map instead,
/// so the vector never outgrows the text.
struct Ids {
    dense: Vec<Option<(NodeId, usize)>>,
    sparse: HashMap<u64, (NodeId, usize)>,
    limit: u64,
}

impl Ids {
    fn new(text_len: usize) -> Self {
        Ids { dense: Vec::new(), sparse: HashMap::new(), limit: text_len as u64 / 4 }
    }

    fn get(&self, id: u64) -> Option<(NodeId, usize)> {
        if id < self.limit {
            self.dense.get(id as usize).copied().flatten()
        } else {
            self.sparse.get(&id).copied()
        }
    }

    fn insert(&mut self, id: u64, value: (NodeId, usize)) {
        if id < self.limit {
            let i = id as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, None);
            }
            self.dense[i] = Some(value);
        } else {
            self.sparse.insert(id, value);
        }
    }
}

fn expect_fields(fields: &[&str], n: usize, usage: &str, line: usize) -> Result<(), FormatError> {
    if fields.len() == n {
        return Ok(());
    }
    Err(FormatError::at(line, format!("`{usage}` has {n} fields, found {}", fields.len())))
}

fn lookup(ids: &Ids, field: &str, line: usize) -> Result<NodeId, FormatError> {
    let id: u64 = parse_field(field, "a node id (a non-negative integer)", line)?;
    match ids.get(id) {
        Some((node, _)) => Ok(node),
        None => Err(FormatError::at(line, format!("unknown node id {id} (nodes must be defined before use)"))),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::circuit::Node;
    use crate::properties::{check, Evidence, Knowledge};

    /// (x1 ∧ x2) ∨ (¬x1 ∧ x3).
    const SMALL: &str = "c a small SDD\nsdd 5\nL 1 0 1\nL 2 2 2\nL 3 0 -1\nL 4 4 3\nD 0 1 2 1 2 3 4\n";

    fn bench_dir() -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench/circuits")).to_path_buf()
    }

    fn err(text: &str) -> String {
        read_sdd(text).unwrap_err().to_string()
    }

    #[test]
    fn a_small_sdd_is_a_decomposable_deterministic_circuit() {
        let c = read_sdd(SMALL).unwrap();
        assert_eq!(c.num_slots(), 3);
        // false, true, 4 literals, 2 products, 1 sum.
        assert_eq!(c.num_nodes(), 9);
        assert_eq!(c.num_edges(), 6);
        let root = c.roots()[0];
        assert!(matches!(c.node(root), Node::Sum(cs) if cs.len() == 2));
        let p = check(&c);
        assert_eq!(p.decomposable, Knowledge::Holds(Evidence::Checked));
        assert_eq!(p.deterministic, Knowledge::Holds(Evidence::ByConstruction("SDD")));
    }

    #[test]
    fn constants_fold_and_the_root_is_the_last_node() {
        let c = read_sdd("sdd 4\nF 0\nT 1\nL 2 0 -5\nD 3 0 2 2 1 1 0\n").unwrap();
        assert_eq!(c.num_slots(), 5);
        // ¬x5 ⊗ ⊤ ⊕ ⊤ ⊗ ⊥ folds to the literal ¬x5.
        assert!(matches!(c.node(c.roots()[0]), Node::Literal(l) if l.dimacs() == -5));
        let f = read_sdd("sdd 1\nF 0\n").unwrap();
        assert_eq!(f.roots(), &[NodeId(0)]);
    }

    #[test]
    fn sparse_ids_read_like_dense_ones() {
        let sparse =
            SMALL.replace("D 0 ", "D 90000000000 ").replace("L 3 ", "L 4000000 ").replace(" 3 4\n", " 4000000 4\n");
        let (a, b) = (read_sdd(SMALL).unwrap(), read_sdd(&sparse).unwrap());
        assert_eq!((a.nodes(), a.roots()), (b.nodes(), b.roots()));
        let msg = err("sdd 2\nL 90000000000 0 1\nL 90000000000 0 2\n");
        assert!(msg.starts_with("line 3: duplicate node id 90000000000 (first defined on line 2)"), "{msg}");
    }

    #[test]
    fn malformed_files_name_the_line_and_the_problem() {
        let cases = [
            ("sdd 1\nX 0 1\n", "line 2: unknown line tag `X`"),
            ("sdd 1\nL 0 0\n", "line 2: `L id vtree literal` has 4 fields, found 3"),
            ("sdd 1\nF 0 0\n", "line 2: `F id` has 2 fields, found 3"),
            ("sdd 3\nL 1 0 1\nL 2 0 2\nD 0 1 2 1 2 1\n", "line 4: `D` node 0 declares 2 elements, which need 4"),
            ("sdd 1\nD 0 1\n", "line 2: `D` needs at least 4 fields"),
            ("sdd 1\nL x 0 1\n", "line 2: expected a node id (a non-negative integer), found `x`"),
            ("sdd 1\nL 1 0 1.5\n", "line 2: expected a literal (a non-zero integer), found `1.5`"),
            ("sdd 1\nL 1 v 1\n", "line 2: expected a vtree id"),
            ("sdd 2\nL 1 0 1\nD 0 1 1 1 57\n", "line 3: unknown node id 57 (nodes must be defined before use)"),
            ("sdd 2\nD 0 1 1 0 0\nL 0 0 1\n", "line 2: unknown node id 0 (nodes must be defined before use)"),
            ("sdd 2\nL 1 0 1\nL 1 0 2\n", "line 3: duplicate node id 1 (first defined on line 2)"),
            ("sdd 1\nL 1 0 0\n", "line 2: literal 0 is not a variable"),
            ("sdd 1\nL 1 0 -2147483649\n", "line 2: literal -2147483649 is out of range"),
            ("sdd many\n", "line 1: expected a node count, found `many`"),
            ("sdd 3\nL 1 0 1\nL 2 0 2\n", "line 1: header declares 3 nodes but the file has 2 node lines"),
            ("c nothing\n\nsdd 0\n", "line 3: no nodes after the header"),
            ("L 1 0 1\n", "line 1: node line before the `sdd COUNT` header"),
            ("sdd 1\nsdd 1\nL 1 0 1\n", "line 2: second `sdd` header (the first is on line 1)"),
        ];
        for (text, expected) in cases {
            let msg = err(text);
            assert!(msg.starts_with(expected), "{text:?}: got {msg:?}, expected {expected:?}");
        }
        assert_eq!(err(""), "empty file: no `sdd COUNT` header and no nodes");
        assert_eq!(err("c only a comment\n"), "empty file: no `sdd COUNT` header and no nodes");
        // The largest variable is accepted.
        assert_eq!(read_sdd("sdd 1\nL 1 0 -2147483648\n").unwrap().num_slots(), 1 << 31);
    }

    #[test]
    fn vtree_files_give_their_variable_count() {
        assert_eq!(vtree_num_vars("vtree 3\nL 0 1\nL 2 7\nI 1 0 2\n").unwrap(), 7);
        let msg = vtree_num_vars("vtree 1\nL 0 0\n").unwrap_err().to_string();
        assert!(msg.starts_with("line 2: variable 0 is out of range"), "{msg}");
        let msg = vtree_num_vars("vtree 1\nI 0 1\n").unwrap_err().to_string();
        assert!(msg.starts_with("line 2: `I id left right` has 4 fields, found 3"), "{msg}");
    }

    #[test]
    fn bench_sdds_have_the_reference_variable_counts() {
        let dir = bench_dir();
        let Ok(reference) = std::fs::read_to_string(dir.join("reference.json")) else {
            println!("skipped: no benchmark circuits at {}", dir.display());
            return;
        };
        let reference: serde_json::Value = serde_json::from_str(&reference).unwrap();
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "sdd") {
                continue;
            }
            let name = path.file_stem().unwrap().to_str().unwrap();
            let vars = reference[name]["vars"].as_u64().unwrap_or_else(|| panic!("{name} not in reference.json"));
            let text = std::fs::read_to_string(&path).unwrap();
            let alone = read_sdd(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // A variable the function ignores is in the vtree only.
            assert!(u64::from(alone.num_slots()) <= vars, "{name}");
            let with_vtree = super::super::read_path(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(u64::from(with_vtree.num_slots()), vars, "{name}");
            let props = check(&with_vtree);
            assert!(props.decomposable.holds() && props.deterministic.holds(), "{name}");
            seen += 1;
        }
        assert!(seen >= 1);
    }

    #[test]
    fn truncated_real_sdds_are_errors_not_panics() {
        let path = bench_dir().join("4-grid.sdd");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipped: {} is missing", path.display());
            return;
        };
        // The middle of a line in the middle of the file.
        let middle = text.len() / 2;
        let cut = middle + text[middle..].find(' ').unwrap();
        assert!(!text[..cut].ends_with('\n'));
        assert!(read_sdd(&text[..cut]).is_err());
        // Cuts everywhere but the last line, whose prefix may be a valid root.
        let last_line = text.trim_end().rfind('\n').unwrap();
        for cut in (1..last_line).step_by(97) {
            assert!(read_sdd(&text[..cut]).is_err(), "cut at byte {cut} was accepted");
        }
    }
}
