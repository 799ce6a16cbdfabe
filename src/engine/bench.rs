//! `llamadeck bench`: load time, prefill and decode speed, time to first token and peak RSS,
//! measured through the same engine the console uses (in the spirit of llama-bench: a fixed
//! prompt length, greedy decoding, the median over several runs after one warm-up).
use super::protocol::{ChatMessage, EngineCommand, EngineEvent, FinishReason, GenStats, GenerateRequest, ModelSpec, Role};
use super::{demo_model_path, spawn_engine};
use crate::app::sampling::Sampling;
use anyhow::{Context, bail};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchCli {
    /// Prompt length in tokens (approximate; the report shows the exact count).
    #[arg(long, default_value_t = 128)]
    pub prompt_tokens: usize,
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
}

#[derive(Debug, Clone)]
pub struct BenchArgs {
    pub model: PathBuf,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub runs: usize,
    pub threads: Option<usize>,
    pub device: String,
    pub isq: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BenchReport {
    pub model: String,
    pub device: String,
    pub threads: Option<usize>,
    pub load: Duration,
    pub runs: usize,
    /// Medians over the measured runs.
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub ttft_ms: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
    pub peak_rss_bytes: Option<u64>,
    /// This process's GPU memory after the runs, from NVML; `None` without a driver.
    pub vram_bytes: Option<u64>,
}

/// The `bench` subcommand: `--model` (global) or the demo model. Returns the exit code.
pub fn run_cli(cli: &crate::startup::Cli, args: &BenchCli) -> i32 {
    let model = cli.model.clone().map(PathBuf::from).unwrap_or_else(demo_model_path);
    let args = BenchArgs {
        model,
        prompt_tokens: args.prompt_tokens,
        gen_tokens: args.gen_tokens,
        runs: args.runs,
        threads: args.threads,
        device: args.device.clone(),
        isq: args.isq.clone(),
    };
    match run(args) {
        Ok(report) => {
            println!("{report}");
            0
        }
        Err(e) => {
            eprintln!("llamadeck bench: {e:#}");
            1
        }
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<BenchReport> {
    if args.runs == 0 || args.gen_tokens < 2 {
        bail!("runs must be at least 1 and gen-tokens at least 2");
    }
    if let Some(n) = args.threads {
        // SAFETY: called before the engine thread (and with it rayon's pool) exists; the bench
        // runs from `main` with no other threads reading the environment.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(bench(args))
}

async fn bench(args: BenchArgs) -> anyhow::Result<BenchReport> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let engine = spawn_engine(tx);
    let spec = ModelSpec {
        source: args.model.to_string_lossy().into_owned(),
        isq: args.isq.clone(),
        device: args.device.clone(),
        chat_template: None,
    };
    let started = Instant::now();
    engine.send(EngineCommand::Load(spec));
    let (model, load) = loop {
        match rx.recv().await.context("the engine stopped")? {
            EngineEvent::Loaded { model, .. } => break (model, started.elapsed()),
            EngineEvent::LoadFailed { reason } => bail!("loading failed: {reason}"),
            _ => {}
        }
    };

    let mut measured = Vec::new();
    for run in 0..=args.runs {
        let request = GenerateRequest {
            id: run as u64,
            messages: vec![ChatMessage { role: Role::User, content: prompt_text(args.prompt_tokens) }],
            sampling: Sampling {
                temperature: 0.0,
                max_tokens: args.gen_tokens as u32,
                raw_mode: true,
                ..Sampling::default()
            },
        };
        engine.send(EngineCommand::Generate(request));
        let stats = loop {
            match rx.recv().await.context("the engine stopped")? {
                EngineEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, stats, .. } => break stats,
                EngineEvent::Finished { reason, .. } => bail!("run {run} ended with {}", reason.label()),
                EngineEvent::Failed { error, .. } => bail!("run {run} failed: {error}"),
                _ => {}
            }
        };
        if run > 0 {
            measured.push(stats); // run 0 is the warm-up
        }
    }
    Ok(BenchReport {
        model,
        device: args.device,
        threads: args.threads,
        load,
        runs: args.runs,
        prompt_tokens: median_of(&measured, |s| s.prompt_tokens as f64) as usize,
        completion_tokens: median_of(&measured, |s| s.completion_tokens as f64) as usize,
        ttft_ms: median_of(&measured, |s| s.ttft_ms.unwrap_or(0) as f64),
        prefill_tok_s: median_of(&measured, |s| s.prefill_tok_s.unwrap_or(0.0)),
        decode_tok_s: median_of(&measured, |s| s.decode_tok_s.unwrap_or(0.0)),
        peak_rss_bytes: peak_rss(),
        vram_bytes: own_vram(),
    })
}

/// Plain English words, about one token each with any common tokenizer.
fn prompt_text(tokens: usize) -> String {
    const WORDS: [&str; 16] = [
        "the", "server", "room", "was", "quiet", "while", "every", "fan", "kept", "the", "cards", "cool", "and", "the",
        "logs", "grew",
    ];
    (0..tokens.max(1)).map(|i| WORDS[i % WORDS.len()]).collect::<Vec<_>>().join(" ")
}

fn median_of(stats: &[GenStats], f: impl Fn(&GenStats) -> f64) -> f64 {
    let mut v: Vec<f64> = stats.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// GPU memory NVML attributes to this process, summed over the cards.
fn own_vram() -> Option<u64> {
    let snapshot = crate::gpu::open_source().sample();
    let own = snapshot.devices.iter().flat_map(|d| &d.processes).filter(|p| p.is_self);
    own.map(|p| p.memory).sum::<Option<u64>>().filter(|&b| b > 0)
}

/// The process's peak resident set (VmHWM), Linux only.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threads = self.threads.map_or_else(|| "all".to_string(), |n| n.to_string());
        writeln!(f, "model     {}  ({}, threads {threads})", self.model, self.device)?;
        writeln!(f, "load      {:.2} s", self.load.as_secs_f64())?;
        writeln!(f, "prefill   {:>5} tokens  {:>8.1} tok/s   ttft {:.0} ms", self.prompt_tokens, self.prefill_tok_s, self.ttft_ms)?;
        writeln!(f, "decode    {:>5} tokens  {:>8.1} tok/s", self.completion_tokens, self.decode_tok_s)?;
        match self.peak_rss_bytes {
            Some(b) => writeln!(f, "peak RSS  {:.0} MiB", b as f64 / (1 << 20) as f64)?,
            None => writeln!(f, "peak RSS  unavailable")?,
        }
        if let Some(b) = self.vram_bytes {
            writeln!(f, "VRAM      {:.0} MiB (NVML, this process)", b as f64 / (1 << 20) as f64)?;
        }
        write!(f, "(median of {} runs after one warm-up, greedy, raw prompt)", self.runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_prompt_text() {
        let s = |n| GenStats { prompt_tokens: n, ..GenStats::default() };
        assert_eq!(median_of(&[s(3), s(1), s(2)], |g| g.prompt_tokens as f64), 2.0);
        assert_eq!(median_of(&[s(1), s(2)], |g| g.prompt_tokens as f64), 1.5);
        assert_eq!(prompt_text(3), "the server room");
    }
}
