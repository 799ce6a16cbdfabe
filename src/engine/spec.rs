//! What to load: a model string and how to run it. The config builds a `ModelSpec`; a backend
//! decides what the string names (the in-process backend: a local directory, a `.gguf` file, or
//! a hub id the user asked for).
use std::path::PathBuf;

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

/// The weight format for GGUF models on CPU (see `engine::mistral::reencode`).
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

/// Where `scripts/fetch-demo-model` puts SmolLM2: `$XDG_CACHE_HOME/llamadeck/models/`.
pub fn demo_model_path() -> PathBuf {
    cache_home().join("llamadeck/models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
pub fn cache_home() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
}
