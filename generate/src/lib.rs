//! ToolGrad's answer-first generation: tool chains grown by really executing
//! tools, with the user query written afterwards.
//!
//! Data flows tools (the `toolgrad-tools` crate) → [`engine`] (one seed: sample APIs → propose →
//! execute → select, the textual gradient → update → inverse-predict) →
//! [`run`] (many seeds, resumable output) → [`verify`] (re-execution and
//! the [`grounding`] checks).
//! [`policy`] holds the roles, rule-based and LLM-backed. [`dfs`] is the
//! query-first baseline (ToolBench's DFSDT) over the same tools, driven by the
//! same [`run`]; [`report`] compares runs of both. [`shard`] splits a run's
//! seeds over machines and [`merge`] joins the shard folders again.

pub mod catalog;
pub mod config;
pub mod derived;
pub mod dfs;
pub mod engine;
pub mod error;
pub mod grounding;
pub mod llm;
pub mod merge;
pub mod policy;
pub mod provenance;
pub mod report;
pub mod run;
pub mod setup;
pub mod shard;
pub mod validate;
pub mod verify;
pub mod workflow;

pub use error::{GenerateError, Result};
