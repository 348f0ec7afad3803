//! Constrained decoding: byte-level automata that say whether a token may
//! continue the output, so structured output from the local model always parses.
//!
//! - [`json_schema`]: JSON values that conform to a (subset of) JSON Schema.
//! - [`python_calls`]: BFCL's Python call-list syntax, `[f(a=1), g(b='x')]`.
//! - [`tool_call`]: one `<tool_call>` block to one of the given tools.

pub mod json_schema;
mod machine;
pub mod python_calls;
pub mod tool_call;

/// The function object of a tool: OpenAI's `{"type": "function", "function":
/// {...}}` or a bare function object.
pub fn function_of(tool: &serde_json::Value) -> &serde_json::Value {
    tool.get("function").unwrap_or(tool)
}

/// An incremental recogniser over output bytes.
pub trait Constraint: Send {
    /// Consumes one byte; `false` when it cannot continue (the state is then
    /// unspecified: probe a clone first, as [`accepts`] does).
    fn advance(&mut self, byte: u8) -> bool;
    /// Whether the bytes so far form a complete output.
    fn is_complete(&self) -> bool;
    /// Whether the output is complete and nothing more may follow.
    fn is_closed(&self) -> bool;
    fn boxed_clone(&self) -> Box<dyn Constraint>;
}

/// Whether all of `bytes` can follow the current state (the state is not changed).
pub fn accepts(constraint: &dyn Constraint, bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let mut probe = constraint.boxed_clone();
    bytes.iter().all(|&b| probe.advance(b))
}
