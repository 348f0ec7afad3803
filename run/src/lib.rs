//! `toolgrad run`: one config runs generate → verify → format → train → eval
//! → report under `runs/<name>/`, skipping every stage whose inputs and
//! settings are unchanged (content keys), resuming an interrupted one, and
//! recording provenance in each stage folder.

pub mod config;
pub mod error;
pub mod execute;
pub mod plan;
pub mod report;
pub mod stats;

pub use config::RunConfig;
pub use error::{Result, RunError};
pub use execute::{execute, Exec, Options, Outcome};
pub use plan::{Kind, Plan, Stage};
