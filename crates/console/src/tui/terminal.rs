//! Entering and leaving full-screen mode. Leaving is idempotent and runs on every way out:
//! normal exit, error, panic in any thread, SIGTERM and SIGHUP, and an abort or a crash
//! (SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE: see `on_fatal_signal`). What no process can
//! catch (SIGKILL, the kernel's OOM killer) leaves the terminal raw; ARCHITECTURE.md says so.
use std::io::{self, Stdout, Write};
use std::os::fd::{IntoRawFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{EnableBracketedPaste, EnableMouseCapture};
use crossterm::terminal::{EnterAlternateScreen, disable_raw_mode, enable_raw_mode};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

static ACTIVE: AtomicBool = AtomicBool::new(false);

pub type Tty = Terminal<CrosstermBackend<Stdout>>;

/// What undoes `enter`'s modes: mouse capture off (harmless when it was never on), bracketed
/// paste off, the main screen back, the cursor shown (crossterm's `DisableMouseCapture`,
/// `DisableBracketedPaste`, `LeaveAlternateScreen`, `cursor::Show`). Plain bytes, so the
/// fatal-signal handler can write them with `write(2)`.
const LEAVE: &[u8] = b"\x1b[?1006l\x1b[?1015l\x1b[?1003l\x1b[?1002l\x1b[?1000l\x1b[?2004l\x1b[?1049l\x1b[?25h";

/// Raw mode, alternate screen, bracketed paste, and with `mouse` (`ui.mouse`, on by default)
/// mouse capture; without it the terminal keeps the mouse for its own selection.
pub fn enter(mouse: bool) -> io::Result<Tty> {
    save_modes();
    install_fatal_signal_handlers();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut stdout = io::stdout();
    let mut entered = execute!(stdout, EnterAlternateScreen, EnableBracketedPaste, cursor::Hide);
    if mouse && entered.is_ok() {
        entered = execute!(stdout, EnableMouseCapture);
    }
    if let Err(e) = entered {
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
    let _ = stdout.write_all(LEAVE).and_then(|_| stdout.flush());
    let _ = disable_raw_mode();
}

/// The terminal (the one crossterm puts in raw mode: stdin, or else /dev/tty) and its modes
/// before raw mode, for the fatal-signal handler.
static SAVED: OnceLock<(RawFd, libc::termios)> = OnceLock::new();

fn save_modes() {
    if SAVED.get().is_some() {
        return;
    }
    // SAFETY: isatty and tcgetattr only read; `modes` is a plain C struct they fill.
    let fd = if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
        libc::STDIN_FILENO
    } else {
        // Kept open for the rest of the process: the handler cannot open files.
        match std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty") {
            Ok(tty) => tty.into_raw_fd(),
            Err(_) => return,
        }
    };
    let mut modes: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut modes) } == 0 {
        let _ = SAVED.set((fd, modes));
    }
}

/// The signals an abort or a crash raises. None of them runs the panic hook: an allocation
/// failure is `abort()`, not a panic.
const FATAL_SIGNALS: [libc::c_int; 5] = [libc::SIGABRT, libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// Each fatal signal's action before ours (Rust's stack-overflow report for SIGSEGV and SIGBUS).
static PREVIOUS: OnceLock<Vec<(libc::c_int, libc::sigaction)>> = OnceLock::new();

/// Once per process: `on_fatal_signal` for each of `FATAL_SIGNALS`.
fn install_fatal_signal_handlers() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: sigaction with a zeroed struct reads the current action; the new action is a
        // handler that makes only async-signal-safe calls, run on the alternate signal stack
        // Rust gives each thread (so a stack overflow can still restore the terminal).
        unsafe {
            let previous = FATAL_SIGNALS
                .iter()
                .map(|&signal| {
                    let mut old: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(signal, std::ptr::null(), &mut old);
                    (signal, old)
                })
                .collect();
            let _ = PREVIOUS.set(previous);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            for signal in FATAL_SIGNALS {
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    });
}

/// Restores the terminal with async-signal-safe calls only (`write`, `tcsetattr`), then hands
/// the signal on as if this handler had never been there: a signal that was sent (`abort()`,
/// `kill`) is raised again under the default action, so the process ends by it and its exit
/// status says so; a fault (si_code > 0) gets its previous action back and happens again when
/// this returns, so Rust still reports a stack overflow.
extern "C" fn on_fatal_signal(signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        write_all_raw(libc::STDOUT_FILENO, LEAVE);
        if let Some((fd, modes)) = SAVED.get() {
            // SAFETY: tcsetattr is async-signal-safe; `modes` lives for the whole process.
            unsafe { libc::tcsetattr(*fd, libc::TCSANOW, modes) };
        }
    }
    // SAFETY: `info` is the kernel's siginfo for this signal (or null); sigaction and raise are
    // async-signal-safe.
    unsafe {
        let sent = info.is_null() || (*info).si_code <= 0;
        let previous = PREVIOUS.get().and_then(|all| all.iter().find(|(s, _)| *s == signal)).map(|(_, old)| *old);
        let action = match previous {
            Some(old) if !sent => old,
            _ => {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                default
            }
        };
        libc::sigaction(signal, &action, std::ptr::null_mut());
        if sent {
            // Blocked until this handler returns; then the default action ends the process.
            libc::raise(signal);
        }
    }
}

/// `write(2)` until all of `bytes` is out or the terminal refuses.
fn write_all_raw(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe `bytes`.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::Command;

    /// The bytes the signal handler writes are what crossterm writes for the same commands.
    #[test]
    fn the_leaving_bytes_are_crossterms_commands() {
        let mut ansi = String::new();
        crossterm::event::DisableMouseCapture.write_ansi(&mut ansi).unwrap();
        crossterm::event::DisableBracketedPaste.write_ansi(&mut ansi).unwrap();
        crossterm::terminal::LeaveAlternateScreen.write_ansi(&mut ansi).unwrap();
        cursor::Show.write_ansi(&mut ansi).unwrap();
        assert_eq!(ansi.as_bytes(), LEAVE);
    }
}
