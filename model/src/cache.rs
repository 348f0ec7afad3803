//! The key/value cache of incremental decoding: per layer, the keys and values
//! of every position seen so far (`[batch, kv_heads, positions, head_dim]`).

use burn::tensor::Tensor;

pub struct KvCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    len: usize,
}

impl KvCache {
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: vec![None; num_layers],
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

    pub(crate) fn layer_mut(&mut self, layer: usize) -> &mut Option<(Tensor<4>, Tensor<4>)> {
        &mut self.layers[layer]
    }

    pub(crate) fn advance(&mut self, positions: usize) {
        self.len += positions;
    }
}
