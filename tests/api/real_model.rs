//! The API over real loopback HTTP against the real engine: the SmolLM2 demo GGUF
//! (scripts/fetch-demo-model) and the tiny random-weight Llama-2 model (Llama-2 prompt format,
//! 256-token context). Servers bind port 0. The Python `openai` and `langchain-openai` packages
//! (installed by scripts/test) drive it as third-party clients.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use llamadeck_engine::{Engine, GenEvent, GenerateRequest, LoadState, ModelSpec, PrefixCache, Priority, demo_model_path};
use llamadeck_mistral as mistral;
use llamadeck_server::{Server, ServerEvent, ServerOptions};
use llamadeck_words::sink::Sink;
use serde_json::{Value, json};

use super::http::*;

use super::support::tiny_llama::{self, reference_ids};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    smol: Served,
    llama: Served,
    _dir: tempfile::TempDir,
}

struct Served {
    engine: Engine,
    server: Server,
    context_len: usize,
}

impl Served {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

/// Every test here is a client at 127.0.0.1, several at once, some with ten requests in flight:
/// the per-client line (tested in crates/server/tests/server/queue.rs) is long enough for all.
fn options() -> ServerOptions {
    ServerOptions { port: 0, max_queued_per_client: 64, ..ServerOptions::default() }
}

pub fn demo_model() -> PathBuf {
    let path = std::env::var_os("LLAMADECK_DEMO_MODEL").map(PathBuf::from).unwrap_or_else(demo_model_path);
    assert!(path.is_file(), "demo model {} is missing: run scripts/fetch-demo-model (or set LLAMADECK_DEMO_MODEL)", path.display());
    path
}

async fn load_and_serve(source: String) -> Served {
    load_and_serve_spec(ModelSpec { source, device: "cpu".into(), ..ModelSpec::default() }).await
}

async fn load_and_serve_spec(spec: ModelSpec) -> Served {
    let engine = mistral::spawn();
    // Bound before loading, as `llamadeck serve` does.
    let server = llamadeck_server::start(engine.clone(), &options(), None, None).await.expect("binds port 0");
    let mut status = engine.watch_status();
    engine.load(spec).expect("an in-process engine loads models");
    let context_len = loop {
        tokio::time::timeout(TIMEOUT, status.changed()).await.expect("loads in time").expect("engine alive");
        match status.borrow_and_update().state.clone() {
            LoadState::Ready(facts) => break facts.context_len,
            LoadState::Failed { reason } => panic!("load failed: {reason}"),
            LoadState::Idle | LoadState::Loading => {}
        }
    };
    Served { engine, server, context_len }
}

/// One SmolLM2 and one tiny Llama-2, each served once for every test in this file.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        tiny_llama::write(dir.path());
        let smol = runtime.block_on(load_and_serve(demo_model().to_string_lossy().into_owned()));
        let llama = runtime.block_on(load_and_serve(dir.path().to_string_lossy().into_owned()));
        Fixture { runtime, smol, llama, _dir: dir }
    })
}

/// A SmolLM2 of its own whose prefix cache holds 2 sequences, for the tests that need the
/// engine's queue to themselves; they take turns through the mutex.
fn busy() -> (std::sync::MutexGuard<'static, ()>, &'static Served) {
    static BUSY: OnceLock<(std::sync::Mutex<()>, Served)> = OnceLock::new();
    let f = fixture();
    let (turn, served) = BUSY.get_or_init(|| {
        let spec = ModelSpec {
            source: demo_model().to_string_lossy().into_owned(),
            device: "cpu".into(),
            prefix_cache: PrefixCache::Sequences(2),
            ..ModelSpec::default()
        };
        (std::sync::Mutex::new(()), f.runtime.block_on(load_and_serve_spec(spec)))
    });
    (turn.lock().unwrap_or_else(|e| e.into_inner()), served)
}

/// Reads a streamed answer's head (the engine has the request queued) and returns the reader.
fn open_stream(addr: SocketAddr, question: &str, max_tokens: u32) -> (TcpStream, BufReader<TcpStream>) {
    let body = chat_body(question, json!({"max_tokens": max_tokens, "stream": true})).to_string();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    (stream, reader)
}

/// Issue 19.8: the operator's question, asked while one API answer runs and another waits,
/// starts before the waiting one (on the CPU one answer runs at a time).
#[test]
fn a_console_question_goes_before_the_api_requests_that_wait() {
    let (_turn, served) = busy();
    let f = fixture();
    let (running, _running_reader) = open_stream(served.addr(), "Write a long story about a lighthouse keeper.", 400);
    let (_waiting, mut waiting_reader) = open_stream(served.addr(), "Name three colours.", 4);
    let waiting_first = std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(waiting_reader.read_line(&mut line).unwrap() > 0, "the waiting answer ended early");
            if line.starts_with("data: ") && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"") {
                return Instant::now();
            }
        }
    });
    let ask = GenerateRequest {
        id: 1,
        messages: vec![llamadeck_words::chat::ChatMessage {
            role: llamadeck_words::chat::Role::User,
            content: "Say hello.".into(),
            tool: None,
        }],
        sampling: llamadeck_words::sampling::Sampling { max_tokens: 4, temperature: 0.0, ..Default::default() },
        priority: Priority::Interactive,
        options: Default::default(),
    };
    let mut console = served.engine.generate(ask);
    let console_first = f.runtime.block_on(async {
        let mut first = None;
        loop {
            match tokio::time::timeout(TIMEOUT, console.next()).await.expect("the console's answer in time") {
                Some(GenEvent::Started { .. }) => {
                    // Queued behind both: the running answer may end now.
                    running.shutdown(std::net::Shutdown::Both).unwrap();
                }
                Some(GenEvent::Token(_)) => first = first.or(Some(Instant::now())),
                Some(GenEvent::Finished { .. }) => break first.expect("the console's answer has tokens"),
                Some(other) => panic!("{other:?}"),
                None => panic!("the engine let go of the console's answer"),
            }
        }
    });
    let waiting_first = waiting_first.join().unwrap();
    assert!(console_first < waiting_first, "the API's waiting answer started {:?} before the console's", console_first - waiting_first);
}

/// Issue 19.3: a busy server keeps the prefix cache's budget. Three clients ask two questions
/// each, always one waiting while another runs; sampled all the while, the cache never holds
/// more than its 2 sequences plus the one answer running, and every answer is complete.
#[test]
fn a_busy_server_keeps_the_prefix_cache_budget() {
    let (_turn, served) = busy();
    let f = fixture();
    let mut status = served.engine.watch_status();
    let before = status.borrow().cache.clone().expect("the cache is on");
    assert_eq!(before.budget_sequences, Some(2));
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let peak = f.runtime.spawn(async move {
        let mut peak = 0;
        loop {
            peak = peak.max(status.borrow_and_update().cache.as_ref().map_or(0, |c| c.sequences_held));
            tokio::select! {
                changed = status.changed() => if changed.is_err() { return peak },
                _ = &mut stopped => return peak,
            }
        }
    });
    let addr = served.addr();
    std::thread::scope(|s| {
        for client in 0..3 {
            s.spawn(move || {
                for turn in 0..2 {
                    let question = format!("Client {client}, question {turn}: name a colour.");
                    let reply = post(addr, "/v1/chat/completions", chat_body(&question, json!({"max_tokens": 4})));
                    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
                    let v = reply.json();
                    let complete = v["choices"][0]["finish_reason"] == "stop" || v["usage"]["completion_tokens"] == 4;
                    assert!(complete, "{v}");
                }
            });
        }
    });
    let _ = stop.send(());
    let peak = f.runtime.block_on(peak).unwrap();
    let after = served.engine.status().cache.unwrap();
    assert!(peak <= 3, "the cache held {peak} sequences with a budget of 2: {after:?}");
    assert!(after.restarts > before.restarts, "the cache was never emptied under load: {after:?}");
}

#[test]
fn health_models_and_metrics() {
    let f = fixture();
    let health = get(f.smol.addr(), "/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let models = get(f.smol.addr(), "/v1/models").json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["object"], "model");
    assert!(models["data"][0]["id"].as_str().is_some_and(|id| !id.is_empty()));
    let _ = post(f.smol.addr(), "/v1/chat/completions", chat_body("Hi", json!({"max_tokens": 2})));
    let metrics = get(f.smol.addr(), "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.headers["content-type"].starts_with("text/plain"));
    let text = String::from_utf8(metrics.body).unwrap();
    for family in [
        "llamadeck_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}",
        "llamadeck_generated_tokens_total",
        "llamadeck_requests_in_flight",
        "llamadeck_queue_depth",
        "llamadeck_decode_tokens_per_second",
        "llamadeck_time_to_first_token_seconds_count",
        "llamadeck_process_resident_memory_bytes",
        "# TYPE llamadeck_gpu_memory_used_bytes gauge",
        "llamadeck_prefix_cache_hits_total",
        "llamadeck_prefix_cache_reused_tokens_total",
        "llamadeck_prefix_cache_bytes",
        "llamadeck_prefix_cache_budget_bytes",
    ] {
        assert!(text.contains(family), "{family} missing from\n{text}");
    }
    // No CORS unless configured.
    assert!(!health.headers.contains_key("access-control-allow-origin"));
}

#[test]
fn chat_completion_non_streaming_has_usage_and_finish_reason() {
    let f = fixture();
    let reply = post(f.smol.addr(), "/v1/chat/completions", chat_body("Name three colours.", json!({"max_completion_tokens": 6})));
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let v = reply.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert!(v["choices"][0]["message"]["content"].as_str().is_some_and(|c| !c.is_empty()), "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "length", "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 6, "{v}");
    let prompt = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 5, "{v}");
    assert_eq!(v["usage"]["total_tokens"].as_u64().unwrap(), prompt + 6);
}

/// The second turn of a conversation starts from the first turn's cache, and says so in
/// OpenAI's `usage.prompt_tokens_details.cached_tokens`.
#[test]
fn a_second_turn_reports_the_prompt_tokens_taken_from_the_prefix_cache() {
    let f = fixture();
    let system = json!({"role": "system", "content": "You name colours for the cache test, one word each."});
    let ask = |messages: Value| {
        let reply = post(f.smol.addr(), "/v1/chat/completions", json!({"messages": messages, "max_tokens": 6, "temperature": 0}));
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()
    };
    let first = ask(json!([system, {"role": "user", "content": "Name a colour."}]));
    let answer = first["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let first_prompt = first["usage"]["prompt_tokens"].as_u64().unwrap();
    let second = ask(json!([system, {"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": answer},
        {"role": "user", "content": "And another."}]));
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64().expect("cached_tokens");
    let prompt = second["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(cached >= first_prompt && cached < prompt, "{cached} cached of {prompt}; the first turn's prompt was {first_prompt}: {second}");
}

/// Answers that run at the same time are each the answer they would be alone (greedy, so
/// alone is exact). On the CPU mistral.rs 0.8.1 mixes the answers of one decoding batch (its
/// one-token attention keeps scratch per head, not per sequence): they run one at a time.
#[test]
fn answers_at_the_same_time_are_the_answers_alone() {
    let f = fixture();
    let questions = ["Name three colours.", "Say hello.", "What is 2+2?", "Count to five."];
    let ask = |q: &str| {
        let reply = post(f.smol.addr(), "/v1/chat/completions", chat_body(q, json!({"max_tokens": 8})));
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string()
    };
    let alone: Vec<String> = questions.iter().map(|q| ask(q)).collect();
    let together: Vec<String> = std::thread::scope(|s| {
        let asked: Vec<_> = questions.iter().chain(&questions).map(|q| s.spawn(move || ask(q))).collect();
        asked.into_iter().map(|a| a.join().unwrap()).collect()
    });
    for (i, answer) in together.iter().enumerate() {
        assert_eq!(answer, &alone[i % questions.len()], "{:?} asked beside the others", questions[i % questions.len()]);
    }
}

#[test]
fn chat_completion_streams_sse_ending_in_done() {
    let f = fixture();
    let body = chat_body("Name three colours.", json!({"max_tokens": 8, "stream": true, "stream_options": {"include_usage": true}}));
    let reply = post(f.smol.addr(), "/v1/chat/completions", body);
    assert_eq!(reply.status, 200);
    assert!(reply.headers["content-type"].starts_with("text/event-stream"));
    let events = reply.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{events:?}");
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let (text, finish) = streamed_text(&events);
    assert!(!text.is_empty());
    assert_eq!(finish.as_deref(), Some("length"), "{text:?}");
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 8, "{usage}");
}

/// Issue 21.19: `response_format` holds the demo model's answer to a JSON Schema token by token
/// (streamed or not), and a schema the engine cannot read is the client's 400.
#[test]
fn a_json_schema_holds_the_answer_to_its_shape() {
    let f = fixture();
    let schema = json!({
        "type": "object",
        "properties": {"colour": {"enum": ["red", "green", "blue"]}, "bright": {"type": "boolean"}},
        "required": ["colour", "bright"],
        "additionalProperties": false,
    });
    let format = json!({"type": "json_schema", "json_schema": {"name": "paint", "schema": schema, "strict": true}});
    let body = chat_body("Pick a colour for a boat.", json!({"max_tokens": 40, "temperature": 0, "response_format": format}));
    let reply = post(f.smol.addr(), "/v1/chat/completions", body.clone());
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let v = reply.json();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    let answer: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("not JSON ({e}): {content:?}"));
    assert!(["red", "green", "blue"].contains(&answer["colour"].as_str().unwrap_or("")), "{answer}");
    assert!(answer["bright"].is_boolean() && answer.as_object().unwrap().len() == 2, "{answer}");
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "the schema ends the answer: {v}");
    // Streamed, the same answer.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let (text, finish) = streamed_text(&post(f.smol.addr(), "/v1/chat/completions", streamed).events());
    assert_eq!((text.as_str(), finish.as_deref()), (content, Some("stop")));
    // Any JSON object.
    let object =
        chat_body("Describe a cat in JSON.", json!({"max_tokens": 60, "temperature": 0, "response_format": {"type": "json_object"}}));
    let v = post(f.smol.addr(), "/v1/chat/completions", object).json();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    if v["choices"][0]["finish_reason"] == "stop" {
        assert!(serde_json::from_str::<Value>(content).is_ok_and(|a| a.is_object()), "{content:?}");
    } else {
        assert!(content.starts_with('{'), "{content:?}");
    }
    // A schema llguidance cannot compile: the client's error, and the server keeps serving.
    let bad = json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}, "required": ["n"]}}});
    let reply = post(f.smol.addr(), "/v1/chat/completions", chat_body("Hi", json!({"max_tokens": 4, "response_format": bad})));
    assert_openai_error(&reply, 400, Some("response_format"));
    let reply = post(f.smol.addr(), "/v1/chat/completions", chat_body("Hi", json!({"max_tokens": 2})));
    assert_eq!(reply.status, 200);
}

/// Issue 21.19: `logprobs` and `top_logprobs`. Greedy, each drawn token is its step's likeliest,
/// the tokens spell the answer, and a stream reports the same tokens as a whole answer.
#[test]
fn logprobs_spell_the_answer_and_greedy_draws_the_likeliest() {
    let f = fixture();
    let body = chat_body("Name three colours.", json!({"max_tokens": 8, "temperature": 0, "logprobs": true, "top_logprobs": 3}));
    let reply = post(f.smol.addr(), "/v1/chat/completions", body.clone());
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let v = reply.json();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let tokens = v["choices"][0]["logprobs"]["content"].as_array().expect("logprobs.content").clone();
    assert_eq!(tokens.len(), 8, "one entry a token: {v}");
    let spelled: String = tokens.iter().map(|t| t["token"].as_str().unwrap()).collect();
    assert_eq!(spelled.trim_start(), content.trim_start(), "{tokens:?}");
    for t in &tokens {
        let logprob = t["logprob"].as_f64().unwrap();
        let top = t["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3, "{t}");
        assert!(logprob <= 0.0 && (logprob - top[0]["logprob"].as_f64().unwrap()).abs() < 1e-4, "greedy takes the likeliest: {t}");
        assert_eq!(t["token"], top[0]["token"], "{t}");
        assert!(top.windows(2).all(|w| w[0]["logprob"].as_f64() >= w[1]["logprob"].as_f64()), "{t}");
        assert_eq!(t["bytes"], json!(t["token"].as_str().unwrap().as_bytes()), "{t}");
    }
    let mut streamed = body;
    streamed["stream"] = json!(true);
    let events = post(f.smol.addr(), "/v1/chat/completions", streamed).events();
    let chunks: Vec<Value> = events.iter().filter(|e| *e != "[DONE]").map(|e| serde_json::from_str(e).unwrap()).collect();
    let in_stream: Vec<Value> =
        chunks.iter().filter_map(|c| c["choices"][0]["logprobs"]["content"].as_array()).flatten().cloned().collect();
    let round = |ts: &[Value]| ts.iter().map(|t| (t["token"].clone(), (t["logprob"].as_f64().unwrap() * 1e3).round())).collect::<Vec<_>>();
    assert_eq!(round(&in_stream), round(&tokens));
    // Left out, `logprobs` is null; alternatives without `logprobs` are refused.
    let v = post(f.smol.addr(), "/v1/chat/completions", chat_body("Hi", json!({"max_tokens": 2}))).json();
    assert!(v["choices"][0]["logprobs"].is_null(), "{v}");
    let reply = post(f.smol.addr(), "/v1/chat/completions", chat_body("Hi", json!({"max_tokens": 2, "top_logprobs": 2})));
    assert_openai_error(&reply, 400, Some("top_logprobs"));
}

/// Issue 21.19: tools on the demo model, whose template knows none. A named or required tool is
/// called, with arguments that keep to its schema, streamed or not; its result, sent back,
/// gets an answer.
#[test]
fn tools_are_called_on_a_model_whose_template_knows_none() {
    let f = fixture();
    let weather = json!({"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"enum": ["Paris", "Oslo", "Rome"]}}, "required": ["city"], "additionalProperties": false},
    }});
    let question = json!({"role": "user", "content": "What is the weather in Paris?"});
    let ask = |extra: Value| {
        let mut body = json!({"messages": [question], "tools": [weather], "max_tokens": 60, "temperature": 0});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        post(f.smol.addr(), "/v1/chat/completions", body)
    };
    for choice in [json!("required"), json!({"type": "function", "function": {"name": "get_weather"}})] {
        let reply = ask(json!({"tool_choice": choice}));
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let v = reply.json();
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert!(v["choices"][0]["message"]["content"].is_null(), "{v}");
        assert_eq!((&call["type"], &call["function"]["name"]), (&json!("function"), &json!("get_weather")), "{v}");
        assert!(call["id"].as_str().is_some_and(|id| id.starts_with("call_")), "{v}");
        let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert!(["Paris", "Oslo", "Rome"].contains(&args["city"].as_str().unwrap_or("")), "{args}");
    }
    // Streamed: one delta with the call, then the finish reason.
    let events = ask(json!({"tool_choice": "required", "stream": true})).events();
    let chunks: Vec<Value> = events.iter().filter(|e| *e != "[DONE]").map(|e| serde_json::from_str(e).unwrap()).collect();
    let calls: Vec<&Value> = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array()).flatten().collect();
    assert_eq!((calls.len(), &calls[0]["index"], &calls[0]["function"]["name"]), (1, &json!(0), &json!("get_weather")), "{chunks:?}");
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
    // The result goes back; the answer (words or another call) is a complete answer.
    let call = json!({"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}});
    let turn = json!({"messages": [question, {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees."}], "tools": [weather], "max_tokens": 60, "temperature": 0});
    let v = post(f.smol.addr(), "/v1/chat/completions", turn).json();
    let finish = v["choices"][0]["finish_reason"].as_str().unwrap_or("");
    assert!(["stop", "tool_calls", "length"].contains(&finish), "{v}");
    if finish == "stop" {
        let content = v["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(!content.starts_with("{\"response\""), "the answer's words, not its wrapping: {content:?}");
    }
    // tool_choice none: a plain answer, no calls.
    let v = ask(json!({"tool_choice": "none", "max_tokens": 8})).json();
    assert!(v["choices"][0]["message"]["tool_calls"].is_null() && v["choices"][0]["message"]["content"].is_string(), "{v}");
}

#[test]
fn text_completions_stream_and_not() {
    let f = fixture();
    let reply = post(f.smol.addr(), "/v1/completions", json!({"prompt": "The capital of France is", "max_tokens": 5, "temperature": 0}));
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let v = reply.json();
    assert_eq!(v["object"], "text_completion");
    assert!(v["choices"][0]["text"].is_string());
    assert_eq!(v["usage"]["completion_tokens"], 5);
    let streamed = post(
        f.smol.addr(),
        "/v1/completions",
        json!({"prompt": "The capital of France is", "max_tokens": 5, "temperature": 0, "stream": true}),
    );
    let events = streamed.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let (text, finish) = streamed_text(&events);
    assert_eq!(text, v["choices"][0]["text"].as_str().unwrap(), "greedy: streamed and collected agree");
    assert_eq!(finish.as_deref(), Some("length"));
}

#[test]
fn stop_strings_end_the_answer_and_are_not_included() {
    let f = fixture();
    let prompt = "Count from one to ten in words, separated by commas.";
    let free = post(f.smol.addr(), "/v1/chat/completions", chat_body(prompt, json!({"max_tokens": 24})));
    let text = free.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    // Stop on three characters from the middle of the free answer (one string and a list both work).
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    assert!(chars.len() > 8, "answer too short: {text:?}");
    let word: String = chars[4..7].iter().map(|(_, c)| c).collect();
    let before = &text[..text.find(word.as_str()).unwrap()];
    for stop in [json!(word), json!(["zzzz-never", word])] {
        let v = post(f.smol.addr(), "/v1/chat/completions", chat_body(prompt, json!({"max_tokens": 24, "stop": stop}))).json();
        let got = v["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(got, before, "stop {stop} on {text:?}");
        assert!(!got.contains(word.as_str()));
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    }
}

/// `max_tokens` beyond what is left of the context is clamped, not refused: on the tiny
/// Llama-2 (256-token context) 4096 tokens are asked for, as in the documented LangChain use.
#[test]
fn max_tokens_beyond_the_context_is_clamped() {
    let f = fixture();
    assert_eq!(f.llama.context_len, tiny_llama::CONTEXT);
    let v = post(f.llama.addr(), "/v1/chat/completions", chat_body("hello there", json!({"max_tokens": 4096}))).json();
    let prompt = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(v["usage"]["completion_tokens"].as_u64().unwrap(), tiny_llama::CONTEXT as u64 - prompt, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
}

/// A user message that already is a Llama-2 prompt is not wrapped again (the token ids are
/// checked in tests/engine.rs): over HTTP, the usage shows the structured prompt's length; a
/// raw completion starting with <s> too.
#[test]
fn a_llama2_formatted_message_is_not_wrapped_twice() {
    let f = fixture();
    let formatted = "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is a GPU? [/INST]";
    let v = post(f.llama.addr(), "/v1/chat/completions", chat_body(formatted, json!({"max_tokens": 2}))).json();
    assert_eq!(
        v["usage"]["prompt_tokens"].as_u64().unwrap() as usize,
        1 + reference_ids("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is a GPU? [/INST]").len()
    );
    let v = post(f.llama.addr(), "/v1/completions", json!({"prompt": formatted, "max_tokens": 2})).json();
    assert_eq!(
        v["usage"]["prompt_tokens"].as_u64().unwrap() as usize,
        1 + reference_ids("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is a GPU? [/INST]").len()
    );
}

/// A client that goes away mid-stream cancels its generation: the engine stops within a few tokens.
#[test]
fn a_disconnected_stream_is_cancelled() {
    let f = fixture();
    let body = chat_body("Write a long story about a lighthouse keeper.", json!({"max_tokens": 400, "stream": true})).to_string();
    let mut stream = TcpStream::connect(f.smol.addr()).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(stream, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nUser-Agent: cancel-test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut chunks = 0;
    let mut line = String::new();
    while chunks < 4 {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream ended early");
        if line.starts_with("data: ") && line.contains("\"content\"") {
            chunks += 1;
        }
    }
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop((reader, stream));
    let started = Instant::now();
    let record = loop {
        let found = f.smol.server.metrics.recent().into_iter().find(|r| r.client.contains("cancel-test"));
        if let Some(r) = found {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the generation was not cancelled");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(record.outcome, "cancelled", "{record:?}");
    assert!(record.completion_tokens < 100, "{record:?}");
}

/// Ten clients streaming at once all finish (no deadlock); prints the aggregate speed.
#[test]
fn ten_concurrent_streams() {
    let f = fixture();
    let addr = f.smol.addr();
    let started = Instant::now();
    let threads: Vec<_> = (0..10)
        .map(|i| {
            std::thread::spawn(move || {
                let body = chat_body(
                    &format!("Tell me fact number {i} about the sea."),
                    json!({"max_tokens": 16, "stream": true, "temperature": 0.7}),
                );
                let reply = post(addr, "/v1/chat/completions", body);
                assert_eq!(reply.status, 200);
                let events = reply.events();
                assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "client {i}: {events:?}");
                streamed_text(&events).1
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().is_some());
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("ten concurrent streams: 160 tokens in {secs:.2} s = {:.1} tok/s aggregate", 160.0 / secs);
    assert_eq!(get(addr, "/health").status, 200);
}

#[test]
fn bad_inputs_get_openai_errors_and_the_server_keeps_serving() {
    let f = fixture();
    let addr = f.smol.addr();
    let user = json!([{"role": "user", "content": "hi"}]);
    let cases: Vec<(&str, Vec<u8>, u16, Option<&str>)> = vec![
        ("malformed", b"{\"messages\": [".to_vec(), 400, None),
        ("not an object", b"[1,2]".to_vec(), 400, None),
        ("empty body", Vec::new(), 400, None),
        ("invalid utf-8", b"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}".to_vec(), 400, None),
        ("wrong type", json!({"messages": "hi"}).to_string().into_bytes(), 400, Some("messages")),
        ("missing messages", json!({"model": "x"}).to_string().into_bytes(), 400, Some("messages")),
        ("empty messages", json!({"messages": []}).to_string().into_bytes(), 400, Some("messages")),
        ("unknown role", json!({"messages": [{"role": "wizard", "content": "x"}]}).to_string().into_bytes(), 400, Some("messages[0].role")),
        (
            "ends with assistant",
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}).to_string().into_bytes(),
            400,
            Some("messages"),
        ),
        ("negative max_tokens", json!({"messages": user, "max_tokens": -1}).to_string().into_bytes(), 400, Some("max_tokens")),
        (
            "zero max_completion_tokens",
            json!({"messages": user, "max_completion_tokens": 0}).to_string().into_bytes(),
            400,
            Some("max_completion_tokens"),
        ),
        ("float max_tokens", json!({"messages": user, "max_tokens": 1e300}).to_string().into_bytes(), 400, Some("max_tokens")),
        ("absurd temperature", json!({"messages": user, "temperature": 1e9}).to_string().into_bytes(), 400, Some("temperature")),
        ("string temperature", json!({"messages": user, "temperature": "hot"}).to_string().into_bytes(), 400, Some("temperature")),
        ("negative top_p", json!({"messages": user, "top_p": -0.5}).to_string().into_bytes(), 400, Some("top_p")),
        ("penalty out of range", json!({"messages": user, "presence_penalty": 7}).to_string().into_bytes(), 400, Some("presence_penalty")),
        ("seed of the wrong type", json!({"messages": user, "seed": "lucky"}).to_string().into_bytes(), 400, Some("seed")),
        ("n refused", json!({"messages": user, "n": 3}).to_string().into_bytes(), 400, Some("n")),
        ("stop wrong type", json!({"messages": user, "stop": 5}).to_string().into_bytes(), 400, Some("stop")),
    ];
    for (name, body, status, param) in cases {
        let reply = http(addr, "POST", "/v1/chat/completions", &[], &body);
        eprintln!("{name}: {}", String::from_utf8_lossy(&reply.body));
        assert_openai_error(&reply, status, param);
    }
    let long = json!({"messages": [{"role": "user", "content": "word ".repeat(20_000)}]});
    assert_openai_error(&post(addr, "/v1/chat/completions", long), 400, Some("messages"));
    assert_openai_error(&post(addr, "/v1/completions", json!({"prompt": 5})), 400, Some("prompt"));
    assert_openai_error(&post(addr, "/v1/completions", json!({"max_tokens": 3})), 400, Some("prompt"));
    let huge = vec![b' '; llamadeck_server::BODY_LIMIT + 1];
    assert_openai_error(&http(addr, "POST", "/v1/chat/completions", &[], &huge), 413, None);
    assert_openai_error(&get(addr, "/v1/chat/completions"), 405, None);
    assert_openai_error(&get(addr, "/v1/nothing"), 404, None);
    assert_eq!(get(addr, "/health").status, 200);
    assert_eq!(post(addr, "/v1/chat/completions", chat_body("hi", json!({"max_tokens": 1}))).status, 200);
}

#[test]
fn an_api_key_is_required_when_set_and_cors_only_when_configured() {
    let f = fixture();
    let options = ServerOptions { api_key: Some("s3cret".into()), cors_origins: vec!["https://app.example".into()], ..options() };
    let server = f.runtime.block_on(llamadeck_server::start(f.smol.engine.clone(), &options, None, None)).unwrap();
    assert_openai_error(&get(server.addr, "/v1/models"), 401, None);
    assert_openai_error(&http(server.addr, "GET", "/v1/models", &[("Authorization", "Bearer wrong")], b""), 401, None);
    let ok = http(server.addr, "GET", "/v1/models", &[("Authorization", "Bearer s3cret"), ("Origin", "https://app.example")], b"");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.get("access-control-allow-origin").map(String::as_str), Some("https://app.example"));
    let chat = http(
        server.addr,
        "POST",
        "/v1/chat/completions",
        &[("Authorization", "Bearer s3cret")],
        chat_body("hi", json!({"max_tokens": 1})).to_string().as_bytes(),
    );
    assert_eq!(chat.status, 200);
    f.runtime.block_on(server.stop(Duration::from_secs(1)));
}

#[test]
fn without_a_model_requests_get_503_and_a_busy_port_is_reported() {
    let f = fixture();
    let idle = mistral::spawn();
    let server = f.runtime.block_on(llamadeck_server::start(idle.clone(), &options(), None, None)).unwrap();
    let reply = post(server.addr, "/v1/chat/completions", chat_body("hi", json!({})));
    assert_openai_error(&reply, 503, None);
    assert_eq!(get(server.addr, "/health").status, 503);
    idle.load(ModelSpec { source: "/nonexistent/model.gguf".into(), device: "cpu".into(), ..ModelSpec::default() })
        .expect("an in-process engine loads models");
    let started = Instant::now();
    loop {
        let reply = get(server.addr, "/health");
        if reply.json()["status"] == "failed" {
            assert_openai_error(&reply, 503, None);
            assert!(reply.json()["error"]["message"].as_str().unwrap().contains("does not exist"));
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(50));
    }
    // The same port again: a clear error, also sent to the console.
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let taken = ServerOptions { port: server.addr.port(), ..options() };
    let err = f.runtime.block_on(llamadeck_server::start(idle, &taken, None, Some(Sink::channel(events_tx)))).err().expect("port in use");
    assert!(err.contains("in use"), "{err}");
    assert!(matches!(events.try_recv(), Ok(ServerEvent::Failed(e)) if e == err));
    f.runtime.block_on(server.stop(Duration::from_secs(1)));
}

/// The `openai` Python client (chat, streaming, completions, models) and LangChain's
/// `ChatOpenAI` as the README shows it, including a Llama-2-formatted PromptTemplate.
#[test]
fn third_party_clients_openai_python_and_langchain() {
    let f = fixture();
    let python = std::env::var_os("LLAMADECK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("llamadeck/pyenv/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: run scripts/test (it installs openai and langchain-openai), or set LLAMADECK_PYTHON",
        python.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api_clients.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(format!("http://{}/v1", f.smol.addr()))
        .arg(format!("http://{}/v1", f.llama.addr()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(output.status.success(), "the Python clients failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all clients ok"));
}
