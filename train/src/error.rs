//! The trainer's error type: every failure names the file, line or field at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {field}: {message}")]
    Config {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    Data {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Dataset { path: PathBuf, message: String },
    #[error(transparent)]
    Model(#[from] toolgrad_model::ModelError),
    #[error(
        "step {step}: the loss is {loss}; training stopped (the last checkpoint is untouched)"
    )]
    NonFinite { step: usize, loss: f32 },
    #[error("{path}: checkpoint: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{path}: plot: {message}")]
    Plot { path: PathBuf, message: String },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
