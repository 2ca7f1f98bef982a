//! `deeplog train FILE --data EXAMPLES.jsonl`: learn the model's `t(p)::`
//! parameters, print them, save them for `deeplog query --params`.

use std::collections::HashMap;
use std::path::Path;

use deeplog_circuits::formats::write_atomically;

use super::CliError;
use crate::learn::{train_with, Example, TrainOptions};
use crate::{Error, Model};

pub struct TrainArgs<'a> {
    pub file: &'a Path,
    pub data: &'a Path,
    pub test: Option<&'a Path>,
    pub inputs: Option<&'a Path>,
    pub networks: &'a [String],
    pub epochs: Option<usize>,
    pub rate: Option<f64>,
    pub batch: usize,
    pub seed: u64,
    pub output: Option<&'a Path>,
    pub json: bool,
}

/// Reads examples, one JSON object a line, with the line of each; a bad
/// line is an error naming it.
pub(super) fn read_examples(path: &Path) -> Result<(Vec<Example>, Vec<usize>), CliError> {
    let text = deeplog_circuits::formats::read_text(path)?;
    let mut examples = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| CliError::Usage(format!("{}:{}: {why}", path.display(), i + 1));
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let example = match (value.get("query"), value.get("evidence")) {
            (Some(serde_json::Value::String(query)), None) => {
                let probability = match value.get("probability") {
                    None => 1.0,
                    Some(p) => p.as_f64().ok_or_else(|| bad("`probability` must be a number".to_string()))?,
                };
                Example::Query { query: query.clone(), probability }
            }
            (None, Some(serde_json::Value::Object(atoms))) => {
                let evidence = atoms
                    .iter()
                    .map(|(atom, v)| match v {
                        serde_json::Value::Bool(b) => Ok((atom.clone(), *b)),
                        _ => Err(bad(format!("evidence for `{atom}` must be true or false"))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Example::Evidence { evidence }
            }
            _ => {
                return Err(bad(
                    "expected {\"query\": \"q(a)\", \"probability\": 0.7} or {\"evidence\": {\"a\": true}}".to_string(),
                ))
            }
        };
        examples.push(example);
        lines.push(i + 1);
    }
    Ok((examples, lines))
}

/// A parameter file written by `deeplog train`
/// (`{"parameters": {"atom": p, …}}`), with the line of each parameter so
/// that a model's complaint about one can name it.
pub struct ParameterFile {
    path: std::path::PathBuf,
    /// The probabilities by atom.
    pub values: HashMap<String, f64>,
    lines: HashMap<String, usize>,
}

/// A JSON object's entries in file order, each value as its own text (a
/// slice of the file, so its place is known); duplicates kept.
struct Entries<'a>(Vec<(String, &'a serde_json::value::RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object {\"atom\": p}")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Entries<'a>, M::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

impl ParameterFile {
    /// Reads the file; a value that is no probability, or an atom given
    /// twice, is an error naming its line.
    pub fn read(path: &Path) -> Result<ParameterFile, CliError> {
        #[derive(serde::Deserialize)]
        struct File<'a> {
            #[serde(borrow)]
            parameters: Option<Entries<'a>>,
        }
        let text = deeplog_circuits::formats::read_text(path)?;
        let at = |line: usize, why: String| CliError::Usage(format!("{}:{line}: {why}", path.display()));
        let file: File<'_> = serde_json::from_str(&text).map_err(|e| at(e.line(), format!("not JSON: {e}")))?;
        let Some(Entries(entries)) = file.parameters else {
            return Err(CliError::Usage(format!("{}: expected {{\"parameters\": {{\"atom\": p}}}}", path.display())));
        };
        let (mut values, mut lines) = (HashMap::new(), HashMap::new());
        for (name, raw) in entries {
            // The value is a slice of `text`: its offset gives its line.
            let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
            let line = text[..offset].matches('\n').count() + 1;
            let p = match serde_json::from_str::<f64>(raw.get()) {
                Ok(p) if (0.0..=1.0).contains(&p) => p,
                _ => return Err(at(line, format!("`{name}` must be a probability, not {}", raw.get()))),
            };
            if let Some(first) = lines.insert(name.clone(), line) {
                return Err(at(line, format!("`{name}` is given twice (first on line {first})")));
            }
            values.insert(name, p);
        }
        Ok(ParameterFile { path: path.to_path_buf(), values, lines })
    }

    /// A model's error about one of the file's parameters, at its line.
    pub fn locate(&self, error: Error) -> CliError {
        match &error {
            Error::UnknownParameter(name) => match self.lines.get(name) {
                Some(line) => CliError::Usage(format!("{}:{line}: {error}", self.path.display())),
                None => CliError::Usage(format!("{}: {error}", self.path.display())),
            },
            _ => CliError::from(error),
        }
    }
}

pub fn train(args: &TrainArgs<'_>) -> Result<(), CliError> {
    let model = Model::from_file(args.file)?;
    if !model.networks().is_empty() {
        return super::neural::train(
            &model,
            &super::neural::NeuralArgs {
                data: args.data,
                test: args.test,
                inputs: args.inputs,
                networks: args.networks,
                epochs: args.epochs.unwrap_or(10),
                rate: args.rate.unwrap_or(3e-3),
                batch: args.batch,
                seed: args.seed,
                output: args.output,
                json: args.json,
            },
        );
    }
    let neural_only = [
        (args.test.is_some(), "--test"),
        (args.inputs.is_some(), "--inputs"),
        (!args.networks.is_empty(), "--network"),
    ];
    if let Some((_, flag)) = neural_only.iter().find(|(given, _)| *given) {
        return Err(CliError::Usage(format!("{flag} is for models with neural predicates, and this model has none")));
    }
    let (examples, lines) = read_examples(args.data)?;
    let epochs = args.epochs.unwrap_or(100);
    let options = TrainOptions { epochs, learning_rate: args.rate.unwrap_or(0.05) };
    let bar = (!args.json).then(|| {
        let bar = indicatif::ProgressBar::new(epochs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} epoch {pos}/{len}  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let start = std::time::Instant::now();
    let trained = train_with(&model, &examples, &options, |epoch, loss| {
        if let Some(bar) = &bar {
            bar.set_position(epoch as u64);
            let rate = (epoch * examples.len()) as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("loss {loss:.5}  {rate:.0} examples/s"));
        }
    })
    .map_err(|e| match e {
        Error::Example { index, message } => {
            CliError::Usage(format!("{}:{}: {message}", args.data.display(), lines[index]))
        }
        e => CliError::from(e),
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let parameters: serde_json::Map<String, serde_json::Value> =
        trained.parameters.iter().map(|p| (p.name.clone(), serde_json::json!(p.value))).collect();
    if let Some(output) = args.output {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "parameters": parameters }))
            .map_err(|e| CliError::Usage(e.to_string()))?;
        write_atomically(output, &text).map_err(|source| CliError::Write { path: output.to_path_buf(), source })?;
    }
    if args.json {
        println!("{}", serde_json::json!({ "parameters": parameters, "losses": trained.losses }));
        return Ok(());
    }
    let (first, last) = (trained.losses.first().copied().unwrap_or(0.0), trained.losses.last().copied().unwrap_or(0.0));
    println!("{} examples, {epochs} epochs: loss {first:.5} -> {last:.5}", examples.len());
    for p in &trained.parameters {
        println!("{}: {:.6}", p.name, p.value);
    }
    Ok(())
}
