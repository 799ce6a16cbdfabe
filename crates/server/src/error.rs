//! OpenAI-style error bodies: `{"error": {"message", "type", "param", "code"}}`, for every
//! 4xx/5xx the API answers, including those made by axum and tower-http (see `openai_errors`).
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), kind, param: None, code: None }
    }

    /// 400 `invalid_request_error` about one field.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        let param = param.into();
        Self { param: (!param.is_empty()).then_some(param), ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message) }
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "missing or wrong API key: send `Authorization: Bearer <server.api_key>`",
        )
        .code("invalid_api_key")
    }

    /// 503 while the model loads (or after loading failed), naming the stage.
    pub fn not_ready(what: String) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", what).code("model_not_ready")
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// 403: a host or origin this server does not answer for.
    pub fn forbidden(message: impl Into<String>, code: &'static str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "invalid_request_error", message).code(code)
    }

    /// 503 for an answer still running when the shutdown grace is over.
    pub fn shutting_down() -> Self {
        let message = "the server is shutting down: the answer was cut off before it was complete";
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message).code("shutting_down")
    }

    pub fn too_large() -> Self {
        let message = format!("the request body is larger than the server's limit of {} bytes", super::BODY_LIMIT);
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", message)
    }

    /// 503 for a connection over `server.max_connections`.
    pub fn busy(limit: usize) -> Self {
        let message = format!("the server is serving its limit of {limit} connections (server.max_connections); try again shortly");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message).code("too_many_connections")
    }

    /// 503 for a connection over `server.max_connections_per_client` from one address.
    pub fn busy_client(limit: usize) -> Self {
        let message = format!(
            "this client address holds its limit of {limit} connections (server.max_connections_per_client); \
             close some or try again shortly"
        );
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message).code("too_many_connections")
    }

    /// 429 for a request over `server.max_queued_per_client`, before it reaches the engine.
    pub fn too_many_queued(limit: usize) -> Self {
        let message = format!(
            "this client address has {limit} requests waiting for the model already (server.max_queued_per_client); \
             wait for an answer to start, then ask again"
        );
        Self::new(StatusCode::TOO_MANY_REQUESTS, "requests", message).code("rate_limit_exceeded")
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

/// What an error response said, kept on the response for the request log (F4).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorNote {
    pub message: String,
    pub code: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ErrorNote { message: self.message, code: self.code });
        response
    }
}

/// Rewrites error responses that are not JSON (axum's 404/405 and extractor rejections,
/// tower-http's 413) into OpenAI-style bodies, keeping their status.
pub async fn openai_errors(response: Response) -> Response {
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large().message,
        StatusCode::NOT_FOUND => format!("no such endpoint: see {}", super::routes::openai_routes()),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this endpoint".into(),
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let kind = if status.is_server_error() { "server_error" } else { "invalid_request_error" };
    let mut out = ApiError::new(status, kind, message).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
