//! `deeplog scene check SPEC --graph G.json|G.jsonl` and `deeplog scene
//! facts --graph G.json --threshold P`.

use std::path::Path;

use deeplog_semirings::Logic;

use super::CliError;
use crate::scene::{Scene, SceneGraph};
use crate::Device;

/// Reads a graph file: JSON Lines (one graph a line) when it ends in
/// `.jsonl`, else one JSON graph.
fn read_graphs(path: &Path) -> Result<Vec<SceneGraph>, CliError> {
    let text = deeplog_circuits::formats::read_text(path)?;
    let name = path.display().to_string();
    let graphs = if path.extension().is_some_and(|e| e == "jsonl") {
        SceneGraph::from_json_lines(&name, &text)
    } else {
        SceneGraph::from_json(&name, &text).map(|g| vec![g])
    };
    graphs.map_err(|e| CliError::Usage(e.to_string()))
}

pub fn check(spec: &Path, graph: &Path, json: bool, logic: Option<Logic>, device: Device) -> Result<(), CliError> {
    let scene = Scene::from_file(spec)?.on(device)?;
    let graphs = read_graphs(graph)?;
    let mut warned = Vec::new();
    for g in &graphs {
        for p in scene.missing(g) {
            if !warned.contains(&p) {
                eprintln!(
                    "warning: no rule of {} and no atom of the graph defines `{p}`: it never holds",
                    spec.display()
                );
                warned.push(p);
            }
        }
    }
    let start = std::time::Instant::now();
    let results = scene.check(&graphs, logic, true)?;
    let seconds = start.elapsed().as_secs_f64();
    if json {
        let out = if graphs.len() == 1 && graph.extension().is_none_or(|e| e != "jsonl") {
            serde_json::to_value(&results[0])
        } else {
            serde_json::to_value(serde_json::json!({ "graphs": results, "seconds": seconds, "device": scene.device() }))
        };
        println!("{}", out.map_err(|e| CliError::Usage(e.to_string()))?);
        return Ok(());
    }
    for (g, result) in results.iter().enumerate() {
        if results.len() > 1 {
            println!("graph {}:", result.graph.clone().unwrap_or_else(|| (g + 1).to_string()));
        }
        for s in &result.specs {
            println!("{}: {}", s.spec, super::query::significant(s.value, 8));
            if let Some(b) = &s.binding {
                let objects: Vec<String> = b.objects.iter().map(|(v, o)| format!("{v} = {o}")).collect();
                println!(
                    "  most probable binding: {} ({})",
                    objects.join(", "),
                    super::query::significant(b.probability, 6)
                );
            }
            for a in &s.alignment {
                println!(
                    "  {} at frame {} ({})",
                    a.event,
                    a.best_frame,
                    super::query::significant(a.frames[a.best_frame], 6)
                );
            }
        }
    }
    if results.len() > 1 {
        eprintln!("{} graphs checked in {seconds:.3} s on {}", results.len(), scene.device());
    }
    Ok(())
}

pub fn facts(graph: &Path, threshold: f64, json: bool) -> Result<(), CliError> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(CliError::Usage(format!("--threshold {threshold} is not a probability")));
    }
    let graphs = read_graphs(graph)?;
    let all: Vec<Vec<crate::scene::Fact>> = graphs.iter().map(|g| g.thresholded(threshold)).collect();
    if json {
        let out: Vec<serde_json::Value> = graphs
            .iter()
            .zip(&all)
            .map(|(g, facts)| {
                let facts: Vec<serde_json::Value> =
                    facts.iter().map(|f| serde_json::json!({ "fact": f.atom, "probability": f.probability })).collect();
                serde_json::json!({ "graph": g.name, "facts": facts })
            })
            .collect();
        let out = if out.len() == 1 { out[0].clone() } else { serde_json::Value::Array(out) };
        println!("{out}");
        return Ok(());
    }
    for (g, facts) in graphs.iter().zip(&all) {
        if graphs.len() > 1 {
            println!("% graph {}", g.name.clone().unwrap_or_default());
        }
        for f in facts {
            println!("{}::{}.", super::query::significant(f.probability, 4), f.atom);
        }
    }
    Ok(())
}
