//! The ground program printed in ProbLog's syntax: what `deeplog ground`
//! shows and the grounder's snapshot tests compare. Printing happens here,
//! at the edge; nothing reads this text back.

use std::fmt;

use crate::{Atom, AtomId, Choice, GroundProgram};

impl GroundProgram {
    /// Writes atom `a` as ProbLog prints it.
    pub fn write_atom(&self, out: &mut String, a: AtomId) {
        match &self.atoms[a.index()] {
            Atom::Term(t) => self.terms.write(out, *t),
            Atom::Numbered(n) => {
                out.push('x');
                out.push_str(&n.to_string());
            }
            Atom::Choice { clause, head, bindings } => {
                out.push_str(&format!("choice({clause},{head},["));
                for (i, (name, value)) in bindings.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push('=');
                    self.terms.write(out, *value);
                }
                out.push_str("])");
            }
        }
    }
}

/// The ground program as ProbLog text: choices, then rules, queries,
/// evidence and constraints.
impl fmt::Display for GroundProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |a: AtomId| self.atom_text(a);
        for c in &self.choices {
            match c {
                Choice::Fact { atom, probability } => writeln!(f, "{probability}::{}.", name(*atom))?,
                Choice::Disjunction { atoms } => {
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
            writeln!(f, "query({}).", self.query_text(q))?;
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
