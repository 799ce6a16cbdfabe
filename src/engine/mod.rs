//! The model engine: mistral.rs loaded in-process on its own thread, driven by
//! `EngineCommand`s and reporting `EngineEvent`s.
//!
//! `source` decides what a model string names (never a silent download), `estimate` sizes it
//! before loading, `load` builds the pipeline (device, dtype, ISQ, template), `template` turns
//! a conversation into token ids, `generate` streams one answer, `worker` owns the thread.
pub mod bench;
pub mod estimate;
pub mod generate;
mod gguf_meta;
mod lead;
pub mod load;
mod overlay;
pub mod protocol;
pub mod reencode;
pub mod request;
pub mod source;
pub mod stages;
pub mod stats;
pub mod stop;
pub mod template;
mod worker;

use protocol::{EngineCommand, EngineEvent};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

pub use load::LoadedModel;
pub use source::{ModelSource, demo_model_path, resolve_source};
pub use stages::{StageLayer, stage_layer};
pub use worker::EngineStatus;

/// A cheap, cloneable handle to the engine thread.
#[derive(Clone)]
pub struct EngineHandle {
    commands: UnboundedSender<EngineCommand>,
    model: worker::SharedModel,
    status: worker::SharedStatus,
}

impl EngineHandle {
    /// Never blocks; a command sent after the engine thread ended is dropped.
    pub fn send(&self, cmd: EngineCommand) {
        let _ = self.commands.send(cmd);
    }

    /// The loaded mistral.rs instance, for serving the same model over HTTP.
    pub fn runner(&self) -> Option<Arc<mistralrs::core::MistralRs>> {
        self.loaded().map(|m| m.runner)
    }

    /// The loaded model with its tokenizer and prompt format.
    pub fn loaded(&self) -> Option<LoadedModel> {
        self.model.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Where loading stands (the latest stage while loading).
    pub fn status(&self) -> EngineStatus {
        self.status.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Starts the engine thread. Loading and generation run there; events go to `events`.
pub fn spawn_engine(events: UnboundedSender<EngineEvent>) -> EngineHandle {
    let (commands, model, status) = worker::spawn(events);
    EngineHandle { commands, model, status }
}
