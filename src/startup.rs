//! From the command line to a running console: arguments, config, logging, the three
//! producers, and the terminal.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tokio::sync::mpsc;
use tracing_subscriber::prelude::*;

use crate::app::State;
use crate::config::{ColorMode, Config, Keymap, Loaded};
use crate::engine::protocol::{EngineCommand, ModelSpec};
use crate::tui::event_loop::{self, Exit, LoopIo};
use crate::ui::theme::Theme;

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
    Bench(crate::engine::bench::BenchCli),
    /// Serve the OpenAI-compatible API without the console (for systemd; logs to stderr).
    Serve(crate::server::headless::ServeCli),
    /// Print the GPU panel's readings (NVML) as lines, in nvidia-smi's column order; exit 1 without NVML.
    Gpu(crate::gpu::report::GpuCli),
}

/// What to load: `--model`, else the config's `model.path`, else the demo model.
pub fn model_spec(config: &Config, cli_model: Option<&str>) -> ModelSpec {
    let source = cli_model
        .map(str::to_string)
        .or_else(|| config.model.path.clone())
        .unwrap_or_else(|| crate::engine::demo_model_path().to_string_lossy().into_owned());
    ModelSpec {
        source,
        isq: config.model.isq.clone(),
        device: config.model.device.clone(),
        chat_template: config.model.chat_template.clone(),
        cpu_weights: config.model.cpu_weights,
    }
}

pub fn theme(color: ColorMode, no_color_env: Option<&str>) -> Theme {
    match color {
        ColorMode::Always => Theme::COLOR,
        ColorMode::Never => Theme::PLAIN,
        // https://no-color.org: any non-empty value disables colour.
        ColorMode::Auto if no_color_env.is_some_and(|v| !v.is_empty()) => Theme::PLAIN,
        ColorMode::Auto => Theme::COLOR,
    }
}

/// The log file under the XDG state dir; never the terminal.
pub fn log_path() -> PathBuf {
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("llamadeck")
        .join("llamadeck.log")
}

/// Config errors are reported here, before the terminal is touched.
pub fn load_config(cli: &Cli) -> Result<(Loaded, Keymap), String> {
    let loaded = crate::config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    let path = loaded.path.display().to_string();
    let keymap = Keymap::from_config(&loaded.config.keys).map_err(|(cmd, msg)| format!("{path}: keys.{cmd}: {msg}"))?;
    Ok((loaded, keymap))
}

/// Opens the console. Returns the process exit code.
pub fn run_console(cli: Cli) -> i32 {
    let (loaded, keymap) = match load_config(&cli) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("llamadeck: {e}");
            return 2;
        }
    };
    let log = log_path();
    let (engine_stages_tx, engine_stages_rx) = mpsc::unbounded_channel();
    let _log_guard = match init_logging(&log, Some(engine_stages_tx)) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("llamadeck: cannot open the log file {}: {e}", log.display());
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llamadeck: cannot start the runtime: {e}");
            return 1;
        }
    };
    crate::tui::terminal::install_panic_hook(log.display().to_string());
    let result = runtime.block_on(console(cli, loaded, keymap, engine_stages_rx));
    crate::tui::terminal::restore();
    // The engine thread may still be loading; don't wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(Exit::Quit | Exit::InputClosed) => 0,
        Ok(Exit::Signal(name)) => {
            tracing::info!("exiting on {name}");
            0
        }
        Err(e) => {
            eprintln!("llamadeck: {e:#}");
            1
        }
    }
}

async fn console(
    cli: Cli,
    loaded: Loaded,
    keymap: Keymap,
    stage_rx: mpsc::UnboundedReceiver<crate::engine::protocol::EngineEvent>,
) -> anyhow::Result<Exit> {
    let config = loaded.config;
    let spec = model_spec(&config, cli.model.as_deref());
    let theme = theme(config.ui.color, std::env::var("NO_COLOR").ok().as_deref());

    let gpu_rx = crate::gpu::spawn_sampler(crate::gpu::open_source(), Duration::from_millis(config.gpu.interval_ms));
    let (events_tx, engine_rx) = mpsc::unbounded_channel();
    forward(stage_rx, events_tx.clone());
    let engine = crate::engine::spawn_engine(events_tx);
    let (server_tx, server_rx) = mpsc::unbounded_channel();
    // Kept until the console exits; a port in use is shown in the status bar.
    let _api = crate::server::start_for_console(&config, cli.insecure, engine.clone(), gpu_rx.clone(), server_tx).await;
    let (engine_tx, mut commands) = mpsc::unbounded_channel::<EngineCommand>();
    tokio::spawn(async move {
        while let Some(command) = commands.recv().await {
            engine.send(command);
        }
    });
    engine_tx.send(EngineCommand::Load(spec.clone()))?;
    let shutdown_rx = shutdown_signals()?;

    let mut state = State::new(&config, keymap, spec, theme, Instant::now());
    let mut terminal = crate::tui::terminal::enter()?;
    let io = LoopIo {
        terminal_events: crossterm::event::EventStream::new(),
        engine_tx,
        engine_rx,
        gpu_rx,
        shutdown_rx,
        config_path: loaded.path,
        fps: config.ui.fps,
        server_rx,
        data_dir: crate::store::data_dir(),
        clipboard: Some(Box::new(|bytes: &[u8]| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        })),
    };
    let result = event_loop::run(&mut terminal, &mut state, io).await;
    crate::tui::terminal::restore();
    result.map(|(exit, _)| exit)
}

fn forward<T: Send + 'static>(mut rx: mpsc::UnboundedReceiver<T>, tx: mpsc::UnboundedSender<T>) {
    tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            if tx.send(item).is_err() {
                break;
            }
        }
    });
}

/// SIGTERM and SIGHUP (a dropped SSH session) end the console cleanly.
pub fn shutdown_signals() -> std::io::Result<mpsc::UnboundedReceiver<&'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
    for (kind, name) in [(SignalKind::terminate(), "SIGTERM"), (SignalKind::hangup(), "SIGHUP")] {
        let mut stream = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                start_exit_watchdog(name);
                if tx.send(name).is_err() {
                    break;
                }
            }
        });
    }
    Ok(rx)
}

/// A loop stuck writing to a terminal nobody reads any more must not make the process
/// ignore the signal: the clean exit (which saves the conversation) gets this long, then the
/// process ends regardless.
const EXIT_GRACE: Duration = Duration::from_secs(15);

fn start_exit_watchdog(signal: &'static str) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(move || {
            std::thread::sleep(EXIT_GRACE);
            tracing::error!("no clean exit {}s after {signal}; ending the process", EXIT_GRACE.as_secs());
            std::process::exit(1);
        });
    });
}

/// Logs to a file (RUST_LOG filters, default info); mistralrs's loading stages also go to the console.
pub fn init_logging(
    path: &Path,
    stages: Option<mpsc::UnboundedSender<crate::engine::protocol::EngineEvent>>,
) -> std::io::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false);
    let stage_layer = stages.map(crate::engine::stage_layer);
    tracing_subscriber::registry().with(filter).with(fmt).with(stage_layer).init();
    Ok(guard)
}

