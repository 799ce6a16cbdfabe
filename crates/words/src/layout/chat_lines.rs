//! The chat pane's line plan: how each message wraps at a text width, what follows the messages
//! (a loading stage, a failed load, the first hint), and which line each message starts on.
//! The chat pane styles these lines; the reducer counts them to page and to show a search match.
use std::borrow::Cow;
use std::ops::Range;

use crate::chat::{Message, MessageStatus, Role};
use crate::text::{line_count, wrap, wrap_ranges};

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

/// One message's body as ranges of its text (plus the streaming cursor), so the chat pane can
/// style parts of a line (search matches) and nothing is copied but a streaming answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Wrapped<'a> {
    /// The message's text, with '▌' at the end while it streams.
    pub text: Cow<'a, str>,
    /// Each body line's range of `text` (the indent not included).
    pub lines: Vec<Range<usize>>,
    /// A failed answer's error, wrapped and indented.
    pub error: Vec<String>,
}

impl Wrapped<'_> {
    pub fn height(&self) -> usize {
        1 + self.lines.len() + self.error.len()
    }
}

/// `message` below its header at a pane text width of `width`: a streaming answer ends in the
/// cursor '▌'; an answer with no text yet has no body line.
pub fn wrapped(message: &Message, width: usize) -> Wrapped<'_> {
    let inner = width.saturating_sub(INDENT.len());
    let text: Cow<str> =
        if message.status == MessageStatus::Streaming { Cow::Owned(format!("{}▌", message.text)) } else { Cow::Borrowed(&message.text) };
    let lines = if text.is_empty() && message.role == Role::Assistant { Vec::new() } else { wrap_ranges(&text, inner) };
    let error = match &message.status {
        MessageStatus::Failed(error) => wrap(&format!("error: {error}"), inner).into_iter().map(|l| format!("{INDENT}{l}")).collect(),
        _ => Vec::new(),
    };
    Wrapped { text, lines, error }
}

/// Lines `message` takes at `width`, its header included: `wrapped(..).height()` without
/// building the lines (a streaming answer, with its cursor, is wrapped as it is drawn).
pub fn height(message: &Message, width: usize) -> usize {
    if message.status == MessageStatus::Streaming || matches!(message.status, MessageStatus::Failed(_)) {
        return wrapped(message, width).height();
    }
    let inner = width.saturating_sub(INDENT.len());
    let body = if message.text.is_empty() && message.role == Role::Assistant { 0 } else { line_count(&message.text, inner) };
    1 + body
}

/// `wrapped` as indented strings.
pub fn body(message: &Message, width: usize) -> Body {
    let w = wrapped(message, width);
    let text = w.lines.iter().map(|r| format!("{INDENT}{}", &w.text[r.clone()])).collect();
    Body { text, error: w.error }
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

/// What a message's height depends on, cheap to compare: an answer's text only grows while it
/// streams, and anything else that changes a message changes its status or its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    role: Role,
    len: usize,
    status: u8,
    error_len: usize,
}

impl Shape {
    fn of(message: &Message) -> Self {
        let (status, error_len) = match &message.status {
            MessageStatus::Complete => (0, 0),
            MessageStatus::Streaming => (1, 0),
            MessageStatus::Stopped => (2, 0),
            MessageStatus::Failed(e) => (3, e.len()),
        };
        Self { role: message.role, len: message.text.len(), status, error_len }
    }
}

/// Where every message starts, and how many lines the whole chat takes, at one width. Kept
/// between key presses (`refresh`): only messages whose shape changed are wrapped again, so a
/// long history is wrapped once per width, not once per key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatPlan {
    /// The line of each message's header; messages are separated by a blank line.
    pub starts: Vec<usize>,
    pub total: usize,
    width: usize,
    /// Which conversation the heights belong to (a new one starts over).
    epoch: u64,
    shapes: Vec<(Shape, usize)>,
}

impl ChatPlan {
    pub fn new(messages: &[Message], notes: &[Note], width: usize) -> Self {
        let mut plan = Self::default();
        plan.refresh(messages, notes, width, 0);
        plan
    }

    /// Brings the plan up to date, wrapping only what changed since the last refresh.
    /// `epoch` names the conversation: messages replaced wholesale must come with a new one.
    pub fn refresh(&mut self, messages: &[Message], notes: &[Note], width: usize, epoch: u64) {
        if width != self.width || epoch != self.epoch || self.starts.len() != self.shapes.len() {
            self.shapes.clear();
            (self.width, self.epoch) = (width, epoch);
        }
        self.shapes.truncate(messages.len());
        for (i, message) in messages.iter().enumerate() {
            let shape = Shape::of(message);
            match self.shapes.get_mut(i) {
                Some((known, _)) if *known == shape => {}
                Some(entry) => *entry = (shape, height(message, width)),
                None => self.shapes.push((shape, height(message, width))),
            }
        }
        self.starts.clear();
        let mut total = 0;
        for (_, height) in &self.shapes {
            if total > 0 {
                total += 1;
            }
            self.starts.push(total);
            total += height;
        }
        self.total = total + note_lines(notes, width, !messages.is_empty()).len();
    }

    /// True when `refresh` with these arguments would change nothing.
    pub fn is_current(&self, messages: &[Message], notes: &[Note], width: usize, epoch: u64) -> bool {
        let messages_total = self.starts.last().zip(self.shapes.last()).map_or(0, |(s, (_, h))| s + h);
        width == self.width
            && epoch == self.epoch
            && self.shapes.len() == messages.len()
            && self.starts.len() == messages.len()
            && self.shapes.iter().zip(messages).all(|((shape, _), m)| *shape == Shape::of(m))
            && self.total == messages_total + note_lines(notes, width, !messages.is_empty()).len()
    }

    /// The first line shown when the last page is on screen.
    pub fn last_top(&self, page_height: usize) -> usize {
        self.total.saturating_sub(page_height)
    }

    /// The message whose lines (its header, or the blank line before it) hold line `line`.
    pub fn message_at(&self, line: usize) -> Option<usize> {
        match self.starts.binary_search(&line) {
            Ok(i) => Some(i),
            Err(0) => None,
            Err(i) => Some(i - 1),
        }
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

    #[test]
    fn a_refreshed_plan_equals_a_fresh_one() {
        let mut messages = vec![Message::user("one two three four"), Message::new(Role::Assistant, "", MessageStatus::Streaming)];
        let mut plan = ChatPlan::new(&messages, &[], 12);
        messages[1].text.push_str("five six seven eight nine");
        assert!(!plan.is_current(&messages, &[], 12, 0));
        plan.refresh(&messages, &[], 12, 0);
        assert_eq!(plan, ChatPlan::new(&messages, &[], 12));
        assert!(plan.is_current(&messages, &[], 12, 0));
        for m in &messages {
            assert_eq!(height(m, 12), wrapped(m, 12).height());
        }
        messages[1].status = MessageStatus::Complete;
        messages.push(Message::user("ten"));
        plan.refresh(&messages, &[], 12, 0);
        assert_eq!(plan, ChatPlan::new(&messages, &[], 12));
        messages.truncate(1);
        plan.refresh(&messages, &[], 7, 0);
        assert_eq!(plan, ChatPlan::new(&messages, &[], 7));
        assert_eq!((plan.message_at(0), plan.message_at(3)), (Some(0), Some(0)));
    }
}
