//! Test doubles only, never used by the product: the [`scripted`] LLM, which
//! answers every role of generation deterministically, in-process
//! ([`scripted::ScriptedLlm`]) or over HTTP, and the mock OpenAI-compatible
//! endpoint of [`server`], with injectable faults, that every crate's tests
//! and the benchmarks share.

pub mod scripted;
pub mod server;

pub use server::{
    serve, serve_in_thread, Fault, HostileReply, MockOptions, MockServer, Reply, Responder,
    HOSTILE_REPLIES,
};
