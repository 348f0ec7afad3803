//! The decoder's hyper-parameters, read from GGUF metadata or an HF `config.json`.
//!
//! Architecture differences live here as data (activation, norm style, scaling),
//! so a new family such as Gemma-3 extends this struct and the model's switches
//! instead of copying the model.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;

/// Hyper-parameters of a Llama-family decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub rope_theta: f64,
    pub rms_norm_eps: f64,
    pub max_position_embeddings: usize,
    /// The LM head reuses the token embedding.
    pub tie_word_embeddings: bool,
}

/// The subset of an HF `config.json` that a Llama model needs.
#[derive(Deserialize)]
struct HfConfig {
    architectures: Option<Vec<String>>,
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    #[serde(default = "default_theta")]
    rope_theta: f64,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    #[serde(default = "default_positions")]
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: bool,
    /// Settings the model does not implement: refused by name when set.
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    attention_bias: Option<bool>,
    #[serde(default)]
    mlp_bias: Option<bool>,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    head_dim: Option<usize>,
}

fn default_theta() -> f64 {
    10_000.0
}
fn default_eps() -> f64 {
    1e-5
}
fn default_positions() -> usize {
    2048
}

impl LlamaConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Checks the relations the model relies on; `source` names the file.
    pub fn validate(&self, source: &Path) -> Result<()> {
        let fail = |field: &str, message: String| {
            Err(ModelError::Config {
                path: source.to_path_buf(),
                field: field.into(),
                message,
            })
        };
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        for (field, value) in positive {
            if value == 0 {
                return fail(field, "must be positive".into());
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads)
            || !self.head_dim().is_multiple_of(2)
        {
            return fail(
                "num_attention_heads",
                format!(
                    "{} heads do not split hidden size {} into even head dimensions",
                    self.num_attention_heads, self.hidden_size
                ),
            );
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return fail(
                "num_key_value_heads",
                format!(
                    "{} KV heads do not divide {} attention heads",
                    self.num_key_value_heads, self.num_attention_heads
                ),
            );
        }
        Ok(())
    }

    /// Reads `<arch>.*` keys of a GGUF file; only the `llama` architecture is accepted.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let arch = file.require_str("general.architecture")?;
        if arch != "llama" {
            return Err(ModelError::Architecture(arch.to_owned()));
        }
        let key = |name: &str| format!("llama.{name}");
        let heads = file.require_usize(&key("attention.head_count"))?;
        let vocab_size = match file.metadata(&key("vocab_size")) {
            Some(v) => v.as_u64().unwrap_or(0) as usize,
            None => file.string_array("tokenizer.ggml.tokens")?.len(),
        };
        let config = Self {
            vocab_size,
            hidden_size: file.require_usize(&key("embedding_length"))?,
            intermediate_size: file.require_usize(&key("feed_forward_length"))?,
            num_hidden_layers: file.require_usize(&key("block_count"))?,
            num_attention_heads: heads,
            num_key_value_heads: match file.metadata(&key("attention.head_count_kv")) {
                Some(_) => file.require_usize(&key("attention.head_count_kv"))?,
                None => heads,
            },
            rope_theta: file
                .optional_f64(&key("rope.freq_base"))?
                .unwrap_or_else(default_theta),
            rms_norm_eps: file
                .optional_f64(&key("attention.layer_norm_rms_epsilon"))?
                .unwrap_or_else(default_eps),
            max_position_embeddings: file.require_usize(&key("context_length"))?,
            tie_word_embeddings: file.tensor_entry("output.weight").is_err(),
        };
        config.validate(file.path())?;
        Ok(config)
    }

    /// Reads an HF `config.json` of a `LlamaForCausalLM` model.
    pub fn from_hf_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let hf: HfConfig = serde_json::from_str(&text).map_err(|e| ModelError::Config {
            path: path.to_path_buf(),
            field: "config.json".into(),
            message: e.to_string(),
        })?;
        let arch = hf
            .architectures
            .as_ref()
            .and_then(|a| a.first().cloned())
            .or(hf.model_type.clone())
            .unwrap_or_default();
        if arch != "LlamaForCausalLM" && arch != "llama" {
            return Err(ModelError::Architecture(arch));
        }
        let unsupported = |field: &str, message: String| {
            Err(ModelError::Config {
                path: path.to_path_buf(),
                field: field.into(),
                message,
            })
        };
        if hf.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return unsupported(
                "rope_scaling",
                "RoPE scaling is not implemented; the model would load with wrong positions".into(),
            );
        }
        if hf.attention_bias == Some(true) {
            return unsupported(
                "attention_bias",
                "attention biases are not implemented".into(),
            );
        }
        if hf.mlp_bias == Some(true) {
            return unsupported("mlp_bias", "MLP biases are not implemented".into());
        }
        if let Some(act) = hf.hidden_act.as_deref().filter(|a| *a != "silu") {
            return unsupported("hidden_act", format!("`{act}` is not implemented (silu)"));
        }
        if let Some(hd) = hf
            .head_dim
            .filter(|&hd| hd * hf.num_attention_heads != hf.hidden_size)
        {
            return unsupported(
                "head_dim",
                format!(
                    "{hd} × {} heads is not hidden_size {}",
                    hf.num_attention_heads, hf.hidden_size
                ),
            );
        }
        let config = Self {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            intermediate_size: hf.intermediate_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: hf.num_attention_heads,
            num_key_value_heads: hf.num_key_value_heads.unwrap_or(hf.num_attention_heads),
            rope_theta: hf.rope_theta,
            rms_norm_eps: hf.rms_norm_eps,
            max_position_embeddings: hf.max_position_embeddings,
            tie_word_embeddings: hf.tie_word_embeddings,
        };
        config.validate(path)?;
        Ok(config)
    }

    /// The HF `config.json` for this model, so exported weights load in common tooling.
    pub fn to_hf_json(&self) -> serde_json::Value {
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim(),
            "hidden_act": "silu",
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_norm_eps,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "torch_dtype": "float32",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(extra: &str) -> Result<LlamaConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let base = r#""architectures": ["LlamaForCausalLM"], "vocab_size": 8, "hidden_size": 8,
            "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2"#;
        std::fs::write(&path, format!("{{{base}{extra}}}")).unwrap();
        LlamaConfig::from_hf_json(&path)
    }

    #[test]
    fn unimplemented_hf_settings_are_refused_by_name() {
        assert!(with("").is_ok());
        assert!(with(r#", "rope_scaling": null, "attention_bias": false"#).is_ok());
        for (extra, field) in [
            (
                r#", "rope_scaling": {"type": "linear", "factor": 2.0}"#,
                "rope_scaling",
            ),
            (r#", "attention_bias": true"#, "attention_bias"),
            (r#", "mlp_bias": true"#, "mlp_bias"),
            (r#", "hidden_act": "gelu""#, "hidden_act"),
            (r#", "head_dim": 8"#, "head_dim"),
        ] {
            let error = with(extra).unwrap_err().to_string();
            assert!(error.contains(field), "{extra}: {error}");
        }
    }
}
