//! The help overlay (F1): every command with its keys, from the live keymap so it always tells
//! the truth, the settings pane's own keys, how answers are selected and flipped, and the slash
//! commands typed in the message box (`keys::slash`). It scrolls
//! with the arrows, pages and Home/End when the terminal is too short; any other key closes it
//! and does nothing else (quit still quits).
use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};

use super::{Hint, Hints, Outcome, Pane, Panes};
use crate::session::Session;
use llamadeck_words::keys::{Command, Keymap, slash};
use llamadeck_words::layout::Areas;
use llamadeck_words::text::str_width;

/// The help overlay; `scroll` is its first line on screen.
#[derive(Debug, Default)]
pub struct Help {
    pub scroll: usize,
}

impl Pane for Help {
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        if command == Some(Command::Quit) {
            return Outcome::CloseAndPass;
        }
        let rows = lines(state).len();
        // The overlay leaves the status bar's line.
        let page = page_height(rows, state.size.1.saturating_sub(1)).max(1);
        let max = rows.saturating_sub(page);
        let top = self.scroll.min(max);
        self.scroll = match key.code {
            KeyCode::Up => top.saturating_sub(1),
            KeyCode::Down => (top + 1).min(max),
            KeyCode::PageUp => top.saturating_sub(page),
            KeyCode::PageDown | KeyCode::Char(' ') => (top + page).min(max),
            KeyCode::Home => 0,
            KeyCode::End => max,
            _ => return Outcome::close(),
        };
        Outcome::done()
    }

    /// A paste closes the help and goes where it would have gone.
    fn on_paste(&mut self, _text: &str, _state: &mut Session) -> Outcome {
        Outcome::CloseAndPass
    }

    fn on_mouse(&mut self, mouse: &MouseEvent, _areas: &Areas, state: &mut Session) -> Outcome {
        super::covering_mouse(self, mouse, state)
    }

    fn hints(&self, _state: &Session) -> Hints {
        Hints { keys: vec![Hint::new("Esc", "close"), Hint::new("↑↓", "scroll")], help: false }
    }

    fn draw(&self, frame: &mut Frame, _areas: &Areas, state: &Session, _panes: &Panes) {
        let area = super::overlay_area(frame);
        let content = lines(state);
        let page = page_height(content.len(), area.height);
        let top = self.scroll.min(content.len().saturating_sub(page));
        let title = if page >= content.len() {
            " help · any key closes ".to_string()
        } else {
            let last = (top + page).min(content.len());
            format!(" help {}-{last} of {} · ↑↓ PgUp PgDn scroll · any other key closes ", top + 1, content.len())
        };
        super::popup::render_scrolled(frame, area, 80, &title, content, top, state.theme);
    }
}

/// Lines of help (a long key list takes more than one).
pub fn line_count(state: &Session) -> usize {
    lines(state).len()
}

/// Columns of the key column; keys that do not fit go on to the next lines, whole.
const KEY_COLUMN: usize = 18;

fn lines(state: &Session) -> Vec<Line<'static>> {
    let theme = state.theme;
    let mut out = Vec::new();
    for row in rows(&state.keymap) {
        match row {
            HelpRow::Heading(text) => out.push(Line::styled(text, theme.title())),
            HelpRow::Key { keys, what } => {
                for (i, keys) in key_lines(&keys, KEY_COLUMN).into_iter().enumerate() {
                    let what = if i == 0 { what } else { "" };
                    out.push(Line::from(vec![Span::styled(format!("{keys:>KEY_COLUMN$}  "), theme.key()), Span::raw(what)]));
                }
            }
            HelpRow::Note(text) => out.push(Line::styled(text, theme.dim())),
            HelpRow::Blank => out.push(Line::default()),
        }
    }
    out
}

/// `keys` (separated by spaces) on lines of at most `width` columns, never splitting a key.
pub fn key_lines(keys: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys.split(' ') {
        match out.last_mut() {
            Some(line) if str_width(line) + 1 + str_width(key) <= width => {
                line.push(' ');
                line.push_str(key);
            }
            _ => out.push(key.to_string()),
        }
    }
    out
}

/// One help line: a heading, a key and what it does, a plain note, or a blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpRow {
    Heading(&'static str),
    Key { keys: String, what: &'static str },
    Note(&'static str),
    Blank,
}

/// Keys the settings pane handles itself (not remappable).
const SETTINGS_KEYS: [(&str, &str); 6] = [
    ("↑ ↓", "choose a setting (the preset is the first row)"),
    ("← → - +", "step the value (preset row: next preset, or custom)"),
    ("Enter", "type a value (Enter saves, Esc cancels)"),
    ("Alt+Enter", "new line in the system prompt (its editor opens over the chat)"),
    ("Tab", "back to the message box"),
    ("Ctrl+S", "save the values in the config (F5 reads it again)"),
];

/// How answers are shown, selected, copied and flipped (the keys are the built-in ones).
const ANSWER_NOTES: [&str; 5] = [
    "markdown is shown: code in a ╭─ frame under its language, lists, headings",
    "Alt+↑/↓ select an answer or a code block (reversed); Esc lets go",
    "Ctrl+Y copies the selected code block's code or answer's text, else the last",
    "Ctrl+R keeps the answer it replaces: Alt+←/→ flip versions (header: 2/3)",
    "the version shown is sent next and exported; saved conversations keep all",
];

pub fn rows(keymap: &Keymap) -> Vec<HelpRow> {
    let mut out = vec![HelpRow::Heading("keys (change them under keys: in the config)")];
    for command in Command::ALL {
        let keys: Vec<String> = keymap.keys_for(command).iter().map(|k| k.to_string()).collect();
        let keys = if keys.is_empty() { "unbound".into() } else { keys.join(" ") };
        out.push(HelpRow::Key { keys, what: command.describe() });
    }
    out.push(HelpRow::Blank);
    out.push(HelpRow::Heading("answers"));
    out.extend(ANSWER_NOTES.iter().map(|note| HelpRow::Note(note)));
    out.push(HelpRow::Blank);
    out.push(HelpRow::Heading("in the settings pane"));
    out.extend(SETTINGS_KEYS.iter().map(|(k, what)| HelpRow::Key { keys: k.to_string(), what }));
    out.push(HelpRow::Blank);
    out.push(HelpRow::Heading("editing the message and the system prompt (readline's keys)"));
    out.extend(super::editing::help_rows().into_iter().map(|(keys, what)| HelpRow::Key { keys, what }));
    out.push(HelpRow::Blank);
    out.push(HelpRow::Heading("commands, typed in the message box"));
    out.extend(slash::all().into_iter().map(|s| HelpRow::Key { keys: s.usage(), what: s.describe }));
    out.push(HelpRow::Note("/ in an empty box lists them, Tab completes; / again searches instead"));
    out
}

/// Lines of help on screen for a terminal `height` rows high (the overlay's border aside).
pub fn page_height(rows: usize, height: u16) -> usize {
    (rows + 2).min(height as usize).saturating_sub(2)
}
