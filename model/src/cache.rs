//! The key/value cache of incremental decoding: per layer, the keys and values
//! of every position seen so far (`[batch, kv_heads, positions, head_dim]`).

use burn::tensor::Tensor;

/// Cloning shares the tensors; nothing is copied.
#[derive(Clone)]
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

    /// The first `len` positions (a view: the tensors are sliced, not copied).
    pub fn truncated(&self, len: usize) -> KvCache {
        let len = len.min(self.len);
        let cut = |t: &Tensor<4>| {
            let [batch, heads, _, dim] = t.dims();
            t.clone().slice([0..batch, 0..heads, 0..len, 0..dim])
        };
        KvCache {
            layers: self
                .layers
                .iter()
                .map(|layer| layer.as_ref().map(|(k, v)| (cut(k), cut(v))))
                .collect(),
            len,
        }
    }

    pub(crate) fn layer_mut(&mut self, layer: usize) -> &mut Option<(Tensor<4>, Tensor<4>)> {
        &mut self.layers[layer]
    }

    pub(crate) fn advance(&mut self, positions: usize) {
        self.len += positions;
    }
}
