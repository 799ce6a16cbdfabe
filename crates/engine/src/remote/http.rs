//! The HTTP settings every request to a node shares (the remote engine's and the fleet poller's),
//! so none of them can forget one: a node's redirect is never followed. OpenAI-compatible servers
//! do not redirect, and following one would send the conversation (and, for the same host, the
//! key) wherever the node points; reqwest's default follows 10 hops to any host.
use std::time::Duration;

/// A client builder with the shared settings; the caller adds its own (a whole-request timeout,
/// a connection pool size) and builds it.
pub fn client_builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder().connect_timeout(connect_timeout).tcp_nodelay(true).redirect(reqwest::redirect::Policy::none())
}
