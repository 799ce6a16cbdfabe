//! The console's side of the engine's face: carries out the reducer's `EngineCommand`s and feeds
//! what the engine reports into the inbox, as `Action::Engine`. Status changes (loading stages,
//! loaded, failed) come from the engine's status channel; each answer's events from its own
//! generation, forwarded by a task that keeps going after a cancel, so the final stats arrive.
use std::collections::HashMap;

use crate::app::Action;
use crate::app::inbox::Sender;
use crate::chat::RequestId;
use crate::engine::events::StatusEvents;
use crate::engine::{Canceller, Engine, EngineCommand, EngineEvent};

pub struct EngineLink {
    engine: Engine,
    inbox: Sender,
    running: HashMap<RequestId, Canceller>,
}

impl EngineLink {
    /// Must be called inside the loop's runtime: it starts the status forwarder.
    pub fn new(engine: Engine, inbox: Sender) -> Self {
        let mut status = engine.watch_status();
        let tx = inbox.clone();
        tokio::spawn(async move {
            let mut events = StatusEvents::default();
            loop {
                let news = events.next(&status.borrow_and_update());
                if !news.into_iter().all(|e| tx.send(Action::Engine(e))) {
                    return;
                }
                if status.changed().await.is_err() {
                    tx.send(Action::Engine(EngineEvent::LoadFailed { reason: "the engine has stopped".into() }));
                    return;
                }
            }
        });
        Self { engine, inbox, running: HashMap::new() }
    }

    pub fn run(&mut self, command: EngineCommand) {
        self.running.retain(|_, c| !c.is_finished());
        match command {
            EngineCommand::Load(spec) => self.engine.load(spec),
            EngineCommand::Generate(request) => {
                let id = request.id;
                let mut generation = self.engine.generate(request);
                self.running.insert(id, generation.canceller());
                let inbox = self.inbox.clone();
                tokio::spawn(async move {
                    while let Some(event) = generation.next().await {
                        if !inbox.send(Action::Engine(EngineEvent::from_generation(id, event))) {
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
}
