//! Ground terms, hash-consed: the store [`Terms`] gives every distinct
//! ground term (an atom, a number, a string or a compound over terms) one
//! [`TermId`], so equal terms have equal ids and comparing terms is
//! comparing ids. It also prints a term as ProbLog does (`f(a,b)`,
//! `[1,2|T]`, `X+1`, `'New York'`), the text of every ground atom the
//! grounder emits.
//!
//! This file depends on nothing else of the grounder.

use std::fmt::Write as _;
use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

/// A ground term's id in its [`Terms`]: the index of its node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub(super) struct TermId(pub(super) u32);

/// The value of a variable that is not bound (no term has this id).
pub(super) const UNBOUND: TermId = TermId(u32::MAX);
/// An interned name: atoms, functors and strings share one table.
pub(super) type Sym = u32;
/// The end of a hash chain.
const END: u32 = u32::MAX;

/// A term's node; a compound's arguments are `Terms::args[start..start + arity]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Node {
    Atom(Sym),
    Int(i64),
    /// The bits of an `f64`, so that nodes compare and hash exactly.
    Float(u64),
    Str(Sym),
    Compound {
        functor: Sym,
        start: u32,
        arity: u32,
    },
}

/// The store of ground terms.
///
/// Invariants: a node is never changed or removed once added, so a
/// [`TermId`] stays valid; no two ids denote equal terms; a compound's
/// arguments have smaller ids than itself; `depths[t]` is the nesting of
/// `t` (0 for a constant).
pub(super) struct Terms {
    names: Vec<String>,
    name_ids: FxHashMap<String, Sym>,
    nodes: Vec<Node>,
    depths: Vec<u32>,
    args: Vec<TermId>,
    /// Hash → the newest term with it; `next` chains the older ones.
    first: FxHashMap<u64, u32>,
    next: Vec<u32>,
    nil: TermId,
    cons: Sym,
}

impl Terms {
    pub(super) fn new() -> Terms {
        let mut terms = Terms {
            names: Vec::new(),
            name_ids: FxHashMap::default(),
            nodes: Vec::new(),
            depths: Vec::new(),
            args: Vec::new(),
            first: FxHashMap::default(),
            next: Vec::new(),
            nil: UNBOUND,
            cons: 0,
        };
        terms.cons = terms.name(".");
        terms.nil = terms.atom("[]");
        terms
    }

    pub(super) fn name(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.name_ids.get(s) {
            return id;
        }
        let id = self.names.len() as Sym;
        self.names.push(s.to_string());
        self.name_ids.insert(s.to_string(), id);
        id
    }

    #[inline]
    pub(super) fn text(&self, s: Sym) -> &str {
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
    pub(super) fn intern(&mut self, node: Node, args: &[TermId]) -> TermId {
        let h = Terms::hash(node, args);
        let mut cur = self.first.get(&h).copied().unwrap_or(END);
        while cur != END {
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
        self.next.push(self.first.insert(h, id).unwrap_or(END));
        TermId(id)
    }

    pub(super) fn atom(&mut self, name: &str) -> TermId {
        let s = self.name(name);
        self.intern(Node::Atom(s), &[])
    }

    #[inline]
    pub(super) fn int(&mut self, i: i64) -> TermId {
        self.intern(Node::Int(i), &[])
    }

    pub(super) fn float(&mut self, x: f64) -> TermId {
        self.intern(Node::Float(x.to_bits()), &[])
    }

    pub(super) fn string(&mut self, s: &str) -> TermId {
        let s = self.name(s);
        self.intern(Node::Str(s), &[])
    }

    /// The empty list `[]`.
    #[inline]
    pub(super) fn nil(&self) -> TermId {
        self.nil
    }

    /// The list constructor's name, `'.'`.
    #[inline]
    pub(super) fn cons(&self) -> Sym {
        self.cons
    }

    /// How many terms there are: every id is below it.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// `f(args)`, or the atom `f` when there are no arguments.
    #[inline]
    pub(super) fn compound(&mut self, functor: Sym, args: &[TermId]) -> TermId {
        if args.is_empty() {
            self.intern(Node::Atom(functor), &[])
        } else {
            self.intern(Node::Compound { functor, start: 0, arity: 0 }, args)
        }
    }

    #[inline]
    pub(super) fn node(&self, t: TermId) -> Node {
        self.nodes[t.0 as usize]
    }

    #[inline]
    pub(super) fn args(&self, t: TermId) -> &[TermId] {
        match self.nodes[t.0 as usize] {
            Node::Compound { start, arity, .. } => &self.args[start as usize..(start + arity) as usize],
            _ => &[],
        }
    }

    #[inline]
    pub(super) fn depth(&self, t: TermId) -> usize {
        self.depths[t.0 as usize] as usize
    }

    pub(super) fn list(&mut self, items: &[TermId], tail: TermId) -> TermId {
        let cons = self.cons;
        items
            .iter()
            .rev()
            .fold(tail, |rest, &item| self.intern(Node::Compound { functor: cons, start: 0, arity: 2 }, &[item, rest]))
    }

    /// The items of a proper list.
    pub(super) fn list_items(&self, mut t: TermId) -> Option<Vec<TermId>> {
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
    pub(super) fn write(&self, out: &mut String, t: TermId) {
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

    pub(super) fn show(&self, t: TermId) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_terms_have_equal_ids() {
        let mut terms = Terms::new();
        let f = terms.name("f");
        let (a, one) = (terms.atom("a"), terms.int(1));
        let fa1 = terms.compound(f, &[a, one]);
        assert_eq!(terms.compound(f, &[a, one]), fa1);
        assert_ne!(terms.compound(f, &[one, a]), fa1);
        assert_eq!(terms.atom("a"), a);
        assert_ne!(terms.string("a"), a);
        assert_ne!(terms.float(1.0), one);
        assert_eq!(terms.compound(f, &[]), terms.atom("f"));
        let ffa1 = terms.compound(f, &[fa1]);
        assert_eq!((terms.depth(a), terms.depth(fa1), terms.depth(ffa1)), (0, 1, 2));
    }

    #[test]
    fn lists_are_cons_cells_ending_in_nil() {
        let mut terms = Terms::new();
        let items = [terms.int(1), terms.int(2)];
        let nil = terms.nil();
        let list = terms.list(&items, nil);
        assert_eq!(terms.list_items(list), Some(items.to_vec()));
        assert_eq!(terms.list_items(nil), Some(Vec::new()));
        let tail = terms.atom("t");
        let open = terms.list(&items, tail);
        assert_eq!(terms.list_items(open), None);
        assert_eq!(terms.show(list), "[1,2]");
    }

    #[test]
    fn prints_as_problog_does() {
        let mut terms = Terms::new();
        let (one, two) = (terms.int(1), terms.int(2));
        let t = terms.atom("T");
        let open = terms.list(&[one, two], t);
        assert_eq!(terms.show(open), "[1,2|'T']");
        let plus = terms.name("+");
        let times = terms.name("*");
        let sum = terms.compound(plus, &[one, two]);
        let product = terms.compound(times, &[sum, two]);
        assert_eq!(terms.show(product), "(1+2)*2");
        let is_mod = terms.name("mod");
        let modulo = terms.compound(is_mod, &[one, two]);
        assert_eq!(terms.show(modulo), "1 mod 2");
        let city = terms.atom("New York");
        let quote = terms.atom("it's");
        let at = terms.name("at");
        let x = terms.float(2.5);
        let quoted = terms.compound(at, &[city, quote, x]);
        assert_eq!(terms.show(quoted), "at('New York','it\\'s',2.5)");
        let string = terms.string("say \"hi\"");
        assert_eq!(terms.show(string), "\"say \\\"hi\\\"\"");
        let (nil, less_equal) = (terms.atom("[]"), terms.atom("=<"));
        assert_eq!((terms.show(nil), terms.show(less_equal)), ("[]".to_string(), "=<".to_string()));
    }
}
