//! SDD text files, as libsdd's `sdd_save` (and PySDD) writes them.
//!
//! ```text
//! c comment
//! sdd COUNT
//! F id | T id | L id vtree literal | D id vtree k prime1 sub1 … primek subk
//! ```
//!
//! Nodes come children first and the root is the last one. A decomposition
//! `D` is the sum over its elements of `prime ⊗ sub`; its primes partition
//! the assignments (exclusive, exhaustive, never false), which makes the
//! circuit deterministic, and with a vtree its primes' variables lie left
//! and its subs' right of its vtree node, which makes it decomposable.
//!
//! A reader cannot prove that primes partition in linear time, so it
//! checks what it can and samples the rest:
//!
//! * **Always**: every line's shape and numbers; ids defined before use;
//!   each vtree leaf id holding one variable and each variable one leaf id,
//!   and no leaf id used by a decision; every decision having an element, no
//!   ⊥ prime, a ⊤ prime only alone, no prime twice; and the primes of every
//!   decision evaluated under 64 pseudo-random assignments (one bit each of
//!   a `u64`, in the same pass as reading): exactly one prime must hold in
//!   each. A file that fails is refused at the decision's line.
//! * **With the vtree** ([`read_path`](super::read_path) uses `a.vtree`
//!   beside `a.sdd`): every literal sits at the leaf of its variable, and
//!   every decision is normalised for its vtree node (primes in its left
//!   subtree, subs in its right). The circuit is then decomposable by
//!   construction, so the property check need not collect slot sets.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use super::vtree::{Vtree, VtreeNode};
use super::{expect_fields, parse_field, parse_literal, DataLines, FormatError};
use crate::circuit::{Circuit, CircuitBuilder, NodeId};
use crate::properties::random_bits;

/// Reads an SDD file without its vtree. Variable `v` becomes slot `v - 1`;
/// the number of slots is the largest variable mentioned.
pub fn read_sdd(text: &str) -> Result<Circuit, FormatError> {
    read_sdd_with(text, None)
}

/// What an SDD node is, as far as the checks need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    False,
    True,
    Literal,
    Decision,
}

/// One SDD node read.
#[derive(Clone, Copy, Debug)]
struct Entry {
    node: NodeId,
    kind: Kind,
    line: usize,
    /// Its vtree node (an index into the vtree), where there is a vtree and
    /// the node is no constant.
    vtree: u32,
    /// Its value under the 64 sampled assignments.
    value: u64,
}

/// One element of a decision: its prime and sub, with their ids.
#[derive(Clone, Copy, Debug)]
struct Element {
    prime_id: u64,
    prime: Entry,
    sub_id: u64,
    sub: Entry,
}

/// Vtree ids of a file read without its vtree: what each id was used as.
#[derive(Default)]
struct Leaves {
    /// Vtree id ↦ (the variable of its literals, or none for a decision's,
    /// and the first line that used it).
    used: FxHashMap<u64, (Option<u32>, usize)>,
    /// Variable ↦ (its vtree id, the first line).
    leaf_of: FxHashMap<u32, (u64, usize)>,
}

impl Leaves {
    fn literal(&mut self, vtree: u64, var: u32, line: usize) -> Result<(), FormatError> {
        match self.used.get(&vtree) {
            Some(&(Some(other), first)) if other != var => {
                let msg = format!(
                    "variable {var} at vtree node {vtree}, which holds variable {other} (line {first}): \
                     a vtree leaf holds one variable"
                );
                return Err(FormatError::at(line, msg));
            }
            Some(&(None, first)) => return Err(used_as_both(vtree, first, line)),
            Some(_) => {}
            None => {
                self.used.insert(vtree, (Some(var), line));
            }
        }
        match self.leaf_of.get(&var) {
            Some(&(other, first)) if other != vtree => {
                let msg = format!(
                    "variable {var} at vtree node {vtree}, but at vtree node {other} on line {first}: \
                     a variable has one vtree leaf"
                );
                Err(FormatError::at(line, msg))
            }
            Some(_) => Ok(()),
            None => {
                self.leaf_of.insert(var, (vtree, line));
                Ok(())
            }
        }
    }

    fn decision(&mut self, vtree: u64, line: usize) -> Result<(), FormatError> {
        match self.used.get(&vtree) {
            Some(&(Some(_), first)) => Err(used_as_both(vtree, first, line)),
            Some(_) => Ok(()),
            None => {
                self.used.insert(vtree, (None, line));
                Ok(())
            }
        }
    }
}

fn used_as_both(vtree: u64, first: usize, line: usize) -> FormatError {
    let msg =
        format!("vtree node {vtree} holds a literal on one of lines {first} and {line} and a decision on the other");
    FormatError::at(line, msg)
}

/// Reads an SDD file, checked against its vtree where one is given (its
/// slots then are the vtree's variables, which may be more than the file
/// mentions).
pub(crate) fn read_sdd_with(text: &str, vtree: Option<&Vtree>) -> Result<Circuit, FormatError> {
    let mut b = CircuitBuilder::new(vtree.map_or(0, |v| v.num_vars));
    let mut ids = Ids::new(text.len());
    let mut leaves = Leaves::default();
    let mut header: Option<(usize, u64)> = None;
    let mut node_lines = 0u64;
    let mut root = None;
    let mut elements: Vec<Element> = Vec::new();
    let mut lines = DataLines::new(text);
    while let Some((line, fields)) = lines.next_line() {
        let tag = fields[0];
        if tag == "sdd" {
            if let Some((first, _)) = header {
                return Err(FormatError::at(line, format!("second `sdd` header (the first is on line {first})")));
            }
            if node_lines > 0 {
                return Err(FormatError::at(line, "the `sdd COUNT` header must come before the nodes"));
            }
            expect_fields(fields, 2, "sdd COUNT", line)?;
            header = Some((line, parse_field(fields[1], "a node count", line)?));
            continue;
        }
        let usage = match tag {
            "F" => "F id",
            "T" => "T id",
            "L" => "L id vtree literal",
            "D" => "D id vtree k prime sub …",
            _ => {
                return Err(FormatError::at(line, format!("unknown line tag `{tag}` (expected c, sdd, F, T, L or D)")));
            }
        };
        if header.is_none() {
            return Err(FormatError::at(line, "node line before the `sdd COUNT` header"));
        }
        if tag == "D" {
            if fields.len() < 4 {
                let msg = format!("`D` needs at least 4 fields (D id vtree k prime sub …), found {}", fields.len());
                return Err(FormatError::at(line, msg));
            }
        } else {
            expect_fields(fields, if tag == "L" { 4 } else { 2 }, usage, line)?;
        }
        let id: u64 = parse_field(fields[1], "a node id (a non-negative integer)", line)?;
        if let Some(first) = ids.get(id) {
            let msg = format!("duplicate node id {id} (first defined on line {})", first.line);
            return Err(FormatError::at(line, msg));
        }
        let constant = |node, kind, value| Entry { node, kind, line, vtree: u32::MAX, value };
        let entry = match tag {
            "F" => constant(b.constant(false), Kind::False, 0),
            "T" => constant(b.constant(true), Kind::True, !0),
            "L" => {
                let at: u64 = parse_field(fields[2], "a vtree id (a non-negative integer)", line)?;
                let (slot, positive) = parse_literal(fields[3], line)?;
                let var = slot.0 + 1;
                let vtree = match vtree {
                    Some(v) => literal_leaf(v, at, var, fields[3], line)?,
                    None => {
                        leaves.literal(at, var, line)?;
                        u32::MAX
                    }
                };
                let bits = random_bits(0, slot.0);
                let value = if positive { bits } else { !bits };
                Entry { node: b.literal(slot, positive), kind: Kind::Literal, line, vtree, value }
            }
            _ => {
                let at: u64 = parse_field(fields[2], "a vtree id (a non-negative integer)", line)?;
                let k: u64 = parse_field(fields[3], "an element count (a non-negative integer)", line)?;
                let given = fields.len() - 4;
                if given as u128 != 2 * k as u128 {
                    let msg = format!(
                        "`D` node {id} declares {k} elements, which need {} prime and sub ids, but the line gives \
                         {given}",
                        2 * k as u128
                    );
                    return Err(FormatError::at(line, msg));
                }
                if k == 0 {
                    return Err(FormatError::at(line, format!("`D` node {id} has no elements")));
                }
                elements.clear();
                for pair in fields[4..].chunks_exact(2) {
                    let (prime_id, prime) = lookup(&ids, pair[0], line)?;
                    let (sub_id, sub) = lookup(&ids, pair[1], line)?;
                    elements.push(Element { prime_id, prime, sub_id, sub });
                }
                let vtree = match vtree {
                    Some(v) => normalised(v, at, id, &elements, line)?,
                    None => {
                        leaves.decision(at, line)?;
                        u32::MAX
                    }
                };
                let value = partition(id, &mut elements, line)?;
                let terms = elements.iter().map(|e| b.product(vec![e.prime.node, e.sub.node])).collect();
                Entry { node: b.sum(terms), kind: Kind::Decision, line, vtree, value }
            }
        };
        ids.insert(id, entry);
        node_lines += 1;
        root = Some(entry.node);
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
    if vtree.is_some() {
        circuit.declare_decomposable("SDD normalised for its vtree");
    }
    Ok(circuit)
}

/// The vtree leaf of a literal of `var` at vtree id `at`.
fn literal_leaf(vtree: &Vtree, at: u64, var: u32, literal: &str, line: usize) -> Result<u32, FormatError> {
    let Some(leaf) = vtree.find(at) else {
        return Err(FormatError::at(line, format!("literal {literal} at vtree node {at}, which the vtree lacks")));
    };
    match vtree.node(leaf) {
        VtreeNode::Leaf { var: v } if v == var => Ok(leaf),
        VtreeNode::Leaf { var: v } => {
            let msg = format!("literal {literal} at vtree node {at}, which is the leaf of variable {v}");
            Err(FormatError::at(line, msg))
        }
        VtreeNode::Internal { .. } => {
            Err(FormatError::at(line, format!("literal {literal} at vtree node {at}, which is no leaf")))
        }
    }
}

/// Checks that decision `id` at vtree id `at` is normalised for it: primes
/// in its left subtree, subs in its right (constants anywhere). Returns
/// the vtree node.
fn normalised(vtree: &Vtree, at: u64, id: u64, elements: &[Element], line: usize) -> Result<u32, FormatError> {
    let Some(node) = vtree.find(at) else {
        return Err(FormatError::at(line, format!("decision node {id} at vtree node {at}, which the vtree lacks")));
    };
    let VtreeNode::Internal { left, right } = vtree.node(node) else {
        return Err(FormatError::at(line, format!("decision node {id} at vtree node {at}, which is a leaf")));
    };
    for e in elements {
        for (what, n, entry, side, name) in
            [("prime", e.prime_id, e.prime, left, "left"), ("sub", e.sub_id, e.sub, right, "right")]
        {
            if matches!(entry.kind, Kind::Literal | Kind::Decision) && !vtree.within(entry.vtree, side) {
                let msg = format!(
                    "decision node {id} is not normalised for vtree node {at}: its {what} {n} (line {}) lies \
                     outside the {name} subtree",
                    entry.line
                );
                return Err(FormatError::at(line, msg));
            }
        }
    }
    Ok(node)
}

/// Checks that the primes of decision `id` can partition the assignments
/// (none ⊥, a ⊤ only alone, none twice) and do in the sampled ones (exactly
/// one holds in each), and returns the decision's sampled value. Sorts
/// `elements` by prime.
fn partition(id: u64, elements: &mut [Element], line: usize) -> Result<u64, FormatError> {
    let k = elements.len();
    for e in elements.iter() {
        let why = match e.prime.kind {
            Kind::False => "is ⊥ (an SDD's primes are never false)",
            Kind::True if k > 1 => "is ⊤ beside other primes (a ⊤ prime is the only one)",
            _ => continue,
        };
        return Err(FormatError::at(line, format!("decision node {id}: prime {} {why}", e.prime_id)));
    }
    let (mut seen, mut value) = (0u64, 0u64);
    for (n, e) in elements.iter().enumerate() {
        let both = seen & e.prime.value;
        if both != 0 {
            let q = elements[..n].iter().find(|d| d.prime.value & both != 0).map_or(e.prime_id, |d| d.prime_id);
            let p = e.prime_id;
            let msg = if q == p {
                format!("decision node {id}: prime {p} appears twice")
            } else {
                format!(
                    "decision node {id}: primes {q} and {p} both hold under a sampled assignment (an SDD's primes \
                     are mutually exclusive)"
                )
            };
            return Err(FormatError::at(line, msg));
        }
        seen |= e.prime.value;
        value |= e.prime.value & e.sub.value;
    }
    if seen != !0 {
        let msg = format!(
            "decision node {id}: no prime holds under a sampled assignment (an SDD's primes cover every assignment)"
        );
        return Err(FormatError::at(line, msg));
    }
    // A prime twice that the samples never make true (a long conjunction).
    elements.sort_unstable_by_key(|e| e.prime_id);
    if let Some(w) = elements.windows(2).find(|w| w[0].prime_id == w[1].prime_id) {
        return Err(FormatError::at(line, format!("decision node {id}: prime {} appears twice", w[0].prime_id)));
    }
    Ok(value)
}

/// SDD id ↦ what was read for it. libsdd numbers nodes densely from 0, so
/// ids index a vector; an id beyond a quarter of the text's length (more
/// than any dense numbering of its lines needs) goes to a map instead, so
/// the vector never outgrows the text.
struct Ids {
    dense: Vec<Option<Entry>>,
    sparse: HashMap<u64, Entry>,
    limit: u64,
}

impl Ids {
    fn new(text_len: usize) -> Self {
        Ids { dense: Vec::new(), sparse: HashMap::new(), limit: text_len as u64 / 4 }
    }

    fn get(&self, id: u64) -> Option<Entry> {
        if id < self.limit {
            self.dense.get(id as usize).copied().flatten()
        } else {
            self.sparse.get(&id).copied()
        }
    }

    fn insert(&mut self, id: u64, entry: Entry) {
        if id < self.limit {
            let i = id as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, None);
            }
            self.dense[i] = Some(entry);
        } else {
            self.sparse.insert(id, entry);
        }
    }
}

fn lookup(ids: &Ids, field: &str, line: usize) -> Result<(u64, Entry), FormatError> {
    let id: u64 = parse_field(field, "a node id (a non-negative integer)", line)?;
    match ids.get(id) {
        Some(entry) => Ok((id, entry)),
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
        let c = read_sdd("sdd 5\nF 0\nT 1\nL 2 0 -5\nL 4 0 5\nD 3 1 2 2 1 4 0\n").unwrap();
        assert_eq!(c.num_slots(), 5);
        // ¬x5 ⊗ ⊤ ⊕ x5 ⊗ ⊥ folds to the literal ¬x5.
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
            ("sdd 3\nL 1 0 1\nL 2 2 2\nD 0 1 2 1 2 1\n", "line 4: `D` node 0 declares 2 elements, which need 4"),
            ("sdd 1\nD 0 1\n", "line 2: `D` needs at least 4 fields"),
            ("sdd 1\nL x 0 1\n", "line 2: expected a node id (a non-negative integer), found `x`"),
            ("sdd 1\nL 1 0 1.5\n", "line 2: expected a literal (a non-zero integer), found `1.5`"),
            ("sdd 1\nL 1 v 1\n", "line 2: expected a vtree id"),
            ("sdd 2\nL 1 0 1\nD 0 1 1 1 57\n", "line 3: unknown node id 57 (nodes must be defined before use)"),
            ("sdd 2\nD 0 1 1 0 0\nL 0 0 1\n", "line 2: unknown node id 0 (nodes must be defined before use)"),
            ("sdd 2\nL 1 0 1\nL 1 0 2\n", "line 3: duplicate node id 1 (first defined on line 2)"),
            ("sdd 1\nL 1 0 0\n", "line 2: literal 0 is not a variable"),
            ("sdd 1\nL 1 0 -2147483649\n", "line 2: literal -2147483649 names a variable beyond the 67108864"),
            ("sdd 1\nL 0 0 2147483648\n", "line 2: literal 2147483648 names a variable beyond the 67108864 (2^26)"),
            ("sdd many\n", "line 1: expected a node count, found `many`"),
            ("sdd 3\nL 1 0 1\nL 2 2 2\n", "line 1: header declares 3 nodes but the file has 2 node lines"),
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
        assert_eq!(read_sdd("sdd 1\nL 1 0 -67108864\n").unwrap().num_slots(), 1 << 26);
    }

    #[test]
    fn what_an_sdd_promises_is_checked_before_a_number_is_printed() {
        let cases = [
            // x1 and x2 at one vtree leaf: the primes x1, x2 of node 3
            // overlap, and P(x1) + P(x2) was printed as P(x1 ∨ x2).
            (
                "sdd 4\nL 0 0 1\nL 1 0 2\nT 2\nD 3 0 2 0 2 1 2\n",
                "line 3: variable 2 at vtree node 0, which holds variable 1 (line 2): a vtree leaf holds one variable",
            ),
            // The same with the leaves apart: the sampled assignments catch it.
            (
                "sdd 4\nL 0 0 1\nL 1 2 2\nT 2\nD 3 1 2 0 2 1 2\n",
                "line 5: decision node 3: primes 0 and 1 both hold under a sampled assignment",
            ),
            ("sdd 3\nL 0 0 1\nT 1\nD 2 1 1 0 1\n", "line 4: decision node 2: no prime holds under a sampled"),
            (
                "sdd 2\nL 0 0 1\nL 1 2 1\n",
                "line 3: variable 1 at vtree node 2, but at vtree node 0 on line 2: a variable has one vtree leaf",
            ),
            ("sdd 3\nL 0 0 1\nT 1\nD 2 0 1 1 0\n", "line 4: vtree node 0 holds a literal on one of lines 2 and 4"),
            ("sdd 3\nT 0\nD 1 1 1 0 0\nL 2 1 1\n", "line 4: vtree node 1 holds a literal on one of lines 3 and 4"),
            ("sdd 2\nT 0\nD 1 1 0\n", "line 3: `D` node 1 has no elements"),
            ("sdd 4\nF 0\nT 1\nL 2 0 1\nD 3 1 2 0 1 2 1\n", "line 5: decision node 3: prime 0 is ⊥"),
            ("sdd 4\nL 0 0 1\nT 1\nL 2 0 -1\nD 3 1 2 1 0 2 0\n", "line 5: decision node 3: prime 1 is ⊤ beside"),
            ("sdd 3\nL 0 0 1\nL 1 0 -1\nD 2 1 3 0 1 1 1 0 1\n", "line 4: decision node 2: prime 0 appears twice"),
        ];
        for (text, expected) in cases {
            let msg = err(text);
            assert!(msg.starts_with(expected), "{text:?}: got {msg:?}, expected {expected:?}");
        }
        // A prime twice that the samples may never make true: c = x1 ∧ … ∧ x12
        // (node 122) beside its negation (node 123).
        let mut text = String::from("sdd 49\nF 0\nT 1\n");
        for v in 1..=12 {
            text.push_str(&format!("L {} {} {v}\nL {} {} -{v}\n", 10 * v, 2 * v, 10 * v + 1, 2 * v));
        }
        let (mut c, mut n) = (10, 11);
        for v in 2..=12 {
            let (x, not_x, vtree) = (10 * v, 10 * v + 1, 1000 + v);
            text.push_str(&format!("D {} {vtree} 2 {x} {c} {not_x} 0\n", 10 * v + 2));
            text.push_str(&format!("D {} {vtree} 2 {x} {n} {not_x} 1\n", 10 * v + 3));
            (c, n) = (10 * v + 2, 10 * v + 3);
        }
        text.push_str(&format!("D 999 2000 3 {c} 1 {n} 0 {c} 1\n"));
        let msg = err(&text);
        assert!(msg.starts_with("line 50: decision node 999: prime 122 appears twice"), "{msg}");
        // Without the repeat, the file is fine.
        let fine = text.replace(&format!(" {c} 1\n"), "\n").replace(" 3 ", " 2 ");
        assert_eq!(read_sdd(&fine).unwrap().num_slots(), 12);
    }

    /// The vtree of SMALL: x1 left of the root (id 1), x2 and x3 right.
    const SMALL_VTREE: &str = "vtree 5\nL 0 1\nL 2 2\nL 4 3\nI 3 2 4\nI 1 0 3\n";

    fn with_vtree(text: &str, vtree: &str) -> Result<Circuit, String> {
        read_sdd_with(text, Some(&Vtree::parse(vtree).unwrap())).map_err(|e| e.to_string())
    }

    #[test]
    fn with_its_vtree_an_sdd_is_checked_normalised_and_decomposable() {
        let c = with_vtree(SMALL, SMALL_VTREE).unwrap();
        assert_eq!(check(&c).decomposable, Knowledge::Holds(Evidence::ByConstruction("SDD normalised for its vtree")));
        // A variable the SDD does not mention is still a slot.
        let wider = SMALL_VTREE.replace("vtree 5", "vtree 7").replace("I 1 0 3\n", "I 1 0 3\nL 6 4\nI 5 1 6\n");
        assert_eq!(with_vtree(SMALL, &wider).unwrap().num_slots(), 4);
        let cases = [
            ("sdd 1\nL 0 2 1\n", "line 2: literal 1 at vtree node 2, which is the leaf of variable 2"),
            ("sdd 1\nL 0 1 -1\n", "line 2: literal -1 at vtree node 1, which is no leaf"),
            ("sdd 1\nL 0 9 1\n", "line 2: literal 1 at vtree node 9, which the vtree lacks"),
            ("sdd 3\nL 0 0 1\nT 1\nD 2 0 1 1 0\n", "line 4: decision node 2 at vtree node 0, which is a leaf"),
            ("sdd 3\nL 0 0 1\nT 1\nD 2 7 1 1 0\n", "line 4: decision node 2 at vtree node 7, which the vtree lacks"),
            // x2 ∨ ¬x2 deciding at the root, where x2 belongs to the right.
            (
                "sdd 4\nL 0 2 2\nL 1 2 -2\nT 2\nD 3 1 2 0 2 1 2\n",
                "line 5: decision node 3 is not normalised for vtree node 1: its prime 0 (line 2) lies outside \
                 the left subtree",
            ),
            (
                "sdd 5\nL 0 0 1\nL 1 0 -1\nL 2 0 1\nT 3\nD 4 1 2 0 2 1 3\n",
                "line 6: decision node 4 is not normalised for vtree node 1: its sub 2 (line 4) lies outside the \
                 right subtree",
            ),
        ];
        for (text, expected) in cases {
            let msg = with_vtree(text, SMALL_VTREE).unwrap_err();
            assert!(msg.starts_with(expected), "{text:?}: got {msg:?}, expected {expected:?}");
        }
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
