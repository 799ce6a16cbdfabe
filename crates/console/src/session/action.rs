//! What can happen (Action) and what the loop must do about it (Effect). Every producer's news
//! arrives as an Action on the console's one inbox; the reducer answers with Effects as data.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossterm::event::{KeyEvent, MouseEvent};

use super::api::ServerEvent;
use llamadeck_config::Config;
use llamadeck_engine::{EngineCommand, EngineEvent, ModelSpec};
use llamadeck_gpu::snapshot::GpuSnapshot;
use llamadeck_words::keys::{Command, Keymap};
use llamadeck_words::sampling::Sampling;

/// The config file as F5 read it again, with its keymap.
#[derive(Debug, Clone)]
pub struct Reread {
    pub config: Config,
    pub keymap: Keymap,
}

#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    /// The wheel or a click (only with `ui.mouse: true`, which turns mouse capture on).
    Mouse(MouseEvent),
    Paste(String),
    Resize(u16, u16),
    /// A bound command, as a key would trigger it (also what tests use).
    Command(Command),
    Engine(EngineEvent),
    /// What the API server reports (address, requests).
    Server(ServerEvent),
    Gpu(Arc<GpuSnapshot>),
    /// The fleet's latest readings.
    Fleet(Arc<llamadeck_fleet::Fleet>),
    /// News of the chat engine's status (loading, loaded, failed), from the engine chosen by
    /// switch `epoch` (0: the one the console started with); news of an earlier one is dropped.
    Status {
        epoch: u64,
        event: EngineEvent,
    },
    /// The clock moved on (drives the loading timer).
    Tick(Instant),
    /// The result of an `Effect::SaveSettings`: where, or why not; and what was written.
    Saved {
        result: Result<PathBuf, String>,
        sampling: Sampling,
        preset: Option<String>,
    },
    /// The model `/model PATH` asked for: the current model settings with that path.
    ModelChosen(ModelSpec),
    /// The result of an `Effect::ReloadConfig`: the config as it is now, or its error.
    ConfigReread(Result<Box<Reread>, String>),
    /// The conversation store's answer to an `Effect::Store`.
    Store(llamadeck_store::Reply),
    /// The paths an `Effect::CompletePath` found for the message box's text `typed`.
    PathsFound {
        typed: String,
        found: Vec<String>,
    },
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
    /// Chat with node `node` from now on (None: the model here); its status news comes tagged
    /// with `epoch`.
    UseEngine {
        node: Option<String>,
        epoch: u64,
    },
    SaveSettings {
        sampling: Sampling,
        preset: Option<String>,
    },
    /// Load the model at `path` (typed after `/model`) with the current model settings.
    ChooseModel {
        path: String,
    },
    /// F5: read the config file again (answered with `Action::ConfigReread`).
    ReloadConfig,
    /// Save, list, load, rename, delete or export conversations (done off the loop, in order).
    Store(llamadeck_store::Request),
    /// Tab on `/model PATH`: list what the path typed so far could be (answered with
    /// `Action::PathsFound`; `typed` is the message box's whole text).
    CompletePath {
        typed: String,
    },
    /// Put text on the operator's clipboard with OSC 52 (works over SSH).
    Clipboard(String),
    Quit,
}
