//! Reading a fleet of inference nodes through their Prometheus endpoints.
//!
//! `parse` turns a scrape (Prometheus text 0.0.4 or OpenMetrics) into samples without ever
//! failing as a whole; `fleet` maps the samples of vLLM, SGLang, llama.cpp, `llamadeck serve`
//! and DCGM exporter onto one [`fleet::Snapshot`] and turns two snapshots into token rates.
//! Only std: the one crate for this, `prometheus-parse`, drops every metric whose name holds a
//! colon, which is every metric the inference engines publish.

pub mod fleet;
pub mod parse;

pub use fleet::{EngineKind, EngineStats, Fact, GpuStats, MAX_GPUS, Snapshot, TokenRates, snapshot, token_rates};
pub use parse::{Histogram, MetricType, Sample, Scrape, parse, parse_bytes};
