//! Ground terms, hash-consed: equal terms have equal ids.
//!
//! The grounder builds every term it meets here, and the ground program keeps
//! the store, so an atom's predicate and arguments stay structured data from
//! grounding to the answer a user reads: code downstream asks for a term's
//! [`View`] and prints it only at the edge ([`Terms::show`], as ProbLog prints
//! it).
//!
//! ```
//! use deeplog_program::terms::{Terms, View};
//!
//! let mut terms = Terms::new();
//! let (one, two) = (terms.int(1), terms.int(2));
//! let nil = terms.nil();
//! let list = terms.list(&[one, two], nil);
//! let edge = terms.name("edge");
//! let atom = terms.compound(edge, &[list, one]);
//! assert_eq!(terms.show(atom), "edge([1, 2],1)");
//! assert_eq!(atom, terms.compound(edge, &[list, one])); // interned
//! let View::Compound(name, args) = terms.view(atom) else { panic!() };
//! assert_eq!((name, args.len()), ("edge", 2));
//! assert_eq!(terms.list_items(list), Some(vec![one, two]));
//! ```

use std::fmt::Write as _;
use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

/// A ground term: an index into its [`Terms`] store.
///
/// Invariant: ids are dense, and a term's arguments have smaller ids than
/// the term itself (terms are built bottom-up).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct TermId(u32);

impl TermId {
    /// No term: the value of a variable that is not bound yet (never stored).
    pub const UNBOUND: TermId = TermId(u32::MAX);

    /// The term's index in its store.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An interned name (of an atom, a functor or a string).
pub type Sym = u32;

/// "No entry" in the hash chains.
const NONE: u32 = u32::MAX;

/// How a term is stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Node {
    Atom(Sym),
    Int(i64),
    /// The float's bits, so that nodes compare and hash exactly.
    Float(u64),
    Str(Sym),
    Compound {
        functor: Sym,
        start: u32,
        arity: u32,
    },
}

/// A term as code downstream of the grounder reads it.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum View<'t> {
    Atom(&'t str),
    Int(i64),
    Float(f64),
    Str(&'t str),
    /// A functor and its arguments (a list cell is `'.'(Head, Tail)`).
    Compound(&'t str, &'t [TermId]),
}

/// The store of ground terms: names, nodes and argument lists.
#[derive(Clone, Debug)]
pub struct Terms {
    names: Vec<String>,
    name_ids: FxHashMap<String, Sym>,
    nodes: Vec<Node>,
    /// Per term: its nesting ([`Terms::depth`]).
    depths: Vec<u32>,
    args: Vec<TermId>,
    /// Hash → the newest term with it; `next` chains the older ones.
    first: FxHashMap<u64, u32>,
    next: Vec<u32>,
    nil: TermId,
    cons: Sym,
}

impl Default for Terms {
    fn default() -> Terms {
        Terms::new()
    }
}

impl PartialEq for Terms {
    /// Two stores are equal when they hold the same terms under the same ids.
    fn eq(&self, other: &Terms) -> bool {
        self.names == other.names && self.nodes == other.nodes && self.args == other.args
    }
}

impl Terms {
    pub fn new() -> Terms {
        let mut terms = Terms {
            names: Vec::new(),
            name_ids: FxHashMap::default(),
            nodes: Vec::new(),
            depths: Vec::new(),
            args: Vec::new(),
            first: FxHashMap::default(),
            next: Vec::new(),
            nil: TermId::UNBOUND,
            cons: 0,
        };
        terms.cons = terms.name(".");
        terms.nil = terms.atom("[]");
        terms
    }

    /// How many terms the store holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The symbol of `s`, created if new.
    pub fn name(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.name_ids.get(s) {
            return id;
        }
        let id = self.names.len() as Sym;
        self.names.push(s.to_string());
        self.name_ids.insert(s.to_string(), id);
        id
    }

    /// The symbol of `s`, if some term uses it.
    pub fn find_name(&self, s: &str) -> Option<Sym> {
        self.name_ids.get(s).copied()
    }

    #[inline]
    pub fn text(&self, s: Sym) -> &str {
        &self.names[s as usize]
    }

    #[inline]
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

    #[inline]
    fn same(&self, id: u32, node: Node, args: &[TermId]) -> bool {
        match (self.nodes[id as usize], node) {
            (Node::Compound { functor: f, start, arity }, Node::Compound { functor: g, .. }) => {
                f == g && &self.args[start as usize..(start + arity) as usize] == args
            }
            (a, b) => a == b,
        }
    }

    /// The term `node` (for a compound, with `args`; its `start` and `arity`
    /// are ignored), created if new.
    #[inline]
    pub fn intern(&mut self, node: Node, args: &[TermId]) -> TermId {
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
        let depth = match node {
            // A list's cells are one level, however many: `[H|T]` is as deep as `T` or one deeper than `H`.
            Node::Compound { functor, .. } if functor == self.cons && args.len() == 2 => {
                (self.depths[args[0].0 as usize] + 1).max(self.depths[args[1].0 as usize])
            }
            _ => args.iter().map(|a| self.depths[a.0 as usize] + 1).max().unwrap_or(0),
        };
        self.nodes.push(node);
        self.depths.push(depth);
        self.next.push(self.first.insert(h, id).unwrap_or(NONE));
        TermId(id)
    }

    /// The atom (constant) `name`.
    pub fn atom(&mut self, name: &str) -> TermId {
        let s = self.name(name);
        self.intern(Node::Atom(s), &[])
    }

    #[inline]
    pub fn int(&mut self, i: i64) -> TermId {
        self.intern(Node::Int(i), &[])
    }

    #[inline]
    pub fn float(&mut self, x: f64) -> TermId {
        self.intern(Node::Float(x.to_bits()), &[])
    }

    /// The string `"s"`.
    pub fn string(&mut self, s: &str) -> TermId {
        let s = self.name(s);
        self.intern(Node::Str(s), &[])
    }

    /// `f(args)`, or the atom `f` when there are no arguments.
    #[inline]
    pub fn compound(&mut self, functor: Sym, args: &[TermId]) -> TermId {
        if args.is_empty() {
            self.intern(Node::Atom(functor), &[])
        } else {
            self.intern(Node::Compound { functor, start: 0, arity: 0 }, args)
        }
    }

    #[inline]
    pub fn node(&self, t: TermId) -> Node {
        self.nodes[t.0 as usize]
    }

    /// `t` as data: its kind, name and arguments.
    pub fn view(&self, t: TermId) -> View<'_> {
        match self.node(t) {
            Node::Atom(s) => View::Atom(self.text(s)),
            Node::Int(i) => View::Int(i),
            Node::Float(bits) => View::Float(f64::from_bits(bits)),
            Node::Str(s) => View::Str(self.text(s)),
            Node::Compound { functor, .. } => View::Compound(self.text(functor), self.args(t)),
        }
    }

    /// The name of an atom or the functor of a compound; `None` for numbers
    /// and strings.
    pub fn functor(&self, t: TermId) -> Option<&str> {
        match self.node(t) {
            Node::Atom(s) | Node::Compound { functor: s, .. } => Some(self.text(s)),
            _ => None,
        }
    }

    /// A compound's arguments (none for anything else).
    #[inline]
    pub fn args(&self, t: TermId) -> &[TermId] {
        match self.nodes[t.0 as usize] {
            Node::Compound { start, arity, .. } => &self.args[start as usize..(start + arity) as usize],
            _ => &[],
        }
    }

    /// Nesting of `t`: 0 for an atom or number, 1 for `f(a)`, 2 for
    /// `f(g(a))`. A list is one level however long it is, as in the syntax
    /// tree (`[1, 2, 3]` is 1, `[[1], 2]` is 2): its length is data, and a
    /// list of a million numbers is no sign of a runaway recursion, which
    /// is what the grounder's `max_depth` looks for.
    #[inline]
    pub fn depth(&self, t: TermId) -> usize {
        self.depths[t.0 as usize] as usize
    }

    /// The empty list `[]`.
    #[inline]
    pub fn nil(&self) -> TermId {
        self.nil
    }

    /// The list cell functor `'.'`.
    #[inline]
    pub fn cons(&self) -> Sym {
        self.cons
    }

    /// `[items | tail]`.
    pub fn list(&mut self, items: &[TermId], tail: TermId) -> TermId {
        let cons = self.cons;
        items
            .iter()
            .rev()
            .fold(tail, |rest, &item| self.intern(Node::Compound { functor: cons, start: 0, arity: 2 }, &[item, rest]))
    }

    /// The items of a proper list.
    pub fn list_items(&self, mut t: TermId) -> Option<Vec<TermId>> {
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

    /// `t` as ProbLog prints it: `f(a,b)`, `[1,2]`, `'New York'`, `X+1`.
    pub fn write(&self, out: &mut String, t: TermId) {
        match self.node(t) {
            Node::Atom(s) => write_name(out, self.text(s)),
            Node::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Node::Float(bits) => write_float(out, f64::from_bits(bits)),
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
            // Terms nest as deep as the program makes them.
            Node::Compound { functor, .. } => crate::stack::guard(|| self.write_compound(out, t, functor)),
        }
    }

    fn write_compound(&self, out: &mut String, t: TermId, functor: Sym) {
        self.write_at(out, t, functor, 1200);
    }

    /// A compound in a place that allows operators up to precedence
    /// `max`: in parentheses where its own operator binds looser.
    fn write_at(&self, out: &mut String, t: TermId, functor: Sym, max: u32) {
        let args = self.args(t);
        let name = self.text(functor);
        if functor == self.cons && args.len() == 2 {
            return self.write_list(out, t);
        }
        if let (Some((precedence, left, right)), [a, b]) = (infix(name), args) {
            let open = precedence > max;
            if open {
                out.push('(');
            }
            self.write_operand(out, *a, left);
            if name.chars().all(|c| c.is_ascii_alphabetic()) {
                let _ = write!(out, " {name} ");
            } else {
                out.push_str(name);
            }
            self.write_operand(out, *b, right);
            if open {
                out.push(')');
            }
            return;
        }
        if let ("-" | "+" | "\\", [a]) = (name, args) {
            // ProbLog writes `-a`, and `-(1)`, `-(f(x))` where the operand
            // is a number or a compound.
            if let Node::Atom(_) = self.node(*a) {
                out.push_str(name);
                return self.write(out, *a);
            }
        }
        write_name(out, name);
        out.push('(');
        for (i, &a) in args.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.write_operand(out, a, 999);
        }
        out.push(')');
    }

    /// A list as ProbLog prints it: `[1, 2]`, `[1 | T]`.
    fn write_list(&self, out: &mut String, t: TermId) {
        out.push('[');
        let mut rest = t;
        let mut first = true;
        loop {
            match self.node(rest) {
                Node::Compound { functor, arity: 2, .. } if functor == self.cons => {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    self.write_operand(out, self.args(rest)[0], 999);
                    rest = self.args(rest)[1];
                }
                _ if rest == self.nil => break,
                _ => {
                    out.push_str(" | ");
                    self.write_operand(out, rest, 999);
                    break;
                }
            }
        }
        out.push(']');
    }

    /// An operand where operators up to precedence `max` need no
    /// parentheses.
    fn write_operand(&self, out: &mut String, t: TermId, max: u32) {
        match self.node(t) {
            Node::Compound { functor, .. } => {
                crate::stack::guard(|| self.write_at(out, t, functor, max));
            }
            _ => self.write(out, t),
        }
    }

    /// `t` printed ([`Terms::write`]).
    pub fn show(&self, t: TermId) -> String {
        let mut s = String::new();
        self.write(&mut s, t);
        s
    }
}

/// Whether a binary term with this functor prints as an infix operator.
pub fn is_infix(name: &str) -> bool {
    infix(name).is_some()
}

/// The binary operators ProbLog prints infix: (precedence, the most its
/// left operand may have, the most its right may have).
fn infix(name: &str) -> Option<(u32, u32, u32)> {
    let xfx = |p| Some((p, p - 1, p - 1));
    let xfy = |p| Some((p, p - 1, p));
    let yfx = |p| Some((p, p, p - 1));
    match name {
        "=" | "\\=" | "==" | "\\==" | "<" | ">" | "=<" | ">=" | "=:=" | "=\\=" | "is" | "=.." | "@<" | "@>" | "@=<"
        | "@>=" => xfx(700),
        "+" | "-" | "/\\" | "\\/" | "xor" => yfx(500),
        "*" | "/" | "//" | "mod" | "rem" | "div" | "<<" | ">>" => yfx(400),
        "**" => xfx(200),
        "^" | ":" => xfy(200),
        _ => None,
    }
}

/// Writes a float as ProbLog (Python) does: `0.5`, `1.0`, `1e+22`,
/// `1e-05`.
fn write_float(out: &mut String, x: f64) {
    let text = format!("{x:?}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exponent),
            };
            let _ = write!(out, "{mantissa}e{sign}{digits:0>2}");
        }
        None => out.push_str(&text),
    }
}

/// Writes an atom's name, quoted unless it reads back as itself.
pub fn write_name(out: &mut String, name: &str) {
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
        let mut t = Terms::new();
        let f = t.name("f");
        let (a, b) = (t.atom("a"), t.atom("b"));
        let fa = t.compound(f, &[a, b]);
        assert_eq!(fa, t.compound(f, &[a, b]));
        assert_ne!(fa, t.compound(f, &[b, a]));
        assert_eq!(t.int(3), t.int(3));
        assert_ne!(t.int(3), t.float(3.0));
        assert_eq!(t.compound(f, &[]), t.atom("f"));
        assert_eq!(t.depth(fa), 1);
        assert_eq!(t.depth(a), 0);
    }

    #[test]
    fn prints_as_problog_does() {
        let mut t = Terms::new();
        let (one, two, x) = (t.int(1), t.int(2), t.atom("x"));
        let nil = t.nil();
        assert_eq!(t.show(nil), "[]");
        let open = t.list(&[one, two], x);
        assert_eq!(t.show(open), "[1, 2 | x]");
        let plus = t.name("+");
        let sum = t.compound(plus, &[one, two]);
        let times = t.name("*");
        let product = t.compound(times, &[sum, two]);
        assert_eq!(t.show(product), "(1+2)*2");
        let is = t.name("is");
        let is_term = t.compound(is, &[x, sum]);
        assert_eq!(t.show(is_term), "x is 1+2");
        let nested = t.compound(plus, &[one, product]);
        assert_eq!(t.show(nested), "1+(1+2)*2");
        let minus = t.name("-");
        let left = t.compound(minus, &[sum, two]);
        let right = t.compound(minus, &[two, sum]);
        assert_eq!((t.show(left), t.show(right)), ("1+2-2".to_string(), "2-(1+2)".to_string()));
        let big = t.float(1e22);
        let small = t.float(1e-5);
        assert_eq!((t.show(big), t.show(small)), ("1e+22".to_string(), "1e-05".to_string()));
        let quoted = t.atom("New York");
        assert_eq!(t.show(quoted), "'New York'");
        let upper = t.atom("X");
        assert_eq!(t.show(upper), "'X'");
        let half = t.float(0.5);
        assert_eq!(t.show(half), "0.5");
        let s = t.string("say \"hi\"");
        assert_eq!(t.show(s), "\"say \\\"hi\\\"\"");
    }

    #[test]
    fn a_list_is_one_level_deep_however_long() {
        let mut t = Terms::new();
        let items: Vec<TermId> = (0..100_000).map(|i| t.int(i)).collect();
        let nil = t.nil();
        let list = t.list(&items, nil);
        assert_eq!(t.depth(list), 1);
        let f = t.name("f");
        let fa = t.compound(f, &[items[0]]);
        let open = t.list(&items, fa);
        assert_eq!(t.depth(open), 1);
        let nested = t.list(&[items[1], list], nil);
        assert_eq!(t.depth(nested), 2);
        let in_f = t.compound(f, &[list]);
        assert_eq!(t.depth(in_f), 2);
        let text = t.show(list);
        assert!(text.starts_with("[0, 1, 2, ") && text.ends_with(", 99999]"), "{}", &text[..20]);
    }

    #[test]
    fn deep_terms_print_without_running_out_of_stack() {
        // Tests run on threads of 2 MiB: printing recurses once per level.
        let mut t = Terms::new();
        let (s, plus) = (t.name("s"), t.name("+"));
        let (zero, one) = (t.int(0), t.int(1));
        let mut nat = zero;
        let mut sum = one;
        for _ in 0..100_000 {
            nat = t.compound(s, &[nat]);
            sum = t.compound(plus, &[sum, one]);
        }
        assert_eq!(t.depth(nat), 100_000);
        assert_eq!(t.show(nat), format!("{}0{}", "s(".repeat(100_000), ")".repeat(100_000)));
        assert_eq!(t.show(sum), format!("1{}", "+1".repeat(100_000)));
    }

    #[test]
    fn reads_lists_and_views() {
        let mut t = Terms::new();
        let (a, b) = (t.atom("a"), t.atom("b"));
        let nil = t.nil();
        let list = t.list(&[a, b], nil);
        assert_eq!(t.list_items(list), Some(vec![a, b]));
        let open = t.list(&[a], b);
        assert_eq!(t.list_items(open), None);
        assert_eq!(t.view(a), View::Atom("a"));
        assert_eq!(t.functor(list), Some("."));
        let seven = t.int(7);
        assert_eq!(t.functor(seven), None);
    }
}
