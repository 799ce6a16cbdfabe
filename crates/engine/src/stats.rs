//! Per-answer timing, measured by the engine itself: mistral.rs 0.8.1 has no TTFT field and
//! gives no usage at all for a cancelled answer.
use llamadeck_words::chat::GenStats;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct StatsClock {
    sent: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
    prompt_tokens: usize,
    cached_tokens: usize,
    chunks: usize,
    completion_tokens: usize,
}

impl StatsClock {
    /// Starts when the request is handed to mistral.rs.
    pub fn start(prompt_tokens: usize) -> Self {
        Self { sent: Instant::now(), first: None, last: None, prompt_tokens, cached_tokens: 0, chunks: 0, completion_tokens: 0 }
    }

    /// Of the prompt, the tokens the prefix cache held.
    pub fn cached(&mut self, n: usize) {
        self.cached_tokens = n;
    }

    /// Tokens sampled so far, counted inside the sampler: a streamed chunk can carry several
    /// tokens (a character split over byte tokens arrives once it is complete).
    pub fn sampled(&mut self, n: usize) {
        self.completion_tokens = self.completion_tokens.max(n);
    }

    /// A streamed chunk arrived (at least one token).
    pub fn token(&mut self) {
        self.token_at(Instant::now());
    }

    pub fn token_at(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.chunks += 1;
        self.completion_tokens = self.completion_tokens.max(self.chunks);
    }

    pub fn stats(&self) -> GenStats {
        let secs = |d: Duration| d.as_secs_f64();
        let ttft = self.first.map(|f| f.duration_since(self.sent));
        let decode_tok_s = match (self.first, self.last) {
            (Some(first), Some(last)) if self.completion_tokens > 1 && last > first => {
                Some((self.completion_tokens - 1) as f64 / secs(last.duration_since(first)))
            }
            _ => None,
        };
        GenStats {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            ttft_ms: ttft.map(|d| d.as_millis() as u64),
            decode_tok_s,
            prefill_tok_s: ttft.filter(|d| !d.is_zero()).map(|d| self.prompt_tokens as f64 / secs(d)),
            cached_tokens: self.cached_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_use_the_decode_window_after_the_first_token() {
        let mut c = StatsClock::start(100);
        let t0 = c.sent;
        c.token_at(t0 + Duration::from_millis(500));
        c.token_at(t0 + Duration::from_millis(600));
        c.token_at(t0 + Duration::from_millis(700));
        let s = c.stats();
        assert_eq!((s.prompt_tokens, s.completion_tokens, s.ttft_ms), (100, 3, Some(500)));
        assert!((s.decode_tok_s.unwrap() - 10.0).abs() < 1e-6);
        assert!((s.prefill_tok_s.unwrap() - 200.0).abs() < 1e-6);
    }

    #[test]
    fn sampled_count_wins_over_chunks() {
        let mut c = StatsClock::start(1);
        c.token();
        c.sampled(3);
        c.token();
        assert_eq!(c.stats().completion_tokens, 3);
    }

    #[test]
    fn no_tokens_means_no_rates() {
        let s = StatsClock::start(5).stats();
        assert_eq!((s.completion_tokens, s.ttft_ms, s.decode_tok_s), (0, None, None));
    }
}
