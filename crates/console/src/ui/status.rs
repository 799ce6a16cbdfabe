//! The status bar: model state and the latest notice on the left, the keys of the pane on top
//! on the right (it says which); help (where it opens) and quit are the last hints to go when
//! the bar is narrow.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::State;
use crate::session::{ModelState, Notice, NoticeLevel, Session};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::MAX_STATUS_ROWS;
use llamadeck_words::text::{str_width, truncate, truncate_left, wrap};

pub fn render(frame: &mut Frame, area: Rect, whole: &State) {
    let state = &whole.session;
    let theme = state.theme;
    let width = area.width as usize;
    let mut left = left_spans(state, width);
    let hints = if state.config.ui.hints { hints(whole) } else { Vec::new() };
    let bar = Rect { y: area.y + area.height.saturating_sub(1), height: area.height.min(1), ..area };
    if let Some(notice) = &state.notice {
        let style = match notice.level {
            NoticeLevel::Info => theme.dim(),
            NoticeLevel::Warn => theme.warn(),
            NoticeLevel::Error => theme.error(),
        };
        match placement(whole, width) {
            Placement::Inline(text) => left.push(Span::styled(format!(" · {text}"), style)),
            Placement::Above(_) if area.height > 1 => {
                let above = Rect { height: area.height - 1, ..area };
                let lines = above_lines(state, notice, width, above.height as usize);
                frame.render_widget(Paragraph::new(lines.into_iter().map(|l| Line::styled(l, style)).collect::<Vec<_>>()), above);
            }
            // No room above (a short terminal): the bar says what it can.
            Placement::Above(_) => {
                let room = width.saturating_sub(used(&left) + essential(&hints) + 4);
                if room > 0 {
                    left.push(Span::styled(format!(" · {}", notice_text(notice, room)), style));
                }
            }
        }
    }
    let used = used(&left);
    let shown = fit(hints, width.saturating_sub(used + 1));
    let hints_w: usize = shown.iter().map(Hint::width).sum();
    left.push(Span::raw(" ".repeat(width.saturating_sub(used + hints_w))));
    for hint in shown {
        left.push(Span::styled(format!(" {}", hint.key), theme.key()));
        left.push(Span::styled(format!(" {} ", hint.label), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(left)), bar);
}

/// The rows the status bar takes at `width`: its line, and the rows of a notice too long for
/// it, wrapped above it (the layout may give fewer: the panes keep their room).
pub fn rows(whole: &State, width: u16) -> u16 {
    match placement(whole, width as usize) {
        Placement::Above(lines) => (lines + 1).min(usize::from(MAX_STATUS_ROWS)) as u16,
        Placement::Inline(_) => 1,
    }
}

/// Where the notice goes: on the bar's line when it fits there whole, else wrapped above it
/// (`Above` counts its lines). No notice: an empty inline one.
enum Placement {
    Inline(String),
    Above(usize),
}

fn placement(whole: &State, width: usize) -> Placement {
    let state = &whole.session;
    let Some(notice) = &state.notice else { return Placement::Inline(String::new()) };
    let hints = if state.config.ui.hints { hints(whole) } else { Vec::new() };
    let room = width.saturating_sub(used(&left_spans(state, width)) + essential(&hints) + 4);
    let full = notice.full_text();
    if str_width(&full) <= room {
        return Placement::Inline(full);
    }
    Placement::Above(wrap(&full, width.max(1)).len())
}

/// The notice wrapped in `rows` lines of `width`: when it needs more, the last line says where
/// it is whole (the notices overlay).
fn above_lines(state: &Session, notice: &Notice, width: usize, rows: usize) -> Vec<String> {
    let mut lines = wrap(&notice.full_text(), width.max(1));
    if lines.len() > rows {
        lines.truncate(rows);
        let more = format!(" … {} shows it all", state.key_for(Command::Notices));
        if let Some(last) = lines.last_mut() {
            *last = format!("{}{more}", truncate(last, width.saturating_sub(str_width(&more))));
        }
    }
    lines
}

/// The model's state, whether it answers, the fleet and the API, in `width` columns.
fn left_spans(state: &Session, width: usize) -> Vec<Span<'static>> {
    let theme = state.theme;
    let (model, model_style) = match &state.model.state {
        ModelState::Loading { .. } => {
            let secs = state.model.loading_elapsed(state.now).map_or(0, |d| d.as_secs());
            (format!("◌ loading {secs} s"), theme.warn())
        }
        ModelState::Ready { name, .. } => match &state.fleet.target {
            Some(node) => (format!("● {node}: {name}"), theme.good()),
            None => (format!("● {name}"), theme.good()),
        },
        ModelState::Failed { .. } => match &state.fleet.target {
            Some(node) => (format!("✗ {node} not serving"), theme.error()),
            None => ("✗ no model".to_string(), theme.error()),
        },
    };
    let mut left = vec![Span::styled(truncate(&model, width / 3), model_style)];
    if state.answering() {
        left.push(Span::styled(" · answering", theme.warn()));
    }
    if !state.fleet.nodes.is_empty() {
        let (up, all) = state.fleet.up_count(matches!(state.fleet.local_state(&state.model.state), Some(ModelState::Ready { .. })));
        let style = if up < all { theme.warn() } else { theme.dim() };
        left.push(Span::styled(format!(" · fleet {up}/{all} up"), style));
    }
    if let Some(api) = state.api.summary() {
        let style = if state.api.error.is_some() { theme.error() } else { theme.dim() };
        left.push(Span::styled(format!(" · {}", truncate(&api, width / 3)), style));
    }
    left
}

fn used(spans: &[Span]) -> usize {
    spans.iter().map(|s| str_width(&s.content)).sum()
}

/// Help and quit keep their room whatever the notice says.
fn essential(hints: &[Hint]) -> usize {
    hints.iter().filter(|h| h.essential).map(Hint::width).sum()
}

/// A notice in `room` columns: a path at its end is shortened from the left, so the file
/// name stays.
fn notice_text(notice: &Notice, room: usize) -> String {
    let Some(path) = &notice.path else { return truncate(&notice.text, room) };
    let (text_w, path_w) = (str_width(&notice.text), str_width(path));
    if text_w + path_w <= room {
        return format!("{}{path}", notice.text);
    }
    let path_room = path_w.min(room.saturating_sub(text_w).max(room / 2));
    format!("{}{}", truncate(&notice.text, room - path_room), truncate_left(path, path_room))
}

struct Hint {
    key: String,
    label: &'static str,
    /// Help and quit: the last to go.
    essential: bool,
}

impl Hint {
    fn width(&self) -> usize {
        str_width(&self.key) + str_width(self.label) + 3
    }
}

/// The hints of the pane on top (an overlay, else the focused pane), then help where it opens
/// there, and quit.
fn hints(state: &State) -> Vec<Hint> {
    let session: &Session = &state.session;
    let top = state.panes.hints(session);
    let key = |command| session.keymap.keys_for(command).first().map(|k| k.to_string());
    let mut out: Vec<Hint> = top.keys.into_iter().map(|h| Hint { key: h.key, label: h.label, essential: false }).collect();
    if top.help {
        out.extend(key(Command::ToggleHelp).map(|k| Hint { key: k, label: "help", essential: true }));
    }
    out.extend(key(Command::Quit).map(|k| Hint { key: k, label: "quit", essential: true }));
    out
}

/// The hints that fit in `room` columns, in their order: help and quit first, then the others
/// from the left while they fit.
fn fit(hints: Vec<Hint>, room: usize) -> Vec<Hint> {
    let mut used: usize = 0;
    let mut keep = vec![false; hints.len()];
    let order = (0..hints.len()).filter(|&i| hints[i].essential).chain((0..hints.len()).filter(|&i| !hints[i].essential));
    for i in order {
        if used + hints[i].width() <= room {
            used += hints[i].width();
            keep[i] = true;
        }
    }
    hints.into_iter().zip(keep).filter_map(|(h, k)| k.then_some(h)).collect()
}
