//! LoRA adapters on the decoder's projections, computed as `W·x + (α/r)·B·(A·x)`
//! with `W` frozen: the dense `W + (α/r)·B·A` is never built during training
//! (burn's built-in `module::Lora` builds it on every forward; see
//! `benchmarks/train/README.md` for the measurement). Initialised and named as
//! PEFT does, so an adapter exports to `adapter_model.safetensors` unchanged.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use rand::rngs::{SmallRng, StdRng};
use rand::{Rng, RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::llama::{project, Linear, Llama};

/// The seven projections of a Llama block, in PEFT's module names.
pub const PROJECTIONS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// Which projections get an adapter, and its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraSpec {
    pub rank: usize,
    pub alpha: f64,
    pub dropout: f64,
    /// Module names out of [`PROJECTIONS`].
    pub targets: Vec<String>,
}

impl Default for LoraSpec {
    /// The ToolGrad paper's settings: r = 64, α = 16, dropout 0.1, all seven projections.
    fn default() -> Self {
        Self {
            rank: 64,
            alpha: 16.0,
            dropout: 0.1,
            targets: PROJECTIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl LoraSpec {
    /// `α / r`, the factor on `B·A`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// Checks rank, alpha, dropout and target names; `field` prefixes the messages.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.rank == 0 {
            return Err("lora.rank must be positive".into());
        }
        if !self.alpha.is_finite() || self.alpha <= 0.0 {
            return Err(format!("lora.alpha must be positive, not {}", self.alpha));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!(
                "lora.dropout must be in [0, 1), not {}",
                self.dropout
            ));
        }
        if self.targets.is_empty() {
            return Err("lora.targets names no projection".into());
        }
        if let Some(bad) = self
            .targets
            .iter()
            .find(|t| !PROJECTIONS.contains(&t.as_str()))
        {
            return Err(format!(
                "lora.targets: `{bad}` is not one of {}",
                PROJECTIONS.join(", ")
            ));
        }
        Ok(())
    }
}

/// One adapter: `A` is `[rank, in]` (PEFT's `lora_A.weight`), `B` is
/// `[out, rank]` (`lora_B.weight`).
#[derive(Module, Debug)]
pub struct Lora {
    pub a: Param<Tensor<2>>,
    pub b: Param<Tensor<2>>,
    pub scale: f64,
    pub dropout: Dropout,
}

impl Lora {
    /// `(α/r) · B·(A·dropout(x))`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        project(project(self.drop(x), &self.a), &self.b) * self.scale
    }

    /// Inverted dropout with burn's `Dropout` semantics (only in training mode
    /// on an autodiff device), but the keep mask comes from a xoshiro
    /// generator seeded by three draws from the device's RNG, so
    /// `Device::seed` still fixes it and a recomputed block sees the same
    /// mask. burn's per-element Bernoulli sampler plus its two multiplies took
    /// about 6 % of a LoRA step on SmolLM2-135M (perf, 2 threads).
    fn drop(&self, x: Tensor<3>) -> Tensor<3> {
        let prob = self.dropout.prob;
        let device = x.device();
        if !self.dropout.training.is_enabled() || !device.is_autodiff() || prob == 0.0 {
            return x;
        }
        const DRAW: f64 = (1u64 << 24) as f64;
        let seed = Tensor::<1>::random([3], Distribution::Uniform(0.0, DRAW), &device)
            .into_data()
            .iter::<f32>()
            .fold(0u64, |acc, d| (acc << 24) ^ d as u64);
        let mut rng = SmallRng::seed_from_u64(seed);
        let keep = 1.0 - prob;
        let threshold = (keep * (1u64 << 32) as f64) as u64;
        let scale = (1.0 / keep) as f32;
        let shape = x.shape();
        let n = shape.num_elements();
        let mut mask = Vec::with_capacity(n + 1);
        while mask.len() < n {
            let bits = rng.next_u64();
            for half in [bits & 0xFFFF_FFFF, bits >> 32] {
                mask.push(if half < threshold { scale } else { 0.0 });
            }
        }
        mask.truncate(n);
        x * Tensor::from_data(TensorData::new(mask, shape), &device)
    }

    /// The dense update `(α/r)·B·A`, `[out, in]`.
    pub fn delta(&self) -> Tensor<2> {
        self.b.val().matmul(self.a.val()) * self.scale
    }
}

impl Llama {
    /// Every projection under its HF module path (`model.layers.3.mlp.up_proj`).
    pub fn projections(&self) -> Vec<(String, &Linear)> {
        let mut out = Vec::with_capacity(self.layers.len() * PROJECTIONS.len());
        for (i, l) in self.layers.iter().enumerate() {
            let a = &l.self_attn;
            let m = &l.mlp;
            let named = [
                ("self_attn.q_proj", &a.q_proj),
                ("self_attn.k_proj", &a.k_proj),
                ("self_attn.v_proj", &a.v_proj),
                ("self_attn.o_proj", &a.o_proj),
                ("mlp.gate_proj", &m.gate_proj),
                ("mlp.up_proj", &m.up_proj),
                ("mlp.down_proj", &m.down_proj),
            ];
            out.extend(
                named
                    .into_iter()
                    .map(|(name, linear)| (format!("model.layers.{i}.{name}"), linear)),
            );
        }
        out
    }

    fn for_each_projection(
        mut self,
        mut f: impl FnMut(&str, Linear) -> Result<Linear>,
    ) -> Result<Self> {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let mut apply = |name: &str, slot: &mut Linear| -> Result<()> {
                let placeholder = Linear {
                    weight: slot.weight.clone(),
                    lora: None,
                };
                let linear = std::mem::replace(slot, placeholder);
                *slot = f(&format!("model.layers.{i}.{name}"), linear)?;
                Ok(())
            };
            let a = &mut layer.self_attn;
            apply("self_attn.q_proj", &mut a.q_proj)?;
            apply("self_attn.k_proj", &mut a.k_proj)?;
            apply("self_attn.v_proj", &mut a.v_proj)?;
            apply("self_attn.o_proj", &mut a.o_proj)?;
            let m = &mut layer.mlp;
            apply("mlp.gate_proj", &mut m.gate_proj)?;
            apply("mlp.up_proj", &mut m.up_proj)?;
            apply("mlp.down_proj", &mut m.down_proj)?;
        }
        Ok(self)
    }

    /// Freezes every weight and adds a trainable adapter to each target:
    /// `A` Kaiming-uniform (bound `1/√in`, as PEFT), `B` zero, so the adapted
    /// model starts equal to the base model. `seed` fixes `A`.
    pub fn with_lora(self, spec: &LoraSpec, seed: u64, device: &Device) -> Result<Self> {
        spec.validate().map_err(ModelError::Lora)?;
        let mut rng = StdRng::seed_from_u64(seed);
        self.no_grad().for_each_projection(|path, linear| {
            let module = path.rsplit('.').next().unwrap_or_default();
            if !spec.targets.iter().any(|t| t == module) {
                return Ok(linear);
            }
            if linear.lora.is_some() {
                return Err(ModelError::Lora(format!("{path} already has an adapter")));
            }
            let [out, input] = linear.weight.dims();
            let bound = 1.0 / (input as f64).sqrt();
            let a: Vec<f32> = (0..spec.rank * input)
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect();
            let tensor = |data: Vec<f32>, shape: [usize; 2]| {
                Param::from_tensor(Tensor::from_data(TensorData::new(data, shape), device))
            };
            Ok(Linear {
                weight: linear.weight,
                lora: Some(Lora {
                    a: tensor(a, [spec.rank, input]),
                    b: tensor(vec![0.0; out * spec.rank], [out, spec.rank]),
                    scale: spec.scale(),
                    dropout: DropoutConfig::new(spec.dropout).init(),
                }),
            })
        })
    }

    /// Folds every adapter into its weight (`W + (α/r)·B·A`) and removes it.
    pub fn merge_lora(self) -> Result<Self> {
        self.for_each_projection(|_, linear| {
            Ok(match linear.lora {
                None => linear,
                Some(lora) => {
                    let weight = linear.weight.val().inner() + lora.delta().inner();
                    Linear::new(Param::from_tensor(weight).set_require_grad(false))
                }
            })
        })
    }

    /// Whether any projection carries an adapter.
    pub fn has_lora(&self) -> bool {
        self.projections().iter().any(|(_, l)| l.lora.is_some())
    }

    /// The adapters' factors under PEFT's names
    /// (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`).
    pub fn lora_tensors(&self) -> Vec<(String, Tensor<2>)> {
        let mut out = Vec::new();
        for (path, linear) in self.projections() {
            if let Some(lora) = &linear.lora {
                out.push((
                    format!("base_model.model.{path}.lora_A.weight"),
                    lora.a.val(),
                ));
                out.push((
                    format!("base_model.model.{path}.lora_B.weight"),
                    lora.b.val(),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(dropout: f64, device: &Device) -> Lora {
        let param = || Param::from_tensor(Tensor::zeros([1, 1], device));
        Lora {
            a: param(),
            b: param(),
            scale: 1.0,
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    fn values(t: Tensor<3>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    #[test]
    fn dropout_follows_the_device_seed_and_keeps_the_expected_fraction() {
        let device = crate::device::cpu().autodiff();
        let lora = adapter(0.1, &device);
        let x = Tensor::<3>::ones([2, 64, 128], &device);
        let draw = |seed: u64| {
            device.seed(seed);
            values(lora.drop(x.clone()))
        };
        let (first, again, other) = (draw(7), draw(7), draw(8));
        assert_eq!(first, again);
        assert_ne!(first, other);
        let kept = first.iter().filter(|&&v| v > 0.0).count() as f64 / first.len() as f64;
        assert!((kept - 0.9).abs() < 0.01, "kept {kept}");
        let scale = 1.0 / 0.9f32;
        assert!(first.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-6));
    }

    #[test]
    fn dropout_is_off_without_autodiff_or_probability() {
        let plain = crate::device::cpu();
        let ones = values(Tensor::ones([2, 3, 4], &plain));
        assert_eq!(
            values(adapter(0.5, &plain).drop(Tensor::ones([2, 3, 4], &plain))),
            ones
        );
        let device = plain.autodiff();
        let kept = adapter(0.0, &device).drop(Tensor::ones([2, 3, 4], &device));
        assert_eq!(values(kept), ones);
    }
}
