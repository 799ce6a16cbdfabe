//! Counters for `GET /metrics` (Prometheus text format) and the request log the console shows
//! (F4). `record` logs every response; a generation's response is logged by its `Tracker`
//! instead, when the answer ends, so a client that goes away mid-answer is still logged (as
//! "cancelled", with its prompt's real size).
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ErrorNote;
use super::request_log::RequestLog;
use llamadeck_engine::PrefixCacheStats;
use llamadeck_gpu::snapshot::GpuSnapshot;
use llamadeck_words::chat::GenStats;
pub use llamadeck_words::requests::{RECENT, RequestRecord, ServerEvent};
use llamadeck_words::sink::Sink;

const TTFT_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    prompt_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    in_flight: AtomicUsize,
    waiting: AtomicUsize,
    ttft: Mutex<Histogram>,
    last_decode_tok_s: Mutex<Option<f64>>,
    recent: Mutex<VecDeque<RequestRecord>>,
    connections: AtomicUsize,
    refused: AtomicU64,
    events: Option<Sink<ServerEvent>>,
    /// Where each finished request is appended as a JSON line, when the binary names a file.
    request_log: Option<RequestLog>,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; TTFT_BUCKETS.len()],
    sum: f64,
    count: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    pub fn new(events: Option<Sink<ServerEvent>>, request_log: Option<RequestLog>) -> Self {
        Self { events, request_log, ..Self::default() }
    }

    fn emit(&self, event: ServerEvent) {
        if let Some(sink) = &self.events {
            sink.send(event);
        }
    }

    /// Counts one HTTP response by endpoint and status.
    pub fn request(&self, endpoint: &'static str, status: u16) {
        *lock(&self.requests).entry((endpoint, status)).or_default() += 1;
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn recent(&self) -> Vec<RequestRecord> {
        lock(&self.recent).iter().cloned().collect()
    }

    /// Starts tracking one generation by `model`, whose prompt the engine has accepted.
    pub fn track(self: &Arc<Self>, info: RequestInfo, prompt_tokens: usize, model: String) -> Tracker {
        let n = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.emit(ServerEvent::InFlight(n));
        Tracker {
            metrics: self.clone(),
            info,
            model,
            prompt_tokens,
            started: Instant::now(),
            ttft_ms: None,
            chunks: 0,
            status: 200,
            outcome: None,
        }
    }

    /// Adds a request to the log the console shows, and to the request log's file.
    fn log(&self, record: RequestRecord) {
        if let Some(file) = &self.request_log {
            file.write(&record);
        }
        {
            let mut recent = lock(&self.recent);
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(record.clone());
        }
        self.emit(ServerEvent::Finished(record));
    }

    /// One connection more; one less when the guard drops.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionCount {
        self.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionCount(self.clone())
    }

    /// A connection over the cap was answered 503.
    pub fn connection_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gpu: Option<&GpuSnapshot>, cache: Option<&PrefixCacheStats>) -> String {
        let mut text = String::from(
            "# HELP llamadeck_requests_total HTTP API responses by endpoint and status.\n# TYPE llamadeck_requests_total counter\n",
        );
        for ((endpoint, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(text, "llamadeck_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
        }
        let gauge = |text: &mut String, name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        gauge(
            &mut text,
            "llamadeck_prompt_tokens_total",
            "counter",
            "Prompt tokens of API generations.",
            self.prompt_tokens.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut text,
            "llamadeck_generated_tokens_total",
            "counter",
            "Tokens generated for API requests (rate() of it is the throughput).",
            self.generated_tokens.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut text,
            "llamadeck_requests_in_flight",
            "gauge",
            "API generations running now.",
            self.in_flight.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut text,
            "llamadeck_queue_depth",
            "gauge",
            "API generations admitted that have not produced their first token yet.",
            self.waiting.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut text,
            "llamadeck_connections_open",
            "gauge",
            "HTTP connections open now.",
            self.connections.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut text,
            "llamadeck_connections_refused_total",
            "counter",
            "Connections answered 503 because server.max_connections were open, or the client's server.max_connections_per_client.",
            self.refused.load(Ordering::Relaxed).to_string(),
        );
        let tok_s = lock(&self.last_decode_tok_s).map_or("NaN".to_string(), |v| format!("{v:.3}"));
        gauge(&mut text, "llamadeck_decode_tokens_per_second", "gauge", "Decode speed of the last finished API generation.", tok_s);
        {
            let h = lock(&self.ttft);
            let _ = writeln!(
                text,
                "# HELP llamadeck_time_to_first_token_seconds Time from admission to the first token.\n# TYPE llamadeck_time_to_first_token_seconds histogram"
            );
            let mut cumulative = 0;
            for (le, n) in TTFT_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(text, "llamadeck_time_to_first_token_seconds_bucket{{le=\"{le}\"}} {cumulative}");
            }
            let _ = writeln!(text, "llamadeck_time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(
                text,
                "llamadeck_time_to_first_token_seconds_sum {:.6}\nllamadeck_time_to_first_token_seconds_count {}",
                h.sum, h.count
            );
        }
        if let Some(c) = cache {
            gauge(
                &mut text,
                "llamadeck_prefix_cache_hits_total",
                "counter",
                "Answers whose prompt began with a cached prefix (the system prompt, earlier turns).",
                c.hits.to_string(),
            );
            gauge(
                &mut text,
                "llamadeck_prefix_cache_reused_tokens_total",
                "counter",
                "Prompt tokens not read again thanks to the prefix cache.",
                c.tokens_reused.to_string(),
            );
            gauge(
                &mut text,
                "llamadeck_prefix_cache_bytes",
                "gauge",
                "Memory the prefix cache holds (llamadeck's count of mistral.rs's copies).",
                c.bytes_held.to_string(),
            );
            gauge(
                &mut text,
                "llamadeck_prefix_cache_sequences",
                "gauge",
                "Finished answers the prefix cache holds.",
                c.sequences_held.to_string(),
            );
            if let Some(budget) = c.budget_bytes {
                gauge(
                    &mut text,
                    "llamadeck_prefix_cache_budget_bytes",
                    "gauge",
                    "The prefix cache's budget (model.prefix_cache).",
                    budget.to_string(),
                );
            }
            gauge(
                &mut text,
                "llamadeck_prefix_cache_restarts_total",
                "counter",
                "Times the prefix cache was emptied to keep its budget.",
                c.restarts.to_string(),
            );
        }
        if let Some(rss) = llamadeck_gpu::resident_bytes() {
            gauge(
                &mut text,
                "llamadeck_process_resident_memory_bytes",
                "gauge",
                "Resident memory of the llamadeck process.",
                rss.to_string(),
            );
        }
        let devices: Vec<_> = gpu.map(|g| g.devices.iter().filter(|d| d.lost.is_none()).collect()).unwrap_or_default();
        let _ = writeln!(
            text,
            "# HELP llamadeck_gpu_memory_used_bytes GPU memory in use, per GPU (absent without NVML).\n# TYPE llamadeck_gpu_memory_used_bytes gauge"
        );
        for d in &devices {
            if let Some(used) = d.memory_used {
                let _ = writeln!(text, "llamadeck_gpu_memory_used_bytes{{gpu=\"{}\"}} {used}", d.index);
            }
        }
        let _ =
            writeln!(text, "# HELP llamadeck_gpu_memory_total_bytes GPU memory, per GPU.\n# TYPE llamadeck_gpu_memory_total_bytes gauge");
        for d in &devices {
            if let Some(total) = d.memory_total {
                let _ = writeln!(text, "llamadeck_gpu_memory_total_bytes{{gpu=\"{}\"}} {total}", d.index);
            }
        }
        let _ = writeln!(
            text,
            "# HELP llamadeck_gpu_process_memory_bytes GPU memory held by this process, per GPU.\n# TYPE llamadeck_gpu_process_memory_bytes gauge"
        );
        for d in &devices {
            if let Some(mem) = d.processes.iter().filter(|p| p.is_self).find_map(|p| p.memory) {
                let _ = writeln!(text, "llamadeck_gpu_process_memory_bytes{{gpu=\"{}\"}} {mem}", d.index);
            }
        }
        text
    }
}

/// Holds one open connection in the count.
pub struct ConnectionCount(Arc<Metrics>);

impl Drop for ConnectionCount {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Who asked what, and when: set on every request by `record`, read by the handlers.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestInfo {
    /// Unix seconds.
    pub at: u64,
    /// "POST /v1/chat/completions", as sent (cut short).
    pub endpoint: String,
    pub client: String,
    /// The client's address, when the connection has one.
    pub peer: Option<std::net::IpAddr>,
    /// When it arrived, for its total time.
    pub arrived: Instant,
}

impl Default for RequestInfo {
    fn default() -> Self {
        Self { at: 0, endpoint: String::new(), client: String::new(), peer: None, arrived: Instant::now() }
    }
}

/// Marks a response whose log entry its generation's `Tracker` writes.
#[derive(Debug, Clone, Copy)]
pub struct Tracked;

/// The peer address and the client's product (`User-Agent`'s first word).
fn client(peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
    let peer = peer.map_or("-".to_string(), |p| p.to_string());
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).and_then(|ua| ua.split_whitespace().next());
    match agent {
        Some(agent) => format!("{peer} {}", agent.chars().take(24).collect::<String>()),
        None => peer,
    }
}

/// Health checks and metric scrapes that succeed: polled every few seconds by monitors, they
/// would push every real request out of the log (`/metrics` still counts them).
fn is_probe(method: &Method, endpoint: &str, status: u16) -> bool {
    method == Method::GET && matches!(endpoint, "/health" | "/metrics") && (200..300).contains(&status)
}

/// Counts every response by endpoint and status for `/metrics`, and logs it for the console
/// unless a generation's `Tracker` will.
pub async fn record(State(metrics): State<Arc<Metrics>>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let label = super::routes::endpoint(&path);
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let info = RequestInfo {
        at: llamadeck_store::time::now_unix(),
        endpoint: format!("{method} {}", path.chars().take(80).collect::<String>()),
        client: client(peer, request.headers()),
        peer: peer.map(|p| p.ip()),
        arrived: Instant::now(),
    };
    request.extensions_mut().insert(info.clone());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics.request(label, status);
    if response.extensions().get::<Tracked>().is_none() && !is_probe(&method, label, status) {
        let note = response.extensions().get::<ErrorNote>();
        let outcome = match note {
            Some(note) => note.code.unwrap_or(if status >= 500 { "server error" } else { "refused" }).to_string(),
            None => "ok".to_string(),
        };
        metrics.log(RequestRecord {
            at: info.at,
            endpoint: info.endpoint,
            status,
            client: info.client,
            total_ms: Some(info.arrived.elapsed().as_millis() as u64),
            outcome,
            reason: note.map(|n| n.message.clone()).unwrap_or_default(),
            ..RequestRecord::default()
        });
    }
    response
}

/// One generation in flight; logs how it ended when dropped.
pub struct Tracker {
    metrics: Arc<Metrics>,
    info: RequestInfo,
    model: String,
    prompt_tokens: usize,
    started: Instant,
    ttft_ms: Option<u64>,
    chunks: usize,
    /// The HTTP status the client got (a stream that fails later still got 200).
    status: u16,
    /// In a word, why in full, and the engine's counts.
    outcome: Option<(String, String, GenStats)>,
}

impl Tracker {
    /// A piece of the answer arrived; the first one takes the request out of the queue. Each
    /// piece counts in `generated_tokens` at once (as vLLM's counter moves every step), so a
    /// scraper's rate shows an answer while it streams; the engine's exact count settles the
    /// rest when the answer ends.
    pub fn token(&mut self) {
        self.chunks += 1;
        self.metrics.generated_tokens.fetch_add(1, Ordering::Relaxed);
        if self.ttft_ms.is_none() {
            self.metrics.waiting.fetch_sub(1, Ordering::Relaxed);
            let secs = self.started.elapsed().as_secs_f64();
            self.ttft_ms = Some((secs * 1000.0) as u64);
            let mut h = lock(&self.metrics.ttft);
            if let Some(i) = TTFT_BUCKETS.iter().position(|le| secs <= *le) {
                h.buckets[i] += 1;
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// The answer ended normally ("stop", "length").
    pub fn finish(&mut self, reason: &str, stats: GenStats) {
        self.outcome = Some((reason.to_string(), String::new(), stats));
    }

    /// The answer ended in an error, told to the client with `status` (200 once a stream started).
    pub fn fail(&mut self, status: u16, message: &str) {
        self.status = status;
        let stats = self.counted();
        self.outcome = Some(("error".to_string(), message.to_string(), stats));
    }

    /// What this side counted, for an answer the engine did not finish.
    fn counted(&self) -> GenStats {
        GenStats { prompt_tokens: self.prompt_tokens, completion_tokens: self.chunks, ttft_ms: self.ttft_ms, ..GenStats::default() }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let m = &self.metrics;
        if self.ttft_ms.is_none() {
            m.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        let n = m.in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        let (outcome, reason, stats) = self.outcome.take().unwrap_or_else(|| {
            let why = format!("the client closed the connection after {} pieces of the answer", self.chunks);
            ("cancelled".to_string(), why, self.counted())
        });
        m.prompt_tokens.fetch_add(stats.prompt_tokens as u64, Ordering::Relaxed);
        // The pieces were counted as they came; the engine's count may be larger (a piece can
        // hold several tokens).
        m.generated_tokens.fetch_add(stats.completion_tokens.saturating_sub(self.chunks) as u64, Ordering::Relaxed);
        if stats.decode_tok_s.is_some() {
            *lock(&m.last_decode_tok_s) = stats.decode_tok_s;
        }
        let info = std::mem::take(&mut self.info);
        m.emit(ServerEvent::InFlight(n));
        m.log(RequestRecord {
            at: info.at,
            endpoint: info.endpoint,
            status: self.status,
            client: info.client,
            model: std::mem::take(&mut self.model),
            prompt_tokens: stats.prompt_tokens,
            cached_tokens: stats.cached_tokens,
            completion_tokens: stats.completion_tokens,
            decode_tok_s: stats.decode_tok_s,
            ttft_ms: stats.ttft_ms.or(self.ttft_ms),
            total_ms: Some(info.arrived.elapsed().as_millis() as u64),
            outcome,
            reason,
        });
    }
}
