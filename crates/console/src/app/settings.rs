//! The settings pane in the reducer: choosing a row, stepping or typing a value, the preset
//! row (presets and "custom", your own values), Ctrl+P, and what F5 does to the values.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::action::Effect;
use crate::app::state::{NoticeLevel, SettingsPane, State, new_editor};
use llamadeck_words::sampling::{Field, Sampling};

/// The fields a preset can name; the rest (seed, stop, system prompt, raw mode) are never
/// changed by choosing a preset.
const PRESET_FIELDS: [Field; 8] = [
    Field::Temperature,
    Field::TopP,
    Field::TopK,
    Field::MinP,
    Field::RepetitionPenalty,
    Field::PresencePenalty,
    Field::FrequencyPenalty,
    Field::MaxTokens,
];

/// Keys the settings pane handles itself; returns false for keys it leaves to the keymap.
pub fn on_key(state: &mut State, key: &KeyEvent) -> bool {
    if !key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
        return false;
    }
    let rows = SettingsPane::ROWS;
    match (key.code, state.settings.field()) {
        (KeyCode::Up, _) => state.settings.selected = (state.settings.selected + rows - 1) % rows,
        (KeyCode::Down, _) => state.settings.selected = (state.settings.selected + 1) % rows,
        (KeyCode::Left | KeyCode::Char('-'), None) => step_preset(state, -1),
        (KeyCode::Right | KeyCode::Char('+') | KeyCode::Enter, None) => step_preset(state, 1),
        (KeyCode::Left | KeyCode::Char('-'), Some(field)) => nudge(state, field, -1),
        (KeyCode::Right | KeyCode::Char('+'), Some(field)) => nudge(state, field, 1),
        (KeyCode::Enter, Some(field)) => {
            let mut editor = new_editor(state.theme, placeholder(field));
            editor.insert_str(state.sampling.edit_text(field));
            state.settings.editor = Some(editor);
            state.settings.error = None;
        }
        _ => return false,
    }
    true
}

/// What an empty editor says: what an empty value means, or what to type.
fn placeholder(field: Field) -> &'static str {
    match field {
        Field::Seed => "empty: a random seed",
        Field::Stop => "empty: no stop sequences",
        Field::SystemPrompt => "empty: no system prompt",
        Field::RawMode => "true or false",
        _ => "a number (Esc keeps the old value)",
    }
}

fn nudge(state: &mut State, field: Field, steps: i32) {
    let before = state.sampling.clone();
    state.sampling.nudge(field, steps);
    if state.sampling != before {
        changed_by_hand(state);
    }
}

/// A value was changed by hand: the preset shows as modified, and these are now your own values.
fn changed_by_hand(state: &mut State) {
    state.preset_modified = true;
    state.settings.error = None;
    state.custom = state.sampling.clone();
}

pub fn on_editor_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let Some(field) = state.settings.field() else {
        state.settings.editor = None;
        return Vec::new();
    };
    let newline = key.modifiers.intersects(KeyModifiers::ALT | KeyModifiers::SHIFT);
    match key.code {
        KeyCode::Esc => {
            state.settings.editor = None;
            state.settings.error = None;
        }
        KeyCode::Enter if newline && field == Field::SystemPrompt => {
            if let Some(editor) = state.settings.editor.as_mut() {
                editor.insert_newline();
            }
        }
        KeyCode::Enter => {
            let text = state.settings.editor.as_ref().map(|e| e.lines().join("\n")).unwrap_or_default();
            let before = state.sampling.clone();
            match state.sampling.set_from_text(field, &text) {
                Ok(()) => {
                    state.settings.editor = None;
                    state.settings.error = None;
                    if state.sampling != before {
                        changed_by_hand(state);
                    }
                }
                // The editor stays open with the refused text; the old value is still in force.
                Err(e) => state.settings.error = Some(e.message),
            }
        }
        _ => {
            if let Some(editor) = state.settings.editor.as_mut() {
                editor.input(key);
            }
        }
    }
    Vec::new()
}

/// Ctrl+P: the next preset, then "custom", then the first again.
pub fn next_preset(state: &mut State) -> Vec<Effect> {
    step_preset(state, 1);
    match state.preset.clone() {
        Some(name) => state.notice(NoticeLevel::Info, format!("preset {name} applied")),
        None => state.notice(NoticeLevel::Info, "custom: your own values again"),
    }
}

/// Moves along [custom, presets...] by `delta`, wrapping around.
fn step_preset(state: &mut State, delta: isize) {
    let n = state.presets.len() as isize + 1;
    // Slot 0 is custom; a modified preset counts as custom, so the next step is its neighbour.
    let at = state.preset.as_ref().and_then(|p| state.presets.iter().position(|(name, _)| name == p)).map_or(0, |i| i as isize + 1);
    let next = (at + delta).rem_euclid(n) as usize;
    if state.preset.is_none() || state.preset_modified {
        state.custom = state.sampling.clone();
    }
    match next.checked_sub(1) {
        None => {
            state.sampling = state.custom.clone();
            state.preset = None;
        }
        Some(i) => {
            let (name, values) = state.presets[i].clone();
            state.sampling = with_preset_fields_from(&state.sampling, &state.config.sampling);
            state.sampling.apply(&values);
            state.preset = Some(name);
        }
    }
    state.preset_modified = false;
    state.settings.error = None;
}

/// `current` with every field a preset can name taken from `base` (the config's values), so a
/// preset that leaves a field out gets the same value each time.
fn with_preset_fields_from(current: &Sampling, base: &Sampling) -> Sampling {
    let mut out = current.clone();
    for field in PRESET_FIELDS {
        copy_field(&mut out, base, field);
    }
    out
}

fn copy_field(to: &mut Sampling, from: &Sampling, field: Field) {
    match field {
        Field::Temperature => to.temperature = from.temperature,
        Field::TopP => to.top_p = from.top_p,
        Field::TopK => to.top_k = from.top_k,
        Field::MinP => to.min_p = from.min_p,
        Field::RepetitionPenalty => to.repetition_penalty = from.repetition_penalty,
        Field::PresencePenalty => to.presence_penalty = from.presence_penalty,
        Field::FrequencyPenalty => to.frequency_penalty = from.frequency_penalty,
        Field::MaxTokens => to.max_tokens = from.max_tokens,
        Field::Seed => to.seed = from.seed,
        Field::Stop => to.stop.clone_from(&from.stop),
        Field::SystemPrompt => to.system_prompt.clone_from(&from.system_prompt),
        Field::RawMode => to.raw_mode = from.raw_mode,
    }
}

fn same_field(a: &Sampling, b: &Sampling, field: Field) -> bool {
    let mut probe = a.clone();
    copy_field(&mut probe, b, field);
    probe == *a
}

/// F5 read the file again: its values replace the pane's, except where the pane was changed
/// since it last agreed with the file (those are kept, unsaved). Returns the names kept.
pub fn take_from_file(state: &mut State, from_file: Sampling, preset: Option<String>) -> Vec<&'static str> {
    let mut kept = Vec::new();
    let mut merged = from_file.clone();
    for field in Field::ALL {
        if !same_field(&state.sampling, &state.settings_origin, field) && !same_field(&state.sampling, &from_file, field) {
            copy_field(&mut merged, &state.sampling, field);
            kept.push(field.name());
        }
    }
    state.sampling = merged;
    state.settings_origin = from_file;
    state.preset = preset;
    state.preset_modified = !kept.is_empty();
    state.settings.editor = None;
    state.settings.error = None;
    kept
}

/// Ctrl+S wrote these values and this preset: the file and the pane agree again.
pub fn saved(state: &mut State, sampling: Sampling, preset: Option<String>) {
    state.settings_origin = sampling.clone();
    state.config.sampling = sampling;
    state.config.preset = preset;
}

/// The preset Ctrl+S writes: none when the values were changed by hand since.
pub fn current_preset(state: &State) -> Option<String> {
    state.preset.clone().filter(|_| !state.preset_modified)
}
