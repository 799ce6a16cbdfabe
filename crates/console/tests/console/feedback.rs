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

#[test]
fn a_stopped_answer_shows_no_older_answers_speed_on_the_chat_border() {
    let mut s = ready_state();
    let id = ask(&mut s, "first");
    update(&mut s, token(id, "one"));
    update(&mut s, finish(id));
    assert!(screen_text(&s, 80, 24).contains("41.5 tok/s"), "the finished answer's own speed");
    let id = ask(&mut s, "second");
    update(&mut s, token(id, "partial"));
    update(&mut s, key(KeyCode::Esc));
    let text = screen_text(&s, 80, 24);
    let border = text.lines().find(|l| l.contains("ctx")).unwrap_or_else(|| panic!("the context meter stays: {text}"));
    assert!(!border.contains("tok/s"), "{border}");
}

#[test]
fn the_first_quit_during_an_answer_names_the_key_that_was_pressed() {
    for (pressed, name) in [('c', "Ctrl+C"), ('q', "Ctrl+Q")] {
        let mut s = ready_state();
        ask(&mut s, "q");
        update(&mut s, ctrl(pressed));
        assert_eq!(s.session.notice.as_ref().unwrap().text, format!("answer stopped (kept); press {name} again to leave"));
        assert_eq!(update(&mut s, ctrl(pressed)), vec![llamadeck_console::app::Effect::Quit]);
    }
}

#[test]
fn help_wraps_a_long_key_list_inside_its_key_column() {
    use llamadeck_console::panes::help::key_lines;
    assert_eq!(key_lines("Alt+Enter Shift+Enter Ctrl+J", 18), ["Alt+Enter", "Shift+Enter Ctrl+J"]);
    assert_eq!(key_lines("F1 ?", 18), ["F1 ?"]);
    let mut s = ready_state();
    update(&mut s, key(KeyCode::F(1)));
    let text = screen_text(&s, 80, 24);
    let line = text.lines().find(|l| l.contains("new line in the message")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("Alt+Enter  new line in the message"), "{line}");
    assert!(text.contains("Shift+Enter Ctrl+J"), "the other keys on the next line: {text}");
}

#[test]
fn an_answer_from_a_node_is_tagged_with_it_and_a_path_model_shows_its_file_name() {
    use llamadeck_console::session::model::model_name;
    assert_eq!(model_name("/srv/models/SmolLM2-135M-Instruct.Q4_1.gguf"), "SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(model_name("./m/x.gguf"), "x.gguf");
    assert_eq!(model_name("C:\\models\\x.gguf"), "x.gguf");
    assert_eq!(model_name("meta-llama/Llama-2-13b-chat-hf"), "meta-llama/Llama-2-13b-chat-hf", "a Hugging Face id is no path");

    let mut s = talking_to_a_down_node("node-a");
    let path = "/srv/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    update(&mut s, Action::Status { epoch: 0, event: EngineEvent::Loaded { model: path.into(), context_len: 2048 } });
    let id = ask(&mut s, "hi");
    update(&mut s, token(id, "hello"));
    update(&mut s, finish(id));
    let answer = &s.session.chat.messages[1];
    assert_eq!((answer.node.as_deref(), answer.model.as_deref()), (Some("node-a"), Some("SmolLM2-135M-Instruct.Q4_1.gguf")));
    let text = screen_text(&s, 120, 35);
    assert!(text.contains("node-a · SmolLM2-135M-Instruct.Q4_1.gguf · 2 tok"), "{text}");
    assert!(!text.contains("/srv/models"), "{text}");
    // The local model's answers carry no node.
    let mut s = ready_state();
    let id = ask(&mut s, "hi");
    update(&mut s, finish(id));
    assert_eq!(s.session.chat.messages[1].node, None);
}

/// The rows the message box takes on screen: from its top border (" message ") to the bottom.
fn message_box_height(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let top = lines.iter().position(|l| l.contains("┌ message") || l.contains("┌ answering")).unwrap_or_else(|| panic!("{text}"));
    let bottom = (top + 1..lines.len()).find(|&i| lines[i].starts_with('└')).unwrap_or_else(|| panic!("{text}"));
    bottom - top + 1
}

#[test]
fn the_message_box_grows_with_wrapped_lines_then_scrolls() {
    let words = "Operators run models on their own servers and want to see what the GPUs do while they chat.";
    for (w, h) in [(80u16, 24u16), (120, 35)] {
        let mut s = ready_state();
        update(&mut s, Action::Resize(w, h));
        type_text(&mut s, words);
        let text = screen_text(&s, w, h);
        let rows = s.panes.chat.input_rows(llamadeck_words::layout::input_text_width((w, h)));
        assert!(rows >= 2, "one line of text wraps in the box at {w}x{h}");
        assert_eq!(message_box_height(&text), rows + 2, "{text}");
        assert!(text.contains("they chat."), "the end of the text shows: {text}");
        snapshot!(format!("message_box_wrapped_{w}x{h}"), text);
        // Far more than the box holds: it stops at its cap and shows where the cursor is.
        for i in 0..12 {
            type_text(&mut s, &format!(" {words} line{i}"));
        }
        let text = screen_text(&s, w, h);
        assert_eq!(message_box_height(&text), llamadeck_words::layout::input_rows_cap((w, h)) + 2, "{text}");
        assert!(text.contains("line11"), "the box scrolls to the cursor: {text}");
        snapshot!(format!("message_box_full_{w}x{h}"), text);
    }
}

#[test]
fn the_message_box_takes_readline_keys_where_no_command_holds_them() {
    let mut s = ready_state();
    type_text(&mut s, "first words");
    update(&mut s, ctrl('u'));
    assert!(s.panes.chat.input.is_empty(), "Ctrl+U deletes to the start of the line, as in a shell");
    update(&mut s, ctrl('z'));
    assert_eq!(s.panes.chat.input.lines(), ["first words"], "Ctrl+Z undoes it");
    update(&mut s, ctrl('a'));
    update(&mut s, ctrl('k'));
    assert!(s.panes.chat.input.is_empty(), "Ctrl+A then Ctrl+K");
    type_text(&mut s, "one two");
    update(&mut s, ctrl('w'));
    assert_eq!(s.panes.chat.input.lines(), ["one "]);
    // A key a command holds runs the command: Ctrl+E edits the last question.
    let id = ask(&mut s, "question");
    update(&mut s, finish(id));
    update(&mut s, ctrl('e'));
    assert_eq!(s.panes.chat.input.lines(), ["one question"]);
}

#[test]
fn notices_are_kept_and_f7_shows_them_in_full() {
    use llamadeck_console::panes::notices::Notices;
    use llamadeck_console::session::NoticeLevel;
    let mut s = ready_state();
    let path = "/home/operator/.local/share/llamadeck/exports/conversations-of-a-long-week/20250102-154312-00aa.md";
    update(&mut s, Action::Store(llamadeck_store::Reply::Exported(Ok(path.into()))));
    s.session.now += std::time::Duration::from_secs(200);
    s.session.notice(NoticeLevel::Error, "config.yaml:4:16: sampling.temperature: must be between 0 and 2 (got 7.5)");
    for i in 0..120 {
        s.session.notice(NoticeLevel::Info, format!("filler {i}"));
    }
    assert_eq!(s.session.notices.len(), 100, "the last 100");
    assert_eq!(s.session.notices.newest_first().next().unwrap().text, "filler 119");
    // Fresh: the export and the error among a few others.
    let mut s = ready_state();
    update(&mut s, Action::Store(llamadeck_store::Reply::Exported(Ok(path.into()))));
    s.session.now += std::time::Duration::from_secs(200);
    s.session.notice(NoticeLevel::Error, "config.yaml:4:16: sampling.temperature: must be between 0 and 2 (got 7.5)");
    update(&mut s, key(KeyCode::F(7)));
    assert!(s.panes.is_open::<Notices>());
    for (w, h) in [(80u16, 24u16), (120, 35)] {
        let text = screen_text(&s, w, h);
        let joined: String = text.lines().map(|l| l.trim_matches(|c| c == '│' || c == ' ')).collect::<Vec<_>>().join("");
        assert!(joined.contains(path), "the whole path, wrapped: {text}");
        assert!(text.contains("error · just now") && text.contains("info · 3 min ago"), "{text}");
        snapshot!(format!("notices_overlay_{w}x{h}"), text);
    }
    update(&mut s, key(KeyCode::F(7)));
    assert!(!s.panes.is_open::<Notices>(), "F7 closes it");
    update(&mut s, key(KeyCode::F(7)));
    update(&mut s, key(KeyCode::Esc));
    assert!(!s.panes.is_open::<Notices>(), "Esc closes it");
}

#[test]
fn a_notice_the_bar_cannot_hold_wraps_above_it_at_any_width() {
    let mut s = ready_state();
    let path = "/home/operator/.local/share/llamadeck/exports/20250102-154312-00aa.md";
    update(&mut s, Action::Store(llamadeck_store::Reply::Exported(Ok(path.into()))));
    // (At the smallest terminal, 60x16, the panes keep every row and the bar cuts the notice;
    // F7 shows it whole.)
    for (w, h) in [(60u16, 20u16), (80, 24), (120, 35)] {
        let text = screen_text(&s, w, h);
        let rows: Vec<&str> = text.lines().collect();
        let bar = rows[rows.len() - 1];
        assert!(bar.trim_end().ends_with("F1 help  Ctrl+Q quit"), "{w}x{h}: {bar:?}");
        // A path wider than the bar is cut into lines: read back, it is whole.
        let whole: String = rows[rows.len() - 4..].iter().map(|r| r.trim_end()).collect();
        assert!(whole.contains(path), "{w}x{h}: {text}");
    }
    snapshot!("notice_wrapped_above_the_bar_80x24", screen_text(&s, 80, 24));
}

#[test]
fn the_system_prompt_is_edited_in_a_wrapping_editor_as_wide_as_the_message_box() {
    use crossterm::event::{KeyEvent, KeyModifiers};
    use llamadeck_words::sampling::Field;
    for (w, h) in [(80u16, 24u16), (120, 35)] {
        let mut s = ready_state();
        update(&mut s, Action::Resize(w, h));
        update(&mut s, Action::Command(llamadeck_words::keys::Command::FocusNext));
        s.panes.settings.select(Field::SystemPrompt);
        update(&mut s, key(KeyCode::Enter));
        assert!(s.panes.settings.editing());
        let text = screen_text(&s, w, h);
        let title = text.lines().find(|l| l.contains("system prompt · Enter saves · Esc cancels")).unwrap_or_else(|| panic!("{text}"));
        assert!(text.contains("new line: Alt+Enter Shift+Enter Ctrl+J"), "its other keys at its foot: {text}");
        let box_width = llamadeck_words::layout::areas(ratatui::layout::Rect::new(0, 0, w, h), 1).input.width as usize;
        let editor_width = title.split('┐').next().unwrap().chars().count() + 1;
        assert!(editor_width >= box_width, "{editor_width} < {box_width}: {text}");
        // The default prompt's first sentence wraps inside it instead of running off a line.
        assert!(text.contains("│You are a helpful, respectful and honest"), "from its start: {text}");
        snapshot!(format!("system_prompt_editor_{w}x{h}"), text);
    }
    let mut s = ready_state();
    update(&mut s, Action::Command(llamadeck_words::keys::Command::FocusNext));
    s.panes.settings.select(Field::SystemPrompt);
    update(&mut s, key(KeyCode::Enter));
    update(&mut s, ctrl('a'));
    for _ in 0..40 {
        update(&mut s, ctrl('k'));
        update(&mut s, key(KeyCode::Backspace));
        update(&mut s, key(KeyCode::Delete));
    }
    type_text(&mut s, "Be brief.");
    update(&mut s, Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)));
    type_text(&mut s, "Answer in English.");
    update(&mut s, key(KeyCode::Enter));
    assert!(!s.panes.settings.editing());
    assert_eq!(s.session.sampling.system_prompt, "Be brief.\nAnswer in English.");
}

// ---- the mouse ------------------------------------------------------------------------------

fn mouse(kind: crossterm::event::MouseEventKind, column: u16, row: u16) -> Action {
    Action::Mouse(crossterm::event::MouseEvent { kind, column, row, modifiers: crossterm::event::KeyModifiers::NONE })
}

fn click(column: u16, row: u16) -> Action {
    mouse(crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left), column, row)
}

/// Where `needle` is on the screen (column, row), as the terminal counts them.
fn find(text: &str, needle: &str) -> (u16, u16) {
    for (y, line) in text.lines().enumerate() {
        if let Some(at) = line.find(needle) {
            return (line[..at].chars().count() as u16, y as u16);
        }
    }
    panic!("{needle:?} is not on the screen:\n{text}");
}

#[test]
fn the_wheel_scrolls_the_chat_and_a_click_focuses_and_picks_a_setting() {
    use crossterm::event::MouseEventKind;
    use llamadeck_console::panes::Focus;
    use llamadeck_words::sampling::Field;
    let mut s = ready_state();
    update(&mut s, Action::Resize(80, 24));
    for i in 0..6 {
        let id = ask(&mut s, &format!("question {i} with enough words to wrap over a line or two in the chat"));
        update(&mut s, token(id, "an answer of a few words, again enough to take a line or two of the chat pane"));
        update(&mut s, finish(id));
    }
    assert_eq!(s.session.chat.scroll_top, None);
    update(&mut s, mouse(MouseEventKind::ScrollUp, 10, 5));
    let top = s.session.chat.scroll_top.expect("the wheel scrolled the chat up");
    update(&mut s, mouse(MouseEventKind::ScrollUp, 10, 5));
    assert_eq!(s.session.chat.scroll_top, Some(top - 3), "three lines a notch");
    // Over the settings the wheel moves the selection, not the chat.
    update(&mut s, mouse(MouseEventKind::ScrollDown, 60, 10));
    assert_eq!(s.session.chat.scroll_top, Some(top - 3));
    update(&mut s, mouse(MouseEventKind::ScrollDown, 10, 5));
    update(&mut s, mouse(MouseEventKind::ScrollDown, 10, 5));
    assert_eq!(s.session.chat.scroll_top, None, "back at the tail, following it");
    // A click on a setting focuses the pane and selects it.
    let (x, y) = find(&screen_text(&s, 80, 24), "top_p");
    update(&mut s, click(x, y));
    assert_eq!((s.panes.focus, s.panes.settings.field()), (Focus::Settings, Some(Field::TopP)));
    // A click on the message box gives it the keys again.
    let (x, y) = find(&screen_text(&s, 80, 24), "type here");
    update(&mut s, click(x, y));
    assert_eq!(s.panes.focus, Focus::Chat);
}

#[test]
fn a_click_picks_a_node_in_the_fleet_pane_and_a_conversation_in_f3() {
    let mut s = ready_state();
    update(&mut s, Action::Resize(100, 30));
    s.session.fleet = FleetView::new(&["gpu-a".to_string(), "gpu-b".to_string()], true, None);
    update(&mut s, key(KeyCode::F(6)));
    let (x, y) = find(&screen_text(&s, 100, 30), "gpu-b");
    assert!(update(&mut s, click(x, y)).is_empty(), "the first click selects");
    assert_eq!(s.panes.find::<llamadeck_console::panes::fleet::FleetPane>().map(|p| p.selected), Some(2));
    let effects = update(&mut s, click(x, y));
    assert_eq!(
        effects,
        [llamadeck_console::app::Effect::UseEngine { node: Some("gpu-b".into()), epoch: 1 }],
        "a click on it chats with it"
    );

    let mut s = ready_state();
    update(&mut s, Action::Resize(100, 30));
    update(&mut s, key(KeyCode::F(3)));
    let summary = |id: &str, title: &str| llamadeck_store::Summary {
        id: id.into(),
        title: title.into(),
        updated: 1_735_832_650,
        model: None,
        turns: 1,
        text: String::new(),
    };
    let listing = llamadeck_store::Listing { entries: vec![summary("c1", "first one"), summary("c2", "second one")], damaged: Vec::new() };
    update(&mut s, Action::Store(llamadeck_store::Reply::Listed(listing)));
    let (x, y) = find(&screen_text(&s, 100, 30), "second one");
    update(&mut s, click(x, y));
    let browser = s.panes.find::<llamadeck_console::panes::conversations::Browser>().expect("open");
    assert_eq!(browser.selected, 1);
    let effects = update(&mut s, click(x, y));
    assert!(
        effects.iter().any(|e| matches!(e, llamadeck_console::app::Effect::Store(llamadeck_store::Request::Load(id)) if id == "c2")),
        "{effects:?}"
    );
}

#[test]
fn the_wheel_scrolls_an_overlay_and_mouse_is_on_unless_the_config_says_no() {
    use crossterm::event::MouseEventKind;
    let mut s = ready_state();
    update(&mut s, Action::Resize(80, 24));
    update(&mut s, key(KeyCode::F(1)));
    update(&mut s, mouse(MouseEventKind::ScrollDown, 40, 10));
    assert_eq!(s.panes.find::<llamadeck_console::panes::help::Help>().map(|h| h.scroll), Some(1));
    update(&mut s, click(40, 10));
    assert!(s.panes.is_open::<llamadeck_console::panes::help::Help>(), "a click does nothing behind an overlay");

    assert!(Config::default().ui.mouse);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "ui:\n  mouse: false\n").unwrap();
    assert!(!llamadeck_config::load_file(&path, true).unwrap().config.ui.mouse);
    let shipped = include_str!("../../../../config/llamadeck.yaml");
    assert!(shipped.contains("  mouse: true\n"), "the documented file has the key");
}
