//! Ring buffers behind the GPU panel's sparklines. Every series holds percentages (0..=100)
//! so the panel draws them all on one fixed scale; a missing reading is a gap (`None`).
use std::collections::{BTreeMap, VecDeque};

use super::snapshot::GpuSnapshot;

/// Samples kept when no capacity is given: two minutes at the default one-second interval.
const DEFAULT_CAPACITY: usize = 120;

/// One metric over time, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series(VecDeque<Option<u8>>);

static EMPTY: Series = Series(VecDeque::new());

impl Series {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The newest `count` readings (fewer if the series is shorter), oldest first.
    pub fn recent(&self, count: usize) -> impl Iterator<Item = Option<u8>> + '_ {
        self.0.iter().copied().skip(self.0.len().saturating_sub(count))
    }

    fn push(&mut self, value: Option<u8>, capacity: usize) {
        while self.0.len() >= capacity {
            self.0.pop_front();
        }
        self.0.push_back(value);
    }

    fn has_readings(&self) -> bool {
        self.0.iter().any(Option::is_some)
    }
}

#[derive(Debug, Clone, Default)]
struct DeviceSeries {
    util: Series,
    memory: Series,
}

#[derive(Debug, Clone)]
pub struct GpuHistory {
    capacity: usize,
    /// By device index. A device missing from a snapshot (or lost) gets a gap; it is
    /// forgotten once its whole window is gaps.
    devices: BTreeMap<u32, DeviceSeries>,
    host_cpu: Series,
    host_memory: Series,
}

impl Default for GpuHistory {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl GpuHistory {
    /// `capacity` samples per series (history_secs / interval); at least one.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), devices: BTreeMap::new(), host_cpu: Series::default(), host_memory: Series::default() }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends GPU utilisation and memory-used % per device, plus this process's CPU (as % of
    /// all cores) and RSS (as % of host memory), which the panel shows when there is no GPU.
    pub fn record(&mut self, snap: &GpuSnapshot) {
        let capacity = self.capacity;
        for series in self.devices.values_mut() {
            series.util.push(None, capacity);
            series.memory.push(None, capacity);
        }
        for device in &snap.devices {
            let series = self.devices.entry(device.index).or_default();
            // Replace the gap pushed above (or start the series) with this reading.
            series.util.0.pop_back();
            series.memory.0.pop_back();
            let (util, memory) = match device.lost {
                Some(_) => (None, None),
                None => (device.util_gpu.map(clamp_percent), percent_of(device.memory_used, device.memory_total)),
            };
            series.util.push(util, capacity);
            series.memory.push(memory, capacity);
        }
        self.devices.retain(|_, series| series.util.has_readings() || series.memory.has_readings());

        let host = &snap.host;
        let cores = host.cpus.max(1) as f32;
        self.host_cpu.push(Some(clamp_percent((host.cpu_percent / cores).round() as u32)), capacity);
        self.host_memory.push(percent_of(Some(host.rss_bytes), Some(host.total_memory)), capacity);
    }

    /// GPU utilisation % of the device with this index (empty if never seen).
    pub fn gpu_util(&self, index: u32) -> &Series {
        self.devices.get(&index).map_or(&EMPTY, |series| &series.util)
    }

    /// Memory used as % of total on the device with this index.
    pub fn gpu_memory(&self, index: u32) -> &Series {
        self.devices.get(&index).map_or(&EMPTY, |series| &series.memory)
    }

    /// This process's CPU use as % of all the host's cores.
    pub fn host_cpu(&self) -> &Series {
        &self.host_cpu
    }

    /// This process's RSS as % of the host's memory.
    pub fn host_memory(&self) -> &Series {
        &self.host_memory
    }
}

fn clamp_percent(value: u32) -> u8 {
    value.min(100) as u8
}

fn percent_of(part: Option<u64>, whole: Option<u64>) -> Option<u8> {
    match (part, whole) {
        (Some(part), Some(whole)) if whole > 0 => Some(clamp_percent((part as f64 * 100.0 / whole as f64).round() as u32)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{GpuDevice, HostStats};

    fn device(index: u32, util: u32, used_gib: u64) -> GpuDevice {
        GpuDevice {
            index,
            name: format!("GPU {index}"),
            util_gpu: Some(util),
            memory_used: Some(used_gib << 30),
            memory_total: Some(80 << 30),
            ..GpuDevice::default()
        }
    }

    fn snap(devices: Vec<GpuDevice>) -> GpuSnapshot {
        let host =
            HostStats { pid: 1, rss_bytes: 4 << 30, cpu_percent: 800.0, total_memory: 16 << 30, available_memory: 8 << 30, cpus: 16 };
        GpuSnapshot { devices, host, ..GpuSnapshot::default() }
    }

    fn values(series: &Series) -> Vec<Option<u8>> {
        series.recent(usize::MAX).collect()
    }

    #[test]
    fn keeps_only_the_newest_capacity_samples() {
        let mut history = GpuHistory::new(3);
        for util in [10, 20, 30, 40, 50] {
            history.record(&snap(vec![device(0, util, 40)]));
        }
        assert_eq!(values(history.gpu_util(0)), [Some(30), Some(40), Some(50)]);
        assert_eq!(values(history.gpu_memory(0)), [Some(50); 3]);
        assert_eq!(history.gpu_util(0).recent(2).collect::<Vec<_>>(), [Some(40), Some(50)]);
    }

    #[test]
    fn zero_capacity_still_keeps_the_latest_sample() {
        let mut history = GpuHistory::new(0);
        history.record(&snap(vec![device(0, 10, 8)]));
        history.record(&snap(vec![device(0, 20, 8)]));
        assert_eq!(values(history.gpu_util(0)), [Some(20)]);
    }

    #[test]
    fn a_device_that_disappears_leaves_gaps_then_is_forgotten() {
        let mut history = GpuHistory::new(3);
        history.record(&snap(vec![device(0, 10, 8), device(1, 90, 72)]));
        history.record(&snap(vec![device(0, 20, 8)]));
        assert_eq!(values(history.gpu_util(1)), [Some(90), None]);
        history.record(&snap(vec![device(0, 30, 8)]));
        history.record(&snap(vec![device(0, 40, 8)]));
        assert!(history.gpu_util(1).is_empty(), "window is all gaps: forgotten");
        assert_eq!(values(history.gpu_util(0)), [Some(20), Some(30), Some(40)]);
    }

    #[test]
    fn a_device_that_appears_starts_its_own_series() {
        let mut history = GpuHistory::new(4);
        history.record(&snap(vec![device(0, 10, 8)]));
        history.record(&snap(vec![device(0, 10, 8), device(3, 55, 20)]));
        assert_eq!(values(history.gpu_util(3)), [Some(55)]);
        assert_eq!(values(history.gpu_memory(3)), [Some(25)]);
        assert_eq!(history.gpu_util(0).len(), 2);
    }

    #[test]
    fn lost_devices_and_missing_metrics_are_gaps() {
        let mut history = GpuHistory::new(4);
        let mut lost = device(0, 99, 8);
        lost.lost = Some("fell off the bus".into());
        let unsupported = GpuDevice { index: 1, util_gpu: None, memory_total: None, ..device(1, 0, 8) };
        history.record(&snap(vec![device(0, 50, 8), unsupported.clone()]));
        history.record(&snap(vec![lost, unsupported]));
        assert_eq!(values(history.gpu_util(0)), [Some(50), None]);
        assert_eq!(values(history.gpu_util(1)), Vec::<Option<u8>>::new(), "never had a reading");
    }

    #[test]
    fn host_series_are_percent_of_cores_and_of_memory() {
        let mut history = GpuHistory::new(2);
        history.record(&snap(Vec::new()));
        assert_eq!(values(history.host_cpu()), [Some(50)]);
        assert_eq!(values(history.host_memory()), [Some(25)]);
    }
}
