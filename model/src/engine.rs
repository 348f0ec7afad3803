//! The inference engine: a loaded model with its tokenizer and chat template,
//! blocked prefill with prefix reuse, KV-cache decoding (one sequence, or a
//! batch of them in one step), stop sequences, streaming and constraints.
//!
//! An engine holds its weights one of two ways ([`Weights`]). A Q4_1 or Q8_0
//! GGUF loads *lean*: its packed copies give the weights back exactly, so
//! nothing else is kept, and prefill dequantises one layer at a time. Other
//! models (K-quants, HF directories, a model being trained) keep the f32 burn
//! module, with packed copies beside it for decoding.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::cache::KvCache;
use crate::chat::ChatTemplate;
use crate::config::LlamaConfig;
use crate::constrain::Constraint;
use crate::decoding::Decoding;
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::host::f32_values;
use crate::llama::Llama;
use crate::packed::{Packed, Packing};
use crate::prefix::{self, PrefixCache};
use crate::sampling::SamplingParams;
use crate::tokenizer::TextTokenizer;
use crate::weights::{export_hf, ExportDtype, GgufWeights, SafetensorsWeights};

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct GenerateParams {
    pub sampling: SamplingParams,
    pub max_tokens: usize,
    /// Generation stops before the first occurrence of any of these.
    pub stop: Vec<String>,
    /// Keep going past end-of-turn tokens (for speed measurements).
    pub ignore_eos: bool,
    /// Set by another thread (a disconnected client) to stop the generation
    /// with [`ModelError::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

impl GenerateParams {
    /// Whether another thread asked this generation to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// End-of-turn token, a stop sequence, or a closed constraint.
    Stop,
    Length,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish: FinishReason,
}

pub struct Engine {
    weights: Weights,
    pub config: LlamaConfig,
    pub tokenizer: TextTokenizer,
    pub template: ChatTemplate,
    pub device: Device,
    pub source: PathBuf,
    /// Recently prefilled prompts, for prefix reuse.
    prefixes: Mutex<PrefixCache>,
}

/// The weights an engine runs on.
enum Weights {
    /// The f32 module, and quantised copies of it for single-token steps
    /// (rebuilt whenever the module is replaced; `None` decodes in f32).
    Dense {
        model: Box<Llama>,
        packed: Option<Packed>,
    },
    /// Exact packed copies only (see [`Packed::is_exact`]).
    Lean(Packed),
}

/// The environment variable that sets how many prompts prefix reuse keeps
/// (default [`prefix::ENTRIES`]; 0 turns it off).
pub const PREFIX_ENTRIES_VAR: &str = "TOOLGRAD_PREFIX_CACHE";

/// [`PREFIX_ENTRIES_VAR`], read once per engine.
fn prefix_entries() -> Result<usize> {
    match std::env::var(PREFIX_ENTRIES_VAR) {
        Err(_) => Ok(prefix::ENTRIES),
        Ok(text) => text.trim().parse().map_err(|_| {
            ModelError::Setup(format!(
                "{PREFIX_ENTRIES_VAR}={text:?}: expected a number of prompts (0 turns prefix reuse off)"
            ))
        }),
    }
}

impl Engine {
    /// Loads a `.gguf` file, or an HF directory (`config.json`, `*.safetensors`,
    /// `tokenizer.json`, optional `tokenizer_config.json` with the chat template),
    /// on the CPU.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_on(path, crate::device::cpu())
    }

    /// Loads a model onto `device` for inference: lean when the file allows
    /// it (see [`Weights`]), otherwise the f32 module with decoding copies.
    pub fn load_on(path: &Path, device: Device) -> Result<Self> {
        if !path.is_dir() {
            let gguf = open_gguf(path)?;
            let packed = Packed::from_source(&gguf.config, &gguf.weights(), Packing::ExactOnly)?;
            if let Some(packed) = packed {
                return Ok(Self {
                    weights: Weights::Lean(packed),
                    config: gguf.config,
                    tokenizer: gguf.tokenizer,
                    template: gguf.template,
                    device,
                    source: path.to_path_buf(),
                    prefixes: Mutex::new(PrefixCache::new(prefix_entries()?)),
                });
            }
            // The file stays open: the f32 module is read from it.
            let parts = gguf.into_parts(&device)?;
            return Self::from_parts(parts, device, path);
        }
        Self::load_dense_on(path, device)
    }

    /// Loads a model keeping its f32 weights, for f32 reference decoding and
    /// export, on the CPU.
    pub fn load_dense(path: &Path) -> Result<Self> {
        Self::load_dense_on(path, crate::device::cpu())
    }

    /// [`Self::load_dense`] onto `device`.
    pub fn load_dense_on(path: &Path, device: Device) -> Result<Self> {
        let parts = Self::load_parts(path, &device)?;
        Self::from_parts(parts, device, path)
    }

    fn from_parts(parts: ModelParts, device: Device, source: &Path) -> Result<Self> {
        Self::assemble(
            parts.model,
            parts.config,
            parts.tokenizer,
            parts.template,
            device,
            source,
        )
    }

    /// Loads the model, tokenizer and template without packing anything
    /// (training loads onto an autodiff device this way).
    pub fn load_parts(path: &Path, device: &Device) -> Result<ModelParts> {
        if path.is_dir() {
            return Self::load_hf_dir(path, device);
        }
        open_gguf(path)?.into_parts(device)
    }

    /// The engine of a loaded model, with its weights packed for decoding.
    pub fn assemble(
        model: Llama,
        config: LlamaConfig,
        tokenizer: TextTokenizer,
        template: ChatTemplate,
        device: Device,
        source: &Path,
    ) -> Result<Self> {
        Ok(Self {
            weights: Weights::Dense {
                packed: Packed::from_model(&model, &config)?,
                model: Box::new(model),
            },
            config,
            tokenizer,
            template,
            device,
            source: source.to_path_buf(),
            prefixes: Mutex::new(PrefixCache::new(prefix_entries()?)),
        })
    }

    /// The f32 module the engine runs; `None` for a lean engine, which
    /// holds only packed weights ([`Self::load_dense`] keeps the module).
    pub fn model(&self) -> Option<&Llama> {
        match &self.weights {
            Weights::Dense { model, .. } => Some(model),
            Weights::Lean(_) => None,
        }
    }

    /// Whether the engine holds only exact packed weights, no f32 module.
    pub fn is_lean(&self) -> bool {
        matches!(self.weights, Weights::Lean(_))
    }

    /// Replaces the weights; the decoding copies are rebuilt from the new ones
    /// (or dropped, when the model cannot be packed), never left stale.
    pub fn set_model(&mut self, model: Llama) -> Result<()> {
        self.weights = Weights::Dense {
            packed: Packed::from_model(&model, &self.config)?,
            model: Box::new(model),
        };
        self.prefixes().clear();
        Ok(())
    }

    fn packed(&self) -> Option<&Packed> {
        match &self.weights {
            Weights::Dense { packed, .. } => packed.as_ref(),
            Weights::Lean(packed) => Some(packed),
        }
    }

    /// Keeps the caches of the last `entries` prompts for prefix reuse (0 = off).
    pub fn set_prefix_entries(&mut self, entries: usize) {
        *self.prefixes() = PrefixCache::new(entries);
    }

    /// How many prompts prefix reuse keeps.
    pub fn prefix_entries(&self) -> usize {
        self.prefixes().capacity()
    }

    /// Prompt tokens that prefix reuse did not prefill again.
    pub fn reused_prompt_tokens(&self) -> u64 {
        self.prefixes().reused_tokens()
    }

    fn prefixes(&self) -> MutexGuard<'_, PrefixCache> {
        // The store is only ever replaced whole: a panic elsewhere leaves it usable.
        self.prefixes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether single-token steps run on quantised copies of the weights.
    pub fn is_packed(&self) -> bool {
        self.packed().is_some()
    }

    /// (matrices decoded from exact Q4_1 copies, all matrices), when packed.
    pub fn packed_q4_1_count(&self) -> Option<(usize, usize)> {
        self.packed().map(|p| p.q4_1_count())
    }

    /// Decodes with the f32 weights only (for reference comparisons); a lean
    /// engine has none.
    pub fn use_f32_decoding(&mut self) -> Result<()> {
        match &mut self.weights {
            Weights::Dense { packed, .. } => *packed = None,
            Weights::Lean(_) => return Err(self.no_module("decode in f32")),
        }
        self.prefixes().clear();
        Ok(())
    }

    fn no_module(&self, what: &str) -> ModelError {
        ModelError::Setup(format!(
            "{}: this engine holds only packed weights; to {what}, load it with Engine::load_dense",
            self.source.display()
        ))
    }

    fn load_hf_dir(dir: &Path, device: &Device) -> Result<ModelParts> {
        let config = LlamaConfig::from_hf_json(&dir.join("config.json"))?;
        // tokenizer_config.json is optional: it names the end-of-turn token and
        // holds the chat template.
        let settings_path = dir.join("tokenizer_config.json");
        let settings: serde_json::Value = match std::fs::read_to_string(&settings_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| ModelError::Config {
                path: settings_path.clone(),
                field: "tokenizer_config.json".into(),
                message: e.to_string(),
            })?,
            Err(_) => serde_json::Value::Null,
        };
        let eos = match &settings["eos_token"] {
            serde_json::Value::String(s) => s.clone(),
            other => other["content"].as_str().unwrap_or("<|im_end|>").to_owned(),
        };
        let tokenizer = TextTokenizer::from_file(&dir.join("tokenizer.json"), &eos)?;
        check_vocab(&config, &tokenizer, dir)?;
        let template = ChatTemplate::from_optional(settings["chat_template"].as_str())?;
        let model = Llama::load(&config, &SafetensorsWeights::open_dir(dir)?, device)?;
        Ok(ModelParts {
            model,
            config,
            tokenizer,
            template,
        })
    }

    /// Writes the model as an HF directory (see [`export_dir`]).
    pub fn export(&self, dir: &Path, dtype: ExportDtype) -> Result<()> {
        let model = self.model().ok_or_else(|| self.no_module("export it"))?;
        export_dir(
            model,
            &self.config,
            &self.tokenizer,
            &self.template,
            dir,
            dtype,
        )
    }

    fn tokens(&self, ids: &[u32]) -> Tensor<2, Int> {
        let data: Vec<i64> = ids.iter().map(|&t| t as i64).collect();
        Tensor::from_data(TensorData::new(data, [1, ids.len()]), &self.device)
    }

    /// Runs `ids` through the model after the cache's positions and returns the
    /// logits of the last one. Blocks end at multiples of [`prefix::BLOCK`]
    /// (absolute positions), which bounds the attention-score memory of long
    /// prompts and makes prefix reuse exact. A last block of one token runs as
    /// a decoding step on the packed weights, when there are any.
    fn step(&self, ids: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
        let blocks = prefix::blocks(cache.len(), ids);
        let Some(last) = blocks.last() else {
            return Err(ModelError::ContextOverflow {
                prompt: 0,
                context: self.config.max_position_embeddings,
            });
        };
        let Some(packed) = self.packed() else {
            return self.step_f32(&blocks, cache);
        };
        let prefilled = match last.len() {
            1 => &blocks[..blocks.len() - 1],
            _ => &blocks[..],
        };
        let hidden = match (&self.weights, prefilled) {
            (_, []) => None,
            (Weights::Lean(packed), blocks) => Some(packed.prefill(blocks, cache, &self.device)?),
            (Weights::Dense { model, .. }, blocks) => self
                .dense_hidden(model, blocks, cache)?
                .map(last_row)
                .transpose()?,
        };
        if last.len() == 1 {
            let rows = self.embed_rows(last)?;
            return packed
                .decode(rows, &mut [cache])?
                .pop()
                .ok_or_else(|| ModelError::Setup("a decoding step returned no logits".into()));
        }
        let hidden =
            hidden.ok_or_else(|| ModelError::Setup("a prefill returned no state".into()))?;
        Ok(packed.head.matvec(&hidden))
    }

    /// [`Self::step`] of a dense engine without packed weights: f32 throughout.
    fn step_f32(&self, blocks: &[&[u32]], cache: &mut KvCache) -> Result<Vec<f32>> {
        let Weights::Dense { model, .. } = &self.weights else {
            return Err(ModelError::Setup(
                "a lean engine lost its packed weights".into(),
            ));
        };
        let h = self
            .dense_hidden(model, blocks, cache)?
            .ok_or_else(|| ModelError::Setup("a prefill got no tokens".into()))?;
        let [_, seq, d] = h.dims();
        f32_values(model.logits(h.slice([0..1, seq - 1..seq, 0..d])))
    }

    /// Runs `blocks` through the f32 module, one after another: the last
    /// one's hidden states.
    fn dense_hidden(
        &self,
        model: &Llama,
        blocks: &[&[u32]],
        cache: &mut KvCache,
    ) -> Result<Option<Tensor<3>>> {
        let mut hidden = None;
        for block in blocks {
            hidden = Some(model.hidden(self.tokens(block), Some(cache))?);
        }
        Ok(hidden)
    }

    /// The embedding rows of `tokens`: from the f32 module when there is one
    /// (the rows a full forward pass reads), else from the exact packed copy.
    fn embed_rows(&self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        match &self.weights {
            Weights::Lean(packed) => packed.embed_rows(tokens),
            Weights::Dense { model, .. } => {
                let vocab = self.config.vocab_size;
                if let Some(&t) = tokens.iter().find(|&&t| t as usize >= vocab) {
                    return Err(ModelError::Setup(format!(
                        "token {t} is past the embedding's {vocab} rows"
                    )));
                }
                let embedded = model.embed(self.tokens(tokens));
                let width = embedded.dims()[2].max(1);
                Ok(f32_values(embedded)?
                    .chunks_exact(width)
                    .map(<[f32]>::to_vec)
                    .collect())
            }
        }
    }

    /// Next-token logits after `ids` (used to compare with references). The
    /// LM head runs on the packed weights when there are any.
    pub fn next_logits(&self, ids: &[u32]) -> Result<Vec<f32>> {
        self.check_context(ids.len())?;
        Ok(self.prefill(ids)?.0)
    }

    /// Runs the prompt, after the longest stored prefix of it, and keeps its
    /// cache for later prompts: the logits after it and the cache.
    fn prefill(&self, prompt: &[u32]) -> Result<(Vec<f32>, KvCache)> {
        let reused = self.prefixes().reuse(prompt);
        let mut cache = reused.unwrap_or_else(|| KvCache::new(self.config.num_hidden_layers));
        let logits = self.step(&prompt[cache.len()..], &mut cache)?;
        self.prefixes().insert(prompt, &cache);
        Ok((logits, cache))
    }

    fn check_context(&self, prompt: usize) -> Result<()> {
        let context = self.config.max_position_embeddings;
        if prompt == 0 || prompt >= context {
            return Err(ModelError::ContextOverflow { prompt, context });
        }
        Ok(())
    }

    /// Generates a continuation of `prompt` (token ids). `on_text` receives the
    /// text as it is produced (whole UTF-8 characters, stop sequences held back).
    pub fn generate(
        &self,
        prompt: &[u32],
        params: &GenerateParams,
        constraint: Option<Box<dyn Constraint>>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let (mut decoding, mut logits, mut cache) = self.start(prompt, params, constraint)?;
        while let Some(token) = decoding.next(&self.tokenizer, &logits, on_text)? {
            logits = self.step(&[token], &mut cache)?;
        }
        Ok(decoding.finish(on_text))
    }

    /// Checks and prefills a prompt: the sequence's decoding state, the logits
    /// after the prompt and its cache.
    pub(crate) fn start(
        &self,
        prompt: &[u32],
        params: &GenerateParams,
        constraint: Option<Box<dyn Constraint>>,
    ) -> Result<(Decoding, Vec<f32>, KvCache)> {
        self.check_context(prompt.len())?;
        let room = self.config.max_position_embeddings - prompt.len();
        if params.is_cancelled() {
            return Err(ModelError::Cancelled);
        }
        let decoding = Decoding::new(prompt.len(), room, params, constraint);
        let (logits, cache) = self.prefill(prompt)?;
        Ok((decoding, logits, cache))
    }

    /// One decoding step of several sequences, each token after its own
    /// cache: the logits of each, exactly as [`Self::step`] gives them. With
    /// Q8 weights the projections run once for the whole batch.
    pub(crate) fn step_batch(
        &self,
        tokens: &[u32],
        caches: &mut [&mut KvCache],
    ) -> Result<Vec<Vec<f32>>> {
        match self.packed() {
            Some(packed) => packed.decode(self.embed_rows(tokens)?, caches),
            _ => tokens
                .iter()
                .zip(caches.iter_mut())
                .map(|(&token, cache)| self.step(&[token], cache))
                .collect(),
        }
    }
}

/// The last position's hidden state `[1, seq, d]` → `d` values.
fn last_row(hidden: Tensor<3>) -> Result<Vec<f32>> {
    let [_, seq, d] = hidden.dims();
    f32_values(hidden.slice([0..1, seq - 1..seq, 0..d]))
}

/// A GGUF file with what the engine reads from its metadata.
struct OpenGguf {
    file: GgufFile,
    config: LlamaConfig,
    tokenizer: TextTokenizer,
    template: ChatTemplate,
}

impl OpenGguf {
    fn weights(&self) -> GgufWeights<'_> {
        GgufWeights {
            file: &self.file,
            config: &self.config,
        }
    }

    /// The f32 module read from the file, with the tokenizer and template.
    fn into_parts(self, device: &Device) -> Result<ModelParts> {
        let model = Llama::load(&self.config, &self.weights(), device)?;
        Ok(ModelParts {
            model,
            config: self.config,
            tokenizer: self.tokenizer,
            template: self.template,
        })
    }
}

fn open_gguf(path: &Path) -> Result<OpenGguf> {
    let file = GgufFile::open(path)?;
    let config = LlamaConfig::from_gguf(&file)?;
    let tokenizer = TextTokenizer::from_gguf(&file)?;
    check_vocab(&config, &tokenizer, path)?;
    let template = ChatTemplate::from_optional(
        file.metadata("tokenizer.chat_template")
            .and_then(|v| v.as_str()),
    )?;
    Ok(OpenGguf {
        file,
        config,
        tokenizer,
        template,
    })
}

/// A loaded model before it becomes an engine.
pub struct ModelParts {
    pub model: Llama,
    pub config: LlamaConfig,
    pub tokenizer: TextTokenizer,
    pub template: ChatTemplate,
}

/// Writes a model as an HF directory: `model.safetensors`, `config.json`,
/// `tokenizer.json` and `tokenizer_config.json` (whose chat template renders
/// tools as [`ChatTemplate::render`] does).
pub fn export_dir(
    model: &Llama,
    config: &LlamaConfig,
    tokenizer: &TextTokenizer,
    template: &ChatTemplate,
    dir: &Path,
    dtype: ExportDtype,
) -> Result<()> {
    export_hf(model, config, dir, dtype)?;
    tokenizer.save(&dir.join("tokenizer.json"))?;
    let eos = String::from_utf8_lossy(tokenizer.bytes(tokenizer.eos_id)).into_owned();
    let settings = serde_json::json!({
        "chat_template": template.to_jinja(),
        "eos_token": eos,
        "pad_token": eos,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": config.max_position_embeddings,
    });
    let path = dir.join("tokenizer_config.json");
    let text = serde_json::to_vec_pretty(&settings).map_err(|e| ModelError::Config {
        path: path.clone(),
        field: "tokenizer_config.json".into(),
        message: e.to_string(),
    })?;
    toolgrad_core::fsutil::write_atomic(&path, &text).map_err(|e| ModelError::io(path, e))
}

fn check_vocab(config: &LlamaConfig, tokenizer: &TextTokenizer, path: &Path) -> Result<()> {
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(ModelError::Config {
            path: path.to_path_buf(),
            field: "vocab_size".into(),
            message: format!(
                "the tokenizer has {} tokens but the embedding only {} rows",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        });
    }
    Ok(())
}
