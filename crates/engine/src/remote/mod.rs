//! A remote engine: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, mistral.rs, another
//! `llamadeck serve`) behind the engine's face, over HTTP.
//!
//! `node` says where it is (and holds its key, never shown), `probe` asks what it serves,
//! `dialect` sends each server the sampling fields it reads, `stream` turns one answer's
//! server-sent events (`sse`, `chunk`) into the face's events, `errors` puts failures in words,
//! `http` holds the client settings every request to a node shares (redirects are not followed),
//! and `backend` is the [`Backend`](crate::Backend).
mod backend;
mod chunk;
pub mod dialect;
pub mod errors;
pub mod http;
pub mod node;
pub mod probe;
mod sse;
pub mod stream;

pub use backend::RemoteBackend;
pub use dialect::Dialect;
pub use node::{ApiKey, DEFAULT_TIMEOUT, NodeSpec, api_base, looks_like_url, with_scheme};

use crate::face::Engine;

/// An engine on `node`; nothing is asked until `Engine::refresh`.
pub fn connect(node: NodeSpec) -> Result<Engine, String> {
    Ok(Engine::new(RemoteBackend::new(node)?))
}
