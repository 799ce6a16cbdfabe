//! The signals that end llamadeck cleanly: SIGTERM, SIGINT (`kill -INT`; Ctrl+C in the console
//! is a key) and SIGHUP (a dropped SSH session). Each one also starts a watchdog, so a process
//! stuck writing to a terminal nobody reads any more still ends after a grace period instead of
//! ignoring the signal.
use std::time::Duration;

use tokio::sync::mpsc;

/// How long the clean exit (which saves the conversation) gets after a signal.
pub const EXIT_GRACE: Duration = Duration::from_secs(15);

/// The name of each SIGTERM, SIGINT or SIGHUP as it arrives. Must be called inside a tokio runtime.
pub fn shutdown_signals() -> std::io::Result<mpsc::UnboundedReceiver<&'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
    let kinds = [(SignalKind::terminate(), "SIGTERM"), (SignalKind::interrupt(), "SIGINT"), (SignalKind::hangup(), "SIGHUP")];
    for (kind, name) in kinds {
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

fn start_exit_watchdog(signal: &'static str) {
    exit_after(signal, EXIT_GRACE);
}

/// Ends the process with status 1 once `grace` has passed (the first call arms it; later ones
/// do nothing).
pub fn exit_after(signal: &'static str, grace: Duration) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(move || {
            std::thread::sleep(grace);
            tracing::error!("no clean exit {}s after {signal}; ending the process", grace.as_secs());
            std::process::exit(1);
        });
    });
}
