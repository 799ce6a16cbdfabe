//! The `/` search bar, drawn in place of the message box while it is open.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Block;

use crate::app::state::{Search, State};

pub fn render(frame: &mut Frame, area: Rect, state: &State, search: &Search) {
    let theme = state.theme;
    let more = if search.capped { "+" } else { "" };
    let count = match (search.current, search.hits.len()) {
        (_, 0) if search.text().trim().is_empty() => " search this conversation ".to_string(),
        (_, 0) => " search · no match ".to_string(),
        (Some(i), n) if search.capped => format!(" search · {} of the newest {n} (more exist) ", i + 1),
        (Some(i), n) => format!(" search · {} of {n} ", i + 1),
        (None, n) => format!(" search · {n}{more} matches "),
    };
    let block = Block::bordered().border_style(theme.border_focused()).title(Span::styled(count, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(&search.query, inner);
}
