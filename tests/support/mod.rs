//! Helpers for tests/engine.rs and tests/api.
pub mod hostile_gguf;
pub mod tiny_llama;
