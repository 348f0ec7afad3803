//! The training loop: data → packed micro-batches → forward → hand-computed
//! head loss → backward → accumulated gradients → global clip → AdamW, with
//! eval loss, checkpoints, metrics, the loss plot and the final export.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use toolgrad_core::fsutil::write_atomic;
use toolgrad_model::engine::{Engine, ModelParts};
use toolgrad_model::llama::Llama;
use toolgrad_model::weights::ExportDtype;

use crate::batch::{pack, Batch};
use crate::checkpoint::{self, State};
use crate::config::{ExportFormat, Method, TrainConfig};
use crate::data::read_jsonl;
use crate::encode::{encode_all, EncodeStats, Encoded};
use crate::error::{Result, TrainError};
use crate::export::{export, ExportSpec};
use crate::loss::{head_loss, Wanted};
use crate::metrics::{Kind, MetricsLog, Record};
use crate::optim::{clip_factor, Accumulated, AdamW};
use crate::params::{counts, load_trainable, trainable_values};
use crate::plot::loss_curve;
use crate::step::{micro_grads, tokens_tensor, StepSpec};

/// One training run.
pub struct TrainRequest {
    pub config: TrainConfig,
    pub model: PathBuf,
    pub data: PathBuf,
    /// Held-out data; without it `eval_fraction` of `data` is held out.
    pub eval_data: Option<PathBuf>,
    /// The run folder (checkpoints, metrics, exports).
    pub out: PathBuf,
    pub progress: bool,
    /// Export the final model (off for benchmarks).
    pub export: bool,
    /// Stop after this many steps in this invocation (checkpointing first), as
    /// a time box: a later run with the same arguments resumes from there.
    pub stop_after: Option<usize>,
}

/// What a finished run reports (also written as `train.json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub model: PathBuf,
    pub data: PathBuf,
    pub method: Method,
    pub steps: usize,
    pub resumed_from: Option<usize>,
    pub train: EncodeStats,
    pub eval: Option<EncodeStats>,
    pub trainable_params: usize,
    pub total_params: usize,
    pub final_loss: Option<f64>,
    pub eval_loss: Option<f64>,
    pub tokens_per_s: f64,
    pub seconds: f64,
}

/// Mixes the run seed with a step and micro-batch into a dropout seed.
fn dropout_seed(seed: u64, step: usize, micro: usize) -> u64 {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    for v in [step as u64, micro as u64] {
        x = (x ^ v).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 31;
    }
    x
}

/// The order of the training samples in `epoch`: a pure function of the seed.
fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(dropout_seed(
        seed,
        epoch,
        usize::MAX,
    )));
    order
}

fn sha256_files(paths: &[&Path]) -> Result<String> {
    let mut hasher = Sha256::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(*path, e))?;
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Where the step's samples come from: `(epoch, micro-batches of indices)`.
struct Plan {
    samples: usize,
    per_step: usize,
    steps_per_epoch: usize,
    total: usize,
}

impl Plan {
    fn new(samples: usize, config: &TrainConfig) -> Self {
        let per_step = config.batch_size * config.grad_accum;
        let steps_per_epoch = samples.div_ceil(per_step);
        let all = steps_per_epoch * config.epochs;
        Self {
            samples,
            per_step,
            steps_per_epoch,
            total: config.max_steps.map_or(all, |m| m.min(all)),
        }
    }

    fn micro_batches(&self, step: usize, config: &TrainConfig) -> Vec<Vec<usize>> {
        let epoch = step / self.steps_per_epoch;
        let k = step % self.steps_per_epoch;
        let order = epoch_order(self.samples, config.seed, epoch);
        let end = ((k + 1) * self.per_step).min(self.samples);
        order[k * self.per_step..end]
            .chunks(config.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }
}

/// The mean loss per learned token of `samples` under `model` (no dropout).
pub fn eval_loss(
    model: &Llama,
    samples: &[Encoded],
    config: &TrainConfig,
    device: &Device,
) -> Result<(f64, usize)> {
    let head = model.head_weight().val();
    let mut sum = 0.0;
    let mut tokens = 0;
    for chunk in samples.chunks(config.batch_size) {
        let refs: Vec<&Encoded> = chunk.iter().collect();
        let batch = pack(&refs, config.packing);
        let hidden = model.hidden_packed(tokens_tensor(&batch, device), &batch.layout)?;
        let wanted = Wanted {
            grad_hidden: false,
            grad_head: false,
            scale: 1.0,
            chunk: config.loss_chunk,
        };
        sum += head_loss(hidden, &head, &batch, wanted, device)?.sum;
        tokens += batch.loss_tokens();
    }
    Ok((sum / tokens.max(1) as f64, tokens))
}

/// Splits off the held-out samples (seeded), unless eval data was given.
fn split(mut samples: Vec<Encoded>, config: &TrainConfig) -> (Vec<Encoded>, Vec<Encoded>) {
    let held = (samples.len() as f64 * config.eval_fraction).round() as usize;
    let held = held.min(samples.len().saturating_sub(1));
    if held == 0 {
        return (samples, Vec::new());
    }
    samples.shuffle(&mut StdRng::seed_from_u64(config.seed ^ 0x5EED));
    let eval = samples.split_off(samples.len() - held);
    samples.sort_by_key(|s| s.line);
    (samples, eval)
}

/// The training device: the configured backend (flex on the CPU by
/// default) with autodiff.
pub fn training_device(config: &TrainConfig) -> Result<Device> {
    Ok(config.device.device()?.autodiff())
}

/// Runs (or resumes) a training run and exports the result.
pub fn train(request: &TrainRequest) -> Result<TrainReport> {
    let config = &request.config;
    let started = Instant::now();
    let device = training_device(config)?;
    let ModelParts {
        model,
        config: model_config,
        tokenizer,
        template,
    } = Engine::load_parts(&request.model, &device)?;

    let conversations = read_jsonl(&request.data)?;
    let (samples, train_stats) = encode_all(&conversations, &template, &tokenizer, config.max_len)?;
    if samples.is_empty() {
        return Err(TrainError::Dataset {
            path: request.data.clone(),
            message: format!(
                "none of its {} samples has a learned token within max_len = {} (lines {:?} dropped)",
                conversations.len(),
                config.max_len,
                train_stats.dropped_lines
            ),
        });
    }
    let (train_set, eval_set, eval_stats) = match &request.eval_data {
        Some(path) => {
            let held = read_jsonl(path)?;
            let (eval, stats) = encode_all(&held, &template, &tokenizer, config.max_len)?;
            (samples, eval, Some(stats))
        }
        None => {
            let (train, eval) = split(samples, config);
            (train, eval, None)
        }
    };
    let mut data_files = vec![request.data.as_path()];
    data_files.extend(request.eval_data.as_deref());
    let data_hash = sha256_files(&data_files)?;

    let model = match config.method {
        Method::Lora => model.with_lora(&config.lora, config.seed, &device)?,
        Method::Full => model,
    };
    let (trainable_params, total_params) = counts(&model);
    let plan = Plan::new(train_set.len(), config);
    let fingerprint = config.fingerprint();

    std::fs::create_dir_all(&request.out).map_err(|e| TrainError::io(&request.out, e))?;
    let (mut model, mut optimizer, start, resumed_from) =
        match checkpoint::load_latest(&request.out, &device)? {
            None => (model, AdamW::default(), 0, None),
            Some(loaded) => {
                let checkpoint_dir = request.out.join("checkpoints");
                if loaded.state.config != fingerprint || loaded.state.data != data_hash {
                    return Err(TrainError::Checkpoint {
                        path: checkpoint_dir,
                        message:
                            "was written with another config or other data; train into a new --out"
                                .into(),
                    });
                }
                let mut weights = loaded.weights;
                let (model, missing) = load_trainable(model, &mut weights);
                if !missing.is_empty() || !weights.is_empty() {
                    return Err(TrainError::Checkpoint {
                        path: checkpoint_dir,
                        message: format!(
                            "does not match the model: missing {missing:?}, unexpected {:?}",
                            weights.keys().collect::<Vec<_>>()
                        ),
                    });
                }
                let step = loaded.state.step;
                (model, loaded.optimizer, step, Some(step))
            }
        };
    let metrics = MetricsLog::open(&request.out, resumed_from)?;
    let head_trainable = config.method == Method::Full;
    let head_name = match model_config.tie_word_embeddings {
        true => "embed_tokens",
        false => "lm_head",
    };

    if start == 0 && !eval_set.is_empty() {
        // The base model's eval loss, the curve's starting point.
        let (loss, tokens) = eval_loss(&model.valid(), &eval_set, config, &device.clone().inner())?;
        metrics.append(&Record::eval(0, loss, tokens))?;
    }
    let bar = progress_bar(request.progress, plan.total, start);
    let mut last_loss = None;
    let mut read_tokens = 0usize;
    let loop_started = Instant::now();
    let report =
        |steps: usize, final_loss: Option<f64>, eval_loss: Option<f64>, tokens_per_s: f64| {
            TrainReport {
                model: request.model.clone(),
                data: request.data.clone(),
                method: config.method,
                steps,
                resumed_from,
                train: train_stats.clone(),
                eval: eval_stats.clone(),
                trainable_params,
                total_params,
                final_loss,
                eval_loss,
                tokens_per_s,
                seconds: started.elapsed().as_secs_f64(),
            }
        };
    for step in start..plan.total {
        let step_started = Instant::now();
        let micro: Vec<Vec<&Encoded>> = plan
            .micro_batches(step, config)
            .into_iter()
            .map(|ix| ix.into_iter().map(|i| &train_set[i]).collect())
            .collect();
        let batches: Vec<Batch> = micro.iter().map(|m| pack(m, config.packing)).collect();
        let learned: usize = batches.iter().map(Batch::loss_tokens).sum();
        let scale = 1.0 / learned.max(1) as f32;
        let mut grads = Accumulated::default();
        let mut loss_sum = 0.0;
        let mut step_tokens = 0;
        let head = model.head_weight().val().inner();
        for (index, batch) in batches.iter().enumerate() {
            let spec = StepSpec {
                device: &device,
                head: &head,
                head_param: head_trainable.then_some(head_name),
                scale,
                chunk: config.loss_chunk,
                seed: dropout_seed(config.seed, step, index),
                recompute: config.gradient_checkpointing,
            };
            let micro = micro_grads(&model, batch, &spec)?;
            loss_sum += micro.loss_sum;
            step_tokens += batch.real_tokens();
            for (name, grad) in micro.grads {
                grads.add(name, grad);
            }
        }
        let loss = loss_sum / learned.max(1) as f64;
        if !loss.is_finite() {
            bar.abandon();
            return Err(TrainError::NonFinite {
                step: step + 1,
                loss: loss as f32,
            });
        }
        let norm = grads.norm()?;
        if !norm.is_finite() {
            bar.abandon();
            return Err(TrainError::NonFinite {
                step: step + 1,
                loss: norm as f32,
            });
        }
        let lr = config.learning_rate_at(step, plan.total);
        model = optimizer.step(
            model,
            grads,
            lr,
            clip_factor(norm, config.max_grad_norm),
            config,
        );
        read_tokens += step_tokens;
        last_loss = Some(loss);
        let done = step + 1;
        let seconds = step_started.elapsed().as_secs_f64();
        metrics.append(&Record {
            kind: Kind::Train,
            step: done,
            loss,
            loss_tokens: learned,
            epoch: Some(done as f64 / plan.steps_per_epoch as f64),
            lr: Some(lr),
            grad_norm: Some(norm),
            tokens: Some(step_tokens),
            tokens_per_s: Some(step_tokens as f64 / seconds.max(1e-9)),
        })?;
        bar.set_message(format!(
            "loss {loss:.4} · {:.0} tok/s",
            step_tokens as f64 / seconds.max(1e-9)
        ));
        bar.set_position(done as u64);
        let last = done == plan.total;
        if !eval_set.is_empty()
            && ((config.eval_every > 0 && done % config.eval_every == 0) || last)
        {
            let (loss, tokens) =
                eval_loss(&model.valid(), &eval_set, config, &device.clone().inner())?;
            metrics.append(&Record::eval(done, loss, tokens))?;
        }
        let stopping = request.stop_after.is_some_and(|n| done - start >= n) && !last;
        if done % config.save_every == 0 || last || stopping {
            let state = State {
                step: done,
                total_steps: plan.total,
                config: fingerprint.clone(),
                data: data_hash.clone(),
                model: request.model.clone(),
            };
            checkpoint::save(&request.out, &state, trainable_values(&model), &optimizer)?;
        }
        if stopping {
            bar.abandon();
            let seconds = loop_started.elapsed().as_secs_f64().max(1e-9);
            return Ok(report(done, last_loss, None, read_tokens as f64 / seconds));
        }
    }
    bar.finish();
    let records = crate::metrics::read(metrics.path())?;
    let last_of = |kind: Kind| {
        records
            .iter()
            .rev()
            .find(|r| r.kind == kind)
            .map(|r| r.loss)
    };
    let eval_loss = last_of(Kind::Eval);
    let final_loss = last_loss.or_else(|| last_of(Kind::Train));
    loss_curve(
        &records,
        &request.out.join("loss.png"),
        &format!("{} · {:?}", file_label(&request.data), config.method),
    )?;
    if request.export {
        let spec = ExportSpec {
            config: &model_config,
            tokenizer: &tokenizer,
            template: &template,
            dtype: match config.export_dtype {
                ExportFormat::F32 => ExportDtype::F32,
                ExportFormat::Bf16 => ExportDtype::Bf16,
            },
            base: &request.model,
            lora: (config.method == Method::Lora).then_some(&config.lora),
        };
        export(model.valid(), &request.out, &spec)?;
    }
    let trained_seconds = loop_started.elapsed().as_secs_f64();
    let report = report(
        plan.total,
        final_loss,
        eval_loss,
        read_tokens as f64 / trained_seconds.max(1e-9),
    );
    let path = request.out.join("train.json");
    let json = serde_json::to_vec_pretty(&report).map_err(|e| TrainError::Checkpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write_atomic(&path, &json).map_err(|e| TrainError::io(&path, e))?;
    Ok(report)
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn progress_bar(show: bool, total: usize, start: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "train {bar:30} {pos}/{len} steps · {msg} · ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(start as u64);
    bar
}
