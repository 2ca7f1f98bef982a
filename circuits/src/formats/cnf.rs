//! DIMACS CNF, with the weights of the model-counting competition, as a
//! logic program the compilers take.
//!
//! ```text
//! c p weight 1 0.3 0      w(x1) = 0.3
//! c p weight -1 0.7 0     w(¬x1) = 0.7
//! p cnf 2 2
//! 1 -2 0
//! 2 0
//! ```
//!
//! A literal without a weight line weighs 1 (so an unweighted file counts
//! models). Each variable becomes an independent fact with probability
//! `w(x) / (w(x) + w(¬x))`, so that the formula's weighted model count is
//! its probability times `Π (w(x) + w(¬x))` ([`Cnf::log_scale`]).
//!
//! Memory follows the file's content, not its header: variables after the
//! last one a clause or weight line mentions are free, weigh 1 each way,
//! and enter only [`Cnf::log_scale`] (as `ln 2` each), so `p cnf 60000000 1`
//! over one short clause costs no more than `p cnf 1 1`. A header beyond
//! [`MAX_VARIABLES`](super::MAX_VARIABLES) is an error at its line all the
//! same.

use super::{is_comment, parse_field, parse_literal, variable_count, FormatError};
use deeplog_program::{AtomId, Choice, GroundProgram, Rule};

/// A weighted CNF formula.
#[derive(Clone, Debug, PartialEq)]
pub struct Cnf {
    /// The header's variable count.
    pub num_vars: u32,
    /// The file's number (from 0) of each variable the clauses mention, in
    /// order: the clauses and weights number variables by their place here.
    pub variables: Vec<u32>,
    /// Clauses of `(variable, positive)`, variables numbered as in
    /// `variables`.
    pub clauses: Vec<Vec<(u32, bool)>>,
    /// `(w(x), w(¬x))` of each variable of `variables` (the header's other
    /// variables weigh `(1, 1)`, unless `unmentioned_weights` says
    /// otherwise).
    pub weights: Vec<(f64, f64)>,
    /// `(w(x), w(¬x))` of the weighted variables no clause mentions, by
    /// variable: they only scale the count, and take memory by the weight
    /// lines that name them, not by their number.
    pub unmentioned_weights: std::collections::BTreeMap<u32, (f64, f64)>,
}

/// Reads DIMACS CNF (`p cnf VARS CLAUSES`, clauses ended by 0, `c` lines
/// comments except `c p weight LIT W 0`).
pub fn read_cnf(text: &str) -> Result<Cnf, FormatError> {
    let mut header: Option<(u32, usize)> = None;
    let mut clauses = Vec::new();
    let mut current: Vec<(u32, bool)> = Vec::new();
    let mut weight_lines: Vec<(usize, u32, bool, f64)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some(&tag) = fields.first() else { continue };
        if is_comment(tag) {
            if fields.len() >= 5 && fields[1] == "p" && fields[2] == "weight" {
                let (slot, positive) = parse_literal(fields[3], n)?;
                let w: f64 = parse_field(fields[4], "a weight", n)?;
                if !(w >= 0.0 && w.is_finite()) {
                    return Err(FormatError::at(n, format!("weight {w} is not a finite number ≥ 0")));
                }
                weight_lines.push((n, slot.0, positive, w));
            }
            continue;
        }
        if tag == "p" {
            if fields.len() != 4 || fields[1] != "cnf" {
                return Err(FormatError::at(n, "expected the header `p cnf VARIABLES CLAUSES`"));
            }
            if header.is_some() {
                return Err(FormatError::at(n, "a second `p cnf` header"));
            }
            let vars = variable_count(parse_field(fields[2], "the number of variables", n)?, "variable count", n)?;
            header = Some((vars, parse_field(fields[3], "the number of clauses", n)?));
            continue;
        }
        let Some((vars, _)) = header else {
            return Err(FormatError::at(n, "a clause before the `p cnf` header"));
        };
        for field in fields {
            if field == "0" {
                clauses.push(std::mem::take(&mut current));
                continue;
            }
            let (slot, positive) = parse_literal(field, n)?;
            if slot.0 >= vars {
                return Err(FormatError::at(n, format!("variable {} is beyond the header's {vars}", slot.0 + 1)));
            }
            current.push((slot.0, positive));
        }
    }
    let Some((num_vars, expected)) = header else {
        return Err(FormatError::whole_file("no `p cnf VARIABLES CLAUSES` header"));
    };
    if !current.is_empty() {
        clauses.push(current);
    }
    if clauses.len() != expected {
        return Err(FormatError::whole_file(format!(
            "the header promises {expected} clauses, the file has {}",
            clauses.len()
        )));
    }
    // The variables the clauses mention, numbered densely in the order of
    // their numbers: a clause naming variable 50,000,000 costs one entry,
    // not fifty million.
    let mut variables: Vec<u32> = clauses.iter().flatten().map(|&(v, _)| v).collect();
    variables.sort_unstable();
    variables.dedup();
    let dense: rustc_hash::FxHashMap<u32, u32> = variables.iter().enumerate().map(|(i, &v)| (v, i as u32)).collect();
    for (v, _) in clauses.iter_mut().flatten() {
        *v = dense[v];
    }
    let mut weights = vec![(1.0, 1.0); variables.len()];
    let mut unmentioned_weights = std::collections::BTreeMap::new();
    for (n, var, positive, w) in weight_lines {
        if var >= num_vars {
            return Err(FormatError::at(n, format!("weight for variable {} beyond the header's {num_vars}", var + 1)));
        }
        let slot = match dense.get(&var) {
            Some(&d) => &mut weights[d as usize],
            None => unmentioned_weights.entry(var).or_insert((1.0, 1.0)),
        };
        if positive {
            slot.0 = w;
        } else {
            slot.1 = w;
        }
    }
    Ok(Cnf { num_vars, variables, clauses, weights, unmentioned_weights })
}

impl Cnf {
    /// The formula as a program: atom `v` is variable `v` (a fact) for the
    /// variables up to the last one mentioned (`n` of them), atom `n + i` is
    /// clause `i` (one rule per literal), and the last atom (returned) holds
    /// when every clause does.
    pub fn to_program(&self) -> (GroundProgram, AtomId) {
        let n = self.weights.len() as u32;
        let formula = n + self.clauses.len() as u32;
        let mut rules = Vec::new();
        for (i, clause) in self.clauses.iter().enumerate() {
            let atom = AtomId::new(n + i as u32);
            for &(var, positive) in clause {
                rules.push(Rule { head: atom, body: vec![(AtomId::new(var), positive)] });
            }
        }
        let formula = AtomId::new(formula);
        rules.push(Rule { head: formula, body: (n..formula.raw()).map(|a| (AtomId::new(a), true)).collect() });
        let choices = self
            .weights
            .iter()
            .enumerate()
            .map(|(v, &(w, w_not))| {
                let total = w + w_not;
                let probability = if total > 0.0 { w / total } else { 0.0 };
                Choice::Fact { atom: AtomId::from_index(v), probability }
            })
            .collect();
        (GroundProgram::propositional(formula.raw() + 1, rules, choices), formula)
    }

    /// The header's variables no clause mentions: each doubles the model
    /// count (or scales it by its weights, `unmentioned_weights`).
    pub fn free_variables(&self) -> u32 {
        self.num_vars.saturating_sub(self.weights.len() as u32)
    }

    /// Whether every variable weighs `(1, 1)`: the weighted count is then
    /// the model count.
    pub fn is_unweighted(&self) -> bool {
        self.weights.iter().chain(self.unmentioned_weights.values()).all(|&w| w == (1.0, 1.0))
    }

    /// `ln Π (w(x) + w(¬x))`: the weighted model count is the formula's
    /// probability times this (in log space).
    pub fn log_scale(&self) -> f64 {
        let free = f64::from(self.free_variables()) - self.unmentioned_weights.len() as f64;
        self.weights.iter().chain(self.unmentioned_weights.values()).map(|(w, w_not)| (w + w_not).ln()).sum::<f64>()
            + free * 2f64.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_clauses() {
        let cnf = read_cnf("c hello\nc p weight 1 0.3 0\nc p weight -1 0.7 0\np cnf 2 2\n1 -2 0\n2\n0\n").unwrap();
        assert_eq!(cnf.clauses, vec![vec![(0, true), (1, false)], vec![(1, true)]]);
        assert_eq!(cnf.weights, vec![(0.3, 0.7), (1.0, 1.0)]);
        assert!((cnf.log_scale() - 2f64.ln()).abs() < 1e-15);
        let (program, formula) = cnf.to_program();
        assert_eq!(formula, AtomId::new(4));
        assert_eq!(program.choices[0], Choice::Fact { atom: AtomId::new(0), probability: 0.3 });
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = read_cnf("p cnf 2 1\n1 3 0\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: variable 3 is beyond the header's 2");
        let err = read_cnf("1 2 0\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        let err = read_cnf("p cnf 2 2\n1 0\n").unwrap_err();
        assert!(err.to_string().contains("promises 2 clauses"), "{err}");
        let err = read_cnf("c p weight 1 -1 0\np cnf 1 0\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        let err = read_cnf("p cnf 2000000000 1\n1 0\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: variable count 2000000000 is more than the 67108864 (2^26) variables a file may have"
        );
    }

    #[test]
    fn a_weight_on_a_variable_no_clause_mentions_scales_the_count() {
        // Found by fuzzing: a weight line for variable 52,949,670 sized the
        // weight table to it (1.6 GiB) though no clause mentions it.
        let cnf = read_cnf("p cnf 52949670 1\nc p weight 52949670 3 0\nc p weight -52949670 1 0\n1 0\n").unwrap();
        assert_eq!(cnf.weights.len(), 1);
        assert!(!cnf.is_unweighted());
        let expected = 4f64.ln() + 2f64.ln() * (52_949_670.0 - 2.0) + 2f64.ln();
        assert!((cnf.log_scale() - expected).abs() < 1e-6, "{}", cnf.log_scale());
    }

    #[test]
    fn memory_follows_the_clauses_not_the_header() {
        let cnf = read_cnf("p cnf 60000000 1\n1 -2 0\n").unwrap();
        assert_eq!((cnf.num_vars, cnf.weights.len(), cnf.free_variables()), (60_000_000, 2, 59_999_998));
        // The free variables double the count each.
        assert!((cnf.log_scale() - 60_000_000.0 * 2f64.ln()).abs() < 1e-6);
        let (program, formula) = cnf.to_program();
        assert_eq!((program.choices.len(), formula), (2, AtomId::new(3)));
        // A clause naming a far variable costs one entry for it.
        let cnf = read_cnf("p cnf 60000000 1\n1 -59999999 0\n").unwrap();
        assert_eq!(
            (cnf.variables.clone(), cnf.weights.len(), cnf.free_variables()),
            (vec![0, 59_999_998], 2, 59_999_998)
        );
        assert_eq!(cnf.clauses, vec![vec![(0, true), (1, false)]]);
        assert!((cnf.log_scale() - 60_000_000.0 * 2f64.ln()).abs() < 1e-6);
        // A weight line beyond the clauses' variables scales the count
        // without widening the table.
        let cnf = read_cnf("c p weight -3 0.25 0\np cnf 4 1\n1 0\n").unwrap();
        assert_eq!(cnf.weights, vec![(1.0, 1.0)]);
        assert_eq!(cnf.unmentioned_weights.into_iter().collect::<Vec<_>>(), vec![(2, (1.0, 0.25))]);
        let cnf = read_cnf("c p weight -3 0.25 0\np cnf 4 1\n1 0\n").unwrap();
        assert!((cnf.log_scale() - (4f64.ln() + 1.25f64.ln() + 2f64.ln())).abs() < 1e-12);
    }
}
