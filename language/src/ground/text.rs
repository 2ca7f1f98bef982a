//! Builtins over atoms and strings, solved by the grounder:
//! `atom_concat/3`, `atom_length/2`, `atom_chars/2`, `atom_codes/2`,
//! `char_code/2`, `atom_number/2`, `number_codes/2`, `sub_atom/5`,
//! `atomic_list_concat/2,3`, `term_to_atom/2`, `upcase_atom/2`, and their
//! string versions, as in ProbLog and SWI-Prolog. Lengths and positions
//! count characters, not bytes.

use super::bindings::Env;
use super::clauses::{Named, Pat};
use super::inspect::{instantiation_error, type_error, Solutions};
use super::tabling::State;
use super::GroundError;
use crate::syntax::{Span, Term, TermKind};
use deeplog_program::stack::guard;
use deeplog_program::terms::{Node, TermId, Terms};

/// The text of an atomic term: an atom's name, a string, a number's digits.
fn text_of(terms: &Terms, t: TermId) -> Option<String> {
    match terms.node(t) {
        Node::Atom(s) | Node::Str(s) => Some(terms.text(s).to_string()),
        Node::Int(_) | Node::Float(_) => Some(terms.show(t)),
        Node::Compound { .. } => None,
    }
}

/// The number `text` reads as, if it is one (`12`, `-3`, `2.5`, `1.0e3`).
fn parse_number(terms: &mut Terms, text: &str) -> Option<TermId> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Some(terms.int(i));
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let numeric = digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    match text.parse::<f64>() {
        Ok(x) if numeric && x.is_finite() => Some(terms.float(x)),
        _ => None,
    }
}

impl State {
    /// The text of argument `i`, `None` while unbound; a compound is a type
    /// error.
    fn text_arg(
        &mut self,
        args: &[Pat],
        i: usize,
        env: &Env,
        op: Named,
        span: Span,
    ) -> Result<Option<String>, GroundError> {
        let Some(t) = self.ground(&args[i], env) else { return Ok(None) };
        text_of(&self.terms, t).map(Some).ok_or_else(|| {
            GroundError::new(
                span,
                format!("`{}` needs an atom, a string or a number, not `{}`", op.name(), self.terms.show(t)),
            )
        })
    }

    /// An atom, or a string for the string builtins.
    fn text_term(&mut self, op: Named, text: &str) -> TermId {
        if op.makes_strings() {
            self.terms.string(text)
        } else {
            self.terms.atom(text)
        }
    }

    /// The solutions of the text builtins.
    pub(super) fn solve_text(
        &mut self,
        op: Named,
        args: &[Pat],
        env: &Env,
        span: Span,
    ) -> Result<Solutions, GroundError> {
        let name = op.name();
        let unbound = |what: &str| instantiation_error(op, what, span);
        let type_error = |terms: &Terms, what: &str, t: TermId| type_error(terms, op, what, t, span);
        Ok(match op {
            Named::AtomConcat | Named::StringConcat => {
                match (self.text_arg(args, 0, env, op, span)?, self.text_arg(args, 1, env, op, span)?) {
                    (Some(a), Some(b)) => vec![vec![(2, self.text_term(op, &(a + &b)))]],
                    (a, b) => {
                        let Some(whole) = self.text_arg(args, 2, env, op, span)? else {
                            return Err(unbound("its first two arguments or its third"));
                        };
                        let mut out = Vec::new();
                        for (i, _) in whole.char_indices().chain([(whole.len(), ' ')]) {
                            let (front, back) = whole.split_at(i);
                            if a.as_deref().is_some_and(|a| a != front) || b.as_deref().is_some_and(|b| b != back) {
                                continue;
                            }
                            out.push(vec![(0, self.text_term(op, front)), (1, self.text_term(op, back))]);
                        }
                        out
                    }
                }
            }
            Named::AtomLength | Named::StringLength => {
                let Some(text) = self.text_arg(args, 0, env, op, span)? else { return Err(unbound("its text")) };
                vec![vec![(1, self.terms.int(text.chars().count() as i64))]]
            }
            Named::AtomChars
            | Named::AtomCodes
            | Named::StringChars
            | Named::StringCodes
            | Named::NumberCodes
            | Named::NumberChars => {
                let codes = matches!(op, Named::AtomCodes | Named::StringCodes | Named::NumberCodes);
                match self.text_arg(args, 0, env, op, span)? {
                    Some(text) => {
                        let items: Vec<TermId> = text
                            .chars()
                            .map(|c| {
                                if codes {
                                    self.terms.int(c as i64)
                                } else {
                                    self.terms.atom(c.encode_utf8(&mut [0; 4]))
                                }
                            })
                            .collect();
                        vec![vec![(1, self.terms.list(&items, self.terms.nil()))]]
                    }
                    None => {
                        let Some(list) = self.ground(&args[1], env) else {
                            return Err(unbound("its text or its list"));
                        };
                        let Some(items) = self.terms.list_items(list) else {
                            return Err(type_error(&self.terms, "a list", list));
                        };
                        let mut text = String::new();
                        for item in items {
                            let c = match self.terms.node(item) {
                                Node::Int(i) => u32::try_from(i).ok().and_then(char::from_u32),
                                Node::Atom(s) => {
                                    let mut chars = self.terms.text(s).chars();
                                    chars.next().filter(|_| chars.next().is_none())
                                }
                                _ => None,
                            };
                            let Some(c) = c else {
                                let what = if codes { "a list of character codes" } else { "a list of characters" };
                                return Err(type_error(&self.terms, what, list));
                            };
                            text.push(c);
                        }
                        let term = if matches!(op, Named::NumberCodes | Named::NumberChars) {
                            match parse_number(&mut self.terms, &text) {
                                Some(n) => n,
                                None => {
                                    return Err(GroundError::new(span, format!("`{name}`: `{text}` is not a number")))
                                }
                            }
                        } else {
                            self.text_term(op, &text)
                        };
                        vec![vec![(0, term)]]
                    }
                }
            }
            Named::CharCode => match self.ground(&args[0], env) {
                Some(c) => {
                    let ch = match self.terms.node(c) {
                        Node::Atom(s) => {
                            let mut chars = self.terms.text(s).chars();
                            chars.next().filter(|_| chars.next().is_none())
                        }
                        _ => None,
                    };
                    let Some(ch) = ch else { return Err(type_error(&self.terms, "a character", c)) };
                    vec![vec![(1, self.terms.int(ch as i64))]]
                }
                None => {
                    let Some(code) = self.ground(&args[1], env) else { return Err(unbound("one argument")) };
                    let ch = match self.terms.node(code) {
                        Node::Int(i) => u32::try_from(i).ok().and_then(char::from_u32),
                        _ => None,
                    };
                    let Some(ch) = ch else { return Err(type_error(&self.terms, "a character code", code)) };
                    vec![vec![(0, self.terms.atom(ch.encode_utf8(&mut [0; 4])))]]
                }
            },
            Named::AtomNumber | Named::NumberString => match self.text_arg(args, 0, env, op, span)? {
                Some(text) => match parse_number(&mut self.terms, &text) {
                    Some(n) => vec![vec![(1, n)]],
                    None => Vec::new(),
                },
                None => {
                    let Some(n) = self.ground(&args[1], env) else { return Err(unbound("one argument")) };
                    if !matches!(self.terms.node(n), Node::Int(_) | Node::Float(_)) {
                        return Err(type_error(&self.terms, "a number", n));
                    }
                    let text = self.terms.show(n);
                    vec![vec![(0, self.text_term(op, &text))]]
                }
            },
            Named::AtomString | Named::StringToAtom => {
                // atom_string(Atom, String) and string_to_atom(String, Atom).
                let (atom, string) = if op == Named::AtomString { (0, 1) } else { (1, 0) };
                match (self.text_arg(args, atom, env, op, span)?, self.text_arg(args, string, env, op, span)?) {
                    (Some(a), _) => vec![vec![(string, self.terms.string(&a))]],
                    (None, Some(s)) => vec![vec![(atom, self.terms.atom(&s))]],
                    (None, None) => return Err(unbound("one argument")),
                }
            }
            Named::Upcase | Named::Downcase => {
                let Some(text) = self.text_arg(args, 0, env, op, span)? else { return Err(unbound("its text")) };
                let changed = if op == Named::Upcase { text.to_uppercase() } else { text.to_lowercase() };
                vec![vec![(1, self.terms.atom(&changed))]]
            }
            Named::SubAtom | Named::SubString => {
                let Some(text) = self.text_arg(args, 0, env, op, span)? else { return Err(unbound("its text")) };
                let chars: Vec<char> = text.chars().collect();
                let n = chars.len();
                let int = |s: &mut State, i: usize| -> Result<Option<i64>, GroundError> {
                    match s.ground(&args[i], env) {
                        None => Ok(None),
                        Some(t) => match s.terms.node(t) {
                            Node::Int(v) => Ok(Some(v)),
                            _ => Err(type_error(&s.terms, "integer positions and lengths", t)),
                        },
                    }
                };
                let (before, length, after) = (int(self, 1)?, int(self, 2)?, int(self, 3)?);
                let sub = self.text_arg(args, 4, env, op, span)?;
                let sub_chars: Option<Vec<char>> = sub.as_ref().map(|s| s.chars().collect());
                let fits = |v: Option<i64>| v.map(|v| usize::try_from(v).ok().filter(|&v| v <= n));
                let (before, length, after) = match (fits(before), fits(length), fits(after)) {
                    (Some(None), ..) | (_, Some(None), _) | (_, _, Some(None)) => return Ok(Vec::new()),
                    (b, l, a) => (b.flatten(), l.flatten(), a.flatten()),
                };
                // The length is known from the piece, or from two of the
                // three numbers; a start from the other two.
                let length = length.or(sub_chars.as_ref().map(Vec::len)).or(match (before, after) {
                    (Some(b), Some(a)) => Some(n.saturating_sub(b + a)),
                    _ => None,
                });
                let starts: Vec<usize> = match (before, length, after) {
                    (Some(b), ..) => vec![b],
                    (None, Some(l), Some(a)) => n.checked_sub(l + a).into_iter().collect(),
                    _ => (0..=n).collect(),
                };
                // Every piece of a long text is quadratically many.
                let pieces = if length.is_some() { starts.len() } else { starts.len() * (n + 2) / 2 };
                if pieces > self.limits.max_atoms {
                    return Err(GroundError::new(
                        span,
                        format!(
                            "`{name}` would enumerate {pieces} pieces of a text of {n} characters (raise --max-atoms)"
                        ),
                    ));
                }
                let mut out = Vec::new();
                for b in starts {
                    let lengths: Vec<usize> = match length {
                        Some(l) => vec![l],
                        None => (0..=n - b).collect(),
                    };
                    for l in lengths {
                        if b + l > n || after.is_some_and(|a| a != n - b - l) {
                            continue;
                        }
                        if sub_chars.as_deref().is_some_and(|s| s != &chars[b..b + l]) {
                            continue;
                        }
                        let piece: String = chars[b..b + l].iter().collect();
                        let (bt, lt, at) =
                            (self.terms.int(b as i64), self.terms.int(l as i64), self.terms.int((n - b - l) as i64));
                        let piece = self.text_term(op, &piece);
                        out.push(vec![(1, bt), (2, lt), (3, at), (4, piece)]);
                    }
                }
                out
            }
            Named::AtomicListConcat2 | Named::AtomicListConcat3 => {
                let (list_arg, out_arg) = if op == Named::AtomicListConcat2 { (0, 1) } else { (0, 2) };
                let separator = if op == Named::AtomicListConcat3 {
                    self.text_arg(args, 1, env, op, span)?
                } else {
                    Some(String::new())
                };
                let Some(separator) = separator else { return Err(unbound("its separator")) };
                match self.ground(&args[list_arg], env) {
                    Some(list) => {
                        let Some(items) = self.terms.list_items(list) else {
                            return Err(type_error(&self.terms, "a list", list));
                        };
                        let mut parts = Vec::with_capacity(items.len());
                        for item in items {
                            match text_of(&self.terms, item) {
                                Some(t) => parts.push(t),
                                None => return Err(type_error(&self.terms, "a list of atomic terms", list)),
                            }
                        }
                        vec![vec![(out_arg, self.terms.atom(&parts.join(&separator)))]]
                    }
                    None => {
                        // Split mode: the whole atom at each separator.
                        let Some(whole) = self.text_arg(args, out_arg, env, op, span)? else {
                            return Err(unbound("its list or its result"));
                        };
                        if separator.is_empty() {
                            return Err(GroundError::new(span, format!("`{name}` cannot split at an empty separator")));
                        }
                        let items: Vec<TermId> = whole.split(separator.as_str()).map(|p| self.terms.atom(p)).collect();
                        vec![vec![(list_arg, self.terms.list(&items, self.terms.nil()))]]
                    }
                }
            }
            Named::TermToAtom => match self.ground(&args[0], env) {
                Some(t) => {
                    let text = self.terms.show(t);
                    vec![vec![(1, self.terms.atom(&text))]]
                }
                None => {
                    let Some(text) = self.text_arg(args, 1, env, op, span)? else {
                        return Err(unbound("one argument"));
                    };
                    let term = self.read_term(&text).map_err(|m| GroundError::new(span, format!("`{name}`: {m}")))?;
                    vec![vec![(0, term)]]
                }
            },
            _ => unreachable!("every named builtin is solved"),
        })
    }

    /// The ground term `text` reads as (`term_to_atom(T, 'f(a)')`).
    fn read_term(&mut self, text: &str) -> Result<TermId, String> {
        let program =
            crate::parse(&format!("{text} .")).map_err(|e| format!("`{text}` is not a term: {}", e.message))?;
        let [clause] = program.clauses.as_slice() else { return Err(format!("`{text}` is not one term")) };
        self.intern_term(&clause.term)
    }

    fn intern_term(&mut self, term: &Term) -> Result<TermId, String> {
        Ok(match &term.kind {
            TermKind::Var(v) => return Err(format!("`{v}` is a variable; deeplog grounds only ground terms")),
            TermKind::Atom(a) => self.terms.atom(a),
            TermKind::Int(i) => self.terms.int(*i),
            TermKind::Float(x) => self.terms.float(*x),
            TermKind::Str(s) => self.terms.string(s),
            TermKind::Compound { functor, args } => {
                let args = guard(|| args.iter().map(|a| self.intern_term(a)).collect::<Result<Vec<_>, _>>())?;
                let f = self.terms.name(functor);
                self.terms.compound(f, &args)
            }
            TermKind::List { items, tail } => {
                let tail = match tail {
                    Some(t) => guard(|| self.intern_term(t))?,
                    None => self.terms.nil(),
                };
                let items = guard(|| items.iter().map(|a| self.intern_term(a)).collect::<Result<Vec<_>, _>>())?;
                self.terms.list(&items, tail)
            }
            TermKind::Annotated { .. } => return Err("an annotated term is not data".to_string()),
        })
    }
}
