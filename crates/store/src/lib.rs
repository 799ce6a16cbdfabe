//! Conversations on disk: one JSON file each under `$XDG_DATA_HOME/llamadeck/conversations/`,
//! written atomically after every exchange, listed, opened, renamed, deleted and exported.
//! A file that cannot be read is reported and skipped, and never written over: new
//! conversations always get a fresh name, and only a file that loaded cleanly is saved again.
//!
//! The reducer asks for all of this with `Effect::Store(Request)`; the event loop hands the
//! requests, in order, to one worker thread (`worker`) and feeds its `Reply`s back as actions.
pub mod export;
pub mod format;
pub mod time;
pub mod worker;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use llamadeck_words::chat::{Message, Role};

/// The largest conversation file that is read (a conversation of a thousand long answers is a
/// few MiB); anything bigger is listed as damaged rather than read into memory. The writer
/// holds to the same bound: a conversation that would encode larger is not written (see
/// [`TooLarge`]), so a file the store wrote is always read back.
pub const MAX_CONVERSATION_BYTES: u64 = 64 << 20;

/// A conversation not written because its file would be larger than the reader takes. The
/// file on disk, if any, keeps the conversation as it was last saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// What the file would have taken.
    pub bytes: u64,
    pub limit: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (size, limit) = (llamadeck_words::files::human_size(self.bytes), llamadeck_words::files::human_size(self.limit));
        write!(f, "too large to save ({size}; a saved conversation holds at most {limit})")
    }
}

impl std::error::Error for TooLarge {}

impl TooLarge {
    /// The `TooLarge` inside an error from [`save`], if that is why it failed.
    pub fn of(error: &io::Error) -> Option<&TooLarge> {
        error.get_ref().and_then(|e| e.downcast_ref::<TooLarge>())
    }
}

/// A conversation as the console holds it; `id` is the file name without `.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: Option<String>,
    pub title: Option<String>,
    pub created: Option<u64>,
    pub updated: Option<u64>,
    pub messages: Vec<Message>,
}

/// One row of the conversations view.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub id: String,
    pub title: String,
    pub updated: u64,
    pub model: Option<String>,
    pub turns: usize,
    /// Lower-cased message text, for the search over all conversations.
    pub text: String,
}

/// A file that could not be read: shown in the view, left as it is on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Damaged {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// Newest first.
    pub entries: Vec<Summary>,
    pub damaged: Vec<Damaged>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Json,
}

/// What the reducer asks of the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Write the conversation; one without an id gets a fresh one first (`Reply::Assigned`).
    /// `serial` tells conversations apart before they have an id.
    Save {
        serial: u64,
        conversation: Box<Conversation>,
    },
    List,
    /// The newest readable conversation, to offer resuming it.
    Latest,
    Load(String),
    Rename {
        id: String,
        title: String,
    },
    Delete(String),
    Export {
        format: ExportFormat,
        conversation: Box<Conversation>,
    },
}

/// What comes back, as `Action::Store`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Assigned { serial: u64, id: String, created: u64 },
    Saved(Result<String, String>),
    // A save refused: the file would be larger than MAX_CONVERSATION_BYTES (the file on
    // disk is left as it was).
    TooLarge(TooLarge),
    Listed(Listing),
    Latest(Option<Summary>),
    Loaded(Result<Conversation, String>),
    Renamed(Result<String, String>),
    Deleted(Result<String, String>),
    Exported(Result<PathBuf, String>),
}

/// `$XDG_DATA_HOME/llamadeck` (an absolute XDG_DATA_HOME only), else `~/.local/share/llamadeck`.
pub fn data_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let base = xdg.or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))?;
    Some(base.join("llamadeck"))
}

pub fn conversations_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("conversations")
}

pub fn exports_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("exports")
}

/// A name no file in `dir` has yet: `20250102-154312-a3f9`.
pub fn new_id(dir: &Path, now: u64) -> String {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut n = (seed ^ std::process::id().rotate_left(16)) & 0xffff;
    loop {
        let id = format!("{}-{n:04x}", time::compact(now));
        if !file_path(dir, &id).exists() {
            return id;
        }
        n = (n + 1) & 0xffff;
    }
}

fn file_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json"))
}

/// Ids are file stems the store made; anything else (a path, a dot file) is refused.
fn check_id(id: &str) -> io::Result<()> {
    let ok = !id.is_empty() && !id.starts_with('.') && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad conversation id {id:?}"))) }
}

/// Writes `conversation` (which must have an id) as `dir/ID.json`, atomically. One that would
/// be larger than [`MAX_CONVERSATION_BYTES`] is refused ([`TooLarge`]), the file left as it was.
pub fn save(dir: &Path, conversation: &Conversation, now: u64) -> io::Result<()> {
    save_within(dir, conversation, now, MAX_CONVERSATION_BYTES)
}

/// [`save`] with the size bound as a parameter, so that tests can hold it to [`load_within`].
fn save_within(dir: &Path, conversation: &Conversation, now: u64, limit: u64) -> io::Result<()> {
    let id = conversation.id.as_deref().unwrap_or_default();
    check_id(id)?;
    let bytes = encode(conversation, now)?;
    // The reader refuses a file over its limit: writing one would lose the whole conversation.
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, TooLarge { bytes: bytes.len() as u64, limit }));
    }
    llamadeck_words::files::write_private(&file_path(dir, id), &bytes)
}

/// The file's bytes for `conversation`, written at `now`.
fn encode(conversation: &Conversation, now: u64) -> io::Result<Vec<u8>> {
    let file = format::FileV1 {
        version: format::VERSION,
        title: conversation.title.clone(),
        created: conversation.created.unwrap_or(now),
        updated: now,
        messages: conversation.messages.iter().map(format::to_file).collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

pub fn load(dir: &Path, id: &str) -> Result<Conversation, String> {
    load_within(dir, id, MAX_CONVERSATION_BYTES)
}

fn load_within(dir: &Path, id: &str, limit: u64) -> Result<Conversation, String> {
    check_id(id).map_err(|e| e.to_string())?;
    let path = file_path(dir, id);
    // A FIFO or a link to a device here must not block the store's one thread or fill memory.
    let bytes = llamadeck_words::files::read_limited(&path, limit).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = format::parse(&bytes)?;
    let messages = file
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| format::from_file(m, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid ({e})"))?;
    Ok(Conversation {
        id: Some(id.to_string()),
        title: file.title.map(|t| llamadeck_words::text::sanitize(&t)),
        created: Some(file.created),
        updated: Some(file.updated),
        messages,
    })
}

/// The title a conversation is listed under: its own, else its first question's first line.
pub fn title_of(conversation: &Conversation) -> String {
    let own = conversation.title.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let first = || conversation.messages.iter().find(|m| m.role == Role::User).and_then(|m| m.text.lines().find(|l| !l.trim().is_empty()));
    let title = own.or_else(first).unwrap_or("(no question)").trim();
    title.chars().take(200).collect()
}

pub fn summary(conversation: &Conversation) -> Summary {
    let model = conversation.messages.iter().rev().find_map(|m| m.model.clone());
    let mut text = String::new();
    for m in &conversation.messages {
        text.push_str(&m.text.to_lowercase());
        text.push('\n');
    }
    Summary {
        id: conversation.id.clone().unwrap_or_default(),
        title: title_of(conversation),
        updated: conversation.updated.or(conversation.created).unwrap_or(0),
        model,
        turns: conversation.messages.iter().filter(|m| m.role == Role::User).count(),
        text,
    }
}

/// Every `*.json` in `dir`, newest first; unreadable ones in `damaged`. A missing folder is empty.
pub fn list(dir: &Path) -> Listing {
    let mut listing = Listing::default();
    for id in ids(dir) {
        match load(dir, &id) {
            Ok(c) => listing.entries.push(summary(&c)),
            Err(reason) => listing.damaged.push(Damaged { file: format!("{id}.json"), reason: llamadeck_words::text::sanitize(&reason) }),
        }
    }
    listing.entries.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| b.id.cmp(&a.id)));
    listing
}

fn ids(dir: &Path) -> Vec<String> {
    let Ok(read) = fs::read_dir(dir) else { return Vec::new() };
    let mut ids: Vec<String> = read
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_string))
        .filter(|id| check_id(id).is_ok())
        .collect();
    ids.sort();
    ids
}

/// The most recently written conversation that loads, checking files newest (by mtime) first.
pub fn latest(dir: &Path) -> Option<Summary> {
    let mut by_time: Vec<(std::time::SystemTime, String)> = ids(dir)
        .into_iter()
        .filter_map(|id| {
            let modified = fs::metadata(file_path(dir, &id)).and_then(|m| m.modified()).ok()?;
            Some((modified, id))
        })
        .collect();
    by_time.sort_by(|a, b| b.cmp(a));
    by_time.into_iter().find_map(|(_, id)| load(dir, &id).ok()).map(|c| summary(&c))
}

/// Sets the title of a conversation that loads cleanly (a damaged file is never rewritten).
pub fn rename(dir: &Path, id: &str, title: &str, now: u64) -> Result<(), String> {
    let mut conversation = load(dir, id)?;
    let title = llamadeck_words::text::sanitize(title).replace('\n', " ");
    conversation.title = Some(title.trim().to_string()).filter(|t| !t.is_empty());
    save(dir, &conversation, conversation.updated.unwrap_or(now)).map_err(|e| e.to_string())
}

pub fn delete(dir: &Path, id: &str) -> Result<(), String> {
    check_id(id).map_err(|e| e.to_string())?;
    fs::remove_file(file_path(dir, id)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
