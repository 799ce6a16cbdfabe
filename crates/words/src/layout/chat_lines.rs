//! The chat pane's line plan: how each message wraps at a text width, what follows the messages
//! (a loading stage, a failed load, the first hint), and which line each message starts on.
//! The chat pane styles these lines; the reducer counts them to page and to show a search match.
use std::ops::Range;

use super::markdown::{self, Shown};
use crate::chat::{Message, MessageStatus, Role};
use crate::text::{line_count, str_width, wrap, wrap_ranges};

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

/// One row of a message's body: `range` of its shown text, on shown line `line`, the first
/// row of that line or one it wrapped onto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub range: Range<usize>,
    pub line: usize,
    pub first: bool,
}

/// One message's body as the chat shows it: the shown text (an answer's markdown rendered, see
/// `markdown`; a question as typed), its rows at a width, and a failed answer's error.
#[derive(Debug, Clone, PartialEq)]
pub struct Wrapped {
    pub shown: Shown,
    pub rows: Vec<Row>,
    /// A failed answer's error, wrapped and indented.
    pub error: Vec<String>,
}

impl Wrapped {
    /// Lines the message takes, its header included.
    pub fn height(&self) -> usize {
        1 + self.rows.len() + self.error.len()
    }

    /// What is drawn before `row`, after the indent (a bullet, a quote bar, a gutter).
    pub fn prefix(&self, row: &Row) -> &str {
        let line = &self.shown.lines[row.line];
        if row.first { &line.lead } else { &line.hang }
    }

    /// The row that shows byte `at` of the shown text (the last row when past the end).
    pub fn row_of(&self, at: usize) -> usize {
        self.rows.iter().position(|r| r.range.end > at).unwrap_or(self.rows.len().saturating_sub(1))
    }
}

/// The text of `message` as shown: an answer's markdown rendered, anything else as written.
pub fn shown(message: &Message) -> Shown {
    match message.role {
        Role::Assistant => markdown::render(&message.text),
        _ => markdown::plain(&message.text),
    }
}

/// The text of `message` as shown, without copying it when it shows as written (a question,
/// an answer in prose): what search looks in.
pub fn shown_text(message: &Message) -> std::borrow::Cow<'_, str> {
    shown_text_known(message, as_written(message))
}

/// Whether `message` shows as written: a question, or an answer in prose (see `markdown`).
pub fn as_written(message: &Message) -> bool {
    message.role != Role::Assistant || markdown::is_prose(&message.text)
}

/// `shown_text` when whether it shows as written is known (`ChatPlan::as_written`).
pub fn shown_text_known(message: &Message, as_written: bool) -> std::borrow::Cow<'_, str> {
    if as_written {
        return std::borrow::Cow::Borrowed(&message.text);
    }
    std::borrow::Cow::Owned(markdown::render(&message.text).text)
}

/// `message` below its header at a pane text width of `width`: a streaming answer ends in the
/// cursor '▌'; an answer with no text yet has no body line.
pub fn wrapped(message: &Message, width: usize) -> Wrapped {
    let inner = width.saturating_sub(INDENT.len());
    let shown = match (&message.status, message.role) {
        (MessageStatus::Streaming, Role::Assistant) => markdown::render(&format!("{}▌", message.text)),
        (_, Role::Assistant) if message.text.is_empty() => Shown::default(),
        _ => shown(message),
    };
    let rows = rows(&shown, inner);
    let error = match &message.status {
        MessageStatus::Failed(error) => wrap(&format!("error: {error}"), inner).into_iter().map(|l| format!("{INDENT}{l}")).collect(),
        _ => Vec::new(),
    };
    Wrapped { shown, rows, error }
}

/// The rows of `shown` at `width` columns: prose breaks between words, code at any character
/// (its spaces are kept); what goes before a line takes its width from every row of it.
pub fn rows(shown: &Shown, width: usize) -> Vec<Row> {
    let mut out = Vec::new();
    for (line, l) in shown.lines.iter().enumerate() {
        let room = width.saturating_sub(str_width(&l.lead)).max(1);
        let text = &shown.text[l.range.clone()];
        let ranges = if l.code { glyph_ranges(text, room) } else { wrap_ranges(text, room) };
        for (i, r) in ranges.into_iter().enumerate() {
            out.push(Row { range: l.range.start + r.start..l.range.start + r.end, line, first: i == 0 });
        }
    }
    out
}

/// `text` cut every `width` columns, whatever the characters (always one range at least).
fn glyph_ranges(text: &str, width: usize) -> Vec<Range<usize>> {
    use unicode_width::UnicodeWidthChar;
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width && used > 0 {
            out.push(start..i);
            (start, used) = (i, 0);
        }
        used += w;
    }
    out.push(start..text.len());
    out
}

/// Lines `message` takes at `width`, its header included: `wrapped(..).height()`, counted
/// without building the lines of a question or an answer in prose (most of a long history).
pub fn height(message: &Message, width: usize) -> usize {
    height_known(message, width, as_written(message))
}

fn height_known(message: &Message, width: usize, as_written: bool) -> usize {
    if !as_written || message.status != MessageStatus::Complete {
        return wrapped(message, width).height();
    }
    // An answer in prose shows as written, but for the spaces that end it (see `markdown`).
    1 + line_count(message.text.trim_end_matches(' '), width.saturating_sub(INDENT.len()))
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
    /// Which version of an answer is chosen: another one may be as long.
    version: usize,
}

impl Shape {
    fn of(message: &Message) -> Self {
        let (status, error_len) = match &message.status {
            MessageStatus::Complete => (0, 0),
            MessageStatus::Streaming => (1, 0),
            MessageStatus::Stopped => (2, 0),
            MessageStatus::Failed(e) => (3, e.len()),
        };
        Self { role: message.role, len: message.text.len(), status, error_len, version: message.versions.position() }
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
    /// Each message's shape, height, and whether it shows as written.
    shapes: Vec<(Shape, usize, bool)>,
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
            let measure = || {
                let written = as_written(message);
                (shape, height_known(message, width, written), written)
            };
            match self.shapes.get_mut(i) {
                Some((known, _, _)) if *known == shape => {}
                Some(entry) => *entry = measure(),
                None => self.shapes.push(measure()),
            }
        }
        self.starts.clear();
        let mut total = 0;
        for (_, height, _) in &self.shapes {
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
        let messages_total = self.starts.last().zip(self.shapes.last()).map_or(0, |(s, (_, h, _))| s + h);
        width == self.width
            && epoch == self.epoch
            && self.shapes.len() == messages.len()
            && self.starts.len() == messages.len()
            && self.shapes.iter().zip(messages).all(|((shape, _, _), m)| *shape == Shape::of(m))
            && self.total == messages_total + note_lines(notes, width, !messages.is_empty()).len()
    }

    /// Whether message `index` (`message`) shows as written, as measured when the plan last saw
    /// it as it is (a search then skips looking at each answer's bytes again).
    pub fn as_written(&self, index: usize, message: &Message) -> bool {
        match self.shapes.get(index) {
            Some((shape, _, written)) if *shape == Shape::of(message) => *written,
            _ => as_written(message),
        }
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
        let failed = wrapped(&Message::new(Role::Assistant, "", MessageStatus::Failed("boom".into())), 20);
        assert_eq!((failed.rows.len(), failed.error), (0, vec!["  error: boom".to_string()]));
        assert_eq!(wrapped(&Message::new(Role::Assistant, "", MessageStatus::Complete), 20).height(), 1);
    }

    /// The rows as drawn: indent, what goes before the row, then its text.
    fn drawn(message: &Message, width: usize) -> Vec<String> {
        let w = wrapped(message, width);
        w.rows.iter().map(|r| format!("{INDENT}{}{}", w.prefix(r), &w.shown.text[r.range.clone()])).collect()
    }

    #[test]
    fn an_answer_wraps_as_rendered_and_a_question_as_typed() {
        let text = "**Bold** words in a list:\n\n- first item that wraps\n\n```sh\necho one two three\n```";
        let answer = Message::new(Role::Assistant, text, MessageStatus::Complete);
        assert_eq!(
            drawn(&answer, 18),
            ["  Bold words in a ", "  list:", "  ", "  • first item ", "    that wraps", "  ", "  ╭─ sh", "  │ echo one two t", "  │ hree"]
        );
        assert_eq!(height(&answer, 18), 10);
        let prose = Message::new(Role::Assistant, "plain words that wrap here and there  ", MessageStatus::Complete);
        assert_eq!(height(&prose, 12), wrapped(&prose, 12).height());
        let question = Message::user(text);
        assert_eq!(drawn(&question, 18)[0], "  **Bold** words ");
        assert_eq!(height(&question, 18), wrapped(&question, 18).height());
    }

    #[test]
    fn a_streaming_answer_ends_in_the_cursor_even_in_code() {
        let answer = Message::new(Role::Assistant, "```py\nprint(1)", MessageStatus::Streaming);
        assert_eq!(drawn(&answer, 30), ["  ╭─ py", "  │ print(1)▌"]);
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
        // Another version of the same length is another shape.
        let mut flipped = messages.clone();
        flipped[1].versions.earlier.push(Message::new(Role::Assistant, "x", MessageStatus::Complete));
        assert!(!plan.is_current(&flipped, &[], 12, 0));
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
