//! Where logs go: a file under the XDG state dir for the console (never the terminal), stderr or
//! a file for `serve`. RUST_LOG filters; the default is info.
use std::path::{Path, PathBuf};

use tracing_subscriber::prelude::*;

/// The console's log file.
pub fn log_path() -> PathBuf {
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("llamadeck")
        .join("llamadeck.log")
}

/// Logs to `path`; mistral.rs's loading stages also go to the load that is running.
pub fn to_file(path: &Path) -> std::io::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false);
    tracing_subscriber::registry().with(filter).with(fmt).with(crate::engine::mistral::stage_layer()).init();
    Ok(guard)
}

/// `serve`'s logs: stderr, or appended to `file`.
pub fn for_serve(file: Option<&Path>) -> std::io::Result<()> {
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
