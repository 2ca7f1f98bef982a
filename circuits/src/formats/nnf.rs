//! d-DNNF files, in the two dialects compilers write, told apart by the
//! first line that is not a comment.
//!
//! **c2d** (also older d4, dsharp, miniC2D): a header `nnf NODES EDGES VARS`,
//! then one node per line, numbered from 0, children before parents, the
//! root last:
//!
//! ```text
//! nnf 4 3 2
//! L 1          node 0: x1
//! L -2         node 1: ¬x2
//! A 2 0 1      node 2: x1 ∧ ¬x2   (A 0 is true)
//! O 1 1 2      node 3: OR deciding x1 over node 2   (O 0 0 is false)
//! ```
//!
//! **d4** (newer d4, decision-DNNF): nodes `o ID 0`, `a ID 0`, `t ID 0`,
//! `f ID 0` (ids from 1; the first node defined is the root), and edges
//! `SRC DST lit … 0`: SRC has the child `DST ∧ lit ∧ …`. Edges may come
//! before the nodes they join, so the graph is read whole and then
//! converted children first.
//!
//! Determinism, which no linear-time check can prove, is sampled: while
//! reading, every node is evaluated under 64 pseudo-random assignments (one
//! bit each of a `u64`), and two children of an OR node that hold together
//! in one of them refute it. Where the file promised determinism (c2d's
//! `O j` with a decision variable, every OR of d4's decision-DNNF) the file
//! is refused at that node's line; an `O 0`, which promises nothing, makes
//! the circuit known to be non-deterministic there.

use std::collections::HashMap;

use super::{is_comment, parse_field, parse_literal, variable_count, DataLines, FormatError};
use crate::circuit::{Circuit, CircuitBuilder, NodeId, SlotId};
use crate::properties::random_bits;

/// Reads a d-DNNF file in the c2d or the d4 dialect. Variable `v` becomes
/// slot `v - 1`.
pub fn read_nnf(text: &str) -> Result<Circuit, FormatError> {
    let first_tag = text
        .lines()
        .filter_map(|l| l.split_ascii_whitespace().next())
        .find(|tag| !is_comment(tag))
        .ok_or_else(|| FormatError::whole_file("empty file: no nodes"))?;
    // c2d's tags are upper case, d4's lower case or numbers.
    let c2d = matches!(first_tag, "nnf" | "L" | "A" | "O");
    if !c2d {
        // Decisions show as literals on d4's edges: the checker proves them.
        return read_d4(text);
    }
    let (mut circuit, every_or_decides, overlap) = read_c2d(text)?;
    // c2d's `O j` names the variable its children disagree on; an `O 0`
    // with several children makes no such promise, so then it is up to the
    // checker, unless the sampled assignments already refuted it.
    if let Some(sum) = overlap {
        circuit.refute_deterministic(sum);
    } else if every_or_decides {
        circuit.declare_deterministic("d-DNNF file");
    }
    Ok(circuit)
}

/// A literal's value under the 64 sampled assignments.
fn sampled(slot: SlotId, positive: bool) -> u64 {
    let bits = random_bits(0, slot.0);
    if positive {
        bits
    } else {
        !bits
    }
}

/// The circuit; whether every `O` node with several children names a
/// decision variable; and the first `O 0` whose children hold together in
/// a sampled assignment.
fn read_c2d(text: &str) -> Result<(Circuit, bool, Option<NodeId>), FormatError> {
    let mut every_or_decides = true;
    let mut overlap = None;
    // Each node's value under the sampled assignments.
    let mut values: Vec<u64> = Vec::new();
    // (line, nodes, edges, variables)
    let mut header: Option<(usize, u64, u64, u32)> = None;
    let mut b = CircuitBuilder::new(0);
    let mut nodes: Vec<NodeId> = Vec::new();
    let mut edges = 0u64;
    let mut lines = DataLines::new(text);
    while let Some((line, fields)) = lines.next_line() {
        let tag = fields[0];
        if header.is_none() && matches!(tag, "L" | "A" | "O") {
            return Err(FormatError::at(line, "node line before the `nnf NODES EDGES VARS` header"));
        }
        let node = match tag {
            "nnf" => {
                if let Some((first, ..)) = header {
                    return Err(FormatError::at(line, format!("second `nnf` header (the first is on line {first})")));
                }
                if fields.len() != 4 {
                    let msg = format!("`nnf NODES EDGES VARS` has 4 fields, found {}", fields.len());
                    return Err(FormatError::at(line, msg));
                }
                let n = parse_field(fields[1], "a node count", line)?;
                let e = parse_field(fields[2], "an edge count", line)?;
                let v = variable_count(parse_field(fields[3], "a variable count", line)?, "variable count", line)?;
                header = Some((line, n, e, v));
                b = CircuitBuilder::new(v);
                continue;
            }
            "L" => {
                if fields.len() != 2 {
                    return Err(FormatError::at(line, format!("`L literal` has 2 fields, found {}", fields.len())));
                }
                let (slot, positive) = parse_literal(fields[1], line)?;
                let declared = header.map_or(0, |(.., v)| v);
                if slot.0 >= declared {
                    let msg =
                        format!("literal {} is out of range: the header declares {declared} variables", fields[1]);
                    return Err(FormatError::at(line, msg));
                }
                values.push(sampled(slot, positive));
                b.literal(slot, positive)
            }
            "A" | "O" => {
                // `O` carries its decision variable before the child count.
                let count_at = if tag == "A" { 1 } else { 2 };
                let usage = if tag == "A" { "A count child …" } else { "O variable count child …" };
                if fields.len() <= count_at {
                    let msg = format!("`{usage}` needs at least {} fields, found {}", count_at + 1, fields.len());
                    return Err(FormatError::at(line, msg));
                }
                let count: u64 = parse_field(fields[count_at], "a child count", line)?;
                let mut decides = 0;
                if tag == "O" {
                    let var: i64 = parse_field(fields[1], "a decision variable (0 for none)", line)?;
                    let declared = header.map_or(0, |(.., v)| v);
                    if !(0..=i64::from(declared)).contains(&var) {
                        let msg = format!("decision variable {var} is out of range: the header declares {declared}");
                        return Err(FormatError::at(line, msg));
                    }
                    decides = var;
                    every_or_decides &= var != 0 || count < 2;
                }
                let given = fields.len() - count_at - 1;
                if given as u64 != count {
                    let msg =
                        format!("`{tag}` node {} declares {count} children but the line gives {given}", nodes.len());
                    return Err(FormatError::at(line, msg));
                }
                let mut children = Vec::with_capacity(given);
                let (mut all, mut seen, mut both_at) = (!0u64, 0u64, None);
                for f in &fields[count_at + 1..] {
                    let child: u64 = parse_field(f, "a node id (a non-negative integer)", line)?;
                    let Some(&c) = usize::try_from(child).ok().and_then(|c| nodes.get(c)) else {
                        let msg = format!("unknown node id {child} (nodes must be defined before use)");
                        return Err(FormatError::at(line, msg));
                    };
                    let v = values[child as usize];
                    if both_at.is_none() && seen & v != 0 {
                        both_at = Some((children.len(), seen & v));
                    }
                    (all, seen) = (all & v, seen | v);
                    children.push(c);
                }
                edges += count;
                if tag == "A" {
                    values.push(all);
                    b.product(children)
                } else {
                    values.push(seen);
                    let sum = b.sum(children);
                    if let Some((k, both)) = both_at {
                        let ids: Vec<&str> = fields[count_at + 1..].to_vec();
                        let earlier = ids[..k].iter().find(|f| f.parse().is_ok_and(|c: usize| values[c] & both != 0));
                        if decides != 0 {
                            let msg = format!(
                                "`O` node {} decides variable {decides}, yet its children {} and {} both hold under \
                                 a sampled assignment",
                                nodes.len(),
                                earlier.unwrap_or(&ids[k]),
                                ids[k]
                            );
                            return Err(FormatError::at(line, msg));
                        }
                        overlap = overlap.or(Some(sum));
                    }
                    sum
                }
            }
            _ => {
                let msg = format!("unknown line tag `{tag}` (expected c, nnf, L, A or O)");
                return Err(FormatError::at(line, msg));
            }
        };
        nodes.push(node);
    }
    let Some((header_line, n, e, _)) = header else {
        return Err(FormatError::whole_file("empty file: no `nnf` header and no nodes"));
    };
    let Some(&root) = nodes.last() else {
        return Err(FormatError::at(header_line, "no nodes after the header (the root is the last node line)"));
    };
    if n != nodes.len() as u64 {
        let msg = format!("header declares {n} nodes but the file has {} node lines", nodes.len());
        return Err(FormatError::at(header_line, msg));
    }
    if e != edges {
        return Err(FormatError::at(header_line, format!("header declares {e} edges but the nodes have {edges}")));
    }
    Ok((b.finish(vec![root]), every_or_decides, overlap))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Or,
    And,
    True,
    False,
}

/// A d4 edge: `src` has the child `dst ∧ literals[lits]`.
struct Edge {
    src: u64,
    dst: u64,
    lits: std::ops::Range<usize>,
    line: usize,
}

/// A node being converted: its index and how many of its edges are done.
struct Frame {
    node: usize,
    next_edge: usize,
}

fn read_d4(text: &str) -> Result<Circuit, FormatError> {
    let mut ids: HashMap<u64, usize> = HashMap::new();
    // Per node: kind, id, line.
    let mut nodes: Vec<(Kind, u64, usize)> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    let mut literals: Vec<(SlotId, bool)> = Vec::new();
    let mut num_slots = 0u32;
    let mut lines = DataLines::new(text);
    while let Some((line, fields)) = lines.next_line() {
        let tag = fields[0];
        let kind = match tag {
            "o" => Kind::Or,
            "a" => Kind::And,
            "t" => Kind::True,
            "f" => Kind::False,
            _ if tag.starts_with(|c: char| c.is_ascii_digit()) => {
                if fields.len() < 3 {
                    let msg = format!("edge `SRC DST [literal …] 0` needs at least 3 fields, found {}", fields.len());
                    return Err(FormatError::at(line, msg));
                }
                let src = parse_field(fields[0], "a node id (a positive integer)", line)?;
                let dst = parse_field(fields[1], "a node id (a positive integer)", line)?;
                let (last, lits) = (fields[fields.len() - 1], &fields[2..fields.len() - 1]);
                if last != "0" {
                    return Err(FormatError::at(line, format!("an edge line ends with 0, found `{last}`")));
                }
                let start = literals.len();
                for f in lits {
                    let (slot, positive) = parse_literal(f, line)?;
                    num_slots = num_slots.max(slot.0 + 1);
                    literals.push((slot, positive));
                }
                edges.push(Edge { src, dst, lits: start..literals.len(), line });
                continue;
            }
            _ => {
                let msg = format!("unknown line tag `{tag}` (expected c, o, a, t, f, or an edge `SRC DST … 0`)");
                return Err(FormatError::at(line, msg));
            }
        };
        if fields.len() != 3 {
            let msg = format!("node `{tag} ID 0` has 3 fields, found {}", fields.len());
            return Err(FormatError::at(line, msg));
        }
        let id: u64 = parse_field(fields[1], "a node id (a positive integer)", line)?;
        if fields[2] != "0" {
            return Err(FormatError::at(line, format!("a node line ends with 0, found `{}`", fields[2])));
        }
        if let Some(&first) = ids.get(&id) {
            let msg = format!("duplicate node id {id} (first defined on line {})", nodes[first].2);
            return Err(FormatError::at(line, msg));
        }
        ids.insert(id, nodes.len());
        nodes.push((kind, id, line));
    }
    if nodes.is_empty() {
        return Err(FormatError::whole_file("no nodes (expected lines `o ID 0`, `a ID 0`, `t ID 0` or `f ID 0`)"));
    }

    // Children as CSR over node indices, in file order.
    let mut offsets = vec![0usize; nodes.len() + 1];
    let mut ends: Vec<(usize, usize)> = Vec::with_capacity(edges.len());
    for e in &edges {
        let find = |id: u64| {
            ids.get(&id)
                .copied()
                .ok_or_else(|| FormatError::at(e.line, format!("unknown node id {id} (no node line defines it)")))
        };
        let (src, dst) = (find(e.src)?, find(e.dst)?);
        let (kind, id, _) = nodes[src];
        if matches!(kind, Kind::True | Kind::False) {
            let msg = format!("edge from node {id}, which is a constant leaf and has no children");
            return Err(FormatError::at(e.line, msg));
        }
        offsets[src + 1] += 1;
        ends.push((src, dst));
    }
    for i in 0..nodes.len() {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut out_edges = vec![0usize; edges.len()];
    for (k, &(src, _)) in ends.iter().enumerate() {
        out_edges[fill[src]] = k;
        fill[src] += 1;
    }

    // Depth-first from the root, converting a node once all its children are.
    const UNSEEN: u32 = u32::MAX;
    const OPEN: u32 = u32::MAX - 1;
    let mut b = CircuitBuilder::new(num_slots);
    let mut done: Vec<u32> = vec![UNSEEN; nodes.len()];
    // Each converted node's value under the sampled assignments.
    let mut values: Vec<u64> = vec![0; nodes.len()];
    let mut stack = vec![Frame { node: 0, next_edge: offsets[0] }];
    done[0] = OPEN;
    while let Some(frame) = stack.last_mut() {
        let node = frame.node;
        if frame.next_edge < offsets[node + 1] {
            let k = out_edges[frame.next_edge];
            frame.next_edge += 1;
            let dst = ends[k].1;
            match done[dst] {
                UNSEEN => {
                    done[dst] = OPEN;
                    stack.push(Frame { node: dst, next_edge: offsets[dst] });
                }
                OPEN => {
                    let msg = format!("cycle through node {}", nodes[dst].1);
                    return Err(FormatError::at(edges[k].line, msg));
                }
                _ => {}
            }
            continue;
        }
        stack.pop();
        // Per edge: the child, its literals, the edge's line and its value.
        let terms = out_edges[offsets[node]..offsets[node + 1]].iter().map(|&k| {
            let (dst, lits) = (ends[k].1, &literals[edges[k].lits.clone()]);
            let value = lits.iter().fold(values[dst], |v, &(s, p)| v & sampled(s, p));
            (NodeId(done[dst]), lits, edges[k].line, value)
        });
        let (converted, value) = match nodes[node].0 {
            Kind::True => (b.constant(true), !0),
            Kind::False => (b.constant(false), 0),
            Kind::And => {
                let (mut factors, mut all) = (Vec::new(), !0u64);
                for (child, lits, _, value) in terms {
                    factors.push(child);
                    factors.extend(lits.iter().map(|&(s, p)| b.literal(s, p)));
                    all &= value;
                }
                (b.product(factors), all)
            }
            Kind::Or => {
                let (mut alternatives, mut seen) = (Vec::new(), 0u64);
                // (line, value) of the edges so far.
                let mut earlier: Vec<(usize, u64)> = Vec::new();
                for (child, lits, line, value) in terms {
                    if seen & value != 0 {
                        let both = seen & value;
                        let first = earlier.iter().find(|(_, v)| v & both != 0).map_or(line, |e| e.0);
                        let (_, id, node_line) = nodes[node];
                        let msg = format!(
                            "OR node {id} is not deterministic: its edges on lines {first} and {line} both hold \
                             under a sampled assignment (d4 writes decision-DNNF)"
                        );
                        return Err(FormatError::at(node_line, msg));
                    }
                    seen |= value;
                    earlier.push((line, value));
                    let mut factors = vec![child];
                    factors.extend(lits.iter().map(|&(s, p)| b.literal(s, p)));
                    alternatives.push(b.product(factors));
                }
                (b.sum(alternatives), seen)
            }
        };
        done[node] = converted.0;
        values[node] = value;
    }
    Ok(b.finish(vec![NodeId(done[0])]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::Node;
    use crate::properties::{check, Evidence, Knowledge};

    fn err(text: &str) -> String {
        read_nnf(text).unwrap_err().to_string()
    }

    /// (x1 ∧ ¬x2) ∨ (¬x1 ∧ x3) over 4 variables, in c2d's dialect.
    const C2D: &str = "c from c2d\nnnf 7 6 4\nL 1\nL -2\nA 2 0 1\nL -1\nL 3\nA 2 3 4\nO 1 2 2 5\n";

    #[test]
    fn c2d_files_read_children_first_with_the_header_variable_count() {
        let c = read_nnf(C2D).unwrap();
        assert_eq!(c.num_slots(), 4);
        // false, true, 4 literals, 2 products, 1 sum.
        assert_eq!(c.num_nodes(), 9);
        assert_eq!(c.num_edges(), 6);
        assert!(matches!(c.node(c.roots()[0]), Node::Sum(cs) if cs.len() == 2));
        let p = check(&c);
        assert_eq!(p.decomposable, Knowledge::Holds(Evidence::Checked));
        assert_eq!(p.deterministic, Knowledge::Holds(Evidence::ByConstruction("d-DNNF file")));
    }

    #[test]
    fn c2d_constants_and_variables_beyond_the_header_are_refused() {
        let t = read_nnf("nnf 1 0 0\nA 0\n").unwrap();
        assert_eq!(t.roots(), &[NodeId(1)]);
        let f = read_nnf("nnf 1 0 3\nO 0 0\n").unwrap();
        assert_eq!((f.roots(), f.num_slots()), (&[NodeId(0)][..], 3));
        let err = read_nnf("nnf 1 0 2\nL -9\n").unwrap_err().to_string();
        assert!(err.contains("line 2: literal -9 is out of range: the header declares 2 variables"), "{err}");
    }

    /// The same function in d4's dialect, with edges before their nodes and
    /// literals on edges.
    const D4: &str = "1 2 1 0\n1 3 -1 0\no 1 0\na 2 0\n2 4 -2 0\nt 4 0\na 3 0\n3 4 3 0\n";

    #[test]
    fn d4_files_read_with_literals_on_edges_in_any_order() {
        let c = read_nnf(D4).unwrap();
        assert_eq!(c.num_slots(), 3);
        // false, true, 4 literals, 2 products, 1 sum.
        assert_eq!(c.num_nodes(), 9);
        assert_eq!(c.num_edges(), 6);
        let p = check(&c);
        assert_eq!(p.decomposable, Knowledge::Holds(Evidence::Checked));
        assert!(p.deterministic.holds());
        // A leaf-only file; an OR without edges is false.
        assert_eq!(read_nnf("t 1 0\n").unwrap().roots(), &[NodeId(1)]);
        assert_eq!(read_nnf("o 1 0\n").unwrap().roots(), &[NodeId(0)]);
        // Shared children are converted once.
        let shared = read_nnf("o 1 0\n1 2 1 0\n1 2 -1 0\nt 2 0\n").unwrap();
        assert_eq!(shared.num_edges(), 2);
    }

    #[test]
    fn malformed_c2d_files_name_the_line_and_the_problem() {
        let cases = [
            ("nnf 1 0 1\nX 1\n", "line 2: unknown line tag `X`"),
            ("nnf 1 0\nL 1\n", "line 1: `nnf NODES EDGES VARS` has 4 fields, found 3"),
            ("nnf 1 0 1\nL 1 2\n", "line 2: `L literal` has 2 fields, found 3"),
            ("nnf 3 3 2\nL 1\nL 2\nA 3 0 1\n", "line 4: `A` node 2 declares 3 children but the line gives 2"),
            ("nnf 2 1 1\nL 1\nO 1\n", "line 3: `O variable count child …` needs at least 3 fields"),
            ("nnf 2 1 1\nL 1\nA 1 x\n", "line 3: expected a node id (a non-negative integer), found `x`"),
            ("nnf 2 1 1\nL 1\nA 1 1\n", "line 3: unknown node id 1 (nodes must be defined before use)"),
            ("nnf 2 1 1\nL 1\nA 1 7\n", "line 3: unknown node id 7"),
            ("nnf 1 0 1\nL 0\n", "line 2: literal 0 is not a variable"),
            ("nnf 1 0 1\nL 2147483649\n", "line 2: literal 2147483649 names a variable beyond the 67108864"),
            ("nnf 1 0 2000000000\nL 1\n", "line 1: variable count 2000000000 is more than the 67108864 (2^26)"),
            ("nnf 3 2 2\nL 1\nL 2\nO 3 2 0 1\n", "line 4: decision variable 3 is out of range: the header declares 2"),
            ("nnf 2 0 1\nL 1\n", "line 1: header declares 2 nodes but the file has 1 node lines"),
            ("nnf 2 2 1\nL 1\nA 1 0\n", "line 1: header declares 2 edges but the nodes have 1"),
            ("nnf 0 0 0\n", "line 1: no nodes after the header"),
            ("nnf 1 0 1\nnnf 1 0 1\n", "line 2: second `nnf` header (the first is on line 1)"),
            ("nnf 1 0 -1\n", "line 1: variable count -1 is negative"),
            ("c\nL 1\nnnf 1 0 1\n", "line 2: node line before the `nnf NODES EDGES VARS` header"),
        ];
        for (text, expected) in cases {
            let msg = err(text);
            assert!(msg.starts_with(expected), "{text:?}: got {msg:?}, expected {expected:?}");
        }
        assert_eq!(err(""), "empty file: no nodes");
        assert_eq!(err("c\nc nothing\n"), "empty file: no nodes");
    }

    #[test]
    fn malformed_d4_files_name_the_line_and_the_problem() {
        let cases = [
            ("o 1 0\nx 2 0\n", "line 2: unknown line tag `x`"),
            ("o 1\n", "line 1: node `o ID 0` has 3 fields, found 2"),
            ("o 1 7\n", "line 1: a node line ends with 0, found `7`"),
            ("o 1 0\n1 2\n", "line 2: edge `SRC DST [literal …] 0` needs at least 3 fields, found 2"),
            ("o 1 0\nt 2 0\n1 2 1\n", "line 3: an edge line ends with 0, found `1`"),
            ("o 1 0\nt 2 0\n1 2 0 1 0\n", "line 3: literal 0 is not a variable"),
            ("o 1 0\nt 2 0\n1 2 -2147483649 0\n", "line 3: literal -2147483649 names a variable beyond the"),
            ("o 1 0\n1 2x 0\n", "line 2: expected a node id (a positive integer), found `2x`"),
            ("o 1 0\n1 5 0\n", "line 2: unknown node id 5 (no node line defines it)"),
            ("o 1 0\na 1 0\n", "line 2: duplicate node id 1 (first defined on line 1)"),
            ("o 1 0\nt 2 0\n2 1 0\n", "line 3: edge from node 2, which is a constant leaf"),
            ("o 1 0\na 2 0\n1 2 0\n2 3 0\no 3 0\n3 1 1 0\n", "line 6: cycle through node 1"),
            ("o 1 0\n1 1 0\n", "line 2: cycle through node 1"),
        ];
        for (text, expected) in cases {
            let msg = err(text);
            assert!(msg.starts_with(expected), "{text:?}: got {msg:?}, expected {expected:?}");
        }
    }

    #[test]
    fn or_nodes_that_overlap_in_a_sampled_assignment_are_not_deterministic() {
        // x1 ∨ x2 claiming to decide x1: refused.
        let msg = err("nnf 3 2 2\nL 1\nL 2\nO 1 2 0 1\n");
        assert_eq!(
            msg,
            "line 4: `O` node 2 decides variable 1, yet its children 0 and 1 both hold under a sampled assignment"
        );
        // The same as `O 0`, which promises nothing: not deterministic there.
        let c = read_nnf("nnf 3 2 2\nL 1\nL 2\nO 0 2 0 1\n").unwrap();
        assert_eq!(check(&c).deterministic, Knowledge::Fails(c.roots()[0]));
        // An `O 0` over exclusive children stays for the checker to prove.
        let c = read_nnf("nnf 3 2 1\nL 1\nL -1\nO 0 2 0 1\n").unwrap();
        assert_eq!(check(&c).deterministic, Knowledge::Holds(Evidence::Checked));
        // d4: the OR's edges (x1 and x2) overlap.
        let msg = err("o 1 0\nt 2 0\n1 2 1 0\n1 2 2 0\n");
        assert_eq!(
            msg,
            "line 1: OR node 1 is not deterministic: its edges on lines 3 and 4 both hold under a sampled \
             assignment (d4 writes decision-DNNF)"
        );
    }

    #[test]
    fn deep_d4_chains_do_not_overflow_the_stack() {
        let n = 200_000;
        let mut text = String::new();
        for i in 1..=n {
            text.push_str(&format!("a {i} 0\n{i} {} {i} 0\n", i + 1));
        }
        text.push_str(&format!("t {} 0\n", n + 1));
        let c = read_nnf(&text).unwrap();
        assert_eq!(c.num_slots(), n as u32);
    }
}
