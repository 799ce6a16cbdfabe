//! What the help overlay lists, generated from the live keymap so it always tells the truth.
//! Here rather than in the view: the reducer scrolls it and needs to know how long it is.
use llamadeck_words::keys::{Command, Keymap};

/// One help line: a heading, a key and what it does, a plain note, or a blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpRow {
    Heading(&'static str),
    Key { keys: String, what: &'static str },
    Note(&'static str),
    Blank,
}

/// Keys the settings pane handles itself (not remappable).
const SETTINGS_KEYS: [(&str, &str); 5] = [
    ("↑ ↓", "choose a setting (the preset is the first row)"),
    ("← → - +", "step the value (preset row: next preset, or custom)"),
    ("Enter", "type a value (Enter saves, Esc cancels)"),
    ("Tab", "back to the message box"),
    ("Ctrl+S", "save the values in the config (F5 reads it again)"),
];

pub fn rows(keymap: &Keymap) -> Vec<HelpRow> {
    let mut out = vec![HelpRow::Heading("keys (change them under keys: in the config)")];
    for command in Command::ALL {
        let keys: Vec<String> = keymap.keys_for(command).iter().map(|k| k.to_string()).collect();
        let keys = if keys.is_empty() { "unbound".into() } else { keys.join(" ") };
        out.push(HelpRow::Key { keys, what: command.describe() });
    }
    out.push(HelpRow::Blank);
    out.push(HelpRow::Heading("in the settings pane"));
    out.extend(SETTINGS_KEYS.iter().map(|(k, what)| HelpRow::Key { keys: k.to_string(), what }));
    out.push(HelpRow::Blank);
    out.push(HelpRow::Heading("commands, typed in the message box"));
    out.push(HelpRow::Key { keys: "/model PATH".into(), what: "load another model; the current one answers meanwhile" });
    out.push(HelpRow::Key { keys: "/export md|json".into(), what: "write this conversation under exports/" });
    out.push(HelpRow::Note("a / key in an empty message box starts a command; press it again to search"));
    out
}

/// Lines of help on screen for a terminal `height` rows high (the overlay's border aside).
pub fn page_height(rows: usize, height: u16) -> usize {
    (rows + 2).min(height as usize).saturating_sub(2)
}
