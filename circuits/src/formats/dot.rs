//! Graphviz DOT output, for looking at small circuits:
//! `deeplog … | dot -Tsvg > circuit.svg`.
//!
//! Sums are ellipses labelled `+`, products boxes labelled `×`, literals
//! `x3` / `¬x3` (1-based, as in DIMACS), constants `⊤` / `⊥`. Each root gets
//! an arrow from a `root i` label. Only nodes reachable from a root are
//! drawn.

use std::fmt::Write;

use crate::circuit::{Circuit, Node};

/// The circuit as a Graphviz digraph, edges from parent to child.
pub fn write_dot(circuit: &Circuit) -> String {
    let mut reachable = vec![false; circuit.num_nodes()];
    for r in circuit.roots() {
        reachable[r.index()] = true;
    }
    // Parents come after their children, so one backward pass suffices.
    for (i, node) in circuit.nodes().iter().enumerate().rev() {
        if reachable[i] {
            for c in node.children() {
                reachable[c.index()] = true;
            }
        }
    }
    let mut out = String::from("digraph circuit {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n");
    // Writing to a String cannot fail.
    for (i, node) in circuit.nodes().iter().enumerate().filter(|(i, _)| reachable[*i]) {
        let (label, shape) = match node {
            Node::False => ("⊥".to_string(), "plaintext"),
            Node::True => ("⊤".to_string(), "plaintext"),
            Node::Literal(l) => (format!("{}x{}", if l.positive { "" } else { "¬" }, l.slot.0 + 1), "plaintext"),
            Node::Sum(_) => ("+".to_string(), "ellipse"),
            Node::Product(_) => ("×".to_string(), "box"),
        };
        let _ = writeln!(out, "  n{i} [label=\"{label}\", shape={shape}];");
    }
    for (i, node) in circuit.nodes().iter().enumerate().filter(|(i, _)| reachable[*i]) {
        for c in node.children() {
            let _ = writeln!(out, "  n{i} -> n{};", c.0);
        }
    }
    for (k, r) in circuit.roots().iter().enumerate() {
        let _ = writeln!(out, "  root{k} [label=\"root {k}\", shape=plaintext, fontcolor=gray40];");
        let _ = writeln!(out, "  root{k} -> n{} [color=gray40];", r.0);
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::{CircuitBuilder, SlotId};

    #[test]
    fn dot_shows_reachable_nodes_edges_and_roots() {
        let mut b = CircuitBuilder::new(3);
        let (x, nx) = (b.literal(SlotId(0), true), b.literal(SlotId(0), false));
        let y = b.literal(SlotId(2), true);
        let unused = b.literal(SlotId(1), true);
        let p = b.product(vec![nx, y]);
        let s = b.sum(vec![x, p]);
        let c = b.finish(vec![s]);
        let dot = write_dot(&c);
        assert!(dot.starts_with("digraph circuit {\n") && dot.ends_with("}\n"));
        assert!(dot.contains("[label=\"x1\", shape=plaintext]"));
        assert!(dot.contains("[label=\"¬x1\", shape=plaintext]"));
        assert!(dot.contains("[label=\"x3\", shape=plaintext]"));
        assert!(!dot.contains(&format!("n{} ", unused.0)) && !dot.contains("⊥"));
        assert!(dot.contains(&format!("n{} [label=\"+\", shape=ellipse]", s.0)));
        assert!(dot.contains(&format!("n{} [label=\"×\", shape=box]", p.0)));
        assert!(dot.contains(&format!("n{} -> n{};", s.0, p.0)));
        assert!(dot.contains(&format!("root0 -> n{} ", s.0)));
        assert_eq!(dot.matches(" -> ").count(), c.num_edges() + 1);
    }

    #[test]
    fn constant_roots_are_drawn() {
        let mut b = CircuitBuilder::new(0);
        let f = b.constant(false);
        let dot = write_dot(&b.finish(vec![f, f]));
        assert!(dot.contains("n0 [label=\"⊥\", shape=plaintext];"));
        assert!(dot.contains("root1 -> n0 "));
    }
}
