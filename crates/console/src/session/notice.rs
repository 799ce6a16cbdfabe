//! The status bar's notice: what just happened, in words, until it expires on the clock or the
//! state it describes replaces it; and the session's last notices, kept in full for the notices
//! overlay (F7), since a narrow bar may not hold one whole.
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warn,
    Error,
}

impl NoticeLevel {
    /// How long a notice stays in the status bar: errors long enough to be read on return.
    pub fn lifetime(self) -> Duration {
        Duration::from_secs(match self {
            NoticeLevel::Info => 6,
            NoticeLevel::Warn => 12,
            NoticeLevel::Error => 30,
        })
    }
}

/// What a notice is about: a notice about the model goes when the model's state changes (the
/// chat pane then shows that state itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    Model,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub level: NoticeLevel,
    /// A path shown after the text; a narrow status bar shortens it from the left, keeping
    /// the file name.
    pub path: Option<String>,
    pub shown_at: Instant,
    pub about: About,
}

impl Notice {
    /// Notices quote paths and error messages: they are drawn, so they are sanitized here.
    pub fn new(level: NoticeLevel, text: &str, path: Option<String>, about: About, now: Instant) -> Self {
        let path = path.map(|p| llamadeck_words::text::sanitize(&p).replace('\n', " "));
        Notice { text: llamadeck_words::text::sanitize(text), level, path, shown_at: now, about }
    }

    pub fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.shown_at) >= self.level.lifetime()
    }
}

/// How many notices the history keeps.
pub const NOTICE_HISTORY: usize = 100;

/// The session's last [`NOTICE_HISTORY`] notices, oldest first.
#[derive(Debug, Clone, Default)]
pub struct NoticeLog {
    entries: VecDeque<Notice>,
}

impl NoticeLog {
    pub fn push(&mut self, notice: Notice) {
        if self.entries.len() == NOTICE_HISTORY {
            self.entries.pop_front();
        }
        self.entries.push_back(notice);
    }

    /// Newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Notice> {
        self.entries.iter().rev()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Notice {
    /// The whole notice: its text, then its path.
    pub fn full_text(&self) -> String {
        format!("{}{}", self.text, self.path.as_deref().unwrap_or(""))
    }
}

impl NoticeLevel {
    pub fn word(self) -> &'static str {
        match self {
            NoticeLevel::Info => "info",
            NoticeLevel::Warn => "warning",
            NoticeLevel::Error => "error",
        }
    }
}

/// How long ago `then` was, as a person says it: "just now", "40 s ago", "3 min ago", "2 h ago".
pub fn ago(then: Instant, now: Instant) -> String {
    let secs = now.saturating_duration_since(then).as_secs();
    match secs {
        0..=4 => "just now".into(),
        5..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}
