//! Specifications over scene graphs: first-order formulas with temporal
//! operators over a finite trace of frames, translated into ordinary rules
//! of the model language (so that grounding, knowledge compilation and
//! every logic apply to them unchanged).
//!
//! A spec file is a model file whose `spec(Name, Formula)` clauses are the
//! specifications; its other clauses are ordinary rules (helpers), which
//! take the frame as their last argument when they are temporal.
//!
//! In a formula, an atom `p(A, B)` means `p(A, B, T)` at the current frame
//! `T`, except the static predicates `category/2` and `object/1`,
//! comparisons (`X \= Y`, `X == Y`, …) and atoms written `static(p(A))`.
//! Connectives: `and` / `,`, `or` / `;`, `not` / `\+`, `implies`,
//! `exists(X, F)`, `forall(X, F)` (over the graph's objects), `true`,
//! `false`. Temporal operators, strong on a finite trace (nothing holds
//! past the last frame): `next(F)`; `eventually(F)`; `always(F)` (from now
//! to the last frame); `until(F, G)` (`G` at some frame from now, `F` at
//! every frame before it); `then([F1, …, Fk])` (`F1` at some frame from
//! now, then `F2` at a later frame, …). A spec holds when its formula holds
//! at frame 0.
//!
//! Each subformula becomes a predicate `'$spec_S_NAME_N'(Vars…, T)` (spec
//! number `S`, named `NAME`, so that a message about it names the spec)
//! defined by
//! one or two rules; `eventually`, `always`, `until` and `then` recur over
//! `T + 1`, so the lineage is a chain over the frames that knowledge
//! compilation keeps linear.

use std::fmt::Write;

use deeplog_language::syntax::{Span, Term, TermKind};

/// A specification as written.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    /// The formula, as written (printed).
    pub text: String,
    pub formula: Term,
    /// The span of the whole `spec(…)` clause.
    pub span: Span,
}

/// A spec error and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecError {
    pub message: String,
    pub span: Span,
}

/// A subformula, with its free variables in first-seen order.
#[derive(Clone, Debug)]
enum Node {
    /// A temporal atom: printed without its frame argument.
    Temporal {
        functor: String,
        args: Vec<String>,
    },
    /// A static atom or a comparison, printed.
    Static(String),
    /// A negated static atom or comparison.
    NotStatic(String),
    Const(bool),
    And(Vec<Formula>),
    Or(Vec<Formula>),
    Not(Box<Formula>),
    Exists(String, Box<Formula>),
    Next(Box<Formula>),
    Eventually(Box<Formula>),
    Always(Box<Formula>),
    Until(Box<Formula>, Box<Formula>),
}

#[derive(Clone, Debug)]
struct Formula {
    node: Node,
    free: Vec<String>,
}

const STATIC: [(&str, usize); 2] = [("category", 2), ("object", 1)];
const COMPARISONS: [&str; 8] = ["\\=", "=", "==", "\\==", "<", ">", "=<", ">="];

fn error(message: impl Into<String>, term: &Term) -> SpecError {
    SpecError { message: message.into(), span: term.span }
}

fn union(parts: &[&Formula]) -> Vec<String> {
    let mut free: Vec<String> = Vec::new();
    for part in parts {
        for v in &part.free {
            if !free.contains(v) {
                free.push(v.clone());
            }
        }
    }
    free
}

fn leaf(node: Node, term: &Term) -> Formula {
    let mut free: Vec<String> = Vec::new();
    for (v, _) in term.variables() {
        if v != "_" && !free.iter().any(|seen| seen == v) {
            free.push(v.to_string());
        }
    }
    Formula { node, free }
}

fn boxed(f: Formula) -> Box<Formula> {
    Box::new(f)
}

/// Reads a formula term.
fn read(term: &Term) -> Result<Formula, SpecError> {
    let (functor, args): (&str, &[Term]) = match &term.kind {
        TermKind::Atom(a) => (a.as_str(), &[]),
        TermKind::Compound { functor, args } => (functor.as_str(), args.as_slice()),
        TermKind::Var(v) => return Err(error(format!("a variable `{v}` where a formula is expected"), term)),
        _ => return Err(error(format!("`{term}` is not a formula"), term)),
    };
    let two = |f: fn(Vec<Formula>) -> Node| -> Result<Formula, SpecError> {
        let parts = vec![read(&args[0])?, read(&args[1])?];
        let free = union(&parts.iter().collect::<Vec<_>>());
        Ok(Formula { node: f(parts), free })
    };
    let one = |f: fn(Box<Formula>) -> Node| -> Result<Formula, SpecError> {
        let inner = read(&args[0])?;
        let free = inner.free.clone();
        Ok(Formula { node: f(boxed(inner)), free })
    };
    match (functor, args.len()) {
        ("true", 0) => Ok(Formula { node: Node::Const(true), free: Vec::new() }),
        ("false" | "fail", 0) => Ok(Formula { node: Node::Const(false), free: Vec::new() }),
        ("and" | ",", 2) => two(Node::And),
        ("or" | ";", 2) => two(Node::Or),
        ("not" | "\\+", 1) => {
            let inner = read(&args[0])?;
            let free = inner.free.clone();
            match inner.node {
                Node::Static(s) => Ok(Formula { node: Node::NotStatic(s), free }),
                Node::NotStatic(s) => Ok(Formula { node: Node::Static(s), free }),
                _ => Ok(Formula { node: Node::Not(boxed(inner)), free }),
            }
        }
        ("implies" | "->", 2) => {
            let (a, b) = (read(&args[0])?, read(&args[1])?);
            let free = union(&[&a, &b]);
            let not_a = Formula { free: a.free.clone(), node: Node::Not(boxed(a)) };
            Ok(Formula { node: Node::Or(vec![not_a, b]), free })
        }
        ("exists" | "forall", 2) => {
            let TermKind::Var(v) = &args[0].kind else {
                return Err(error(format!("`{functor}` binds a variable: {functor}(X, F)"), &args[0]));
            };
            let body = read(&args[1])?;
            let free: Vec<String> = body.free.iter().filter(|f| *f != v).cloned().collect();
            if functor == "exists" {
                return Ok(Formula { node: Node::Exists(v.clone(), boxed(body)), free });
            }
            // forall X: F  ≡  not exists X: not F
            let not_body = Formula { free: body.free.clone(), node: Node::Not(boxed(body)) };
            let exists = Formula { free: free.clone(), node: Node::Exists(v.clone(), boxed(not_body)) };
            Ok(Formula { node: Node::Not(boxed(exists)), free })
        }
        ("next", 1) => one(Node::Next),
        ("eventually", 1) => one(Node::Eventually),
        ("always", 1) => one(Node::Always),
        ("until", 2) => {
            let (a, b) = (read(&args[0])?, read(&args[1])?);
            let free = union(&[&a, &b]);
            Ok(Formula { node: Node::Until(boxed(a), boxed(b)), free })
        }
        ("then", 1) => {
            let TermKind::List { items, tail: None } = &args[0].kind else {
                return Err(error("`then` takes a list of events: then([A, B, C])", &args[0]));
            };
            if items.is_empty() {
                return Err(error("`then` needs at least one event", &args[0]));
            }
            let events = items.iter().map(read).collect::<Result<Vec<_>, _>>()?;
            Ok(sequence(events))
        }
        ("static", 1) => Ok(leaf(Node::Static(args[0].to_string()), &args[0])),
        (f, 2) if COMPARISONS.contains(&f) => Ok(leaf(Node::Static(term.to_string()), term)),
        (f, n) if STATIC.contains(&(f, n)) => Ok(leaf(Node::Static(term.to_string()), term)),
        ("then" | "until" | "next" | "eventually" | "always" | "exists" | "forall" | "not" | "and" | "or", n) => {
            Err(error(format!("`{functor}` does not take {n} argument{}", if n == 1 { "" } else { "s" }), term))
        }
        _ => Ok(leaf(
            Node::Temporal { functor: functor.to_string(), args: args.iter().map(ToString::to_string).collect() },
            term,
        )),
    }
}

/// `then([E1, …, Ek])` = `eventually(E1 and next(then([E2, …, Ek])))`.
fn sequence(mut events: Vec<Formula>) -> Formula {
    let first = events.remove(0);
    let body = if events.is_empty() {
        first
    } else {
        let rest = sequence(events);
        let next = Formula { free: rest.free.clone(), node: Node::Next(boxed(rest)) };
        let free = union(&[&first, &next]);
        Formula { node: Node::And(vec![first, next]), free }
    };
    Formula { free: body.free.clone(), node: Node::Eventually(boxed(body)) }
}

/// The frame variables of the emitted rules (names no spec can use: a
/// user's variables never contain `__`).
const T: &str = "T__";
const T1: &str = "T1__";

/// Rules for the subformulas of one spec.
struct Emitter<'a> {
    /// The predicates' common name, unquoted.
    prefix: String,
    count: usize,
    out: &'a mut String,
}

/// How a subformula appears in a rule body.
enum Lit {
    /// A literal that holds at frame `T` (binds `T`).
    AtT(String),
    /// A literal with no frame (a static atom, a comparison).
    Static(String),
    /// A negated static literal (goes last).
    NegStatic(String),
}

impl Emitter<'_> {
    fn fresh(&mut self) -> String {
        self.count += 1;
        super::quote(&format!("{}_{}", self.prefix, self.count))
    }

    fn head(name: &str, free: &[String], t: &str) -> String {
        let mut args: Vec<&str> = free.iter().map(String::as_str).collect();
        args.push(t);
        format!("{name}({})", args.join(", "))
    }

    /// A rule `head :- lits`, binding every head variable: the frame by
    /// `frame(T)` when no literal holds at `T`, the others by `object/1`
    /// when no positive literal mentions them.
    fn rule(&mut self, head: &str, free: &[String], lits: Vec<String>, at_t: bool, bound: &[String]) {
        let mut body: Vec<String> = Vec::new();
        if !at_t {
            body.push(format!("frame({T})"));
        }
        for v in free {
            if !bound.contains(v) {
                body.push(format!("object({v})"));
            }
        }
        body.extend(lits);
        let _ = writeln!(self.out, "{head} :- {}.", body.join(", "));
    }

    /// The body literal for `f` at frame `t_var`.
    fn lit(&mut self, f: &Formula) -> Lit {
        match &f.node {
            Node::Temporal { functor, args } => {
                let mut args = args.clone();
                args.push(T.to_string());
                Lit::AtT(format!("{functor}({})", args.join(", ")))
            }
            Node::Static(s) => Lit::Static(s.clone()),
            Node::NotStatic(s) => Lit::NegStatic(format!("\\+ {s}")),
            Node::Const(true) => Lit::Static("0 = 0".to_string()),
            Node::Const(false) => Lit::Static("0 = 1".to_string()),
            _ => {
                let name = self.node(f);
                Lit::AtT(Self::head(&name, &f.free, T))
            }
        }
    }

    /// Body literals for a conjunction of parts at frame `T`: positive
    /// ones first (they bind), then negations and comparisons.
    fn conjunction(&mut self, parts: &[&Formula]) -> (Vec<String>, bool, Vec<String>) {
        let (mut first, mut last, mut at_t, mut bound) = (Vec::new(), Vec::new(), false, Vec::new());
        for p in parts {
            match self.lit(p) {
                Lit::AtT(l) => {
                    at_t = true;
                    if !matches!(p.node, Node::Not(_)) {
                        bound.extend(p.free.iter().cloned());
                    }
                    if matches!(p.node, Node::Not(_)) {
                        last.push(l);
                    } else {
                        first.push(l);
                    }
                }
                Lit::Static(l) => {
                    if matches!(&p.node, Node::Static(s) if !COMPARISONS.iter().any(|c| s.contains(c))) {
                        bound.extend(p.free.iter().cloned());
                        first.push(l);
                    } else {
                        last.push(l);
                    }
                }
                Lit::NegStatic(l) => last.push(l),
            }
        }
        first.extend(last);
        (first, at_t, bound)
    }

    /// Defines the predicate of a compound subformula; returns its name.
    fn node(&mut self, f: &Formula) -> String {
        let name = self.fresh();
        let head = Self::head(&name, &f.free, T);
        let next_head = Self::head(&name, &f.free, T1);
        let step = format!("{T1} is {T} + 1");
        match &f.node {
            Node::And(parts) => {
                let (lits, at_t, bound) = self.conjunction(&parts.iter().collect::<Vec<_>>());
                self.rule(&head, &f.free, lits, at_t, &bound);
            }
            Node::Or(parts) => {
                for p in parts {
                    let (lits, at_t, bound) = self.conjunction(&[p]);
                    self.rule(&head, &f.free, lits, at_t, &bound);
                }
            }
            Node::Not(inner) => {
                let lit = match self.lit(inner) {
                    Lit::AtT(l) | Lit::Static(l) => format!("\\+ {l}"),
                    Lit::NegStatic(l) => l.trim_start_matches("\\+ ").to_string(),
                };
                self.rule(&head, &f.free, vec![lit], false, &[]);
            }
            Node::Exists(v, inner) => {
                let (lits, at_t, mut bound) = self.conjunction(&[inner]);
                let mut all = f.free.clone();
                all.push(v.clone());
                bound.retain(|b| b != v);
                // The bound variable ranges over objects, first.
                let mut body = vec![format!("object({v})")];
                body.extend(lits);
                let body_bound: Vec<String> = bound.into_iter().chain(std::iter::once(v.clone())).collect();
                self.rule(&head, &f.free, body, at_t, &body_bound);
            }
            Node::Next(inner) => {
                let (lits, _, bound) = self.conjunction(&[inner]);
                let lits: Vec<String> = lits.into_iter().map(|l| at_frame(&l, T1)).collect();
                let mut body = vec![format!("frame({T})"), step, format!("frame({T1})")];
                body.extend(lits);
                self.rule(&head, &f.free, body, true, &bound);
            }
            Node::Eventually(inner) => {
                let (lits, at_t, bound) = self.conjunction(&[inner]);
                self.rule(&head, &f.free, lits, at_t, &bound);
                let body = vec![format!("frame({T})"), step, next_head];
                self.rule(&head, &f.free, body, true, &f.free);
            }
            Node::Always(inner) => {
                let (lits, at_t, bound) = self.conjunction(&[inner]);
                let mut last = lits.clone();
                last.push(format!("last_frame({T})"));
                self.rule(&head, &f.free, last, at_t, &bound);
                let mut body = vec![format!("frame({T})")];
                body.extend(lits);
                body.push(step);
                body.push(next_head);
                self.rule(&head, &f.free, body, true, &f.free);
            }
            Node::Until(a, b) => {
                let (lits, at_t, bound) = self.conjunction(&[b]);
                self.rule(&head, &f.free, lits, at_t, &bound);
                let (lits, _, _) = self.conjunction(&[a]);
                let mut body = vec![format!("frame({T})")];
                body.extend(lits);
                body.push(step);
                body.push(next_head);
                self.rule(&head, &f.free, body, true, &f.free);
            }
            Node::Temporal { .. } | Node::Static(_) | Node::NotStatic(_) | Node::Const(_) => {
                let (lits, at_t, bound) = self.conjunction(&[f]);
                self.rule(&head, &f.free, lits, at_t, &bound);
            }
        }
        name
    }
}

/// `lit` with its frame variable `T__` renamed to `t`.
fn at_frame(lit: &str, t: &str) -> String {
    lit.replace(&format!("{T})"), &format!("{t})"))
}

/// A spec translated into rules.
pub struct Translated {
    /// The rules, model text.
    pub rules: String,
    /// The name (unquoted) of the atom that holds when the spec does (at
    /// frame 0).
    pub root: String,
    /// The spec's outermost `exists` variables, in order.
    pub binding: Vec<String>,
    /// With a binding: the predicate (unquoted), one argument per binding
    /// variable, that holds for the bindings under which the spec's body
    /// holds.
    pub bind: Option<String>,
}

/// The common name of spec number `index`'s predicates: `$spec_0_NAME`.
/// The number keeps them apart from other specs' (a name may end in what
/// looks like a subformula's number); the name is what a user reads in a
/// message about one of them.
fn predicate_prefix(kind: &str, spec: &Spec, index: usize) -> String {
    format!("${kind}_{index}_{}", spec.name)
}

/// Reads and translates spec number `index`.
pub fn translate(spec: &Spec, index: usize) -> Result<Translated, SpecError> {
    let formula = read(&spec.formula)?;
    if let Some(v) = formula.free.first() {
        return Err(SpecError {
            message: format!(
                "spec `{}` has a free variable `{v}`: bind it with exists({v}, …) or forall({v}, …)",
                spec.name
            ),
            span: spec.formula.span,
        });
    }
    let mut rules = String::new();
    let prefix = predicate_prefix("spec", spec, index);
    let mut emitter = Emitter { prefix: prefix.clone(), count: 0, out: &mut rules };
    // The outermost exists variables, for the most probable binding.
    let mut binding = Vec::new();
    let mut inner = &formula;
    while let Node::Exists(v, body) = &inner.node {
        binding.push(v.clone());
        inner = body;
    }
    let body = emitter.node(inner);
    let call = Emitter::head(&body, &inner.free, "0");
    let root = prefix.clone();
    let quoted = super::quote(&root);
    let mut bind = None;
    if binding.is_empty() {
        let _ = writeln!(rules, "{quoted} :- {call}.");
    } else {
        let objects: Vec<String> = binding.iter().map(|v| format!("object({v})")).collect();
        let name = format!("{prefix}_bind");
        let quoted_name = super::quote(&name);
        let _ = writeln!(rules, "{quoted_name}({}) :- {}, {call}.", binding.join(", "), objects.join(", "));
        let _ = writeln!(rules, "{quoted} :- {quoted_name}({}).", binding.join(", "));
        bind = Some(name);
    }
    Ok(Translated { rules, root, binding, bind })
}

/// The `spec(Name, Formula)` clauses of a program, and its source with
/// them blanked out (lines kept, so the rest's diagnostics keep their
/// places).
pub fn extract(source: &str) -> Result<(Vec<Spec>, String), SpecError> {
    let program = deeplog_language::parse(source).map_err(|e| SpecError { message: e.to_string(), span: e.span })?;
    let mut specs = Vec::new();
    let mut rest = source.to_string();
    for clause in &program.clauses {
        let Some(("spec", args)) = clause.term.as_compound() else { continue };
        if args.len() != 2 {
            return Err(error("a specification is spec(Name, Formula)", &clause.term));
        }
        let name = match &args[0].kind {
            TermKind::Atom(a) => a.clone(),
            _ => return Err(error("a spec's name is an atom: spec(picks_up_cup, …)", &args[0])),
        };
        if specs.iter().any(|s: &Spec| s.name == name) {
            return Err(error(format!("two specs are named `{name}`"), &args[0]));
        }
        specs.push(Spec { name, text: args[1].to_string(), formula: args[1].clone(), span: clause.span });
        let (lo, hi) = (clause.span.start, clause.span.end);
        let blank: String = source[lo..hi].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
        rest.replace_range(lo..hi, &blank);
    }
    Ok((specs, rest))
}

/// The predicate (unquoted) of [`alignment_rules`] for spec number
/// `index`: `$align_0_NAME`.
pub fn alignment_predicate(spec: &Spec, index: usize) -> String {
    predicate_prefix("align", spec, index)
}

/// Rules for [`alignment_predicate`]`(I, T)`: the sequence `events`
/// (ground) holds, together with `others` at frame 0, with event `I` (from
/// 0) at frame `T`. `None` when an event has a free variable (no binding
/// fixes it).
pub fn alignment_rules(
    events: &[Term],
    others: &[&Term],
    spec: &Spec,
    index: usize,
) -> Result<Option<String>, SpecError> {
    let events = events.iter().map(read).collect::<Result<Vec<_>, _>>()?;
    let others = others.iter().map(|t| read(t)).collect::<Result<Vec<_>, _>>()?;
    if events.iter().chain(&others).any(|f| !f.free.is_empty()) {
        return Ok(None);
    }
    let mut rules = String::new();
    let root = alignment_predicate(spec, index);
    let mut emitter = Emitter { prefix: format!("{root}_n"), count: 0, out: &mut rules };
    let lit = |emitter: &mut Emitter<'_>, f: &Formula| match emitter.lit(f) {
        Lit::AtT(l) | Lit::Static(l) | Lit::NegStatic(l) => l,
    };
    let evs: Vec<String> = events.iter().map(|e| lit(&mut emitter, e)).collect();
    let at_start: Vec<String> = others.iter().map(|o| at_frame(&lit(&mut emitter, o), "0")).collect();
    let k = evs.len();
    let name = |what: &str, i: usize| super::quote(&format!("{root}_{what}_{i}"));
    let tp = "Tp__";
    let mut out = String::new();
    let _ = writeln!(out, "{}({T}) :- frame({T}).", name("before", 0));
    for (i, ev) in evs.iter().enumerate() {
        let (before, upto, from, after) = (name("before", i), name("upto", i), name("from", i), name("after", i));
        let _ = writeln!(out, "{upto}({T}) :- {before}({T}), {ev}.");
        let _ = writeln!(out, "{upto}({T}) :- frame({T}), {T} > 0, {tp} is {T} - 1, {upto}({tp}).");
        if i + 1 < k {
            let _ =
                writeln!(out, "{}({T}) :- frame({T}), {T} > 0, {tp} is {T} - 1, {upto}({tp}).", name("before", i + 1));
            let _ = writeln!(out, "{after}({T}) :- frame({T}), {T1} is {T} + 1, {}({T1}).", name("from", i + 1));
        } else {
            let _ = writeln!(out, "{after}({T}) :- frame({T}).");
        }
        let _ = writeln!(out, "{from}({T}) :- {ev}, {after}({T}).");
        let _ = writeln!(out, "{from}({T}) :- frame({T}), {T1} is {T} + 1, {from}({T1}).");
        let mut body = at_start.clone();
        body.extend([format!("{before}({T})"), ev.clone(), format!("{after}({T})")]);
        let _ = writeln!(out, "{}({i}, {T}) :- {}.", super::quote(&root), body.join(", "));
    }
    rules.push_str(&out);
    Ok(Some(rules))
}

/// Predicates that bodies of `text`'s rules call and no clause of it
/// defines (builtins aside), with their arities, in first-call order.
pub fn undefined(text: &str) -> Vec<(String, usize)> {
    const BUILTINS: [(&str, usize); 21] = [
        ("is", 2),
        ("=", 2),
        ("\\=", 2),
        ("==", 2),
        ("\\==", 2),
        ("=:=", 2),
        ("=\\=", 2),
        ("<", 2),
        (">", 2),
        ("=<", 2),
        (">=", 2),
        ("between", 3),
        ("member", 2),
        ("append", 3),
        ("length", 2),
        ("succ", 2),
        ("plus", 3),
        ("findall", 3),
        ("true", 0),
        ("fail", 0),
        ("false", 0),
    ];
    fn goals(term: &Term, out: &mut Vec<(String, usize)>) {
        match &term.kind {
            TermKind::Atom(a) => out.push((a.clone(), 0)),
            TermKind::Compound { functor, args } => match (functor.as_str(), args.as_slice()) {
                ("," | ";" | "->" | "and" | "or", [a, b]) => {
                    goals(a, out);
                    goals(b, out);
                }
                ("\\+" | "not", [a]) => goals(a, out),
                _ => out.push((functor.clone(), args.len())),
            },
            _ => {}
        }
    }
    let Ok(program) = deeplog_language::parse(text) else { return Vec::new() };
    let mut defined: Vec<(String, usize)> = Vec::new();
    let mut called: Vec<(String, usize)> = Vec::new();
    let head = |t: &Term| match &t.kind {
        TermKind::Atom(a) => Some((a.clone(), 0)),
        TermKind::Compound { functor, args } => Some((functor.clone(), args.len())),
        _ => None,
    };
    for clause in &program.clauses {
        let (heads, body) = match clause.term.as_compound() {
            Some((":-", [h, b])) => (h, Some(b)),
            Some((":-", [_])) => continue,
            _ => (&clause.term, None),
        };
        // Annotated heads (`0.3::h`, `h1 ; h2`) define their atoms.
        let mut stack = vec![heads];
        while let Some(h) = stack.pop() {
            match h.as_compound() {
                Some(("::", [_, atom])) => stack.push(atom),
                Some((";", [a, b])) => stack.extend([a, b]),
                _ => defined.extend(head(h)),
            }
        }
        if let Some(body) = body {
            goals(body, &mut called);
        }
    }
    let mut out: Vec<(String, usize)> = Vec::new();
    for goal in called {
        let builtin = BUILTINS.iter().any(|(n, a)| goal.0 == *n && goal.1 == *a);
        if !builtin && !defined.contains(&goal) && !out.contains(&goal) {
            out.push(goal);
        }
    }
    out
}
