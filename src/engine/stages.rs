//! mistral.rs has no progress API; while loading it logs coarse stages through `tracing`
//! ("Loading `tokenizer.json`", "Applying in-situ quantization", "Dummy run completed").
//! This layer turns those into `EngineEvent::LoadStage` for the chat pane. It forwards only
//! while one of our loads is running, so runtime log lines never show up as load stages.
use super::protocol::EngineEvent;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc::UnboundedSender;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

static LOADS_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Held by the loader for the duration of a load.
pub(crate) struct LoadingScope(());

impl LoadingScope {
    pub(crate) fn enter() -> Self {
        LOADS_RUNNING.fetch_add(1, Ordering::SeqCst);
        LoadingScope(())
    }
}

impl Drop for LoadingScope {
    fn drop(&mut self) {
        LOADS_RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The layer the lead installs next to the file logger.
pub struct StageLayer {
    events: UnboundedSender<EngineEvent>,
}

pub fn stage_layer(events: UnboundedSender<EngineEvent>) -> StageLayer {
    StageLayer { events }
}

impl<S: Subscriber> Layer<S> for StageLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if LOADS_RUNNING.load(Ordering::Relaxed) == 0
            || !meta.target().starts_with("mistralrs")
            || *meta.level() > Level::INFO
        {
            return;
        }
        let mut message = MessageText(String::new());
        event.record(&mut message);
        if let Some(stage) = one_line(&message.0) {
            let _ = self.events.send(EngineEvent::LoadStage { stage });
        }
    }
}

struct MessageText(String);

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// First line, bounded, so a dumped config never floods the pane.
fn one_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(match line.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn forwards_mistralrs_info_only_while_loading() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let subscriber = tracing_subscriber::registry().with(stage_layer(tx));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "mistralrs_core::pipeline", "before any load");
            let scope = LoadingScope::enter();
            tracing::info!(target: "mistralrs_core::pipeline", "Loading `tokenizer.json` at x\nmore");
            tracing::debug!(target: "mistralrs_core::pipeline", "too detailed");
            tracing::info!(target: "hyper", "not ours");
            drop(scope);
            tracing::info!(target: "mistralrs_core::engine", "after");
        });
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(got, vec![EngineEvent::LoadStage { stage: "Loading `tokenizer.json` at x".into() }]);
    }
}
