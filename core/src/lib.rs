//! Shared pieces of toolgrad: crash-safe file writing, asset locations, a
//! chart font, text truncation, durations in seconds, credential redaction, and the LLM client layer (chat messages, tool calls, and an
//! OpenAI-compatible HTTP client with retries).

pub mod fonts;
pub mod fsutil;
pub mod llm;
pub mod paths;
pub mod redact;
pub mod seconds;
pub mod text;
