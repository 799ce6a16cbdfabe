//! Saved conversations in the reducer: the store's replies, the conversations view, the offer
//! to resume at start, `/` search in the current conversation, `/model` and `/export`, and copy.
//! Pure, like the rest of `update`: the store's work is asked for with `Effect::Store` and
//! answered with `Action::Store`.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::app::action::Effect;
use crate::app::answer::stop_answer;
use crate::app::overlays::{Browser, BrowserMode, Search};
use crate::app::saving::{load_into, snapshot, start_new};
use crate::app::state::{NoticeLevel, State, new_editor};
use llamadeck_engine::EngineCommand;
use llamadeck_store::{ExportFormat, Reply, Request};
use llamadeck_words::chat::Role;
use llamadeck_words::keys::Command;

pub fn on_store(state: &mut State, reply: Reply) -> Vec<Effect> {
    match reply {
        Reply::Assigned { serial, id, created } => {
            if serial == state.conversation.serial && state.conversation.id.is_none() {
                state.conversation.id = Some(id);
                state.conversation.created = Some(created);
            }
            Vec::new()
        }
        Reply::Saved(Ok(_)) => Vec::new(),
        Reply::Saved(Err(e)) => state.notice(NoticeLevel::Error, format!("conversation not saved: {e}")),
        Reply::TooLarge(refused) => crate::app::saving::too_large(state, &refused),
        Reply::Listed(listing) => {
            if let Some(browser) = state.browser.as_mut() {
                browser.listing = Some(listing);
                let n = browser.visible().len();
                browser.selected = browser.selected.min(n.saturating_sub(1));
            }
            Vec::new()
        }
        Reply::Latest(summary) => {
            if state.messages.is_empty() && state.browser.is_none() {
                state.resume = summary;
            }
            Vec::new()
        }
        Reply::Loaded(Ok(c)) => {
            if state.generating.is_some() {
                return state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then open it again");
            }
            load_into(state, c);
            Vec::new()
        }
        Reply::Loaded(Err(e)) => {
            let mut effects = relist(state);
            effects.extend(state.notice(NoticeLevel::Error, format!("cannot open that conversation: {e}")));
            effects
        }
        Reply::Renamed(Ok(_)) => state.notice(NoticeLevel::Info, "conversation renamed"),
        Reply::Deleted(Ok(_)) => state.notice(NoticeLevel::Info, "conversation deleted"),
        Reply::Renamed(Err(e)) | Reply::Deleted(Err(e)) => {
            let mut effects = relist(state);
            effects.extend(state.notice(NoticeLevel::Error, e));
            effects
        }
        Reply::Exported(Ok(path)) => state.path_notice(NoticeLevel::Info, "exported to ", &path),
        Reply::Exported(Err(e)) => state.notice(NoticeLevel::Error, format!("export failed: {e}")),
    }
}

fn relist(state: &State) -> Vec<Effect> {
    if state.browser.is_some() { vec![Effect::Store(Request::List)] } else { Vec::new() }
}

// ---- typed commands: /model PATH, /export md|json -----------------------------------------

/// The commands the message box runs, for messages that name them.
pub const COMMANDS: &str = "/model PATH, /export md or /export json";

/// What the message box's text turned out to be.
pub enum Slash {
    /// A message to send.
    Text,
    /// A command that ran: the box is emptied.
    Ran(Vec<Effect>),
    /// A command that was refused (unknown, or missing its argument): the text stays.
    Refused(Vec<Effect>),
}

/// Runs `text` when it is a slash command. Text like `/word ...` with an unknown word is
/// refused, kept in the box, rather than sent to the model.
pub fn slash_command(state: &mut State, text: &str) -> Slash {
    let Some(rest) = text.trim().strip_prefix('/') else { return Slash::Text };
    let (word, arg) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(w, a)| (w, a.trim()));
    if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
        // "/etc/hosts explained" or "/ hello" is text, not a command.
        return Slash::Text;
    }
    match (word, arg) {
        ("model", "") => Slash::Refused(
            state.notice(NoticeLevel::Warn, "/model needs the model's path, e.g. /model /models/llama-2-13b-chat.Q4_K_M.gguf"),
        ),
        ("model", path) => Slash::Ran(vec![Effect::ChooseModel { path: path.to_string() }]),
        ("export", format) => export(state, format),
        (other, _) => Slash::Refused(state.notice(NoticeLevel::Warn, format!("/{other} is not a command: {COMMANDS} (your text is kept)"))),
    }
}

fn export(state: &mut State, format: &str) -> Slash {
    let format = match format {
        "md" | "markdown" | "" => ExportFormat::Markdown,
        "json" => ExportFormat::Json,
        other => return Slash::Refused(state.notice(NoticeLevel::Warn, format!("/export {other}: say md or json"))),
    };
    Slash::Ran(match snapshot(state) {
        Some(conversation) => vec![Effect::Store(Request::Export { format, conversation: Box::new(conversation) })],
        None => state.notice(NoticeLevel::Info, "nothing to export yet"),
    })
}

pub fn copy_last(state: &mut State) -> Vec<Effect> {
    let last = state.messages.iter().rev().find(|m| m.role == Role::Assistant && !m.text.is_empty());
    match last {
        Some(m) => vec![Effect::Clipboard(m.text.clone())],
        None => state.notice(NoticeLevel::Info, "no answer to copy yet"),
    }
}

pub fn on_copied(state: &mut State, result: Result<usize, String>) -> Vec<Effect> {
    match result {
        Ok(chars) => state.notice(NoticeLevel::Info, format!("last answer copied ({chars} characters, OSC 52)")),
        Err(e) => state.notice(NoticeLevel::Error, format!("copy failed: {e}")),
    }
}

// ---- keys ----------------------------------------------------------------------------------

/// A key typed into one of this module's editors: control characters never get in.
fn edit(editor: &mut TextArea<'static>, key: KeyEvent) {
    if let KeyCode::Char(c) = key.code
        && llamadeck_words::text::is_neutralised(c)
    {
        return;
    }
    editor.input(key);
}

fn plain(key: &KeyEvent) -> bool {
    key.modifiers.difference(KeyModifiers::SHIFT).is_empty()
}

/// The resume offer at start: Enter opens the last conversation, Esc dismisses it, F3 shows
/// them all; any other key dismisses it and does what it normally does (returns None then).
pub fn on_resume_key(state: &mut State, key: &KeyEvent, command: Option<Command>) -> Option<Vec<Effect>> {
    let summary = state.resume.take()?;
    match (key.code, command) {
        (KeyCode::Enter, _) if plain(key) => Some(vec![Effect::Store(Request::Load(summary.id))]),
        (KeyCode::Esc, _) => Some(state.notice(NoticeLevel::Info, "new conversation (F3 lists the saved ones)")),
        (_, Some(Command::Conversations)) => Some(open_browser(state)),
        _ => None,
    }
}

pub fn open_browser(state: &mut State) -> Vec<Effect> {
    state.resume = None;
    state.search = None;
    state.browser = Some(Browser { listing: None, selected: 0, filter: String::new(), mode: BrowserMode::List });
    vec![Effect::Store(Request::List)]
}

/// Keys while the conversations view is open. None: not handled here (quit).
pub fn on_browser_key(state: &mut State, key: KeyEvent, command: Option<Command>) -> Option<Vec<Effect>> {
    if command == Some(Command::Quit) {
        return None;
    }
    let browser = state.browser.as_mut()?;
    match &mut browser.mode {
        BrowserMode::Rename(editor) => {
            match key.code {
                KeyCode::Esc => browser.mode = BrowserMode::List,
                KeyCode::Enter => {
                    let title = editor.lines().join(" ").trim().to_string();
                    browser.mode = BrowserMode::List;
                    return Some(rename_selected(state, title));
                }
                _ => edit(editor, key),
            }
            return Some(Vec::new());
        }
        BrowserMode::ConfirmDelete => {
            browser.mode = BrowserMode::List;
            if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                return Some(delete_selected(state));
            }
            return Some(state.notice(NoticeLevel::Info, "kept"));
        }
        BrowserMode::Filter(editor) => {
            match key.code {
                KeyCode::Esc => {
                    browser.filter.clear();
                    browser.mode = BrowserMode::List;
                }
                KeyCode::Enter | KeyCode::Up | KeyCode::Down => browser.mode = BrowserMode::List,
                _ => {
                    edit(editor, key);
                    browser.filter = editor.lines().join(" ");
                    browser.selected = 0;
                }
            }
            return Some(Vec::new());
        }
        BrowserMode::List => {}
    }
    let count = browser.visible().len();
    let last = count.saturating_sub(1);
    let page = (state.size.1 as usize).saturating_sub(8).max(1);
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') => state.browser = None,
        _ if command == Some(Command::Conversations) => state.browser = None,
        KeyCode::Up | KeyCode::Char('k') => browser.selected = browser.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => browser.selected = (browser.selected + 1).min(last),
        KeyCode::PageUp => browser.selected = browser.selected.saturating_sub(page),
        KeyCode::PageDown => browser.selected = (browser.selected + page).min(last),
        KeyCode::Home => browser.selected = 0,
        KeyCode::End => browser.selected = last,
        KeyCode::Enter => return Some(open_selected(state)),
        KeyCode::Char('n') => {
            let mut effects = stop_answer(state);
            start_new(state);
            state.browser = None;
            effects.extend(state.notice(NoticeLevel::Info, "new conversation"));
            return Some(effects);
        }
        KeyCode::Char('r') | KeyCode::F(2) => {
            if let Some(entry) = browser.selected_entry() {
                let mut editor = new_editor(state.theme, "a title");
                editor.insert_str(&entry.title);
                browser.mode = BrowserMode::Rename(editor);
            }
        }
        KeyCode::Char('d') | KeyCode::Delete if browser.selected_entry().is_some() => browser.mode = BrowserMode::ConfirmDelete,
        KeyCode::Char('/') => {
            let mut editor = new_editor(state.theme, "words in any conversation");
            editor.insert_str(&browser.filter);
            browser.mode = BrowserMode::Filter(editor);
        }
        _ => {}
    }
    Some(Vec::new())
}

fn open_selected(state: &mut State) -> Vec<Effect> {
    let Some(id) = state.browser.as_ref().and_then(|b| b.selected_entry()).map(|e| e.id.clone()) else {
        return Vec::new();
    };
    state.browser = None;
    if state.conversation.id.as_deref() == Some(id.as_str()) {
        return Vec::new();
    }
    // The current conversation is saved (with a partial answer, if one was streaming) first.
    let mut effects = stop_answer(state);
    effects.push(Effect::Store(Request::Load(id)));
    effects
}

fn rename_selected(state: &mut State, title: String) -> Vec<Effect> {
    let title = llamadeck_words::text::sanitize(&title).replace('\n', " ");
    let Some(browser) = state.browser.as_mut() else { return Vec::new() };
    let Some(id) = browser.selected_entry().map(|e| e.id.clone()) else { return Vec::new() };
    if let Some(entry) = browser.listing.as_mut().and_then(|l| l.entries.iter_mut().find(|e| e.id == id))
        && !title.is_empty()
    {
        entry.title = title.clone();
    }
    if state.conversation.id.as_deref() == Some(id.as_str()) {
        state.conversation.title = Some(title.clone()).filter(|t| !t.is_empty());
    }
    vec![Effect::Store(Request::Rename { id, title })]
}

fn delete_selected(state: &mut State) -> Vec<Effect> {
    let Some(browser) = state.browser.as_mut() else { return Vec::new() };
    let Some(id) = browser.selected_entry().map(|e| e.id.clone()) else { return Vec::new() };
    if let Some(listing) = browser.listing.as_mut() {
        listing.entries.retain(|e| e.id != id);
    }
    let n = browser.visible().len();
    browser.selected = browser.selected.min(n.saturating_sub(1));
    let mut effects = Vec::new();
    if state.conversation.id.as_deref() == Some(id.as_str()) {
        // Its file is going: the chat starts afresh rather than saving it again under that name.
        if let Some(request) = state.generating.take() {
            effects.push(Effect::Engine(EngineCommand::Cancel(request)));
        }
        start_new(state);
    }
    effects.push(Effect::Store(Request::Delete(id)));
    effects
}

// ---- search in the current conversation ----------------------------------------------------

pub fn open_search(state: &mut State) -> Vec<Effect> {
    let query = new_editor(state.theme, "search this conversation · Enter or ↑ older · ↓ newer · Esc closes");
    state.search = Some(Search { query, hits: Vec::new(), capped: false, current: None });
    Vec::new()
}

/// Keys while the search bar is open: it only searches (commands run from the message box).
/// None: not handled here (quit).
pub fn on_search_key(state: &mut State, key: KeyEvent, command: Option<Command>) -> Option<Vec<Effect>> {
    if command == Some(Command::Quit) {
        return None;
    }
    let search = state.search.as_mut()?;
    match key.code {
        KeyCode::Esc => state.search = None,
        KeyCode::Enter | KeyCode::Up => step(state, -1),
        KeyCode::Down => step(state, 1),
        _ => {
            let before = search.text();
            edit(&mut search.query, key);
            let query = search.text();
            if query != before {
                (search.hits, search.capped) = crate::app::search::find(&state.messages, &query);
                // The newest match first: the one nearest the bottom of the chat.
                search.current = search.hits.len().checked_sub(1);
                show_match(state);
            }
        }
    }
    Some(Vec::new())
}

/// Moves to the previous (-1, older) or next (+1, newer) match, wrapping around.
fn step(state: &mut State, delta: isize) {
    let Some(search) = state.search.as_mut() else { return };
    let n = search.hits.len();
    if n == 0 {
        return;
    }
    let at = search.current.unwrap_or(n - 1) as isize;
    search.current = Some((at + delta).rem_euclid(n as isize) as usize);
    show_match(state);
}

/// Scrolls so the current match's line is on screen, a few lines below the top of the pane.
fn show_match(state: &mut State) {
    let Some(hit) = state.search.as_ref().and_then(Search::current_hit) else { return };
    let Some(message) = state.messages.get(hit.message) else { return };
    let width = llamadeck_words::layout::chat_text_width(state.size);
    let page = llamadeck_words::layout::chat_page_height(state.size);
    // The line within the message: its header, then the wrapped line holding the match.
    let body = llamadeck_words::layout::chat_lines::wrapped(message, width);
    let line_in = 1 + body.lines.iter().position(|r| r.end > hit.start).unwrap_or(0);
    let plan = state.chat_plan();
    let start = plan.starts.get(hit.message).copied().unwrap_or(0);
    let top = (start + line_in).saturating_sub(page / 3);
    let max_top = plan.last_top(page);
    state.scroll_top = if top >= max_top { None } else { Some(top) };
}
