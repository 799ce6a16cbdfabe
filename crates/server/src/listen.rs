//! Accepting and serving connections, with the limits axum::serve does not have: at most
//! `max_connections` at once and `max_connections_per_client` from one address (503 beyond;
//! see `slots`), a deadline for each request's headers (which also closes idle keep-alive
//! connections), and a drain on shutdown. A refused request closes its connection
//! (`guard::close_after_refusal`), so refusals cannot keep a slot busy either.
//!
//! Each connection is served by hyper's HTTP/1.1 server. A response that is streaming is never
//! timed: the header deadline runs only while hyper waits for a request head, and the body
//! deadline only while the request body is read (`guard::read_body`).
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::error::ApiError;
use super::metrics::Metrics;
use super::parse_errors::ParseErrorBodies;
use super::slots::{Refusal, Slots};

/// How many refused connections may be waiting for their 503 to be read at once; beyond this
/// they are closed without an answer.
const REFUSING_AT_ONCE: usize = 256;

/// How long a refused client has to read its 503.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// Connection limits (config `server:`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections one client address may hold at once; more from it are answered 503.
    pub max_connections_per_client: usize,
    /// A request's headers must arrive within this; an idle keep-alive connection is closed after it.
    pub header_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            max_connections_per_client: 32,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Where a server is in its life; connections and streams watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Serving,
    /// Not accepting; answers in flight run on.
    Draining,
    /// The grace is over: streams end with an error now.
    Closing,
}

/// Accepts until the phase leaves `Serving`, then waits for every connection to close.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    slots: Arc<Slots>,
    metrics: Arc<Metrics>,
    phase: watch::Receiver<Phase>,
) {
    let refusals = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    // Every connection task holds a receiver; `closed()` resolves when the last one ends.
    let (open_tx, open_rx) = watch::channel(());
    let mut stopping = phase.clone();
    loop {
        let accepted = tokio::select! {
            _ = stopping.wait_for(|p| *p != Phase::Serving) => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(ok) => ok,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        match slots.take(peer.ip(), Instant::now()) {
            Ok(slot) => {
                let (app, phase, open, metrics) = (app.clone(), phase.clone(), open_rx.clone(), metrics.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    let _open = open;
                    let _counted = metrics.connection_opened();
                    connection(tcp, peer, app, limits, phase).await;
                });
            }
            Err(refusal) => {
                metrics.connection_refused();
                if let Ok(permit) = refusals.clone().try_acquire_owned() {
                    let error = match refusal {
                        Refusal::Full => ApiError::busy(slots.max()),
                        Refusal::PerClient => ApiError::busy_client(slots.per_client()),
                    };
                    tokio::spawn(async move {
                        refuse(tcp, error).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    drop((listener, open_rx));
    open_tx.closed().await;
}

/// Out of file descriptors and the like: wait a little rather than spin (as axum does).
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::warn!("accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Serves one connection until it closes, starting a graceful close when the server drains.
async fn connection(tcp: TcpStream, peer: SocketAddr, app: Router, limits: Limits, mut phase: watch::Receiver<Phase>) {
    let _ = tcp.set_nodelay(true);
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        hyper::service::Service::call(&router, request)
    });
    let mut builder = http1::Builder::new();
    // One buffer per write, so that `ParseErrorBodies` sees hyper's own error heads whole.
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).writev(false);
    let conn = builder.serve_connection(TokioIo::new(ParseErrorBodies::new(tcp)), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!("connection from {peer}: {e}");
                }
                return;
            }
            _ = phase.wait_for(|p| *p != Phase::Serving), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The answer to a connection over a cap: 503 with an OpenAI error body, then close. The
/// request is read (and dropped) after answering, so closing does not reset the connection
/// before the client has read the 503.
async fn refuse(mut tcp: TcpStream, error: ApiError) {
    let body = error.body().to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        tcp.write_all(format!("{head}{body}").as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}
