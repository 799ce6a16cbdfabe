//! Connection limits (issue 12.5): idle and slow clients are closed, connections over the cap
//! get 503 at once, and none of it cuts an answer that is streaming. Issue 19.6: a refusal
//! closes its connection, one address holds at most its share of the connections, and with a
//! key some are kept for clients that sent it.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use llamadeck_server::{Limits, ServerOptions};
use serde_json::json;

use super::doubles::Script;
use super::http::*;
use super::served::{api_with, connect_from, exchange, options, script, wait_for, words};

fn limited(max_connections: usize, header_ms: u64, body_ms: u64) -> ServerOptions {
    let limits = Limits {
        max_connections,
        max_connections_per_client: max_connections,
        header_timeout: Duration::from_millis(header_ms),
        body_timeout: Duration::from_millis(body_ms),
    };
    ServerOptions { limits, ..options() }
}

/// The cheap request a client keeps a connection busy with (issue 19.6 sent one every few
/// seconds on each connection, restarting its header timer).
const CHEAP: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Reads until the server closes the connection; how long that took (None: still open at `limit`).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return None,
            Err(_) => return Some(started.elapsed()),
        }
    }
}

#[test]
fn an_idle_connection_is_closed_after_the_header_timeout() {
    let api = api_with(script(words(1)), true, limited(8, 300, 300));
    let mut idle = TcpStream::connect(api.addr()).unwrap();
    let took = closed_within(&mut idle, Duration::from_secs(5)).expect("the idle connection was kept open");
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

/// Slowloris: a head sent a byte at a time never completes, and is cut at the header timeout.
#[test]
fn a_head_trickled_a_byte_at_a_time_is_cut_at_the_header_timeout() {
    let api = api_with(script(words(1)), true, limited(8, 300, 300));
    let mut slow = TcpStream::connect(api.addr()).unwrap();
    let started = Instant::now();
    let trickle = b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Padding: "
        .iter()
        .chain(b"a".repeat(400).iter())
        .copied()
        .collect::<Vec<u8>>();
    let cut = trickle.iter().position(|byte| {
        std::thread::sleep(Duration::from_millis(20));
        slow.write_all(&[*byte]).is_err()
    });
    assert!(cut.is_some(), "the whole head was trickled over {:?} without being cut", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn a_body_that_does_not_arrive_in_time_gets_408() {
    let api = api_with(script(words(1)), true, limited(8, 5_000, 300));
    let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"messages\"";
    let mut stream = TcpStream::connect(api.addr()).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let reply = parse_reply(&answer);
    assert_openai_error(&reply, 408, None);
    assert_eq!(reply.json()["error"]["code"], "request_timeout");
}

#[test]
fn connections_over_the_cap_get_503_and_a_freed_slot_serves_again() {
    let api = api_with(script(words(1)), true, limited(2, 30_000, 30_000));
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(api.addr()).unwrap()).collect();
    let refused = get(api.addr(), "/v1/models");
    assert_openai_error(&refused, 503, None);
    assert_eq!(refused.json()["error"]["code"], "too_many_connections");
    drop(held);
    wait_for(Duration::from_secs(10), "a slot to be freed", || get(api.addr(), "/v1/models").status == 200);
    let metrics = String::from_utf8(get(api.addr(), "/metrics").body).unwrap();
    let refused = metrics.lines().find_map(|l| l.strip_prefix("llamadeck_connections_refused_total ")?.parse::<u64>().ok());
    assert!(refused.is_some_and(|n| n >= 1), "{metrics}");
}

/// An answer streaming for longer than both timeouts runs to its end.
#[test]
fn a_stream_longer_than_the_timeouts_is_not_cut() {
    let api = api_with(Script { delay: Duration::from_millis(25), ..script(words(40)) }, true, limited(8, 200, 200));
    let started = Instant::now();
    let reply = post(api.addr(), "/v1/chat/completions", chat_body("hi", json!({"stream": true})));
    assert!(started.elapsed() > Duration::from_millis(800), "{:?}", started.elapsed());
    let events = reply.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let (text, finish) = streamed_text(&events);
    assert_eq!((text.split_whitespace().count(), finish.as_deref()), (40, Some("stop")));
}

/// A refused request (401, 403, 404, 503; 429 in `queue`) closes its connection, so refusals
/// cannot keep a connection slot busy; an answered one keeps it.
#[test]
fn a_refusal_closes_its_connection() {
    let api = api_with(script(words(1)), true, ServerOptions { api_key: Some("k".into()), ..limited(8, 30_000, 30_000) });
    let refusals: [(&[u8], u16); 3] = [
        (b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n", 401),
        (b"GET /v1/nothing HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer k\r\n\r\n", 404),
        (b"GET /v1/models HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer k\r\n\r\n", 403),
    ];
    for (request, status) in refusals {
        let mut stream = connect_from(&api, [127, 0, 0, 1]);
        let reply = exchange(&mut stream, request);
        assert_openai_error(&reply, status, None);
        assert_eq!(reply.headers.get("connection").map(String::as_str), Some("close"), "{status}");
        assert!(closed_within(&mut stream, Duration::from_secs(5)).is_some(), "a {status} kept its connection open");
    }
    let mut kept = connect_from(&api, [127, 0, 0, 1]);
    let answered = b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer k\r\n\r\n";
    for _ in 0..2 {
        assert_eq!(exchange(&mut kept, answered).status, 200, "an answered request keeps its connection");
    }
    let loading = api_with(script(words(1)), false, limited(8, 30_000, 30_000));
    let mut stream = connect_from(&loading, [127, 0, 0, 1]);
    assert_eq!(exchange(&mut stream, CHEAP).status, 503);
    assert!(closed_within(&mut stream, Duration::from_secs(5)).is_some(), "a 503 kept its connection open");
}

/// Issue 19.6: one address opens the cap's worth of keep-alive connections and keeps each busy
/// with cheap requests; it holds only its share, and a client from another address still gets
/// its answer.
#[test]
fn one_address_cannot_hold_every_connection() {
    let mut options = limited(8, 30_000, 30_000);
    options.limits.max_connections_per_client = 4;
    let api = api_with(script(words(3)), true, options);
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..8 {
        let mut stream = connect_from(&api, [127, 0, 0, 1]);
        let reply = exchange(&mut stream, CHEAP);
        match reply.status {
            200 => held.push(stream),
            _ => refused.push(reply),
        }
    }
    assert_eq!((held.len(), refused.len()), (4, 4));
    for reply in &refused {
        assert_openai_error(reply, 503, None);
        assert!(reply.json()["error"]["message"].as_str().unwrap().contains("server.max_connections_per_client"), "{}", reply.json());
    }
    for stream in &mut held {
        assert_eq!(exchange(stream, CHEAP).status, 200, "the held connections are kept busy");
    }
    let mut other = connect_from(&api, [127, 0, 0, 2]);
    let body = chat_body("hi", json!({})).to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = exchange(&mut other, request.as_bytes());
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "w0 w1 w2 ");
}

/// With a key set, clients that never sent it cannot take the last connections: an eighth of
/// the cap is kept for addresses that did. Their requests would be refused and close their
/// connection, so they hold connections idle.
#[test]
fn with_a_key_some_connections_are_kept_for_clients_that_sent_it() {
    let api = api_with(script(words(1)), true, ServerOptions { api_key: Some("k".into()), ..limited(8, 30_000, 30_000) });
    let with_key = b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer k\r\n\r\n";
    let mut operator = connect_from(&api, [127, 0, 0, 1]);
    assert_eq!(exchange(&mut operator, with_key).status, 200);
    // Seven slots are open to strangers; the operator holds one of them.
    let mut strangers: Vec<TcpStream> = (0..8).map(|_| connect_from(&api, [127, 0, 0, 2])).collect();
    for late in &mut strangers[6..] {
        late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = late.read_to_end(&mut answer);
        assert_eq!(parse_reply(&answer).status, 503, "a stranger took a slot of the reserve");
    }
    let mut second = connect_from(&api, [127, 0, 0, 1]);
    assert_eq!(exchange(&mut second, with_key).status, 200, "the operator's client gets the reserved slot");
}
