//! The help overlay: the rows `app::help` lists (from the live keymap), scrolled to
//! `state.help_scroll` when the terminal is too short for all of them.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::app::help::{HelpRow, page_height, rows};
use crate::app::state::State;

pub fn lines(state: &State) -> Vec<Line<'static>> {
    let theme = state.theme;
    rows(&state.keymap)
        .into_iter()
        .map(|row| match row {
            HelpRow::Heading(text) => Line::styled(text, theme.title()),
            HelpRow::Key { keys, what } => Line::from(vec![Span::styled(format!("{keys:>18}  "), theme.key()), Span::raw(what)]),
            HelpRow::Note(text) => Line::styled(text, theme.dim()),
            HelpRow::Blank => Line::default(),
        })
        .collect()
}

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let content = lines(state);
    let page = page_height(content.len(), area.height);
    let top = state.help_scroll.min(content.len().saturating_sub(page));
    let title = if page >= content.len() {
        " help · any key closes ".to_string()
    } else {
        let last = (top + page).min(content.len());
        format!(" help {}-{last} of {} · ↑↓ PgUp PgDn scroll · any other key closes ", top + 1, content.len())
    };
    crate::ui::popup::render_scrolled(frame, area, 80, &title, content, top, state.theme);
}
