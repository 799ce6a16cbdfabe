//! The API overlay (F4): address, requests in flight, and the request log, newest first:
//! time, status, path, client, prompt+answer tokens, decode speed and how each ended. Under
//! it, everything about the selected request, its reason in full, wrapped.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::app::state::State;
use llamadeck_words::text::{sanitize, truncate, wrap};

/// The overlay's widest.
const WIDTH: u16 = 110;

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
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
        let detail: Vec<String> = api.detail().map(|d| wrap(&sanitize(&d), inner_width)).unwrap_or_default();
        // Summary, header and the blank line before the detail; at least one row shows.
        let room = inner_height.saturating_sub(3 + detail.len()).max(1);
        let first = (api.selected + 1).saturating_sub(room);
        content.push(Line::styled(fit(&crate::app::api::ApiStatus::header()), theme.dim()));
        for (i, row) in rows.iter().enumerate().skip(first).take(room) {
            let style = if i == api.selected { theme.selected() } else { ratatui::style::Style::default() };
            content.push(Line::styled(fit(row), style));
        }
        content.push(Line::default());
        content.extend(detail.into_iter().map(Line::from));
    }
    crate::ui::popup::render(frame, area, WIDTH, " api requests · ↑↓ select · Esc closes ", content, theme);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::app::api::{RequestRecord, ServerEvent};
    use crate::app::state::State;
    use llamadeck_config::Config;
    use llamadeck_engine::ModelSpec;
    use llamadeck_words::keys::Keymap;
    use llamadeck_words::theme::Theme;

    fn screen(state: &State, w: u16, h: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| super::render(f, f.area(), state)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..h).map(|y| (0..w).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>() + "\n").collect()
    }

    #[test]
    fn the_selected_request_s_reason_is_shown_in_full_wrapped() {
        let mut state = State::new(&Config::default(), Keymap::defaults(), ModelSpec::default(), Theme::PLAIN, std::time::Instant::now());
        let reason = "the model is loading (checking the weight formats for CPU (cpu_weights: auto)); try again shortly";
        for (i, status) in [200u16, 503, 404].into_iter().enumerate() {
            state.api.apply(ServerEvent::Finished(RequestRecord {
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
            }));
        }
        state.api.show = true;
        state.api.select(1);
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
        let mut state = State::new(&Config::default(), Keymap::defaults(), ModelSpec::default(), Theme::PLAIN, std::time::Instant::now());
        for i in 0..100u64 {
            state.api.apply(ServerEvent::Finished(RequestRecord {
                at: 60 * i,
                status: 200,
                outcome: "ok".into(),
                ..RequestRecord::default()
            }));
        }
        state.api.show = true;
        state.api.select(50);
        let text = screen(&state, 80, 24);
        assert!(text.contains("00:49:00 200"), "the 51st newest (request 49) shows:\n{text}");
        assert!(!text.contains("01:39:00"), "the newest scrolled away:\n{text}");
    }
}
