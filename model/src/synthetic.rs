//! A tiny randomly initialised Llama written as a real GGUF file (byte-level
//! BPE vocabulary, ChatML template, chosen tensor types): for tests and smoke
//! runs of the whole engine without downloading a model.

use std::path::Path;

use gguf_rs::writer::{GGUFWriter, MetadataValue, TensorInfo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::chat::CHATML_TEMPLATE;
use crate::config::LlamaConfig;
use crate::error::{ModelError, Result};
use crate::quant::{quantize, GgmlType};
use crate::tokenizer::byte_level_chars;
use crate::weights::permute_rope_rows;

/// Merges of the synthetic vocabulary (GPT-2 byte-level spelling, `Ġ` = space).
const MERGES: &[(&str, &str)] = &[
    ("t", "h"),
    ("th", "e"),
    ("h", "e"),
    ("Ġ", "t"),
    ("Ġ", "a"),
    ("i", "n"),
    ("e", "r"),
    ("o", "n"),
    ("Ġt", "he"),
    ("r", "e"),
    ("a", "n"),
    ("\"", ":"),
    ("Ġ", "\""),
];
const SPECIALS: &[&str] = &["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// What to write.
pub struct SyntheticSpec {
    pub seed: u64,
    /// Type of the projection matrices (norms stay F32, the embedding Q8_0
    /// unless this is F32 or F16).
    pub kind: GgmlType,
    pub layers: usize,
    pub context: usize,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        Self {
            seed: 0,
            kind: GgmlType::Q8_0,
            layers: 2,
            context: 256,
        }
    }
}

/// The vocabulary: 256 byte tokens, the merges, then the special tokens.
fn vocabulary() -> Vec<String> {
    let mut tokens: Vec<String> = byte_level_chars().into_iter().map(String::from).collect();
    tokens.extend(MERGES.iter().map(|(a, b)| format!("{a}{b}")));
    tokens.extend(SPECIALS.iter().map(|s| s.to_string()));
    tokens
}

/// The configuration of the synthetic model with `layers` blocks.
pub fn synthetic_config(spec: &SyntheticSpec) -> LlamaConfig {
    LlamaConfig {
        vocab_size: vocabulary().len(),
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: spec.layers,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        rope_theta: 10_000.0,
        rms_norm_eps: 1e-5,
        max_position_embeddings: spec.context,
        tie_word_embeddings: true,
    }
}

fn strings(values: impl IntoIterator<Item = String>) -> Vec<MetadataValue> {
    values.into_iter().map(MetadataValue::String).collect()
}

/// Writes the model to `path` (through a temporary file, renamed when complete).
pub fn write_synthetic_gguf(path: &Path, spec: &SyntheticSpec) -> Result<()> {
    let partial = path.with_extension("gguf.partial");
    write_to(&partial, spec)?;
    std::fs::rename(&partial, path).map_err(|e| ModelError::io(path, e))
}

fn write_to(path: &Path, spec: &SyntheticSpec) -> Result<()> {
    let fail = |e: anyhow::Error| ModelError::Gguf {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let config = synthetic_config(spec);
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let tokens = vocabulary();
    let mut w = GGUFWriter::new(path, 3).map_err(fail)?;
    w.add_metadata("general.architecture", "llama");
    w.add_metadata("general.name", "toolgrad-synthetic");
    w.add_metadata_u32("llama.block_count", config.num_hidden_layers as u32);
    w.add_metadata_u32("llama.embedding_length", config.hidden_size as u32);
    w.add_metadata_u32("llama.feed_forward_length", config.intermediate_size as u32);
    w.add_metadata_u32(
        "llama.attention.head_count",
        config.num_attention_heads as u32,
    );
    w.add_metadata_u32(
        "llama.attention.head_count_kv",
        config.num_key_value_heads as u32,
    );
    w.add_metadata_u32(
        "llama.context_length",
        config.max_position_embeddings as u32,
    );
    w.add_metadata_f32("llama.rope.freq_base", config.rope_theta as f32);
    w.add_metadata_f32(
        "llama.attention.layer_norm_rms_epsilon",
        config.rms_norm_eps as f32,
    );
    w.add_metadata("tokenizer.ggml.model", "gpt2");
    w.add_metadata("tokenizer.ggml.pre", "smollm");
    w.add_metadata_array("tokenizer.ggml.tokens", strings(tokens.iter().cloned()));
    w.add_metadata_array(
        "tokenizer.ggml.merges",
        strings(MERGES.iter().map(|(a, b)| format!("{a} {b}"))),
    );
    let types = tokens
        .iter()
        .map(|t| MetadataValue::Int32(if SPECIALS.contains(&t.as_str()) { 3 } else { 1 }))
        .collect();
    w.add_metadata_array("tokenizer.ggml.token_type", types);
    let id = |t: &str| tokens.iter().position(|x| x == t).unwrap_or(0) as u32;
    w.add_metadata_u32("tokenizer.ggml.bos_token_id", id("<|im_start|>"));
    w.add_metadata_u32("tokenizer.ggml.eos_token_id", id("<|im_end|>"));
    w.add_metadata("tokenizer.chat_template", CHATML_TEMPLATE);

    let (d, ff, hd) = (
        config.hidden_size,
        config.intermediate_size,
        config.head_dim(),
    );
    let kv = config.num_key_value_heads * hd;
    let embedding_kind = match spec.kind {
        GgmlType::F32 | GgmlType::F16 => spec.kind,
        _ => GgmlType::Q8_0,
    };
    let mut tensors: Vec<(String, Vec<usize>, GgmlType, Vec<f32>)> = Vec::new();
    let mut random = |n: usize, scale: f32| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-scale..scale)).collect()
    };
    tensors.push((
        "token_embd.weight".into(),
        vec![config.vocab_size, d],
        embedding_kind,
        random(config.vocab_size * d, 0.2),
    ));
    for i in 0..config.num_hidden_layers {
        let name = |n: &str| format!("blk.{i}.{n}.weight");
        let s = 1.0 / (d as f32).sqrt();
        let q = permute_rope_rows(&random(d * d, s), config.num_attention_heads, d, false);
        let k = permute_rope_rows(&random(kv * d, s), config.num_key_value_heads, d, false);
        tensors.push((
            name("attn_norm"),
            vec![d],
            GgmlType::F32,
            random(d, 0.5).iter().map(|v| 1.0 + v).collect(),
        ));
        tensors.push((name("attn_q"), vec![d, d], spec.kind, q));
        tensors.push((name("attn_k"), vec![kv, d], spec.kind, k));
        tensors.push((name("attn_v"), vec![kv, d], spec.kind, random(kv * d, s)));
        tensors.push((name("attn_output"), vec![d, d], spec.kind, random(d * d, s)));
        tensors.push((
            name("ffn_norm"),
            vec![d],
            GgmlType::F32,
            random(d, 0.5).iter().map(|v| 1.0 + v).collect(),
        ));
        tensors.push((name("ffn_gate"), vec![ff, d], spec.kind, random(ff * d, s)));
        tensors.push((name("ffn_up"), vec![ff, d], spec.kind, random(ff * d, s)));
        tensors.push((
            name("ffn_down"),
            vec![d, ff],
            spec.kind,
            random(d * ff, 1.0 / (ff as f32).sqrt()),
        ));
    }
    tensors.push((
        "output_norm.weight".into(),
        vec![d],
        GgmlType::F32,
        vec![1.0; d],
    ));
    for (name, shape, kind, _) in &tensors {
        w.add_tensor(TensorInfo {
            name: name.clone(),
            shape: shape.iter().rev().map(|&x| x as u64).collect(),
            dtype: kind.id(),
        });
    }
    w.write().map_err(fail)?;
    for (i, (name, _, kind, values)) in tensors.iter().enumerate() {
        let data = quantize(*kind, values).ok_or_else(|| ModelError::Tensor {
            path: path.to_path_buf(),
            tensor: name.clone(),
            message: format!("{kind:?} cannot be written (K-quants are read only)"),
        })?;
        w.write_tensor_data(i, &data).map_err(fail)?;
    }
    w.finalize().map_err(fail)
}
