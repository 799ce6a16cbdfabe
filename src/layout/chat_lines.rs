//! The chat pane's line plan: how each message wraps at a text width, what follows the messages
//! (a loading stage, a failed load, the first hint), and which line each message starts on.
//! The chat pane styles these lines; the reducer counts them to page and to show a search match.
use crate::chat::{Message, MessageStatus, Role};
use crate::text::wrap;

/// Columns between the pane's edge and a message's text.
pub const INDENT: &str = "  ";

/// How a note after the messages is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Warn,
    Error,
    Dim,
}

/// One paragraph shown after the messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub text: String,
    pub tone: Tone,
}

/// The lines of one message below its header, wrapped and indented.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub text: Vec<String>,
    /// A failed answer's error.
    pub error: Vec<String>,
}

impl Body {
    /// Lines the message takes, its header included.
    pub fn height(&self) -> usize {
        1 + self.text.len() + self.error.len()
    }
}

/// `message` below its header at a pane text width of `width`: a streaming answer ends in the
/// cursor '▌'; an answer with no text yet has no body line.
pub fn body(message: &Message, width: usize) -> Body {
    let inner = width.saturating_sub(INDENT.len());
    let indent = |lines: Vec<String>| lines.into_iter().map(|l| format!("{INDENT}{l}")).collect::<Vec<_>>();
    let mut text = message.text.clone();
    if message.status == MessageStatus::Streaming {
        text.push('▌');
    }
    let text = if text.is_empty() && message.role == Role::Assistant { Vec::new() } else { indent(wrap(&text, inner)) };
    let error = match &message.status {
        MessageStatus::Failed(error) => indent(wrap(&format!("error: {error}"), inner)),
        _ => Vec::new(),
    };
    Body { text, error }
}

/// The notes as lines: `None` is a blank separator, before each paragraph that has something above
/// it (`after_messages` says the messages are above the first).
pub fn note_lines(notes: &[Note], width: usize, after_messages: bool) -> Vec<Option<(String, Tone)>> {
    let inner = width.saturating_sub(INDENT.len());
    let mut out = Vec::new();
    for (i, note) in notes.iter().enumerate() {
        if i > 0 || after_messages {
            out.push(None);
        }
        out.extend(wrap(&note.text, inner).into_iter().map(|l| Some((format!("{INDENT}{l}"), note.tone))));
    }
    out
}

/// Where every message starts, and how many lines the whole chat takes, at one width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPlan {
    /// The line of each message's header; messages are separated by a blank line.
    pub starts: Vec<usize>,
    pub total: usize,
}

impl ChatPlan {
    pub fn new(messages: &[Message], notes: &[Note], width: usize) -> Self {
        let mut starts = Vec::with_capacity(messages.len());
        let mut total = 0;
        for message in messages {
            if total > 0 {
                total += 1;
            }
            starts.push(total);
            total += body(message, width).height();
        }
        total += note_lines(notes, width, !messages.is_empty()).len();
        Self { starts, total }
    }

    /// The first line shown when the last page is on screen.
    pub fn last_top(&self, page_height: usize) -> usize {
        self.total.saturating_sub(page_height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_after_a_blank_line_and_notes_follow() {
        let messages = vec![Message::user("hello world"), Message::new(Role::Assistant, "", MessageStatus::Streaming)];
        let plan = ChatPlan::new(&messages, &[], 9);
        // "you" + "  hello" + "  world", blank, "llama" + "  ▌"
        assert_eq!(plan.starts, vec![0, 4]);
        assert_eq!(plan.total, 6);
        let note = Note { text: "loading".into(), tone: Tone::Warn };
        assert_eq!(ChatPlan::new(&messages, std::slice::from_ref(&note), 9).total, 8);
        assert_eq!(ChatPlan::new(&[], &[note.clone(), note], 40).total, 3);
    }

    #[test]
    fn a_failed_answer_shows_its_error_and_an_empty_answer_no_body() {
        let failed = Message::new(Role::Assistant, "", MessageStatus::Failed("boom".into()));
        assert_eq!(body(&failed, 20), Body { text: vec![], error: vec!["  error: boom".into()] });
        assert_eq!(body(&Message::new(Role::Assistant, "", MessageStatus::Complete), 20).height(), 1);
    }
}
