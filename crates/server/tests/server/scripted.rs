//! The protocol against a scripted engine: what the API asks of the engine's face and how it
//! answers what the face reports, without a model.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use llamadeck_words::chat::Role;
use serde_json::{Value, json};

use super::doubles::{EarlyEnd, Script, no_gpu, scripted, shared};
use super::http::*;
use super::served::{api, script, wait_for, words};

#[test]
fn the_request_reaches_the_engine_through_its_face_with_the_sampling_asked_for() {
    let api = api(script(words(3)), true);
    let body = json!({
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "two words here"}],
        "temperature": 0.3, "top_p": 0.5, "max_tokens": 7, "stop": ["zz"], "seed": 42,
    });
    let reply = post(api.addr(), "/v1/chat/completions", body);
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
    assert_eq!(s.seed, Some(42));
}

#[test]
fn a_prompt_the_engine_cannot_fit_is_a_400_before_any_stream_starts() {
    let api = api(Script { context_len: 8, ..script(words(3)) }, true);
    let long = "one two three four five six seven eight nine ten";
    for stream in [false, true] {
        let reply = post(api.addr(), "/v1/chat/completions", chat_body(long, json!({"stream": stream})));
        assert_openai_error(&reply, 400, Some("messages"));
        assert_eq!(reply.json()["error"]["code"], "context_length_exceeded");
    }
    let reply = post(api.addr(), "/v1/chat/completions", chat_body("short", json!({})));
    assert_eq!(reply.status, 200);
}

#[test]
fn without_a_loaded_model_every_generation_is_a_503() {
    let api = api(script(words(3)), false);
    assert_openai_error(&post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({}))), 503, None);
    assert_openai_error(&post(api.addr(), "/v1/completions", json!({"prompt": "hi"})), 503, None);
    let health = get(api.addr(), "/health");
    assert_eq!((health.status, health.json()["status"].clone()), (503, json!("no model")));
    assert_eq!(get(api.addr(), "/v1/models").json()["data"], json!([]));
    assert!(api.requests.lock().unwrap().is_empty(), "nothing reached the engine");
}

#[test]
fn an_engine_failure_mid_stream_ends_the_stream_with_an_error_and_done() {
    let api = api(Script { fail_after: Some(2), ..script(words(5)) }, true);
    let reply = post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({"stream": true})));
    assert_eq!(reply.status, 200);
    let events = reply.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let error: serde_json::Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(error["error"]["message"], "the scripted engine failed");
    let (text, _) = streamed_text(&events[..events.len() - 2]);
    assert_eq!(text, "w0 w1 ");
    let reply = post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({})));
    assert_openai_error(&reply, 500, None);
}

/// A streaming chat request written on a raw socket (so the test decides when to stop reading).
fn stream_chat(addr: std::net::SocketAddr, question: &str, agent: &str) -> (TcpStream, BufReader<TcpStream>) {
    let body = chat_body(question, json!({"stream": true})).to_string();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(stream, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {agent}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

/// Reads until `n` of the scripted words ("w0 ", "w1 ", ...) arrived; the last line read.
fn read_words(reader: &mut BufReader<TcpStream>, n: usize) -> String {
    let (mut words, mut line) = (0, String::new());
    while words < n {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream ended early");
        words += usize::from(line.starts_with("data: ") && line.contains("\"content\":\"w"));
    }
    line
}

/// A client that leaves mid-stream cancels its generation in the engine, which then stops.
#[test]
fn a_client_that_leaves_cancels_its_generation_in_the_engine() {
    let api = api(Script { delay: Duration::from_millis(20), ..script(words(500)) }, true);
    let (stream, mut reader) = stream_chat(api.addr(), "tell me everything", "leaver");
    read_words(&mut reader, 3);
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop((reader, stream));
    let started = Instant::now();
    let record = loop {
        if let Some(r) = api.server().metrics.recent().into_iter().find(|r| r.client.contains("leaver")) {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the generation was not cancelled");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!((record.status, record.outcome.as_str()), (200, "cancelled"), "{record:?}");
    assert!(record.completion_tokens < 100, "{record:?}");
    // "tell me everything": three words and BOS, as the engine counted them.
    assert_eq!(record.prompt_tokens, 4, "a cancelled request keeps its prompt's size: {record:?}");
}

/// `/metrics` counts generated tokens while an answer streams (a scraper's rate, like the
/// fleet pane's tok/s, sees it working), and the total is the engine's count at the end.
#[test]
fn generated_tokens_count_while_an_answer_streams() {
    let api = api(Script { delay: Duration::from_millis(20), ..script(words(40)) }, true);
    let generated = || {
        let text = String::from_utf8(get(api.addr(), "/metrics").body).unwrap();
        let line = text.lines().find(|l| l.starts_with("llamadeck_generated_tokens_total ")).expect("the counter").to_string();
        line.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
    };
    let (_stream, mut reader) = stream_chat(api.addr(), "count", "counter");
    let mut line = read_words(&mut reader, 5);
    let midway = generated();
    assert!((5..40).contains(&midway), "{midway} tokens counted with 5 of 40 received");
    while !line.starts_with("data: [DONE]") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "stream ended without [DONE]");
    }
    wait_for(Duration::from_secs(10), "the answer's count", || generated() == 40);
}

/// A client that leaves before a collected (non-streaming) answer is ready cancels it too.
#[test]
fn a_client_that_leaves_before_a_collected_answer_cancels_it() {
    let api = api(Script { delay: Duration::from_millis(20), ..script(words(500)) }, true);
    let body = chat_body("tell me everything", json!({})).to_string();
    let mut stream = TcpStream::connect(api.addr()).unwrap();
    write!(stream, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nUser-Agent: impatient\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    wait_for(Duration::from_secs(10), "the request to reach the engine", || !api.requests.lock().unwrap().is_empty());
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop(stream);
    let mut record = None;
    wait_for(Duration::from_secs(10), "the generation to be cancelled", || {
        record = api.server().metrics.recent().into_iter().find(|r| r.client.contains("impatient"));
        record.is_some()
    });
    let record = record.unwrap();
    assert_eq!(record.outcome, "cancelled", "{record:?}");
    assert!(record.completion_tokens < 100, "500 words at 20 ms would take 10 s: {record:?}");
}

/// The events of a streamed answer, parsed, without `[DONE]`; and whether `[DONE]` ended it.
fn parsed(events: &[String]) -> (Vec<Value>, bool) {
    let done = events.last().map(String::as_str) == Some("[DONE]");
    (events.iter().filter(|e| *e != "[DONE]").map(|e| serde_json::from_str(e).unwrap()).collect(), done)
}

/// An answer that ends without the engine saying it finished is an error to the client, never
/// "stop": the stream ends with an error chunk and `[DONE]`, a collected answer is a 500.
#[test]
fn an_answer_that_ends_unfinished_is_an_error_never_stop() {
    for how in [EarlyEnd::Vanish, EarlyEnd::Aborted] {
        let api = api(Script { early_end: Some((2, how)), ..script(words(5)) }, true);
        let reply = post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({"stream": true})));
        assert_eq!(reply.status, 200);
        let (events, done) = parsed(&reply.events());
        assert!(done, "{how:?}: {events:?}");
        let last = events.last().unwrap();
        let message = last["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("the engine stopped") && message.contains("complete"), "{how:?}: {last}");
        assert!(events.iter().all(|e| e["choices"][0]["finish_reason"].is_null()), "{how:?}: no finish reason: {events:?}");
        assert_eq!(streamed_text(&reply.events()[..events.len() - 1]).0, "w0 w1 ");
        let reply = post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({})));
        assert_openai_error(&reply, 500, None);
        let reply = post(api.addr(), "/v1/completions", json!({"prompt": "hi"}));
        assert_openai_error(&reply, 500, None);
        let logged: Vec<_> = api.server().metrics.recent().into_iter().map(|r| (r.status, r.outcome)).collect();
        assert_eq!(logged, [(200, "error".to_string()), (500, "error".to_string()), (500, "error".to_string())], "{how:?}");
    }
}

/// Ids are `chatcmpl-<n>` with n from the clock, so no two runs (servers) hand out the same.
#[test]
fn request_ids_are_new_in_every_run() {
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let id = |api: &super::served::Api| {
        let v = post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({}))).json();
        v["id"].as_str().unwrap().strip_prefix("chatcmpl-").unwrap().parse::<u64>().unwrap()
    };
    let (first, second) = (api(script(words(1)), true), api(script(words(1)), true));
    let (a, b) = (id(&first), id(&second));
    assert_ne!(a, b);
    assert!(a >= before && b >= before, "{a} {b} start from the time ({before})");
    assert_eq!(id(&first), a + 1);
}

/// Requests hyper refuses itself (it never passes them on) still get OpenAI error bodies.
#[test]
fn malformed_http_gets_openai_error_bodies_too() {
    let api = api(script(words(1)), true);
    let cases: [(&str, Vec<u8>, u16); 3] = [
        ("bad Content-Length", b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n".to_vec(), 400),
        (
            "two Content-Lengths",
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".to_vec(),
            400,
        ),
        (
            "too many headers",
            [b"GET /health HTTP/1.1\r\nHost: localhost\r\n".to_vec(), b"X-A: b\r\n".repeat(120), b"\r\n".to_vec()].concat(),
            431,
        ),
    ];
    for (name, request, status) in cases {
        let reply = raw(api.addr(), &request);
        eprintln!("{name}: {}", String::from_utf8_lossy(&reply.body));
        assert_openai_error(&reply, status, None);
    }
    assert_eq!(get(api.addr(), "/health").status, 200);
}

/// After SIGTERM (`stop`), an answer that ends within the grace ends normally; new
/// connections are refused.
#[test]
fn stopping_lets_answers_in_flight_finish_within_the_grace() {
    let mut api = api(Script { delay: Duration::from_millis(30), ..script(words(10)) }, true);
    let addr = api.addr();
    let client = std::thread::spawn(move || post(addr, "/v1/chat/completions", chat_body("hi", json!({"stream": true}))));
    wait_for(Duration::from_secs(10), "the answer to start", || api.server().metrics.in_flight() == 1);
    let started = Instant::now();
    api.stop(Duration::from_secs(20));
    assert!(started.elapsed() < Duration::from_secs(5), "stop waited for the answer, not the whole grace");
    let (events, done) = parsed(&client.join().unwrap().events());
    assert!(done);
    assert_eq!(events.last().unwrap()["choices"][0]["finish_reason"], "stop", "{events:?}");
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}

/// After the grace, an answer still streaming ends with an error chunk and `[DONE]`, not a cut.
#[test]
fn after_the_grace_a_stream_ends_with_an_error_chunk_and_done() {
    let mut api = api(Script { delay: Duration::from_millis(20), ..script(words(1000)) }, true);
    let addr = api.addr();
    let client = std::thread::spawn(move || post(addr, "/v1/chat/completions", chat_body("hi", json!({"stream": true}))));
    wait_for(Duration::from_secs(10), "the answer to start", || api.server().metrics.in_flight() == 1);
    let started = Instant::now();
    api.stop(Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let (events, done) = parsed(&client.join().unwrap().events());
    assert!(done, "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["error"]["code"], "shutting_down", "{last}");
}

/// The console refuses to serve a non-loopback host without a key, unless `--insecure`.
#[test]
fn the_console_serves_a_non_loopback_host_without_a_key_only_with_insecure() {
    use llamadeck_server::{ServerEvent, start_for_console};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut config = llamadeck_config::Config::default();
    (config.server.host, config.server.port) = ("0.0.0.0".into(), 0);
    let (engine, _) = scripted(script(words(1)));
    let (_gpu_tx, gpu) = tokio::sync::watch::channel(shared(no_gpu()));
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let sink = llamadeck_words::sink::Sink::channel(events_tx);
    let refused = runtime.block_on(start_for_console(&config, false, engine.clone(), gpu.clone(), sink.clone(), None));
    assert!(refused.is_none());
    assert!(matches!(events.try_recv(), Ok(ServerEvent::Failed(why)) if why.contains("--insecure")));
    let served = runtime.block_on(start_for_console(&config, true, engine, gpu, sink, None)).expect("--insecure serves");
    assert!(served.addr.ip().is_unspecified());
    assert!(matches!(events.try_recv(), Ok(ServerEvent::Listening(addr)) if addr == served.addr));
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], served.addr.port()));
    assert_eq!(get(local, "/v1/models").status, 200);
}
