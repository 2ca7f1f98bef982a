//! Compiled clauses: what the compiler (`compile`) makes of a model and
//! the evaluation (`tabling`) runs. A clause's terms are patterns over
//! variables numbered per clause; its body is a conjunction of literals:
//! calls of user predicates, negations, builtins and `findall/3`.

use super::{formula, PredId};
use crate::model::Logic;
use crate::syntax::Span;
use deeplog_program::terms::{Sym, TermId};

/// A term of a clause: variables are numbered per clause.
#[derive(Clone, Debug)]
pub(super) enum Pat {
    Var(u32),
    Ground(TermId),
    /// A compound with at least one variable inside.
    Compound(Sym, Box<[Pat]>),
}

/// A comparison of two arithmetic values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A builtin predicate the grounder solves itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Builtin {
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
    pub(super) fn of(name: &str, arity: usize) -> Option<Builtin> {
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

    pub(super) fn name(self) -> &'static str {
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
pub(super) enum Lit {
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
    /// `pred(Shared..., T, Local...) :- G`, their `T` (argument
    /// `template`) collected into `result`. The goal's own variables are in
    /// the head so that two solutions with one `T` are two answers, and `T`
    /// is in the list twice, as in Prolog.
    Findall {
        pred: PredId,
        args: Box<[Pat]>,
        template: u32,
        result: Pat,
        span: Span,
    },
}

/// A neural annotation, compiled: the network and its input patterns.
#[derive(Clone, Debug)]
pub(super) struct NeuralClause {
    pub(super) network: String,
    pub(super) inputs: Box<[Pat]>,
}

/// A clause with its heads and one conjunction of its body (a body with
/// `;` gives one clause per alternative).
#[derive(Debug)]
pub(super) struct Clause {
    /// The statement it comes from: one choice per instance of a statement,
    /// even when a disjunctive body splits it into several clauses.
    pub(super) origin: u32,
    pub(super) span: Span,
    pub(super) heads: Box<[(PredId, Box<[Pat]>)]>,
    /// One per head, for a probabilistic rule or annotated disjunction.
    pub(super) probabilities: Option<Box<[f64]>>,
    /// Its probabilities are parameters to learn (`t(p)::`).
    pub(super) learnable: bool,
    /// Its probabilities are a network's outputs (`nn(...)::`).
    pub(super) neural: Option<Box<NeuralClause>>,
    pub(super) body: Box<[Lit]>,
    /// Index in `Program::var_names`.
    pub(super) vars: u32,
    /// The head atoms of a fact, interned once (else empty).
    pub(super) ground_heads: Box<[TermId]>,
}

/// A predicate: its name and arity, and where it is defined.
#[derive(Debug)]
pub(super) struct Pred {
    pub(super) name: Sym,
    pub(super) arity: u32,
    /// (clause, head) pairs that define it, facts excepted.
    pub(super) rules: Vec<(u32, u32)>,
    /// Defined by ground facts alone: its answers are known from the start.
    pub(super) complete: bool,
    pub(super) stratum: u32,
}

/// A query or evidence target.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) pred: PredId,
    pub(super) args: Box<[Pat]>,
    pub(super) vars: usize,
    pub(super) span: Span,
    /// A query's own logic (`query(q, logic(L))`).
    pub(super) logic: Option<Logic>,
}

/// What grounding is for: a query or an evidence atom with its value.
#[derive(Debug)]
pub(super) enum Goal {
    Query(Target),
    Evidence(Target, bool),
}

/// A compiled model.
///
/// Invariants: every `PredId` is below `preds.len()`, every clause id
/// below `clauses.len()`; a clause's `vars` indexes `var_names`; after
/// `stratify`, a predicate's stratum is above those it negates or
/// aggregates (above those it negates only without `local_negation`).
#[derive(Debug)]
pub(super) struct Program {
    pub(super) clauses: Vec<Clause>,
    /// Clauses with ground heads and no body, loaded before evaluation.
    pub(super) facts: Vec<u32>,
    pub(super) preds: Vec<Pred>,
    pub(super) var_names: Vec<Vec<String>>,
    pub(super) goals: Vec<Goal>,
    pub(super) formulas: Vec<formula::FormulaGoal>,
    /// Negation through recursion at the level of predicates (`win(X) :-
    /// move(X, Y), \+ win(Y)`): no stratum order can wait for a negated
    /// call to complete, so every negation is grounded as a literal at
    /// once and resolved when grounding ends (see `State::pending`). The
    /// compiler then checks that no ground atom depends on its own
    /// negation.
    pub(super) local_negation: bool,
}
