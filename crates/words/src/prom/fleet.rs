//! One model of what the console shows for a node, whichever server it scraped.
//!
//! vLLM, SGLang, llama.cpp's llama-server and `llamadeck serve` each name the same few facts
//! differently, and rename them between versions; DCGM exporter describes the GPUs. This file
//! is the one place that knows those names, so the rest of llamadeck reads a [`Snapshot`].
//! Anything a server does not publish is None rather than a guess.
//!
//! Names as published (checked against each project's sources and documentation):
//!
//! | fact | vLLM | SGLang | llama.cpp | llamadeck |
//! |---|---|---|---|---|
//! | running | `vllm:num_requests_running` | `sglang:num_running_reqs` | `llamacpp:requests_processing` | `llamadeck_requests_in_flight` less the queue |
//! | waiting | `vllm:num_requests_waiting` | `sglang:num_queue_reqs` | `llamacpp:requests_deferred` | `llamadeck_queue_depth` |
//! | KV cache, 0..1 | `vllm:kv_cache_usage_perc`, formerly `vllm:gpu_cache_usage_perc` | `sglang:token_usage` | `llamacpp:kv_cache_usage_ratio`, removed upstream by llama.cpp#13660 | none |
//! | prompt tokens | `vllm:prompt_tokens_total` | `sglang:prompt_tokens_total` | `llamacpp:prompt_tokens_total` | `llamadeck_prompt_tokens_total` |
//! | generated tokens | `vllm:generation_tokens_total` | `sglang:generation_tokens_total` | `llamacpp:tokens_predicted_total` | `llamadeck_generated_tokens_total` |
//! | time to first token | `vllm:time_to_first_token_seconds` | `sglang:time_to_first_token_seconds` | none | `llamadeck_time_to_first_token_seconds` |
//!
//! A server running several engines (vLLM's `engine="0"`, `engine="1"` under data parallelism)
//! publishes one series each: counts add up, the KV-cache fraction is their mean.
//!
//! A node's numbers are not trusted: each fact has a range ([`Fact::range`], one table), and a
//! value outside it (or not finite) is unknown rather than shown; a node lists at most
//! [`MAX_GPUS`] GPUs, and says how many more it sent.

use std::collections::{HashMap, HashSet};

use super::parse::{Sample, Scrape};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Vllm,
    Sglang,
    LlamaCpp,
    Llamadeck,
}

/// The inference server's side of a node. Counters are totals since the server started.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStats {
    pub kind: EngineKind,
    /// Requests being decoded or prefilled now.
    pub running: Option<f64>,
    /// Requests admitted but not yet scheduled.
    pub waiting: Option<f64>,
    /// Fraction of the KV cache in use, 0 to 1.
    pub kv_cache_usage: Option<f64>,
    pub prompt_tokens: Option<f64>,
    pub generated_tokens: Option<f64>,
    /// The time-to-first-token histogram's `_sum` and `_count`.
    pub ttft_sum_seconds: Option<f64>,
    pub ttft_count: Option<f64>,
}

impl EngineStats {
    /// Mean time to first token since the server started.
    pub fn ttft_mean_seconds(&self) -> Option<f64> {
        let (sum, count) = (self.ttft_sum_seconds?, self.ttft_count?);
        (count > 0.0).then(|| sum / count).and_then(|mean| Fact::FirstTokenSeconds.check(mean))
    }
}

/// GPUs kept of one node, all its metrics URLs together: room for eight GPUs each split into
/// seven MIG instances, DCGM listing each instance as a device of its own beside its GPU. More
/// is no server's hardware, and each GPU is copied on every poll.
pub const MAX_GPUS: usize = 64;

/// What a number read from a node stands for; [`Fact::range`] says what it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// Requests running or waiting.
    Requests,
    /// The KV cache in use, as a fraction.
    KvCacheFraction,
    /// A counter of tokens, or of first tokens timed, since the server started.
    Count,
    /// The time-to-first-token histogram's `_sum`.
    SecondsTotal,
    /// The mean time to a first token.
    FirstTokenSeconds,
    /// Tokens a second, between two polls.
    TokenRate,
    /// A GPU's utilisation.
    Percent,
    Celsius,
    Watts,
    /// GPU memory as DCGM counts it.
    MemoryMib,
    /// GPU memory as llamadeck counts it.
    MemoryBytes,
}

impl Fact {
    pub const ALL: [Fact; 11] = [
        Fact::Requests,
        Fact::KvCacheFraction,
        Fact::Count,
        Fact::SecondsTotal,
        Fact::FirstTokenSeconds,
        Fact::TokenRate,
        Fact::Percent,
        Fact::Celsius,
        Fact::Watts,
        Fact::MemoryMib,
        Fact::MemoryBytes,
    ];

    /// The one table of what each fact may be: lowest and highest, both allowed. DCGM's "blank"
    /// values (no reading, not supported, not permitted: 2^31-16.., 2^63-16.. and, as floating
    /// point, 2^47..) fall outside every range, so they read as unknown too.
    pub const fn range(self) -> (f64, f64) {
        match self {
            // The busiest servers hold thousands; a million requests is no server's.
            Fact::Requests => (0.0, 1e6),
            // vLLM's `kv_cache_usage_perc` too is a fraction, despite its name.
            Fact::KvCacheFraction => (0.0, 1.0),
            // Past 2^53 an f64 no longer counts one by one.
            Fact::Count | Fact::SecondsTotal => (0.0, 9_007_199_254_740_992.0),
            // A first token later than a day is no reading of a server that answers.
            Fact::FirstTokenSeconds => (0.0, 86_400.0),
            // Ten million tokens a second is far beyond any one node.
            Fact::TokenRate => (0.0, 1e7),
            Fact::Percent => (0.0, 100.0),
            // GPUs slow down near 90 °C and shut down near 100 °C; sensors read 127 °C at most.
            Fact::Celsius => (0.0, 150.0),
            // The largest GPUs draw about 1,400 W.
            Fact::Watts => (0.0, 5_000.0),
            // 16 TiB, some 50 times the largest GPU's memory.
            Fact::MemoryMib => (0.0, 16_777_216.0),
            Fact::MemoryBytes => (0.0, 17_592_186_044_416.0),
        }
    }

    /// `value` if it makes sense for this fact, else None (unknown).
    pub fn check(self, value: f64) -> Option<f64> {
        let (lowest, highest) = self.range();
        (lowest..=highest).contains(&value).then_some(value)
    }
}

/// One GPU, or one MIG instance of it, from DCGM exporter or from llamadeck's own metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuStats {
    /// The `gpu` label: the device's index on its host.
    pub index: Option<u32>,
    /// `GPU_I_ID`, set for a MIG instance.
    pub mig_instance: Option<String>,
    pub uuid: Option<String>,
    pub model: Option<String>,
    pub hostname: Option<String>,
    pub memory_used_bytes: Option<u64>,
    pub memory_total_bytes: Option<u64>,
    pub utilization_percent: Option<f64>,
    pub temperature_celsius: Option<f64>,
    pub power_watts: Option<f64>,
}

/// What one scrape says about a node. An engine's endpoint and the node's DCGM exporter are
/// scraped apart; each gives its half.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub engine: Option<EngineStats>,
    /// Ordered by index, then MIG instance; at most [`MAX_GPUS`].
    pub gpus: Vec<GpuStats>,
    /// GPUs the scrape listed beyond [`MAX_GPUS`], of the series the parser kept: a scrape it cut
    /// short (`parse::MAX_PER_FAMILY`) may have listed more.
    pub gpus_dropped: usize,
}

impl Snapshot {
    /// Adds what another metrics URL of the same node says: the first engine found counts, and
    /// the GPUs stay within [`MAX_GPUS`].
    pub fn merge(&mut self, other: Snapshot) {
        self.engine = self.engine.take().or(other.engine);
        let room = MAX_GPUS.saturating_sub(self.gpus.len());
        self.gpus_dropped += other.gpus_dropped + other.gpus.len().saturating_sub(room);
        self.gpus.extend(other.gpus.into_iter().take(room));
    }
}

/// Tokens per second between two snapshots of the same engine.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TokenRates {
    pub prompt_per_second: Option<f64>,
    pub generated_per_second: Option<f64>,
}

pub fn snapshot(scrape: &Scrape) -> Snapshot {
    let (gpus, gpus_dropped) = gpus(scrape);
    Snapshot { engine: engine(scrape), gpus, gpus_dropped }
}

/// Rates from two snapshots taken `seconds` apart. A counter that went down (the server
/// restarted) gives None, not a negative rate; a restart followed by more tokens than before
/// cannot be told from two readings and reads as a low rate.
pub fn token_rates(before: &Snapshot, after: &Snapshot, seconds: f64) -> TokenRates {
    let (Some(before), Some(after)) = (&before.engine, &after.engine) else {
        return TokenRates::default();
    };
    let usable = before.kind == after.kind && seconds.is_finite() && seconds > 0.0;
    let rate = |from: Option<f64>, to: Option<f64>| {
        let (from, to) = (from?, to?);
        (usable && to >= from).then(|| (to - from) / seconds).and_then(|r| Fact::TokenRate.check(r))
    };
    TokenRates {
        prompt_per_second: rate(before.prompt_tokens, after.prompt_tokens),
        generated_per_second: rate(before.generated_tokens, after.generated_tokens),
    }
}

/// Where an engine publishes each fact; of several names the first one present counts.
struct Names {
    kind: EngineKind,
    prefix: &'static str,
    running: &'static str,
    /// llamadeck counts a request in flight from admission, queue included.
    running_includes_waiting: bool,
    waiting: &'static str,
    kv_cache: &'static [&'static str],
    prompt_tokens: &'static str,
    generated_tokens: &'static str,
    ttft: Option<&'static str>,
}

const ENGINES: [Names; 4] = [
    Names {
        kind: EngineKind::Vllm,
        prefix: "vllm:",
        running: "vllm:num_requests_running",
        running_includes_waiting: false,
        waiting: "vllm:num_requests_waiting",
        // 0.10.2 publishes both, the old one's HELP saying DEPRECATED; vLLM hides a deprecated
        // metric one minor version later and removes it the next.
        kv_cache: &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
        prompt_tokens: "vllm:prompt_tokens_total",
        generated_tokens: "vllm:generation_tokens_total",
        ttft: Some("vllm:time_to_first_token_seconds"),
    },
    Names {
        kind: EngineKind::Sglang,
        prefix: "sglang:",
        running: "sglang:num_running_reqs",
        running_includes_waiting: false,
        waiting: "sglang:num_queue_reqs",
        kv_cache: &["sglang:token_usage"],
        prompt_tokens: "sglang:prompt_tokens_total",
        generated_tokens: "sglang:generation_tokens_total",
        ttft: Some("sglang:time_to_first_token_seconds"),
    },
    Names {
        kind: EngineKind::LlamaCpp,
        prefix: "llamacpp:",
        running: "llamacpp:requests_processing",
        running_includes_waiting: false,
        waiting: "llamacpp:requests_deferred",
        // Still served by older builds and forks such as ik_llama.cpp.
        kv_cache: &["llamacpp:kv_cache_usage_ratio"],
        prompt_tokens: "llamacpp:prompt_tokens_total",
        generated_tokens: "llamacpp:tokens_predicted_total",
        ttft: None,
    },
    Names {
        kind: EngineKind::Llamadeck,
        prefix: "llamadeck_",
        running: "llamadeck_requests_in_flight",
        running_includes_waiting: true,
        waiting: "llamadeck_queue_depth",
        kv_cache: &[],
        prompt_tokens: "llamadeck_prompt_tokens_total",
        generated_tokens: "llamadeck_generated_tokens_total",
        ttft: Some("llamadeck_time_to_first_token_seconds"),
    },
];

fn engine(scrape: &Scrape) -> Option<EngineStats> {
    let names = ENGINES.iter().find(|e| scrape.samples.iter().any(|s| s.name.starts_with(e.prefix)))?;
    let total = |name: &str, fact: Fact| sensible(scrape, name, fact).map(|values| values.iter().sum()).and_then(|sum| fact.check(sum));
    let waiting = total(names.waiting, Fact::Requests);
    let mut running = total(names.running, Fact::Requests);
    if names.running_includes_waiting {
        running = running.map(|r| (r - waiting.unwrap_or(0.0)).max(0.0));
    }
    let mean = |name: &str| sensible(scrape, name, Fact::KvCacheFraction).map(|values| values.iter().sum::<f64>() / values.len() as f64);
    Some(EngineStats {
        kind: names.kind,
        running,
        waiting,
        kv_cache_usage: names.kv_cache.iter().find(|name| scrape.series(name, &[]).next().is_some()).and_then(|name| mean(name)),
        prompt_tokens: total(names.prompt_tokens, Fact::Count),
        generated_tokens: total(names.generated_tokens, Fact::Count),
        ttft_sum_seconds: names.ttft.and_then(|base| total(&format!("{base}_sum"), Fact::SecondsTotal)),
        ttft_count: names.ttft.and_then(|base| total(&format!("{base}_count"), Fact::Count)),
    })
}

/// The values of `name` (NaN, Prometheus' "no value", left out); None when there is none, or
/// when any of them is outside the fact's range: one engine's nonsense makes the total unknown.
fn sensible(scrape: &Scrape, name: &str, fact: Fact) -> Option<Vec<f64>> {
    let values: Option<Vec<f64>> = scrape.series(name, &[]).map(|s| s.value).filter(|v| !v.is_nan()).map(|v| fact.check(v)).collect();
    values.filter(|values| !values.is_empty())
}

/// The GPU readings one sample can carry.
#[derive(Clone, Copy)]
enum Reading {
    UsedMib,
    FreeMib,
    ReservedMib,
    TotalMib,
    UsedBytes,
    TotalBytes,
    Utilization,
    Temperature,
    Power,
    /// A DCGM field this model does not show; it still names the GPU.
    Other,
}

fn reading(name: &str) -> Option<Reading> {
    Some(match name {
        // dcgm-exporter 2.x and later; the lower-case ones are its 1.x names.
        "DCGM_FI_DEV_FB_USED" | "dcgm_fb_used" => Reading::UsedMib,
        "DCGM_FI_DEV_FB_FREE" | "dcgm_fb_free" => Reading::FreeMib,
        "DCGM_FI_DEV_FB_RESERVED" => Reading::ReservedMib,
        "DCGM_FI_DEV_FB_TOTAL" => Reading::TotalMib,
        "DCGM_FI_DEV_GPU_UTIL" | "dcgm_gpu_utilization" => Reading::Utilization,
        "DCGM_FI_DEV_GPU_TEMP" | "dcgm_gpu_temp" => Reading::Temperature,
        "DCGM_FI_DEV_POWER_USAGE" | "dcgm_power_usage" => Reading::Power,
        "llamadeck_gpu_memory_used_bytes" => Reading::UsedBytes,
        "llamadeck_gpu_memory_total_bytes" => Reading::TotalBytes,
        n if n.starts_with("DCGM_FI_") || n.starts_with("dcgm_") => Reading::Other,
        _ => return None,
    })
}

#[derive(Default)]
struct Gpu {
    stats: GpuStats,
    used_mib: Option<f64>,
    free_mib: Option<f64>,
    reserved_mib: Option<f64>,
    total_mib: Option<f64>,
}

impl Gpu {
    fn take(&mut self, reading: Reading, sample: &Sample) {
        let s = &mut self.stats;
        let label = |names: &[&str]| names.iter().find_map(|n| sample.label(n)).map(str::to_string);
        s.uuid = s.uuid.take().or_else(|| label(&["UUID", "uuid"]));
        s.model = s.model.take().or_else(|| label(&["modelName"]));
        // dcgm-exporter renamed Hostname to hostname in 2026 (NVIDIA/dcgm-exporter#655).
        s.hostname = s.hostname.take().or_else(|| label(&["Hostname", "hostname"]));
        // DCGM's blank values (no reading; newer exporters leave such samples out, older ones
        // print them, as the exporter's README shows) are outside every range, as is nonsense.
        let value = |fact: Fact| fact.check(sample.value);
        match reading {
            Reading::UsedMib => self.used_mib = value(Fact::MemoryMib),
            Reading::FreeMib => self.free_mib = value(Fact::MemoryMib),
            Reading::ReservedMib => self.reserved_mib = value(Fact::MemoryMib),
            Reading::TotalMib => self.total_mib = value(Fact::MemoryMib),
            Reading::UsedBytes => s.memory_used_bytes = bytes(value(Fact::MemoryBytes), 1.0),
            Reading::TotalBytes => s.memory_total_bytes = bytes(value(Fact::MemoryBytes), 1.0),
            Reading::Utilization => s.utilization_percent = value(Fact::Percent),
            Reading::Temperature => s.temperature_celsius = value(Fact::Celsius),
            Reading::Power => s.power_watts = value(Fact::Watts),
            Reading::Other => {}
        }
    }

    fn finish(mut self) -> GpuStats {
        const MIB: f64 = 1024.0 * 1024.0;
        // DCGM's used and free leave out what the driver reserves, where it reports that.
        let total = self.total_mib.or_else(|| Some(self.used_mib? + self.free_mib? + self.reserved_mib.unwrap_or(0.0)));
        let total = total.and_then(|mib| Fact::MemoryMib.check(mib));
        let s = &mut self.stats;
        s.memory_used_bytes = s.memory_used_bytes.or(bytes(self.used_mib, MIB));
        s.memory_total_bytes = s.memory_total_bytes.or(bytes(total, MIB));
        self.stats
    }
}

fn bytes(value: Option<f64>, unit: f64) -> Option<u64> {
    value.filter(|v| *v >= 0.0).map(|v| (v * unit).round() as u64)
}

/// The GPUs, at most [`MAX_GPUS`] (the first listed), and how many more the scrape named.
fn gpus(scrape: &Scrape) -> (Vec<GpuStats>, usize) {
    let mut by_device: HashMap<(&str, Option<&str>), Gpu> = HashMap::new();
    let mut dropped: HashSet<(&str, Option<&str>)> = HashSet::new();
    for sample in &scrape.samples {
        // NVSwitch and CPU entities carry no `gpu` label.
        let (Some(reading), Some(gpu)) = (reading(&sample.name), sample.label("gpu")) else {
            continue;
        };
        let instance = sample.label("GPU_I_ID");
        if by_device.len() >= MAX_GPUS && !by_device.contains_key(&(gpu, instance)) {
            dropped.insert((gpu, instance));
            continue;
        }
        let entry = by_device.entry((gpu, instance)).or_insert_with(|| Gpu {
            stats: GpuStats { index: gpu.parse().ok(), mig_instance: instance.map(str::to_string), ..GpuStats::default() },
            ..Gpu::default()
        });
        entry.take(reading, sample);
    }
    let mut gpus: Vec<GpuStats> = by_device.into_values().map(Gpu::finish).collect();
    gpus.sort_by(|a, b| (a.index, &a.mig_instance).cmp(&(b.index, &b.mig_instance)));
    (gpus, dropped.len())
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn read(text: &str) -> Snapshot {
        snapshot(&parse(text))
    }

    fn engine_of(text: &str) -> EngineStats {
        read(text).engine.expect("an engine")
    }

    #[test]
    fn vllm_design_doc() {
        let snap = read(include_str!("../../tests/fixtures/metrics/vllm-design-doc.txt"));
        let e = snap.engine.unwrap();
        assert_eq!(e.kind, EngineKind::Vllm);
        assert_eq!((e.running, e.waiting, e.kv_cache_usage), (Some(8.0), None, None));
        assert_eq!((e.prompt_tokens, e.generated_tokens), (None, Some(27453.0)));
        assert_eq!((e.ttft_sum_seconds, e.ttft_count, e.ttft_mean_seconds()), (None, Some(140.0), None));
        assert!(snap.gpus.is_empty());
    }

    #[test]
    fn vllm_before_the_kv_cache_rename() {
        let e = engine_of(include_str!("../../tests/fixtures/metrics/vllm-issue-318.txt"));
        assert_eq!(e.kind, EngineKind::Vllm);
        assert_eq!((e.running, e.waiting, e.kv_cache_usage), (Some(0.0), Some(0.0), Some(0.0)));
        assert_eq!((e.prompt_tokens, e.generated_tokens, e.ttft_count), (None, None, None));
    }

    #[test]
    fn vllm_new_kv_cache_name_wins_and_engines_add_up() {
        // vLLM 0.10.2 publishes both KV names; data parallelism gives one series per engine.
        let e = engine_of(concat!(
            "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\n",
            "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 5.0\n",
            "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 1.0\n",
            "vllm:num_requests_waiting_by_reason{engine=\"0\",model_name=\"m\",reason=\"capacity\"} 1.0\n",
            "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n",
            "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.75\n",
            "vllm:gpu_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.99\n",
            "vllm:prompt_tokens_total{engine=\"0\",model_name=\"m\"} 100.0\n",
            "vllm:prompt_tokens_total{engine=\"1\",model_name=\"m\"} 50.0\n",
            "vllm:prompt_tokens_created{engine=\"0\",model_name=\"m\"} 1.7e9\n",
        ));
        assert_eq!((e.running, e.waiting), (Some(8.0), Some(1.0)));
        assert_eq!(e.kv_cache_usage, Some(0.5));
        assert_eq!(e.prompt_tokens, Some(150.0));
    }

    #[test]
    fn sglang_docs() {
        let e = engine_of(include_str!("../../tests/fixtures/metrics/sglang.txt"));
        assert_eq!(e.kind, EngineKind::Sglang);
        assert_eq!((e.running, e.waiting, e.kv_cache_usage), (Some(162.0), Some(2826.0), Some(0.28)));
        assert_eq!((e.prompt_tokens, e.generated_tokens), (Some(8_128_902.0), Some(7_557_572.0)));
        assert_eq!((e.ttft_sum_seconds, e.ttft_count), (Some(2_351_897.947_411_775_6), Some(11008.0)));
        assert!((e.ttft_mean_seconds().unwrap() - 213.653_520).abs() < 1e-6, "about 3.5 minutes, as published");
    }

    #[test]
    fn llamacpp_with_the_kv_cache_metric() {
        let e = engine_of(include_str!("../../tests/fixtures/metrics/llamacpp-ik-pr695.txt"));
        assert_eq!(e.kind, EngineKind::LlamaCpp);
        assert_eq!((e.running, e.waiting, e.kv_cache_usage), (Some(0.0), Some(0.0), Some(0.491063)));
        assert_eq!((e.prompt_tokens, e.generated_tokens), (Some(6886.0), Some(3469.0)));
        assert_eq!((e.ttft_sum_seconds, e.ttft_count), (None, None));
    }

    #[test]
    fn llamacpp_upstream_without_it() {
        let e = engine_of(include_str!("../../tests/fixtures/metrics/llamacpp-pr13196.txt"));
        assert_eq!(e.kind, EngineKind::LlamaCpp);
        assert_eq!((e.prompt_tokens, e.generated_tokens), (Some(143.0), Some(673.0)));
        assert_eq!((e.running, e.waiting, e.kv_cache_usage), (None, None, None));
    }

    #[test]
    fn llamadeck_own_metrics() {
        let snap = read(include_str!("../../tests/fixtures/metrics/llamadeck.txt"));
        let e = snap.engine.unwrap();
        assert_eq!(e.kind, EngineKind::Llamadeck);
        // Two in flight, one of them still waiting for its first token.
        assert_eq!((e.running, e.waiting, e.kv_cache_usage), (Some(1.0), Some(1.0), None));
        assert_eq!((e.prompt_tokens, e.generated_tokens), (Some(412.0), Some(913.0)));
        assert_eq!(e.ttft_mean_seconds(), Some(2.51 / 4.0));
        let gpu = GpuStats {
            index: Some(0),
            memory_used_bytes: Some(61_203_283_968),
            memory_total_bytes: Some(85_520_809_984),
            ..GpuStats::default()
        };
        assert_eq!(snap.gpus, [gpu]);
    }

    #[test]
    fn dcgm_exporter_on_an_l4() {
        let snap = read(include_str!("../../tests/fixtures/metrics/dcgm-kops-l4.txt"));
        assert_eq!(snap.engine, None);
        let gpu = GpuStats {
            index: Some(0),
            mig_instance: None,
            uuid: Some("GPU-c2f76b33-7953-256e-8f33-1343419b1a1c".into()),
            model: Some("NVIDIA L4".into()),
            hostname: Some("i-030791dc5a37cd257".into()),
            memory_used_bytes: Some(0),
            // used 0 + free 22563 + reserved 470 MiB
            memory_total_bytes: Some(23_033 * 1024 * 1024),
            utilization_percent: Some(0.0),
            temperature_celsius: Some(31.0),
            power_watts: Some(16.365),
        };
        assert_eq!(snap.gpus, [gpu]);
    }

    #[test]
    fn dcgm_exporter_readme() {
        let snap = read(include_str!("../../tests/fixtures/metrics/dcgm-exporter-readme.txt"));
        let gpu = GpuStats { index: Some(0), uuid: Some("GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52".into()), ..GpuStats::default() };
        assert_eq!(snap.gpus, [gpu]);
    }

    #[test]
    fn dcgm_blanks_hostname_case_mig_and_old_names() {
        let snap = read(concat!(
            "DCGM_FI_DEV_GPU_TEMP{gpu=\"1\",UUID=\"GPU-b\",hostname=\"node7\"} 9223372036854775794\n",
            "DCGM_FI_DEV_POWER_USAGE{gpu=\"1\",UUID=\"GPU-b\",hostname=\"node7\"} 140737488355330\n",
            "DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-b\",hostname=\"node7\"} 2147483634\n",
            "DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-a\",GPU_I_PROFILE=\"1g.6gb\",GPU_I_ID=\"4\"} 3\n",
            "DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-a\",GPU_I_PROFILE=\"1g.6gb\",GPU_I_ID=\"3\"} 5\n",
            "DCGM_FI_DEV_FB_FREE{gpu=\"0\",UUID=\"GPU-a\",GPU_I_PROFILE=\"1g.6gb\",GPU_I_ID=\"3\"} 6012\n",
            "DCGM_FI_DEV_NVSWITCH_TEMPERATURE_CURRENT{nvswitch=\"0\"} 40\n",
            "dcgm_gpu_temp{gpu=\"2\",uuid=\"GPU-c\"} 25\n",
            "dcgm_power_usage{gpu=\"2\",uuid=\"GPU-c\"} 10.101\n",
        ));
        let summary: Vec<_> = snap
            .gpus
            .iter()
            .map(|g| (g.index, g.mig_instance.as_deref(), g.uuid.as_deref(), g.memory_used_bytes, g.memory_total_bytes))
            .collect();
        let mib = 1024 * 1024;
        assert_eq!(
            summary,
            [
                (Some(0), Some("3"), Some("GPU-a"), Some(5 * mib), Some(6017 * mib)),
                (Some(0), Some("4"), Some("GPU-a"), Some(3 * mib), None),
                (Some(1), None, Some("GPU-b"), None, None),
                (Some(2), None, Some("GPU-c"), None, None),
            ]
        );
        let blank = &snap.gpus[2];
        assert_eq!(blank.hostname.as_deref(), Some("node7"));
        assert_eq!((blank.temperature_celsius, blank.power_watts, blank.utilization_percent), (None, None, None));
        assert_eq!((snap.gpus[3].temperature_celsius, snap.gpus[3].power_watts), (Some(25.0), Some(10.101)));
    }

    #[test]
    fn every_range_takes_its_ends_and_nothing_beyond() {
        for fact in Fact::ALL {
            let (lowest, highest) = fact.range();
            assert!(lowest < highest && highest.is_finite(), "{fact:?}");
            assert_eq!((fact.check(lowest), fact.check(highest)), (Some(lowest), Some(highest)), "{fact:?}");
            for nonsense in [lowest - 1.0, highest * 1.5, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e308, -5.0] {
                assert_eq!(fact.check(nonsense), None, "{fact:?} took {nonsense}");
            }
        }
        // Where each fact's range is a unit's (a fraction, or percent), values in the other read as unknown.
        assert_eq!(Fact::KvCacheFraction.check(43.0), None);
        assert_eq!(Fact::Percent.check(43.0), Some(43.0));
    }

    #[test]
    fn engine_values_without_sense_read_as_unknown() {
        // The node: inf running, -5 waiting, an infinite KV cache, a 309-digit counter.
        let e = engine_of(concat!(
            "vllm:num_requests_running{engine=\"0\"} +Inf\n",
            "vllm:num_requests_waiting{engine=\"0\"} -5\n",
            "vllm:kv_cache_usage_perc{engine=\"0\"} Inf\n",
            "vllm:prompt_tokens_total{engine=\"0\"} 1e308\n",
            "vllm:generation_tokens_total{engine=\"0\"} 5\n",
            "vllm:generation_tokens_total{engine=\"1\"} -1\n",
            "vllm:time_to_first_token_seconds_sum{engine=\"0\"} 1e15\n",
            "vllm:time_to_first_token_seconds_count{engine=\"0\"} 0.5\n",
        ));
        assert_eq!((e.running, e.waiting, e.kv_cache_usage), (None, None, None));
        // One engine's nonsense makes the total unknown, not a smaller total.
        assert_eq!((e.prompt_tokens, e.generated_tokens), (None, None));
        assert_eq!((e.ttft_sum_seconds, e.ttft_count, e.ttft_mean_seconds()), (Some(1e15), Some(0.5), None));
        // Engines that each make sense but add up to nonsense.
        let many: String = (0..3).map(|i| format!("vllm:num_requests_running{{engine=\"{i}\"}} 600000\n")).collect();
        assert_eq!(engine_of(&many).running, None);
        // 100,000 copies of one line are one request, not 100,000.
        let copies = engine_of(&"vllm:num_requests_running 1\n".repeat(100_000));
        assert_eq!(copies.running, Some(1.0));
        // A rate from two sane counters read a moment apart can still be nonsense.
        let (a, b) = (tokens(EngineKind::Vllm, Some(0.0), Some(0.0)), tokens(EngineKind::Vllm, Some(1e12), Some(10.0)));
        assert_eq!(token_rates(&a, &b, 0.001), TokenRates { prompt_per_second: None, generated_per_second: Some(10_000.0) });
    }

    #[test]
    fn gpu_values_without_sense_read_as_unknown() {
        let snap = read(concat!(
            "DCGM_FI_DEV_GPU_TEMP{gpu=\"0\"} 1e308\n",
            "DCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} -5\n",
            "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} +Inf\n",
            "DCGM_FI_DEV_FB_USED{gpu=\"0\"} 1e308\n",
            "DCGM_FI_DEV_FB_FREE{gpu=\"0\"} 100\n",
            "DCGM_FI_DEV_GPU_TEMP{gpu=\"1\"} 150.5\n",
            "DCGM_FI_DEV_GPU_UTIL{gpu=\"1\"} 100\n",
            "DCGM_FI_DEV_FB_USED{gpu=\"1\"} 16000000\n",
            "DCGM_FI_DEV_FB_FREE{gpu=\"1\"} 16000000\n",
            "llamadeck_gpu_memory_used_bytes{gpu=\"2\"} 1e308\n",
            "llamadeck_gpu_memory_total_bytes{gpu=\"2\"} 85520809984\n",
        ));
        let [zero, one, two] = &snap.gpus[..] else { panic!("{:?}", snap.gpus) };
        assert_eq!((zero.temperature_celsius, zero.power_watts, zero.utilization_percent), (None, None, None));
        assert_eq!((zero.memory_used_bytes, zero.memory_total_bytes), (None, None));
        assert_eq!((one.temperature_celsius, one.utilization_percent), (None, Some(100.0)));
        // Used and free each make sense; their total (30 TiB) does not.
        assert_eq!((one.memory_used_bytes, one.memory_total_bytes), (Some(16_000_000 << 20), None));
        assert_eq!((two.memory_used_bytes, two.memory_total_bytes), (None, Some(85_520_809_984)));
    }

    #[test]
    fn a_node_lists_at_most_max_gpus_and_says_how_many_more() {
        // A hostile DCGM exporter: 60,000 GPUs, 4 MiB of them.
        let text: String = (0..60_000).map(|gpu| format!("DCGM_FI_DEV_GPU_TEMP{{gpu=\"{gpu}\",UUID=\"GPU-{gpu}\"}} 40\n")).collect();
        assert!(text.len() < super::super::parse::MAX_BYTES);
        let scrape = parse(&text);
        let snap = snapshot(&scrape);
        assert_eq!(snap.gpus.len(), MAX_GPUS);
        // The parser keeps a family's first series only; of those, all beyond the cap are counted.
        assert_eq!(snap.gpus_dropped, scrape.samples.len() - MAX_GPUS);
        assert!(snap.gpus_dropped > 1000, "{}", snap.gpus_dropped);
        assert_eq!((snap.gpus[0].index, snap.gpus[MAX_GPUS - 1].index), (Some(0), Some(MAX_GPUS as u32 - 1)));
        // Another URL of the same node adds within the cap, and what it left out.
        let mut merged = read("DCGM_FI_DEV_GPU_TEMP{gpu=\"0\"} 40\nDCGM_FI_DEV_GPU_TEMP{gpu=\"1\"} 41\n");
        merged.merge(snap.clone());
        assert_eq!((merged.gpus.len(), merged.gpus_dropped), (MAX_GPUS, snap.gpus_dropped + 2));
        assert_eq!(merged.gpus[1].temperature_celsius, Some(41.0), "the first URL's GPUs come first");
    }

    #[test]
    fn unknown_servers_give_an_empty_snapshot() {
        assert_eq!(read("process_open_fds 45\ngo_goroutines 5\n"), Snapshot::default());
        assert_eq!(read(""), Snapshot::default());
    }

    fn tokens(kind: EngineKind, prompt: Option<f64>, generated: Option<f64>) -> Snapshot {
        let engine = EngineStats {
            kind,
            running: None,
            waiting: None,
            kv_cache_usage: None,
            prompt_tokens: prompt,
            generated_tokens: generated,
            ttft_sum_seconds: None,
            ttft_count: None,
        };
        Snapshot { engine: Some(engine), ..Snapshot::default() }
    }

    #[test]
    fn rates_between_two_snapshots() {
        let vllm = EngineKind::Vllm;
        let before = tokens(vllm, Some(1000.0), Some(5000.0));
        let after = tokens(vllm, Some(1600.0), Some(5000.0));
        let rates = token_rates(&before, &after, 2.0);
        assert_eq!((rates.prompt_per_second, rates.generated_per_second), (Some(300.0), Some(0.0)));
    }

    #[test]
    fn a_counter_reset_gives_no_rate() {
        let before = tokens(EngineKind::Sglang, Some(1000.0), Some(5000.0));
        let restarted = tokens(EngineKind::Sglang, Some(1200.0), Some(40.0));
        let rates = token_rates(&before, &restarted, 5.0);
        assert_eq!((rates.prompt_per_second, rates.generated_per_second), (Some(40.0), None));
    }

    #[test]
    fn no_rate_without_a_usable_interval_or_pair() {
        let a = tokens(EngineKind::Vllm, Some(1.0), Some(1.0));
        let b = tokens(EngineKind::Vllm, Some(9.0), None);
        for seconds in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(token_rates(&a, &b, seconds), TokenRates::default(), "{seconds}");
        }
        assert_eq!(token_rates(&a, &b, 1.0), TokenRates { prompt_per_second: Some(8.0), generated_per_second: None });
        let other_server = tokens(EngineKind::LlamaCpp, Some(9.0), Some(9.0));
        assert_eq!(token_rates(&a, &other_server, 1.0), TokenRates::default());
        assert_eq!(token_rates(&Snapshot::default(), &a, 1.0), TokenRates::default());
    }

    #[test]
    fn rates_from_two_real_scrapes_of_the_same_text_are_zero() {
        let text = include_str!("../../tests/fixtures/metrics/sglang.txt");
        let rates = token_rates(&read(text), &read(text), 15.0);
        assert_eq!((rates.prompt_per_second, rates.generated_per_second), (Some(0.0), Some(0.0)));
    }
}
