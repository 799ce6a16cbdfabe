//! The conversation: its messages, which saved conversation it is, the answer being generated,
//! the context meter, where the chat is scrolled to and the line plan that scrolling reads.
use std::borrow::Cow;

use llamadeck_words::chat::{GenStats, Message, RequestId, Role};
use llamadeck_words::layout::chat_lines::{ChatPlan, Note};

/// Which conversation the chat shows, as far as the store is concerned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationMeta {
    /// The file it is saved in; none until the store gives it one.
    pub id: Option<String>,
    pub title: Option<String>,
    pub created: Option<u64>,
    /// Changes whenever the chat starts another conversation, so a late id from the store
    /// is never given to the wrong one.
    pub serial: u64,
}

/// What is selected in the chat: an answer, or one of its code blocks (by its index among the
/// answer's code blocks as rendered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub message: usize,
    pub block: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Chat {
    pub messages: Vec<Message>,
    /// Which saved conversation this is (none until its first save).
    pub meta: ConversationMeta,
    /// The answer being generated.
    pub generating: Option<RequestId>,
    pub next_request: RequestId,
    /// Tokens of the last request's prompt and answer, for the context meter.
    pub context_used: usize,
    /// `context_used` is not the engine's count for this model yet: an answer still streaming
    /// (its tokens counted as they arrive), or a count read from a saved conversation.
    pub context_estimated: bool,
    /// First wrapped chat line on screen when the user scrolled away; `None` follows the tail.
    pub scroll_top: Option<usize>,
    /// The answer or code block chosen with Alt+↑/↓ (`session::selection`), if any.
    pub selected: Option<Selected>,
    /// A `/load NAME` waiting for the store's listing.
    pub pending_load: Option<String>,
    /// What the last copy put on the clipboard ("answer", "code block"), for its notice.
    pub copying: &'static str,
    /// The chat's line plan, kept up to date by `update` while something reads it (a scrolled
    /// chat, a search), so a key press never re-wraps the whole history.
    pub plan: ChatPlan,
}

impl Default for Chat {
    fn default() -> Self {
        Self {
            messages: Vec::new(),
            meta: ConversationMeta::default(),
            generating: None,
            next_request: 1,
            context_used: 0,
            context_estimated: false,
            scroll_top: None,
            selected: None,
            pending_load: None,
            copying: "last answer",
            plan: ChatPlan::default(),
        }
    }
}

impl Chat {
    /// The stats of the newest answer that has them.
    pub fn last_stats(&self) -> Option<&GenStats> {
        self.messages.iter().rev().find_map(|m| m.stats.as_ref())
    }

    /// The newest answer's own stats, for the chat pane's footer: none while it streams or
    /// when it was stopped before the engine counted it (never an older answer's).
    pub fn newest_answer_stats(&self) -> Option<&GenStats> {
        self.messages.iter().rev().find(|m| m.role == Role::Assistant).and_then(|m| m.stats.as_ref())
    }

    /// The line plan with `notes` after the messages at `width`: the kept one when it is up to
    /// date, else a fresh one.
    pub fn plan_at(&self, notes: &[Note], width: usize) -> Cow<'_, ChatPlan> {
        if self.plan.is_current(&self.messages, notes, width, self.meta.serial) {
            return Cow::Borrowed(&self.plan);
        }
        let mut plan = self.plan.clone();
        plan.refresh(&self.messages, notes, width, self.meta.serial);
        Cow::Owned(plan)
    }

    /// Brings the kept line plan up to date (wrapping only what changed).
    pub fn refresh_plan(&mut self, notes: &[Note], width: usize) {
        self.plan.refresh(&self.messages, notes, width, self.meta.serial);
    }
}
