//! Saved conversations in the session: the store's replies, and the slash commands typed in the
//! message box (`/set`, `/save`, `/load`, `/model`, `/export`...), and what copy says. Pure, like the rest of `update`: the store's work is asked for with
//! `Effect::Store` and answered with `Action::Store`. The conversations view, the resume offer
//! and `/` search are panes (`panes::conversations`, `panes::resume`, `panes::search`).
use super::presets::changed_by_hand;
use super::saving;
use super::saving::{load_into, snapshot};
use super::{Effect, NoticeLevel, Session};
use llamadeck_store::{ExportFormat, Listing, Reply, Request, Summary};
use llamadeck_words::keys::Command;
use llamadeck_words::keys::slash::{self, Arg, Runs};
use llamadeck_words::sampling::Field;

/// Whether the conversations view, when open, should list the folder again after `reply` (a
/// file it showed could not be opened, renamed or deleted).
pub fn relists(reply: &Reply) -> bool {
    matches!(reply, Reply::Loaded(Err(_)) | Reply::Renamed(Err(_)) | Reply::Deleted(Err(_)))
}

/// The store's reply, as far as the session is concerned (the conversations view's listing and
/// the resume offer are the panes', in `app::update`).
pub fn on_store(state: &mut Session, reply: Reply) -> Vec<Effect> {
    match reply {
        Reply::Assigned { serial, id, created } => {
            let meta = &mut state.chat.meta;
            if serial == meta.serial && meta.id.is_none() {
                meta.id = Some(id);
                meta.created = Some(created);
            }
            Vec::new()
        }
        Reply::Saved(Ok(_)) | Reply::Listed(_) | Reply::Latest(_) => Vec::new(),
        Reply::Saved(Err(e)) => state.notice(NoticeLevel::Error, format!("conversation not saved: {e}")),
        Reply::TooLarge(refused) => super::saving::too_large(state, &refused),
        Reply::Loaded(Ok(c)) => {
            if state.answering() {
                return state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then open it again");
            }
            load_into(state, c);
            Vec::new()
        }
        Reply::Loaded(Err(e)) => state.notice(NoticeLevel::Error, format!("cannot open that conversation: {e}")),
        Reply::Renamed(Ok(_)) => state.notice(NoticeLevel::Info, "conversation renamed"),
        Reply::Deleted(Ok(_)) => state.notice(NoticeLevel::Info, "conversation deleted"),
        Reply::Renamed(Err(e)) | Reply::Deleted(Err(e)) => state.notice(NoticeLevel::Error, e),
        Reply::Exported(Ok(path)) => state.path_notice(NoticeLevel::Info, "exported to ", &path),
        Reply::Exported(Err(e)) => state.notice(NoticeLevel::Error, format!("export failed: {e}")),
    }
}

/// What the message box's text turned out to be.
pub enum Slash {
    /// A message to send.
    Text,
    /// A command that ran: the box is emptied.
    Ran(Vec<Effect>),
    /// A command that was refused (unknown, or missing its argument): the text stays.
    Refused(Vec<Effect>),
    /// A command of the command table (`/help`, `/clear`): the box is emptied and it runs as
    /// its key does.
    Key(Command),
}

/// Runs `text` when it is a slash command (`keys::slash` lists them). Text like `/word ...`
/// with an unknown word is refused, kept in the box, rather than sent to the model.
pub fn slash_command(state: &mut Session, text: &str) -> Slash {
    let Some(rest) = text.trim().strip_prefix('/') else { return Slash::Text };
    let (word, arg) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(w, a)| (w, a.trim()));
    if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
        // "/etc/hosts explained" or "/ hello" is text, not a command.
        return Slash::Text;
    }
    let Some(command) = slash::find(word) else {
        let text = format!("/{word} is not a command: type / to see them all (your text is kept)");
        return Slash::Refused(state.notice(NoticeLevel::Warn, text));
    };
    match command.runs {
        Runs::Key(_) if !arg.is_empty() => Slash::Refused(state.notice(NoticeLevel::Warn, format!("/{word} takes nothing after it"))),
        Runs::Key(key) => Slash::Key(key),
        Runs::Arg(Arg::Model) if arg.is_empty() => {
            Slash::Refused(state.notice(
                NoticeLevel::Warn,
                "/model needs the model's path, e.g. /model /models/llama-2-13b-chat.Q4_K_M.gguf (Tab completes)",
            ))
        }
        Runs::Arg(Arg::Model) => Slash::Ran(vec![Effect::ChooseModel { path: arg.to_string() }]),
        Runs::Arg(Arg::Export) => export(state, arg),
        Runs::Arg(Arg::System) => set(state, Field::SystemPrompt, arg),
        Runs::Arg(Arg::Set) => set_named(state, arg),
        Runs::Arg(Arg::Save) => save_named(state, arg),
        Runs::Arg(Arg::Load) => load_named(state, arg),
    }
}

/// `/set FIELD VALUE`: any sampling field, read and checked as the settings pane does.
fn set_named(state: &mut Session, arg: &str) -> Slash {
    let (name, value) = arg.split_once(char::is_whitespace).map_or((arg, ""), |(n, v)| (n, v.trim()));
    match Field::from_name(name) {
        Some(field) => set(state, field, value),
        None => {
            let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            let what = if name.is_empty() { "/set needs a field and a value".to_string() } else { format!("/set: no field {name:?}") };
            Slash::Refused(state.notice(NoticeLevel::Warn, format!("{what}: {} (Tab completes)", names.join(", "))))
        }
    }
}

fn set(state: &mut Session, field: Field, value: &str) -> Slash {
    let before = state.sampling.clone();
    if let Err(e) = state.sampling.set_from_text(field, value) {
        return Slash::Refused(state.notice(NoticeLevel::Warn, format!("/set {e}; {} stays {}", field.name(), before.display(field))));
    }
    if state.sampling != before {
        changed_by_hand(state);
    }
    let shown = match state.sampling.display(field) {
        text if text.is_empty() => "none".to_string(),
        text => text,
    };
    let save = state.key_for(Command::SaveSettings);
    Slash::Ran(state.notice(NoticeLevel::Info, format!("{} {shown} ({save} saves it to the config)", field.name())))
}

/// `/save NAME`: the conversation takes that title and is saved now.
fn save_named(state: &mut Session, name: &str) -> Slash {
    if name.is_empty() {
        return Slash::Refused(
            state.notice(NoticeLevel::Warn, "/save needs a name, e.g. /save gpu sizing (conversations save themselves anyway)"),
        );
    }
    let name = llamadeck_words::text::sanitize(name);
    state.chat.meta.title = Some(name.clone());
    let effects = saving::save(&state.chat);
    if effects.is_empty() {
        return Slash::Ran(
            state.notice(NoticeLevel::Info, format!("this conversation will be saved as \"{name}\" with its first question")),
        );
    }
    let mut out = effects;
    out.extend(state.notice(NoticeLevel::Info, format!("saved as \"{name}\" (/load {name} opens it again)")));
    Slash::Ran(out)
}

/// `/load NAME`: the store lists the conversations, and the one of that title is opened
/// (`loaded_named` when the listing comes).
fn load_named(state: &mut Session, name: &str) -> Slash {
    if name.is_empty() {
        return Slash::Refused(state.notice(NoticeLevel::Warn, "/load needs a conversation's name (Tab completes; F3 lists them)"));
    }
    if state.answering() {
        return Slash::Refused(state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load"));
    }
    state.chat.pending_load = Some(name.to_string());
    Slash::Ran(vec![Effect::Store(Request::List)])
}

/// The listing a `/load NAME` asked for: opens the conversation titled NAME (letters compared
/// without case; else the only one whose title starts so; else the one with that id).
pub fn listed(state: &mut Session, listing: &Listing) -> Vec<Effect> {
    let Some(name) = state.chat.pending_load.take() else { return Vec::new() };
    let lower = name.to_lowercase();
    let exact: Vec<&Summary> = listing.entries.iter().filter(|s| s.title.to_lowercase() == lower).collect();
    let starting: Vec<&Summary> = listing.entries.iter().filter(|s| s.title.to_lowercase().starts_with(&lower)).collect();
    let by_id = listing.entries.iter().find(|s| s.id == name);
    let chosen = match (exact.as_slice(), starting.as_slice()) {
        ([one], _) | ([], [one]) => Some(*one),
        ([], []) => by_id,
        _ => {
            let key = state.key_for(Command::Conversations);
            return state.notice(NoticeLevel::Warn, format!("several conversations are called \"{name}\": {key} lists them"));
        }
    };
    match chosen {
        Some(summary) => vec![Effect::Store(Request::Load(summary.id.clone()))],
        None => {
            let key = state.key_for(Command::Conversations);
            state.notice(NoticeLevel::Warn, format!("no saved conversation is called \"{name}\": {key} lists them"))
        }
    }
}

fn export(state: &mut Session, format: &str) -> Slash {
    let format = match format {
        "md" | "markdown" | "" => ExportFormat::Markdown,
        "json" => ExportFormat::Json,
        other => return Slash::Refused(state.notice(NoticeLevel::Warn, format!("/export {other}: say md or json"))),
    };
    Slash::Ran(match snapshot(&state.chat) {
        Some(conversation) => vec![Effect::Store(Request::Export { format, conversation: Box::new(conversation) })],
        None => state.notice(NoticeLevel::Info, "nothing to export yet"),
    })
}

pub fn on_copied(state: &mut Session, result: Result<usize, String>) -> Vec<Effect> {
    match result {
        Ok(chars) => state.notice(NoticeLevel::Info, format!("{} copied ({chars} characters, OSC 52)", state.chat.copying)),
        Err(e) => state.notice(NoticeLevel::Error, format!("copy failed: {e}")),
    }
}
