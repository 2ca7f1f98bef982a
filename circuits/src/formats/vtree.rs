//! SDD vtree files, as libsdd's `sdd_vtree_save` writes them: a binary tree
//! whose leaves are the variables, which an SDD file's nodes name by id.
//!
//! ```text
//! vtree COUNT
//! L id variable        a leaf
//! I id left right      an internal node over two earlier-or-later ids
//! ```
//!
//! The file is checked to describe one tree: ids and variables unique,
//! every internal node's children defined, every node but the root the
//! child of exactly one node, no cycle. Each node gets its pre-order
//! interval, so "is `u` in the subtree of `v`" is two comparisons — what
//! the SDD reader asks of every prime and sub.

use rustc_hash::FxHashMap;

use super::{expect_fields, parse_field, variable_count, DataLines, FormatError};

/// One vtree node; children are indices into [`Vtree::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VtreeNode {
    Leaf { var: u32 },
    Internal { left: u32, right: u32 },
}

/// A checked vtree.
#[derive(Debug)]
pub(crate) struct Vtree {
    /// File id ↦ index into `nodes`.
    index: FxHashMap<u64, u32>,
    nodes: Vec<VtreeNode>,
    /// Per node, its pre-order number and that of the last node of its
    /// subtree.
    first: Vec<u32>,
    last: Vec<u32>,
    /// The largest variable.
    pub num_vars: u32,
}

/// A node as read, children still file ids.
enum Raw {
    Leaf(u32),
    Internal(u64, u64),
}

impl Vtree {
    pub(crate) fn parse(text: &str) -> Result<Vtree, FormatError> {
        let mut header: Option<(usize, u64)> = None;
        let mut index: FxHashMap<u64, u32> = FxHashMap::default();
        // (file id, node, line)
        let mut raw: Vec<(u64, Raw, usize)> = Vec::new();
        let mut var_line: FxHashMap<u32, usize> = FxHashMap::default();
        let mut lines = DataLines::new(text);
        while let Some((line, fields)) = lines.next_line() {
            let tag = fields[0];
            let node = match tag {
                "vtree" if header.is_none() && raw.is_empty() => {
                    expect_fields(fields, 2, "vtree COUNT", line)?;
                    header = Some((line, parse_field(fields[1], "a node count", line)?));
                    continue;
                }
                "vtree" => return Err(FormatError::at(line, "`vtree COUNT` must be the first line, and only once")),
                "L" | "I" if header.is_none() => {
                    return Err(FormatError::at(line, "node line before the `vtree COUNT` header"));
                }
                "L" => {
                    expect_fields(fields, 3, "L id variable", line)?;
                    let var: i64 = parse_field(fields[2], "a variable (a positive integer)", line)?;
                    if var == 0 {
                        return Err(FormatError::at(
                            line,
                            "variable 0 is out of range (variables are numbered from 1)",
                        ));
                    }
                    let var = variable_count(var, "variable", line)?;
                    if let Some(first) = var_line.insert(var, line) {
                        let msg =
                            format!("variable {var} is already the leaf on line {first} (a variable has one leaf)");
                        return Err(FormatError::at(line, msg));
                    }
                    Raw::Leaf(var)
                }
                "I" => {
                    expect_fields(fields, 4, "I id left right", line)?;
                    let left = parse_field(fields[2], "a vtree id (a non-negative integer)", line)?;
                    let right = parse_field(fields[3], "a vtree id (a non-negative integer)", line)?;
                    Raw::Internal(left, right)
                }
                _ => {
                    return Err(FormatError::at(line, format!("unknown line tag `{tag}` (expected c, vtree, L or I)")));
                }
            };
            let id: u64 = parse_field(fields[1], "a vtree id (a non-negative integer)", line)?;
            if let Some(&first) = index.get(&id) {
                let msg = format!("duplicate vtree id {id} (first defined on line {})", raw[first as usize].2);
                return Err(FormatError::at(line, msg));
            }
            index.insert(id, raw.len() as u32);
            raw.push((id, node, line));
        }
        let Some((header_line, count)) = header else {
            return Err(FormatError::whole_file("empty vtree file: no `vtree COUNT` header"));
        };
        if count != raw.len() as u64 {
            let msg = format!("header declares {count} nodes but the file has {} node lines", raw.len());
            return Err(FormatError::at(header_line, msg));
        }
        if raw.is_empty() {
            return Err(FormatError::at(header_line, "the vtree has no nodes"));
        }

        // Children as indices; each node the child of at most one node.
        let mut parent_line: Vec<Option<usize>> = vec![None; raw.len()];
        let mut nodes = Vec::with_capacity(raw.len());
        for (_, node, line) in &raw {
            nodes.push(match *node {
                Raw::Leaf(var) => VtreeNode::Leaf { var },
                Raw::Internal(left, right) => {
                    let mut child = |id: u64| -> Result<u32, FormatError> {
                        let Some(&c) = index.get(&id) else {
                            return Err(FormatError::at(*line, format!("unknown vtree id {id} (no line defines it)")));
                        };
                        if let Some(first) = parent_line[c as usize].replace(*line) {
                            let msg = format!("vtree node {id} is already a child on line {first} (a vtree is a tree)");
                            return Err(FormatError::at(*line, msg));
                        }
                        Ok(c)
                    };
                    VtreeNode::Internal { left: child(left)?, right: child(right)? }
                }
            });
        }
        let mut roots = (0..raw.len()).filter(|&i| parent_line[i].is_none());
        let Some(root) = roots.next() else {
            return Err(FormatError::at(header_line, "the vtree has no root: every node is some node's child"));
        };
        if let Some(other) = roots.next() {
            let msg = format!(
                "the vtree has more than one root: nodes {} (line {}) and {} (line {}) are nobody's children",
                raw[root].0, raw[root].2, raw[other].0, raw[other].2
            );
            return Err(FormatError::at(header_line, msg));
        }

        // Pre-order intervals, iteratively (a vtree may be a long chain).
        const UNSEEN: u32 = u32::MAX;
        let mut first = vec![UNSEEN; nodes.len()];
        let mut last = vec![UNSEEN; nodes.len()];
        let mut next = 0u32;
        // (node, children done)
        let mut stack = vec![(root as u32, false)];
        while let Some((n, done)) = stack.pop() {
            let i = n as usize;
            if done {
                last[i] = next - 1;
                continue;
            }
            first[i] = next;
            next += 1;
            stack.push((n, true));
            if let VtreeNode::Internal { left, right } = nodes[i] {
                stack.push((right, false));
                stack.push((left, false));
            }
        }
        if let Some(i) = first.iter().position(|&f| f == UNSEEN) {
            let msg = format!("vtree node {} is not below the root (its nodes form a cycle)", raw[i].0);
            return Err(FormatError::at(raw[i].2, msg));
        }
        let num_vars = nodes
            .iter()
            .filter_map(|n| match n {
                VtreeNode::Leaf { var } => Some(*var),
                VtreeNode::Internal { .. } => None,
            })
            .max()
            .unwrap_or(0);
        Ok(Vtree { index, nodes, first, last, num_vars })
    }

    /// The node with file id `id`.
    pub(crate) fn find(&self, id: u64) -> Option<u32> {
        self.index.get(&id).copied()
    }

    pub(crate) fn node(&self, index: u32) -> VtreeNode {
        self.nodes[index as usize]
    }

    /// Whether node `u` is in the subtree of node `v` (or is `v`).
    pub(crate) fn within(&self, u: u32, v: u32) -> bool {
        let (u, v) = (u as usize, v as usize);
        self.first[v] <= self.first[u] && self.first[u] <= self.last[v]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Vtree::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_vtree_knows_its_subtrees_and_variables() {
        // ((x1 x2) x3), children before parents as libsdd writes it.
        let v = Vtree::parse("vtree 5\nL 0 1\nL 2 2\nI 1 0 2\nL 4 7\nI 3 1 4\n").unwrap();
        assert_eq!(v.num_vars, 7);
        let id = |i| v.find(i).unwrap();
        assert_eq!(v.node(id(3)), VtreeNode::Internal { left: id(1), right: id(4) });
        assert!(v.within(id(0), id(1)) && v.within(id(2), id(1)) && v.within(id(1), id(1)));
        assert!(!v.within(id(4), id(1)) && v.within(id(4), id(3)) && !v.within(id(3), id(1)));
        assert_eq!(v.find(9), None);
        // Parents may come first.
        assert!(Vtree::parse("vtree 3\nI 1 0 2\nL 0 1\nL 2 2\n").is_ok());
    }

    #[test]
    fn malformed_vtrees_name_the_line() {
        let cases = [
            ("vtree 1\nL 0 0\n", "line 2: variable 0 is out of range"),
            ("vtree 1\nL 0 2000000000\n", "line 2: variable 2000000000 is more than the 67108864 (2^26)"),
            ("vtree 1\nI 0 1\n", "line 2: `I id left right` has 4 fields, found 3"),
            ("vtree 2\nL 0 1\nL 1 1\n", "line 3: variable 1 is already the leaf on line 2"),
            ("vtree 2\nL 0 1\nL 0 2\n", "line 3: duplicate vtree id 0 (first defined on line 2)"),
            ("vtree 3\nL 0 1\nL 2 2\nI 1 0 5\n", "line 4: unknown vtree id 5"),
            ("vtree 4\nL 0 1\nL 2 2\nI 1 0 2\nI 3 1 1\n", "line 5: vtree node 1 is already a child on line 5"),
            ("vtree 2\nL 0 1\nL 2 2\n", "line 1: the vtree has more than one root: nodes 0 (line 2) and 2 (line 3)"),
            ("vtree 4\nL 0 1\nI 1 0 2\nI 2 3 1\nL 3 2\n", "line 1: the vtree has no root"),
            ("vtree 5\nL 0 1\nI 1 0 3\nI 3 4 1\nL 4 2\nL 9 3\n", "line 2: vtree node 0 is not below the root"),
            ("vtree 2\nL 0 1\n", "line 1: header declares 2 nodes but the file has 1"),
            ("vtree 0\n", "line 1: the vtree has no nodes"),
            ("L 0 1\n", "line 1: node line before the `vtree COUNT` header"),
        ];
        for (text, expected) in cases {
            let msg = err(text);
            assert!(msg.starts_with(expected), "{text:?}: got {msg:?}, expected {expected:?}");
        }
        // A node that is a child twice.
        let msg = err("vtree 5\nL 0 1\nL 2 2\nI 1 0 2\nI 3 4 4\nI 4 3 3\n");
        assert!(msg.starts_with("line 5: vtree node 4 is already a child on line 5"), "{msg}");
        // A cycle beside a proper tree: each of its nodes has one parent,
        // and the root does not reach them.
        let msg = err("vtree 7\nL 0 1\nL 2 2\nI 1 0 2\nI 3 4 5\nI 4 3 6\nL 5 3\nL 6 4\n");
        assert!(msg.starts_with("line 5: vtree node 3 is not below the root (its nodes form a cycle)"), "{msg}");
    }
}
