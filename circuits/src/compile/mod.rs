//! Exact inference's middle: a ground [`GroundProgram`] and its queries
//! become one deterministic, decomposable [`Circuit`].
//!
//! Two compilers, each a file or folder here, build the same kind of
//! diagram; [`Method`] picks one:
//!
//! - Bottom-up, in two stages:
//!   1. [`lineage`]: every choice becomes input slots (an annotated
//!      disjunction a chain of conditional slots), and every relevant atom
//!      a hash-consed boolean formula over the slots, with cycles unrolled
//!      to their least fixpoint; `rewrite` may then shrink the formulas
//!      by the laws of the boolean lattice (egg).
//!   2. [`bdd`]: the formulas are compiled into one reduced ordered BDD
//!      (shared by all queries).
//! - Top-down (`topdown/`), for cyclic positive programs: Shannon expansion
//!   of the residual program, slot by slot, into the same kind of BDD,
//!   never building the unrolled fixpoint rounds. `topdown/order.rs` picks
//!   the slot order, `topdown/state.rs` encodes residual programs, and
//!   `topdown/simplify/` reduces each to a canonical form, one pass per
//!   file (`target`, `derivable`, `relevance`, `circular`, `unfold`,
//!   `equivalent`, `subsumed`, `canonical`), so equal ones meet in a cache.
//!
//! Either way the BDD is written out as a circuit of decision nodes
//! `x·hi + ¬x·lo`: deterministic and decomposable by construction.
//!
//! Every stage counts its nodes against a [`Budget`] and watches its
//! timeout, and stops with a [`CompileError`] that names the query being
//! compiled and how large it got.
//!
//! ```
//! use deeplog_circuits::compile::{compile, Budget};
//! use deeplog_circuits::{CpuEvaluator, LayeredCircuit, Weights};
//! use deeplog_program::{AtomId, Choice, GroundProgram};
//! use deeplog_semirings::Probability;
//!
//! // 0.3::a(s); 0.7::a(t).   query(a(s)).  query(a(t)).
//! let (s, t) = (AtomId::new(0), AtomId::new(1));
//! let choice = Choice::Disjunction { atoms: vec![(s, 0.3), (t, 0.7)] };
//! let program = GroundProgram::propositional(2, vec![], vec![choice]);
//! let compiled = compile(&program, &[s, t], &[], &Budget::default()).unwrap();
//! let layered = LayeredCircuit::new(&compiled.circuit);
//! let eval = CpuEvaluator::<Probability<f64>>::new(&layered).unwrap();
//! let weights = compiled.slots.iter().map(|s| s.probability).collect();
//! let p = eval.forward(&Weights::complementary(1, weights)).unwrap();
//! assert!((p[0] - 0.3).abs() < 1e-12 && (p[1] - 0.7).abs() < 1e-12);
//! ```

pub mod bdd;
pub mod cnf;
mod error;
pub mod lineage;
mod rewrite;
pub(crate) mod topdown;

pub use error::CompileError;

use std::time::{Duration, Instant};

use crate::circuit::{Circuit, SlotId};
use crate::optimize;
use deeplog_program::{AtomId, GroundProgram};

use bdd::Bdd;
use lineage::{Formula, FormulaId, Lineage};
use topdown::{Order, TopDown};

/// How much a compilation may build before it gives up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Most nodes of any one structure (lineage formulas, BDD nodes).
    pub max_nodes: usize,
    /// Wall-clock limit for the whole compilation.
    pub timeout: Option<Duration>,
    /// Where to rewrite the lineage by the laws of the boolean lattice
    /// before compiling it (`rewrite`; the bottom-up compiler only, the
    /// top-down one reads the rules themselves).
    pub rewrite_lineage: LineageRewriting,
}

/// Where [`Budget::rewrite_lineage`] rewrites.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineageRewriting {
    Never,
    /// Where a cycle was unrolled into fixpoint rounds, whose formulas
    /// subsume each other: there the rewrite costs milliseconds and the
    /// BDD operations it saves up to seconds (1.4–2.3× faster compiles of
    /// the shared graph programs). Acyclic lineage (the digit sums) is left
    /// alone: its rewrite took longer than compiling it.
    #[default]
    Unrolled,
    Always,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_nodes: 50_000_000, timeout: None, rewrite_lineage: LineageRewriting::default() }
    }
}

/// The weight of one input slot.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotWeight {
    /// Probability of the slot's positive literal (its negative literal has
    /// `1 − probability`: weights are complementary).
    pub probability: f64,
    /// The choice (index into [`GroundProgram::choices`]) the slot encodes.
    pub choice: usize,
    /// For a disjunction, the alternative whose chain link this is
    /// (conditional probability `p_i / (1 − p_1 − … − p_{i−1})`); 0 for a fact.
    pub alternative: usize,
}

/// Which compiler [`compile_with`] runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// Top-down where the relevant rules are positive and cyclic (where
    /// bottom-up compilation unrolls cycles into diagrams far larger than
    /// the result), bottom-up otherwise.
    #[default]
    Auto,
    /// Shannon expansion of the residual program with a cache of residual
    /// programs (`topdown`). Programs whose relevant part negates an
    /// atom are compiled bottom-up instead.
    TopDown,
    /// Lineage formulas, then BDD operations on them ([`lineage`], [`bdd`]).
    BottomUp,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::TopDown => "top-down",
            Method::BottomUp => "bottom-up",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Method::Auto),
            "top-down" => Ok(Method::TopDown),
            "bottom-up" => Ok(Method::BottomUp),
            other => Err(format!("unknown compiler `{other}`: expected auto, top-down or bottom-up")),
        }
    }
}

/// Sizes of the intermediate structures, for `--timings`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// The compiler that ran (never `Auto`).
    pub method: Method,
    /// Hash-consed formula nodes of the lineage (all queries; 0 top-down).
    pub lineage_nodes: usize,
    /// Nodes of the shared BDD, terminals included, garbage included.
    pub bdd_nodes: usize,
    /// BDD nodes reachable from the roots.
    pub bdd_live_nodes: usize,
    /// What rewriting the lineage did, where it ran.
    pub lineage_rewrite: Option<LineageRewrite>,
}

/// What [`Budget::rewrite_lineage`] did: edges of the lineage's circuit
/// (in negation normal form) before and after, and how long it took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineageRewrite {
    pub edges_before: usize,
    pub edges_after: usize,
    /// Whether the rewritten lineage was cheaper (and so compiled).
    pub improved: bool,
    pub micros: u64,
}

/// A compiled program.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Deterministic (declared) and decomposable; roots described by
    /// [`Compiled::with_evidence`].
    pub circuit: Circuit,
    /// One per input slot: `SlotId(i)` is `slots[i]`.
    pub slots: Vec<SlotWeight>,
    /// Roots: without evidence, root `i` is query `i`. With evidence `E`,
    /// root `2i` is `query i ∧ E` and root `2i + 1` is `E`, so
    /// `P(q_i | E) = value[2i] / value[2i + 1]`.
    pub with_evidence: bool,
    pub stats: CompileStats,
}

/// Why a stage stopped early; [`compile`] adds which query it was on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Nodes(usize),
    Time(usize),
    /// A racing compilation finished first.
    Cancelled,
    NotStratified {
        atom: AtomId,
        negated: AtomId,
    },
}

impl Stop {
    /// The error for a stop while building the lineage of `query`.
    pub(crate) fn in_lineage(self, query: Option<AtomId>, limits: &Limits) -> CompileError {
        match self {
            Stop::Nodes(nodes) => CompileError::LineageBudget { query, nodes },
            Stop::Time(nodes) => CompileError::Timeout { query, nodes, elapsed: limits.started.elapsed() },
            Stop::NotStratified { atom, negated } => CompileError::NotStratified { atom, negated },
            Stop::Cancelled => CompileError::Timeout { query, nodes: 0, elapsed: limits.started.elapsed() },
        }
    }

    /// The error for a stop while compiling the BDD of `query`.
    fn in_bdd(self, query: Option<AtomId>, lineage: usize, limits: &Limits) -> CompileError {
        match self {
            Stop::Nodes(nodes) => CompileError::Budget { query, nodes, lineage },
            other => other.in_lineage(query, limits),
        }
    }
}

/// The budget as the stages check it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_nodes: usize,
    started: Instant,
    deadline: Option<Instant>,
}

impl Limits {
    fn new(budget: &Budget) -> Self {
        let started = Instant::now();
        Limits { max_nodes: budget.max_nodes, started, deadline: budget.timeout.map(|t| started + t) }
    }

    /// `Err` once the deadline has passed or a stop was asked for
    /// (`deeplog_program::interrupt`); `nodes` says how far it got.
    pub fn check_time(&self, nodes: usize) -> Result<(), Stop> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(Stop::Time(nodes)),
            _ if deeplog_program::interrupt::requested() => Err(Stop::Time(nodes)),
            _ => Ok(()),
        }
    }
}

/// How often (in nodes or steps) the stages look at the clock.
pub(crate) const CLOCK_EVERY: usize = 4096;

/// The tables key on small integer tuples, where SipHash's flooding
/// resistance buys nothing and costs most of the time.
pub(crate) type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Compiles `program` for `queries` given `evidence` (atom, observed value)
/// into one circuit; see [`Compiled`] for its roots.
pub fn compile(
    program: &GroundProgram,
    queries: &[AtomId],
    evidence: &[(AtomId, bool)],
    budget: &Budget,
) -> Result<Compiled, CompileError> {
    compile_with(program, queries, evidence, budget, Method::Auto)
}

/// [`compile`] with a chosen compiler.
pub fn compile_with(
    program: &GroundProgram,
    queries: &[AtomId],
    evidence: &[(AtomId, bool)],
    budget: &Budget,
    method: Method,
) -> Result<Compiled, CompileError> {
    let limits = Limits::new(budget);
    for &atom in queries.iter().chain(evidence.iter().map(|(a, _)| a)) {
        if atom.index() >= program.num_atoms() {
            return Err(CompileError::UnknownAtom { atom, num_atoms: program.num_atoms() });
        }
    }
    let mut lineage = Lineage::new(program, &limits)?;
    let target_atoms: Vec<AtomId> = queries.iter().copied().chain(evidence.iter().map(|&(a, _)| a)).collect();
    let slice = Limits { max_nodes: (limits.max_nodes / 8).max(1 << 20).min(limits.max_nodes), ..limits };
    let top_down = match method {
        Method::BottomUp => None,
        Method::TopDown => TopDown::new(program, &target_atoms, &limits, Order::Frontier, false),
        Method::Auto => TopDown::new(program, &target_atoms, &limits, Order::Frontier, true),
    };
    let used = if top_down.is_some() { Method::TopDown } else { Method::BottomUp };
    let mut lineage_rewrite = None;
    let (bdd, bdd_roots, var_of_slot) = match top_down {
        Some(mut first) => {
            // Starting a thread here costs 0.1–1 ms, more than compiling a
            // small program, and two compilations slow each other down: the
            // first order runs alone on this thread for up to 20 ms, and
            // only then races the second (keeping what it has done: its
            // cache of solved residual programs).
            let mut bdd = Bdd::new(&limits);
            first.pause_after(Some((TRIAL_VISITS, TRIAL_TIME)));
            match build_top_down(&mut first, &mut bdd, queries, evidence, &limits) {
                Ok(roots) => (bdd, roots, first.var_of_slot.clone()),
                // Paused, or out of budget in this order (the other may
                // fit): race.
                Err(e) if first.paused() || matches!(e, CompileError::TopDownBudget { .. }) => {
                    first.pause_after(None);
                    let second =
                        TopDown::new(program, &target_atoms, &limits, Order::Majority, false).expect("same program");
                    race((first, bdd), second, queries, evidence, &limits)?
                }
                Err(e) => return Err(e),
            }
        }
        None => {
            let mut query_formulas = Vec::with_capacity(queries.len());
            for &q in queries {
                query_formulas.push(lineage.atom(q).map_err(|s| s.in_lineage(Some(q), &limits))?);
            }
            let mut evidence_formulas = Vec::with_capacity(evidence.len());
            for &(atom, value) in evidence {
                let f = lineage.atom(atom).map_err(|s| s.in_lineage(None, &limits))?;
                evidence_formulas.push(if value { f } else { lineage.not(f) });
            }

            let mut roots: Vec<FormulaId> = query_formulas.iter().chain(&evidence_formulas).copied().collect();
            let rewrite = match budget.rewrite_lineage {
                LineageRewriting::Never => false,
                LineageRewriting::Unrolled => lineage.unrolled(),
                LineageRewriting::Always => true,
            };
            if rewrite {
                let saturation = optimize::Budget {
                    time: limits.deadline.map_or(optimize::Budget::default().time, |d| {
                        d.saturating_duration_since(Instant::now()).min(optimize::Budget::default().time)
                    }),
                    ..optimize::Budget::default()
                };
                let (rewritten, done) =
                    rewrite::rewrite(&mut lineage, &roots, &saturation).map_err(|s| s.in_lineage(None, &limits))?;
                lineage_rewrite = Some(done);
                let (q, e) = rewritten.split_at(query_formulas.len());
                query_formulas = q.to_vec();
                evidence_formulas = e.to_vec();
                roots = rewritten;
            }
            let targets =
                Targets { queries, evidence, query_formulas: &query_formulas, evidence_formulas: &evidence_formulas };
            // A portfolio of two variable orders: the choices' own order
            // (program order: 10–50× better on the shared digit sums) on a
            // slice of the budget, then first appearance along proofs
            // (better on some graphs) with all of it.
            let program_order: Vec<u32> = (0..lineage.num_slots() as u32).collect();
            match build_bdd(&lineage, &targets, last_alternative_first(program, program_order), &slice) {
                Ok(built) => built,
                Err(CompileError::Budget { .. }) => {
                    let order = last_alternative_first(program, variable_order(&lineage, &roots));
                    build_bdd(&lineage, &targets, order, &limits)?
                }
                Err(e) => return Err(e),
            }
        }
    };
    let lineage_nodes = lineage.len();
    let mut slot_of_var = vec![SlotId(0); var_of_slot.len()];
    for (slot, &var) in var_of_slot.iter().enumerate() {
        slot_of_var[var as usize] = SlotId(slot as u32);
    }
    let with_evidence = !evidence.is_empty();

    let slots = lineage.into_slots();
    let (mut circuit, live) = bdd.to_circuit(&bdd_roots, &slot_of_var, slots.len() as u32);
    circuit.declare_deterministic("compiled from an ordered BDD: every sum decides one slot");
    circuit.declare_decomposable("compiled from an ordered BDD: a decision's branches mention only later slots");
    let stats =
        CompileStats { method: used, lineage_nodes, bdd_nodes: bdd.len(), bdd_live_nodes: live, lineage_rewrite };
    Ok(Compiled { circuit, slots, with_evidence, stats })
}

/// How long the top-down compiler's first order runs alone before the
/// second starts racing it: visits (2–6 µs each on the shared programs) or
/// time, whichever comes first. Two compilations slow each other down
/// here (path_dense_11 alone: 12.8 ms, racing after 3 ms: 18.2 ms), so the
/// second order starts only where the first has run for a while; where it
/// then wins, it is by far more than the wait (path_sparse_22: 0.6 s
/// racing, 2.4 s in the first order alone).
const TRIAL_VISITS: usize = 16_384;
const TRIAL_TIME: Duration = Duration::from_millis(20);

/// [`build_top_down`] in two slot orders at once where there are two
/// cores (the first to finish wins and stops the other), else in the first
/// order, which may have made a start on `bdd`. The circuit's shape then
/// depends on which finished first; its function does not.
fn race<'l>(
    (mut first, mut bdd): (TopDown<'l>, Bdd<'l>),
    second: TopDown<'l>,
    queries: &[AtomId],
    evidence: &[(AtomId, bool)],
    limits: &'l Limits,
) -> Result<(Bdd<'l>, Vec<u32>, Vec<u32>), CompileError> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        let roots = build_top_down(&mut first, &mut bdd, queries, evidence, limits)?;
        return Ok((bdd, roots, first.var_of_slot.clone()));
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let (a, b) = std::thread::scope(|scope| {
        let run = |mut td: TopDown<'l>, mut bdd: Bdd<'l>| {
            let done = &done;
            move || {
                td.cancel_on(done);
                let result = build_top_down(&mut td, &mut bdd, queries, evidence, limits);
                if result.is_ok() {
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                result.map(|roots| (bdd, roots, td.var_of_slot.clone()))
            }
        };
        let b = scope.spawn(run(second, Bdd::new(limits)));
        // The first order carries on on this thread.
        let a = run(first, bdd)();
        (a, b.join().expect("compiler thread"))
    });
    match (a, b) {
        (Ok(a), _) => Ok(a),
        (Err(_), Ok(b)) => Ok(b),
        (Err(a), Err(_)) => Err(a),
    }
}

/// The roots of every query (as [`Compiled`] describes them) by the
/// top-down compiler, in `bdd`; a compilation stopped early (cancelled)
/// may be run again on the same `bdd` and carries on from its cache.
fn build_top_down<'l>(
    top_down: &mut TopDown<'_>,
    bdd: &mut Bdd<'l>,
    queries: &[AtomId],
    evidence: &[(AtomId, bool)],
    limits: &'l Limits,
) -> Result<Vec<u32>, CompileError> {
    let error = |stop: Stop, query, top_down: &TopDown| match stop {
        Stop::Nodes(nodes) => {
            CompileError::TopDownBudget { query, nodes, states: top_down.states(), rules: top_down.num_rules() }
        }
        other => other.in_lineage(query, limits),
    };
    let mut observed = bdd::TRUE;
    for &(atom, value) in evidence {
        let mut e = top_down.compile(bdd, atom).map_err(|s| error(s, None, top_down))?;
        if !value {
            e = bdd.not(e).map_err(|s| error(s, None, top_down))?;
        }
        observed = bdd.and(observed, e).map_err(|s| error(s, None, top_down))?;
        if observed == bdd::FALSE {
            return Err(CompileError::EvidenceImpossible { atom, value });
        }
    }
    let with_evidence = !evidence.is_empty();
    let mut roots = Vec::with_capacity(queries.len() * (1 + with_evidence as usize));
    for &q in queries {
        let b = top_down.compile(bdd, q).map_err(|s| error(s, Some(q), top_down))?;
        if with_evidence {
            let joint = bdd.and(b, observed).map_err(|s| error(s, Some(q), top_down))?;
            roots.extend([joint, observed]);
        } else {
            roots.push(b);
        }
    }
    Ok(roots)
}

/// What [`build_bdd`] compiles.
struct Targets<'a> {
    queries: &'a [AtomId],
    evidence: &'a [(AtomId, bool)],
    query_formulas: &'a [FormulaId],
    evidence_formulas: &'a [FormulaId],
}

/// The BDDs of every root under one variable order: the manager, the roots
/// (as [`Compiled`] describes them) and the order.
fn build_bdd<'l>(
    lineage: &Lineage,
    targets: &Targets<'_>,
    var_of_slot: Vec<u32>,
    limits: &'l Limits,
) -> Result<(Bdd<'l>, Vec<u32>, Vec<u32>), CompileError> {
    let Targets { queries, evidence, query_formulas, evidence_formulas } = *targets;
    let lineage_nodes = lineage.len();
    let mut bdd = Bdd::new(limits);
    let mut memo = vec![u32::MAX; lineage_nodes];
    let bdd_error = |stop: Stop, query| stop.in_bdd(query, lineage_nodes, limits);
    let mut observed = bdd::TRUE;
    for (&(atom, value), &f) in evidence.iter().zip(evidence_formulas) {
        let e = to_bdd(lineage, &var_of_slot, &mut bdd, &mut memo, f).map_err(|s| bdd_error(s, None))?;
        observed = bdd.and(observed, e).map_err(|s| bdd_error(s, None))?;
        if observed == bdd::FALSE {
            return Err(CompileError::EvidenceImpossible { atom, value });
        }
    }
    let with_evidence = !evidence.is_empty();
    let mut bdd_roots = Vec::with_capacity(queries.len() * (1 + with_evidence as usize));
    for (&q, &f) in queries.iter().zip(query_formulas) {
        let b = to_bdd(lineage, &var_of_slot, &mut bdd, &mut memo, f).map_err(|s| bdd_error(s, Some(q)))?;
        if with_evidence {
            let joint = bdd.and(b, observed).map_err(|s| bdd_error(s, Some(q)))?;
            bdd_roots.extend([joint, observed]);
        } else {
            bdd_roots.push(b);
        }
    }
    Ok((bdd, bdd_roots, var_of_slot))
}

/// BDD variable of each slot: slots in order of first appearance in a
/// depth-first walk of the formulas from the roots, then the rest. For
/// rule-shaped lineage this follows proofs, so variables that appear
/// together in a proof sit close together in the order.
fn variable_order(lineage: &Lineage, roots: &[FormulaId]) -> Vec<u32> {
    let num_slots = lineage.num_slots();
    let mut var_of_slot = vec![u32::MAX; num_slots];
    let mut next = 0u32;
    let mut seen = vec![false; lineage.len()];
    let mut stack: Vec<FormulaId> = roots.iter().rev().copied().collect();
    while let Some(f) = stack.pop() {
        if std::mem::replace(&mut seen[f.index()], true) {
            continue;
        }
        match lineage.formula(f) {
            Formula::Slot(s) => {
                if var_of_slot[s.0 as usize] == u32::MAX {
                    var_of_slot[s.0 as usize] = next;
                    next += 1;
                }
            }
            Formula::Not(c) => stack.push(*c),
            Formula::And(cs) | Formula::Or(cs) => stack.extend(cs.iter().rev().copied()),
            Formula::False | Formula::True => {}
        }
    }
    for v in var_of_slot.iter_mut().filter(|v| **v == u32::MAX) {
        *v = next;
        next += 1;
    }
    var_of_slot
}

/// Disjunctions with more alternatives than this are decided last
/// alternative first ([`last_alternative_first`]).
const LONG_DISJUNCTION: usize = 1024;

/// `var_of_slot` with each long annotated disjunction's slots (over
/// [`LONG_DISJUNCTION`] alternatives) given the same places in the reverse
/// order of their alternatives: the last alternative is decided first.
///
/// Alternative `k`'s formula is the chain `¬c1 ∧ … ∧ ¬c(k−1) ∧ ck`. With
/// `c1` first, the chains of two heads part only at their ends and share no
/// diagram node: all `n` heads cost `n²/2` nodes, and the bottom-up
/// compiler, building a chain link by link, pays `k²` for head `k` alone
/// (head 8,000 of 100,000: 36 s). With `ck` first, each head's chain is
/// the last one's with a node on top: `2n` nodes for them all. But where a
/// diagram must tell the alternatives apart (a digit's value in a sum), it
/// must then still check the `k − 1` slots below `ck`, where in program
/// order it stops at `ck`: the shared digit sums, 10 alternatives a digit,
/// compile up to 9× slower reversed. So short disjunctions keep program
/// order, whose `n²/2` is at most half a million nodes below the bound.
pub(crate) fn last_alternative_first(program: &GroundProgram, mut var_of_slot: Vec<u32>) -> Vec<u32> {
    let mut start = 0;
    for choice in &program.choices {
        let end = start + choice.alternatives().count();
        if end - start > LONG_DISJUNCTION {
            let slots = &mut var_of_slot[start..end];
            slots.sort_unstable();
            slots.reverse();
        }
        start = end;
    }
    var_of_slot
}

/// The BDD of formula `root`, building (and memoising) its sub-formulas
/// bottom-up.
fn to_bdd(
    lineage: &Lineage,
    var_of_slot: &[u32],
    bdd: &mut Bdd,
    memo: &mut [u32],
    root: FormulaId,
) -> Result<u32, Stop> {
    // (formula, children done?)
    let mut stack = vec![(root, false)];
    while let Some((f, expanded)) = stack.pop() {
        if memo[f.index()] != u32::MAX {
            continue;
        }
        let node = lineage.formula(f);
        if !expanded {
            stack.push((f, true));
            match node {
                Formula::Not(c) => stack.push((*c, false)),
                Formula::And(cs) | Formula::Or(cs) => stack.extend(cs.iter().map(|c| (*c, false))),
                _ => {}
            }
            continue;
        }
        let b = match node {
            Formula::False => bdd::FALSE,
            Formula::True => bdd::TRUE,
            Formula::Slot(s) => bdd.var(var_of_slot[s.0 as usize])?,
            Formula::Not(c) => bdd.not(memo[c.index()])?,
            Formula::And(cs) => bdd.and_all(cs.iter().map(|c| memo[c.index()]).collect())?,
            Formula::Or(cs) => bdd.or_all(cs.iter().map(|c| memo[c.index()]).collect())?,
        };
        memo[f.index()] = b;
    }
    Ok(memo[root.index()])
}
