//! Random states at random sizes: whatever the state, every size draws without a control character.
use crossterm::event::KeyCode;
use llamadeck_console::app::{Action, Effect, State, update};
use llamadeck_engine::EngineCommand;
use llamadeck_words::keys::Command;

use super::doubles::*;
use super::*;
use proptest::prelude::*;

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,80}",
        "\\PC{0,40}",
        Just("日本語のテキスト 🦙🦙 e\u{301} \u{202e}abc".to_string()),
        Just("\x1b[2J\x1b]52;c;aGk=\x07\r\n\t".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn any_state_renders_at_any_size(
        texts in proptest::collection::vec(arb_text(), 0..6),
        w in 1u16..300, h in 1u16..100,
        gpu_count in 0u32..9, help: bool, settings: bool, lost: bool,
        input in arb_text(),
    ) {
        let mut s = ready_state();
        let snapshot = if gpu_count == 0 { no_gpu() } else { gpus(gpu_count) };
        update(&mut s, Action::Gpu(shared(snapshot)));
        if lost && gpu_count > 0 { update(&mut s, Action::Gpu(shared(lost_gpu()))); }
        for t in &texts {
            let id = ask_raw(&mut s, t);
            update(&mut s, token(id, t));
        }
        update(&mut s, Action::Paste(input));
        if settings { update(&mut s, Action::Command(Command::FocusNext)); update(&mut s, key(KeyCode::Enter)); }
        if help { update(&mut s, Action::Command(Command::ToggleHelp)); }
        update(&mut s, Action::Resize(w, h));
        let t = screen(&s, w, h);
        for cell in t.backend().buffer().content() {
            prop_assert!(!cell.symbol().chars().any(|c| c.is_control()), "control char in {:?}", cell.symbol());
        }
    }
}

/// Sends `text` as a question even when it is blank (the reducer ignores blank sends).
fn ask_raw(s: &mut State, text: &str) -> u64 {
    let visible = if text.trim().is_empty() { "x" } else { text };
    update(s, Action::Paste(visible.to_string()));
    match update(s, key(KeyCode::Enter)).as_slice() {
        [Effect::Engine(EngineCommand::Generate(req)), ..] => req.id,
        _ => {
            update(s, Action::Command(Command::Stop));
            0
        }
    }
}
