//! The error type of the eval crate: every variant names the file, line or
//! endpoint it is about.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}:{line}: {message}")]
    Data {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error("{0}")]
    Mismatch(String),

    #[error("BFCL data not found at {path} (expected BFCL_v4_*.json and possible_answer/): run scripts/setup.sh, pass --data or set TOOLGRAD_BFCL_DATA")]
    MissingData { path: PathBuf },

    #[error("{path}: {message}")]
    Results { path: PathBuf, message: String },

    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error(transparent)]
    Shards(#[from] toolgrad_core::shard::ShardError),
}

impl EvalError {
    pub fn data(path: &Path, line: usize, message: impl Into<String>) -> Self {
        EvalError::Data {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        EvalError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
