//! The next-token loss with its gradient computed by hand, one chunk of
//! learned positions at a time: only positions that carry loss go through
//! the LM head, and `[tokens × vocab]` logits never exist at once (neither
//! does their gradient). The gradient with respect to the final hidden
//! states then drives the autodiff backward through the rest of the model.

use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use toolgrad_model::host::f32_values;

use crate::batch::Batch;
use crate::error::Result;

/// The loss of one micro-batch.
pub struct HeadLoss {
    /// Summed cross-entropy over the learned positions (nats).
    pub sum: f64,
    /// `scale · ∂(sum)/∂hidden`, `[rows, seq, hidden]`, when asked for.
    pub grad_hidden: Option<Tensor<3>>,
    /// `scale · ∂(sum)/∂W_head`, `[vocab, hidden]`, when asked for.
    pub grad_head: Option<Tensor<2>>,
}

/// What [`head_loss`] computes besides the loss.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub grad_hidden: bool,
    pub grad_head: bool,
    /// Factor on the gradients (1 / learned tokens of the whole step).
    pub scale: f32,
    /// Learned positions per chunk.
    pub chunk: usize,
}

/// Cross-entropy of `batch` given final hidden states `hidden` (no autodiff)
/// and the head weight `head` (`[vocab, hidden]`, no autodiff).
pub fn head_loss(
    hidden: Tensor<3>,
    head: &Tensor<2>,
    batch: &Batch,
    wanted: Wanted,
    device: &Device,
) -> Result<HeadLoss> {
    let [rows, seq, d] = hidden.dims();
    let picked: Vec<i64> = (0..batch.weights.len())
        .filter(|&i| batch.weights[i])
        .map(|i| i as i64)
        .collect();
    let targets: Vec<i64> = picked.iter().map(|&i| batch.targets[i as usize]).collect();
    let flat = hidden.reshape([rows * seq, d]);
    let mut grad_hidden = wanted
        .grad_hidden
        .then(|| Tensor::<2>::zeros([rows * seq, d], device));
    let mut grad_head: Option<Tensor<2>> = None;
    let mut sums = Vec::new();
    for (index, target) in picked
        .chunks(wanted.chunk.max(1))
        .zip(targets.chunks(wanted.chunk.max(1)))
    {
        let n = index.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index.to_vec(), [n]), device);
        let target = Tensor::<2, Int>::from_data(TensorData::new(target.to_vec(), [n, 1]), device);
        let h = flat.clone().select(0, index.clone());
        let logits = h.clone().matmul(head.clone().transpose());
        let max = logits.clone().max_dim(1);
        let exp = (logits.clone() - max.clone()).exp();
        let total = exp.clone().sum_dim(1);
        let lse = max + total.clone().log();
        let picked_logit = logits.gather(1, target.clone());
        sums.push((lse - picked_logit).sum());
        if !(wanted.grad_hidden || wanted.grad_head) {
            continue;
        }
        // d(sum)/d(logits) = softmax − one_hot(target), times the step's scale.
        let probs = (exp / total) * wanted.scale;
        let minus = Tensor::<2>::full([n, 1], -wanted.scale, device);
        let dlogits = probs.scatter(1, target, minus, IndexingUpdateOp::Add);
        if let Some(acc) = grad_hidden.take() {
            let dh = dlogits.clone().matmul(head.clone());
            grad_hidden = Some(acc.select_assign(0, index, dh, IndexingUpdateOp::Add));
        }
        if wanted.grad_head {
            let dw = dlogits.transpose().matmul(h);
            grad_head = Some(match grad_head {
                Some(acc) => acc + dw,
                None => dw,
            });
        }
    }
    let sum = match sums.is_empty() {
        true => 0.0,
        false => f32_values(Tensor::cat(sums, 0).sum())?
            .first()
            .copied()
            .unwrap_or(f32::NAN) as f64,
    };
    Ok(HeadLoss {
        sum,
        grad_hidden: grad_hidden.map(|g| g.reshape([rows, seq, d])),
        grad_head,
    })
}
