//! Runs a [`GpuSource`] on its own thread (NVML calls block) and publishes only the latest
//! snapshot on a `watch` channel: a slow UI never queues readings, it just sees the newest.
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::GpuSource;
use super::snapshot::GpuSnapshot;

/// Floor on the interval, so a zero or tiny setting cannot turn the thread into a busy loop.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Starts the "gpu-sampler" thread: one reading at once, then one every `interval`.
/// The receiver starts on a placeholder (`GpuSnapshot::default()`) that counts as already
/// seen, so `changed()` first fires on the first real reading. The thread ends when every
/// receiver has been dropped (noticed at the next reading).
pub fn spawn_sampler(mut source: Box<dyn GpuSource>, interval: Duration) -> watch::Receiver<Arc<GpuSnapshot>> {
    let interval = interval.max(MIN_INTERVAL);
    let (sender, receiver) = watch::channel(Arc::new(GpuSnapshot::default()));
    thread::Builder::new()
        .name("gpu-sampler".into())
        .spawn(move || {
            let mut next = Instant::now();
            loop {
                if sender.send(Arc::new(source.sample())).is_err() {
                    break;
                }
                // Fixed cadence: a slow reading shortens the wait instead of drifting.
                next += interval;
                let now = Instant::now();
                if next < now {
                    next = now;
                }
                thread::sleep(next - now);
            }
        })
        .expect("the OS refused to start the gpu-sampler thread");
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{GpuDevice, GpuStatus};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::mpsc;

    /// Scripted source: device 0's utilisation counts the readings; reports its own drop.
    struct Counting {
        readings: Arc<AtomicU32>,
        dropped: mpsc::Sender<String>,
    }

    impl GpuSource for Counting {
        fn sample(&mut self) -> GpuSnapshot {
            let n = self.readings.fetch_add(1, Ordering::SeqCst) + 1;
            let device = GpuDevice { name: "scripted".into(), util_gpu: Some(n), ..GpuDevice::default() };
            GpuSnapshot { status: GpuStatus::Nvml { driver: None }, devices: vec![device], host: Default::default() }
        }
    }

    impl Drop for Counting {
        fn drop(&mut self) {
            let name = thread::current().name().unwrap_or_default().to_string();
            let _ = self.dropped.send(name);
        }
    }

    #[test]
    fn samples_at_once_then_on_interval_and_stops_when_receivers_drop() {
        let readings = Arc::new(AtomicU32::new(0));
        let (dropped_tx, dropped_rx) = mpsc::channel();
        let source = Counting { readings: readings.clone(), dropped: dropped_tx };
        let mut rx = spawn_sampler(Box::new(source), Duration::from_millis(100));

        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let first = tokio::time::timeout(Duration::from_secs(1), rx.changed()).await;
            assert!(first.is_ok(), "no reading within a second");
            assert_eq!(rx.borrow_and_update().devices[0].util_gpu, Some(1));
            tokio::time::timeout(Duration::from_secs(2), rx.changed()).await.unwrap().unwrap();
            assert!(rx.borrow_and_update().devices[0].util_gpu >= Some(2));
        });

        drop(rx);
        let thread_name = dropped_rx.recv_timeout(Duration::from_secs(2)).expect("sampler thread did not end");
        assert_eq!(thread_name, "gpu-sampler");
        let after_stop = readings.load(Ordering::SeqCst);
        thread::sleep(Duration::from_millis(300));
        assert_eq!(readings.load(Ordering::SeqCst), after_stop);
    }

    #[test]
    fn a_zero_interval_is_floored_instead_of_spinning() {
        let readings = Arc::new(AtomicU32::new(0));
        let (dropped_tx, _dropped_rx) = mpsc::channel();
        let source = Counting { readings: readings.clone(), dropped: dropped_tx };
        let rx = spawn_sampler(Box::new(source), Duration::ZERO);
        thread::sleep(Duration::from_millis(350));
        assert!(readings.load(Ordering::SeqCst) <= 5, "{} readings in 350 ms", readings.load(Ordering::SeqCst));
        drop(rx);
    }
}
