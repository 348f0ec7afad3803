//! The trained model on disk: the merged model as an HF directory
//! (`model/`: safetensors, `config.json`, tokenizer and a chat template that
//! renders tools as the engine does) and, for LoRA, a PEFT adapter
//! (`adapter/`: `adapter_model.safetensors` under PEFT's key names and
//! `adapter_config.json`), loadable with `PeftModel.from_pretrained`.

use std::path::Path;

use toolgrad_core::fsutil::write_atomic;
use toolgrad_model::chat::ChatTemplate;
use toolgrad_model::config::LlamaConfig;
use toolgrad_model::engine::export_dir;
use toolgrad_model::llama::Llama;
use toolgrad_model::lora::LoraSpec;
use toolgrad_model::tokenizer::TextTokenizer;
use toolgrad_model::weights::{save_safetensors, ExportDtype, NamedTensor};

use crate::error::{Result, TrainError};

/// What export needs besides the weights.
pub struct ExportSpec<'a> {
    pub config: &'a LlamaConfig,
    pub tokenizer: &'a TextTokenizer,
    pub template: &'a ChatTemplate,
    pub dtype: ExportDtype,
    /// The base model, named in the adapter's config.
    pub base: &'a Path,
    pub lora: Option<&'a LoraSpec>,
}

/// Writes `run/adapter/` (LoRA only) and `run/model/` (merged).
pub fn export(model: Llama, run: &Path, spec: &ExportSpec<'_>) -> Result<()> {
    if let Some(lora) = spec.lora {
        write_adapter(&model, &run.join("adapter"), lora, spec)?;
    }
    let merged = model.merge_lora()?;
    export_dir(
        &merged,
        spec.config,
        spec.tokenizer,
        spec.template,
        &run.join("model"),
        spec.dtype,
    )?;
    Ok(())
}

fn write_adapter(model: &Llama, dir: &Path, lora: &LoraSpec, spec: &ExportSpec<'_>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let tensors = model
        .lora_tensors()
        .into_iter()
        .map(|(name, t)| NamedTensor::read(name, t))
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = Some([("format".to_string(), "pt".to_string())].into());
    save_safetensors(
        &dir.join("adapter_model.safetensors"),
        &tensors,
        spec.dtype,
        metadata,
    )?;
    let config = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": spec.base.display().to_string(),
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "target_modules": lora.targets,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "use_rslora": false,
        "use_dora": false,
        "modules_to_save": null,
        "layers_to_transform": null,
        "layers_pattern": null,
        "rank_pattern": {},
        "alpha_pattern": {},
        "revision": null,
    });
    let path = dir.join("adapter_config.json");
    let text = serde_json::to_vec_pretty(&config).map_err(|e| TrainError::Checkpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write_atomic(&path, &text).map_err(|e| TrainError::io(&path, e))
}
