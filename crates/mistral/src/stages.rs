//! mistral.rs has no progress API; while loading it logs coarse stages through `tracing`
//! ("Loading `tokenizer.json`", "Applying in-situ quantization", "Dummy run completed").
//! [`StageLayer`], installed next to the file logger, hands those lines to the load that is
//! running (its [`LoadingScope`]), so runtime log lines never show up as load stages.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Where a load reports its stages.
pub type StageFn = Arc<dyn Fn(String) + Send + Sync>;

static LOADS_RUNNING: AtomicUsize = AtomicUsize::new(0);
static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);
/// The newest running load's scope and where its stages go.
static CURRENT: Mutex<Option<(u64, StageFn)>> = Mutex::new(None);

fn current() -> std::sync::MutexGuard<'static, Option<(u64, StageFn)>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held by the loader for the duration of a load.
pub(crate) struct LoadingScope(u64);

impl LoadingScope {
    pub(crate) fn enter(stage: StageFn) -> Self {
        let id = NEXT_SCOPE.fetch_add(1, Ordering::Relaxed);
        *current() = Some((id, stage));
        LOADS_RUNNING.fetch_add(1, Ordering::SeqCst);
        LoadingScope(id)
    }
}

impl Drop for LoadingScope {
    fn drop(&mut self) {
        LOADS_RUNNING.fetch_sub(1, Ordering::SeqCst);
        let mut current = current();
        if current.as_ref().is_some_and(|(id, _)| *id == self.0) {
            *current = None;
        }
    }
}

/// Leaves out of every log the mistral.rs warnings that each CPU load repeats
/// (`stage_words::quieted`); the loader says them once in our words. Installed by the console
/// and `serve` next to their loggers.
pub struct QuietLayer(());

pub fn quiet_layer() -> QuietLayer {
    QuietLayer(())
}

impl<S: Subscriber> Layer<S> for QuietLayer {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if !meta.target().starts_with("mistralrs") || *meta.level() != Level::WARN {
            return true;
        }
        let mut message = MessageText(String::new());
        event.record(&mut message);
        !super::stage_words::quieted(&message.0)
    }
}

/// Says once a process that a load runs on the CPU without PagedAttention (mistral.rs's own
/// warning about it, repeated each load, is left out of the logs).
pub(crate) fn say_paged_attention_is_off() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| tracing::info!("{}", super::stage_words::PAGED_ATTENTION_ON_CPU));
}

/// The layer the console installs next to the file logger.
pub struct StageLayer(());

pub fn stage_layer() -> StageLayer {
    StageLayer(())
}

impl<S: Subscriber> Layer<S> for StageLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if LOADS_RUNNING.load(Ordering::Relaxed) == 0 || !meta.target().starts_with("mistralrs") || *meta.level() > Level::INFO {
            return;
        }
        let Some(stage) = current().as_ref().map(|(_, f)| f.clone()) else { return };
        let mut message = MessageText(String::new());
        event.record(&mut message);
        // The log file has the line as it is (the file logger beside this layer); the stage
        // says which step it belongs to.
        if let Some(line) = one_line(&message.0) {
            stage(super::stage_words::their_words(&line));
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
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let subscriber = tracing_subscriber::registry().with(stage_layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "mistralrs_core::pipeline", "before any load");
            let scope = LoadingScope::enter(Arc::new(move |s| sink.lock().unwrap().push(s)));
            tracing::info!(target: "mistralrs_core::pipeline", "Loading `tokenizer.json` at x\nmore");
            tracing::debug!(target: "mistralrs_core::pipeline", "too detailed");
            tracing::info!(target: "hyper", "not ours");
            drop(scope);
            tracing::info!(target: "mistralrs_core::engine", "after");
        });
        assert_eq!(*got.lock().unwrap(), vec!["reading the tokenizer…".to_string()]);
    }

    /// Records every message that reaches it.
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let mut message = MessageText(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }

    #[test]
    fn the_paged_attention_warning_reaches_no_log() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(quiet_layer()).with(Seen(got.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                target: "mistralrs_core::pipeline::gguf",
                "Device mapping contains a mix of GPU and CPU. There is no CPU support for PagedAttention, disabling PagedAttention."
            );
            tracing::warn!(target: "mistralrs_core::pipeline::gguf", "another warning");
            tracing::warn!(target: "llamadeck", "Device mapping contains a mix of GPU and CPU. There is no CPU support for PagedAttention");
        });
        assert_eq!(
            *got.lock().unwrap(),
            vec![
                "another warning".to_string(),
                "Device mapping contains a mix of GPU and CPU. There is no CPU support for PagedAttention".into()
            ]
        );
    }
}
