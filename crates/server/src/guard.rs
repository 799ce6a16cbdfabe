//! What a request must be before a handler sees it: addressed to a host this server answers
//! for, from no web page or one in `cors_origins`, with a JSON body when it posts one, and that
//! body complete within the body deadline.
//!
//! The host check stops DNS rebinding (a web page whose name is made to resolve to 127.0.0.1
//! would otherwise reach a keyless loopback API; Ollama's advisory is the precedent). Any IP
//! address is accepted as `Host`: a rebinding attack sends the attacker's *name*, never an
//! address. The content-type check stops a web page's form post, which browsers send to any
//! address without asking (`text/plain`, form encodings).
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::BODY_LIMIT;
use super::error::ApiError;

/// The names and origins a server answers for.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// `server.host`, as configured.
    pub host: String,
    /// `server.allowed_hosts`: more host names; "*" allows any.
    pub allowed_hosts: Vec<String>,
    /// `server.cors_origins`: web pages allowed to call; "*" allows any.
    pub cors_origins: Vec<String>,
}

/// The host name of a `Host` header value: no port, no IPv6 brackets, lower case.
fn host_name(value: &str) -> String {
    let value = value.trim();
    let name = match value.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        // More than one colon: a bare IPv6 address, no port.
        None if value.matches(':').count() > 1 => value,
        None => value.rsplit_once(':').map_or(value, |(name, _)| name),
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Guard {
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        let configured = host_name(&self.host);
        name == "localhost"
            || name.ends_with(".localhost")
            || name.parse::<std::net::IpAddr>().is_ok()
            || name == configured
            || self.allowed_hosts.iter().any(|h| h == "*" || host_name(h) == name)
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.cors_origins.iter().any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(host) = headers.get(header::HOST) {
            let host = host.to_str().unwrap_or("");
            if !self.host_allowed(host) {
                return Err(ApiError::forbidden(
                    format!(
                        "requests addressed to host {host:?} are refused: this server answers for localhost, IP addresses \
                         and {:?}; add the name to server.allowed_hosts to allow it",
                        self.host
                    ),
                    "host_not_allowed",
                ));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origin_allowed(origin) {
                return Err(ApiError::forbidden(
                    format!("requests from web pages at {origin:?} are refused: add the origin to server.cors_origins to allow it"),
                    "origin_not_allowed",
                ));
            }
        }
        Ok(())
    }
}

/// 403 for a host or origin this server does not answer for.
pub async fn hosts_and_origins(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    match guard.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Statuses that refuse a client rather than answer it: the connection is closed after them.
/// Otherwise a client that is refused (no key, a path that does not exist) could keep sending
/// cheap requests on idle keep-alive connections, each restarting the header timer, and hold
/// every connection slot.
const REFUSALS: [StatusCode; 5] = [
    StatusCode::UNAUTHORIZED,
    StatusCode::FORBIDDEN,
    StatusCode::NOT_FOUND,
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::SERVICE_UNAVAILABLE,
];

/// `Connection: close` on a refusal: hyper closes the connection once the response is written.
pub async fn close_after_refusal(mut response: Response) -> Response {
    if REFUSALS.contains(&response.status()) {
        response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    response
}

/// Whether a `Content-Type` value is JSON: `application/json`, any case, any parameters
/// (clients send `application/json; charset=utf-8`).
pub fn is_json(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// 415 for a POST whose body is not declared as JSON.
pub async fn json_posts(request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let given = request.headers().get(header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if !given.as_deref().is_some_and(is_json) {
            let got = given.map_or("none".to_string(), |g| format!("{g:?}"));
            return ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                format!("the request body must be JSON, sent with `Content-Type: application/json` (got {got})"),
            )
            .code("unsupported_media_type")
            .into_response();
        }
    }
    next.run(request).await
}

enum BodyError {
    TooLarge,
    Broken(axum::Error),
}

async fn collect(body: Body) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Broken)?;
        if bytes.len() + chunk.len() > BODY_LIMIT {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

/// Reads the whole body before the handler runs: 413 over the limit (at once when
/// `Content-Length` says so), 408 when it does not arrive within the body deadline.
pub async fn read_body(State(deadline): State<Duration>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return ApiError::too_large().into_response();
    }
    let bytes = match tokio::time::timeout(deadline, collect(body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(BodyError::TooLarge)) => return ApiError::too_large().into_response(),
        Ok(Err(BodyError::Broken(e))) => {
            return ApiError::invalid("", format!("the request body could not be read: {e}")).into_response();
        }
        Err(_) => {
            let message = format!("the request body did not arrive within {} s (server.body_timeout_secs)", deadline.as_secs_f64());
            return ApiError::new(StatusCode::REQUEST_TIMEOUT, "invalid_request_error", message).code("request_timeout").into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_without_ports_and_brackets() {
        assert_eq!(host_name("localhost:8229"), "localhost");
        assert_eq!(host_name("[::1]:8229"), "::1");
        assert_eq!(host_name("::1"), "::1");
        assert_eq!(host_name("GPU-Box.lan."), "gpu-box.lan");
        let guard = Guard { host: "gpu-box.lan".into(), allowed_hosts: vec!["api.example:443".into()], cors_origins: vec![] };
        for ok in
            ["localhost", "LOCALHOST:80", "app.localhost", "127.0.0.1:8229", "[::1]:8229", "10.0.0.5", "gpu-box.lan:8229", "api.example"]
        {
            assert!(guard.host_allowed(ok), "{ok}");
        }
        for refused in ["evil.example", "localhost.evil.example", "gpu-box.lan.evil.example", ""] {
            assert!(!guard.host_allowed(refused), "{refused}");
        }
        assert!(Guard { allowed_hosts: vec!["*".into()], ..Guard::default() }.host_allowed("anything.example"));
    }

    #[test]
    fn json_with_or_without_parameters() {
        for ok in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8", " application/json "] {
            assert!(is_json(ok), "{ok}");
        }
        for refused in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", ""] {
            assert!(!is_json(refused), "{refused}");
        }
    }
}
