//! The generate crate's error type: every variant names the file, line or
//! field it is about.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}:{line}: {message}", path.display())]
    Data {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("tool source: {0}")]
    Tools(String),
    #[error("LLM: {0}")]
    Llm(String),
    #[error(transparent)]
    Shards(#[from] toolgrad_core::shard::ShardError),
}

impl GenerateError {
    pub fn io(path: &Path, error: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.to_owned(),
            message: error.to_string(),
        }
    }

    pub fn data(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Self::Data {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }

    pub fn config(path: &Path, message: impl Into<String>) -> Self {
        Self::Config {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = GenerateError> = std::result::Result<T, E>;
