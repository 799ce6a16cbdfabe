//! The one loop: every producer's news arrives as an `Action` in the inbox, the reducer updates
//! the state, effects are carried out, and the screen is redrawn only when something changed, at
//! most `fps` times a second; a burst of actions (tokens) is drained into one frame. Generic over
//! the backend so tests can drive it.
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::time::MissedTickBehavior;

use crate::app::{Action, Inbox, State, update};
use crate::tui::effects::Effects;
use llamadeck_store::Request;

/// What the loop reads from and acts on: the inbox the producers feed (wired by whoever starts
/// the loop: `startup::console`, or a test), what carries out the effects, and the frame cap.
pub struct LoopIo {
    pub inbox: Inbox,
    pub effects: Effects,
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

pub async fn run<B>(terminal: &mut Terminal<B>, state: &mut State, io: LoopIo) -> anyhow::Result<(Exit, LoopStats)>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let LoopIo { mut inbox, mut effects, fps } = io;
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
/// Every effect is carried out, in order; effects that answer at once (a save's new id, a copy,
/// the model `/model` chose) are fed back before anything else happens. The clock is read first,
/// so whatever the action starts or shows (a load, a notice) is stamped with the time it happened.
fn dispatch(state: &mut State, action: Action, effects: &mut Effects) -> anyhow::Result<bool> {
    update(state, Action::Tick(Instant::now()));
    let mut pending = vec![action];
    while let Some(action) = pending.pop() {
        for effect in update(state, action) {
            if effect == crate::app::Effect::Quit {
                return Ok(true);
            }
            pending.extend(effects.carry_out(effect, &state.session.model.spec));
        }
    }
    Ok(false)
}
