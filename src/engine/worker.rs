//! The engine's own thread: a multi-thread tokio runtime (mistral.rs's loader needs
//! `block_in_place`) that takes commands, loads in the background and runs one task per answer.
use super::generate;
use super::load::{LoadedModel, load, panic_text};
use super::protocol::{EngineCommand, EngineEvent, GenerateRequest, ModelSpec, RequestId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

/// The model the engine serves now, readable from other threads (the API server).
pub type SharedModel = Arc<RwLock<Option<LoadedModel>>>;

/// Where loading stands, readable from other threads (the API's 503 names the stage).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EngineStatus {
    /// No load was asked for yet.
    #[default]
    Idle,
    /// The latest loading stage.
    Loading(String),
    Ready,
    Failed(String),
}

pub type SharedStatus = Arc<RwLock<EngineStatus>>;

fn set_status(status: &SharedStatus, value: EngineStatus) {
    *status.write().unwrap_or_else(|e| e.into_inner()) = value;
}

/// What the worker's own tasks report back to it.
enum Internal {
    Loaded { generation: u64, result: Result<LoadedModel, String> },
    AnswerDone(RequestId),
}

pub fn spawn(events: UnboundedSender<EngineEvent>) -> (UnboundedSender<EngineCommand>, SharedModel, SharedStatus) {
    let (commands_tx, commands) = unbounded_channel();
    let shared: SharedModel = Arc::default();
    let status: SharedStatus = Arc::default();
    let (worker_shared, worker_status) = (shared.clone(), status.clone());
    std::thread::Builder::new()
        .name("llamadeck-engine".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("llamadeck-engine-rt")
                .enable_all()
                .build()
                .expect("the engine's tokio runtime starts");
            runtime.block_on(Worker::new(events, worker_shared, worker_status).run(commands));
        })
        .expect("the engine thread starts");
    (commands_tx, shared, status)
}

struct Worker {
    events: UnboundedSender<EngineEvent>,
    shared: SharedModel,
    status: SharedStatus,
    current: Option<LoadedModel>,
    /// Bumped per Load: a load that finishes after a newer one was asked for is discarded.
    load_generation: u64,
    answers: HashMap<RequestId, oneshot::Sender<()>>,
    internal_tx: UnboundedSender<Internal>,
    internal_rx: UnboundedReceiver<Internal>,
}

impl Worker {
    fn new(events: UnboundedSender<EngineEvent>, shared: SharedModel, status: SharedStatus) -> Self {
        let (internal_tx, internal_rx) = unbounded_channel();
        Self { events, shared, status, current: None, load_generation: 0, answers: HashMap::new(), internal_tx, internal_rx }
    }

    async fn run(mut self, mut commands: UnboundedReceiver<EngineCommand>) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break, // every handle is gone
                },
                Some(internal) = self.internal_rx.recv() => self.internal(internal),
            }
        }
    }

    fn command(&mut self, command: EngineCommand) {
        match command {
            EngineCommand::Load(spec) => self.start_load(spec),
            EngineCommand::Generate(req) => self.start_answer(req),
            EngineCommand::Cancel(id) => {
                if let Some(cancel) = self.answers.remove(&id) {
                    let _ = cancel.send(());
                }
            }
        }
    }

    fn start_load(&mut self, spec: ModelSpec) {
        // The old model goes first: two 13B models rarely fit side by side.
        for (_, cancel) in self.answers.drain() {
            let _ = cancel.send(());
        }
        self.set_current(None);
        self.load_generation += 1;
        let generation = self.load_generation;
        set_status(&self.status, EngineStatus::Loading("starting".into()));
        let (events, done, status) = (self.events.clone(), self.internal_tx.clone(), self.status.clone());
        tokio::spawn(async move {
            let stage_events = events.clone();
            let stage = move |stage: String| {
                set_status(&status, EngineStatus::Loading(stage.clone()));
                let _ = stage_events.send(EngineEvent::LoadStage { stage });
            };
            // Its own task, so that a panic inside mistral.rs becomes a LoadFailed.
            let result = match tokio::spawn(async move { load(&spec, stage).await }).await {
                Ok(result) => result,
                Err(e) => Err(panic_text("loading", e)),
            };
            let _ = done.send(Internal::Loaded { generation, result });
        });
    }

    fn start_answer(&mut self, req: GenerateRequest) {
        let id = req.id;
        let Some(model) = self.current.clone() else {
            let error = if self.load_generation == 0 { "no model is loaded" } else { "the model is not loaded yet" };
            let _ = self.events.send(EngineEvent::Failed { id, error: error.into() });
            return;
        };
        let (cancel_tx, cancel_rx) = oneshot::channel();
        self.answers.insert(id, cancel_tx);
        let (events, done) = (self.events.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            let task_events = events.clone();
            let answer = tokio::spawn(generate::run(model, req, cancel_rx, task_events));
            if let Err(e) = answer.await {
                let _ = events.send(EngineEvent::Failed { id, error: panic_text("generating", e) });
            }
            let _ = done.send(Internal::AnswerDone(id));
        });
    }

    fn internal(&mut self, message: Internal) {
        match message {
            Internal::Loaded { generation, result } if generation == self.load_generation => match result {
                Ok(model) => {
                    // Shared before it is announced: whoever hears Loaded can use the model at once.
                    let loaded = EngineEvent::Loaded { model: model.name.clone(), context_len: model.context_len };
                    self.set_current(Some(model));
                    set_status(&self.status, EngineStatus::Ready);
                    let _ = self.events.send(loaded);
                }
                Err(reason) => {
                    set_status(&self.status, EngineStatus::Failed(reason.clone()));
                    let _ = self.events.send(EngineEvent::LoadFailed { reason });
                }
            },
            Internal::Loaded { .. } => {} // superseded by a newer Load
            Internal::AnswerDone(id) => {
                self.answers.remove(&id);
            }
        }
    }

    fn set_current(&mut self, model: Option<LoadedModel>) {
        *self.shared.write().unwrap_or_else(|e| e.into_inner()) = model.clone();
        self.current = model;
    }
}
