//! What a decoding step reads, in host memory: quantised copies of a model's
//! projection weights (exact Q4_1 where the weights allow it, Q8_0 otherwise;
//! see [`crate::qmatvec`]) and f32 copies of its norm weights. Built from any
//! weight source: a loaded burn module (so a fine-tuned model packs like a
//! loaded one), or a GGUF file directly. When every copy is exact, the packed
//! weights are the model, and an inference-only engine keeps nothing else.

use std::collections::HashMap;

use burn::tensor::Tensor;

use crate::config::LlamaConfig;
use crate::error::{ModelError, Result};
use crate::host::f32_values;
use crate::llama::{Llama, WeightSource};
use crate::qmatvec::QMatrix;

/// Packed weights of one block: Q, K and V stacked, gate and up stacked.
pub struct PackedLayer {
    pub qkv: QMatrix,
    pub o: QMatrix,
    pub gate_up: QMatrix,
    pub down: QMatrix,
    pub input_norm: Vec<f32>,
    pub post_attention_norm: Vec<f32>,
}

/// Attention heads: query heads, key/value heads and the width of one head.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub dim: usize,
}

pub struct Packed {
    pub layers: Vec<PackedLayer>,
    pub head: QMatrix,
    /// The token embedding, when it was asked for and is not the head's weight.
    pub embed: Option<QMatrix>,
    /// The head is the token embedding.
    pub tied: bool,
    pub final_norm: Vec<f32>,
    pub norm_eps: f64,
    pub rope_theta: f64,
    pub shape: Heads,
}

/// What to pack, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Quantised copies beside the f32 weights, for decoding steps.
    Decoding,
    /// Exact copies of every weight, the embedding included, or nothing.
    ExactOnly,
}

/// Quantises each named part on its own (one f32 copy alive at a time), then
/// stacks rows; `None` when a width does not suit the block layout. Parts on
/// a Q4_1 grid stay Q4_1 only when all of them are, so the rows stack.
fn pack(src: &dyn WeightSource, parts: &[(String, [usize; 2])]) -> Result<Option<QMatrix>> {
    let quantise = |force_q8: bool| -> Result<Option<Vec<QMatrix>>> {
        let mut quantised = Vec::with_capacity(parts.len());
        for (name, [rows, cols]) in parts {
            let w = src.tensor(name, &[*rows, *cols])?;
            let q = if force_q8 {
                QMatrix::q8_from_f32(&w, *rows, *cols)
            } else {
                QMatrix::from_f32(&w, *rows, *cols)
            };
            match q {
                Some(q) => quantised.push(q),
                None => return Ok(None),
            }
        }
        Ok(Some(quantised))
    };
    let Some(quantised) = quantise(false)? else {
        return Ok(None);
    };
    let q4_1 = quantised.iter().filter(|q| q.is_q4_1()).count();
    if q4_1 == 0 || q4_1 == quantised.len() {
        return Ok(QMatrix::stack(quantised));
    }
    Ok(quantise(true)?.and_then(QMatrix::stack))
}

/// A loaded module read as a weight source: its tensors by HF name.
struct ModuleWeights(HashMap<String, Tensor<2>>);

impl WeightSource for ModuleWeights {
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let tensor = self
            .0
            .get(name)
            .ok_or_else(|| ModelError::Setup(format!("the model has no weight {name}")))?;
        let [rows, cols] = tensor.dims();
        if rows * cols != shape.iter().product::<usize>() {
            return Err(ModelError::Setup(format!(
                "weight {name} is [{rows}, {cols}], expected {shape:?}"
            )));
        }
        f32_values(tensor.clone())
    }
}

impl Packed {
    /// Decoding copies of a loaded model's weights. `Ok(None)` when a width is
    /// not a multiple of 32, or when the model has unmerged LoRA adapters (the
    /// copies would leave them out); the f32 path is used then.
    pub fn from_model(model: &Llama, config: &LlamaConfig) -> Result<Option<Self>> {
        if model.has_lora() {
            return Ok(None);
        }
        let weights = ModuleWeights(model.named_weights().into_iter().collect());
        Self::from_source(config, &weights, Packing::Decoding)
    }

    /// Packs the weights of `src`. With [`Packing::ExactOnly`], `Ok(None)` as
    /// soon as one matrix cannot be held exactly (the head is tried first: it
    /// is the one a quantised file most often stores in another type).
    pub fn from_source(
        config: &LlamaConfig,
        src: &dyn WeightSource,
        packing: Packing,
    ) -> Result<Option<Self>> {
        let exact_only = packing == Packing::ExactOnly;
        let (d, ff, hd) = (
            config.hidden_size,
            config.intermediate_size,
            config.head_dim(),
        );
        let kv = config.num_key_value_heads * hd;
        let vocab = config.vocab_size;
        let embedding = ("model.embed_tokens.weight".to_string(), [vocab, d]);
        let head_name = match config.tie_word_embeddings {
            true => embedding.clone(),
            false => ("lm_head.weight".to_string(), [vocab, d]),
        };
        let part = |parts: &[(String, [usize; 2])]| -> Result<Option<QMatrix>> {
            Ok(pack(src, parts)?.filter(|q| !exact_only || q.is_exact()))
        };
        let Some(head) = part(&[head_name])? else {
            return Ok(None);
        };
        let embed = match (exact_only, config.tie_word_embeddings) {
            (true, false) => match part(&[embedding])? {
                Some(q) => Some(q),
                None => return Ok(None),
            },
            _ => None,
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let name = |n: &str| format!("model.layers.{i}.{n}.weight");
            let parts = |names: &[(&str, [usize; 2])]| -> Vec<(String, [usize; 2])> {
                names.iter().map(|(n, s)| (name(n), *s)).collect()
            };
            let (Some(qkv), Some(o), Some(gate_up), Some(down)) = (
                part(&parts(&[
                    ("self_attn.q_proj", [d, d]),
                    ("self_attn.k_proj", [kv, d]),
                    ("self_attn.v_proj", [kv, d]),
                ]))?,
                part(&parts(&[("self_attn.o_proj", [d, d])]))?,
                part(&parts(&[
                    ("mlp.gate_proj", [ff, d]),
                    ("mlp.up_proj", [ff, d]),
                ]))?,
                part(&parts(&[("mlp.down_proj", [d, ff])]))?,
            ) else {
                return Ok(None);
            };
            layers.push(PackedLayer {
                qkv,
                o,
                gate_up,
                down,
                input_norm: src.tensor(&name("input_layernorm"), &[d])?,
                post_attention_norm: src.tensor(&name("post_attention_layernorm"), &[d])?,
            });
        }
        Ok(Some(Self {
            layers,
            head,
            embed,
            tied: config.tie_word_embeddings,
            final_norm: src.tensor("model.norm.weight", &[d])?,
            norm_eps: config.rms_norm_eps,
            rope_theta: config.rope_theta,
            shape: Heads {
                heads: config.num_attention_heads,
                kv_heads: config.num_key_value_heads,
                dim: hd,
            },
        }))
    }

    /// (matrices held as exact Q4_1, all matrices), the embedding left out.
    pub fn q4_1_count(&self) -> (usize, usize) {
        let all: Vec<&QMatrix> = self
            .layers
            .iter()
            .flat_map(|l| [&l.qkv, &l.o, &l.gate_up, &l.down])
            .chain([&self.head])
            .collect();
        (all.iter().filter(|q| q.is_q4_1()).count(), all.len())
    }

    /// The embedding rows of `tokens`, from the packed embedding (exact when
    /// the packing was [`Packing::ExactOnly`]).
    pub fn embed_rows(&self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let table = match (&self.embed, self.tied) {
            (Some(embed), _) => embed,
            (None, true) => &self.head,
            (None, false) => {
                return Err(ModelError::Setup(
                    "the packed weights hold no embedding".into(),
                ))
            }
        };
        tokens
            .iter()
            .map(|&t| {
                table.row_f32(t as usize).ok_or_else(|| {
                    ModelError::Setup(format!(
                        "token {t} is past the embedding's {} rows",
                        table.rows()
                    ))
                })
            })
            .collect()
    }

    /// Whether every matrix, the embedding included, gives back its weights.
    pub fn is_exact(&self) -> bool {
        (self.tied || self.embed.as_ref().is_some_and(QMatrix::is_exact))
            && self.head.is_exact()
            && self.layers.iter().all(|l| {
                [&l.qkv, &l.o, &l.gate_up, &l.down]
                    .iter()
                    .all(|q| q.is_exact())
            })
    }
}
