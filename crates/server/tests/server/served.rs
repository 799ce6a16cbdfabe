//! A scripted engine served over loopback, as the protocol tests use it.
use std::net::SocketAddr;
use std::time::Duration;

use llamadeck_engine::ModelSpec;
use llamadeck_server::{Server, ServerOptions};

use super::doubles::{Requests, Script, scripted};

/// A served scripted engine; dropping it stops the server, then its runtime.
pub struct Api {
    server: Option<Server>,
    pub requests: Requests,
    pub runtime: tokio::runtime::Runtime,
}

impl Api {
    pub fn addr(&self) -> SocketAddr {
        self.server().addr
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("serving")
    }

    /// Stops as `llamadeck serve` does on SIGTERM, with `grace` for answers in flight.
    pub fn stop(&mut self, grace: Duration) {
        let server = self.server.take().expect("serving");
        self.runtime.block_on(server.stop(grace));
    }
}

/// Loopback, port 0, no key, the default limits.
pub fn options() -> ServerOptions {
    ServerOptions { port: 0, ..ServerOptions::default() }
}

/// A server on a scripted engine; loaded unless `loaded` is false.
pub fn api(script: Script, loaded: bool) -> Api {
    api_with(script, loaded, options())
}

pub fn api_with(script: Script, loaded: bool, options: ServerOptions) -> Api {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (engine, requests) = scripted(script);
    if loaded {
        engine.load(ModelSpec { source: "scripted-13b".into(), ..ModelSpec::default() }).expect("an in-process engine loads models");
    }
    let server = runtime.block_on(llamadeck_server::start(engine, &options, None, None)).expect("binds port 0");
    Api { server: Some(server), requests, runtime }
}

/// A connection to the API from `from`: any 127.x.y.z reaches a loopback server on Linux, so
/// tests can be several clients.
pub fn connect_from(api: &Api, from: [u8; 4]) -> std::net::TcpStream {
    let addr = api.addr();
    let stream = api.runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((std::net::Ipv4Addr::from(from), 0).into()).unwrap();
        socket.connect(addr).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(super::http::TIMEOUT)).unwrap();
    stream
}

/// Sends one request on a connection that stays open (HTTP/1.1 keep-alive) and reads its
/// answer: the head and `Content-Length` bytes of body.
pub fn exchange(stream: &mut std::net::TcpStream, request: &[u8]) -> super::http::Reply {
    use std::io::{Read, Write};
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let body_at = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed before an answer: {:?}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&chunk[..n]);
    };
    let length = super::http::parse_reply(&raw).headers.get("content-length").map_or(0, |l| l.parse::<usize>().unwrap());
    while raw.len() < body_at + length {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed within an answer");
        raw.extend_from_slice(&chunk[..n]);
    }
    super::http::parse_reply(&raw)
}

/// "w0 ", "w1 ", ...
pub fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i} ")).collect()
}

/// `words`, one a millisecond.
pub fn script(words: Vec<String>) -> Script {
    Script { words, delay: Duration::from_millis(1), context_len: 4096, fail_after: None, early_end: None }
}

/// Waits for `done` (checked every 10 ms) for up to `limit`.
pub fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
