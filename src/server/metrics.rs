//! Counters for `GET /metrics` (Prometheus text format) and the recent requests the console
//! shows. Each generation holds a `Tracker`, which records the outcome when it is dropped,
//! so a client that goes away mid-answer is still counted (as "cancelled").
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use crate::app::api::{RECENT, RequestRecord, ServerEvent};
use crate::chat::GenStats;
use crate::gpu::snapshot::GpuSnapshot;
use crate::sink::Sink;

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
    events: Option<Sink<ServerEvent>>,
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
    pub fn new(events: Option<Sink<ServerEvent>>) -> Self {
        Self { events, ..Self::default() }
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

    /// Starts tracking one generation.
    pub fn track(self: &Arc<Self>, endpoint: &'static str, client: String) -> Tracker {
        let n = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.emit(ServerEvent::InFlight(n));
        Tracker { metrics: self.clone(), endpoint, client, started: Instant::now(), waiting: true, chunks: 0, outcome: None }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gpu: Option<&GpuSnapshot>) -> String {
        let mut text = String::from(
            "# HELP llamadeck_requests_total HTTP API responses by endpoint and status.\n# TYPE llamadeck_requests_total counter\n",
        );
        for ((endpoint, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(text, "llamadeck_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
        }
        let gauge = |text: &mut String, name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        gauge(&mut text, "llamadeck_prompt_tokens_total", "counter", "Prompt tokens of API generations.", self.prompt_tokens.load(Ordering::Relaxed).to_string());
        gauge(&mut text, "llamadeck_generated_tokens_total", "counter", "Tokens generated for API requests (rate() of it is the throughput).", self.generated_tokens.load(Ordering::Relaxed).to_string());
        gauge(&mut text, "llamadeck_requests_in_flight", "gauge", "API generations running now.", self.in_flight.load(Ordering::Relaxed).to_string());
        gauge(&mut text, "llamadeck_queue_depth", "gauge", "API generations admitted that have not produced their first token yet.", self.waiting.load(Ordering::Relaxed).to_string());
        let tok_s = lock(&self.last_decode_tok_s).map_or("NaN".to_string(), |v| format!("{v:.3}"));
        gauge(&mut text, "llamadeck_decode_tokens_per_second", "gauge", "Decode speed of the last finished API generation.", tok_s);
        {
            let h = lock(&self.ttft);
            let _ = writeln!(text, "# HELP llamadeck_time_to_first_token_seconds Time from admission to the first token.\n# TYPE llamadeck_time_to_first_token_seconds histogram");
            let mut cumulative = 0;
            for (le, n) in TTFT_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(text, "llamadeck_time_to_first_token_seconds_bucket{{le=\"{le}\"}} {cumulative}");
            }
            let _ = writeln!(text, "llamadeck_time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(text, "llamadeck_time_to_first_token_seconds_sum {:.6}\nllamadeck_time_to_first_token_seconds_count {}", h.sum, h.count);
        }
        if let Some(rss) = resident_bytes() {
            gauge(&mut text, "llamadeck_process_resident_memory_bytes", "gauge", "Resident memory of the llamadeck process.", rss.to_string());
        }
        let devices: Vec<_> = gpu.map(|g| g.devices.iter().filter(|d| d.lost.is_none()).collect()).unwrap_or_default();
        let _ = writeln!(text, "# HELP llamadeck_gpu_memory_used_bytes GPU memory in use, per GPU (absent without NVML).\n# TYPE llamadeck_gpu_memory_used_bytes gauge");
        for d in &devices {
            if let Some(used) = d.memory_used {
                let _ = writeln!(text, "llamadeck_gpu_memory_used_bytes{{gpu=\"{}\"}} {used}", d.index);
            }
        }
        let _ = writeln!(text, "# HELP llamadeck_gpu_memory_total_bytes GPU memory, per GPU.\n# TYPE llamadeck_gpu_memory_total_bytes gauge");
        for d in &devices {
            if let Some(total) = d.memory_total {
                let _ = writeln!(text, "llamadeck_gpu_memory_total_bytes{{gpu=\"{}\"}} {total}", d.index);
            }
        }
        let _ = writeln!(text, "# HELP llamadeck_gpu_process_memory_bytes GPU memory held by this process, per GPU.\n# TYPE llamadeck_gpu_process_memory_bytes gauge");
        for d in &devices {
            if let Some(mem) = d.processes.iter().filter(|p| p.is_self).find_map(|p| p.memory) {
                let _ = writeln!(text, "llamadeck_gpu_process_memory_bytes{{gpu=\"{}\"}} {mem}", d.index);
            }
        }
        text
    }
}

/// The process's resident set (VmRSS), Linux only.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// One generation in flight; records its outcome when dropped.
pub struct Tracker {
    metrics: Arc<Metrics>,
    endpoint: &'static str,
    client: String,
    started: Instant,
    waiting: bool,
    chunks: usize,
    outcome: Option<(String, GenStats)>,
}

impl Tracker {
    /// A piece of the answer arrived; the first one takes the request out of the queue.
    pub fn token(&mut self) {
        self.chunks += 1;
        if std::mem::take(&mut self.waiting) {
            self.metrics.waiting.fetch_sub(1, Ordering::Relaxed);
            let secs = self.started.elapsed().as_secs_f64();
            let mut h = lock(&self.metrics.ttft);
            if let Some(i) = TTFT_BUCKETS.iter().position(|le| secs <= *le) {
                h.buckets[i] += 1;
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    pub fn finish(&mut self, status: &str, stats: GenStats) {
        self.outcome = Some((status.to_string(), stats));
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let m = &self.metrics;
        if self.waiting {
            m.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        let n = m.in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        let (status, stats) = self.outcome.take().unwrap_or_else(|| ("cancelled".into(), GenStats { completion_tokens: self.chunks, ..GenStats::default() }));
        m.prompt_tokens.fetch_add(stats.prompt_tokens as u64, Ordering::Relaxed);
        m.generated_tokens.fetch_add(stats.completion_tokens as u64, Ordering::Relaxed);
        if stats.decode_tok_s.is_some() {
            *lock(&m.last_decode_tok_s) = stats.decode_tok_s;
        }
        let record = RequestRecord {
            client: std::mem::take(&mut self.client),
            endpoint: self.endpoint,
            prompt_tokens: stats.prompt_tokens,
            completion_tokens: stats.completion_tokens,
            decode_tok_s: stats.decode_tok_s,
            ttft_ms: stats.ttft_ms,
            status,
        };
        {
            let mut recent = lock(&m.recent);
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(record.clone());
        }
        m.emit(ServerEvent::InFlight(n));
        m.emit(ServerEvent::Finished(record));
    }
}
