//! The endpoints. A generation goes through the engine's face, as the chat pane's do: the
//! handler waits for the prompt to be accepted (a prompt that cannot be built is a 400), then
//! streams the events back as server-sent events or collects them. Dropping the response (the
//! client went away) drops the `Generation`, which cancels it in the engine. Only an answer
//! the engine finished is "stop" or "length"; any other end is an error to the client.
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::AppState;
use super::api::{ChatRequest, CompletionRequest, Plan, parse};
use super::error::ApiError;
use super::listen::Phase;
use super::metrics::{RequestInfo, Tracked, Tracker};
use super::queued::Ticket;
use llamadeck_engine::{AnswerOptions, GenErrorKind, GenEvent, GenerateRequest, Generation, LoadState, ModelFacts, Priority, TokenLogprob};
use llamadeck_words::chat::{ChatMessage, FinishReason, GenStats, Role, ToolCall};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Text,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The loaded model's facts, or a 503 that says where loading stands.
fn model(state: &AppState) -> Result<ModelFacts, ApiError> {
    let status = state.engine.status();
    Err(ApiError::not_ready(match status.state {
        LoadState::Ready(facts) => return Ok(facts),
        LoadState::Loading => format!("the model is loading ({}); try again shortly", status.stage()),
        LoadState::Failed { reason } => format!("the model failed to load: {reason}"),
        LoadState::Idle => "no model is loaded".into(),
    }))
}

pub async fn chat(State(state): State<AppState>, Extension(info): Extension<RequestInfo>, body: Bytes) -> Response {
    let prepared = (|| {
        let req: ChatRequest = parse(&body)?;
        let messages = req.conversation()?;
        let options = req.options()?;
        let plan = req.common.plan(&state.defaults, false, state.max_tokens)?;
        Ok::<_, ApiError>((messages, plan, options))
    })();
    match prepared {
        Ok((messages, plan, options)) => generate_response(state, Kind::Chat, messages, plan, options, info).await,
        Err(e) => e.into_response(),
    }
}

pub async fn completions(State(state): State<AppState>, Extension(info): Extension<RequestInfo>, body: Bytes) -> Response {
    let prepared = (|| {
        let req: CompletionRequest = parse(&body)?;
        let prompt = req.prompt_text()?;
        let plan = req.common.plan(&state.defaults, true, state.max_tokens)?;
        Ok::<_, ApiError>((vec![ChatMessage { role: Role::User, content: prompt, tool: None }], plan))
    })();
    match prepared {
        Ok((messages, plan)) => generate_response(state, Kind::Text, messages, plan, AnswerOptions::default(), info).await,
        Err(e) => e.into_response(),
    }
}

/// One running generation and how to answer it.
struct Answer {
    generation: Generation,
    /// Its place in its client's line, given up at the first token.
    waiting: Option<Ticket>,
    tracker: Tracker,
    phase: watch::Receiver<Phase>,
    id: String,
    model: String,
    created: u64,
    kind: Kind,
    /// The client asked for log probabilities: `logprobs` is an object, not null.
    logprobs: bool,
    /// Log probabilities not sent yet (a stream sends them with the next piece of text, a
    /// collected answer all at its end).
    scored: Vec<TokenLogprob>,
    /// The answer called tools: its finish reason is "tool_calls".
    called: bool,
}

async fn generate_response(
    state: AppState,
    kind: Kind,
    messages: Vec<ChatMessage>,
    plan: Plan,
    options: AnswerOptions,
    info: RequestInfo,
) -> Response {
    let facts = match model(&state) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let waiting = match info.peer.map(|peer| state.queued.enter(peer)) {
        Some(None) => return too_many_queued(state.queued.max()),
        entered => entered.flatten(),
    };
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let logprobs = options.logprobs.is_some();
    let request = GenerateRequest { id, messages, sampling: plan.sampling.clone(), priority: Priority::Queued, options };
    let mut generation = state.engine.generate(request);
    // The prompt is built in the engine; one that cannot be is the client's error, answered
    // before any stream starts.
    let prompt_tokens = loop {
        match generation.next().await {
            Some(GenEvent::Started { prompt_tokens, .. }) => break prompt_tokens,
            Some(GenEvent::Unsupported(_)) => continue,
            Some(GenEvent::Failed(error)) => {
                return match error.kind {
                    GenErrorKind::ContextFull => ApiError::invalid("messages", error.message).code("context_length_exceeded"),
                    GenErrorKind::Invalid => ApiError::invalid("messages", error.message).code("invalid_messages"),
                    GenErrorKind::NotReady => ApiError::not_ready(error.message),
                    GenErrorKind::Engine => ApiError::server(error.message),
                }
                .into_response();
            }
            Some(other) => unreachable!("an engine reported {other:?} before starting"),
            None => return ApiError::server(ENDED_EARLY).into_response(),
        }
    };
    let prefix = if kind == Kind::Chat { "chatcmpl" } else { "cmpl" };
    let answer = Answer {
        generation,
        waiting,
        tracker: state.metrics.track(info, prompt_tokens, facts.name.clone()),
        phase: state.phase.clone(),
        id: format!("{prefix}-{id}"),
        model: facts.name,
        created: now(),
        kind,
        logprobs,
        scored: Vec::new(),
        called: false,
    };
    let mut response = if plan.stream { stream(answer, plan.include_usage).into_response() } else { collect(answer).await };
    response.extensions_mut().insert(Tracked);
    response
}

/// How long a client refused for its queue is asked to wait.
const RETRY_AFTER_SECS: &str = "2";

/// 429 with `Retry-After`: the client has its limit of answers waiting already.
fn too_many_queued(limit: usize) -> Response {
    let mut response = ApiError::too_many_queued(limit).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static(RETRY_AFTER_SECS));
    response
}

/// Said when the engine lets go of an answer without saying how it ended.
const ENDED_EARLY: &str = "the engine stopped before the answer was complete";

fn usage(stats: &GenStats) -> Value {
    json!({
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_tokens": stats.prompt_tokens.saturating_add(stats.completion_tokens),
        // OpenAI's field: LangChain reports it as the prompt's cache reads.
        "prompt_tokens_details": {"cached_tokens": stats.cached_tokens},
    })
}

/// `choices[i].logprobs` as OpenAI writes it: `{"content": [...]}` when asked, else null.
fn logprobs_json(g: &Answer, scored: &[TokenLogprob]) -> Value {
    if !g.logprobs {
        return Value::Null;
    }
    let entry = |token: &str, logprob: f32| json!({"token": token, "logprob": logprob, "bytes": token.as_bytes()});
    let content: Vec<Value> = scored
        .iter()
        .map(|t| {
            let mut e = entry(&t.token, t.logprob);
            e["top_logprobs"] = t.top.iter().map(|(token, logprob)| entry(token, *logprob)).collect();
            e
        })
        .collect();
    json!({"content": content})
}

/// `tool_calls` as OpenAI writes them; in a stream each carries its `index`.
fn tool_calls_json(calls: &[ToolCall], indexed: bool) -> Value {
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut call = json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}});
            if indexed {
                call["index"] = json!(i);
            }
            call
        })
        .collect()
}

/// The finish reason a client is told, or why the answer is an error instead: only an answer
/// that reached its end is "stop" or "length".
fn finish_reason(reason: FinishReason) -> Result<&'static str, &'static str> {
    match reason {
        FinishReason::Stop => Ok("stop"),
        FinishReason::Length => Ok("length"),
        FinishReason::Stopped => Err("the engine stopped the answer before it was complete (the model is being reloaded or replaced)"),
        FinishReason::Error => Err("the engine failed before the answer was complete"),
    }
}

/// What comes next for an answer: an engine event, or the end of the shutdown grace.
enum Step {
    Event(Option<GenEvent>),
    Closing,
}

async fn next_step(g: &mut Answer) -> Step {
    tokio::select! {
        event = g.generation.next() => Step::Event(event),
        () = closing(&mut g.phase) => Step::Closing,
    }
}

/// Resolves when the server's grace is over (never when the server was dropped without one).
async fn closing(phase: &mut watch::Receiver<Phase>) {
    if phase.wait_for(|p| *p == Phase::Closing).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A collected answer ended in an error: logged, and answered 500.
fn failed(g: &mut Answer, message: &str) -> Response {
    g.tracker.fail(StatusCode::INTERNAL_SERVER_ERROR.as_u16(), message);
    ApiError::server(message).into_response()
}

async fn collect(mut g: Answer) -> Response {
    let mut text = String::new();
    let mut calls = Vec::new();
    loop {
        let event = match next_step(&mut g).await {
            Step::Event(Some(event)) => event,
            Step::Event(None) => return failed(&mut g, ENDED_EARLY),
            Step::Closing => {
                let error = ApiError::shutting_down();
                g.tracker.fail(error.status.as_u16(), &error.message);
                return error.into_response();
            }
        };
        match event {
            GenEvent::Token(piece) => {
                g.tracker.token();
                g.waiting = None;
                text.push_str(&piece);
            }
            GenEvent::Finished { reason, stats } => {
                let reason = match finish_reason(reason) {
                    Ok(reason) => reason,
                    Err(why) => return failed(&mut g, why),
                };
                // A finished answer that called tools says so (the remote's "tool_calls" is a stop).
                let reason = if calls.is_empty() { reason } else { "tool_calls" };
                g.tracker.finish(reason, stats.clone());
                let scored = std::mem::take(&mut g.scored);
                let logprobs = logprobs_json(&g, &scored);
                let choice = match g.kind {
                    Kind::Chat if !calls.is_empty() => {
                        let content = if text.is_empty() { Value::Null } else { json!(text) };
                        let message = json!({"role": "assistant", "content": content, "tool_calls": tool_calls_json(&calls, false)});
                        json!({"index": 0, "message": message, "logprobs": logprobs, "finish_reason": reason})
                    }
                    Kind::Chat => {
                        json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": logprobs, "finish_reason": reason})
                    }
                    Kind::Text => json!({"index": 0, "text": text, "logprobs": logprobs, "finish_reason": reason}),
                };
                let object = if g.kind == Kind::Chat { "chat.completion" } else { "text_completion" };
                return Json(json!({
                    "id": g.id, "object": object, "created": g.created, "model": g.model,
                    "choices": [choice], "usage": usage(&stats),
                }))
                .into_response();
            }
            GenEvent::Logprobs(more) => g.scored.extend(more),
            GenEvent::ToolCalls(called) => calls.extend(called),
            // The request's own fault found by the engine (a schema it cannot hold an answer to).
            GenEvent::Failed(error) if error.kind == GenErrorKind::Invalid => {
                let error = ApiError::invalid("response_format", error.message);
                g.tracker.fail(error.status.as_u16(), &error.message);
                return error.into_response();
            }
            GenEvent::Failed(error) => return failed(&mut g, &error.message),
            GenEvent::Started { .. } | GenEvent::Unsupported(_) => {}
        }
    }
}

/// One chunk of a stream; it carries the log probabilities not sent yet (null when none are).
fn chunk(g: &mut Answer, delta: Value, finish: Option<&str>) -> Event {
    let scored = std::mem::take(&mut g.scored);
    let logprobs = if scored.is_empty() { Value::Null } else { logprobs_json(g, &scored) };
    let choice = match g.kind {
        Kind::Chat => json!({"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}),
        Kind::Text => {
            json!({"index": 0, "text": delta.get("content").and_then(Value::as_str).unwrap_or(""), "logprobs": logprobs, "finish_reason": finish})
        }
    };
    let object = if g.kind == Kind::Chat { "chat.completion.chunk" } else { "text_completion" };
    data(json!({"id": g.id, "object": object, "created": g.created, "model": g.model, "choices": [choice]}))
}

fn data(value: Value) -> Event {
    Event::default().data(value.to_string())
}

/// A stream's last events when the answer cannot end normally: an error chunk, then `[DONE]`.
fn error_end(g: &mut Answer, error: ApiError) -> Vec<Event> {
    g.tracker.fail(StatusCode::OK.as_u16(), &error.message);
    vec![data(error.body()), Event::default().data("[DONE]")]
}

/// Server-sent events: a role chunk, one chunk per piece of text, a final chunk with the
/// finish reason (and a usage chunk when `stream_options.include_usage`), then `[DONE]`. An
/// answer that does not end normally ends with an error chunk and `[DONE]` instead.
fn stream(mut g: Answer, include_usage: bool) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let opening = (g.kind == Kind::Chat).then(|| chunk(&mut g, json!({"role": "assistant", "content": ""}), None));
    let state = (g, opening, false);
    let events = futures::stream::unfold(state, move |(mut g, mut pending, done)| async move {
        if let Some(event) = pending.take() {
            return Some((vec![event], (g, None, done)));
        }
        if done {
            return None;
        }
        loop {
            let event = match next_step(&mut g).await {
                Step::Event(Some(event)) => event,
                Step::Event(None) => {
                    let out = error_end(&mut g, ApiError::server(ENDED_EARLY));
                    return Some((out, (g, None, true)));
                }
                Step::Closing => {
                    let out = error_end(&mut g, ApiError::shutting_down());
                    return Some((out, (g, None, true)));
                }
            };
            let out = match event {
                GenEvent::Token(text) => {
                    g.tracker.token();
                    g.waiting = None;
                    vec![chunk(&mut g, json!({"content": text}), None)]
                }
                GenEvent::Finished { reason, stats } => {
                    let reason = match finish_reason(reason) {
                        Ok(reason) => reason,
                        Err(why) => {
                            let out = error_end(&mut g, ApiError::server(why));
                            return Some((out, (g, None, true)));
                        }
                    };
                    let reason = if g.called { "tool_calls" } else { reason };
                    g.tracker.finish(reason, stats.clone());
                    // Log probabilities still held go with the finish reason's chunk.
                    let mut out = vec![chunk(&mut g, json!({}), Some(reason))];
                    if include_usage {
                        let object = if g.kind == Kind::Chat { "chat.completion.chunk" } else { "text_completion" };
                        out.push(data(json!({"id": g.id, "object": object, "created": g.created, "model": g.model, "choices": [], "usage": usage(&stats)})));
                    }
                    out.push(Event::default().data("[DONE]"));
                    return Some((out, (g, None, true)));
                }
                GenEvent::Failed(error) => {
                    let out = error_end(&mut g, ApiError::server(error.message));
                    return Some((out, (g, None, true)));
                }
                GenEvent::Logprobs(more) => {
                    g.scored.extend(more);
                    continue;
                }
                GenEvent::ToolCalls(calls) => {
                    g.called = true;
                    g.waiting = None;
                    vec![chunk(&mut g, json!({"tool_calls": tool_calls_json(&calls, true)}), None)]
                }
                GenEvent::Started { .. } | GenEvent::Unsupported(_) => continue,
            };
            return Some((out, (g, None, false)));
        }
    });
    use futures::StreamExt;
    let flat = events.flat_map(|batch| futures::stream::iter(batch.into_iter().map(Ok)));
    Sse::new(flat).keep_alive(KeepAlive::new().interval(Duration::from_secs(2)))
}

pub async fn models(State(state): State<AppState>) -> Response {
    let data: Vec<Value> = match state.engine.model() {
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
            let status = state.engine.status();
            match status.state {
                LoadState::Loading => (body["status"], body["stage"]) = (json!("loading"), json!(status.stage())),
                LoadState::Failed { .. } => body["status"] = json!("failed"),
                _ => body["status"] = json!("no model"),
            }
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let gpu = state.gpu.as_ref().map(|rx| rx.borrow().clone());
    let cache = state.engine.status().cache;
    let text = state.metrics.render(gpu.as_deref(), cache.as_ref());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn usage_totals_saturate_instead_of_wrapping() {
        let stats = super::GenStats { prompt_tokens: usize::MAX, completion_tokens: 2, ..Default::default() };
        assert_eq!(super::usage(&stats)["total_tokens"], usize::MAX as u64);
    }
}
