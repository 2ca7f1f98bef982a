//! Reduced ordered binary decision diagrams, and their circuits.
//!
//! One `Bdd` manager holds every query's diagram, so equal subfunctions
//! are one node (unique table) and repeated operations one lookup
//! (computed table). Nodes are never freed: a compilation is one batch, and
//! the node budget bounds the total. Operations run on an explicit stack, so
//! deep diagrams (one level per slot) cannot overflow the thread's stack.
//!
//! A diagram becomes a circuit of decision nodes: node `(x, lo, hi)` is
//! `x·hi + ¬x·lo`. The two children of the sum disagree on `x`
//! (deterministic), and `hi`, `lo` only mention variables below `x`
//! (decomposable).

use crate::circuit::{Circuit, CircuitBuilder, NodeId, SlotId};

use super::{FxMap, Limits, Stop, CLOCK_EVERY};

/// The constant false diagram.
pub const FALSE: u32 = 0;
/// The constant true diagram.
pub const TRUE: u32 = 1;
/// The level of the terminals: below every variable.
const TERMINAL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Node {
    var: u32,
    lo: u32,
    hi: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    And,
    Or,
    Xor,
}

/// A step of [`Bdd::apply`]: combine two diagrams, or build the node of
/// `var` from the two results on top of the result stack.
#[derive(Clone, Copy)]
enum Frame {
    Apply(u32, u32),
    Join { var: u32, key: (u32, u32) },
}

/// A BDD manager. Diagrams are node indices; `FALSE` and `TRUE` are 0 and 1.
/// Variables are levels: a node's children have larger variables.
pub(crate) struct Bdd<'l> {
    limits: &'l Limits,
    nodes: Vec<Node>,
    unique: FxMap<Node, u32>,
    computed: FxMap<(Op, u32, u32), u32>,
    frames: Vec<Frame>,
    results: Vec<u32>,
    steps: usize,
}

impl<'l> Bdd<'l> {
    pub fn new(limits: &'l Limits) -> Self {
        let terminal = |value| Node { var: TERMINAL, lo: value, hi: value };
        Bdd {
            limits,
            nodes: vec![terminal(FALSE), terminal(TRUE)],
            unique: FxMap::default(),
            computed: FxMap::default(),
            frames: Vec::new(),
            results: Vec::new(),
            steps: 0,
        }
    }

    /// Nodes ever made, terminals included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The diagram of variable `var`.
    pub fn var(&mut self, var: u32) -> Result<u32, Stop> {
        self.make(var, FALSE, TRUE)
    }

    pub fn and(&mut self, a: u32, b: u32) -> Result<u32, Stop> {
        self.apply(Op::And, a, b)
    }

    pub fn not(&mut self, a: u32) -> Result<u32, Stop> {
        self.apply(Op::Xor, a, TRUE)
    }

    /// The conjunction of `items` (true when empty).
    pub fn and_all(&mut self, items: Vec<u32>) -> Result<u32, Stop> {
        self.balanced(Op::And, items, TRUE)
    }

    /// The disjunction of `items` (false when empty).
    pub fn or_all(&mut self, items: Vec<u32>) -> Result<u32, Stop> {
        self.balanced(Op::Or, items, FALSE)
    }

    /// `op` over `items` as a balanced tree: pairs first, so intermediate
    /// diagrams stay the size of a few operands rather than growing along a
    /// chain.
    fn balanced(&mut self, op: Op, mut items: Vec<u32>, unit: u32) -> Result<u32, Stop> {
        while items.len() > 1 {
            let mut next = Vec::with_capacity(items.len().div_ceil(2));
            for pair in items.chunks(2) {
                next.push(if let [a, b] = pair { self.apply(op, *a, *b)? } else { pair[0] });
            }
            items = next;
        }
        Ok(items.pop().unwrap_or(unit))
    }

    /// The reduced node `(var, lo, hi)`.
    pub fn make(&mut self, var: u32, lo: u32, hi: u32) -> Result<u32, Stop> {
        if lo == hi {
            return Ok(lo);
        }
        let node = Node { var, lo, hi };
        if let Some(&id) = self.unique.get(&node) {
            return Ok(id);
        }
        let id = self.nodes.len();
        if id >= self.limits.max_nodes {
            return Err(Stop::Nodes(id));
        }
        self.nodes.push(node);
        self.unique.insert(node, id as u32);
        Ok(id as u32)
    }

    /// The answer without recursion, where there is one.
    fn terminal_case(op: Op, a: u32, b: u32) -> Option<u32> {
        match op {
            Op::And if a == FALSE || b == FALSE => Some(FALSE),
            Op::And if a == TRUE || a == b => Some(b),
            Op::And if b == TRUE => Some(a),
            Op::Or if a == TRUE || b == TRUE => Some(TRUE),
            Op::Or if a == FALSE || a == b => Some(b),
            Op::Or if b == FALSE => Some(a),
            Op::Xor if a == b => Some(FALSE),
            Op::Xor if a == FALSE => Some(b),
            Op::Xor if b == FALSE => Some(a),
            _ => None,
        }
    }

    /// `a op b` by Shannon expansion on the smaller top variable.
    fn apply(&mut self, op: Op, a: u32, b: u32) -> Result<u32, Stop> {
        self.frames.clear();
        self.results.clear();
        self.frames.push(Frame::Apply(a, b));
        while let Some(frame) = self.frames.pop() {
            match frame {
                Frame::Apply(a, b) => {
                    if let Some(r) = Self::terminal_case(op, a, b) {
                        self.results.push(r);
                        continue;
                    }
                    // All three operations commute.
                    let key = if a <= b { (a, b) } else { (b, a) };
                    if let Some(&r) = self.computed.get(&(op, key.0, key.1)) {
                        self.results.push(r);
                        continue;
                    }
                    self.steps += 1;
                    if self.steps.is_multiple_of(CLOCK_EVERY) {
                        self.limits.check_time(self.nodes.len())?;
                    }
                    let (na, nb) = (self.nodes[a as usize], self.nodes[b as usize]);
                    let var = na.var.min(nb.var);
                    let (a_lo, a_hi) = if na.var == var { (na.lo, na.hi) } else { (a, a) };
                    let (b_lo, b_hi) = if nb.var == var { (nb.lo, nb.hi) } else { (b, b) };
                    self.frames.push(Frame::Join { var, key });
                    self.frames.push(Frame::Apply(a_hi, b_hi));
                    self.frames.push(Frame::Apply(a_lo, b_lo));
                }
                Frame::Join { var, key } => {
                    let hi = self.results.pop().expect("the high branch's result");
                    let lo = self.results.pop().expect("the low branch's result");
                    let r = self.make(var, lo, hi)?;
                    // Memory for the computed table is bounded by starting
                    // over; it only ever saves work.
                    if self.computed.len() >= (2 * self.nodes.len()).max(1 << 22) {
                        self.computed.clear();
                    }
                    self.computed.insert((op, key.0, key.1), r);
                    self.results.push(r);
                }
            }
        }
        Ok(self.results.pop().expect("the operation's result"))
    }

    /// The circuit of decision nodes for `roots`, over slots
    /// `slot_of_var[var]`, and how many diagram nodes it took.
    pub fn to_circuit(&self, roots: &[u32], slot_of_var: &[SlotId], num_slots: u32) -> (Circuit, usize) {
        let mut live = vec![false; self.nodes.len()];
        let mut stack: Vec<u32> = roots.to_vec();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut live[n as usize], true) && n > TRUE {
                let node = self.nodes[n as usize];
                stack.extend([node.lo, node.hi]);
            }
        }
        let mut b = CircuitBuilder::new(num_slots);
        let mut map: FxMap<u32, NodeId> = FxMap::default();
        map.insert(FALSE, b.constant(false));
        map.insert(TRUE, b.constant(true));
        // Children have smaller indices than their parents: one pass in
        // index order meets children first.
        for (i, node) in self.nodes.iter().enumerate().skip(2).filter(|(i, _)| live[*i]) {
            let slot = slot_of_var[node.var as usize];
            let (x, not_x) = (b.literal(slot, true), b.literal(slot, false));
            let hi = b.product(vec![x, map[&node.hi]]);
            let lo = b.product(vec![not_x, map[&node.lo]]);
            let decision = b.sum(vec![hi, lo]);
            map.insert(i as u32, decision);
        }
        let circuit_roots = roots.iter().map(|r| map[r]).collect();
        (b.finish(circuit_roots), live.iter().filter(|l| **l).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::Budget;

    #[test]
    fn equal_functions_are_one_node() {
        let limits = Limits::new(&Budget::default());
        let mut m = Bdd::new(&limits);
        let (x, y) = (m.var(0).unwrap(), m.var(1).unwrap());
        let x_and_y = m.and(x, y).unwrap();
        let y_and_x = m.and(y, x).unwrap();
        assert_eq!(x_and_y, y_and_x);
        // ¬(¬x ∨ ¬y) = x ∧ y
        let (nx, ny) = (m.not(x).unwrap(), m.not(y).unwrap());
        let or = m.or_all(vec![nx, ny]).unwrap();
        assert_eq!(m.not(or).unwrap(), x_and_y);
        let nnx = m.not(nx).unwrap();
        assert_eq!(nnx, x);
        let excluded = m.and(x, nx).unwrap();
        assert_eq!(excluded, FALSE);
    }

    #[test]
    fn the_node_budget_stops_apply() {
        let limits = Limits::new(&Budget { max_nodes: 7, ..Budget::default() });
        let mut m = Bdd::new(&limits);
        let vars: Vec<u32> = (0..4).map(|v| m.var(v).unwrap()).collect();
        let a = m.and(vars[0], vars[1]).unwrap();
        let b = m.and(vars[2], vars[3]);
        assert!(matches!(b, Err(Stop::Nodes(7))), "{a} {b:?}");
    }
}
