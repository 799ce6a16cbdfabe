//! The settings pane: the sampling values the next request will use, stepped with the arrows
//! or typed in place, and the preset row (presets and "custom", your own values).
use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

use super::chat::new_editor;
use super::{Focus, Hint, Hints, ListSpot, Outcome, Pane, Panes, is_click, wheel_key};
use crate::session::Session;
use crate::session::presets::{changed_by_hand, step_preset};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::Areas;
use llamadeck_words::sampling::{Field, Kind};
use llamadeck_words::text::{str_width, truncate, wrap};

const NAME_WIDTH: usize = 19;

/// Which row is selected (0 is the preset, then `Field::ALL`), and the editor when a value is
/// being typed.
#[derive(Debug)]
pub struct SettingsPane {
    pub selected: usize,
    pub editor: Option<TextArea<'static>>,
    /// Why the last entry was refused; the previous value stayed.
    pub error: Option<String>,
    /// Where the rows were last drawn (a click selects one).
    spot: Cell<ListSpot>,
}

impl Default for SettingsPane {
    /// Temperature selected: the value people change most.
    fn default() -> Self {
        Self { selected: 1, editor: None, error: None, spot: Cell::default() }
    }
}

impl SettingsPane {
    /// Rows: the preset, then every field.
    pub const ROWS: usize = Field::ALL.len() + 1;

    /// The field on the selected row; None on the preset row.
    pub fn field(&self) -> Option<Field> {
        self.selected.checked_sub(1).and_then(|i| Field::ALL.get(i).copied())
    }

    /// Selects `field`'s row.
    pub fn select(&mut self, field: Field) {
        self.selected = 1 + Field::ALL.iter().position(|f| *f == field).unwrap_or(0);
    }

    /// A value is being typed.
    pub fn editing(&self) -> bool {
        self.editor.is_some()
    }

    /// Closes the editor (the value stays as it was) and forgets the last refusal.
    pub fn reset(&mut self) {
        self.editor = None;
        self.error = None;
    }

    /// The arrows, `-`/`+` and Enter; false for keys it leaves to the keymap.
    fn on_row_key(&mut self, key: &KeyEvent, state: &mut Session) -> bool {
        if !key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
            return false;
        }
        let rows = Self::ROWS;
        match (key.code, self.field()) {
            (KeyCode::Up, _) => self.selected = (self.selected + rows - 1) % rows,
            (KeyCode::Down, _) => self.selected = (self.selected + 1) % rows,
            (KeyCode::Left | KeyCode::Char('-'), None) => self.step_preset(state, -1),
            (KeyCode::Right | KeyCode::Char('+') | KeyCode::Enter, None) => self.step_preset(state, 1),
            (KeyCode::Left | KeyCode::Char('-'), Some(field)) => self.nudge(state, field, -1),
            (KeyCode::Right | KeyCode::Char('+'), Some(field)) => self.nudge(state, field, 1),
            (KeyCode::Enter, Some(field)) => {
                let mut editor = new_editor(state.theme, placeholder(field));
                if is_text(field) {
                    // Drawn as large as the message box at least, and wrapped as it is.
                    editor.set_wrap_mode(WrapMode::WordOrGlyph);
                }
                editor.insert_str(state.sampling.edit_text(field));
                if is_text(field) {
                    // A long prompt is read from its start.
                    editor.move_cursor(CursorMove::Top);
                    editor.move_cursor(CursorMove::Head);
                }
                self.editor = Some(editor);
                self.error = None;
            }
            _ => return false,
        }
        true
    }

    fn step_preset(&mut self, state: &mut Session, delta: isize) {
        step_preset(state, delta);
        self.error = None;
    }

    fn nudge(&mut self, state: &mut Session, field: Field, steps: i32) {
        let before = state.sampling.clone();
        state.sampling.nudge(field, steps);
        if state.sampling != before {
            changed_by_hand(state);
            self.error = None;
        }
    }

    /// A key while a value is being typed: Enter keeps it (when it is in range), Esc drops it;
    /// the system prompt takes new lines (the keys of the command `newline`, Alt+Enter...).
    fn on_editor_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) {
        let Some(field) = self.field() else {
            self.editor = None;
            return;
        };
        let with_modifier = key.code == KeyCode::Enter && key.modifiers.intersects(KeyModifiers::ALT | KeyModifiers::SHIFT);
        let newline = command == Some(Command::InsertNewline) || with_modifier;
        match key.code {
            KeyCode::Esc => self.reset(),
            _ if newline && is_text(field) => {
                if let Some(editor) = self.editor.as_mut() {
                    editor.insert_newline();
                }
            }
            KeyCode::Enter => {
                let text = self.editor.as_ref().map(|e| e.lines().join("\n")).unwrap_or_default();
                let before = state.sampling.clone();
                match state.sampling.set_from_text(field, &text) {
                    Ok(()) => {
                        self.reset();
                        if state.sampling != before {
                            changed_by_hand(state);
                        }
                    }
                    // The editor stays open with the refused text; the old value is still in force.
                    Err(e) => self.error = Some(e.message),
                }
            }
            _ => {
                if let Some(editor) = self.editor.as_mut() {
                    super::editing::edit(editor, key);
                }
            }
        }
    }
}

/// Free text (the system prompt): typed in the large wrapping editor, where Enter saves and the
/// new-line keys add lines.
fn is_text(field: Field) -> bool {
    matches!(field.row().kind, Kind::Text { .. })
}

/// What an empty editor says: what an empty value means, or what to type (from the field's kind).
fn placeholder(field: Field) -> &'static str {
    match field.row().kind {
        Kind::Seed => "empty: a random seed",
        Kind::Stops { .. } => "empty: no stop sequences",
        Kind::Text { placeholder } => placeholder,
        Kind::Toggle { .. } => "true or false",
        Kind::Number { .. } => "a number (Esc keeps the old value)",
    }
}

impl Pane for SettingsPane {
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        if command == Some(Command::Quit) {
            return Outcome::Pass;
        }
        if self.editing() {
            self.on_editor_key(key, command, state);
            return Outcome::done();
        }
        if self.on_row_key(key, state) { Outcome::done() } else { Outcome::Pass }
    }

    fn on_paste(&mut self, text: &str, _state: &mut Session) -> Outcome {
        match self.editor.as_mut() {
            Some(editor) => {
                editor.insert_str(text);
                Outcome::done()
            }
            None => Outcome::Pass,
        }
    }

    /// The wheel moves the selection; a click selects the row under it. While a value is
    /// typed, the editor keeps the selection where it is.
    fn on_mouse(&mut self, mouse: &MouseEvent, _areas: &Areas, state: &mut Session) -> Outcome {
        if self.editing() {
            return Outcome::done();
        }
        if let Some(key) = wheel_key(mouse) {
            self.on_row_key(&key, state);
        } else if is_click(mouse)
            && let Some(row) = self.spot.get().item_at(mouse.column, mouse.row)
        {
            self.selected = row;
        }
        Outcome::done()
    }

    fn hints(&self, state: &Session) -> Hints {
        if self.editing() {
            return Hints { keys: vec![Hint::new("Enter", "save"), Hint::new("Esc", "cancel")], help: false };
        }
        let keys = [
            Some(Hint::new("↑↓", "choose")),
            Some(Hint::new("←→", "change")),
            Some(Hint::new("Enter", "type")),
            Hint::bound(state, Command::FocusNext, "chat"),
        ];
        Hints { keys: keys.into_iter().flatten().collect(), help: true }
    }

    fn draw(&self, frame: &mut Frame, areas: &Areas, state: &Session, panes: &Panes) {
        self.render(frame, areas.settings, state, panes.focus == Focus::Settings);
        self.render_prompt_editor(frame, areas, state);
    }
}

impl SettingsPane {
    fn render(&self, frame: &mut Frame, area: Rect, state: &Session, focused: bool) {
        let theme = state.theme;
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
        let mut lines = vec![if focused && self.selected == 0 { preset.style(theme.selected()) } else { preset }];
        for (i, field) in Field::ALL.into_iter().enumerate() {
            let selected = focused && i + 1 == self.selected;
            let name = label(field.name(), width);
            let value_w = width.saturating_sub(str_width(&name));
            let value = truncate(state.sampling.display(field).lines().next().unwrap_or(""), value_w);
            let line = Line::from(vec![Span::styled(name, theme.dim()), Span::raw(value)]);
            lines.push(if selected { line.style(theme.selected()) } else { line });
        }
        for note in &state.model.unsupported {
            lines.extend(wrap(note, width).into_iter().map(|l| Line::styled(l, theme.warn())));
        }
        if let (Some(error), None) = (&self.error, &self.editor) {
            lines.extend(wrap(error, width).into_iter().map(|l| Line::styled(l, theme.error())));
        }
        // Keep the selected row on screen when the pane is shorter than the list.
        let rows = inner.height as usize;
        let skip = (self.selected + 1).saturating_sub(rows).min(lines.len().saturating_sub(rows));
        let count = Self::ROWS.saturating_sub(skip).min(rows);
        self.spot.set(ListSpot { area: Rect { height: count as u16, ..inner }, first: skip, count });
        let shown: Vec<Line> = lines.into_iter().skip(skip).take(rows).collect();
        frame.render_widget(Paragraph::new(shown), inner);
        self.render_editor(frame, inner, state);
    }

    /// The system prompt being typed: a wrapping editor over the chat's column, as wide as the
    /// message box and at least as tall as the box can grow, its keys in its title.
    fn render_prompt_editor(&self, frame: &mut Frame, areas: &Areas, state: &Session) {
        let (Some(editor), Some(field)) = (&self.editor, self.field()) else { return };
        if !is_text(field) {
            return;
        }
        let theme = state.theme;
        let column = Rect { height: areas.chat.height + areas.input.height, ..areas.chat };
        let height = (llamadeck_words::layout::MAX_INPUT_ROWS as u16 + 6).max(column.height / 2).min(column.height);
        let area = Rect { y: column.y + column.height - height, height, ..column };
        let newline: Vec<String> = state.keymap.keys_for(Command::InsertNewline).iter().map(|k| k.to_string()).collect();
        let room = area.width.saturating_sub(2) as usize;
        let block = Block::bordered()
            .border_style(theme.border_focused())
            .title(Span::styled(
                truncate(&format!(" {} · Enter saves · Esc cancels ", field.name().replace('_', " ")), room),
                theme.title(),
            ))
            .title_bottom(Line::styled(truncate(&format!(" new line: {} ", newline.join(" ")), room), theme.dim()));
        let text_area = block.inner(area);
        frame.render_widget(Clear, area);
        frame.render_widget(block, area);
        frame.render_widget(editor, text_area);
        if let Some(error) = &self.error {
            let line = Rect { y: area.y + area.height - 1, height: 1, x: area.x + 1, width: area.width.saturating_sub(2) };
            frame.render_widget(Paragraph::new(Line::styled(truncate(error, line.width as usize), theme.error())), line);
        }
    }

    /// A value being typed (but the system prompt's), drawn over the bottom of the pane with its
    /// own hint line.
    fn render_editor(&self, frame: &mut Frame, inner: Rect, state: &Session) {
        let (Some(editor), Some(field)) = (&self.editor, self.field()) else { return };
        if is_text(field) {
            return;
        }
        let theme = state.theme;
        let height = 3.min(inner.height);
        let area = Rect { y: inner.y + inner.height - height, height, ..inner };
        let hint = "Enter saves · Esc cancels";
        let mut title = format!(" {} ", field.name());
        if let Some(range) = field.range() {
            title = format!(" {} ({} to {}) ", field.name(), range.min, range.max);
        }
        if let Kind::Stops { .. } = field.row().kind {
            title = format!(" {} (separate with |) ", field.name());
        }
        let block = Block::bordered()
            .border_style(theme.border_focused())
            .title(Span::styled(title, theme.title()))
            .title_bottom(Line::styled(truncate(hint, area.width.saturating_sub(2) as usize), theme.dim()));
        let text_area = block.inner(area);
        frame.render_widget(Clear, area);
        frame.render_widget(block, area);
        frame.render_widget(editor, text_area);
        if let Some(error) = &self.error
            && area.y > inner.y
        {
            let line = Rect { y: area.y - 1, height: 1, ..area };
            frame.render_widget(Clear, line);
            frame.render_widget(Paragraph::new(Line::styled(truncate(error, line.width as usize), theme.error())), line);
        }
    }
}

fn preset_line(state: &Session, width: usize) -> Line<'static> {
    let theme = state.theme;
    let preset = match (&state.presets.applied, state.presets.modified) {
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
