//! Saved conversations in the reducer: what to save and when, the conversations view, the offer
//! to resume at start, `/` search in the current conversation, export and copy. Pure, like the
//! rest of `update`: the store's work is asked for with `Effect::Store` and answered with
//! `Action::Store`.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::app::action::Effect;
use crate::app::command::Command;
use crate::app::state::{Focus, MessageStatus, Notice, NoticeLevel, State, new_input};
use crate::engine::protocol::Role;
use crate::store::{Conversation, ExportFormat, Listing, Reply, Request, Summary};

/// Which conversation the chat shows, as far as the store is concerned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationMeta {
    /// The file it is saved in; none until the store gives it one.
    pub id: Option<String>,
    pub title: Option<String>,
    pub created: Option<u64>,
    /// Changes whenever the chat starts another conversation, so a late id from the store
    /// is never given to the wrong one.
    pub serial: u64,
}

#[derive(Debug, Clone)]
pub enum BrowserMode {
    List,
    Rename(TextArea<'static>),
    ConfirmDelete,
    Filter(TextArea<'static>),
}

/// The conversations view.
#[derive(Debug, Clone)]
pub struct Browser {
    /// None until the store has listed the folder.
    pub listing: Option<Listing>,
    /// Index into `visible()`.
    pub selected: usize,
    /// Search over all conversations (title and text), lower-cased.
    pub filter: String,
    pub mode: BrowserMode,
}

impl Browser {
    pub fn visible(&self) -> Vec<&Summary> {
        let Some(listing) = &self.listing else { return Vec::new() };
        let filter = self.filter.trim().to_lowercase();
        listing
            .entries
            .iter()
            .filter(|e| filter.is_empty() || e.title.to_lowercase().contains(&filter) || e.text.contains(&filter))
            .collect()
    }

    pub fn selected_entry(&self) -> Option<&Summary> {
        self.visible().get(self.selected).copied()
    }
}

/// `/` search in the current conversation.
#[derive(Debug, Clone)]
pub struct Search {
    pub query: TextArea<'static>,
    /// Indices of the messages that contain the query.
    pub matches: Vec<usize>,
    /// Index into `matches`.
    pub current: Option<usize>,
}

impl Search {
    pub fn text(&self) -> String {
        self.query.lines().join(" ")
    }

    pub fn current_message(&self) -> Option<usize> {
        self.current.and_then(|i| self.matches.get(i).copied())
    }
}

fn notice(state: &mut State, level: NoticeLevel, text: String) -> Vec<Effect> {
    state.notice = Some(Notice { text: crate::text::sanitize(&text), level });
    Vec::new()
}

// ---- saving ------------------------------------------------------------------------------

/// The conversation as it should be on disk: an answer still streaming is left out (a crash
/// loses at most that answer). None when there is nothing to save.
pub fn snapshot(state: &State) -> Option<Conversation> {
    let messages: Vec<_> = state.messages.iter().filter(|m| m.status != MessageStatus::Streaming).cloned().collect();
    if messages.is_empty() {
        return None;
    }
    Some(Conversation {
        id: state.conversation.id.clone(),
        title: state.conversation.title.clone(),
        created: state.conversation.created,
        updated: None,
        messages,
    })
}

/// The effect that saves the current conversation (none when it is empty).
pub fn save(state: &State) -> Vec<Effect> {
    snapshot(state)
        .map(|c| Effect::Store(Request::Save { serial: state.conversation.serial, conversation: Box::new(c) }))
        .into_iter()
        .collect()
}

/// Leaves the current conversation (already saved) for an empty one.
pub fn start_new(state: &mut State) {
    state.messages.clear();
    state.scroll_top = None;
    state.context_used = 0;
    state.search = None;
    let serial = state.conversation.serial + 1;
    state.conversation = ConversationMeta { serial, ..ConversationMeta::default() };
}

fn load_into(state: &mut State, c: Conversation) {
    let title = crate::store::title_of(&c);
    start_new(state);
    state.messages = c.messages;
    for m in &mut state.messages {
        // Nothing from a file is still streaming.
        if m.status == MessageStatus::Streaming {
            m.status = MessageStatus::Stopped;
        }
        m.request = None;
    }
    state.context_used = state.last_stats().map_or(0, |s| s.prompt_tokens + s.completion_tokens);
    state.conversation.id = c.id;
    state.conversation.title = c.title;
    state.conversation.created = c.created;
    state.focus = Focus::Input;
    notice(state, NoticeLevel::Info, format!("opened \"{title}\""));
}

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
        Reply::Saved(Err(e)) => notice(state, NoticeLevel::Error, format!("conversation not saved: {e}")),
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
                return notice(state, NoticeLevel::Warn, "stop the answer first (Esc), then open it again".into());
            }
            load_into(state, c);
            Vec::new()
        }
        Reply::Loaded(Err(e)) => {
            let mut effects = relist(state);
            effects.extend(notice(state, NoticeLevel::Error, format!("cannot open that conversation: {e}")));
            effects
        }
        Reply::Renamed(Ok(_)) => notice(state, NoticeLevel::Info, "conversation renamed".into()),
        Reply::Deleted(Ok(_)) => notice(state, NoticeLevel::Info, "conversation deleted".into()),
        Reply::Renamed(Err(e)) | Reply::Deleted(Err(e)) => {
            let mut effects = relist(state);
            effects.extend(notice(state, NoticeLevel::Error, e));
            effects
        }
        Reply::Exported(Ok(path)) => notice(state, NoticeLevel::Info, format!("exported to {}", path.display())),
        Reply::Exported(Err(e)) => notice(state, NoticeLevel::Error, format!("export failed: {e}")),
    }
}

fn relist(state: &State) -> Vec<Effect> {
    if state.browser.is_some() { vec![Effect::Store(Request::List)] } else { Vec::new() }
}

// ---- typed commands: /model PATH, /export md|json -----------------------------------------

/// Runs `text` when it is a slash command; None when it is not one.
pub fn slash_command(state: &mut State, text: &str) -> Option<Vec<Effect>> {
    let text = text.trim();
    if let Some(path) = text.strip_prefix("/model ") {
        return Some(vec![Effect::ChooseModel { path: Some(path.trim().to_string()) }]);
    }
    let rest = text.strip_prefix("/export")?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let format = match rest.trim() {
        "md" | "markdown" | "" => ExportFormat::Markdown,
        "json" => ExportFormat::Json,
        other => return Some(notice(state, NoticeLevel::Warn, format!("/export {other}: say md or json"))),
    };
    Some(match snapshot(state) {
        Some(conversation) => vec![Effect::Store(Request::Export { format, conversation: Box::new(conversation) })],
        None => notice(state, NoticeLevel::Info, "nothing to export yet".into()),
    })
}

pub fn copy_last(state: &mut State) -> Vec<Effect> {
    let last = state.messages.iter().rev().find(|m| m.role == Role::Assistant && !m.text.is_empty());
    match last {
        Some(m) => vec![Effect::Clipboard(m.text.clone())],
        None => notice(state, NoticeLevel::Info, "no answer to copy yet".into()),
    }
}

pub fn on_copied(state: &mut State, result: Result<usize, String>) -> Vec<Effect> {
    match result {
        Ok(chars) => notice(state, NoticeLevel::Info, format!("last answer copied ({chars} characters, OSC 52)")),
        Err(e) => notice(state, NoticeLevel::Error, format!("copy failed: {e}")),
    }
}

// ---- keys ----------------------------------------------------------------------------------

/// A key typed into one of this module's editors: control characters never get in.
fn edit(editor: &mut TextArea<'static>, key: KeyEvent) {
    if let KeyCode::Char(c) = key.code
        && crate::text::is_neutralised(c)
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
        (KeyCode::Esc, _) => Some(notice(state, NoticeLevel::Info, "new conversation (F3 lists the saved ones)".into())),
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
            return Some(notice(state, NoticeLevel::Info, "kept".into()));
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
            let mut effects = crate::app::update::stop_answer(state);
            start_new(state);
            state.browser = None;
            effects.extend(notice(state, NoticeLevel::Info, "new conversation".into()));
            return Some(effects);
        }
        KeyCode::Char('r') | KeyCode::F(2) => {
            if let Some(entry) = browser.selected_entry() {
                let mut editor = new_input(state.theme);
                editor.set_placeholder_text("a title");
                editor.insert_str(&entry.title);
                browser.mode = BrowserMode::Rename(editor);
            }
        }
        KeyCode::Char('d') | KeyCode::Delete => {
            if browser.selected_entry().is_some() {
                browser.mode = BrowserMode::ConfirmDelete;
            }
        }
        KeyCode::Char('/') => {
            let mut editor = new_input(state.theme);
            editor.set_placeholder_text("words in any conversation");
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
    let mut effects = crate::app::update::stop_answer(state);
    effects.push(Effect::Store(Request::Load(id)));
    effects
}

fn rename_selected(state: &mut State, title: String) -> Vec<Effect> {
    let title = crate::text::sanitize(&title).replace('\n', " ");
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
            effects.push(Effect::Engine(crate::engine::protocol::EngineCommand::Cancel(request)));
        }
        start_new(state);
    }
    effects.push(Effect::Store(Request::Delete(id)));
    effects
}

// ---- search in the current conversation ----------------------------------------------------

pub fn open_search(state: &mut State) -> Vec<Effect> {
    let mut query = new_input(state.theme);
    query.set_placeholder_text("search · Enter older · ↓ newer · Esc closes · or model PATH, export md|json");
    state.search = Some(Search { query, matches: Vec::new(), current: None });
    Vec::new()
}

/// Keys while the search bar is open. None: not handled here (quit).
pub fn on_search_key(state: &mut State, key: KeyEvent, command: Option<Command>) -> Option<Vec<Effect>> {
    if command == Some(Command::Quit) {
        return None;
    }
    let search = state.search.as_mut()?;
    match key.code {
        KeyCode::Esc => state.search = None,
        KeyCode::Enter => {
            let text = search.text();
            if let Some(effects) = slash_command(state, &format!("/{}", text.trim())) {
                state.search = None;
                return Some(effects);
            }
            step(state, -1);
        }
        KeyCode::Up => step(state, -1),
        KeyCode::Down => step(state, 1),
        _ => {
            edit(&mut search.query, key);
            let query = search.text().to_lowercase();
            search.matches = if query.trim().is_empty() {
                Vec::new()
            } else {
                let q = query.as_str();
                state.messages.iter().enumerate().filter(|(_, m)| m.text.to_lowercase().contains(q)).map(|(i, _)| i).collect()
            };
            search.current = search.matches.len().checked_sub(1);
            show_match(state);
        }
    }
    Some(Vec::new())
}

/// Moves to the previous (-1, older) or next (+1, newer) match, wrapping around.
fn step(state: &mut State, delta: isize) {
    let Some(search) = state.search.as_mut() else { return };
    let n = search.matches.len();
    if n == 0 {
        return;
    }
    let at = search.current.unwrap_or(n - 1) as isize;
    search.current = Some((at + delta).rem_euclid(n as isize) as usize);
    show_match(state);
}

/// Scrolls so the current match's message starts at the top of the chat pane.
fn show_match(state: &mut State) {
    let Some(index) = state.search.as_ref().and_then(Search::current_message) else { return };
    let width = crate::ui::layout::chat_text_width(state.size);
    let starts = crate::ui::chat::message_starts(state, width);
    let total = crate::ui::chat::line_count(state, width);
    let max_top = total.saturating_sub(crate::ui::layout::chat_page_height(state.size));
    let top = starts.get(index).copied().unwrap_or(0);
    state.scroll_top = if top >= max_top { None } else { Some(top) };
}
