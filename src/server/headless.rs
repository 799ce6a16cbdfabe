//! `llamadeck serve`: the API without the console, for systemd. Logs go to stderr (or
//! `--log-file`); SIGTERM/SIGINT stop accepting, give answers in flight a few seconds, and exit 0.
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{ServerOptions, start};
use crate::engine::protocol::{EngineCommand, EngineEvent};
use crate::startup::{Cli, load_config, model_spec};

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

/// How long answers in flight may run on after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

pub fn run_cli(cli: &Cli, args: &ServeCli) -> i32 {
    let (loaded, _) = match load_config(cli) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("llamadeck: {e}");
            return 2;
        }
    };
    let mut config = loaded.config.clone();
    config.server.enabled = true;
    if let Some(host) = &args.host {
        config.server.host = host.clone();
    }
    if let Some(port) = args.port {
        config.server.port = port;
    }
    if !cli.insecure
        && let Err(e) = crate::config::check_server_exposure(&config)
    {
        eprintln!("llamadeck: server.host: {e}");
        return 2;
    }
    if let Err(e) = init_logging(args.log_file.as_deref()) {
        eprintln!("llamadeck: cannot open the log file: {e}");
        return 2;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llamadeck: cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(serve(cli, &config));
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn serve(cli: &Cli, config: &crate::config::Config) -> i32 {
    let options = ServerOptions::from_config(config);
    if options.api_key.is_none() && !crate::config::is_loopback_host(&options.host) {
        tracing::warn!("serving on {} without an API key (--insecure)", options.host);
    }
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let engine = crate::engine::spawn_engine(events_tx);
    let gpu = crate::gpu::spawn_sampler(crate::gpu::open_source(), Duration::from_millis(config.gpu.interval_ms));
    // Bind first, so that requests during loading get a 503 naming the stage.
    let server = match start(engine.clone(), &options, Some(gpu), None).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("llamadeck: {e}");
            return 1;
        }
    };
    eprintln!("llamadeck: serving the OpenAI-compatible API on http://{}/v1", server.addr);
    let spec = model_spec(config, cli.model.as_deref());
    tracing::info!("loading {}", spec.source);
    engine.send(EngineCommand::Load(spec));
    let mut signals = match crate::startup::shutdown_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("llamadeck: cannot install signal handlers: {e}");
            return 1;
        }
    };
    let code = loop {
        tokio::select! {
            Some(name) = signals.recv() => {
                tracing::info!("{name}: shutting down");
                break 0;
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("SIGINT: shutting down");
                break 0;
            }
            event = events.recv() => match event {
                Some(EngineEvent::LoadStage { stage }) => tracing::info!("loading: {stage}"),
                Some(EngineEvent::Loaded { model, context_len }) => {
                    tracing::info!("loaded {model} ({context_len}-token context)");
                    eprintln!("llamadeck: model {model} loaded; ready");
                }
                Some(EngineEvent::LoadFailed { reason }) => {
                    tracing::error!("loading failed: {reason}");
                    eprintln!("llamadeck: loading failed: {reason}");
                    break 1;
                }
                Some(_) => {}
                None => break 1,
            },
        }
    };
    server.stop(GRACE).await;
    code
}

/// Logs to stderr, or appended to `file`. RUST_LOG filters (default info).
fn init_logging(file: Option<&std::path::Path>) -> std::io::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            builder.with_ansi(false).with_writer(std::sync::Mutex::new(file)).init();
        }
        None => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).with_writer(std::io::stderr).init(),
    }
    Ok(())
}
