//! The OpenAI-compatible HTTP API over the engine's face (axum + tower-http): handlers hold an
//! `Engine`, never a model, so they work with any backend and run against a scripted one in tests.
//!
//! Routes are the table in `routes` (none of mistral.rs's admin routes). Connections are
//! accepted and limited in `listen` (with `slots`). Layers, outermost first: `Connection:
//! close` after a refusal (`guard`), the request log and counts (`metrics::record`),
//! OpenAI-style error bodies, the host and origin check (`guard`), CORS (only when
//! configured), JSON-only POST bodies, bearer-key auth (only when a key is set), reading the
//! body within its deadline. A generation also needs a place in its client's line (`queued`).
pub mod api;
pub mod error;
mod guard;
mod handlers;
pub mod listen;
pub mod metrics;
mod parse_errors;
mod queued;
pub mod request_log;
pub mod routes;
mod slots;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Method, Request, header};
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::validate_request::ValidateRequestHeaderLayer;

pub use error::ApiError;
pub use listen::Limits;
use listen::Phase;
use llamadeck_config::Config;
use llamadeck_engine::Engine;
use llamadeck_gpu::snapshot::GpuSnapshot;
use llamadeck_words::sampling::Sampling;
use llamadeck_words::sink::Sink;
pub use metrics::{Metrics, RequestRecord, ServerEvent};

/// The bearer-key check: `expected` is the whole `Authorization` value ("Bearer KEY"). The
/// address of a client that sends it is trusted with the reserved connection slots.
// tower-http's validator answers with the refusal itself, so its error is a whole response.
#[allow(clippy::result_large_err)]
fn bearer_check(
    expected: String,
    slots: Arc<slots::Slots>,
) -> impl FnMut(&mut Request<axum::body::Body>) -> Result<(), axum::response::Response> + Clone {
    move |request: &mut Request<axum::body::Body>| {
        let given = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes).unwrap_or_default();
        if !same_key(given, expected.as_bytes()) {
            return Err(ApiError::unauthorized().into_response());
        }
        if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
            slots.trust(peer.ip(), Instant::now());
        }
        Ok(())
    }
}

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How long answers still running when the grace is over have to send their error chunk.
const CUT_OFF_FLUSH: Duration = Duration::from_secs(1);

/// Where and how to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub host: String,
    pub port: u16,
    /// When set, every request must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Origins allowed by CORS; none = no CORS headers, and requests from web pages get 403. "*" allows any.
    pub cors_origins: Vec<String>,
    /// Host names requests may be addressed to, besides localhost, IP addresses and `host`.
    pub allowed_hosts: Vec<String>,
    pub limits: Limits,
    /// Sampling for fields a request leaves out (the config's `sampling:`).
    pub defaults: Sampling,
    /// The most tokens a request may ask for, and what it gets when it names none.
    pub max_tokens: u32,
    /// Answers one client address may have waiting for the model; more are answered 429.
    pub max_queued_per_client: usize,
    /// The file each finished request is appended to as a JSON line (`request_log`); none
    /// unless the binary names one (tests and benches write nothing there).
    pub request_log: Option<std::path::PathBuf>,
}

impl Default for ServerOptions {
    /// The config's defaults (127.0.0.1:8229, no key).
    fn default() -> Self {
        Self::from_config(&Config::default())
    }
}

impl ServerOptions {
    pub fn from_config(config: &Config) -> Self {
        let server = &config.server;
        Self {
            host: server.host.clone(),
            port: server.port,
            api_key: server.api_key.clone().filter(|k| !k.trim().is_empty()),
            cors_origins: server.cors_origins.clone(),
            allowed_hosts: server.allowed_hosts.clone(),
            limits: Limits {
                max_connections: server.max_connections,
                max_connections_per_client: server.max_connections_per_client,
                header_timeout: Duration::from_secs(server.header_timeout_secs),
                body_timeout: Duration::from_secs(server.body_timeout_secs),
            },
            defaults: config.sampling.clone(),
            max_tokens: server.max_tokens,
            max_queued_per_client: server.max_queued_per_client,
            request_log: None,
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
    max_tokens: u32,
    queued: Arc<queued::Queued>,
    gpu: Option<watch::Receiver<Arc<GpuSnapshot>>>,
    next_id: Arc<AtomicU64>,
    started: u64,
    phase: watch::Receiver<Phase>,
}

/// Compares keys without an early exit on the first differing byte.
fn same_key(given: &[u8], key: &[u8]) -> bool {
    given.len() == key.len() && given.iter().zip(key).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The first request id of this run: the time in nanoseconds, so that ids (`chatcmpl-N`) are
/// not handed out again after a restart.
fn first_request_id(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(1 << 40, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX / 2))
}

/// The API as an axum router.
fn router(
    engine: Engine,
    options: &ServerOptions,
    slots: Arc<slots::Slots>,
    metrics: Arc<Metrics>,
    gpu: Option<watch::Receiver<Arc<GpuSnapshot>>>,
    phase: watch::Receiver<Phase>,
) -> Router {
    let state = AppState {
        engine,
        metrics: metrics.clone(),
        defaults: options.defaults.clone(),
        max_tokens: options.max_tokens.max(1),
        queued: Arc::new(queued::Queued::new(options.max_queued_per_client)),
        gpu,
        next_id: Arc::new(AtomicU64::new(first_request_id(SystemTime::now()))),
        started: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        phase,
    };
    let mut app: Router =
        routes::router().with_state(state).layer(axum::middleware::from_fn_with_state(options.limits.body_timeout, guard::read_body));
    if let Some(key) = options.api_key.clone() {
        let expected = format!("Bearer {key}");
        app = app.layer(ValidateRequestHeaderLayer::custom(bearer_check(expected, slots)));
    }
    app = app.layer(axum::middleware::from_fn(guard::json_posts));
    if !options.cors_origins.is_empty() {
        let origin = if options.cors_origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(options.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()))
        };
        app = app.layer(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    let guard = Arc::new(guard::Guard {
        host: options.host.clone(),
        allowed_hosts: options.allowed_hosts.clone(),
        cors_origins: options.cors_origins.clone(),
    });
    app.layer(axum::middleware::from_fn_with_state(guard, guard::hosts_and_origins))
        .layer(axum::middleware::map_response(error::openai_errors))
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::record))
        .layer(axum::middleware::map_response(guard::close_after_refusal))
}

/// A running server; dropping it stops accepting (answers in flight run on), `stop` also waits.
pub struct Server {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    phase: watch::Sender<Phase>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting and lets answers in flight finish for up to `grace`; answers still
    /// running then end with an error (a stream's error chunk and `[DONE]`, or a 503).
    pub async fn stop(mut self, grace: Duration) {
        self.phase.send_replace(Phase::Draining);
        let in_flight = self.metrics.in_flight();
        if in_flight > 0 {
            tracing::info!("stopping the API: {in_flight} answer(s) in flight may run for up to {} s", grace.as_secs_f64());
        }
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            tracing::warn!("stopping the API: answers still running after {} s are cut off", grace.as_secs_f64());
            self.phase.send_replace(Phase::Closing);
            let _ = tokio::time::timeout(CUT_OFF_FLUSH, &mut self.task).await;
        }
        self.task.abort();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.phase.send_if_modified(|p| {
            let serving = *p == Phase::Serving;
            if serving {
                *p = Phase::Draining;
            }
            serving
        });
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
    let metrics = Arc::new(Metrics::new(events.clone(), options.request_log.clone().map(request_log::RequestLog::new)));
    let (phase, phase_rx) = watch::channel(Phase::Serving);
    let limits = options.limits;
    let slots = Arc::new(slots::Slots::new(limits.max_connections, limits.max_connections_per_client, options.api_key.is_some()));
    let app = router(engine, options, slots.clone(), metrics.clone(), gpu, phase_rx.clone());
    let task = tokio::spawn(listen::serve(listener, app, limits, slots, metrics.clone(), phase_rx));
    tracing::info!("OpenAI-compatible API on http://{addr}/v1");
    report(ServerEvent::Listening(addr));
    Ok(Server { addr, metrics, phase, task })
}

/// The console's API: started when `server.enabled`, refused (and reported on `events`, which
/// the status bar shows) when a non-loopback host has no key and `--insecure` was not given.
/// Finished requests go to `request_log` as JSON lines, when given.
pub async fn start_for_console(
    config: &Config,
    insecure: bool,
    engine: Engine,
    gpu: watch::Receiver<Arc<GpuSnapshot>>,
    events: Sink<ServerEvent>,
    request_log: Option<std::path::PathBuf>,
) -> Option<Server> {
    if !config.server.enabled {
        return None;
    }
    if !insecure && let Err(why) = llamadeck_config::check_server_exposure(config) {
        events.send(ServerEvent::Failed(why));
        return None;
    }
    let options = ServerOptions { request_log, ..ServerOptions::from_config(config) };
    start(engine, &options, Some(gpu), Some(events)).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_start_from_the_clock() {
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(first_request_id(t), 1_800_000_000 * 1_000_000_000);
        assert!(first_request_id(t + Duration::from_millis(1)) > first_request_id(t));
    }
}
