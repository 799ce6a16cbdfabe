//! Helpers for tests/engine.rs.
pub mod tiny_llama;
