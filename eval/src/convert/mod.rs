//! The official Java and JavaScript type converters.
//!
//! In the Java and JavaScript categories every argument arrives as source text;
//! the checker converts it by the documented parameter type before comparing,
//! and whatever does not convert stays a string.

pub mod java;
pub mod javascript;
