//! The engine's interface: commands in, events out. The console and the API server talk
//! to any engine through these types; tests drive a scripted engine with them.
use crate::app::sampling::Sampling;

pub type RequestId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// Which model to load and how.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelSpec {
    /// Local directory, local `.gguf` file, or a hub id the user asked for.
    pub source: String,
    /// In-situ quantization, e.g. "Q4K".
    pub isq: Option<String>,
    /// "cpu" or "cuda:N".
    pub device: String,
    /// A chat template file overriding the model's own.
    pub chat_template: Option<String>,
    /// How GGUF weights are held when running on CPU.
    pub cpu_weights: CpuWeights,
}

impl CpuWeights {
    pub fn label(self) -> &'static str {
        match self {
            CpuWeights::Auto => "auto",
            CpuWeights::Native => "native",
            CpuWeights::Q8_0 => "q8_0",
            CpuWeights::F32 => "f32",
        }
    }
}

/// The weight format for GGUF models on CPU (see `engine::reencode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
pub enum CpuWeights {
    /// Re-encode only the types candle computes without SIMD (Q4_1, Q5_0, Q5_1) as Q8_0.
    #[default]
    #[serde(rename = "auto")]
    #[value(name = "auto")]
    Auto,
    /// Load the file as it is.
    #[serde(rename = "native")]
    #[value(name = "native")]
    Native,
    /// Every quantized matrix as Q8_0.
    #[serde(rename = "q8_0")]
    #[value(name = "q8_0")]
    Q8_0,
    /// Every matrix as dense F32: fastest prompt processing, 4 bytes a weight.
    #[serde(rename = "f32")]
    #[value(name = "f32")]
    F32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub id: RequestId,
    /// Full conversation including the system prompt; in raw mode the last user message is the prompt.
    pub messages: Vec<ChatMessage>,
    pub sampling: Sampling,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineCommand {
    Load(ModelSpec),
    Generate(GenerateRequest),
    Cancel(RequestId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    Stopped,
    Error,
}

impl FinishReason {
    pub fn label(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Stopped => "stopped",
            FinishReason::Error => "error",
        }
    }
}

/// Per-answer statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenStats {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub ttft_ms: Option<u64>,
    /// Tokens after the first divided by the time since the first.
    pub decode_tok_s: Option<f64>,
    pub prefill_tok_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A loading stage, for the chat pane ("reading weights", "quantizing"...).
    LoadStage { stage: String },
    Loaded { model: String, context_len: usize },
    LoadFailed { reason: String },
    Token { id: RequestId, text: String },
    Finished { id: RequestId, reason: FinishReason, stats: GenStats },
    Failed { id: RequestId, error: String },
    /// The conversation outgrew the context: the oldest exchanges were left out of this request.
    Trimmed { id: RequestId, dropped_messages: usize },
    /// Settings mistralrs cannot honour, so the settings pane can say so.
    Unsupported { id: RequestId, what: Vec<String> },
}
