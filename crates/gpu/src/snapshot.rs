//! What the GPU sampler publishes: one reading of every GPU, or why there is none,
//! plus the llamadeck process on the host. `None` in a metric means the card does not
//! report it (shown as n/a).

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuSnapshot {
    pub status: GpuStatus,
    pub devices: Vec<GpuDevice>,
    pub host: HostStats,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GpuStatus {
    /// NVML answered. `driver` is the driver version where known.
    Nvml { driver: Option<String> },
    /// No NVML: the plain-words reason (the NVML error).
    Unavailable { reason: String },
}

impl Default for GpuStatus {
    fn default() -> Self {
        GpuStatus::Unavailable { reason: "GPU sampler not started".into() }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuDevice {
    pub index: u32,
    pub name: String,
    /// Set when the device stopped answering (fell off the bus, XID error...).
    pub lost: Option<String>,
    pub memory_used: Option<u64>,
    pub memory_total: Option<u64>,
    pub memory_reserved: Option<u64>,
    pub util_gpu: Option<u32>,
    pub util_memory: Option<u32>,
    pub temperature_c: Option<u32>,
    pub power_mw: Option<u32>,
    pub power_limit_mw: Option<u32>,
    pub processes: Vec<GpuProcess>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuProcess {
    pub pid: u32,
    pub name: String,
    pub memory: Option<u64>,
    /// True for llamadeck's own process.
    pub is_self: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostStats {
    pub pid: u32,
    pub rss_bytes: u64,
    pub cpu_percent: f32,
    pub total_memory: u64,
    pub available_memory: u64,
    pub cpus: usize,
}
