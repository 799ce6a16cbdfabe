//! The OpenAI-compatible API, as one test crate: the protocol against a scripted engine behind
//! the engine's face (`scripted`, `limits`, `browser`, `request_log`: exact, fast, any failure on
//! demand), `llamadeck serve` as a process (`serve_binary`), and what only a real model shows
//! against the in-process engine and real clients (`real_model`); an exported conversation replayed
//! (`replay`).
#[path = "../doubles/mod.rs"]
#[allow(dead_code, unused_imports)]
mod doubles;
mod browser;
mod http;
mod limits;
mod real_model;
mod replay;
mod request_log;
mod scripted;
mod serve_binary;
mod served;
#[path = "../support/mod.rs"]
mod support;
