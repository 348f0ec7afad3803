//! `metrics.jsonl`: one record per optimiser step and one per eval, appended
//! as training goes. A resumed run first drops records past its checkpoint,
//! so the file reads as one uninterrupted run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::{append_line, write_atomic};
use toolgrad_core::jsonl::complete_lines;

use crate::error::{Result, TrainError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Train,
    Eval,
}

/// One line of `metrics.jsonl` (a flat object, so any JSON reader takes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub kind: Kind,
    /// Optimiser steps done.
    pub step: usize,
    /// Mean loss per learned token (nats).
    pub loss: f64,
    /// Learned tokens the loss is over.
    pub loss_tokens: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Tokens the model read in the step (padding excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
}

impl Record {
    /// An eval record.
    pub fn eval(step: usize, loss: f64, loss_tokens: usize) -> Self {
        Self {
            kind: Kind::Eval,
            step,
            loss,
            loss_tokens,
            epoch: None,
            lr: None,
            grad_norm: None,
            tokens: None,
            tokens_per_s: None,
        }
    }

    pub fn step(&self) -> usize {
        self.step
    }
}

pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// Opens `run/metrics.jsonl`, keeping only records up to the checkpoint
    /// the run resumes from (none for a fresh start).
    pub fn open(run: &Path, resume_step: Option<usize>) -> Result<Self> {
        let path = run.join("metrics.jsonl");
        let kept: Vec<Record> = match resume_step {
            None => Vec::new(),
            Some(step) => read(&path)?
                .into_iter()
                .filter(|r| r.step() <= step)
                .collect(),
        };
        let mut text = String::new();
        for record in &kept {
            text.push_str(&serde_json::to_string(record).unwrap_or_default());
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes()).map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path })
    }

    pub fn append(&self, record: &Record) -> Result<()> {
        let line = serde_json::to_string(record).unwrap_or_default();
        append_line(&self.path, &line).map_err(|e| TrainError::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Every record of a metrics file (none when it does not exist); a torn last
/// line, left by a kill mid-write, is ignored.
pub fn read(path: &Path) -> Result<Vec<Record>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let mut out = Vec::new();
    for (i, line) in complete_lines(&text).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|e| TrainError::Data {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(record);
    }
    Ok(out)
}
