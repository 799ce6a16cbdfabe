//! The chat's selection: Alt+↑ and Alt+↓ move it over the answers and their code blocks, in
//! the order they are shown (an answer's header, then each of its code blocks); past the newest
//! stop it is gone and Ctrl+Y copies the last answer again. Ctrl+Y copies what is selected (an
//! answer's text as written, or a code block's code); Alt+← and Alt+→ flip the selected answer
//! (else the last one) between the versions Ctrl+R made. Pure, like the rest of the session.
use super::chat::{Chat, Selected};
use super::{Effect, NoticeLevel, Session, saving};
use llamadeck_words::chat::{Message, Role};
use llamadeck_words::layout::chat_lines::{self, wrapped};
use llamadeck_words::layout::{chat_page_height, chat_text_width};

/// An answer that can be selected: one with text.
fn selectable(m: &Message) -> bool {
    m.role == Role::Assistant && !m.text.is_empty()
}

/// How many code blocks message `index` shows.
fn blocks(chat: &Chat, index: usize) -> usize {
    chat.messages.get(index).map_or(0, |m| chat_lines::shown(m).code_blocks.len())
}

/// The selection, if it still points at something shown (messages can go: Ctrl+E, a new chat).
pub fn current(chat: &Chat) -> Option<Selected> {
    let s = chat.selected?;
    let ok = chat.messages.get(s.message).is_some_and(selectable) && s.block.is_none_or(|b| b < blocks(chat, s.message));
    ok.then_some(s)
}

/// The first selectable answer among `indexes`.
fn answer_in(chat: &Chat, mut indexes: impl Iterator<Item = usize>) -> Option<usize> {
    indexes.find(|&i| selectable(&chat.messages[i]))
}

/// Moves the selection one stop up (`up`) or down, and scrolls the chat to show it.
pub fn step(session: &mut Session, up: bool) -> Vec<Effect> {
    let chat = &session.chat;
    let last_of = |i: usize| Selected { message: i, block: blocks(chat, i).checked_sub(1) };
    let n = chat.messages.len();
    let next = match (current(chat), up) {
        (None, true) => answer_in(chat, (0..n).rev()).map(last_of),
        (None, false) => None,
        (Some(Selected { message, block: Some(b) }), true) => Some(Selected { message, block: b.checked_sub(1) }),
        // The first answer stays selected.
        (Some(s @ Selected { message, block: None }), true) => Some(answer_in(chat, (0..message).rev()).map_or(s, last_of)),
        (Some(Selected { message, block }), false) => {
            let b = block.map_or(0, |b| b + 1);
            if b < blocks(chat, message) {
                Some(Selected { message, block: Some(b) })
            } else {
                answer_in(chat, message + 1..n).map(|i| Selected { message: i, block: None })
            }
        }
    };
    if next.is_none() && up {
        return session.notice(NoticeLevel::Info, "no answer to select yet");
    }
    session.chat.selected = next;
    if let Some(s) = next {
        show(session, s);
    }
    Vec::new()
}

/// Scrolls so the selected answer's header (or code block's first line) is on screen, a few
/// lines below the top of the pane, as search does.
fn show(session: &mut Session, s: Selected) {
    let width = chat_text_width(session.size);
    let page = chat_page_height(session.size);
    let line_in = match s.block {
        None => 0,
        Some(b) => {
            let body = wrapped(&session.chat.messages[s.message], width);
            let first = body.shown.code_blocks.get(b).map_or(0, |block| block.lines.start);
            1 + body.rows.iter().position(|r| r.line == first).unwrap_or(0)
        }
    };
    session.refresh_plan();
    let plan = &session.chat.plan;
    let start = plan.starts.get(s.message).copied().unwrap_or(0);
    let top = (start + line_in).saturating_sub(page / 3);
    session.chat.scroll_top = if top >= plan.last_top(page) { None } else { Some(top) };
}

/// Ctrl+Y: the selected code block or answer, else the last answer, to the clipboard.
pub fn copy(session: &mut Session) -> Vec<Effect> {
    let chat = &mut session.chat;
    let (what, text) = match current(chat) {
        Some(Selected { message, block: Some(b) }) => {
            let shown = chat_lines::shown(&chat.messages[message]);
            ("code block", shown.code_blocks.get(b).map(|c| c.code.clone()))
        }
        Some(Selected { message, block: None }) => ("answer", Some(chat.messages[message].text.clone())),
        None => ("last answer", chat.messages.iter().rev().find(|m| selectable(m)).map(|m| m.text.clone())),
    };
    match text {
        Some(text) => {
            chat.copying = what;
            vec![Effect::Clipboard(text)]
        }
        None => session.notice(NoticeLevel::Info, "no answer to copy yet"),
    }
}

/// Alt+← (`older`) or Alt+→: the selected answer (else the last one) shows another version.
/// The next request sends the version shown; the conversation is saved with it chosen.
pub fn flip(session: &mut Session, older: bool) -> Vec<Effect> {
    let chat = &mut session.chat;
    let index = match current(chat) {
        Some(s) => Some(s.message),
        None => chat.messages.iter().rposition(|m| m.role == Role::Assistant),
    };
    let Some(index) = index else {
        return session.notice(NoticeLevel::Info, "no answer to flip yet");
    };
    let message = &mut chat.messages[index];
    if message.request.is_some() && message.request == chat.generating {
        return session.notice(NoticeLevel::Warn, "still answering: Esc stops it, then flip");
    }
    if message.versions.count() == 1 {
        return session.notice(NoticeLevel::Info, "this answer has one version: Ctrl+R writes another");
    }
    if !message.choose_version(older) {
        let end = if older { "first" } else { "last" };
        return session.notice(NoticeLevel::Info, format!("this is the {end} version"));
    }
    // A code block selected in the other version may not exist in this one.
    if let Some(s) = chat.selected.as_mut().filter(|s| s.message == index) {
        s.block = None;
    }
    saving::save(chat)
}
