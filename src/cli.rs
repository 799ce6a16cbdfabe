//! The command line: what each subcommand accepts. Parsing only; `startup` wires each one.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::engine::CpuWeights;

#[derive(Debug, Parser)]
#[command(name = "llamadeck", version, about = "Terminal console for running Llama-2 with mistral.rs on your own GPU servers")]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/llamadeck/config.yaml).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Model to load: a local Hugging Face directory, a .gguf file, or a hub id.
    #[arg(long, value_name = "PATH_OR_HUB_ID", global = true)]
    pub model: Option<String>,
    /// Serve the API on a non-loopback address without server.api_key.
    #[arg(long, global = true)]
    pub insecure: bool,
    #[command(subcommand)]
    pub command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Measure load time, prefill and decode speed, first-token time and peak memory.
    Bench(BenchCli),
    /// Serve the OpenAI-compatible API without the console (for systemd; logs to stderr).
    Serve(ServeCli),
    /// Print the GPU panel's readings (NVML) as lines, in nvidia-smi's column order; exit 1 without NVML.
    Gpu(GpuCli),
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchCli {
    /// Prompt length in tokens (approximate; the report shows the exact count).
    #[arg(long, default_value_t = 128)]
    pub prompt_tokens: usize,
    /// A prompt of your own instead of `--prompt-tokens` words (for comparing greedy output).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Tokens to generate per run.
    #[arg(long, default_value_t = 64)]
    pub gen_tokens: usize,
    /// Measured runs (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// CPU threads (RAYON_NUM_THREADS); default: all cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// "cpu" or "cuda:N".
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// In-situ quantization for safetensors models, e.g. Q4K.
    #[arg(long)]
    pub isq: Option<String>,
    /// GGUF weights on CPU (as `model.cpu_weights` in the config).
    #[arg(long, value_enum, default_value_t = CpuWeights::Auto)]
    pub cpu_weights: CpuWeights,
    /// After the measured runs, this many more requests, then the resident set again: memory
    /// that grows per request shows up as the difference.
    #[arg(long, default_value_t = 0)]
    pub soak: usize,
    /// One JSON object instead of the table (for scripts/bench).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeCli {
    /// Address to bind (default: the config's server.host, 127.0.0.1).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Port to bind (default: the config's server.port, 8229; 0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Append logs to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GpuCli {
    /// Readings to print; each prints one line per GPU.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: u32,
    /// Milliseconds between readings (at least 100).
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
}
