//! The reducer's transitions: pure `update(state, action) -> effects`, no I/O.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use llamadeck_console::app::{Action, Effect, update};
use llamadeck_console::panes::Focus;
use llamadeck_console::panes::help::Help;
use llamadeck_console::session::{ModelState, Quit};
use llamadeck_engine::{EngineCommand, EngineEvent};
use llamadeck_words::chat::{FinishReason, MessageStatus, Role};
use llamadeck_words::keys::Command;
use llamadeck_words::sampling::Field;

use super::doubles::*;
use super::*;

#[test]
fn send_before_the_model_loads_keeps_the_text() {
    let mut s = state();
    type_text(&mut s, "hello");
    assert!(update(&mut s, key(KeyCode::Enter)).is_empty());
    assert_eq!(s.panes.chat.input.lines(), ["hello"]);
    assert!(s.session.chat.messages.is_empty());
    assert!(s.session.notice.as_ref().unwrap().text.contains("not loaded"));
}

#[test]
fn send_builds_the_request_from_the_settings_pane_values() {
    let mut s = ready_state();
    s.session.sampling.temperature = 0.2;
    type_text(&mut s, "What is NVML?");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!("{effects:?}") };
    assert_eq!(req.sampling, s.session.sampling);
    assert_eq!(req.messages[0].role, Role::System);
    assert_eq!(req.messages[1].content, "What is NVML?");
    assert_eq!(req.messages.len(), 2);
    // The operator is watching: the engine admits it before API requests that wait.
    assert_eq!(req.priority, llamadeck_engine::Priority::Interactive);
    assert!(s.panes.chat.input.is_empty());
    assert_eq!(s.session.chat.generating, Some(req.id));
}

#[test]
fn tokens_stream_in_and_finish_sets_stats_and_context() {
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    update(&mut s, token(id, "Hel"));
    update(&mut s, token(id, "lo"));
    assert_eq!(s.session.chat.messages[1].text, "Hello");
    assert_eq!(s.session.chat.messages[1].status, MessageStatus::Streaming);
    update(&mut s, finish(id));
    assert_eq!(s.session.chat.messages[1].status, MessageStatus::Complete);
    assert_eq!(s.session.chat.messages[1].finish, Some(FinishReason::Stop));
    assert_eq!(s.session.chat.context_used, 32);
    assert_eq!(s.session.chat.generating, None);
}

#[test]
fn stop_keeps_the_partial_answer_and_drops_late_tokens() {
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    update(&mut s, token(id, "partial"));
    let effects = update(&mut s, key(KeyCode::Esc));
    assert_eq!(effects[0], Effect::Engine(EngineCommand::Cancel(id)));
    assert!(matches!(&effects[1..], [Effect::Store(llamadeck_store::Request::Save { .. })]), "the partial answer is saved: {effects:?}");
    update(&mut s, token(id, " late"));
    assert_eq!(s.session.chat.messages[1].text, "partial");
    assert_eq!(s.session.chat.messages[1].status, MessageStatus::Stopped);
    // The engine's own Finished for the cancelled request still brings the stats.
    update(&mut s, finish(id));
    assert_eq!(s.session.chat.messages[1].status, MessageStatus::Stopped);
    assert!(s.session.chat.messages[1].stats.is_some());
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
    assert_eq!(s.session.chat.messages[1].status, MessageStatus::Failed("boom".into()));
    type_text(&mut s, "two");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!() };
    assert_eq!(req.messages.len(), 2, "{:?}", req.messages);
    assert_eq!(req.messages[1].content, "two");
}

#[test]
fn raw_mode_sends_no_system_prompt() {
    let mut s = ready_state();
    s.session.sampling.raw_mode = true;
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
    assert!(!s.session.chat.messages[1].text.chars().any(|c| c.is_control()), "{:?}", s.session.chat.messages[1].text);
}

#[test]
fn paste_never_sends_and_huge_pastes_are_refused() {
    let mut s = ready_state();
    assert!(update(&mut s, Action::Paste("line one\nline two\n".into())).is_empty());
    assert_eq!(s.panes.chat.input.lines().len(), 3);
    assert!(s.session.chat.messages.is_empty());
    let big = "x".repeat(2 << 20);
    update(&mut s, Action::Paste(big));
    assert_eq!(s.panes.chat.input.lines().len(), 3);
    assert!(s.session.notice.as_ref().unwrap().text.contains("paste refused"));
}

#[test]
fn alt_enter_inserts_a_newline_instead_of_sending() {
    let mut s = ready_state();
    type_text(&mut s, "a");
    let effects = update(&mut s, Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)));
    assert!(effects.is_empty());
    type_text(&mut s, "b");
    assert_eq!(s.panes.chat.input.lines(), ["a", "b"]);
}

#[test]
fn question_mark_opens_help_only_when_not_typing() {
    let mut s = ready_state();
    update(&mut s, key(KeyCode::Char('?')));
    assert!(s.panes.is_open::<Help>());
    update(&mut s, key(KeyCode::Char('x')));
    assert!(!s.panes.is_open::<Help>(), "any key closes help");
    type_text(&mut s, "why?");
    assert_eq!(s.panes.chat.input.lines(), ["why?"]);
    assert!(!s.panes.is_open::<Help>());
}

#[test]
fn a_bad_setting_shows_an_error_and_keeps_the_previous_value() {
    let mut s = ready_state();
    update(&mut s, Action::Command(Command::FocusNext));
    assert_eq!(s.panes.focus, Focus::Settings);
    update(&mut s, key(KeyCode::Enter)); // edit temperature
    assert!(s.panes.settings.editor.is_some());
    for _ in 0..6 {
        update(&mut s, key(KeyCode::Backspace));
    }
    type_text(&mut s, "7.5");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.session.sampling.temperature, 0.6);
    assert_eq!(s.panes.settings.error.as_deref(), Some("must be between 0 and 2"));
    assert!(s.panes.settings.editor.is_some(), "the editor stays open with the refused text");
    update(&mut s, key(KeyCode::Esc));
    assert!(s.panes.settings.editor.is_none());
    assert_eq!(s.session.sampling.temperature, 0.6);
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
    assert_eq!(s.session.sampling.top_p, 0.5);
    assert!(s.session.presets.modified);
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
    assert_eq!(s.session.sampling.temperature, 2.0);
    update(&mut s, key(KeyCode::Left));
    assert_eq!(s.session.sampling.temperature, 1.95);
    s.panes.settings.select(Field::TopK);
    update(&mut s, key(KeyCode::Left));
    assert_eq!(s.session.sampling.top_k, 0);
    assert_eq!(s.session.sampling.display(Field::TopK), "off");
}

#[test]
fn presets_cycle_and_set_the_values() {
    let mut s = ready_state();
    assert_eq!(s.session.presets.applied.as_deref(), Some("balanced"), "the default values are exactly balanced");
    update(&mut s, ctrl('p'));
    assert_eq!(s.session.presets.applied.as_deref(), Some("creative"));
    update(&mut s, ctrl('p'));
    assert_eq!(s.session.presets.applied, None, "custom");
    update(&mut s, ctrl('p'));
    assert_eq!(s.session.presets.applied.as_deref(), Some("precise"));
    assert_eq!(s.session.sampling.temperature, 0.1);
    update(&mut s, ctrl('p'));
    update(&mut s, ctrl('p'));
    assert_eq!(s.session.presets.applied.as_deref(), Some("creative"));
    assert_eq!(s.session.sampling.temperature, 1.0);
    assert_eq!(
        update(&mut s, ctrl('s')),
        vec![Effect::SaveSettings { sampling: s.session.sampling.clone(), preset: Some("creative".into()) }]
    );
}

#[test]
fn regenerate_replaces_the_last_answer() {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    update(&mut s, token(id, "old"));
    update(&mut s, finish(id));
    let new_id = generated_id(&update(&mut s, ctrl('r')));
    assert_ne!(new_id, id);
    assert_eq!(s.session.chat.messages.len(), 2);
    assert_eq!(s.session.chat.messages[1].text, "");
}

#[test]
fn edit_last_puts_the_question_back_in_the_box() {
    let mut s = ready_state();
    let id = ask(&mut s, "typo here");
    update(&mut s, finish(id));
    update(&mut s, ctrl('e'));
    assert!(s.session.chat.messages.is_empty());
    assert_eq!(s.panes.chat.input.lines(), ["typo here"]);
}

#[test]
fn quit_while_answering_stops_first_then_quits() {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    assert_eq!(update(&mut s, ctrl('q'))[0], Effect::Engine(EngineCommand::Cancel(id)));
    assert!(s.session.quit != Quit::Now);
    assert_eq!(update(&mut s, ctrl('q')), vec![Effect::Quit]);
}

#[test]
fn a_failed_load_can_be_retried() {
    let mut s = state();
    update(&mut s, Action::Engine(EngineEvent::LoadFailed { reason: "model path /nope does not exist".into() }));
    assert!(matches!(s.session.model.state, ModelState::Failed { .. }));
    assert_eq!(update(&mut s, key(KeyCode::F(5))), vec![Effect::ReloadConfig]);
    let mut spec = s.session.model.spec.clone();
    spec.source = "/models/other.gguf".into();
    let effects = update(&mut s, Action::ModelChosen(spec.clone()));
    assert_eq!(effects, vec![Effect::Engine(EngineCommand::Load(spec))]);
    assert!(matches!(s.session.model.state, ModelState::Loading { .. }));
}

#[test]
fn slash_model_chooses_another_model() {
    let mut s = state();
    type_text(&mut s, "/model /models/x.gguf");
    assert_eq!(update(&mut s, key(KeyCode::Enter)), vec![Effect::ChooseModel { path: "/models/x.gguf".into() }]);
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
    assert_eq!(s.session.chat.scroll_top, None);
    update(&mut s, key(KeyCode::PageUp));
    let top = s.session.chat.scroll_top.expect("scrolled");
    update(&mut s, key(KeyCode::PageUp));
    assert!(s.session.chat.scroll_top.unwrap() < top);
    update(&mut s, Action::Command(Command::FollowTail));
    assert_eq!(s.session.chat.scroll_top, None);
    update(&mut s, Action::Command(Command::ScrollTop));
    assert_eq!(s.session.chat.scroll_top, Some(0));
    for _ in 0..100 {
        update(&mut s, key(KeyCode::PageDown));
    }
    assert_eq!(s.session.chat.scroll_top, None, "paging past the end follows the tail again");
}

// ---- loading: stale stages, refused loads, words --------------------------------------

#[test]
fn a_stage_after_the_load_ended_is_ignored() {
    let mut s = ready_state();
    update(&mut s, Action::Engine(EngineEvent::LoadStage { stage: "starting the engine".into() }));
    assert!(matches!(s.session.model.state, ModelState::Ready { .. }), "{:?}", s.session.model.state);
    update(&mut s, Action::Engine(EngineEvent::LoadFailed { reason: "gone".into() }));
    update(&mut s, Action::Engine(EngineEvent::LoadStage { stage: "reading weights".into() }));
    assert!(matches!(s.session.model.state, ModelState::Failed { .. }), "{:?}", s.session.model.state);
}

/// `/model` with a path the engine refuses before unloading anything: the old model is still
/// the one shown and used, the chat says why, and sending works.
#[test]
fn a_refused_load_keeps_the_old_model_and_says_why() {
    let mut s = ready_state();
    let serving = s.session.model.spec.clone();
    type_text(&mut s, "/model /nonexistent.gguf");
    assert_eq!(update(&mut s, key(KeyCode::Enter)), vec![Effect::ChooseModel { path: "/nonexistent.gguf".into() }]);
    let wanted = llamadeck_engine::ModelSpec { source: "/nonexistent.gguf".into(), ..serving.clone() };
    update(&mut s, Action::ModelChosen(wanted));
    assert!(matches!(s.session.model.state, ModelState::Loading { .. }));
    let reason = "model path /nonexistent.gguf does not exist".to_string();
    update(&mut s, Action::Engine(EngineEvent::LoadRejected { reason, model: "llama-2-13b-chat".into(), context_len: 4096 }));
    assert_eq!(s.session.model.state, ModelState::Ready { name: "llama-2-13b-chat".into(), context_len: 4096 });
    assert_eq!(s.session.model.spec, serving, "the spec is the serving model's again");
    let notes: Vec<String> = s.session.chat_notes().into_iter().map(|n| n.text).collect();
    assert_eq!(
        notes,
        [
            "/nonexistent.gguf was not loaded: model path /nonexistent.gguf does not exist",
            "llama-2-13b-chat is still loaded and answering, here and on the API.",
        ]
    );
    assert!(s.session.notice.as_ref().unwrap().text.contains("is still loaded"));
    let id = ask(&mut s, "still there?");
    assert!(id > 0);
    assert!(s.session.chat_notes().is_empty(), "the note goes once the chat moves on");
}

// ---- F5 reads the config again ----------------------------------------------------------

fn reread(config: llamadeck_config::Config) -> Action {
    let keymap = llamadeck_words::keys::Keymap::from_config(&config.keys).unwrap();
    Action::ConfigReread(Ok(Box::new(llamadeck_console::session::Reread { config, keymap })))
}

#[test]
fn f5_takes_the_files_values_and_keeps_changes_made_since() {
    let mut s = ready_state();
    assert_eq!(update(&mut s, key(KeyCode::F(5))), vec![Effect::ReloadConfig]);
    // Changed in the pane since start (not saved): top_k.
    update(&mut s, Action::Command(Command::FocusNext));
    s.panes.settings.select(Field::TopK);
    update(&mut s, key(KeyCode::Right));
    assert_eq!(s.session.sampling.top_k, 1);
    // Edited by hand in the file meanwhile: temperature and max_tokens.
    let mut config = llamadeck_config::Config::default();
    config.sampling.temperature = 0.2;
    config.sampling.max_tokens = 77;
    let effects = update(&mut s, reread(config));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Engine(_))), "the model did not change: {effects:?}");
    assert_eq!((s.session.sampling.temperature, s.session.sampling.max_tokens, s.session.sampling.top_k), (0.2, 77, 1));
    let notice = &s.session.notice.as_ref().unwrap().text;
    assert!(notice.contains("config read again") && notice.contains("unsaved top_k kept"), "{notice}");
    // Ctrl+S now writes the file's values, not the ones from before F5.
    let Effect::SaveSettings { sampling, .. } = &update(&mut s, ctrl('s'))[0] else { panic!() };
    assert_eq!((sampling.temperature, sampling.max_tokens, sampling.top_k), (0.2, 77, 1));
}

/// The config of `ready_state`'s model (its launch names it, as `--model` would).
fn config_of_the_loaded_model() -> llamadeck_config::Config {
    let mut config = llamadeck_config::Config::default();
    config.model.path = Some("/models/elsewhere.gguf".into());
    config
}

/// F5 after only sampling and keys changed keeps the loaded model (and its prefix cache) and
/// says what was read; a changed model section loads the new model (`--model` still names it).
#[test]
fn f5_reloads_the_model_only_when_the_model_changed() {
    let mut s = ready_state();
    let mut config = config_of_the_loaded_model();
    config.sampling.temperature = 0.2;
    config.keys.insert("quit".into(), vec!["ctrl+x".into()]);
    let effects = update(&mut s, reread(config));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Engine(EngineCommand::Load(_)))), "{effects:?}");
    assert!(matches!(s.session.model.state, ModelState::Ready { .. }), "{:?}", s.session.model.state);
    assert_eq!(s.session.sampling.temperature, 0.2);
    let notice = &s.session.notice.as_ref().unwrap().text;
    assert_eq!(notice, "config read again: sampling, keys; the model is unchanged and stays loaded");

    let mut config = config_of_the_loaded_model();
    config.model.isq = Some("Q4K".into());
    let effects = update(&mut s, reread(config));
    let [Effect::Engine(EngineCommand::Load(spec)), ..] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(spec.isq.as_deref(), Some("Q4K"));
    let notice = &s.session.notice.as_ref().unwrap().text;
    assert!(notice.contains("loading /models/llama-2-13b-chat"), "{notice}");
}

/// `/model` naming the file already loaded reads nothing again.
#[test]
fn slash_model_with_the_loaded_model_reads_nothing_again() {
    let mut s = ready_state();
    let same = s.session.model.spec.clone();
    assert!(update(&mut s, Action::ModelChosen(same)).iter().all(|e| !matches!(e, Effect::Engine(_))));
    assert!(matches!(s.session.model.state, ModelState::Ready { .. }));
    let notice = &s.session.notice.as_ref().unwrap().text;
    assert_eq!(notice, "/models/llama-2-13b-chat is already loaded; nothing was read again");
}

#[test]
fn f5_with_a_broken_config_changes_nothing_and_says_where() {
    let mut s = ready_state();
    let before = s.session.sampling.clone();
    update(
        &mut s,
        Action::ConfigReread(Err("/home/op/.config/llamadeck/config.yaml:4:16: sampling.temperature: must be between 0 and 2".into())),
    );
    assert_eq!(s.session.sampling, before);
    assert!(matches!(s.session.model.state, ModelState::Ready { .. }));
    let notice = s.session.notice.as_ref().unwrap();
    assert!(notice.text.contains("config.yaml:4:16") && notice.text.contains("nothing was changed"), "{}", notice.text);
}

// ---- pastes, notices, words -----------------------------------------------------------

#[test]
fn pasted_cr_and_crlf_line_breaks_are_kept() {
    let mut s = ready_state();
    update(&mut s, Action::Paste("pasted line 1\rpasted line 2\r\npasted line 3".into()));
    assert_eq!(s.panes.chat.input.lines(), ["pasted line 1", "pasted line 2", "pasted line 3"]);
}

#[test]
fn a_refused_paste_says_a_size_over_the_limit() {
    let mut s = ready_state();
    update(&mut s, Action::Paste("x".repeat((1 << 20) + 1)));
    assert_eq!(s.session.notice.as_ref().unwrap().text, "paste refused: 1025 KiB is over the 1024 KiB (1 MiB) limit; nothing was pasted");
}

#[test]
fn notices_expire_and_a_model_notice_goes_when_the_model_loads() {
    let mut s = state();
    type_text(&mut s, "early question");
    update(&mut s, key(KeyCode::Enter));
    assert!(s.session.notice.as_ref().unwrap().text.contains("not loaded yet"));
    update(&mut s, Action::Engine(EngineEvent::Loaded { model: "m".into(), context_len: 512 }));
    assert_eq!(s.session.notice, None, "the chat shows the model is ready; the old warning is gone");
    assert_eq!(s.panes.chat.input.lines(), ["early question"], "and the text is still there");
    update(&mut s, ctrl('p'));
    assert!(s.session.notice.is_some());
    let shown = s.session.now;
    update(&mut s, Action::Tick(shown + std::time::Duration::from_secs(3)));
    assert!(s.session.notice.is_some(), "still shown after 3 s");
    update(&mut s, Action::Tick(shown + std::time::Duration::from_secs(7)));
    assert_eq!(s.session.notice, None, "an info notice is gone after 6 s");
    let sampling = s.session.sampling.clone();
    update(&mut s, Action::Saved { result: Err("read-only file".into()), sampling, preset: None });
    update(&mut s, Action::Tick(shown + std::time::Duration::from_secs(20)));
    assert!(s.session.notice.is_some(), "an error stays longer");
    update(&mut s, Action::Tick(shown + std::time::Duration::from_secs(40)));
    assert_eq!(s.session.notice, None);
}

#[test]
fn quit_while_answering_names_the_key_to_press_again() {
    let mut s = ready_state();
    ask(&mut s, "q");
    update(&mut s, ctrl('q'));
    assert_eq!(s.session.notice.as_ref().unwrap().text, "answer stopped (kept); press Ctrl+Q again to leave");
    let help: Vec<String> = llamadeck_console::panes::help::rows(&s.session.keymap)
        .into_iter()
        .filter_map(|r| match r {
            llamadeck_console::panes::help::HelpRow::Key { keys, what } if keys.contains("Ctrl+Q") => Some(what.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(help, ["quit (while answering, the first press stops the answer)"]);
}

#[test]
fn help_scrolls_on_a_small_terminal_and_any_other_key_closes_it() {
    let mut s = ready_state();
    update(&mut s, Action::Resize(80, 24));
    update(&mut s, key(KeyCode::F(1)));
    let rows = llamadeck_console::panes::help::line_count(&s.session);
    // The overlay has the rows above the status bar.
    let page = llamadeck_console::panes::help::page_height(rows, 23);
    assert!(page < rows, "the help is taller than 24 rows");
    update(&mut s, key(KeyCode::Down));
    assert_eq!(s.panes.find::<Help>().map_or(0, |h| h.scroll), 1);
    update(&mut s, key(KeyCode::End));
    assert_eq!(s.panes.find::<Help>().map_or(0, |h| h.scroll), rows - page);
    update(&mut s, key(KeyCode::PageDown));
    assert_eq!(s.panes.find::<Help>().map_or(0, |h| h.scroll), rows - page, "never past the last page");
    update(&mut s, key(KeyCode::Home));
    assert_eq!(s.panes.find::<Help>().map_or(0, |h| h.scroll), 0);
    assert!(s.panes.is_open::<Help>());
    update(&mut s, key(KeyCode::Char('x')));
    assert!(!s.panes.is_open::<Help>());
    assert!(s.panes.chat.input.is_empty(), "the closing key does nothing else");
}

// ---- the settings pane -----------------------------------------------------------------

#[test]
fn up_from_the_first_value_reaches_the_preset_row_which_cycles_back_to_custom() {
    let mut s = ready_state();
    update(&mut s, Action::Command(Command::FocusNext));
    assert_eq!(s.panes.settings.field(), Some(Field::Temperature));
    update(&mut s, key(KeyCode::Up));
    assert_eq!(s.panes.settings.field(), None, "the preset row");
    assert_eq!(s.session.presets.applied.as_deref(), Some("balanced"));
    update(&mut s, key(KeyCode::Left));
    assert_eq!(s.session.presets.applied.as_deref(), Some("precise"));
    assert_eq!(s.session.sampling.temperature, 0.1);
    update(&mut s, key(KeyCode::Left));
    assert_eq!(s.session.presets.applied, None, "back to custom");
    assert_eq!(s.session.sampling.temperature, 0.6, "custom brings your own values back");
    // A value changed by hand is what custom brings back after trying a preset.
    update(&mut s, key(KeyCode::Down));
    update(&mut s, key(KeyCode::Right));
    assert_eq!(s.session.sampling.temperature, 0.65);
    update(&mut s, key(KeyCode::Up));
    update(&mut s, key(KeyCode::Right));
    assert_eq!(s.session.sampling.temperature, 0.1);
    update(&mut s, key(KeyCode::Left));
    assert_eq!((s.session.presets.applied.as_deref(), s.session.sampling.temperature), (None, 0.65));
}

#[test]
fn a_preset_that_leaves_a_field_out_gets_the_configs_value_every_time() {
    use llamadeck_words::sampling::PresetValues;
    let mut config = llamadeck_config::Config::default();
    config.sampling.top_p = 0.7;
    config.presets.insert("mine".into(), PresetValues { temperature: Some(0.3), ..Default::default() });
    let spec = s_spec();
    let mut s = llamadeck_console::app::State::new(
        &config,
        llamadeck_words::keys::Keymap::defaults(),
        spec,
        llamadeck_words::theme::Theme::COLOR,
        std::time::Instant::now(),
    );
    // precise sets top_p 0.95; "mine" leaves top_p out: it is the config's 0.7, not precise's.
    update(&mut s, ctrl('p'));
    assert_eq!((s.session.presets.applied.as_deref(), s.session.sampling.top_p), (Some("precise"), 0.95));
    for _ in 0..3 {
        update(&mut s, ctrl('p'));
    }
    assert_eq!((s.session.presets.applied.as_deref(), s.session.sampling.top_p, s.session.sampling.temperature), (Some("mine"), 0.7, 0.3));
    for _ in 0..5 {
        update(&mut s, ctrl('p'));
    }
    assert_eq!(s.session.presets.applied.as_deref(), Some("mine"), "round again, by way of custom");
    assert_eq!(s.session.sampling.top_p, 0.7, "the same every time");
}

fn s_spec() -> llamadeck_engine::ModelSpec {
    llamadeck_engine::ModelSpec { source: "/models/llama-2-13b-chat".into(), device: "cpu".into(), ..Default::default() }
}

// ---- the context meter ------------------------------------------------------------------

#[test]
fn the_context_meter_moves_while_an_answer_streams() {
    let mut s = ready_state();
    let id = ask(&mut s, "one");
    update(&mut s, finish(id));
    assert_eq!((s.session.chat.context_used, s.session.chat.context_estimated), (32, false));
    let id = ask(&mut s, "two");
    for _ in 0..5 {
        update(&mut s, token(id, "w "));
    }
    assert_eq!((s.session.chat.context_used, s.session.chat.context_estimated), (37, true), "counted as tokens arrive");
    update(&mut s, finish(id));
    assert_eq!((s.session.chat.context_used, s.session.chat.context_estimated), (32, false), "the engine's count replaces it");
}

#[test]
fn a_load_warning_stays_in_the_chat_while_that_model_serves() {
    let mut s = state();
    update(&mut s, Action::Engine(EngineEvent::LoadWarning { warning: "this model needs about 30 GiB and only 24 GiB is free".into() }));
    update(&mut s, Action::Engine(EngineEvent::Loaded { model: "llama-2-13b-chat".into(), context_len: 4096 }));
    let warned = |s: &llamadeck_console::app::State| s.session.chat_notes().iter().any(|n| n.text.contains("only 24 GiB is free"));
    assert!(warned(&s));
    let id = ask(&mut s, "hi");
    update(&mut s, finish(id));
    assert!(warned(&s), "still in view after an answer");
    let spec = llamadeck_engine::ModelSpec { source: "/models/other.gguf".into(), ..s.session.model.spec.clone() };
    update(&mut s, Action::ModelChosen(spec));
    assert!(!warned(&s), "a new load starts without it");
}

#[test]
fn ctrl_f_opens_the_search_at_once() {
    use llamadeck_console::panes::search::SearchBar;
    let mut s = ready_state();
    update(&mut s, ctrl('f'));
    assert!(s.panes.is_open::<SearchBar>());
}

// ---- what a node may send: sizes and counts ----------------------------------------------

#[test]
fn an_answer_past_its_cap_is_stopped_cut_and_says_why() {
    use llamadeck_console::app::MAX_ANSWER_BYTES;
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    // A node's control characters: one byte each, three once sanitised for the screen.
    let hostile = "\x01".repeat(256 << 10);
    let mut effects = Vec::new();
    for _ in 0..30 * 4 {
        if s.session.chat.generating.is_none() {
            break;
        }
        effects = update(&mut s, token(id, &hostile));
    }
    let answer = &s.session.chat.messages[1];
    assert!(answer.text.len() <= MAX_ANSWER_BYTES && answer.text.len() > MAX_ANSWER_BYTES - 3, "{}", answer.text.len());
    assert_eq!(answer.status, MessageStatus::Failed("answer cut at 1 MiB: more than an answer may hold, so the rest was not kept".into()));
    assert_eq!(answer.finish, Some(FinishReason::Length));
    assert_eq!(s.session.chat.generating, None);
    assert_eq!(effects[0], Effect::Engine(EngineCommand::Cancel(id)), "the engine is stopped, as Esc stops it");
    assert!(matches!(&effects[1..], [Effect::Store(llamadeck_store::Request::Save { .. })]), "{:?}", &effects[1..]);
    // Late tokens and the engine's own end change nothing; the exchange is not sent again.
    update(&mut s, token(id, "more"));
    update(&mut s, Action::Engine(EngineEvent::Failed { id, error: "cancelled".into() }));
    update(&mut s, finish(id));
    assert!(s.session.chat.messages[1].text.len() <= MAX_ANSWER_BYTES);
    assert!(matches!(&s.session.chat.messages[1].status, MessageStatus::Failed(why) if why.starts_with("answer cut at 1 MiB: ")));
    let next = ask(&mut s, "again");
    assert!(next > id);
}

#[test]
fn an_answer_just_under_its_cap_is_kept_whole() {
    use llamadeck_console::app::MAX_ANSWER_BYTES;
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    update(&mut s, token(id, &"a".repeat(MAX_ANSWER_BYTES - 1)));
    update(&mut s, token(id, "b"));
    assert_eq!((s.session.chat.messages[1].text.len(), &s.session.chat.messages[1].status), (MAX_ANSWER_BYTES, &MessageStatus::Streaming));
    // A character that does not fit whole is not split.
    update(&mut s, token(id, "é"));
    assert_eq!(s.session.chat.messages[1].text.len(), MAX_ANSWER_BYTES);
    assert!(matches!(s.session.chat.messages[1].status, MessageStatus::Failed(_)));
}

#[test]
fn a_model_name_past_its_cap_is_cut_with_an_ellipsis_and_so_saved() {
    use llamadeck_console::app::MAX_MODEL_NAME_CHARS;
    let mut s = state();
    let long = format!("meta-llama/{}", "ß".repeat(1_000_000));
    update(&mut s, Action::Engine(EngineEvent::Loaded { model: long.clone(), context_len: 4096 }));
    let name = s.session.model.name().unwrap().to_string();
    assert_eq!(name.chars().count(), MAX_MODEL_NAME_CHARS);
    assert!(name.starts_with("meta-llama/ßß") && name.ends_with("ß…"), "{name}");
    let id = ask(&mut s, "hi");
    update(&mut s, finish(id));
    assert_eq!(s.session.chat.messages[1].model.as_deref(), Some(name.as_str()), "each answer stores the short name");
    // A refused load names the model that still serves, cut the same way.
    update(&mut s, Action::Engine(EngineEvent::LoadRejected { reason: "too big".into(), model: long, context_len: 4096 }));
    assert_eq!(s.session.model.name(), Some(name.as_str()));
    // A name at the cap is whole.
    let exact = "m".repeat(MAX_MODEL_NAME_CHARS);
    update(&mut s, Action::Engine(EngineEvent::Loaded { model: exact.clone(), context_len: 4096 }));
    assert_eq!(s.session.model.name(), Some(exact.as_str()));
}

#[test]
fn counts_near_the_top_of_their_range_saturate_instead_of_wrapping() {
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    // The engine's count of the prompt, then one more token: was 0 when it wrapped.
    update(&mut s, Action::Engine(EngineEvent::Started { id, prompt_tokens: usize::MAX, trimmed: 0 }));
    update(&mut s, token(id, "x"));
    assert_eq!(s.session.chat.context_used, usize::MAX);
    // A node's usage of 2^64-1 tokens each: was shown as ctx 18446744073709551614/4096.
    let stats = llamadeck_words::chat::GenStats { prompt_tokens: usize::MAX, completion_tokens: usize::MAX, ..Default::default() };
    update(&mut s, Action::Engine(EngineEvent::Finished { id, reason: FinishReason::Stop, stats }));
    assert_eq!(s.session.chat.context_used, usize::MAX);
    let shown = format!("{}", screen(&s, 120, 30).backend());
    assert!(!shown.contains("18446744073709551614"), "{shown}");
}

/// F5 reads the file again and keeps each command-line choice: `--model`, `--allow-download`,
/// `--connect` (whose server stays the source: nothing is loaded here), `--host`, `--port` and
/// `--no-api`.
#[test]
fn f5_keeps_every_command_line_choice() {
    use llamadeck_config::{Config, Launch};
    use llamadeck_engine::EngineCommand;
    let file: Config = serde_yaml::from_str("model:\n  path: /models/from-config.gguf\n").unwrap();
    let loads = |launch: Launch| {
        let mut s = ready_state();
        s.session.model.launch = launch;
        let effects = update(&mut s, reread(file.clone()));
        let spec = effects.iter().find_map(|e| match e {
            Effect::Engine(EngineCommand::Load(spec)) => Some(spec.clone()),
            _ => None,
        });
        spec.expect("F5 loads")
    };
    let plain = loads(Launch::default());
    assert_eq!((plain.source.as_str(), plain.allow_download), ("/models/from-config.gguf", false), "the file's model");
    let model = loads(Launch { model: Some("/models/from-cli.gguf".into()), ..Launch::default() });
    assert_eq!(model.source, "/models/from-cli.gguf");
    let download = loads(Launch { model: Some("owner/name".into()), allow_download: true, ..Launch::default() });
    assert_eq!((download.source.as_str(), download.allow_download), ("owner/name", true));
    let connect = loads(Launch { connect: Some("http://gpu-a:8000/v1".into()), ..Launch::default() });
    assert_eq!(connect.source, "http://gpu-a:8000/v1");
    // --host, --port and --no-api: the file's server section does not undo them, and the notice
    // does not claim a server change waits for the next start.
    let launch = Launch { host: Some("0.0.0.0".into()), port: Some(9001), no_api: true, ..Launch::default() };
    let mut s = ready_state();
    s.session.config = Config::default().with_launch(&launch);
    s.session.model.launch = launch;
    update(&mut s, reread(file.clone()));
    let server = &s.session.config.server;
    assert_eq!((server.host.as_str(), server.port, server.enabled), ("0.0.0.0", 9001, false));
    let notice = &s.session.notice.as_ref().unwrap().text;
    assert!(!notice.contains("server"), "{notice}");
}
