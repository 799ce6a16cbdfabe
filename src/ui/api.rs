//! The API overlay (F4): address, requests in flight, and the recent requests with their
//! client, prompt+completion tokens, decode speed and how they ended.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::app::state::State;

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let api = &state.api;
    let theme = state.theme;
    let mut content = vec![Line::styled(api.summary().unwrap_or_else(|| "api not started (server.enabled: false)".into()), theme.title())];
    let rows = api.lines();
    if rows.is_empty() {
        content.push(Line::styled("no requests yet", theme.dim()));
    }
    content.extend(rows.into_iter().map(Line::from));
    crate::ui::popup::render(frame, area, 84, " api requests · any key closes ", content, theme);
}
