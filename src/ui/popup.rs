//! A centred overlay box (help, API requests): cleared behind, lines cut to its width.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::layout::centered;
use crate::theme::Theme;
use crate::text::{str_width, truncate};

pub fn render(frame: &mut Frame, area: Rect, width: u16, title: &str, content: Vec<Line<'static>>, theme: Theme) {
    let popup = centered(area, width, content.len() as u16 + 2);
    let block = Block::bordered().border_style(theme.border_focused()).title(Span::styled(title.to_string(), theme.title()));
    let inner = block.inner(popup);
    let max = inner.width as usize;
    let clipped: Vec<Line> = content
        .into_iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if str_width(&text) <= max { l } else { Line::from(truncate(&text, max)) }
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(Paragraph::new(clipped), inner);
}
