//! burn 0.22's built-in `module::Lora` against toolgrad's adapter, per
//! projection shape of SmolLM2-135M, r = 64, α = 16, 1,024 tokens: forward and
//! backward of one frozen projection with its adapter, the input requiring a
//! gradient as inside a model.
//!
//! - burn: `Linear::apply_lora` reparameterises the weight, so every forward
//!   builds the dense `W + (α/r)·A·B` (`[out, in]`) and the backward
//!   produces a dense `[out, in]` gradient before reducing it to `A` and `B`.
//! - toolgrad (`model/src/lora.rs`): `W·x + (α/r)·B·(A·x)` with `W` frozen, so
//!   nothing `[out, in]`-sized is built beyond `W` itself.
//!
//! `lora_adapter [steps]` prints one markdown row per shape.

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use burn::module::{Lora as BurnLora, Module, Param};
use burn::nn::{DropoutConfig, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use toolgrad_model::llama::Linear;
use toolgrad_model::lora::Lora;

const RANK: usize = 64;
const ALPHA: f64 = 16.0;
const TOKENS: usize = 1024;

/// Median seconds of `steps` runs of `step`, after one warm-up run.
fn median_seconds(steps: usize, mut step: impl FnMut()) -> f64 {
    step();
    let mut times: Vec<f64> = (0..steps)
        .map(|_| {
            let started = Instant::now();
            step();
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 0.02), device)
}

fn ours(d_in: usize, d_out: usize, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(random([d_out, d_in], device)).set_require_grad(false),
        lora: Some(Lora {
            a: Param::from_tensor(random([RANK, d_in], device)),
            b: Param::from_tensor(random([d_out, RANK], device)),
            scale: ALPHA / RANK as f64,
            dropout: DropoutConfig::new(0.0).init(),
        }),
    }
}

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let device = toolgrad_model::device::cpu().autodiff();
    println!("| projection `in → out` | toolgrad ms/step | burn `module::Lora` ms/step | toolgrad speed-up |");
    println!("|---|---:|---:|---:|");
    for (name, d_in, d_out) in [
        ("q/o 576 → 576", 576, 576),
        ("k/v 576 → 192", 576, 192),
        ("gate/up 576 → 1536", 576, 1536),
        ("down 1536 → 576", 1536, 576),
    ] {
        let x: Tensor<3> = random([1, TOKENS, d_in], &device).require_grad();
        let linear = ours(d_in, d_out, &device);
        let toolgrad = median_seconds(steps, || {
            let grads = linear.forward(x.clone()).sum().backward();
            let a = linear.lora.as_ref().map(|l| l.a.grad(&grads));
            let _ = a.flatten().map(|g| g.into_data());
            let _ = x.grad(&grads).map(|g| g.into_data());
        });
        let burn_linear = LinearConfig::new(d_in, d_out)
            .with_bias(false)
            .init(&device)
            .apply_lora(BurnLora::new(RANK, ALPHA));
        let burn = median_seconds(steps, || {
            // The backward pass computes every gradient, the adapter's included.
            let grads = burn_linear.forward(x.clone()).sum().backward();
            let _ = x.grad(&grads).map(|g| g.into_data());
        });
        println!(
            "| {name} | {:.2} | {:.2} | {:.2}× |",
            toolgrad * 1e3,
            burn * 1e3,
            burn / toolgrad
        );
    }
}
