//! Q8_0 copies of a model's projection weights, used by the same forward pass
//! for single-row decoding steps (see [`crate::qmatvec`]). Built from the burn
//! parameters, so a fine-tuned model packs like a loaded one.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use crate::llama::Llama;
use crate::qmatvec::Q8Matrix;

/// Packed weights of one block: Q, K and V stacked, gate and up stacked.
pub struct PackedLayer {
    pub qkv: Q8Matrix,
    pub o: Q8Matrix,
    pub gate_up: Q8Matrix,
    pub down: Q8Matrix,
}

pub struct Packed {
    pub layers: Vec<PackedLayer>,
    pub head: Q8Matrix,
}

fn values(w: &Param<Tensor<2>>) -> (Vec<f32>, usize, usize) {
    let [rows, cols] = w.dims();
    (
        w.val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default(),
        rows,
        cols,
    )
}

/// Quantises each part on its own (one f32 copy alive at a time), then stacks rows.
fn pack(parts: &[&Param<Tensor<2>>]) -> Option<Q8Matrix> {
    let quantised = parts
        .iter()
        .map(|p| {
            let (v, rows, cols) = values(p);
            Q8Matrix::from_f32(&v, rows, cols)
        })
        .collect::<Option<Vec<_>>>()?;
    Q8Matrix::stack(quantised)
}

impl Packed {
    /// `None` when a width is not a multiple of 32 (the f32 path is used then).
    pub fn from_model(model: &Llama) -> Option<Self> {
        let layers = model
            .layers
            .iter()
            .map(|l| {
                let a = &l.self_attn;
                Some(PackedLayer {
                    qkv: pack(&[&a.q_proj, &a.k_proj, &a.v_proj])?,
                    o: pack(&[&a.o_proj])?,
                    gate_up: pack(&[&l.mlp.gate_proj, &l.mlp.up_proj])?,
                    down: pack(&[&l.mlp.down_proj])?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let head = pack(&[model.lm_head.as_ref().unwrap_or(&model.embed_tokens)])?;
        Some(Self { layers, head })
    }
}

/// The values of a one-row activation `[1, 1, d]`.
pub(crate) fn row(x: Tensor<3>) -> Vec<f32> {
    x.into_data().try_into_vec::<f32>().unwrap_or_default()
}

/// `values[range]` as a `[1, 1, len]` tensor.
pub(crate) fn tensor(values: &[f32], device: &Device) -> Tensor<3> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [1, 1, values.len()]),
        device,
    )
}
