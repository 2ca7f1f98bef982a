//! The model: what each clause of the syntax tree *means* — a rule or fact
//! (with its probabilistic, learnable or neural annotation), a query,
//! evidence, a constraint, a domain or a choice of logic. [`lower`] turns a
//! [`Program`] into a [`Model`], reporting clauses it cannot read.
//!
//! Bodies, queries and formulas stay syntax [`Term`]s: the grounder reads
//! them; this stage only classifies clauses and checks their shape.
//!
//! ```
//! use deeplog_language::{model::{lower, Statement}, parse};
//!
//! let program = parse("0.3::a(s); 0.7::a(t).\nquery(a(s)).").unwrap();
//! let (model, diagnostics) = lower(program);
//! assert!(diagnostics.is_empty());
//! assert!(matches!(&model.statements[0], Statement::Rule(r) if r.heads.len() == 2));
//! assert!(matches!(&model.statements[1], Statement::Query(_)));
//! ```

pub use deeplog_semirings::Logic;

use crate::diagnostic::Diagnostic;
use crate::syntax::{Program, Span, Term, TermKind};

/// How a head is annotated.
#[derive(Clone, Debug, PartialEq)]
pub enum Annotation {
    /// A plain fact or rule.
    None,
    /// `p::h`, with `p` evaluated (`0.5*0.4`, `1/3`).
    Probability { value: f64, span: Span },
    /// `t(p)::h` or `t(_)::h`; or, with `decision`, `?::h` (a decision of
    /// decision-theoretic ProbLog, which a strategy sets true or false; its
    /// probability 0.5 elsewhere).
    Learnable { initial: Option<f64>, span: Span, decision: bool },
    /// `P::h :- body`: a flexible probability, an arithmetic expression
    /// over variables that the body binds, evaluated per instance.
    Computed { expression: Box<Term>, span: Span },
    /// `nn(net, Inputs, Output, Domain)::h` or `nn(net, Inputs)::h`.
    Neural(Box<Neural>),
}

/// A DeepProbLog neural annotation.
#[derive(Clone, Debug, PartialEq)]
pub struct Neural {
    pub network: String,
    pub inputs: Vec<Term>,
    /// The output variable, for categorical networks.
    pub output: Option<Term>,
    /// The output domain, for categorical networks.
    pub domain: Option<Vec<Term>>,
    pub span: Span,
}

/// One head of a rule: an atom with its annotation.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    pub annotation: Annotation,
    pub atom: Term,
    pub span: Span,
}

/// A fact or rule; several heads make an annotated disjunction.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub heads: Vec<Head>,
    pub body: Option<Box<Term>>,
    pub span: Span,
}

/// `query(q)` or `query(q, logic(L))`.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub target: Term,
    pub logic: Option<(Logic, Span)>,
    pub span: Span,
    /// `query(p(X)) :- a(X).`: every instance the body can derive is asked.
    pub condition: Option<Box<Term>>,
}

/// `evidence(a, true)`, `evidence(a)`, `evidence(\+ a)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    pub atom: Term,
    pub value: bool,
    pub span: Span,
    /// `evidence(p(X)) :- a(X).`: every instance the body can derive is
    /// observed.
    pub condition: Option<Box<Term>>,
}

/// `constraint(F)` or `w::constraint(F)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    pub weight: Option<(f64, Span)>,
    pub formula: Term,
    pub span: Span,
}

/// `domain(name, [values])`.
#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    pub name: String,
    pub values: Vec<Term>,
    pub span: Span,
}

/// What one clause says. The rarer kinds are boxed so that a model of a
/// million facts stays small.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    Rule(Rule),
    Query(Box<Query>),
    Evidence(Box<Evidence>),
    Constraint(Box<Constraint>),
    Domain(Box<Domain>),
    /// `:- logic(L).`
    Logic(Logic, Span),
    /// `:- use_module(library(lists)).`: ProbLog's libraries; what deeplog
    /// needs of them is built in, so the directive is recorded and not
    /// otherwise acted on.
    UseModule(Box<Term>, Span),
    /// `:- dynamic p/1, q/2.`: predicates declared on purpose, defined
    /// even with no clause (a call of one has no answers, not an error).
    Dynamic(Vec<(String, usize)>, Span),
    /// `:- csv_load(File, Pred).` or `:- sqlite_load(File).`: facts from
    /// a file, loaded by [`crate::data::load`].
    Load(crate::data::Source, Span),
    /// `:- include('other.pl').` or `:- consult('other.pl').`: another
    /// model file's clauses, read by [`crate::data::load`].
    Include(String, Span),
}

/// A model: its statements in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub statements: Vec<Statement>,
}

impl Model {
    /// The model-wide logic, if one is chosen (the last `:- logic(L).`).
    pub fn logic(&self) -> Option<Logic> {
        self.statements.iter().rev().find_map(|s| match s {
            Statement::Logic(l, _) => Some(*l),
            _ => None,
        })
    }

    /// The predicates declared `:- dynamic`.
    pub fn dynamic(&self) -> impl Iterator<Item = (&str, usize)> {
        self.statements
            .iter()
            .flat_map(|s| match s {
                Statement::Dynamic(specs, _) => specs.as_slice(),
                _ => &[],
            })
            .map(|(n, a)| (n.as_str(), *a))
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.statements.iter().filter_map(|s| match s {
            Statement::Rule(r) => Some(r),
            _ => None,
        })
    }
}

/// Classifies every clause. Clauses that cannot be read are left out of the
/// model and reported.
pub fn lower(program: Program) -> (Model, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut statements = Vec::with_capacity(program.clauses.len());
    for clause in program.clauses {
        match lower_clause(clause.term, clause.span) {
            Ok(s) => statements.push(s),
            Err(d) => diagnostics.push(d),
        }
    }
    (Model { statements }, diagnostics)
}

/// The two operands of a binary compound, taken apart without copying.
fn into_pair(term: Term) -> (Term, Term) {
    match term.into_kind() {
        TermKind::Compound { args, .. } if args.len() == 2 => {
            let mut args = args.into_iter();
            match (args.next(), args.next()) {
                (Some(a), Some(b)) => (a, b),
                _ => unreachable!("two arguments"),
            }
        }
        _ => unreachable!("callers check for a binary compound"),
    }
}

fn is_binary(term: &Term, ops: &[&str]) -> bool {
    matches!(term.as_compound(), Some((op, [_, _])) if ops.contains(&op))
}

fn lower_clause(term: Term, span: Span) -> Result<Statement, Diagnostic> {
    if is_binary(&term, &[":-", "<-"]) {
        let (head, body) = into_pair(term);
        // `query(p(X)) :- a(X).` and `evidence(...) :- ...`: conditional
        // goals, asked for every instance the body derives.
        if let Some(("query" | "evidence", [..])) = head.as_compound() {
            match lower_clause(head, span)? {
                Statement::Query(mut q) => {
                    q.condition = Some(Box::new(body));
                    return Ok(Statement::Query(q));
                }
                Statement::Evidence(mut e) => {
                    e.condition = Some(Box::new(body));
                    return Ok(Statement::Evidence(e));
                }
                Statement::Rule(r) => {
                    return Ok(Statement::Rule(Rule { body: Some(Box::new(body)), ..r }));
                }
                other => return Ok(other),
            }
        }
        let heads = lower_heads(head)?;
        return Ok(Statement::Rule(Rule { heads, body: Some(Box::new(body)), span }));
    }
    if let Some((op, args)) = term.as_compound() {
        match (op, args) {
            (":-", [directive]) => return lower_directive(directive, span),
            ("query", [target]) => {
                return Ok(Statement::Query(Box::new(Query {
                    target: target.clone(),
                    logic: None,
                    span,
                    condition: None,
                })))
            }
            ("query", [target, logic]) => {
                let logic = match logic.as_compound() {
                    Some(("logic", [name])) => (parse_logic(name)?, logic.span),
                    _ => {
                        return Err(Diagnostic::error(
                            logic.span,
                            "expected `logic(NAME)` as the second argument of `query`",
                        ))
                    }
                };
                return Ok(Statement::Query(Box::new(Query {
                    target: target.clone(),
                    logic: Some(logic),
                    span,
                    condition: None,
                })));
            }
            ("evidence", [atom]) => {
                let (atom, value) = match atom.as_compound() {
                    Some(("\\+" | "not", [inner])) => (inner.clone(), false),
                    _ => (atom.clone(), true),
                };
                return Ok(Statement::Evidence(Box::new(Evidence { atom, value, span, condition: None })));
            }
            ("evidence", [atom, value]) => {
                let value = match &value.kind {
                    TermKind::Atom(v) if v == "true" => true,
                    TermKind::Atom(v) if v == "false" => false,
                    _ => return Err(Diagnostic::error(value.span, "evidence must be `true` or `false`")),
                };
                return Ok(Statement::Evidence(Box::new(Evidence {
                    atom: atom.clone(),
                    value,
                    span,
                    condition: None,
                })));
            }
            ("constraint", [formula]) => {
                return Ok(Statement::Constraint(Box::new(Constraint { weight: None, formula: formula.clone(), span })))
            }
            ("::", [weight, inner]) if matches!(inner.as_compound(), Some(("constraint", [_]))) => {
                let Some((_, [formula])) = inner.as_compound() else { unreachable!("matched above") };
                let w = eval_probability(weight)?;
                return Ok(Statement::Constraint(Box::new(Constraint {
                    weight: Some((w, weight.span)),
                    formula: formula.clone(),
                    span,
                })));
            }
            ("domain", [name, values]) => return lower_domain(name, values, span),
            _ => {}
        }
    }
    let heads = lower_heads(term)?;
    Ok(Statement::Rule(Rule { heads, body: None, span }))
}

fn lower_directive(directive: &Term, span: Span) -> Result<Statement, Diagnostic> {
    match directive.as_compound() {
        Some(("logic", [name])) => Ok(Statement::Logic(parse_logic(name)?, span)),
        Some(("domain", [name, values])) => lower_domain(name, values, span),
        Some(("use_module", [module])) => Ok(Statement::UseModule(Box::new(module.clone()), span)),
        Some(("csv_load", [file, predicate])) => {
            let file = file_name(file)?;
            let TermKind::Atom(predicate) = &predicate.kind else {
                return Err(Diagnostic::error(predicate.span, "a predicate's name must be an atom"));
            };
            Ok(Statement::Load(crate::data::Source::Csv { file, predicate: predicate.clone() }, span))
        }
        Some(("include" | "consult", [file])) => Ok(Statement::Include(file_name(file)?, span)),
        Some(("sqlite_load", [file])) => {
            Ok(Statement::Load(crate::data::Source::Sqlite { file: file_name(file)? }, span))
        }
        Some(("dynamic" | "discontiguous", [specs])) => {
            let mut out = Vec::new();
            let mut todo = vec![specs];
            while let Some(spec) = todo.pop() {
                match spec.as_compound() {
                    Some(("," | "/", [a, b])) if spec.as_compound().is_some_and(|(f, _)| f == ",") => {
                        todo.push(b);
                        todo.push(a);
                    }
                    Some(("/", [name, arity])) => match (&name.kind, &arity.kind) {
                        (TermKind::Atom(n), TermKind::Int(a)) if *a >= 0 => out.push((n.clone(), *a as usize)),
                        _ => return Err(Diagnostic::error(spec.span, "expected a predicate indicator `name/arity`")),
                    },
                    _ => match &spec.kind {
                        TermKind::List { items, tail: None } => todo.extend(items.iter().rev()),
                        _ => return Err(Diagnostic::error(spec.span, "expected a predicate indicator `name/arity`")),
                    },
                }
            }
            // `discontiguous` says nothing deeplog needs: clauses may come
            // in any order.
            let name = directive.as_compound().map_or("", |(f, _)| f);
            Ok(Statement::Dynamic(if name == "dynamic" { out } else { Vec::new() }, span))
        }
        _ => Err(Diagnostic::error(directive.span, "unknown directive").with_note(
            "known directives: `:- logic(NAME).`, `:- domain(NAME, [VALUES]).`, `:- use_module(library(NAME)).`, \
             `:- dynamic NAME/ARITY.`, `:- csv_load(FILE, NAME).`, `:- sqlite_load(FILE).`, `:- include(FILE).`",
        )),
    }
}

/// A file's name: an atom or a string.
fn file_name(term: &Term) -> Result<String, Diagnostic> {
    match &term.kind {
        TermKind::Atom(s) | TermKind::Str(s) => Ok(s.clone()),
        _ => Err(Diagnostic::error(term.span, "a file's name must be an atom or a string, e.g. `'data.csv'`")),
    }
}

fn lower_domain(name: &Term, values: &Term, span: Span) -> Result<Statement, Diagnostic> {
    let TermKind::Atom(name) = &name.kind else {
        return Err(Diagnostic::error(name.span, "a domain's name must be an atom"));
    };
    match &values.kind {
        TermKind::List { items, tail: None } => {
            Ok(Statement::Domain(Box::new(Domain { name: name.clone(), values: items.clone(), span })))
        }
        _ => Err(Diagnostic::error(values.span, "a domain's values must be a list, e.g. `[a, b, c]`")),
    }
}

fn parse_logic(name: &Term) -> Result<Logic, Diagnostic> {
    match &name.kind {
        TermKind::Atom(n) => n.parse().map_err(|e: String| Diagnostic::error(name.span, e)),
        _ => Err(Diagnostic::error(name.span, "a logic's name must be an atom, e.g. `godel`")),
    }
}

/// `h`, `p::h`, `p1::h1 ; p2::h2 ; ...`.
fn lower_heads(term: Term) -> Result<Vec<Head>, Diagnostic> {
    let mut heads = Vec::new();
    let mut rest = term;
    // `;` is right-associative: walk down the right spine.
    while is_binary(&rest, &[";"]) {
        let (left, right) = into_pair(rest);
        heads.push(lower_head(left)?);
        rest = right;
    }
    heads.push(lower_head(rest)?);
    if heads.len() > 1 {
        if let Some(h) = heads.iter().find(|h| {
            !matches!(
                h.annotation,
                Annotation::Probability { .. } | Annotation::Learnable { .. } | Annotation::Computed { .. }
            )
        }) {
            return Err(Diagnostic::error(h.span, "every choice of an annotated disjunction needs a probability")
                .with_note("write `0.2::a ; 0.5::b.`; a plain disjunction belongs in a rule body"));
        }
    }
    Ok(heads)
}

fn lower_head(term: Term) -> Result<Head, Diagnostic> {
    let span = term.span;
    let (annotation, atom) = if is_binary(&term, &["::"]) {
        let (annotation, atom) = into_pair(term);
        (lower_annotation(&annotation)?, atom)
    } else {
        (Annotation::None, term)
    };
    check_callable(&atom)?;
    Ok(Head { annotation, atom, span })
}

/// A head must be an atom or a compound term that is not an operator the
/// language gives a meaning to.
fn check_callable(atom: &Term) -> Result<(), Diagnostic> {
    // `\+ a :- c.`: a negative head, ProbLog's; `library::negative_heads`
    // gives it its meaning.
    if let Some(("\\+", [inner])) = atom.as_compound() {
        if !matches!(inner.as_compound(), Some(("\\+", _))) {
            return check_callable(inner);
        }
    }
    match &atom.kind {
        TermKind::Atom(_) => Ok(()),
        TermKind::Compound { functor, .. } if !matches!(functor.as_str(), ":-" | "<-" | "::" | "," | ";" | "\\+") => {
            Ok(())
        }
        TermKind::Compound { functor, .. } => {
            Err(Diagnostic::error(atom.span, format!("`{functor}` cannot be the head of a clause")))
        }
        _ => Err(Diagnostic::error(atom.span, "the head of a clause must be an atom or a compound term like `p(X)`")),
    }
}

fn lower_annotation(term: &Term) -> Result<Annotation, Diagnostic> {
    match term.as_compound() {
        Some(("t", [initial])) => {
            let initial = match &initial.kind {
                TermKind::Var(_) => None,
                _ => Some(eval_probability(initial)?),
            };
            Ok(Annotation::Learnable { initial, span: term.span, decision: false })
        }
        _ if matches!(&term.kind, TermKind::Atom(a) if a == "?") => {
            Ok(Annotation::Learnable { initial: Some(0.5), span: term.span, decision: true })
        }
        Some(("nn", args)) => lower_neural(term, args),
        _ if term.variables().next().is_some() => {
            Ok(Annotation::Computed { expression: Box::new(term.clone()), span: term.span })
        }
        _ => Ok(Annotation::Probability { value: eval_probability(term)?, span: term.span }),
    }
}

fn lower_neural(term: &Term, args: &[Term]) -> Result<Annotation, Diagnostic> {
    let usage = "expected `nn(net, [Inputs], Output, [Domain])` or `nn(net, [Inputs])`";
    let (net, inputs) = match args {
        [net, inputs] | [net, inputs, _, _] => (net, inputs),
        _ => return Err(Diagnostic::error(term.span, usage)),
    };
    let TermKind::Atom(network) = &net.kind else {
        return Err(Diagnostic::error(net.span, "a network's name must be an atom"));
    };
    let TermKind::List { items: inputs, tail: None } = &inputs.kind else {
        return Err(Diagnostic::error(inputs.span, "a network's inputs must be a list, e.g. `[X]`"));
    };
    let (output, domain) = match args {
        [_, _, output, domain] => {
            let TermKind::List { items, tail: None } = &domain.kind else {
                return Err(Diagnostic::error(
                    domain.span,
                    "a network's output domain must be a list, e.g. `[0, 1, 2]`",
                ));
            };
            if items.is_empty() {
                return Err(Diagnostic::error(domain.span, "a network's output domain cannot be empty"));
            }
            (Some(output.clone()), Some(items.clone()))
        }
        _ => (None, None),
    };
    Ok(Annotation::Neural(Box::new(Neural {
        network: network.clone(),
        inputs: inputs.clone(),
        output,
        domain,
        span: term.span,
    })))
}

/// Evaluates a probability expression (`0.3`, `0.5*0.4`, `1/3`, `1-0.2`).
/// Range is checked later, so that the diagnostic can say what the value is.
pub fn eval_probability(term: &Term) -> Result<f64, Diagnostic> {
    eval_number(term).ok_or_else(|| {
        Diagnostic::error(term.span, "expected a probability: a number or arithmetic on numbers (`0.3`, `1/3`)")
    })
}

fn eval_number(term: &Term) -> Option<f64> {
    // `0.1*0.1*…` nests as deep as it is long.
    deeplog_program::stack::guard(|| eval_nested(term))
}

fn eval_nested(term: &Term) -> Option<f64> {
    match &term.kind {
        TermKind::Int(i) => Some(*i as f64),
        TermKind::Float(f) => Some(*f),
        TermKind::Compound { functor, args } => match (functor.as_str(), args.as_slice()) {
            ("-", [a]) => Some(-eval_number(a)?),
            ("+", [a]) => eval_number(a),
            ("+", [a, b]) => Some(eval_number(a)? + eval_number(b)?),
            ("-", [a, b]) => Some(eval_number(a)? - eval_number(b)?),
            ("*", [a, b]) => Some(eval_number(a)? * eval_number(b)?),
            ("/", [a, b]) => {
                let d = eval_number(b)?;
                (d != 0.0).then(|| eval_number(a)).flatten().map(|n| n / d)
            }
            ("**" | "^", [a, b]) => Some(eval_number(a)?.powf(eval_number(b)?)),
            _ => None,
        },
        _ => None,
    }
}
