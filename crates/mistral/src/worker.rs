//! The engine's own thread: a multi-thread tokio runtime (mistral.rs's loader needs
//! `block_in_place`) that takes commands, loads in the background and runs one task per answer.
//! Every generation runs here, the chat pane's and the API's alike: a caller that goes away
//! only cancels its generation, never a wait inside mistral.rs.
//!
//! Admission is decided here, in one place: an answer builds its prompt at once, then waits in
//! the `AdmissionQueue` (the console's first, then the API's in arrival order) until one of the
//! model's slots is free (`LoadedModel::batch`: one on the CPU). Only admitted answers reach
//! mistral.rs, whose own queue cannot be reordered or left without cost. When an answer ends
//! and the prefix cache is over its budget, nothing more is admitted until the answers running
//! have ended; then mistral.rs's engine restarts with an empty cache and the queue goes on in
//! its order. So the cache holds at most its budget plus what the answers running add.
use super::admission::AdmissionQueue;
use super::generate;
use super::load::{LoadedModel, load, panic_text, precheck};
use llamadeck_engine::face::{
    Backend, EngineStatus, GenError, GenErrorKind, GenEvent, GenerateRequest, GenerationSink, LoadModel, LoadState,
};
use llamadeck_engine::spec::ModelSpec;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::{oneshot, watch};

enum Command {
    Load(ModelSpec),
    // Boxed: a request (messages, options) is far larger than a load command.
    Generate(Box<GenerateRequest>, GenerationSink),
}

/// mistral.rs in-process, behind the engine's face.
pub struct MistralBackend {
    commands: UnboundedSender<Command>,
    status: watch::Receiver<EngineStatus>,
}

impl LoadModel for MistralBackend {
    fn load(&self, spec: ModelSpec) {
        let _ = self.commands.send(Command::Load(spec));
    }
}

impl Backend for MistralBackend {
    /// The model is in this process: its status is always current, there is nothing to ask.
    fn refresh(&self) {}

    fn loader(&self) -> Option<&dyn LoadModel> {
        Some(self)
    }

    fn status(&self) -> watch::Receiver<EngineStatus> {
        self.status.clone()
    }

    fn generate(&self, request: GenerateRequest, sink: GenerationSink) {
        if let Err(unsent) = self.commands.send(Command::Generate(Box::new(request), sink))
            && let Command::Generate(_, sink) = unsent.0
        {
            sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, "the engine thread has stopped")));
        }
    }
}

/// The status, shared with the loading task: a stage from a load that was superseded, or one
/// that arrives after its load ended, is ignored.
#[derive(Clone)]
struct StatusBoard {
    status: Arc<watch::Sender<EngineStatus>>,
}

/// More stages than any real load reports; beyond it a chatty log is not kept.
const MAX_STAGES: usize = 500;

impl StatusBoard {
    /// A new load, with no stage yet.
    fn start(&self, generation: u64) {
        self.status.send_replace(EngineStatus { load_id: generation, state: LoadState::Loading, ..EngineStatus::default() });
    }

    /// Load `generation` was refused before anything was unloaded: the serving model stays.
    fn reject(&self, generation: u64, reason: String) {
        self.status.send_modify(|status| {
            status.load_id = generation;
            status.stages.clear();
            status.rejected = Some(reason);
        });
    }

    /// The loaded model's prefix cache, as it stands now.
    fn cache(&self, stats: Option<llamadeck_engine::PrefixCacheStats>) {
        self.status.send_if_modified(|status| {
            let changed = status.cache != stats;
            status.cache = stats;
            changed
        });
    }

    /// How load `generation` ended, and what it warns of; its stages stay.
    fn end(&self, generation: u64, state: LoadState, warnings: Vec<String>) {
        self.status.send_if_modified(|status| {
            let current = status.load_id == generation;
            if current {
                status.state = state;
                status.warnings = warnings;
            }
            current
        });
    }

    fn stage(&self, generation: u64, stage: String) {
        self.status.send_if_modified(|status| {
            let take = status.load_id == generation
                && status.state == LoadState::Loading
                && status.stages.len() < MAX_STAGES
                && status.stages.last() != Some(&stage);
            if take {
                status.stages.push(stage);
            }
            take
        });
    }
}

/// How long a new load waits for the old model's memory to be given back.
const UNLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits until nothing holds the old weights any more (mistral.rs's engine thread lets go when
/// the last answer on it has ended); false when `limit` passed first.
async fn released<T: ?Sized>(weights: &std::sync::Weak<T>, limit: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while weights.strong_count() > 0 {
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    true
}

/// Hands freed heap back to the operating system: glibc keeps the pages of a dropped model
/// otherwise, and the next load would count as a second model in memory.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What the worker's own tasks report back to it.
enum Internal {
    Loaded { generation: u64, result: Result<LoadedModel, String> },
    AnswerDone(u64),
}

pub fn spawn() -> MistralBackend {
    let (commands_tx, commands) = unbounded_channel();
    let (status_tx, status) = watch::channel(EngineStatus::default());
    let board = StatusBoard { status: Arc::new(status_tx) };
    std::thread::Builder::new()
        .name("llamadeck-engine".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("llamadeck-engine-rt")
                .enable_all()
                .build()
                .expect("the engine's tokio runtime starts");
            runtime.block_on(Worker::new(board).run(commands));
        })
        .expect("the engine thread starts");
    MistralBackend { commands: commands_tx, status }
}

struct Worker {
    board: StatusBoard,
    current: Option<LoadedModel>,
    /// Bumped per Load: a load that finishes after a newer one was asked for is discarded.
    load_generation: u64,
    /// Answers running or waiting, by the worker's own serial: a new load aborts them all.
    answers: HashMap<u64, Answer>,
    /// Answers waiting for a slot.
    queue: AdmissionQueue<Waiting>,
    next_answer: u64,
    internal_tx: UnboundedSender<Internal>,
    internal_rx: UnboundedReceiver<Internal>,
}

/// One answer the worker started.
struct Answer {
    abort: oneshot::Sender<()>,
    /// Handed to mistral.rs (it holds one of the model's slots).
    admitted: bool,
}

/// An answer waiting for its turn; `go` admits it.
struct Waiting {
    serial: u64,
    go: oneshot::Sender<()>,
}

impl Waiting {
    /// False once the answer stopped waiting (its caller left, or it could not be built).
    fn live(&self) -> bool {
        !self.go.is_closed()
    }
}

impl Worker {
    fn new(board: StatusBoard) -> Self {
        let (internal_tx, internal_rx) = unbounded_channel();
        Self {
            board,
            current: None,
            load_generation: 0,
            answers: HashMap::new(),
            queue: AdmissionQueue::default(),
            next_answer: 0,
            internal_tx,
            internal_rx,
        }
    }

    async fn run(mut self, mut commands: UnboundedReceiver<Command>) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Load(spec)) => self.start_load(spec),
                    Some(Command::Generate(request, sink)) => self.start_answer(*request, sink),
                    None => break, // every handle is gone
                },
                Some(internal) = self.internal_rx.recv() => {
                    if self.internal(internal) {
                        self.after_answer().await;
                    }
                }
            }
        }
    }

    /// Answers handed to mistral.rs and not ended yet.
    fn running(&self) -> usize {
        self.answers.values().filter(|a| a.admitted).count()
    }

    /// Publishes the prefix cache's accounts; when the cache is over budget and the last answer
    /// running has ended, empties it (a restart would cut a running answer short); then admits
    /// what waits. Commands wait meanwhile (milliseconds).
    async fn after_answer(&mut self) {
        let Some(model) = self.current.clone() else { return };
        self.publish_cache(&model);
        let over = lock(&model.prefix).as_ref().is_some_and(|p| p.over());
        if over && self.running() == 0 {
            match model.restart_engine().await {
                Ok(()) => {
                    if let Some(p) = lock(&model.prefix).as_mut() {
                        p.emptied();
                    }
                    if model.on_cpu {
                        return_freed_memory();
                    }
                }
                Err(e) => tracing::error!("could not empty the prefix cache: {e}"),
            }
            self.publish_cache(&model);
        }
        self.admit();
    }

    fn publish_cache(&self, model: &LoadedModel) {
        let stats = lock(&model.prefix).as_ref().map(|p| p.account().clone());
        self.board.cache(stats);
    }

    /// Admits waiting answers, the next in the queue's order first, while the model has a slot
    /// free. Over the cache's budget it admits nothing while an answer runs: the cache is
    /// emptied when the last one ends (`after_answer`). With none running it admits anyway (the
    /// restart failed, and serving matters more than the budget).
    fn admit(&mut self) {
        let Some(batch) = self.current.as_ref().map(|m| m.batch) else { return };
        let over = self.current.as_ref().is_some_and(|m| lock(&m.prefix).as_ref().is_some_and(|p| p.over()));
        let mut running = self.running();
        if over && running > 0 {
            return;
        }
        while running < batch {
            let Some(next) = self.queue.pop(Waiting::live) else { break };
            // A send that fails: the answer stopped waiting just now; the next one goes.
            if next.go.send(()).is_ok()
                && let Some(answer) = self.answers.get_mut(&next.serial)
            {
                answer.admitted = true;
                running += 1;
            }
        }
    }

    fn start_load(&mut self, spec: ModelSpec) {
        self.load_generation += 1;
        let generation = self.load_generation;
        // A path that does not exist (or a missing device) must not cost the working model.
        if self.current.is_some()
            && let Err(reason) = precheck(&spec)
        {
            return self.board.reject(generation, reason);
        }
        // The old model goes first: two 13B models rarely fit side by side.
        for (_, answer) in self.answers.drain() {
            let _ = answer.abort.send(());
        }
        self.queue.drain().for_each(drop);
        let old_weights = self.current.take().map(|m| m.pipeline.clone());
        self.board.start(generation);
        let (board, done) = (self.board.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            let stage = Arc::new(move |stage: String| board.stage(generation, stage));
            if let Some(weights) = old_weights {
                stage("unloading the previous model".into());
                if !released(&weights, UNLOAD_WAIT).await {
                    stage("the previous model is still held by an answer; loading beside it".into());
                }
                return_freed_memory();
            }
            // Its own task, so that a panic inside mistral.rs becomes a failed load.
            let result = match tokio::spawn(async move { load(&spec, stage).await }).await {
                Ok(result) => result,
                Err(e) => Err(panic_text("loading", e)),
            };
            let _ = done.send(Internal::Loaded { generation, result });
        });
    }

    fn start_answer(&mut self, request: GenerateRequest, sink: GenerationSink) {
        let Some(model) = self.current.clone() else {
            let error = if self.load_generation == 0 { "no model is loaded" } else { "the model is not loaded yet" };
            return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::NotReady, error)));
        };
        let (abort_tx, abort) = oneshot::channel();
        let (go, admitted) = oneshot::channel();
        let serial = self.next_answer;
        self.next_answer += 1;
        self.answers.insert(serial, Answer { abort: abort_tx, admitted: false });
        // In line in the order the commands came, whether or not its prompt is built yet.
        self.queue.push(request.priority, Waiting { serial, go }, Waiting::live);
        let done = self.internal_tx.clone();
        tokio::spawn(async move {
            // A second task, so that a panic inside mistral.rs ends only this answer, reported.
            let panic_sink = sink.clone();
            if let Err(e) = tokio::spawn(generate::run(model, request, sink, admitted, abort)).await {
                panic_sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, panic_text("generating", e))));
            }
            let _ = done.send(Internal::AnswerDone(serial));
        });
        self.admit();
    }

    /// True when an answer ended.
    fn internal(&mut self, message: Internal) -> bool {
        match message {
            Internal::Loaded { generation, result } if generation == self.load_generation => match result {
                Ok(model) => {
                    // Kept before it is announced: whoever sees Ready can generate at once.
                    let (facts, warnings) = (model.facts(), model.warnings.clone());
                    let cache = lock(&model.prefix).as_ref().map(|p| p.account().clone());
                    self.current = Some(model);
                    // The cache first: whoever sees Ready sees its accounts too.
                    self.board.cache(cache);
                    self.board.end(generation, LoadState::Ready(facts), warnings);
                }
                Err(reason) => self.board.end(generation, LoadState::Failed { reason }, Vec::new()),
            },
            Internal::Loaded { .. } => {} // superseded by a newer Load
            Internal::AnswerDone(serial) => {
                self.answers.remove(&serial);
                return true;
            }
        }
        false
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
