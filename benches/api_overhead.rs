//! What the OpenAI API costs on top of the bare engine, on the real demo model.
//!
//! A (bare): the engine's face alone: `Engine::generate`, its events drained.
//! B (API): the same engine behind `server::start` (port 0, the server's defaults), asked with a
//! streamed `POST /v1/chat/completions` over a plain TCP connection from a client thread of this
//! process, as a local application would. Both ask the same greedy question, and the answers
//! must match character for character.
//!
//! Both are timed where a caller sees them: first token = from the call (A) or from sending the
//! request (B) to the first text; decode = text pieces after the first / time from the first to
//! the last. The prefix cache is off, so every run reads the whole prompt. A and B alternate
//! (order flipped each run) after one warm-up of each.
//!
//! Run: `cargo bench --bench api_overhead -- --runs 5 --tokens 128`
//! (env: API_OVERHEAD_RUNS, API_OVERHEAD_TOKENS, LLAMADECK_DEMO_MODEL, RAYON_NUM_THREADS).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use llamadeck_config::Config;
use llamadeck_engine::{Engine, GenEvent, GenerateRequest, PrefixCache, Priority};
use llamadeck_server::ServerOptions;
use llamadeck_words::chat::{ChatMessage, FinishReason, Role};
use serde_json::{Value, json};

mod support;
use support::{Opts, median, preview};

const QUESTION: &str = "Write a long, detailed essay about the history of computers, from the abacus and \
    mechanical calculators to modern laptops, smartphones and cloud data centres.";

/// One answer as its caller saw it.
struct Sample {
    text: String,
    pieces: usize,
    ttft: Duration,
    /// From the first piece to the last.
    decode: Duration,
}

impl Sample {
    fn rate(&self) -> f64 {
        (self.pieces.saturating_sub(1)) as f64 / self.decode.as_secs_f64()
    }
    fn ttft_ms(&self) -> f64 {
        self.ttft.as_secs_f64() * 1e3
    }
}

fn main() -> anyhow::Result<()> {
    let opts = support::opts("API_OVERHEAD")?;
    opts.pin_threads();
    // `llamadeck serve`'s runtime shape (startup::serve).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(bench(opts))
}

async fn bench(opts: Opts) -> anyhow::Result<()> {
    let mut spec = Config::default().model_spec(Some(&opts.model.to_string_lossy()));
    spec.prefix_cache = PrefixCache::Off;
    let (engine, _) = support::loaded_engine(spec.clone()).await?;
    let options = ServerOptions { port: 0, ..ServerOptions::default() };
    let server = llamadeck_server::start(engine.clone(), &options, None, None).await.map_err(anyhow::Error::msg)?;
    let addr = server.addr;
    // The request the server builds from the body below: its defaults, greedy, `tokens` long.
    let mut sampling = options.defaults.clone();
    sampling.temperature = 0.0;
    sampling.max_tokens = opts.tokens;
    let request = GenerateRequest {
        id: 0,
        messages: vec![ChatMessage { role: Role::User, content: QUESTION.into(), tool: None }],
        sampling,
        priority: Priority::Queued,
        options: Default::default(),
    };
    let body = json!({
        "model": "demo", "messages": [{"role": "user", "content": QUESTION}],
        "temperature": 0.0, "max_tokens": opts.tokens, "stream": true,
    })
    .to_string();
    let api = || {
        let body = body.clone();
        async move { tokio::task::spawn_blocking(move || stream_api(addr, &body)).await? }
    };

    println!(
        "model {} ({}), threads {}, greedy, max {} tokens, prefix cache off, {} runs after a warm-up, API on {addr}",
        opts.model.display(),
        spec.device,
        opts.threads,
        opts.tokens,
        opts.runs
    );
    let reference = bare(&engine, request.clone()).await?;
    check_same(&reference, &api().await?, "warm-up")?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for run in 0..opts.runs {
        // Flipping the order cancels slow drift (thermal, page cache) between the two paths.
        if run % 2 == 0 {
            a.push(bare(&engine, request.clone()).await?);
            b.push(api().await?);
        } else {
            b.push(api().await?);
            a.push(bare(&engine, request.clone()).await?);
        }
        let (sa, sb) = (&a[run], &b[run]);
        check_same(&reference, sa, "bare")?;
        check_same(&reference, sb, "API")?;
        println!(
            "run {}: bare {:6.2} tok/s, first token {:6.1} ms | API {:6.2} tok/s, first token {:6.1} ms ({} pieces)",
            run + 1,
            sa.rate(),
            sa.ttft_ms(),
            sb.rate(),
            sb.ttft_ms(),
            sb.pieces
        );
    }
    let bare_rate = median(a.iter().map(Sample::rate));
    let api_rate = median(b.iter().map(Sample::rate));
    let (bare_ttft, api_ttft) = (median(a.iter().map(Sample::ttft_ms)), median(b.iter().map(Sample::ttft_ms)));
    let extra_ttft = median(a.iter().zip(&b).map(|(a, b)| b.ttft_ms() - a.ttft_ms()));
    let overhead = (1.0 - api_rate / bare_rate) * 100.0;
    println!();
    println!("bare engine  median {bare_rate:.2} tok/s, first token {bare_ttft:.1} ms");
    println!("API          median {api_rate:.2} tok/s, first token {api_ttft:.1} ms");
    println!(
        "API decode overhead {overhead:.2} % (target <= 5 %); first token {extra_ttft:+.1} ms (median of per-run differences; target <= 20 ms)"
    );
    println!();
    // Machine-readable, one `key value` per line.
    println!("tokens {}", reference.pieces);
    println!("runs {}", opts.runs);
    println!("bare_decode_tok_s {bare_rate:.3}");
    println!("api_decode_tok_s {api_rate:.3}");
    println!("api_overhead_pct {overhead:.2}");
    println!("bare_ttft_ms {bare_ttft:.1}");
    println!("api_ttft_ms {api_ttft:.1}");
    println!("api_extra_ttft_ms {extra_ttft:.1}");
    Ok(())
}

/// A: the engine's face alone.
async fn bare(engine: &Engine, request: GenerateRequest) -> anyhow::Result<Sample> {
    let start = Instant::now();
    let mut generation = engine.generate(request);
    let (mut text, mut pieces, mut first, mut last) = (String::new(), 0, None, start);
    loop {
        match generation.next().await.context("the answer ended without Finished")? {
            GenEvent::Token(t) if !t.is_empty() => {
                last = Instant::now();
                first.get_or_insert(last);
                pieces += 1;
                text.push_str(&t);
            }
            GenEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, .. } => break,
            GenEvent::Finished { reason, .. } => bail!("bare run ended with {}", reason.label()),
            GenEvent::Failed(error) => bail!("bare run failed: {}", error.message),
            GenEvent::Token(_) | GenEvent::Started { .. } | GenEvent::Unsupported(_) | GenEvent::Logprobs(_) | GenEvent::ToolCalls(_) => {}
        }
    }
    let first = first.context("no text")?;
    Ok(Sample { text, pieces, ttft: first - start, decode: last - first })
}

/// B: one streamed chat completion over HTTP/1.1, read as it arrives.
fn stream_api(addr: SocketAddr, body: &str) -> anyhow::Result<Sample> {
    let mut socket = TcpStream::connect(addr)?;
    socket.set_nodelay(true)?;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let start = Instant::now();
    socket.write_all(head.as_bytes())?;
    socket.write_all(body.as_bytes())?;
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("HTTP/1.1 200") {
        bail!("the API answered {}", line.trim());
    }
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        chunked |= line.to_ascii_lowercase().starts_with("transfer-encoding: chunked");
    }
    let mut events = SseLines::default();
    let (mut text, mut pieces, mut first, mut last) = (String::new(), 0, None, start);
    'read: loop {
        let data = if chunked { read_chunk(&mut reader)? } else { read_some(&mut reader)? };
        if data.is_empty() {
            break;
        }
        let now = Instant::now();
        for payload in events.push(&data) {
            if payload == "[DONE]" {
                break 'read;
            }
            let event: Value = serde_json::from_str(&payload).with_context(|| format!("not JSON: {payload}"))?;
            if let Some(error) = event.get("error") {
                bail!("the stream failed: {error}");
            }
            let piece = event["choices"][0]["delta"]["content"].as_str().unwrap_or("");
            if !piece.is_empty() {
                first.get_or_insert(now);
                last = now;
                pieces += 1;
                text.push_str(piece);
            }
        }
    }
    let first = first.context("no text")?;
    Ok(Sample { text, pieces, ttft: first - start, decode: last - first })
}

/// One chunk of a chunked body (empty at its end).
fn read_chunk(reader: &mut impl BufRead) -> anyhow::Result<Vec<u8>> {
    let mut size = String::new();
    reader.read_line(&mut size)?;
    let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).context("a chunk size")?;
    let mut data = vec![0; size + 2];
    reader.read_exact(&mut data)?;
    data.truncate(size);
    Ok(data)
}

fn read_some(reader: &mut impl Read) -> anyhow::Result<Vec<u8>> {
    let mut data = vec![0; 8192];
    let n = reader.read(&mut data)?;
    data.truncate(n);
    Ok(data)
}

/// Server-sent events' `data:` payloads, however the bytes were split.
#[derive(Default)]
struct SseLines {
    pending: Vec<u8>,
}

impl SseLines {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(payload) = line.trim_end().strip_prefix("data:") {
                out.push(payload.trim_start().to_string());
            }
        }
        out
    }
}

/// Both paths must have produced the same text, or the comparison means nothing.
fn check_same(reference: &Sample, s: &Sample, what: &str) -> anyhow::Result<()> {
    if s.text != reference.text {
        bail!("{what}: {:?}... differs from the bare engine's {:?}...", preview(&s.text), preview(&reference.text));
    }
    if s.pieces < 2 {
        bail!("{what}: {} pieces of text, too few for a decode rate", s.pieces);
    }
    Ok(())
}
