//! One answer from a node: the request (chat, or a raw completion), its server-sent events
//! turned into the face's events as they arrive, and the end, whichever way it comes. The first
//! token's time and the decode speed are measured here; the token counts are the server's when
//! it sends its usage chunk. Cancelling drops the response, which closes the connection: the
//! server sees the client go and stops generating.
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::chunk::{self, Usage};
use super::dialect::sampling_fields;
use super::errors::{no_answer, refused, seconds};
use super::node::NodeSpec;
use super::probe::{Served, read_limited};
use super::sse::{MAX_EVENT, Overflow, SseDecoder};
use crate::face::{AnswerFormat, AnswerOptions, GenError, GenErrorKind, GenEvent, GenerateRequest, GenerationSink, ToolChoice};
use crate::stats::StatsClock;
use crate::stop::{StopMatcher, StopStep};
use llamadeck_words::chat::{ChatMessage, FinishReason, GenStats, Role, ToolCall, ToolTurn};

/// How long a node may take to start answering (a server may read the whole prompt first).
pub const HEADERS_WITHIN: Duration = Duration::from_secs(60);
/// How long a node may go quiet in the middle of an answer.
pub const GAP_WITHIN: Duration = Duration::from_secs(120);

/// The request: its path under the base URL, its body, and the settings that could not be sent.
pub fn request(served: &Served, req: &GenerateRequest) -> Result<(&'static str, Value, Vec<String>), GenError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(served.facts.name));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    let mut sampling = req.sampling.clone();
    if served.facts.context_len > 0 {
        sampling.max_tokens = sampling.max_tokens.min(u32::try_from(served.facts.context_len).unwrap_or(u32::MAX));
    }
    let notes = sampling_fields(served.dialect, &sampling, &mut body);
    let path = if req.sampling.raw_mode {
        let prompt = req.messages.iter().rev().find(|m| m.role == Role::User);
        let prompt = prompt.ok_or_else(|| GenError::new(GenErrorKind::Invalid, "raw mode needs a prompt"))?;
        body.insert("prompt".into(), json!(prompt.content));
        "completions"
    } else {
        let messages: Vec<Value> = req.messages.iter().map(openai_message).collect();
        body.insert("messages".into(), Value::Array(messages));
        "chat/completions"
    };
    answer_options(&req.options, &mut body);
    Ok((path, Value::Object(body), notes))
}

/// One message as OpenAI writes it: an assistant's tool calls and a tool's result included.
fn openai_message(m: &ChatMessage) -> Value {
    match &m.tool {
        None => json!({"role": m.role.name(), "content": m.content}),
        Some(ToolTurn::Calls(calls)) => {
            let calls: Vec<Value> = calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
            let content = if m.content.is_empty() { Value::Null } else { json!(m.content) };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Some(ToolTurn::Result { call_id }) => json!({"role": "tool", "tool_call_id": call_id, "content": m.content}),
    }
}

/// What the client asked of the answer, in OpenAI's words, which every server in `Dialect`
/// reads: a server that cannot honour it refuses it, and the client hears why.
fn answer_options(options: &AnswerOptions, body: &mut Map<String, Value>) {
    match &options.format {
        AnswerFormat::Text => {}
        AnswerFormat::JsonObject => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        AnswerFormat::JsonSchema { name, schema } => {
            body.insert("response_format".into(), json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema}}));
        }
    }
    if let Some(top) = options.logprobs {
        body.insert("logprobs".into(), json!(true));
        body.insert("top_logprobs".into(), json!(top));
    }
    if !options.tools.is_empty() {
        let tools: Vec<Value> = options
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        let choice = match &options.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
        };
        body.insert("tool_choice".into(), choice);
    }
}

/// The tool calls a node streams, put together from their pieces.
#[derive(Debug, Default)]
struct Calls(Vec<ToolCall>);

/// The most calls one answer of a node may make, and the most bytes their arguments may hold.
const MAX_CALLS: usize = 64;
const MAX_CALL_BYTES: usize = 1 << 20;

impl Calls {
    fn add(&mut self, piece: chunk::ToolCallPiece) -> Result<(), String> {
        if piece.index >= MAX_CALLS {
            return Err(format!("sent a tool call numbered {} (at most {MAX_CALLS} are read)", piece.index));
        }
        while self.0.len() <= piece.index {
            self.0.push(ToolCall { id: String::new(), name: String::new(), arguments: String::new() });
        }
        let call = &mut self.0[piece.index];
        if let Some(id) = piece.id {
            call.id = id;
        }
        if let Some(name) = piece.name {
            call.name.push_str(&name);
        }
        call.arguments.push_str(piece.arguments.as_deref().unwrap_or(""));
        let bytes: usize = self.0.iter().map(|c| c.name.len() + c.arguments.len()).sum();
        if bytes > MAX_CALL_BYTES {
            return Err(format!("sent tool calls of more than {} MiB", MAX_CALL_BYTES >> 20));
        }
        Ok(())
    }
}

/// The prompt's size before the server counts it: about four characters a token, and a few
/// tokens a message for the template. The console shows it as an estimate until the answer ends.
pub fn estimate_tokens(messages: &[ChatMessage]) -> usize {
    messages.iter().map(|m| m.content.len().div_ceil(4) + 4).sum()
}

pub async fn run(client: reqwest::Client, node: &NodeSpec, served: Served, req: GenerateRequest, mut sink: GenerationSink) {
    let fail = |kind, message: String| GenEvent::Failed(GenError::new(kind, message));
    let (path, body, notes) = match request(&served, &req) {
        Ok(r) => r,
        Err(e) => return sink.send(GenEvent::Failed(e)),
    };
    if !notes.is_empty() {
        sink.send(GenEvent::Unsupported(notes));
    }
    let name = node.name.as_str();
    let mut post = client
        .post(node.endpoint(path))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .body(body.to_string());
    if let Some(key) = &node.api_key {
        post = post.header(reqwest::header::AUTHORIZATION, key.header());
    }
    let mut clock = StatsClock::start(estimate_tokens(&req.messages));
    let sent = tokio::select! {
        biased;
        _ = sink.cancelled() => return sink.send(GenEvent::Finished { reason: FinishReason::Stopped, stats: clock.stats() }),
        sent = tokio::time::timeout(HEADERS_WITHIN, post.send()) => sent,
    };
    let mut response = match sent {
        Err(_) => {
            return sink.send(fail(
                GenErrorKind::Engine,
                format!("{name} took the question but did not start answering within {}", seconds(HEADERS_WITHIN)),
            ));
        }
        Ok(Err(e)) => return sink.send(fail(GenErrorKind::NotReady, format!("{name}: {}", no_answer(node.address(), &e, node.timeout)))),
        Ok(Ok(response)) => response,
    };
    if let Some(redirect) = super::errors::redirect(response.status(), response.headers()) {
        return sink.send(fail(GenErrorKind::Engine, format!("{name} {redirect}")));
    }
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let body = tokio::time::timeout(node.timeout, read_limited(response)).await.ok().and_then(Result::ok).unwrap_or_default();
        return sink.send(GenEvent::Failed(refused(name, status, &body)));
    }
    sink.send(GenEvent::Started { prompt_tokens: estimate_tokens(&req.messages), trimmed: 0 });
    let mut decoder = SseDecoder::default();
    let mut stop = StopMatcher::new(&req.sampling.stop);
    let (mut usage, mut finish, mut done) = (None, None, false);
    let mut calls = Calls::default();
    let ended = |usage: Option<Usage>, clock: &mut StatsClock| stats(clock, usage);
    while !done {
        let next = tokio::select! {
            biased;
            _ = sink.cancelled() => {
                drop(response);
                return sink.send(GenEvent::Finished { reason: FinishReason::Stopped, stats: ended(usage, &mut clock) });
            }
            next = tokio::time::timeout(GAP_WITHIN, response.chunk()) => next,
        };
        let bytes = match next {
            Err(_) => {
                return sink.send(fail(
                    GenErrorKind::Engine,
                    format!("{name} went quiet for {} in the middle of the answer", seconds(GAP_WITHIN)),
                ));
            }
            Ok(Err(e)) => {
                return sink.send(fail(
                    GenErrorKind::Engine,
                    format!("lost {name} in the middle of the answer: {}", super::errors::innermost(&e)),
                ));
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(bytes))) => bytes,
        };
        for data in decoder.push(&bytes) {
            let chunk = match chunk::read(&data) {
                chunk::Event::Done => {
                    done = true;
                    break;
                }
                chunk::Event::Garbage(text) => {
                    let text = llamadeck_words::text::sanitize(&text);
                    return sink.send(fail(GenErrorKind::Engine, format!("{name} sent something that is not part of an answer: {text:?}")));
                }
                chunk::Event::Chunk(chunk) => chunk,
            };
            if let Some(error) = chunk.error {
                return sink.send(fail(GenErrorKind::Engine, format!("{name}: {error}")));
            }
            usage = chunk.usage.or(usage);
            if !chunk.logprobs.is_empty() {
                sink.send(GenEvent::Logprobs(chunk.logprobs));
            }
            for piece in chunk.tool_calls {
                if let Err(why) = calls.add(piece) {
                    return sink.send(fail(GenErrorKind::Engine, format!("{name} {why}")));
                }
            }
            if let Some(text) = chunk.text {
                clock.token();
                match stop.push(&text) {
                    StopStep::Emit(text) => token(&sink, text),
                    StopStep::Stop(text) => {
                        // The server did not stop at it (or saw it split differently): this side does.
                        token(&sink, text);
                        drop(response);
                        return sink.send(GenEvent::Finished { reason: FinishReason::Stop, stats: ended(usage, &mut clock) });
                    }
                }
            }
            finish = chunk.finish.or(finish);
        }
        match decoder.overflow() {
            None => {}
            Some(Overflow::Line) => {
                return sink.send(fail(GenErrorKind::Engine, format!("{name} sent a line too long to be part of an answer")));
            }
            Some(Overflow::Event) => return sink.send(fail(GenErrorKind::Engine, event_too_long(name))),
        }
    }
    drop(response);
    // An answer that ends as it should says so (a finish reason) before the stream ends.
    let Some(finish) = finish else {
        let message = if done {
            format!(
                "{name} ended the stream without finishing the answer (llama-cpp-python does so when another request \
                 arrives; start it with --interrupt_requests False)"
            )
        } else {
            format!("{name} closed the connection before the answer was complete")
        };
        return sink.send(fail(GenErrorKind::Engine, message));
    };
    token(&sink, stop.finish());
    if !calls.0.is_empty() {
        sink.send(GenEvent::ToolCalls(calls.0));
    }
    let reason = match finish.as_str() {
        "length" => FinishReason::Length,
        "abort" | "error" => {
            let message = format!("{name} ended the answer before it was complete (finish reason {finish:?})");
            return sink.send(fail(GenErrorKind::Engine, message));
        }
        _ => FinishReason::Stop,
    };
    sink.send(GenEvent::Finished { reason, stats: ended(usage, &mut clock) });
}

/// A node that sends `data:` lines without ever ending the event.
fn event_too_long(name: &str) -> String {
    format!(
        "{name} sent more than {} MiB in one server-sent event without ending it; llamadeck reads at most that much of one \
         event, so the answer stops here",
        MAX_EVENT >> 20
    )
}

fn token(sink: &GenerationSink, text: String) {
    if !text.is_empty() {
        sink.send(GenEvent::Token(text));
    }
}

/// The answer's stats: timing as measured here, counts from the server's usage when it sent one.
fn stats(clock: &mut StatsClock, usage: Option<Usage>) -> GenStats {
    let Some(usage) = usage else { return clock.stats() };
    clock.sampled(usage.completion_tokens);
    let mut stats = clock.stats();
    stats.completion_tokens = usage.completion_tokens;
    stats.prompt_tokens = usage.prompt_tokens;
    stats.cached_tokens = usage.cached_tokens.min(usage.prompt_tokens);
    stats.prefill_tok_s = stats.ttft_ms.filter(|ms| *ms > 0).map(|ms| usage.prompt_tokens as f64 * 1000.0 / ms as f64);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::ModelFacts;
    use crate::remote::dialect::Dialect;
    use llamadeck_words::sampling::Sampling;

    fn served(dialect: Dialect, context_len: usize) -> Served {
        Served { facts: ModelFacts { name: "m".into(), context_len, format: None }, dialect, owner: String::new() }
    }

    fn ask(raw: bool) -> GenerateRequest {
        let messages = vec![
            ChatMessage { role: Role::System, content: "Be brief.".into(), tool: None },
            ChatMessage { role: Role::User, content: "Hello there".into(), tool: None },
        ];
        GenerateRequest {
            id: 1,
            messages,
            sampling: Sampling { raw_mode: raw, max_tokens: 9000, ..Sampling::default() },
            priority: crate::face::Priority::Queued,
            options: Default::default(),
        }
    }

    #[test]
    fn chat_requests_carry_the_conversation_and_ask_for_usage() {
        let (path, body, notes) = request(&served(Dialect::Vllm, 4096), &ask(false)).unwrap();
        assert_eq!(path, "chat/completions");
        assert_eq!(body["messages"], json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]));
        assert_eq!((&body["stream"], &body["stream_options"]), (&json!(true), &json!({"include_usage": true})));
        assert_eq!(body["max_tokens"], json!(4096), "clamped to the context the server reported");
        assert!(notes.is_empty());
    }

    /// A format and log probabilities are asked of the node in OpenAI's words; nothing when the
    /// client asked for neither.
    #[test]
    fn the_answer_options_go_to_the_node_as_openai_names_them() {
        let (_, body, _) = request(&served(Dialect::LlamaCpp, 0), &ask(false)).unwrap();
        assert!(body.get("response_format").is_none() && body.get("logprobs").is_none() && body.get("top_logprobs").is_none());
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        let mut req = ask(false);
        req.options = AnswerOptions {
            format: AnswerFormat::JsonSchema { name: "count".into(), schema: schema.clone() },
            logprobs: Some(3),
            ..AnswerOptions::default()
        };
        let (_, body, _) = request(&served(Dialect::Vllm, 0), &req).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_schema", "json_schema": {"name": "count", "schema": schema}}));
        assert_eq!((&body["logprobs"], &body["top_logprobs"]), (&json!(true), &json!(3)));
        req.options = AnswerOptions { format: AnswerFormat::JsonObject, ..AnswerOptions::default() };
        let (_, body, _) = request(&served(Dialect::OpenAi, 0), &req).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
    }

    /// Tools, the choice and the conversation's tool turns reach the node as OpenAI writes them.
    #[test]
    fn tools_and_tool_turns_go_to_the_node_as_openai_writes_them() {
        let mut req = ask(false);
        let call = ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city":"Oslo"}"#.into() };
        req.messages.push(ChatMessage { role: Role::Assistant, content: String::new(), tool: Some(ToolTurn::Calls(vec![call])) });
        req.messages.push(ChatMessage {
            role: Role::User,
            content: "rain".into(),
            tool: Some(ToolTurn::Result { call_id: "call_1".into() }),
        });
        let tool =
            crate::face::ToolSpec { name: "get_weather".into(), description: "Weather.".into(), parameters: json!({"type": "object"}) };
        req.options = AnswerOptions { tools: vec![tool], tool_choice: ToolChoice::Named("get_weather".into()), ..AnswerOptions::default() };
        let (_, body, _) = request(&served(Dialect::Vllm, 0), &req).unwrap();
        assert_eq!(
            body["messages"][2],
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]})
        );
        assert_eq!(body["messages"][3], json!({"role": "tool", "tool_call_id": "call_1", "content": "rain"}));
        assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
        assert_eq!(body["tool_choice"], json!({"type": "function", "function": {"name": "get_weather"}}));
    }

    #[test]
    fn streamed_call_pieces_are_put_together_within_bounds() {
        use chunk::ToolCallPiece;
        let mut calls = Calls::default();
        calls.add(ToolCallPiece { index: 0, id: Some("c".into()), name: Some("f".into()), arguments: Some("{\"a\":".into()) }).unwrap();
        calls.add(ToolCallPiece { index: 0, arguments: Some("1}".into()), ..ToolCallPiece::default() }).unwrap();
        assert_eq!(calls.0, vec![ToolCall { id: "c".into(), name: "f".into(), arguments: "{\"a\":1}".into() }]);
        assert!(calls.add(ToolCallPiece { index: MAX_CALLS, ..ToolCallPiece::default() }).is_err());
        let big = "x".repeat(MAX_CALL_BYTES);
        assert!(calls.add(ToolCallPiece { index: 1, arguments: Some(big), ..ToolCallPiece::default() }).is_err());
    }

    #[test]
    fn raw_mode_is_a_completion_of_the_last_user_message() {
        let (path, body, _) = request(&served(Dialect::LlamaCpp, 0), &ask(true)).unwrap();
        assert_eq!((path, &body["prompt"]), ("completions", &json!("Hello there")));
        assert!(body.get("messages").is_none());
        assert_eq!(body["max_tokens"], json!(9000), "no context known: nothing to clamp to");
    }

    #[test]
    fn usage_replaces_the_counts_and_the_clock_keeps_the_timing() {
        let mut clock = StatsClock::start(10);
        clock.token();
        let s = stats(&mut clock, Some(Usage { prompt_tokens: 31, completion_tokens: 4, cached_tokens: 24 }));
        assert_eq!((s.prompt_tokens, s.completion_tokens, s.cached_tokens), (31, 4, 24));
        assert!(s.ttft_ms.is_some());
        assert_eq!(stats(&mut StatsClock::start(10), None).prompt_tokens, 10);
    }
}
