//! The fleet with real components, as one test crate: a third-party engine (llama.cpp's OpenAI
//! server from llama-cpp-python, on the demo model) through the remote engine (`llamacpp`), two
//! `llamadeck serve` processes polled and asked, one killed mid-answer and started again
//! (`two_nodes`), nodes that hang, babble or cut answers short, served by a stub (`hangs`), and
//! the console through its whole loop with two serve nodes and a hung one (`console`). Every
//! server binds a free loopback port and has its own temporary HOME and XDG folders. The fleet
//! pane alone is tested in `crates/console/tests/`, the `nodes:` section in `crates/config/tests/`.
mod console;
mod hangs;
mod llamacpp;
mod procs;
mod stub;
mod two_nodes;

use llamadeck_testkit::{doubles, shared_screen};

use std::time::{Duration, Instant};

use llamadeck_engine::{Engine, GenEvent, GenerateRequest, Generation, LoadState, ModelFacts, Priority};
use llamadeck_words::chat::{ChatMessage, Role};
use llamadeck_words::sampling::Sampling;

/// Waits until `ready` gives something, polling every 20 ms; panics with `what` after `limit`.
pub async fn until<T>(what: &str, limit: Duration, mut ready: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = ready() {
            return found;
        }
        assert!(started.elapsed() < limit, "no {what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Loads `engine` (asks its node) and waits for the answer.
pub async fn loaded(engine: &Engine) -> ModelFacts {
    engine.refresh();
    let mut status = engine.watch_status();
    let state =
        tokio::time::timeout(Duration::from_secs(30), status.wait_for(|s| !matches!(s.state, LoadState::Loading | LoadState::Idle)))
            .await
            .expect("the node answers within 30 s")
            .expect("the engine is alive")
            .state
            .clone();
    match state {
        LoadState::Ready(facts) => facts,
        other => panic!("not ready: {other:?}"),
    }
}

/// A question with greedy sampling and at most `max_tokens` tokens.
pub fn question(id: u64, text: &str, max_tokens: u32) -> GenerateRequest {
    let sampling = Sampling { temperature: 0.0, max_tokens, system_prompt: String::new(), ..Sampling::default() };
    GenerateRequest {
        id,
        messages: vec![ChatMessage { role: Role::User, content: text.into(), tool: None }],
        sampling,
        priority: Priority::Queued,
        options: Default::default(),
    }
}

/// The next event, within `limit`.
pub async fn next(generation: &mut Generation, limit: Duration) -> GenEvent {
    tokio::time::timeout(limit, generation.next()).await.expect("an event in time").expect("the generation reports how it ends")
}

/// Every event up to the end (`Finished` or `Failed`), within `limit`.
pub async fn to_the_end(generation: &mut Generation, limit: Duration) -> Vec<GenEvent> {
    let mut events = Vec::new();
    loop {
        let event = next(generation, limit).await;
        let end = matches!(event, GenEvent::Finished { .. } | GenEvent::Failed(_));
        events.push(event);
        if end {
            return events;
        }
    }
}

pub fn text_of(events: &[GenEvent]) -> String {
    events.iter().filter_map(|e| if let GenEvent::Token(t) = e { Some(t.as_str()) } else { None }).collect()
}
