//! The notices overlay (F7): the session's last 100 notices, newest first, each in full and
//! wrapped (an export's path, a config error), with its level and how long ago it came. It
//! scrolls with the arrows, pages and Home/End; Esc or F7 closes it.
use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::text::Line;

use super::{Hint, Hints, Outcome, Pane, Panes, passes_through};
use crate::session::notice::{NOTICE_HISTORY, ago};
use crate::session::{NoticeLevel, Session};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::Areas;
use llamadeck_words::text::wrap;

/// The overlay's widest.
const WIDTH: u16 = 100;

/// The notices overlay; `scroll` is its first line on screen.
#[derive(Debug, Default)]
pub struct Notices {
    pub scroll: usize,
}

impl Pane for Notices {
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        let (width, height) = inner(state.size);
        let count = lines(state, width).len();
        let page = height.max(1);
        let max = count.saturating_sub(page);
        let top = self.scroll.min(max);
        self.scroll = match key.code {
            KeyCode::Up => top.saturating_sub(1),
            KeyCode::Down => (top + 1).min(max),
            KeyCode::PageUp => top.saturating_sub(page),
            KeyCode::PageDown | KeyCode::Char(' ') => (top + page).min(max),
            KeyCode::Home => 0,
            KeyCode::End => max,
            KeyCode::Esc => return Outcome::close(),
            _ if command == Some(Command::Notices) => return Outcome::close(),
            _ if passes_through(command) => return Outcome::Pass,
            _ => top,
        };
        Outcome::done()
    }

    fn on_mouse(&mut self, mouse: &MouseEvent, _areas: &Areas, state: &mut Session) -> Outcome {
        super::covering_mouse(self, mouse, state)
    }

    fn hints(&self, _state: &Session) -> Hints {
        Hints { keys: vec![Hint::new("Esc", "close"), Hint::new("↑↓", "scroll")], help: true }
    }

    fn draw(&self, frame: &mut Frame, _areas: &Areas, state: &Session, _panes: &Panes) {
        let area = super::overlay_area(frame);
        let (width, height) = inner((area.width, area.height + 1));
        let content = lines(state, width);
        let top = self.scroll.min(content.len().saturating_sub(height));
        let title = if content.len() <= height {
            format!(" notices · the last {NOTICE_HISTORY}, newest first · Esc closes ")
        } else {
            let last = (top + height).min(content.len());
            format!(" notices {}-{last} of {} lines · ↑↓ PgUp PgDn scroll · Esc closes ", top + 1, content.len())
        };
        super::popup::render_scrolled(frame, area, WIDTH, &title, content, top, state.theme);
    }
}

/// Columns and rows of text inside the overlay on a terminal of `size` (the status bar's line
/// and the border aside).
fn inner(size: (u16, u16)) -> (usize, usize) {
    let width = WIDTH.min(size.0).saturating_sub(2).max(1);
    (width as usize, size.1.saturating_sub(3) as usize)
}

/// Each notice: "warning · 3 min ago", then its whole text wrapped, then a blank line.
fn lines(state: &Session, width: usize) -> Vec<Line<'static>> {
    let theme = state.theme;
    if state.notices.is_empty() {
        return vec![Line::styled("no notices yet", theme.dim())];
    }
    let mut out = Vec::new();
    for notice in state.notices.newest_first() {
        if !out.is_empty() {
            out.push(Line::default());
        }
        let style = match notice.level {
            NoticeLevel::Info => theme.dim(),
            NoticeLevel::Warn => theme.warn(),
            NoticeLevel::Error => theme.error(),
        };
        out.push(Line::styled(format!("{} · {}", notice.level.word(), ago(notice.shown_at, state.now)), style));
        out.extend(wrap(&notice.full_text(), width).into_iter().map(Line::raw));
    }
    out
}
