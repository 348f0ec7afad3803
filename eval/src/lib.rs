//! BFCL single-turn evaluation: decoding model results, checking them against
//! the ground truth verdict for verdict as the official `bfcl_eval` checker does,
//! aggregating scores, and running models to produce result files.
//!
//! The pipeline is [`dataset`] → [`decode`] → [`checker`] → [`score`] →
//! [`summary`]; [`runner`] queries a model and writes result files that both this
//! scorer and the official `bfcl evaluate` accept.

pub mod category;
pub mod checker;
pub mod convert;
pub mod dataset;
pub mod decode;
pub mod error;
mod eval_expr;
pub mod pyrepr;
mod pystr;
pub mod reference;
pub mod runner;
pub mod score;
pub mod summary;
pub mod value;

pub use category::Category;
pub use error::{EvalError, Result};
