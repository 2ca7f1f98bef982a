//! The lexer: model text to tokens with byte spans.
//!
//! Hand-written, one pass over the bytes, no allocation for plain names and
//! numbers (quoted names and strings allocate only when they hold escapes),
//! so that a file of a million ground facts lexes in a fraction of a second.
//!
//! Three decisions here shape the grammar:
//!
//! - A name written directly before `(` is a [`Tok::Functor`] that includes
//!   the `(`: `f(a)` is a compound term, `f (a)` is not.
//! - `-` written directly before a digit is the sign of a number unless it
//!   follows an operand: `X is -1` and `f(-2.5)` hold negative numbers,
//!   `N-1` is a subtraction. Operator names follow the same rule before `(`:
//!   `-(1)` is the compound `-(1)`, `N-(1)` a subtraction.
//! - `_name` written directly after `)` is an [`Tok::Annotation`], DeepLog's
//!   algebra label (`p(X)_probability`, `(a ; b)_godel`); anywhere else it
//!   is a variable.
//!
//! Brackets may nest at most [`MAX_NESTING`] deep, the parser's limit on
//! nesting ([`crate::MAX_DEPTH`]): deeper input is an error before the
//! parser's stack of open brackets grows any further.

use std::borrow::Cow;

use crate::syntax::Span;

/// How deep brackets (`(`, `[`, `{`) may nest.
pub const MAX_NESTING: usize = crate::parser::MAX_DEPTH;

/// A token. Names borrow from the source unless they held escapes.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok<'src> {
    /// A plain (`edge`) or quoted (`'New York'`) name not followed by `(`.
    Atom(Cow<'src, str>),
    /// A name followed directly by `(`; the token includes the `(`.
    Functor(Cow<'src, str>),
    Var(&'src str),
    Int(i64),
    Float(f64),
    Str(Cow<'src, str>),
    /// An algebra annotation, without its leading `_`.
    Annotation(&'src str),
    /// ProbLog's head aggregate `avg<A>` (`library(aggregate)`), written
    /// with no space: the function's name and the variable.
    Aggregate(&'src str, &'src str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Bar,
    /// The `.` that ends a clause.
    End,
    Op(Op),
}

/// The operators the grammar knows, symbolic and word-shaped alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Neck,
    RuleArrow,
    Annotate,
    Semicolon,
    Or,
    IfThen,
    Implies,
    Equiv,
    Iff,
    And,
    NotProvable,
    Not,
    Unify,
    NotUnify,
    Identical,
    NotIdentical,
    Less,
    Greater,
    LessEq,
    GreaterEq,
    ArithEq,
    ArithNe,
    Is,
    In,
    Plus,
    Minus,
    Times,
    Divide,
    IntDivide,
    Mod,
    Power,
    Caret,
    Univ,
    TermLess,
    TermGreater,
    TermLessEq,
    TermGreaterEq,
    Variant,
    NotVariant,
    BitAnd,
    BitOr,
    Xor,
    Rem,
    Div,
    ShiftLeft,
    ShiftRight,
    BitNot,
    Colon,
    Dynamic,
    Discontiguous,
}

impl Op {
    /// The operator as written, which is also the functor of the compound
    /// term it builds.
    pub fn name(self) -> &'static str {
        match self {
            Op::Neck => ":-",
            Op::RuleArrow => "<-",
            Op::Annotate => "::",
            Op::Semicolon => ";",
            Op::Or => "or",
            Op::IfThen => "->",
            Op::Implies => "implies",
            Op::Equiv => "<->",
            Op::Iff => "iff",
            Op::And => "and",
            Op::NotProvable => "\\+",
            Op::Not => "not",
            Op::Unify => "=",
            Op::NotUnify => "\\=",
            Op::Identical => "==",
            Op::NotIdentical => "\\==",
            Op::Less => "<",
            Op::Greater => ">",
            Op::LessEq => "=<",
            Op::GreaterEq => ">=",
            Op::ArithEq => "=:=",
            Op::ArithNe => "=\\=",
            Op::Is => "is",
            Op::In => "in",
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Times => "*",
            Op::Divide => "/",
            Op::IntDivide => "//",
            Op::Mod => "mod",
            Op::Power => "**",
            Op::Caret => "^",
            Op::Univ => "=..",
            Op::TermLess => "@<",
            Op::TermGreater => "@>",
            Op::TermLessEq => "@=<",
            Op::TermGreaterEq => "@>=",
            Op::Variant => "=@=",
            Op::NotVariant => "\\=@=",
            Op::BitAnd => "/\\",
            Op::BitOr => "\\/",
            Op::Xor => "xor",
            Op::Rem => "rem",
            Op::Div => "div",
            Op::ShiftLeft => "<<",
            Op::ShiftRight => ">>",
            Op::BitNot => "\\",
            Op::Colon => ":",
            Op::Dynamic => "dynamic",
            Op::Discontiguous => "discontiguous",
        }
    }

    /// The operator spelled by a plain lowercase name, if any.
    pub fn from_word(word: &str) -> Option<Op> {
        Some(match word {
            "is" => Op::Is,
            "mod" => Op::Mod,
            "in" => Op::In,
            "and" => Op::And,
            "or" => Op::Or,
            "not" => Op::Not,
            "implies" => Op::Implies,
            "iff" => Op::Iff,
            "xor" => Op::Xor,
            "rem" => Op::Rem,
            "div" => Op::Div,
            "dynamic" => Op::Dynamic,
            "discontiguous" => Op::Discontiguous,
            _ => return None,
        })
    }
}

/// A lexical error, or a limit the grammar enforces while building terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub span: Span,
    pub message: String,
}

impl LexError {
    fn new(start: usize, end: usize, message: impl Into<String>) -> LexError {
        LexError { span: Span::new(start, end), message: message.into() }
    }
}

/// A token with its byte offsets, as LALRPOP wants it.
pub type Spanned<'src> = Result<(usize, Tok<'src>, usize), LexError>;

/// Turns source text into [`Spanned`] tokens. Stops after the first error.
pub struct Lexer<'src> {
    src: &'src str,
    bytes: &'src [u8],
    pos: usize,
    nesting: usize,
    /// Whether the last token ends an operand (a name, number, variable,
    /// string, closing bracket or annotation); decides `-1` and `-(`.
    after_operand: bool,
    /// The offset just past the last `)`, where an annotation may start.
    after_rparen: usize,
    done: bool,
}

impl<'src> Lexer<'src> {
    pub fn new(src: &'src str) -> Lexer<'src> {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            nesting: 0,
            after_operand: false,
            after_rparen: usize::MAX,
            done: false,
        }
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// Skips whitespace and comments.
    fn skip_layout(&mut self) -> Result<(), LexError> {
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'%' => match memchr(b'\n', &self.bytes[self.pos..]) {
                    Some(n) => self.pos += n + 1,
                    None => self.pos = self.bytes.len(),
                },
                b'/' if self.peek(1) == b'*' => {
                    let start = self.pos;
                    match find(b"*/", &self.bytes[self.pos + 2..]) {
                        Some(n) => self.pos += n + 4,
                        None => return Err(LexError::new(start, start + 2, "unterminated block comment `/*`")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Option<Spanned<'src>> {
        if let Err(e) = self.skip_layout() {
            return Some(Err(e));
        }
        let start = self.pos;
        let b = self.peek(0);
        if start >= self.bytes.len() {
            return None;
        }
        let tok = match b {
            b'a'..=b'z' => {
                let end = self.scan_name(start + 1);
                let name = &self.src[start..end];
                self.pos = end;
                match Op::from_word(name) {
                    Some(op) => self.operator(op),
                    None if self.peek(0) == b'(' => self.open_functor(Cow::Borrowed(name)),
                    None => match self.aggregate_variable(end) {
                        Some(var_end) => {
                            self.pos = var_end + 1;
                            Ok(Tok::Aggregate(name, &self.src[end + 1..var_end]))
                        }
                        None => Ok(Tok::Atom(Cow::Borrowed(name))),
                    },
                }
            }
            b'_' if start == self.after_rparen && self.peek(1).is_ascii_lowercase() => {
                let end = self.scan_name(start + 1);
                self.pos = end;
                Ok(Tok::Annotation(&self.src[start + 1..end]))
            }
            b'A'..=b'Z' | b'_' => {
                let end = self.scan_name(start + 1);
                self.pos = end;
                Ok(Tok::Var(&self.src[start..end]))
            }
            b'0'..=b'9' => self.number(start),
            b'-' if !self.after_operand && self.peek(1).is_ascii_digit() => self.number(start),
            b'\'' => self.quoted(start, b'\'').and_then(|name| {
                if self.peek(0) == b'(' {
                    self.open_functor(name)
                } else {
                    Ok(Tok::Atom(name))
                }
            }),
            b'"' => self.quoted(start, b'"').map(Tok::Str),
            b'(' => self.open(Tok::LParen),
            b'[' => self.open(Tok::LBracket),
            b'{' => self.open(Tok::LBrace),
            b')' => Ok(self.close(Tok::RParen)),
            b']' => Ok(self.close(Tok::RBracket)),
            b'}' => Ok(self.close(Tok::RBrace)),
            b',' => self.punct(Tok::Comma),
            b'|' => self.punct(Tok::Bar),
            b'!' => {
                self.pos += 1;
                Ok(Tok::Atom(Cow::Borrowed("!")))
            }
            // `?::d.`: a decision (decision-theoretic ProbLog); `?` means
            // nothing elsewhere.
            b'?' if self.peek(1) == b':' && self.peek(2) == b':' => {
                self.pos += 1;
                Ok(Tok::Atom(Cow::Borrowed("?")))
            }
            b'.' => match self.peek(1) {
                0 | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b'%' => self.punct(Tok::End),
                _ => Err(LexError::new(
                    start,
                    start + 1,
                    "a `.` that ends a clause must be followed by a space, a newline or `%`",
                )),
            },
            _ => match self.symbol_operator() {
                Some((op, len)) => {
                    self.pos += len;
                    self.operator(op)
                }
                None => {
                    let c = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                    Err(LexError::new(
                        start,
                        start + c.len_utf8(),
                        format!("unexpected character `{}`", c.escape_debug()),
                    ))
                }
            },
        };
        Some(tok.map(|tok| {
            self.after_operand = matches!(
                tok,
                Tok::Atom(_)
                    | Tok::Aggregate(..)
                    | Tok::Var(_)
                    | Tok::Int(_)
                    | Tok::Float(_)
                    | Tok::Str(_)
                    | Tok::Annotation(_)
                    | Tok::RParen
                    | Tok::RBracket
                    | Tok::RBrace
            );
            if tok == Tok::RParen {
                self.after_rparen = self.pos;
            }
            (start, tok, self.pos)
        }))
    }

    /// Where `<Var>` written directly after a name at `at` (ProbLog's
    /// `sum<X>`) ends: the offset of its `>`, which must be followed by `)`
    /// or `,` (so that `a<B` and `a<B>c` stay comparisons).
    fn aggregate_variable(&self, at: usize) -> Option<usize> {
        if self.bytes.get(at) != Some(&b'<')
            || !self.bytes.get(at + 1).is_some_and(|b| b.is_ascii_uppercase() || *b == b'_')
        {
            return None;
        }
        let end = self.scan_name(at + 2);
        (self.bytes.get(end) == Some(&b'>') && matches!(self.bytes.get(end + 1), Some(b')' | b','))).then_some(end)
    }

    fn scan_name(&self, mut i: usize) -> usize {
        while i < self.bytes.len() && (self.bytes[i].is_ascii_alphanumeric() || self.bytes[i] == b'_') {
            i += 1;
        }
        i
    }

    fn punct(&mut self, tok: Tok<'src>) -> Result<Tok<'src>, LexError> {
        self.pos += 1;
        Ok(tok)
    }

    fn open(&mut self, tok: Tok<'src>) -> Result<Tok<'src>, LexError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(LexError::new(self.pos, self.pos + 1, format!("brackets nest deeper than {MAX_NESTING}")));
        }
        self.pos += 1;
        Ok(tok)
    }

    fn close(&mut self, tok: Tok<'src>) -> Tok<'src> {
        // A stray closer is the parser's to report, with what it expected.
        self.nesting = self.nesting.saturating_sub(1);
        self.pos += 1;
        tok
    }

    /// `self.pos` is at the `(` just after `name`.
    fn open_functor(&mut self, name: Cow<'src, str>) -> Result<Tok<'src>, LexError> {
        self.open(Tok::Functor(name))
    }

    /// An operator, or the functor of that name when it is written in
    /// prefix position directly before `(`.
    fn operator(&mut self, op: Op) -> Result<Tok<'src>, LexError> {
        if !self.after_operand && self.peek(0) == b'(' {
            self.open_functor(Cow::Borrowed(op.name()))
        } else {
            Ok(Tok::Op(op))
        }
    }

    /// The longest symbolic operator at `self.pos`, with its length.
    fn symbol_operator(&self) -> Option<(Op, usize)> {
        let (b1, b2) = (self.peek(1), self.peek(2));
        Some(match self.peek(0) {
            b':' => match b1 {
                b'-' => (Op::Neck, 2),
                b':' => (Op::Annotate, 2),
                _ => (Op::Colon, 1),
            },
            b'<' => match (b1, b2) {
                (b'-', b'>') => (Op::Equiv, 3),
                (b'-', _) => (Op::RuleArrow, 2),
                (b'<', _) => (Op::ShiftLeft, 2),
                _ => (Op::Less, 1),
            },
            b'@' => match (b1, b2, self.peek(3)) {
                (b'<', ..) => (Op::TermLess, 2),
                (b'>', b'=', _) => (Op::TermGreaterEq, 3),
                (b'>', ..) => (Op::TermGreater, 2),
                (b'=', b'<', _) => (Op::TermLessEq, 3),
                _ => return None,
            },
            b'-' => match b1 {
                b'>' => (Op::IfThen, 2),
                _ => (Op::Minus, 1),
            },
            b';' => (Op::Semicolon, 1),
            b'\\' => match (b1, b2) {
                (b'+', _) => (Op::NotProvable, 2),
                (b'=', b'=') => (Op::NotIdentical, 3),
                (b'=', b'@') if self.peek(3) == b'=' => (Op::NotVariant, 4),
                (b'=', _) => (Op::NotUnify, 2),
                (b'/', _) => (Op::BitOr, 2),
                _ => (Op::BitNot, 1),
            },
            b'=' => match (b1, b2) {
                (b':', b'=') => (Op::ArithEq, 3),
                (b'\\', b'=') => (Op::ArithNe, 3),
                (b'.', b'.') => (Op::Univ, 3),
                (b'@', b'=') => (Op::Variant, 3),
                (b'=', _) => (Op::Identical, 2),
                (b'<', _) => (Op::LessEq, 2),
                _ => (Op::Unify, 1),
            },
            b'>' => match b1 {
                b'=' => (Op::GreaterEq, 2),
                b'>' => (Op::ShiftRight, 2),
                _ => (Op::Greater, 1),
            },
            b'+' => (Op::Plus, 1),
            b'*' => match b1 {
                b'*' => (Op::Power, 2),
                _ => (Op::Times, 1),
            },
            b'/' => match b1 {
                b'/' => (Op::IntDivide, 2),
                b'\\' => (Op::BitAnd, 2),
                _ => (Op::Divide, 1),
            },
            b'^' => (Op::Caret, 1),
            _ => return None,
        })
    }

    /// An integer or float starting at `start` (which may hold a `-`).
    fn number(&mut self, start: usize) -> Result<Tok<'src>, LexError> {
        let digits = |mut i: usize| {
            while i < self.bytes.len() && self.bytes[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        let first = if self.bytes[start] == b'-' { start + 1 } else { start };
        if self.bytes[first] == b'0' {
            if let Some(tok) = self.special_number(start, first) {
                return tok;
            }
        }
        let mut end = digits(first);
        let mut float = false;
        if self.bytes.get(end) == Some(&b'.') && self.bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
            end = digits(end + 1);
            float = true;
        }
        if matches!(self.bytes.get(end), Some(b'e' | b'E')) {
            let mut i = end + 1;
            if matches!(self.bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if self.bytes.get(i).is_some_and(u8::is_ascii_digit) {
                end = digits(i);
                float = true;
            }
        }
        self.pos = end;
        let text = &self.src[start..end];
        if float {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Tok::Float(x)),
                _ => Err(LexError::new(start, end, format!("float `{text}` is out of range"))),
            }
        } else {
            text.parse::<i64>()
                .map(Tok::Int)
                .map_err(|_| LexError::new(start, end, format!("integer `{text}` does not fit in 64 bits")))
        }
    }

    /// `0x1F`, `0o17`, `0b101` and `0'a` (a character's code), with the
    /// sign at `start` if any; `None` where `first` starts a decimal.
    fn special_number(&mut self, start: usize, first: usize) -> Option<Result<Tok<'src>, LexError>> {
        let negative = first > start;
        let radix = match self.bytes.get(first + 1) {
            Some(b'x') => 16,
            Some(b'o') => 8,
            Some(b'b') => 2,
            Some(b'\'') => {
                let at = first + 2;
                let rest = &self.src[at.min(self.src.len())..];
                let (code, len) = match rest.as_bytes() {
                    [b'\\', b'n', ..] => (10, 2),
                    [b'\\', b't', ..] => (9, 2),
                    [b'\\', b'r', ..] => (13, 2),
                    [b'\\', b'\\', ..] => (92, 2),
                    [b'\\', b'\'', ..] => (39, 2),
                    [b'\'', b'\'', ..] => (39, 2),
                    [b'\\', ..] => {
                        return Some(Err(LexError::new(first, at + 1, "unknown escape in a character code `0'`")))
                    }
                    _ => match rest.chars().next() {
                        Some(c) => (c as i64, c.len_utf8()),
                        None => return Some(Err(LexError::new(first, at, "`0'` needs a character after it"))),
                    },
                };
                self.pos = at + len;
                return Some(Ok(Tok::Int(if negative { -code } else { code })));
            }
            _ => return None,
        };
        let digits_start = first + 2;
        let mut end = digits_start;
        while self.bytes.get(end).is_some_and(|b| (*b as char).is_digit(radix)) {
            end += 1;
        }
        if end == digits_start {
            return None;
        }
        self.pos = end;
        let text = &self.src[digits_start..end];
        Some(i64::from_str_radix(text, radix).map(|n| Tok::Int(if negative { -n } else { n })).map_err(|_| {
            LexError::new(start, end, format!("integer `{}` does not fit in 64 bits", &self.src[start..end]))
        }))
    }

    /// A quoted atom (`quote` = `'`) or string (`"`): escapes as in Prolog,
    /// and a doubled quote stands for itself.
    fn quoted(&mut self, start: usize, quote: u8) -> Result<Cow<'src, str>, LexError> {
        let what = if quote == b'\'' { "quoted atom" } else { "string" };
        let mut i = start + 1;
        let mut owned: Option<String> = None;
        let mut run = i; // start of the unescaped run not yet copied into `owned`
        loop {
            let Some(&b) = self.bytes.get(i) else {
                return Err(LexError::new(start, start + 1, format!("unterminated {what}")));
            };
            if b == quote {
                if self.bytes.get(i + 1) == Some(&quote) {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.src[run..=i]);
                    i += 2;
                    run = i;
                    continue;
                }
                self.pos = i + 1;
                return Ok(match owned {
                    Some(mut s) => {
                        s.push_str(&self.src[run..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&self.src[start + 1..i]),
                });
            }
            if b != b'\\' {
                i += 1;
                continue;
            }
            let s = owned.get_or_insert_with(String::new);
            s.push_str(&self.src[run..i]);
            let escape_start = i;
            let c = match self.bytes.get(i + 1) {
                Some(b'n') => '\n',
                Some(b't') => '\t',
                Some(b'r') => '\r',
                Some(b'a') => '\x07',
                Some(b'b') => '\x08',
                Some(b'f') => '\x0c',
                Some(b'v') => '\x0b',
                Some(b'0') => '\0',
                Some(b'e') => '\x1b',
                Some(b's') => ' ',
                Some(b'\\') => '\\',
                Some(b'\'') => '\'',
                Some(b'"') => '"',
                Some(b'`') => '`',
                Some(b'\n') => {
                    // A backslash before a newline continues the text.
                    i += 2;
                    run = i;
                    continue;
                }
                Some(b'x') => {
                    let digits_start = i + 2;
                    let mut j = digits_start;
                    while self.bytes.get(j).is_some_and(u8::is_ascii_hexdigit) {
                        j += 1;
                    }
                    let code = u32::from_str_radix(&self.src[digits_start..j], 16).ok().and_then(char::from_u32);
                    match (code, self.bytes.get(j)) {
                        (Some(c), Some(b'\\')) => {
                            s.push(c);
                            i = j + 1;
                            run = i;
                            continue;
                        }
                        _ => {
                            return Err(LexError::new(
                                escape_start,
                                j.min(self.bytes.len()),
                                "a `\\x` escape is hex digits of a character code ended by `\\`, as in `\\x41\\`",
                            ))
                        }
                    }
                }
                _ => {
                    let c = self.src[i + 1..].chars().next().map_or(String::new(), |c| c.escape_debug().to_string());
                    let end = (i + 1 + c.len()).min(self.bytes.len());
                    return Err(LexError::new(escape_start, end, format!("unknown escape `\\{c}` in {what}")));
                }
            };
            s.push(c);
            i += 2;
            run = i;
        }
    }
}

impl<'src> Iterator for Lexer<'src> {
    type Item = Spanned<'src>;

    fn next(&mut self) -> Option<Spanned<'src>> {
        if self.done {
            return None;
        }
        let next = self.next_token();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn find(needle: &[u8], haystack: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(src: &str) -> Vec<Tok<'_>> {
        Lexer::new(src).map(|t| t.map(|(_, tok, _)| tok)).collect::<Result<_, _>>().unwrap()
    }

    fn lex_err(src: &str) -> LexError {
        Lexer::new(src).find_map(Result::err).expect("a lexical error")
    }

    fn atom(name: &str) -> Tok<'_> {
        Tok::Atom(Cow::Borrowed(name))
    }

    #[test]
    fn end_dot_and_float_dot() {
        assert_eq!(lex("p(0.3)."), [Tok::Functor("p".into()), Tok::Float(0.3), Tok::RParen, Tok::End]);
        assert_eq!(lex("x is 3.\n"), [atom("x"), Tok::Op(Op::Is), Tok::Int(3), Tok::End]);
        assert_eq!(lex("a.%c"), [atom("a"), Tok::End]);
        assert_eq!(lex_err("a.b.").span, Span::new(1, 2));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            lex("1e-3 1.5e10 2E3 7 1e"),
            [Tok::Float(1e-3), Tok::Float(1.5e10), Tok::Float(2e3), Tok::Int(7), Tok::Int(1), atom("e")]
        );
        assert_eq!(lex_err("99999999999999999999").span, Span::new(0, 20));
        assert!(lex_err("1e999").message.contains("out of range"));
        assert_eq!(lex("-9223372036854775808"), [Tok::Int(i64::MIN)]);
    }

    #[test]
    fn minus_is_a_sign_only_where_an_operand_starts() {
        assert_eq!(lex("X is -1"), [Tok::Var("X"), Tok::Op(Op::Is), Tok::Int(-1)]);
        assert_eq!(lex("N-1"), [Tok::Var("N"), Tok::Op(Op::Minus), Tok::Int(1)]);
        assert_eq!(lex("f(-2.5)"), [Tok::Functor("f".into()), Tok::Float(-2.5), Tok::RParen]);
        assert_eq!(lex("a - -1"), [atom("a"), Tok::Op(Op::Minus), Tok::Int(-1)]);
        assert_eq!(lex("- 1"), [Tok::Op(Op::Minus), Tok::Int(1)]);
        assert_eq!(lex("-(1)"), [Tok::Functor("-".into()), Tok::Int(1), Tok::RParen]);
        assert_eq!(lex("N-(1)"), [Tok::Var("N"), Tok::Op(Op::Minus), Tok::LParen, Tok::Int(1), Tok::RParen]);
        assert_eq!(lex("not(a)"), [Tok::Functor("not".into()), atom("a"), Tok::RParen]);
    }

    #[test]
    fn operators_take_the_longest_match() {
        let ops =
            |src| lex(src).into_iter().map(|t| if let Tok::Op(op) = t { op.name() } else { "?" }).collect::<Vec<_>>();
        assert_eq!(
            ops(":- <- :: ; -> <-> \\+ = \\= == \\== < > =< >= =:= =\\= + - * / // ** ^"),
            [
                ":-", "<-", "::", ";", "->", "<->", "\\+", "=", "\\=", "==", "\\==", "<", ">", "=<", ">=", "=:=",
                "=\\=", "+", "-", "*", "/", "//", "**", "^"
            ]
        );
        assert_eq!(ops("is mod in and or not implies iff"), ["is", "mod", "in", "and", "or", "not", "implies", "iff"]);
        assert_eq!(lex("0.3::a"), [Tok::Float(0.3), Tok::Op(Op::Annotate), atom("a")]);
    }

    #[test]
    fn annotations_only_directly_after_a_closing_parenthesis() {
        assert_eq!(
            lex("p(X)_probability"),
            [Tok::Functor("p".into()), Tok::Var("X"), Tok::RParen, Tok::Annotation("probability")]
        );
        assert_eq!(lex("heads_probability"), [atom("heads_probability")]);
        assert_eq!(lex("p(X) _x"), [Tok::Functor("p".into()), Tok::Var("X"), Tok::RParen, Tok::Var("_x")]);
        assert_eq!(lex("f(_x)"), [Tok::Functor("f".into()), Tok::Var("_x"), Tok::RParen]);
        assert_eq!(lex("f(a)_X"), [Tok::Functor("f".into()), atom("a"), Tok::RParen, Tok::Var("_X")]);
    }

    #[test]
    fn quoted_atoms_and_strings() {
        assert_eq!(lex("'New York'"), [atom("New York")]);
        assert_eq!(lex(r"'it''s' 'a\nb' 'q\'' '\x41\'"), [atom("it's"), atom("a\nb"), atom("q'"), atom("A")]);
        assert_eq!(lex(r#""say \"hi\"""#), [Tok::Str("say \"hi\"".into())]);
        assert_eq!(lex("'f'(x)"), [Tok::Functor("f".into()), atom("x"), Tok::RParen]);
        assert_eq!(lex_err("'abc").span, Span::new(0, 1));
        assert_eq!(lex_err(r"'a\qb'").span, Span::new(2, 4));
        assert_eq!(lex("'é'"), [atom("é")]);
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(lex("a % x\n/* y\n z */ b"), [atom("a"), atom("b")]);
        assert_eq!(lex_err("a /* b").span, Span::new(2, 4));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "(".repeat(MAX_NESTING + 1);
        let err = lex_err(&deep);
        assert_eq!(err.span, Span::new(MAX_NESTING, MAX_NESTING + 1));
        assert!(err.message.contains("deeper than 100000"));
        assert!(Lexer::new(&"(".repeat(MAX_NESTING)).all(|t| t.is_ok()));
    }

    #[test]
    fn unexpected_characters_are_errors() {
        assert_eq!(lex_err("a :- b @ c").span, Span::new(7, 8));
        assert_eq!(lex_err("a(é)").span, Span::new(2, 4));
        assert_eq!(lex_err("a $ b").span, Span::new(2, 3));
    }
}
