//! What the console knows about the API server: what the server reports (`ServerEvent`), and
//! the address or bind error, requests in flight and the most recent requests it adds up to.
//! Plain data changed by `apply`, so the reducer stays pure.
use std::collections::VecDeque;

/// How many finished requests the console and the server's metrics keep.
pub const RECENT: usize = 20;

/// One finished API request, as the console lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// The peer address and the client's product (`User-Agent`'s first word).
    pub client: String,
    pub endpoint: &'static str,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub decode_tok_s: Option<f64>,
    pub ttft_ms: Option<u64>,
    /// "stop", "length", "cancelled" or "error: ...".
    pub status: String,
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiStatus {
    /// `host:port` once bound.
    pub address: Option<String>,
    /// Why the API is not served (port in use, refused exposure...).
    pub error: Option<String>,
    pub in_flight: usize,
    /// Newest last.
    pub recent: VecDeque<RequestRecord>,
    /// The recent-requests overlay is open.
    pub show: bool,
}

impl ApiStatus {
    pub fn apply(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Listening(addr) => {
                self.address = Some(addr.to_string());
                self.error = None;
            }
            ServerEvent::Failed(why) => self.error = Some(why),
            ServerEvent::InFlight(n) => self.in_flight = n,
            ServerEvent::Finished(record) => {
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(record);
            }
        }
    }

    /// The status bar's part: "api 127.0.0.1:8229 · 2 in flight", the error, or nothing.
    pub fn summary(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(format!("api off: {error}"));
        }
        let address = self.address.as_ref()?;
        Some(if self.in_flight > 0 { format!("api {address} · {} in flight", self.in_flight) } else { format!("api {address}") })
    }

    /// One line a request for the overlay: client, tokens, tok/s, status.
    pub fn lines(&self) -> Vec<String> {
        self.recent
            .iter()
            .rev()
            .map(|r| {
                let speed = r.decode_tok_s.map_or("     -".to_string(), |t| format!("{t:6.1}"));
                format!("{:<32} {:>5}+{:<5} {speed} tok/s  {}", r.client, r.prompt_tokens, r.completion_tokens, r.status)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_update_the_summary_and_the_list() {
        let mut s = ApiStatus::default();
        assert_eq!(s.summary(), None);
        s.apply(ServerEvent::Listening("127.0.0.1:8229".parse().unwrap()));
        s.apply(ServerEvent::InFlight(2));
        assert_eq!(s.summary().as_deref(), Some("api 127.0.0.1:8229 · 2 in flight"));
        let record = RequestRecord {
            client: "127.0.0.1:5000 OpenAI/Python".into(),
            endpoint: "/v1/chat/completions",
            prompt_tokens: 20,
            completion_tokens: 8,
            decode_tok_s: Some(41.0),
            ttft_ms: Some(90),
            status: "length".into(),
        };
        for _ in 0..RECENT + 3 {
            s.apply(ServerEvent::Finished(record.clone()));
        }
        assert_eq!(s.recent.len(), RECENT);
        assert!(s.lines()[0].contains("41.0 tok/s  length"));
        s.apply(ServerEvent::Failed("cannot serve the API on 127.0.0.1:8229: Address in use".into()));
        assert!(s.summary().unwrap().starts_with("api off: cannot serve"));
    }
}
