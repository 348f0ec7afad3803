//! The key/value cache of incremental decoding, in host memory: per layer, the
//! keys and values of every position seen so far, position after position
//! (`[positions][kv_heads][head_dim]`). A step appends its own positions in
//! place, so the cache is never copied to grow (a tensor cache would be
//! concatenated again at every token).

use burn::tensor::Tensor;

use crate::error::{ModelError, Result};
use crate::host::f32_values;

/// One layer's keys and values.
#[derive(Clone, Default)]
pub struct LayerCache {
    keys: Vec<f32>,
    values: Vec<f32>,
}

impl LayerCache {
    /// The keys of `positions × width` values (one position after another).
    pub fn keys(&self) -> &[f32] {
        &self.keys
    }

    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Appends positions given as host rows (`key` and `value` of equal length).
    pub(crate) fn push(&mut self, key: &[f32], value: &[f32]) {
        self.keys.extend_from_slice(key);
        self.values.extend_from_slice(value);
    }

    /// Appends a step's keys and values, `[1, kv_heads, seq, head_dim]` tensors.
    pub(crate) fn append(&mut self, keys: &Tensor<4>, values: &Tensor<4>) -> Result<()> {
        let [batch, ..] = keys.dims();
        if batch != 1 {
            return Err(ModelError::Setup(format!(
                "a cached step runs one sequence, not {batch}"
            )));
        }
        // Position-major, as the cache stores them.
        self.keys.extend(f32_values(keys.clone().swap_dims(1, 2))?);
        self.values
            .extend(f32_values(values.clone().swap_dims(1, 2))?);
        Ok(())
    }

    fn truncated(&self, values_per_layer: usize) -> Self {
        Self {
            keys: self.keys[..values_per_layer.min(self.keys.len())].to_vec(),
            values: self.values[..values_per_layer.min(self.values.len())].to_vec(),
        }
    }
}

#[derive(Clone)]
pub struct KvCache {
    layers: Vec<LayerCache>,
    len: usize,
}

impl KvCache {
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); num_layers],
            len: 0,
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of the first `len` positions.
    pub fn truncated(&self, len: usize) -> KvCache {
        let len = len.min(self.len);
        KvCache {
            layers: self
                .layers
                .iter()
                .map(|layer| {
                    let width = layer.keys.len() / self.len.max(1);
                    layer.truncated(len * width)
                })
                .collect(),
            len,
        }
    }

    pub fn layer(&self, layer: usize) -> &LayerCache {
        &self.layers[layer]
    }

    pub(crate) fn layer_mut(&mut self, layer: usize) -> &mut LayerCache {
        &mut self.layers[layer]
    }

    pub(crate) fn advance(&mut self, positions: usize) {
        self.len += positions;
    }
}
