//! Reading tensors back to host memory: every read converts to `f32` and fails
//! with an error instead of returning an empty vector.

use burn::tensor::Tensor;

use crate::error::{ModelError, Result};

/// The values of `tensor` as `f32`, converted from whatever float type it holds.
pub fn f32_values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .try_into_vec_as::<f32>()
        .map_err(|e| ModelError::TensorRead(e.to_string()))
}
