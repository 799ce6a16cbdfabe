//! The one error type of config loading: where (file, line, column, field) and what.
use std::fmt;
use std::path::{Path, PathBuf};

use super::locate::{Seg, locate_nth_key};

/// The most problems one file reports at once.
pub const MAX_REPORTED: usize = 20;

/// A config problem, shown before the terminal is touched as `path:line:col: field: message`;
/// with the file's other problems (`others`), one line each, in line order.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based, when the problem has a place in the file.
    pub line: Option<usize>,
    /// 1-based, counted in characters.
    pub column: Option<usize>,
    /// Dotted path of the offending key, like `sampling.temperature` or `keys.quit`.
    pub field: Option<String>,
    pub message: String,
    /// The file's other problems, after this one in line order (at most [`MAX_REPORTED`] in all).
    /// (A boxed slice keeps every `Result<_, ConfigError>` small.)
    pub others: Box<[ConfigError]>,
}

impl ConfigError {
    /// An error about the file as a whole (unreadable, missing).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self { path: path.to_path_buf(), line: None, column: None, field: None, message: message.into(), others: Box::default() }
    }

    /// One error holding all of `errors` (not empty): sorted by line (those without a line last),
    /// the same problem once, at most [`MAX_REPORTED`].
    pub(crate) fn all(mut errors: Vec<ConfigError>) -> ConfigError {
        errors.sort_by_key(|e| (e.line.unwrap_or(usize::MAX), e.column.unwrap_or(0)));
        errors.dedup();
        errors.truncate(MAX_REPORTED);
        let mut first = errors.remove(0);
        first.others = errors.into_boxed_slice();
        first
    }

    /// This problem and the others, in line order.
    pub fn each(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(self).chain(self.others.iter())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)?;
        for other in &self.others {
            write!(f, "\n{other}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Turns a serde_yaml error (wrapped by serde_path_to_error) about `text` into a ConfigError,
/// in plain words, at the line the user must edit.
///
/// serde_yaml's Display appends " at line L column C" and may prefix its own path; both are
/// carried separately here, so they are cut from the message.
pub(crate) fn from_yaml(path: &Path, text: &str, err: serde_path_to_error::Error<serde_yaml::Error>) -> ConfigError {
    // Unknown segments (non-string keys, or a syntax error before any key) name nothing useful.
    let segments: Vec<String> =
        err.path().iter().filter(|s| !matches!(s, serde_path_to_error::Segment::Unknown)).map(segment_text).collect();
    let inner = err.into_inner();
    let location = inner.location();
    let mut message = inner.to_string();
    if let Some(loc) = &location {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        if let Some(at) = message.find(&suffix) {
            message.replace_range(at..at + suffix.len(), "");
        }
    }
    // serde_yaml names the path of the value (or of the map, for a bad key): drop that prefix.
    for len in (1..=segments.len()).rev() {
        let prefix = format!("{}: ", join_segments(&segments[..len]));
        if let Some(rest) = message.strip_prefix(&prefix) {
            message = rest.to_string();
            break;
        }
    }
    let field = join_segments(&segments);
    let mut error = ConfigError {
        path: path.to_path_buf(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message: super::words::rephrase(&message, &field),
        field: (!segments.is_empty()).then_some(field),
        others: Box::default(),
    };
    if let Some(key) = message.strip_prefix("duplicate field `").and_then(|m| m.strip_suffix('`')) {
        given_twice(&mut error, text, &segments, key);
    } else if message.starts_with("invalid type: ") || message.starts_with("invalid value: ") {
        indented_into_the_value(&mut error, text);
    }
    error
}

/// serde reports a key given twice at the start of its mapping; point at the second one.
fn given_twice(error: &mut ConfigError, text: &str, segments: &[String], key: &str) {
    if segments.iter().any(|s| s.starts_with('[')) {
        return;
    }
    let mut path: Vec<Seg> = segments.iter().map(|s| Seg::key(s)).collect();
    path.push(Seg::key(key));
    let (Some(first), Some(again)) = (locate_nth_key(text, &path, 0), locate_nth_key(text, &path, 1)) else { return };
    (error.line, error.column) = (Some(again.0), Some(again.1));
    let mut names = segments.to_vec();
    names.push(key.to_string());
    error.field = Some(join_segments(&names));
    error.message = format!("given a second time (first on line {}); keep one", first.0);
}

/// A line indented deeper than the key above it is read as more of that key's plain value
/// (`interval_ms: 500` then `    history_secs: 60` gives "500 history_secs"); serde then
/// complains about the value on the line above, but the line to edit is the deeper one.
fn indented_into_the_value(error: &mut ConfigError, text: &str) {
    let Some(line) = error.line else { return };
    let lines: Vec<&str> = text.lines().collect();
    let Some(here) = lines.get(line.wrapping_sub(1)) else { return };
    let indent = here.len() - here.trim_start_matches(' ').len();
    let Some((_, value)) = here.trim_start().split_once(": ") else { return };
    let value = value.trim_start();
    if value.is_empty() || value.starts_with(['#', '"', '\'', '|', '>', '[', '{', '&', '*', '!']) {
        return;
    }
    for (row, next) in lines.iter().enumerate().skip(line) {
        let content = next.trim_start_matches(' ');
        if content.trim().is_empty() {
            continue;
        }
        let next_indent = next.len() - content.len();
        if next_indent > indent && !content.starts_with('#') {
            (error.line, error.column) = (Some(row + 1), Some(next_indent + 1));
            error.message.push_str(&format!(
                ": this line is indented more than line {line}, so YAML read it as part of that value; \
                 indent it like the keys around it"
            ));
        }
        return;
    }
}

fn segment_text(segment: &serde_path_to_error::Segment) -> String {
    use serde_path_to_error::Segment;
    match segment {
        Segment::Seq { index } => format!("[{index}]"),
        Segment::Map { key } => key.clone(),
        Segment::Enum { variant } => variant.clone(),
        Segment::Unknown => String::new(),
    }
}

/// `a.b[0].c`, the way both serde_yaml and serde_path_to_error print paths.
pub(crate) fn join_segments(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}
