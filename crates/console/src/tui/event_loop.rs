//! The one loop: every producer's news arrives as an `Action` in the inbox, the reducer updates
//! the state, effects are carried out, and the screen is redrawn only when something changed, at
//! most `fps` times a second; a burst of actions (tokens) is drained into one frame. Generic over
//! the backend so tests can drive it.
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::time::MissedTickBehavior;

use crate::app::{Action, Effect, Inbox, State, update};
use crate::session::Reread;
use crate::tui::engine_link::EngineLink;
use llamadeck_engine::{Engine, ModelSpec};
use llamadeck_store::worker::Worker;
use llamadeck_store::{Listing, Reply, Request};
use llamadeck_words::keys::Keymap;

/// Where clipboard (OSC 52) sequences are written: the terminal.
pub type Clipboard = Box<dyn FnMut(&[u8]) -> io::Result<()> + Send>;

/// What the loop reads from and acts on. Producers are wired to `inbox` by whoever starts the
/// loop (`startup::console`, or a test); the loop itself owns only what its effects need.
pub struct LoopIo {
    pub inbox: Inbox,
    pub engine: Engine,
    /// Where settings are saved and the model section re-read from.
    pub config_path: PathBuf,
    pub fps: u32,
    /// Where conversations are saved (`store::data_dir()`); None saves nothing.
    pub data_dir: Option<PathBuf>,
    /// None refuses copying (no terminal to copy through).
    pub clipboard: Option<Clipboard>,
    /// The fleet's engines by node name, and whether `engine` is the model here (false with
    /// `--connect`, where `engine` is one of the nodes').
    pub nodes: Vec<(String, Engine)>,
    pub local: bool,
}

impl LoopIo {
    /// At 30 fps, saving no conversations and copying nothing, until told otherwise.
    pub fn new(inbox: Inbox, engine: Engine, config_path: PathBuf) -> Self {
        Self { inbox, engine, config_path, fps: 30, data_dir: None, clipboard: None, nodes: Vec::new(), local: true }
    }

    pub fn fps(self, fps: u32) -> Self {
        Self { fps, ..self }
    }

    pub fn data_dir(self, data_dir: Option<PathBuf>) -> Self {
        Self { data_dir, ..self }
    }

    pub fn clipboard(self, clipboard: Clipboard) -> Self {
        Self { clipboard: Some(clipboard), ..self }
    }

    /// The fleet's engines; `local`: whether `engine` is the model here.
    pub fn nodes(self, nodes: Vec<(String, Engine)>, local: bool) -> Self {
        Self { nodes, local, ..self }
    }
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

/// What carries out the reducer's effects.
struct Effects {
    engine: EngineLink,
    store: Option<Worker>,
    config_path: PathBuf,
    clipboard: Option<Clipboard>,
}

pub async fn run<B>(terminal: &mut Terminal<B>, state: &mut State, io: LoopIo) -> anyhow::Result<(Exit, LoopStats)>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let LoopIo { mut inbox, engine, config_path, fps, data_dir, clipboard, nodes, local } = io;
    let sender = inbox.sender();
    let store = match data_dir {
        Some(dir) => Some(Worker::spawn(dir, sender.sink(Action::Store))?),
        None => None,
    };
    let engine = EngineLink::new(engine, sender).with_nodes(nodes, local);
    let mut effects = Effects { engine, store, config_path, clipboard };
    if let Some(worker) = effects.store.as_mut() {
        worker.submit(Request::Latest);
    }
    let result = run_loop(terminal, state, &mut inbox, &mut effects, fps).await;
    // However the loop ended (quit, SIGHUP, SIGTERM, a lost terminal), the conversation is on
    // disk before the caller restores the terminal and exits.
    let _ = dispatch(state, Action::Shutdown, &mut effects);
    if let Some(worker) = &effects.store
        && !worker.flush(Duration::from_secs(10))
    {
        tracing::error!("conversation store did not finish writing in time");
    }
    result
}

/// What one action means for the loop.
enum Step {
    Continue,
    End(Exit),
}

async fn run_loop<B>(
    terminal: &mut Terminal<B>,
    state: &mut State,
    inbox: &mut Inbox,
    effects: &mut Effects,
    fps: u32,
) -> anyhow::Result<(Exit, LoopStats)>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let frame = Duration::from_secs_f64(1.0 / fps.clamp(1, 120) as f64);
    let mut stats = LoopStats::default();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let size = terminal.size()?;
    dispatch(state, Action::Resize(size.width, size.height), effects)?;
    // While loading (the elapsed-time counter) or showing a notice (it expires): a tick a second.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let now = Instant::now();
        let next_draw = last_draw.map_or(now, |t| t + frame);
        if dirty && now >= next_draw {
            terminal.draw(|f| crate::ui::render(f, state))?;
            stats.draws += 1;
            dirty = false;
            last_draw = Some(now);
        }
        // A loading timer counts and notices expire by the clock.
        let ticking = state.session.model.loading_elapsed(state.session.now).is_some() || state.session.notice.is_some();
        let action = tokio::select! {
            action = inbox.recv() => action,
            _ = tokio::time::sleep_until(next_draw.into()), if dirty => continue,
            at = tick.tick(), if ticking => Action::Tick(at.into_std()),
        };
        // Everything already waiting goes into the same frame.
        let mut next = Some(action);
        while let Some(action) = next.take() {
            stats.actions += 1;
            dirty = true;
            match step(state, action, effects)? {
                Step::Continue => {}
                Step::End(Exit::Quit) => {
                    terminal.draw(|f| crate::ui::render(f, state))?;
                    stats.draws += 1;
                    return Ok((Exit::Quit, stats));
                }
                Step::End(exit) => return Ok((exit, stats)),
            }
            next = inbox.try_recv();
        }
    }
}

fn step(state: &mut State, action: Action, effects: &mut Effects) -> anyhow::Result<Step> {
    Ok(match action {
        Action::Signal(name) => Step::End(Exit::Signal(name)),
        Action::TerminalClosed(None) => Step::End(Exit::InputClosed),
        Action::TerminalClosed(Some(error)) => anyhow::bail!("the terminal failed: {error}"),
        action => {
            if dispatch(state, action, effects)? {
                Step::End(Exit::Quit)
            } else {
                Step::Continue
            }
        }
    })
}

/// Runs the reducer and carries out its effects; true when the console should quit.
/// Every effect is carried out, in order; effects that answer at once (a save's new id, a
/// settings save, a copy) are fed back before anything else happens. The clock is read first,
/// so whatever the action starts or shows (a load, a notice) is stamped with the time it happened.
fn dispatch(state: &mut State, action: Action, effects: &mut Effects) -> anyhow::Result<bool> {
    update(state, Action::Tick(Instant::now()));
    let mut pending = vec![action];
    while let Some(action) = pending.pop() {
        for effect in update(state, action) {
            match effect {
                Effect::Quit => return Ok(true),
                Effect::Engine(command) => effects.engine.run(command),
                Effect::UseEngine { node, epoch } => effects.engine.switch(node.as_deref(), epoch),
                Effect::Store(request) => match effects.store.as_mut() {
                    Some(worker) => pending.extend(worker.submit(request).map(Action::Store)),
                    None => pending.extend(no_store(request).map(Action::Store)),
                },
                Effect::Clipboard(text) => {
                    let result = match effects.clipboard.as_mut() {
                        Some(write) => {
                            write(&crate::tui::clipboard::osc52(&text)).map(|()| text.chars().count()).map_err(|e| e.to_string())
                        }
                        None => Err("no terminal to copy through".into()),
                    };
                    pending.push(Action::Copied(result));
                }
                Effect::SaveSettings { sampling, preset } => {
                    let result = llamadeck_config::save_sampling(&effects.config_path, &sampling, preset.as_deref())
                        .map(|()| effects.config_path.clone())
                        .map_err(|e| e.to_string());
                    pending.push(Action::Saved { result, sampling, preset });
                }
                Effect::ChooseModel { path } => pending.push(Action::ModelChosen(choose_model(state, path))),
                Effect::ReloadConfig => pending.push(Action::ConfigReread(reread_config(state, &effects.config_path))),
            }
        }
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

/// The model `/model PATH` asks for: that path, with the current device and other settings.
fn choose_model(state: &State, source: String) -> ModelSpec {
    ModelSpec { source, ..state.session.model.spec.clone() }
}

/// F5: the config file as it is now (the defaults when there is none), its keymap, and the
/// model to load: `--model` if the console was started with it, else the file's.
fn reread_config(state: &State, config_path: &std::path::Path) -> Result<Box<Reread>, String> {
    // The error names the file by its name only: the status bar then has room for where and why.
    let short = |e: String| match config_path.file_name() {
        Some(name) => e.replacen(&config_path.display().to_string(), &name.to_string_lossy(), 1),
        None => e,
    };
    let loaded = llamadeck_config::load_file(config_path, false).map_err(|e| short(e.to_string()))?;
    let keymap = Keymap::from_config(&loaded.config.keys)
        .map_err(|(command, message)| short(format!("{}: keys.{command}: {message}", config_path.display())))?;
    let spec = loaded.config.model_spec(state.session.model.cli_model.as_deref());
    Ok(Box::new(Reread { config: loaded.config, keymap, spec }))
}
