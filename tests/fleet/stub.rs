//! A stand-in node on a loopback socket, for what real servers do only when broken: accept and
//! never answer, stall in the middle of an answer, answer garbage, send one event without end,
//! redirect. It counts the requests it read and the bytes of an endless answer it sent, and
//! notices when a client closes a held answer's connection.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// Accepts connections and never sends a byte.
    Silent,
    /// Serves /v1/models and /metrics; an answer gets its headers and one token, then nothing.
    StallsMidAnswer,
    /// Serves /v1/models; an answer never gets its headers.
    StallsBeforeAnswering,
    /// Answers every request 200 with text that is neither JSON nor Prometheus metrics.
    Babbles,
    /// Serves /v1/models; an answer gets one token and `[DONE]`, with no finish reason (as
    /// llama-cpp-python's server does when another request interrupts it).
    EndsWithoutFinishing,
    /// Serves /v1/models; an answer gets its headers, then `data: x` lines without end and
    /// never the blank line that ends an event.
    EndlessEvent,
    /// Answers every request 307 Temporary Redirect to the same path on another server.
    Redirects(SocketAddr),
    /// Serves /v1/models; answers and /metrics get the 307 of `Redirects`.
    RedirectsAnswers(SocketAddr),
}

pub struct Stub {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    /// A client closed the connection of an answer the stub was holding.
    pub answer_dropped: Arc<AtomicBool>,
    /// Bytes of an endless answer written (and taken by the kernel) so far.
    pub sent: Arc<AtomicUsize>,
}

impl Stub {
    pub fn start(behaviour: Behaviour) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (requests, answer_dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let sent = Arc::new(AtomicUsize::new(0));
        let (count, dropped, written) = (requests.clone(), answer_dropped.clone(), sent.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (count, dropped, written) = (count.clone(), dropped.clone(), written.clone());
                std::thread::spawn(move || serve(stream, behaviour, &count, &dropped, &written));
            }
        });
        Stub { addr, requests, answer_dropped, sent }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

const MODELS: &str = r#"{"object":"list","data":[{"id":"stub-model","object":"model","owned_by":"vllm","max_model_len":1024}]}"#;
const METRICS: &str = "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"stub-model\"} 1.0\n";

fn serve(mut stream: TcpStream, behaviour: Behaviour, count: &AtomicUsize, dropped: &AtomicBool, sent: &AtomicUsize) {
    loop {
        let Some(head) = read_head(&mut stream) else { return };
        count.fetch_add(1, Ordering::SeqCst);
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        let reply = |stream: &mut TcpStream, kind: &str, body: &str| {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n", body.len());
            stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).is_ok()
        };
        let ok = match (behaviour, path.as_str()) {
            (Behaviour::Silent, _) => return hold(stream),
            (Behaviour::Babbles, _) => reply(&mut stream, "text/plain", "hello there, this is not what you asked for\n{{{\n"),
            (Behaviour::Redirects(to), _) => redirect(&mut stream, to, &path),
            (_, "/v1/models") => reply(&mut stream, "application/json", MODELS),
            (Behaviour::RedirectsAnswers(to), _) => redirect(&mut stream, to, &path),
            (_, "/metrics") => reply(&mut stream, "text/plain; version=0.0.4", METRICS),
            (Behaviour::StallsBeforeAnswering, _) => return held_until_closed(stream, dropped),
            (Behaviour::EndsWithoutFinishing, _) => {
                let event =
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Un\"},\"finish_reason\":null}]}\r\n\r\ndata: [DONE]\r\n\r\n";
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    event.len()
                );
                let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(event.as_bytes()));
                return;
            }
            (Behaviour::EndlessEvent, _) => return endless_event(stream, dropped, sent),
            (Behaviour::StallsMidAnswer, _) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
                let event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n";
                let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                if stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(chunk.as_bytes())).is_err() {
                    return;
                }
                return held_until_closed(stream, dropped);
            }
        };
        if !ok {
            return;
        }
    }
}

/// 307 to the same path on `to`, with a body that says so.
fn redirect(stream: &mut TcpStream, to: SocketAddr, path: &str) -> bool {
    let body = "moved";
    let head = format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{to}{path}\r\nContent-Length: {}\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).is_ok()
}

/// An answer's headers, then `data: x` lines in 64 KiB chunks until the client goes.
fn endless_event(mut stream: TcpStream, dropped: &AtomicBool, sent: &AtomicUsize) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    let lines = "data: x\n".repeat(8 * 1024);
    let chunk = format!("{:x}\r\n{lines}\r\n", lines.len());
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    while stream.write_all(chunk.as_bytes()).is_ok() {
        sent.fetch_add(lines.len(), Ordering::SeqCst);
    }
    dropped.store(true, Ordering::SeqCst);
}

/// Reads a request's head and its body (by Content-Length); None when the client closed.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => bytes.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&bytes).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(head)
}

/// Keeps the connection open and says nothing, until the client goes.
fn hold(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// Holds an answer open; notes when the client closes it.
fn held_until_closed(mut stream: TcpStream, dropped: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => break dropped.store(true, Ordering::SeqCst),
            Ok(_) => continue,
            Err(_) => break,
        }
    }
}
