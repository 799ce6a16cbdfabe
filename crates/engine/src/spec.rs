//! What to run: a model in this process (`ModelSpec`: a model string and how to run it) or a
//! node's server (`NodeSpec`), as one `Run`. The config and the command line build it; the
//! binary's `startup::engine::open` picks the backend from it, in that one place. The in-process
//! backend decides what a model string names (a local directory, a `.gguf` file, or a hub id
//! the user asked for).
use std::path::PathBuf;

use crate::remote::NodeSpec;

/// What an engine runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    /// A model loaded into this process (mistral.rs).
    Local(ModelSpec),
    /// The model an OpenAI-compatible server serves (a node: vLLM, llama.cpp's server, another
    /// `llamadeck serve`).
    Node(NodeSpec),
}

impl Run {
    /// In words, for reports and logs: the model string, or the node and its address.
    pub fn describe(&self) -> String {
        match self {
            Run::Local(spec) => format!("{} ({})", spec.source, spec.device),
            Run::Node(node) => format!("node {} at {}", node.name, node.address()),
        }
    }
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
    /// A model string that is not a local path may be fetched from the Hugging Face hub.
    pub allow_download: bool,
    /// Load even when the memory estimate says the model does not fit.
    pub skip_memory_check: bool,
    /// How much of the conversation's key/value cache is kept for the next turn.
    pub prefix_cache: PrefixCache,
    /// Whether answers on a GPU share a pool of key/value blocks (and so batch).
    pub paged_attention: PagedAttention,
}

/// Paged attention on a GPU: the key/value cache is one pool of blocks that every answer takes
/// from as it grows, so answers of any length run side by side (mistral.rs's default scheduler
/// batches only sequences of equal length). Written `auto` (on for CUDA, with 90 % of the card's
/// memory for weights and pool together), `off`, or a share such as `80%`. The CPU never uses it.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PagedAttention {
    Off,
    #[default]
    Auto,
    /// The share of the card's memory that the weights and the block pool may fill, in (0, 1].
    Share(f32),
}

impl PagedAttention {
    /// `auto`'s share of the card's memory.
    pub const AUTO_SHARE: f32 = 0.9;

    /// The share of a GPU's memory to fill, `None` when off.
    pub fn share(self) -> Option<f32> {
        match self {
            PagedAttention::Off => None,
            PagedAttention::Auto => Some(Self::AUTO_SHARE),
            PagedAttention::Share(s) => Some(s),
        }
    }
}

impl std::str::FromStr for PagedAttention {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "off" | "false" | "no" => return Ok(PagedAttention::Off),
            "auto" | "on" | "true" | "yes" => return Ok(PagedAttention::Auto),
            _ => {}
        }
        let expected = || format!("{text:?}: expected auto, off, or a share of the GPU's memory such as 80%");
        let (number, scale) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), 100.0),
            None => (t.as_str(), 1.0),
        };
        let share = number.parse::<f32>().map_err(|_| expected())? / scale;
        if share.is_finite() && share > 0.0 && share <= 1.0 { Ok(PagedAttention::Share(share)) } else { Err(expected()) }
    }
}

impl TryFrom<String> for PagedAttention {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<PagedAttention> for String {
    fn from(p: PagedAttention) -> String {
        p.to_string()
    }
}

impl std::fmt::Display for PagedAttention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PagedAttention::Off => f.write_str("off"),
            PagedAttention::Auto => f.write_str("auto"),
            PagedAttention::Share(s) => write!(f, "{}%", (s * 100.0).round()),
        }
    }
}

/// The prefix cache's budget: the key/value copies of finished answers kept so that the next
/// turn of a conversation reads only what is new. Written `off`, `auto`, `512 MiB`, `2 GiB` or
/// `8 sequences` (in the config and on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PrefixCache {
    Off,
    /// A share of the memory left after loading, decided by the engine.
    #[default]
    Auto,
    Bytes(u64),
    Sequences(usize),
}

impl std::str::FromStr for PrefixCache {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        let expected = || format!("{text:?}: expected off, auto, a size such as 512 MiB or 2 GiB, or a count such as 8 sequences");
        match t.as_str() {
            "off" | "false" | "no" | "0" => return Ok(PrefixCache::Off),
            "auto" | "on" | "true" | "yes" => return Ok(PrefixCache::Auto),
            _ => {}
        }
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (number, unit) = (t[..split].trim(), t[split..].trim());
        let value: f64 = number.parse().map_err(|_| expected())?;
        if !value.is_finite() || value < 0.0 {
            return Err(expected());
        }
        let bytes = |scale: f64| Ok(PrefixCache::Bytes((value * scale) as u64));
        match unit {
            "mib" | "mb" | "m" => bytes((1u64 << 20) as f64),
            "gib" | "gb" | "g" => bytes((1u64 << 30) as f64),
            "sequences" | "sequence" | "seqs" if value.fract() == 0.0 && value >= 1.0 => Ok(PrefixCache::Sequences(value as usize)),
            _ => Err(expected()),
        }
    }
}

impl TryFrom<String> for PrefixCache {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<PrefixCache> for String {
    fn from(p: PrefixCache) -> String {
        p.to_string()
    }
}

impl std::fmt::Display for PrefixCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrefixCache::Off => f.write_str("off"),
            PrefixCache::Auto => f.write_str("auto"),
            PrefixCache::Bytes(b) if b % (1 << 30) == 0 && *b > 0 => write!(f, "{} GiB", b >> 30),
            PrefixCache::Bytes(b) => write!(f, "{} MiB", b >> 20),
            PrefixCache::Sequences(n) => write!(f, "{n} sequences"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{PagedAttention, PrefixCache};

    #[test]
    fn paged_attention_settings_read_and_print_back() {
        for (text, value, share) in [
            ("auto", PagedAttention::Auto, Some(0.9)),
            ("off", PagedAttention::Off, None),
            ("80%", PagedAttention::Share(0.8), Some(0.8)),
            ("0.5", PagedAttention::Share(0.5), Some(0.5)),
            ("100 %", PagedAttention::Share(1.0), Some(1.0)),
        ] {
            assert_eq!(text.parse::<PagedAttention>(), Ok(value), "{text}");
            assert_eq!(value.to_string().parse::<PagedAttention>(), Ok(value));
            assert_eq!(value.share(), share);
        }
        for bad in ["", "0%", "120%", "-0.5", "half", "1.5"] {
            assert!(bad.parse::<PagedAttention>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prefix_cache_budgets_read_and_print_back() {
        for (text, value) in [
            ("off", PrefixCache::Off),
            ("auto", PrefixCache::Auto),
            ("512 MiB", PrefixCache::Bytes(512 << 20)),
            ("2GiB", PrefixCache::Bytes(2 << 30)),
            ("8 sequences", PrefixCache::Sequences(8)),
        ] {
            assert_eq!(text.parse::<PrefixCache>(), Ok(value), "{text}");
            assert_eq!(value.to_string().parse::<PrefixCache>(), Ok(value));
        }
        for bad in ["", "lots", "-1 GiB", "1.5 sequences", "0 sequences", "3 parsecs"] {
            assert!(bad.parse::<PrefixCache>().is_err(), "{bad:?}");
        }
    }
}
