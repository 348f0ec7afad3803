//! The model crate's error type: every failure names the file, tensor or field at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a usable GGUF file: {message}")]
    Gguf { path: PathBuf, message: String },
    #[error("{path}: tensor `{tensor}`: {message}")]
    Tensor {
        path: PathBuf,
        tensor: String,
        message: String,
    },
    #[error("{path}: {field}: {message}")]
    Config {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("unsupported architecture `{0}` (supported: llama)")]
    Architecture(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("prompt has {prompt} tokens but the context holds {context}")]
    ContextOverflow { prompt: usize, context: usize },
    #[error("constraint: {0}")]
    Constraint(String),
    #[error("the generation was cancelled")]
    Cancelled,
    /// An engine setting from the environment is unusable.
    #[error("{0}")]
    Setup(String),
    #[error("LoRA: {0}")]
    Lora(String),
    /// A batched request failed in the batcher, not in its own decoding.
    #[error("batched decoding: {0}")]
    Batch(String),
    #[error("reading a tensor back: {0}")]
    TensorRead(String),
    #[error("{path}: {message}")]
    Safetensors { path: PathBuf, message: String },
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
