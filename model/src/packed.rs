//! What a decoding step reads, in host memory: quantised copies of a model's
//! projection weights (exact Q4_1 where the weights allow it, Q8_0 otherwise;
//! see [`crate::qmatvec`]) and f32 copies of its norm weights. Built from the
//! burn parameters, so a fine-tuned model packs like a loaded one.

use burn::module::Param;
use burn::tensor::Tensor;

use crate::error::Result;
use crate::host::f32_values;
use crate::llama::{Linear, Llama};
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

pub struct Packed {
    pub layers: Vec<PackedLayer>,
    pub head: QMatrix,
    pub final_norm: Vec<f32>,
    pub norm_eps: f64,
}

/// Quantises each part on its own (one f32 copy alive at a time), then stacks
/// rows; `None` when a width does not suit the block layout. Parts on a Q4_1
/// grid stay Q4_1 only when all of them are, so the rows stack.
fn pack(parts: &[&Param<Tensor<2>>]) -> Result<Option<QMatrix>> {
    let quantise = |force_q8: bool| -> Result<Option<Vec<QMatrix>>> {
        let mut quantised = Vec::with_capacity(parts.len());
        for part in parts {
            let [rows, cols] = part.dims();
            let w = f32_values(part.val())?;
            let q = if force_q8 {
                QMatrix::q8_from_f32(&w, rows, cols)
            } else {
                QMatrix::from_f32(&w, rows, cols)
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

fn weights<'a>(linears: &[&'a Linear]) -> Vec<&'a Param<Tensor<2>>> {
    linears.iter().map(|l| &l.weight).collect()
}

impl Packed {
    /// `Ok(None)` when a width is not a multiple of 32, or when the model has
    /// unmerged LoRA adapters (the Q8 copies would leave them out); the f32
    /// path is used then.
    pub fn from_model(model: &Llama) -> Result<Option<Self>> {
        if model.has_lora() {
            return Ok(None);
        }
        let mut layers = Vec::with_capacity(model.layers.len());
        for l in &model.layers {
            let a = &l.self_attn;
            let m = &l.mlp;
            let (Some(qkv), Some(o), Some(gate_up), Some(down)) = (
                pack(&weights(&[&a.q_proj, &a.k_proj, &a.v_proj]))?,
                pack(&weights(&[&a.o_proj]))?,
                pack(&weights(&[&m.gate_proj, &m.up_proj]))?,
                pack(&weights(&[&m.down_proj]))?,
            ) else {
                return Ok(None);
            };
            layers.push(PackedLayer {
                qkv,
                o,
                gate_up,
                down,
                input_norm: f32_values(l.input_layernorm.weight.val())?,
                post_attention_norm: f32_values(l.post_attention_layernorm.weight.val())?,
            });
        }
        let Some(head) = pack(&[model.head_weight()])? else {
            return Ok(None);
        };
        Ok(Some(Self {
            layers,
            head,
            final_norm: f32_values(model.norm.weight.val())?,
            norm_eps: model.norm.eps,
        }))
    }

    /// (matrices held as exact Q4_1, all matrices).
    pub fn q4_1_count(&self) -> (usize, usize) {
        let all: Vec<&QMatrix> = self
            .layers
            .iter()
            .flat_map(|l| [&l.qkv, &l.o, &l.gate_up, &l.down])
            .chain([&self.head])
            .collect();
        (all.iter().filter(|q| q.is_q4_1()).count(), all.len())
    }
}
