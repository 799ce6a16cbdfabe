//! The config file's shape. Every section has defaults, so a missing file or section is fine;
//! unknown keys are errors.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::nodes::NodeConfig;
use llamadeck_engine::{CpuWeights, ModelSpec, PagedAttention, PrefixCache, demo_model_path};
use llamadeck_words::sampling::{PresetValues, Sampling};
use llamadeck_words::theme::Theme;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub model: ModelConfig,
    pub sampling: Sampling,
    /// The preset selected at start (a built-in or one under `presets:`); none keeps `sampling:` as is.
    pub preset: Option<String>,
    pub presets: BTreeMap<String, PresetValues>,
    pub gpu: GpuConfig,
    pub server: ServerConfig,
    pub ui: UiConfig,
    /// Command name -> key list, over the default keymap, e.g. `quit: ["ctrl+q"]`.
    pub keys: BTreeMap<String, Vec<String>>,
    /// Other inference servers to chat with and watch (the fleet).
    pub nodes: Vec<NodeConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Local HF directory, local `.gguf` file, or a hub id; none = the demo model.
    pub path: Option<String>,
    /// In-situ quantization: Q4K, Q5K, Q6K, Q8_0...
    pub isq: Option<String>,
    /// "cpu" or "cuda:N".
    pub device: String,
    pub chat_template: Option<String>,
    /// GGUF weights on CPU: auto, native, q8_0 or f32.
    pub cpu_weights: CpuWeights,
    /// A `path` that is not on this machine may be fetched from the Hugging Face hub; off, a
    /// typo is an error and nothing reaches the network.
    pub allow_download: bool,
    /// Load even when the memory estimate says the model does not fit.
    pub skip_memory_check: bool,
    /// The prefix cache's budget: off, auto, a size (512 MiB) or a count (8 sequences).
    pub prefix_cache: PrefixCache,
    /// On a GPU, answers share a pool of key/value blocks: auto, off, or a share such as 80%.
    pub paged_attention: PagedAttention,
}

/// What the command line chose about the model. Kept for as long as the console runs, so that
/// F5, which reads the config file again, keeps each choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    /// `--model PATH_OR_HUB_ID`.
    pub model: Option<String>,
    /// `--allow-download`.
    pub allow_download: bool,
    /// `--connect`: the base URL of the server the chat talks to instead of a model here.
    pub connect: Option<String>,
    /// `--host`, over `server.host`.
    pub host: Option<String>,
    /// `--port`, over `server.port`.
    pub port: Option<u16>,
    /// `--no-api`: `server.enabled: false` for this run.
    pub no_api: bool,
}

impl Config {
    /// The config with the command line's server choices (`--host`, `--port`, `--no-api`) over
    /// the file's `server:` section.
    pub fn with_launch(mut self, launch: &Launch) -> Config {
        if let Some(host) = &launch.host {
            self.server.host = host.clone();
        }
        if let Some(port) = launch.port {
            self.server.port = port;
        }
        if launch.no_api {
            self.server.enabled = false;
        }
        self
    }

    /// What to load for `launch`: the config's model settings with the command line's choices
    /// over them. With `--connect` the source is the server's base URL (nothing is loaded here).
    pub fn launch_spec(&self, launch: &Launch) -> ModelSpec {
        let mut spec = self.model_spec(launch.model.as_deref());
        spec.allow_download |= launch.allow_download;
        if let Some(url) = &launch.connect {
            spec.source = url.clone();
        }
        spec
    }

    /// What to load: `cli_model` (`--model`), else `model.path`, else the demo model.
    pub fn model_spec(&self, cli_model: Option<&str>) -> ModelSpec {
        let source = cli_model
            .map(str::to_string)
            .or_else(|| self.model.path.clone())
            .unwrap_or_else(|| demo_model_path().to_string_lossy().into_owned());
        ModelSpec {
            source,
            isq: self.model.isq.clone(),
            device: self.model.device.clone(),
            chat_template: self.model.chat_template.clone(),
            cpu_weights: self.model.cpu_weights,
            allow_download: self.model.allow_download,
            skip_memory_check: self.model.skip_memory_check,
            prefix_cache: self.model.prefix_cache,
            paged_attention: self.model.paged_attention,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            path: None,
            isq: None,
            device: "cpu".into(),
            chat_template: None,
            cpu_weights: CpuWeights::Auto,
            allow_download: false,
            skip_memory_check: false,
            prefix_cache: PrefixCache::Auto,
            paged_attention: PagedAttention::Auto,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuConfig {
    /// How often NVML is read, in milliseconds (100..=60000).
    pub interval_ms: u64,
    /// How much history the sparklines keep, in seconds (10..=3600).
    pub history_secs: u64,
}

impl Default for GpuConfig {
    fn default() -> Self {
        Self { interval_ms: 1000, history_secs: 120 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    /// Required when `host` is not a loopback address.
    pub api_key: Option<String>,
    /// Web pages allowed to call (CORS); requests from any other page get 403.
    pub cors_origins: Vec<String>,
    /// Host names requests may be addressed to besides localhost, IP addresses and `host`.
    pub allowed_hosts: Vec<String>,
    /// Connections served at once; more are answered 503.
    pub max_connections: usize,
    /// Connections one client address may hold at once; more from it are answered 503.
    pub max_connections_per_client: usize,
    /// Seconds a request's headers may take; an idle connection is closed after as long.
    pub header_timeout_secs: u64,
    /// Seconds a request's body may take.
    pub body_timeout_secs: u64,
    /// Requests one client address may have waiting for the model; more are answered 429.
    pub max_queued_per_client: usize,
    /// The most tokens an API request may ask for, and what it gets when it asks for none.
    pub max_tokens: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 8229,
            api_key: None,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_connections: 256,
            max_connections_per_client: 32,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_queued_per_client: 4,
            max_tokens: 2048,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// Colour unless NO_COLOR is set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorMode {
    /// The theme for this setting and the NO_COLOR variable's value.
    pub fn theme(self, no_color_env: Option<&str>) -> Theme {
        match self {
            ColorMode::Always => Theme::COLOR,
            ColorMode::Never => Theme::PLAIN,
            // https://no-color.org: any non-empty value disables colour.
            ColorMode::Auto if no_color_env.is_some_and(|v| !v.is_empty()) => Theme::PLAIN,
            ColorMode::Auto => Theme::COLOR,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Redraw cap while streaming, frames per second (1..=120).
    pub fps: u32,
    pub color: ColorMode,
    /// The one-line key-hint bar at the bottom.
    pub hints: bool,
    /// Take the mouse (wheel, clicks); false leaves it to the terminal's own selection.
    pub mouse: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { fps: 30, color: ColorMode::Auto, hints: true, mouse: true }
    }
}
