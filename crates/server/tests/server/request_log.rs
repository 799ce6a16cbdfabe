//! The request log the console lists under F4 (issue 14.13): every request, refused ones
//! included, with its status, client and reason; monitoring polls that succeed are left out.
use serde_json::json;

use super::http::*;
use super::served::{api, script, wait_for, words};

#[test]
fn every_request_is_logged_with_its_status_and_reason() {
    let loading = api(script(words(2)), false);
    assert_eq!(post(loading.addr(), "/v1/chat/completions", chat_body("hi", json!({}))).status, 503);
    let logged = loading.server().metrics.recent();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!((logged[0].status, logged[0].outcome.as_str()), (503, "model_not_ready"));
    assert!(logged[0].reason.contains("no model is loaded"), "{:?}", logged[0]);

    let api = api(script(words(2)), true);
    let addr = api.addr();
    assert_eq!(get(addr, "/health").status, 200);
    assert_eq!(get(addr, "/metrics").status, 200);
    assert_eq!(get(addr, "/v1/nothing").status, 404);
    assert_eq!(http(addr, "POST", "/v1/chat/completions", &[("User-Agent", "curl/8.5.0")], b"{").status, 400);
    assert_eq!(http(addr, "POST", "/v1/chat/completions", &[("Content-Type", "text/plain")], b"{}").status, 415);
    assert_eq!(get(addr, "/v1/models").status, 200);
    assert_eq!(post(addr, "/v1/chat/completions", chat_body("two words", json!({}))).status, 200);
    wait_for(std::time::Duration::from_secs(5), "the answer's log entry", || api.server().metrics.recent().len() == 5);
    let logged = api.server().metrics.recent();
    let rows: Vec<(&str, u16, &str)> = logged.iter().map(|r| (r.endpoint.as_str(), r.status, r.outcome.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("GET /v1/nothing", 404, "refused"),
            ("POST /v1/chat/completions", 400, "refused"),
            ("POST /v1/chat/completions", 415, "unsupported_media_type"),
            ("GET /v1/models", 200, "ok"),
            ("POST /v1/chat/completions", 200, "stop"),
        ],
        "the successful /health and /metrics polls are not listed"
    );
    assert!(logged[1].reason.starts_with("malformed JSON"), "{:?}", logged[1]);
    assert!(logged[1].client.starts_with("127.0.0.1:") && logged[1].client.ends_with(" curl/8.5.0"), "{:?}", logged[1]);
    let answer = &logged[4];
    assert_eq!((answer.prompt_tokens, answer.completion_tokens, answer.reason.as_str()), (3, 2, ""), "{answer:?}");
    assert!(answer.at > 1_700_000_000, "a wall-clock time: {answer:?}");
}
