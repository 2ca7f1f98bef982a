//! Circuit optimisation by equality saturation (egg): the circuit goes into
//! an e-graph, rewrite rules justified by the laws of an algebra class add
//! equal alternatives, and extraction picks a cheaper circuit that keeps
//! sharing (a DAG, not a tree).
//!
//! The rules, by [`Rewrites`] class (each class keeps the rules of the one
//! before it):
//!
//! * [`Rewrites::Associative`], laws of **every** algebra (t-norms
//!   included): associativity, which flattens a sum into a sum or a product
//!   into a product when the inner node has no other parent; commutativity
//!   (children are kept sorted); identities and annihilation by the
//!   constants (`x ⊗ 1 = x`, `x ⊕ 0 = x`, `x ⊗ 0 = 0`).
//! * [`Rewrites::Semiring`] (probability, log-probability, counting,
//!   max-product, boolean, Gödel): distributivity used to factor a common
//!   child out of a sum of products, `a·b ⊕ a·c → a·(b ⊕ c)`.
//! * [`Rewrites::Lattice`] (boolean, Gödel): idempotence (`a ⊕ a = a`,
//!   `a ⊗ a = a`), absorption (`a ⊕ a·b = a`, `a ⊗ (a ⊕ b) = a`) and `1` as
//!   the top (`a ⊕ 1 = 1`).
//!
//! A rewritten circuit computes the same function of its literal weights
//! in every algebra of its class, so the same values and the same
//! gradients; it records its class, and evaluators refuse an algebra
//! outside it. Under the associative and semiring classes it also keeps the
//! original's properties (it is, by those laws, the same polynomial as a
//! deterministic, decomposable circuit where the original was one).
//!
//! Saturation stops at a [`Budget`] of e-nodes, iterations and time.
//!
//! ```
//! use deeplog_circuits::optimize::{optimize, Budget, Rewrites};
//! use deeplog_circuits::{CircuitBuilder, SlotId};
//!
//! // a·b + a·c: four product edges and two sum edges.
//! let mut b = CircuitBuilder::new(3);
//! let (x, y, z) = (b.literal(SlotId(0), true), b.literal(SlotId(1), true), b.literal(SlotId(2), true));
//! let (xy, xz) = (b.product(vec![x, y]), b.product(vec![x, z]));
//! let root = b.sum(vec![xy, xz]);
//! let circuit = b.finish(vec![root]);
//! let optimized = optimize(&circuit, Rewrites::Semiring, &Budget::default());
//! // a·(b + c): four edges.
//! assert_eq!((circuit.num_edges(), optimized.circuit.num_edges()), (6, 4));
//! ```

use std::time::{Duration, Instant};

use egg::{EGraph, Id, Language};
use rustc_hash::FxHashMap;

use deeplog_semirings::Laws;

use crate::circuit::{Circuit, CircuitBuilder, Literal, Node, NodeId};
use crate::layered::LayeredCircuit;
use crate::properties::{check, Evidence, Knowledge, Properties};

/// Which laws the rewrites may use; see the module docs for the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rewrites {
    /// Associativity, commutativity, identities, annihilation: every algebra.
    Associative,
    /// Adds distributivity: commutative semirings.
    Semiring,
    /// Adds idempotence, absorption and the top: distributive lattices.
    Lattice,
}

impl Rewrites {
    /// The largest class whose laws an algebra with `laws` satisfies.
    pub fn for_laws(laws: Laws) -> Rewrites {
        if laws.lattice {
            Rewrites::Lattice
        } else if laws.distributive {
            Rewrites::Semiring
        } else {
            Rewrites::Associative
        }
    }

    /// Whether a circuit rewritten with this class keeps its value in an
    /// algebra with `laws`.
    pub fn valid_in(self, laws: Laws) -> bool {
        match self {
            Rewrites::Associative => true,
            Rewrites::Semiring => laws.distributive,
            Rewrites::Lattice => laws.lattice,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Rewrites::Associative => "associative",
            Rewrites::Semiring => "semiring",
            Rewrites::Lattice => "lattice",
        }
    }

    pub fn from_name(name: &str) -> Option<Rewrites> {
        [Rewrites::Associative, Rewrites::Semiring, Rewrites::Lattice].into_iter().find(|r| r.name() == name)
    }
}

/// Limits on saturation: it stops at whichever comes first.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// E-nodes in the e-graph.
    pub max_enodes: usize,
    /// Rounds of search-then-apply.
    pub max_iterations: usize,
    /// Wall-clock time for the whole optimisation, extraction included
    /// (saturation stops early enough to leave extraction its share).
    pub time: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_enodes: 4_000_000, max_iterations: 8, time: Duration::from_secs(10) }
    }
}

/// Why saturation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// No rule found anything new.
    Saturated,
    Iterations,
    Enodes,
    Time,
}

/// What an optimisation did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub rewrites: &'static str,
    /// Nodes and edges the roots reach.
    pub nodes_before: usize,
    pub edges_before: usize,
    /// Extraction's estimate of evaluation work (edges, rows, fusion).
    pub cost_before: f64,
    pub nodes_after: usize,
    pub edges_after: usize,
    pub cost_after: f64,
    /// Whether the result is cheaper; if not, it is the original circuit.
    pub improved: bool,
    pub iterations: usize,
    pub enodes: usize,
    pub stop: Stop,
    pub seconds: f64,
}

/// An optimised circuit and what it took.
#[derive(Clone, Debug)]
pub struct Optimized {
    pub circuit: Circuit,
    pub report: Report,
}

/// Whether to optimise (`--optimize off|on|auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    Off,
    On,
    /// Only where it pays: a linear scan first counts what the rules could
    /// save, and saturation runs only where that is at least
    /// [`AUTO_MIN_SAVING`] of the circuit; the result is kept only if its
    /// laid-out form ([`LayeredCircuit`]) has that much fewer edges and no
    /// more layers (on the shared benchmarks, circuits that lost edges but
    /// gained layers evaluated slower).
    #[default]
    Auto,
}

/// The share of a circuit's cost `auto` must expect to save, and save.
pub const AUTO_MIN_SAVING: f64 = 0.10;

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Mode::Off),
            "on" => Ok(Mode::On),
            "auto" => Ok(Mode::Auto),
            _ => Err(format!("unknown optimisation mode `{s}`; expected off, on or auto")),
        }
    }
}

/// What `mode` makes of `circuit`: the optimised circuit, or `None` where
/// it stays as it is (off; or auto, where it would not pay).
pub fn run(circuit: &Circuit, rewrites: Rewrites, mode: Mode, budget: &Budget) -> Option<Optimized> {
    match mode {
        Mode::Off => None,
        Mode::On => Some(optimize(circuit, rewrites, budget)),
        Mode::Auto => {
            if promise(circuit, rewrites) < AUTO_MIN_SAVING * Size::of(circuit).cost {
                return None;
            }
            let optimized = optimize(circuit, rewrites, budget);
            if !optimized.report.improved {
                return None;
            }
            let (before, after) = (LayeredCircuit::new(circuit), LayeredCircuit::new(&optimized.circuit));
            let pays = after.num_edges() as f64 <= (1.0 - AUTO_MIN_SAVING) * before.num_edges() as f64
                && after.num_layers() <= before.num_layers();
            pays.then_some(optimized)
        }
    }
}

/// An upper estimate, in [`own_cost`] units, of what one round of the rules
/// saves: a sum child of a sum (or product child of a product) with no
/// other parent flattens away, and each product sharing a factor with a
/// sibling product gives up the factor's edge.
fn promise(circuit: &Circuit, rewrites: Rewrites) -> f64 {
    let nodes = circuit.nodes();
    let mut users = vec![0u32; nodes.len()];
    for node in nodes {
        for c in node.children() {
            users[c.index()] += 1;
        }
    }
    for r in circuit.roots() {
        users[r.index()] += 1;
    }
    let mut saving = 0.0;
    let mut counts: FxHashMap<NodeId, u32> = FxHashMap::default();
    for node in nodes {
        let is_sum = matches!(node, Node::Sum(_));
        for c in node.children() {
            let same = matches!(
                (node, &nodes[c.index()]),
                (Node::Sum(_), Node::Sum(_)) | (Node::Product(_), Node::Product(_))
            );
            if same && users[c.index()] == 1 {
                saving += 1.0;
            }
        }
        if is_sum && rewrites >= Rewrites::Semiring {
            counts.clear();
            for c in node.children().iter().filter(|c| users[c.index()] == 1) {
                if let Node::Product(factors) = &nodes[c.index()] {
                    for f in factors.iter() {
                        *counts.entry(*f).or_default() += 1;
                    }
                }
            }
            saving += counts.values().map(|&n| f64::from(n.max(1) - 1)).fold(0.0, f64::max);
        }
    }
    saving
}

/// The e-graph's language: the circuit's nodes over e-class ids. Children
/// of sums and products are kept sorted where they are made.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ENode {
    False,
    True,
    Literal(Literal),
    Sum(Box<[Id]>),
    Product(Box<[Id]>),
}

impl Language for ENode {
    type Discriminant = (u8, Option<Literal>);

    fn discriminant(&self) -> Self::Discriminant {
        match self {
            ENode::False => (0, None),
            ENode::True => (1, None),
            ENode::Literal(l) => (2, Some(*l)),
            ENode::Sum(_) => (3, None),
            ENode::Product(_) => (4, None),
        }
    }

    fn matches(&self, other: &Self) -> bool {
        self.discriminant() == other.discriminant() && self.children().len() == other.children().len()
    }

    fn children(&self) -> &[Id] {
        match self {
            ENode::Sum(c) | ENode::Product(c) => c,
            _ => &[],
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            ENode::Sum(c) | ENode::Product(c) => c,
            _ => &mut [],
        }
    }
}

impl ENode {
    fn is_sum(&self) -> bool {
        matches!(self, ENode::Sum(_))
    }
    fn is_product(&self) -> bool {
        matches!(self, ENode::Product(_))
    }
}

/// A term to add to the e-graph: existing classes combined by new nodes.
enum Term {
    Class(Id),
    Sum(Vec<Term>),
    Product(Vec<Term>),
}

type Graph = EGraph<ENode, ()>;

/// Optimises `circuit` with the rules of `rewrites` within `budget`.
pub fn optimize(circuit: &Circuit, rewrites: Rewrites, budget: &Budget) -> Optimized {
    let start = Instant::now();
    let deadline = start + budget.time.mul_f64(0.7);
    let mut graph = Graph::default();
    let mut class_of: Vec<Id> = Vec::with_capacity(circuit.num_nodes());
    for node in circuit.nodes() {
        let enode = match node {
            Node::False => ENode::False,
            Node::True => ENode::True,
            Node::Literal(l) => ENode::Literal(*l),
            Node::Sum(cs) => ENode::Sum(cs.iter().map(|c| class_of[c.index()]).collect()),
            Node::Product(cs) => ENode::Product(cs.iter().map(|c| class_of[c.index()]).collect()),
        };
        class_of.push(graph.add(enode));
    }
    let constants = (graph.add(ENode::False), graph.add(ENode::True));
    graph.rebuild();
    let roots: Vec<Id> = circuit.roots().iter().map(|r| class_of[r.index()]).collect();

    let mut iterations = 0;
    let stop = loop {
        if iterations >= budget.max_iterations {
            break Stop::Iterations;
        }
        if graph.total_size() >= budget.max_enodes {
            break Stop::Enodes;
        }
        let Some(terms) = search(&graph, &roots, rewrites, constants, deadline) else { break Stop::Time };
        iterations += 1;
        let (size, classes) = (graph.total_size(), graph.number_of_classes());
        let mut merged = false;
        for (class, term) in terms {
            let id = add_term(&mut graph, &term);
            merged |= graph.union(class, id);
            if graph.total_size() >= budget.max_enodes {
                break;
            }
        }
        graph.rebuild();
        if !merged && graph.total_size() == size && graph.number_of_classes() == classes {
            break Stop::Saturated;
        }
        if Instant::now() >= deadline {
            break Stop::Time;
        }
    };
    let enodes = graph.total_size();
    let mut optimized = extract(&graph, &roots, circuit.num_slots());
    drop(graph);
    let (before, after) = (Size::of(circuit), Size::of(&optimized));
    let improved = after.cost < before.cost;
    if improved {
        inherit_properties(&mut optimized, circuit, rewrites);
    } else {
        optimized = circuit.clone();
    }
    let report = Report {
        rewrites: rewrites.name(),
        nodes_before: before.nodes,
        edges_before: before.edges,
        cost_before: before.cost,
        nodes_after: if improved { after.nodes } else { before.nodes },
        edges_after: if improved { after.edges } else { before.edges },
        cost_after: if improved { after.cost } else { before.cost },
        improved,
        iterations,
        enodes,
        stop,
        seconds: start.elapsed().as_secs_f64(),
    };
    Optimized { circuit: optimized, report }
}

/// The part of a circuit its roots reach: nodes, edges, and the cost
/// extraction minimises ([`own_cost`] summed).
struct Size {
    nodes: usize,
    edges: usize,
    cost: f64,
}

impl Size {
    fn of(circuit: &Circuit) -> Size {
        let nodes = circuit.nodes();
        let mut reached = vec![false; nodes.len()];
        for r in circuit.roots() {
            reached[r.index()] = true;
        }
        let mut size = Size { nodes: 0, edges: 0, cost: 0.0 };
        for (i, node) in nodes.iter().enumerate().rev() {
            if !reached[i] {
                continue;
            }
            size.nodes += 1;
            size.edges += node.children().len();
            size.cost += match node {
                Node::Sum(cs) => op_cost(true, cs.len()),
                Node::Product(cs) => op_cost(false, cs.len()),
                _ => 0.0,
            };
            for c in node.children() {
                reached[c.index()] = true;
            }
        }
        size
    }
}

/// How many distinct classes (and roots) use each class: a class with one
/// user can be merged into it without copying it.
fn uses(graph: &Graph, roots: &[Id]) -> FxHashMap<Id, u32> {
    let mut uses: FxHashMap<Id, u32> = FxHashMap::default();
    let mut last: FxHashMap<Id, Id> = FxHashMap::default();
    for class in graph.classes() {
        for node in &class.nodes {
            for &c in node.children() {
                if last.insert(c, class.id) != Some(class.id) {
                    *uses.entry(c).or_default() += 1;
                }
            }
        }
    }
    for r in roots {
        *uses.entry(graph.find(*r)).or_default() += 1;
    }
    uses
}

/// One round of matching: every rule over every class, read-only; the
/// terms to union with their classes. `None` when the deadline passed.
fn search(
    graph: &Graph,
    roots: &[Id],
    rewrites: Rewrites,
    (false_id, true_id): (Id, Id),
    deadline: Instant,
) -> Option<Vec<(Id, Term)>> {
    let (false_id, true_id) = (graph.find(false_id), graph.find(true_id));
    let uses = uses(graph, roots);
    let single = |c: Id| uses.get(&c).copied().unwrap_or(0) == 1;
    let mut ids: Vec<Id> = graph.classes().map(|c| c.id).collect();
    ids.sort_unstable();
    let mut out = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        if i % 4096 == 0 && Instant::now() >= deadline {
            return None;
        }
        for node in &graph[id].nodes {
            let (is_sum, children) = match node {
                ENode::Sum(c) => (true, c),
                ENode::Product(c) => (false, c),
                _ => continue,
            };
            let same_op = |n: &ENode| if is_sum { n.is_sum() } else { n.is_product() };
            let rebuild = |cs: Vec<Id>| {
                if is_sum {
                    Term::Sum(cs.into_iter().map(Term::Class).collect())
                } else {
                    Term::Product(cs.into_iter().map(Term::Class).collect())
                }
            };

            // Identities and annihilation.
            let (identity, annihilator) = if is_sum { (false_id, true_id) } else { (true_id, false_id) };
            if !is_sum && children.contains(&annihilator) {
                out.push((id, Term::Class(false_id)));
                continue;
            }
            if is_sum && rewrites == Rewrites::Lattice && children.contains(&annihilator) {
                out.push((id, Term::Class(true_id)));
                continue;
            }
            if children.contains(&identity) {
                out.push((id, rebuild(children.iter().copied().filter(|&c| c != identity).collect())));
                continue;
            }

            // Commutativity: the canonical order, after merges renamed children.
            if !children.windows(2).all(|w| w[0] <= w[1]) {
                let mut sorted = children.to_vec();
                sorted.sort_unstable();
                out.push((id, rebuild(sorted)));
            }

            // Associativity: flatten single-use children of the same operation.
            let mut flat: Vec<Id> = Vec::with_capacity(children.len());
            let mut flattened = false;
            for &c in children.iter() {
                let inner = (c != id && single(c)).then(|| graph[c].nodes.iter().find(|n| same_op(n))).flatten();
                match inner {
                    Some(n) => {
                        flat.extend_from_slice(n.children());
                        flattened = true;
                    }
                    None => flat.push(c),
                }
            }
            if flattened && flat.len() <= 1024 {
                out.push((id, rebuild(flat)));
            }

            if rewrites == Rewrites::Lattice {
                if let Some(term) = lattice(graph, id, is_sum, children) {
                    out.push((id, term));
                    continue;
                }
            }
            if is_sum && rewrites >= Rewrites::Semiring {
                if let Some(term) = factor(graph, id, children, &single) {
                    out.push((id, term));
                }
            }
        }
    }
    Some(out)
}

/// Idempotence and absorption on one sum or product node.
fn lattice(graph: &Graph, id: Id, is_sum: bool, children: &[Id]) -> Option<Term> {
    let mut kept: Vec<Id> = children.to_vec();
    kept.sort_unstable();
    kept.dedup();
    let dual = |n: &ENode| if is_sum { n.is_product() } else { n.is_sum() };
    // a ⊕ a·b = a and a ⊗ (a ⊕ b) = a: drop a child whose dual node has a
    // sibling among its own children, one at a time, so that of two
    // children that absorb each other (equal, through merged classes) one
    // stays.
    let mut absorbed = false;
    let mut i = 0;
    while i < kept.len() {
        let c = kept[i];
        let by_sibling = c != id
            && graph[c].nodes.iter().any(|n| dual(n) && n.children().iter().any(|g| *g != c && kept.contains(g)));
        if by_sibling {
            kept.remove(i);
            absorbed = true;
        } else {
            i += 1;
        }
    }
    if !absorbed && kept.len() == children.len() {
        return None;
    }
    Some(match kept.len() {
        1 => Term::Class(kept[0]),
        _ if is_sum => Term::Sum(kept.into_iter().map(Term::Class).collect()),
        _ => Term::Product(kept.into_iter().map(Term::Class).collect()),
    })
}

/// `a·b ⊕ a·c ⊕ d → a·(b ⊕ c) ⊕ d` for the child `a` shared by the most
/// single-use products among the sum's children.
fn factor(graph: &Graph, id: Id, children: &[Id], single: &impl Fn(Id) -> bool) -> Option<Term> {
    // The widest product node of each single-use child class.
    let products: Vec<Option<&[Id]>> = children
        .iter()
        .map(|&c| {
            (c != id && single(c))
                .then(|| {
                    graph[c].nodes.iter().filter(|n| n.is_product()).map(|n| n.children()).max_by_key(|cs| cs.len())
                })
                .flatten()
        })
        .collect();
    let mut counts: FxHashMap<Id, u32> = FxHashMap::default();
    for p in products.iter().flatten() {
        let mut seen: Vec<Id> = p.to_vec();
        seen.dedup();
        for f in seen {
            *counts.entry(f).or_default() += 1;
        }
    }
    let (&common, &n) = counts.iter().max_by_key(|(f, n)| (**n, std::cmp::Reverse(**f)))?;
    if n < 2 {
        return None;
    }
    let mut rests = Vec::new();
    let mut others = Vec::new();
    for (&c, p) in children.iter().zip(&products) {
        match p {
            Some(p) if p.contains(&common) => {
                let mut rest: Vec<Id> = p.to_vec();
                let at = rest.iter().position(|&x| x == common).expect("contains");
                rest.remove(at);
                rests.push(match rest.len() {
                    0 => Term::Product(Vec::new()),
                    1 => Term::Class(rest[0]),
                    _ => Term::Product(rest.into_iter().map(Term::Class).collect()),
                });
            }
            _ => others.push(Term::Class(c)),
        }
    }
    let factored = Term::Product(vec![Term::Class(common), Term::Sum(rests)]);
    Some(if others.is_empty() {
        factored
    } else {
        others.push(factored);
        Term::Sum(others)
    })
}

/// Adds `term`, returning its class; an empty product is `1`.
fn add_term(graph: &mut Graph, term: &Term) -> Id {
    match term {
        Term::Class(id) => *id,
        Term::Sum(ts) | Term::Product(ts) => {
            let mut cs: Vec<Id> = ts.iter().map(|t| add_term(graph, t)).collect();
            let is_sum = matches!(term, Term::Sum(_));
            match cs.len() {
                0 if is_sum => graph.add(ENode::False),
                0 => graph.add(ENode::True),
                1 => cs[0],
                _ => {
                    cs.sort_unstable();
                    graph.add(if is_sum { ENode::Sum(cs.into()) } else { ENode::Product(cs.into()) })
                }
            }
        }
    }
}

/// What a node costs when evaluated (see [`crate::layered`]): its edges,
/// and a little for its row. A binary product under a sum is fused into it
/// (its two factors are one pair of the sum's row), which costs the sum one
/// entry more than a plain child; any other product costs a row, its edges,
/// and pairing with `1` when it is a child of such a sum.
fn own_cost(node: &ENode) -> f64 {
    match node {
        ENode::Sum(cs) => op_cost(true, cs.len()),
        ENode::Product(cs) => op_cost(false, cs.len()),
        _ => 0.0,
    }
}

/// [`own_cost`] of a sum or product with `arity` children.
fn op_cost(is_sum: bool, arity: usize) -> f64 {
    match (is_sum, arity) {
        (true, n) => n as f64 + 0.25,
        (false, 2) => 1.0,
        (false, n) => n as f64 + 1.25,
    }
}

/// Picks one node per class and builds the circuit of the classes the
/// roots reach. A node costs [`own_cost`] plus its children's costs, each
/// shared among the child's users so that a shared child is not paid for
/// twice; users are first counted in the e-graph, then in the circuit the
/// previous round extracted, and the round with the fewest edges wins.
/// Cheapest choices could form a cycle through merged classes: the classes
/// on one fall back to a node of least height (whose children are strictly
/// lower), until none is left.
fn extract(graph: &Graph, roots: &[Id], num_slots: u32) -> Circuit {
    let mut ids: Vec<Id> = graph.classes().map(|c| c.id).collect();
    ids.sort_unstable();
    let index: FxHashMap<Id, usize> = ids.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let slot = |c: Id| index[&graph.find(c)];
    let nodes: Vec<&[ENode]> = ids.iter().map(|&id| graph[id].nodes.as_slice()).collect();
    // Node children as dense class indices.
    let kids: Vec<Vec<Vec<usize>>> =
        nodes.iter().map(|ns| ns.iter().map(|n| n.children().iter().map(|&c| slot(c)).collect()).collect()).collect();
    let roots: Vec<usize> = roots.iter().map(|&r| slot(r)).collect();

    // Heights: least over a class's nodes of one more than its highest child.
    let mut height = vec![u32::MAX; ids.len()];
    let mut lowest = vec![usize::MAX; ids.len()];
    loop {
        let mut changed = false;
        for i in 0..ids.len() {
            for (j, ks) in kids[i].iter().enumerate() {
                let h = ks.iter().map(|&k| height[k]).max().map_or(0, |h| h.saturating_add(1));
                if h < height[i] {
                    (height[i], lowest[i], changed) = (h, j, true);
                }
            }
        }
        if !changed {
            break;
        }
    }

    let mut uses = vec![1u32; ids.len()];
    for ks in kids.iter() {
        let mut seen: Vec<usize> = ks.iter().flatten().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        for k in seen {
            uses[k] += 1;
        }
    }
    let mut best: Option<Circuit> = None;
    for _round in 0..3 {
        let choice = choose(&nodes, &kids, &uses, &lowest);
        let (circuit, used) = build(&nodes, &kids, choice, &lowest, &roots, num_slots);
        for (u, n) in uses.iter_mut().zip(&used) {
            if *n > 0 {
                *u = *n;
            }
        }
        if best.as_ref().is_none_or(|b| circuit.num_edges() < b.num_edges()) {
            best = Some(circuit);
        }
    }
    best.expect("three rounds ran")
}

/// The cheapest node of each class (an index into its nodes).
fn choose(nodes: &[&[ENode]], kids: &[Vec<Vec<usize>>], uses: &[u32], lowest: &[usize]) -> Vec<usize> {
    let mut cost = vec![f64::INFINITY; nodes.len()];
    let mut choice = lowest.to_vec();
    for _ in 0..64 {
        let mut changed = false;
        for i in 0..nodes.len() {
            for (j, ks) in kids[i].iter().enumerate() {
                let c = own_cost(&nodes[i][j]) + ks.iter().map(|&k| cost[k] / f64::from(uses[k].max(1))).sum::<f64>();
                if c < cost[i] * (1.0 - 1e-12) {
                    (cost[i], choice[i], changed) = (c, j, true);
                }
            }
        }
        if !changed {
            break;
        }
    }
    choice
}

/// The circuit of the classes the roots reach under `choice`, and how
/// many distinct chosen parents (and roots) use each class.
fn build(
    nodes: &[&[ENode]],
    kids: &[Vec<Vec<usize>>],
    mut choice: Vec<usize>,
    lowest: &[usize],
    roots: &[usize],
    num_slots: u32,
) -> (Circuit, Vec<u32>) {
    let order = loop {
        match topological(kids, &choice, roots) {
            Ok(order) => break order,
            Err(on_cycle) => {
                for i in on_cycle {
                    choice[i] = lowest[i];
                }
            }
        }
    };
    let mut b = CircuitBuilder::new(num_slots);
    let mut built: Vec<NodeId> = vec![NodeId(0); nodes.len()];
    let mut used = vec![0u32; nodes.len()];
    for &r in roots {
        used[r] += 1;
    }
    for i in order {
        let ks = &kids[i][choice[i]];
        let mut distinct = ks.clone();
        distinct.sort_unstable();
        distinct.dedup();
        for k in distinct {
            used[k] += 1;
        }
        let children = || ks.iter().map(|&k| built[k]).collect::<Vec<_>>();
        built[i] = match &nodes[i][choice[i]] {
            ENode::False => b.constant(false),
            ENode::True => b.constant(true),
            ENode::Literal(l) => b.literal(l.slot, l.positive),
            ENode::Sum(_) => b.sum(children()),
            ENode::Product(_) => b.product(children()),
        };
    }
    (b.finish(roots.iter().map(|&r| built[r]).collect()), used)
}

/// The classes the roots reach, in an order with every chosen node's
/// children first; or the reached classes left on cycles.
fn topological(kids: &[Vec<Vec<usize>>], choice: &[usize], roots: &[usize]) -> Result<Vec<usize>, Vec<usize>> {
    let mut reached = vec![false; kids.len()];
    let mut stack: Vec<usize> = roots.to_vec();
    let mut members = Vec::new();
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut reached[i], true) {
            members.push(i);
            stack.extend(kids[i][choice[i]].iter().copied());
        }
    }
    let mut pending = vec![0u32; kids.len()];
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); kids.len()];
    for &i in &members {
        for &k in &kids[i][choice[i]] {
            pending[i] += 1;
            parents[k].push(i);
        }
    }
    let mut order: Vec<usize> = members.iter().copied().filter(|&i| pending[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let i = order[next];
        next += 1;
        for &p in &parents[i] {
            pending[p] -= 1;
            if pending[p] == 0 {
                order.push(p);
            }
        }
    }
    if order.len() == members.len() {
        Ok(order)
    } else {
        Err(members.into_iter().filter(|&i| pending[i] > 0).collect())
    }
}

/// Under the associative and semiring laws the result is the original's
/// polynomial in its literal weights, so whatever the original guaranteed
/// for an algebra of the class still holds for its values.
fn inherit_properties(optimized: &mut Circuit, original: &Circuit, rewrites: Rewrites) {
    optimized.rewritten = Some(rewrites);
    if rewrites == Rewrites::Lattice {
        return;
    }
    let keep = |k: Knowledge| match k {
        Knowledge::Holds(_) => {
            Knowledge::Holds(Evidence::ByConstruction("rewritten by semiring laws from a circuit where it holds"))
        }
        _ => Knowledge::Unknown,
    };
    let Properties { decomposable, deterministic, smooth } = check(original);
    optimized.inherited =
        Some(Properties { decomposable: keep(decomposable), deterministic: keep(deterministic), smooth: keep(smooth) });
}
