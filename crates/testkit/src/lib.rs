//! Test doubles for the tests and benches of every llamadeck crate, and nothing else: only
//! `[dev-dependencies]` name this crate, so the binary can never reach a scripted engine.
//! `doubles`: a scripted engine behind the engine's face, hand-made GPU snapshots, a terminal
//! backend that records bytes; `shared_screen`: a TestBackend the test reads while the loop
//! draws; `http`: a small HTTP/1.0 client for the API tests.
pub mod doubles;
pub mod http;
pub mod shared_screen;
