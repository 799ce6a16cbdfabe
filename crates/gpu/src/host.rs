//! This process on the host (RSS, CPU %) and the host's memory, for every snapshot; and the
//! source used when NVML is unavailable, since the model then runs on the CPU.
use sysinfo::{MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::GpuSource;
use super::snapshot::{GpuSnapshot, GpuStatus, HostStats};

/// Reads only this process and /proc/meminfo: refreshing every process would cost far more
/// than the idle console's CPU budget at one sample a second.
pub(crate) struct HostProbe {
    system: System,
    pid: Pid,
}

impl HostProbe {
    pub(crate) fn new() -> Self {
        Self { system: System::new(), pid: Pid::from_u32(std::process::id()) }
    }

    /// `cpu_percent` is per core, as in `top` (400% = four cores busy); it reads 0 on the
    /// first call because CPU use is a difference between two readings.
    pub(crate) fn read(&mut self) -> HostStats {
        self.system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            false,
            ProcessRefreshKind::nothing().with_cpu().with_memory().without_tasks(),
        );
        let process = self.system.process(self.pid);
        HostStats {
            pid: self.pid.as_u32(),
            rss_bytes: process.map_or(0, |p| p.memory()),
            cpu_percent: process.map_or(0.0, |p| p.cpu_usage()),
            total_memory: self.system.total_memory(),
            available_memory: self.system.available_memory(),
            cpus: self.system.cpus().len(),
        }
    }
}

/// The source when NVML cannot be used: every snapshot says why and carries host stats.
pub(crate) struct HostOnlySource {
    reason: String,
    probe: HostProbe,
}

impl HostOnlySource {
    pub(crate) fn new(reason: String) -> Self {
        Self { reason, probe: HostProbe::new() }
    }
}

impl GpuSource for HostOnlySource {
    fn sample(&mut self) -> GpuSnapshot {
        GpuSnapshot { status: GpuStatus::Unavailable { reason: self.reason.clone() }, devices: Vec::new(), host: self.probe.read() }
    }
}

/// This process's resident set now (VmRSS), Linux only: exact and cheap, for a figure read once
/// (the API's `/metrics`, the bench), where the sampler's `HostStats` may be a second old.
pub fn resident_bytes() -> Option<u64> {
    proc_status_bytes("VmRSS:")
}

/// This process's peak resident set (VmHWM), Linux only.
pub fn peak_resident_bytes() -> Option<u64> {
    proc_status_bytes("VmHWM:")
}

fn proc_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix(key))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_only_source_reports_the_reason_and_plausible_host_stats() {
        let mut source = HostOnlySource::new("NVML not available: test".into());
        source.sample();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let snap = source.sample();
        assert_eq!(snap.status, GpuStatus::Unavailable { reason: "NVML not available: test".into() });
        assert!(snap.devices.is_empty());
        let host = snap.host;
        assert_eq!(host.pid, std::process::id());
        assert!(host.rss_bytes > 1 << 20, "rss {}", host.rss_bytes);
        assert!(host.total_memory > host.rss_bytes);
        assert!(host.available_memory <= host.total_memory);
        assert!(host.cpus >= 1);
        assert!((0.0..=host.cpus as f32 * 100.0).contains(&host.cpu_percent), "cpu {}", host.cpu_percent);
    }
}
