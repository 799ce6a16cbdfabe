//! The API overlay (F4): address, requests in flight, and the recent requests with their
//! client, prompt+completion tokens, decode speed and how they ended.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::state::State;
use crate::ui::layout::centered;
use crate::ui::wrap::truncate;

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let api = &state.api;
    let theme = state.theme;
    let mut content = vec![Line::styled(api.summary().unwrap_or_else(|| "api not started (server.enabled: false)".into()), theme.title())];
    let rows = api.lines();
    if rows.is_empty() {
        content.push(Line::styled("no requests yet", theme.dim()));
    }
    content.extend(rows.into_iter().map(Line::from));
    let popup = centered(area, 84, content.len() as u16 + 2);
    let block = Block::bordered()
        .border_style(theme.border_focused())
        .title(Span::styled(" api requests · any key closes ", theme.title()));
    let inner = block.inner(popup);
    let width = inner.width as usize;
    let clipped: Vec<Line> = content
        .into_iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if crate::ui::wrap::str_width(&text) <= width { l } else { Line::from(truncate(&text, width)) }
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(Paragraph::new(clipped), inner);
}
