//! `tools.json`: the full spec of every tool a run could sample, written beside
//! `dataset.jsonl` so that a dataset can be formatted later without the tool
//! sources (MCP servers, a ToolBench catalog) that produced it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::write_atomic;

use crate::error::{GenerateError, Result};
use toolgrad_tools::ToolBox;

/// The catalog's file name inside a run directory.
pub const FILE: &str = "tools.json";

/// One tool of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogTool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
    /// The tool source (`builtin`, `mcp:<name>`, `toolbench`).
    pub source: String,
    /// The parent tool family (see [`toolgrad_tools::ToolSpec::family`]).
    pub family: String,
}

/// Every tool of `toolbox`, in sampling order.
pub fn of(toolbox: &ToolBox) -> Vec<CatalogTool> {
    toolbox
        .specs()
        .map(|spec| CatalogTool {
            name: spec.name.clone(),
            description: spec.description.clone(),
            parameters: spec.parameters.clone(),
            source: spec.source.clone(),
            family: spec.family.clone(),
        })
        .collect()
}

/// Writes `<out>/tools.json` (temporary file, then rename).
pub fn write(out: &Path, toolbox: &ToolBox) -> Result<()> {
    let path = out.join(FILE);
    let mut text =
        serde_json::to_string_pretty(&of(toolbox)).map_err(|e| GenerateError::io(&path, e))?;
    text.push('\n');
    write_atomic(&path, text.as_bytes()).map_err(|e| GenerateError::io(&path, e))
}

/// Reads a `tools.json`; a malformed file is an error naming it and the position.
pub fn read(path: &Path) -> Result<Vec<CatalogTool>> {
    let text = std::fs::read_to_string(path).map_err(|e| GenerateError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| GenerateError::data(path, e.line(), e.to_string()))
}
