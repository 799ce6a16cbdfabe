//! What can happen (Action) and what the loop must do about it (Effect). Every producer's news
//! arrives as an Action on the console's one inbox; the reducer answers with Effects as data.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::app::api::ServerEvent;
use crate::engine::{EngineCommand, EngineEvent, ModelSpec};
use crate::gpu::snapshot::GpuSnapshot;
use crate::keys::Command;
use crate::sampling::Sampling;

#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Paste(String),
    Resize(u16, u16),
    /// A bound command, as a key would trigger it (also what tests use).
    Command(Command),
    Engine(EngineEvent),
    /// What the API server reports (address, requests).
    Server(ServerEvent),
    Gpu(Arc<GpuSnapshot>),
    /// The clock moved on (drives the loading timer).
    Tick(Instant),
    /// The result of an `Effect::SaveSettings`.
    Saved(Result<PathBuf, String>),
    /// The result of re-reading the config for a reload: the spec to load, or why not.
    ModelChosen(Result<ModelSpec, String>),
    /// The conversation store's answer to an `Effect::Store`.
    Store(crate::store::Reply),
    /// The result of an `Effect::Clipboard`: characters copied, or why not.
    Copied(Result<usize, String>),
    /// Something went wrong outside the loop (a panic in a background thread), in words.
    Problem(String),
    /// SIGTERM, SIGINT or SIGHUP: the loop ends (the reducer never sees it).
    Signal(&'static str),
    /// The terminal's input ended (`None`) or failed: the loop ends (the reducer never sees it).
    TerminalClosed(Option<String>),
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
