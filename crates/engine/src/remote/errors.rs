//! A failed HTTP exchange in the operator's words: what did not answer and why, never the key.
use std::time::Duration;

use serde_json::Value;

use crate::face::{GenError, GenErrorKind};

/// Why a request to `address` got no answer.
pub fn no_answer(address: &str, error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("{address} did not answer within {}", seconds(timeout));
    }
    let cause = why(error);
    if error.is_connect() {
        return format!("cannot connect to {address}: {cause}");
    }
    format!("{address}: {cause}")
}

/// Why `error` happened, in words: its innermost cause, and for a TLS handshake that got
/// something other than TLS back (an http:// server asked for https://), what that means.
pub fn why(error: &reqwest::Error) -> String {
    let cause = innermost(error);
    match tls_failure(error) {
        Some(rustls::Error::InvalidMessage(_)) => format!("is it http? (TLS handshake failed: {cause})"),
        Some(_) => format!("TLS handshake failed: {cause}"),
        None => cause,
    }
}

/// The TLS error somewhere in `error`'s causes. tokio-rustls wraps it in an `io::Error` (itself
/// wrapped in another), whose `source` skips it, so each `io::Error` is looked inside instead.
fn tls_failure<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cause = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &'a (dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
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
    cut(&llamadeck_words::text::sanitize(text.trim()), 300)
}

/// `text` with at most `max` characters, '…' marking a cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() > max { format!("{}…", text.chars().take(max).collect::<String>()) } else { text.to_string() }
}

/// The most of a redirect's `Location` shown: enough to recognise where it points.
const MAX_LOCATION: usize = 200;

/// A redirect in words, for the caller to put the node before ("answered 307 Temporary Redirect
/// to http://…/v1; llamadeck does not follow redirects: put the final URL in the config"); None
/// for a status that is not one. The `Location` is the node's text: sanitized and cut short.
pub fn redirect(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) -> Option<String> {
    if !status.is_redirection() {
        return None;
    }
    let reason = status.canonical_reason().map_or(String::new(), |reason| format!(" {reason}"));
    let to = match headers.get(reqwest::header::LOCATION) {
        Some(location) => {
            let location = llamadeck_words::text::sanitize(&String::from_utf8_lossy(location.as_bytes()));
            format!(" to {}", cut(location.trim(), MAX_LOCATION))
        }
        None => " without a Location".to_string(),
    };
    Some(format!("answered {}{reason}{to}; llamadeck does not follow redirects: put the final URL in the config", status.as_u16()))
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
    fn a_redirect_names_its_location_cleaned_and_cut() {
        use reqwest::StatusCode;
        use reqwest::header::{HeaderMap, HeaderValue, LOCATION};
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, HeaderValue::from_static("http://127.0.0.1:9/v1/chat/completions"));
        assert_eq!(
            redirect(StatusCode::TEMPORARY_REDIRECT, &headers).unwrap(),
            "answered 307 Temporary Redirect to http://127.0.0.1:9/v1/chat/completions; llamadeck does not follow redirects: \
             put the final URL in the config"
        );
        assert!(redirect(StatusCode::MOVED_PERMANENTLY, &HeaderMap::new()).unwrap().starts_with("answered 301 Moved Permanently without"));
        assert_eq!(redirect(StatusCode::OK, &headers), None);
        assert_eq!(redirect(StatusCode::NOT_FOUND, &headers), None);
        // A C1 escape (CSI, which a header may carry as UTF-8) and a very long address.
        let hostile = format!("http://evil/\u{9b}2J{}", "a".repeat(5000));
        headers.insert(LOCATION, HeaderValue::from_bytes(hostile.as_bytes()).unwrap());
        let said = redirect(StatusCode::PERMANENT_REDIRECT, &headers).unwrap();
        assert!(!said.contains('\u{9b}') && said.contains("…;") && said.chars().count() < 320, "{said}");
    }

    /// A plain-HTTP server on port 0 that answers anything with a 400, as an http server
    /// answers a TLS ClientHello.
    fn plain_http_server() -> std::net::SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let _ = stream.read(&mut [0; 4096]);
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        addr
    }

    #[tokio::test]
    async fn https_against_an_http_server_asks_whether_it_is_http() {
        let addr = plain_http_server();
        let client = crate::remote::http::client_builder(Duration::from_secs(5)).build().unwrap();
        let error = client.get(format!("https://{addr}/v1/models")).send().await.unwrap_err();
        let said = no_answer(&addr.to_string(), &error, Duration::from_secs(5));
        assert!(said.starts_with(&format!("cannot connect to {addr}: is it http? (TLS handshake failed: ")), "{said}");
        // Another cause is left as it is.
        let refused = client.get(format!("http://{}/v1/models", closed_port())).send().await.unwrap_err();
        assert!(!why(&refused).contains("TLS"), "{}", why(&refused));
    }

    fn closed_port() -> std::net::SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
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
