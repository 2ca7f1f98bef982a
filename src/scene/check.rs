//! Checking specifications against scene graphs: one compiled circuit per
//! graph structure (frames and objects), evaluated for a whole batch of
//! graphs at once; the most probable binding of each spec's outermost
//! variables, the alignment of a sequence's events to frames, and
//! gradients with respect to every probability of a graph.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::ops::Range;
use std::path::Path;

use deeplog_language::syntax::{LineCol, Term, TermKind};
use serde::Serialize;

use super::spec::{self, Spec, Translated};
use super::{Item, Kind, SceneGraph};
use crate::error::Error;
use crate::formulas::QueryAtom;
use crate::{Formulas, Logic, Model, QueryOptions};

/// A spec file, read and translated.
pub struct Scene {
    name: String,
    /// The file's other clauses (the specs blanked out).
    rules: String,
    specs: Vec<Spec>,
    /// Where each spec's `spec(…)` clause starts in the file.
    places: Vec<LineCol>,
    translated: Vec<Translated>,
    /// Every name the spec file mentions: a graph's atoms of other
    /// predicates cannot matter.
    mentioned: HashSet<String>,
    /// Predicates the specs and rules call and do not define: a graph's.
    undefined: Vec<(String, usize)>,
    /// Where circuits are evaluated: the CPU when `None`.
    gpu: Option<deeplog_gpu::Gpu>,
}

/// The most probable binding of a spec's outermost `exists` variables.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Binding {
    /// Variable → object.
    pub objects: Vec<(String, String)>,
    /// The probability that the spec's body holds under this binding.
    pub probability: f64,
}

/// One event of a sequence, aligned to frames.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alignment {
    /// The event as written.
    pub event: String,
    /// Per frame: the probability that the sequence holds (under the most
    /// probable binding) with this event at this frame.
    pub frames: Vec<f64>,
    /// The frame where that is largest.
    pub best_frame: usize,
}

/// One spec against one graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpecResult {
    pub spec: String,
    /// The probability (or truth, in a fuzzy logic) that the spec holds.
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alignment: Vec<Alignment>,
}

/// Every spec against one graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraphResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph: Option<String>,
    pub specs: Vec<SpecResult>,
}

/// The byte ranges of a model text that a spec's translation generated,
/// each with the spec's index: an error found there is the spec's.
type Generated = Vec<(Range<usize>, usize)>;

/// An item of a graph, by numbers: kind, name, objects, frame.
type Key = (Kind, u32, u32, u32, u32);

/// The specs' rules and queries compiled for one graph structure.
pub struct Compiled {
    formulas: Formulas,
    /// The names (categories, predicates) of the template's items.
    names: HashMap<String, u32>,
    /// Per input: the graph item whose probability it takes (0 when a
    /// graph lacks it), or none for the spec file's own facts.
    keys: Vec<Option<Key>>,
    /// Per input: the position of its item among the template's items.
    positions: Vec<Option<usize>>,
    /// Query index of each spec's root (none when it can never hold).
    roots: Vec<Option<usize>>,
    /// Per spec: (query index, objects) of each binding answer.
    bindings: Vec<Vec<(usize, Vec<String>)>>,
}

/// `term` with variables replaced by constants.
fn substitute(term: &Term, values: &HashMap<String, String>) -> Term {
    let kind = match &term.kind {
        TermKind::Var(v) => match values.get(v) {
            Some(c) => TermKind::Atom(c.clone()),
            None => TermKind::Var(v.clone()),
        },
        TermKind::Compound { functor, args } => {
            TermKind::Compound { functor: functor.clone(), args: args.iter().map(|a| substitute(a, values)).collect() }
        }
        TermKind::List { items, tail } => TermKind::List {
            items: items.iter().map(|a| substitute(a, values)).collect(),
            tail: tail.as_ref().map(|t| Box::new(substitute(t, values))),
        },
        other => other.clone(),
    };
    Term::new(kind, term.span)
}

impl Scene {
    /// Reads a spec file.
    pub fn from_file(path: &Path) -> Result<Scene, Error> {
        let source = deeplog_circuits::formats::read_text(path)?;
        Scene::from_source(&path.display().to_string(), &source)
    }

    /// Reads spec text; `name` is used in messages.
    pub fn from_source(name: &str, source: &str) -> Result<Scene, Error> {
        let at = |e: spec::SpecError| Error::Spec {
            file: name.to_string(),
            at: Some(e.span.line_col(source)),
            message: e.message,
        };
        let (specs, rules) = spec::extract(source).map_err(at)?;
        if specs.is_empty() {
            return Err(Error::Spec {
                file: name.to_string(),
                at: None,
                message: "no specifications: write spec(Name, Formula).".to_string(),
            });
        }
        let translated =
            specs.iter().enumerate().map(|(i, s)| spec::translate(s, i)).collect::<Result<Vec<_>, _>>().map_err(at)?;
        let mut all = rules.clone();
        all.push('\n');
        let mut generated = Generated::new();
        for (i, t) in translated.iter().enumerate() {
            let start = all.len();
            all.push_str(&t.rules);
            generated.push((start..all.len(), i));
        }
        let undefined = spec::undefined(&all);
        let mut mentioned = HashSet::new();
        if let Ok(program) = deeplog_language::parse(source) {
            program.clauses.iter().for_each(|c| names_in(&c.term, &mut mentioned));
        }
        let places = specs.iter().map(|s| s.span.line_col(source)).collect();
        let scene = Scene { name: name.to_string(), rules, specs, places, translated, mentioned, undefined, gpu: None };
        // The rest must be a valid model, with every predicate a graph
        // gives declared (its errors keep their lines: the rules come first).
        Model::from_source(name, &(all + &declarations(&scene.undefined))).map_err(|e| scene.locate(e, &generated))?;
        Ok(scene)
    }

    /// An error of a model built from the spec file, placed in the file:
    /// one found in the text a spec generated (its rules, its query) is
    /// that spec's, at its `spec(…)` clause, rather than at a line of the
    /// generated text that the file does not have. The file's own rules
    /// come first in every such model and keep their places.
    fn locate(&self, error: Error, generated: &Generated) -> Error {
        let (offset, message) = match &error {
            Error::Ground { source, .. } => (source.span.start, source.message.clone()),
            Error::Invalid(d) => match d.diagnostics.iter().find(|d| d.is_error()) {
                Some(first) => (first.span.start, first.message.clone()),
                None => return error,
            },
            _ => return error,
        };
        match generated.iter().find(|(range, _)| range.contains(&offset)) {
            Some(&(_, i)) => Error::Spec {
                file: self.name.clone(),
                at: Some(self.places[i]),
                message: format!("spec `{}`: {message}", self.specs[i].name),
            },
            None => error,
        }
    }

    pub fn specs(&self) -> &[Spec] {
        &self.specs
    }

    /// Evaluates (and differentiates) on `device`: a GPU (f32, through
    /// wgpu) for `gpu`, or for `auto` when there is one.
    pub fn on(mut self, device: crate::Device) -> Result<Scene, Error> {
        self.gpu = device.open()?;
        Ok(self)
    }

    /// `cpu`, or the GPU adapter's name.
    pub fn device(&self) -> String {
        self.gpu.as_ref().map_or_else(|| "cpu".to_string(), |g| g.name())
    }

    /// The predicates the specs call that neither the spec file nor
    /// `graph` defines (`falls/2`): they never hold on it — a typo, or a
    /// predicate the detector did not report.
    pub fn missing(&self, graph: &SceneGraph) -> Vec<String> {
        self.not_given(graph).iter().map(|(n, a)| format!("{n}/{a}")).collect()
    }

    /// The predicates the specs call that neither the file nor `graph`
    /// defines.
    fn not_given(&self, graph: &SceneGraph) -> Vec<&(String, usize)> {
        let given = graph.predicates();
        self.undefined.iter().filter(|(n, a)| !given.contains(&(n.as_str(), *a))).collect()
    }

    /// The model a graph structure gives: the file's rules, the specs'
    /// rules, `template`'s facts and the queries.
    pub fn model_text(&self, template: &SceneGraph, bindings: bool) -> String {
        self.model_and_generated(template, bindings).0
    }

    /// [`Scene::model_text`], and where each spec's rules and queries are
    /// in it.
    fn model_and_generated(&self, template: &SceneGraph, bindings: bool) -> (String, Generated) {
        let mut text = self.rules.clone();
        text.push('\n');
        let mut generated = Generated::new();
        for (i, t) in self.translated.iter().enumerate() {
            let start = text.len();
            text.push_str(&t.rules);
            generated.push((start..text.len(), i));
        }
        text.push_str(&template.to_model_of(true, Some(&self.mentioned)));
        text.push_str(&declarations(self.not_given(template)));
        for (i, t) in self.translated.iter().enumerate() {
            let start = text.len();
            let _ = writeln!(text, "query({}).", super::quote(&t.root));
            if let (true, Some(bind)) = (bindings, &t.bind) {
                let vars: Vec<&str> = t.binding.iter().map(String::as_str).collect();
                let _ = writeln!(text, "query({}({})).", super::quote(bind), vars.join(", "));
            }
            generated.push((start..text.len(), i));
        }
        (text, generated)
    }

    /// Compiles the specs for graphs of `template`'s structure.
    pub fn compile(&self, template: &SceneGraph, logic: Option<Logic>, bindings: bool) -> Result<Compiled, Error> {
        let (text, generated) = self.model_and_generated(template, bindings);
        let model = Model::from_source(&self.name, &text).map_err(|e| self.locate(e, &generated))?;
        let mut formulas = model
            .formulas(&QueryOptions { logic, ..QueryOptions::default() })
            .map_err(|e| self.locate(e, &generated))?;
        if let Some(gpu) = &self.gpu {
            formulas = formulas.on_gpu(gpu)?;
        }
        let (names, keys, positions) = self.keys(template, &formulas);
        let mut roots = vec![None; self.translated.len()];
        let mut found: Vec<Vec<(usize, Vec<String>)>> = vec![Vec::new(); self.translated.len()];
        for (q, answer) in formulas.query_atoms().iter().enumerate() {
            let Some(QueryAtom { predicate, args }) = answer else { continue };
            for (i, t) in self.translated.iter().enumerate() {
                if *predicate == t.root {
                    roots[i] = Some(q);
                } else if t.bind.as_ref() == Some(predicate) {
                    found[i].push((q, args.clone()));
                }
            }
        }
        Ok(Compiled { formulas, names, keys, positions, roots, bindings: found })
    }

    /// The names of `template`'s items and, per input of `formulas`, the
    /// item it stands for.
    #[allow(clippy::type_complexity)]
    fn keys(
        &self,
        template: &SceneGraph,
        formulas: &Formulas,
    ) -> (HashMap<String, u32>, Vec<Option<Key>>, Vec<Option<usize>>) {
        let mut names: HashMap<String, u32> = HashMap::new();
        let mut by_atom: HashMap<String, (Key, usize)> = HashMap::new();
        for (position, item) in template.items().iter().enumerate() {
            if !self.mentioned.contains(item.predicate()) {
                continue;
            }
            let next = names.len() as u32;
            let name = *names.entry(item.name.to_string()).or_insert(next);
            by_atom.insert(template.atom(item), (Self::key(item, name), position));
        }
        let found: Vec<Option<(Key, usize)>> =
            formulas.inputs().iter().map(|input| by_atom.get(&input.name).copied()).collect();
        let keys = found.iter().map(|f| f.map(|(k, _)| k)).collect();
        let positions = found.iter().map(|f| f.map(|(_, p)| p)).collect();
        (names, keys, positions)
    }

    fn key(item: &Item<'_>, name: u32) -> Key {
        (item.kind, name, item.a as u32, item.b as u32, item.frame as u32)
    }

    /// The input values `graph` gives `compiled`'s circuit.
    /// `aligned`: `graph` has the template's items in the template's order.
    fn values(compiled: &Compiled, graph: &SceneGraph, aligned: bool) -> Vec<f64> {
        if aligned {
            let probabilities = graph.probabilities();
            let inputs = compiled.formulas.inputs().iter().zip(&compiled.positions);
            return inputs.map(|(input, p)| p.map_or(input.value, |p| probabilities[p])).collect();
        }
        let mut probabilities: HashMap<Key, f64> = HashMap::new();
        for item in graph.items() {
            if let Some(&name) = compiled.names.get(item.name) {
                probabilities.insert(Self::key(&item, name), item.probability);
            }
        }
        compiled
            .formulas
            .inputs()
            .iter()
            .zip(&compiled.keys)
            .map(|(input, key)| match key {
                Some(key) => probabilities.get(key).copied().unwrap_or(0.0),
                None => input.value,
            })
            .collect()
    }

    /// Checks every spec against every graph: one compile per graph
    /// structure, one batched evaluation per structure. With `explain`,
    /// also the most probable binding of each spec and, for a single
    /// graph, the alignment of its sequence's events to frames.
    pub fn check(&self, graphs: &[SceneGraph], logic: Option<Logic>, explain: bool) -> Result<Vec<GraphResult>, Error> {
        // (structure, members)
        type Group = ((usize, Vec<String>), Vec<usize>);
        let mut groups: Vec<Group> = Vec::new();
        for (g, graph) in graphs.iter().enumerate() {
            let shape = graph.shape();
            match groups.iter_mut().find(|(s, _)| *s == shape) {
                Some((_, members)) => members.push(g),
                None => groups.push((shape, vec![g])),
            }
        }
        let mut results: Vec<Option<GraphResult>> = vec![None; graphs.len()];
        for (_, members) in &groups {
            let first = &graphs[members[0]];
            validate(first, &format!("graphs[{}]", members[0]))?;
            // A graph with the first one's items needs only its
            // probabilities checked; any other, everything.
            let mut alike = true;
            for &g in &members[1..] {
                let at = format!("graphs[{g}]");
                if first.same_items(&graphs[g]) {
                    graphs[g].probabilities_valid(&at)?;
                } else {
                    validate(&graphs[g], &at)?;
                    alike = false;
                }
            }
            let merged;
            let template = if alike {
                first
            } else {
                merged = union(members.iter().map(|&g| &graphs[g]));
                &merged
            };
            let compiled = self.compile(template, logic, explain)?;
            let batch = members.len();
            let columns: Vec<Vec<f64>> = members.iter().map(|&g| Self::values(&compiled, &graphs[g], alike)).collect();
            let rows = compiled.formulas.inputs().len();
            let mut values = vec![0.0; rows * batch];
            for (b, column) in columns.iter().enumerate() {
                for (r, &v) in column.iter().enumerate() {
                    values[r * batch + b] = v;
                }
            }
            let evaluations = compiled.formulas.evaluate_batch(&values, batch)?;
            for (b, &g) in members.iter().enumerate() {
                let queries = &evaluations[b].queries;
                let specs = self
                    .specs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let binding = compiled.bindings[i]
                            .iter()
                            .max_by(|a, b| queries[a.0].total_cmp(&queries[b.0]))
                            .filter(|_| explain)
                            .map(|(q, objects)| Binding {
                                objects: self.translated[i]
                                    .binding
                                    .iter()
                                    .cloned()
                                    .zip(objects.iter().cloned())
                                    .collect(),
                                probability: queries[*q],
                            });
                        let value = compiled.roots[i].map_or(0.0, |q| queries[q]);
                        SpecResult { spec: s.name.clone(), value, binding, alignment: Vec::new() }
                    })
                    .collect();
                results[g] = Some(GraphResult { graph: graphs[g].name.clone(), specs });
            }
        }
        let mut results: Vec<GraphResult> = results.into_iter().flatten().collect();
        if explain && graphs.len() == 1 {
            for (i, r) in results[0].specs.iter_mut().enumerate() {
                r.alignment = self.alignment(&graphs[0], i, r.binding.as_ref(), logic)?;
            }
        }
        Ok(results)
    }

    /// The gradient of spec `spec`'s value on `graph` with respect to each
    /// of the graph's probabilities, by atom (`category(o,c)`,
    /// `near(o1,o2,3)`): the value and `[(atom, ∂value/∂p)]`.
    pub fn gradient(
        &self,
        graph: &SceneGraph,
        spec: usize,
        logic: Option<Logic>,
    ) -> Result<(f64, Vec<(String, f64)>), Error> {
        validate(graph, "the graph")?;
        if spec >= self.specs.len() {
            return Err(Error::Unsupported(format!("spec {spec}: the file has {} specs", self.specs.len())));
        }
        let compiled = self.compile(graph, logic, false)?;
        let values = Self::values(&compiled, graph, true);
        let Some(root) = compiled.roots[spec] else {
            return Ok((0.0, graph.facts().into_iter().map(|f| (f.atom, 0.0)).collect()));
        };
        let (evaluation, grads) = compiled.formulas.query_gradient(&values, root)?;
        let by_atom: HashMap<&str, f64> =
            compiled.formulas.inputs().iter().zip(&grads).map(|(i, &g)| (i.name.as_str(), g)).collect();
        let out = graph
            .facts()
            .into_iter()
            .map(|f| {
                let g = by_atom.get(f.atom.as_str()).copied().unwrap_or(0.0);
                (f.atom, g)
            })
            .collect();
        Ok((evaluation.queries[root], out))
    }

    /// For a spec whose body (inside its outermost `exists`) is a
    /// sequence `then([E1, …, Ek])`, alone or in a conjunction: per event,
    /// per frame, the probability that the body holds under `binding` with
    /// that event at that frame.
    fn alignment(
        &self,
        graph: &SceneGraph,
        spec: usize,
        binding: Option<&Binding>,
        logic: Option<Logic>,
    ) -> Result<Vec<Alignment>, Error> {
        let mut body = &self.specs[spec].formula;
        while let Some(("exists", [_, inner])) = body.as_compound() {
            body = inner;
        }
        let values: HashMap<String, String> = binding.map(|b| b.objects.iter().cloned().collect()).unwrap_or_default();
        let body = substitute(body, &values);
        let mut conjuncts = Vec::new();
        flatten_and(&body, &mut conjuncts);
        let Some(at) = conjuncts.iter().position(|c| matches!(c.as_compound(), Some(("then", [_])))) else {
            return Ok(Vec::new());
        };
        let Some((_, [list])) = conjuncts[at].as_compound() else { return Ok(Vec::new()) };
        let TermKind::List { items: events, tail: None } = &list.kind else { return Ok(Vec::new()) };
        let others: Vec<&Term> = conjuncts.iter().enumerate().filter(|(i, _)| *i != at).map(|(_, c)| *c).collect();
        let the_spec = &self.specs[spec];
        let Some(rules) =
            spec::alignment_rules(events, &others, the_spec, spec).map_err(|e| Error::Unsupported(e.message))?
        else {
            return Ok(Vec::new());
        };
        let mut text = self.rules.clone();
        text.push('\n');
        // Everything after the file's own rules is this spec's.
        let generated = vec![(text.len()..usize::MAX, spec)];
        text.push_str(&rules);
        text.push_str(&graph.to_model_of(true, Some(&self.mentioned)));
        text.push_str(&declarations(self.not_given(graph)));
        let _ = writeln!(text, "query({}(E, T)).", super::quote(&spec::alignment_predicate(the_spec, spec)));
        let model = Model::from_source(&self.name, &text).map_err(|e| self.locate(e, &generated))?;
        let formulas = model
            .formulas(&QueryOptions { logic, ..QueryOptions::default() })
            .map_err(|e| self.locate(e, &generated))?;
        let (names, keys, positions) = self.keys(graph, &formulas);
        let compiled = Compiled { names, keys, positions, formulas, roots: Vec::new(), bindings: Vec::new() };
        let evaluation = compiled.formulas.evaluate(&Self::values(&compiled, graph, true))?;
        let mut out: Vec<Alignment> = events
            .iter()
            .map(|e| Alignment { event: e.to_string(), frames: vec![0.0; graph.frames], best_frame: 0 })
            .collect();
        for (q, answer) in compiled.formulas.query_atoms().iter().enumerate() {
            let Some(QueryAtom { args, .. }) = answer else { continue };
            if let [e, t] = args.as_slice() {
                if let (Ok(e), Ok(t)) = (e.parse::<usize>(), t.parse::<usize>()) {
                    if e < out.len() && t < graph.frames {
                        out[e].frames[t] = evaluation.queries[q];
                    }
                }
            }
        }
        for a in &mut out {
            a.best_frame = (0..a.frames.len()).max_by(|&x, &y| a.frames[x].total_cmp(&a.frames[y])).unwrap_or(0);
        }
        Ok(out)
    }
}

/// A graph built in Rust is checked as one read from a file is: a wrong
/// reference is an error, not a panic.
fn validate(graph: &SceneGraph, at: &str) -> Result<(), Error> {
    Ok(graph.validate(at)?)
}

/// Rules that define predicates as never holding.
fn declarations<'a>(predicates: impl IntoIterator<Item = &'a (String, usize)>) -> String {
    let mut text = String::new();
    for (name, arity) in predicates {
        let vars: Vec<String> = (0..*arity).map(|i| format!("A{i}")).collect();
        let bind: Vec<String> = vars.iter().map(|v| format!("{v} = 0")).collect();
        let head =
            if vars.is_empty() { super::quote(name) } else { format!("{}({})", super::quote(name), vars.join(", ")) };
        let mut body = bind;
        body.push("0 = 1".to_string());
        let _ = writeln!(text, "{head} :- {}.", body.join(", "));
    }
    text
}

/// Every atom and functor name in `term`.
fn names_in(term: &Term, out: &mut HashSet<String>) {
    for t in term.subterms() {
        match &t.kind {
            TermKind::Atom(name) | TermKind::Compound { functor: name, .. } => {
                out.insert(name.clone());
            }
            _ => {}
        }
    }
}

fn flatten_and<'a>(term: &'a Term, out: &mut Vec<&'a Term>) {
    match term.as_compound() {
        Some(("and" | ",", [a, b])) => {
            flatten_and(a, out);
            flatten_and(b, out);
        }
        _ => out.push(term),
    }
}

/// One graph with every atom of `graphs` (of one structure).
fn union<'a>(mut graphs: impl Iterator<Item = &'a SceneGraph>) -> SceneGraph {
    let Some(first) = graphs.next() else { unreachable!("a group has a graph") };
    let mut out = first.clone();
    let mut seen: HashSet<(Kind, String, usize, usize, usize)> =
        first.items().iter().map(|i| (i.kind, i.name.to_string(), i.a, i.b, i.frame)).collect();
    for g in graphs {
        for (o, other) in out.objects.iter_mut().zip(&g.objects) {
            for (c, &p) in &other.categories {
                o.categories.entry(c.clone()).or_insert(p);
            }
        }
        let items = g.items();
        let (mut u, mut b) = (g.unary.iter(), g.binary.iter());
        for i in &items {
            let new = i.kind != Kind::Category && seen.insert((i.kind, i.name.to_string(), i.a, i.b, i.frame));
            match i.kind {
                Kind::Category => {}
                Kind::Unary => {
                    let x = u.next();
                    if new {
                        out.unary.extend(x.cloned());
                    }
                }
                Kind::Binary => {
                    let x = b.next();
                    if new {
                        out.binary.extend(x.cloned());
                    }
                }
            }
        }
    }
    out
}
