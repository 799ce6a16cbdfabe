//! A failed HTTP exchange in the operator's words: what did not answer and why, never the key.
use std::time::Duration;

use serde_json::Value;

use crate::face::{GenError, GenErrorKind};

/// Why a request to `address` got no answer.
pub fn no_answer(address: &str, error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("{address} did not answer within {}", seconds(timeout));
    }
    let cause = innermost(error);
    if error.is_connect() {
        return format!("cannot connect to {address}: {cause}");
    }
    format!("{address}: {cause}")
}

/// The innermost cause: "Connection refused (os error 111)" rather than reqwest's outer words.
pub fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0} s") } else { format!("{s:.1} s") }
}

/// The message in an OpenAI-style error body (`{"error": {"message": ...}}`, or llama.cpp's and
/// FastAPI's `{"detail": ...}`), else the body's first line, cut short.
pub fn error_message(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(v) => {
            let error = v.get("error").unwrap_or(&v);
            match error.get("message").or_else(|| error.get("detail")).unwrap_or(error) {
                Value::String(s) => s.clone(),
                Value::Object(_) => String::new(),
                other => other.to_string(),
            }
        }
        Err(_) => body.lines().next().unwrap_or("").to_string(),
    };
    let text = llamadeck_words::text::sanitize(text.trim());
    if text.chars().count() > 300 { format!("{}…", text.chars().take(300).collect::<String>()) } else { text }
}

/// A refused request: the HTTP status says whose problem it is.
pub fn refused(node: &str, status: u16, body: &str) -> GenError {
    let message = error_message(body);
    let said = if message.is_empty() { String::new() } else { format!(": {message}") };
    let context_full = message.contains("context length") || message.contains("context_length") || message.contains("maximum context");
    let kind = match status {
        400 | 413 | 422 if context_full => GenErrorKind::ContextFull,
        400 | 404 | 413 | 422 => GenErrorKind::Invalid,
        503 => GenErrorKind::NotReady,
        _ => GenErrorKind::Engine,
    };
    let what = match status {
        401 | 403 => format!("{node} refused the API key ({status}){said}"),
        _ => format!("{node} answered {status}{said}"),
    };
    GenError::new(kind, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_each_server_read_as_their_message() {
        assert_eq!(error_message(r#"{"error":{"message":"bad top_p","type":"invalid_request_error"}}"#), "bad top_p");
        assert_eq!(
            error_message(r#"{"object":"error","message":"This model's maximum context length is 4096 tokens","code":400}"#),
            "This model's maximum context length is 4096 tokens"
        );
        assert_eq!(error_message(r#"{"detail":"Invalid API Key"}"#), "Invalid API Key");
        assert_eq!(error_message("<html>\n<body>502</body>"), "<html>");
        assert_eq!(error_message(""), "");
    }

    #[test]
    fn statuses_become_kinds() {
        let full = refused("a", 400, r#"{"message":"This model's maximum context length is 4096 tokens"}"#);
        assert_eq!(full.kind, GenErrorKind::ContextFull);
        assert_eq!(refused("a", 401, "{}").message, "a refused the API key (401)");
        assert_eq!(refused("a", 503, "").kind, GenErrorKind::NotReady);
        assert_eq!(refused("a", 500, "boom").message, "a answered 500: boom");
    }
}
