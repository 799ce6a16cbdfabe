//! What the console knows about the API server: the address or bind error, requests in flight
//! and the request log (F4) that the server's `ServerEvent`s add up to.
//! Plain data changed by `apply`, so the reducer stays pure; the F4 overlay
//! (`panes::requests`) keeps which row is selected.
use std::collections::VecDeque;

pub use llamadeck_words::requests::{RECENT, RequestRecord, ServerEvent};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiStatus {
    /// `host:port` once bound.
    pub address: Option<String>,
    /// Why the API is not served (port in use, refused exposure...).
    pub error: Option<String>,
    pub in_flight: usize,
    /// Newest last.
    pub recent: VecDeque<RequestRecord>,
}

/// The log's columns, cut or padded to their widths (69 columns before the outcome, so that
/// a word of it still shows in an 80-column terminal).
fn row(time: &str, code: &str, path: &str, client: &str, tokens: &str, speed: &str, outcome: &str) -> String {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!("{time:<8} {code:<4} {:<20} {:<17} {tokens:>9} {speed:>5} {outcome}", cut(path, 20), cut(client, 17))
}

/// "14:03:12" (UTC) of a Unix time.
fn clock(secs: u64) -> String {
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

impl ApiStatus {
    /// Takes the server's news; true when it was a new request for the log.
    pub fn apply(&mut self, event: ServerEvent) -> bool {
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
                return true;
            }
        }
        false
    }

    /// The request `newest` rows from the newest (0 is the newest).
    pub fn record(&self, newest: usize) -> Option<&RequestRecord> {
        self.recent.iter().rev().nth(newest)
    }

    /// The status bar's part: "api 127.0.0.1:8229 · 2 in flight", the error, or nothing.
    pub fn summary(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(format!("api off: {error}"));
        }
        let address = self.address.as_ref()?;
        Some(if self.in_flight > 0 { format!("api {address} · {} in flight", self.in_flight) } else { format!("api {address}") })
    }

    /// The column titles over `lines`.
    pub fn header() -> String {
        row("time", "code", "path", "client", "tokens", "tok/s", "outcome")
    }

    /// One line a request, newest first: time, status, path, client, tokens, tok/s, outcome.
    pub fn lines(&self) -> Vec<String> {
        self.recent
            .iter()
            .rev()
            .map(|r| {
                let tokens = if r.generated() { format!("{}+{}", r.prompt_tokens, r.completion_tokens) } else { "-".into() };
                let speed = r.decode_tok_s.map_or("-".to_string(), |t| format!("{t:.1}"));
                row(&clock(r.at), &r.status.to_string(), r.path(), &r.client, &tokens, &speed, &r.outcome)
            })
            .collect()
    }

    /// Everything about the request `newest` rows from the newest, for the lines under the list.
    pub fn detail(&self, newest: usize) -> Option<String> {
        let r = self.record(newest)?;
        let mut text = format!("{} · {} · {}", r.endpoint, r.status, r.client);
        if r.generated() {
            text.push_str(&format!(" · prompt {} + answer {} tokens", r.prompt_tokens, r.completion_tokens));
        }
        if let Some(ms) = r.ttft_ms {
            text.push_str(&format!(" · first token {ms} ms"));
        }
        if let Some(speed) = r.decode_tok_s {
            text.push_str(&format!(" · {speed:.1} tok/s"));
        }
        text.push_str(&format!(" · {}", r.outcome));
        if !r.reason.is_empty() {
            text.push_str(&format!(": {}", r.reason));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: u64, status: u16, outcome: &str) -> RequestRecord {
        RequestRecord {
            at,
            endpoint: "POST /v1/chat/completions".into(),
            status,
            client: "127.0.0.1:5000 OpenAI/Python".into(),
            prompt_tokens: 20,
            completion_tokens: 8,
            decode_tok_s: Some(41.0),
            ttft_ms: Some(90),
            outcome: outcome.into(),
            reason: String::new(),
            ..RequestRecord::default()
        }
    }

    #[test]
    fn events_update_the_summary_and_the_list() {
        let mut s = ApiStatus::default();
        assert_eq!(s.summary(), None);
        s.apply(ServerEvent::Listening("127.0.0.1:8229".parse().unwrap()));
        s.apply(ServerEvent::InFlight(2));
        assert_eq!(s.summary().as_deref(), Some("api 127.0.0.1:8229 · 2 in flight"));
        for _ in 0..RECENT + 3 {
            s.apply(ServerEvent::Finished(record(50_592, 200, "length")));
        }
        assert_eq!(s.recent.len(), RECENT);
        assert_eq!(s.lines()[0], "14:03:12 200  /v1/chat/completions 127.0.0.1:5000 Op      20+8  41.0 length");
        assert_eq!(ApiStatus::header(), "time     code path                 client               tokens tok/s outcome");
        s.apply(ServerEvent::Failed("cannot serve the API on 127.0.0.1:8229: Address in use".into()));
        assert!(s.summary().unwrap().starts_with("api off: cannot serve"));
    }

    #[test]
    fn refusals_are_listed_with_their_status_and_reason_in_full() {
        let mut s = ApiStatus::default();
        let reason = "the model is loading (reading weights: 3 of 7 files); try again shortly".to_string();
        let refused = RequestRecord {
            prompt_tokens: 0,
            completion_tokens: 0,
            decode_tok_s: None,
            ttft_ms: None,
            reason: reason.clone(),
            ..record(0, 503, "model_not_ready")
        };
        s.apply(ServerEvent::Finished(refused));
        assert_eq!(s.lines()[0], "00:00:00 503  /v1/chat/completions 127.0.0.1:5000 Op         -     - model_not_ready");
        assert!(s.detail(0).unwrap().ends_with(&format!("503 · 127.0.0.1:5000 OpenAI/Python · model_not_ready: {reason}")));
    }
}
