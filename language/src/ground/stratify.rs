//! Stratification: a predicate's stratum orders it after the predicates
//! whose complete answers it needs, so that a negation or `findall/3`
//! can wait until its call is complete.

use super::clauses::{Lit, Pred, Program};
use super::{GroundError, PredId};
use crate::syntax::Span;

/// Strata: a predicate's stratum is above those of the predicates it
/// negates or aggregates, and at least those it calls. Where negation runs
/// through recursion, strata order the aggregates alone and negations are
/// grounded locally ([`Program::local_negation`]); aggregation through
/// recursion is an error.
pub(super) fn stratify(program: &mut Program) -> Result<(), GroundError> {
    let mut edges = Vec::new();
    for c in &program.clauses {
        for (head, _) in c.heads.iter() {
            for lit in c.body.iter() {
                match lit {
                    Lit::Call { pred, .. } => edges.push((*head, *pred, 0, false, c.span)),
                    Lit::Not { pred, .. } => edges.push((*head, *pred, 1, true, c.span)),
                    Lit::Findall { pred, .. } => edges.push((*head, *pred, 1, false, c.span)),
                    Lit::Builtin { .. } => {}
                }
            }
        }
    }
    if strata(&mut program.preds, &edges) {
        return Ok(());
    }
    for e in edges.iter_mut().filter(|e| e.3) {
        e.2 = 0;
    }
    program.preds.iter_mut().for_each(|p| p.stratum = 0);
    if strata(&mut program.preds, &edges) {
        program.local_negation = true;
        return Ok(());
    }
    let span = edges.iter().find(|e| e.2 == 1).map_or(Span::default(), |e| e.4);
    Err(GroundError::new(
        span,
        "aggregation through recursion: deeplog grounds `findall/3` only over stratified programs",
    ))
}

/// Raises each predicate's stratum to what `edges` (head, callee, step)
/// need; false where a cycle climbs without end.
fn strata(preds: &mut [Pred], edges: &[(PredId, PredId, u32, bool, Span)]) -> bool {
    for _ in 0..=preds.len() {
        let mut changed = false;
        for &(h, q, w, ..) in edges {
            let need = preds[q as usize].stratum + w;
            if preds[h as usize].stratum < need {
                preds[h as usize].stratum = need;
                changed = true;
            }
        }
        if !changed {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::compile::compile;
    use crate::check_source;
    use deeplog_program::terms::Terms;

    /// The stratum of each named predicate of `source` once compiled, and
    /// whether negation was left to local grounding; or the error message.
    fn strata_of(source: &str, names: &[&str]) -> Result<(Vec<u32>, bool), String> {
        let checked = check_source(source);
        let model = checked.model.as_ref().expect("the source parses");
        let mut terms = Terms::new();
        let program = compile(model, &mut terms).map_err(|e| e.message)?;
        let stratum = |name: &str| {
            let pred = program.preds.iter().find(|p| terms.text(p.name) == name).expect("a predicate of the source");
            pred.stratum
        };
        Ok((names.iter().map(|n| stratum(n)).collect(), program.local_negation))
    }

    #[test]
    fn a_negation_waits_one_stratum() {
        let source = "e(a, b).\nr(X, Y) :- e(X, Y).\nr(X, Z) :- r(X, Y), e(Y, Z).\n\
                      u(X, Y) :- e(X, _), e(_, Y), \\+ r(X, Y).\nv(X) :- u(X, _), \\+ e(X, X).\nquery(v(_)).\n";
        assert_eq!(strata_of(source, &["e", "r", "u", "v"]), Ok((vec![0, 0, 1, 1], false)));
    }

    #[test]
    fn negation_through_recursion_is_grounded_locally() {
        let source = "move(a, b).\nwin(X) :- move(X, Y), \\+ win(Y).\nquery(win(a)).\n";
        assert_eq!(strata_of(source, &["move", "win"]), Ok((vec![0, 0], true)));
    }

    #[test]
    fn aggregation_through_recursion_is_an_error() {
        let source = "n(0).\nn(X) :- findall(Y, n(Y), L), length(L, X), X < 3.\nquery(n(_)).\n";
        let message = strata_of(source, &["n"]).unwrap_err();
        assert!(message.starts_with("aggregation through recursion"), "{message}");
    }
}
