//! Where logs go: a file under the XDG state dir for the console (never the terminal), stderr or
//! a file for `serve`. RUST_LOG filters; the default is info. mistral.rs's warning that each CPU
//! load repeats is left out (`llamadeck_mistral::quiet_layer`); the loader says it once. Logs hold prompts and paths, so a
//! log file is created 0600 in 0700 folders.
use std::path::{Path, PathBuf};

use tracing_subscriber::prelude::*;

/// The console's log file.
pub fn log_path() -> PathBuf {
    state_dir().join("llamadeck.log")
}

/// The API's request log (`llamadeck_server::request_log`), for the console and `serve` alike.
pub fn request_log_path() -> PathBuf {
    state_dir().join("requests.jsonl")
}

fn state_dir() -> PathBuf {
    dirs::state_dir().or_else(|| dirs::home_dir().map(|h| h.join(".local/state"))).unwrap_or_else(std::env::temp_dir).join("llamadeck")
}

/// Logs to `path`; mistral.rs's loading stages also go to the load that is running.
pub fn to_file(path: &Path) -> std::io::Result<tracing_appender::non_blocking::WorkerGuard> {
    let file = llamadeck_words::files::open_append(path, true)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false);
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(llamadeck_mistral::stage_layer())
        .with(llamadeck_mistral::quiet_layer())
        .init();
    Ok(guard)
}

/// `serve`'s logs: stderr, or appended to `file`.
pub fn for_serve(file: Option<&Path>) -> std::io::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(path) => {
            let file = llamadeck_words::files::open_append(path, false)?;
            builder.with_ansi(false).with_writer(std::sync::Mutex::new(file)).finish().with(llamadeck_mistral::quiet_layer()).init();
        }
        None => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .finish()
            .with(llamadeck_mistral::quiet_layer())
            .init(),
    }
    Ok(())
}
