//! Shared pieces of toolgrad: crash-safe file writing, asset locations, text
//! truncation, durations in seconds, credential redaction, and the LLM client layer (chat messages, tool calls, and an
//! OpenAI-compatible HTTP client with retries).

pub mod fsutil;
pub mod llm;
pub mod paths;
pub mod redact;
pub mod seconds;
pub mod text;
