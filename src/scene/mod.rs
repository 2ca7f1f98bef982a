//! Probabilistic scene graphs, and specifications checked against them.
//!
//! A vision model gives, per video, objects with a distribution over
//! categories and, per frame, unary predicates (attributes, actions) and
//! binary relations with probabilities. [`SceneGraph`] reads that (JSON, or
//! one graph a line in JSON Lines; the schema is `docs/scene-graphs.md`),
//! checks it, and turns it into probabilistic facts: `object(o).`,
//! `frame(t).`, `last_frame(t).`, one annotated disjunction
//! `p1::category(o, c1); p2::category(o, c2).` per object, `p::pred(o, t).`
//! and `p::rel(o1, o2, t).` — the frame is always the last argument.
//! [`Scene`] checks temporal specifications against graphs ([`spec`]).
//!
//! ```
//! use deeplog::scene::{Scene, SceneGraph};
//!
//! let graph = SceneGraph::from_json("g.json", r#"{
//!     "frames": 3,
//!     "objects": [{"id": "ann", "categories": {"person": 0.9}}, {"id": "cup", "categories": {"cup": 1.0}}],
//!     "binary": [{"predicate": "holds", "subject": "ann", "object": "cup", "frame": 1, "probability": 0.5},
//!                {"predicate": "holds", "subject": "ann", "object": "cup", "frame": 2, "probability": 0.5}]
//! }"#).unwrap();
//! let scene = Scene::from_source("s.pl", "spec(s, exists(X, category(X, person) and eventually(holds(X, cup)))).").unwrap();
//! let result = &scene.check(&[graph.clone()], None, true).unwrap()[0].specs[0];
//! assert!((result.value - 0.9 * 0.75).abs() < 1e-12);
//! let (_, gradient) = scene.gradient(&graph, 0, None).unwrap();
//! assert!(gradient.iter().any(|(atom, d)| atom == "holds(ann,cup,1)" && (d - 0.9 * 0.5).abs() < 1e-12));
//! ```

pub mod check;
pub mod spec;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use serde::{Deserialize, Serialize};

pub use check::{Alignment, Binding, Compiled, GraphResult, Scene, SpecResult};

/// The most frames a graph may have: an hour of video at 30 frames a
/// second is 108,000. Each frame costs its facts and, per subformula of a
/// spec, ground atoms and circuit nodes (about 2 KB a frame for a small
/// spec file), so a graph of 3 frames claiming a billion is refused
/// before anything is allocated for them.
pub const MAX_FRAMES: usize = 200_000;

/// One video or episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneGraph {
    /// A name for messages and results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The number of frames; frames are numbered from 0.
    pub frames: usize,
    pub objects: Vec<Object>,
    #[serde(default)]
    pub unary: Vec<Unary>,
    #[serde(default)]
    pub binary: Vec<Binary>,
}

/// An object and its category distribution (the rest of the mass, when
/// they sum to less than 1, is "none of these").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    pub id: String,
    #[serde(default)]
    pub categories: BTreeMap<String, f64>,
}

/// `predicate(object)` holds at `frame` with `probability`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unary {
    pub predicate: String,
    pub object: String,
    pub frame: usize,
    pub probability: f64,
}

/// `predicate(subject, object)` holds at `frame` with `probability`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binary {
    pub predicate: String,
    pub subject: String,
    pub object: String,
    pub frame: usize,
    pub probability: f64,
}

/// A scene-graph error: where, and what.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct GraphError {
    /// `objects[2]`, `binary[17]`, with the file (and line) when known.
    pub place: String,
    pub message: String,
}

/// A name as the model language writes it: plain when it is a plain
/// lowercase name, else quoted.
pub fn quote(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !["is", "mod", "in", "and", "or", "not", "implies", "iff"].contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

fn probability(p: f64, place: impl Fn() -> String, what: &str) -> Result<(), GraphError> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(GraphError { place: place(), message: format!("{what} has probability {p}, outside [0, 1]") })
    }
}

/// What a probability of a graph is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Category,
    Unary,
    Binary,
}

/// One probability of a graph: a category of object `a`, `name(a)` or
/// `name(a, b)` at `frame`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item<'a> {
    pub kind: Kind,
    pub name: &'a str,
    pub a: usize,
    pub b: usize,
    pub frame: usize,
    pub probability: f64,
}

impl Item<'_> {
    /// The predicate of the atom it feeds.
    pub fn predicate(&self) -> &str {
        match self.kind {
            Kind::Category => "category",
            _ => self.name,
        }
    }
}

/// The fact a graph's probability feeds, by its printed atom.
#[derive(Clone, Debug, PartialEq)]
pub struct Fact {
    /// The atom, as the engine prints it: `near(cup1,person1,3)`.
    pub atom: String,
    pub probability: f64,
}

impl SceneGraph {
    /// Reads one graph from JSON text; `file` names it in errors.
    pub fn from_json(file: &str, text: &str) -> Result<SceneGraph, GraphError> {
        let graph: SceneGraph = serde_json::from_str(text)
            .map_err(|e| GraphError { place: format!("{file}:{}:{}", e.line(), e.column()), message: e.to_string() })?;
        graph.validate(file)?;
        Ok(graph)
    }

    /// Reads one graph a line; errors name the line.
    pub fn from_json_lines(file: &str, text: &str) -> Result<Vec<SceneGraph>, GraphError> {
        let mut graphs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{file}:{}", i + 1);
            let graph: SceneGraph = serde_json::from_str(line)
                .map_err(|e| GraphError { place: format!("{at}:{}", e.column()), message: e.to_string() })?;
            graph.validate(&at)?;
            graphs.push(graph);
        }
        if graphs.is_empty() {
            return Err(GraphError { place: file.to_string(), message: "no graphs".to_string() });
        }
        Ok(graphs)
    }

    /// Checks ids, frames and probabilities; `at` prefixes the places.
    pub fn validate(&self, at: &str) -> Result<(), GraphError> {
        if self.frames == 0 {
            return Err(GraphError {
                place: format!("{at}: frames"),
                message: "a graph has at least one frame".into(),
            });
        }
        // Every frame becomes facts and, per subformula of a spec, ground
        // atoms, whether or not the file says anything about it: the claim
        // is bounded, not taken on trust.
        if self.frames > MAX_FRAMES {
            return Err(GraphError {
                place: format!("{at}: frames"),
                message: format!("{} is more than the {MAX_FRAMES} frames a graph may have", self.frames),
            });
        }
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, o) in self.objects.iter().enumerate() {
            let place = || format!("{at}: objects[{i}] `{}`", o.id);
            if o.id.is_empty() {
                return Err(GraphError { place: place(), message: "an object needs an id".into() });
            }
            if let Some(first) = ids.insert(&o.id, i) {
                return Err(GraphError { place: place(), message: format!("the id is also objects[{first}]'s") });
            }
            for (c, &p) in &o.categories {
                probability(p, place, &format!("category `{c}`"))?;
            }
            let total: f64 = o.categories.values().sum();
            if total > 1.0 + 1e-9 {
                return Err(GraphError {
                    place: place(),
                    message: format!("its category probabilities sum to {total}, more than 1"),
                });
            }
        }
        let known = |id: &str, place: &dyn Fn() -> String| -> Result<(), GraphError> {
            if ids.contains_key(id) {
                Ok(())
            } else {
                Err(GraphError { place: place(), message: format!("unknown object `{id}` (not in `objects`)") })
            }
        };
        let frame = |f: usize, place: &dyn Fn() -> String| -> Result<(), GraphError> {
            if f < self.frames {
                Ok(())
            } else {
                Err(GraphError {
                    place: place(),
                    message: format!(
                        "frame {f} is out of range: the graph has {} frames, 0 to {}",
                        self.frames,
                        self.frames - 1
                    ),
                })
            }
        };
        // Atom → where it was first listed (unary or binary, index).
        // (predicate, subject, object of a relation, frame)
        type Atom<'a> = (&'a str, &'a str, Option<&'a str>, usize);
        let mut seen: HashMap<Atom<'_>, (&str, usize)> = HashMap::with_capacity(self.unary.len() + self.binary.len());
        for (i, u) in self.unary.iter().enumerate() {
            let place = || format!("{at}: unary[{i}] {}({}) at frame {}", u.predicate, u.object, u.frame);
            known(&u.object, &place)?;
            frame(u.frame, &place)?;
            probability(u.probability, place, "the atom")?;
            let key = (u.predicate.as_str(), u.object.as_str(), None, u.frame);
            if let Some((kind, first)) = seen.insert(key, ("unary", i)) {
                return Err(GraphError { place: place(), message: format!("the same atom is also {kind}[{first}]") });
            }
        }
        for (i, b) in self.binary.iter().enumerate() {
            let place =
                || format!("{at}: binary[{i}] {}({}, {}) at frame {}", b.predicate, b.subject, b.object, b.frame);
            known(&b.subject, &place)?;
            known(&b.object, &place)?;
            frame(b.frame, &place)?;
            probability(b.probability, place, "the atom")?;
            let key = (b.predicate.as_str(), b.subject.as_str(), Some(b.object.as_str()), b.frame);
            if let Some((kind, first)) = seen.insert(key, ("binary", i)) {
                return Err(GraphError { place: place(), message: format!("the same atom is also {kind}[{first}]") });
            }
        }
        Ok(())
    }

    /// Whether every probability of the graph is in [0, 1]; for a graph
    /// with the items of a validated one ([`SceneGraph::same_items`]), the
    /// only check left.
    pub(crate) fn probabilities_valid(&self, at: &str) -> Result<(), GraphError> {
        match self.probabilities().iter().position(|p| !(p.is_finite() && (0.0..=1.0).contains(p))) {
            None => Ok(()),
            // The full check names the place.
            Some(_) => self.validate(at),
        }
    }

    /// The name of the graph's structure: two graphs with the same key
    /// share one compiled circuit (same frames, same objects).
    pub fn shape(&self) -> (usize, Vec<String>) {
        (self.frames, self.objects.iter().map(|o| o.id.clone()).collect())
    }

    /// Every probability of the graph, with the objects as indices.
    pub(crate) fn items(&self) -> Vec<Item<'_>> {
        let index: HashMap<&str, usize> = self.objects.iter().enumerate().map(|(i, o)| (o.id.as_str(), i)).collect();
        let mut out = Vec::with_capacity(self.unary.len() + self.binary.len() + 4 * self.objects.len());
        for (i, o) in self.objects.iter().enumerate() {
            for (c, &p) in &o.categories {
                out.push(Item { kind: Kind::Category, name: c, a: i, b: 0, frame: 0, probability: p });
            }
        }
        for u in &self.unary {
            let a = index[u.object.as_str()];
            out.push(Item {
                kind: Kind::Unary,
                name: &u.predicate,
                a,
                b: 0,
                frame: u.frame,
                probability: u.probability,
            });
        }
        for x in &self.binary {
            let (a, b) = (index[x.subject.as_str()], index[x.object.as_str()]);
            out.push(Item { kind: Kind::Binary, name: &x.predicate, a, b, frame: x.frame, probability: x.probability });
        }
        out
    }

    /// The predicates (name, arity) the graph's facts define.
    pub fn predicates(&self) -> HashSet<(&str, usize)> {
        let mut out: HashSet<(&str, usize)> = [("frame", 1), ("last_frame", 1)].into_iter().collect();
        if !self.objects.is_empty() {
            out.insert(("object", 1));
        }
        if self.objects.iter().any(|o| !o.categories.is_empty()) {
            out.insert(("category", 2));
        }
        out.extend(self.unary.iter().map(|u| (u.predicate.as_str(), 2)));
        out.extend(self.binary.iter().map(|b| (b.predicate.as_str(), 3)));
        out
    }

    /// The probabilities of [`SceneGraph::items`], in its order.
    pub(crate) fn probabilities(&self) -> Vec<f64> {
        let categories = self.objects.iter().flat_map(|o| o.categories.values().copied());
        let unary = self.unary.iter().map(|u| u.probability);
        categories.chain(unary).chain(self.binary.iter().map(|b| b.probability)).collect()
    }

    /// Whether `other` has the same items in the same order (only the
    /// probabilities may differ).
    pub(crate) fn same_items(&self, other: &SceneGraph) -> bool {
        self.frames == other.frames
            && self.objects.len() == other.objects.len()
            && self.unary.len() == other.unary.len()
            && self.binary.len() == other.binary.len()
            && self
                .objects
                .iter()
                .zip(&other.objects)
                .all(|(a, b)| a.id == b.id && a.categories.keys().eq(b.categories.keys()))
            && self
                .unary
                .iter()
                .zip(&other.unary)
                .all(|(a, b)| (a.frame, &a.object, &a.predicate) == (b.frame, &b.object, &b.predicate))
            && self.binary.iter().zip(&other.binary).all(|(a, b)| {
                (a.frame, &a.subject, &a.object, &a.predicate) == (b.frame, &b.subject, &b.object, &b.predicate)
            })
    }

    /// The atom an item feeds, as the engine prints it.
    pub(crate) fn atom(&self, item: &Item<'_>) -> String {
        let id = |i: usize| quote(&self.objects[i].id);
        match item.kind {
            Kind::Category => format!("category({},{})", id(item.a), quote(item.name)),
            Kind::Unary => format!("{}({},{})", quote(item.name), id(item.a), item.frame),
            Kind::Binary => format!("{}({},{},{})", quote(item.name), id(item.a), id(item.b), item.frame),
        }
    }

    /// Every probability of the graph by the atom it feeds: category
    /// alternatives (`category(o,c)`), unary and binary atoms.
    pub fn facts(&self) -> Vec<Fact> {
        self.items().iter().map(|i| Fact { atom: self.atom(i), probability: i.probability }).collect()
    }

    /// The graph as model text. With `placeholder`, every probability is
    /// written as a value strictly between 0 and 1 (so no fact is pruned as
    /// certain or impossible: the circuit is then valid for any graph of
    /// this structure, its inputs filled per graph).
    pub fn to_model(&self, placeholder: bool) -> String {
        self.to_model_of(placeholder, None)
    }

    /// [`SceneGraph::to_model`] with only the atoms of the predicates in
    /// `keep` (when given): a spec that never mentions a relation does not
    /// need its facts.
    pub fn to_model_of(&self, placeholder: bool, keep: Option<&HashSet<String>>) -> String {
        let kept = |p: &str| keep.is_none_or(|k| k.contains(p));
        let mut text = String::new();
        for t in 0..self.frames {
            let _ = writeln!(text, "frame({t}).");
        }
        let _ = writeln!(text, "last_frame({}).", self.frames - 1);
        for o in &self.objects {
            let _ = writeln!(text, "object({}).", quote(&o.id));
        }
        // Facts in the order the compiler's variable order follows: per
        // object, its category, its unary atoms by frame, then the
        // relations it is the subject of, per other object, by frame. A
        // spec over a pair of objects then sees that pair's atoms together,
        // in time order (a sequence's diagram stays narrow).
        let index: HashMap<&str, usize> = self.objects.iter().enumerate().map(|(i, o)| (o.id.as_str(), i)).collect();
        let mut unary: Vec<&Unary> = self.unary.iter().filter(|u| kept(&u.predicate)).collect();
        unary.sort_by_key(|u| (index[u.object.as_str()], u.frame));
        let mut binary: Vec<&Binary> = self.binary.iter().filter(|b| kept(&b.predicate)).collect();
        binary.sort_by_key(|b| (index[b.subject.as_str()], index[b.object.as_str()], b.frame));
        let (mut u, mut b) = (unary.iter().peekable(), binary.iter().peekable());
        let p = |p: f64| if placeholder { 0.5 } else { p };
        for (i, o) in self.objects.iter().enumerate() {
            let id = quote(&o.id);
            let alternatives: Vec<String> = o
                .categories
                .iter()
                .filter(|(_, &p)| (placeholder || p > 0.0) && kept("category"))
                .map(|(c, &p)| {
                    let p = if placeholder { 1.0 / (o.categories.len() + 1) as f64 } else { p };
                    format!("{p}::category({id}, {})", quote(c))
                })
                .collect();
            if !alternatives.is_empty() {
                let _ = writeln!(text, "{}.", alternatives.join("; "));
            }
            while let Some(x) = u.next_if(|x| index[x.object.as_str()] == i) {
                let _ = writeln!(text, "{}::{}({id}, {}).", p(x.probability), quote(&x.predicate), x.frame);
            }
            while let Some(x) = b.next_if(|x| index[x.subject.as_str()] == i) {
                let (pred, object) = (quote(&x.predicate), quote(&x.object));
                let _ = writeln!(text, "{}::{pred}({id}, {object}, {}).", p(x.probability), x.frame);
            }
        }
        text
    }

    /// The facts an agent would pass on: atoms with probability at least
    /// `threshold` (an object's category when its probability is), most
    /// probable first within each kind.
    pub fn thresholded(&self, threshold: f64) -> Vec<Fact> {
        let mut out: Vec<Fact> = Vec::new();
        for o in &self.objects {
            let mut cats: Vec<(&String, f64)> =
                o.categories.iter().map(|(c, &p)| (c, p)).filter(|&(_, p)| p >= threshold).collect();
            cats.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (c, p) in cats {
                out.push(Fact { atom: format!("category({}, {})", quote(&o.id), quote(c)), probability: p });
            }
        }
        let mut atoms: Vec<(usize, Fact)> = Vec::new();
        for u in self.unary.iter().filter(|u| u.probability >= threshold) {
            let atom = format!("{}({}, {})", quote(&u.predicate), quote(&u.object), u.frame);
            atoms.push((u.frame, Fact { atom, probability: u.probability }));
        }
        for b in self.binary.iter().filter(|b| b.probability >= threshold) {
            let atom = format!("{}({}, {}, {})", quote(&b.predicate), quote(&b.subject), quote(&b.object), b.frame);
            atoms.push((b.frame, Fact { atom, probability: b.probability }));
        }
        atoms.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.probability.total_cmp(&a.1.probability)));
        out.extend(atoms.into_iter().map(|(_, f)| f));
        out
    }
}
