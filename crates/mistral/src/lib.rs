//! The in-process backend: mistral.rs 0.8.1 on its own thread. Everything that names a
//! mistral.rs or candle type lives in this crate.
//!
//! `source` decides what a model string names (never a silent download), `estimate` sizes it
//! before loading, `reencode` prepares GGUF weights candle computes slowly on CPU, `load` builds
//! the pipeline (device, dtype, ISQ, template), `template` (Llama-2's own encoding) and `render`
//! (a model's Jinja template) turn a conversation into token ids, `sampler` draws tokens with a
//! seed of the answer's own, `replay` draws a repeated prompt's first tokens from the answer it
//! repeats, `generate` streams one answer (held to a JSON Schema when asked, with `logprobs`
//! when asked, as tool calls when `tools` says so), `worker` owns the thread and is the
//! [`Backend`], admitting answers in `admission`'s order.
mod admission;
pub mod estimate;
pub mod generate;
mod gguf_meta;
mod leading_space;
pub mod load;
mod logprobs;
mod overlay;
mod params;
pub mod prefix;
pub mod reencode;
pub mod render;
mod replay;
pub mod sampler;
pub mod source;
mod stage_words;
pub mod stages;
pub mod template;
mod tools;
mod worker;

pub use stages::{QuietLayer, StageLayer, quiet_layer, stage_layer};
pub use worker::MistralBackend;

use llamadeck_engine::face::Engine;

/// Starts the engine thread; nothing is loaded until `Engine::load`.
pub fn spawn() -> Engine {
    Engine::new(worker::spawn())
}
