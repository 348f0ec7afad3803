//! The format crate's error type: every variant names the file, line or field.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
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
    #[error("{0}")]
    Invalid(String),
}

impl FormatError {
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
}

pub type Result<T, E = FormatError> = std::result::Result<T, E>;
