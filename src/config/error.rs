//! The one error type of config loading: where (file, line, column, field) and what.
use std::fmt;
use std::path::{Path, PathBuf};

/// A config problem, shown before the terminal is touched as `path:line:col: field: message`.
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
}

impl ConfigError {
    /// An error about the file as a whole (unreadable, missing).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self { path: path.to_path_buf(), line: None, column: None, field: None, message: message.into() }
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
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Turns a serde_yaml error (wrapped by serde_path_to_error) into a ConfigError.
///
/// serde_yaml's Display appends " at line L column C" and may prefix its own path; both are
/// carried separately here, so they are cut from the message.
pub(crate) fn from_yaml(path: &Path, err: serde_path_to_error::Error<serde_yaml::Error>) -> ConfigError {
    // Unknown segments (non-string keys, or a syntax error before any key) name nothing useful.
    let segments: Vec<String> = err
        .path()
        .iter()
        .filter(|s| !matches!(s, serde_path_to_error::Segment::Unknown))
        .map(segment_text)
        .collect();
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
    ConfigError {
        path: path.to_path_buf(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        field: (!segments.is_empty()).then(|| join_segments(&segments)),
        message,
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
