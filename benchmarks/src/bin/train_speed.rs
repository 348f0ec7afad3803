//! toolgrad's training step timed on fixed shapes with random weights and
//! random tokens, as `benchmarks/train/speed_vs_pytorch.sh` times PyTorch on
//! the same shapes: every position carries loss (full-vocabulary
//! cross-entropy), AdamW, one optimiser step per batch.
//!
//! `train_speed <full-135m|lora-135m|tiny-7m> [steps] [--no-recompute]`
//! prints one JSON line: seconds per step (mean of steps after the first),
//! tokens/s and the model FLOPs of a step.

use std::time::Instant;

// Tensor-sized allocations come and go every op; glibc returns them to the
// kernel each time (page faults, zeroing), mimalloc keeps them (measured: see
// benchmarks/train/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use toolgrad_model::config::LlamaConfig;
use toolgrad_model::llama::{Llama, SequenceLayout, WeightSource};
use toolgrad_model::lora::LoraSpec;
use toolgrad_train::batch::Batch;
use toolgrad_train::config::TrainConfig;
use toolgrad_train::optim::{clip_factor, Accumulated, AdamW};
use toolgrad_train::step::{micro_grads, StepSpec};

/// Normal(0, 0.02) weights (norms at 1), seeded.
struct RandomWeights {
    seed: u64,
}

impl WeightSource for RandomWeights {
    fn tensor(&self, name: &str, shape: &[usize]) -> toolgrad_model::Result<Vec<f32>> {
        let n: usize = shape.iter().product();
        if name.ends_with("norm.weight") {
            return Ok(vec![1.0; n]);
        }
        let hash = name
            .bytes()
            .fold(self.seed, |h, b| h.wrapping_mul(31) ^ b as u64);
        let mut rng = StdRng::seed_from_u64(hash);
        Ok((0..n)
            .map(|_| (rng.random::<f32>() + rng.random::<f32>() + rng.random::<f32>() - 1.5) * 0.04)
            .collect())
    }
}

struct Shape {
    config: LlamaConfig,
    rows: usize,
    seq: usize,
    lora: bool,
}

fn smollm2() -> LlamaConfig {
    LlamaConfig {
        vocab_size: 49152,
        hidden_size: 576,
        intermediate_size: 1536,
        num_hidden_layers: 30,
        num_attention_heads: 9,
        num_key_value_heads: 3,
        rope_theta: 100_000.0,
        rms_norm_eps: 1e-5,
        max_position_embeddings: 8192,
        tie_word_embeddings: true,
    }
}

fn shape(name: &str) -> Option<Shape> {
    Some(match name {
        "full-135m" => Shape {
            config: smollm2(),
            rows: 4,
            seq: 256,
            lora: false,
        },
        "lora-135m" => Shape {
            config: smollm2(),
            rows: 1,
            seq: 1024,
            lora: true,
        },
        "tiny-7m" => Shape {
            config: LlamaConfig {
                vocab_size: 8192,
                hidden_size: 256,
                intermediate_size: 1024,
                num_hidden_layers: 4,
                num_attention_heads: 8,
                num_key_value_heads: 8,
                max_position_embeddings: 1024,
                ..smollm2()
            },
            rows: 8,
            seq: 128,
            lora: false,
        },
        _ => return None,
    })
}

/// Model FLOPs of one step: 2 per multiply-add forward; backward twice that
/// for full fine-tuning (activations and weights), once for a frozen base
/// (activations only), plus the adapters' own and attention's products.
fn step_flops(s: &Shape, rank: usize) -> f64 {
    let c = &s.config;
    let (d, ff, l, v) = (
        c.hidden_size as f64,
        c.intermediate_size as f64,
        c.num_hidden_layers as f64,
        c.vocab_size as f64,
    );
    let kv = (c.num_key_value_heads * c.head_dim()) as f64;
    let tokens = (s.rows * s.seq) as f64;
    let block = d * d * 2.0 + d * kv * 2.0 + 3.0 * d * ff;
    let matmul = l * block + v * d;
    let attention = l * 2.0 * s.seq as f64 * d;
    let forward = 2.0 * tokens * (matmul + attention);
    if s.lora {
        let adapters = l * rank as f64 * (2.0 * (d + d) + 2.0 * (d + kv) + 3.0 * (d + ff));
        forward * 2.0 + 6.0 * tokens * adapters
    } else {
        forward * 3.0
    }
}

fn main() {
    // As the `toolgrad` binary does.
    toolgrad_train::alloc::keep_freed_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(s) = args.first().and_then(|n| shape(n)) else {
        eprintln!("usage: train_speed <full-135m|lora-135m|tiny-7m> [steps] [--no-recompute]");
        std::process::exit(2);
    };
    let steps: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(4).max(2);
    let recompute = !args.iter().any(|a| a == "--no-recompute");
    let device = toolgrad_model::device::cpu().autodiff();
    let rank = 64;
    let mut model = match Llama::load(&s.config, &RandomWeights { seed: 1 }, &device) {
        Ok(model) => model,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    if s.lora {
        let spec = LoraSpec {
            rank,
            dropout: 0.0,
            ..Default::default()
        };
        model = match model.with_lora(&spec, 1, &device) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
    }
    let config = TrainConfig {
        learning_rate: 1e-5,
        ..Default::default()
    };
    let mut rng = StdRng::seed_from_u64(7);
    let mut optimizer = AdamW::default();
    let mut times = Vec::new();
    for step in 0..steps {
        let n = s.rows * s.seq;
        let tokens: Vec<i64> = (0..n)
            .map(|_| rng.random_range(0..s.config.vocab_size as i64))
            .collect();
        let batch = Batch {
            rows: s.rows,
            seq: s.seq,
            targets: tokens.iter().skip(1).copied().chain([0]).collect(),
            weights: (0..n).map(|_| true).collect(),
            tokens,
            layout: SequenceLayout {
                positions: (0..n).map(|i| i % s.seq).collect(),
                segments: vec![0; n],
            },
        };
        let started = Instant::now();
        let head = model.head_weight().val().inner();
        let spec = StepSpec {
            device: &device,
            head: &head,
            head_param: (!s.lora).then_some("embed_tokens"),
            scale: 1.0 / n as f32,
            chunk: 256,
            seed: step as u64,
            recompute,
        };
        let micro = match micro_grads(&model, &batch, &spec) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let mut grads = Accumulated::default();
        for (name, g) in micro.grads {
            grads.add(name, g);
        }
        let norm = grads.norm().unwrap_or(f64::NAN);
        model = optimizer.step(model, grads, 1e-5, clip_factor(norm, 1.0), &config);
        // Reading a value back waits for the step to finish.
        let _ = toolgrad_model::host::f32_values(model.norm.weight.val().sum());
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "step {step}: {seconds:.2} s, loss {:.4}",
            micro.loss_sum / n as f64
        );
        times.push(seconds);
    }
    let measured = &times[1..];
    let mean = measured.iter().sum::<f64>() / measured.len() as f64;
    let tokens = (s.rows * s.seq) as f64;
    println!(
        "{}",
        serde_json::json!({
            "engine": "toolgrad",
            "shape": args[0],
            "recompute": recompute,
            "step_s": mean,
            "tokens_per_s": tokens / mean,
            "step_gflop": step_flops(&s, rank) / 1e9,
        })
    );
}
