//! Learning from interpretations (ProbLog's `lfi`): expectation
//! maximisation of a model's `t(p)::` parameters from partial
//! interpretations.
//!
//! The model is grounded and compiled **once** with every distinct
//! interpretation as a query (`learn.rs`'s machinery); an iteration is one
//! batched forward and backward pass, a column per interpretation. The
//! posterior of an alternative follows from the interpretation's
//! probability `P(e)` and its gradient: `P(e)` is linear in each choice's
//! probabilities `p_k` (with "none" taking the rest), so with `g_k =
//! ∂P(e)/∂p_k`, `P(alternative k | e) = p_k (g_k + P(e) − Σ_j p_j g_j) /
//! P(e)` (for a fact, `p (P(e) + (1 − p) g) / P(e)`).
//!
//! Parameters are tied by statement, as ProbLog ties them: the ground
//! instances of `t(_)::p(X).` share one, its new value the mean of their
//! posteriors over the interpretations (and so for each alternative of a
//! learnable annotated disjunction). For a probabilistic rule this counts
//! every instance, where ProbLog counts an instance only as far as its body
//! holds: the fixed points are the same (`p = Σ P(body ∧ choice | e) / Σ
//! P(body | e)` either way), the paths to them differ.
//!
//! The stopping rule is ProbLog's: stop after `max_iterations`, or once the
//! sum of the logarithms of the parameters grows by no more than
//! `min_improvement` from one iteration to the next.

use deeplog_language::model::Logic;

use crate::error::Error;
use crate::learn::{distinct_examples, first_example_query, with_example_queries, Example};
use crate::{Model, QueryOptions};

/// How to learn.
#[derive(Clone, Debug)]
pub struct LfiOptions {
    /// ProbLog's `-n` (default 10000).
    pub max_iterations: usize,
    /// ProbLog's `-d` (default 1e-10).
    pub min_improvement: f64,
}

impl Default for LfiOptions {
    fn default() -> Self {
        LfiOptions { max_iterations: 10_000, min_improvement: 1e-10 }
    }
}

/// What learning found.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    /// `Σ log P(interpretation)` with the parameters of the last iteration
    /// (before its update, as ProbLog reports it).
    pub log_likelihood: f64,
    pub iterations: usize,
    /// Each parameter as its statement writes it (`t(_)::p_alarm1`), in the
    /// order they appear in the model.
    pub names: Vec<String>,
    pub weights: Vec<f64>,
    /// The model with each learnable annotation replaced by what was learned.
    pub program: String,
    /// The interpretations that no world of the model satisfies (0-based),
    /// left out as ProbLog leaves them out.
    pub ignored: Vec<usize>,
    /// The lines of `t(…)` statements nothing was learned of: no instance
    /// of them is reached by any interpretation (a rule whose body never
    /// holds, or one nothing observed depends on).
    pub unreached: Vec<usize>,
}

/// One tied parameter: the `k`-th learnable head of a statement.
struct Parameter {
    origin: (u32, u32),
    alternative: usize,
    /// The inputs it sets.
    rows: Vec<usize>,
    value: f64,
}

/// Learns `model`'s parameters from `interpretations` (each a list of
/// observed atoms and values).
pub fn lfi(model: &Model, interpretations: &[Vec<(String, bool)>], options: &LfiOptions) -> Result<Learned, Error> {
    if interpretations.is_empty() {
        return Err(Error::Input("no interpretations to learn from".to_string()));
    }
    let examples: Vec<Example> = interpretations.iter().map(|e| Example::Evidence { evidence: e.clone() }).collect();
    let mut distinct = distinct_examples(&examples)?;
    let augmented = with_example_queries(model, &mut distinct)?;
    let formulas = augmented.formulas(&QueryOptions { logic: Some(Logic::Probability), ..QueryOptions::default() })?;
    let first = first_example_query(&formulas, &distinct)?;
    let inputs = formulas.inputs();
    // The parameters, tied by statement and alternative, in model order.
    let mut parameters: Vec<Parameter> = Vec::new();
    let mut choice_start = 0;
    for (i, input) in inputs.iter().enumerate() {
        if i == 0 || inputs[i - 1].choice != input.choice {
            choice_start = i;
        }
        if !input.learnable {
            continue;
        }
        let Some(origin) = input.origin else {
            return Err(Error::Input(format!("`{}`: where it was written is unknown", input.name)));
        };
        let alternative = i - choice_start;
        match parameters.iter_mut().find(|p| p.origin == origin && p.alternative == alternative) {
            Some(p) => p.rows.push(i),
            None => parameters.push(Parameter { origin, alternative, rows: vec![i], value: input.value }),
        }
    }
    if parameters.is_empty() {
        return Err(Error::Input(
            "the model has no learnable parameters (`t(p)::` facts) the interpretations reach".into(),
        ));
    }
    parameters.sort_by_key(|p| (p.origin.0, p.alternative));
    let unreached = unreached(model, &parameters);
    never_holds(model, &unreached)?;
    // Each choice's inputs (to take the posteriors of its alternatives together).
    let mut choices: Vec<Vec<usize>> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if input.learnable {
            match choices.last_mut() {
                Some(rows) if inputs[rows[0]].choice == input.choice => rows.push(i),
                _ => choices.push(vec![i]),
            }
        }
    }
    let base = formulas.initial_values();
    let n = inputs.len();
    let e = distinct.len();
    let mut seeds = vec![0.0; formulas.queries().len() * e];
    for b in 0..e {
        seeds[(first + b) * e + b] = 1.0;
    }
    let mut ignored = Vec::new();
    let mut log_likelihood = 0.0;
    let mut previous_score = -1e10;
    let mut iterations = 0;
    while iterations < options.max_iterations {
        iterations += 1;
        crate::program::interrupt::requested()
            .then_some(())
            .map_or(Ok(()), |_| Err(Error::Input("interrupted".to_string())))?;
        let mut values = base.clone();
        for p in &parameters {
            p.rows.iter().for_each(|&r| values[r] = p.value);
        }
        let mut columns = vec![0.0; n * e];
        for (r, v) in values.iter().enumerate() {
            columns[r * e..(r + 1) * e].fill(*v);
        }
        let (evaluations, grads) = formulas.gradient_batch(&columns, e, &seeds)?;
        // Posterior expected counts per input.
        let mut expected = vec![0.0; n];
        let mut counted = vec![0.0; n];
        log_likelihood = 0.0;
        ignored.clear();
        for (b, d) in distinct.iter().enumerate() {
            let pe = evaluations[b].queries[first + b];
            if pe.is_nan() || pe <= 0.0 {
                ignored.push(d.example);
                continue;
            }
            log_likelihood += d.weight * pe.ln();
            for rows in &choices {
                let dot: f64 = rows.iter().map(|&r| values[r] * grads[r * e + b]).sum();
                for &r in rows {
                    let posterior = values[r] * (grads[r * e + b] + pe - dot) / pe;
                    expected[r] += d.weight * posterior.clamp(0.0, 1.0);
                    counted[r] += d.weight;
                }
            }
        }
        if ignored.len() == distinct.len() {
            return Err(Error::Input(
                "no interpretation is possible in the model (each has probability zero)".to_string(),
            ));
        }
        let mut score = 0.0;
        for p in &mut parameters {
            let num: f64 = p.rows.iter().map(|&r| expected[r]).sum();
            let den: f64 = p.rows.iter().map(|&r| counted[r]).sum();
            if den <= 1e-15 {
                continue; // nothing observed says anything about it
            }
            p.value = if num <= 1e-15 { 0.0 } else { (num / den).min(1.0) };
            if p.value > 0.0 {
                score += p.value.ln();
            }
        }
        let delta = score - previous_score;
        previous_score = score;
        if (0.0..=options.min_improvement).contains(&delta) {
            break;
        }
    }
    ignored.sort_unstable();
    ignored.dedup();
    let source = model.source();
    let names = parameters.iter().map(|p| annotation_name(source, p.origin, p.alternative)).collect();
    let weights = parameters.iter().map(|p| p.value).collect();
    let program = learned_program(source, &parameters);
    Ok(Learned { log_likelihood, iterations, names, weights, program, ignored, unreached })
}

/// The heads of the statement at `origin` (its text up to `:-`, split at
/// the top-level `;`), trimmed.
fn heads(source: &str, origin: (u32, u32)) -> Vec<&str> {
    let text = source.get(origin.0 as usize..origin.1 as usize).unwrap_or("");
    let head = text.split(":-").next().unwrap_or(text).trim().trim_end_matches('.').trim();
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in head.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' if depth == 0 => {
                out.push(head[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(head[start..].trim());
    out
}

/// A parameter's name as ProbLog prints it: its head with its annotation,
/// `t(_)::p_alarm1`.
fn annotation_name(source: &str, origin: (u32, u32), alternative: usize) -> String {
    let heads = heads(source, origin);
    // The k-th learnable head (alternatives count only learnable ones when
    // others in the disjunction are fixed: they come in order all the same).
    heads.get(alternative).map_or_else(String::new, |h| h.to_string())
}

/// `source` with every learned statement's `t(…)` annotations replaced by
/// the learned values, in order.
fn learned_program(source: &str, parameters: &[Parameter]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut at = 0usize;
    let mut statements: Vec<(u32, u32)> = parameters.iter().map(|p| p.origin).collect();
    statements.sort_unstable();
    statements.dedup();
    for origin in statements {
        let (start, end) = (origin.0 as usize, origin.1 as usize);
        if start < at || end > source.len() {
            continue;
        }
        out.push_str(&source[at..start]);
        let text = &source[start..end];
        let mut rest = text;
        let mut done = String::new();
        while let Some(t) = find_annotation(rest) {
            let (before, after) = rest.split_at(t.0);
            done.push_str(before);
            // The head it annotates: the top-level `;`s before it.
            let alternative = top_level_semicolons(&done);
            let value = parameters.iter().find(|p| p.origin == origin && p.alternative == alternative).map(|p| p.value);
            match value {
                Some(v) => done.push_str(&significant15(v)),
                None => done.push_str(&after[..t.1]),
            }
            rest = &after[t.1..];
        }
        done.push_str(rest);
        out.push_str(&done);
        at = end;
    }
    out.push_str(&source[at..]);
    out
}

fn top_level_semicolons(text: &str) -> usize {
    let mut depth = 0i32;
    let mut n = 0;
    for c in text.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' if depth == 0 => n += 1,
            _ => {}
        }
    }
    n
}

/// The next `t(…)` annotation in `text` before `::` (offset, length), the
/// heads' annotations only (not a `t(` in a body).
fn find_annotation(text: &str) -> Option<(usize, usize)> {
    let body = text.find(":-").unwrap_or(text.len());
    let mut from = 0;
    while let Some(i) = text[from..body].find("t(") {
        let i = from + i;
        let boundary = i == 0 || !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let close = text[i..].find(')').map(|c| i + c + 1);
        if let (true, Some(close)) = (boundary, close) {
            if text[close..].trim_start().starts_with("::") {
                return Some((i, close - i));
            }
        }
        from = i + 2;
    }
    None
}

/// `x` with 15 significant digits (ProbLog writes its learned model so).
fn significant15(x: f64) -> String {
    let s = crate::cli::c_general(x, 15);
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The lines of the statements with a `t(…)` annotation that no
/// parameter comes from: no instance of them is reached by any
/// interpretation (a rule whose body never holds, or one nothing observed
/// depends on). They keep their initial values.
fn unreached(model: &Model, parameters: &[Parameter]) -> Vec<usize> {
    let source = model.source();
    let mut offset = 0;
    let mut lines = Vec::new();
    for (n, line) in source.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        let start = offset + (line.len() - trimmed.len());
        offset += line.len();
        if trimmed.starts_with('%') || find_annotation(trimmed).is_none() {
            continue;
        }
        let covered = parameters.iter().any(|p| (p.origin.0 as usize) <= start && start < p.origin.1 as usize);
        if !covered {
            lines.push(n + 1);
        }
    }
    lines
}

/// Of the unreached `t(…)` statements (`lines`), a rule whose body can
/// never hold — grounded with its heads asked, it still has no instance —
/// is an error at its line: nothing can be learned of it, whatever the
/// interpretations. (One the interpretations merely do not reach keeps its
/// value, with a warning.)
fn never_holds(model: &Model, lines: &[usize]) -> Result<(), Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let source = model.source();
    let Ok(parsed) = deeplog_language::parse(source) else { return Ok(()) };
    let line_of = |offset: usize| source[..offset.min(source.len())].matches('\n').count() + 1;
    for clause in &parsed.clauses {
        let line = line_of(clause.span.start);
        if !lines.contains(&line) {
            continue;
        }
        let Some((":-", [head, _])) = clause.term.as_compound() else { continue };
        // The heads, their annotations taken off.
        let mut heads = Vec::new();
        let mut stack = vec![head];
        while let Some(t) = stack.pop() {
            match t.as_compound() {
                Some((";", [a, b])) => {
                    stack.push(b);
                    stack.push(a);
                }
                Some(("::", [_, h])) => heads.push(&source[h.span.start..h.span.end]),
                _ => heads.push(&source[t.span.start..t.span.end]),
            }
        }
        let asked: String = heads.iter().map(|h| format!("\nquery({h}).")).collect();
        let Ok(probe) = model.with_source_appended(&asked) else { continue };
        let Ok(program) = probe.ground_program(&QueryOptions::default()) else { continue };
        let start = clause.span.start as u32;
        let instances = program.origins.choices.iter().any(|o| o.start <= start && start < o.end);
        if !instances {
            return Err(Error::Input(format!(
                "{}:{line}: `t(…)` on a rule whose body can never hold: nothing can be learned of it",
                model.name()
            )));
        }
    }
    Ok(())
}

/// One interpretation of an evidence file: its atoms and values, and the
/// line each was written on.
#[derive(Clone, Debug, PartialEq)]
pub struct Interpretation {
    pub evidence: Vec<(String, bool)>,
    pub lines: Vec<usize>,
}

/// Reads ProbLog's evidence format: `evidence(atom).` or `evidence(atom,
/// true|false).` statements, interpretations separated by a line of dashes
/// (`---`), `%` comments. A malformed line is an error naming it.
pub fn read_interpretations(text: &str) -> Result<Vec<Interpretation>, (usize, String)> {
    let mut out = Vec::new();
    let mut current = Interpretation { evidence: Vec::new(), lines: Vec::new() };
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.split('%').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.len() >= 3 && line.chars().all(|c| c == '-') {
            out.push(std::mem::replace(&mut current, Interpretation { evidence: Vec::new(), lines: Vec::new() }));
            continue;
        }
        let mut rest = line;
        while !rest.is_empty() {
            let Some(inner_start) = rest.strip_prefix("evidence(") else {
                return Err((
                    line_no,
                    format!("expected `evidence(atom, true).` or `evidence(atom, false).`, found `{rest}`"),
                ));
            };
            // The matching parenthesis, and the top-level commas inside.
            let (mut depth, mut close, mut last_comma) = (1i32, None, None);
            let mut quoted = false;
            for (i, c) in inner_start.char_indices() {
                match c {
                    '\'' | '"' => quoted = !quoted,
                    '(' | '[' if !quoted => depth += 1,
                    ')' | ']' if !quoted => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(i);
                            break;
                        }
                    }
                    ',' if !quoted && depth == 1 => last_comma = Some(i),
                    _ => {}
                }
            }
            let Some(close) = close else {
                return Err((line_no, format!("`{rest}`: the parenthesis of `evidence(` is never closed")));
            };
            let inner = &inner_start[..close];
            let (atom, value) = match last_comma.map(|c| (inner[..c].trim(), inner[c + 1..].trim())) {
                Some((atom, "true")) => (atom, true),
                Some((atom, "false")) => (atom, false),
                Some((_, other))
                    if !other.contains('(')
                        && other.chars().all(|c| c.is_alphanumeric() || c == '_')
                        && other.chars().next().is_some_and(|c| c.is_lowercase()) =>
                {
                    return Err((line_no, format!("`{other}` is not a truth value: write true or false")));
                }
                _ => (inner.trim(), true),
            };
            if atom.is_empty() {
                return Err((line_no, "`evidence()` names no atom".to_string()));
            }
            let after = inner_start[close + 1..].trim_start();
            let Some(after) = after.strip_prefix('.') else {
                return Err((line_no, format!("`evidence({inner})` must end with a full stop")));
            };
            current.evidence.push((atom.to_string(), value));
            current.lines.push(line_no);
            rest = after.trim_start();
        }
    }
    if !current.evidence.is_empty() || out.is_empty() {
        out.push(current);
    }
    out.retain(|i| !i.evidence.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_problogs_evidence_format() {
        let text = "% a comment\nevidence(burglary,false).\nevidence(calls(john, x), true). evidence(alarm).\n\
                    ----------------\nevidence(earthquake , false).\n---\n\n";
        let got = read_interpretations(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].evidence,
            vec![("burglary".into(), false), ("calls(john, x)".into(), true), ("alarm".into(), true)]
        );
        assert_eq!(got[0].lines, vec![2, 3, 3]);
        assert_eq!(got[1].evidence, vec![("earthquake".into(), false)]);
        assert_eq!(read_interpretations("evidence(a, maybe).\n").unwrap_err().0, 1);
        assert_eq!(read_interpretations("evidence(a).\nquery(b).\n").unwrap_err().0, 2);
        assert_eq!(read_interpretations("evidence(a, true)\n").unwrap_err().0, 1);
        assert_eq!(read_interpretations("\n\nevidence(f(a, true).\n").unwrap_err().0, 3);
    }

    #[test]
    fn names_and_the_learned_program_come_from_the_statements() {
        let source = "t(0.5)::burglary.\n0.2::earthquake.\nt(_)::a; 0.2::b; t(_)::c :- earthquake.\n";
        let a = source.find("t(_)::a").unwrap() as u32;
        let end = source.len() as u32 - 1;
        let params = vec![
            Parameter { origin: (0, 17), alternative: 0, rows: vec![], value: 1.0 / 3.0 },
            Parameter { origin: (a, end), alternative: 0, rows: vec![], value: 0.25 },
            Parameter { origin: (a, end), alternative: 2, rows: vec![], value: 0.5 },
        ];
        assert_eq!(annotation_name(source, (0, 17), 0), "t(0.5)::burglary");
        assert_eq!(annotation_name(source, (a, end), 2), "t(_)::c");
        assert_eq!(
            learned_program(source, &params),
            "0.333333333333333::burglary.\n0.2::earthquake.\n0.25::a; 0.2::b; 0.5::c :- earthquake.\n"
        );
    }
}
