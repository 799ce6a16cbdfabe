//! Where logs go: a file under the XDG state dir for the console (never the terminal), stderr or
//! a file for `serve`. RUST_LOG filters; the default is info. mistral.rs's warning that each CPU
//! load repeats is left out (`llamadeck_mistral::quiet_layer`); the loader says it once. Logs hold prompts and paths, so a
//! log file is created 0600 in 0700 folders.
use std::fs::{File, OpenOptions, Permissions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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
    let file = open_append(path, true)?;
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
            let file = open_append(path, false)?;
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

/// Opens `path` for appending, creating it 0600 (and missing folders 0700). `ours`: the
/// console's own log, which earlier versions created readable by all, is made private too; a
/// file the operator named keeps the mode they gave it.
fn open_append(path: &Path, ours: bool) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        llamadeck_words::files::create_private_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    let mode = file.metadata()?.permissions().mode();
    if ours && mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(mode & 0o700))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn log_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("state/llamadeck/llamadeck.log");
        open_append(&log, true).unwrap();
        assert_eq!((mode(&log), mode(log.parent().unwrap())), (0o600, 0o700));
        std::fs::set_permissions(&log, Permissions::from_mode(0o644)).unwrap();
        open_append(&log, true).unwrap();
        assert_eq!(mode(&log), 0o600, "an old world-readable log is made private");
        let named = dir.path().join("serve.log");
        open_append(&named, false).unwrap();
        assert_eq!(mode(&named), 0o600);
        std::fs::set_permissions(&named, Permissions::from_mode(0o640)).unwrap();
        open_append(&named, false).unwrap();
        assert_eq!(mode(&named), 0o640, "the operator's choice is kept");
    }
}
