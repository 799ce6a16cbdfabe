//! A centred overlay box (help, API requests): cleared behind, lines cut to its width, and
//! scrolled when it is taller than the screen.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use llamadeck_words::layout::centered;
use llamadeck_words::text::{str_width, truncate};
use llamadeck_words::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, width: u16, title: &str, content: Vec<Line<'static>>, theme: Theme) {
    render_scrolled(frame, area, width, title, content, 0, theme);
}

/// `render` from content line `top` on.
pub fn render_scrolled(frame: &mut Frame, area: Rect, width: u16, title: &str, content: Vec<Line<'static>>, top: usize, theme: Theme) {
    let popup = centered(area, width, content.len().saturating_add(2).min(u16::MAX as usize) as u16);
    let block = Block::bordered()
        .border_style(theme.border_focused())
        .title(Span::styled(truncate(title, popup.width.saturating_sub(2) as usize), theme.title()));
    let inner = block.inner(popup);
    let max = inner.width as usize;
    let clipped: Vec<Line> = content
        .into_iter()
        .skip(top)
        .take(inner.height as usize)
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if str_width(&text) <= max { l } else { Line::from(truncate(&text, max)) }
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(Paragraph::new(clipped), inner);
}
