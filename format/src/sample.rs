//! The neutral training sample that every source becomes before rendering:
//! our workflows and every imported baseline dataset alike, so that any two can
//! be formatted, trained and compared the same way.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One candidate function as a model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object (`{"type": "object", "properties", "required"}`).
    pub parameters: Value,
    /// The parent tool, server or domain (`builtin:geography`, `mcp:filesystem`,
    /// `Finance-twelve_data`); empty when the source does not say.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub family: String,
}

/// One call: a function name and its keyword arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub name: String,
    pub arguments: Map<String, Value>,
}

/// One assistant turn of a multi-turn trace: the calls made at once and, in the
/// same order, the observation each returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub calls: Vec<Call>,
    pub observations: Vec<String>,
}

/// A multi-turn trace: calls, their recorded observations, then a final answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The user request for this format: it states no value that comes from an
    /// observation.
    pub query: String,
    pub rounds: Vec<Round>,
    pub answer: String,
}

/// A training sample before rendering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unique within a dataset (`00007`, `00007-neg`, `xlam-12`).
    pub id: String,
    /// Where it came from: `toolgrad`, `xlam`, `toolace`, `glaive`, `hermes`, `toolbench`.
    pub source: String,
    /// The user request for the single-turn (flat call list) formats.
    pub query: String,
    /// The candidate functions, in the order the prompt lists them.
    pub tools: Vec<Function>,
    /// The flat target: every call in order. Empty for an irrelevance sample.
    pub calls: Vec<Call>,
    /// Lengths of the dependent chains the calls form, in order (they sum to
    /// `calls.len()`); a flat list of independent calls is all ones.
    pub chain_lengths: Vec<usize>,
    /// An irrelevance sample: no candidate serves the query.
    #[serde(default)]
    pub negative: bool,
    /// The multi-turn trace, where the source has observations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}
