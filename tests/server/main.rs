//! The OpenAI-compatible API, as one test crate: the protocol against a scripted engine behind
//! the engine's face (`scripted`: exact, fast, any failure on demand), and what only a real model
//! shows against the in-process engine and real clients (`real_model`).
#[path = "../doubles/mod.rs"]
#[allow(dead_code, unused_imports)]
mod doubles;
mod http;
mod real_model;
mod scripted;
#[path = "../support/mod.rs"]
mod support;
