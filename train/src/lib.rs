//! toolgrad's trainer: SFT JSONL conversations are rendered with the model's
//! own chat template, packed into rows with an assistant-only loss, and
//! trained (full or LoRA) with AdamW on the same burn module that generates.
//! Checkpoints resume exactly; the result exports as an HF model and, for
//! LoRA, a PEFT adapter.

pub mod alloc;
pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod encode;
pub mod error;
pub mod export;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod params;
pub mod plot;
pub mod step;
pub mod trainer;

pub use error::{Result, TrainError};
