//! `llamadeck bench`: load time, prefill and decode speed, time to first token and peak RSS,
//! measured through the engine's face, as the console and the API use it (in the spirit of
//! llama-bench: a fixed prompt length, greedy decoding, the median over several runs after one
//! warm-up). Any backend: the model here, or a node (`--connect`), whose speed is then what its
//! clients see over HTTP, and whose memory is its own (not reported here).
mod conversation;

pub use conversation::{ConversationReport, run_conversation};

use super::events::{EngineEvent, StatusEvents};
use super::face::{Engine, GenEvent, GenerateRequest, Priority};
use super::spec::{CpuWeights, Run};
use anyhow::{Context, bail};
use llamadeck_words::chat::{ChatMessage, FinishReason, GenStats, Role};
use llamadeck_words::sampling::Sampling;
use std::fmt;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchArgs {
    /// What is measured: a model here (with how to run it) or a node.
    pub run: Run,
    pub prompt_tokens: usize,
    pub prompt: Option<String>,
    pub gen_tokens: usize,
    pub runs: usize,
    pub threads: Option<usize>,
    pub soak: usize,
}

impl BenchArgs {
    /// Whether what is measured runs in this process (its memory is then this process's).
    fn here(&self) -> bool {
        matches!(self.run, Run::Local(_))
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub model: String,
    /// What ran it: `cpu`, `cuda:0`, or `node NAME at ADDRESS`.
    pub device: String,
    pub threads: Option<usize>,
    pub cpu_weights: CpuWeights,
    #[serde(serialize_with = "secs")]
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
    /// Resident set right after loading, after the warm-up and measured runs, and after the
    /// soak requests (allocator pools settle during the first requests; growth after them is
    /// what a leak looks like).
    pub rss_after_load_bytes: Option<u64>,
    pub rss_after_runs_bytes: Option<u64>,
    pub rss_after_soak_bytes: Option<u64>,
    pub soak_requests: usize,
    /// What the first measured run generated (greedy), to compare with another engine.
    pub text: String,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Measures the engine `start` makes and starts on `args.run` (called after `--threads` is in
/// the environment).
pub fn run(args: BenchArgs, start: impl FnOnce() -> Result<Engine, String>) -> anyhow::Result<BenchReport> {
    if args.runs == 0 || args.gen_tokens < 2 {
        bail!("runs must be at least 1 and gen-tokens at least 2");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // A remote engine takes the runtime it is made in.
    let _inside = runtime.enter();
    let started = Instant::now();
    let engine = start_with_threads(args.threads, start).map_err(anyhow::Error::msg)?;
    runtime.block_on(bench(engine, started, args))
}

/// `start` with RAYON_NUM_THREADS set first, when `threads` says so.
fn start_with_threads(threads: Option<usize>, start: impl FnOnce() -> Result<Engine, String>) -> Result<Engine, String> {
    use_threads(threads);
    start()
}

/// Sets RAYON_NUM_THREADS to `threads`, when given, for the model's thread pool (`--threads` of
/// bench, serve and the console). Call it from `main`'s thread before any other thread starts:
/// rayon reads it once, when the engine first computes.
pub fn use_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        // SAFETY: the callers run it on the main thread before the runtime, the engine thread
        // (and with it rayon's pool) or any other thread that reads the environment exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
}

/// Waits until the engine, started at `started`, serves a model; its name and how long that
/// took. What loading decided (the estimate, a re-encoding) goes to stderr, beside the table.
async fn ready(engine: &Engine, started: Instant) -> anyhow::Result<(String, Duration)> {
    let mut status = engine.watch_status();
    let mut events = StatusEvents::default();
    loop {
        for event in events.next(&status.borrow_and_update()) {
            match event {
                EngineEvent::Loaded { model, .. } => return Ok((model, started.elapsed())),
                EngineEvent::LoadFailed { reason } => bail!("loading failed: {reason}"),
                EngineEvent::LoadStage { stage } => eprintln!("load: {}", llamadeck_words::text::sanitize(&stage)),
                EngineEvent::LoadWarning { warning } => eprintln!("warning: {}", llamadeck_words::text::sanitize(&warning)),
                _ => {}
            }
        }
        status.changed().await.context("the engine stopped")?;
    }
}

async fn bench(engine: Engine, started: Instant, args: BenchArgs) -> anyhow::Result<BenchReport> {
    let (model, load) = ready(&engine, started).await?;
    let here = args.here();
    let rss = || llamadeck_gpu::resident_bytes().filter(|_| here);
    let rss_after_load = rss();

    one_request(&engine, 0, &args).await?; // the warm-up
    let mut measured = Vec::new();
    let mut text = String::new();
    for run in 1..=args.runs {
        let (stats, generated) = one_request(&engine, run, &args).await?;
        if run == 1 {
            text = generated;
        }
        measured.push(stats);
    }
    let rss_after_runs = rss();
    for run in args.runs + 1..=args.runs + args.soak {
        one_request(&engine, run, &args).await?;
    }
    let (device, cpu_weights) = match &args.run {
        Run::Local(spec) => (spec.device.clone(), spec.cpu_weights),
        Run::Node(node) => (format!("node {} at {}", node.name, node.address()), CpuWeights::default()),
    };
    Ok(BenchReport {
        model,
        device,
        threads: args.threads,
        cpu_weights,
        rss_after_load_bytes: rss_after_load,
        rss_after_runs_bytes: rss_after_runs,
        rss_after_soak_bytes: rss(),
        soak_requests: args.soak,
        text,
        load,
        runs: args.runs,
        prompt_tokens: median_of(&measured, |s| s.prompt_tokens as f64) as usize,
        completion_tokens: median_of(&measured, |s| s.completion_tokens as f64) as usize,
        ttft_ms: median_of(&measured, |s| s.ttft_ms.unwrap_or(0) as f64),
        prefill_tok_s: median_of(&measured, |s| s.prefill_tok_s.unwrap_or(0.0)),
        decode_tok_s: median_of(&measured, |s| s.decode_tok_s.unwrap_or(0.0)),
        peak_rss_bytes: llamadeck_gpu::peak_resident_bytes().filter(|_| here),
        vram_bytes: own_vram().filter(|_| here),
    })
}

/// One greedy raw-prompt request; its stats and text.
async fn one_request(engine: &Engine, run: usize, args: &BenchArgs) -> anyhow::Result<(GenStats, String)> {
    let request = GenerateRequest {
        id: run as u64,
        messages: vec![ChatMessage { role: Role::User, content: run_prompt(args, run), tool: None }],
        sampling: Sampling { temperature: 0.0, max_tokens: args.gen_tokens as u32, raw_mode: true, ..Sampling::default() },
        priority: Priority::Queued,
        options: Default::default(),
    };
    let mut generation = engine.generate(request);
    let mut text = String::new();
    loop {
        match generation.next().await.context("the engine stopped")? {
            GenEvent::Token(t) => text.push_str(&t),
            GenEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, stats } => return Ok((stats, text)),
            GenEvent::Finished { reason, .. } => bail!("run {run} ended with {}", reason.label()),
            GenEvent::Failed(error) => bail!("run {run} failed: {}", error.message),
            GenEvent::Started { .. } | GenEvent::Unsupported(_) | GenEvent::Logprobs(_) | GenEvent::ToolCalls(_) => {}
        }
    }
}

/// The prompt of run `run` (0 is the warm-up). Each starts differently, so that no run finds an
/// earlier one's prompt cached, nor is answered from its recording (a greedy repeat is, see the
/// mistral backend's `replay`): every run reads its whole prompt, as the peer does after its
/// reset. Run 1 of `--prompt` is that prompt as given (its text is what gets compared).
fn run_prompt(args: &BenchArgs, run: usize) -> String {
    match &args.prompt {
        Some(prompt) if run == 1 => prompt.clone(),
        Some(_) if run == 0 => prompt_text(8),
        Some(prompt) => format!("({run}) {prompt}"),
        None => format!("{run} {}", prompt_text(args.prompt_tokens)),
    }
}

/// Plain English words, about one token each with any common tokenizer.
fn prompt_text(tokens: usize) -> String {
    const WORDS: [&str; 16] =
        ["the", "server", "room", "was", "quiet", "while", "every", "fan", "kept", "the", "cards", "cool", "and", "the", "logs", "grew"];
    (0..tokens.max(1)).map(|i| WORDS[i % WORDS.len()]).collect::<Vec<_>>().join(" ")
}

fn median_of(stats: &[GenStats], f: impl Fn(&GenStats) -> f64) -> f64 {
    median(stats.iter().map(f).collect())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// GPU memory NVML attributes to this process, summed over the cards.
fn own_vram() -> Option<u64> {
    let snapshot = llamadeck_gpu::open_source().sample();
    let own = snapshot.devices.iter().flat_map(|d| &d.processes).filter(|p| p.is_self);
    own.map(|p| p.memory).sum::<Option<u64>>().filter(|&b| b > 0)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let threads = self.threads.map_or_else(|| "all".to_string(), |n| n.to_string());
        let weights = if self.device == "cpu" { format!(", cpu_weights {}", self.cpu_weights.label()) } else { String::new() };
        writeln!(f, "model     {}  ({}, threads {threads}{weights})", self.model, self.device)?;
        writeln!(f, "load      {:.2} s", self.load.as_secs_f64())?;
        writeln!(f, "prefill   {:>5} tokens  {:>8.1} tok/s   ttft {:.0} ms", self.prompt_tokens, self.prefill_tok_s, self.ttft_ms)?;
        writeln!(f, "decode    {:>5} tokens  {:>8.1} tok/s", self.completion_tokens, self.decode_tok_s)?;
        match self.peak_rss_bytes {
            Some(b) => writeln!(f, "peak RSS  {:.0} MiB", mib(b))?,
            None if self.device.starts_with("node ") => writeln!(f, "peak RSS  the node's own (see its metrics)")?,
            None => writeln!(f, "peak RSS  unavailable")?,
        }
        if let (Some(load), Some(runs)) = (self.rss_after_load_bytes, self.rss_after_runs_bytes) {
            writeln!(f, "RSS       {:.0} MiB after load, {:.0} MiB after the runs", mib(load), mib(runs))?;
            if let Some(soak) = self.rss_after_soak_bytes.filter(|_| self.soak_requests > 0) {
                writeln!(
                    f,
                    "          {:.0} MiB after {} more requests ({:+.1} MiB)",
                    mib(soak),
                    self.soak_requests,
                    mib(soak) - mib(runs)
                )?;
            }
        }
        if let Some(b) = self.vram_bytes {
            writeln!(f, "VRAM      {:.0} MiB (NVML, this process)", mib(b))?;
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

    #[test]
    fn no_two_runs_share_a_prompt_and_a_given_prompt_is_measured_as_given() {
        let args = |prompt: Option<&str>| BenchArgs {
            run: Run::Local(crate::spec::ModelSpec::default()),
            prompt_tokens: 4,
            prompt: prompt.map(str::to_string),
            gen_tokens: 2,
            runs: 1,
            threads: None,
            soak: 0,
        };
        let words = args(None);
        let prompts: Vec<String> = (0..120).map(|run| run_prompt(&words, run)).collect();
        let mut unique = prompts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), prompts.len());
        // None starts as another does (a prefix shared in full would be covered by its answer).
        assert!(prompts.iter().enumerate().all(|(i, a)| prompts.iter().enumerate().all(|(j, b)| i == j || !b.starts_with(a.as_str()))));
        let given = args(Some("Why is the sky blue?"));
        assert_eq!(run_prompt(&given, 1), "Why is the sky blue?");
        assert_ne!(run_prompt(&given, 0), run_prompt(&given, 1));
        assert_ne!(run_prompt(&given, 2), run_prompt(&given, 1));
    }
}
