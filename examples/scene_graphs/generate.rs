//! Writes a small synthetic kitchen video as a probabilistic scene graph
//! (`kitchen.json`, 30 frames) and a batch of noisy variants of it
//! (`kitchen_batch.jsonl`), as a vision model would: a story of high
//! probabilities (a person walks to the counter, reaches for the cup, holds
//! it, puts it on the table; a second person may or may not pick up the
//! plate) in a background of small ones; like a detector with a score
//! threshold, it leaves out background atoms below 0.005 (probability 0).
//!
//! ```text
//! cargo run --release --example scene_generate -- [OUT_DIR]
//! ```

use deeplog::circuits::testing::Rng;
use deeplog::scene::{Binary, Object, SceneGraph, Unary};

const FRAMES: usize = 30;

/// (object, categories)
const OBJECTS: [(&str, &[(&str, f64)]); 6] = [
    ("person1", &[("person", 0.97)]),
    ("person2", &[("person", 0.9)]),
    ("cup1", &[("cup", 0.8), ("bowl", 0.15)]),
    ("plate1", &[("plate", 0.85), ("bowl", 0.1)]),
    ("table1", &[("table", 0.95)]),
    ("knife1", &[("knife", 0.7), ("spoon", 0.2)]),
];

const UNARY: [&str; 3] = ["walking", "sitting", "falls"];
const BINARY: [&str; 5] = ["reaches", "holds", "on", "near", "looks_at"];

/// The story: (predicate, subject, object or "", first frame, last frame, probability).
const STORY: [(&str, &str, &str, usize, usize, f64); 9] = [
    ("walking", "person1", "", 0, 5, 0.9),
    ("near", "person1", "cup1", 4, 9, 0.85),
    ("reaches", "person1", "cup1", 6, 8, 0.8),
    ("holds", "person1", "cup1", 9, 20, 0.85),
    ("walking", "person1", "", 14, 19, 0.75),
    ("on", "cup1", "table1", 22, 29, 0.9),
    ("sitting", "person2", "", 0, 29, 0.8),
    ("reaches", "person2", "plate1", 15, 16, 0.5),
    ("holds", "person2", "plate1", 17, 19, 0.45),
];

/// Three decimals, as a detector's scores are printed.
fn round(p: f64) -> f64 {
    (p * 1000.0).round() / 1000.0
}

fn video(seed: u64, jitter: f64) -> SceneGraph {
    let mut rng = Rng(seed);
    let noise = |rng: &mut Rng| 0.001 + 0.009 * rng.unit();
    let story = |p: &str, s: &str, o: &str, t: usize| {
        STORY.iter().find(|(sp, ss, so, a, b, _)| (*sp, *ss, *so) == (p, s, o) && (*a..=*b).contains(&t)).map(|x| x.5)
    };
    let wobble = |rng: &mut Rng, p: f64| (p + jitter * (2.0 * rng.unit() - 1.0)).clamp(0.01, 0.99);
    let objects = OBJECTS
        .iter()
        .map(|(id, cats)| Object {
            id: id.to_string(),
            categories: cats.iter().map(|(c, p)| (c.to_string(), *p)).collect(),
        })
        .collect();
    let mut unary = Vec::new();
    let mut binary = Vec::new();
    for frame in 0..FRAMES {
        for (s, _) in OBJECTS {
            for p in UNARY {
                let probability = round(match story(p, s, "", frame) {
                    Some(x) => wobble(&mut rng, x),
                    None => noise(&mut rng),
                });
                if probability >= 0.005 {
                    unary.push(Unary { predicate: p.into(), object: s.into(), frame, probability });
                }
            }
            for (o, _) in OBJECTS.iter().filter(|(o, _)| *o != s) {
                for p in BINARY {
                    let probability = match story(p, s, o, frame) {
                        Some(x) => wobble(&mut rng, x),
                        None => noise(&mut rng),
                    };
                    binary.push(Binary {
                        predicate: p.into(),
                        subject: s.into(),
                        object: (*o).into(),
                        frame,
                        probability,
                    });
                }
            }
        }
    }
    SceneGraph { name: Some(format!("kitchen-{seed}")), frames: FRAMES, objects, unary, binary }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "examples/scene_graphs".to_string());
    let dir = std::path::Path::new(&dir);
    std::fs::write(dir.join("kitchen.json"), serde_json::to_string(&video(0, 0.0))? + "\n")?;
    let batch: Vec<String> = (1..=4).map(|seed| serde_json::to_string(&video(seed, 0.1))).collect::<Result<_, _>>()?;
    std::fs::write(dir.join("kitchen_batch.jsonl"), batch.join("\n") + "\n")?;
    println!("wrote {} and {}", dir.join("kitchen.json").display(), dir.join("kitchen_batch.jsonl").display());
    Ok(())
}
