//! The one loop: terminal events, engine events and GPU snapshots become actions, the reducer
//! updates the state, effects are carried out, and the screen is redrawn only when something
//! changed, at most `fps` times a second. Generic over the backend so tests can drive it.
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::Event;
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{mpsc, watch};

use crate::app::{Action, Effect, State, update};
use crate::engine::protocol::{EngineCommand, EngineEvent, ModelSpec};
use crate::gpu::snapshot::GpuSnapshot;

/// Everything the loop talks to.
pub struct LoopIo<S> {
    pub terminal_events: S,
    pub engine_tx: mpsc::UnboundedSender<EngineCommand>,
    pub engine_rx: mpsc::UnboundedReceiver<EngineEvent>,
    pub gpu_rx: watch::Receiver<Arc<GpuSnapshot>>,
    /// SIGTERM/SIGHUP and the like: each message asks for a clean exit.
    pub shutdown_rx: mpsc::UnboundedReceiver<&'static str>,
    /// Where settings are saved and the model section re-read from.
    pub config_path: PathBuf,
    pub fps: u32,
}

/// How the loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Quit,
    Signal(&'static str),
    /// The terminal's event stream closed (the terminal went away).
    InputClosed,
}

/// Counters a benchmark or test can read afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    pub draws: u64,
    pub actions: u64,
}

pub async fn run<B, S>(terminal: &mut Terminal<B>, state: &mut State, mut io: LoopIo<S>) -> anyhow::Result<(Exit, LoopStats)>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    let frame = Duration::from_secs_f64(1.0 / io.fps.clamp(1, 120) as f64);
    let mut stats = LoopStats::default();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let size = terminal.size()?;
    dispatch(state, Action::Resize(size.width, size.height), &mut io)?;
    if !io.gpu_rx.borrow().devices.is_empty() || io.gpu_rx.has_changed().unwrap_or(false) {
        let snapshot = io.gpu_rx.borrow_and_update().clone();
        dispatch(state, Action::Gpu(snapshot), &mut io)?;
    }
    let mut gpu_open = true;
    loop {
        let now = Instant::now();
        let next_draw = last_draw.map_or(now, |t| t + frame);
        if dirty && now >= next_draw {
            terminal.draw(|f| crate::ui::render(f, state))?;
            stats.draws += 1;
            dirty = false;
            last_draw = Some(now);
        }
        // While loading, the elapsed-time counter needs a tick each second; otherwise sleep.
        let tick = state.loading_elapsed().map(|_| Duration::from_millis(1000));
        let action = tokio::select! {
            event = io.terminal_events.next() => match event {
                Some(Ok(event)) => match to_action(event) {
                    Some(action) => action,
                    None => continue,
                },
                Some(Err(e)) => return Err(e.into()),
                None => return Ok((Exit::InputClosed, stats)),
            },
            Some(event) = io.engine_rx.recv() => Action::Engine(event),
            changed = io.gpu_rx.changed(), if gpu_open => {
                if changed.is_err() {
                    gpu_open = false;
                    continue;
                }
                Action::Gpu(io.gpu_rx.borrow_and_update().clone())
            }
            Some(signal) = io.shutdown_rx.recv() => return Ok((Exit::Signal(signal), stats)),
            _ = tokio::time::sleep_until(next_draw.into()), if dirty => continue,
            _ = tokio::time::sleep(tick.unwrap_or_default()), if tick.is_some() => Action::Tick(Instant::now()),
        };
        stats.actions += 1;
        dirty = true;
        if dispatch(state, action, &mut io)? {
            if dirty {
                terminal.draw(|f| crate::ui::render(f, state))?;
                stats.draws += 1;
            }
            return Ok((Exit::Quit, stats));
        }
        // Drain engine events that queued up meanwhile, so a burst of tokens costs one redraw.
        while let Ok(event) = io.engine_rx.try_recv() {
            stats.actions += 1;
            dispatch(state, Action::Engine(event), &mut io)?;
        }
    }
}

fn to_action(event: Event) -> Option<Action> {
    match event {
        Event::Key(key) => Some(Action::Key(key)),
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        _ => None,
    }
}

/// Runs the reducer and carries out its effects; true when the console should quit.
fn dispatch<S>(state: &mut State, action: Action, io: &mut LoopIo<S>) -> anyhow::Result<bool> {
    let mut pending = vec![action];
    while let Some(action) = pending.pop() {
        if matches!(action, Action::Tick(_)) {
            state.now = Instant::now();
        }
        for effect in update(state, action) {
            match effect {
                Effect::Quit => return Ok(true),
                Effect::Engine(command) => {
                    if io.engine_tx.send(command).is_err() {
                        anyhow::bail!("the model engine stopped");
                    }
                }
                Effect::SaveSettings { sampling, preset } => {
                    let result = crate::config::save_sampling(&io.config_path, &sampling, preset.as_deref())
                        .map(|()| io.config_path.clone())
                        .map_err(|e| e.to_string());
                    pending.push(Action::Saved(result));
                }
                Effect::ChooseModel { path } => pending.push(Action::ModelChosen(choose_model(state, path, &io.config_path))),
            }
        }
    }
    Ok(false)
}

/// The model to load next: the path typed after /model, or the config file's `model:` as it is now.
fn choose_model(state: &State, path: Option<String>, config_path: &std::path::Path) -> Result<ModelSpec, String> {
    match path {
        Some(source) => Ok(ModelSpec { source, ..state.model_spec.clone() }),
        None => {
            let loaded = crate::config::load(Some(config_path)).or_else(|e| {
                if config_path.exists() { Err(e) } else { Ok(crate::config::Loaded { config: Default::default(), path: config_path.to_path_buf(), existed: false }) }
            });
            loaded.map(|l| crate::startup::model_spec(&l.config, None)).map_err(|e| e.to_string())
        }
    }
}
