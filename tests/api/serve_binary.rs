//! `llamadeck serve` as a process, as systemd runs it: exit codes, `--insecure`, and the drain
//! on SIGTERM. Each run has its own HOME and XDG folders, and binds port 0; the bound address
//! is read from its stderr.
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::http::*;
use super::support::hostile_gguf::{self, Field};

/// A `llamadeck serve` process and what it has written to stderr so far.
struct Serve {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// Reads stderr until the pipe closes.
    reader: Option<std::thread::JoinHandle<()>>,
    home: tempfile::TempDir,
}

impl Serve {
    fn start(args: &[&str], config: &str) -> Serve {
        let home = tempfile::tempdir().unwrap();
        let config_file = home.path().join("config.yaml");
        std::fs::write(&config_file, config).unwrap();
        let dir = |name: &str| home.path().join(name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_llamadeck"))
            .arg("serve")
            .args(args)
            .arg("--config")
            .arg(&config_file)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", dir("config"))
            .env("XDG_DATA_HOME", dir("data"))
            .env("XDG_STATE_HOME", dir("state"))
            .env("XDG_CACHE_HOME", dir("cache"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, seen) = (child.stderr.take().unwrap(), stderr.clone());
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut seen = seen.lock().unwrap();
                seen.push_str(&line);
                seen.push('\n');
            }
        });
        Serve { child, stderr, reader: Some(reader), home }
    }

    /// `serve` on the demo model, once it answers `/health`, and its address. Native weights: no
    /// re-encoded copy is written into this run's empty cache.
    fn demo_loaded() -> (Serve, SocketAddr) {
        let model = super::real_model::demo_model();
        let serve = Serve::start(&["--port", "0", "--model", model.to_str().unwrap()], "model:\n  cpu_weights: native\n");
        let addr = serve.addr();
        let started = Instant::now();
        while get(addr, "/health").status != 200 {
            assert!(started.elapsed() < TIMEOUT, "not loaded; stderr:\n{}", serve.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
        (serve, addr)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for a line of stderr that `find` picks something out of.
    fn wait_for<T>(&self, what: &str, limit: Duration, find: impl Fn(&str) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = self.stderr().lines().find_map(&find) {
                return found;
            }
            assert!(started.elapsed() < limit, "no {what} within {limit:?}; stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address from "... on http://ADDR/v1".
    fn addr(&self) -> SocketAddr {
        self.wait_for("bound address", Duration::from_secs(30), |line| {
            let rest = &line[line.find("http://")? + "http://".len()..];
            rest[..rest.find("/v1")?].parse().ok()
        })
    }

    /// Waits for the process to exit, and for the last of its stderr.
    fn exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(reader) = self.reader.take() {
                    reader.join().unwrap();
                }
                return status;
            }
            assert!(started.elapsed() < limit, "still running after {limit:?}; stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn terminate(&self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_refuses_a_non_loopback_host_without_a_key_and_serves_it_with_insecure() {
    let mut exposed = Serve::start(&["--host", "0.0.0.0", "--port", "0"], "{}\n");
    assert_eq!(exposed.exit(Duration::from_secs(30)).code(), Some(2));
    let said = exposed.stderr();
    assert!(said.contains("not a loopback address") && said.contains("--insecure"), "{said}");

    // With --insecure it binds, and then exits 1 because the model does not exist.
    let missing = exposed.home.path().join("missing.gguf");
    let mut insecure = Serve::start(&["--host", "0.0.0.0", "--port", "0", "--insecure", "--model", missing.to_str().unwrap()], "{}\n");
    assert!(insecure.addr().ip().is_unspecified());
    assert_eq!(insecure.exit(Duration::from_secs(30)).code(), Some(1));
    assert!(insecure.stderr().contains("does not exist"), "{}", insecure.stderr());
}

#[test]
fn serve_exits_1_when_its_port_is_taken_and_2_on_a_config_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut busy = Serve::start(&["--port", &port], "{}\n");
    assert_eq!(busy.exit(Duration::from_secs(30)).code(), Some(1));
    assert!(busy.stderr().contains(&format!("cannot serve the API on 127.0.0.1:{port}")), "{}", busy.stderr());

    let mut bad = Serve::start(&["--port", "0"], "server:\n  max_connections: 0\n");
    assert_eq!(bad.exit(Duration::from_secs(30)).code(), Some(2));
    assert!(bad.stderr().contains("server.max_connections: must be between 1 and 100000 (got 0)"), "{}", bad.stderr());
}

/// A hostile GGUF (a tensor name 2^40 bytes long, or a dimension of 2^40, which made candle
/// abort allocating a terabyte: status 134) ends `serve` with a clear message and status 1.
#[test]
fn serve_refuses_a_hostile_gguf_with_a_message_not_an_abort() {
    let model = super::real_model::demo_model();
    let cases = [
        (Field::NameLength, "is not a readable GGUF file: implausible string length 1099511627776 for the name of tensor "),
        (Field::Dimension, " (token_embd.weight): dimension 1099511627776 is larger than the file"),
    ];
    for (field, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let hostile = hostile_gguf::copy_with(&model, dir.path(), field);
        let mut serve = Serve::start(&["--port", "0", "--model", hostile.to_str().unwrap()], "model:\n  cpu_weights: native\n");
        let status = serve.exit(Duration::from_secs(60));
        let said = serve.stderr();
        assert_eq!(status.code(), Some(1), "{status:?}; stderr:\n{said}");
        assert!(said.contains("hostile.gguf is not a readable GGUF file: ") && said.contains(expected), "{said}");
    }
}

/// SIGTERM while an answer streams: the server stops accepting, the answer runs to its end
/// (finish reason and `[DONE]`), and the process exits 0.
#[test]
fn serve_drains_an_answer_in_flight_on_sigterm_and_exits_0() {
    let (mut serve, addr) = Serve::demo_loaded();
    let (first_chunk_tx, first_chunk) = mpsc::channel();
    let client = std::thread::spawn(move || {
        let body = chat_body("Write a long story about a lighthouse keeper.", json!({"max_tokens": 24, "stream": true})).to_string();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(
            stream,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut events = Vec::new();
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let Some(event) = line.strip_prefix("data: ") else { continue };
            if event.contains("\"content\":\"") && !event.contains("\"content\":\"\"") {
                let _ = first_chunk_tx.send(());
            }
            events.push(event.to_string());
            if event == "[DONE]" {
                break;
            }
        }
        events
    });
    first_chunk.recv_timeout(TIMEOUT).expect("the answer started");
    serve.terminate();
    let status = serve.exit(Duration::from_secs(30));
    let events = client.join().unwrap();
    let said = serve.stderr();
    assert!(said.contains("1 answer(s) in flight may run for up to 5 s"), "SIGTERM landed while the answer ran:\n{said}");
    assert_eq!(status.code(), Some(0), "{said}");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{events:?}");
    let (text, finish) = streamed_text(&events);
    assert!(!text.is_empty() && matches!(finish.as_deref(), Some("stop" | "length")), "{events:?}");
    assert!(TcpStream::connect(addr).is_err(), "nothing listens after the exit");
}

/// Each finished request is one line of `$XDG_STATE_HOME/llamadeck/requests.jsonl`: private,
/// with counts, timings and outcome but never the messages, and whole after a `kill -9`.
#[test]
fn serve_logs_each_request_as_a_private_json_line_that_survives_kill_9() {
    use std::os::unix::fs::PermissionsExt;
    let (mut serve, addr) = Serve::demo_loaded();
    for question in ["Name a colour, zebra-secret-one.", "Name a fruit, zebra-secret-two."] {
        let reply = post(addr, "/v1/chat/completions", chat_body(question, json!({"max_tokens": 4})));
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    }
    assert_eq!(get(addr, "/v1/nowhere").status, 404);
    let log = serve.home.path().join("state/llamadeck/requests.jsonl");
    let started = Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 3 {
        assert!(started.elapsed() < TIMEOUT, "three lines expected in {}", log.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    serve.child.kill().unwrap(); // SIGKILL: nothing runs after it
    serve.exit(Duration::from_secs(10));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("zebra-secret"), "no message text in the log:\n{text}");
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("every line is whole JSON")).collect();
    let answered: Vec<&serde_json::Value> = lines.iter().filter(|l| l["endpoint"] == "POST /v1/chat/completions").collect();
    assert_eq!(answered.len(), 2, "{text}");
    for line in answered {
        assert_eq!(line["status"], 200);
        assert!(line["model"].as_str().is_some_and(|m| m.contains("SmolLM2")), "{line}");
        assert!(line["prompt_tokens"].as_u64() > Some(5) && line["completion_tokens"].as_u64() >= Some(1), "{line}");
        assert!(line["total_ms"].as_u64() >= line["ttft_ms"].as_u64() && line["cached_tokens"].is_u64(), "{line}");
    }
    assert!(lines.iter().any(|l| l["endpoint"] == "GET /v1/nowhere" && l["status"] == 404), "{text}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&log), mode(log.parent().unwrap())), (0o600, 0o700));
}
