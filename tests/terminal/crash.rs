//! An abort or a crash runs no panic hook, yet the terminal is put back as it was: the console's
//! handlers for SIGABRT, SIGSEGV, SIGBUS, SIGILL and SIGFPE restore it, and the process still
//! ends by the signal.
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use super::lifecycle::console_command;
use super::pty::{LEAVE_ALT, Pty, spawn_in_pty};

const SHOW_CURSOR: &[u8] = b"\x1b[?25h";

/// The process ended by `signal`, out of raw mode; the main screen came back and the cursor was
/// shown, in that order; and where those bytes were written in the output.
fn restored(pty: &Pty, status: ExitStatus, signal: i32) -> usize {
    assert_eq!(status.signal(), Some(signal), "{status:?}");
    assert!(!pty.is_raw(), "raw mode is off again");
    assert!(pty.left_alternate_screen());
    let leave = [LEAVE_ALT, SHOW_CURSOR].concat();
    let started = Instant::now();
    loop {
        if let Some(at) = pty.output.lock().unwrap().windows(leave.len()).rposition(|w| w == leave) {
            return at + leave.len();
        }
        assert!(started.elapsed() < Duration::from_secs(3), "never left the alternate screen and showed the cursor: {:?}", pty.text());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigabrt_restores_the_terminal_and_the_console_ends_by_it() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = spawn_in_pty(console_command(home.path()));
    assert!(pty.wait_for(b"settings", Duration::from_secs(20)), "the console drew its panes");
    assert!(pty.is_raw());
    unsafe { libc::kill(pty.child.id() as i32, libc::SIGABRT) };
    let status = pty.wait_exit(Duration::from_secs(10)).expect("ends on SIGABRT");
    let end = restored(&pty, status, libc::SIGABRT);
    assert_eq!(end, pty.output_len(), "the last bytes written: {:?}", pty.text());
}

#[test]
fn an_abort_a_segfault_and_a_stack_overflow_restore_the_terminal() {
    for (crash, signal) in [("abort", libc::SIGABRT), ("segfault", libc::SIGSEGV), ("overflow", libc::SIGABRT)] {
        // This test binary again, running only the ignored child below, in a pseudo-terminal.
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.args(["--ignored", "--exact", "crash::crash_child", "--nocapture", "--test-threads=1"]).env("LLAMADECK_TEST_CRASH", crash);
        let mut pty = spawn_in_pty(child);
        assert!(pty.wait_for(b"crash-test-ready", Duration::from_secs(10)), "{crash}: {}", pty.text());
        let status = pty.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| panic!("{crash}: the process ends"));
        let end = restored(&pty, status, signal);
        if crash == "overflow" {
            // Rust's own report still comes, after the terminal is back.
            assert!(pty.wait_for_after(end, b"has overflowed its stack", Duration::from_secs(2)), "{}", pty.text());
        } else {
            assert_eq!(end, pty.output_len(), "{crash}: the last bytes written: {:?}", pty.text());
        }
    }
}

/// Enters full-screen mode the way the console does, then crashes as `LLAMADECK_TEST_CRASH` says.
#[test]
#[ignore = "the child process of an_abort_a_segfault_and_a_stack_overflow_restore_the_terminal"]
fn crash_child() {
    let mut terminal = llamadeck_console::tui::terminal::enter(true).expect("terminal");
    terminal.draw(|f| f.render_widget("crash-test-ready", f.area())).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    match std::env::var("LLAMADECK_TEST_CRASH").as_deref() {
        Ok("abort") => std::process::abort(),
        Ok("segfault") => unsafe {
            // A real fault (not a sent signal): a write to a page that allows nothing.
            let page = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            assert_ne!(page, libc::MAP_FAILED);
            page.cast::<u8>().write_volatile(1);
        },
        Ok("overflow") => {
            std::hint::black_box(deep(0));
        }
        other => panic!("LLAMADECK_TEST_CRASH: {other:?}"),
    }
    unreachable!("still running after {:?}", std::env::var("LLAMADECK_TEST_CRASH"));
}

/// Recurses until the stack runs out (a kilobyte a frame).
fn deep(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 128]);
    if depth == u64::MAX { 0 } else { deep(depth + 1) + frame[0] }
}
