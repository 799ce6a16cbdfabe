//! A small HTTP/1.0 client for the API tests: one request, the whole answer, OpenAI error checks.
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

/// Long enough for a real model's answer on a slow machine.
pub const TIMEOUT: Duration = Duration::from_secs(120);

pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `data:` payloads of a server-sent event stream.
    pub fn events(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.body).lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_string).collect()
    }
}

/// Sends one HTTP/1.0 request (the answer ends when the server closes) and reads it all. `Host`
/// and `Content-Type` (JSON) are added unless `extra_headers` name them.
pub fn http(addr: SocketAddr, method: &str, path: &str, extra_headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let named = |name: &str| extra_headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n", body.len());
    if !named("host") {
        head.push_str("Host: localhost\r\n");
    }
    if !named("content-type") {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    raw(addr, &[head.as_bytes(), body].concat())
}

/// Sends `request` as it is and reads the whole answer.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_reply(&raw)
}

pub fn parse_reply(raw: &[u8]) -> Reply {
    let split =
        raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no response head: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    Reply { status, headers, body: raw[split + 4..].to_vec() }
}

pub fn post(addr: SocketAddr, path: &str, body: Value) -> Reply {
    http(addr, "POST", path, &[], body.to_string().as_bytes())
}

pub fn get(addr: SocketAddr, path: &str) -> Reply {
    http(addr, "GET", path, &[], b"")
}

pub fn chat_body(content: &str, extra: Value) -> Value {
    let mut body = json!({"model": "anything", "messages": [{"role": "user", "content": content}], "temperature": 0});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

/// The text of a streamed answer, and the finish reason of its last chunk.
pub fn streamed_text(events: &[String]) -> (String, Option<String>) {
    let mut text = String::new();
    let mut finish = None;
    for e in events.iter().filter(|e| *e != "[DONE]") {
        let v: Value = serde_json::from_str(e).unwrap();
        let choice = &v["choices"][0];
        text.push_str(choice["delta"]["content"].as_str().or(choice["text"].as_str()).unwrap_or(""));
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
    }
    (text, finish)
}

pub fn assert_openai_error(reply: &Reply, status: u16, param: Option<&str>) {
    assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
    let v = reply.json();
    let error = &v["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(error["type"].is_string(), "{v}");
    assert!(error.get("param").is_some() && error.get("code").is_some(), "{v}");
    if let Some(param) = param {
        assert_eq!(error["param"], param, "{v}");
    }
}
