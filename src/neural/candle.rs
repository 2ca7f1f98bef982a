//! A [`Network`] around a model of the candle deep-learning library
//! (`--features candle`): candle computes the network, its gradients and
//! its optimiser steps; deeplog hands it, for each batch, the gradient of
//! the loss with respect to its output distribution.
//!
//! The inputs of a neural predicate are looked up by name in a table of
//! feature vectors (an image id → its pixels), so that a model file can name
//! images as constants.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Device, Tensor};
use candle_nn::{linear, AdamW, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Network;

/// A multilayer perceptron: linear layers with ReLU between them, logits
/// out. `"mlp:128,64"` has two hidden layers; `"mlp"` one of 128;
/// `"linear"` none.
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }
}

/// An MLP's shape: the widths of its hidden layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Architecture {
    pub hidden: Vec<usize>,
}

impl std::str::FromStr for Architecture {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            || format!("`{text}` is not an architecture: write mlp (one hidden layer of 128), mlp:H1,H2,… or linear");
        match text.split_once(':') {
            None if text == "mlp" => Ok(Architecture { hidden: vec![128] }),
            None if text == "linear" => Ok(Architecture { hidden: Vec::new() }),
            Some(("mlp", widths)) => widths
                .split(',')
                .map(|w| w.trim().parse::<usize>().ok().filter(|&w| w > 0).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(|hidden| Architecture { hidden }),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.hidden.is_empty() {
            return write!(f, "linear");
        }
        let widths: Vec<String> = self.hidden.iter().map(ToString::to_string).collect();
        write!(f, "mlp:{}", widths.join(","))
    }
}

/// A saved tensor: its shape and values, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A network as `deeplog train` saves it: enough to build it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedNetwork {
    pub architecture: String,
    pub inputs: usize,
    pub outputs: usize,
    pub tensors: BTreeMap<String, SavedTensor>,
}

impl Architecture {
    /// An MLP from `inputs` features to `outputs` logits, its parameters
    /// in the returned map, initialised from `seed` (uniform in
    /// `±1/√fan_in`, PyTorch's default for linear layers) so that a run is
    /// reproducible.
    pub fn build(&self, inputs: usize, outputs: usize, seed: u64) -> Result<(Mlp, VarMap), candle_core::Error> {
        let vars = VarMap::new();
        let vb = VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu);
        let mut widths = vec![inputs];
        widths.extend(&self.hidden);
        widths.push(outputs);
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| linear(w[0], w[1], vb.pp(format!("layer{i}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let data = vars.data().lock().map_err(|_| candle_core::Error::Msg("poisoned parameters".into()))?;
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var = &data[name];
            let dims = var.dims().to_vec();
            let layer: usize =
                name.trim_start_matches("layer").split('.').next().and_then(|i| i.parse().ok()).unwrap_or(0);
            let bound = 1.0 / (widths[layer] as f64).sqrt();
            let values: Vec<f32> = (0..var.elem_count()).map(|_| rng.random_range(-bound..bound) as f32).collect();
            var.set(&Tensor::from_vec(values, dims, &Device::Cpu)?)?;
        }
        drop(data);
        Ok((Mlp { layers }, vars))
    }

    /// Builds the network a [`SavedNetwork`] describes, with its weights.
    pub fn load(saved: &SavedNetwork) -> Result<(Mlp, VarMap), String> {
        let architecture: Architecture = saved.architecture.parse()?;
        let (mlp, mut vars) = architecture.build(saved.inputs, saved.outputs, 0).map_err(|e| e.to_string())?;
        let expected: Vec<String> = vars.data().lock().map_err(|e| e.to_string())?.keys().cloned().collect();
        for name in &expected {
            let t = saved.tensors.get(name).ok_or_else(|| format!("the saved network has no tensor `{name}`"))?;
            let tensor = Tensor::from_vec(t.data.clone(), t.shape.clone(), &Device::Cpu).map_err(|e| e.to_string())?;
            vars.set_one(name, tensor).map_err(|e| format!("tensor `{name}`: {e}"))?;
        }
        Ok((mlp, vars))
    }
}

/// Every parameter of `vars`, for [`SavedNetwork::tensors`].
pub fn save_tensors(vars: &VarMap) -> Result<BTreeMap<String, SavedTensor>, String> {
    let data = vars.data().lock().map_err(|e| e.to_string())?;
    data.iter()
        .map(|(name, var)| {
            let values = var.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| e.to_string())?;
            Ok((name.clone(), SavedTensor { shape: var.dims().to_vec(), data: values }))
        })
        .collect()
}

/// A candle model whose outputs are a softmax over the predicate's domain,
/// trained with AdamW.
pub struct CandleNetwork<M: Module> {
    model: M,
    optimizer: AdamW,
    features: HashMap<String, Vec<f32>>,
    dim: usize,
    /// The distribution of the last forward pass, with its graph.
    last: Option<Tensor>,
}

impl<M: Module> CandleNetwork<M> {
    /// `model` maps `[n × dim]` features to `[n × domain]` logits; its
    /// parameters live in `vars`; `features` maps each input name to its
    /// `dim` features.
    pub fn new(
        model: M,
        vars: &VarMap,
        learning_rate: f64,
        features: HashMap<String, Vec<f32>>,
    ) -> Result<Self, candle_core::Error> {
        let dim = features.values().next().map_or(0, Vec::len);
        if let Some((name, f)) = features.iter().find(|(_, f)| f.len() != dim) {
            return Err(candle_core::Error::Msg(format!("input `{name}` has {} features, others {dim}", f.len())));
        }
        let optimizer = AdamW::new(vars.all_vars(), ParamsAdamW { lr: learning_rate, ..ParamsAdamW::default() })?;
        Ok(CandleNetwork { model, optimizer, features, dim, last: None })
    }

    /// The model's output distribution for inputs by name, without keeping
    /// it for a backward pass.
    pub fn predict(&self, names: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let x = self.batch(names.iter().copied())?;
        let p = self.distribution(&x)?;
        p.to_vec2().map_err(|e| e.to_string())
    }

    fn batch<'a>(&self, names: impl Iterator<Item = &'a str>) -> Result<Tensor, String> {
        let mut data = Vec::new();
        let mut n = 0;
        for name in names {
            let f = self.features.get(name).ok_or_else(|| format!("no input `{name}`"))?;
            data.extend_from_slice(f);
            n += 1;
        }
        Tensor::from_vec(data, (n, self.dim), &Device::Cpu).map_err(|e| e.to_string())
    }

    fn distribution(&self, x: &Tensor) -> Result<Tensor, String> {
        let logits = self.model.forward(x).map_err(|e| e.to_string())?;
        candle_nn::ops::softmax(&logits, 1).map_err(|e| e.to_string())
    }
}

impl<M: Module> Network for CandleNetwork<M> {
    fn forward(&mut self, inputs: &[Vec<String>]) -> Result<Vec<f64>, String> {
        if let Some(i) = inputs.iter().find(|i| i.len() != 1) {
            return Err(format!("a candle network takes one input, not {}", i.len()));
        }
        let x = self.batch(inputs.iter().map(|i| i[0].as_str()))?;
        let p = self.distribution(&x)?;
        let out: Vec<f32> = p.flatten_all().and_then(|t| t.to_vec1()).map_err(|e| e.to_string())?;
        self.last = Some(p);
        Ok(out.into_iter().map(f64::from).collect())
    }

    fn backward(&mut self, gradient: &[f64]) -> Result<(), String> {
        let p = self.last.take().ok_or("backward without a forward pass")?;
        // Σ p · g has gradient g at the outputs: candle carries it back
        // through the softmax and the model to the parameters.
        let g = Tensor::from_vec(gradient.iter().map(|&x| x as f32).collect::<Vec<f32>>(), p.shape(), &Device::Cpu)
            .map_err(|e| e.to_string())?;
        let surrogate = (p * g).and_then(|t| t.sum_all()).map_err(|e| e.to_string())?;
        self.optimizer.backward_step(&surrogate).map_err(|e| e.to_string())
    }
}
