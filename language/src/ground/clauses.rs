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
    /// The builtins of [`NAMED`]: over terms (`inspect.rs`) and text (`text.rs`).
    Named(Named),
}

/// Builtins over terms and text, by name and arity: one table, read both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Named {
    Var,
    Nonvar,
    Ground,
    IsAtom,
    IsNumber,
    IsInteger,
    IsFloat,
    IsAtomic,
    IsCompound,
    IsCallable,
    IsString,
    IsList,
    TermLess,
    TermGreater,
    TermLessEq,
    TermGreaterEq,
    Compare,
    Functor,
    Arg,
    Univ,
    CopyTerm,
    Msort,
    Sort2,
    Sort4,
    Keysort,
    MaxMember,
    MinMember,
    Write,
    Writeln,
    Print,
    Nl,
    /// `writenl/N`, `debugprint/N` (their arguments gathered in a list).
    PrintAll,
    /// `error/N`: stops grounding with the arguments as the message.
    Raise,
    IsSimple,
    AtomConcat,
    StringConcat,
    AtomLength,
    StringLength,
    AtomChars,
    AtomCodes,
    StringChars,
    StringCodes,
    NumberCodes,
    NumberChars,
    CharCode,
    AtomNumber,
    NumberString,
    AtomString,
    StringToAtom,
    Upcase,
    Downcase,
    SubAtom,
    SubString,
    AtomicListConcat2,
    AtomicListConcat3,
    TermToAtom,
}

/// The named builtins: name, arity, builtin.
pub(super) const NAMED: &[(&str, usize, Named)] = &[
    ("var", 1, Named::Var),
    ("nonvar", 1, Named::Nonvar),
    ("ground", 1, Named::Ground),
    ("atom", 1, Named::IsAtom),
    ("number", 1, Named::IsNumber),
    ("integer", 1, Named::IsInteger),
    ("float", 1, Named::IsFloat),
    ("atomic", 1, Named::IsAtomic),
    ("compound", 1, Named::IsCompound),
    ("callable", 1, Named::IsCallable),
    ("string", 1, Named::IsString),
    ("is_list", 1, Named::IsList),
    ("@<", 2, Named::TermLess),
    ("@>", 2, Named::TermGreater),
    ("@=<", 2, Named::TermLessEq),
    ("@>=", 2, Named::TermGreaterEq),
    ("compare", 3, Named::Compare),
    ("functor", 3, Named::Functor),
    ("arg", 3, Named::Arg),
    ("=..", 2, Named::Univ),
    ("copy_term", 2, Named::CopyTerm),
    ("msort", 2, Named::Msort),
    ("sort", 2, Named::Sort2),
    ("sort", 4, Named::Sort4),
    ("keysort", 2, Named::Keysort),
    ("max_member", 2, Named::MaxMember),
    ("min_member", 2, Named::MinMember),
    ("write", 1, Named::Write),
    ("writeln", 1, Named::Writeln),
    ("print", 1, Named::Print),
    ("nl", 0, Named::Nl),
    ("$print_all", 1, Named::PrintAll),
    ("$raise", 1, Named::Raise),
    ("simple", 1, Named::IsSimple),
    ("atom_concat", 3, Named::AtomConcat),
    ("string_concat", 3, Named::StringConcat),
    ("atom_length", 2, Named::AtomLength),
    ("string_length", 2, Named::StringLength),
    ("atom_chars", 2, Named::AtomChars),
    ("atom_codes", 2, Named::AtomCodes),
    ("string_chars", 2, Named::StringChars),
    ("string_codes", 2, Named::StringCodes),
    ("number_codes", 2, Named::NumberCodes),
    ("number_chars", 2, Named::NumberChars),
    ("char_code", 2, Named::CharCode),
    ("atom_number", 2, Named::AtomNumber),
    ("number_string", 2, Named::NumberString),
    ("atom_string", 2, Named::AtomString),
    ("string_to_atom", 2, Named::StringToAtom),
    ("upcase_atom", 2, Named::Upcase),
    ("downcase_atom", 2, Named::Downcase),
    ("sub_atom", 5, Named::SubAtom),
    ("sub_string", 5, Named::SubString),
    ("atomic_list_concat", 2, Named::AtomicListConcat2),
    ("atomic_list_concat", 3, Named::AtomicListConcat3),
    ("term_to_atom", 2, Named::TermToAtom),
];

impl Named {
    pub(super) fn name(self) -> &'static str {
        NAMED.iter().find(|(_, _, n)| *n == self).map_or("?", |(name, _, _)| name)
    }

    /// The string builtins build strings where the atom ones build atoms.
    pub(super) fn makes_strings(self) -> bool {
        matches!(
            self,
            Named::StringConcat | Named::StringChars | Named::StringCodes | Named::NumberString | Named::SubString
        )
    }
}

/// Whether `name/arity` is a builtin the grounder solves (control
/// constructs and `findall/3` aside).
pub(crate) fn is_builtin(name: &str, arity: usize) -> bool {
    Builtin::of(name, arity).is_some()
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
            _ => return NAMED.iter().find(|(n, a, _)| *n == name && *a == arity).map(|(_, _, op)| Builtin::Named(*op)),
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
            Builtin::Named(op) => op.name(),
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
    /// `call(G, Extra...)` where `G` is bound only while grounding: the
    /// goal `G` with `Extra` appended, resolved to a builtin or a
    /// predicate when the literal is reached.
    Dynamic {
        goal: Pat,
        extra: Box<[Pat]>,
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
    /// It is a decision (`?::`).
    pub(super) decision: bool,
    /// Its probabilities are a network's outputs (`nn(...)::`).
    pub(super) neural: Option<Box<NeuralClause>>,
    /// Flexible probabilities (`P::h :- ..., P is ...`): per head, the
    /// expression of its label, evaluated per instance.
    pub(super) labels: Option<Box<[Pat]>>,
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
    /// `query(p(X)) :- a(X).`: the auxiliary predicate of the body over the
    /// target's variables; the goal is every instance it derives.
    pub(super) condition: Option<(PredId, Box<[Pat]>)>,
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
    /// Every predicate by (name, arity), for goals built while grounding.
    pub(super) pred_ids: super::FxMap<(Sym, u32), PredId>,
    /// Per predicate: whether its name is written as data somewhere in the
    /// program (`maplist(edge, L)`), so that `call/N` may reach it; the
    /// strata count those calls.
    pub(super) reachable: Vec<bool>,
}
