//! The engine's one face. The chat pane, every API handler and the bench reach a model only
//! through [`Engine`]: read where loading stands and the served model's facts, start a generation
//! and read its events as a stream, cancel it, ask again what is served. A backend implements
//! [`Backend`]: `llamadeck-mistral` (mistral.rs in-process), `remote` (any OpenAI-compatible
//! server), and the tests' scripted engines. What only some backends have is optional: loading a
//! model of the operator's choice ([`LoadModel`], the in-process engine's), the prompt format
//! ([`ModelFacts::format`]) and the prefix cache ([`EngineStatus::cache`]). What to run, a model
//! here or a node, is described once ([`crate::spec::Run`]) and chosen in one place (the binary's
//! `startup::engine::open`).
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::spec::ModelSpec;
use llamadeck_words::chat::{ChatMessage, FinishReason, GenStats, RequestId, ToolCall};
use llamadeck_words::sampling::Sampling;

/// How prompts are built for the loaded model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFormat {
    /// Meta's Llama-2-chat encoding, built token by token.
    Llama2,
    /// The model's own chat template (GGUF metadata, tokenizer_config.json or a template file).
    Template,
}

/// What a loaded model is.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts {
    pub name: String,
    /// Tokens the model reads and writes in one request, prompt and answer together (0: the
    /// server does not say).
    pub context_len: usize,
    /// How this process builds the model's prompts; `None` where the server builds them (a node).
    pub format: Option<ChatFormat>,
}

/// Where the newest load stands.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LoadState {
    /// No load was asked for yet.
    #[default]
    Idle,
    Loading,
    Ready(ModelFacts),
    Failed {
        reason: String,
    },
}

/// The engine's status: the newest load's state and every stage it reported, in order, so a
/// reader that looks only now and then still sees each stage (the memory estimate, a
/// re-encoding) and what loading said once it is over.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EngineStatus {
    /// Counts loads: a reader can tell a new load from more stages of the same one.
    pub load_id: u64,
    pub state: LoadState,
    pub stages: Vec<String>,
    /// Why the newest load was refused before anything was unloaded (a path that does not
    /// exist, a device that is not there); the model in `state` is still the one serving.
    pub rejected: Option<String>,
    /// What the newest load found worth keeping in view while the model serves.
    pub warnings: Vec<String>,
    /// The prefix cache of the loaded model: only a backend that keeps one here (the
    /// in-process engine) reports it; a node's own cache shows in its metrics.
    pub cache: Option<PrefixCacheStats>,
}

/// What the prefix cache holds and has saved: the key/value cache of finished answers, kept so
/// that the next turn of a conversation reads only what is new.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrefixCacheStats {
    /// As configured: `auto`, `2 GiB`, `8 sequences`.
    pub setting: String,
    pub budget_bytes: Option<u64>,
    pub budget_sequences: Option<usize>,
    pub bytes_held: u64,
    pub sequences_held: usize,
    /// Answers whose prompt began with a cached prefix.
    pub hits: u64,
    /// Prompt tokens not read again thanks to the cache.
    pub tokens_reused: u64,
    /// Times the cache was emptied to stay within its budget.
    pub restarts: u64,
}

impl EngineStatus {
    /// Where loading stands: its latest stage.
    pub fn stage(&self) -> &str {
        self.stages.last().map_or("starting", String::as_str)
    }

    pub fn facts(&self) -> Option<&ModelFacts> {
        match &self.state {
            LoadState::Ready(facts) => Some(facts),
            _ => None,
        }
    }
}

/// One request: the whole conversation (system prompt first) and its settings. In raw mode the
/// last user message is the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The caller's label for logs and events; the engine does not rely on it being unique.
    pub id: RequestId,
    pub messages: Vec<ChatMessage>,
    pub sampling: Sampling,
    /// Where the request waits when the engine is busy.
    pub priority: Priority,
    /// What an API client asked of the answer beyond its sampling; the console asks nothing.
    pub options: AnswerOptions,
}

/// What an API client may ask of an answer besides the conversation and its sampling.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnswerOptions {
    pub format: AnswerFormat,
    /// Report each drawn token's log probability (`GenEvent::Logprobs`), with this many of the
    /// likeliest tokens beside it (0–20, OpenAI's `top_logprobs`).
    pub logprobs: Option<u8>,
    /// Functions the model may call instead of answering (`GenEvent::ToolCalls`).
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
}

/// A function the model may call, as OpenAI's `tools` describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON Schema of the arguments (an object's).
    pub parameters: serde_json::Value,
}

/// Whether the model calls a tool: as it sees fit, never, always, or this one.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ToolChoice {
    #[default]
    Auto,
    None,
    Required,
    Named(String),
}

impl AnswerOptions {
    /// True when the answer may or must be a tool call.
    pub fn tools_on(&self) -> bool {
        !self.tools.is_empty() && self.tool_choice != ToolChoice::None
    }
}

/// The shape an answer must take. The in-process engine holds the answer to it token by token
/// (constrained decoding: a token that would break it is never drawn); a node is asked for it
/// in OpenAI's words.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AnswerFormat {
    #[default]
    Text,
    /// Any JSON object (OpenAI's `json_object`).
    JsonObject,
    /// JSON that keeps to this JSON Schema (OpenAI's `json_schema`), under the name the client
    /// gave it (a node is sent both).
    JsonSchema { name: String, schema: serde_json::Value },
}

impl AnswerFormat {
    /// The JSON Schema an answer must keep to; `None` for free text.
    pub fn schema(&self) -> Option<serde_json::Value> {
        match self {
            AnswerFormat::Text => None,
            AnswerFormat::JsonObject => Some(serde_json::json!({"type": "object"})),
            AnswerFormat::JsonSchema { schema, .. } => Some(schema.clone()),
        }
    }
}

/// One drawn token's log probability (natural log), and the likeliest tokens at its place with
/// theirs, most likely first.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f32,
    pub top: Vec<(String, f32)>,
}

/// Where a request waits while the engine is busy. An engine that queues requests (the
/// in-process one) admits every waiting `Interactive` request before any `Queued` one, and
/// requests of one priority in the order they came; a remote server queues in its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// The operator's own chat in the console: someone is watching the screen.
    Interactive,
    /// An API client's request (and a bench's, a test's).
    #[default]
    Queued,
}

/// Why a generation could not be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenErrorKind {
    /// The request cannot be answered as it is (roles out of order, no prompt).
    Invalid,
    /// The prompt does not fit the model's context.
    ContextFull,
    /// No model is loaded (yet).
    NotReady,
    /// The engine failed while answering.
    Engine,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenError {
    pub kind: GenErrorKind,
    pub message: String,
}

impl GenError {
    pub fn new(kind: GenErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

/// What one generation reports, in order: perhaps `Unsupported`, then `Started` (or `Failed`
/// when the prompt cannot be built), tokens, and one `Finished` or `Failed` at the end.
#[derive(Debug, Clone, PartialEq)]
pub enum GenEvent {
    /// Settings this engine cannot honour, in words for the user.
    Unsupported(Vec<String>),
    /// The prompt is built and queued: its tokens, and how many old messages were left out to fit.
    Started {
        prompt_tokens: usize,
        trimmed: usize,
    },
    Token(String),
    /// The log probabilities of tokens drawn since the last such event, in order, when the
    /// request asked for them (`AnswerOptions::logprobs`). They may come before or after the
    /// `Token` that carries their text.
    Logprobs(Vec<TokenLogprob>),
    /// The answer is a call of these tools (sent once, before `Finished`); its text, if any,
    /// came as `Token`s.
    ToolCalls(Vec<ToolCall>),
    Finished {
        reason: FinishReason,
        stats: GenStats,
    },
    Failed(GenError),
}

/// A model engine. No method blocks; outcomes come as status changes and generation events.
pub trait Backend: Send + Sync {
    /// Asks again what is served and reports it through `status`: a node is asked for its
    /// model list; the in-process engine, which knows, has nothing to ask.
    fn refresh(&self);
    /// Where loading stands, as a latest-value channel.
    fn status(&self) -> watch::Receiver<EngineStatus>;
    /// Starts one generation; its events go to `sink` until it ends or is cancelled.
    fn generate(&self, request: GenerateRequest, sink: GenerationSink);
    /// Loading a model of the operator's choice: only a backend that runs models itself can.
    /// A node serves its own model and has none.
    fn loader(&self) -> Option<&dyn LoadModel> {
        None
    }
}

/// The capability to load a model: the in-process engine's.
pub trait LoadModel: Send + Sync {
    /// Starts loading `spec` in the background; answers in flight on the old model end first.
    fn load(&self, spec: ModelSpec);
}

/// `Engine::load` on an engine that cannot load models: the server it talks to has its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServesItsOwnModel;

impl std::fmt::Display for ServesItsOwnModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("this engine is a server with its own model; a model is loaded only by the engine in this process")
    }
}

/// A cheap, cloneable handle to a backend.
#[derive(Clone)]
pub struct Engine(Arc<dyn Backend>);

impl Engine {
    pub fn new(backend: impl Backend + 'static) -> Self {
        Self(Arc::new(backend))
    }

    /// Starts loading `spec`, where this engine can load models.
    pub fn load(&self, spec: ModelSpec) -> Result<(), ServesItsOwnModel> {
        let loader = self.0.loader().ok_or(ServesItsOwnModel)?;
        loader.load(spec);
        Ok(())
    }

    /// Whether `load` can load a model here.
    pub fn loads_models(&self) -> bool {
        self.0.loader().is_some()
    }

    /// Asks again what is served (see [`Backend::refresh`]).
    pub fn refresh(&self) {
        self.0.refresh()
    }

    pub fn status(&self) -> EngineStatus {
        self.0.status().borrow().clone()
    }

    /// Status changes as they happen.
    pub fn watch_status(&self) -> watch::Receiver<EngineStatus> {
        self.0.status()
    }

    /// The loaded model's facts; `None` while nothing is loaded.
    pub fn model(&self) -> Option<ModelFacts> {
        self.0.status().borrow().facts().cloned()
    }

    /// Starts a generation. Dropping the returned handle cancels it.
    pub fn generate(&self, request: GenerateRequest) -> Generation {
        let (generation, sink) = Generation::open(request.id);
        self.0.generate(request, sink);
        generation
    }
}

/// One generation's events, in order. Cancelled by `cancel`, a `Canceller`, or dropping it.
pub struct Generation {
    pub id: RequestId,
    events: mpsc::UnboundedReceiver<GenEvent>,
    cancel: Canceller,
}

impl Generation {
    /// A generation and the sink its backend reports to.
    pub fn open(id: RequestId) -> (Generation, GenerationSink) {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let generation = Generation { id, events, cancel: Canceller(Arc::new(cancel_tx)) };
        (generation, GenerationSink { events: events_tx, cancel: cancel_rx })
    }

    /// The next event; `None` once the backend has let go of the generation.
    pub async fn next(&mut self) -> Option<GenEvent> {
        self.events.recv().await
    }

    /// An event that already arrived, without waiting.
    pub fn try_next(&mut self) -> Option<GenEvent> {
        self.events.try_recv().ok()
    }

    /// Asks the backend to stop; it still reports how the generation ended.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn canceller(&self) -> Canceller {
        self.cancel.clone()
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Cancels one generation from elsewhere.
#[derive(Clone)]
pub struct Canceller(Arc<watch::Sender<bool>>);

impl Canceller {
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    /// True once the backend has let go of the generation (it ended).
    pub fn is_finished(&self) -> bool {
        self.0.is_closed()
    }
}

/// The backend's side of a generation.
#[derive(Clone)]
pub struct GenerationSink {
    events: mpsc::UnboundedSender<GenEvent>,
    cancel: watch::Receiver<bool>,
}

impl GenerationSink {
    pub fn send(&self, event: GenEvent) {
        let _ = self.events.send(event);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow() || self.events.is_closed()
    }

    /// Resolves once the generation is cancelled (or nobody can cancel it any more).
    pub async fn cancelled(&mut self) {
        let _ = self.cancel.wait_for(|cancelled| *cancelled).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node has no loader: loading a model there is refused, never silently ignored.
    #[tokio::test]
    async fn a_node_serves_its_own_model_and_loads_none() {
        let node = crate::remote::NodeSpec::new("n", "http://127.0.0.1:9/v1").unwrap();
        let engine = crate::remote::connect(node).unwrap();
        assert!(!engine.loads_models());
        assert_eq!(engine.load(ModelSpec { source: "/models/x.gguf".into(), ..ModelSpec::default() }), Err(ServesItsOwnModel));
    }

    #[tokio::test]
    async fn dropping_a_generation_cancels_it() {
        let (generation, mut sink) = Generation::open(7);
        assert!(!sink.is_cancelled());
        drop(generation);
        tokio::time::timeout(std::time::Duration::from_secs(1), sink.cancelled()).await.expect("cancelled");
        assert!(sink.is_cancelled());
    }

    #[tokio::test]
    async fn a_canceller_cancels_while_the_events_keep_coming() {
        let (mut generation, mut sink) = Generation::open(7);
        generation.canceller().cancel();
        sink.cancelled().await;
        sink.send(GenEvent::Token("late".into()));
        assert_eq!(generation.next().await, Some(GenEvent::Token("late".into())));
    }
}
