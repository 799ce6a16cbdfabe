//! What the API server reports about its requests, in words both the server (which sends them)
//! and the console (which shows them) use.

/// How many requests the console and the server's metrics keep.
pub const RECENT: usize = 100;

/// One API request as the log lists it: every answered request, refused ones included.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestRecord {
    /// When it arrived, Unix seconds.
    pub at: u64,
    /// Method and path as sent, e.g. "POST /v1/chat/completions".
    pub endpoint: String,
    /// The HTTP status answered (a stream that fails after it started was still 200).
    pub status: u16,
    /// The peer address and the client's product (`User-Agent`'s first word).
    pub client: String,
    /// The model that answered; empty for a request that reached none.
    pub model: String,
    pub prompt_tokens: usize,
    /// Of the prompt, the tokens the engine did not read again.
    pub cached_tokens: usize,
    pub completion_tokens: usize,
    pub decode_tok_s: Option<f64>,
    pub ttft_ms: Option<u64>,
    /// From arrival to the last byte of the answer.
    pub total_ms: Option<u64>,
    /// How it ended, in a word: "stop", "length", "cancelled", "error", "ok", or the error's
    /// code ("model_not_ready", "invalid_api_key", ...; "refused" without one).
    pub outcome: String,
    /// Why, in full: the error message the client got, or why it was cancelled; empty when
    /// it ended normally.
    pub reason: String,
}

impl RequestRecord {
    /// Whether it was a generation (with tokens to show).
    pub fn generated(&self) -> bool {
        self.prompt_tokens > 0 || self.completion_tokens > 0
    }

    /// The path without the method, for the narrow column.
    pub fn path(&self) -> &str {
        self.endpoint.split_once(' ').map_or(&self.endpoint, |(_, path)| path)
    }
}

/// What the API server reports to the console.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    Listening(std::net::SocketAddr),
    /// The address could not be bound (port in use, ...) or serving was refused.
    Failed(String),
    InFlight(usize),
    Finished(RequestRecord),
}
