//! The API and web pages (issue 12.12): a request addressed to a host this server does not
//! answer for (DNS rebinding) or sent from a page not in `cors_origins` gets 403; POST bodies
//! must be JSON (415), which stops a page's form post; CORS preflights work for listed pages.
use serde_json::json;

use llamadeck_server::ServerOptions;

use super::http::*;
use super::served::{api_with, options, script, words};

fn models_with(addr: std::net::SocketAddr, headers: &[(&str, &str)]) -> Reply {
    http(addr, "GET", "/v1/models", headers, b"")
}

#[test]
fn a_request_for_a_host_this_server_does_not_answer_for_gets_403() {
    let api = api_with(script(words(1)), true, ServerOptions { allowed_hosts: vec!["gpu-box.lan".into()], ..options() });
    let addr = api.addr();
    let port = addr.port().to_string();
    for host in ["evil.example", &format!("rebind.evil.example:{port}"), "localhost.evil.example"] {
        let reply = models_with(addr, &[("Host", host)]);
        assert_openai_error(&reply, 403, None);
        assert_eq!(reply.json()["error"]["code"], "host_not_allowed", "{host}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "gpu-box.lan".into()] {
        assert_eq!(models_with(addr, &[("Host", &host)]).status, 200, "{host}");
    }
    // HTTP/1.0 without Host: not a browser, nothing to rebind.
    assert_eq!(raw(addr, b"GET /v1/models HTTP/1.0\r\n\r\n").status, 200);
}

#[test]
fn a_request_from_a_web_page_not_listed_gets_403() {
    let open = api_with(script(words(1)), true, options());
    assert_openai_error(&models_with(open.addr(), &[("Origin", "https://evil.example")]), 403, None);
    let listed = api_with(script(words(1)), true, ServerOptions { cors_origins: vec!["https://app.example".into()], ..options() });
    let reply = models_with(listed.addr(), &[("Origin", "https://evil.example")]);
    assert_openai_error(&reply, 403, None);
    assert_eq!(reply.json()["error"]["code"], "origin_not_allowed");
    let reply = models_with(listed.addr(), &[("Origin", "https://app.example")]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers.get("access-control-allow-origin").map(String::as_str), Some("https://app.example"));
}

#[test]
fn post_bodies_must_be_json() {
    let api = api_with(script(words(1)), true, options());
    let body = chat_body("hi", json!({})).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let reply = http(api.addr(), "POST", "/v1/chat/completions", &[("Content-Type", content_type)], body.as_bytes());
        assert_openai_error(&reply, 415, None);
    }
    let bare = "POST /v1/completions HTTP/1.0\r\nHost: localhost\r\nContent-Length: 15\r\n\r\n{\"prompt\":\"a\"}".to_string();
    assert_openai_error(&raw(api.addr(), bare.as_bytes()), 415, None);
    for content_type in ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"] {
        let reply = http(api.addr(), "POST", "/v1/chat/completions", &[("Content-Type", content_type)], body.as_bytes());
        assert_eq!(reply.status, 200, "{content_type}: {}", String::from_utf8_lossy(&reply.body));
    }
}

/// A browser asks first (OPTIONS, without the key); a listed page is told yes, and the key is
/// then required as usual.
#[test]
fn a_cors_preflight_is_answered_for_listed_pages_without_the_key() {
    let options = ServerOptions { api_key: Some("s3cret".into()), cors_origins: vec!["https://app.example".into()], ..options() };
    let api = api_with(script(words(1)), true, options);
    let ask = |origin| {
        let preflight = [
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization, content-type"),
        ];
        http(api.addr(), "OPTIONS", "/v1/chat/completions", &preflight, b"")
    };
    let yes = ask("https://app.example");
    assert_eq!(yes.status, 200, "{}", String::from_utf8_lossy(&yes.body));
    assert_eq!(yes.headers["access-control-allow-origin"], "https://app.example");
    assert!(yes.headers["access-control-allow-methods"].contains("POST"), "{:?}", yes.headers);
    let allowed = yes.headers["access-control-allow-headers"].to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");
    assert_openai_error(&ask("https://evil.example"), 403, None);
    let body = chat_body("hi", json!({})).to_string();
    let origin = ("Origin", "https://app.example");
    let keyless = http(api.addr(), "POST", "/v1/chat/completions", &[origin], body.as_bytes());
    assert_openai_error(&keyless, 401, None);
    assert_eq!(keyless.headers["access-control-allow-origin"], "https://app.example", "the page can read why");
    let keyed = http(api.addr(), "POST", "/v1/chat/completions", &[origin, ("Authorization", "Bearer s3cret")], body.as_bytes());
    assert_eq!(keyed.status, 200);
}
