//! Entering and leaving full-screen mode. Leaving is idempotent and runs on every way out:
//! normal exit, error, panic in any thread, SIGTERM and SIGHUP.
use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

static ACTIVE: AtomicBool = AtomicBool::new(false);

pub type Tty = Terminal<CrosstermBackend<Stdout>>;

/// Raw mode, alternate screen, bracketed paste. Mouse capture stays off so the operator
/// can select text with the terminal's own selection.
pub fn enter() -> io::Result<Tty> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut stdout = io::stdout();
    if let Err(e) = execute!(stdout, EnterAlternateScreen, EnableBracketedPaste, cursor::Hide) {
        restore();
        return Err(e);
    }
    Terminal::new(CrosstermBackend::new(stdout)).inspect_err(|_| restore())
}

/// Puts the terminal back as it was. Safe to call any number of times, from any thread.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut stdout = io::stdout();
    // Errors are ignored: after SIGHUP the terminal may be gone, and there is nothing left to do.
    let _ = execute!(stdout, DisableBracketedPaste, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let _ = stdout.flush();
}

/// Where a panic outside the loop's thread is reported (the console shows it); set by startup.
static REPORT: std::sync::OnceLock<Box<dyn Fn(String) + Send + Sync>> = std::sync::OnceLock::new();

/// Restores the terminal before any panic message is printed, when the panic is on the thread
/// that runs the loop (this one): the console cannot go on without it. A panic anywhere else
/// (a model engine thread, a server task, a sampler) ends at most its own request or load: it
/// is logged, shown through `report`, and the console keeps running.
pub fn install_panic_hook(log_hint: String, report: Option<Box<dyn Fn(String) + Send + Sync>>) {
    if let Some(report) = report {
        let _ = REPORT.set(report);
    }
    let loop_thread = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        tracing::error!(thread = name, "panic: {info}");
        if thread.id() != loop_thread {
            if let Some(report) = REPORT.get() {
                let message = info.payload_as_str().unwrap_or("unknown panic");
                report(format!("internal error in {name}: {message} (details in {log_hint})"));
            }
            return;
        }
        restore();
        previous(info);
        eprintln!("llamadeck stopped after an internal error; details in {log_hint}");
        std::process::exit(101);
    }));
}
