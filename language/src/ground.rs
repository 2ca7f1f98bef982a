//! Grounding: a [`Model`] becomes the ground program its queries and
//! evidence depend on — ground rules over interned atoms, and the
//! probabilistic choices (independent facts, annotated disjunctions) that
//! make those atoms uncertain.
//!
//! ```
//! use deeplog_language::{check_source, ground::{ground, GroundChoice, Limits}};
//!
//! let checked = check_source("0.3::a(s); 0.7::a(t).\nb :- a(s).\nquery(b).\nquery(c).\n");
//! let program = ground(checked.model.as_ref().unwrap(), &Limits::default()).unwrap();
//! // One categorical choice, over the two heads themselves.
//! let [GroundChoice::Disjunction { atoms }] = &program.choices[..] else { panic!() };
//! assert_eq!(atoms.len(), 2);
//! assert_eq!(program.queries[0].text, "b");
//! assert_eq!(program.atoms[program.queries[0].atom.unwrap() as usize], "b");
//! assert_eq!(program.queries[1].atom, None); // `c` is never derived
//! assert_eq!(program.to_string(), "0.3::a(s); 0.7::a(t).\nb :- a(s).\nquery(b).\nquery(c).\n");
//! ```
//!
//! How it works, in order:
//!
//! 1. *Compile* (`compile`): every clause becomes patterns over numbered
//!    variables; a body becomes one or more conjunctions of literals (user
//!    calls, negations, builtins, `findall/3`); a negated or aggregated
//!    conjunction gets an auxiliary predicate of its own. Ground facts are
//!    loaded at once, with an index per set of bound argument positions.
//! 2. *Evaluate* (`State::evaluate`): goal-directed and tabled. Each query,
//!    evidence atom and body literal is a *call*: a predicate with the
//!    arguments bound when it is reached. A call to a predicate with rules
//!    runs those rules once; its answers are the possibly-true ground atoms
//!    that match it, kept in the index bucket of the call. A rule body
//!    waiting on a call is a *consumer*: it is resumed once per answer,
//!    existing or future (semi-naive propagation), so recursion through
//!    cycles terminates, and the work is proportional to the ground rules
//!    found. Negation and `findall/3` wait until their call is complete,
//!    stratum by stratum. Where negation runs through recursion (`win(X)
//!    :- move(X, Y), \+ win(Y)`), no stratum can wait: a negation becomes
//!    a literal at once, resolved when grounding ends (true where its atom
//!    was never derived), and the compiler checks that no ground atom
//!    depends on its own negation. Calls to predicates defined by facts
//!    alone are complete from the start and are looked up directly.
//! 3. *Certainty*: atoms proved by deterministic facts and rules alone are
//!    certainly true, and leave rule bodies; atoms never derived are
//!    certainly false (a negation of one holds, a query on one answers 0).
//! 4. *Relevance* (`State::finish`): only the atoms, rules and choices
//!    reachable backward from the queries and evidence are emitted.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::Hasher;

use crate::diagnostic::Diagnostic;
use crate::model::{Annotation, Logic, Model, Rule, Statement};
use crate::syntax::{Span, Term, TermKind};

mod formula;

pub use formula::{Aggregate, GroundConstraint, GroundFormula};

/// A ground program: the input of lineage and knowledge compilation.
///
/// Invariants: atom ids are dense (`0..atoms.len()`); every atom in a rule,
/// choice, query or evidence is below `atoms.len()`; an atom that is the
/// atom of a choice has no rule; a rule with an empty body makes its head
/// certainly true.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroundProgram {
    /// Ground atoms; an atom's id is its index, its text the atom printed
    /// as ProbLog prints it, e.g. `path(0,9)`.
    pub atoms: Vec<String>,
    pub rules: Vec<GroundRule>,
    pub choices: Vec<GroundChoice>,
    /// One per `query(...)` statement, in file order; a non-ground query
    /// gives one entry per possibly-true answer.
    pub queries: Vec<GroundQuery>,
    pub evidence: Vec<(u32, bool)>,
    /// The nodes of every formula query and constraint, children first.
    pub formulas: Vec<GroundFormula>,
    pub constraints: Vec<GroundConstraint>,
    /// Per choice: whether its probabilities are parameters to learn
    /// (`t(p)::`).
    pub learnable: Vec<bool>,
    /// Per choice: the network whose outputs its probabilities are
    /// (`nn(net, Inputs, Y, Domain)::h` is one annotated disjunction over
    /// the domain per ground instance of the inputs), if any.
    pub neural: Vec<Option<GroundNeural>>,
}

/// `head :- body`: the head holds when every literal `(atom, positive)` of
/// the body does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundRule {
    pub head: u32,
    pub body: Vec<(u32, bool)>,
}

/// A probabilistic choice.
#[derive(Clone, Debug, PartialEq)]
pub enum GroundChoice {
    /// An independent probabilistic fact.
    Fact { atom: u32, probability: f64 },
    /// One instance of an annotated disjunction: at most one atom holds.
    Disjunction { atoms: Vec<(u32, f64)> },
}

/// A ground query; `atom` is `None` when it is certainly false or when the
/// query is a formula, whose root in [`GroundProgram::formulas`] is then
/// `formula`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundQuery {
    pub text: String,
    pub atom: Option<u32>,
    pub formula: Option<u32>,
    /// The query's own logic, when it names one (`query(q, logic(L))`).
    pub logic: Option<Logic>,
    /// One instance of a query with variables (`query(path(a, X))`), which
    /// answers list only where it is possible (as ProbLog's do).
    pub instance: bool,
}

/// Why a model could not be grounded, at the clause or literal responsible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundError {
    pub span: Span,
    pub message: String,
}

impl GroundError {
    fn new(span: Span, message: impl Into<String>) -> GroundError {
        GroundError { span, message: message.into() }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(self.span, self.message.clone())
    }
}

impl fmt::Display for GroundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GroundError {}

/// Bounds that stop a grounding that would not end (`nat(s(X)) :- nat(X).`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Ground atoms, choice atoms included.
    pub max_atoms: usize,
    pub max_rules: usize,
    /// Nesting of the terms in a ground atom (`f(a)` is 1).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_atoms: 10_000_000, max_rules: 10_000_000, max_depth: 10_000 }
    }
}

/// Grounds `model` for its queries and evidence.
pub fn ground(model: &Model, limits: &Limits) -> Result<GroundProgram, GroundError> {
    let mut terms = Terms::new();
    let program = compile(model, &mut terms)?;
    let mut state = State::new(terms, &program, *limits);
    state.evaluate(&program)?;
    state.finish(&program)
}

// ---------------------------------------------------------------------------
// Hashing: the keys are small integers, for which SipHash is needlessly slow.

/// Keys are small integers and short names: FxHash, not SipHash.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;
use rustc_hash::FxHasher;

// ---------------------------------------------------------------------------
// Ground terms, hash-consed: equal terms have equal ids.

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
struct TermId(u32);

/// The value of a variable that is not bound.
const UNBOUND: TermId = TermId(u32::MAX);
/// An interned name.
type Sym = u32;
/// A ground atom's id during grounding (renumbered on output).
type AtomId = u32;
/// A predicate's index in `Program::preds`.
type PredId = u32;
const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Node {
    Atom(Sym),
    Int(i64),
    Float(u64),
    Str(Sym),
    Compound { functor: Sym, start: u32, arity: u32 },
}

struct Terms {
    names: Vec<String>,
    name_ids: FxMap<String, Sym>,
    nodes: Vec<Node>,
    depths: Vec<u32>,
    args: Vec<TermId>,
    /// Hash → the newest term with it; `next` chains the older ones.
    first: FxMap<u64, u32>,
    next: Vec<u32>,
    nil: TermId,
    cons: Sym,
}

impl Terms {
    fn new() -> Terms {
        let mut terms = Terms {
            names: Vec::new(),
            name_ids: FxMap::default(),
            nodes: Vec::new(),
            depths: Vec::new(),
            args: Vec::new(),
            first: FxMap::default(),
            next: Vec::new(),
            nil: UNBOUND,
            cons: 0,
        };
        terms.cons = terms.name(".");
        terms.nil = terms.atom("[]");
        terms
    }

    fn name(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.name_ids.get(s) {
            return id;
        }
        let id = self.names.len() as Sym;
        self.names.push(s.to_string());
        self.name_ids.insert(s.to_string(), id);
        id
    }

    fn text(&self, s: Sym) -> &str {
        &self.names[s as usize]
    }

    fn hash(node: Node, args: &[TermId]) -> u64 {
        let mut h = FxHasher::default();
        match node {
            Node::Atom(s) => h.write_u64(u64::from(s) << 3 | 1),
            Node::Int(i) => {
                h.write_u64(2);
                h.write_u64(i as u64);
            }
            Node::Float(bits) => {
                h.write_u64(3);
                h.write_u64(bits);
            }
            Node::Str(s) => h.write_u64(u64::from(s) << 3 | 4),
            Node::Compound { functor, .. } => {
                h.write_u64(u64::from(functor) << 3 | 5);
                args.iter().for_each(|a| h.write_u64(a.0.into()));
            }
        }
        h.finish()
    }

    fn same(&self, id: u32, node: Node, args: &[TermId]) -> bool {
        match (self.nodes[id as usize], node) {
            (Node::Compound { functor: f, start, arity }, Node::Compound { functor: g, .. }) => {
                f == g && &self.args[start as usize..(start + arity) as usize] == args
            }
            (a, b) => a == b,
        }
    }

    /// The term `node` (for a compound, with `args`), created if new.
    fn intern(&mut self, node: Node, args: &[TermId]) -> TermId {
        let h = Terms::hash(node, args);
        let mut cur = self.first.get(&h).copied().unwrap_or(NONE);
        while cur != NONE {
            if self.same(cur, node, args) {
                return TermId(cur);
            }
            cur = self.next[cur as usize];
        }
        let id = self.nodes.len() as u32;
        let node = match node {
            Node::Compound { functor, .. } => {
                let start = self.args.len() as u32;
                self.args.extend_from_slice(args);
                Node::Compound { functor, start, arity: args.len() as u32 }
            }
            other => other,
        };
        let depth = args.iter().map(|a| self.depths[a.0 as usize] + 1).max().unwrap_or(0);
        self.nodes.push(node);
        self.depths.push(depth);
        self.next.push(self.first.insert(h, id).unwrap_or(NONE));
        TermId(id)
    }

    fn atom(&mut self, name: &str) -> TermId {
        let s = self.name(name);
        self.intern(Node::Atom(s), &[])
    }

    fn int(&mut self, i: i64) -> TermId {
        self.intern(Node::Int(i), &[])
    }

    fn number(&mut self, n: Num) -> TermId {
        match n {
            Num::Int(i) => self.int(i),
            Num::Float(x) => self.intern(Node::Float(x.to_bits()), &[]),
        }
    }

    /// `f(args)`, or the atom `f` when there are no arguments.
    fn compound(&mut self, functor: Sym, args: &[TermId]) -> TermId {
        if args.is_empty() {
            self.intern(Node::Atom(functor), &[])
        } else {
            self.intern(Node::Compound { functor, start: 0, arity: 0 }, args)
        }
    }

    fn node(&self, t: TermId) -> Node {
        self.nodes[t.0 as usize]
    }

    fn args(&self, t: TermId) -> &[TermId] {
        match self.nodes[t.0 as usize] {
            Node::Compound { start, arity, .. } => &self.args[start as usize..(start + arity) as usize],
            _ => &[],
        }
    }

    fn depth(&self, t: TermId) -> usize {
        self.depths[t.0 as usize] as usize
    }

    fn list(&mut self, items: &[TermId], tail: TermId) -> TermId {
        let cons = self.cons;
        items
            .iter()
            .rev()
            .fold(tail, |rest, &item| self.intern(Node::Compound { functor: cons, start: 0, arity: 2 }, &[item, rest]))
    }

    /// The items of a proper list.
    fn list_items(&self, mut t: TermId) -> Option<Vec<TermId>> {
        let mut items = Vec::new();
        loop {
            if t == self.nil {
                return Some(items);
            }
            match self.node(t) {
                Node::Compound { functor, arity: 2, .. } if functor == self.cons => {
                    let args = self.args(t);
                    items.push(args[0]);
                    t = args[1];
                }
                _ => return None,
            }
        }
    }

    /// `t` as ProbLog prints it: `f(a,b)`, `[1,2]`, `'New York'`.
    fn write(&self, out: &mut String, t: TermId) {
        match self.node(t) {
            Node::Atom(s) => write_name(out, self.text(s)),
            Node::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Node::Float(bits) => {
                let _ = write!(out, "{:?}", f64::from_bits(bits));
            }
            Node::Str(s) => {
                out.push('"');
                for c in self.text(s).chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            Node::Compound { functor, .. } => {
                let args = self.args(t);
                let name = self.text(functor);
                if functor == self.cons && args.len() == 2 {
                    out.push('[');
                    let mut rest = t;
                    let mut first = true;
                    loop {
                        match self.node(rest) {
                            Node::Compound { functor, arity: 2, .. } if functor == self.cons => {
                                if !first {
                                    out.push(',');
                                }
                                first = false;
                                self.write(out, self.args(rest)[0]);
                                rest = self.args(rest)[1];
                            }
                            _ if rest == self.nil => break,
                            _ => {
                                out.push('|');
                                self.write(out, rest);
                                break;
                            }
                        }
                    }
                    out.push(']');
                } else if args.len() == 2 && is_infix(name) {
                    self.write_operand(out, args[0]);
                    if name.chars().all(|c| c.is_ascii_alphabetic()) {
                        let _ = write!(out, " {name} ");
                    } else {
                        out.push_str(name);
                    }
                    self.write_operand(out, args[1]);
                } else {
                    write_name(out, name);
                    out.push('(');
                    for (i, &a) in args.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        self.write(out, a);
                    }
                    out.push(')');
                }
            }
        }
    }

    fn write_operand(&self, out: &mut String, t: TermId) {
        let operator = match self.node(t) {
            Node::Compound { functor, arity: 2, .. } => functor != self.cons && is_infix(self.text(functor)),
            _ => false,
        };
        if operator {
            out.push('(');
            self.write(out, t);
            out.push(')');
        } else {
            self.write(out, t);
        }
    }

    fn show(&self, t: TermId) -> String {
        let mut s = String::new();
        self.write(&mut s, t);
        s
    }
}

fn is_infix(name: &str) -> bool {
    matches!(
        name,
        "+" | "-"
            | "*"
            | "/"
            | "//"
            | "mod"
            | "**"
            | "^"
            | "="
            | "\\="
            | "=="
            | "\\=="
            | "<"
            | ">"
            | "=<"
            | ">="
            | "=:="
            | "=\\="
            | "is"
    )
}

/// Writes an atom's name, quoted unless it reads back as itself.
fn write_name(out: &mut String, name: &str) {
    let mut bytes = name.bytes();
    let plain =
        bytes.next().is_some_and(|b| b.is_ascii_lowercase()) && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let symbolic = !name.is_empty() && name.chars().all(|c| "+-*/\\^<>=~:.?@#&$".contains(c));
    if plain || symbolic || matches!(name, "[]" | "{}" | "!" | ";" | ",") {
        out.push_str(name);
    } else {
        out.push('\'');
        for c in name.chars() {
            if c == '\'' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('\'');
    }
}

// ---------------------------------------------------------------------------
// Compiled clauses.

/// A term of a clause: variables are numbered per clause.
#[derive(Clone, Debug)]
enum Pat {
    Var(u32),
    Ground(TermId),
    /// A compound with at least one variable inside.
    Compound(Sym, Box<[Pat]>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Builtin {
    Is,
    Unify,
    NotUnify,
    Identical,
    NotIdentical,
    Compare(Cmp),
    Between,
    Member,
    Append,
    Length,
    Succ,
    Plus,
}

impl Builtin {
    fn of(name: &str, arity: usize) -> Option<Builtin> {
        Some(match (name, arity) {
            ("is", 2) => Builtin::Is,
            ("=", 2) => Builtin::Unify,
            ("\\=", 2) => Builtin::NotUnify,
            ("==", 2) => Builtin::Identical,
            ("\\==", 2) => Builtin::NotIdentical,
            ("=:=", 2) => Builtin::Compare(Cmp::Eq),
            ("=\\=", 2) => Builtin::Compare(Cmp::Ne),
            ("<", 2) => Builtin::Compare(Cmp::Lt),
            (">", 2) => Builtin::Compare(Cmp::Gt),
            ("=<", 2) => Builtin::Compare(Cmp::Le),
            (">=", 2) => Builtin::Compare(Cmp::Ge),
            ("between", 3) => Builtin::Between,
            ("member", 2) => Builtin::Member,
            ("append", 3) => Builtin::Append,
            ("length", 2) => Builtin::Length,
            ("succ", 2) => Builtin::Succ,
            ("plus", 3) => Builtin::Plus,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Builtin::Is => "is",
            Builtin::Unify => "=",
            Builtin::NotUnify => "\\=",
            Builtin::Identical => "==",
            Builtin::NotIdentical => "\\==",
            Builtin::Compare(Cmp::Eq) => "=:=",
            Builtin::Compare(Cmp::Ne) => "=\\=",
            Builtin::Compare(Cmp::Lt) => "<",
            Builtin::Compare(Cmp::Gt) => ">",
            Builtin::Compare(Cmp::Le) => "=<",
            Builtin::Compare(Cmp::Ge) => ">=",
            Builtin::Between => "between",
            Builtin::Member => "member",
            Builtin::Append => "append",
            Builtin::Length => "length",
            Builtin::Succ => "succ",
            Builtin::Plus => "plus",
        }
    }
}

/// A body literal.
#[derive(Debug)]
enum Lit {
    Call {
        pred: PredId,
        args: Box<[Pat]>,
    },
    Not {
        pred: PredId,
        args: Box<[Pat]>,
        span: Span,
    },
    Builtin {
        op: Builtin,
        args: Box<[Pat]>,
        negated: bool,
        span: Span,
    },
    /// `findall(T, G, L)`: the answers of the auxiliary predicate
    /// `pred(Shared..., T) :- G`, collected into `result`.
    Findall {
        pred: PredId,
        args: Box<[Pat]>,
        result: Pat,
        span: Span,
    },
}

/// A neural annotation, compiled: the network and its input patterns.
#[derive(Clone, Debug)]
struct NeuralClause {
    network: String,
    inputs: Box<[Pat]>,
}

/// A choice whose probabilities a network gives: its name and its inputs
/// (ground terms, printed), e.g. `mnist_net` on `[img3]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroundNeural {
    pub network: String,
    pub inputs: Vec<String>,
}

#[derive(Debug)]
struct Clause {
    /// The statement it comes from: one choice per instance of a statement,
    /// even when a disjunctive body splits it into several clauses.
    origin: u32,
    span: Span,
    heads: Box<[(PredId, Box<[Pat]>)]>,
    /// One per head, for a probabilistic rule or annotated disjunction.
    probabilities: Option<Box<[f64]>>,
    /// Its probabilities are parameters to learn (`t(p)::`).
    learnable: bool,
    /// Its probabilities are a network's outputs (`nn(...)::`).
    neural: Option<Box<NeuralClause>>,
    body: Box<[Lit]>,
    /// Index in `Program::var_names`.
    vars: u32,
    /// The head atoms of a fact, interned once (else empty).
    ground_heads: Box<[TermId]>,
}

#[derive(Debug)]
struct Pred {
    name: Sym,
    arity: u32,
    /// (clause, head) pairs that define it, facts excepted.
    rules: Vec<(u32, u32)>,
    /// Defined by ground facts alone: its answers are known from the start.
    complete: bool,
    stratum: u32,
}

/// A query or evidence target.
#[derive(Debug)]
struct Target {
    pred: PredId,
    args: Box<[Pat]>,
    vars: usize,
    span: Span,
    /// A query's own logic (`query(q, logic(L))`).
    logic: Option<Logic>,
}

#[derive(Debug)]
enum Goal {
    Query(Target),
    Evidence(Target, bool),
}

#[derive(Debug)]
struct Program {
    clauses: Vec<Clause>,
    /// Clauses with ground heads and no body, loaded before evaluation.
    facts: Vec<u32>,
    preds: Vec<Pred>,
    var_names: Vec<Vec<String>>,
    goals: Vec<Goal>,
    formulas: Vec<formula::FormulaGoal>,
    /// Negation through recursion at the level of predicates (`win(X) :-
    /// move(X, Y), \+ win(Y)`): no stratum order can wait for a negated
    /// call to complete, so every negation is grounded as a literal at
    /// once and resolved when grounding ends (see `State::pending`). The
    /// compiler then checks that no ground atom depends on its own
    /// negation.
    local_negation: bool,
}

#[derive(Default)]
struct VarTable {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl VarTable {
    fn var(&mut self, name: &str) -> u32 {
        if name != "_" {
            if let Some(&v) = self.ids.get(name) {
                return v;
            }
            self.ids.insert(name.to_string(), self.names.len() as u32);
        }
        self.names.push(name.to_string());
        self.names.len() as u32 - 1
    }
}

fn count_vars(term: &Term, counts: &mut HashMap<String, usize>) {
    match &term.kind {
        TermKind::Var(v) if v != "_" => *counts.entry(v.clone()).or_default() += 1,
        TermKind::Compound { args, .. } => args.iter().for_each(|a| count_vars(a, counts)),
        TermKind::List { items, tail } => {
            items.iter().for_each(|a| count_vars(a, counts));
            if let Some(t) = tail {
                count_vars(t, counts);
            }
        }
        TermKind::Annotated { term, .. } => count_vars(term, counts),
        _ => {}
    }
}

/// Variables of `inner` that also occur elsewhere in the clause, in order
/// of first occurrence.
fn shared_vars(inner: &[&Term], clause_counts: &HashMap<String, usize>) -> Vec<String> {
    let mut counts = HashMap::new();
    inner.iter().for_each(|t| count_vars(t, &mut counts));
    let mut order = Vec::new();
    fn walk(t: &Term, order: &mut Vec<String>) {
        match &t.kind {
            TermKind::Var(v) if v != "_" && !order.contains(v) => order.push(v.clone()),
            TermKind::Compound { args, .. } => args.iter().for_each(|a| walk(a, order)),
            TermKind::List { items, tail } => {
                items.iter().for_each(|a| walk(a, order));
                if let Some(t) = tail {
                    walk(t, order);
                }
            }
            TermKind::Annotated { term, .. } => walk(term, order),
            _ => {}
        }
    }
    inner.iter().for_each(|t| walk(t, &mut order));
    order.retain(|v| clause_counts.get(v).copied().unwrap_or(0) > counts[v]);
    order
}

fn is_connective(name: &str, arity: usize) -> bool {
    matches!(
        (name, arity),
        ("," | ";" | "->" | "*->" | "and" | "or" | "implies" | "<->" | "iff", 2) | ("\\+" | "not", 1)
    )
}

fn is_formula(term: &Term) -> bool {
    match &term.kind {
        TermKind::Annotated { .. } => true,
        TermKind::Compound { functor, args } => {
            is_connective(functor, args.len())
                || matches!((functor.as_str(), args.len()), ("r_implies" | "s_implies" | "*" | "+", 2))
                || (matches!(
                    (functor.as_str(), args.len()),
                    ("forall" | "exists" | "sum" | "max" | "min" | "product", 2) | ("pmean" | "pmean_error", 3)
                ) && matches!(args[0].as_compound(), Some(("in", [_, _]))))
        }
        _ => false,
    }
}

struct Compiler<'t> {
    terms: &'t mut Terms,
    preds: Vec<Pred>,
    pred_ids: FxMap<(Sym, u32), PredId>,
    clauses: Vec<Clause>,
    facts: Vec<u32>,
    var_names: Vec<Vec<String>>,
    aux: u32,
}

/// Alternatives of a body: each a conjunction of literals.
type Alternatives = Vec<Vec<Lit>>;

fn compile(model: &Model, terms: &mut Terms) -> Result<Program, GroundError> {
    let mut c = Compiler {
        terms,
        preds: Vec::new(),
        pred_ids: FxMap::default(),
        clauses: Vec::new(),
        facts: Vec::new(),
        var_names: Vec::new(),
        aux: 0,
    };
    let mut goals = Vec::new();
    // Formulas are compiled once every predicate is known (a domain may be
    // defined after the formula that ranges over it).
    let mut formulas = Vec::new();
    let mut domains = HashMap::new();
    for (i, statement) in model.statements.iter().enumerate() {
        match statement {
            Statement::Rule(rule) => c.rule(i as u32, rule)?,
            Statement::Query(q) if is_formula(&q.target) => {
                let position = goals.iter().filter(|g| matches!(g, Goal::Query(_))).count();
                formulas.push((&q.target, formula::Purpose::Query { position, logic: q.logic.map(|l| l.0) }));
            }
            Statement::Query(q) => {
                let target = c.target(&q.target, q.span)?;
                goals.push(Goal::Query(Target { logic: q.logic.map(|l| l.0), ..target }))
            }
            Statement::Evidence(e) => goals.push(Goal::Evidence(c.target(&e.atom, e.span)?, e.value)),
            Statement::Constraint(k) => {
                formulas.push((&k.formula, formula::Purpose::Constraint { weight: k.weight.map(|w| w.0) }))
            }
            Statement::Domain(d) => {
                let mut vars = VarTable::default();
                let mut values = Vec::with_capacity(d.values.len());
                for v in &d.values {
                    match c.pat(v, &mut vars)? {
                        Pat::Ground(t) => values.push(t),
                        _ => return Err(GroundError::new(v.span, "a domain's values must be ground terms")),
                    }
                }
                domains.insert(d.name.clone(), std::rc::Rc::<[TermId]>::from(values));
            }
            Statement::Logic(..) | Statement::UseModule(..) => {}
        }
    }
    let formulas = formulas
        .into_iter()
        .map(|(term, purpose)| {
            let mut vars = VarTable::default();
            let pat = c.formula(term, &mut vars, &domains)?;
            Ok(formula::FormulaGoal { pat, vars: vars.names, text: term.to_string(), purpose })
        })
        .collect::<Result<Vec<_>, GroundError>>()?;
    for p in &mut c.preds {
        p.complete = p.rules.is_empty();
    }
    let mut program = Program {
        clauses: c.clauses,
        facts: c.facts,
        preds: c.preds,
        var_names: c.var_names,
        goals,
        formulas,
        local_negation: false,
    };
    stratify(&mut program)?;
    Ok(program)
}

impl Compiler<'_> {
    fn pred(&mut self, name: &str, arity: usize) -> PredId {
        let name = self.terms.name(name);
        let next = self.preds.len() as PredId;
        let id = *self.pred_ids.entry((name, arity as u32)).or_insert(next);
        if id == next {
            self.preds.push(Pred { name, arity: arity as u32, rules: Vec::new(), complete: false, stratum: 0 });
        }
        id
    }

    fn pat(&mut self, term: &Term, vars: &mut VarTable) -> Result<Pat, GroundError> {
        Ok(match &term.kind {
            TermKind::Var(v) => Pat::Var(vars.var(v)),
            TermKind::Atom(a) => Pat::Ground(self.terms.atom(a)),
            TermKind::Int(i) => Pat::Ground(self.terms.int(*i)),
            TermKind::Float(x) => Pat::Ground(self.terms.number(Num::Float(*x))),
            TermKind::Str(s) => {
                let s = self.terms.name(s);
                Pat::Ground(self.terms.intern(Node::Str(s), &[]))
            }
            TermKind::Compound { functor, args } => {
                let args = args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                let f = self.terms.name(functor);
                self.build(f, args)
            }
            TermKind::List { items, tail } => {
                let mut rest = match tail {
                    Some(t) => self.pat(t, vars)?,
                    None => Pat::Ground(self.terms.nil),
                };
                for item in items.iter().rev() {
                    let item = self.pat(item, vars)?;
                    rest = self.build(self.terms.cons, vec![item, rest]);
                }
                rest
            }
            TermKind::Annotated { .. } => {
                return Err(GroundError::new(term.span, "algebra annotations are not supported by grounding yet"))
            }
        })
    }

    /// `f(args)`, ground when its arguments are.
    fn build(&mut self, functor: Sym, args: Vec<Pat>) -> Pat {
        let ground: Option<Vec<TermId>> =
            args.iter().map(|a| if let Pat::Ground(t) = a { Some(*t) } else { None }).collect();
        match ground {
            Some(g) => Pat::Ground(self.terms.compound(functor, &g)),
            None => Pat::Compound(functor, args.into()),
        }
    }

    fn callable(&mut self, term: &Term, vars: &mut VarTable) -> Result<(PredId, Box<[Pat]>), GroundError> {
        match &term.kind {
            TermKind::Atom(name) => Ok((self.pred(name, 0), Box::new([]))),
            TermKind::Compound { functor, args } => {
                let pats = args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                Ok((self.pred(functor, args.len()), pats.into()))
            }
            TermKind::Var(_) => Err(GroundError::new(term.span, "a variable cannot be called as a goal here")),
            _ => Err(GroundError::new(term.span, "this is not an atom or a compound term, so it cannot be a goal")),
        }
    }

    fn target(&mut self, term: &Term, span: Span) -> Result<Target, GroundError> {
        if is_formula(term) {
            return Err(GroundError::new(span, "formula queries are not supported yet"));
        }
        let callable = match &term.kind {
            TermKind::Atom(n) => Builtin::of(n, 0).is_none(),
            TermKind::Compound { functor, args } => Builtin::of(functor, args.len()).is_none() && functor != "findall",
            _ => false,
        };
        if !callable {
            return Err(GroundError::new(term.span, "a query or evidence must be an atom of a predicate, like `p(a)`"));
        }
        let mut vars = VarTable::default();
        let (pred, args) = self.callable(term, &mut vars)?;
        Ok(Target { pred, args, vars: vars.names.len(), span, logic: None })
    }

    fn rule(&mut self, origin: u32, rule: &Rule) -> Result<(), GroundError> {
        let mut counts = HashMap::new();
        rule.heads.iter().for_each(|h| count_vars(&h.atom, &mut counts));
        if let Some(b) = &rule.body {
            count_vars(b, &mut counts);
        }
        let mut vars = VarTable::default();
        let mut heads = Vec::with_capacity(rule.heads.len());
        let neural = match rule.heads.iter().find_map(|h| match &h.annotation {
            Annotation::Neural(n) => Some((h, n)),
            _ => None,
        }) {
            Some((head, n)) => Some(self.neural(rule, head, n, &mut vars, &mut heads)?),
            None => {
                for h in &rule.heads {
                    heads.push(self.callable(&h.atom, &mut vars)?);
                }
                None
            }
        };
        let annotated = rule.heads.len() > 1 || rule.heads.iter().any(|h| !matches!(h.annotation, Annotation::None));
        let neural_probabilities = neural.as_ref().map(|_| vec![1.0 / (heads.len() as f64 + 1.0); heads.len()].into());
        let probabilities: Option<Box<[f64]>> = neural_probabilities.or_else(|| {
            annotated.then(|| {
                rule.heads
                    .iter()
                    .map(|h| match h.annotation {
                        Annotation::Probability { value, .. } => value,
                        // `t(_)`: uniform over the heads and "none" (0.5 for
                        // a fact).
                        Annotation::Learnable { initial, .. } => {
                            initial.unwrap_or(1.0 / (rule.heads.len() as f64 + 1.0))
                        }
                        Annotation::None | Annotation::Neural(_) => 1.0,
                    })
                    .collect()
            })
        });
        let learnable = rule.heads.iter().any(|h| matches!(h.annotation, Annotation::Learnable { .. }));
        let alternatives = match &rule.body {
            None => vec![Vec::new()],
            Some(body) => self.goal(body, &counts, &mut vars)?,
        };
        let table = self.var_names.len() as u32;
        self.var_names.push(vars.names);
        let heads: Box<[(PredId, Box<[Pat]>)]> = heads.into();
        let all_ground = heads.iter().all(|(_, args)| args.iter().all(|a| matches!(a, Pat::Ground(_))));
        let count = alternatives.len();
        let (mut heads, mut probabilities, mut neural) = (Some(heads), Some(probabilities), Some(neural));
        for (i, body) in alternatives.into_iter().enumerate() {
            let id = self.clauses.len() as u32;
            // The last alternative takes the heads, the others copy them.
            let (heads, probabilities, neural) = if i + 1 == count {
                (heads.take().unwrap_or_default(), probabilities.take().flatten(), neural.take().flatten())
            } else {
                (heads.clone().unwrap_or_default(), probabilities.clone().flatten(), neural.clone().flatten())
            };
            let mut ground_heads: Box<[TermId]> = Box::new([]);
            if body.is_empty() && neural.is_none() && all_ground {
                self.facts.push(id);
                ground_heads = heads
                    .iter()
                    .map(|(pred, args)| {
                        let args: Vec<TermId> =
                            args.iter().map(|a| if let Pat::Ground(t) = a { *t } else { UNBOUND }).collect();
                        self.terms.compound(self.preds[*pred as usize].name, &args)
                    })
                    .collect();
            } else {
                for (k, (pred, _)) in heads.iter().enumerate() {
                    self.preds[*pred as usize].rules.push((id, k as u32));
                }
            }
            self.clauses.push(Clause {
                origin,
                span: rule.span,
                heads,
                probabilities,
                learnable,
                neural,
                body: body.into(),
                vars: table,
                ground_heads,
            });
        }
        Ok(())
    }

    /// A neural head: `nn(net, Inputs, Y, Domain)::h(..Y..)` becomes the
    /// heads `h(..d..)` for every `d` of the domain (one annotated
    /// disjunction per instance); `nn(net, Inputs)::h` stays one head.
    fn neural(
        &mut self,
        rule: &Rule,
        head: &crate::model::Head,
        n: &crate::model::Neural,
        vars: &mut VarTable,
        heads: &mut Vec<(PredId, Box<[Pat]>)>,
    ) -> Result<Box<NeuralClause>, GroundError> {
        if rule.heads.len() != 1 {
            return Err(GroundError::new(n.span, "a neural annotation must be the only head of its clause"));
        }
        match (&n.output, &n.domain) {
            (Some(output), Some(domain)) => {
                let TermKind::Var(y) = &output.kind else {
                    return Err(GroundError::new(output.span, "a neural predicate's output must be a variable"));
                };
                for value in domain {
                    heads.push(self.callable(&substitute(&head.atom, y, value), vars)?);
                }
            }
            _ => heads.push(self.callable(&head.atom, vars)?),
        }
        let inputs = n.inputs.iter().map(|t| self.pat(t, vars)).collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(NeuralClause { network: n.network.clone(), inputs: inputs.into() }))
    }

    /// An auxiliary predicate `name(head...) :- goal`, for a negated or
    /// aggregated conjunction.
    fn aux(&mut self, kind: &str, head: &[&Term], goal: &Term, span: Span) -> Result<PredId, GroundError> {
        self.aux += 1;
        let pred = self.pred(&format!("{kind}{}", self.aux), head.len());
        let mut counts = HashMap::new();
        head.iter().for_each(|t| count_vars(t, &mut counts));
        count_vars(goal, &mut counts);
        let mut vars = VarTable::default();
        let args = head.iter().map(|t| self.pat(t, &mut vars)).collect::<Result<Vec<_>, _>>()?;
        let alternatives = self.goal(goal, &counts, &mut vars)?;
        let table = self.var_names.len() as u32;
        self.var_names.push(vars.names);
        let heads: Box<[(PredId, Box<[Pat]>)]> = Box::new([(pred, args.into())]);
        for body in alternatives {
            let id = self.clauses.len() as u32;
            self.preds[pred as usize].rules.push((id, 0));
            self.clauses.push(Clause {
                origin: u32::MAX,
                span,
                heads: heads.clone(),
                probabilities: None,
                learnable: false,
                neural: None,
                body: body.into(),
                vars: table,
                ground_heads: Box::new([]),
            });
        }
        Ok(pred)
    }

    fn goal(
        &mut self,
        term: &Term,
        counts: &HashMap<String, usize>,
        vars: &mut VarTable,
    ) -> Result<Alternatives, GroundError> {
        let span = term.span;
        if let TermKind::Annotated { .. } = term.kind {
            return Err(GroundError::new(span, "algebra annotations are not supported by grounding yet"));
        }
        if let TermKind::Atom(name) = &term.kind {
            match name.as_str() {
                "true" => return Ok(vec![Vec::new()]),
                "fail" | "false" => return Ok(Vec::new()),
                "!" => return Err(GroundError::new(span, "the cut `!` is not supported")),
                _ => {}
            }
        }
        let Some((name, args)) = term.as_compound() else {
            let (pred, args) = self.callable(term, vars)?;
            return Ok(vec![vec![Lit::Call { pred, args }]]);
        };
        match (name, args) {
            ("," | "and", [a, b]) => {
                let left = self.goal(a, counts, vars)?;
                let right = self.goal(b, counts, vars)?;
                let mut out = Vec::with_capacity(left.len() * right.len());
                for l in &left {
                    for r in &right {
                        out.push(l.iter().chain(r).map(clone_lit).collect());
                    }
                }
                Ok(out)
            }
            (";" | "or", [a, b]) => {
                if matches!(a.as_compound(), Some(("->" | "*->", [_, _]))) {
                    return Err(GroundError::new(span, "if-then-else is not supported by grounding yet"));
                }
                let mut out = self.goal(a, counts, vars)?;
                out.extend(self.goal(b, counts, vars)?);
                Ok(out)
            }
            ("->" | "*->", [_, _]) => Err(GroundError::new(span, "if-then-else is not supported by grounding yet")),
            ("\\+" | "not", [inner]) => {
                let shared = shared_vars(&[inner], counts);
                let mut inner_counts = HashMap::new();
                count_vars(inner, &mut inner_counts);
                let simple = match &inner.kind {
                    TermKind::Atom(n) => !matches!(n.as_str(), "true" | "fail" | "false" | "!"),
                    TermKind::Compound { functor, args } => !is_connective(functor, args.len()) && functor != "findall",
                    _ => false,
                };
                if simple {
                    if let Some((f, args)) = inner.as_compound() {
                        if let Some(op) = Builtin::of(f, args.len()) {
                            let args = args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                            return Ok(vec![vec![Lit::Builtin { op, args: args.into(), negated: true, span }]]);
                        }
                    }
                    let mut anonymous = false;
                    mark_anonymous(inner, &mut anonymous);
                    if shared.len() == inner_counts.len() && !anonymous {
                        let (pred, args) = self.callable(inner, vars)?;
                        return Ok(vec![vec![Lit::Not { pred, args, span }]]);
                    }
                }
                // `\+ G` with G a conjunction or with variables of its own:
                // `aux(Shared) :- G`, and `\+ aux(Shared)`.
                let head: Vec<Term> = shared.iter().map(|v| Term::new(TermKind::Var(v.clone()), span)).collect();
                let head_refs: Vec<&Term> = head.iter().collect();
                let pred = self.aux("$not", &head_refs, inner, span)?;
                let args = shared.iter().map(|v| Pat::Var(vars.var(v))).collect::<Vec<_>>();
                Ok(vec![vec![Lit::Not { pred, args: args.into(), span }]])
            }
            ("findall", [template, goal, result]) => {
                let shared = shared_vars(&[template, goal], counts);
                let mut head: Vec<Term> = shared.iter().map(|v| Term::new(TermKind::Var(v.clone()), span)).collect();
                head.push(template.clone());
                let head_refs: Vec<&Term> = head.iter().collect();
                let pred = self.aux("$findall", &head_refs, goal, span)?;
                let mut args = shared.iter().map(|v| Pat::Var(vars.var(v))).collect::<Vec<_>>();
                args.push(Pat::Var(vars.var("_")));
                let result = self.pat(result, vars)?;
                Ok(vec![vec![Lit::Findall { pred, args: args.into(), result, span }]])
            }
            _ => {
                if let Some(op) = Builtin::of(name, args.len()) {
                    let args = args.iter().map(|a| self.pat(a, vars)).collect::<Result<Vec<_>, _>>()?;
                    return Ok(vec![vec![Lit::Builtin { op, args: args.into(), negated: false, span }]]);
                }
                let (pred, args) = self.callable(term, vars)?;
                Ok(vec![vec![Lit::Call { pred, args }]])
            }
        }
    }
}

fn mark_anonymous(term: &Term, found: &mut bool) {
    match &term.kind {
        TermKind::Var(v) if v == "_" => *found = true,
        TermKind::Compound { args, .. } => args.iter().for_each(|a| mark_anonymous(a, found)),
        TermKind::List { items, tail } => {
            items.iter().for_each(|a| mark_anonymous(a, found));
            if let Some(t) = tail {
                mark_anonymous(t, found);
            }
        }
        _ => {}
    }
}

fn clone_lit(l: &Lit) -> Lit {
    match l {
        Lit::Call { pred, args } => Lit::Call { pred: *pred, args: args.clone() },
        Lit::Not { pred, args, span } => Lit::Not { pred: *pred, args: args.clone(), span: *span },
        Lit::Builtin { op, args, negated, span } => {
            Lit::Builtin { op: *op, args: args.clone(), negated: *negated, span: *span }
        }
        Lit::Findall { pred, args, result, span } => {
            Lit::Findall { pred: *pred, args: args.clone(), result: result.clone(), span: *span }
        }
    }
}

/// Strata: a predicate's stratum is above those of the predicates it
/// negates or aggregates, and at least those it calls. Where negation runs
/// through recursion, strata order the aggregates alone and negations are
/// grounded locally ([`Program::local_negation`]); aggregation through
/// recursion is an error.
fn stratify(program: &mut Program) -> Result<(), GroundError> {
    let mut edges = Vec::new();
    for c in &program.clauses {
        for (head, _) in c.heads.iter() {
            for lit in c.body.iter() {
                match lit {
                    Lit::Call { pred, .. } => edges.push((*head, *pred, 0, false, c.span)),
                    Lit::Not { pred, .. } => edges.push((*head, *pred, 1, true, c.span)),
                    Lit::Findall { pred, .. } => edges.push((*head, *pred, 1, false, c.span)),
                    Lit::Builtin { .. } => {}
                }
            }
        }
    }
    if strata(&mut program.preds, &edges) {
        return Ok(());
    }
    for e in edges.iter_mut().filter(|e| e.3) {
        e.2 = 0;
    }
    program.preds.iter_mut().for_each(|p| p.stratum = 0);
    if strata(&mut program.preds, &edges) {
        program.local_negation = true;
        return Ok(());
    }
    let span = edges.iter().find(|e| e.2 == 1).map_or(Span::default(), |e| e.4);
    Err(GroundError::new(
        span,
        "aggregation through recursion: deeplog grounds `findall/3` only over stratified programs",
    ))
}

/// Raises each predicate's stratum to what `edges` (head, callee, step)
/// need; false where a cycle climbs without end.
fn strata(preds: &mut [Pred], edges: &[(PredId, PredId, u32, bool, Span)]) -> bool {
    for _ in 0..=preds.len() {
        let mut changed = false;
        for &(h, q, w, ..) in edges {
            let need = preds[q as usize].stratum + w;
            if preds[h as usize].stratum < need {
                preds[h as usize].stratum = need;
                changed = true;
            }
        }
        if !changed {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------
// Arithmetic.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }
}

fn compare(a: Num, b: Num) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        _ => a.float().partial_cmp(&b.float()),
    }
}

fn not_function(name: &str, arity: usize, span: Span) -> GroundError {
    GroundError::new(span, format!("`{name}/{arity}` is not an arithmetic function"))
}

/// An arithmetic function applied to its evaluated arguments, as in SWI-Prolog:
/// integers stay integers where the result is one (`6 / 2` is `3`).
fn apply(name: &str, args: &[Num], span: Span) -> Result<Num, GroundError> {
    let err = |m: String| GroundError::new(span, m);
    let overflow = || err(format!("integer overflow in `{name}`"));
    let zero = || err(format!("division by zero in `{name}`"));
    if let [x] = *args {
        let float = |f: fn(f64) -> f64| Ok(Num::Float(f(x.float())));
        return match (name, x) {
            ("-", Num::Int(i)) => i.checked_neg().map(Num::Int).ok_or_else(overflow),
            ("-", Num::Float(f)) => Ok(Num::Float(-f)),
            ("+", _) => Ok(x),
            ("abs", Num::Int(i)) => i.checked_abs().map(Num::Int).ok_or_else(overflow),
            ("abs", Num::Float(f)) => Ok(Num::Float(f.abs())),
            ("sign", Num::Int(i)) => Ok(Num::Int(i.signum())),
            ("sign", Num::Float(f)) => Ok(Num::Float(if f == 0.0 { 0.0 } else { f.signum() })),
            ("float", _) => Ok(Num::Float(x.float())),
            ("integer" | "round", Num::Float(f)) => Ok(Num::Int(f.round() as i64)),
            ("floor", Num::Float(f)) => Ok(Num::Int(f.floor() as i64)),
            ("ceiling", Num::Float(f)) => Ok(Num::Int(f.ceil() as i64)),
            ("truncate", Num::Float(f)) => Ok(Num::Int(f.trunc() as i64)),
            ("integer" | "round" | "floor" | "ceiling" | "truncate", Num::Int(_)) => Ok(x),
            ("sqrt", _) => float(f64::sqrt),
            ("exp", _) => float(f64::exp),
            ("log", _) => float(f64::ln),
            ("sin", _) => float(f64::sin),
            ("cos", _) => float(f64::cos),
            ("tan", _) => float(f64::tan),
            ("atan", _) => float(f64::atan),
            _ => Err(not_function(name, 1, span)),
        };
    }
    let [x, y] = *args else { return Err(not_function(name, args.len(), span)) };
    match (name, x, y) {
        ("+", Num::Int(i), Num::Int(j)) => i.checked_add(j).map(Num::Int).ok_or_else(overflow),
        ("-", Num::Int(i), Num::Int(j)) => i.checked_sub(j).map(Num::Int).ok_or_else(overflow),
        ("*", Num::Int(i), Num::Int(j)) => i.checked_mul(j).map(Num::Int).ok_or_else(overflow),
        ("+", ..) => Ok(Num::Float(x.float() + y.float())),
        ("-", ..) => Ok(Num::Float(x.float() - y.float())),
        ("*", ..) => Ok(Num::Float(x.float() * y.float())),
        ("/", Num::Int(_), Num::Int(0)) => Err(zero()),
        ("/", Num::Int(i), Num::Int(j)) if i % j == 0 => i.checked_div(j).map(Num::Int).ok_or_else(overflow),
        ("/", ..) if y.float() == 0.0 => Err(zero()),
        ("/", ..) => Ok(Num::Float(x.float() / y.float())),
        ("//" | "mod" | "rem", Num::Int(_), Num::Int(0)) => Err(zero()),
        ("//", Num::Int(i), Num::Int(j)) => i.checked_div(j).map(Num::Int).ok_or_else(overflow),
        ("mod", Num::Int(i), Num::Int(j)) => i
            .checked_rem(j)
            .map(|r| Num::Int(if r != 0 && (r < 0) != (j < 0) { r + j } else { r }))
            .ok_or_else(overflow),
        ("rem", Num::Int(i), Num::Int(j)) => i.checked_rem(j).map(Num::Int).ok_or_else(overflow),
        ("**" | "^", Num::Int(i), Num::Int(j)) if j >= 0 => {
            u32::try_from(j).ok().and_then(|j| i.checked_pow(j)).map(Num::Int).ok_or_else(overflow)
        }
        ("^", Num::Int(i), Num::Int(_)) if i.abs() != 1 => {
            Err(err("`^`: a negative integer power of an integer is not an integer".to_string()))
        }
        ("^", Num::Int(i), Num::Int(j)) => Ok(Num::Int(if j % 2 == 0 { 1 } else { i })),
        ("**" | "^", ..) => Ok(Num::Float(x.float().powf(y.float()))),
        ("min", ..) => Ok(if compare(y, x) == Some(std::cmp::Ordering::Less) { y } else { x }),
        ("max", ..) => Ok(if compare(y, x) == Some(std::cmp::Ordering::Greater) { y } else { x }),
        ("atan2" | "atan", ..) => Ok(Num::Float(x.float().atan2(y.float()))),
        (">>", Num::Int(i), Num::Int(j)) => Ok(Num::Int(i >> j.clamp(0, 63))),
        ("<<", Num::Int(i), Num::Int(j)) => {
            u32::try_from(j).ok().and_then(|j| i.checked_shl(j)).map(Num::Int).ok_or_else(overflow)
        }
        ("//" | "mod" | "rem" | ">>" | "<<", ..) => Err(err(format!("`{name}` needs integers"))),
        _ => Err(not_function(name, 2, span)),
    }
}

// ---------------------------------------------------------------------------
// Evaluation state.

/// Variable bindings of one clause instance, with a trail to undo them.
#[derive(Default)]
struct Env {
    vals: Vec<TermId>,
    trail: Vec<u32>,
}

impl Env {
    fn reset(&mut self, n: usize) {
        self.vals.clear();
        self.vals.resize(n, UNBOUND);
        self.trail.clear();
    }

    fn load(&mut self, vals: &[TermId]) {
        self.vals.clear();
        self.vals.extend_from_slice(vals);
        self.trail.clear();
    }

    fn bind(&mut self, v: u32, t: TermId) {
        self.vals[v as usize] = t;
        self.trail.push(v);
    }

    fn mark(&self) -> usize {
        self.trail.len()
    }

    fn undo(&mut self, mark: usize) {
        while self.trail.len() > mark {
            if let Some(v) = self.trail.pop() {
                self.vals[v as usize] = UNBOUND;
            }
        }
    }
}

#[derive(Default)]
struct Bucket {
    atoms: Vec<AtomId>,
    consumers: Vec<u32>,
    called: bool,
}

/// The atoms of a predicate by the values at the positions in `mask`.
struct Index {
    mask: u64,
    keys: FxMap<Box<[TermId]>, u32>,
    buckets: Vec<Bucket>,
}

impl Index {
    /// The number of the bucket of `key`, made empty on first use.
    fn bucket_id(&mut self, key: &[TermId]) -> u32 {
        match self.keys.get(key) {
            Some(&b) => b,
            None => {
                let b = self.buckets.len() as u32;
                self.keys.insert(key.into(), b);
                self.buckets.push(Bucket::default());
                b
            }
        }
    }

    /// The bucket of `key`, made empty on first use.
    fn bucket(&mut self, key: &[TermId]) -> &mut Bucket {
        let b = self.bucket_id(key);
        &mut self.buckets[b as usize]
    }
}

/// A rule body waiting at literal `pos` for the answers of a call.
struct Consumer {
    clause: u32,
    pos: u32,
    vals: Box<[TermId]>,
    body: u32,
}

/// A rule body waiting at a negation or `findall/3` for its stratum.
struct Delayed {
    stratum: u32,
    clause: u32,
    pos: u32,
    vals: Box<[TermId]>,
    body: u32,
}

enum Task {
    Call { pred: PredId, index: u32, key: Box<[TermId]> },
    Resume { consumer: u32, atom: AtomId },
}

#[derive(Clone, Copy)]
enum AtomKind {
    Term {
        term: TermId,
        pred: PredId,
    },
    /// The fresh atom of head `head` of choice group `group`.
    Choice {
        group: u32,
        head: u32,
    },
}

/// One instance of a probabilistic clause. The atom of its head `k`'s
/// choice is `State::choice_atoms[start + k]`: the head itself when
/// `choice_direct` says so, else a fresh atom that rules
/// `head :- body, atom` use.
struct Group {
    clause: u32,
    instance: Box<[TermId]>,
    start: u32,
}

/// A body literal: atom id shifted left, low bit set when negative.
type LitCode = u32;

fn mask_bit(i: usize) -> u64 {
    if i < 64 {
        1 << i
    } else {
        0
    }
}

struct State {
    terms: Terms,
    limits: Limits,
    atoms: Vec<AtomKind>,
    /// The atom of each term id that is a derived atom, else `NONE`.
    atom_of: Vec<AtomId>,
    certain: Vec<bool>,
    /// Definitions of each atom: distinct rules with it as head, and
    /// choices of which it is the atom.
    defs: Vec<u32>,
    /// Rules in whose body each atom occurs positively, while uncertain.
    watch: Vec<Vec<u32>>,
    relations: Vec<Vec<Index>>,
    consumers: Vec<Consumer>,
    tasks: Vec<Task>,
    delayed: Vec<Delayed>,
    /// Body literals so far, as linked lists: (literal, previous link).
    links: Vec<(LitCode, u32)>,
    rules: Vec<(AtomId, Box<[LitCode]>)>,
    rule_first: FxMap<u64, u32>,
    rule_next: Vec<u32>,
    /// Positive body literals not yet known certain.
    missing: Vec<u32>,
    has_negation: Vec<bool>,
    groups: Vec<Group>,
    choice_atoms: Vec<AtomId>,
    choice_direct: Vec<bool>,
    /// Heads of the clause instance being derived (reused).
    heads: Vec<(TermId, PredId)>,
    group_ids: FxMap<(u32, Box<[TermId]>), u32>,
    key: Vec<TermId>,
    /// Formula goals, grounded over terms.
    formulas: formula::Built,
    /// Under [`Program::local_negation`], the negated atoms not derived
    /// when their negation was grounded: body literal `PENDING + i` stands
    /// for the negation of `pending[i]`, resolved when grounding ends (to
    /// the atom's negation, or to true where it was never derived).
    pending: Vec<TermId>,
}

/// Whether a sorted body holds an atom and its negation (adjacent codes).
fn contradictory(body: &[LitCode]) -> bool {
    body.windows(2).any(|w| w[1] == w[0] | 1 && w[0] & 1 == 0)
}

/// The first atom id of [`State::pending`]'s literals (atom ids stay below
/// it: `max_atoms` is capped there).
const PENDING: AtomId = 1 << 30;

impl State {
    fn new(terms: Terms, program: &Program, limits: Limits) -> State {
        State {
            terms,
            limits,
            atoms: Vec::new(),
            atom_of: Vec::new(),
            certain: Vec::new(),
            defs: Vec::new(),
            watch: Vec::new(),
            relations: program
                .preds
                .iter()
                .map(|_| {
                    let mut keys = FxMap::default();
                    keys.insert(Box::from([]), 0);
                    vec![Index { mask: 0, keys, buckets: vec![Bucket::default()] }]
                })
                .collect(),
            consumers: Vec::new(),
            tasks: Vec::new(),
            delayed: Vec::new(),
            links: Vec::new(),
            rules: Vec::new(),
            rule_first: FxMap::default(),
            rule_next: Vec::new(),
            missing: Vec::new(),
            has_negation: Vec::new(),
            groups: Vec::new(),
            choice_atoms: Vec::new(),
            choice_direct: Vec::new(),
            heads: Vec::new(),
            group_ids: FxMap::default(),
            key: Vec::new(),
            formulas: formula::Built::default(),
            pending: Vec::new(),
        }
    }

    fn atom_of_term(&self, term: TermId) -> Option<AtomId> {
        self.atom_of.get(term.0 as usize).copied().filter(|&a| a != NONE)
    }

    fn pred_name(&self, p: &Program, pred: PredId) -> String {
        let pred = &p.preds[pred as usize];
        format!("{}/{}", self.terms.text(pred.name), pred.arity)
    }

    // --- terms under bindings

    /// The ground term `pat` denotes, if every variable in it is bound.
    fn ground(&mut self, pat: &Pat, env: &Env) -> Option<TermId> {
        match pat {
            Pat::Ground(t) => Some(*t),
            Pat::Var(v) => Some(env.vals[*v as usize]).filter(|&t| t != UNBOUND),
            Pat::Compound(f, args) => {
                let mut ground = Vec::with_capacity(args.len());
                for a in args.iter() {
                    ground.push(self.ground(a, env)?);
                }
                Some(self.terms.compound(*f, &ground))
            }
        }
    }

    fn ground_atom(&mut self, p: &Program, pred: PredId, args: &[Pat], env: &Env) -> Option<TermId> {
        let mut ground = Vec::with_capacity(args.len());
        for a in args {
            ground.push(self.ground(a, env)?);
        }
        Some(self.terms.compound(p.preds[pred as usize].name, &ground))
    }

    /// Matches `pat` against the ground term `t`, binding variables.
    fn unify(terms: &Terms, pat: &Pat, t: TermId, env: &mut Env) -> bool {
        match pat {
            Pat::Ground(g) => *g == t,
            Pat::Var(v) => match env.vals[*v as usize] {
                UNBOUND => {
                    env.bind(*v, t);
                    true
                }
                bound => bound == t,
            },
            Pat::Compound(f, args) => match terms.node(t) {
                Node::Compound { functor, arity, .. } if functor == *f && arity as usize == args.len() => {
                    let targs = terms.args(t);
                    args.iter().zip(targs).all(|(a, &b)| State::unify(terms, a, b, env))
                }
                _ => false,
            },
        }
    }

    fn unify_atom(&self, args: &[Pat], atom: AtomId, env: &mut Env) -> bool {
        let AtomKind::Term { term, .. } = self.atoms[atom as usize] else { return false };
        let targs = self.terms.args(term);
        args.iter().zip(targs).all(|(a, &b)| State::unify(&self.terms, a, b, env))
    }

    /// Unifies two patterns. `Err(())` when it would bind a variable to a
    /// term that is not ground; when `lenient`, such a pair counts as
    /// unifiable instead.
    fn unify_pats(&mut self, a: &Pat, b: &Pat, env: &mut Env, lenient: bool) -> Result<bool, ()> {
        match (self.ground(a, env), self.ground(b, env)) {
            (Some(x), Some(y)) => Ok(x == y),
            (Some(x), None) => Ok(State::unify(&self.terms, b, x, env)),
            (None, Some(y)) => Ok(State::unify(&self.terms, a, y, env)),
            (None, None) => match (a, b) {
                (Pat::Compound(f, xs), Pat::Compound(g, ys)) => {
                    if f != g || xs.len() != ys.len() {
                        return Ok(false);
                    }
                    for (x, y) in xs.iter().zip(ys.iter()) {
                        if !self.unify_pats(x, y, env, lenient)? {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                }
                (Pat::Var(x), Pat::Var(y)) if x == y => Ok(true),
                _ if lenient => Ok(true),
                _ => Err(()),
            },
        }
    }

    /// Structural identity (`==`); unbound variables are identical only to
    /// themselves.
    fn identical(&mut self, a: &Pat, b: &Pat, env: &Env) -> bool {
        match (self.ground(a, env), self.ground(b, env)) {
            (Some(x), Some(y)) => x == y,
            (Some(_), None) | (None, Some(_)) => false,
            (None, None) => match (a, b) {
                (Pat::Var(x), Pat::Var(y)) => x == y,
                (Pat::Compound(f, xs), Pat::Compound(g, ys)) => {
                    f == g && xs.len() == ys.len() && xs.iter().zip(ys.iter()).all(|(x, y)| self.identical(x, y, env))
                }
                _ => false,
            },
        }
    }

    /// The value of the arithmetic expression `t`.
    fn eval(&self, t: TermId, span: Span) -> Result<Num, GroundError> {
        match self.terms.node(t) {
            Node::Int(i) => Ok(Num::Int(i)),
            Node::Float(bits) => Ok(Num::Float(f64::from_bits(bits))),
            Node::Atom(s) => self.constant(self.terms.text(s), span),
            Node::Str(_) => Err(GroundError::new(span, format!("{} is not a number", self.terms.show(t)))),
            Node::Compound { functor, .. } => {
                let args = self.terms.args(t);
                let mut values = [Num::Int(0); 2];
                if args.len() > 2 {
                    return Err(not_function(self.terms.text(functor), args.len(), span));
                }
                for (i, &a) in args.iter().enumerate() {
                    values[i] = self.eval(a, span)?;
                }
                apply(self.terms.text(functor), &values[..args.len()], span)
            }
        }
    }

    /// The value of the arithmetic expression `pat` under `env`, evaluated
    /// in place (building its ground term would intern every intermediate
    /// sum); `None` when a variable in it is unbound.
    fn eval_pat(&self, pat: &Pat, env: &Env, span: Span) -> Result<Option<Num>, GroundError> {
        match pat {
            Pat::Ground(t) => self.eval(*t, span).map(Some),
            Pat::Var(v) => match env.vals[*v as usize] {
                UNBOUND => Ok(None),
                t => self.eval(t, span).map(Some),
            },
            Pat::Compound(f, args) => {
                let mut values = [Num::Int(0); 2];
                if args.len() > 2 {
                    return Err(not_function(self.terms.text(*f), args.len(), span));
                }
                for (i, a) in args.iter().enumerate() {
                    match self.eval_pat(a, env, span)? {
                        Some(x) => values[i] = x,
                        None => return Ok(None),
                    }
                }
                apply(self.terms.text(*f), &values[..args.len()], span).map(Some)
            }
        }
    }

    fn constant(&self, name: &str, span: Span) -> Result<Num, GroundError> {
        match name {
            "pi" => Ok(Num::Float(std::f64::consts::PI)),
            "e" => Ok(Num::Float(std::f64::consts::E)),
            "inf" | "infinite" => Ok(Num::Float(f64::INFINITY)),
            "nan" => Ok(Num::Float(f64::NAN)),
            other => Err(GroundError::new(span, format!("`{other}` is not a number"))),
        }
    }

    fn int_arg(&mut self, pat: &Pat, env: &Env, op: Builtin, span: Span) -> Result<Option<i64>, GroundError> {
        let Some(t) = self.ground(pat, env) else { return Ok(None) };
        match self.terms.node(t) {
            Node::Int(i) => Ok(Some(i)),
            _ => Err(GroundError::new(span, format!("`{}` needs integers, not `{}`", op.name(), self.terms.show(t)))),
        }
    }

    fn ground_list(
        &mut self,
        pat: &Pat,
        env: &Env,
        op: Builtin,
        span: Span,
    ) -> Result<Option<Vec<TermId>>, GroundError> {
        let Some(t) = self.ground(pat, env) else { return Ok(None) };
        match self.terms.list_items(t) {
            Some(items) => Ok(Some(items)),
            None => Err(GroundError::new(span, format!("`{}` needs a list, not `{}`", op.name(), self.terms.show(t)))),
        }
    }

    /// The solutions of a builtin other than the unification tests: each
    /// a list of (argument, value) to unify.
    fn solve(
        &mut self,
        op: Builtin,
        args: &[Pat],
        env: &Env,
        span: Span,
    ) -> Result<Vec<Vec<(usize, TermId)>>, GroundError> {
        let unbound = |what: &str| GroundError::new(span, format!("`{}` needs {what} ground here", op.name()));
        let yes = |holds: bool| if holds { vec![Vec::new()] } else { Vec::new() };
        Ok(match op {
            Builtin::Is => {
                let Some(value) = self.eval_pat(&args[1], env, span)? else { return Err(unbound("its right side")) };
                vec![vec![(0, self.terms.number(value))]]
            }
            Builtin::Compare(cmp) => {
                let (Some(a), Some(b)) = (self.eval_pat(&args[0], env, span)?, self.eval_pat(&args[1], env, span)?)
                else {
                    return Err(unbound("both sides"));
                };
                let order = compare(a, b);
                use std::cmp::Ordering::*;
                yes(match cmp {
                    Cmp::Eq => order == Some(Equal),
                    Cmp::Ne => matches!(order, Some(Less | Greater)),
                    Cmp::Lt => order == Some(Less),
                    Cmp::Gt => order == Some(Greater),
                    Cmp::Le => matches!(order, Some(Less | Equal)),
                    Cmp::Ge => matches!(order, Some(Greater | Equal)),
                })
            }
            Builtin::Between => {
                let Some(low) = self.int_arg(&args[0], env, op, span)? else { return Err(unbound("its bounds")) };
                let high = match self.ground(&args[1], env) {
                    None => return Err(unbound("its bounds")),
                    Some(t) => match self.terms.node(t) {
                        Node::Int(i) => Some(i),
                        Node::Atom(s) if matches!(self.terms.text(s), "inf" | "infinite") => None,
                        _ => return Err(unbound("integer bounds")),
                    },
                };
                match (self.int_arg(&args[2], env, op, span)?, high) {
                    (Some(x), high) => yes(x >= low && high.is_none_or(|h| x <= h)),
                    (None, None) => return Err(unbound("its third argument (the upper bound is infinite)")),
                    (None, Some(high)) => {
                        if high.saturating_sub(low) >= self.limits.max_atoms as i64 {
                            return Err(GroundError::new(
                                span,
                                format!("`between({low}, {high}, X)` enumerates too many values"),
                            ));
                        }
                        (low..=high).map(|i| vec![(2, self.terms.int(i))]).collect()
                    }
                }
            }
            Builtin::Member => {
                let Some(items) = self.ground_list(&args[1], env, op, span)? else { return Err(unbound("its list")) };
                items.into_iter().map(|x| vec![(0, x)]).collect()
            }
            Builtin::Append => {
                let a = self.ground_list(&args[0], env, op, span)?;
                let b = self.ground(&args[1], env);
                match (a, b) {
                    (Some(a), Some(b)) => vec![vec![(2, self.terms.list(&a, b))]],
                    _ => {
                        let Some(c) = self.ground_list(&args[2], env, op, span)? else {
                            return Err(unbound("its first two arguments or its third"));
                        };
                        let nil = self.terms.nil;
                        (0..=c.len())
                            .map(|i| {
                                let front = self.terms.list(&c[..i], nil);
                                let back = self.terms.list(&c[i..], nil);
                                vec![(0, front), (1, back)]
                            })
                            .collect()
                    }
                }
            }
            Builtin::Length => {
                let Some(items) = self.ground_list(&args[0], env, op, span)? else { return Err(unbound("its list")) };
                vec![vec![(1, self.terms.int(items.len() as i64))]]
            }
            Builtin::Succ => match (self.int_arg(&args[0], env, op, span)?, self.int_arg(&args[1], env, op, span)?) {
                (Some(x), _) if x < 0 => return Err(GroundError::new(span, "`succ` needs natural numbers")),
                (Some(x), _) => vec![vec![(1, self.terms.int(x + 1))]],
                (None, Some(y)) if y > 0 => vec![vec![(0, self.terms.int(y - 1))]],
                (None, Some(_)) => Vec::new(),
                (None, None) => return Err(unbound("one argument")),
            },
            Builtin::Plus => {
                let x = self.int_arg(&args[0], env, op, span)?;
                let y = self.int_arg(&args[1], env, op, span)?;
                let z = self.int_arg(&args[2], env, op, span)?;
                let overflow = || GroundError::new(span, "integer overflow in `plus`");
                match (x, y, z) {
                    (Some(x), Some(y), _) => vec![vec![(2, self.terms.int(x.checked_add(y).ok_or_else(overflow)?))]],
                    (Some(x), None, Some(z)) => vec![vec![(1, self.terms.int(z.checked_sub(x).ok_or_else(overflow)?))]],
                    (None, Some(y), Some(z)) => vec![vec![(0, self.terms.int(z.checked_sub(y).ok_or_else(overflow)?))]],
                    _ => return Err(unbound("two of its arguments")),
                }
            }
            Builtin::Unify | Builtin::NotUnify | Builtin::Identical | Builtin::NotIdentical => {
                unreachable!("handled by `builtin`")
            }
        })
    }

    // --- atoms, rules, certainty

    /// A new atom; `pred` names what was being derived if the limit is hit.
    fn new_atom(
        &mut self,
        p: &Program,
        kind: AtomKind,
        pred: Option<PredId>,
        span: Span,
    ) -> Result<AtomId, GroundError> {
        if self.atoms.len() >= self.limits.max_atoms.min(PENDING as usize) {
            let what = pred.map_or_else(|| "a choice".to_string(), |pred| self.pred_name(p, pred));
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: more than {} ground atoms (limit `max_atoms`) while deriving `{}`; is the recursion infinite?",
                    self.limits.max_atoms, what
                ),
            ));
        }
        let a = self.atoms.len() as AtomId;
        self.atoms.push(kind);
        self.certain.push(false);
        self.defs.push(0);
        self.watch.push(Vec::new());
        Ok(a)
    }

    /// The atom of a derived ground term, made and announced to the calls
    /// it answers if new.
    fn atom(&mut self, p: &Program, term: TermId, pred: PredId, span: Span) -> Result<AtomId, GroundError> {
        if let Some(a) = self.atom_of_term(term) {
            return Ok(a);
        }
        if self.terms.depth(term) > self.limits.max_depth {
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: `{}` builds terms nested deeper than {} (limit `max_depth`); is the recursion infinite?",
                    self.pred_name(p, pred),
                    self.limits.max_depth
                ),
            ));
        }
        let a = self.new_atom(p, AtomKind::Term { term, pred }, Some(pred), span)?;
        if self.atom_of.len() <= term.0 as usize {
            self.atom_of.resize(self.terms.nodes.len().max(term.0 as usize + 1), NONE);
        }
        self.atom_of[term.0 as usize] = a;
        let State { terms, relations, key, tasks, .. } = self;
        let args = terms.args(term);
        for index in relations[pred as usize].iter_mut() {
            key.clear();
            key.extend(args.iter().enumerate().filter(|(i, _)| index.mask & mask_bit(*i) != 0).map(|(_, &t)| t));
            let bucket = index.bucket(key);
            bucket.atoms.push(a);
            tasks.extend(bucket.consumers.iter().rev().map(|&c| Task::Resume { consumer: c, atom: a }));
        }
        Ok(a)
    }

    fn add_rule(&mut self, p: &Program, head: AtomId, mut body: Vec<LitCode>, span: Span) -> Result<(), GroundError> {
        body.sort_unstable();
        body.dedup();
        if body.contains(&(head << 1)) {
            // `h :- h, ...` adds nothing to the least model.
            return Ok(());
        }
        let mut h = FxHasher::default();
        h.write_u64(head.into());
        body.iter().for_each(|&l| h.write_u64(l.into()));
        let hash = h.finish();
        let mut cur = self.rule_first.get(&hash).copied().unwrap_or(NONE);
        while cur != NONE {
            let (rh, rb) = &self.rules[cur as usize];
            if *rh == head && **rb == *body {
                return Ok(());
            }
            cur = self.rule_next[cur as usize];
        }
        if self.rules.len() >= self.limits.max_rules {
            let name = match self.atoms[head as usize] {
                AtomKind::Term { pred, .. } => self.pred_name(p, pred),
                AtomKind::Choice { .. } => "a choice".to_string(),
            };
            return Err(GroundError::new(
                span,
                format!(
                    "grounding stopped: more than {} ground rules (limit `max_rules`) while deriving `{name}`",
                    self.limits.max_rules
                ),
            ));
        }
        let r = self.rules.len() as u32;
        self.rule_next.push(self.rule_first.insert(hash, r).unwrap_or(NONE));
        self.defs[head as usize] += 1;
        let negation = body.iter().any(|l| l & 1 == 1);
        let mut missing = 0;
        for &l in &body {
            let a = (l >> 1) as usize;
            if l & 1 == 0 && !self.certain[a] {
                missing += 1;
                self.watch[a].push(r);
            }
        }
        self.rules.push((head, body.into()));
        self.missing.push(missing);
        self.has_negation.push(negation);
        if missing == 0 && !negation {
            self.make_certain(head);
        }
        Ok(())
    }

    fn make_certain(&mut self, atom: AtomId) {
        let mut stack = vec![atom];
        while let Some(a) = stack.pop() {
            if std::mem::replace(&mut self.certain[a as usize], true) {
                continue;
            }
            for r in std::mem::take(&mut self.watch[a as usize]) {
                let m = &mut self.missing[r as usize];
                *m -= 1;
                if *m == 0 && !self.has_negation[r as usize] {
                    stack.push(self.rules[r as usize].0);
                }
            }
        }
    }

    fn extend(&mut self, body: u32, atom: AtomId, negative: bool) -> u32 {
        if !negative && self.certain[atom as usize] {
            return body;
        }
        self.links.push(((atom << 1) | negative as u32, body));
        self.links.len() as u32 - 1
    }

    fn body_of(&self, mut link: u32) -> Vec<LitCode> {
        let mut out = Vec::new();
        while link != NONE {
            let (l, prev) = self.links[link as usize];
            out.push(l);
            link = prev;
        }
        out
    }

    // --- calls

    fn index(&mut self, pred: PredId, mask: u64) -> usize {
        let indexes = &mut self.relations[pred as usize];
        if let Some(i) = indexes.iter().position(|ix| ix.mask == mask) {
            return i;
        }
        let mut index = Index { mask, keys: FxMap::default(), buckets: Vec::new() };
        for &a in &indexes[0].buckets[0].atoms {
            let AtomKind::Term { term, .. } = self.atoms[a as usize] else { continue };
            let key: Box<[TermId]> = self
                .terms
                .args(term)
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & mask_bit(*i) != 0)
                .map(|(_, &t)| t)
                .collect();
            let next = index.buckets.len() as u32;
            let b = *index.keys.entry(key).or_insert(next);
            if b == next {
                index.buckets.push(Bucket::default());
            }
            index.buckets[b as usize].atoms.push(a);
        }
        indexes.push(index);
        indexes.len() - 1
    }

    /// The bucket of the call `pred(args)`: its answers so far. A first
    /// call to a predicate with rules schedules them.
    fn demand(&mut self, p: &Program, pred: PredId, args: &[Pat], env: &Env) -> (usize, u32) {
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        let mut mask = 0;
        for (i, a) in args.iter().enumerate().take(64) {
            if let Some(t) = self.ground(a, env) {
                mask |= mask_bit(i);
                key.push(t);
            }
        }
        let ix = self.index(pred, mask);
        let index = &mut self.relations[pred as usize][ix];
        let b = index.bucket_id(&key);
        let bucket = &mut index.buckets[b as usize];
        if !bucket.called && !p.preds[pred as usize].complete {
            bucket.called = true;
            self.tasks.push(Task::Call { pred, index: ix as u32, key: key.as_slice().into() });
        }
        self.key = key;
        (ix, b)
    }

    fn bucket(&self, pred: PredId, ix: usize, b: u32) -> &Bucket {
        &self.relations[pred as usize][ix].buckets[b as usize]
    }

    // --- evaluation

    fn evaluate(&mut self, p: &Program) -> Result<(), GroundError> {
        let mut env = Env::default();
        for &f in &p.facts {
            env.reset(p.var_names[p.clauses[f as usize].vars as usize].len());
            self.derive(p, &mut env, f, NONE, true)?;
        }
        // The task stack is last in, first out: demanding the goals in
        // reverse answers them in file order.
        for goal in p.goals.iter().rev() {
            let (Goal::Query(t) | Goal::Evidence(t, _)) = goal;
            env.reset(t.vars);
            self.demand(p, t.pred, &t.args, &env);
        }
        self.run_to_completion(p, &mut env)?;
        if !p.formulas.is_empty() {
            self.formulas = self.expand_formulas(p, &mut env)?;
            self.run_to_completion(p, &mut env)?;
        }
        Ok(())
    }

    /// Runs tasks and delayed negations until every call is complete.
    fn run_to_completion(&mut self, p: &Program, env: &mut Env) -> Result<(), GroundError> {
        loop {
            while let Some(task) = self.tasks.pop() {
                self.step(p, env, task)?;
            }
            // Every call made so far is complete up to its waiting
            // negations; the lowest stratum waiting can be decided.
            let Some(stratum) = self.delayed.iter().map(|d| d.stratum).min() else { break };
            let (now, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.delayed).into_iter().partition(|d| d.stratum == stratum);
            self.delayed = later;
            for d in now {
                env.load(&d.vals);
                self.decide(p, env, d.clause, d.pos as usize, d.body)?;
            }
        }
        Ok(())
    }

    fn step(&mut self, p: &Program, env: &mut Env, task: Task) -> Result<(), GroundError> {
        match task {
            Task::Call { pred, index, key } => {
                let mask = self.relations[pred as usize][index as usize].mask;
                for &(clause, head) in &p.preds[pred as usize].rules {
                    let c = &p.clauses[clause as usize];
                    env.reset(p.var_names[c.vars as usize].len());
                    let args = &c.heads[head as usize].1;
                    let mut bound = key.iter();
                    let matches = args.iter().enumerate().all(|(i, a)| {
                        mask & mask_bit(i) == 0 || bound.next().is_some_and(|&t| State::unify(&self.terms, a, t, env))
                    });
                    if matches {
                        self.run(p, env, clause, 0, NONE)?;
                    }
                }
                Ok(())
            }
            Task::Resume { consumer, atom } => {
                let c = &self.consumers[consumer as usize];
                let (clause, pos, body) = (c.clause, c.pos as usize, c.body);
                env.load(&c.vals);
                let Lit::Call { args, .. } = &p.clauses[clause as usize].body[pos] else {
                    unreachable!("consumers wait on calls")
                };
                if self.unify_atom(args, atom, env) {
                    let body = self.extend(body, atom, false);
                    self.run(p, env, clause, pos + 1, body)?;
                }
                Ok(())
            }
        }
    }

    /// Continues clause `clause` at body literal `pos`.
    fn run(&mut self, p: &Program, env: &mut Env, clause: u32, pos: usize, body: u32) -> Result<(), GroundError> {
        let c = &p.clauses[clause as usize];
        let Some(lit) = c.body.get(pos) else { return self.derive(p, env, clause, body, false) };
        match lit {
            Lit::Call { pred, args } => {
                let (ix, b) = self.demand(p, *pred, args, env);
                if p.preds[*pred as usize].complete {
                    for i in 0..self.bucket(*pred, ix, b).atoms.len() {
                        let a = self.bucket(*pred, ix, b).atoms[i];
                        let mark = env.mark();
                        if self.unify_atom(args, a, env) {
                            let next = self.extend(body, a, false);
                            self.run(p, env, clause, pos + 1, next)?;
                        }
                        env.undo(mark);
                    }
                } else {
                    let id = self.consumers.len() as u32;
                    self.consumers.push(Consumer { clause, pos: pos as u32, vals: env.vals.as_slice().into(), body });
                    let bucket = &mut self.relations[*pred as usize][ix].buckets[b as usize];
                    bucket.consumers.push(id);
                    self.tasks.extend(bucket.atoms.iter().rev().map(|&a| Task::Resume { consumer: id, atom: a }));
                }
                Ok(())
            }
            Lit::Not { pred, args, span } | Lit::Findall { pred, args, span, .. } => {
                if let Lit::Not { .. } = lit {
                    if args.iter().any(|a| self.ground(a, env).is_none()) {
                        return Err(GroundError::new(
                            *span,
                            format!("the negation of `{}` needs its arguments ground here", self.pred_name(p, *pred)),
                        ));
                    }
                }
                self.demand(p, *pred, args, env);
                if p.preds[*pred as usize].complete {
                    self.decide(p, env, clause, pos, body)
                } else if p.local_negation && matches!(lit, Lit::Not { .. }) {
                    self.negate_locally(p, env, clause, pos, body)
                } else {
                    let stratum = p.preds[*pred as usize].stratum;
                    let vals = env.vals.as_slice().into();
                    self.delayed.push(Delayed { stratum, clause, pos: pos as u32, vals, body });
                    Ok(())
                }
            }
            Lit::Builtin { op, args, negated, span } => {
                self.builtin(p, env, clause, pos, body, *op, args, *negated, *span)
            }
        }
    }

    /// Grounds a negation whose call may still be running
    /// ([`Program::local_negation`]): the negated atom as a literal where
    /// it is derived already, else a pending literal.
    fn negate_locally(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
    ) -> Result<(), GroundError> {
        let Lit::Not { pred, args, .. } = &p.clauses[clause as usize].body[pos] else { unreachable!("a negation") };
        let Some(t) = self.ground_atom(p, *pred, args, env) else { unreachable!("checked ground") };
        let body = match self.atom_of_term(t) {
            // Certainty only grows: this instance can never hold.
            Some(a) if self.certain[a as usize] => return Ok(()),
            Some(a) => self.extend(body, a, true),
            None => {
                let code = PENDING + self.pending.len() as AtomId;
                self.pending.push(t);
                self.links.push(((code << 1) | 1, body));
                self.links.len() as u32 - 1
            }
        };
        self.run(p, env, clause, pos + 1, body)
    }

    /// Decides a negation or `findall/3` whose call is complete.
    fn decide(&mut self, p: &Program, env: &mut Env, clause: u32, pos: usize, body: u32) -> Result<(), GroundError> {
        match &p.clauses[clause as usize].body[pos] {
            Lit::Not { pred, args, .. } => {
                let Some(t) = self.ground_atom(p, *pred, args, env) else { unreachable!("checked ground") };
                match self.atom_of_term(t) {
                    None => self.run(p, env, clause, pos + 1, body),
                    Some(a) if self.certain[a as usize] => Ok(()),
                    Some(a) => {
                        let body = self.extend(body, a, true);
                        self.run(p, env, clause, pos + 1, body)
                    }
                }
            }
            Lit::Findall { pred, args, result, span } => {
                let (ix, b) = self.demand(p, *pred, args, env);
                let atoms = self.bucket(*pred, ix, b).atoms.clone();
                let mut items = Vec::new();
                for a in atoms {
                    let mark = env.mark();
                    if self.unify_atom(args, a, env) {
                        if !self.certain[a as usize] {
                            return Err(GroundError::new(
                                *span,
                                "`findall/3` over a goal that depends on probabilistic facts is not supported",
                            ));
                        }
                        let AtomKind::Term { term, .. } = self.atoms[a as usize] else { unreachable!("a term atom") };
                        items.push(*self.terms.args(term).last().unwrap_or(&term));
                    }
                    env.undo(mark);
                }
                let list = self.terms.list(&items, self.terms.nil);
                let mark = env.mark();
                if State::unify(&self.terms, result, list, env) {
                    self.run(p, env, clause, pos + 1, body)?;
                }
                env.undo(mark);
                Ok(())
            }
            _ => unreachable!("only negations and findall wait"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn builtin(
        &mut self,
        p: &Program,
        env: &mut Env,
        clause: u32,
        pos: usize,
        body: u32,
        op: Builtin,
        args: &[Pat],
        negated: bool,
        span: Span,
    ) -> Result<(), GroundError> {
        let mark = env.mark();
        let holds = match op {
            Builtin::Unify | Builtin::NotUnify => {
                let lenient = negated || op == Builtin::NotUnify;
                let unified = self.unify_pats(&args[0], &args[1], env, lenient).map_err(|()| {
                    GroundError::new(span, "`=` would bind a variable to a term with unbound variables here; deeplog grounds only ground terms")
                })?;
                if lenient {
                    env.undo(mark);
                }
                Some(unified == (op == Builtin::Unify))
            }
            Builtin::Identical | Builtin::NotIdentical => {
                Some(self.identical(&args[0], &args[1], env) == (op == Builtin::Identical))
            }
            _ => None,
        };
        if let Some(holds) = holds {
            if holds != negated {
                self.run(p, env, clause, pos + 1, body)?;
            }
            env.undo(mark);
            return Ok(());
        }
        let solutions = self.solve(op, args, env, span)?;
        if negated {
            let any = solutions.iter().any(|s| {
                let ok = s.iter().all(|&(i, t)| State::unify(&self.terms, &args[i], t, env));
                env.undo(mark);
                ok
            });
            return if any { Ok(()) } else { self.run(p, env, clause, pos + 1, body) };
        }
        for s in solutions {
            if s.iter().all(|&(i, t)| State::unify(&self.terms, &args[i], t, env)) {
                self.run(p, env, clause, pos + 1, body)?;
            }
            env.undo(mark);
        }
        Ok(())
    }

    /// A clause instance whose body held: its head atoms, rules and choice.
    /// `fact` says it is a fact being loaded, derived once.
    fn derive(&mut self, p: &Program, env: &mut Env, clause: u32, body: u32, fact: bool) -> Result<(), GroundError> {
        let c = &p.clauses[clause as usize];
        let mut heads = std::mem::take(&mut self.heads);
        heads.clear();
        if c.ground_heads.is_empty() {
            for (pred, args) in c.heads.iter() {
                let Some(t) = self.ground_atom(p, *pred, args, env) else {
                    return Err(self.unbound_head(p, env, clause, *pred, args));
                };
                heads.push((t, *pred));
            }
        } else {
            heads.extend(c.ground_heads.iter().zip(c.heads.iter()).map(|(&t, (pred, _))| (t, *pred)));
        }
        let lits = self.body_of(body);
        // `a, \+ a` never holds: no rule, and no head atom derived by it.
        if lits.iter().any(|l| l & 1 == 1) {
            let mut sorted = lits.clone();
            sorted.sort_unstable();
            if contradictory(&sorted) {
                self.heads = heads;
                return Ok(());
            }
        }
        let result = match &c.probabilities {
            None => self.atom(p, heads[0].0, heads[0].1, c.span).and_then(|h| self.add_rule(p, h, lits, c.span)),
            Some(_) => self.choose(p, env, clause, &heads, lits, fact),
        };
        self.heads = heads;
        result
    }

    fn unbound_head(&self, p: &Program, env: &Env, clause: u32, pred: PredId, args: &[Pat]) -> GroundError {
        let c = &p.clauses[clause as usize];
        let names = &p.var_names[c.vars as usize];
        let unbound: Vec<String> = (0..names.len())
            .filter(|&v| env.vals[v] == UNBOUND && args.iter().any(|a| occurs(a, v as u32)))
            .map(|v| format!("`{}`", names[v]))
            .collect();
        GroundError::new(
            c.span,
            format!(
                "the head `{}` is not ground after its body: {} unbound",
                self.pred_name(p, pred),
                unbound.join(", ")
            ),
        )
    }

    /// The choice of a probabilistic clause instance, and its rules.
    fn choose(
        &mut self,
        p: &Program,
        env: &Env,
        clause: u32,
        heads: &[(TermId, PredId)],
        lits: Vec<LitCode>,
        fact: bool,
    ) -> Result<(), GroundError> {
        let c = &p.clauses[clause as usize];
        let existing = if fact { None } else { self.group_ids.get(&(c.origin, env.vals.as_slice().into())).copied() };
        let g = match existing {
            Some(g) => g,
            None => {
                let g = self.groups.len() as u32;
                let start = self.choice_atoms.len() as u32;
                for (k, &(t, pred)) in heads.iter().enumerate() {
                    // A choice with an empty body is its head itself, unless
                    // the head turns out to have other definitions.
                    let a = if lits.is_empty() {
                        let a = self.atom(p, t, pred, c.span)?;
                        self.defs[a as usize] += 1;
                        a
                    } else {
                        self.new_atom(p, AtomKind::Choice { group: g, head: k as u32 }, Some(pred), c.span)?
                    };
                    self.choice_atoms.push(a);
                    self.choice_direct.push(lits.is_empty());
                }
                let instance: Box<[TermId]> = env.vals.as_slice().into();
                if !fact {
                    self.group_ids.insert((c.origin, instance.clone()), g);
                }
                self.groups.push(Group { clause, instance, start });
                g
            }
        };
        let start = self.groups[g as usize].start as usize;
        for (k, &(t, pred)) in heads.iter().enumerate() {
            if self.choice_direct[start + k] {
                continue;
            }
            let choice = self.choice_atoms[start + k];
            let h = self.atom(p, t, pred, c.span)?;
            let mut rule = lits.clone();
            rule.push(choice << 1);
            self.add_rule(p, h, rule, c.span)?;
        }
        Ok(())
    }

    // --- output

    /// Replaces each pending negation by the negation of its atom, or drops
    /// it (true) where the atom was never derived. Returns the rules whose
    /// bodies turn out contradictory (`a, \+ a`), which never hold.
    fn resolve_pending(&mut self) -> Vec<bool> {
        let mut dead = vec![false; self.rules.len()];
        if self.pending.is_empty() {
            return dead;
        }
        let mut rules = std::mem::take(&mut self.rules);
        for ((_, body), dead) in rules.iter_mut().zip(&mut dead) {
            if body.iter().all(|&l| l >> 1 < PENDING) {
                continue;
            }
            let mut resolved: Vec<LitCode> = body
                .iter()
                .filter_map(|&l| match l >> 1 {
                    a if a < PENDING => Some(l),
                    i => self.atom_of_term(self.pending[(i - PENDING) as usize]).map(|a| (a << 1) | 1),
                })
                .collect();
            resolved.sort_unstable();
            resolved.dedup();
            *dead = contradictory(&resolved);
            *body = resolved.into();
        }
        self.rules = rules;
        dead
    }

    fn finish(mut self, p: &Program) -> Result<GroundProgram, GroundError> {
        let contradictory = self.resolve_pending();
        // Resolve queries and evidence before anything is renumbered.
        let mut env = Env::default();
        let mut queries: Vec<(String, Option<AtomId>, Option<Logic>, bool)> = Vec::new();
        // How many answers each query goal gave, to place formula queries.
        let mut query_goal_sizes = Vec::new();
        let mut evidence = Vec::new();
        for goal in &p.goals {
            let (Goal::Query(t) | Goal::Evidence(t, _)) = goal;
            env.reset(t.vars);
            let ground = self.ground_atom(p, t.pred, &t.args, &env);
            let answers: Vec<(String, Option<AtomId>)> = match ground {
                Some(term) => vec![(self.terms.show(term), self.atom_of_term(term))],
                None => {
                    let (ix, b) = self.demand(p, t.pred, &t.args, &env);
                    let mut out = Vec::new();
                    for &a in &self.bucket(t.pred, ix, b).atoms {
                        let mark = env.mark();
                        if self.unify_atom(&t.args, a, &mut env) {
                            let AtomKind::Term { term, .. } = self.atoms[a as usize] else { continue };
                            out.push((self.terms.show(term), Some(a)));
                        }
                        env.undo(mark);
                    }
                    out
                }
            };
            match goal {
                Goal::Query(t) => {
                    query_goal_sizes.push(answers.len());
                    let instance = ground.is_none();
                    queries.extend(answers.into_iter().map(|(text, atom)| (text, atom, t.logic, instance)))
                }
                Goal::Evidence(t, value) => {
                    if ground.is_none() {
                        return Err(GroundError::new(t.span, "evidence must be a ground atom"));
                    }
                    let (text, atom) = &answers[0];
                    match (atom, value) {
                        (None, false) => {}
                        (None, true) => {
                            return Err(GroundError::new(
                                t.span,
                                format!("evidence `{text}` is true, but `{text}` can never be derived: this evidence has probability zero"),
                            ))
                        }
                        (Some(a), false) if self.certain[*a as usize] => {
                            return Err(GroundError::new(
                                t.span,
                                format!("evidence `{text}` is false, but `{text}` is certainly true: this evidence has probability zero"),
                            ))
                        }
                        (Some(a), _) => evidence.push((*a, *value)),
                    }
                }
            }
        }

        // The networks and inputs of neural choices.
        let mut neural_of_group: Vec<Option<GroundNeural>> = vec![None; self.groups.len()];
        for (g, slot) in neural_of_group.iter_mut().enumerate() {
            let Some(n) = p.clauses[self.groups[g].clause as usize].neural.as_ref() else { continue };
            env.load(&self.groups[g].instance.clone());
            let mut inputs = Vec::with_capacity(n.inputs.len());
            for pat in n.inputs.iter() {
                inputs.push(self.ground(pat, &env).map_or_else(|| "_".to_string(), |t| self.terms.show(t)));
            }
            *slot = Some(GroundNeural { network: n.network.clone(), inputs });
        }

        // A direct choice whose head has other definitions gets a fresh
        // atom and the rule `head :- atom`.
        for g in 0..self.groups.len() {
            let Group { clause, start, .. } = self.groups[g];
            for k in 0..p.clauses[clause as usize].heads.len() {
                let i = start as usize + k;
                let a = self.choice_atoms[i];
                if self.choice_direct[i] && self.defs[a as usize] > 1 {
                    let span = p.clauses[clause as usize].span;
                    let c = self.new_atom(p, AtomKind::Choice { group: g as u32, head: k as u32 }, None, span)?;
                    self.choice_atoms[i] = c;
                    self.choice_direct[i] = false;
                    self.add_rule(p, a, vec![c << 1], span)?;
                }
            }
        }
        // A rule `head :- atom` that is all a head has: the head becomes the
        // choice's atom.
        let mut deleted = contradictory;
        deleted.resize(self.rules.len(), false); // rules added since
        for (r, (head, body)) in self.rules.iter().enumerate() {
            let [l] = **body else { continue };
            if l & 1 == 1 || self.defs[*head as usize] != 1 || self.certain[*head as usize] {
                continue;
            }
            let AtomKind::Choice { group, head: k } = self.atoms[(l >> 1) as usize] else { continue };
            let i = (self.groups[group as usize].start + k) as usize;
            if self.choice_atoms[i] == l >> 1 {
                self.choice_atoms[i] = *head;
                self.choice_direct[i] = true;
                deleted[r] = true;
            }
        }

        // Rules by head, and the group of each choice atom.
        let n = self.atoms.len();
        let mut start = vec![0u32; n + 1];
        for (r, (head, _)) in self.rules.iter().enumerate() {
            if !deleted[r] {
                start[*head as usize + 1] += 1;
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut by_head = vec![0u32; start[n] as usize];
        for (r, (head, _)) in self.rules.iter().enumerate() {
            if !deleted[r] {
                by_head[fill[*head as usize] as usize] = r as u32;
                fill[*head as usize] += 1;
            }
        }
        let group_atoms = |g: &Group| {
            let start = g.start as usize;
            &self.choice_atoms[start..start + p.clauses[g.clause as usize].heads.len()]
        };
        let mut group_of = vec![NONE; n];
        for (g, group) in self.groups.iter().enumerate() {
            for &a in group_atoms(group) {
                group_of[a as usize] = g as u32;
            }
        }
        let live = |r: u32, certain: &[bool]| {
            self.rules[r as usize].1.iter().all(|&l| l & 1 == 0 || !certain[(l >> 1) as usize])
        };

        // Relevance: backward from the queries and evidence.
        let mut relevant = vec![false; n];
        let mut stack: Vec<AtomId> = Vec::new();
        let mark = |a: AtomId, relevant: &mut Vec<bool>, stack: &mut Vec<AtomId>| {
            if !std::mem::replace(&mut relevant[a as usize], true) {
                stack.push(a);
            }
        };
        let formula_atoms: Vec<AtomId> =
            self.formulas.atom_nodes.keys().filter_map(|&t| self.atom_of_term(t)).collect();
        for a in queries.iter().filter_map(|q| q.1).chain(evidence.iter().map(|e| e.0)).chain(formula_atoms) {
            mark(a, &mut relevant, &mut stack);
        }
        while let Some(a) = stack.pop() {
            if self.certain[a as usize] {
                continue;
            }
            for &r in &by_head[start[a as usize] as usize..start[a as usize + 1] as usize] {
                if !live(r, &self.certain) {
                    continue;
                }
                for &l in self.rules[r as usize].1.iter() {
                    let b = l >> 1;
                    if l & 1 == 1 || !self.certain[b as usize] {
                        mark(b, &mut relevant, &mut stack);
                    }
                }
            }
            if group_of[a as usize] != NONE {
                for &b in group_atoms(&self.groups[group_of[a as usize] as usize]) {
                    mark(b, &mut relevant, &mut stack);
                }
            }
        }

        let mut new_id = vec![NONE; n];
        let mut atoms = Vec::new();
        for a in 0..n {
            if relevant[a] {
                new_id[a] = atoms.len() as u32;
                atoms.push(self.atom_text(p, a as AtomId));
            }
        }
        let mut rules = Vec::new();
        for a in (0..n).filter(|&a| relevant[a]) {
            if self.certain[a] {
                rules.push(GroundRule { head: new_id[a], body: Vec::new() });
                continue;
            }
            for &r in &by_head[start[a] as usize..start[a + 1] as usize] {
                if !live(r, &self.certain) {
                    continue;
                }
                let body = self.rules[r as usize]
                    .1
                    .iter()
                    .filter(|&&l| l & 1 == 1 || !self.certain[(l >> 1) as usize])
                    .map(|&l| (new_id[(l >> 1) as usize], l & 1 == 0))
                    .collect();
                rules.push(GroundRule { head: new_id[a], body });
            }
        }
        let kept: Vec<usize> = (0..self.groups.len())
            .filter(|&g| group_atoms(&self.groups[g]).iter().any(|&a| relevant[a as usize]))
            .collect();
        let learnable = kept.iter().map(|&g| p.clauses[self.groups[g].clause as usize].learnable).collect();
        let neural = kept.iter().map(|&g| neural_of_group[g].take()).collect();
        let choices = kept
            .iter()
            .map(|&g| {
                let g = &self.groups[g];
                let probabilities = p.clauses[g.clause as usize].probabilities.as_deref().unwrap_or_default();
                match (group_atoms(g), probabilities) {
                    ([a], [probability]) => GroundChoice::Fact { atom: new_id[*a as usize], probability: *probability },
                    (atoms, _) => GroundChoice::Disjunction {
                        atoms: atoms.iter().zip(probabilities).map(|(&a, &q)| (new_id[a as usize], q)).collect(),
                    },
                }
            })
            .collect();
        let formulas = formula::renumber(&self.formulas, |t| self.atom_of_term(t).map(|a| new_id[a as usize]));
        // Atom queries in file order, with formula queries between them.
        let mut per_goal = query_goal_sizes.into_iter();
        let mut atom_queries = queries.into_iter().map(|(text, atom, logic, instance)| GroundQuery {
            text,
            atom: atom.map(|a| new_id[a as usize]),
            formula: None,
            logic,
            instance,
        });
        let mut all_queries = Vec::new();
        let mut constraints = Vec::new();
        let mut emitted = 0;
        for (goal, &root) in p.formulas.iter().zip(&self.formulas.roots) {
            match goal.purpose {
                formula::Purpose::Query { position, logic } => {
                    while emitted < position {
                        let n = per_goal.next().unwrap_or(0);
                        all_queries.extend(atom_queries.by_ref().take(n));
                        emitted += 1;
                    }
                    all_queries.push(GroundQuery {
                        text: goal.text.clone(),
                        atom: None,
                        formula: Some(root),
                        logic,
                        instance: false,
                    });
                }
                formula::Purpose::Constraint { weight } => {
                    constraints.push(GroundConstraint { text: goal.text.clone(), formula: root, weight })
                }
            }
        }
        all_queries.extend(atom_queries);
        Ok(GroundProgram {
            atoms,
            rules,
            choices,
            queries: all_queries,
            evidence: evidence.into_iter().map(|(a, v)| (new_id[a as usize], v)).collect(),
            formulas,
            constraints,
            learnable,
            neural,
        })
    }

    fn atom_text(&self, p: &Program, a: AtomId) -> String {
        match self.atoms[a as usize] {
            AtomKind::Term { term, .. } => self.terms.show(term),
            AtomKind::Choice { group, head } => {
                let g = &self.groups[group as usize];
                let c = &p.clauses[g.clause as usize];
                let names = &p.var_names[c.vars as usize];
                let mut out = format!("choice({},{head},[", c.origin);
                let mut first = true;
                for (v, &t) in g.instance.iter().enumerate() {
                    if t == UNBOUND {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    match names[v].as_str() {
                        "_" => {
                            let _ = write!(out, "_{v}=");
                        }
                        name => {
                            let _ = write!(out, "{name}=");
                        }
                    }
                    self.terms.write(&mut out, t);
                }
                out.push_str("])");
                out
            }
        }
    }
}

/// `term` with variable `var` replaced by `value`.
fn substitute(term: &Term, var: &str, value: &Term) -> Term {
    let kind = match &term.kind {
        TermKind::Var(v) if v == var => return value.clone(),
        TermKind::Compound { functor, args } => TermKind::Compound {
            functor: functor.clone(),
            args: args.iter().map(|a| substitute(a, var, value)).collect(),
        },
        TermKind::List { items, tail } => TermKind::List {
            items: items.iter().map(|a| substitute(a, var, value)).collect(),
            tail: tail.as_ref().map(|t| Box::new(substitute(t, var, value))),
        },
        other => other.clone(),
    };
    Term::new(kind, term.span)
}

fn occurs(pat: &Pat, v: u32) -> bool {
    match pat {
        Pat::Var(w) => *w == v,
        Pat::Ground(_) => false,
        Pat::Compound(_, args) => args.iter().any(|a| occurs(a, v)),
    }
}

/// The ground program as ProbLog text: choices, then rules, queries and
/// evidence (a query on a certainly false atom prints its text).
impl fmt::Display for GroundProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |a: u32| self.atoms[a as usize].as_str();
        for c in &self.choices {
            match c {
                GroundChoice::Fact { atom, probability } => writeln!(f, "{probability}::{}.", name(*atom))?,
                GroundChoice::Disjunction { atoms } => {
                    let heads: Vec<String> = atoms.iter().map(|(a, q)| format!("{q}::{}", name(*a))).collect();
                    writeln!(f, "{}.", heads.join("; "))?
                }
            }
        }
        for r in &self.rules {
            if r.body.is_empty() {
                writeln!(f, "{}.", name(r.head))?;
            } else {
                let body: Vec<String> = r
                    .body
                    .iter()
                    .map(|&(a, positive)| format!("{}{}", if positive { "" } else { "\\+" }, name(a)))
                    .collect();
                writeln!(f, "{} :- {}.", name(r.head), body.join(", "))?;
            }
        }
        for q in &self.queries {
            writeln!(f, "query({}).", q.text)?;
        }
        for &(a, value) in &self.evidence {
            writeln!(f, "evidence({}, {value}).", name(a))?;
        }
        for c in &self.constraints {
            match c.weight {
                Some(w) => writeln!(f, "{w}::constraint({}).", c.text)?,
                None => writeln!(f, "constraint({}).", c.text)?,
            }
        }
        Ok(())
    }
}
