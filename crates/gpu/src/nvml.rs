//! The NVML source (nvml-wrapper 0.13). Each metric a card does not support becomes `None`;
//! a hard error on a device marks only that device lost, and the others keep updating.
use std::collections::BTreeMap;
use std::ffi::OsStr;

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::{Device, Nvml};

use super::GpuSource;
use super::host::HostProbe;
use super::snapshot::{GpuDevice, GpuProcess, GpuSnapshot, GpuStatus};

pub(crate) struct NvmlSource {
    nvml: Nvml,
    driver: Option<String>,
    /// NVML enumerates devices once at init; the count does not change while it runs.
    count: u32,
    /// Last good name per index, so a lost card is still named.
    names: BTreeMap<u32, String>,
    own_pid: u32,
    host: HostProbe,
}

impl NvmlSource {
    pub(crate) fn open() -> Result<Self, NvmlError> {
        let nvml = Nvml::init().or_else(|_| Nvml::builder().lib_path(OsStr::new("libnvidia-ml.so.1")).init())?;
        let count = nvml.device_count()?;
        Ok(Self {
            driver: nvml.sys_driver_version().ok(),
            nvml,
            count,
            names: BTreeMap::new(),
            own_pid: std::process::id(),
            host: HostProbe::new(),
        })
    }

    fn read_device(&self, index: u32) -> Result<GpuDevice, NvmlError> {
        let device = self.nvml.device_by_index(index)?;
        let memory = optional(device.memory_info())?;
        let utilization = optional(device.utilization_rates())?;
        let power_limit_mw = match optional(device.enforced_power_limit())? {
            Some(limit) => Some(limit),
            None => optional(device.power_management_limit())?,
        };
        Ok(GpuDevice {
            index,
            name: device.name()?,
            lost: None,
            memory_used: memory.as_ref().map(|m| m.used),
            memory_total: memory.as_ref().map(|m| m.total),
            memory_reserved: memory.as_ref().map(|m| m.reserved),
            util_gpu: utilization.as_ref().map(|u| u.gpu),
            util_memory: utilization.as_ref().map(|u| u.memory),
            temperature_c: optional(device.temperature(TemperatureSensor::Gpu))?,
            power_mw: optional(device.power_usage())?,
            power_limit_mw,
            processes: self.read_processes(&device)?,
        })
    }

    /// Compute and graphics lists merged by pid (a process can be in both).
    fn read_processes(&self, device: &Device<'_>) -> Result<Vec<GpuProcess>, NvmlError> {
        let mut by_pid: BTreeMap<u32, Option<u64>> = BTreeMap::new();
        let compute = optional(device.running_compute_processes())?.unwrap_or_default();
        let graphics = optional(device.running_graphics_processes())?.unwrap_or_default();
        for ProcessInfo { pid, used_gpu_memory, .. } in compute.into_iter().chain(graphics) {
            let memory = match used_gpu_memory {
                UsedGpuMemory::Used(bytes) => Some(bytes),
                UsedGpuMemory::Unavailable => None,
            };
            let entry = by_pid.entry(pid).or_insert(memory);
            *entry = (*entry).max(memory);
        }
        let mut processes: Vec<GpuProcess> = by_pid
            .into_iter()
            .map(|(pid, memory)| GpuProcess { pid, name: process_name(pid), memory, is_self: pid == self.own_pid })
            .collect();
        processes.sort_by(|a, b| b.memory.cmp(&a.memory).then(a.pid.cmp(&b.pid)));
        Ok(processes)
    }
}

impl GpuSource for NvmlSource {
    fn sample(&mut self) -> GpuSnapshot {
        let mut devices = Vec::with_capacity(self.count as usize);
        for index in 0..self.count {
            let device = match self.read_device(index) {
                Ok(device) => {
                    self.names.insert(index, device.name.clone());
                    device
                }
                Err(error) => GpuDevice {
                    index,
                    name: self.names.get(&index).cloned().unwrap_or_else(|| format!("GPU {index}")),
                    lost: Some(error.to_string()),
                    ..GpuDevice::default()
                },
            };
            devices.push(device);
        }
        GpuSnapshot { status: GpuStatus::Nvml { driver: self.driver.clone() }, devices, host: self.host.read() }
    }
}

/// Errors that mean "this card or driver does not report that metric": shown as n/a.
/// Everything else (GpuLost, Unknown, ResetRequired...) is a hard error for the device.
fn optional<T>(result: Result<T, NvmlError>) -> Result<Option<T>, NvmlError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(
            NvmlError::NotSupported
            | NvmlError::NoPermission
            | NvmlError::FunctionNotFound
            | NvmlError::FailedToLoadSymbol(_)
            | NvmlError::NoData,
        ) => Ok(None),
        Err(error) => Err(error),
    }
}

/// NVML reports host pids; inside a container without `--pid=host` they may not resolve.
fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|comm| comm.trim_end().to_string()).unwrap_or_else(|_| "?".to_string())
}

/// The NVML error in plain words, with what it most likely means for the operator.
pub(crate) fn unavailable_reason(error: &NvmlError) -> String {
    format!("{}; showing host memory and CPU", why_unavailable(error))
}

/// "NVML not available: <error> — <what it most likely means>".
pub(crate) fn why_unavailable(error: &NvmlError) -> String {
    let meaning = match error {
        NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => "no NVIDIA driver on this machine",
        NvmlError::DriverNotLoaded => "the NVIDIA driver is installed but not loaded",
        NvmlError::NoPermission => "no permission to read the GPUs",
        NvmlError::LibRmVersionMismatch => "the driver and NVML versions differ; a reboot usually fixes it",
        _ => "NVML could not be started",
    };
    format!("NVML not available: {error} — {meaning}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_metrics_become_none_and_hard_errors_pass_through() {
        assert_eq!(optional::<u32>(Err(NvmlError::NotSupported)).unwrap(), None);
        assert_eq!(optional(Ok(7u32)).unwrap(), Some(7));
        assert!(matches!(optional::<u32>(Err(NvmlError::GpuLost)), Err(NvmlError::GpuLost)));
        assert!(matches!(optional::<u32>(Err(NvmlError::Unknown)), Err(NvmlError::Unknown)));
    }

    #[test]
    fn unavailable_reason_names_the_error_and_its_meaning() {
        let reason = unavailable_reason(&NvmlError::DriverNotLoaded);
        assert!(reason.starts_with("NVML not available: "), "{reason}");
        assert!(reason.contains("not loaded"), "{reason}");
        assert!(reason.ends_with("showing host memory and CPU"), "{reason}");
    }

    #[test]
    fn own_process_name_is_read_from_proc() {
        assert!(!process_name(std::process::id()).is_empty());
        assert_eq!(process_name(u32::MAX), "?");
    }
}
