//! Stratification: a predicate's stratum orders it after the predicates
//! whose complete answers it needs, so that a negation or `findall/3`
//! can wait until its call is complete.

use super::clauses::{Lit, Pred, Program};
use super::{GroundError, PredId};
use crate::syntax::Span;

/// One dependency between predicates: `head` needs `callee` answered
/// first, `step` strata below it (1 for a negation or `findall/3` that
/// waits, 0 for a call).
#[derive(Clone, Copy)]
struct Edge {
    head: PredId,
    callee: PredId,
    step: u32,
    negation: bool,
    span: Span,
}

/// Strata: a predicate's stratum is above those of the predicates it
/// negates or aggregates, and at least those it calls. Where negation runs
/// through recursion, strata order the aggregates alone and negations are
/// grounded locally ([`Program::local_negation`]); aggregation through
/// recursion is an error.
pub(super) fn stratify(program: &mut Program) -> Result<(), GroundError> {
    let mut edges = Vec::new();
    // A goal built while grounding (`call(G)`) may reach any predicate
    // whose name the program writes as data.
    let reachable: Vec<PredId> =
        (0..program.preds.len() as PredId).filter(|&p| program.reachable[p as usize]).collect();
    for c in &program.clauses {
        for (head, _) in c.heads.iter() {
            for lit in c.body.iter() {
                let (callee, step, negation) = match lit {
                    Lit::Call { pred, .. } => (*pred, 0, false),
                    Lit::Not { pred, .. } => (*pred, 1, true),
                    Lit::Findall { pred, .. } => (*pred, 1, false),
                    Lit::Builtin { .. } => continue,
                    Lit::Dynamic { .. } => {
                        edges.extend(reachable.iter().map(|&callee| Edge {
                            head: *head,
                            callee,
                            step: 0,
                            negation: false,
                            span: c.span,
                        }));
                        continue;
                    }
                };
                edges.push(Edge { head: *head, callee, step, negation, span: c.span });
            }
        }
    }
    if strata(&mut program.preds, &edges).is_ok() {
        return Ok(());
    }
    for e in edges.iter_mut().filter(|e| e.negation) {
        e.step = 0;
    }
    match strata(&mut program.preds, &edges) {
        Ok(()) => {
            program.local_negation = true;
            Ok(())
        }
        Err(span) => Err(GroundError::new(
            span,
            "aggregation through recursion: deeplog grounds `findall/3` only over stratified programs",
        )),
    }
}

/// Gives each predicate the least stratum that `edges` allow: its callees'
/// strata plus each edge's step. Predicates that call each other (one
/// strongly connected component) share a stratum, so an edge with a step
/// inside a component has no solution: its clause's span is the error.
///
/// Linear in predicates and edges: components are found by an iterative
/// Tarjan, which completes a component only after every component it
/// reaches, so each component's stratum is computed once, from final ones.
fn strata(preds: &mut [Pred], edges: &[Edge]) -> Result<(), Span> {
    let n = preds.len();
    // Edges by head, in CSR form.
    let mut start = vec![0usize; n + 1];
    for e in edges {
        start[e.head as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut out = vec![0u32; edges.len()];
    for (k, e) in edges.iter().enumerate() {
        out[fill[e.head as usize]] = k as u32;
        fill[e.head as usize] += 1;
    }
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    // (predicate, next edge to look at) for the depth-first walk.
    let mut walk: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut components = 0u32;
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        walk.push((root, start[root as usize]));
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&(v, at)) = walk.last() {
            let vi = v as usize;
            if at < start[vi + 1] {
                let top = walk.len() - 1;
                walk[top].1 += 1;
                let w = edges[out[at] as usize].callee;
                let wi = w as usize;
                if index[wi] == UNSEEN {
                    index[wi] = next_index;
                    low[wi] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[wi] = true;
                    walk.push((w, start[wi]));
                } else if on_stack[wi] {
                    low[vi] = low[vi].min(index[wi]);
                }
                continue;
            }
            walk.pop();
            if let Some(&(parent, _)) = walk.last() {
                low[parent as usize] = low[parent as usize].min(low[vi]);
            }
            if low[vi] != index[vi] {
                continue;
            }
            // `v` roots a component: its members are on the stack above it,
            // and every component they reach has its stratum already.
            let first = stack.iter().rposition(|&u| u == v).expect("a root is on the stack");
            let id = components;
            components += 1;
            for &u in &stack[first..] {
                component[u as usize] = id;
                on_stack[u as usize] = false;
            }
            let mut stratum = 0;
            for &u in &stack[first..] {
                for &k in &out[start[u as usize]..start[u as usize + 1]] {
                    let e = &edges[k as usize];
                    if component[e.callee as usize] == id {
                        if e.step > 0 {
                            return Err(e.span);
                        }
                    } else {
                        stratum = stratum.max(preds[e.callee as usize].stratum + e.step);
                    }
                }
            }
            for &u in &stack[first..] {
                preds[u as usize].stratum = stratum;
            }
            stack.truncate(first);
        }
    }
    Ok(())
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
    fn a_chain_of_negations_climbs_one_stratum_per_link() {
        let source = "0.5::p3.\np0 :- \\+ p1.\np1 :- \\+ p2.\np2 :- \\+ p3.\nq :- p0, p2.\nquery(q).\n";
        assert_eq!(strata_of(source, &["p3", "p2", "p1", "p0", "q"]), Ok((vec![0, 1, 2, 3, 3], false)));
        let source = "0.5::e.\na :- b, \\+ e.\nb :- a.\nb :- e.\nc :- \\+ a.\nquery(c).\n";
        assert_eq!(strata_of(source, &["e", "a", "b", "c"]), Ok((vec![0, 1, 1, 2], false)));
    }

    #[test]
    fn aggregation_through_recursion_is_an_error() {
        let source = "n(0).\nn(X) :- findall(Y, n(Y), L), length(L, X), X < 3.\nquery(n(_)).\n";
        let message = strata_of(source, &["n"]).unwrap_err();
        assert!(message.starts_with("aggregation through recursion"), "{message}");
    }
}
