//! The status bar's notice: what just happened, in words, until it expires on the clock or the
//! state it describes replaces it.
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
