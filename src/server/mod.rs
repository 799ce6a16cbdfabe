//! The OpenAI-compatible HTTP API over the engine's face (axum + tower-http): handlers hold an
//! `Engine`, never a model, so they work with any backend and run against a scripted one in tests.
//!
//! Routes are the table in `routes` (none of mistral.rs's admin routes). Layers, outermost
//! first: CORS (only when configured), OpenAI-style error bodies, response counting, bearer-key
//! auth (only when a key is set), the request body limit.
pub mod api;
pub mod error;
mod handlers;
pub mod metrics;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::http::{HeaderValue, Method, Request, header};
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::validate_request::ValidateRequestHeaderLayer;

use crate::config::Config;
use crate::engine::Engine;
use crate::gpu::snapshot::GpuSnapshot;
use crate::sampling::Sampling;
use crate::sink::Sink;
pub use error::ApiError;
pub use metrics::{Metrics, RequestRecord, ServerEvent};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Where and how to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub host: String,
    pub port: u16,
    /// When set, every request must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Origins allowed by CORS; none = no CORS headers at all. "*" allows any.
    pub cors_origins: Vec<String>,
    /// Sampling for fields a request leaves out (the config's `sampling:`).
    pub defaults: Sampling,
}

impl ServerOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            host: config.server.host.clone(),
            port: config.server.port,
            api_key: config.server.api_key.clone().filter(|k| !k.trim().is_empty()),
            cors_origins: config.server.cors_origins.clone(),
            defaults: config.sampling.clone(),
        }
    }

    /// `host:port`, with IPv6 hosts bracketed.
    pub fn address(&self) -> String {
        let host = self.host.trim();
        if host.contains(':') && !host.starts_with('[') { format!("[{host}]:{}", self.port) } else { format!("{host}:{}", self.port) }
    }
}

#[derive(Clone)]
pub struct AppState {
    engine: Engine,
    metrics: Arc<Metrics>,
    defaults: Sampling,
    gpu: Option<watch::Receiver<Arc<GpuSnapshot>>>,
    next_id: Arc<AtomicU64>,
    started: u64,
}

/// Compares keys without an early exit on the first differing byte.
fn same_key(given: &[u8], key: &[u8]) -> bool {
    given.len() == key.len() && given.iter().zip(key).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The API as an axum router.
pub fn router(
    engine: Engine,
    options: &ServerOptions,
    metrics: Arc<Metrics>,
    gpu: Option<watch::Receiver<Arc<GpuSnapshot>>>,
) -> Router {
    let state = AppState {
        engine,
        metrics: metrics.clone(),
        defaults: options.defaults.clone(),
        gpu,
        // Far from the chat pane's ids, for readable logs.
        next_id: Arc::new(AtomicU64::new(1 << 40)),
        started: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    let mut app: Router = routes::router().with_state(state).layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    if let Some(key) = options.api_key.clone() {
        let expected = format!("Bearer {key}");
        app = app.layer(ValidateRequestHeaderLayer::custom(move |request: &mut Request<axum::body::Body>| {
            let given = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes).unwrap_or_default();
            if same_key(given, expected.as_bytes()) { Ok(()) } else { Err(ApiError::unauthorized().into_response()) }
        }));
    }
    app = app
        .layer(axum::middleware::from_fn_with_state(metrics, handlers::count))
        .layer(axum::middleware::map_response(error::openai_errors));
    if !options.cors_origins.is_empty() {
        let origin = if options.cors_origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(options.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        };
        app = app.layer(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    app
}

/// A running server; dropping it (or `stop`) shuts it down.
pub struct Server {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting, lets answers in flight finish for up to `grace`, then returns.
    pub async fn stop(mut self, grace: std::time::Duration) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(grace, &mut self.task).await;
        self.task.abort();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds and serves in the background. The bound address (or why binding failed) is also
/// reported on `events`, for the console.
pub async fn start(
    engine: Engine,
    options: &ServerOptions,
    gpu: Option<watch::Receiver<Arc<GpuSnapshot>>>,
    events: Option<Sink<ServerEvent>>,
) -> Result<Server, String> {
    let report = |e: ServerEvent| {
        if let Some(sink) = &events {
            sink.send(e);
        }
    };
    let address = options.address();
    let listener = match TcpListener::bind(&address).await {
        Ok(l) => l,
        Err(e) => {
            let why = format!("cannot serve the API on {address}: {e}");
            report(ServerEvent::Failed(why.clone()));
            return Err(why);
        }
    };
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics = Arc::new(Metrics::new(events.clone()));
    let app = router(engine, options, metrics.clone(), gpu);
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let serving = axum::serve(listener, service).with_graceful_shutdown(async move {
            let _ = shutdown_rx.await;
        });
        if let Err(e) = serving.await {
            tracing::error!("the API server stopped: {e}");
        }
    });
    tracing::info!("OpenAI-compatible API on http://{addr}/v1");
    report(ServerEvent::Listening(addr));
    Ok(Server { addr, metrics, shutdown: Some(shutdown), task })
}

/// The console's API: started when `server.enabled`, refused (and reported on `events`, which
/// the status bar shows) when a non-loopback host has no key and `--insecure` was not given.
pub async fn start_for_console(
    config: &Config,
    insecure: bool,
    engine: Engine,
    gpu: watch::Receiver<Arc<GpuSnapshot>>,
    events: Sink<ServerEvent>,
) -> Option<Server> {
    if !config.server.enabled {
        return None;
    }
    if !insecure && let Err(why) = crate::config::check_server_exposure(config) {
        events.send(ServerEvent::Failed(why));
        return None;
    }
    start(engine, &ServerOptions::from_config(config), Some(gpu), Some(events)).await.ok()
}
