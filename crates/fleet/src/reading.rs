//! What the console knows about each node: whether it answers and why not, what it serves, and
//! the latest metrics, mapped by `prom::fleet` whichever server published them.
use llamadeck_words::prom::{EngineStats, GpuStats, TokenRates};

/// Whether a node answers its OpenAI API (or, without one, its metrics).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Health {
    /// Not asked yet.
    #[default]
    Waiting,
    Up,
    /// It answers, but has no model to serve yet; where it stands.
    Loading(String),
    /// It does not answer, or not as a server should; why.
    Down(String),
}

impl Health {
    pub fn word(&self) -> &'static str {
        match self {
            Health::Waiting => "…",
            Health::Up => "up",
            Health::Loading(_) => "loading",
            Health::Down(_) => "down",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Health::Loading(why) | Health::Down(why) => Some(why),
            Health::Waiting | Health::Up => None,
        }
    }
}

/// One node as last polled.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeReading {
    pub name: String,
    /// `host:port` of its API (or of its first metrics URL).
    pub address: String,
    pub health: Health,
    /// The model its API serves.
    pub model: Option<String>,
    /// The context length its API reports (0: it does not say).
    pub context_len: usize,
    pub engine: Option<EngineStats>,
    /// Tokens per second between the last two polls.
    pub rates: TokenRates,
    /// At most `prom::MAX_GPUS`, all its metrics URLs together.
    pub gpus: Vec<GpuStats>,
    /// GPUs its metrics listed beyond that cap.
    pub gpus_dropped: usize,
    /// Metrics URLs that did not give a reading, each with why.
    pub problems: Vec<String>,
}

/// Every node, in the order the config lists them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fleet {
    pub nodes: Vec<NodeReading>,
}
