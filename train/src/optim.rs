//! AdamW with decoupled weight decay and clipping by the *global* gradient
//! norm (as PyTorch's `clip_grad_norm_`), over parameters by name. burn's
//! optimisers clip each tensor by its own norm and keep their state under
//! run-local ids; this one keeps `exp_avg`/`exp_avg_sq` by parameter path so
//! a checkpoint restores it exactly in a new process.

use std::collections::HashMap;

use burn::tensor::Tensor;
use toolgrad_model::host::f32_values;
use toolgrad_model::llama::Llama;

use crate::config::TrainConfig;
use crate::error::Result;
use crate::params::map_trainable;

/// Adam moments of one parameter (flattened).
pub struct Moments {
    pub exp_avg: Tensor<1>,
    pub exp_avg_sq: Tensor<1>,
}

#[derive(Default)]
pub struct AdamW {
    /// Optimiser steps taken.
    pub steps: usize,
    pub moments: HashMap<String, Moments>,
}

/// Summed gradients of the micro-batches of one step, by parameter path.
#[derive(Default)]
pub struct Accumulated {
    pub grads: HashMap<String, Tensor<1>>,
}

impl Accumulated {
    pub fn add(&mut self, name: String, grad: Tensor<1>) {
        let summed = match self.grads.remove(&name) {
            Some(previous) => previous + grad,
            None => grad,
        };
        self.grads.insert(name, summed);
    }

    /// The global L2 norm over every gradient.
    pub fn norm(&self) -> Result<f64> {
        let mut names: Vec<&String> = self.grads.keys().collect();
        names.sort();
        let mut sum = 0f64;
        for name in names {
            let squares = f32_values(self.grads[name].clone().square().sum())?;
            sum += squares.first().copied().unwrap_or(0.0) as f64;
        }
        Ok(sum.sqrt())
    }
}

impl AdamW {
    /// Applies one step with rate `lr` to every trainable parameter that has
    /// a gradient, after scaling all gradients by `clip` (≤ 1).
    pub fn step(
        &mut self,
        model: Llama,
        mut grads: Accumulated,
        lr: f64,
        clip: f64,
        config: &TrainConfig,
    ) -> Llama {
        self.steps += 1;
        let t = self.steps as i32;
        let (b1, b2) = (config.beta1, config.beta2);
        let correction1 = 1.0 - b1.powi(t);
        let correction2 = 1.0 - b2.powi(t);
        let moments = &mut self.moments;
        map_trainable(model, &mut |name, value| {
            let grad = grads.grads.remove(name)?;
            let grad = if clip < 1.0 { grad * clip } else { grad };
            let (m, v) = match moments.remove(name) {
                Some(state) => (
                    state.exp_avg * b1 + grad.clone() * (1.0 - b1),
                    state.exp_avg_sq * b2 + grad.square() * (1.0 - b2),
                ),
                None => (grad.clone() * (1.0 - b1), grad.square() * (1.0 - b2)),
            };
            let update =
                (m.clone() / correction1) / ((v.clone() / correction2).sqrt() + config.epsilon);
            let decayed = if config.weight_decay > 0.0 {
                value * (1.0 - lr * config.weight_decay)
            } else {
                value
            };
            moments.insert(
                name.to_owned(),
                Moments {
                    exp_avg: m,
                    exp_avg_sq: v,
                },
            );
            Some(decayed - update * lr)
        })
    }
}

/// The factor that brings a gradient of norm `norm` under `max_norm` (1 when
/// clipping is off or not needed).
pub fn clip_factor(norm: f64, max_norm: f64) -> f64 {
    if max_norm <= 0.0 || norm <= max_norm {
        1.0
    } else {
        max_norm / (norm + 1e-6)
    }
}
