//! The console's side of the engine's face: carries out the reducer's `EngineCommand`s on the
//! engine the chat talks to, and feeds what it reports into the inbox. Status changes (loading
//! stages, loaded, failed) come from that engine's status channel, tagged with the switch they
//! belong to (`Action::Status`); each answer's events from its own generation
//! (`Action::Engine`), forwarded by a task that keeps going after a cancel or a switch, so the
//! final stats arrive. The fleet's nodes each have an engine; `switch` changes which one.
use std::collections::HashMap;

use tokio::task::JoinHandle;

use crate::app::Action;
use crate::session::inbox::Sender;
use llamadeck_engine::events::StatusEvents;
use llamadeck_engine::{Canceller, Engine, EngineCommand, EngineEvent};
use llamadeck_words::chat::RequestId;

pub struct EngineLink {
    /// The model here (None with `--connect`) and each node's, by name.
    local: Option<Engine>,
    nodes: HashMap<String, Engine>,
    current: Engine,
    inbox: Sender,
    running: HashMap<RequestId, Canceller>,
    status: JoinHandle<()>,
}

impl EngineLink {
    /// Must be called inside the loop's runtime: it starts the status forwarder.
    pub fn new(engine: Engine, inbox: Sender) -> Self {
        let status = forward_status(&engine, 0, inbox.clone());
        Self { local: Some(engine.clone()), nodes: HashMap::new(), current: engine, inbox, running: HashMap::new(), status }
    }

    /// The fleet's engines; `local` is false when the first engine is one of them (`--connect`).
    pub fn with_nodes(mut self, nodes: Vec<(String, Engine)>, local: bool) -> Self {
        self.nodes = nodes.into_iter().collect();
        if !local {
            self.local = None;
        }
        self
    }

    pub fn run(&mut self, command: EngineCommand) {
        self.running.retain(|_, c| !c.is_finished());
        match command {
            // A node serves its own model: reloading it means asking it again what it serves.
            EngineCommand::Load(spec) => {
                if self.current.load(spec).is_err() {
                    self.current.refresh();
                }
            }
            EngineCommand::Generate(request) => {
                let id = request.id;
                let mut generation = self.current.generate(request);
                self.running.insert(id, generation.canceller());
                let inbox = self.inbox.clone();
                tokio::spawn(async move {
                    while let Some(event) = generation.next().await {
                        let Some(event) = EngineEvent::from_generation(id, event) else { continue };
                        if !inbox.send(Action::Engine(event)) {
                            break;
                        }
                    }
                });
            }
            EngineCommand::Cancel(id) => {
                if let Some(canceller) = self.running.remove(&id) {
                    canceller.cancel();
                }
            }
        }
    }

    /// The chat talks to `node` (None: the model here) from now on. A node is asked again what
    /// it serves; the model here reports where it stands. Answers still running go on.
    pub fn switch(&mut self, node: Option<&str>, epoch: u64) {
        let engine = match node {
            Some(name) => self.nodes.get(name).cloned(),
            None => self.local.clone(),
        };
        let Some(engine) = engine else {
            let reason = match node {
                Some(name) => format!("{name} has no API to chat with"),
                None => "no model runs here (the console was started with --connect)".into(),
            };
            self.inbox.send(Action::Status { epoch, event: EngineEvent::LoadFailed { reason } });
            return;
        };
        self.status.abort();
        engine.refresh();
        self.status = forward_status(&engine, epoch, self.inbox.clone());
        self.current = engine;
    }
}

/// Forwards `engine`'s status news, tagged with `epoch`, until the inbox closes or the task is
/// aborted by a switch.
fn forward_status(engine: &Engine, epoch: u64, tx: Sender) -> JoinHandle<()> {
    let mut status = engine.watch_status();
    tokio::spawn(async move {
        let mut events = StatusEvents::default();
        loop {
            let news = events.next(&status.borrow_and_update());
            if !news.into_iter().all(|event| tx.send(Action::Status { epoch, event })) {
                return;
            }
            if status.changed().await.is_err() {
                tx.send(Action::Status { epoch, event: EngineEvent::LoadFailed { reason: "the engine has stopped".into() } });
                return;
            }
        }
    })
}
