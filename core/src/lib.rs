//! Shared pieces of toolgrad: crash-safe file writing, kill-safe JSONL files, asset locations, PNG
//! charts (feature `chart`), text truncation, durations in seconds,
//! credential redaction, `--shard K/N` slices and their merge checks, and the
//! LLM client layer (chat messages, tool calls, and an OpenAI-compatible HTTP
//! client with retries).

#[cfg(feature = "chart")]
pub mod chart;
pub mod fsutil;
pub mod jsonl;
pub mod llm;
pub mod paths;
pub mod redact;
pub mod seconds;
pub mod shard;
pub mod text;
