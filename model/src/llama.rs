//! The Llama-family decoder as one burn module, used unchanged for training
//! (full sequences, autodiff) and inference (incremental steps with a KV cache).
//!
//! Layout follows Hugging Face: linear weights are `[out, in]`, RoPE rotates
//! halves (`rotate_half`), and the LM head may be tied to the embedding.

use burn::module::{Module, Param};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::block_attention::attend_block;
use crate::cache::{KvCache, LayerCache};
use crate::config::LlamaConfig;
use crate::error::Result;
use crate::host::f32_values;
use crate::lora::Lora;
use crate::packed::Heads;

/// A source of named `f32` weights in HF naming (`model.layers.0.self_attn.q_proj.weight`).
pub trait WeightSource {
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>>;
}

fn param<const D: usize>(data: Vec<f32>, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(data, shape), device))
}

fn load2(
    src: &dyn WeightSource,
    name: &str,
    shape: [usize; 2],
    device: &Device,
) -> Result<Param<Tensor<2>>> {
    Ok(param(src.tensor(name, &shape)?, shape, device))
}

fn load1(
    src: &dyn WeightSource,
    name: &str,
    len: usize,
    device: &Device,
) -> Result<Param<Tensor<1>>> {
    Ok(param(src.tensor(name, &[len])?, [len], device))
}

/// `x · Wᵀ` for a weight in `[out, in]` layout, over any leading dimensions.
pub(crate) fn project(x: Tensor<3>, weight: &Param<Tensor<2>>) -> Tensor<3> {
    project_tensor(x, weight.val())
}

/// [`project`] for a weight that is not a module parameter.
pub(crate) fn project_tensor(x: Tensor<3>, w: Tensor<2>) -> Tensor<3> {
    let [batch, seq, d_in] = x.dims();
    let d_out = w.dims()[0];
    x.reshape([batch * seq, d_in])
        .matmul(w.transpose())
        .reshape([batch, seq, d_out])
}

/// A projection `x · Wᵀ` (`W` in HF's `[out, in]` layout), with an optional
/// LoRA adapter added on the side.
#[derive(Module, Debug)]
pub struct Linear {
    pub weight: Param<Tensor<2>>,
    pub lora: Option<Lora>,
}

impl Linear {
    pub fn new(weight: Param<Tensor<2>>) -> Self {
        Self { weight, lora: None }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match &self.lora {
            None => project(x, &self.weight),
            Some(lora) => project(x.clone(), &self.weight) + lora.forward(x),
        }
    }
}

#[derive(Module, Debug)]
pub struct RmsNorm {
    pub weight: Param<Tensor<1>>,
    pub eps: f64,
}

impl RmsNorm {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        rms_norm(x, self.weight.val(), self.eps)
    }
}

/// RMS normalisation over the last axis, scaled by `weight`.
pub(crate) fn rms_norm(x: Tensor<3>, weight: Tensor<1>, eps: f64) -> Tensor<3> {
    let rms = (x.clone().square().mean_dim(2) + eps).sqrt();
    (x / rms) * weight.unsqueeze::<3>()
}

#[derive(Module, Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
}

/// Rotary tables for a window of positions: `[1, 1, seq, head_dim]` each.
#[derive(Clone)]
pub struct Rope {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl Rope {
    pub fn new(theta: f64, head_dim: usize, start: usize, len: usize, device: &Device) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(len * head_dim);
        let mut sin = Vec::with_capacity(len * head_dim);
        for pos in start..start + len {
            for _ in 0..2 {
                for i in 0..half {
                    let freq = theta.powf(-((2 * i) as f64) / head_dim as f64);
                    let angle = pos as f64 * freq;
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        let shape = [1, 1, len, head_dim];
        Self {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
        }
    }

    /// Tables for every token of a batch at its own position: `[batch, 1, seq, head_dim]`.
    pub fn at_positions(
        theta: f64,
        head_dim: usize,
        layout: &SequenceLayout,
        batch: usize,
        seq: usize,
        device: &Device,
    ) -> Self {
        let half = head_dim / 2;
        let freqs: Vec<f64> = (0..half)
            .map(|i| theta.powf(-((2 * i) as f64) / head_dim as f64))
            .collect();
        let mut cos = Vec::with_capacity(batch * seq * head_dim);
        let mut sin = Vec::with_capacity(batch * seq * head_dim);
        for &pos in &layout.positions {
            for _ in 0..2 {
                for freq in &freqs {
                    let angle = pos as f64 * freq;
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        let shape = [batch, 1, seq, head_dim];
        Self {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
        }
    }

    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, s, d] = x.dims();
        let half = d / 2;
        let x1 = x.clone().slice([0..b, 0..h, 0..s, 0..half]);
        let x2 = x.clone().slice([0..b, 0..h, 0..s, half..d]);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

impl Attention {
    /// `x`: `[batch, seq, hidden]`. With a cache, keys and values of earlier
    /// positions are reused and this step's are appended.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        mask: &Mask,
        cache: Option<&mut LayerCache>,
    ) -> Result<Tensor<3>> {
        let q = self.q_proj.forward(x.clone());
        let k = self.k_proj.forward(x.clone());
        let v = self.v_proj.forward(x);
        let shape = Heads {
            heads: self.num_heads,
            kv_heads: self.num_kv_heads,
            dim: self.head_dim,
        };
        Ok(self
            .o_proj
            .forward(attend(q, k, v, shape, rope, mask, cache)?))
    }
}

/// Which keys each query of an attention call may see.
#[derive(Debug, Clone)]
pub enum Mask {
    /// Every key: a single query, or one that follows the whole cache.
    All,
    /// `true` where a query row may not see a key, `[batch, 1, group · seq, keys]`
    /// (rows are `(group, seq)` pairs, as in [`attend`]).
    Dense(Box<Tensor<4, Bool>>),
    /// One row of samples back to back (a packed training batch): each span
    /// attends causally within itself, so attention costs `Σ len²` instead of
    /// `seq²` and nothing is computed across samples.
    Spans(Vec<Span>),
}

/// A sample's run of positions in a [`Mask::Spans`] row, with its causal mask
/// (`None` for a single token).
#[derive(Debug, Clone)]
pub struct Span {
    pub start: usize,
    pub len: usize,
    causal: Option<Tensor<4, Bool>>,
}

impl Mask {
    /// The causal mask of `seq` new positions after `start` cached ones.
    pub(crate) fn causal(group: usize, seq: usize, start: usize, device: &Device) -> Mask {
        match seq > 1 {
            true => Mask::Dense(Box::new(causal_mask(group, seq, start, device))),
            false => Mask::All,
        }
    }

    /// The mask of a packed batch: spans when it is one row, else a dense
    /// mask over segments (rows padded to the longest).
    fn packed(
        group: usize,
        layout: &SequenceLayout,
        batch: usize,
        seq: usize,
        device: &Device,
    ) -> Mask {
        if batch != 1 || layout.segments.is_empty() {
            return Mask::Dense(Box::new(segment_mask(group, layout, batch, seq, device)));
        }
        let mut spans: Vec<Span> = Vec::new();
        for (i, segment) in layout.segments.iter().enumerate() {
            match spans.last_mut() {
                Some(span) if layout.segments[span.start] == *segment => span.len += 1,
                _ => spans.push(Span {
                    start: i,
                    len: 1,
                    causal: None,
                }),
            }
        }
        for span in &mut spans {
            span.causal = (span.len > 1).then(|| causal_mask(group, span.len, 0, device));
        }
        Mask::Spans(spans)
    }
}

/// Attention of projected `q`, `k`, `v` (`[batch, seq, heads · head_dim]`):
/// rotary positions, the cache extended with this step's keys and values,
/// and the heads' outputs side by side, before the output projection. With a
/// cache, every query sees the cache and the step's positions up to its own,
/// whatever `mask` says.
pub(crate) fn attend(
    q: Tensor<3>,
    k: Tensor<3>,
    v: Tensor<3>,
    shape: Heads,
    rope: &Rope,
    mask: &Mask,
    cache: Option<&mut LayerCache>,
) -> Result<Tensor<3>> {
    let [batch, seq, _] = q.dims();
    let (h, kv, hd) = (shape.heads, shape.kv_heads, shape.dim);
    let heads = |t: Tensor<3>, n: usize| t.reshape([batch, seq, n, hd]).swap_dims(1, 2);
    let q = rope.apply(heads(q, h));
    let k = rope.apply(heads(k, kv));
    let v = heads(v, kv);
    if let Some(layer) = cache {
        // A cached call is one sequence's causal step after the cache
        // (`Llama::hidden`, the lean prefill), run in inference only: it
        // attends over the host cache on the host, and `mask` is not read.
        let past = layer.keys().len() / (kv * hd);
        layer.append(&k, &v)?;
        let device = q.device();
        let rows = f32_values(q.swap_dims(1, 2))?;
        let out = attend_block(&rows, layer.keys(), layer.values(), past, shape);
        return Ok(Tensor::from_data(
            TensorData::new(out, [batch, seq, h * hd]),
            &device,
        ));
    }
    let heads = match mask {
        Mask::All => grouped(q, k, v, None, kv),
        Mask::Dense(mask) => grouped(q, k, v, Some(*mask.clone()), kv),
        Mask::Spans(spans) => {
            let span_heads = spans
                .iter()
                .map(|span| {
                    let rows = span.start..span.start + span.len;
                    let part = |t: &Tensor<4>, n: usize| {
                        t.clone().slice([0..batch, 0..n, rows.clone(), 0..hd])
                    };
                    grouped(
                        part(&q, h),
                        part(&k, kv),
                        part(&v, kv),
                        span.causal.clone(),
                        kv,
                    )
                })
                .collect();
            Tensor::cat(span_heads, 2)
        }
    };
    Ok(heads.swap_dims(1, 2).reshape([batch, seq, h * hd]))
}

/// Grouped-query attention without copying K/V: the query heads that share a
/// KV head are stacked along the row axis. `q` is `[batch, heads, seq, dim]`,
/// `k` and `v` `[batch, kv, keys, dim]`; the result is shaped like `q`.
fn grouped(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Option<Tensor<4, Bool>>,
    kv: usize,
) -> Tensor<4> {
    let [batch, h, seq, hd] = q.dims();
    let q = q.reshape([batch, kv, (h / kv) * seq, hd]);
    let scores = q.matmul(k.swap_dims(2, 3)) / (hd as f64).sqrt();
    let scores = match mask {
        Some(mask) => scores.mask_fill(mask, f32::NEG_INFINITY),
        None => scores,
    };
    softmax(scores, 3).matmul(v).reshape([batch, h, seq, hd])
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
}

impl Mlp {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = silu(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct Block {
    pub input_layernorm: RmsNorm,
    pub self_attn: Attention,
    pub post_attention_layernorm: RmsNorm,
    pub mlp: Mlp,
}

#[derive(Module, Debug)]
pub struct Llama {
    pub embed_tokens: Param<Tensor<2>>,
    pub layers: Vec<Block>,
    pub norm: RmsNorm,
    /// `None` when tied to `embed_tokens`.
    pub lm_head: Option<Param<Tensor<2>>>,
    pub rope_theta: f64,
}

impl Llama {
    /// Builds the model from named weights (HF names).
    pub fn load(config: &LlamaConfig, src: &dyn WeightSource, device: &Device) -> Result<Self> {
        let (d, ff, hd) = (
            config.hidden_size,
            config.intermediate_size,
            config.head_dim(),
        );
        let kv_dim = config.num_key_value_heads * hd;
        let norm = |name: &str| -> Result<RmsNorm> {
            Ok(RmsNorm {
                weight: load1(src, name, d, device)?,
                eps: config.rms_norm_eps,
            })
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let w = |name: &str, shape: [usize; 2]| {
                load2(src, &format!("{p}.{name}.weight"), shape, device).map(Linear::new)
            };
            layers.push(Block {
                input_layernorm: norm(&format!("{p}.input_layernorm.weight"))?,
                self_attn: Attention {
                    q_proj: w("self_attn.q_proj", [d, d])?,
                    k_proj: w("self_attn.k_proj", [kv_dim, d])?,
                    v_proj: w("self_attn.v_proj", [kv_dim, d])?,
                    o_proj: w("self_attn.o_proj", [d, d])?,
                    num_heads: config.num_attention_heads,
                    num_kv_heads: config.num_key_value_heads,
                    head_dim: hd,
                },
                post_attention_layernorm: norm(&format!("{p}.post_attention_layernorm.weight"))?,
                mlp: Mlp {
                    gate_proj: w("mlp.gate_proj", [ff, d])?,
                    up_proj: w("mlp.up_proj", [ff, d])?,
                    down_proj: w("mlp.down_proj", [d, ff])?,
                },
            });
        }
        let vocab = [config.vocab_size, d];
        Ok(Self {
            embed_tokens: load2(src, "model.embed_tokens.weight", vocab, device)?,
            layers,
            norm: norm("model.norm.weight")?,
            lm_head: match config.tie_word_embeddings {
                true => None,
                false => Some(load2(src, "lm_head.weight", vocab, device)?),
            },
            rope_theta: config.rope_theta,
        })
    }

    /// Every weight under its HF name, `[out, in]` for matrices.
    pub fn named_weights(&self) -> Vec<(String, Tensor<2>)> {
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            self.embed_tokens.val(),
        )];
        let row = |t: &Param<Tensor<1>>| t.val().unsqueeze::<2>();
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("model.layers.{i}");
            out.push((
                format!("{p}.input_layernorm.weight"),
                row(&l.input_layernorm.weight),
            ));
            for (name, w) in [
                ("self_attn.q_proj", &l.self_attn.q_proj),
                ("self_attn.k_proj", &l.self_attn.k_proj),
                ("self_attn.v_proj", &l.self_attn.v_proj),
                ("self_attn.o_proj", &l.self_attn.o_proj),
                ("mlp.gate_proj", &l.mlp.gate_proj),
                ("mlp.up_proj", &l.mlp.up_proj),
                ("mlp.down_proj", &l.mlp.down_proj),
            ] {
                out.push((format!("{p}.{name}.weight"), w.weight.val()));
            }
            out.push((
                format!("{p}.post_attention_layernorm.weight"),
                row(&l.post_attention_layernorm.weight),
            ));
        }
        out.push(("model.norm.weight".into(), row(&self.norm.weight)));
        if let Some(head) = &self.lm_head {
            out.push(("lm_head.weight".into(), head.val()));
        }
        out
    }

    pub(crate) fn head_dim(&self) -> usize {
        self.layers[0].self_attn.head_dim
    }

    /// Final hidden states `[batch, seq, hidden]` for `tokens` `[batch, seq]`
    /// placed after the cache's positions; the cache, if any, is extended
    /// (a cached step runs one sequence). Single-token decoding steps on Q8
    /// weights take [`Llama::decode`] instead.
    pub fn hidden(
        &self,
        tokens: Tensor<2, Int>,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor<3>> {
        let [_, seq] = tokens.dims();
        let device = tokens.device();
        let start = cache.as_ref().map_or(0, |c| c.len());
        let rope = Rope::new(self.rope_theta, self.head_dim(), start, seq, &device);
        // A cached call attends causally by construction (see [`attend`]).
        let mask = match cache {
            Some(_) => Mask::All,
            None => Mask::causal(self.group(), seq, start, &device),
        };
        let mut x = self.embed(tokens);
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_mut().map(|c| c.layer_mut(i));
            x = layer.forward(x, &rope, &mask, slot)?;
        }
        if let Some(cache) = cache {
            cache.advance(seq);
        }
        Ok(self.norm.forward(x))
    }

    /// Final hidden states of a training batch whose rows may hold several
    /// samples: each token attends only to earlier tokens of its own sample,
    /// and positions restart with every sample, so a packed sample computes
    /// exactly what it computes alone.
    pub fn hidden_packed(
        &self,
        tokens: Tensor<2, Int>,
        layout: &SequenceLayout,
    ) -> Result<Tensor<3>> {
        let [batch, seq] = tokens.dims();
        let device = tokens.device();
        let rope = Rope::at_positions(
            self.rope_theta,
            self.head_dim(),
            layout,
            batch,
            seq,
            &device,
        );
        let mask = Mask::packed(self.group(), layout, batch, seq, &device);
        let mut x = self.embed(tokens);
        for layer in &self.layers {
            x = layer.forward(x, &rope, &mask, None)?;
        }
        Ok(self.norm.forward(x))
    }

    /// The rotary tables and attention mask of a packed batch, for running
    /// blocks one at a time (the trainer recomputes them in the backward pass).
    pub fn packed_context(
        &self,
        layout: &SequenceLayout,
        batch: usize,
        seq: usize,
        device: &Device,
    ) -> (Rope, Mask) {
        let rope = Rope::at_positions(self.rope_theta, self.head_dim(), layout, batch, seq, device);
        (rope, Mask::packed(self.group(), layout, batch, seq, device))
    }

    /// Token embeddings `[batch, seq, hidden]`.
    pub fn embed(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [batch, seq] = tokens.dims();
        let d = self.embed_tokens.dims()[1];
        self.embed_tokens
            .val()
            .select(0, tokens.reshape([batch * seq]))
            .reshape([batch, seq, d])
    }

    fn group(&self) -> usize {
        self.layers[0].self_attn.num_heads / self.layers[0].self_attn.num_kv_heads
    }

    /// The LM head's weight `[vocab, hidden]` (the embedding when tied).
    pub fn head_weight(&self) -> &Param<Tensor<2>> {
        self.lm_head.as_ref().unwrap_or(&self.embed_tokens)
    }

    /// Logits `[batch, seq, vocab]` of hidden states.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        project(hidden, self.head_weight())
    }

    /// Full forward pass: logits for every position (training and scoring).
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Result<Tensor<3>> {
        Ok(self.logits(self.hidden(tokens, None)?))
    }
}

impl Block {
    /// One pre-norm block: attention then MLP, each added to the residual.
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &Rope,
        mask: &Mask,
        cache: Option<&mut LayerCache>,
    ) -> Result<Tensor<3>> {
        let h =
            self.self_attn
                .forward(self.input_layernorm.forward(x.clone()), rope, mask, cache)?;
        let x = x + h;
        let m = self
            .mlp
            .forward(self.post_attention_layernorm.forward(x.clone()));
        Ok(x + m)
    }
}

/// Where each token of a training batch sits (row-major, `batch × seq`): its
/// position inside its own sample, and the sample it belongs to. Padding gets
/// a segment of its own per token, so it attends to itself only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceLayout {
    pub positions: Vec<usize>,
    pub segments: Vec<u32>,
}

/// `true` where a query row may not see a key: a later token, or one of
/// another segment. Rows are `(group, seq)` pairs, as in [`Attention::forward`].
fn segment_mask(
    group: usize,
    layout: &SequenceLayout,
    batch: usize,
    seq: usize,
    device: &Device,
) -> Tensor<4, Bool> {
    let mut data = Vec::with_capacity(batch * group * seq * seq);
    for b in 0..batch {
        let segments = &layout.segments[b * seq..(b + 1) * seq];
        for _ in 0..group {
            for (row, own) in segments.iter().enumerate() {
                data.extend(
                    segments
                        .iter()
                        .enumerate()
                        .map(|(key, other)| key > row || other != own),
                );
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [batch, 1, group * seq, seq]), device)
}

/// `true` where a query row may not see a key: rows are `(group, seq)` pairs
/// whose absolute position is `start + row % seq`.
fn causal_mask(group: usize, seq: usize, start: usize, device: &Device) -> Tensor<4, Bool> {
    let total = start + seq;
    let mut data = Vec::with_capacity(group * seq * total);
    for _ in 0..group {
        for row in 0..seq {
            data.extend((0..total).map(|key| key > start + row));
        }
    }
    Tensor::from_data(TensorData::new(data, [1, 1, group * seq, total]), device)
}
