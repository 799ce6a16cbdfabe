//! What one client may ask of the engine (issue 19.8): a few requests waiting at a time (429
//! with `Retry-After` beyond, before the engine sees it, other clients unaffected), and at most
//! `server.max_tokens` tokens an answer, which is also what a request that names none gets.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use llamadeck_server::ServerOptions;
use serde_json::json;

use super::doubles::Script;
use super::http::*;
use super::served::{Api, api_with, connect_from, options, script, wait_for, words};

/// A streaming chat request from `from`; returns the connection once the answer's head came
/// (the engine has the request; the scripted engine's first word is a minute away).
fn waiting_stream(api: &Api, from: [u8; 4]) -> Result<TcpStream, Reply> {
    let mut stream = connect_from(api, from);
    let body = chat_body("hi", json!({"stream": true})).to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed before a head: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let reply = parse_reply(&head);
    if reply.status == 200 {
        return Ok(stream);
    }
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    Err(parse_reply(&[head, rest].concat()))
}

/// The stream of a request that was let in line.
fn in_line(result: Result<TcpStream, Reply>, what: &str) -> TcpStream {
    result.unwrap_or_else(|reply| panic!("{what}: {} {}", reply.status, String::from_utf8_lossy(&reply.body)))
}

#[test]
fn a_client_over_its_queue_gets_429_before_the_engine_and_others_are_unaffected() {
    let slow = Script { delay: Duration::from_secs(60), ..script(words(1)) };
    let api = api_with(slow, true, ServerOptions { max_queued_per_client: 2, ..options() });
    let first = in_line(waiting_stream(&api, [127, 0, 0, 1]), "first in line");
    let _second = in_line(waiting_stream(&api, [127, 0, 0, 1]), "second in line");
    let refused = waiting_stream(&api, [127, 0, 0, 1]).expect_err("a third is over the limit");
    assert_openai_error(&refused, 429, None);
    assert_eq!(refused.json()["error"]["code"], "rate_limit_exceeded");
    assert!(refused.json()["error"]["message"].as_str().unwrap().contains("server.max_queued_per_client"));
    assert_eq!(refused.headers.get("retry-after").map(String::as_str), Some("2"));
    assert_eq!(refused.headers.get("connection").map(String::as_str), Some("close"));
    assert_eq!(api.requests.lock().unwrap().len(), 2, "the refused request never reached the engine");
    let _other = in_line(waiting_stream(&api, [127, 0, 0, 2]), "another client is not affected");
    // A client that leaves gives its place back.
    drop(first);
    let mut again = None;
    wait_for(Duration::from_secs(10), "a place in line to be given back", || {
        again = waiting_stream(&api, [127, 0, 0, 1]).ok();
        again.is_some()
    });
}

/// An answer that has started no longer waits: its client may ask again.
#[test]
fn an_answer_that_started_gives_its_place_back() {
    let api = api_with(
        Script { delay: Duration::from_millis(20), ..script(words(400)) },
        true,
        ServerOptions { max_queued_per_client: 1, ..options() },
    );
    let mut streaming = in_line(waiting_stream(&api, [127, 0, 0, 1]), "first in line");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&line).contains("\"content\":\"w0") {
        assert_eq!(streaming.read(&mut byte).unwrap(), 1);
        line.push(byte[0]);
    }
    let reply = post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({"max_tokens": 2})));
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
}

#[test]
fn server_max_tokens_is_the_default_and_the_cap_and_usage_tells_the_truth() {
    let api = api_with(script(words(100)), true, ServerOptions { max_tokens: 5, ..options() });
    for extra in [json!({}), json!({"max_tokens": 1000}), json!({"max_completion_tokens": 100_000})] {
        let reply = post(api.addr(), "/v1/chat/completions", chat_body("hi", extra.clone()));
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let v = reply.json();
        assert_eq!(v["usage"]["completion_tokens"], 5, "{extra}: {v}");
        assert_eq!(v["choices"][0]["finish_reason"], "length", "{extra}: {v}");
        assert_eq!(api.requests.lock().unwrap().last().unwrap().sampling.max_tokens, 5, "{extra}");
    }
    let reply = post(api.addr(), "/v1/completions", json!({"prompt": "once", "max_tokens": 3}));
    assert_eq!(reply.json()["usage"]["completion_tokens"], 3, "a smaller ask is kept");
    assert_eq!(api.requests.lock().unwrap().last().unwrap().sampling.max_tokens, 3);
}

/// The API's requests wait behind the console's: they are never interactive.
#[test]
fn api_requests_are_queued_not_interactive() {
    let api = api_with(script(words(1)), true, options());
    assert_eq!(post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({}))).status, 200);
    assert_eq!(api.requests.lock().unwrap()[0].priority, llamadeck_engine::Priority::Queued);
}
