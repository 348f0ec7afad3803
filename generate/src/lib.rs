//! ToolGrad's answer-first generation: tool chains grown by really executing
//! tools, with the user query written afterwards.
//!
//! Data flows [`tools`] → [`engine`] (one seed: sample APIs → propose →
//! execute → select, the textual gradient → update → inverse-predict) →
//! [`run`] (many seeds, resumable output) → [`verify`] (re-execution).
//! [`policy`] holds the roles, rule-based and LLM-backed. [`dfs`] is the
//! query-first baseline (ToolBench's DFSDT) over the same tools, driven by the
//! same [`run`]; [`report`] compares runs of both.

pub mod catalog;
pub mod config;
pub mod derived;
pub mod dfs;
pub mod engine;
pub mod error;
pub mod llm;
#[cfg(feature = "test-support")]
pub mod mock_llm;
pub mod policy;
pub mod provenance;
pub mod report;
pub mod run;
pub mod setup;
pub mod store;
pub mod tools;
pub mod validate;
pub mod verify;
pub mod workflow;

pub use error::{GenerateError, Result};
