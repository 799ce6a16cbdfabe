//! What the benches share: the overhead benches' options and loading of the demo model, and
//! medians (fleet_stream too).
use std::path::PathBuf;

use anyhow::{Context, bail};
use llamadeck_engine::EngineEvent;
use llamadeck_engine::{Engine, LoadState, ModelSpec};
use llamadeck_mistral as mistral;

pub struct Opts {
    pub runs: usize,
    pub tokens: u32,
    pub threads: usize,
    pub model: PathBuf,
}

/// `--runs N --tokens N` (or `<PREFIX>_RUNS`, `<PREFIX>_TOKENS`), RAYON_NUM_THREADS and
/// LLAMADECK_DEMO_MODEL.
pub fn opts(env_prefix: &str) -> anyhow::Result<Opts> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (runs_var, tokens_var) = (format!("{env_prefix}_RUNS"), format!("{env_prefix}_TOKENS"));
    let mut runs = env(&runs_var).map_or(Ok(5), |v| v.parse()).context(runs_var)?;
    let mut tokens = env(&tokens_var).map_or(Ok(128), |v| v.parse()).context(tokens_var)?;
    let threads = env("RAYON_NUM_THREADS").map_or(Ok(2), |v| v.parse()).context("RAYON_NUM_THREADS")?;
    let model = env("LLAMADECK_DEMO_MODEL").map(PathBuf::from).unwrap_or_else(llamadeck_engine::demo_model_path);
    // `cargo bench` adds `--bench`; anything else unknown is ignored the same way.
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse().context("--runs N")?,
            "--tokens" => tokens = args.next().context("--tokens N")?.parse().context("--tokens N")?,
            _ => {}
        }
    }
    if runs == 0 || tokens < 2 {
        bail!("--runs must be at least 1 and --tokens at least 2");
    }
    if !model.is_file() {
        bail!("no model at {} (run scripts/fetch-demo-model)", model.display());
    }
    Ok(Opts { runs, tokens, threads, model })
}

impl Opts {
    /// Sets candle's thread count; call before any other thread starts.
    pub fn pin_threads(&self) {
        // SAFETY: no other thread exists yet; candle's rayon pool reads this when it starts.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", self.threads.to_string()) };
    }
}

/// A mistral.rs engine with `spec` loaded, and what it announced.
pub async fn loaded_engine(spec: ModelSpec) -> anyhow::Result<(Engine, EngineEvent)> {
    let engine = mistral::spawn();
    let mut status = engine.watch_status();
    engine.load(spec).expect("an in-process engine loads models");
    loop {
        status.changed().await.context("the engine stopped")?;
        match status.borrow_and_update().state.clone() {
            LoadState::Ready(facts) => {
                return Ok((engine, EngineEvent::Loaded { model: facts.name, context_len: facts.context_len }));
            }
            LoadState::Failed { reason } => bail!("loading failed: {reason}"),
            LoadState::Idle | LoadState::Loading => {}
        }
    }
}

pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

pub fn preview(text: &str) -> String {
    text.chars().take(60).collect()
}
