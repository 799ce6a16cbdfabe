//! Answers as the chat shows them (issue 21, items 14 and 16): markdown rendered, answers and
//! code blocks selected and copied, regenerated answers kept as versions to flip between.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use llamadeck_console::app::{Action, Effect, State, update};
use llamadeck_console::session::chat::Selected;
use llamadeck_engine::EngineCommand;
use llamadeck_store::Request;
use llamadeck_words::chat::{MessageStatus, Role};
use ratatui::style::Modifier;

use super::doubles::*;
use super::*;

fn alt(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::ALT))
}

/// Asks `question` and lets the engine answer `answer` in full.
fn exchange(s: &mut State, question: &str, answer: &str) -> u64 {
    let id = ask(s, question);
    update(s, token(id, answer));
    update(s, finish(id));
    id
}

/// Ctrl+R, answered with `answer`.
fn regenerate(s: &mut State, answer: &str) {
    let id = generated_id(&update(s, ctrl('r')));
    update(s, token(id, answer));
    update(s, finish(id));
}

const CODE_ANSWER: &str = "## Check the GPU\n\nRun **both**, *in order*:\n\n1. `nvidia-smi`\n2. the script:\n\n```python\nimport pynvml\npynvml.nvmlInit()\n```\n\n```sh\nwatch -n1 nvidia-smi\n```\n\nThen read the *memory* line.";

fn with_code() -> State {
    let mut s = ready_state();
    exchange(&mut s, "How do I check my GPU?", "Use NVML.");
    exchange(&mut s, "Show me.", CODE_ANSWER);
    s
}

fn text(s: &State, w: u16, h: u16) -> String {
    format!("{}", screen(s, w, h).backend())
}

#[test]
fn an_answer_s_markdown_is_rendered_and_its_code_set_apart() {
    let s = with_code();
    let shown = text(&s, 120, 35);
    for line in
        ["Check the GPU", "Run both, in order:", "1. `nvidia-smi`", "╭─ python", "│ import pynvml", "╭─ sh", "Then read the memory line."]
    {
        assert!(shown.contains(line), "{line:?} not in\n{shown}");
    }
    assert!(!shown.contains("**both**") && !shown.contains("```"), "{shown}");
}

#[test]
fn search_finds_the_text_as_shown() {
    let mut s = with_code();
    update(&mut s, key(KeyCode::Char('/')));
    update(&mut s, key(KeyCode::Char('/')));
    type_text(&mut s, "run both");
    let bar = s.panes.find::<llamadeck_console::panes::search::SearchBar>().unwrap();
    assert_eq!(bar.hits.len(), 1, "{:?}", bar.hits);
}

#[test]
fn alt_up_walks_code_blocks_and_answers_and_ctrl_y_copies_the_selection() {
    let mut s = with_code();
    update(&mut s, alt(KeyCode::Up));
    assert_eq!(s.session.chat.selected, Some(Selected { message: 3, block: Some(1) }));
    assert_eq!(update(&mut s, ctrl('y')), vec![Effect::Clipboard("watch -n1 nvidia-smi\n".into())]);
    update(&mut s, Action::Copied(Ok(21)));
    assert!(s.session.notice.as_ref().unwrap().text.starts_with("code block copied"));
    update(&mut s, alt(KeyCode::Up));
    assert_eq!(update(&mut s, ctrl('y')), vec![Effect::Clipboard("import pynvml\npynvml.nvmlInit()\n".into())]);
    update(&mut s, alt(KeyCode::Up));
    assert_eq!(s.session.chat.selected, Some(Selected { message: 3, block: None }));
    // An older answer, as written.
    update(&mut s, alt(KeyCode::Up));
    assert_eq!(s.session.chat.selected, Some(Selected { message: 1, block: None }));
    assert_eq!(update(&mut s, ctrl('y')), vec![Effect::Clipboard("Use NVML.".into())]);
    update(&mut s, Action::Copied(Ok(9)));
    assert!(s.session.notice.as_ref().unwrap().text.starts_with("answer copied"));
    // The first answer is as far up as it goes; down walks back, and past the end lets go.
    update(&mut s, alt(KeyCode::Up));
    assert_eq!(s.session.chat.selected, Some(Selected { message: 1, block: None }));
    for want in [Some(Selected { message: 3, block: None }), Some(Selected { message: 3, block: Some(0) })] {
        update(&mut s, alt(KeyCode::Down));
        assert_eq!(s.session.chat.selected, want);
    }
    update(&mut s, key(KeyCode::Esc));
    assert_eq!(s.session.chat.selected, None);
    assert_eq!(update(&mut s, ctrl('y')), vec![Effect::Clipboard(CODE_ANSWER.into())]);
}

#[test]
fn the_selection_scrolls_into_view_and_is_drawn_reversed() {
    let mut s = with_code();
    update(&mut s, Action::Resize(80, 24));
    for _ in 0..4 {
        update(&mut s, alt(KeyCode::Up));
    }
    assert_eq!(s.session.chat.selected, Some(Selected { message: 1, block: None }));
    let terminal = screen(&s, 80, 24);
    let buffer = terminal.backend().buffer();
    let row = |y: u16| (0..80).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>();
    let body = (0..24).find(|&y| row(y).contains("Use NVML.")).expect("the selected answer is on screen");
    // Its header, the line above, is reversed (it shows without colour too).
    let header = body - 1;
    assert!(row(header).contains("llama"), "{}", row(header));
    assert!(buffer[(2, header)].modifier.contains(Modifier::REVERSED));
    assert!(!buffer[(2, body)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn regenerate_keeps_the_earlier_answers_and_alt_arrows_flip_them() {
    let mut s = ready_state();
    exchange(&mut s, "q", "first");
    regenerate(&mut s, "second");
    regenerate(&mut s, "third");
    let answer = &s.session.chat.messages[1];
    assert_eq!(s.session.chat.messages.len(), 2);
    assert_eq!((answer.text.as_str(), answer.versions.position(), answer.versions.count()), ("third", 3, 3));
    let effects = update(&mut s, alt(KeyCode::Left));
    assert!(matches!(effects.as_slice(), [Effect::Store(Request::Save { .. })]), "{effects:?}");
    assert_eq!(s.session.chat.messages[1].text, "second");
    update(&mut s, alt(KeyCode::Left));
    update(&mut s, alt(KeyCode::Left));
    assert_eq!(s.session.chat.messages[1].text, "first");
    assert!(s.session.notice.as_ref().unwrap().text.contains("first version"));
    update(&mut s, alt(KeyCode::Right));
    assert_eq!(s.session.chat.messages[1].text, "second");
    // The next question is sent with the version shown.
    type_text(&mut s, "and then?");
    let effects = update(&mut s, key(KeyCode::Enter));
    let Effect::Engine(EngineCommand::Generate(req)) = &effects[0] else { panic!("{effects:?}") };
    let answers: Vec<&str> = req.messages.iter().filter(|m| m.role == Role::Assistant).map(|m| m.content.as_str()).collect();
    assert_eq!(answers, ["second"]);
}

#[test]
fn a_regenerating_answer_is_saved_with_the_versions_it_replaces() {
    let mut s = ready_state();
    exchange(&mut s, "q", "first");
    let effects = update(&mut s, ctrl('r'));
    let saved = effects.iter().find_map(|e| match e {
        Effect::Store(Request::Save { conversation, .. }) => Some(conversation),
        _ => None,
    });
    let saved = saved.expect("saved when the new answer starts");
    assert_eq!(saved.messages.len(), 2);
    assert_eq!((saved.messages[1].text.as_str(), saved.messages[1].versions.count()), ("first", 1));
    // The answer being written cannot be flipped away from.
    update(&mut s, alt(KeyCode::Left));
    assert_eq!(s.session.chat.messages[1].status, MessageStatus::Streaming);
    assert!(s.session.notice.as_ref().unwrap().text.contains("still answering"));
}

/// The versions' count in the header, and markdown, at both sizes.
#[test]
fn screen_markdown_and_versions() {
    let mut s = with_code();
    regenerate(&mut s, CODE_ANSWER);
    for (w, h) in [(80, 24), (120, 35)] {
        update(&mut s, Action::Resize(w, h));
        update(&mut s, key(KeyCode::Esc));
        update(&mut s, alt(KeyCode::Up));
        update(&mut s, alt(KeyCode::Up));
        snapshot!(format!("answers_markdown_{w}x{h}"), screen(&s, w, h).backend());
    }
}

/// Under NO_COLOR (the plain theme) emphasis still shows, as bold and italic, and nothing in the
/// answer is told apart by colour alone: no cell of the chat has a colour at all.
#[test]
fn without_colour_emphasis_keeps_its_modifiers() {
    let mut s = with_code();
    s.session.theme = llamadeck_words::theme::Theme::PLAIN;
    update(&mut s, Action::Resize(120, 35));
    let terminal = screen(&s, 120, 35);
    let buffer = terminal.backend().buffer();
    let row = |y: u16| (0..120).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>();
    let find = |word: &str| {
        (0..35)
            .find_map(|y| row(y).find(word).map(|at| (row(y)[..at].chars().count() as u16, y)))
            .unwrap_or_else(|| panic!("{word} on screen"))
    };
    let modifier = |word: &str| {
        let (x, y) = find(word);
        buffer[(x, y)].modifier
    };
    assert!(modifier("both").contains(Modifier::BOLD));
    assert!(modifier("in order").contains(Modifier::ITALIC));
    assert!(modifier("Check the GPU").contains(Modifier::UNDERLINED | Modifier::BOLD));
    // The chat pane (the message box above was styled when the state was made).
    let chat = llamadeck_words::layout::areas(ratatui::layout::Rect::new(0, 0, 120, 35), 1).chat;
    for y in chat.top()..chat.bottom() {
        for x in chat.left()..chat.right() {
            assert_eq!(buffer[(x, y)].fg, ratatui::style::Color::Reset, "({x}, {y}) {:?}", row(y));
        }
    }
}
