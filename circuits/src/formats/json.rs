//! The project's own circuit format: JSON, one node per line.
//!
//! ```text
//! {"format": "deeplog-circuit", "version": 1, "slots": 2, "deterministic": null,
//! "nodes": [
//! {"kind":"false"},
//! {"kind":"true"},
//! {"kind":"literal","slot":0,"positive":true},
//! {"kind":"literal","slot":1,"positive":false},
//! {"kind":"product","children":[2,3]}
//! ],
//! "roots": [4]}
//! ```
//!
//! Ids are indices into `nodes`, and every child id is smaller than its
//! parent's, so a file cannot describe a cycle. `deterministic` is the reason
//! the circuit was declared deterministic by its maker, or null. Reading
//! rebuilds through [`CircuitBuilder`], so a hand-written file is
//! hash-consed and constant-folded like any other circuit; a file written by
//! [`write_json`] reads back node for node.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{FormatError, MAX_VARIABLES};
use crate::circuit::{Circuit, CircuitBuilder, Node, NodeId, SlotId};
use crate::optimize::Rewrites;
use crate::properties::{test_determinism, Evidence, Knowledge};

const FORMAT: &str = "deeplog-circuit";
const VERSION: u64 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum JsonNode {
    False,
    True,
    Literal { slot: u32, positive: bool },
    Sum { children: Vec<u32> },
    Product { children: Vec<u32> },
}

/// The file, with the parts checked after parsing kept as raw text so that
/// their errors can name a line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File<'a> {
    #[serde(borrow)]
    format: &'a RawValue,
    #[serde(borrow)]
    version: &'a RawValue,
    #[serde(borrow)]
    slots: &'a RawValue,
    deterministic: Option<String>,
    /// The laws an optimiser rewrote the circuit by (`deeplog compile
    /// --optimize`): it may be evaluated only in algebras that satisfy them.
    #[serde(borrow, default)]
    rewritten: Option<&'a RawValue>,
    #[serde(borrow)]
    nodes: Vec<&'a RawValue>,
    #[serde(borrow)]
    roots: &'a RawValue,
    /// What the slots and roots mean, for a circuit compiled from a model
    /// (`deeplog compile`); the circuit reader does not need it.
    #[serde(borrow, default)]
    #[allow(dead_code)]
    model: Option<&'a RawValue>,
}

/// The circuit as JSON, one node per line.
pub fn write_json(circuit: &Circuit) -> String {
    write(circuit, None)
}

/// [`write_json`] with a `model` section: what the slots and roots mean
/// (any JSON value; `deeplog compile` writes the slot table and queries).
pub fn write_json_with_model(circuit: &Circuit, model: &serde_json::Value) -> String {
    write(circuit, Some(model))
}

/// The `model` section of a circuit file, if it has one.
pub fn read_json_model(text: &str) -> Result<Option<serde_json::Value>, FormatError> {
    let file: File = serde_json::from_str(text).map_err(|e| json_error(e, (1, 1)))?;
    file.model.map(|raw| parse(text, raw)).transpose()
}

fn write(circuit: &Circuit, model: Option<&serde_json::Value>) -> String {
    let inherited = circuit.inherited.and_then(|p| match p.deterministic {
        Knowledge::Holds(e) => Some(e),
        _ => None,
    });
    let deterministic = match circuit.declared_deterministic.or(inherited) {
        Some(Evidence::ByConstruction(why)) => to_json(&why),
        Some(Evidence::Checked) => to_json(&"checked"),
        None => "null".to_string(),
    };
    let rewritten = circuit.rewritten.map_or(String::new(), |r| format!(r#" "rewritten": "{}","#, r.name()));
    let mut out = String::with_capacity(64 + 48 * circuit.num_nodes());
    let slots = circuit.num_slots();
    let _ = writeln!(
        out,
        r#"{{"format": "{FORMAT}", "version": {VERSION}, "slots": {slots}, "deterministic": {deterministic},{rewritten}"#
    );
    out.push_str("\"nodes\": [\n");
    for (i, node) in circuit.nodes().iter().enumerate() {
        let ids = |cs: &[NodeId]| cs.iter().map(|c| c.0).collect();
        let node = match node {
            Node::False => JsonNode::False,
            Node::True => JsonNode::True,
            Node::Literal(l) => JsonNode::Literal { slot: l.slot.0, positive: l.positive },
            Node::Sum(cs) => JsonNode::Sum { children: ids(cs) },
            Node::Product(cs) => JsonNode::Product { children: ids(cs) },
        };
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&to_json(&node));
    }
    let roots: Vec<u32> = circuit.roots().iter().map(|r| r.0).collect();
    let _ = write!(out, "\n],\n\"roots\": {}", to_json(&roots));
    if let Some(model) = model {
        let _ = write!(out, ",\n\"model\": {}", to_json(model));
    }
    out.push_str("}\n");
    out
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serializes")
}

/// Reads a circuit written by [`write_json`] (or by hand in the same shape).
pub fn read_json(text: &str) -> Result<Circuit, FormatError> {
    let file: File = serde_json::from_str(text).map_err(|e| json_error(e, (1, 1)))?;
    let format: String = parse(text, file.format)?;
    if format != FORMAT {
        let msg = format!("not a deeplog circuit file: `format` is {format:?}, expected \"{FORMAT}\"");
        return Err(at(text, file.format, msg));
    }
    let version: u64 = parse(text, file.version)?;
    if version != VERSION {
        return Err(at(
            text,
            file.version,
            format!("unsupported version {version} (this reader knows version {VERSION})"),
        ));
    }
    let slots: u32 = parse(text, file.slots)?;
    if slots > MAX_VARIABLES {
        let msg = format!("{slots} slots is more than the {MAX_VARIABLES} (2^26) a file may have");
        return Err(at(text, file.slots, msg));
    }
    let mut b = CircuitBuilder::new(slots);
    let mut ids: Vec<NodeId> = Vec::with_capacity(file.nodes.len());
    for (i, &raw) in file.nodes.iter().enumerate() {
        let children = |cs: Vec<u32>| -> Result<Vec<NodeId>, FormatError> {
            cs.into_iter()
                .map(|c| {
                    ids.get(c as usize).copied().ok_or_else(|| {
                        let msg = format!(
                            "node {i}: child {c} is not an earlier node (children must come before their parents, \
                             which rules out cycles)"
                        );
                        at(text, raw, msg)
                    })
                })
                .collect()
        };
        let id = match parse(text, raw)? {
            JsonNode::False => b.constant(false),
            JsonNode::True => b.constant(true),
            JsonNode::Literal { slot, positive } => {
                if slot >= slots {
                    return Err(at(
                        text,
                        raw,
                        format!("node {i}: slot {slot} is out of range (the file has {slots} slots)"),
                    ));
                }
                b.literal(SlotId(slot), positive)
            }
            JsonNode::Sum { children: cs } => {
                let cs = children(cs)?;
                b.sum(cs)
            }
            JsonNode::Product { children: cs } => {
                let cs = children(cs)?;
                b.product(cs)
            }
        };
        ids.push(id);
    }
    let roots: Vec<u32> = parse(text, file.roots)?;
    let roots = roots
        .into_iter()
        .map(|r| {
            ids.get(r as usize).copied().ok_or_else(|| {
                at(text, file.roots, format!("root {r} is out of range (the file has {} nodes)", ids.len()))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut circuit = b.finish(roots);
    if file.deterministic.is_some() {
        // The declaration is trusted only as far as 64 sampled assignments
        // (or all, for up to 6 variables) bear it out.
        let size = (circuit.num_nodes() + circuit.num_edges()) as u64;
        if let Some(o) = test_determinism(&circuit, size).overlap {
            let file_index = |n: NodeId| ids.iter().position(|&id| id == n).unwrap_or(0);
            let (sum, [a, b]) = (file_index(o.sum), o.children.map(file_index));
            let msg = format!(
                "node {sum}: the file declares the circuit deterministic, yet this sum's children {a} and {b} both \
                 hold under one assignment"
            );
            return Err(at(text, file.nodes[sum], msg));
        }
        circuit.declare_deterministic("declared in file");
    }
    if let Some(raw) = file.rewritten {
        let name: String = parse(text, raw)?;
        let rewrites = Rewrites::from_name(&name).ok_or_else(|| {
            at(text, raw, format!("unknown `rewritten` laws {name:?} (expected associative, semiring or lattice)"))
        })?;
        circuit.declare_rewritten(rewrites);
    }
    Ok(circuit)
}

/// Line and column (1-based) where `raw`, a slice of `text`, starts.
fn position(text: &str, raw: &RawValue) -> (usize, usize) {
    let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize).min(text.len());
    let before = &text.as_bytes()[..offset];
    let line_start = before.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
    (1 + before.iter().filter(|&&c| c == b'\n').count(), 1 + offset - line_start)
}

fn at(text: &str, raw: &RawValue, message: String) -> FormatError {
    FormatError::at(position(text, raw).0, message)
}

fn parse<'a, T: Deserialize<'a>>(text: &str, raw: &'a RawValue) -> Result<T, FormatError> {
    serde_json::from_str(raw.get()).map_err(|e| json_error(e, position(text, raw)))
}

/// A serde_json error in text that starts at `start` (line, column) of the
/// file, placed in the file. Some errors carry no position (a field missing
/// from a tagged node); they are placed at the start of what was parsed.
fn json_error(e: serde_json::Error, start: (usize, usize)) -> FormatError {
    let full = e.to_string();
    // serde_json appends " at line L column C", relative to what it parsed.
    let message = full.rfind(" at line ").map_or(full.as_str(), |i| &full[..i]);
    if e.line() == 0 {
        return FormatError::at(start.0, format!("{message} (column {})", start.1));
    }
    let line = start.0 + e.line() - 1;
    let column = if e.line() == 1 { start.1 + e.column() - 1 } else { e.column() };
    FormatError::at(line, format!("{message} (column {column})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::read_sdd;
    use crate::properties::{check, Knowledge};

    fn err(text: &str) -> String {
        read_json(text).unwrap_err().to_string()
    }

    fn small() -> Circuit {
        let mut b = CircuitBuilder::new(3);
        let (x, nx) = (b.literal(SlotId(0), true), b.literal(SlotId(0), false));
        let y = b.literal(SlotId(2), true);
        let p = b.product(vec![nx, y]);
        let s = b.sum(vec![x, p]);
        b.finish(vec![s, p, s])
    }

    fn assert_same(a: &Circuit, b: &Circuit) {
        assert_eq!(a.nodes(), b.nodes());
        assert_eq!(a.roots(), b.roots());
        assert_eq!(a.num_slots(), b.num_slots());
        assert_eq!((a.num_nodes(), a.num_edges()), (b.num_nodes(), b.num_edges()));
    }

    #[test]
    fn round_trips_keep_nodes_roots_and_declared_determinism() {
        let c = small();
        let text = write_json(&c);
        assert!(text.starts_with(r#"{"format": "deeplog-circuit", "version": 1, "slots": 3, "deterministic": null,"#));
        let back = read_json(&text).unwrap();
        assert_same(&c, &back);
        assert_eq!(back.declared_deterministic, None);

        let sdd = read_sdd("sdd 5\nL 1 0 1\nL 2 2 2\nL 3 0 -1\nL 4 4 3\nD 0 1 2 1 2 3 4\n").unwrap();
        let text = write_json(&sdd);
        assert!(text.contains(r#""deterministic": "SDD","#));
        let back = read_json(&text).unwrap();
        assert_same(&sdd, &back);
        assert_eq!(check(&back).deterministic, Knowledge::Holds(Evidence::ByConstruction("declared in file")));
    }

    #[test]
    fn a_real_sdd_round_trips() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench/circuits/4-grid.sdd");
        let Ok(text) = std::fs::read_to_string(path) else {
            println!("skipped: {path} is missing");
            return;
        };
        let c = read_sdd(&text).unwrap();
        assert_same(&c, &read_json(&write_json(&c)).unwrap());
    }

    #[test]
    fn hand_written_files_are_rebuilt_through_the_builder() {
        let text = r#"{"format": "deeplog-circuit", "version": 1, "slots": 2,
            "nodes": [{"kind": "literal", "slot": 1, "positive": true}, {"kind": "true"},
                      {"kind": "product", "children": [0, 1]}, {"kind": "sum", "children": []}],
            "roots": [2, 3]}"#;
        let c = read_json(text).unwrap();
        // x2 ⊗ ⊤ folds to x2; the empty sum is false.
        assert_eq!(c.num_nodes(), 3);
        assert!(matches!(c.node(c.roots()[0]), Node::Literal(l) if l.dimacs() == 2));
        assert_eq!(c.roots()[1], NodeId(0));
    }

    #[test]
    fn malformed_files_name_the_line_and_the_problem() {
        let good = write_json(&small());
        // Line 1 is the header, line 2 `"nodes": [`, node i is on line i + 3.
        let cases = [
            (good.replace("deeplog-circuit", "other"), "line 1: not a deeplog circuit file: `format` is \"other\""),
            (good.replace("\"version\": 1", "\"version\": 2"), "line 1: unsupported version 2 (this reader knows"),
            (good.replace("\"slot\":2", "\"slot\":7"), "line 7: node 4: slot 7 is out of range (the file has 3 slots)"),
            (
                good.replace("\"children\":[2,5]", "\"children\":[2,6]"),
                "line 9: node 6: child 6 is not an earlier node (children must come before their parents, which \
                 rules out cycles)",
            ),
            (good.replace("\"roots\": [6,5,6]", "\"roots\": [6,9]"), "line 11: root 9 is out of range (the file has 7"),
            (good.replace("\"kind\":\"true\"", "\"kind\":\"maybe\""), "line 4: unknown variant `maybe`"),
            (good.replace("\"slot\":2,", ""), "line 7: missing field `slot`"),
            (
                good.replace("\"positive\":false", "\"positive\":0"),
                "line 6: invalid type: integer `0`, expected a boolean",
            ),
            (good.replace("\"slots\": 3", "\"slots\": -3"), "line 1: invalid value: integer `-3`, expected u32"),
            (
                good.replace("\"slots\": 3", "\"slots\": 2000000000"),
                "line 1: 2000000000 slots is more than the 67108864 (2^26) a file may have",
            ),
            (
                good.replace("\"deterministic\": null", "\"deterministic\": \"SDD\"").replace("[2,5]", "[2,4]"),
                "line 9: node 6: the file declares the circuit deterministic, yet this sum's children 2 and 4 both \
                 hold under one assignment",
            ),
            (good.replace("[3,4]", "[3,4"), "line 8: "),
            (good.replace(",\n\"roots\": [6,5,6]", ""), "line 10: missing field `roots`"),
            (good.replace("\"deterministic\"", "\"determinstic\""), "line 1: unknown field `determinstic`"),
        ];
        for (text, expected) in &cases {
            let msg = err(text);
            assert!(msg.starts_with(expected), "got {msg:?}, expected {expected:?} in\n{text}");
        }
        assert_eq!(err(""), "line 1: EOF while parsing a value (column 0)");
        // Errors on one long line still say where.
        let one_line = good.replace('\n', " ").replace("\"slot\":2", "\"slot\":true");
        let column = one_line.find(r#"{"kind":"literal","slot":true"#).unwrap() + 1;
        let expected = format!("line 1: invalid type: boolean `true`, expected u32 (column {column})");
        assert_eq!(err(&one_line), expected);
    }
}
