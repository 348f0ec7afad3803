//! The training configuration (`configs/train-*.toml`): method, LoRA shape,
//! optimiser, schedule, batching, evaluation and checkpoint cadence.
//! Defaults follow the ToolGrad paper's LoRA recipe.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toolgrad_model::device::DeviceChoice;
use toolgrad_model::lora::LoraSpec;

use crate::error::{Result, TrainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Every weight trains.
    Full,
    /// The base is frozen; adapters train.
    #[default]
    Lora,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Linear warmup, then the peak rate.
    #[default]
    Constant,
    /// Linear warmup, then a cosine decay to zero at the last step.
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    F32,
    Bf16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Base model: a `.gguf` file or an HF directory. `--model` overrides it.
    pub model: Option<PathBuf>,
    pub method: Method,
    pub lora: LoraSpec,
    pub seed: u64,
    /// Tokens per packed row; longer samples are cut at the end (and counted).
    pub max_len: usize,
    /// Samples per micro-batch (packed into as few rows as fit).
    pub batch_size: usize,
    /// Micro-batches whose gradients add up to one optimiser step.
    pub grad_accum: usize,
    pub epochs: usize,
    /// Stops after this many optimiser steps, if set.
    pub max_steps: Option<usize>,
    pub learning_rate: f64,
    pub schedule: Schedule,
    /// Warmup as a fraction of all steps (used when `warmup_steps` is 0).
    pub warmup_ratio: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Clip the global gradient norm to this; 0 turns clipping off.
    pub max_grad_norm: f64,
    /// Put a micro-batch's samples back to back in one row (attention per
    /// sample, no padding); off pads one sample per row.
    pub packing: bool,
    /// Recompute each block in the backward pass, keeping one block's
    /// activations instead of the whole model's (one more forward pass).
    pub gradient_checkpointing: bool,
    /// Share of the data held out for the eval loss when no `--eval-data` is given.
    pub eval_fraction: f64,
    /// Eval loss every N steps (and at the end); 0 = only at the end.
    pub eval_every: usize,
    /// Checkpoint every N steps (and at the end).
    pub save_every: usize,
    /// Rows of logits computed at once in the loss (bounds `rows × vocab` memory).
    pub loss_chunk: usize,
    pub export_dtype: ExportFormat,
    /// Where the steps run: `cpu` (burn's flex backend), or `wgpu` / `wgpu:N`
    /// in a build with the `gpu` feature. `--device` overrides it.
    #[serde(skip_serializing_if = "DeviceChoice::is_cpu")]
    pub device: DeviceChoice,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: None,
            method: Method::Lora,
            lora: LoraSpec::default(),
            seed: 1234,
            max_len: 1024,
            batch_size: 1,
            grad_accum: 1,
            epochs: 1,
            max_steps: None,
            learning_rate: 2e-5,
            schedule: Schedule::Constant,
            warmup_ratio: 0.1,
            warmup_steps: 0,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            max_grad_norm: 1.0,
            packing: true,
            gradient_checkpointing: true,
            eval_fraction: 0.05,
            eval_every: 0,
            save_every: 50,
            loss_chunk: 256,
            export_dtype: ExportFormat::F32,
            device: DeviceChoice::Cpu,
        }
    }
}

impl TrainConfig {
    /// Reads and validates a TOML file; errors name the file and field.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let config: Self = toml::from_str(&text).map_err(|e| TrainError::Config {
            path: path.to_path_buf(),
            field: "toml".into(),
            message: e.to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks every field's range; `source` names the file in errors.
    pub fn validate(&self, source: &Path) -> Result<()> {
        let fail = |field: &str, message: String| {
            Err(TrainError::Config {
                path: source.to_path_buf(),
                field: field.into(),
                message,
            })
        };
        for (field, value) in [
            ("max_len", self.max_len),
            ("batch_size", self.batch_size),
            ("grad_accum", self.grad_accum),
            ("epochs", self.epochs),
            ("save_every", self.save_every),
            ("loss_chunk", self.loss_chunk),
        ] {
            if value == 0 {
                return fail(field, "must be positive".into());
            }
        }
        if self.max_len < 2 {
            return fail("max_len", "must hold at least two tokens".into());
        }
        if self.max_steps == Some(0) {
            return fail("max_steps", "must be positive when set".into());
        }
        for (field, value) in [
            ("learning_rate", self.learning_rate),
            ("epsilon", self.epsilon),
        ] {
            if !value.is_finite() || value <= 0.0 {
                return fail(field, format!("must be a positive number, not {value}"));
            }
        }
        for (field, value) in [
            ("weight_decay", self.weight_decay),
            ("max_grad_norm", self.max_grad_norm),
        ] {
            if !value.is_finite() || value < 0.0 {
                return fail(field, format!("must be zero or positive, not {value}"));
            }
        }
        for (field, value) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&value) {
                return fail(field, format!("must be in [0, 1), not {value}"));
            }
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return fail(
                "warmup_ratio",
                format!("must be in [0, 1), not {}", self.warmup_ratio),
            );
        }
        if !(0.0..1.0).contains(&self.eval_fraction) {
            return fail(
                "eval_fraction",
                format!("must be in [0, 1), not {}", self.eval_fraction),
            );
        }
        if self.method == Method::Lora {
            if let Err(message) = self.lora.validate() {
                return fail("lora", message);
            }
        }
        Ok(())
    }

    /// Warmup steps out of `total` optimiser steps.
    pub fn warmup(&self, total: usize) -> usize {
        match self.warmup_steps {
            0 => (self.warmup_ratio * total as f64).ceil() as usize,
            n => n,
        }
    }

    /// The learning rate of optimiser step `step` (0-based) out of `total`.
    pub fn learning_rate_at(&self, step: usize, total: usize) -> f64 {
        let warmup = self.warmup(total);
        if step < warmup {
            return self.learning_rate * (step + 1) as f64 / warmup as f64;
        }
        match self.schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Cosine => {
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    /// The settings that shape the trained weights, as canonical JSON: two
    /// runs with the same hash train the same model from the same data.
    pub fn fingerprint(&self) -> String {
        let mut shaping = self.clone();
        shaping.eval_every = 0;
        shaping.save_every = 1;
        // A run may resume on another device.
        shaping.device = DeviceChoice::Cpu;
        serde_json::to_string(&shaping).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_warm_up_then_hold_or_decay() {
        let config = TrainConfig {
            learning_rate: 1.0,
            warmup_steps: 2,
            ..Default::default()
        };
        assert_eq!(config.learning_rate_at(0, 10), 0.5);
        assert_eq!(config.learning_rate_at(1, 10), 1.0);
        assert_eq!(config.learning_rate_at(9, 10), 1.0);
        let cosine = TrainConfig {
            schedule: Schedule::Cosine,
            ..config
        };
        assert_eq!(cosine.learning_rate_at(2, 10), 1.0);
        assert!(cosine.learning_rate_at(9, 10) < 0.05);
        assert!(cosine.learning_rate_at(6, 10) < cosine.learning_rate_at(4, 10));
    }

    #[test]
    fn the_shipped_train_configs_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let mut loaded = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("train-") && name.ends_with(".toml") {
                TrainConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
                loaded += 1;
            }
        }
        assert!(loaded >= 3, "{loaded} train configs");
    }

    #[test]
    fn bad_fields_are_named() {
        let dir = tempfile::tempdir().unwrap();
        for (text, field) in [
            ("learning_rate = -1.0", "learning_rate"),
            ("batch_size = 0", "batch_size"),
            (
                "lora = { rank = 0, alpha = 16.0, dropout = 0.1, targets = [\"q_proj\"] }",
                "lora",
            ),
            (
                "lora = { rank = 8, alpha = 16.0, dropout = 0.1, targets = [\"qq\"] }",
                "lora",
            ),
            ("beta2 = 1.0", "beta2"),
            ("nonsense = 3", "toml"),
            ("device = \"cuda\"", "device"),
        ] {
            let path = dir.path().join("c.toml");
            std::fs::write(&path, text).unwrap();
            let error = TrainConfig::load(&path).unwrap_err().to_string();
            assert!(error.contains(field), "{text}: {error}");
            assert!(error.contains("c.toml"), "{error}");
        }
    }

    #[test]
    fn the_device_parses_and_does_not_change_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "device = \"wgpu:1\"\n").unwrap();
        let config = TrainConfig::load(&path).unwrap();
        assert_eq!(config.device, DeviceChoice::Wgpu(Some(1)));
        assert_eq!(config.fingerprint(), TrainConfig::default().fingerprint());
        #[cfg(not(feature = "wgpu"))]
        {
            let error = crate::trainer::training_device(&config)
                .unwrap_err()
                .to_string();
            assert!(error.contains("--features gpu"), "{error}");
        }
    }
}
