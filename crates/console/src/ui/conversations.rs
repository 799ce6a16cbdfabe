//! The conversations view (title, date, model, turns; damaged files listed apart) and the
//! offer to resume the last conversation at start. Both are drawn over the panes.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::state::{Browser, BrowserMode, State};
use llamadeck_store::time;
use llamadeck_words::layout::centered;
use llamadeck_words::text::{str_width, truncate};

const DATE_W: usize = 16;
const TURNS_W: usize = 5;

/// Pads or cuts `s` to exactly `width` columns.
fn cell(s: &str, width: usize) -> String {
    let t = truncate(s, width);
    let pad = width.saturating_sub(str_width(&t));
    format!("{t}{}", " ".repeat(pad))
}

pub fn render(frame: &mut Frame, area: Rect, state: &State, browser: &Browser) {
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
    for (i, e) in visible.iter().enumerate().skip(first).take(rows) {
        let text = row(&e.title, &time::display(e.updated), e.model.as_deref().unwrap_or("-"), &e.turns.to_string());
        let current = state.conversation.id.as_deref() == Some(e.id.as_str());
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

pub fn render_resume(frame: &mut Frame, area: Rect, state: &State) {
    let Some(summary) = &state.resume else { return };
    let theme = state.theme;
    let popup = centered(area, 64, 7);
    let block = Block::bordered().border_style(theme.border_focused()).title(Span::styled(" resume? ", theme.title()));
    let inner = block.inner(popup);
    let width = inner.width as usize;
    let turns = if summary.turns == 1 { "1 turn".to_string() } else { format!("{} turns", summary.turns) };
    let details = format!("{} UTC · {turns} · {}", time::display(summary.updated), summary.model.as_deref().unwrap_or("no answer yet"));
    let lines = vec![
        Line::from("Resume your last conversation?"),
        Line::styled(truncate(&format!("“{}”", summary.title), width), theme.user()),
        Line::styled(truncate(&details, width), theme.dim()),
        Line::styled(truncate("Enter resumes · Esc starts a new one · F3 all", width), theme.key()),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(Paragraph::new(lines), inner);
}
