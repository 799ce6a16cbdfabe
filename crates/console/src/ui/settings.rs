//! The settings pane: the sampling values the next request will use, editable in place.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::state::{Focus, State};
use llamadeck_words::sampling::Field;
use llamadeck_words::text::{str_width, truncate, wrap};

const NAME_WIDTH: usize = 19;

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.theme;
    let focused = state.focus == Focus::Settings;
    let block = Block::bordered()
        .border_style(if focused { theme.border_focused() } else { theme.border() })
        .title(Span::styled(" settings ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let width = inner.width as usize;
    let preset = preset_line(state, width);
    let mut lines = vec![if focused && state.settings.selected == 0 { preset.style(theme.selected()) } else { preset }];
    for (i, field) in Field::ALL.into_iter().enumerate() {
        let selected = focused && i + 1 == state.settings.selected;
        let name = label(field.name(), width);
        let value_w = width.saturating_sub(str_width(&name));
        let value = truncate(state.sampling.display(field).lines().next().unwrap_or(""), value_w);
        let line = Line::from(vec![Span::styled(name, theme.dim()), Span::raw(value)]);
        lines.push(if selected { line.style(theme.selected()) } else { line });
    }
    for note in &state.unsupported {
        lines.extend(wrap(note, width).into_iter().map(|l| Line::styled(l, theme.warn())));
    }
    if let (Some(error), None) = (&state.settings.error, &state.settings.editor) {
        lines.extend(wrap(error, width).into_iter().map(|l| Line::styled(l, theme.error())));
    }
    // Keep the selected row on screen when the pane is shorter than the list.
    let rows = inner.height as usize;
    let skip = (state.settings.selected + 1).saturating_sub(rows).min(lines.len().saturating_sub(rows));
    let shown: Vec<Line> = lines.into_iter().skip(skip).take(rows).collect();
    frame.render_widget(Paragraph::new(shown), inner);
    render_editor(frame, inner, state);
}

fn preset_line(state: &State, width: usize) -> Line<'static> {
    let theme = state.theme;
    let preset = match (&state.preset, state.preset_modified) {
        (Some(p), false) => p.clone(),
        (Some(p), true) => format!("{p} (modified)"),
        (None, _) => "custom".into(),
    };
    let name = label("preset", width);
    let value = truncate(&preset, width.saturating_sub(str_width(&name)));
    Line::from(vec![Span::styled(name, theme.dim()), Span::styled(value, theme.title())])
}

/// The name column: padded, and cut short in narrow panes so a space always separates the value.
fn label(name: &str, width: usize) -> String {
    let w = NAME_WIDTH.min(width / 2).max(1);
    format!("{:<w$}", truncate(name, w - 1))
}

/// The value being typed, drawn over the bottom of the pane with its own hint line.
fn render_editor(frame: &mut Frame, inner: Rect, state: &State) {
    let (Some(editor), Some(field)) = (&state.settings.editor, state.settings.field()) else { return };
    let theme = state.theme;
    let tall = field == Field::SystemPrompt;
    let height = if tall { inner.height.min(10) } else { 3.min(inner.height) };
    let area = Rect { y: inner.y + inner.height - height, height, ..inner };
    let hint = if tall { "Enter saves · Alt+Enter new line · Esc cancels" } else { "Enter saves · Esc cancels" };
    let mut title = format!(" {} ", field.name());
    if let Some(range) = field.range() {
        title = format!(" {} ({} to {}) ", field.name(), range.min, range.max);
    }
    if field == Field::Stop {
        title = " stop (separate with |) ".into();
    }
    let block = Block::bordered()
        .border_style(theme.border_focused())
        .title(Span::styled(title, theme.title()))
        .title_bottom(Line::styled(truncate(hint, area.width.saturating_sub(2) as usize), theme.dim()));
    let text_area = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    frame.render_widget(editor, text_area);
    if let Some(error) = &state.settings.error
        && area.y > inner.y
    {
        let line = Rect { y: area.y - 1, height: 1, ..area };
        frame.render_widget(Clear, line);
        frame.render_widget(Paragraph::new(Line::styled(truncate(error, line.width as usize), theme.error())), line);
    }
}
