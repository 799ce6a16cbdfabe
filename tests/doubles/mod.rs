//! Test doubles for the console: a scripted engine, a scripted GPU, hand-made snapshots.
//! They live under tests/ only, so the binary can never reach them.
#![allow(dead_code)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use llamadeck::app::State;
use llamadeck::config::{Config, Keymap};
use llamadeck::engine::protocol::{EngineCommand, EngineEvent, FinishReason, GenStats, ModelSpec};
use llamadeck::gpu::snapshot::{GpuDevice, GpuProcess, GpuSnapshot, GpuStatus, HostStats};
use llamadeck::ui::theme::Theme;
use tokio::sync::mpsc;

pub fn state() -> State {
    let spec = ModelSpec { source: "/models/llama-2-13b-chat".into(), device: "cpu".into(), ..Default::default() };
    State::new(&Config::default(), Keymap::defaults(), spec, Theme::COLOR, Instant::now())
}

pub fn ready_state() -> State {
    let mut s = state();
    llamadeck::app::update(&mut s, llamadeck::app::Action::Engine(EngineEvent::Loaded {
        model: "llama-2-13b-chat".into(),
        context_len: 4096,
    }));
    s
}

const GIB: u64 = 1 << 30;

pub fn host() -> HostStats {
    HostStats { pid: 4121, rss_bytes: 812 << 20, cpu_percent: 3.5, total_memory: 24 * GIB, available_memory: 20 * GIB, cpus: 2 }
}

pub fn h100(index: u32) -> GpuDevice {
    GpuDevice {
        index,
        name: "NVIDIA H100 80GB HBM3".into(),
        lost: None,
        memory_used: Some(61 * GIB),
        memory_total: Some(80 * GIB),
        memory_reserved: Some(GIB / 2),
        util_gpu: Some(94),
        util_memory: Some(71),
        temperature_c: Some(52),
        power_mw: Some(312_000),
        power_limit_mw: Some(700_000),
        processes: vec![
            GpuProcess { pid: 4121, name: "llamadeck".into(), memory: Some(27 * GIB), is_self: true },
            GpuProcess { pid: 977, name: "python3".into(), memory: Some(33 * GIB), is_self: false },
        ],
    }
}

pub fn no_gpu() -> GpuSnapshot {
    GpuSnapshot {
        status: GpuStatus::Unavailable {
            reason: "NVML not available: libnvidia-ml.so: cannot open shared object file".into(),
        },
        devices: vec![],
        host: host(),
    }
}

pub fn gpus(n: u32) -> GpuSnapshot {
    GpuSnapshot {
        status: GpuStatus::Nvml { driver: Some("580.65.06".into()) },
        devices: (0..n).map(h100).collect(),
        host: host(),
    }
}

pub fn lost_gpu() -> GpuSnapshot {
    let mut s = gpus(2);
    s.devices[1].lost = Some("GPU is lost (fell off the bus)".into());
    s
}

/// A scripted engine: loads at once, answers every request with `words`, one per `delay`,
/// and honours Cancel. Returns the command sender and the event receiver for the loop.
pub fn scripted_engine(
    words: Vec<String>,
    delay: Duration,
) -> (mpsc::UnboundedSender<EngineCommand>, mpsc::UnboundedReceiver<EngineEvent>) {
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<EngineCommand>();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut current: Option<(u64, usize, Instant)> = None;
        loop {
            let wait = if current.is_some() { delay } else { Duration::from_secs(3600) };
            tokio::select! {
                command = cmd_rx.recv() => match command {
                    None => break,
                    Some(EngineCommand::Load(spec)) => {
                        let _ = ev_tx.send(EngineEvent::LoadStage { stage: "reading weights".into() });
                        let _ = ev_tx.send(EngineEvent::Loaded { model: spec.source, context_len: 4096 });
                    }
                    Some(EngineCommand::Generate(req)) => current = Some((req.id, 0, Instant::now())),
                    Some(EngineCommand::Cancel(id)) => {
                        if let Some((cur, n, _)) = current.take_if(|c| c.0 == id) {
                            let _ = ev_tx.send(finished(cur, n, FinishReason::Stopped));
                        }
                    }
                },
                _ = tokio::time::sleep(wait), if current.is_some() => {
                    let (id, n, _) = current.as_mut().map(|c| (c.0, c.1, c.2)).unwrap();
                    if n < words.len() {
                        let _ = ev_tx.send(EngineEvent::Token { id, text: words[n].clone() });
                        current.as_mut().unwrap().1 += 1;
                    } else {
                        current = None;
                        let _ = ev_tx.send(finished(id, n, FinishReason::Stop));
                    }
                }
            }
        }
    });
    (cmd_tx, ev_rx)
}

fn finished(id: u64, tokens: usize, reason: FinishReason) -> EngineEvent {
    let stats = GenStats {
        prompt_tokens: 20,
        completion_tokens: tokens,
        ttft_ms: Some(120),
        decode_tok_s: Some(40.0),
        prefill_tok_s: Some(300.0),
    };
    EngineEvent::Finished { id, reason, stats }
}

pub fn shared(s: GpuSnapshot) -> Arc<GpuSnapshot> {
    Arc::new(s)
}
