//! Streaming through the remote engine against a raw client, on the same server.
//!
//! Starts `llamadeck serve` on the demo model (its own temp HOME, a free port), then asks it the
//! same greedy question again and again, alternating (order flipped each run, after one warm-up
//! of each):
//! - raw: one HTTP/1.0 POST on a plain TCP socket, the body exactly the one the remote engine
//!   sends, the `data:` events read straight off the socket;
//! - remote: `Engine::generate` on `engine::remote`, the events read off the `Generation`.
//!
//! Both are timed the same way, by this program: first token = from just before the request is
//! sent to the first piece of text; decode tok/s = pieces after the first / time after the
//! first. The answers must match. Prints the medians and the differences.
//!
//! With `--stub`, the server is a scripted one in this process instead: the first piece 50 ms
//! after the request, then one every 10 ms. Its timing does not wander as a model's does, so
//! what is left is the clients' own cost.
//!
//! Run: `cargo bench --bench fleet_stream -- --runs 7 --tokens 128 [--stub]`
//! (env: LLAMADECK_DEMO_MODEL; the server decodes with RAYON_NUM_THREADS=1).
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use llamadeck_engine::remote::probe::{Probe, probe};
use llamadeck_engine::remote::{self, NodeSpec};
use llamadeck_engine::{GenEvent, GenerateRequest, Priority};
use llamadeck_words::chat::{ChatMessage, Role};
use llamadeck_words::sampling::Sampling;

// Only its median: this bench loads no model of its own.
#[allow(dead_code)]
mod support;

const QUESTION: &str = "Write a long, detailed essay about the history of computers, from the abacus and \
    mechanical calculators to modern laptops, smartphones and cloud data centres.";

struct Run {
    ttft_ms: f64,
    tok_s: f64,
    text: String,
}

fn times(started: Instant, pieces: &[Instant]) -> (f64, f64) {
    let first = pieces[0].duration_since(started).as_secs_f64() * 1000.0;
    let last = pieces[pieces.len() - 1].duration_since(pieces[0]).as_secs_f64();
    (first, (pieces.len() - 1) as f64 / last)
}

/// The raw client: a socket, the request, the events as they arrive.
fn raw(addr: SocketAddr, body: &str) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut socket = TcpStream::connect(addr)?;
    socket.set_nodelay(true)?;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes())?;
    socket.write_all(body.as_bytes())?;
    let (mut pieces, mut text, mut pending, mut buf) = (Vec::new(), String::new(), String::new(), [0u8; 8192]);
    loop {
        let n = socket.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else { continue };
            if let Some(piece) = value.pointer("/choices/0/delta/content").and_then(|c| c.as_str()).filter(|c| !c.is_empty()) {
                pieces.push(now);
                text.push_str(piece);
            }
        }
    }
    if pieces.len() < 2 {
        bail!("the raw client got {} pieces", pieces.len());
    }
    let (ttft_ms, tok_s) = times(started, &pieces);
    Ok(Run { ttft_ms, tok_s, text })
}

/// The remote engine, as the console drives it.
async fn through_engine(engine: &llamadeck_engine::Engine, request: GenerateRequest) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut generation = engine.generate(request);
    let (mut pieces, mut text) = (Vec::new(), String::new());
    while let Some(event) = generation.next().await {
        match event {
            GenEvent::Token(piece) => {
                pieces.push(Instant::now());
                text.push_str(&piece);
            }
            GenEvent::Finished { .. } => break,
            GenEvent::Failed(e) => bail!("the remote engine failed: {}", e.message),
            _ => {}
        }
    }
    if pieces.len() < 2 {
        bail!("the remote engine got {} pieces", pieces.len());
    }
    let (ttft_ms, tok_s) = times(started, &pieces);
    Ok(Run { ttft_ms, tok_s, text })
}

/// A scripted OpenAI server: `/v1/models`, and every answer `tokens` pieces, the first 50 ms
/// after the request, then one every 10 ms, each written on its own; the body ends when the
/// connection closes (as HTTP/1.0 and 1.1 clients both read it).
fn stub_server(tokens: u32) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let _ = answer(stream, tokens);
            });
        }
    });
    Ok(addr)
}

fn answer(mut stream: TcpStream, tokens: u32) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        request.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&request).to_string();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    if head.starts_with("GET /v1/models") {
        let json = r#"{"object":"list","data":[{"id":"stub","object":"model","owned_by":"llamadeck","context_length":8192}]}"#;
        return write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        );
    }
    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")?;
    let started = Instant::now();
    for i in 0..tokens {
        let due = Duration::from_millis(50 + 10 * u64::from(i));
        std::thread::sleep(due.saturating_sub(started.elapsed()));
        write!(stream, "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}},\"finish_reason\":null}}]}}\n\n")?;
    }
    write!(stream, "data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"length\"}}]}}\n\n")?;
    write!(stream, "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":30,\"completion_tokens\":{tokens}}}}}\n\ndata: [DONE]\n\n")
}

/// Stops the server however the bench ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `llamadeck serve` on `model`, on a free port, its own HOME.
fn serve(model: &std::path::Path, config: &std::path::Path, home: &std::path::Path) -> anyhow::Result<(SocketAddr, Server)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(env!("CARGO_BIN_EXE_llamadeck"))
        .args(["serve", "--port", &port.to_string(), "--config"])
        .arg(config)
        .arg("--model")
        .arg(model)
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((SocketAddr::from(([127, 0, 0, 1], port)), Server(child)))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let (mut runs, mut tokens, mut stub) = (7usize, 128u32, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--tokens" => tokens = args.next().context("--tokens N")?.parse()?,
            "--stub" => stub = true,
            _ => {}
        }
    }
    let model = std::env::var_os("LLAMADECK_DEMO_MODEL").map(std::path::PathBuf::from).unwrap_or_else(llamadeck_engine::demo_model_path);
    let home = tempfile::tempdir()?;
    let config = home.path().join("config.yaml");
    std::fs::write(&config, "model:\n  cpu_weights: native\n")?;
    let (addr, _server) = if stub {
        (stub_server(tokens)?, None)
    } else {
        let (addr, server) = serve(&model, &config, home.path())?;
        (addr, Some(server))
    };
    let node = NodeSpec::new("bench", &format!("http://{addr}/v1")).map_err(anyhow::Error::msg)?;
    let client = reqwest::Client::new();
    let served = {
        let started = Instant::now();
        loop {
            if let Probe::Ready(served) = probe(&client, &node).await {
                break served;
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("the server did not load the model within 2 minutes");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let engine = remote::connect(node).map_err(anyhow::Error::msg)?;
    engine.refresh();
    let sampling = Sampling { temperature: 0.0, max_tokens: tokens, system_prompt: String::new(), ..Sampling::default() };
    let request = GenerateRequest {
        id: 1,
        messages: vec![ChatMessage { role: Role::User, content: QUESTION.into(), tool: None }],
        sampling,
        priority: Priority::Queued,
        options: Default::default(),
    };
    let (_, body, _) = remote::stream::request(&served, &request).map_err(|e| anyhow::anyhow!(e.message))?;
    let body = body.to_string();
    // Warm-up, then alternate.
    raw(addr, &body)?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reference = through_engine(&engine, request.clone()).await?;
    let (mut raws, mut remotes) = (Vec::new(), Vec::new());
    for run in 0..runs {
        for remote_first in [run % 2 == 1, run % 2 == 0] {
            let r = if remote_first {
                through_engine(&engine, request.clone()).await?
            } else {
                tokio::task::block_in_place(|| raw(addr, &body))?
            };
            if r.text != reference.text {
                bail!(
                    "answers differ: {:?} against {:?}",
                    &r.text[..r.text.len().min(60)],
                    &reference.text[..reference.text.len().min(60)]
                );
            }
            if remote_first { remotes.push(r) } else { raws.push(r) }
        }
    }
    let med = |v: &[Run], f: fn(&Run) -> f64| support::median(v.iter().map(f));
    let (raw_ttft, remote_ttft) = (med(&raws, |r| r.ttft_ms), med(&remotes, |r| r.ttft_ms));
    let (raw_tok, remote_tok) = (med(&raws, |r| r.tok_s), med(&remotes, |r| r.tok_s));
    let spread = |v: &[Run]| {
        let rates: Vec<f64> = v.iter().map(|r| r.tok_s).collect();
        let (lo, hi) = rates.iter().fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        (lo, hi)
    };
    let server =
        if stub { "a scripted server (first piece at 50 ms, then one every 10 ms)" } else { "llamadeck serve on the demo model, greedy" };
    println!("{server}, {tokens} tokens, {runs} runs each (medians; answers identical)");
    println!("| client | first token ms | decode tok/s (min–max) |");
    println!("|---|---:|---:|");
    let (lo, hi) = spread(&raws);
    println!("| raw socket | {raw_ttft:.1} | {raw_tok:.1} ({lo:.1}–{hi:.1}) |");
    let (lo, hi) = spread(&remotes);
    println!("| remote engine | {remote_ttft:.1} | {remote_tok:.1} ({lo:.1}–{hi:.1}) |");
    println!("first token: remote − raw = {:+.2} ms; decode: remote / raw = {:.3}x", remote_ttft - raw_ttft, remote_tok / raw_tok);
    Ok(())
}
