//! Checkpoints that resume exactly and are never torn: trainable weights,
//! AdamW moments and the step counter are written into a temporary folder,
//! renamed into place, and only then named in `checkpoints/latest`. The data
//! order and dropout masks are functions of (seed, step), so the step is the
//! whole data position and RNG state.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::write_atomic;
use toolgrad_model::weights::{load_safetensors, save_safetensors, ExportDtype, NamedTensor};

use crate::error::{Result, TrainError};
use crate::optim::{AdamW, Moments};

/// What a checkpoint records besides tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Optimiser steps completed.
    pub step: usize,
    pub total_steps: usize,
    /// `TrainConfig::fingerprint` of the run.
    pub config: String,
    /// SHA-256 of the training (and eval) data.
    pub data: String,
    /// The base model file.
    pub model: PathBuf,
}

/// A checkpoint read back.
pub struct Loaded {
    pub state: State,
    pub weights: HashMap<String, Tensor<1>>,
    pub optimizer: AdamW,
}

fn bad(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn flat(t: &NamedTensor, device: &Device) -> Tensor<1> {
    let n = t.values.len();
    Tensor::from_data(TensorData::new(t.values.clone(), [n]), device)
}

fn named(name: String, t: Tensor<1>) -> Result<NamedTensor> {
    Ok(NamedTensor::read(name, t)?)
}

/// Writes step `state.step` under `run/checkpoints/`, then points `latest` at
/// it and removes all but the two newest.
pub fn save(
    run: &Path,
    state: &State,
    weights: Vec<(String, Tensor<1>)>,
    optimizer: &AdamW,
) -> Result<PathBuf> {
    let root = run.join("checkpoints");
    let name = format!("step-{:06}", state.step);
    let partial = root.join(format!(".partial-{name}"));
    let done = root.join(&name);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| TrainError::io(&partial, e))?;
    }
    std::fs::create_dir_all(&partial).map_err(|e| TrainError::io(&partial, e))?;
    let weights = weights
        .into_iter()
        .map(|(n, t)| named(n, t))
        .collect::<Result<Vec<_>>>()?;
    save_safetensors(
        &partial.join("trainable.safetensors"),
        &weights,
        ExportDtype::F32,
        None,
    )?;
    let mut moments = Vec::new();
    let mut names: Vec<&String> = optimizer.moments.keys().collect();
    names.sort();
    for name in names {
        let m = &optimizer.moments[name];
        moments.push(named(format!("{name}.exp_avg"), m.exp_avg.clone())?);
        moments.push(named(format!("{name}.exp_avg_sq"), m.exp_avg_sq.clone())?);
    }
    let metadata = [("steps".to_string(), optimizer.steps.to_string())].into();
    save_safetensors(
        &partial.join("optimizer.safetensors"),
        &moments,
        ExportDtype::F32,
        Some(metadata),
    )?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| bad(&partial, e.to_string()))?;
    let state_path = partial.join("state.json");
    write_atomic(&state_path, &json).map_err(|e| TrainError::io(&state_path, e))?;
    if done.exists() {
        std::fs::remove_dir_all(&done).map_err(|e| TrainError::io(&done, e))?;
    }
    std::fs::rename(&partial, &done).map_err(|e| TrainError::io(&done, e))?;
    let latest = root.join("latest");
    write_atomic(&latest, name.as_bytes()).map_err(|e| TrainError::io(&latest, e))?;
    prune(&root, 2)?;
    Ok(done)
}

/// Keeps the `keep` newest `step-*` folders.
fn prune(root: &Path, keep: usize) -> Result<()> {
    let mut steps: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| TrainError::io(root, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step-"))
        })
        .collect();
    steps.sort();
    let excess = steps.len().saturating_sub(keep);
    for old in &steps[..excess] {
        std::fs::remove_dir_all(old).map_err(|e| TrainError::io(old, e))?;
    }
    Ok(())
}

/// The checkpoint `latest` names, if the run has one.
pub fn load_latest(run: &Path, device: &Device) -> Result<Option<Loaded>> {
    let root = run.join("checkpoints");
    let latest = root.join("latest");
    let name = match std::fs::read_to_string(&latest) {
        Ok(name) => name.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TrainError::io(&latest, e)),
    };
    if !name.starts_with("step-") || name.contains(['/', '\\']) {
        return Err(bad(&latest, format!("names `{name}`, not a step folder")));
    }
    let dir = root.join(&name);
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
    let state: State = serde_json::from_str(&text).map_err(|e| bad(&state_path, e.to_string()))?;
    let weights = load_safetensors(&dir.join("trainable.safetensors"))?
        .iter()
        .map(|t| (t.name.clone(), flat(t, device)))
        .collect();
    let optimizer_path = dir.join("optimizer.safetensors");
    let mut exp_avg = HashMap::new();
    let mut exp_avg_sq = HashMap::new();
    for t in load_safetensors(&optimizer_path)? {
        if let Some(name) = t.name.strip_suffix(".exp_avg_sq") {
            exp_avg_sq.insert(name.to_owned(), flat(&t, device));
        } else if let Some(name) = t.name.strip_suffix(".exp_avg") {
            exp_avg.insert(name.to_owned(), flat(&t, device));
        } else {
            return Err(bad(
                &optimizer_path,
                format!("unexpected tensor `{}`", t.name),
            ));
        }
    }
    let mut moments = HashMap::new();
    for (name, m) in exp_avg {
        let v = exp_avg_sq
            .remove(&name)
            .ok_or_else(|| bad(&optimizer_path, format!("`{name}` has no exp_avg_sq")))?;
        moments.insert(
            name,
            Moments {
                exp_avg: m,
                exp_avg_sq: v,
            },
        );
    }
    Ok(Some(Loaded {
        optimizer: AdamW {
            steps: state.step,
            moments,
        },
        state,
        weights,
    }))
}
