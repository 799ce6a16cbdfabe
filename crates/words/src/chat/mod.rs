//! The words of a conversation, shared by every floor above: roles and messages, how an answer
//! ended and what it cost. The engine takes `ChatMessage`s; the console, the store and the
//! exports keep `Message`s, which also carry an answer's status, settings, model and stats.
use crate::sampling::Sampling;

pub type RequestId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The OpenAI name, also the one saved conversations use.
    pub fn name(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        [Role::System, Role::User, Role::Assistant].into_iter().find(|r| r.name() == name)
    }
}

/// One message of a request to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// An API client's tool turn: the calls an assistant message made, or, on the user's side
    /// of the conversation, a tool's result (OpenAI's `tool` role). The console's have none.
    pub tool: Option<ToolTurn>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolTurn {
    /// The tools an assistant message called.
    Calls(Vec<ToolCall>),
    /// The result of call `call_id` (its text is the message's content).
    Result { call_id: String },
}

/// One call of a tool, as OpenAI writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text.
    pub arguments: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    Stopped,
    Error,
}

impl FinishReason {
    pub fn label(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Stopped => "stopped",
            FinishReason::Error => "error",
        }
    }

    pub fn from_label(label: &str) -> Option<FinishReason> {
        [FinishReason::Stop, FinishReason::Length, FinishReason::Stopped, FinishReason::Error].into_iter().find(|f| f.label() == label)
    }
}

/// Per-answer statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenStats {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub ttft_ms: Option<u64>,
    /// Tokens after the first divided by the time since the first.
    pub decode_tok_s: Option<f64>,
    pub prefill_tok_s: Option<f64>,
    /// Prompt tokens the engine took from its prefix cache instead of reading them again.
    pub cached_tokens: usize,
}

impl GenStats {
    /// "42 tok · 31.2 tok/s · ttft 180 ms", as answer headers and exports show it.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} tok", self.completion_tokens)];
        if let Some(rate) = self.decode_tok_s {
            parts.push(format!("{rate:.1} tok/s"));
        }
        if let Some(ttft) = self.ttft_ms {
            parts.push(format!("ttft {ttft} ms"));
        }
        if self.cached_tokens > 0 {
            parts.push(format!("{} of {} prompt tok cached", self.cached_tokens, self.prompt_tokens));
        }
        parts.join(" · ")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MessageStatus {
    Complete,
    Streaming,
    /// Stopped by the user; the partial answer is kept.
    Stopped,
    Failed(String),
}

/// A message as the console shows and saves it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    /// Already sanitized: safe to draw.
    pub text: String,
    pub status: MessageStatus,
    pub request: Option<RequestId>,
    pub stats: Option<GenStats>,
    pub finish: Option<FinishReason>,
    /// For an answer: the settings and the model it was generated with (saved with it).
    pub sampling: Option<Sampling>,
    pub model: Option<String>,
    /// For an answer from another node (the fleet pane's choice): that node's name.
    pub node: Option<String>,
    /// An answer's other versions (regenerating keeps them); this message is the chosen one.
    pub versions: Versions,
}

/// The versions of an answer besides the chosen one, in the order they were written: the
/// chosen one is version `earlier.len() + 1` of `earlier.len() + later.len() + 1`. The ones
/// kept here have no versions of their own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Versions {
    pub earlier: Vec<Message>,
    pub later: Vec<Message>,
}

impl Versions {
    /// How many versions the answer has, the chosen one included.
    pub fn count(&self) -> usize {
        self.earlier.len() + self.later.len() + 1
    }

    /// Which one is chosen, from 1.
    pub fn position(&self) -> usize {
        self.earlier.len() + 1
    }
}

impl Message {
    pub fn user(text: &str) -> Self {
        Self::new(Role::User, text, MessageStatus::Complete)
    }

    pub fn new(role: Role, text: &str, status: MessageStatus) -> Self {
        Self {
            role,
            text: crate::text::sanitize(text),
            status,
            request: None,
            stats: None,
            finish: None,
            sampling: None,
            model: None,
            versions: Versions::default(),
            node: None,
        }
    }

    /// Chooses the version before (`older`) or after the chosen one; false when there is none.
    pub fn choose_version(&mut self, older: bool) -> bool {
        let mut versions = std::mem::take(&mut self.versions);
        let next = if older { versions.earlier.pop() } else { (!versions.later.is_empty()).then(|| versions.later.remove(0)) };
        let Some(next) = next else {
            self.versions = versions;
            return false;
        };
        let left = std::mem::replace(self, next);
        if older {
            versions.later.insert(0, left);
        } else {
            versions.earlier.push(left);
        }
        self.versions = versions;
        true
    }

    /// Every version in the order they were written, the chosen one in its place, none of them
    /// holding versions.
    pub fn into_versions(mut self) -> Vec<Message> {
        let Versions { mut earlier, later } = std::mem::take(&mut self.versions);
        earlier.push(self);
        earlier.extend(later);
        earlier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in [Role::System, Role::User, Role::Assistant] {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        for f in [FinishReason::Stop, FinishReason::Length, FinishReason::Stopped, FinishReason::Error] {
            assert_eq!(FinishReason::from_label(f.label()), Some(f));
        }
        assert_eq!(Role::from_name("tool"), None);
    }

    #[test]
    fn versions_flip_in_order_and_keep_every_one() {
        let answer = |text: &str| Message::new(Role::Assistant, text, MessageStatus::Complete);
        let mut m = answer("three");
        m.versions.earlier = vec![answer("one"), answer("two")];
        assert_eq!((m.versions.position(), m.versions.count()), (3, 3));
        assert!(!m.choose_version(false), "no newer one");
        assert!(m.choose_version(true));
        assert_eq!((m.text.as_str(), m.versions.position()), ("two", 2));
        assert!(m.choose_version(true) && !m.choose_version(true));
        assert_eq!((m.text.as_str(), m.versions.position()), ("one", 1));
        assert!(m.choose_version(false));
        let texts: Vec<String> = m.into_versions().into_iter().map(|v| v.text).collect();
        assert_eq!(texts, ["one", "two", "three"]);
    }

    #[test]
    fn stats_summary_leaves_out_what_is_unknown() {
        let stats = GenStats { completion_tokens: 42, decode_tok_s: Some(31.24), ttft_ms: Some(180), ..GenStats::default() };
        assert_eq!(stats.summary(), "42 tok · 31.2 tok/s · ttft 180 ms");
        assert_eq!(GenStats::default().summary(), "0 tok");
        let cached = GenStats { prompt_tokens: 480, cached_tokens: 412, ..stats };
        assert_eq!(cached.summary(), "42 tok · 31.2 tok/s · ttft 180 ms · 412 of 480 prompt tok cached");
    }
}
