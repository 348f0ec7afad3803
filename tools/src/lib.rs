//! toolgrad's tool layer, shared by the answer-first loop, the DFS baseline
//! and `toolgrad tools`: the [`ToolSource`] trait (list tools, call one with JSON
//! arguments), the sources that implement it ([`builtin`], [`mcp`],
//! [`toolbench`]), and [`ToolBox`], which routes calls by name and applies
//! argument validation, a timeout and an output cap to every source alike.

pub mod builtin;
mod error;
pub mod mcp;
pub mod toolbench;

pub use error::SourceError;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use toolgrad_core::text::truncate_chars;

/// What the rule-based role policy knows about a tool beyond its schema:
/// semantic kinds of parameters and outputs (for typed data flow) and phrase
/// templates (for writing the query and response).
#[derive(Debug, Clone, Serialize)]
pub struct ToolHints {
    pub domain: &'static str,
    /// Parameter name → semantic kind (`city`, `date`, `distance_km`, ...).
    pub param_kinds: Vec<(&'static str, &'static str)>,
    /// Output path (`field`, `list[].field`) → semantic kind.
    pub outputs: Vec<(&'static str, &'static str)>,
    /// Request fragments with `{placeholders}`, e.g. "how far {city_a} is from {city_b}".
    pub asks: &'static [&'static str],
    /// Answer sentences with `{placeholders}` over arguments and outputs.
    pub tells: &'static [&'static str],
}

/// One tool as an LLM sees it, plus where it runs.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
    /// The source's name (`builtin`, `mcp:<name>`, `toolbench`).
    pub source: String,
    /// The parent tool family: the built-in domain (`builtin:geography`), the
    /// MCP server (`mcp:<name>`) or the ToolBench tool (`<Category>-<tool>`).
    /// Irrelevance negatives exclude a used tool's whole family.
    pub family: String,
    /// The same arguments always give the same observation.
    pub deterministic: bool,
    #[serde(skip)]
    pub hints: Option<Arc<ToolHints>>,
}

impl ToolSpec {
    /// The OpenAI `tools` entry, under `name` (which may be an alias).
    pub fn openai_tool(&self, name: &str) -> serde_json::Value {
        serde_json::json!({
            "type": "function",
            "function": {
                "name": name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
    }

    pub fn required_params(&self) -> Vec<String> {
        self.parameters["required"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Why a tool call produced no observation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    #[error("invalid arguments for `{tool}`: {message}")]
    InvalidArguments { tool: String, message: String },
    #[error("`{tool}` timed out after {seconds:.1} s")]
    Timeout { tool: String, seconds: f64 },
    #[error("`{tool}` failed: {message}")]
    Failed { tool: String, message: String },
    #[error("tool source `{source_name}` is unavailable: {message}")]
    Unavailable {
        source_name: String,
        message: String,
    },
}

/// A set of tools that can be listed and called.
pub trait ToolSource: Send + Sync {
    fn name(&self) -> &str;
    fn tools(&self) -> &[ToolSpec];
    /// Runs `tool`; the observation is text (usually JSON).
    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<String, ToolError>>;
}

/// Limits applied to every call.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    pub timeout: Duration,
    /// Observations longer than this many characters are cut, with a marker.
    pub max_output_chars: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_output_chars: 4096,
        }
    }
}

/// All sources of a run, routed by tool name.
pub struct ToolBox {
    sources: Vec<Arc<dyn ToolSource>>,
    /// Tool name → (source index, spec, compiled argument validator).
    index: HashMap<String, (usize, ToolSpec, Arc<jsonschema::Validator>)>,
    order: Vec<String>,
    limits: CallLimits,
}

impl ToolBox {
    /// Fails when two sources offer the same tool name or a schema does not compile.
    pub fn new(sources: Vec<Arc<dyn ToolSource>>, limits: CallLimits) -> Result<Self, SourceError> {
        let mut index = HashMap::new();
        let mut order = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            for spec in source.tools() {
                let validator = jsonschema::validator_for(&spec.parameters).map_err(|e| {
                    SourceError::Schema {
                        tool: spec.name.clone(),
                        message: e.to_string(),
                    }
                })?;
                if index
                    .insert(spec.name.clone(), (i, spec.clone(), Arc::new(validator)))
                    .is_some()
                {
                    return Err(SourceError::Duplicate(spec.name.clone()));
                }
                order.push(spec.name.clone());
            }
        }
        Ok(Self {
            sources,
            index,
            order,
            limits,
        })
    }

    /// Tool names in source order, then listing order (the sampling population).
    pub fn names(&self) -> &[String] {
        &self.order
    }

    /// Every tool's spec, in [`ToolBox::names`] order.
    pub fn specs(&self) -> impl Iterator<Item = &ToolSpec> {
        self.order.iter().filter_map(|name| self.spec(name))
    }

    pub fn spec(&self, name: &str) -> Option<&ToolSpec> {
        self.index.get(name).map(|(_, spec, _)| spec)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Validates the arguments, then runs the tool under the timeout and output cap.
    pub async fn call(&self, tool: &str, args: &serde_json::Value) -> Result<String, ToolError> {
        let (source, _, validator) = self
            .index
            .get(tool)
            .ok_or_else(|| ToolError::UnknownTool(tool.to_owned()))?;
        if let Err(error) = validator.validate(args) {
            return Err(ToolError::InvalidArguments {
                tool: tool.to_owned(),
                message: error.to_string(),
            });
        }
        let source = &self.sources[*source];
        let output = tokio::time::timeout(self.limits.timeout, source.call(tool, args))
            .await
            .map_err(|_| ToolError::Timeout {
                tool: tool.to_owned(),
                seconds: self.limits.timeout.as_secs_f64(),
            })??;
        Ok(cap(output, self.limits.max_output_chars))
    }
}

fn cap(mut text: String, limit: usize) -> String {
    if truncate_chars(&mut text, limit) {
        text.push_str("…[truncated]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A source whose one tool never answers.
    struct Hanging(Vec<ToolSpec>);

    impl ToolSource for Hanging {
        fn name(&self) -> &str {
            "hanging"
        }
        fn tools(&self) -> &[ToolSpec] {
            &self.0
        }
        fn call<'a>(
            &'a self,
            _tool: &'a str,
            _args: &'a serde_json::Value,
        ) -> BoxFuture<'a, Result<String, ToolError>> {
            Box::pin(std::future::pending())
        }
    }

    fn hanging() -> Arc<dyn ToolSource> {
        Arc::new(Hanging(vec![ToolSpec {
            name: "wait".into(),
            description: "never returns".into(),
            parameters: json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
            source: "hanging".into(),
            family: "hanging".into(),
            deterministic: true,
            hints: None,
        }]))
    }

    #[tokio::test]
    async fn a_hanging_tool_times_out() {
        let limits = CallLimits {
            timeout: Duration::from_millis(50),
            ..CallLimits::default()
        };
        let toolbox = ToolBox::new(vec![hanging()], limits).unwrap();
        let error = toolbox.call("wait", &json!({"n": 1})).await.unwrap_err();
        assert!(matches!(error, ToolError::Timeout { .. }), "{error}");
    }

    #[tokio::test]
    async fn arguments_are_checked_against_the_schema() {
        let toolbox = ToolBox::new(vec![hanging()], CallLimits::default()).unwrap();
        let error = toolbox.call("wait", &json!({"n": "x"})).await.unwrap_err();
        assert!(
            matches!(error, ToolError::InvalidArguments { .. }),
            "{error}"
        );
        let error = toolbox.call("nope", &json!({})).await.unwrap_err();
        assert_eq!(error, ToolError::UnknownTool("nope".into()));
    }

    #[test]
    fn duplicate_names_are_refused_and_long_output_is_cut() {
        assert!(ToolBox::new(vec![hanging(), hanging()], CallLimits::default()).is_err());
        assert_eq!(cap("abcdef".into(), 3), "abc…[truncated]");
        assert_eq!(cap("abc".into(), 3), "abc");
    }
}
