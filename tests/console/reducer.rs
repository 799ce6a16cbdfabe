//! The reducer's transitions: pure `update(state, action) -> effects`, no I/O.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use llamadeck::app::state::{Focus, ModelState};
use llamadeck::app::{Action, Effect, update};
use llamadeck::chat::{FinishReason, MessageStatus, Role};
use llamadeck::engine::{EngineCommand, EngineEvent};
use llamadeck::keys::Command;
use llamadeck::sampling::Field;

use super::doubles::*;
use super::*;

#[test]
fn send_before_the_model_loads_keeps_the_text() {
    let mut s = state();
    type_text(&mut s, "hello");
    assert!(update(&mut s, key(KeyCode::Enter)).is_empty());
    assert_eq!(s.input.lines(), ["hello"]);
    assert!(s.messages.is_empty());
    assert!(s.notice.as_ref().unwrap().text.contains("not loaded"));
}

#[test]
fn send_builds_the_request_from_the_settings_pane_values() {
    let mut s = ready_state();
    s.sampling.temperature = 0.2;
    type_text(&mut s, "What is NVML?");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!("{effects:?}") };
    assert_eq!(req.sampling, s.sampling);
    assert_eq!(req.messages[0].role, Role::System);
    assert_eq!(req.messages[1].content, "What is NVML?");
    assert_eq!(req.messages.len(), 2);
    assert!(s.input.is_empty());
    assert_eq!(s.generating, Some(req.id));
}

#[test]
fn tokens_stream_in_and_finish_sets_stats_and_context() {
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    update(&mut s, token(id, "Hel"));
    update(&mut s, token(id, "lo"));
    assert_eq!(s.messages[1].text, "Hello");
    assert_eq!(s.messages[1].status, MessageStatus::Streaming);
    update(&mut s, finish(id));
    assert_eq!(s.messages[1].status, MessageStatus::Complete);
    assert_eq!(s.messages[1].finish, Some(FinishReason::Stop));
    assert_eq!(s.context_used, 32);
    assert_eq!(s.generating, None);
}

#[test]
fn stop_keeps_the_partial_answer_and_drops_late_tokens() {
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    update(&mut s, token(id, "partial"));
    let effects = update(&mut s, key(KeyCode::Esc));
    assert_eq!(effects[0], Effect::Engine(EngineCommand::Cancel(id)));
    assert!(matches!(&effects[1..], [Effect::Store(llamadeck::store::Request::Save { .. })]), "the partial answer is saved: {effects:?}");
    update(&mut s, token(id, " late"));
    assert_eq!(s.messages[1].text, "partial");
    assert_eq!(s.messages[1].status, MessageStatus::Stopped);
    // The engine's own Finished for the cancelled request still brings the stats.
    update(&mut s, finish(id));
    assert_eq!(s.messages[1].status, MessageStatus::Stopped);
    assert!(s.messages[1].stats.is_some());
}

#[test]
fn the_next_request_carries_the_finished_exchange() {
    let mut s = ready_state();
    let id = ask(&mut s, "one");
    update(&mut s, token(id, "first answer"));
    update(&mut s, finish(id));
    type_text(&mut s, "two");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!() };
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User, Role::Assistant, Role::User]);
    assert_eq!(req.messages[2].content, "first answer");
}

#[test]
fn a_failed_exchange_is_left_out_of_the_next_request() {
    let mut s = ready_state();
    let id = ask(&mut s, "one");
    update(&mut s, Action::Engine(EngineEvent::Failed { id, error: "boom".into() }));
    assert_eq!(s.messages[1].status, MessageStatus::Failed("boom".into()));
    type_text(&mut s, "two");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!() };
    assert_eq!(req.messages.len(), 2, "{:?}", req.messages);
    assert_eq!(req.messages[1].content, "two");
}

#[test]
fn raw_mode_sends_no_system_prompt() {
    let mut s = ready_state();
    s.sampling.raw_mode = true;
    type_text(&mut s, "Once upon a time");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!() };
    assert_eq!(req.messages.len(), 1);
}

#[test]
fn escape_sequences_from_the_model_are_neutralised() {
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    update(&mut s, token(id, "\x1b]52;c;aGk=\x07\x1b[2J"));
    assert!(!s.messages[1].text.chars().any(|c| c.is_control()), "{:?}", s.messages[1].text);
}

#[test]
fn paste_never_sends_and_huge_pastes_are_refused() {
    let mut s = ready_state();
    assert!(update(&mut s, Action::Paste("line one\nline two\n".into())).is_empty());
    assert_eq!(s.input.lines().len(), 3);
    assert!(s.messages.is_empty());
    let big = "x".repeat(2 << 20);
    update(&mut s, Action::Paste(big));
    assert_eq!(s.input.lines().len(), 3);
    assert!(s.notice.as_ref().unwrap().text.contains("paste refused"));
}

#[test]
fn alt_enter_inserts_a_newline_instead_of_sending() {
    let mut s = ready_state();
    type_text(&mut s, "a");
    let effects = update(&mut s, Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)));
    assert!(effects.is_empty());
    type_text(&mut s, "b");
    assert_eq!(s.input.lines(), ["a", "b"]);
}

#[test]
fn question_mark_opens_help_only_when_not_typing() {
    let mut s = ready_state();
    update(&mut s, key(KeyCode::Char('?')));
    assert!(s.show_help);
    update(&mut s, key(KeyCode::Char('x')));
    assert!(!s.show_help, "any key closes help");
    type_text(&mut s, "why?");
    assert_eq!(s.input.lines(), ["why?"]);
    assert!(!s.show_help);
}

#[test]
fn a_bad_setting_shows_an_error_and_keeps_the_previous_value() {
    let mut s = ready_state();
    update(&mut s, Action::Command(Command::FocusNext));
    assert_eq!(s.focus, Focus::Settings);
    update(&mut s, key(KeyCode::Enter)); // edit temperature
    assert!(s.settings.editor.is_some());
    for _ in 0..6 {
        update(&mut s, key(KeyCode::Backspace));
    }
    type_text(&mut s, "7.5");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.sampling.temperature, 0.6);
    assert_eq!(s.settings.error.as_deref(), Some("must be between 0 and 2"));
    assert!(s.settings.editor.is_some(), "the editor stays open with the refused text");
    update(&mut s, key(KeyCode::Esc));
    assert!(s.settings.editor.is_none());
    assert_eq!(s.sampling.temperature, 0.6);
}

#[test]
fn a_good_setting_is_what_the_next_request_uses() {
    let mut s = ready_state();
    update(&mut s, Action::Command(Command::FocusNext));
    update(&mut s, key(KeyCode::Down)); // top_p
    update(&mut s, key(KeyCode::Enter));
    for _ in 0..6 {
        update(&mut s, key(KeyCode::Backspace));
    }
    type_text(&mut s, "0.5");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.sampling.top_p, 0.5);
    assert!(s.preset_modified);
    update(&mut s, Action::Command(Command::FocusNext));
    type_text(&mut s, "q");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!("{effects:?}") };
    assert_eq!(req.sampling.top_p, 0.5);
}

#[test]
fn arrow_keys_step_values_within_their_range() {
    let mut s = ready_state();
    update(&mut s, Action::Command(Command::FocusNext));
    for _ in 0..100 {
        update(&mut s, key(KeyCode::Right));
    }
    assert_eq!(s.sampling.temperature, 2.0);
    update(&mut s, key(KeyCode::Left));
    assert_eq!(s.sampling.temperature, 1.95);
    s.settings.selected = Field::ALL.iter().position(|f| *f == Field::TopK).unwrap();
    update(&mut s, key(KeyCode::Left));
    assert_eq!(s.sampling.top_k, 0);
    assert_eq!(s.sampling.display(Field::TopK), "off");
}

#[test]
fn presets_cycle_and_set_the_values() {
    let mut s = ready_state();
    update(&mut s, ctrl('p'));
    assert_eq!(s.preset.as_deref(), Some("precise"));
    assert_eq!(s.sampling.temperature, 0.1);
    update(&mut s, ctrl('p'));
    update(&mut s, ctrl('p'));
    assert_eq!(s.preset.as_deref(), Some("creative"));
    assert_eq!(s.sampling.temperature, 1.0);
    assert_eq!(update(&mut s, ctrl('s')), vec![Effect::SaveSettings { sampling: s.sampling.clone(), preset: Some("creative".into()) }]);
}

#[test]
fn regenerate_replaces_the_last_answer() {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    update(&mut s, token(id, "old"));
    update(&mut s, finish(id));
    let new_id = generated_id(&update(&mut s, ctrl('r')));
    assert_ne!(new_id, id);
    assert_eq!(s.messages.len(), 2);
    assert_eq!(s.messages[1].text, "");
}

#[test]
fn edit_last_puts_the_question_back_in_the_box() {
    let mut s = ready_state();
    let id = ask(&mut s, "typo here");
    update(&mut s, finish(id));
    update(&mut s, ctrl('e'));
    assert!(s.messages.is_empty());
    assert_eq!(s.input.lines(), ["typo here"]);
}

#[test]
fn quit_while_answering_stops_first_then_quits() {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    assert_eq!(update(&mut s, ctrl('q'))[0], Effect::Engine(EngineCommand::Cancel(id)));
    assert!(!s.should_quit);
    assert_eq!(update(&mut s, ctrl('q')), vec![Effect::Quit]);
}

#[test]
fn a_failed_load_can_be_retried() {
    let mut s = state();
    update(&mut s, Action::Engine(EngineEvent::LoadFailed { reason: "model path /nope does not exist".into() }));
    assert!(matches!(s.model, ModelState::Failed { .. }));
    assert_eq!(update(&mut s, key(KeyCode::F(5))), vec![Effect::ChooseModel { path: None }]);
    let mut spec = s.model_spec.clone();
    spec.source = "/models/other.gguf".into();
    let effects = update(&mut s, Action::ModelChosen(Ok(spec.clone())));
    assert_eq!(effects, vec![Effect::Engine(EngineCommand::Load(spec))]);
    assert!(matches!(s.model, ModelState::Loading { .. }));
}

#[test]
fn slash_model_chooses_another_model() {
    let mut s = state();
    type_text(&mut s, "/model /models/x.gguf");
    assert_eq!(update(&mut s, key(KeyCode::Enter)), vec![Effect::ChooseModel { path: Some("/models/x.gguf".into()) }]);
}

#[test]
fn paging_scrolls_and_follow_tail_returns() {
    let mut s = ready_state();
    update(&mut s, Action::Resize(100, 30));
    for i in 0..30 {
        let id = ask(&mut s, &format!("question {i}"));
        update(&mut s, token(id, "answer"));
        update(&mut s, finish(id));
    }
    assert_eq!(s.scroll_top, None);
    update(&mut s, key(KeyCode::PageUp));
    let top = s.scroll_top.expect("scrolled");
    update(&mut s, key(KeyCode::PageUp));
    assert!(s.scroll_top.unwrap() < top);
    update(&mut s, Action::Command(Command::FollowTail));
    assert_eq!(s.scroll_top, None);
    update(&mut s, Action::Command(Command::ScrollTop));
    assert_eq!(s.scroll_top, Some(0));
    for _ in 0..100 {
        update(&mut s, key(KeyCode::PageDown));
    }
    assert_eq!(s.scroll_top, None, "paging past the end follows the tail again");
}
