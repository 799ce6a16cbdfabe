//! The conversations view (F3): title, date, model and turns of each saved conversation, newest
//! first (damaged files listed apart). Enter opens one, n starts a new one, r renames, d deletes
//! (after a y), / searches every conversation's title and text.
use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui_textarea::TextArea;

use super::chat::new_editor;
use super::{Hint, Hints, ListSpot, Outcome, Pane, Panes, is_click, overlay_area};
use crate::session::answer::stop_answer;
use crate::session::saving::start_new;
use crate::session::{Effect, NoticeLevel, Session};
use llamadeck_engine::EngineCommand;
use llamadeck_store::{Listing, Request, Summary, time};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::{Areas, centered};
use llamadeck_words::text::{str_width, truncate};

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
    /// Where the conversations were last drawn (a click picks one).
    spot: Cell<ListSpot>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser { listing: None, selected: 0, filter: String::new(), mode: BrowserMode::List, spot: Cell::default() }
    }
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

    /// The store listed the folder.
    pub fn listed(&mut self, listing: Listing) {
        self.listing = Some(listing);
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    fn open_selected(&self, state: &mut Session) -> Outcome {
        let Some(id) = self.selected_entry().map(|e| e.id.clone()) else { return Outcome::done() };
        if state.chat.meta.id.as_deref() == Some(id.as_str()) {
            return Outcome::close();
        }
        // The current conversation is saved (with a partial answer, if one was streaming) first.
        let mut effects = stop_answer(&mut state.chat);
        effects.push(Effect::Store(Request::Load(id)));
        Outcome::Close(effects)
    }

    fn rename_selected(&mut self, state: &mut Session, title: String) -> Vec<Effect> {
        let title = llamadeck_words::text::sanitize(&title).replace('\n', " ");
        let Some(id) = self.selected_entry().map(|e| e.id.clone()) else { return Vec::new() };
        if let Some(entry) = self.listing.as_mut().and_then(|l| l.entries.iter_mut().find(|e| e.id == id))
            && !title.is_empty()
        {
            entry.title = title.clone();
        }
        if state.chat.meta.id.as_deref() == Some(id.as_str()) {
            state.chat.meta.title = Some(title.clone()).filter(|t| !t.is_empty());
        }
        vec![Effect::Store(Request::Rename { id, title })]
    }

    fn delete_selected(&mut self, state: &mut Session) -> Vec<Effect> {
        let Some(id) = self.selected_entry().map(|e| e.id.clone()) else { return Vec::new() };
        if let Some(listing) = self.listing.as_mut() {
            listing.entries.retain(|e| e.id != id);
        }
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
        let mut effects = Vec::new();
        if state.chat.meta.id.as_deref() == Some(id.as_str()) {
            // Its file is going: the chat starts afresh rather than saving it again under that name.
            if let Some(request) = state.chat.generating.take() {
                effects.push(Effect::Engine(EngineCommand::Cancel(request)));
            }
            start_new(&mut state.chat);
        }
        effects.push(Effect::Store(Request::Delete(id)));
        effects
    }

    /// Keys while a title is typed, a delete is to be confirmed or the filter is typed; None in
    /// the list itself.
    fn on_mode_key(&mut self, key: &KeyEvent, state: &mut Session) -> Option<Vec<Effect>> {
        match &mut self.mode {
            BrowserMode::Rename(editor) => match key.code {
                KeyCode::Esc => self.mode = BrowserMode::List,
                KeyCode::Enter => {
                    let title = editor.lines().join(" ").trim().to_string();
                    self.mode = BrowserMode::List;
                    return Some(self.rename_selected(state, title));
                }
                _ => edit(editor, key),
            },
            BrowserMode::ConfirmDelete => {
                self.mode = BrowserMode::List;
                if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    return Some(self.delete_selected(state));
                }
                return Some(state.notice(NoticeLevel::Info, "kept"));
            }
            BrowserMode::Filter(editor) => match key.code {
                KeyCode::Esc => {
                    self.filter.clear();
                    self.mode = BrowserMode::List;
                }
                KeyCode::Enter | KeyCode::Up | KeyCode::Down => self.mode = BrowserMode::List,
                _ => {
                    edit(editor, key);
                    self.filter = editor.lines().join(" ");
                    self.selected = 0;
                }
            },
            BrowserMode::List => return None,
        }
        Some(Vec::new())
    }
}

/// A key typed into one of the view's editors: control characters never get in.
fn edit(editor: &mut TextArea<'static>, key: &KeyEvent) {
    if let KeyCode::Char(c) = key.code
        && llamadeck_words::text::is_neutralised(c)
    {
        return;
    }
    editor.input(*key);
}

impl Pane for Browser {
    /// It takes every key but quit.
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        if command == Some(Command::Quit) {
            return Outcome::Pass;
        }
        if let Some(effects) = self.on_mode_key(key, state) {
            return Outcome::Done(effects);
        }
        let last = self.visible().len().saturating_sub(1);
        let page = (state.size.1 as usize).saturating_sub(8).max(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => return Outcome::close(),
            _ if command == Some(Command::Conversations) => return Outcome::close(),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(page),
            KeyCode::PageDown => self.selected = (self.selected + page).min(last),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = last,
            KeyCode::Enter => return self.open_selected(state),
            KeyCode::Char('n') => {
                let mut effects = stop_answer(&mut state.chat);
                start_new(&mut state.chat);
                effects.extend(state.notice(NoticeLevel::Info, "new conversation"));
                return Outcome::Close(effects);
            }
            KeyCode::Char('r') | KeyCode::F(2) => {
                if let Some(entry) = self.selected_entry() {
                    let mut editor = new_editor(state.theme, "a title");
                    editor.insert_str(&entry.title);
                    self.mode = BrowserMode::Rename(editor);
                }
            }
            KeyCode::Char('d') | KeyCode::Delete if self.selected_entry().is_some() => self.mode = BrowserMode::ConfirmDelete,
            KeyCode::Char('/') => {
                let mut editor = new_editor(state.theme, "words in any conversation");
                editor.insert_str(&self.filter);
                self.mode = BrowserMode::Filter(editor);
            }
            _ => {}
        }
        Outcome::done()
    }

    /// A paste goes into the title or the filter being typed; in the list, to the message box.
    fn on_paste(&mut self, text: &str, _state: &mut Session) -> Outcome {
        match &mut self.mode {
            BrowserMode::Rename(editor) | BrowserMode::Filter(editor) => {
                editor.insert_str(text.replace('\n', " "));
                if let BrowserMode::Filter(editor) = &self.mode {
                    self.filter = editor.lines().join(" ");
                    self.selected = 0;
                }
                Outcome::done()
            }
            BrowserMode::List | BrowserMode::ConfirmDelete => Outcome::Pass,
        }
    }

    /// The wheel selects; a click selects a conversation, and a click on the selected one
    /// opens it (as Enter). While renaming, searching or confirming, the keys decide.
    fn on_mouse(&mut self, mouse: &MouseEvent, _areas: &Areas, state: &mut Session) -> Outcome {
        if !matches!(self.mode, BrowserMode::List) {
            return Outcome::done();
        }
        if !is_click(mouse) {
            return super::covering_mouse(self, mouse, state);
        }
        match self.spot.get().item_at(mouse.column, mouse.row) {
            Some(row) if row == self.selected => self.open_selected(state),
            Some(row) => {
                self.selected = row;
                Outcome::done()
            }
            None => Outcome::done(),
        }
    }

    fn hints(&self, _state: &Session) -> Hints {
        let keys = match &self.mode {
            BrowserMode::List => {
                let keys = [("Enter", "open"), ("Esc", "close"), ("n", "new"), ("r", "rename"), ("d", "delete"), ("/", "search all")];
                keys.into_iter().map(|(key, label)| Hint::new(key, label)).collect()
            }
            BrowserMode::Rename(_) => vec![Hint::new("Enter", "rename"), Hint::new("Esc", "cancel")],
            BrowserMode::ConfirmDelete => vec![Hint::new("y", "delete"), Hint::new("any key", "keep")],
            BrowserMode::Filter(_) => vec![Hint::new("Enter", "done"), Hint::new("Esc", "clear")],
        };
        Hints { keys, help: false }
    }

    fn draw(&self, frame: &mut Frame, _areas: &Areas, state: &Session, _panes: &Panes) {
        render(frame, overlay_area(frame), state, self);
    }
}

const DATE_W: usize = 16;
const TURNS_W: usize = 5;

/// Pads or cuts `s` to exactly `width` columns.
fn cell(s: &str, width: usize) -> String {
    let t = truncate(s, width);
    let pad = width.saturating_sub(str_width(&t));
    format!("{t}{}", " ".repeat(pad))
}

fn render(frame: &mut Frame, area: Rect, state: &Session, browser: &Browser) {
    let theme = state.theme;
    let popup = centered(area, area.width.saturating_sub(4).max(1), area.height.saturating_sub(2).max(1));
    let block = Block::bordered()
        .border_style(theme.border_focused())
        .title(Span::styled(" conversations ", theme.title()))
        .title_bottom(Line::styled(" Enter open · n new · r rename · d delete · / search all · Esc close ", theme.dim()));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let model_w = (width / 5).clamp(6, 24);
    // The row: a 2-column marker, then title, date, model and turns, two spaces apart.
    let title_w = width.saturating_sub(2 + 2 + DATE_W + 2 + model_w + 2 + TURNS_W);
    let row = |title: &str, date: &str, model: &str, turns: &str| {
        format!("{}  {}  {}  {:>TURNS_W$}", cell(title, title_w), cell(date, DATE_W), cell(model, model_w), truncate(turns, TURNS_W))
    };
    let mut bottom: Vec<Line> = Vec::new();
    if let Some(listing) = &browser.listing {
        for d in &listing.damaged {
            let text = format!("✗ {}: {} · skipped, left as it is", d.file, d.reason.replace('\n', " "));
            bottom.push(Line::styled(truncate(&text, width), theme.error()));
        }
    }
    let selected_title = browser.selected_entry().map(|e| e.title.clone()).unwrap_or_default();
    match &browser.mode {
        BrowserMode::List if !browser.filter.is_empty() => {
            bottom.push(Line::styled(truncate(&format!("search: {} (/ changes, Esc in it clears)", browser.filter), width), theme.dim()));
        }
        BrowserMode::List => {}
        BrowserMode::ConfirmDelete => {
            let text = format!("delete \"{selected_title}\"? y deletes · any other key keeps it");
            bottom.push(Line::styled(truncate(&text, width), theme.warn()));
        }
        BrowserMode::Rename(_) | BrowserMode::Filter(_) => bottom.push(Line::default()),
    }
    // Keep the bottom lines within half the view.
    let keep = bottom.len().min(inner.height as usize / 2);
    let bottom: Vec<Line> = bottom.split_off(bottom.len() - keep);
    let list_h = (inner.height as usize).saturating_sub(keep);
    let mut lines = vec![Line::styled(format!("  {}", row("title", "updated (UTC)", "model", "turns")), theme.dim())];
    let visible = browser.visible();
    match &browser.listing {
        None => lines.push(Line::styled("  reading…", theme.dim())),
        Some(_) if visible.is_empty() && browser.filter.is_empty() => lines.push(Line::styled("  no saved conversations yet", theme.dim())),
        Some(_) if visible.is_empty() => lines.push(Line::styled("  no conversation matches", theme.dim())),
        Some(_) => {}
    }
    let rows = list_h.saturating_sub(1).max(1);
    let first = browser.selected.saturating_sub(rows - 1);
    let shown = visible.len().saturating_sub(first).min(rows).min(list_h.saturating_sub(1));
    browser.spot.set(ListSpot { area: Rect { y: inner.y + 1, height: shown as u16, ..inner }, first, count: shown });
    for (i, e) in visible.iter().enumerate().skip(first).take(rows) {
        let text = row(&e.title, &time::display(e.updated), e.model.as_deref().unwrap_or("-"), &e.turns.to_string());
        let current = state.chat.meta.id.as_deref() == Some(e.id.as_str());
        let marker = if current { "● " } else { "  " };
        let line = Line::from(format!("{marker}{text}"));
        lines.push(if i == browser.selected { line.style(theme.selected()) } else { line });
    }
    lines.truncate(list_h);
    frame.render_widget(Paragraph::new(lines), Rect { height: list_h as u16, ..inner });
    let bottom_area = Rect { y: inner.y + list_h as u16, height: keep as u16, ..inner };
    frame.render_widget(Paragraph::new(bottom), bottom_area);
    let editor = match &browser.mode {
        BrowserMode::Rename(e) => Some(("new title: ", e)),
        BrowserMode::Filter(e) => Some(("search all: ", e)),
        _ => None,
    };
    if let Some((label, editor)) = editor
        && keep > 0
    {
        let y = bottom_area.y + bottom_area.height - 1;
        let label_w = (str_width(label) as u16).min(inner.width);
        frame.render_widget(Paragraph::new(Span::styled(label, theme.key())), Rect { y, height: 1, width: label_w, ..inner });
        let rest = Rect { x: inner.x + label_w, y, width: inner.width - label_w, height: 1 };
        frame.render_widget(editor, rest);
    }
}
