//! A [`Network`] around a model of the candle deep-learning library
//! (`--features candle`): candle computes the network, its gradients and
//! its optimiser steps; deeplog hands it, for each batch, the gradient of
//! the loss with respect to its output distribution.
//!
//! The inputs of a neural predicate are looked up by name in a table of
//! feature vectors (an image id → its pixels), so that a model file can name
//! images as constants.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Module, Optimizer, ParamsAdamW, VarMap};

use super::Network;

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
