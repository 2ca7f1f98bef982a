//! Scene-graph scale benchmark: 30 frames × 20 objects × 10 binary
//! relations (every ordered pair, every frame: 114,000 relation atoms) and
//! 10 unary predicates, a three-event sequence specification; exact
//! probability and its gradient with respect to every probability of the
//! graph, then a batch of 64 such graphs checked with one compile and one
//! batched evaluation.
//!
//! ```text
//! cargo run --release --example scene_bench [REPEATS]
//! DEEPLOG_DEVICE=gpu cargo run --release --example scene_bench   # evaluate on a GPU (wgpu, f32)
//! ```

use std::time::Instant;

// The allocator the `deeplog` command uses (grounding allocates many small terms).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use deeplog::circuits::testing::Rng;
use deeplog::scene::{Binary, Object, Scene, SceneGraph, Unary};

const SPEC: &str = "spec(hand_over, exists(X, exists(Y, category(X, person) and \
                    then([reaches(X, Y), holds(X, Y), gives(X, Y)])))).\n";

const CATEGORIES: [&str; 4] = ["person", "cup", "plate", "knife"];
const RELATIONS: [&str; 10] =
    ["reaches", "holds", "gives", "near", "left_of", "above", "touches", "looks_at", "behind", "in_front_of"];
const UNARY: [&str; 10] =
    ["walking", "sitting", "standing", "open", "closed", "wet", "moving", "empty", "full", "visible"];

/// A random graph: sparse high probabilities among many small ones, as a
/// detector gives.
fn graph(seed: u64, frames: usize, objects: usize) -> SceneGraph {
    let mut rng = Rng(seed);
    let p = |rng: &mut Rng| if rng.below(20) == 0 { 0.5 + 0.5 * rng.unit() } else { 0.02 + 0.1 * rng.unit() };
    let objects: Vec<Object> = (0..objects)
        .map(|i| {
            let main = rng.below(CATEGORIES.len());
            let categories = CATEGORIES
                .iter()
                .enumerate()
                .map(|(c, name)| (name.to_string(), if c == main { 0.85 } else { 0.05 }))
                .collect();
            Object { id: format!("o{i}"), categories }
        })
        .collect();
    let mut unary = Vec::new();
    let mut binary = Vec::new();
    for frame in 0..frames {
        for o in &objects {
            for u in UNARY {
                unary.push(Unary { predicate: u.into(), object: o.id.clone(), frame, probability: p(&mut rng) });
            }
        }
        for s in &objects {
            for o in &objects {
                if s.id == o.id {
                    continue;
                }
                for r in RELATIONS {
                    binary.push(Binary {
                        predicate: r.into(),
                        subject: s.id.clone(),
                        object: o.id.clone(),
                        frame,
                        probability: p(&mut rng),
                    });
                }
            }
        }
    }
    SceneGraph { name: Some(format!("g{seed}")), frames, objects, unary, binary }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let device: deeplog::Device = std::env::var("DEEPLOG_DEVICE").unwrap_or_else(|_| "cpu".into()).parse()?;
    let scene = Scene::from_source("hand_over.pl", SPEC)?.on(device)?;
    println!("device: {}", scene.device());
    if let Some(path) = std::env::args().nth(2) {
        // Write the model of one graph (frames, objects from the next arguments) and stop.
        let arg = |i: usize, d: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(d);
        std::fs::write(&path, scene.model_text(&graph(1, arg(3, 30), arg(4, 20)), false))?;
        return Ok(());
    }
    let g = graph(1, 30, 20);
    println!(
        "graph: {} frames, {} objects, {} binary and {} unary atoms",
        g.frames,
        g.objects.len(),
        g.binary.len(),
        g.unary.len()
    );

    let mut single = Vec::new();
    let mut result = (0.0, Vec::new());
    for _ in 0..repeats {
        let start = Instant::now();
        result = scene.gradient(&g, 0, None)?;
        single.push(start.elapsed().as_secs_f64());
    }
    let nonzero = result.1.iter().filter(|(_, d)| *d != 0.0).count();
    println!(
        "one graph, exact probability {:.6} and its gradient ({} of {} partials non-zero): median {:.3} s over {repeats}",
        result.0,
        nonzero,
        result.1.len(),
        median(single)
    );

    let graphs: Vec<SceneGraph> = (0..64).map(|s| graph(100 + s, 30, 20)).collect();
    let mut compile = Vec::new();
    let mut total = Vec::new();
    let mut values = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        scene.compile(&graphs[0], None, false)?;
        compile.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let results = scene.check(&graphs, None, false)?;
        total.push(start.elapsed().as_secs_f64());
        values = results.iter().map(|r| r.specs[0].value).collect();
    }
    let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    println!(
        "batch of 64 graphs: median {:.3} s in all, of which one compile {:.3} s; probabilities {lo:.4} to {hi:.4}",
        median(total),
        median(compile)
    );
    Ok(())
}
