//! The fleet: every configured node polled on its own task, with short timeouts, and the latest
//! readings published on a `watch` (as `gpu` does for NVML). A node that is down, slow or
//! answers garbage shows why in its own reading and never delays another node or a frame.
//!
//! `reading` is what is published, `poll` asks one node once (its OpenAI API through
//! `engine::remote::probe`, its metrics URLs through `prom`).
pub mod poll;
pub mod reading;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use poll::Target;
pub use reading::{Fleet, Health, NodeReading};

/// How often each node is polled by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// Starts one polling task per target (inside the caller's tokio runtime); the readings start
/// as `Waiting`. The tasks end when every receiver is gone.
pub fn spawn(targets: Vec<Target>, interval: Duration) -> watch::Receiver<Arc<Fleet>> {
    let nodes = targets.iter().map(Target::waiting).collect();
    let (tx, rx) = watch::channel(Arc::new(Fleet { nodes }));
    let tx = Arc::new(tx);
    for (index, target) in targets.into_iter().enumerate() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut poller = poll::Poller::new(target);
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = tx.closed() => return,
                }
                let reading = poller.poll().await;
                tx.send_if_modified(|fleet| {
                    let changed = fleet.nodes[index] != reading;
                    if changed {
                        Arc::make_mut(fleet).nodes[index] = reading;
                    }
                    changed
                });
            }
        });
    }
    rx
}
