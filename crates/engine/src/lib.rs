//! The model engine, behind one face (`face`): the chat pane, the API server and the bench ask
//! and cancel through [`Engine`] and never see the backend. The in-process backend (mistral.rs on
//! its own thread) is the crate `llamadeck-mistral`, the only one that names a mistral.rs or
//! candle type; `remote/` is any OpenAI-compatible server over HTTP (a node of a fleet).
//! `spec` says what to run (`Run`: a model here, or a node), `events` is the console's view of the face, `stats` and `stop` are
//! the per-answer timing and stop-string matching any backend uses, `bench` measures any
//! backend through the face, and `demo` fetches the demo model (`llamadeck fetch-demo`).
pub mod bench;
pub mod demo;
pub mod events;
pub mod face;
pub mod remote;
pub mod spec;
pub mod stats;
pub mod stop;

pub use events::{EngineCommand, EngineEvent};
pub use face::{
    AnswerFormat, AnswerOptions, Backend, Canceller, ChatFormat, Engine, EngineStatus, GenError, GenErrorKind, GenEvent, GenerateRequest,
    Generation, GenerationSink, LoadModel, LoadState, ModelFacts, PrefixCacheStats, Priority, ServesItsOwnModel, TokenLogprob, ToolChoice,
    ToolSpec,
};
pub use spec::{CpuWeights, ModelSpec, PagedAttention, PrefixCache, Run, demo_model_path};
