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
use llamadeck_words::text::{str_width, truncate, truncate_left};

pub fn render(frame: &mut Frame, area: Rect, whole: &State) {
    let state = &whole.session;
    let theme = state.theme;
    let width = area.width as usize;
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
    let hints = if state.config.ui.hints { hints(whole) } else { Vec::new() };
    // Help and quit keep their room whatever the notice says.
    let essential: usize = hints.iter().filter(|h| h.essential).map(Hint::width).sum();
    if let Some(notice) = &state.notice {
        let style = match notice.level {
            NoticeLevel::Info => theme.dim(),
            NoticeLevel::Warn => theme.warn(),
            NoticeLevel::Error => theme.error(),
        };
        let used: usize = left.iter().map(|s| str_width(&s.content)).sum();
        let room = width.saturating_sub(used + essential + 4);
        if room > 0 {
            left.push(Span::styled(format!(" · {}", notice_text(notice, room)), style));
        }
    }
    let used: usize = left.iter().map(|s| str_width(&s.content)).sum();
    let shown = fit(hints, width.saturating_sub(used + 1));
    let hints_w: usize = shown.iter().map(Hint::width).sum();
    left.push(Span::raw(" ".repeat(width.saturating_sub(used + hints_w))));
    for hint in shown {
        left.push(Span::styled(format!(" {}", hint.key), theme.key()));
        left.push(Span::styled(format!(" {} ", hint.label), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(left)), area);
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
