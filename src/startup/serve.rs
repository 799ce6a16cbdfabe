//! `llamadeck serve`: the API without the console, for systemd. Logs go to stderr (or
//! `--log-file`); SIGTERM/SIGINT stop accepting, give answers in flight a few seconds, and exit 0.
use std::time::Duration;

use crate::cli::{Cli, ServeCli};
use llamadeck_config::Config;
use llamadeck_engine::events::StatusEvents;
use llamadeck_engine::{EngineEvent, Run};
use llamadeck_server::{ServerOptions, start};

/// How long answers in flight may run on after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

pub fn run(cli: &Cli, args: &ServeCli) -> i32 {
    llamadeck_engine::bench::use_threads(cli.threads);
    let (loaded, _) = match llamadeck_config::load_with_keymap(cli.config.as_deref()) {
        Ok(ok) => ok,
        Err(e) => {
            super::say(&e);
            return 2;
        }
    };
    let mut config = loaded.config.clone().with_launch(&cli.launch());
    config.server.enabled = true;
    if !cli.insecure
        && let Err(e) = llamadeck_config::check_server_exposure(&config)
    {
        super::say(&format!("server.host: {e}"));
        return 2;
    }
    if let Err(e) = super::logging::for_serve(args.log_file.as_deref()) {
        super::say(&format!("cannot open the log file: {e}"));
        return 2;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            super::say(&format!("cannot start the runtime: {e}"));
            return 1;
        }
    };
    let say = Say { logs_on_stderr: args.log_file.is_none() };
    let code = runtime.block_on(serve(cli, &config, say));
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

/// What the operator reads on stderr: the log itself when it goes there, else one line each.
struct Say {
    logs_on_stderr: bool,
}

impl Say {
    fn line(&self, text: &str) {
        if !self.logs_on_stderr {
            super::say(text);
        }
    }
}

async fn serve(cli: &Cli, config: &Config, say: Say) -> i32 {
    let options = ServerOptions { request_log: Some(super::logging::request_log_path()), ..ServerOptions::from_config(config) };
    if options.api_key.is_none() && !llamadeck_config::is_loopback_host(&options.host) {
        tracing::warn!("serving on {} without an API key (--insecure)", options.host);
    }
    let run = Run::Local(cli.model_spec(config));
    let engine = match super::engine::open(&run) {
        Ok(engine) => engine,
        Err(e) => {
            say.line(&e);
            return 1;
        }
    };
    let gpu = llamadeck_gpu::spawn_sampler(llamadeck_gpu::open_source(), Duration::from_millis(config.gpu.interval_ms));
    // Bind first, so that requests during loading get a 503 naming the stage.
    let server = match start(engine.clone(), &options, Some(gpu), None).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            say.line(&e);
            return 1;
        }
    };
    say.line(&format!("serving the OpenAI-compatible API on http://{}/v1", server.addr));
    tracing::info!("loading {}", run.describe());
    let mut status = engine.watch_status();
    let mut events = StatusEvents::default();
    super::engine::start(&engine, &run);
    let mut signals = match llamadeck_console::signals::shutdown_signals() {
        Ok(s) => s,
        Err(e) => {
            super::say(&format!("cannot install signal handlers: {e}"));
            return 1;
        }
    };
    let code = loop {
        tokio::select! {
            Some(name) = signals.recv() => {
                tracing::info!("{name}: shutting down");
                break 0;
            }
            changed = status.changed() => {
                if changed.is_err() {
                    break 1;
                }
                let news = events.next(&status.borrow_and_update());
                let mut failed = false;
                for event in news {
                    match event {
                        EngineEvent::LoadStage { stage } => tracing::info!("loading: {stage}"),
                        EngineEvent::Loaded { model, context_len } => {
                            tracing::info!("loaded {model} ({context_len}-token context)");
                            say.line(&format!("model {model} loaded; ready"));
                        }
                        EngineEvent::LoadFailed { reason } => {
                            tracing::error!("loading failed: {reason}");
                            say.line(&format!("loading failed: {reason}"));
                            failed = true;
                        }
                        _ => {}
                    }
                }
                if failed {
                    break 1;
                }
            }
        }
    };
    server.stop(GRACE).await;
    code
}
