//! llamadeck: a terminal console for running Llama-2 with mistral.rs on your own GPU servers.
//!
//! Floors, from the ground up (ARCHITECTURE.md has the picture; a floor never uses one above):
//! 1. shared words: `text`, `files`, `sink`, `sampling`, `keys`, `chat`, `theme`, `layout`,
//!    `prom` (the Prometheus text format);
//! 2. producers, each behind one face: `signals`, `gpu`, `engine`, `fleet` (other servers'
//!    health and metrics), `store`, `config`;
//! 3. `app`: the state and the pure reducer;
//! 4. `ui` draws the state, `server` serves the engine over HTTP;
//! 5. `tui`: the terminal and the loop over the one inbox;
//! 6. `cli` and `startup`: the command line and the composition root.
pub mod chat;
pub mod files;
pub mod keys;
pub mod layout;
pub mod prom;
pub mod sampling;
pub mod sink;
pub mod text;
pub mod theme;

pub mod config;
pub mod engine;
pub mod fleet;
pub mod gpu;
pub mod signals;
pub mod store;

pub mod app;

pub mod server;
pub mod ui;

pub mod tui;

pub mod cli;
pub mod startup;
