//! One decoding step of several sequences at once, each token after its own
//! KV cache. Each projection is one Q8 product over the whole batch (every
//! weight row is read once per step, not once per sequence); attention runs
//! per sequence, on its own cache. Norms and activations work row by row, so
//! every sequence gets the logits the single-sequence step gives it, to the bit.

use burn::tensor::activation::silu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::cache::KvCache;
use crate::error::{ModelError, Result};
use crate::host::f32_values;
use crate::llama::{Llama, Rope};
use crate::packed::Packed;

impl Llama {
    /// Runs `tokens[i]` after `caches[i]` for every `i`, extends the caches and
    /// returns each sequence's next-token logits.
    pub fn decode_batch(
        &self,
        tokens: &[u32],
        caches: &mut [&mut KvCache],
        packed: &Packed,
    ) -> Result<Vec<Vec<f32>>> {
        if tokens.len() != caches.len() || packed.layers.len() != self.layers.len() {
            return Err(ModelError::Setup(format!(
                "a batched step got {} tokens, {} caches and {} packed layers for {} layers",
                tokens.len(),
                caches.len(),
                packed.layers.len(),
                self.layers.len()
            )));
        }
        let device = self.embed_tokens.device();
        let n = tokens.len();
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [n, 1]), &device);
        let ropes: Vec<Rope> = caches
            .iter()
            .map(|c| Rope::new(self.rope_theta, self.head_dim(), c.len(), 1, &device))
            .collect();
        let mut x = self.embed(ids);
        for (i, (layer, p)) in self.layers.iter().zip(&packed.layers).enumerate() {
            let attn = &layer.self_attn;
            let q_width = attn.num_heads * attn.head_dim;
            let kv_width = attn.num_kv_heads * attn.head_dim;
            let qkv = p
                .qkv
                .matmul(&slices(&rows(layer.input_layernorm.forward(x.clone()))?));
            let mut heads = Vec::with_capacity(n);
            for ((row, rope), cache) in qkv.iter().zip(&ropes).zip(caches.iter_mut()) {
                let (q, rest) = row.split_at(q_width);
                let (k, v) = rest.split_at(kv_width);
                let out = attn.attend(
                    stack(&[q], &device),
                    stack(&[k], &device),
                    stack(&[v], &device),
                    rope,
                    None,
                    Some(cache.layer_mut(i)),
                );
                heads.push(f32_values(out)?);
            }
            x = x + stack(&slices(&p.o.matmul(&slices(&heads))), &device);
            let gate_up = p.gate_up.matmul(&slices(&rows(
                layer.post_attention_layernorm.forward(x.clone()),
            )?));
            let (gate, up): (Vec<&[f32]>, Vec<&[f32]>) =
                gate_up.iter().map(|r| r.split_at(r.len() / 2)).unzip();
            let hidden = silu(stack(&gate, &device)) * stack(&up, &device);
            x = x + stack(&slices(&p.down.matmul(&slices(&rows(hidden)?))), &device);
        }
        for cache in caches.iter_mut() {
            cache.advance(1);
        }
        Ok(packed.head.matmul(&slices(&rows(self.norm.forward(x))?)))
    }
}

/// The rows of a `[n, 1, width]` activation.
fn rows(x: Tensor<3>) -> Result<Vec<Vec<f32>>> {
    let width = x.dims()[2];
    Ok(f32_values(x)?
        .chunks_exact(width.max(1))
        .map(<[f32]>::to_vec)
        .collect())
}

fn slices(rows: &[Vec<f32>]) -> Vec<&[f32]> {
    rows.iter().map(Vec::as_slice).collect()
}

/// Equal-length rows as a `[n, 1, width]` activation.
fn stack(rows: &[&[f32]], device: &Device) -> Tensor<3> {
    let width = rows.first().map_or(0, |r| r.len());
    let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(values, [rows.len(), 1, width]), device)
}
