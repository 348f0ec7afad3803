//! One micro-batch's loss and gradients, two ways with the same result:
//! - whole graph: one autodiff forward over the model, one backward;
//! - block recompute (`gradient_checkpointing`): a forward that keeps only
//!   each block's input, then, from the last block down, each block is run
//!   again under autodiff and back-propagated alone. Activation memory is
//!   one block's instead of the whole model's, for one more forward pass.
//!
//! Either way the LM head's loss and gradient come from [`head_loss`], and
//! dropout draws are seeded per block so a recomputed block sees the masks
//! its first pass saw.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use toolgrad_model::llama::Llama;

use crate::batch::Batch;
use crate::error::{Result, TrainError};
use crate::loss::{head_loss, Wanted};
use crate::params::trainable_grads;

/// What the step needs to know besides the batch.
pub struct StepSpec<'a> {
    pub device: &'a Device,
    /// The LM head weight without autodiff.
    pub head: &'a Tensor<2>,
    /// The head's parameter path when it trains (full fine-tuning).
    pub head_param: Option<&'a str>,
    /// 1 / learned tokens of the whole optimiser step.
    pub scale: f32,
    pub chunk: usize,
    /// Seed of this micro-batch's dropout draws.
    pub seed: u64,
    pub recompute: bool,
}

/// The summed loss and the gradients of one micro-batch.
pub struct MicroGrads {
    pub loss_sum: f64,
    pub grads: Vec<(String, Tensor<1>)>,
}

pub fn tokens_tensor(batch: &Batch, device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(
        TensorData::new(batch.tokens.clone(), [batch.rows, batch.seq]),
        device,
    )
}

fn block_seed(seed: u64, block: usize) -> u64 {
    (seed ^ (block as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).rotate_left(17)
}

fn flat<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let n = t.shape().num_elements();
    t.reshape([n])
}

fn wanted(spec: &StepSpec<'_>) -> Wanted {
    Wanted {
        grad_hidden: true,
        grad_head: spec.head_param.is_some(),
        scale: spec.scale,
        chunk: spec.chunk,
    }
}

/// Loss and gradients of `batch` under `model` (on an autodiff device).
pub fn micro_grads(model: &Llama, batch: &Batch, spec: &StepSpec<'_>) -> Result<MicroGrads> {
    let mut out = match spec.recompute {
        true => by_blocks(model, batch, spec)?,
        false => whole_graph(model, batch, spec)?,
    };
    if let Some((name, grad)) = out.1 {
        out.0.grads.push((name, grad));
    }
    Ok(out.0)
}

type WithHead = (MicroGrads, Option<(String, Tensor<1>)>);

fn head_grad(spec: &StepSpec<'_>, grad: Option<Tensor<2>>) -> Option<(String, Tensor<1>)> {
    Some((spec.head_param?.to_owned(), flat(grad?)))
}

fn whole_graph(model: &Llama, batch: &Batch, spec: &StepSpec<'_>) -> Result<WithHead> {
    spec.device.seed(spec.seed);
    let hidden = model.hidden_packed(tokens_tensor(batch, spec.device), &batch.layout)?;
    let loss = head_loss(
        hidden.clone().inner(),
        spec.head,
        batch,
        wanted(spec),
        spec.device,
    )?;
    let mut grads = Vec::new();
    if let Some(dh) = loss.grad_hidden {
        let backward = (hidden * Tensor::from_inner(dh)).sum().backward();
        grads = trainable_grads(model, &backward);
    }
    Ok((
        MicroGrads {
            loss_sum: loss.sum,
            grads,
        },
        head_grad(spec, loss.grad_head),
    ))
}

fn missing(what: &str) -> TrainError {
    TrainError::Dataset {
        path: "<batch>".into(),
        message: format!("the backward pass produced no gradient for {what}"),
    }
}

fn by_blocks(model: &Llama, batch: &Batch, spec: &StepSpec<'_>) -> Result<WithHead> {
    let device = spec.device;
    let tokens = tokens_tensor(batch, device);
    let (rope, mask) = model.packed_context(&batch.layout, batch.rows, batch.seq, device);
    let mut inputs = Vec::with_capacity(model.layers.len());
    // The first pass records no graph (nothing in it requires a gradient),
    // while dropout, still in training mode, draws what the recompute will.
    let untracked = model.clone().no_grad();
    let mut x = untracked.embed(tokens.clone()).inner();
    for (i, block) in untracked.layers.iter().enumerate() {
        device.seed(block_seed(spec.seed, i));
        inputs.push(x.clone());
        x = block
            .forward(Tensor::from_inner(x), &rope, &mask, None)?
            .inner();
    }
    let last = Tensor::from_inner(x).require_grad();
    let hidden = model.norm.forward(last.clone());
    let loss = head_loss(
        hidden.clone().inner(),
        spec.head,
        batch,
        wanted(spec),
        device,
    )?;
    let head = head_grad(spec, loss.grad_head);
    let Some(dh) = loss.grad_hidden else {
        return Ok((
            MicroGrads {
                loss_sum: loss.sum,
                grads: Vec::new(),
            },
            head,
        ));
    };
    let backward = (hidden * Tensor::from_inner(dh)).sum().backward();
    let mut grads = trainable_grads(model, &backward);
    let mut dy = last
        .grad(&backward)
        .ok_or_else(|| missing("the final norm"))?;
    for (i, block) in model.layers.iter().enumerate().rev() {
        device.seed(block_seed(spec.seed, i));
        let input = inputs.pop().ok_or_else(|| missing("a block input"))?;
        let input = Tensor::from_inner(input).require_grad();
        let y = block.forward(input.clone(), &rope, &mask, None)?;
        let backward = (y * Tensor::from_inner(dy)).sum().backward();
        grads.extend(trainable_grads(model, &backward));
        dy = input
            .grad(&backward)
            .ok_or_else(|| missing(&format!("block {i}")))?;
    }
    if model.embed_tokens.val().is_require_grad() {
        let embedded = model.embed(tokens);
        let backward = (embedded * Tensor::from_inner(dy)).sum().backward();
        grads.extend(trainable_grads(model, &backward));
    }
    Ok((
        MicroGrads {
            loss_sum: loss.sum,
            grads,
        },
        head,
    ))
}
