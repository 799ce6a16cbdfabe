//! The endpoints. A generation is the chat pane's own path: `engine::generate::build_prompt`
//! then `run_prompt` on the shared model, streamed back as server-sent events or collected.
//! Dropping the response (the client went away) drops the cancel sender, which stops the
//! sequence in mistral.rs at its next token.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::oneshot;

use super::AppState;
use super::api::{ChatRequest, CompletionRequest, Plan, parse};
use super::error::ApiError;
use super::metrics::Tracker;
use crate::engine::protocol::{ChatMessage, EngineEvent, FinishReason, GenStats, GenerateRequest, Role};
use crate::engine::{EngineStatus, LoadedModel, generate};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Text,
}

impl Kind {
    fn endpoint(self) -> &'static str {
        match self {
            Kind::Chat => "/v1/chat/completions",
            Kind::Text => "/v1/completions",
        }
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The loaded model, or a 503 that says where loading stands.
fn model(state: &AppState) -> Result<LoadedModel, ApiError> {
    if let Some(model) = state.engine.loaded() {
        return Ok(model);
    }
    Err(ApiError::not_ready(match state.engine.status() {
        EngineStatus::Loading(stage) => format!("the model is loading ({stage}); try again shortly"),
        EngineStatus::Failed(reason) => format!("the model failed to load: {reason}"),
        EngineStatus::Idle | EngineStatus::Ready => "no model is loaded".into(),
    }))
}

fn client(peer: SocketAddr, headers: &HeaderMap) -> String {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).and_then(|ua| ua.split_whitespace().next());
    match agent {
        Some(agent) => format!("{peer} {}", agent.chars().take(24).collect::<String>()),
        None => peer.to_string(),
    }
}

pub async fn chat(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Bytes) -> Response {
    let prepared = (|| {
        let req: ChatRequest = parse(&body)?;
        let messages = req.conversation()?;
        let plan = req.common.plan(&state.defaults, false)?;
        Ok::<_, ApiError>((messages, plan))
    })();
    match prepared {
        Ok((messages, plan)) => generate_response(state, Kind::Chat, messages, plan, client(peer, &headers)).await,
        Err(e) => e.into_response(),
    }
}

pub async fn completions(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Bytes) -> Response {
    let prepared = (|| {
        let req: CompletionRequest = parse(&body)?;
        let prompt = req.prompt_text()?;
        let plan = req.common.plan(&state.defaults, true)?;
        Ok::<_, ApiError>((vec![ChatMessage { role: Role::User, content: prompt }], plan))
    })();
    match prepared {
        Ok((messages, plan)) => generate_response(state, Kind::Text, messages, plan, client(peer, &headers)).await,
        Err(e) => e.into_response(),
    }
}

/// One running generation: its events, and the sender whose drop cancels it.
struct Generation {
    events: UnboundedReceiver<EngineEvent>,
    _cancel: oneshot::Sender<()>,
    tracker: Tracker,
    id: String,
    model: String,
    created: u64,
    kind: Kind,
}

async fn generate_response(state: AppState, kind: Kind, messages: Vec<ChatMessage>, plan: Plan, client: String) -> Response {
    let model = match model(&state) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let req = GenerateRequest { id, messages, sampling: plan.sampling.clone() };
    let ids = match generate::build_prompt(&model, &req).await {
        Ok((ids, _)) => ids,
        Err(message) => {
            let code = if message.contains("context") { "context_length_exceeded" } else { "invalid_messages" };
            return ApiError::invalid("messages", message).code(code).into_response();
        }
    };
    let (events_tx, events) = unbounded_channel();
    let (cancel, cancel_rx) = oneshot::channel();
    let name = model.name.clone();
    tokio::spawn(generate::run_prompt(model, req, ids, cancel_rx, events_tx));
    let prefix = if kind == Kind::Chat { "chatcmpl" } else { "cmpl" };
    let generation = Generation {
        events,
        _cancel: cancel,
        tracker: state.metrics.track(kind.endpoint(), client),
        id: format!("{prefix}-{id}"),
        model: name,
        created: now(),
        kind,
    };
    if plan.stream { stream(generation, plan.include_usage).into_response() } else { collect(generation).await }
}

fn usage(stats: &GenStats) -> Value {
    json!({
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_tokens": stats.prompt_tokens + stats.completion_tokens,
    })
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        _ => "stop",
    }
}

async fn collect(mut g: Generation) -> Response {
    let mut text = String::new();
    while let Some(event) = g.events.recv().await {
        match event {
            EngineEvent::Token { text: piece, .. } => {
                g.tracker.token();
                text.push_str(&piece);
            }
            EngineEvent::Finished { reason, stats, .. } => {
                let reason = finish_reason(reason);
                g.tracker.finish(reason, stats.clone());
                let choice = match g.kind {
                    Kind::Chat => json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": reason}),
                    Kind::Text => json!({"index": 0, "text": text, "logprobs": null, "finish_reason": reason}),
                };
                let object = if g.kind == Kind::Chat { "chat.completion" } else { "text_completion" };
                return Json(json!({
                    "id": g.id, "object": object, "created": g.created, "model": g.model,
                    "choices": [choice], "usage": usage(&stats),
                }))
                .into_response();
            }
            EngineEvent::Failed { error, .. } => {
                g.tracker.finish(&format!("error: {error}"), GenStats::default());
                return ApiError::server(error).into_response();
            }
            _ => {}
        }
    }
    g.tracker.finish("error: the engine stopped", GenStats::default());
    ApiError::server("the engine stopped before the answer was complete").into_response()
}

fn chunk(g: &Generation, delta: Value, finish: Option<&str>) -> Event {
    let choice = match g.kind {
        Kind::Chat => json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}),
        Kind::Text => json!({"index": 0, "text": delta.get("content").and_then(Value::as_str).unwrap_or(""), "logprobs": null, "finish_reason": finish}),
    };
    let object = if g.kind == Kind::Chat { "chat.completion.chunk" } else { "text_completion" };
    data(json!({"id": g.id, "object": object, "created": g.created, "model": g.model, "choices": [choice]}))
}

fn data(value: Value) -> Event {
    Event::default().data(value.to_string())
}

/// Server-sent events: a role chunk, one chunk per piece of text, a final chunk with the
/// finish reason (and a usage chunk when `stream_options.include_usage`), then `[DONE]`.
fn stream(g: Generation, include_usage: bool) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let opening = (g.kind == Kind::Chat).then(|| chunk(&g, json!({"role": "assistant", "content": ""}), None));
    let state = (g, opening, false);
    let events = futures::stream::unfold(state, move |(mut g, mut pending, done)| async move {
        if let Some(event) = pending.take() {
            return Some((vec![event], (g, None, done)));
        }
        if done {
            return None;
        }
        loop {
            let out = match g.events.recv().await {
                Some(EngineEvent::Token { text, .. }) => {
                    g.tracker.token();
                    vec![chunk(&g, json!({"content": text}), None)]
                }
                Some(EngineEvent::Finished { reason, stats, .. }) => {
                    let reason = finish_reason(reason);
                    g.tracker.finish(reason, stats.clone());
                    let mut out = vec![chunk(&g, json!({}), Some(reason))];
                    if include_usage {
                        let object = if g.kind == Kind::Chat { "chat.completion.chunk" } else { "text_completion" };
                        out.push(data(json!({"id": g.id, "object": object, "created": g.created, "model": g.model, "choices": [], "usage": usage(&stats)})));
                    }
                    out.push(Event::default().data("[DONE]"));
                    return Some((out, (g, None, true)));
                }
                Some(EngineEvent::Failed { error, .. }) => {
                    g.tracker.finish(&format!("error: {error}"), GenStats::default());
                    let out = vec![data(ApiError::server(error).body()), Event::default().data("[DONE]")];
                    return Some((out, (g, None, true)));
                }
                Some(_) => continue,
                None => {
                    g.tracker.finish("error: the engine stopped", GenStats::default());
                    let out = vec![data(ApiError::server("the engine stopped").body()), Event::default().data("[DONE]")];
                    return Some((out, (g, None, true)));
                }
            };
            return Some((out, (g, None, false)));
        }
    });
    use futures::StreamExt;
    let flat = events.flat_map(|batch| futures::stream::iter(batch.into_iter().map(Ok)));
    Sse::new(flat).keep_alive(KeepAlive::new().interval(Duration::from_secs(2)))
}

pub async fn models(State(state): State<AppState>) -> Response {
    let data: Vec<Value> = match state.engine.loaded() {
        Some(m) => vec![json!({
            "id": m.name, "object": "model", "created": state.started, "owned_by": "llamadeck",
            "context_length": m.context_len,
        })],
        None => Vec::new(),
    };
    Json(json!({"object": "list", "data": data})).into_response()
}

/// 200 when a model is loaded, else 503 with the loading stage.
pub async fn health(State(state): State<AppState>) -> Response {
    match model(&state) {
        Ok(m) => Json(json!({"status": "ok", "model": m.name, "in_flight": state.metrics.in_flight()})).into_response(),
        Err(e) => {
            let mut body = e.body();
            match state.engine.status() {
                EngineStatus::Loading(stage) => (body["status"], body["stage"]) = (json!("loading"), json!(stage)),
                EngineStatus::Failed(_) => body["status"] = json!("failed"),
                _ => body["status"] = json!("no model"),
            }
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let gpu = state.gpu.as_ref().map(|rx| rx.borrow().clone());
    let text = state.metrics.render(gpu.as_deref());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Counts every response by endpoint and status for `/metrics`.
pub async fn count(State(metrics): State<Arc<super::Metrics>>, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let endpoint = match request.uri().path() {
        "/v1/chat/completions" => "/v1/chat/completions",
        "/v1/completions" => "/v1/completions",
        "/v1/models" => "/v1/models",
        "/health" => "/health",
        "/metrics" => "/metrics",
        _ => "other",
    };
    let response = next.run(request).await;
    metrics.request(endpoint, response.status().as_u16());
    response
}
