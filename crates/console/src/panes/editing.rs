//! The editing keys of the message box and the system prompt's editor, in one list: what the
//! editors do with a key and what F1 shows. They follow readline where a console command does
//! not already hold the key (Ctrl+E edits the last question, Ctrl+Y copies the answer, Ctrl+R
//! regenerates, Ctrl+P steps the preset, Ctrl+F searches, Ctrl+L starts anew): a key bound to a
//! command under `keys:` runs the command, never the edit.
use crossterm::event::KeyEvent;
use ratatui_textarea::{CursorMove, TextArea};

use llamadeck_words::keys::KeyBinding;

/// What an editing key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Move(CursorMove),
    DeleteBack,
    DeleteForward,
    DeleteWordBack,
    DeleteWordForward,
    KillToEnd,
    KillToStart,
    Yank,
    Undo,
    Redo,
}

/// One row: the keys (in `keys:` notation), what F1 says, what the editor does.
pub struct EditKey {
    pub keys: &'static [&'static str],
    pub what: &'static str,
    pub edit: Edit,
}

macro_rules! edit_keys {
    ($([$($key:literal),*] $what:literal $edit:expr;)*) => {
        /// Every editing key, in the order F1 lists them.
        pub const EDIT_KEYS: &[EditKey] = &[$(EditKey { keys: &[$($key),*], what: $what, edit: $edit },)*];
    };
}

edit_keys! {
    ["ctrl+a", "home"]           "start of the line"                                   Edit::Move(CursorMove::Head);
    ["end"]                      "end of the line"                                     Edit::Move(CursorMove::End);
    ["left", "ctrl+b"]           "back a character"                                    Edit::Move(CursorMove::Back);
    ["right"]                    "forward a character"                                 Edit::Move(CursorMove::Forward);
    ["alt+b", "ctrl+left"]       "back a word"                                         Edit::Move(CursorMove::WordBack);
    ["alt+f", "ctrl+right"]      "forward a word"                                      Edit::Move(CursorMove::WordForward);
    ["up", "down"]               "the line above or below (wrapped lines count)"       Edit::Move(CursorMove::Up);
    ["backspace", "ctrl+h"]      "delete the character before the cursor"              Edit::DeleteBack;
    ["delete", "ctrl+d"]         "delete the character under the cursor"               Edit::DeleteForward;
    ["ctrl+w", "alt+backspace"]  "delete the word before the cursor"                   Edit::DeleteWordBack;
    ["alt+d"]                    "delete the word after the cursor"                    Edit::DeleteWordForward;
    ["ctrl+k"]                   "delete to the end of the line"                       Edit::KillToEnd;
    ["ctrl+u"]                   "delete to the start of the line"                     Edit::KillToStart;
    ["alt+y"]                    "put back the text last deleted (Ctrl+Y copies the answer)" Edit::Yank;
    ["ctrl+z"]                   "undo"                                                Edit::Undo;
    ["alt+z"]                    "redo"                                                Edit::Redo;
}

/// The edit `key` asks for, if it is an editing key.
pub fn edit_for(key: &KeyEvent) -> Option<Edit> {
    let pressed = KeyBinding::new(key.code, key.modifiers);
    EDIT_KEYS.iter().find_map(|row| {
        let i = row.keys.iter().position(|k| KeyBinding::parse(k).is_ok_and(|b| b == pressed))?;
        // "up, down" share a row: the second key moves the other way.
        Some(match (row.edit, i) {
            (Edit::Move(CursorMove::Up), 1) => Edit::Move(CursorMove::Down),
            (edit, _) => edit,
        })
    })
}

/// Hands `key` to `editor`: an editing key does its edit; a character types; any other key
/// with Ctrl or Alt does nothing (the editor's own shortcuts are not the console's).
pub fn edit(editor: &mut TextArea<'static>, key: &KeyEvent) {
    match edit_for(key) {
        Some(edit) => apply(editor, edit),
        None => {
            editor.input_without_shortcuts(*key);
        }
    }
}

fn apply(editor: &mut TextArea<'static>, edit: Edit) {
    match edit {
        Edit::Move(to) => editor.move_cursor(to),
        Edit::DeleteBack => _ = editor.delete_char(),
        Edit::DeleteForward => _ = editor.delete_next_char(),
        Edit::DeleteWordBack => _ = editor.delete_word(),
        Edit::DeleteWordForward => _ = editor.delete_next_word(),
        Edit::KillToEnd => _ = editor.delete_line_by_end(),
        Edit::KillToStart => _ = editor.delete_line_by_head(),
        Edit::Yank => _ = editor.paste(),
        Edit::Undo => _ = editor.undo(),
        Edit::Redo => _ = editor.redo(),
    }
}

/// F1's rows: the keys as the hint bar writes them, and what they do.
pub fn help_rows() -> Vec<(String, &'static str)> {
    EDIT_KEYS
        .iter()
        .map(|row| {
            let keys: Vec<String> = row.keys.iter().filter_map(|k| KeyBinding::parse(k).ok()).map(|b| b.to_string()).collect();
            (keys.join(" "), row.what)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    #[test]
    fn every_key_parses_and_none_is_listed_twice() {
        let mut seen = Vec::new();
        for row in EDIT_KEYS {
            for key in row.keys {
                let binding = KeyBinding::parse(key).unwrap_or_else(|e| panic!("{e}"));
                assert!(!seen.contains(&binding), "{key} twice");
                seen.push(binding);
            }
        }
    }

    #[test]
    fn no_editing_key_is_a_default_command_key() {
        let keymap = llamadeck_words::keys::Keymap::defaults();
        for row in EDIT_KEYS {
            for key in row.keys {
                let binding = KeyBinding::parse(key).unwrap();
                let event = KeyEvent::new(binding.code, binding.modifiers);
                assert_eq!(keymap.lookup(&event), None, "{key} is a command's key");
            }
        }
    }

    #[test]
    fn readline_kills_and_moves() {
        let mut editor = TextArea::new(vec!["one two three".to_string()]);
        let key = |c, m| KeyEvent::new(KeyCode::Char(c), m);
        edit(&mut editor, &key('e', KeyModifiers::NONE));
        assert_eq!(editor.lines(), ["eone two three"], "a character types where the cursor is");
        edit(&mut editor, &KeyEvent::new(KeyCode::End, KeyModifiers::NONE));
        edit(&mut editor, &key('w', KeyModifiers::CONTROL));
        assert_eq!(editor.lines(), ["eone two "]);
        edit(&mut editor, &key('b', KeyModifiers::ALT));
        edit(&mut editor, &key('u', KeyModifiers::CONTROL));
        assert_eq!(editor.lines(), ["two "], "Ctrl+U deletes to the start of the line");
        edit(&mut editor, &key('y', KeyModifiers::ALT));
        assert_eq!(editor.lines(), ["eone two "], "Alt+Y puts it back");
        edit(&mut editor, &key('a', KeyModifiers::CONTROL));
        edit(&mut editor, &key('k', KeyModifiers::CONTROL));
        assert!(editor.is_empty());
        edit(&mut editor, &key('z', KeyModifiers::CONTROL));
        assert_eq!(editor.lines(), ["eone two "], "Ctrl+Z undoes");
        edit(&mut editor, &key('v', KeyModifiers::CONTROL));
        assert_eq!(editor.lines(), ["eone two "], "an unlisted Ctrl key does nothing");
    }
}
