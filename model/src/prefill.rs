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
use crate::packed::{Heads, Packed, PackedLayer};
use crate::qmatvec::QMatrix;

/// One layer's weights as f32 tensors, for one prefill. Each projection is
/// its own contiguous tensor, cut from the stacked packed matrix once per
/// layer: slicing the stacked tensor for every block made burn copy the
/// slice out again for every block's matmul.
struct DenseLayer {
    q: Tensor<2>,
    k: Tensor<2>,
    v: Tensor<2>,
    o: Tensor<2>,
    gate: Tensor<2>,
    up: Tensor<2>,
    down: Tensor<2>,
    input_norm: Tensor<1>,
    post_attention_norm: Tensor<1>,
}

/// `q` as f32 tensors of consecutive row counts `parts` (which sum to its rows).
fn matrices<const N: usize>(q: &QMatrix, parts: [usize; N], device: &Device) -> [Tensor<2>; N] {
    let mut first = 0;
    parts.map(|rows| {
        let values = q.rows_f32(first, rows);
        first += rows;
        Tensor::from_data(TensorData::new(values, [rows, q.cols()]), device)
    })
}

fn vector(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

impl DenseLayer {
    fn new(p: &PackedLayer, shape: Heads, device: &Device) -> Self {
        let (q_rows, kv_rows) = (shape.heads * shape.dim, shape.kv_heads * shape.dim);
        let [q, k, v] = matrices(&p.qkv, [q_rows, kv_rows, kv_rows], device);
        let ff = p.gate_up.rows() / 2;
        let [gate, up] = matrices(&p.gate_up, [ff, ff], device);
        let [o] = matrices(&p.o, [p.o.rows()], device);
        let [down] = matrices(&p.down, [p.down.rows()], device);
        Self {
            q,
            k,
            v,
            o,
            gate,
            up,
            down,
            input_norm: vector(&p.input_norm, device),
            post_attention_norm: vector(&p.post_attention_norm, device),
        }
    }
}

/// A block of the prompt on its way through the layers.
struct Block {
    x: Tensor<3>,
    rope: Rope,
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
        let mut start = cache.len();
        let mut states = Vec::with_capacity(blocks.len());
        for tokens in blocks {
            let len = tokens.len();
            let rows: Vec<f32> = self.embed_rows(tokens)?.concat();
            let width = rows.len() / len.max(1);
            states.push(Block {
                x: Tensor::from_data(TensorData::new(rows, [1, len, width]), device),
                rope: Rope::new(self.rope_theta, s.dim, start, len, device),
            });
            start += len;
        }
        for (i, layer) in self.layers.iter().enumerate() {
            let w = DenseLayer::new(layer, s, device);
            for block in &mut states {
                let x = block.x.clone();
                let normed = rms_norm(x.clone(), w.input_norm.clone(), self.norm_eps);
                let project = |w: &Tensor<2>| project_tensor(normed.clone(), w.clone());
                let heads = attend(
                    project(&w.q),
                    project(&w.k),
                    project(&w.v),
                    s,
                    &block.rope,
                    &Mask::All,
                    Some(cache.layer_mut(i)),
                )?;
                let x = x + project_tensor(heads, w.o.clone());
                let normed = rms_norm(x.clone(), w.post_attention_norm.clone(), self.norm_eps);
                let project = |w: &Tensor<2>| project_tensor(normed.clone(), w.clone());
                block.x =
                    x + project_tensor(silu(project(&w.gate)) * project(&w.up), w.down.clone());
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
