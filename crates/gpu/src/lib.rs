//! The GPU producer: a [`GpuSource`] (NVML, or the host-only fallback when there is no
//! NVIDIA driver) read on its own thread by [`spawn_sampler`], which publishes only the latest
//! [`snapshot::GpuSnapshot`]. [`GpuHistory`] keeps the sparkline series on the UI side.
pub mod report;
pub mod snapshot;

mod history;
mod host;
mod nvml;
mod sampler;

pub use history::{GpuHistory, Series};
pub use host::{peak_resident_bytes, resident_bytes};
pub use sampler::spawn_sampler;

/// Something that can take one reading of every GPU (and of this process on the host).
/// Sampling is blocking FFI and file reads, so it runs on the sampler thread, never in the UI.
pub trait GpuSource: Send + 'static {
    fn sample(&mut self) -> snapshot::GpuSnapshot;
}

/// NVML when the driver answers, otherwise a host-only source whose snapshots say why
/// (`GpuStatus::Unavailable`) and carry this process's memory and CPU instead.
pub fn open_source() -> Box<dyn GpuSource> {
    match nvml::NvmlSource::open() {
        Ok(source) => Box::new(source),
        Err(error) => Box::new(host::HostOnlySource::new(nvml::unavailable_reason(&error))),
    }
}

#[cfg(test)]
mod tests {
    use super::open_source;
    use super::snapshot::GpuStatus;

    #[test]
    fn open_source_never_fails_and_explains_a_missing_driver() {
        let snap = open_source().sample();
        match snap.status {
            GpuStatus::Nvml { .. } => {}
            GpuStatus::Unavailable { reason } => {
                assert!(reason.starts_with("NVML not available: "), "{reason}");
                assert!(reason.ends_with("showing host memory and CPU"), "{reason}");
                assert!(snap.devices.is_empty());
            }
        }
        assert_eq!(snap.host.pid, std::process::id());
    }
}
