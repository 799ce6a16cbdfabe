//! The API overlay (F4): address, requests in flight, and the request log, newest first:
//! time, status, path, client, prompt+answer tokens, decode speed and how each ended. Under
//! it, everything about the selected request, its reason in full, wrapped. The arrows select;
//! a new request does not move the selection off the one it is on.
use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::text::Line;

use super::{Hint, Hints, Outcome, Pane, Panes, passes_through};
use crate::session::Session;
use crate::session::api::ApiStatus;
use llamadeck_words::keys::Command;
use llamadeck_words::layout::Areas;
use llamadeck_words::text::{sanitize, truncate, wrap};

/// The overlay's widest.
const WIDTH: u16 = 110;

/// The request log overlay; `selected` counts from the newest request (0).
#[derive(Debug, Default)]
pub struct Requests {
    pub selected: usize,
}

impl Requests {
    /// Moves the selection by `by` rows (positive: older), within the list.
    pub fn select(&mut self, api: &ApiStatus, by: isize) {
        let last = api.recent.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(by).min(last);
    }

    /// A request was added to the log: a selection below the newest stays on the request it was on.
    pub fn arrived(&mut self, api: &ApiStatus) {
        if self.selected > 0 {
            self.selected = (self.selected + 1).min(api.recent.len().saturating_sub(1));
        }
    }
}

impl Pane for Requests {
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        let api = &state.api;
        match key.code {
            KeyCode::Up => self.select(api, -1),
            KeyCode::Down => self.select(api, 1),
            KeyCode::PageUp => self.select(api, -10),
            KeyCode::PageDown => self.select(api, 10),
            KeyCode::Home => self.select(api, isize::MIN),
            KeyCode::End => self.select(api, isize::MAX),
            KeyCode::Esc => return Outcome::close(),
            _ if command == Some(Command::ApiRequests) => return Outcome::close(),
            _ if passes_through(command) => return Outcome::Pass,
            _ => {}
        }
        Outcome::done()
    }

    fn on_mouse(&mut self, mouse: &MouseEvent, _areas: &Areas, state: &mut Session) -> Outcome {
        super::covering_mouse(self, mouse, state)
    }

    fn hints(&self, _state: &Session) -> Hints {
        Hints { keys: vec![Hint::new("Esc", "close"), Hint::new("↑↓", "select")], help: true }
    }

    fn draw(&self, frame: &mut Frame, _areas: &Areas, state: &Session, _panes: &Panes) {
        let area = super::overlay_area(frame);
        let api = &state.api;
        let theme = state.theme;
        let inner_width = WIDTH.min(area.width).saturating_sub(2).max(1) as usize;
        let inner_height = area.height.saturating_sub(2) as usize;
        let fit = |text: &str| truncate(&sanitize(text), inner_width);
        let summary = api.summary().unwrap_or_else(|| "api not started (server.enabled: false)".into());
        let mut content = vec![Line::styled(fit(&summary), theme.title())];
        let rows = api.lines();
        if rows.is_empty() {
            content.push(Line::styled("no requests yet", theme.dim()));
        } else {
            let selected = self.selected.min(rows.len() - 1);
            let detail: Vec<String> = api.detail(selected).map(|d| wrap(&sanitize(&d), inner_width)).unwrap_or_default();
            // Summary, header and the blank line before the detail; at least one row shows.
            let room = inner_height.saturating_sub(3 + detail.len()).max(1);
            let first = (selected + 1).saturating_sub(room);
            content.push(Line::styled(fit(&ApiStatus::header()), theme.dim()));
            for (i, row) in rows.iter().enumerate().skip(first).take(room) {
                let style = if i == selected { theme.selected() } else { ratatui::style::Style::default() };
                content.push(Line::styled(fit(row), style));
            }
            content.push(Line::default());
            content.extend(detail.into_iter().map(Line::from));
        }
        super::popup::render(frame, area, WIDTH, " api requests · ↑↓ select · Esc closes ", content, theme);
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::Requests;
    use crate::app::{Action, State, update};
    use crate::session::api::{RequestRecord, ServerEvent};
    use llamadeck_config::Config;
    use llamadeck_engine::ModelSpec;
    use llamadeck_words::keys::Keymap;
    use llamadeck_words::theme::Theme;

    fn state() -> State {
        State::new(&Config::default(), Keymap::defaults(), ModelSpec::default(), Theme::PLAIN, std::time::Instant::now())
    }

    fn screen(state: &State, w: u16, h: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| crate::ui::render(f, state)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..h).map(|y| (0..w).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>() + "\n").collect()
    }

    fn key(state: &mut State, code: KeyCode) {
        update(state, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn arrive(state: &mut State, record: RequestRecord) {
        update(state, Action::Server(ServerEvent::Finished(record)));
    }

    fn selected(state: &State) -> Option<u64> {
        let pane = state.panes.find::<Requests>()?;
        state.session.api.record(pane.selected).map(|r| r.at)
    }

    #[test]
    fn the_selected_request_s_reason_is_shown_in_full_wrapped() {
        let mut state = state();
        let reason = "the model is loading (checking the weight formats for CPU (cpu_weights: auto)); try again shortly";
        for (i, status) in [200u16, 503, 404].into_iter().enumerate() {
            arrive(
                &mut state,
                RequestRecord {
                    at: 60 * i as u64,
                    endpoint: "POST /v1/chat/completions".into(),
                    status,
                    client: "127.0.0.1:5000 curl/8.5.0".into(),
                    outcome: match status {
                        503 => "model_not_ready".into(),
                        404 => "refused".into(),
                        _ => "ok".into(),
                    },
                    reason: if status == 503 { reason.into() } else { String::new() },
                    ..RequestRecord::default()
                },
            );
        }
        key(&mut state, KeyCode::F(4));
        key(&mut state, KeyCode::Down);
        let text = screen(&state, 80, 24);
        assert!(text.contains("00:01:00 503  /v1/chat/completions"), "{text}");
        // The reason, wrapped over lines of the 78-column box: every word is there.
        let inside: Vec<&str> = text.lines().map(|l| l.trim().trim_matches('│').trim()).collect();
        let joined = inside.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(joined.contains("model_not_ready: the model is loading (checking the weight formats"), "{text}");
        assert!(joined.contains("try again shortly"), "{text}");
        // Three rows, the header, the summary: nothing was cut at this size.
        assert!(text.contains("00:02:00 404") && text.contains("00:00:00 200"), "{text}");
    }

    /// A long log in a small terminal scrolls so that the selected row stays in view.
    #[test]
    fn the_selected_row_stays_in_view() {
        let mut state = state();
        for i in 0..100u64 {
            arrive(&mut state, RequestRecord { at: 60 * i, status: 200, outcome: "ok".into(), ..RequestRecord::default() });
        }
        key(&mut state, KeyCode::F(4));
        for _ in 0..5 {
            key(&mut state, KeyCode::PageDown);
        }
        let text = screen(&state, 80, 24);
        assert!(text.contains("00:49:00 200"), "the 51st newest (request 49) shows:\n{text}");
        assert!(!text.contains("01:39:00"), "the newest scrolled away:\n{text}");
    }

    /// The overlay's keys, through the reducer: arrows select, other keys do nothing (no text
    /// typed behind it), Esc and F4 close; a new request does not move the selection off its row.
    #[test]
    fn the_overlay_keys_select_and_close_and_the_selection_stays_on_its_request() {
        let mut state = state();
        for at in 0..3 {
            arrive(&mut state, RequestRecord { at, status: 200, outcome: "stop".into(), ..RequestRecord::default() });
        }
        key(&mut state, KeyCode::F(4));
        assert!(state.panes.top_is::<Requests>());
        key(&mut state, KeyCode::Up);
        assert_eq!(selected(&state), Some(2), "the newest, the top");
        key(&mut state, KeyCode::Down);
        key(&mut state, KeyCode::Down);
        key(&mut state, KeyCode::Down);
        assert_eq!(selected(&state), Some(0), "the oldest, the bottom");
        key(&mut state, KeyCode::Char('x'));
        key(&mut state, KeyCode::Up);
        assert!(state.panes.is_open::<Requests>(), "other keys keep it open");
        assert_eq!(selected(&state), Some(1));
        assert!(state.panes.chat.input.is_empty(), "nothing was typed behind the overlay");
        arrive(&mut state, RequestRecord { at: 3, status: 200, outcome: "stop".into(), ..RequestRecord::default() });
        assert_eq!(selected(&state), Some(1), "a new request does not move the selection");
        key(&mut state, KeyCode::Home);
        arrive(&mut state, RequestRecord { at: 4, status: 200, outcome: "stop".into(), ..RequestRecord::default() });
        assert_eq!(selected(&state), Some(4), "the newest stays selected");
        key(&mut state, KeyCode::Esc);
        assert!(!state.panes.is_open::<Requests>());
        key(&mut state, KeyCode::F(4));
        key(&mut state, KeyCode::F(4));
        assert!(!state.panes.is_open::<Requests>(), "F4 closes it too");
    }
}
