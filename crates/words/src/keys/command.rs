//! Commands a key can be bound to, in one table: each row is a command's variant, its name under
//! `keys:` in the config, its default keys (the first is the one hints show), where it applies
//! and what it does. The enum, `Command::ALL`, the config names, the keymap's defaults, the help
//! overlay and the README's key table (a test holds it to this) all read that one table.

/// Where a command does something: the help overlay groups the commands by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Anywhere, over every pane.
    Anywhere,
    /// In the chat: the message box and the conversation.
    Chat,
    /// In the settings pane or on the sampling values.
    Settings,
    /// Opens or closes an overlay.
    Overlay,
}

impl Scope {
    /// The help overlay's heading for the commands of this scope.
    pub fn heading(self) -> &'static str {
        match self {
            Scope::Anywhere => "anywhere",
            Scope::Chat => "in the chat",
            Scope::Settings => "settings",
            Scope::Overlay => "views",
        }
    }
}

/// One row of the command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandRow {
    pub command: Command,
    /// The name under `keys:` in the config.
    pub name: &'static str,
    /// The built-in keys, in `keys:` notation; the first is the one the hint bar shows.
    pub keys: &'static [&'static str],
    pub scope: Scope,
    /// The word the hint bar shows beside the key ("send", "help").
    pub hint: &'static str,
    /// The slash command typed in the message box that runs it too ("clear" for `/clear`;
    /// `keys::slash` lists them with the slash-only ones).
    pub slash: Option<&'static str>,
    /// One line for the help overlay and the README.
    pub describe: &'static str,
}

macro_rules! commands {
    ($($variant:ident $name:literal [$($key:literal),*] $scope:ident $hint:literal $slash:literal $describe:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Command {
            $($variant,)*
        }

        /// Every command, in the order the help overlay lists them.
        pub const TABLE: &[CommandRow] = &[
            $(CommandRow { command: Command::$variant, name: $name, keys: &[$($key),*], scope: Scope::$scope, hint: $hint, slash: if $slash.is_empty() { None } else { Some($slash) }, describe: $describe },)*
        ];

        impl Command {
            pub const ALL: [Command; [$(Command::$variant),*].len()] = [$(Command::$variant),*];
        }
    };
}

commands! {
    // variant        config name      default keys                           scope    hint        slash    what it does
    Send              "send"           ["enter"]                              Chat     "send"      ""       "send the message";
    InsertNewline     "newline"        ["alt+enter", "shift+enter", "ctrl+j"] Chat     "new line"  ""       "new line in the message";
    Stop              "stop"           ["esc"]                                Chat     "stop"      ""       "stop generating (keeps the partial answer)";
    Regenerate        "regenerate"     ["ctrl+r"]                             Chat     "again"     ""       "regenerate the last answer; Alt+← shows the earlier one";
    EditLast          "edit_last"      ["ctrl+e"]                             Chat     "edit"      ""       "edit and resend the last question";
    ClearConversation "clear"          ["ctrl+l"]                             Chat     "new"       "clear"  "start a new conversation (this one stays saved)";
    Conversations     "conversations"  ["f3"]                                 Overlay  "saved"     ""       "saved conversations: open, rename, delete, new";
    Search            "search"         ["/", "ctrl+f"]                        Chat     "search"    ""       "search this conversation (/ twice in an empty box)";
    CopyLast          "copy_last"      ["ctrl+y"]                             Chat     "copy"      ""       "copy the selection, else the last answer (OSC 52)";
    SelectUp          "select_up"      ["alt+up"]                             Chat     "select"    ""       "select the answer or code block above (Esc lets go)";
    SelectDown        "select_down"    ["alt+down"]                           Chat     "select"    ""       "select the answer or code block below";
    OlderVersion      "older_version"  ["alt+left"]                           Chat     "older"     ""       "the selected (else last) answer's earlier version";
    NewerVersion      "newer_version"  ["alt+right"]                          Chat     "newer"     ""       "the selected (else last) answer's later version";
    ScrollUp          "scroll_up"      ["ctrl+up"]                            Chat     "up"        ""       "scroll the chat up a line";
    ScrollDown        "scroll_down"    ["ctrl+down"]                          Chat     "down"      ""       "scroll the chat down a line";
    PageUp            "page_up"        ["pageup"]                             Chat     "page up"   ""       "scroll the chat up a page";
    PageDown          "page_down"      ["pagedown"]                           Chat     "page down" ""       "scroll the chat down a page";
    ScrollTop         "scroll_top"     ["ctrl+home"]                          Chat     "top"       ""       "jump to the start of the chat";
    FollowTail        "follow_tail"    ["ctrl+end"]                           Chat     "follow"    ""       "jump to the newest text and follow it";
    FocusNext         "focus_next"     ["tab"]                                Anywhere "switch"    ""       "switch between chat and settings";
    NextPreset        "next_preset"    ["ctrl+p"]                             Settings "preset"    ""       "apply the next sampling preset";
    SaveSettings      "save_settings"  ["ctrl+s"]                             Settings "save"      ""       "save the sampling settings to the config";
    ReloadModel       "reload_model"   ["f5"]                                 Anywhere "reload"    ""       "read the config again; reload a changed model";
    Fleet             "fleet"          ["f6"]                                 Overlay  "fleet"     ""       "every node's state, load and GPUs; Enter chats with one";
    ApiRequests       "api_requests"   ["f4"]                                 Overlay  "requests"  ""       "show or hide the API's address and recent requests";
    Notices           "notices"        ["f7"]                                 Overlay  "notices"   ""       "show or hide the last 100 notices in full, newest first";
    ToggleHelp        "help"           ["f1", "?"]                            Overlay  "help"      "help"   "show or hide this help";
    Quit              "quit"           ["ctrl+q", "ctrl+c"]                   Anywhere "quit"      ""       "quit (while answering, the first press stops the answer)";
}

impl Command {
    pub fn row(self) -> &'static CommandRow {
        // TABLE lists the variants in declaration order, so a variant's index is its row.
        &TABLE[self as usize]
    }

    /// The name used under `keys:` in the config.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    pub fn from_name(name: &str) -> Option<Command> {
        TABLE.iter().find(|row| row.name == name).map(|row| row.command)
    }

    /// One line for the help overlay.
    pub fn describe(self) -> &'static str {
        self.row().describe
    }

    /// The built-in keys (the first is the one hints show).
    pub fn default_keys(self) -> &'static [&'static str] {
        self.row().keys
    }

    pub fn scope(self) -> Scope {
        self.row().scope
    }

    /// The word the hint bar shows beside the command's key.
    pub fn hint(self) -> &'static str {
        self.row().hint
    }
}

/// The default keys of `row` as the help and the README write them ("Alt+Enter Shift+Enter").
pub fn shown_keys(row: &CommandRow) -> String {
    row.keys.iter().map(|k| super::KeyBinding::parse(k).map_or_else(|_| k.to_string(), |b| b.to_string())).collect::<Vec<_>>().join(" ")
}

/// The README's key table, from the command table (a test holds the README to it).
pub fn readme_table() -> String {
    let mut out = String::from("| keys | command | does |\n|------|---------|------|\n");
    for row in TABLE {
        out.push_str(&format!("| {} | `{}` | {} |\n", shown_keys(row), row.name, row.describe));
    }
    out
}

/// The config file's comment listing each command and its default keys, two a line (a test
/// holds `config/llamadeck.yaml` to it).
pub fn config_comment() -> String {
    let cells: Vec<String> = TABLE
        .iter()
        .map(|row| {
            let keys: Vec<String> =
                row.keys.iter().map(|k| if k.chars().count() == 1 { format!("\"{k}\"") } else { k.to_string() }).collect();
            format!("{}: [{}]", row.name, keys.join(", "))
        })
        .collect();
    cells
        .chunks(2)
        .map(|pair| format!("#   {:<43}{}", pair[0], pair.get(1).map_or("", |s| s.as_str())).trim_end().to_string() + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_its_own_variant_and_names_are_unique() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(row.command as usize, i, "{} is out of order", row.name);
            assert_eq!(Command::from_name(row.name), Some(row.command));
            assert!(!row.keys.is_empty(), "{} has no key", row.name);
        }
        let mut names: Vec<_> = TABLE.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TABLE.len());
        assert_eq!(Command::ALL.len(), TABLE.len());
    }
}
