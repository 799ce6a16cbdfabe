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
use crate::store::worker::Worker;
use crate::store::{Listing, Reply, Request};

/// Where clipboard (OSC 52) sequences are written: the terminal.
pub type Clipboard = Box<dyn FnMut(&[u8]) -> io::Result<()> + Send>;

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
    /// What the API server reports.
    pub server_rx: mpsc::UnboundedReceiver<crate::server::ServerEvent>,
    /// Where conversations are saved (`store::data_dir()`); None saves nothing.
    pub data_dir: Option<PathBuf>,
    /// None refuses copying (no terminal to copy through).
    pub clipboard: Option<Clipboard>,
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

/// The conversation store's worker and its replies, when conversations are saved.
struct Store {
    worker: Option<Worker>,
    replies: mpsc::UnboundedReceiver<Reply>,
}

pub async fn run<B, S>(terminal: &mut Terminal<B>, state: &mut State, mut io: LoopIo<S>) -> anyhow::Result<(Exit, LoopStats)>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<Event>> + Unpin,
{
    let (replies_tx, replies) = mpsc::unbounded_channel();
    let worker = match &io.data_dir {
        Some(dir) => Some(Worker::spawn(dir.clone(), replies_tx)?),
        None => None,
    };
    let mut store = Store { worker, replies };
    if let Some(worker) = store.worker.as_mut() {
        worker.submit(Request::Latest);
    }
    let result = run_loop(terminal, state, &mut io, &mut store).await;
    // However the loop ended (quit, SIGHUP, SIGTERM, a lost terminal), the conversation is on
    // disk before the caller restores the terminal and exits.
    let _ = dispatch(state, Action::Shutdown, &mut io, &mut store);
    if let Some(worker) = &store.worker
        && !worker.flush(Duration::from_secs(10))
    {
        tracing::error!("conversation store did not finish writing in time");
    }
    result
}

async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    state: &mut State,
    io: &mut LoopIo<S>,
    store: &mut Store,
) -> anyhow::Result<(Exit, LoopStats)>
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
    dispatch(state, Action::Resize(size.width, size.height), io, store)?;
    if !io.gpu_rx.borrow().devices.is_empty() || io.gpu_rx.has_changed().unwrap_or(false) {
        let snapshot = io.gpu_rx.borrow_and_update().clone();
        dispatch(state, Action::Gpu(snapshot), io, store)?;
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
            Some(event) = io.server_rx.recv() => Action::Server(event),
            changed = io.gpu_rx.changed(), if gpu_open => {
                if changed.is_err() {
                    gpu_open = false;
                    continue;
                }
                Action::Gpu(io.gpu_rx.borrow_and_update().clone())
            }
            Some(reply) = store.replies.recv() => Action::Store(reply),
            Some(signal) = io.shutdown_rx.recv() => return Ok((Exit::Signal(signal), stats)),
            _ = tokio::time::sleep_until(next_draw.into()), if dirty => continue,
            _ = tokio::time::sleep(tick.unwrap_or_default()), if tick.is_some() => Action::Tick(Instant::now()),
        };
        stats.actions += 1;
        dirty = true;
        if dispatch(state, action, io, store)? {
            if dirty {
                terminal.draw(|f| crate::ui::render(f, state))?;
                stats.draws += 1;
            }
            return Ok((Exit::Quit, stats));
        }
        // Drain engine events that queued up meanwhile, so a burst of tokens costs one redraw.
        while let Ok(event) = io.engine_rx.try_recv() {
            stats.actions += 1;
            dispatch(state, Action::Engine(event), io, store)?;
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
/// Every effect is carried out even when the engine has gone (a save must not be skipped).
fn dispatch<S>(state: &mut State, action: Action, io: &mut LoopIo<S>, store: &mut Store) -> anyhow::Result<bool> {
    let mut pending = vec![action];
    let mut engine_gone = false;
    while let Some(action) = pending.pop() {
        if matches!(action, Action::Tick(_)) {
            state.now = Instant::now();
        }
        for effect in update(state, action) {
            match effect {
                Effect::Quit => return Ok(true),
                Effect::Engine(command) => {
                    if io.engine_tx.send(command).is_err() {
                        engine_gone = true;
                    }
                }
                Effect::Store(request) => match store.worker.as_mut() {
                    Some(worker) => pending.extend(worker.submit(request).map(Action::Store)),
                    None => pending.extend(no_store(request).map(Action::Store)),
                },
                Effect::Clipboard(text) => {
                    let result = match io.clipboard.as_mut() {
                        Some(write) => write(&crate::tui::clipboard::osc52(&text)).map(|()| text.chars().count()).map_err(|e| e.to_string()),
                        None => Err("no terminal to copy through".into()),
                    };
                    pending.push(Action::Copied(result));
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
    if engine_gone {
        anyhow::bail!("the model engine stopped");
    }
    Ok(false)
}

/// Answers for a console that saves nothing (no data folder): saves are skipped quietly,
/// what the operator asked for explicitly is refused with a reason.
fn no_store(request: Request) -> Option<Reply> {
    let why = || "conversations are not saved: no data folder (set XDG_DATA_HOME or HOME)".to_string();
    Some(match request {
        Request::Save { .. } | Request::Latest => return None,
        Request::List => Reply::Listed(Listing::default()),
        Request::Load(_) => Reply::Loaded(Err(why())),
        Request::Rename { .. } => Reply::Renamed(Err(why())),
        Request::Delete(_) => Reply::Deleted(Err(why())),
        Request::Export { .. } => Reply::Exported(Err(why())),
    })
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
