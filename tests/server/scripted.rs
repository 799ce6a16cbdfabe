//! The protocol against a scripted engine: what the API asks of the engine's face and how it
//! answers what the face reports, without a model.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use llamadeck::chat::Role;
use llamadeck::engine::{Engine, ModelSpec};

use llamadeck::sampling::Sampling;
use llamadeck::server::{Server, ServerOptions};
use serde_json::json;

use super::doubles::{Requests, Script, scripted};
use super::http::*;

/// A served scripted engine; dropping it stops the server, then its runtime.
struct Api {
    server: Server,
    requests: Requests,
    _runtime: tokio::runtime::Runtime,
}

async fn serve(engine: Engine) -> Server {
    let options = ServerOptions { host: "127.0.0.1".into(), port: 0, api_key: None, cors_origins: Vec::new(), defaults: Sampling::default() };
    llamadeck::server::start(engine, &options, None, None).await.expect("binds port 0")
}

/// A server on a scripted engine; loaded unless `loaded` is false.
fn api(script: Script, loaded: bool) -> Api {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (engine, requests) = scripted(script);
    if loaded {
        engine.load(ModelSpec { source: "scripted-13b".into(), ..ModelSpec::default() });
    }
    let server = runtime.block_on(serve(engine.clone()));
    Api { server, requests, _runtime: runtime }
}

fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i} ")).collect()
}

fn script(words: Vec<String>) -> Script {
    Script { words, delay: Duration::from_millis(1), context_len: 4096, fail_after: None }
}

#[test]
fn the_request_reaches_the_engine_through_its_face_with_the_sampling_asked_for() {
    let api = api(script(words(3)), true);
    let body = json!({
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "two words here"}],
        "temperature": 0.3, "top_p": 0.5, "max_tokens": 7, "stop": ["zz"],
    });
    let reply = post(api.server.addr, "/v1/chat/completions", body);
    assert_eq!(reply.status, 200);
    let v = reply.json();
    assert_eq!(v["choices"][0]["message"]["content"], "w0 w1 w2 ");
    assert_eq!(v["model"], "scripted-13b");
    assert_eq!(v["usage"]["prompt_tokens"], 6, "the engine's own count: {v}");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    let requests = api.requests.lock().unwrap();
    let request = requests.last().expect("the engine got the request");
    assert_eq!(request.messages.iter().map(|m| m.role).collect::<Vec<_>>(), [Role::System, Role::User]);
    let s = &request.sampling;
    assert_eq!((s.temperature, s.top_p, s.max_tokens, s.stop.clone(), s.raw_mode), (0.3, 0.5, 7, vec!["zz".to_string()], false));
}

#[test]
fn a_prompt_the_engine_cannot_fit_is_a_400_before_any_stream_starts() {
    let api = api(Script { context_len: 8, ..script(words(3)) }, true);
    let long = "one two three four five six seven eight nine ten";
    for stream in [false, true] {
        let reply = post(api.server.addr, "/v1/chat/completions", chat_body(long, json!({"stream": stream})));
        assert_openai_error(&reply, 400, Some("messages"));
        assert_eq!(reply.json()["error"]["code"], "context_length_exceeded");
    }
    let reply = post(api.server.addr, "/v1/chat/completions", chat_body("short", json!({})));
    assert_eq!(reply.status, 200);
}

#[test]
fn without_a_loaded_model_every_generation_is_a_503() {
    let api = api(script(words(3)), false);
    assert_openai_error(&post(api.server.addr, "/v1/chat/completions", chat_body("hi", json!({}))), 503, None);
    assert_openai_error(&post(api.server.addr, "/v1/completions", json!({"prompt": "hi"})), 503, None);
    let health = get(api.server.addr, "/health");
    assert_eq!((health.status, health.json()["status"].clone()), (503, json!("no model")));
    assert_eq!(get(api.server.addr, "/v1/models").json()["data"], json!([]));
    assert!(api.requests.lock().unwrap().is_empty(), "nothing reached the engine");
}

#[test]
fn an_engine_failure_mid_stream_ends_the_stream_with_an_error_and_done() {
    let api = api(Script { fail_after: Some(2), ..script(words(5)) }, true);
    let reply = post(api.server.addr, "/v1/chat/completions", chat_body("hi", json!({"stream": true})));
    assert_eq!(reply.status, 200);
    let events = reply.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let error: serde_json::Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(error["error"]["message"], "the scripted engine failed");
    let (text, _) = streamed_text(&events[..events.len() - 2]);
    assert_eq!(text, "w0 w1 ");
    let reply = post(api.server.addr, "/v1/chat/completions", chat_body("hi", json!({})));
    assert_openai_error(&reply, 500, None);
}

/// A client that leaves mid-stream cancels its generation in the engine, which then stops.
#[test]
fn a_client_that_leaves_cancels_its_generation_in_the_engine() {
    let api = api(Script { delay: Duration::from_millis(20), ..script(words(500)) }, true);
    let body = chat_body("tell me everything", json!({"stream": true})).to_string();
    let mut stream = TcpStream::connect(api.server.addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(stream, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nUser-Agent: leaver\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let (mut chunks, mut line) = (0, String::new());
    while chunks < 3 {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream ended early");
        chunks += usize::from(line.starts_with("data: ") && line.contains("\"content\":\"w"));
    }
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop((reader, stream));
    let started = Instant::now();
    let record = loop {
        if let Some(r) = api.server.metrics.recent().into_iter().find(|r| r.client.contains("leaver")) {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the generation was not cancelled");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(record.status, "cancelled", "{record:?}");
    assert!(record.completion_tokens < 100, "{record:?}");
}
