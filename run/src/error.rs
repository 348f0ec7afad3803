//! The run crate's error: which file, field or stage went wrong.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stage {stage}: {message}")]
    Stage { stage: String, message: String },
}

impl RunError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub fn config(path: &Path, message: impl Into<String>) -> Self {
        Self::Config {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, RunError>;
