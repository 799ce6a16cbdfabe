//! `/` search in the current conversation: the bar drawn in place of the message box, every
//! match marked in the chat (`session::search` finds them), Enter or ↑ to the older one, ↓ to
//! the newer one, the chat scrolled to show it. It only searches: commands run from the box.
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::Span;
use ratatui::widgets::{Block, Clear};
use ratatui_textarea::TextArea;

use super::chat::new_editor;
use super::{Hint, Hints, Outcome, Pane, Panes};
use crate::session::Session;
use crate::session::search::{Hit, find};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::{Areas, chat_page_height, chat_text_width};

#[derive(Debug, Clone)]
pub struct SearchBar {
    pub query: TextArea<'static>,
    /// Every match, in order (see `session::search`).
    pub hits: Vec<Hit>,
    /// More matches exist than `hits` keeps.
    pub capped: bool,
    /// Index into `hits`.
    pub current: Option<usize>,
}

impl SearchBar {
    pub fn new(theme: llamadeck_words::theme::Theme) -> Self {
        let query = new_editor(theme, "search this conversation · Enter or ↑ older · ↓ newer · Esc closes");
        SearchBar { query, hits: Vec::new(), capped: false, current: None }
    }

    pub fn text(&self) -> String {
        self.query.lines().join(" ")
    }

    pub fn current_hit(&self) -> Option<Hit> {
        self.current.and_then(|i| self.hits.get(i).copied())
    }

    pub fn current_message(&self) -> Option<usize> {
        self.current_hit().map(|h| h.message)
    }

    /// The query changed: every match again, the newest (nearest the bottom of the chat) first.
    fn search(&mut self, state: &mut Session) {
        (self.hits, self.capped) = find(&state.chat.messages, &state.chat.plan, &self.text());
        self.current = self.hits.len().checked_sub(1);
        self.show_match(state);
    }

    /// Moves to the previous (-1, older) or next (+1, newer) match, wrapping around.
    fn step(&mut self, state: &mut Session, delta: isize) {
        let n = self.hits.len();
        if n == 0 {
            return;
        }
        let at = self.current.unwrap_or(n - 1) as isize;
        self.current = Some((at + delta).rem_euclid(n as isize) as usize);
        self.show_match(state);
    }

    /// Scrolls so the current match's line is on screen, a few lines below the top of the pane.
    fn show_match(&self, state: &mut Session) {
        let Some(hit) = self.current_hit() else { return };
        let Some(message) = state.chat.messages.get(hit.message) else { return };
        let width = chat_text_width(state.size);
        let page = chat_page_height(state.size);
        // The line within the message: its header, then the wrapped line holding the match.
        let body = llamadeck_words::layout::chat_lines::wrapped(message, width);
        let line_in = 1 + body.row_of(hit.start);
        let plan = state.chat_plan();
        let start = plan.starts.get(hit.message).copied().unwrap_or(0);
        let top = (start + line_in).saturating_sub(page / 3);
        let max_top = plan.last_top(page);
        state.chat.scroll_top = if top >= max_top { None } else { Some(top) };
    }
}

impl Pane for SearchBar {
    /// It takes every key but quit.
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        if command == Some(Command::Quit) {
            return Outcome::Pass;
        }
        match key.code {
            KeyCode::Esc => return Outcome::close(),
            KeyCode::Enter | KeyCode::Up => self.step(state, -1),
            KeyCode::Down => self.step(state, 1),
            _ => {
                let before = self.text();
                if let KeyCode::Char(c) = key.code
                    && llamadeck_words::text::is_neutralised(c)
                {
                    return Outcome::done();
                }
                self.query.input(*key);
                if self.text() != before {
                    self.search(state);
                }
            }
        }
        Outcome::done()
    }

    fn on_paste(&mut self, text: &str, state: &mut Session) -> Outcome {
        self.query.insert_str(text.replace('\n', " "));
        self.search(state);
        Outcome::done()
    }

    fn hints(&self, _state: &Session) -> Hints {
        Hints { keys: vec![Hint::new("Enter", "older"), Hint::new("↓", "newer"), Hint::new("Esc", "close")], help: false }
    }

    fn draw(&self, frame: &mut Frame, areas: &Areas, state: &Session, _panes: &Panes) {
        let theme = state.theme;
        let more = if self.capped { "+" } else { "" };
        let count = match (self.current, self.hits.len()) {
            (_, 0) if self.text().trim().is_empty() => " search this conversation ".to_string(),
            (_, 0) => " search · no match ".to_string(),
            (Some(i), n) if self.capped => format!(" search · {} of the newest {n} (more exist) ", i + 1),
            (Some(i), n) => format!(" search · {} of {n} ", i + 1),
            (None, n) => format!(" search · {n}{more} matches "),
        };
        let block = Block::bordered().border_style(theme.border_focused()).title(Span::styled(count, theme.title()));
        let inner = block.inner(areas.input);
        // Over the message box, which was drawn first.
        frame.render_widget(Clear, areas.input);
        frame.render_widget(block, areas.input);
        frame.render_widget(&self.query, inner);
    }
}
