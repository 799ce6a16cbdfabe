//! The status bar: model state and the latest notice on the left, key hints on the right.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::keys::Command;
use crate::app::state::{ModelState, NoticeLevel, State};
use crate::text::{str_width, truncate};

const HINTS: [(Command, &str); 5] = [
    (Command::Send, "send"),
    (Command::Stop, "stop"),
    (Command::FocusNext, "settings"),
    (Command::ToggleHelp, "help"),
    (Command::Quit, "quit"),
];

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.theme;
    let width = area.width as usize;
    let (model, model_style) = match &state.model {
        ModelState::Loading { .. } => {
            let secs = state.loading_elapsed().map_or(0, |d| d.as_secs());
            (format!("◌ loading {secs}s"), theme.warn())
        }
        ModelState::Ready { name, .. } => (format!("● {name}"), theme.good()),
        ModelState::Failed { .. } => ("✗ no model".to_string(), theme.error()),
    };
    let mut left = vec![Span::styled(truncate(&model, width / 3), model_style)];
    if state.generating.is_some() {
        left.push(Span::styled(" · answering", theme.warn()));
    }
    if let Some(api) = state.api.summary() {
        let style = if state.api.error.is_some() { theme.error() } else { theme.dim() };
        left.push(Span::styled(format!(" · {}", truncate(&api, width / 3)), style));
    }
    if let Some(notice) = &state.notice {
        let style = match notice.level {
            NoticeLevel::Info => theme.dim(),
            NoticeLevel::Warn => theme.warn(),
            NoticeLevel::Error => theme.error(),
        };
        let used: usize = left.iter().map(|s| str_width(&s.content)).sum();
        left.push(Span::styled(format!(" · {}", truncate(&notice.text, width.saturating_sub(used + 3))), style));
    }
    let used: usize = left.iter().map(|s| str_width(&s.content)).sum();
    let hints = if state.show_hints { hints(state, width.saturating_sub(used + 2)) } else { Vec::new() };
    let hints_w: usize = hints.iter().map(|s| str_width(&s.content)).sum();
    let gap = width.saturating_sub(used + hints_w);
    left.push(Span::raw(" ".repeat(gap)));
    left.extend(hints);
    frame.render_widget(Paragraph::new(Line::from(left)), area);
}

/// As many "Key action" hints as fit in `room` columns.
fn hints(state: &State, room: usize) -> Vec<Span<'static>> {
    let theme = state.theme;
    let mut out = Vec::new();
    let mut used = 0;
    for (command, label) in HINTS {
        let Some(key) = state.keymap.keys_for(command).first().map(|k| k.to_string()) else { continue };
        let w = str_width(&key) + str_width(label) + 3;
        if used + w > room {
            break;
        }
        out.push(Span::styled(format!(" {key}"), theme.key()));
        out.push(Span::styled(format!(" {label} "), theme.dim()));
        used += w;
    }
    out
}
