//! The real binary's terminal lifecycle in a pseudo-terminal: signals, a panic, a bad config,
//! and the subcommands that need no terminal.
use std::process::{Command, Stdio};
use std::time::Duration;

use super::pty::{ENTER_ALT, spawn_in_pty};

fn console_command(home: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llamadeck"));
    command
        .args(["--model", "/nonexistent/model.gguf"])
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("HOME", home)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR");
    command
}

#[test]
fn sighup_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = spawn_in_pty(console_command(home.path()));
    assert!(pty.wait_for(b"settings", Duration::from_secs(20)), "the console drew its panes");
    assert!(pty.is_raw(), "raw mode while the console runs");
    unsafe { libc::kill(pty.child.id() as i32, libc::SIGHUP) };
    let status = pty.wait_exit(Duration::from_secs(10)).expect("exits after SIGHUP");
    assert!(status.success(), "{status:?}");
    assert!(!pty.is_raw(), "raw mode is off again");
    assert!(pty.left_alternate_screen());
}

#[test]
fn sigterm_restores_the_terminal_and_quit_key_exits() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = spawn_in_pty(console_command(home.path()));
    assert!(pty.wait_for(b"settings", Duration::from_secs(20)));
    unsafe { libc::kill(pty.child.id() as i32, libc::SIGTERM) };
    assert!(pty.wait_exit(Duration::from_secs(10)).expect("exits after SIGTERM").success());
    assert!(!pty.is_raw());
    assert!(pty.left_alternate_screen());
}

#[test]
fn a_panic_in_a_background_task_restores_the_terminal() {
    // This test binary again, running only the ignored child below, in a pseudo-terminal.
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(["--ignored", "--exact", "lifecycle::panic_in_task_child", "--nocapture", "--test-threads=1"]);
    let mut pty = spawn_in_pty(child);
    assert!(pty.wait_for(b"panic-test-ready", Duration::from_secs(10)));
    let status = pty.wait_exit(Duration::from_secs(10)).expect("the process ends after the panic");
    assert_eq!(status.code(), Some(101));
    assert!(!pty.is_raw());
    assert!(pty.left_alternate_screen());
    assert!(pty.wait_for(b"injected panic", Duration::from_secs(2)), "the panic message is shown after restoring");
}

/// Enters full-screen mode the way the console does, then a background task panics.
#[test]
#[ignore = "the child process of a_panic_in_a_background_task_restores_the_terminal"]
fn panic_in_task_child() {
    llamadeck::tui::terminal::install_panic_hook("the log".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let mut terminal = llamadeck::tui::terminal::enter().expect("terminal");
        terminal.draw(|f| f.render_widget("panic-test-ready", f.area())).unwrap();
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            panic!("injected panic in a background task");
        });
        tokio::time::sleep(Duration::from_secs(20)).await;
    });
    llamadeck::tui::terminal::restore();
    unreachable!("the panic hook ends the process");
}

#[test]
fn a_bad_config_is_refused_before_the_terminal_is_touched() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bad.yaml");
    std::fs::write(&file, "sampling:\n  temperature: 7.5\n").unwrap();
    let before = std::fs::read(&file).unwrap();
    let mut command = console_command(home.path());
    command.arg("--config").arg(&file);
    let mut pty = spawn_in_pty(command);
    let status = pty.wait_exit(Duration::from_secs(10)).expect("exits at once");
    assert_eq!(status.code(), Some(2));
    assert!(pty.wait_for(b"bad.yaml:2:16", Duration::from_secs(2)), "{}", String::from_utf8_lossy(&pty.output.lock().unwrap()));
    assert!(!pty.output.lock().unwrap().windows(ENTER_ALT.len()).any(|w| w == ENTER_ALT));
    assert_eq!(std::fs::read(&file).unwrap(), before, "nothing changed on disk");
}

#[test]
fn help_and_version_need_no_terminal() {
    for arg in ["--help", "--version"] {
        let out = Command::new(env!("CARGO_BIN_EXE_llamadeck")).arg(arg).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("llamadeck"));
    }
}

/// `llamadeck gpu`: without a driver (as here) the NVML error and status 1; with one, lines.
#[test]
fn gpu_report_needs_no_terminal_and_explains_a_missing_driver() {
    let out = Command::new(env!("CARGO_BIN_EXE_llamadeck")).args(["gpu", "--samples", "1"]).stdin(Stdio::null()).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(1) => assert!(stderr.starts_with("llamadeck gpu: NVML not available: "), "{stderr}"),
        Some(0) => assert!(stdout.lines().skip(1).all(|l| l.starts_with("1, ") && l.split(", ").count() == 8), "{stdout}"),
        other => panic!("status {other:?}: {stderr}"),
    }
}
