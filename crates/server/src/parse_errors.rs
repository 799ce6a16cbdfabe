//! OpenAI error bodies for the requests hyper answers itself. A request hyper cannot parse (a
//! malformed or conflicting `Content-Length`, a bad request line or header, headers over its
//! limits, a URL too long) never reaches axum: hyper writes `400`, `414` or `431` with an empty
//! body and closes the connection, and has no hook to change that. Those are the only 4xx heads
//! with `content-length: 0` this server writes (every answer of ours carries a JSON body), so
//! this writer recognises them and sends the same status with an OpenAI error body instead.
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::ApiError;

/// A connection whose empty 4xx heads from hyper get an error body.
pub struct ParseErrorBodies<T> {
    inner: T,
    /// A replacement being written: its bytes, how many went out, and the length of the
    /// original buffer to report once all did.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<T> ParseErrorBodies<T> {
    pub fn new(inner: T) -> Self {
        Self { inner, replacing: None }
    }
}

/// The status of a whole response head with an empty body and a 4xx status: one of hyper's own.
fn hyper_error_status(buf: &[u8]) -> Option<StatusCode> {
    let text = std::str::from_utf8(buf).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let code = lines.next()?.strip_prefix("HTTP/1.")?.get(2..5)?.parse::<u16>().ok()?;
    let status = StatusCode::from_u16(code).ok().filter(StatusCode::is_client_error)?;
    lines.any(|l| l.eq_ignore_ascii_case("content-length: 0")).then_some(status)
}

fn message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "the request's headers are too large: at most 100 headers and about 400 KiB in all",
        StatusCode::URI_TOO_LONG => "the request's URL is too long",
        _ => "the request is not valid HTTP/1.1: a malformed request line or header, or a missing, invalid or repeated Content-Length",
    }
}

/// The same status with a JSON body; the connection still closes.
fn with_body(status: StatusCode) -> Vec<u8> {
    let body = ApiError::new(status, "invalid_request_error", message(status)).body().to_string();
    let reason = status.canonical_reason().unwrap_or("Bad Request");
    format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        body.len()
    )
    .into_bytes()
}

impl<T: AsyncRead + Unpin> AsyncRead for ParseErrorBodies<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ParseErrorBodies<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            match hyper_error_status(buf) {
                Some(status) => this.replacing = Some((with_body(status), 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        let Some((bytes, written, original)) = this.replacing.as_mut() else { unreachable!() };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let reported = (*original).min(buf.len());
        this.replacing = None;
        Poll::Ready(Ok(reported))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_empty_error_heads_are_replaced() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 04:00:00 GMT\r\n\r\n";
        assert_eq!(hyper_error_status(hyper_431), Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        let hyper_400 =
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 04:00:00 GMT\r\n\r\n";
        assert_eq!(hyper_error_status(hyper_400), Some(StatusCode::BAD_REQUEST));
        // Ours: a body follows, or the status is not a client error.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n{\"error\":{}}";
        assert_eq!(hyper_error_status(ours), None);
        assert_eq!(hyper_error_status(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(hyper_error_status(b"data: [DONE]\r\n\r\n"), None);
        let replaced = String::from_utf8(with_body(StatusCode::BAD_REQUEST)).unwrap();
        let (head, body) = replaced.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n") && head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains("Content-Length"), "{v}");
    }
}
