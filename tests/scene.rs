//! Scene graphs and temporal specifications: exact probabilities against
//! enumeration of every world of a small graph, against the same program
//! written out by hand, alignment and binding where the answer is known,
//! gradients against finite differences, batches against single checks,
//! and errors that name their place.

use deeplog::scene::{Binary, Object, Scene, SceneGraph, Unary};
use deeplog::{Logic, Model, QueryOptions};

const P: [f64; 3] = [0.3, 0.6, 0.2];
const Q: [f64; 3] = [0.5, 0.1, 0.7];
const R: [f64; 3] = [0.4, 0.25, 0.8];

/// Three frames, objects `a` (person 0.7) and `b` (cup 0.6, person 0.3);
/// `p(a)`, `q(a)` and `r(a, b)` at every frame.
fn small() -> SceneGraph {
    let unary = (0..3)
        .flat_map(|t| {
            [
                Unary { predicate: "p".into(), object: "a".into(), frame: t, probability: P[t] },
                Unary { predicate: "q".into(), object: "a".into(), frame: t, probability: Q[t] },
            ]
        })
        .collect();
    let binary = (0..3)
        .map(|t| Binary { predicate: "r".into(), subject: "a".into(), object: "b".into(), frame: t, probability: R[t] })
        .collect();
    SceneGraph {
        name: Some("small".into()),
        frames: 3,
        objects: vec![
            Object { id: "a".into(), categories: [("person".to_string(), 0.7)].into_iter().collect() },
            Object {
                id: "b".into(),
                categories: [("cup".to_string(), 0.6), ("person".to_string(), 0.3)].into_iter().collect(),
            },
        ],
        unary,
        binary,
    }
}

/// One world of [`small`].
struct World {
    p: [bool; 3],
    q: [bool; 3],
    r: [bool; 3],
    a_person: bool,
    b_person: bool,
    b_cup: bool,
}

/// Every world of [`small`] with its probability.
fn worlds() -> Vec<(World, f64)> {
    let mut out = Vec::new();
    for bits in 0..512u32 {
        let bit = |i: u32| bits >> i & 1 == 1;
        let pick = |probs: [f64; 3], base: u32| {
            let mut v = [false; 3];
            let mut w = 1.0;
            for t in 0..3 {
                v[t] = bit(base + t as u32);
                w *= if v[t] { probs[t] } else { 1.0 - probs[t] };
            }
            (v, w)
        };
        let ((p, wp), (q, wq), (r, wr)) = (pick(P, 0), pick(Q, 3), pick(R, 6));
        for (a_person, wa) in [(true, 0.7), (false, 0.3)] {
            // b: cup 0.6, person 0.3, neither 0.1.
            for (b_person, b_cup, wb) in [(false, true, 0.6), (true, false, 0.3), (false, false, 0.1)] {
                out.push((World { p, q, r, a_person, b_person, b_cup }, wp * wq * wr * wa * wb));
            }
        }
    }
    out
}

fn probability(holds: impl Fn(&World) -> bool) -> f64 {
    worlds().iter().filter(|(w, _)| holds(w)).map(|(_, p)| p).sum()
}

fn check(spec: &str, graph: &SceneGraph) -> f64 {
    let scene = Scene::from_source("spec.pl", &format!("spec(s, {spec}).\n")).unwrap();
    scene.check(std::slice::from_ref(graph), None, false).unwrap()[0].specs[0].value
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn every_operator_matches_enumeration_of_worlds() {
    let g = small();
    type Truth = Box<dyn Fn(&World) -> bool>;
    let cases: Vec<(&str, Truth)> = vec![
        ("eventually(p(a))", Box::new(|w| w.p.iter().any(|&x| x))),
        ("always(p(a))", Box::new(|w| w.p.iter().all(|&x| x))),
        ("next(p(a))", Box::new(|w| w.p[1])),
        ("next(next(next(p(a))))", Box::new(|_| false)),
        ("until(q(a), p(a))", Box::new(|w| (0..3).any(|t| w.p[t] && (0..t).all(|s| w.q[s])))),
        ("then([p(a), q(a)])", Box::new(|w| (0..3).any(|t| w.p[t] && (t + 1..3).any(|u| w.q[u])))),
        (
            "then([p(a), q(a), r(a, b)])",
            Box::new(|w| (0..3).any(|t| w.p[t] && (t + 1..3).any(|u| w.q[u] && (u + 1..3).any(|v| w.r[v])))),
        ),
        ("eventually(p(a) and q(a))", Box::new(|w| (0..3).any(|t| w.p[t] && w.q[t]))),
        ("always(p(a) or not q(a))", Box::new(|w| (0..3).all(|t| w.p[t] || !w.q[t]))),
        ("not eventually(r(a, b))", Box::new(|w| !w.r.iter().any(|&x| x))),
        ("exists(X, category(X, person) and eventually(p(X)))", Box::new(|w| w.a_person && w.p.iter().any(|&x| x))),
        (
            "forall(X, category(X, person) implies eventually(p(X)))",
            Box::new(|w| (!w.a_person || w.p.iter().any(|&x| x)) && !w.b_person),
        ),
        (
            "exists(X, exists(Y, X \\= Y and then([p(X), r(X, Y)])))",
            Box::new(|w| (0..3).any(|t| w.p[t] && (t + 1..3).any(|u| w.r[u]))),
        ),
        ("eventually(exists(Y, r(a, Y) and category(Y, cup)))", Box::new(|w| w.b_cup && w.r.iter().any(|&x| x))),
    ];
    for (spec, truth) in cases {
        let got = check(spec, &g);
        let want = probability(truth);
        assert!(close(got, want), "{spec}: {got} vs {want}");
    }
}

#[test]
fn a_spec_equals_the_same_program_written_by_hand() {
    let g = small();
    let spec = check("then([p(a), q(a)])", &g);
    let by_hand = "ev_q(T) :- q(a, T).\n\
                   ev_q(T) :- frame(T), T1 is T + 1, ev_q(T1).\n\
                   seq(T) :- p(a, T), T1 is T + 1, ev_q(T1).\n\
                   seq(T) :- frame(T), T1 is T + 1, seq(T1).\n\
                   holds :- seq(0).\n\
                   query(holds).\n";
    let model = Model::from_source("hand.pl", &format!("{}{by_hand}", g.to_model(false))).unwrap();
    let answers = model.query(&QueryOptions::default()).unwrap();
    assert!(close(answers.answers[0].value, spec), "{} vs {spec}", answers.answers[0].value);
}

#[test]
fn fuzzy_logics_read_eventually_as_max_and_always_as_min() {
    let g = small();
    let scene = Scene::from_source("s.pl", "spec(ev, eventually(p(a))).\nspec(al, always(p(a))).\n").unwrap();
    let r = &scene.check(&[g], Some(Logic::Godel), false).unwrap()[0];
    assert!(close(r.specs[0].value, 0.6) && close(r.specs[1].value, 0.2), "{r:?}");
}

/// Objects a, b, c; `p(X)` likely only for `a` at frame 1, `r(a, c)` likely
/// at frame 3, everything else unlikely.
fn aligned() -> SceneGraph {
    let ids = ["a", "b", "c"];
    let mut unary = Vec::new();
    let mut binary = Vec::new();
    for t in 0..5 {
        for x in ids {
            let p = if (x, t) == ("a", 1) { 0.9 } else { 0.05 };
            unary.push(Unary { predicate: "p".into(), object: x.into(), frame: t, probability: p });
            for y in ids.iter().filter(|y| **y != x) {
                let p = if (x, *y, t) == ("a", "c", 3) { 0.8 } else { 0.05 };
                binary.push(Binary {
                    predicate: "r".into(),
                    subject: x.into(),
                    object: (*y).into(),
                    frame: t,
                    probability: p,
                });
            }
        }
    }
    let objects = ids.iter().map(|i| Object { id: (*i).into(), categories: Default::default() }).collect();
    SceneGraph { name: None, frames: 5, objects, unary, binary }
}

#[test]
fn the_most_probable_binding_and_the_frames_of_each_event() {
    let scene = Scene::from_source("s.pl", "spec(s, exists(X, exists(Y, then([p(X), r(X, Y)])))).\n").unwrap();
    let r = &scene.check(&[aligned()], None, true).unwrap()[0].specs[0];
    let b = r.binding.as_ref().unwrap();
    assert_eq!(b.objects, vec![("X".to_string(), "a".to_string()), ("Y".to_string(), "c".to_string())]);
    assert!(b.probability > 0.7 && b.probability <= r.value + 1e-12, "{r:?}");
    assert_eq!(r.alignment.len(), 2);
    assert_eq!((r.alignment[0].best_frame, r.alignment[1].best_frame), (1, 3), "{r:?}");
    // Event 2 at frame 0 is impossible (event 1 must come first).
    assert_eq!(r.alignment[1].frames[0], 0.0);
    // Each per-frame alignment is a probability of a sub-event of the spec.
    assert!(r.alignment.iter().flat_map(|a| &a.frames).all(|&p| (0.0..=b.probability + 1e-12).contains(&p)));
}

#[test]
fn gradients_match_finite_differences() {
    let scene =
        Scene::from_source("s.pl", "spec(s, exists(X, category(X, person) and then([p(X), q(X), r(X, b)]))).\n")
            .unwrap();
    let g = small();
    let (value, grads) = scene.gradient(&g, 0, None).unwrap();
    assert!(close(value, check("exists(X, category(X, person) and then([p(X), q(X), r(X, b)]))", &g)));
    let h = 1e-6;
    let nudge = |atom: &str, by: f64| -> SceneGraph {
        let mut g = small();
        for u in &mut g.unary {
            if format!("{}({},{})", u.predicate, u.object, u.frame) == atom {
                u.probability += by;
            }
        }
        for b in &mut g.binary {
            if format!("{}({},{},{})", b.predicate, b.subject, b.object, b.frame) == atom {
                b.probability += by;
            }
        }
        for o in &mut g.objects {
            for (c, p) in &mut o.categories {
                if format!("category({},{c})", o.id) == atom {
                    *p += by;
                }
            }
        }
        g
    };
    assert_eq!(grads.len(), 3 * 3 + 3);
    for (atom, d) in &grads {
        let up = scene.check(&[nudge(atom, h)], None, false).unwrap()[0].specs[0].value;
        let down = scene.check(&[nudge(atom, -h)], None, false).unwrap()[0].specs[0].value;
        let fd = (up - down) / (2.0 * h);
        assert!((fd - d).abs() < 1e-6, "{atom}: {d} vs {fd}");
    }
    assert!(grads.iter().any(|(a, d)| a == "category(a,person)" && *d > 0.0));
}

#[test]
fn a_batch_gives_what_each_graph_gives_alone() {
    let scene =
        Scene::from_source("s.pl", "spec(s, exists(X, then([p(X), q(X)]))).\nspec(t, always(p(a))).\n").unwrap();
    let mut graphs = vec![small(), small(), small()];
    graphs[1].unary[0].probability = 0.95;
    // A different structure: one atom fewer (compiled on its own), and one
    // with the same objects but a missing atom (one union circuit).
    graphs[2].unary.remove(3);
    let mut other = small();
    other.unary.remove(5);
    graphs.push(other);
    let together = scene.check(&graphs, None, false).unwrap();
    for (g, result) in graphs.iter().zip(&together) {
        let alone = &scene.check(std::slice::from_ref(g), None, false).unwrap()[0];
        for (a, b) in result.specs.iter().zip(&alone.specs) {
            assert!(close(a.value, b.value), "{a:?} vs {b:?}");
        }
    }
    assert!(together[1].specs[0].value > together[0].specs[0].value);
}

#[test]
fn bad_graphs_and_specs_say_where() {
    let cases = [
        (
            r#"{"frames": 2, "objects": [{"id": "a"}], "binary": [{"predicate": "r", "subject": "a", "object": "zz", "frame": 0, "probability": 0.5}]}"#,
            "binary[0]",
            "unknown object `zz`",
        ),
        (
            r#"{"frames": 2, "objects": [{"id": "a"}], "unary": [{"predicate": "p", "object": "a", "frame": 0, "probability": 1.5}]}"#,
            "unary[0]",
            "outside [0, 1]",
        ),
        (r#"{"frames": 2, "objects": [{"id": "a", "categories": {"cup": -0.1}}]}"#, "objects[0]", "outside [0, 1]"),
        (
            r#"{"frames": 2, "objects": [{"id": "a"}], "unary": [{"predicate": "p", "object": "a", "frame": 7, "probability": 0.5}]}"#,
            "unary[0]",
            "frame 7 is out of range",
        ),
        (r#"{"frames": 2, "objects": [{"id": "a", "categories": {"cup": 0.7, "mug": 0.6}}]}"#, "objects[0]", "sum to"),
        (r#"{"frames": 2, "objects": [{"id": "a"}, {"id": "a"}]}"#, "objects[1]", "also objects[0]"),
        (r#"{"frames": 2, "objects": [], "extra": 1}"#, "g.json:1:", "unknown field"),
    ];
    for (text, place, what) in cases {
        let e = SceneGraph::from_json("g.json", text).unwrap_err().to_string();
        assert!(e.contains(place) && e.contains(what), "{text}: {e}");
    }
    let lines = "{\"frames\": 1, \"objects\": []}\n\n{\"frames\": 1, \"objects\": [{\"id\": \"a\"}], \"unary\": [{\"predicate\": \"p\", \"object\": \"b\", \"frame\": 0, \"probability\": 0.5}]}\n";
    let e = SceneGraph::from_json_lines("g.jsonl", lines).unwrap_err().to_string();
    assert!(e.starts_with("g.jsonl:3:") && e.contains("unknown object `b`"), "{e}");

    // A graph built in Rust is checked too: an error, not a panic.
    let scene = Scene::from_source("s.pl", "spec(s, eventually(p(a))).").unwrap();
    let mut g = small();
    g.unary[4].object = "ghost".into();
    let e = scene.check(&[small(), g.clone()], None, false).unwrap_err().to_string();
    assert!(e.contains("graphs[1]: unary[4]") && e.contains("unknown object `ghost`"), "{e}");
    let e = scene.gradient(&g, 0, None).unwrap_err().to_string();
    assert!(e.contains("unknown object `ghost`"), "{e}");
    assert!(scene.gradient(&small(), 1, None).is_err());

    let specs = [
        ("spec(s, eventually(p(X))).", "1:9", "free variable `X`"),
        ("% two\nspec(s, then(p(a))).", "2:14", "list of events"),
        ("spec(s, until(p(a))).", "1:9", "does not take 1 argument"),
        ("spec(s, eventually(p(a))).\nspec(s, p(a)).", "2:6", "two specs are named `s`"),
        ("p(a) :- .", "spec.pl", ""),
        ("q(a).", "no specifications", ""),
    ];
    for (text, place, what) in specs {
        let e = match Scene::from_source("spec.pl", text) {
            Ok(_) => panic!("{text} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(place) && e.contains(what), "{text}: {e}");
    }
}

#[test]
fn a_graph_claiming_a_billion_frames_is_refused_by_its_field() {
    let start = std::time::Instant::now();
    let e = SceneGraph::from_json("g.json", r#"{"frames": 1000000000, "objects": []}"#).unwrap_err().to_string();
    assert_eq!(e, "g.json: frames: 1000000000 is more than the 200000 frames a graph may have");
    assert!(start.elapsed().as_secs() < 5);
    let line = format!("{{\"frames\": {}, \"objects\": []}}\n", deeplog::scene::MAX_FRAMES + 1);
    let e = SceneGraph::from_json_lines("g.jsonl", &format!("{{\"frames\": 2, \"objects\": []}}\n{line}"));
    assert!(e.unwrap_err().to_string().starts_with("g.jsonl:2: frames: 200001 is more"));
    let mut g = small();
    g.frames = usize::MAX;
    let scene = Scene::from_source("s.pl", "spec(s, eventually(p(a))).").unwrap();
    let e = scene.check(&[g], None, false).unwrap_err().to_string();
    assert!(e.contains("frames a graph may have"), "{e}");
}

#[test]
fn an_error_in_what_a_spec_generates_names_the_spec() {
    // `X < Y` compares objects, which are no numbers: the grounder finds it
    // in the rules the spec became, past the file's last line. The error
    // is the spec's, at its clause.
    let scene = Scene::from_source("s.pl", "% helpers: none\n\nspec(cmp, exists(X, exists(Y, X < Y))).\n").unwrap();
    let e = scene.check(&[small()], None, false).unwrap_err().to_string();
    assert!(e.starts_with("s.pl:3:1: spec `cmp`: ") && e.ends_with("is not a number"), "{e}");
    // The predicates a spec becomes carry its name, for any message that
    // names one (a budget's).
    let text = scene.model_text(&small(), false);
    assert!(text.contains("\nquery('$spec_0_cmp').\n"), "{text}");
    // A name that must be quoted is quoted in them.
    let quoted = Scene::from_source("q.pl", "spec('it''s', eventually(p(a))).\nspec(s, eventually(p(a))).").unwrap();
    let results = quoted.check(&[small()], None, true).unwrap();
    let values: Vec<f64> = results[0].specs.iter().map(|s| s.value).collect();
    assert!(values[0] > 0.0 && close(values[0], values[1]), "{values:?}");
}

#[test]
fn on_a_gpu_a_batch_agrees_with_the_cpu() {
    if deeplog::gpu::gpu_for_tests().is_none() {
        return;
    }
    let text = "spec(s, exists(X, exists(Y, X \\= Y and then([p(X), r(X, Y)])))).\nspec(t, until(q(a), p(a))).\n";
    let cpu = Scene::from_source("s.pl", text).unwrap();
    let gpu = Scene::from_source("s.pl", text).unwrap().on(deeplog::Device::Gpu).unwrap();
    assert_ne!(gpu.device(), "cpu");
    let mut graphs: Vec<SceneGraph> = (0..7).map(|_| small()).collect();
    for (k, g) in graphs.iter_mut().enumerate() {
        g.unary[k % 6].probability = 0.1 * k as f64;
    }
    let (a, b) = (cpu.check(&graphs, None, false).unwrap(), gpu.check(&graphs, None, false).unwrap());
    for (x, y) in a.iter().flat_map(|r| &r.specs).zip(b.iter().flat_map(|r| &r.specs)) {
        assert!((x.value - y.value).abs() < 1e-5, "{x:?} vs {y:?}");
    }
    let (value, grads) = gpu.gradient(&graphs[3], 0, None).unwrap();
    let (want, want_grads) = cpu.gradient(&graphs[3], 0, None).unwrap();
    assert!((value - want).abs() < 1e-5);
    for ((_, g), (_, w)) in grads.iter().zip(&want_grads) {
        assert!((g - w).abs() < 1e-4, "{g} vs {w}");
    }
}
