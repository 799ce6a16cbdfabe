//! What can happen (Action) and what the loop must do about it (Effect).
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::app::command::Command;
use crate::app::sampling::Sampling;
use crate::engine::protocol::{EngineCommand, EngineEvent};
use crate::gpu::snapshot::GpuSnapshot;

#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Paste(String),
    Resize(u16, u16),
    /// A bound command, as a key would trigger it (also what tests use).
    Command(Command),
    Engine(EngineEvent),
    /// What the API server reports (address, requests).
    Server(crate::server::ServerEvent),
    Gpu(Arc<GpuSnapshot>),
    /// The clock moved on (drives the loading timer).
    Tick(Instant),
    /// The result of an `Effect::SaveSettings`.
    Saved(Result<PathBuf, String>),
    /// The result of re-reading the config for a reload: the spec to load, or why not.
    ModelChosen(Result<crate::engine::protocol::ModelSpec, String>),
    /// The conversation store's answer to an `Effect::Store`.
    Store(crate::store::Reply),
    /// The result of an `Effect::Clipboard`: characters copied, or why not.
    Copied(Result<usize, String>),
    /// The loop is ending (quit, signal, lost terminal): stop and save what there is.
    Shutdown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Engine(EngineCommand),
    SaveSettings { sampling: Sampling, preset: Option<String> },
    /// Re-read the config file's `model:` section (or use `path`) and load that model.
    ChooseModel { path: Option<String> },
    /// Save, list, load, rename, delete or export conversations (done off the loop, in order).
    Store(crate::store::Request),
    /// Put text on the operator's clipboard with OSC 52 (works over SSH).
    Clipboard(String),
    Quit,
}
