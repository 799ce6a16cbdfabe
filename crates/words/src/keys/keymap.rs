//! Key bindings: parsing `ctrl+q`-style names, showing them as `Ctrl+Q`, and the keymap from
//! keys to commands (defaults, overridden per command by the config's `keys:` section).
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::command::Command;

/// One key with its modifiers, normalised so that what a terminal sends and what a config names
/// compare equal: characters carry their own case (no SHIFT), and BackTab is Shift+Tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBinding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

const MODIFIERS: KeyModifiers = KeyModifiers::CONTROL.union(KeyModifiers::ALT).union(KeyModifiers::SHIFT).union(KeyModifiers::SUPER);

impl KeyBinding {
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> Self {
        let mut modifiers = modifiers & MODIFIERS;
        let code = match code {
            KeyCode::BackTab => {
                modifiers |= KeyModifiers::SHIFT;
                KeyCode::Tab
            }
            KeyCode::Char(c) => {
                // Terminals add SHIFT to '?' or 'A'; the character already says it.
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            other => other,
        };
        Self { code, modifiers }
    }

    /// Reads `ctrl+q`, `alt+enter`, `shift+tab`, `f1`, `?`, `pgup`, `space`, `ctrl++`...
    /// Modifier and key names are case-insensitive; a lone character keeps its case.
    pub fn parse(s: &str) -> Result<Self, String> {
        let text = s.trim();
        if text.is_empty() {
            return Err("empty key name".into());
        }
        // The last part is the key; "ctrl++" and "+" name the plus key itself.
        let (mods_part, key_part) = if text == "+" {
            ("", "+")
        } else if let Some(prefix) = text.strip_suffix("++") {
            (prefix, "+")
        } else {
            match text.rsplit_once('+') {
                Some((mods, key)) => (mods, key),
                None => ("", text),
            }
        };
        let mut modifiers = KeyModifiers::NONE;
        let mod_names = if mods_part.is_empty() { None } else { Some(mods_part.split('+')) };
        for part in mod_names.into_iter().flatten() {
            modifiers |= match part.trim().to_ascii_lowercase().as_str() {
                "ctrl" | "control" => KeyModifiers::CONTROL,
                "alt" | "meta" | "option" => KeyModifiers::ALT,
                "shift" => KeyModifiers::SHIFT,
                "super" | "cmd" | "win" => KeyModifiers::SUPER,
                "" => return Err(format!("{s:?}: empty modifier")),
                other => return Err(format!("{s:?}: unknown modifier {other:?} (ctrl, alt, shift, super)")),
            };
        }
        let code = parse_code(key_part.trim())
            .ok_or_else(|| format!("{s:?}: unknown key {key_part:?} (a character, enter, esc, tab, space, f1..f24, up, pageup, ...)"))?;
        let code = match code {
            // "ctrl+Q" means ctrl+q; "shift+a" is the character 'A'.
            KeyCode::Char(c) if c.is_alphabetic() && !modifiers.is_empty() => {
                if modifiers.contains(KeyModifiers::SHIFT) {
                    KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
                } else {
                    KeyCode::Char(c.to_lowercase().next().unwrap_or(c))
                }
            }
            other => other,
        };
        Ok(Self::new(code, modifiers))
    }

    fn from_event(event: &KeyEvent) -> Self {
        Self::new(event.code, event.modifiers)
    }
}

fn parse_code(name: &str) -> Option<KeyCode> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(KeyCode::Char(c));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
        return (1..=24).contains(&n).then_some(KeyCode::F(n));
    }
    Some(match lower.as_str() {
        "enter" | "return" | "ret" | "cr" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "backspace" | "bs" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" | "ins" => KeyCode::Insert,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" | "pgdown" => KeyCode::PageDown,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "space" | "spc" => KeyCode::Char(' '),
        "plus" => KeyCode::Char('+'),
        _ => return None,
    })
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (modifier, name) in [
            (KeyModifiers::CONTROL, "Ctrl+"),
            (KeyModifiers::ALT, "Alt+"),
            (KeyModifiers::SUPER, "Super+"),
            (KeyModifiers::SHIFT, "Shift+"),
        ] {
            if self.modifiers.contains(modifier) {
                f.write_str(name)?;
            }
        }
        let has_mods = !self.modifiers.is_empty();
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            // With a modifier a letter is shown as on the keycap; a capital then needs Shift.
            KeyCode::Char(c) if has_mods && c.is_uppercase() => write!(f, "Shift+{c}"),
            KeyCode::Char(c) if has_mods => write!(f, "{}", c.to_uppercase()),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift+Tab"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::Insert => f.write_str("Ins"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Up => f.write_str("Up"),
            KeyCode::Down => f.write_str("Down"),
            KeyCode::Left => f.write_str("Left"),
            KeyCode::Right => f.write_str("Right"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Which keys run which command.
#[derive(Debug, Clone)]
pub struct Keymap {
    by_command: BTreeMap<Command, Vec<KeyBinding>>,
    by_key: HashMap<KeyBinding, Command>,
}

/// Who holds a key while the keymap is built: its command, and the config entry and index that
/// bound it (none for a default).
type Owner<'a> = (Command, Option<(&'a str, usize)>);

/// A problem in the `keys:` section: the command entry, the list index when one key is at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct KeysError {
    pub command: String,
    pub index: Option<usize>,
    pub message: String,
}

impl Keymap {
    pub fn defaults() -> Self {
        Self::build(&BTreeMap::new()).expect("the default keymap has no conflicts")
    }

    /// Config entries replace the default keys of their command; other commands keep theirs.
    /// Errors name the command entry at fault and say why.
    pub fn from_config(keys: &BTreeMap<String, Vec<String>>) -> Result<Self, (String, String)> {
        Self::build(keys).map_err(|e| (e.command, e.message))
    }

    /// The keymap for a `keys:` section, or what is wrong with it (the config checks name the
    /// command entry and the key at fault).
    pub fn build(keys: &BTreeMap<String, Vec<String>>) -> Result<Self, KeysError> {
        let err = |command: &str, index, message: String| KeysError { command: command.to_string(), index, message };
        let mut by_command = BTreeMap::new();
        // key -> (command, where it came from in the config, if it did)
        let mut owners: HashMap<KeyBinding, Owner> = HashMap::new();
        for (name, list) in keys {
            let command = Command::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
                err(name, None, format!("unknown command {name:?} (known: {})", known.join(", ")))
            })?;
            let mut bindings = Vec::new();
            for (index, text) in list.iter().enumerate() {
                let binding = KeyBinding::parse(text).map_err(|m| err(name, Some(index), m))?;
                if let Some((other, _)) = owners.get(&binding).filter(|(other, _)| *other != command) {
                    return Err(err(name, Some(index), format!("{binding} is already bound to {}", other.name())));
                }
                owners.insert(binding, (command, Some((name.as_str(), index))));
                if !bindings.contains(&binding) {
                    bindings.push(binding);
                }
            }
            by_command.insert(command, bindings);
        }
        for command in Command::ALL {
            if by_command.contains_key(&command) {
                continue;
            }
            let mut bindings = Vec::new();
            for text in command.default_keys() {
                let binding = KeyBinding::parse(text).expect("default key names parse");
                match owners.get(&binding) {
                    Some((_, Some((name, index)))) => {
                        return Err(err(
                            name,
                            Some(*index),
                            format!(
                                "{binding} is already bound to {0} by default (give {0} other keys under keys: to free it)",
                                command.name()
                            ),
                        ));
                    }
                    Some((other, None)) => {
                        return Err(err(command.name(), None, format!("default {binding} is also {}", other.name())));
                    }
                    None => {}
                }
                owners.insert(binding, (command, None));
                bindings.push(binding);
            }
            by_command.insert(command, bindings);
        }
        let by_key = owners.into_iter().map(|(key, (command, _))| (key, command)).collect();
        Ok(Self { by_command, by_key })
    }

    /// The command a key press runs. Releases run nothing.
    pub fn lookup(&self, event: &KeyEvent) -> Option<Command> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        self.by_key.get(&KeyBinding::from_event(event)).copied()
    }

    /// The keys of a command, in the order they were given (the first is the one hints show).
    pub fn keys_for(&self, command: Command) -> Vec<KeyBinding> {
        self.by_command.get(&command).cloned().unwrap_or_default()
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Self::defaults()
    }
}
