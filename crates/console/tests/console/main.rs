//! The console without a model (no mistral.rs in this crate's tree), tier by tier: the
//! reducer's transitions (`reducer`), screens on a TestBackend (`screens`), random states at
//! random sizes (`random`), the whole loop with scripted producers (`whole_loop`),
//! conversations (`conversations`) and the fleet pane (`fleet_pane`). The real binary in a
//! pseudo-terminal is tested in the top-level package's `tests/terminal/`.
use llamadeck_testkit::{doubles, shared_screen};

/// Screen snapshots keep the names and the folder they had when these tests were one file.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_snapshot_path("../snapshots");
        settings.bind(|| insta::assert_snapshot!($name, $value));
    }};
}

mod answers;
mod conversations;
mod feedback;
mod fleet_pane;
mod random;
mod reducer;
mod screens;
mod slash;
mod whole_loop;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use doubles::*;
use llamadeck_console::app::{Action, Effect, State, update};
use llamadeck_engine::{EngineCommand, EngineEvent};
use llamadeck_words::chat::{FinishReason, GenStats};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub fn type_text(state: &mut State, text: &str) {
    for c in text.chars() {
        update(state, key(KeyCode::Char(c)));
    }
}

/// The request a send started (the autosave that comes with it aside).
pub fn generated_id(effects: &[Effect]) -> u64 {
    match effects {
        [Effect::Engine(EngineCommand::Generate(req)), rest @ ..] if rest.iter().all(|e| matches!(e, Effect::Store(_))) => req.id,
        other => panic!("expected one Generate, got {other:?}"),
    }
}

pub fn ask(state: &mut State, text: &str) -> u64 {
    type_text(state, text);
    generated_id(&update(state, key(KeyCode::Enter)))
}

pub fn token(id: u64, text: &str) -> Action {
    Action::Engine(EngineEvent::Token { id, text: text.into() })
}

pub fn finish(id: u64) -> Action {
    let stats = GenStats {
        prompt_tokens: 30,
        completion_tokens: 2,
        ttft_ms: Some(90),
        decode_tok_s: Some(41.5),
        prefill_tok_s: None,
        cached_tokens: 0,
    };
    Action::Engine(EngineEvent::Finished { id, reason: FinishReason::Stop, stats })
}

pub fn screen(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| llamadeck_console::ui::render(f, state)).unwrap();
    terminal
}

pub fn conversation() -> State {
    let mut s = ready_state();
    update(&mut s, Action::Gpu(shared(gpus(2))));
    let id = ask(&mut s, "What are the trade-offs of deploying models on-premise?");
    update(&mut s, token(id, "On-premise deployment gives you control over data and latency, "));
    update(&mut s, token(id, "but you carry the hardware, power and upgrade costs yourself."));
    update(&mut s, finish(id));
    let id = ask(&mut s, "And for 13B on one GPU? 🦙");
    update(&mut s, token(id, "A 13B model in fp16 needs about 26 GB"));
    s
}
