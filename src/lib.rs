//! llamadeck: a terminal console for running Llama-2 with mistral.rs on your own GPU servers.
//!
//! `app` holds the state and the pure `update`; `ui` draws it, one file a pane; the three
//! producers are `engine` (the model), `gpu` (NVML sampler) and `tui` (terminal events).
pub mod app;
pub mod atomic_file;
pub mod config;
pub mod engine;
pub mod gpu;
pub mod text;
pub mod server;
pub mod startup;
pub mod store;
pub mod tui;
pub mod ui;
