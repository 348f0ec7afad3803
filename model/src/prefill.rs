//! Prefill for an engine that holds only exact packed weights (a Q4_1 or
//! Q8_0 GGUF): the prompt's blocks go through the model one layer at a time.
//! Each layer's projections are dequantised to f32 once for all the blocks,
//! multiplied with burn's matmul and dropped, so at most one layer's f32
//! weights are alive, where a dense engine keeps the whole model in f32.
//!
//! Layer by layer gives the same numbers as block by block: a block at layer
//! `l` reads only its own input and the layer-`l` keys and values of the
//! blocks before it, and those are written first either way.

use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::cache::KvCache;
use crate::error::{ModelError, Result};
use crate::host::f32_values;
use crate::llama::{attend, project_tensor, rms_norm, Mask, Rope};
use crate::packed::{Packed, PackedLayer};
use crate::qmatvec::QMatrix;

/// One layer's weights as f32 tensors, for one prefill.
struct DenseLayer {
    qkv: Tensor<2>,
    o: Tensor<2>,
    gate_up: Tensor<2>,
    down: Tensor<2>,
    input_norm: Tensor<1>,
    post_attention_norm: Tensor<1>,
}

fn matrix(q: &QMatrix, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(q.to_f32(), [q.rows(), q.cols()]), device)
}

fn vector(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

impl DenseLayer {
    fn new(p: &PackedLayer, device: &Device) -> Self {
        Self {
            qkv: matrix(&p.qkv, device),
            o: matrix(&p.o, device),
            gate_up: matrix(&p.gate_up, device),
            down: matrix(&p.down, device),
            input_norm: vector(&p.input_norm, device),
            post_attention_norm: vector(&p.post_attention_norm, device),
        }
    }
}

/// A block of the prompt on its way through the layers.
struct Block {
    x: Tensor<3>,
    rope: Rope,
    mask: Mask,
}

impl Packed {
    /// Runs `blocks`, consecutive runs of tokens after the cache's positions,
    /// extends the cache and returns the final normed hidden state of the
    /// last token.
    pub(crate) fn prefill(
        &self,
        blocks: &[&[u32]],
        cache: &mut KvCache,
        device: &Device,
    ) -> Result<Vec<f32>> {
        if blocks.is_empty() || blocks.iter().any(|b| b.is_empty()) {
            return Err(ModelError::Setup("a prefill got an empty block".into()));
        }
        let s = self.shape;
        let group = s.heads / s.kv_heads;
        let mut start = cache.len();
        let mut states = Vec::with_capacity(blocks.len());
        for tokens in blocks {
            let len = tokens.len();
            let rows: Vec<f32> = self.embed_rows(tokens)?.concat();
            let width = rows.len() / len.max(1);
            states.push(Block {
                x: Tensor::from_data(TensorData::new(rows, [1, len, width]), device),
                rope: Rope::new(self.rope_theta, s.dim, start, len, device),
                mask: Mask::causal(group, len, start, device),
            });
            start += len;
        }
        let (q_width, kv_width) = (s.heads * s.dim, s.kv_heads * s.dim);
        for (i, layer) in self.layers.iter().enumerate() {
            let w = DenseLayer::new(layer, device);
            for block in &mut states {
                let x = block.x.clone();
                let normed = rms_norm(x.clone(), w.input_norm.clone(), self.norm_eps);
                // Each part is its own product (rows of the stacked weight), so
                // every output is contiguous, as in the dense engine.
                let part = |w: &Tensor<2>, rows: std::ops::Range<usize>| {
                    let cols = w.dims()[1];
                    project_tensor(normed.clone(), w.clone().slice([rows, 0..cols]))
                };
                let heads = attend(
                    part(&w.qkv, 0..q_width),
                    part(&w.qkv, q_width..q_width + kv_width),
                    part(&w.qkv, q_width + kv_width..q_width + 2 * kv_width),
                    s,
                    &block.rope,
                    &block.mask,
                    Some(cache.layer_mut(i)),
                )?;
                let x = x + project_tensor(heads, w.o.clone());
                let normed = rms_norm(x.clone(), w.post_attention_norm.clone(), self.norm_eps);
                let ff = w.gate_up.dims()[0] / 2;
                let part = |rows: std::ops::Range<usize>| {
                    let cols = w.gate_up.dims()[1];
                    project_tensor(normed.clone(), w.gate_up.clone().slice([rows, 0..cols]))
                };
                block.x = x + project_tensor(silu(part(0..ff)) * part(ff..2 * ff), w.down.clone());
            }
        }
        cache.advance(start - cache.len());
        let [_, len, d] = states[states.len() - 1].x.dims();
        let x = states[states.len() - 1]
            .x
            .clone()
            .slice([0..1, len - 1..len, 0..d]);
        f32_values(rms_norm(x, vector(&self.final_norm, device), self.norm_eps))
    }
}
