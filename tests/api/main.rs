//! The OpenAI-compatible API with a real model: `llamadeck serve` as a process
//! (`serve_binary`), and what only a real model shows against the in-process engine and real
//! clients (`real_model`). The protocol itself is tested against a scripted engine in
//! `crates/server/tests/`.
mod real_model;
mod serve_binary;
#[path = "../support/mod.rs"]
mod support;

use llamadeck_testkit::http;
