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
    Tools(#[from] toolgrad_tools::SourceError),
    #[error("LLM: the API key variable `{0}` is not set")]
    MissingKey(String),
    #[error("LLM: {0}")]
    Llm(#[from] toolgrad_core::llm::LlmError),
    /// The local model could not be loaded, or this build has no local backend.
    #[error("local model {}: {message}", path.display())]
    LocalModel { path: PathBuf, message: String },
    #[error(transparent)]
    Shards(#[from] toolgrad_core::shard::ShardError),
}

impl From<toolgrad_core::jsonl::JsonlError> for GenerateError {
    fn from(error: toolgrad_core::jsonl::JsonlError) -> Self {
        use toolgrad_core::jsonl::JsonlError;
        match error {
            JsonlError::Io { path, source } => Self::io(&path, source),
            JsonlError::Line {
                path,
                line,
                message,
            } => Self::data(&path, line, message),
        }
    }
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
