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

/// Restores the terminal before any panic message is printed. A panic outside the threads
/// that contain their own panics (the model engine reports those as load errors) ends the
/// process: a console whose background task died would only show stale state.
pub fn install_panic_hook(log_hint: String) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        tracing::error!(thread = name, "panic: {info}");
        if contains_own_panics(name) {
            return;
        }
        restore();
        previous(info);
        eprintln!("llamadeck stopped after an internal error; details in {log_hint}");
        std::process::exit(101);
    }));
}

/// Threads whose panics are caught and reported in the console (mistralrs panics on some bad
/// model files instead of returning an error).
fn contains_own_panics(thread_name: &str) -> bool {
    thread_name.starts_with("llamadeck-engine")
}
