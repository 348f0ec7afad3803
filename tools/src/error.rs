//! Why a tool source could not be set up: each variant names the file, server
//! or tool it is about. (A failed *call* is a [`crate::ToolError`], which
//! becomes an observation rather than stopping a run.)

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file of a catalog could not be read or parsed.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// The built-in library's embedded data is broken (a build defect).
    #[error("built-in data {file}: {message}")]
    BuiltinData { file: &'static str, message: String },
    /// An MCP server did not start, handshake or list its tools.
    #[error("MCP server `{server}`: {message}")]
    Mcp { server: String, message: String },
    #[error("tool `{tool}`: bad parameter schema: {message}")]
    Schema { tool: String, message: String },
    #[error("tool `{0}` is offered by more than one source")]
    Duplicate(String),
    /// The HTTP client for a remote source could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Cache(#[from] toolgrad_core::jsonl::JsonlError),
}

impl SourceError {
    pub(crate) fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
