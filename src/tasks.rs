//! ProbLog's tasks beyond marginals, on the compiled circuit: the most
//! probable explanation ([`Model::mpe`]) and the most probable assignment of
//! some facts with the rest summed out ([`Model::map`]).
//!
//! **MPE** is max-product over the circuit of the evidence. A fact's two
//! literals weigh `p` and `1 − p`; an annotated disjunction is a chain of
//! slots (alternative `i` true when slot `i` is and the earlier ones are
//! not, slot `i` weighing `c_i = p_i / (1 − p_1 − … − p_{i−1})`), and the
//! slots after the chosen alternative must be summed out, not maximised. So
//! each chain's weights are rescaled: with `A_{k+1} = 1` and `A_j =
//! max(c_j, (1 − c_j) · A_{j+1})` (the best completion of the chain from
//! `j` on, given the earlier slots false), slot `j` weighs `c_j / A_j` true
//! and `(1 − c_j) · A_{j+1} / A_j` false. Every slot's larger weight is then
//! 1, so a slot the circuit leaves free costs nothing, and a chain whose
//! first true slot is `i` weighs exactly `p_i / A_1` however its later slots
//! are set (they telescope away): the heaviest path of the smoothed circuit,
//! times `Π A_1` over the chains, is the most probable world's probability,
//! exactly. A chain the evidence does not constrain takes its most probable
//! alternative.
//!
//! **MAP** enumerates the assignments of the asked facts (at most
//! [`MAP_MAX_FACTS`]) as the columns of one batched evaluation of the
//! evidence's circuit, each with those facts' weights set to 0 or 1.

use deeplog_circuits::explain::heaviest;
use deeplog_circuits::properties::smooth;
use deeplog_circuits::{Circuit, CpuEvaluator, LayeredCircuit, Node, Weights};
use deeplog_semirings::Probability;

use deeplog_program::{AtomId, GroundProgram};

use crate::compiled::{choice_namer, CompiledModel};
use crate::error::Error;
use crate::model::{Model, QueryOptions};

/// The most facts `map` enumerates the assignments of (2^20 columns).
pub const MAP_MAX_FACTS: usize = 20;

/// The most probable explanation: a world of the probabilistic choices the
/// queries and evidence depend on, the most probable one where the evidence
/// holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Mpe {
    /// `P(world ∧ evidence)`, over the choices the program's queries and
    /// evidence depend on (ProbLog's).
    pub probability: f64,
    /// Every probabilistic fact and alternative of those choices, in
    /// grounding order, with its value in the world.
    pub facts: Vec<(String, bool)>,
    /// Every query, with its value in the world.
    pub queries: Vec<(String, bool)>,
}

/// The most probable assignment of the asked facts, the rest summed out.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// `P(assignment ∧ evidence)`.
    pub probability: f64,
    /// Each asked fact (the model's queries), in their order, with its value.
    pub assignment: Vec<(String, bool)>,
}

/// A chain's best completions: `A_j = max(c_j, (1 − c_j) · A_{j+1})` from
/// `A_{k+1} = last` (see the module's documentation), for its conditional
/// probabilities `c_1 … c_k`.
pub(crate) fn completions(conditionals: &[f64], last: f64) -> Vec<f64> {
    let mut best = vec![last; conditionals.len() + 1];
    for (j, &c) in conditionals.iter().enumerate().rev() {
        best[j] = c.max((1.0 - c) * best[j + 1]);
    }
    best
}

/// `ln` of a chain slot's rescaled weights, true and false: `c_j / A_j` and
/// `(1 − c_j) · A_{j+1} / A_j` (each slot's larger one is 1).
pub(crate) fn rescaled(c: f64, best: f64, next: f64) -> (f64, f64) {
    let ratio = |x: f64| if best > 0.0 { (x / best).ln() } else { f64::NEG_INFINITY };
    (ratio(c), ratio((1.0 - c) * next))
}

/// Per atom, whether the queries or the evidence depend on it: reached from
/// them through the rules (ProbLog's relevant ground program).
fn reachable(program: &GroundProgram) -> Vec<bool> {
    let mut rules_of: Vec<Vec<usize>> = vec![Vec::new(); program.atoms.len()];
    for (i, rule) in program.rules.iter().enumerate() {
        rules_of[rule.head.index()].push(i);
    }
    let mut seen = vec![false; program.atoms.len()];
    let mut stack: Vec<AtomId> = program.queries.iter().filter_map(|q| q.atom_id()).collect();
    stack.extend(program.evidence.iter().map(|&(a, _)| a));
    while let Some(atom) = stack.pop() {
        if std::mem::replace(&mut seen[atom.index()], true) {
            continue;
        }
        for &r in &rules_of[atom.index()] {
            stack.extend(program.rules[r].body.iter().map(|&(a, _)| a));
        }
    }
    seen
}

/// One choice the queries or evidence depend on, as MPE sees it.
struct Relevant {
    /// Its alternatives the queries or evidence depend on: (atom, own
    /// probability, slot in the circuit if it has one).
    alternatives: Vec<(AtomId, f64, Option<usize>)>,
    /// The circuit's slots of the choice, in chain order, and each one's
    /// conditional probability with the alternatives nothing depends on
    /// given none (0): the circuit cannot tell those from "none of them",
    /// and ProbLog weighs a disjunction over its relevant heads alone.
    chain: Vec<(usize, f64)>,
    /// `A_j` of the chain (see the module's documentation), the last one
    /// the best of what the chain leaves (`bucket`) given the chain false.
    best: Vec<f64>,
    /// The best that is left when every slot of the chain is false: "none"
    /// (with the alternatives nothing depends on) or a relevant
    /// alternative the circuit does not mention, `(probability, which)`.
    bucket: (f64, Option<usize>),
}

fn relevant_choices(program: &GroundProgram, compiled: &CompiledModel) -> Vec<Relevant> {
    let reached = reachable(program);
    let mut slots_of: Vec<Vec<usize>> = vec![Vec::new(); program.choices.len()];
    for (s, info) in compiled.slots.iter().enumerate() {
        slots_of[info.choice].push(s);
    }
    let mut out = Vec::new();
    for (c, choice) in program.choices.iter().enumerate() {
        let mut chain_slots = std::mem::take(&mut slots_of[c]);
        chain_slots.sort_by_key(|&s| compiled.slots[s].alternative);
        let slot_of = |k: usize| chain_slots.iter().copied().find(|&s| compiled.slots[s].alternative == k);
        let all: Vec<(AtomId, f64)> = choice.alternatives().collect();
        let alternatives: Vec<(AtomId, f64, Option<usize>)> = all
            .iter()
            .enumerate()
            .filter(|(_, (atom, _))| reached[atom.index()])
            .map(|(k, &(atom, p))| (atom, p, slot_of(k)))
            .collect();
        if alternatives.is_empty() {
            continue;
        }
        // The chain's conditionals over the relevant alternatives.
        let mut kept = 0.0;
        let mut chain = Vec::with_capacity(chain_slots.len());
        for &s in &chain_slots {
            let (atom, p) = all[compiled.slots[s].alternative];
            let own = if reached[atom.index()] { p } else { 0.0 };
            let c = if 1.0 - kept > 0.0 { (own / (1.0 - kept)).clamp(0.0, 1.0) } else { 0.0 };
            kept += own;
            chain.push((s, c));
        }
        let rest = (1.0 - kept).max(0.0);
        let absent: Vec<(usize, f64)> =
            alternatives.iter().enumerate().filter(|(_, a)| a.2.is_none()).map(|(k, a)| (k, a.1)).collect();
        let mut bucket = ((rest - absent.iter().map(|a| a.1).sum::<f64>()).max(0.0), None);
        for &(k, p) in &absent {
            if p > bucket.0 {
                bucket = (p, Some(k));
            }
        }
        let conditionals: Vec<f64> = chain.iter().map(|&(_, c)| c).collect();
        let best = completions(&conditionals, if rest > 0.0 { bucket.0 / rest } else { 1.0 });
        out.push(Relevant { alternatives, chain, best, bucket });
    }
    out
}

/// The value of each root under a world (`value[slot]`).
fn truth(circuit: &Circuit, world: &[bool]) -> Vec<bool> {
    let mut value = Vec::with_capacity(circuit.num_nodes());
    for node in circuit.nodes() {
        let v = match node {
            Node::False => false,
            Node::True => true,
            Node::Literal(l) => world[l.slot.0 as usize] == l.positive,
            Node::Product(cs) => cs.iter().all(|c| value[c.index()]),
            Node::Sum(cs) => cs.iter().any(|c| value[c.index()]),
        };
        value.push(v);
    }
    circuit.roots().iter().map(|r| value[r.index()]).collect()
}

impl Model {
    /// The most probable explanation (ProbLog's `mpe`): the most probable
    /// world of the choices the queries and evidence depend on, among those
    /// where the evidence holds, with the queries' values in it. Without
    /// queries or evidence nothing is relevant: probability 1, no facts.
    pub fn mpe(&self, options: &QueryOptions) -> Result<Mpe, Error> {
        let (program, compiled) = self.compile_grounded(options)?;
        mpe_of(&program, &compiled)
    }

    /// The most probable assignment of the model's query atoms, each a
    /// probabilistic fact, with every other choice summed out (exact
    /// maximum a posteriori), given the evidence.
    pub fn map(&self, options: &QueryOptions) -> Result<Map, Error> {
        let compiled = self.compile(options)?;
        map_of(&compiled)
    }
}

fn mpe_of(program: &GroundProgram, compiled: &CompiledModel) -> Result<Mpe, Error> {
    let choices = relevant_choices(program, compiled);
    let slots = compiled.slots.len();
    let mut log_weight = vec![(f64::NEG_INFINITY, 0.0f64); slots];
    for choice in &choices {
        for (j, &(s, c)) in choice.chain.iter().enumerate() {
            log_weight[s] = rescaled(c, choice.best[j], choice.best[j + 1]);
        }
    }
    // The slots the evidence fixes (or leaves free: None).
    let mut fixed: Vec<Option<bool>> = vec![None; slots];
    let mut heaviest_value = None;
    if let Some(root) = compiled.evidence_root {
        let smoothed = smooth(&compiled.circuit, false);
        let weight = |l: deeplog_circuits::Literal| {
            let (t, f) = log_weight[l.slot.0 as usize];
            if l.positive {
                t
            } else {
                f
            }
        };
        let Some((value, literals)) = heaviest(&smoothed, smoothed.roots()[root], weight) else {
            return Err(Error::ImpossibleEvidence(compiled.evidence.clone()));
        };
        for l in literals {
            fixed[l.slot.0 as usize] = Some(l.positive);
        }
        heaviest_value = Some(value);
    }
    // Each choice's alternative: the first slot of its chain set true;
    // where the circuit left the rest free, the most probable completion.
    let mut world = vec![false; slots];
    let mut probability = 1.0;
    let mut facts = Vec::new();
    let name = choice_namer(program);
    for choice in &choices {
        let mut rest = 1.0; // P(the earlier slots false)
        let mut chosen_slot = None;
        for (j, &(s, c)) in choice.chain.iter().enumerate() {
            let take = match fixed[s] {
                Some(v) => v,
                // Free: the circuit holds whichever way it goes (the path
                // is an implicant without it), so the more probable.
                None => c > 0.0 && c >= (1.0 - c) * choice.best[j + 1],
            };
            if take {
                chosen_slot = Some(s);
                rest *= c;
                break;
            }
            rest *= 1.0 - c;
        }
        let chosen = match chosen_slot {
            Some(s) => {
                world[s] = true;
                choice.alternatives.iter().position(|a| a.2 == Some(s))
            }
            None => {
                // Every slot false: the best of what the chain leaves.
                rest = choice.bucket.0;
                choice.bucket.1
            }
        };
        probability *= rest;
        for (k, &(atom, _, _)) in choice.alternatives.iter().enumerate() {
            facts.push((name(atom), chosen == Some(k)));
        }
    }
    if probability <= 0.0 {
        return Err(Error::ImpossibleEvidence(compiled.evidence.clone()));
    }
    if let Some(value) = heaviest_value {
        // The world found weighs what the heaviest path promised.
        let scale: f64 = choices.iter().map(|c| c.best[0]).product();
        debug_assert!(
            (probability - value.exp() * scale).abs() <= 1e-9 * probability.max(1e-300),
            "{probability} vs {}",
            value.exp() * scale
        );
    }
    let values = truth(&compiled.circuit, &world);
    if let Some(root) = compiled.evidence_root {
        if !values[root] {
            return Err(Error::Unsupported(format!(
                "internal: the most probable world found does not satisfy the evidence ({}); please report this",
                compiled.evidence
            )));
        }
    }
    let queries = compiled.queries.iter().map(|q| (q.query.clone(), q.root.is_some_and(|r| values[r]))).collect();
    Ok(Mpe { probability, facts, queries })
}

fn map_of(compiled: &CompiledModel) -> Result<Map, Error> {
    let slots = &compiled.slots;
    if compiled.queries.is_empty() {
        return Err(Error::Input(
            "map maximises over the model's query atoms, and it has none: add `query(f).` for each fact to assign"
                .into(),
        ));
    }
    let mut asked = Vec::with_capacity(compiled.queries.len());
    for q in &compiled.queries {
        let slot = slots.iter().position(|s| s.name == q.query);
        match slot {
            Some(s) if !compiled.disjunctive[s] => asked.push(s),
            Some(_) => {
                return Err(Error::Unsupported(format!(
                    "map: `{}` is an alternative of an annotated disjunction; map assigns probabilistic facts \
                     (ask `deeplog mpe` for the most probable world)",
                    q.query
                )))
            }
            None => {
                return Err(Error::Input(format!(
                    "map: the query `{}` is not a probabilistic fact; map assigns probabilistic facts only (ask \
                     `deeplog mpe` for derived atoms' values in the most probable world)",
                    q.query
                )))
            }
        }
    }
    if asked.len() > MAP_MAX_FACTS {
        return Err(Error::Unsupported(format!(
            "map over {} facts: deeplog enumerates the assignments of at most {MAP_MAX_FACTS} facts",
            asked.len()
        )));
    }
    let n = asked.len();
    let prior = |bits: usize| -> f64 {
        asked
            .iter()
            .enumerate()
            .map(|(k, &s)| if bits >> k & 1 == 1 { slots[s].probability } else { 1.0 - slots[s].probability })
            .product()
    };
    let columns = 1usize << n;
    let mut best: Option<(f64, usize)> = None;
    match compiled.evidence_root {
        None => {
            for bits in 0..columns {
                let p = prior(bits);
                if best.is_none_or(|(b, _)| p > b) {
                    best = Some((p, bits));
                }
            }
        }
        Some(root) => {
            let layered = LayeredCircuit::new(&compiled.circuit);
            let eval = CpuEvaluator::<Probability<f64>>::new(&layered)?;
            const CHUNK: usize = 4096;
            for start in (0..columns).step_by(CHUNK) {
                let batch = CHUNK.min(columns - start);
                let mut w = Vec::with_capacity(slots.len() * batch);
                for (s, info) in slots.iter().enumerate() {
                    match asked.iter().position(|&a| a == s) {
                        Some(k) => w.extend((start..start + batch).map(|bits| (bits >> k & 1) as f64)),
                        None => w.extend(std::iter::repeat_n(info.probability, batch)),
                    }
                }
                let values = eval.forward(&Weights::complementary(batch, w))?;
                for b in 0..batch {
                    let p = values[root * batch + b] * prior(start + b);
                    if best.is_none_or(|(v, _)| p > v) {
                        best = Some((p, start + b));
                    }
                }
            }
        }
    }
    let (probability, bits) = best.unwrap_or((0.0, 0));
    if probability <= 0.0 {
        return Err(Error::ImpossibleEvidence(compiled.evidence.clone()));
    }
    let assignment = asked.iter().enumerate().map(|(k, &s)| (slots[s].name.clone(), bits >> k & 1 == 1)).collect();
    Ok(Map { probability, assignment })
}

/// The best strategy of decision-theoretic ProbLog (`deeplog dt`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dt {
    /// Each decision the utilities depend on, by name, with its value in
    /// the strategy.
    pub decisions: Vec<(String, bool)>,
    /// The strategy's expected utility: `Σ value · P(atom | evidence)` over
    /// the `utility(atom, value)` facts (each ground instance of a
    /// non-ground atom counting once).
    pub score: f64,
}

/// How `dt` searches the strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtSearch {
    /// Every strategy (at most [`DT_MAX_EXHAUSTIVE`] decisions).
    Exhaustive,
    /// Steepest ascent from all decisions false, one decision flipped at a
    /// time, until no flip improves (ProbLog's `--search local`).
    Local,
}

/// The most decisions `dt` searches exhaustively.
pub const DT_MAX_EXHAUSTIVE: usize = 20;

/// Whether a ground term (`term`) is an instance of `pattern`.
fn instance_of(
    pattern: &deeplog_language::Term,
    term: &deeplog_language::Term,
    bound: &mut Vec<(String, String)>,
) -> bool {
    use deeplog_language::TermKind as K;
    match (&pattern.kind, &term.kind) {
        (K::Var(v), _) if v == "_" => true,
        (K::Var(v), _) => {
            let text = format!("{term:?}");
            if let Some((_, b)) = bound.iter().find(|(n, _)| n == v) {
                return *b == text;
            }
            bound.push((v.clone(), text));
            true
        }
        (K::Compound { functor: f, args: a }, K::Compound { functor: g, args: b }) => {
            f == g && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| instance_of(x, y, bound))
        }
        (K::Atom(x), K::Atom(y)) => x == y,
        (K::Int(x), K::Int(y)) => x == y,
        (K::Float(x), K::Float(y)) => x == y,
        (K::Int(x), K::Float(y)) | (K::Float(y), K::Int(x)) => (*x as f64) == *y,
        (K::Str(x), K::Str(y)) => x == y,
        _ => false,
    }
}

/// The first term of `text` parsed as a clause's term.
fn term_of(text: &str) -> Option<deeplog_language::Term> {
    let program = deeplog_language::parse(&format!("{text}.")).ok()?;
    program.clauses.into_iter().next().map(|c| c.term)
}

impl Model {
    /// Decision-theoretic ProbLog (`deeplog dt`): the strategy — a value for
    /// each decision `?::d.` — with the highest expected utility over the
    /// model's `utility(atom, value)` facts, exactly evaluated; searched
    /// exhaustively or locally.
    pub fn dt(&self, options: &QueryOptions, search: DtSearch) -> Result<Dt, Error> {
        let source = self.source();
        let parsed = deeplog_language::parse(source).map_err(|e| Error::Input(format!("{}: {e}", self.name())))?;
        // The utilities: (atom pattern, its text, value), and the decisions'
        // statements.
        let mut utilities: Vec<(deeplog_language::Term, String, f64)> = Vec::new();
        // The guard of `utility(A, V) :- Body.`, per utility (its instances
        // are those of `query(A) :- Body.`).
        let mut guards: Vec<Option<String>> = Vec::new();
        let mut decision_statements: Vec<(usize, String)> = Vec::new();
        let line_of = |offset: usize| source[..offset.min(source.len())].matches('\n').count() + 1;
        for clause in &parsed.clauses {
            let (fact, guard) = match clause.term.as_compound() {
                Some((":-", [head, body])) if matches!(head.as_compound(), Some(("utility", [_, _]))) => {
                    (head, Some(source[body.span.start..body.span.end].to_string()))
                }
                _ => (&clause.term, None),
            };
            match fact.as_compound() {
                Some(("utility", [atom, value])) => {
                    guards.push(guard);
                    let text = source[atom.span.start..atom.span.end].to_string();
                    let value_text = source[value.span.start..value.span.end].trim();
                    let Ok(v) = value_text.replace(' ', "").parse::<f64>() else {
                        return Err(Error::Input(format!(
                            "{}:{}: the utility of `{text}` is `{value_text}`, not a number",
                            self.name(),
                            line_of(clause.span.start)
                        )));
                    };
                    utilities.push((atom.clone(), text, v));
                }
                _ if matches!(&annotation_of(&clause.term), Some(a) if a == "?") => {
                    decision_statements
                        .push((clause.span.start, source[clause.span.start..clause.span.end].to_string()));
                }
                _ => {}
            }
        }
        if utilities.is_empty() {
            return Err(Error::Input(format!(
                "{}: dt needs `utility(Atom, Value).` facts to weigh the strategies by, and the model has none",
                self.name()
            )));
        }
        let mut extra = String::new();
        for ((_, text, _), guard) in utilities.iter().zip(&guards) {
            match guard {
                Some(body) => extra.push_str(&format!("\nquery({text}) :- {body}.")),
                None => extra.push_str(&format!("\nquery({text}).")),
            }
        }
        let augmented = self.with_source_appended(&extra)?;
        let (program, compiled) = augmented.compile_grounded(options)?;
        // Every `?::` statement must reach a utility: a decision nothing
        // depends on is most likely a mistake.
        for (start, text) in &decision_statements {
            let reached = program.decisions.iter().enumerate().any(|(c, &d)| {
                d && program
                    .origins
                    .choices
                    .get(c)
                    .is_some_and(|o| (o.start as usize) <= *start && *start < o.end as usize)
            });
            if !reached {
                return Err(Error::Input(format!(
                    "{}:{}: the decision `{}` affects no utility: no `utility(…)` atom depends on it",
                    self.name(),
                    line_of(*start),
                    text.trim_end_matches('.')
                )));
            }
        }
        let name = choice_namer(&program);
        let decision_slots: Vec<usize> = compiled
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| program.decisions.get(s.choice).copied().unwrap_or(false))
            .map(|(i, _)| i)
            .collect();
        // Per distinct query instance: the utility it earns when true.
        let mut seen = std::collections::HashSet::new();
        let mut earned: Vec<(usize, f64)> = Vec::new(); // (compiled query, value)
        for (k, q) in compiled.queries.iter().enumerate() {
            if !seen.insert(q.query.clone()) {
                continue;
            }
            let Some(term) = term_of(&q.query) else { continue };
            let value: f64 = utilities
                .iter()
                .filter(|(pattern, _, _)| instance_of(pattern, &term, &mut Vec::new()))
                .map(|(_, _, v)| v)
                .sum();
            if value != 0.0 {
                earned.push((k, value));
            }
        }
        let layered = LayeredCircuit::new(&compiled.circuit);
        let eval = CpuEvaluator::<Probability<f64>>::new(&layered)?;
        let n = decision_slots.len();
        // The scores of strategies (bit k: decision k true).
        let scores = |strategies: &[u64]| -> Result<Vec<f64>, Error> {
            let batch = strategies.len();
            let mut w = Vec::with_capacity(compiled.slots.len() * batch);
            for (s, info) in compiled.slots.iter().enumerate() {
                match decision_slots.iter().position(|&d| d == s) {
                    Some(k) => w.extend(strategies.iter().map(|&bits| (bits >> k & 1) as f64)),
                    None => w.extend(std::iter::repeat_n(info.probability, batch)),
                }
            }
            let roots = eval.forward(&Weights::complementary(batch, w))?;
            Ok((0..batch)
                .map(|b| {
                    let evidence = compiled.evidence_root.map_or(1.0, |e| roots[e * batch + b]);
                    if evidence <= 0.0 {
                        return f64::NEG_INFINITY;
                    }
                    earned
                        .iter()
                        .map(|&(k, v)| v * compiled.queries[k].root.map_or(0.0, |r| roots[r * batch + b]) / evidence)
                        .sum()
                })
                .collect())
        };
        let best = match search {
            DtSearch::Exhaustive => {
                if n > DT_MAX_EXHAUSTIVE {
                    return Err(Error::Unsupported(format!(
                        "{n} decisions: exhaustive search covers at most {DT_MAX_EXHAUSTIVE} (2^{DT_MAX_EXHAUSTIVE} \
                         strategies); use --search local"
                    )));
                }
                let mut best: Option<(f64, u64)> = None;
                let all = 1u64 << n;
                let mut start = 0u64;
                while start < all {
                    let chunk: Vec<u64> = (start..(start + 4096).min(all)).collect();
                    for (s, &bits) in scores(&chunk)?.iter().zip(&chunk) {
                        if best.is_none_or(|(b, _)| *s > b + 1e-12) {
                            best = Some((*s, bits));
                        }
                    }
                    start += 4096;
                }
                best
            }
            DtSearch::Local => {
                let mut current = 0u64;
                let mut value = scores(&[current])?[0];
                loop {
                    let flips: Vec<u64> = (0..n).map(|k| current ^ (1 << k)).collect();
                    if flips.is_empty() {
                        break;
                    }
                    let s = scores(&flips)?;
                    let (k, &v) =
                        s.iter().enumerate().fold((0, &f64::NEG_INFINITY), |a, b| if *b.1 > *a.1 { b } else { a });
                    if v > value + 1e-12 {
                        value = v;
                        current = flips[k];
                    } else {
                        break;
                    }
                }
                Some((value, current))
            }
        };
        let (score, bits) = best.unwrap_or((f64::NEG_INFINITY, 0));
        if !score.is_finite() {
            return Err(Error::ImpossibleEvidence(compiled.evidence.clone()));
        }
        let mut decisions: Vec<(String, bool)> = Vec::new();
        for (c, choice) in program.choices.iter().enumerate() {
            if !program.decisions.get(c).copied().unwrap_or(false) {
                continue;
            }
            for (k, (atom, _)) in choice.alternatives().enumerate() {
                let slot = compiled.slots.iter().position(|s| s.choice == c && s.alternative == k);
                let on =
                    slot.and_then(|s| decision_slots.iter().position(|&d| d == s)).is_some_and(|i| bits >> i & 1 == 1);
                decisions.push((name(atom), on));
            }
        }
        decisions.sort();
        decisions.dedup();
        Ok(Dt { decisions, score })
    }
}

/// The annotation atom of `term` when it is `A::h` or `A::h :- b`.
fn annotation_of(term: &deeplog_language::Term) -> Option<String> {
    let head = match term.as_compound() {
        Some((":-", [head, _])) => head,
        _ => term,
    };
    match head.as_compound() {
        Some(("::", [a, _])) => match &a.kind {
            deeplog_language::TermKind::Atom(x) => Some(x.clone()),
            _ => None,
        },
        _ => None,
    }
}
