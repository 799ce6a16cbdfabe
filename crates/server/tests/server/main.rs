//! The OpenAI-compatible API against a scripted engine behind the engine's face, as one test
//! crate (no model, no mistral.rs): the protocol (`scripted`), connection limits (`limits`),
//! browser guards (`browser`), what one client may ask (`queue`), the request log
//! (`request_log`) and an exported conversation replayed (`replay`). What only a real model or
//! the real binary shows is in the top-level package's `tests/api/`.
mod bench_node;
mod browser;
mod limits;
mod queue;
mod replay;
mod request_log;
mod scripted;
mod served;

use llamadeck_testkit::doubles;
use llamadeck_testkit::http;
