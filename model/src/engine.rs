//! The inference engine: a loaded model with its tokenizer and chat template,
//! blocked prefill with prefix reuse, KV-cache decoding (one sequence, or a
//! batch of them in one step), stop sequences, streaming and constraints.

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
use crate::packed::Packed;
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
    model: Llama,
    pub config: LlamaConfig,
    pub tokenizer: TextTokenizer,
    pub template: ChatTemplate,
    pub device: Device,
    pub source: PathBuf,
    /// Q8 copies of the weights for single-token steps, rebuilt whenever the
    /// weights are replaced; `None` decodes in f32.
    packed: Option<Packed>,
    /// Recently prefilled prompts, for prefix reuse.
    prefixes: Mutex<PrefixCache>,
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
    /// on the default device.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_on(path, Device::default())
    }

    /// Loads a model onto `device`, with its weights packed for decoding.
    pub fn load_on(path: &Path, device: Device) -> Result<Self> {
        let parts = Self::load_parts(path, &device)?;
        Self::assemble(
            parts.model,
            parts.config,
            parts.tokenizer,
            parts.template,
            device,
            path,
        )
    }

    /// Loads the model, tokenizer and template without packing anything
    /// (training loads onto an autodiff device this way).
    pub fn load_parts(path: &Path, device: &Device) -> Result<ModelParts> {
        if path.is_dir() {
            return Self::load_hf_dir(path, device);
        }
        let file = GgufFile::open(path)?;
        let config = LlamaConfig::from_gguf(&file)?;
        let tokenizer = TextTokenizer::from_gguf(&file)?;
        check_vocab(&config, &tokenizer, path)?;
        let template = ChatTemplate::from_optional(
            file.metadata("tokenizer.chat_template")
                .and_then(|v| v.as_str()),
        )?;
        let model = Llama::load(
            &config,
            &GgufWeights {
                file: &file,
                config: &config,
            },
            device,
        )?;
        Ok(ModelParts {
            model,
            config,
            tokenizer,
            template,
        })
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
            packed: Packed::from_model(&model)?,
            model,
            config,
            tokenizer,
            template,
            device,
            source: source.to_path_buf(),
            prefixes: Mutex::new(PrefixCache::new(prefix_entries()?)),
        })
    }

    /// The model the engine runs.
    pub fn model(&self) -> &Llama {
        &self.model
    }

    /// Replaces the weights; the Q8 decode copies are rebuilt from the new ones
    /// (or dropped, when the model cannot be packed), never left stale.
    pub fn set_model(&mut self, model: Llama) -> Result<()> {
        self.packed = Packed::from_model(&model)?;
        self.model = model;
        self.prefixes().clear();
        Ok(())
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
        self.packed.is_some()
    }

    /// (matrices decoded from exact Q4_1 copies, all matrices), when packed.
    pub fn packed_q4_1_count(&self) -> Option<(usize, usize)> {
        self.packed.as_ref().map(|p| p.q4_1_count())
    }

    /// Decodes with the f32 weights only (for reference comparisons).
    pub fn use_f32_decoding(&mut self) {
        self.packed = None;
        self.prefixes().clear();
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
        export_dir(
            &self.model,
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
    /// prompts and makes prefix reuse exact. A one-token block runs as a
    /// decoding step on the Q8 weights, when there are any.
    fn step(&self, ids: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
        let mut at = 0;
        while at < ids.len() {
            let end = (at + prefix::BLOCK - cache.len() % prefix::BLOCK).min(ids.len());
            let block = &ids[at..end];
            at = end;
            if let (Some(packed), [token]) = (&self.packed, block) {
                let logits = self.model.decode(&[*token], &mut [&mut *cache], packed)?;
                if at == ids.len() {
                    return logits.into_iter().next().ok_or_else(|| {
                        ModelError::Setup("a decoding step returned no logits".into())
                    });
                }
                continue;
            }
            let hidden = self.model.hidden(self.tokens(block), Some(cache))?;
            if at == ids.len() {
                let [_, seq, d] = hidden.dims();
                let last = hidden.slice([0..1, seq - 1..seq, 0..d]);
                return match &self.packed {
                    Some(p) => Ok(p.head.matvec(&f32_values(last)?)),
                    None => f32_values(self.model.logits(last)),
                };
            }
        }
        Err(ModelError::ContextOverflow {
            prompt: 0,
            context: self.config.max_position_embeddings,
        })
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
        match &self.packed {
            Some(packed) => self.model.decode(tokens, caches, packed),
            _ => tokens
                .iter()
                .zip(caches.iter_mut())
                .map(|(&token, cache)| self.step(&[token], cache))
                .collect(),
        }
    }
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
