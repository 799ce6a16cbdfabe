//! Raw continuations keep the whitespace their first token starts with.
//!
//! mistral.rs 0.8.1 trims the start of a sequence's first text delta (`Sequence::peek_delta`):
//! right for a chat answer, wrong for a completion, where "The capital of France is" must
//! continue with " Paris", not "Paris". The first token's id is not in the chunk; our logits
//! processor sees it one step later, as part of the context. So in raw mode the first chunk is
//! held for that one step, then its leading whitespace is put back, worked out by decoding the
//! token after the prompt's last one.
use std::sync::{Arc, OnceLock};
use tokenizers::Tokenizer;

/// The first generated token id, set by the logits processor.
pub type FirstToken = Arc<OnceLock<u32>>;

pub struct LeadRestorer {
    /// Decodes the first token in context; `None` leaves the text as mistral.rs sends it.
    context: Option<(Arc<Tokenizer>, u32)>,
    first: FirstToken,
    pending: Option<String>,
    started: bool,
}

impl LeadRestorer {
    /// `prompt_last`: the prompt's last token id; `None` (chat mode) passes text through.
    pub fn new(tokenizer: Arc<Tokenizer>, prompt_last: Option<u32>, first: FirstToken) -> Self {
        Self { context: prompt_last.map(|id| (tokenizer, id)), first, pending: None, started: false }
    }

    /// The text to emit for a chunk, if any yet.
    pub fn push(&mut self, text: String) -> Option<String> {
        if self.context.is_none() || self.started && self.pending.is_none() {
            return Some(text);
        }
        if !self.started {
            self.started = true;
            self.pending = Some(text);
            // Usually unknown yet; known when mistral.rs sent several tokens at once.
            return self.first.get().is_some().then(|| self.flush()).flatten();
        }
        let first = self.flush().unwrap_or_default();
        Some(first + &text)
    }

    /// The held first chunk with its whitespace back (as sent, if the id never became known).
    pub fn flush(&mut self) -> Option<String> {
        let text = self.pending.take()?;
        let lead = match (&self.context, self.first.get()) {
            (Some((tokenizer, last)), Some(&first)) => leading_whitespace(tokenizer, *last, first),
            _ => String::new(),
        };
        Some(if text.starts_with(&lead) { text } else { lead + &text })
    }
}

/// The text of tokens drawn before mistral.rs sees them (see `replay`), as mistral.rs would
/// have streamed it (the start trimmed) and this restorer passed it on.
pub fn drawn_text(tokenizer: &Tokenizer, prompt_last: Option<u32>, tokens: &[u32]) -> String {
    let text = tokenizer.decode(tokens, true).unwrap_or_default();
    let text = text.trim_start();
    match (prompt_last, tokens.first()) {
        (Some(last), Some(&first)) => leading_whitespace(tokenizer, last, first) + text,
        _ => text.to_string(),
    }
}

/// The whitespace `first` adds in front of its text when it follows `last`.
fn leading_whitespace(tokenizer: &Tokenizer, last: u32, first: u32) -> String {
    let decode = |ids: &[u32]| tokenizer.decode(ids, false).unwrap_or_default();
    let before = decode(&[last]);
    let both = decode(&[last, first]);
    let added = both.strip_prefix(&before).unwrap_or("");
    added.chars().take_while(|c| c.is_whitespace()).collect()
}
