//! `deeplog train` and `deeplog query` for models with neural predicates:
//! networks built from `--network NAME=ARCH` (candle MLPs), their inputs
//! read from `--inputs FEATURES.csv`, examples from JSON Lines, weights
//! saved with the learned file (`--features candle`).

use std::path::Path;

use super::CliError;
#[cfg(not(feature = "candle"))]
use crate::Model;

/// What `deeplog train` needs beyond the model for neural training.
#[cfg_attr(not(feature = "candle"), allow(dead_code))]
pub struct NeuralArgs<'a> {
    pub data: &'a Path,
    pub test: Option<&'a Path>,
    pub inputs: Option<&'a Path>,
    pub networks: &'a [String],
    pub epochs: usize,
    pub rate: f64,
    pub batch: usize,
    pub seed: u64,
    pub output: Option<&'a Path>,
    pub json: bool,
}

#[cfg(not(feature = "candle"))]
pub fn train(model: &Model, _: &NeuralArgs<'_>) -> Result<(), CliError> {
    Err(without_candle(model))
}

#[cfg(not(feature = "candle"))]
pub fn query(model: &Model, _: &Path, _: Option<&Path>) -> Result<Vec<(String, f64)>, CliError> {
    Err(without_candle(model))
}

#[cfg(not(feature = "candle"))]
fn without_candle(model: &Model) -> CliError {
    CliError::Usage(format!(
        "the model's neural predicates call `{}`; this deeplog was built without a deep-learning library to run \
         networks: build it with `cargo build --release --features candle`",
        model.networks().join("`, `")
    ))
}

#[cfg(feature = "candle")]
pub use with_candle::{query, train};

#[cfg(feature = "candle")]
mod with_candle {
    use std::collections::HashMap;
    use std::path::Path;

    use candle_nn::VarMap;
    use deeplog_circuits::formats::write_atomically;

    use super::{CliError, NeuralArgs};
    use crate::neural::candle::{save_tensors, Architecture, CandleNetwork, SavedNetwork};
    use crate::neural::train::{EpochReport, Progress, TrainOptions};
    use crate::neural::{self, Network, NeuralExample, NeuralModel};
    use crate::{Model, QueryOptions};

    type Features = HashMap<String, Vec<f32>>;

    fn usage(path: &Path, line: usize, why: impl std::fmt::Display) -> CliError {
        CliError::Usage(format!("{}:{line}: {why}", path.display()))
    }

    /// Reads `id,f1,f2,…` lines (a first line whose features are not
    /// numbers is a header); every row must have as many features as the
    /// first.
    fn read_inputs(path: &Path) -> Result<Features, CliError> {
        let text = deeplog_circuits::formats::read_text(path)?;
        let mut features = Features::new();
        let mut width = None;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split(',').map(str::trim);
            let id = fields.next().unwrap_or_default().to_string();
            let values: Result<Vec<f32>, _> = fields.map(str::parse::<f32>).collect();
            let values = match values {
                Ok(v) => v,
                Err(_) if i == 0 => continue,
                Err(e) => return Err(usage(path, i + 1, format!("a feature is not a number ({e})"))),
            };
            if values.is_empty() {
                return Err(usage(path, i + 1, "expected `id,feature,feature,…`"));
            }
            if let Some(w) = values.iter().position(|v| !v.is_finite()) {
                return Err(usage(path, i + 1, format!("feature {} is not finite", w + 1)));
            }
            match width {
                None => width = Some(values.len()),
                Some(w) if w != values.len() => {
                    return Err(usage(path, i + 1, format!("{} features, and the first row has {w}", values.len())))
                }
                Some(_) => {}
            }
            if features.insert(id.clone(), values).is_some() {
                return Err(usage(path, i + 1, format!("input `{id}` appears twice")));
            }
        }
        if features.is_empty() {
            return Err(CliError::Usage(format!("{}: no inputs", path.display())));
        }
        Ok(features)
    }

    /// Reads `{"query": "sum2(img3,img9,12)"}` lines into examples of the
    /// compiled model; a line that is not one, names an input
    /// `features` lacks, or states an answer the model does not have is an
    /// error naming the line.
    fn read_examples(path: &Path, model: &NeuralModel, features: &Features) -> Result<Vec<NeuralExample>, CliError> {
        let text = deeplog_circuits::formats::read_text(path)?;
        let mut examples = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |why: String| usage(path, i + 1, why);
            let value: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
            let Some(serde_json::Value::String(atom)) = value.get("query") else {
                return Err(bad("expected {\"query\": \"sum2(img3,img9,12)\"}".to_string()));
            };
            if value.get("probability").is_some_and(|p| p.as_f64() != Some(1.0)) {
                return Err(bad("a neural example is a query that holds: its probability can only be 1".to_string()));
            }
            let example = model.example(atom).map_err(bad)?;
            let mut bound: Vec<&String> = example.bindings.values().collect();
            bound.sort();
            if let Some(missing) = bound.into_iter().find(|input| !features.contains_key(*input)) {
                return Err(bad(format!("no input `{missing}` in the inputs file")));
            }
            examples.push(example);
        }
        if examples.is_empty() {
            return Err(CliError::Usage(format!("{}: no examples", path.display())));
        }
        Ok(examples)
    }

    /// `NAME=ARCH` options, by network name.
    fn architectures(specs: &[String]) -> Result<HashMap<String, Architecture>, CliError> {
        specs
            .iter()
            .map(|spec| {
                let (name, arch) = spec
                    .split_once('=')
                    .ok_or_else(|| CliError::Usage(format!("--network `{spec}`: write NAME=ARCH, e.g. net=mlp:128")))?;
                let arch = arch.parse().map_err(|e| CliError::Usage(format!("--network `{spec}`: {e}")))?;
                Ok((name.to_string(), arch))
            })
            .collect()
    }

    /// A network's name, shape and parameters, for saving: its parameters
    /// are shared with the network, so they are always its current ones.
    type SavedWeights = (String, Architecture, usize, usize, VarMap);

    /// The networks, boxed for [`NeuralModel`], and their weights for
    /// saving.
    struct Networks {
        boxed: HashMap<String, Box<dyn Network>>,
        saved: Vec<SavedWeights>,
    }

    fn to_json(nets: &[SavedWeights]) -> Result<serde_json::Value, CliError> {
        let mut out = serde_json::Map::new();
        for (name, arch, inputs, outputs, vars) in nets {
            let tensors = save_tensors(vars).map_err(CliError::Usage)?;
            let saved = SavedNetwork { architecture: arch.to_string(), inputs: *inputs, outputs: *outputs, tensors };
            out.insert(name.clone(), serde_json::to_value(saved).map_err(|e| CliError::Usage(e.to_string()))?);
        }
        Ok(serde_json::Value::Object(out))
    }

    /// The model's networks over `features`: new ones from `specs` and
    /// `seed`, or the saved ones of `saved` (a parameter file, named in its
    /// errors).
    fn networks(
        model: &NeuralModel,
        features: &Features,
        specs: &[String],
        seed: u64,
        rate: f64,
        saved: Option<(&Path, &serde_json::Map<String, serde_json::Value>)>,
    ) -> Result<Networks, CliError> {
        let dim = features.values().next().map_or(0, Vec::len);
        let mut archs = architectures(specs)?;
        let uses = model.networks();
        if let Some(name) = archs.keys().find(|name| !uses.iter().any(|u| &u.name == *name)) {
            let names: Vec<&str> = uses.iter().map(|u| u.name.as_str()).collect();
            return Err(CliError::Usage(format!(
                "--network `{name}`: the model has no such network (it calls {})",
                names.join(", ")
            )));
        }
        let mut out = Networks { boxed: HashMap::new(), saved: Vec::new() };
        for (k, u) in uses.iter().enumerate() {
            if u.inputs != 1 {
                return Err(CliError::Usage(format!(
                    "network `{}` takes {} inputs; the command line runs networks of one input (from Rust, any \
                     deeplog::neural::Network)",
                    u.name, u.inputs
                )));
            }
            let (arch, (mlp, vars)) = match saved {
                Some((path, saved)) => {
                    let bad = |why: String| CliError::Usage(format!("{}: network `{}`: {why}", path.display(), u.name));
                    let entry = saved.get(&u.name).ok_or_else(|| bad("no weights for it".to_string()))?;
                    let s: SavedNetwork = serde_json::from_value(entry.clone()).map_err(|e| bad(e.to_string()))?;
                    if (s.inputs, s.outputs) != (dim, u.outputs) {
                        return Err(bad(format!(
                            "saved for {} features and {} outputs; here it has {dim} and {}",
                            s.inputs, s.outputs, u.outputs
                        )));
                    }
                    let arch = s.architecture.parse().map_err(bad)?;
                    (arch, Architecture::load(&s).map_err(|e| bad(e.to_string()))?)
                }
                None => {
                    let arch = archs.remove(&u.name).unwrap_or(Architecture { hidden: vec![128] });
                    let built = arch
                        .build(dim, u.outputs, seed.wrapping_add(k as u64))
                        .map_err(|e| CliError::Usage(format!("network `{}`: {e}", u.name)))?;
                    (arch, built)
                }
            };
            let network = CandleNetwork::new(mlp, &vars, rate, features.clone())
                .map_err(|e| CliError::Usage(format!("network `{}`: {e}", u.name)))?;
            out.boxed.insert(u.name.clone(), Box::new(network));
            out.saved.push((u.name.clone(), arch, dim, u.outputs, vars));
        }
        Ok(out)
    }

    fn compile(model: &Model) -> Result<NeuralModel, CliError> {
        let compiled = NeuralModel::new(model, &QueryOptions::default())?;
        if compiled.formulas().inputs().iter().any(|i| i.learnable) {
            return Err(CliError::Usage(
                "the model has both neural predicates and t(_) parameters; training both at once is not supported \
                 yet: make the parameters fixed probabilities, or learn them first without the networks"
                    .to_string(),
            ));
        }
        Ok(compiled)
    }

    pub fn train(model: &Model, args: &NeuralArgs<'_>) -> Result<(), CliError> {
        let Some(inputs) = args.inputs else {
            return Err(CliError::Usage(format!(
                "the model's neural predicates call `{}`: give their inputs with --inputs FEATURES.csv \
                 (lines `id,feature,feature,…`)",
                model.networks().join("`, `")
            )));
        };
        if args.batch == 0 {
            return Err(CliError::Usage("--batch must be at least 1".to_string()));
        }
        let features = read_inputs(inputs)?;
        let compiled = compile(model)?;
        let examples = read_examples(args.data, &compiled, &features)?;
        let test = args.test.map(|t| read_examples(t, &compiled, &features)).transpose()?;
        let mut nets = networks(&compiled, &features, args.networks, args.seed, args.rate, None)?;
        let options = TrainOptions { epochs: args.epochs, batch: args.batch, seed: args.seed };
        let bar = (!args.json).then(|| {
            let bar = indicatif::ProgressBar::new(examples.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} examples  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        let saved = &nets.saved;
        let on_progress = |progress: Progress<'_>| match progress {
            Progress::Batch(so_far) => {
                if let Some(bar) = &bar {
                    bar.set_prefix(format!("epoch {}/{}", so_far.epoch, args.epochs));
                    bar.set_position(so_far.examples as u64);
                    bar.set_message(format!(
                        "loss {:.4}  accuracy {:.3}  {:.0} examples/s",
                        so_far.loss,
                        so_far.train_accuracy,
                        so_far.examples_per_second()
                    ));
                }
                Ok(())
            }
            Progress::Epoch(report) => {
                if let Some(output) = args.output {
                    save(output, saved)?;
                }
                print_epoch(report, args.epochs, args.json, bar.as_ref());
                Ok::<(), CliError>(())
            }
        };
        neural::train::train(&compiled, &mut nets.boxed, &examples, test.as_deref(), &options, on_progress)?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        Ok(())
    }

    /// One line per epoch: JSON, or text above the progress bar.
    fn print_epoch(report: &EpochReport, epochs: usize, json: bool, bar: Option<&indicatif::ProgressBar>) {
        let EpochReport { epoch, loss, train_accuracy, test_accuracy, seconds, .. } = *report;
        if json {
            let mut line = serde_json::json!({
                "epoch": epoch, "loss": loss, "train_accuracy": train_accuracy, "seconds": seconds,
                "examples_per_second": report.examples_per_second(),
            });
            if let Some(a) = test_accuracy {
                line["test_accuracy"] = serde_json::json!(a);
            }
            println!("{line}");
            return;
        }
        let test = test_accuracy.map(|a| format!("  test accuracy {a:.4}")).unwrap_or_default();
        let line = format!(
            "epoch {epoch}/{epochs}: loss {loss:.4}  train accuracy {train_accuracy:.4}{test}  {seconds:.3} s \
             ({:.0} examples/s)",
            report.examples_per_second()
        );
        match bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Writes the networks (and the model's parameters, none yet) whole or
    /// not at all: an interrupted run leaves the last complete file.
    fn save(output: &Path, nets: &[SavedWeights]) -> Result<(), CliError> {
        let text = serde_json::to_string(&serde_json::json!({ "parameters": {}, "networks": to_json(nets)? }))
            .map_err(|e| CliError::Usage(e.to_string()))?;
        write_atomically(output, &text).map_err(|source| CliError::Write { path: output.to_path_buf(), source })
    }

    /// Every query's probability with the networks of a file `deeplog
    /// train` wrote, over `inputs`.
    pub fn query(model: &Model, params: &Path, inputs: Option<&Path>) -> Result<Vec<(String, f64)>, CliError> {
        let Some(inputs) = inputs else {
            return Err(CliError::Usage(format!(
                "the model's neural predicates call `{}`: give their inputs with --inputs FEATURES.csv",
                model.networks().join("`, `")
            )));
        };
        let features = read_inputs(inputs)?;
        let text = deeplog_circuits::formats::read_text(params)?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("{}: not JSON: {e}", params.display())))?;
        let Some(serde_json::Value::Object(saved)) = value.get("networks") else {
            return Err(CliError::Usage(format!(
                "{}: no network weights (write them with `deeplog train … -o FILE`)",
                params.display()
            )));
        };
        let compiled = compile(model)?;
        if let Some(missing) = compiled
            .formulas()
            .inputs()
            .iter()
            .flat_map(|i| &i.network_inputs)
            .find(|name| !features.contains_key(*name))
        {
            return Err(CliError::Usage(format!("no input `{missing}` in {}", inputs.display())));
        }
        let mut nets = networks(&compiled, &features, &[], 0, 0.0, Some((params, saved)))?;
        let one = NeuralExample { bindings: HashMap::new(), query: 0 };
        let p = compiled.evaluate(&mut nets.boxed, &[one])?;
        let values = p.into_iter().next().unwrap_or_default();
        Ok(compiled.formulas().queries().iter().cloned().zip(values).collect())
    }
}
