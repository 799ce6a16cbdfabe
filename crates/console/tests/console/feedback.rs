//! Issue 21's feedback and input: what the console says (a node that is down, the preset the
//! values are, the notices' history), the message box and the system prompt's editor, the
//! answer's node and the mouse.
use crossterm::event::KeyCode;
use llamadeck_config::Config;
use llamadeck_console::app::{Action, State, update};
use llamadeck_console::session::fleet::FleetView;
use llamadeck_engine::{EngineEvent, ModelSpec};
use llamadeck_words::keys::Keymap;
use llamadeck_words::theme::Theme;

use super::*;

/// A console whose chat talks to `node`, which the last poll found down.
fn talking_to_a_down_node(node: &str) -> State {
    let spec = ModelSpec { source: "/models/llama-2-13b-chat.Q4_K_M.gguf".into(), ..ModelSpec::default() };
    let mut s = State::new(&Config::default(), Keymap::defaults(), spec, Theme::PLAIN, std::time::Instant::now());
    s.session.fleet = FleetView::new(&[node.to_string()], true, Some(node.to_string()));
    update(&mut s, Action::Status { epoch: 0, event: EngineEvent::LoadFailed { reason: "connection refused".into() } });
    s
}

#[test]
fn sending_to_a_node_that_is_down_says_so_and_what_to_do() {
    let mut s = talking_to_a_down_node("node-a");
    type_text(&mut s, "hello");
    assert!(update(&mut s, key(KeyCode::Enter)).is_empty());
    assert_eq!(s.panes.chat.input.lines(), ["hello"], "the message is kept");
    let notice = s.session.notice.as_ref().unwrap().text.clone();
    assert!(notice.contains("node-a is down (connection refused)"), "{notice}");
    assert!(notice.contains("F6 chooses another node, F5 asks node-a again"), "{notice}");
    assert!(!notice.contains("model is not loaded"), "{notice}");
    // The local model's own message is unchanged.
    let mut s = doubles::state();
    type_text(&mut s, "hello");
    update(&mut s, key(KeyCode::Enter));
    assert!(s.session.notice.as_ref().unwrap().text.contains("the model is not loaded yet"));
}

#[test]
fn values_that_are_exactly_a_preset_show_as_that_preset() {
    // The default config names no preset; its values are exactly "balanced".
    let s = doubles::state();
    assert_eq!(s.session.presets.applied.as_deref(), Some("balanced"));
    assert!(screen_text(&s, 80, 24).contains("balanced"), "{}", screen_text(&s, 80, 24));
    // Values of no preset stay custom.
    let mut config = Config::default();
    config.sampling.temperature = 0.33;
    let s = State::new(&config, Keymap::defaults(), ModelSpec::default(), Theme::PLAIN, std::time::Instant::now());
    assert_eq!(s.session.presets.applied, None);
    assert!(screen_text(&s, 80, 24).contains("custom"));
}

pub fn screen_text(state: &State, w: u16, h: u16) -> String {
    let terminal = screen(state, w, h);
    let buffer = terminal.backend().buffer().clone();
    (0..h).map(|y| (0..w).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>() + "\n").collect()
}
