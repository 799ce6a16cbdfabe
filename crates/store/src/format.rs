//! The file format, version 1: one JSON object a conversation.
//!
//! ```json
//! {"version": 1, "title": null, "created": 1735832592, "updated": 1735832650,
//!  "messages": [{"role": "user", "content": "..."},
//!               {"role": "assistant", "content": "...", "status": "complete", "finish": "stop",
//!                "model": "llama-2-13b-chat", "sampling": {...}, "stats": {...}}]}
//! ```
//! Reading is strict about what it needs (version, roles, contents) and lenient about the rest:
//! a per-answer `sampling` record this build cannot read is dropped, not fatal.
//!
//! An answer regenerated keeps its other versions: the message holds the chosen one, and
//! `earlier` and `later` (left out when empty) the others in the order they were written, each
//! a message of its own. Files written before answers had versions have neither and read as
//! answers with one version; a llamadeck from before reads the chosen one and skips the rest.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use llamadeck_words::chat::{FinishReason, GenStats, Message, MessageStatus, Role};
use llamadeck_words::sampling::Sampling;

pub const VERSION: u64 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct FileV1 {
    pub version: u64,
    #[serde(default)]
    pub title: Option<String>,
    pub created: u64,
    pub updated: u64,
    pub messages: Vec<FileMessage>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileMessage {
    pub role: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The node that wrote an answer, when it was not this console's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<FileStats>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<FileMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later: Vec<FileMessage>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileStats {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    #[serde(default)]
    pub decode_tok_s: Option<f64>,
    #[serde(default)]
    pub prefill_tok_s: Option<f64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_tokens: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn to_file(m: &Message) -> FileMessage {
    let (status, error) = match &m.status {
        MessageStatus::Complete => ("complete", None),
        // An answer still streaming when the file is written was cut short.
        MessageStatus::Streaming | MessageStatus::Stopped => ("stopped", None),
        MessageStatus::Failed(e) => ("failed", Some(e.clone())),
    };
    let is_answer = m.role == Role::Assistant;
    FileMessage {
        role: m.role.name().into(),
        content: m.text.clone(),
        status: is_answer.then(|| status.to_string()),
        error,
        finish: m.finish.map(|f| f.label().to_string()),
        model: m.model.clone(),
        node: m.node.clone(),
        sampling: m.sampling.as_ref().and_then(|s| serde_json::to_value(s).ok()),
        stats: m.stats.as_ref().map(|s| FileStats {
            prompt_tokens: s.prompt_tokens,
            completion_tokens: s.completion_tokens,
            ttft_ms: s.ttft_ms,
            decode_tok_s: s.decode_tok_s.filter(|v| v.is_finite()),
            prefill_tok_s: s.prefill_tok_s.filter(|v| v.is_finite()),
            cached_tokens: s.cached_tokens,
        }),
        earlier: m.versions.earlier.iter().map(to_file).collect(),
        later: m.versions.later.iter().map(to_file).collect(),
    }
}

/// A message as read from disk, every text that may reach the screen sanitized.
pub fn from_file(mut m: FileMessage, index: usize) -> Result<Message, String> {
    let (earlier, later) = (std::mem::take(&mut m.earlier), std::mem::take(&mut m.later));
    let mut message = one_version(m, index)?;
    // A version kept inside another has no versions of its own.
    let version = |v: FileMessage| one_version(FileMessage { earlier: Vec::new(), later: Vec::new(), ..v }, index);
    message.versions.earlier = earlier.into_iter().map(version).collect::<Result<_, _>>()?;
    message.versions.later = later.into_iter().map(version).collect::<Result<_, _>>()?;
    Ok(message)
}

fn one_version(m: FileMessage, index: usize) -> Result<Message, String> {
    let role = Role::from_name(&m.role).ok_or_else(|| format!("message {index}: unknown role {:?}", m.role))?;
    let status = match m.status.as_deref() {
        None | Some("complete") => MessageStatus::Complete,
        Some("stopped") => MessageStatus::Stopped,
        Some("failed") => MessageStatus::Failed(llamadeck_words::text::sanitize(m.error.as_deref().unwrap_or("failed"))),
        Some(other) => return Err(format!("message {index}: unknown status {other:?}")),
    };
    let mut message = Message::new(role, &m.content, status);
    message.finish = m.finish.as_deref().and_then(FinishReason::from_label);
    message.model = m.model.as_deref().map(llamadeck_words::text::sanitize);
    message.node = m.node.as_deref().map(llamadeck_words::text::sanitize);
    message.sampling = m.sampling.and_then(|v| serde_json::from_value::<Sampling>(v).ok());
    message.stats = m.stats.map(|s| GenStats {
        prompt_tokens: s.prompt_tokens,
        completion_tokens: s.completion_tokens,
        ttft_ms: s.ttft_ms,
        decode_tok_s: s.decode_tok_s,
        prefill_tok_s: s.prefill_tok_s,
        cached_tokens: s.cached_tokens,
    });
    Ok(message)
}

/// Why a file cannot be read, in words for the conversations view.
pub fn parse(bytes: &[u8]) -> Result<FileV1, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("empty (truncated)".into());
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| if e.is_eof() { format!("truncated ({e})") } else { format!("corrupt ({e})") })?;
    let version = match value.get("version") {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| format!("unknown version {n}"))?,
        Some(other) => return Err(format!("unknown version {other}")),
        None => return Err("not a llamadeck conversation (no version)".into()),
    };
    if version != VERSION {
        return Err(format!("unknown version {version} (this llamadeck reads version {VERSION})"));
    }
    serde_json::from_value(value).map_err(|e| format!("invalid ({e})"))
}
