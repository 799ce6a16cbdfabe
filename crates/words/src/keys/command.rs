//! Commands a key can be bound to. One vocabulary serves the keymap, the config's `keys:`
//! section and the help overlay.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    Quit,
    Send,
    InsertNewline,
    Stop,
    FocusNext,
    ToggleHelp,
    ApiRequests,
    Fleet,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    ScrollTop,
    FollowTail,
    Regenerate,
    EditLast,
    ClearConversation,
    NextPreset,
    SaveSettings,
    ReloadModel,
    Conversations,
    Search,
    CopyLast,
}

impl Command {
    pub const ALL: [Command; 23] = [
        Command::Send,
        Command::InsertNewline,
        Command::Stop,
        Command::Regenerate,
        Command::EditLast,
        Command::ClearConversation,
        Command::Conversations,
        Command::Search,
        Command::CopyLast,
        Command::ScrollUp,
        Command::ScrollDown,
        Command::PageUp,
        Command::PageDown,
        Command::ScrollTop,
        Command::FollowTail,
        Command::FocusNext,
        Command::NextPreset,
        Command::SaveSettings,
        Command::ReloadModel,
        Command::Fleet,
        Command::ApiRequests,
        Command::ToggleHelp,
        Command::Quit,
    ];

    /// The name used under `keys:` in the config.
    pub fn name(self) -> &'static str {
        match self {
            Command::Quit => "quit",
            Command::Send => "send",
            Command::InsertNewline => "newline",
            Command::Stop => "stop",
            Command::FocusNext => "focus_next",
            Command::ToggleHelp => "help",
            Command::ApiRequests => "api_requests",
            Command::Fleet => "fleet",
            Command::ScrollUp => "scroll_up",
            Command::ScrollDown => "scroll_down",
            Command::PageUp => "page_up",
            Command::PageDown => "page_down",
            Command::ScrollTop => "scroll_top",
            Command::FollowTail => "follow_tail",
            Command::Regenerate => "regenerate",
            Command::EditLast => "edit_last",
            Command::ClearConversation => "clear",
            Command::NextPreset => "next_preset",
            Command::SaveSettings => "save_settings",
            Command::ReloadModel => "reload_model",
            Command::Conversations => "conversations",
            Command::Search => "search",
            Command::CopyLast => "copy_last",
        }
    }

    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// One line for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Command::Quit => "quit (while answering, the first press stops the answer)",
            Command::Send => "send the message",
            Command::InsertNewline => "new line in the message",
            Command::Stop => "stop generating (keeps the partial answer)",
            Command::FocusNext => "switch between chat and settings",
            Command::ToggleHelp => "show or hide this help",
            Command::ApiRequests => "show or hide the API's address and recent requests",
            Command::Fleet => "every node's state, load and GPUs; Enter chats with one",
            Command::ScrollUp => "scroll the chat up a line",
            Command::ScrollDown => "scroll the chat down a line",
            Command::PageUp => "scroll the chat up a page",
            Command::PageDown => "scroll the chat down a page",
            Command::ScrollTop => "jump to the start of the chat",
            Command::FollowTail => "jump to the newest text and follow it",
            Command::Regenerate => "regenerate the last answer with current settings",
            Command::EditLast => "edit and resend the last question",
            Command::ClearConversation => "start a new conversation (this one stays saved)",
            Command::NextPreset => "apply the next sampling preset",
            Command::SaveSettings => "save the sampling settings to the config",
            Command::ReloadModel => "load the model again (after fixing the config)",
            Command::Conversations => "saved conversations: open, rename, delete, new",
            Command::Search => "search this conversation (/ twice in an empty box)",
            Command::CopyLast => "copy the last answer to your clipboard (OSC 52)",
        }
    }
}
