//! The prefix cache, kept within a budget. mistral.rs 0.8.1 keeps the key/value cache of every
//! answer it finishes, so the next turn of a conversation reads only what is new; but on the CPU
//! it never lets go of one (its eviction counts caches on a GPU only), and it has no call to
//! clear or measure them. So llamadeck keeps the accounts: each answer mistral.rs finished adds
//! an entry of (prompt + answer) tokens, stored in steps of 512, times the model's bytes per
//! token. Past the budget the worker admits no new answer; once the answers running have ended
//! it restarts mistral.rs's engine over the same weights (a fresh, empty cache; nothing is
//! reloaded), starts the count again and admits the queue. A busy server keeps its budget too:
//! the cache never holds more than the budget plus what the answers running when it was
//! crossed add (on the CPU, one answer). On a GPU mistral.rs drops the oldest entries beyond
//! the number it was given; the accounts drop them too, so the budget is only a backstop there.
use std::collections::VecDeque;

use super::replay::ReplayBook;
use llamadeck_engine::{PrefixCache, PrefixCacheStats};

/// mistral.rs grows a sequence's KV cache in steps of this many tokens.
const STEP: usize = 512;

/// `auto`'s cap on the CPU, in answers at the full context. A quarter of free memory alone gave 5.9 GB
/// on a 24 GB CPU machine, 60 times a small model: the process's rss grew by gigabytes and read
/// as a leak. The next turn needs only the newest entry; the cache grows by one entry a turn
/// (on the CPU mistral.rs never drops one) and is emptied when over budget, which costs one
/// turn that reads its whole prompt again. Four full contexts keep a conversation at the full
/// context cached for about four turns between such restarts, and many more turns while it is
/// shorter, at a memory cost an operator can predict from the model (its KV cache at the full
/// context); the load's stage line states the budget. On a GPU mistral.rs drops the oldest
/// entries itself, one for each conversation it keeps, so a server with many clients keeps
/// the quarter (the budget there sets how many entries it keeps).
const AUTO_FULL_CONTEXTS: u64 = 4;

/// The most entries whose tokens are kept to know which prompts an entry covers (the cache may
/// hold more).
const KEYS_KEPT: usize = 256;

#[derive(Debug, Clone)]
pub struct PrefixBudget {
    account: PrefixCacheStats,
    bytes_per_token: u64,
    keys: VecDeque<Vec<u32>>,
    /// Each entry's bytes, oldest first.
    entries: VecDeque<u64>,
    /// On a GPU: how many entries mistral.rs keeps (it drops the oldest beyond).
    evicts_beyond: Option<usize>,
    /// How the newest answers were drawn, to answer their prompts again (see `replay`).
    pub replays: ReplayBook,
}

impl PrefixBudget {
    /// `None` when the cache is off. `auto` takes a quarter of the memory left after loading,
    /// on the CPU at most [`AUTO_FULL_CONTEXTS`] answers at the full context, then at least two
    /// such answers but at most half of what is left (and never less than one).
    pub fn new(setting: PrefixCache, bytes_per_token: u64, context_len: usize, free_after_load: Option<u64>, on_cpu: bool) -> Option<Self> {
        let full = bytes_per_token * context_len as u64;
        let (budget_bytes, budget_sequences) = match setting {
            PrefixCache::Off => return None,
            PrefixCache::Bytes(b) => (Some(b), None),
            PrefixCache::Sequences(n) => (None, Some(n)),
            PrefixCache::Auto => {
                let free = free_after_load.unwrap_or(4 * full);
                let cap = if on_cpu { AUTO_FULL_CONTEXTS * full } else { u64::MAX };
                (Some((free / 4).min(cap).max(2 * full).min(free / 2).max(full)), None)
            }
        };
        let account = PrefixCacheStats { setting: setting.to_string(), budget_bytes, budget_sequences, ..PrefixCacheStats::default() };
        let mut budget = Self {
            account,
            bytes_per_token,
            keys: VecDeque::new(),
            entries: VecDeque::new(),
            evicts_beyond: None,
            replays: ReplayBook::default(),
        };
        // The engine's warm-up run ("hello", one token) leaves one entry behind.
        budget.added(&[]);
        Some(budget)
    }

    /// mistral.rs finished an answer whose whole sequence (prompt and answer) is `tokens`.
    pub fn added(&mut self, tokens: &[u32]) {
        let bytes = (tokens.len().max(1).div_ceil(STEP) * STEP) as u64 * self.bytes_per_token;
        self.account.bytes_held += bytes;
        self.account.sequences_held += 1;
        self.entries.push_back(bytes);
        if !tokens.is_empty() {
            if self.keys.len() == KEYS_KEPT {
                self.keys.pop_front();
            }
            self.keys.push_back(tokens.to_vec());
        }
        let kept = self.evicts_beyond.unwrap_or(usize::MAX);
        while self.entries.len() > kept {
            let oldest = self.entries.pop_front().unwrap_or(0);
            self.account.bytes_held -= oldest;
            self.account.sequences_held -= 1;
        }
        while self.keys.len() > kept {
            self.keys.pop_front();
        }
    }

    /// mistral.rs keeps at most `entries` (on a GPU), dropping the oldest.
    pub fn evicting_beyond(mut self, entries: usize) -> Self {
        self.evicts_beyond = Some(entries);
        self
    }

    /// True when a cached entry starts with the whole of `prompt`: mistral.rs then reuses nothing
    /// (it finds no new token to read and gives up instead of rewinding one; see `replay`).
    /// What an answer reports as cached is what mistral.rs skipped, as measured (`generate`).
    pub fn covers(&self, prompt: &[u32]) -> bool {
        !prompt.is_empty() && self.keys.iter().any(|key| key.starts_with(prompt))
    }

    /// An answer that started with `reused` of its prompt tokens already cached.
    pub fn note_hit(&mut self, reused: usize) {
        if reused > 0 {
            self.account.hits += 1;
            self.account.tokens_reused += reused as u64;
        }
    }

    pub fn over(&self) -> bool {
        let a = &self.account;
        a.budget_bytes.is_some_and(|b| a.bytes_held > b) || a.budget_sequences.is_some_and(|n| a.sequences_held > n)
    }

    /// The engine restarted with an empty cache.
    pub fn emptied(&mut self) {
        self.account.bytes_held = 0;
        self.account.sequences_held = 0;
        self.account.restarts += 1;
        self.keys.clear();
        self.entries.clear();
        self.replays.clear();
    }

    pub fn account(&self) -> &PrefixCacheStats {
        &self.account
    }

    /// How many entries mistral.rs may keep on a GPU (it evicts the oldest beyond that).
    pub fn gpu_entries(&self, context_len: usize) -> usize {
        match (self.account.budget_sequences, self.account.budget_bytes) {
            (Some(n), _) => n.clamp(1, 64),
            (None, Some(bytes)) => (bytes / (self.bytes_per_token * context_len as u64).max(1)).clamp(1, 64) as usize,
            (None, None) => 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_counted_in_steps_of_512_tokens_and_the_budget_is_kept() {
        let mut b = PrefixBudget::new(PrefixCache::Bytes(4 * 512 * 10 - 1), 10, 4096, None, true).unwrap();
        assert_eq!(b.account().bytes_held, 512 * 10, "the warm-up entry");
        b.added(&[1; 600]);
        assert_eq!(b.account().bytes_held, 3 * 512 * 10);
        assert!(!b.over());
        b.added(&[1; 10]);
        assert!(b.over());
        b.emptied();
        assert_eq!((b.account().bytes_held, b.account().restarts), (0, 1));
        let mut n = PrefixBudget::new(PrefixCache::Sequences(2), 10, 4096, None, true).unwrap();
        n.added(&[1]);
        assert!(!n.over());
        n.added(&[1]);
        assert!(n.over());
        assert!(PrefixBudget::new(PrefixCache::Off, 10, 4096, None, true).is_none());
    }

    #[test]
    fn on_a_gpu_the_oldest_entries_go_as_mistral_rs_drops_them() {
        let b = PrefixBudget::new(PrefixCache::Bytes(3 * 1024 * 10), 10, 1024, None, false).unwrap();
        let n = b.gpu_entries(1024);
        assert_eq!(n, 3);
        let mut b = b.evicting_beyond(n);
        for turn in 1..=10 {
            b.added(&vec![turn; 100 * turn as usize]);
            assert!(!b.over(), "turn {turn}: {:?}", b.account());
        }
        assert_eq!((b.account().sequences_held, b.account().bytes_held), (3, 3 * 1024 * 10));
        assert!(!b.covers(&[1; 100]), "the first turn's entry is gone");
        assert!(b.covers(&[10; 1000]), "the newest is kept");
    }

    #[test]
    fn a_prompt_is_covered_when_a_cached_entry_starts_with_all_of_it() {
        let mut b = PrefixBudget::new(PrefixCache::Auto, 10, 4096, Some(1 << 30), true).unwrap();
        b.added(&[1, 2, 3, 4, 5]);
        b.added(&[1, 2, 9]);
        assert!(b.covers(&[1, 2, 3]) && b.covers(&[1, 2, 9]) && b.covers(&[1, 2, 3, 4, 5]));
        assert!(!b.covers(&[1, 2, 3, 4, 5, 6, 7]) && !b.covers(&[1, 2, 9, 9]) && !b.covers(&[7]) && !b.covers(&[]));
    }

    #[test]
    fn auto_takes_a_quarter_of_what_is_left_up_to_four_full_answers() {
        let auto = |free| PrefixBudget::new(PrefixCache::Auto, 1, 1000, free, true).unwrap().account().budget_bytes.unwrap();
        assert_eq!(auto(Some(100_000)), 4_000, "four full answers, well within a quarter of what is left");
        assert_eq!(auto(Some(12_000)), 3_000, "a quarter of what is left, under four full answers");
        assert_eq!(auto(Some(5_000)), 2_000, "two full answers, within half of what is left");
        assert_eq!(auto(Some(3_000)), 1_500, "at most half of what is left");
        assert_eq!(auto(Some(1_000)), 1_000, "at least one full answer");
        let on_a_gpu = PrefixBudget::new(PrefixCache::Auto, 1, 1000, Some(100_000), false).unwrap();
        assert_eq!(on_a_gpu.account().budget_bytes, Some(25_000), "a GPU keeps the quarter: mistral.rs evicts there");
    }
}
