//! The help overlay, generated from the live keymap so it always tells the truth.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::keys::Command;
use crate::app::state::State;

/// Keys the settings pane handles itself (not remappable).
const SETTINGS_KEYS: [(&str, &str); 4] = [
    ("↑ ↓", "choose a setting"),
    ("← → - +", "step the value down or up"),
    ("Enter", "type a value (Enter saves, Esc cancels)"),
    ("Tab", "back to the message box"),
];

pub fn lines(state: &State) -> Vec<Line<'static>> {
    let theme = state.theme;
    let row = |keys: String, what: &str| {
        Line::from(vec![Span::styled(format!("{keys:>18}  "), theme.key()), Span::raw(what.to_string())])
    };
    let mut out = vec![Line::styled("keys (change them under keys: in the config)", theme.title())];
    for command in Command::ALL {
        let keys: Vec<String> = state.keymap.keys_for(command).iter().map(|k| k.to_string()).collect();
        let keys = if keys.is_empty() { "unbound".into() } else { keys.join(" ") };
        out.push(row(keys, command.describe()));
    }
    out.push(Line::default());
    out.push(Line::styled("in the settings pane", theme.title()));
    out.extend(SETTINGS_KEYS.iter().map(|(k, what)| row(k.to_string(), what)));
    out.push(Line::default());
    out.push(Line::styled("type /model PATH to load another model, /export md or /export json", theme.dim()));
    out
}

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let content = lines(state);
    crate::ui::popup::render(frame, area, 76, " help · any key closes ", content, state.theme);
}
