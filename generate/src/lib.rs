//! ToolGrad's answer-first generation: tool chains grown by really executing
//! tools, with the user query written afterwards.
//!
//! Data flows [`tools`] → [`engine`] (one seed: sample APIs → propose →
//! execute → select, the textual gradient → update → inverse-predict) →
//! [`run`] (many seeds, resumable output) → [`verify`] (re-execution).

pub mod tools;
pub mod workflow;
