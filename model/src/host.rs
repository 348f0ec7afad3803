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

#[cfg(test)]
mod tests {
    use burn::tensor::{DType, Tensor};

    use super::f32_values;

    #[test]
    fn a_tensor_of_another_float_type_reads_as_its_values_not_an_empty_vector() {
        let device = Default::default();
        let half = Tensor::<1>::from_floats([1.0, -2.5, 0.125], &device).cast(DType::F16);
        assert_eq!(f32_values(half).unwrap(), vec![1.0, -2.5, 0.125]);
    }
}
