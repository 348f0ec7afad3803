//! toolgrad's local model engine on burn: a Llama-family decoder that trains and
//! generates with the same module, weights from GGUF or HF safetensors, the
//! tokenizer and chat template, and KV-cache generation with constrained decoding.

pub mod batch;
mod block_attention;
pub mod cache;
pub mod chat;
pub mod chat_engine;
pub mod config;
pub mod constrain;
mod decode;
pub mod decoding;
pub mod device;
pub mod engine;
pub mod error;
pub mod gguf;
mod gguf_scan;
pub mod host;
pub mod llama;
pub mod lora;
pub mod packed;
mod prefill;
pub mod prefix;
pub mod qmatvec;
pub mod quant;
pub mod sampling;
pub mod synthetic;
pub mod tokenizer;
pub mod weights;

pub use error::{ModelError, Result};
