//! Saved conversations in the session: the store's replies, `/model` and `/export` typed in the
//! message box, and copy. Pure, like the rest of `update`: the store's work is asked for with
//! `Effect::Store` and answered with `Action::Store`. The conversations view, the resume offer
//! and `/` search are panes (`panes::conversations`, `panes::resume`, `panes::search`).
use super::saving::{load_into, snapshot};
use super::{Effect, NoticeLevel, Session};
use llamadeck_store::{ExportFormat, Reply, Request};

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

/// The commands the message box runs, for messages that name them.
pub const COMMANDS: &str = "/model PATH, /export md or /export json";

/// What the message box's text turned out to be.
pub enum Slash {
    /// A message to send.
    Text,
    /// A command that ran: the box is emptied.
    Ran(Vec<Effect>),
    /// A command that was refused (unknown, or missing its argument): the text stays.
    Refused(Vec<Effect>),
}

/// Runs `text` when it is a slash command. Text like `/word ...` with an unknown word is
/// refused, kept in the box, rather than sent to the model.
pub fn slash_command(state: &mut Session, text: &str) -> Slash {
    let Some(rest) = text.trim().strip_prefix('/') else { return Slash::Text };
    let (word, arg) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(w, a)| (w, a.trim()));
    if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
        // "/etc/hosts explained" or "/ hello" is text, not a command.
        return Slash::Text;
    }
    match (word, arg) {
        ("model", "") => Slash::Refused(
            state.notice(NoticeLevel::Warn, "/model needs the model's path, e.g. /model /models/llama-2-13b-chat.Q4_K_M.gguf"),
        ),
        ("model", path) => Slash::Ran(vec![Effect::ChooseModel { path: path.to_string() }]),
        ("export", format) => export(state, format),
        (other, _) => Slash::Refused(state.notice(NoticeLevel::Warn, format!("/{other} is not a command: {COMMANDS} (your text is kept)"))),
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
