//! Regenerate and exact repeats, drawn from the answer they repeat.
//!
//! mistral.rs 0.8.1's prefix cache reuses nothing for a prompt that one of its entries already
//! covers (`search_for_matching_cache` finds the longest match, sees no new token and gives up;
//! there is no rewind and no way to drop that one entry). The entry an answer leaves behind is
//! its prompt and its answer, so regenerating it, a retry, or a client resending the same prompt
//! read the whole prompt again: 4.1 s for a 300-token history where a new turn took 0.34 s.
//!
//! The way around it is ours: while an answer runs, its logits processor keeps the logits of
//! its first steps (the model's whole distribution there, after mistral.rs's penalties) and
//! every token it picked. To answer the same prompt again, the first tokens are drawn here from
//! those distributions with the new request's own settings and generator: as long as a draw
//! picks what the earlier answer picked, the next step's distribution is known too; at the
//! first token that differs, the prompt sent to mistral.rs is the old prompt, the shared tokens
//! and the new one, which the cached entry covers all but its last token of. So nothing is read
//! again, and the answer follows exactly the distribution a fresh run would have drawn from.
//! A greedy answer repeated greedily is the same answer, taken whole.
//!
//! Past its first steps an answer keeps only each step's most likely tokens (`Top`): enough to
//! draw exactly whenever top-k, top-p or min-p leave out what was not kept, which is checked at
//! each draw. When that cannot be told (plain temperature sampling past the first steps), the
//! draws follow the earlier answer past what was kept, or the settings that shape the logits
//! (the penalties) changed, the walk is lost and the prompt goes to mistral.rs as before.
use super::sampler::{Draw, Rng, greedy, pick, weighted};
use std::collections::VecDeque;
use std::sync::Arc;

/// Logits kept per answer: the first steps, up to this many bytes (32 steps of a 32,000-token
/// vocabulary, 21 of SmolLM2's 49,152, 8 of Llama 3's 128,256).
const STEP_BYTES_PER_ANSWER: usize = 4 << 20;
/// At least this many steps are kept whole, whatever the vocabulary.
const MIN_STEPS: usize = 8;
/// Past the whole steps, each step keeps its most likely tokens, this many ...
const TOP_TOKENS: usize = 128;
/// ... for at most this many steps of an answer (1 KiB a step).
const MAX_STEPS: usize = 2048;
/// All answers' logits together.
const BOOK_BYTES: usize = 32 << 20;

/// What shapes the logits our processor sees (mistral.rs applies these before it), as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shaping([u64; 3]);

impl Shaping {
    pub fn new(repetition: f64, presence: f64, frequency: f64) -> Self {
        Self([repetition.to_bits(), presence.to_bits(), frequency.to_bits()])
    }
}

/// How the recorded answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Its last pick is a token that ends an answer.
    EndToken,
    /// It ran out of tokens (`max_tokens` or the context).
    Length,
}

/// One answer as its logits processor saw it.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The prompt it was sent with.
    pub start: Vec<u32>,
    /// Every token picked, in order (the last one included).
    pub picks: Vec<u32>,
    /// What each step's logits were, for the first steps (step i chose `picks[i]`).
    pub steps: Vec<StepLogits>,
    /// Greedy: each pick was the most likely token, so a greedy repeat is the same answer.
    pub greedy: bool,
    pub shaping: Shaping,
    pub ending: Ending,
}

impl Recording {
    fn bytes(&self) -> usize {
        self.steps.iter().map(StepLogits::bytes).sum::<usize>() + (self.start.len() + self.picks.len()) * 4
    }

    /// How far `sequence` follows this answer: `Some(j)` when it is the prompt and the first `j` picks.
    fn follows(&self, sequence: &[u32]) -> Option<usize> {
        let rest = sequence.strip_prefix(self.start.as_slice())?;
        (rest.len() <= self.picks.len() && self.picks.starts_with(rest)).then_some(rest.len())
    }
}

/// One step's logits as kept.
#[derive(Debug, Clone, PartialEq)]
pub enum StepLogits {
    /// Every token's.
    Whole(Vec<f32>),
    /// The most likely tokens'.
    Top(Top),
}

/// A step's most likely tokens, most likely first (ties: the lower id first, as `pick` orders),
/// and what is known of the others: how many there are and the largest of their logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Top {
    pub ids: Vec<u32>,
    pub logits: Vec<f32>,
    pub rest: usize,
    pub rest_max: f32,
}

impl StepLogits {
    fn bytes(&self) -> usize {
        match self {
            StepLogits::Whole(l) => l.len() * 4,
            StepLogits::Top(t) => t.ids.len() * 8 + 16,
        }
    }

    fn argmax(&self) -> Option<u32> {
        match self {
            StepLogits::Whole(l) => greedy(l).map(|i| i as u32),
            StepLogits::Top(t) => t.ids.first().copied(),
        }
    }
}

impl Top {
    /// The `n` most likely of `logits` (finite ones only).
    pub fn of(logits: &[f32], n: usize) -> Top {
        let mut order: Vec<u32> = (0..logits.len() as u32).filter(|&i| logits[i as usize].is_finite()).collect();
        let better = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]).then(a.cmp(b));
        let n = n.min(order.len());
        if order.len() > n {
            order.select_nth_unstable_by(n, better);
        }
        let rest = &order[n..];
        let rest_max = rest.iter().map(|&i| logits[i as usize]).fold(f32::NEG_INFINITY, f32::max);
        let mut ids = order[..n].to_vec();
        ids.sort_by(better);
        let logits = ids.iter().map(|&i| logits[i as usize]).collect();
        Top { ids, logits, rest: rest.len(), rest_max }
    }

    /// The token `pick` would draw from the whole logits with `draw` and `rng`, when what was
    /// kept is enough to tell (the draw's top-k, top-p or min-p leave every other token out);
    /// `None` when it is not.
    pub fn draw(&self, draw: Draw, rng: &mut Rng) -> Option<u32> {
        let t = draw.temperature.max(1e-7);
        let max = f64::from(*self.logits.first()?);
        let weight = |l: f32| ((f64::from(l) - max) / t).exp();
        let mut kept: Vec<(u32, f64)> = self.ids.iter().zip(&self.logits).map(|(&i, &l)| (i, weight(l))).collect();
        // The tokens not kept: how many may still be in the draw, and each one's largest weight.
        let mut others = (self.rest > 0).then(|| (self.rest as f64, weight(self.rest_max)));
        if draw.top_k > 0 {
            if draw.top_k <= kept.len() {
                kept.truncate(draw.top_k);
                others = None;
            } else if let Some((n, w)) = others {
                others = Some((n.min((draw.top_k - kept.len()) as f64), w));
            }
        }
        if draw.top_p > 0.0 && draw.top_p < 1.0 {
            let kept_total: f64 = kept.iter().map(|p| p.1).sum();
            // As `pick` cuts: the first token at which the running share reaches top-p.
            let cut = |total: f64| {
                let mut share = 0.0;
                kept.iter().position(|p| {
                    share += p.1 / total;
                    share >= draw.top_p
                })
            };
            let at = match others {
                None => cut(kept_total).map_or(kept.len(), |i| i + 1),
                // The cut moves later as the others' weight grows: the same at both ends, it is known.
                Some((n, w)) => match (cut(kept_total), cut(kept_total + n * w)) {
                    (Some(a), Some(b)) if a == b => a + 1,
                    _ => return None,
                },
            };
            kept.truncate(at);
            others = None;
        }
        if draw.min_p > 0.0 {
            let floor = kept[0].1 * draw.min_p;
            kept.retain(|p| p.1 >= floor);
            if others.is_some_and(|(_, w)| w < floor) {
                others = None;
            }
        }
        if others.is_some() {
            return None;
        }
        weighted(&kept, rng)
    }
}

/// How many steps' logits to keep whole for a vocabulary of `vocab` tokens.
pub fn steps_kept(vocab: usize) -> usize {
    (STEP_BYTES_PER_ANSWER / (4 * vocab.max(1))).max(MIN_STEPS)
}

/// The newest answers' recordings, within [`BOOK_BYTES`]; emptied with the prefix cache.
#[derive(Debug, Clone, Default)]
pub struct ReplayBook {
    recordings: VecDeque<Arc<Recording>>,
    bytes: usize,
}

impl ReplayBook {
    pub fn add(&mut self, recording: Recording) {
        let bytes = recording.bytes();
        if bytes > BOOK_BYTES {
            return;
        }
        while self.bytes + bytes > BOOK_BYTES {
            let Some(old) = self.recordings.pop_front() else { break };
            self.bytes -= old.bytes();
        }
        self.bytes += bytes;
        self.recordings.push_back(Arc::new(recording));
    }

    pub fn clear(&mut self) {
        self.recordings.clear();
        self.bytes = 0;
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The newest recording `sequence` follows that can say what comes next under `shaping`,
    /// and how far along it is.
    fn at(&self, sequence: &[u32], shaping: Shaping, greedy: bool) -> Option<(&Recording, usize)> {
        self.recordings.iter().rev().filter(|r| r.shaping == shaping).find_map(|r| {
            let j = r.follows(sequence)?;
            let known = j < r.steps.len() || (greedy && r.greedy && j < r.picks.len());
            known.then_some((r.as_ref(), j))
        })
    }

    /// Draws the start of an answer to `prompt` from the recordings: see [`Walk`].
    pub fn walk(&self, prompt: &[u32], ask: &Ask, rng: &mut Rng) -> Walk {
        let Ask { draw, shaping, max_tokens, ends, controls } = *ask;
        let mut sequence = prompt.to_vec();
        let mut drawn = Vec::new();
        let mut here = self.at(&sequence, shaping, draw.is_none());
        loop {
            if drawn.len() >= max_tokens.max(1) {
                return Walk::Whole { tokens: drawn, ending: Ending::Length };
            }
            let Some((recording, j)) = here else { return Walk::Lost };
            let token = match (draw, recording.steps.get(j)) {
                (None, _) if recording.greedy => Some(recording.picks[j]),
                (None, Some(step)) => step.argmax(),
                (Some(draw), Some(StepLogits::Whole(logits))) => pick(logits, draw, rng).map(|i| i as u32),
                (Some(draw), Some(StepLogits::Top(top))) => top.draw(draw, rng),
                (_, None) => None,
            };
            let Some(token) = token else { return Walk::Lost };
            drawn.push(token);
            sequence.push(token);
            here = self.at(&sequence, shaping, draw.is_none());
            if token != recording.picks[j] {
                // Another recording may go on from here (an earlier regenerate took this turn).
                if here.is_some() {
                    continue;
                }
                if ends.contains(&token) {
                    return Walk::Whole { tokens: drawn, ending: Ending::EndToken };
                }
                if drawn.len() >= max_tokens {
                    return Walk::Whole { tokens: drawn, ending: Ending::Length };
                }
                // Another control token: what mistral.rs would make of it is not known here.
                return if controls.contains(&token) { Walk::Lost } else { Walk::Diverged { tokens: drawn } };
            } else if j + 1 == recording.picks.len() && recording.ending == Ending::EndToken {
                return Walk::Whole { tokens: drawn, ending: Ending::EndToken };
            }
        }
    }
}

/// What a new answer asks of the recordings.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// `None` for greedy decoding.
    pub draw: Option<Draw>,
    pub shaping: Shaping,
    pub max_tokens: usize,
    /// The tokens mistral.rs ends an answer at.
    pub ends: &'a [u32],
    /// The tokenizer's control tokens.
    pub controls: &'a [u32],
}

/// What the recordings make of a repeated prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walk {
    /// The whole answer, drawn here: it followed an earlier one to its end token, or to
    /// `max_tokens`. mistral.rs is not asked at all.
    Whole { tokens: Vec<u32>, ending: Ending },
    /// The answer starts with `tokens`, whose last one no earlier answer took: mistral.rs goes on
    /// from the prompt and these, reading only that last one.
    Diverged { tokens: Vec<u32> },
    /// The recordings cannot say (past the steps kept, other penalties, nothing recorded).
    Lost,
}

/// What an answer's logits processor writes down as it runs (see `generate::step_processor`).
#[derive(Debug, Default)]
pub struct Recorder {
    steps_kept: usize,
    picks: Vec<u32>,
    steps: Vec<StepLogits>,
    /// A pick that was not the token mistral.rs took (greedy ties): the recording is not kept.
    spoiled: bool,
}

impl Recorder {
    /// A step whose pick is not known: nothing can be drawn from this answer again.
    pub fn spoil(&mut self) {
        self.spoiled = true;
    }

    /// One step: its logits and the token picked. `taken` is the previous step's token as
    /// mistral.rs took it, where the step's context shows it.
    pub fn step(&mut self, logits: &[f32], picked: u32, taken: Option<u32>) {
        if let (Some(taken), Some(&last)) = (taken, self.picks.last())
            && taken != last
        {
            self.spoiled = true;
        }
        if self.picks.is_empty() {
            self.steps_kept = steps_kept(logits.len());
        }
        if self.steps.len() == self.picks.len() && self.steps.len() < MAX_STEPS {
            self.steps.push(if self.steps.len() < self.steps_kept {
                StepLogits::Whole(logits.to_vec())
            } else {
                StepLogits::Top(Top::of(logits, TOP_TOKENS))
            });
        }
        self.picks.push(picked);
    }

    /// The recording of an answer mistral.rs finished (and so cached), sent as `start`.
    pub fn finish(self, start: Vec<u32>, greedy: bool, shaping: Shaping, ending: Ending) -> Option<Recording> {
        (!self.spoiled && !self.picks.is_empty()).then_some(Recording {
            start,
            picks: self.picks,
            steps: self.steps,
            greedy,
            shaping,
            ending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFF: Shaping = Shaping([1f64.to_bits(), 0, 0]);

    /// Token 0 ends answers; `controls` are control tokens besides.
    fn ask<'a>(draw: Option<Draw>, shaping: Shaping, max_tokens: usize, controls: &'a [u32]) -> Ask<'a> {
        Ask { draw, shaping, max_tokens, ends: &[0], controls }
    }

    fn sampled(t: f64) -> Option<Draw> {
        Some(Draw { temperature: t, top_k: 0, top_p: 1.0, min_p: 0.0 })
    }

    /// A four-token vocabulary where step i favours token (i + 1) % 4 by `margin`.
    fn logits(i: usize, margin: f32) -> Vec<f32> {
        (0..4).map(|t| if t == (i + 1) % 4 { margin } else { 0.0 }).collect()
    }

    fn recording(start: &[u32], picks: &[u32], steps: usize, margin: f32, greedy: bool, ending: Ending) -> Recording {
        let steps = (0..steps.min(picks.len())).map(|i| StepLogits::Whole(logits(i, margin))).collect();
        Recording { start: start.to_vec(), picks: picks.to_vec(), steps, greedy, shaping: OFF, ending }
    }

    #[test]
    fn a_greedy_repeat_of_a_greedy_answer_is_that_answer_whole() {
        let mut book = ReplayBook::default();
        book.add(recording(&[9, 9], &[1, 2, 3, 0], 0, 5.0, true, Ending::EndToken));
        let walk = book.walk(&[9, 9], &ask(None, OFF, 100, &[]), &mut Rng::seeded(1));
        assert_eq!(walk, Walk::Whole { tokens: vec![1, 2, 3, 0], ending: Ending::EndToken });
        let walk = book.walk(&[9, 9], &ask(None, OFF, 2, &[]), &mut Rng::seeded(1));
        assert_eq!(walk, Walk::Whole { tokens: vec![1, 2], ending: Ending::Length }, "max_tokens still holds");
        assert_eq!(book.walk(&[9, 8], &ask(None, OFF, 100, &[]), &mut Rng::seeded(1)), Walk::Lost, "another prompt");
        let penalised = Shaping::new(1.1, 0.0, 0.0);
        assert_eq!(book.walk(&[9, 9], &ask(None, penalised, 100, &[]), &mut Rng::seeded(1)), Walk::Lost, "other penalties, other logits");
    }

    #[test]
    fn draws_follow_the_recorded_distribution_and_diverge_where_it_says() {
        // Step 0 favours token 1 by ln 3 over each of three others: P(1) = 3/6 = 0.5.
        let mut book = ReplayBook::default();
        book.add(recording(&[7], &[1, 2, 3], 3, 3f32.ln(), false, Ending::EndToken));
        let mut rng = Rng::seeded(3);
        let n = 20_000;
        let mut first_kept = 0;
        for _ in 0..n {
            let tokens = match book.walk(&[7], &ask(sampled(1.0), OFF, 100, &[]), &mut rng) {
                Walk::Diverged { tokens } | Walk::Whole { tokens, .. } => tokens,
                Walk::Lost => panic!("every step is recorded"),
            };
            let shared = &tokens[..tokens.len() - 1];
            assert!(shared.iter().zip([1, 2, 3]).all(|(a, b)| *a == b) && shared.len() < 3, "shared picks, then one: {tokens:?}");
            first_kept += usize::from(tokens[0] == 1);
        }
        let share = first_kept as f64 / n as f64;
        assert!((share - 0.5).abs() < 0.02, "the first token is the recorded one half the time: {share}");
    }

    #[test]
    fn the_walk_is_lost_past_the_steps_kept_goes_on_in_a_later_answer_and_ends_at_an_end_token() {
        let mut book = ReplayBook::default();
        // Only step 0 kept, and it is certain: the draw follows it and then knows nothing.
        book.add(recording(&[5], &[1, 2, 3], 1, 60.0, false, Ending::EndToken));
        assert_eq!(book.walk(&[5], &ask(sampled(0.7), OFF, 100, &[]), &mut Rng::seeded(2)), Walk::Lost);
        // A regenerate that went on from [5, 1] recorded its own steps: the walk continues there.
        book.add(recording(&[5, 1], &[1, 0], 2, 60.0, false, Ending::EndToken));
        // Its step 0 favours token 1 (its own pick), step 1 favours token 2, not its pick 0.
        assert_eq!(book.walk(&[5], &ask(sampled(0.7), OFF, 100, &[]), &mut Rng::seeded(2)), Walk::Diverged { tokens: vec![1, 1, 2] });
        // Where the token drawn is a control token: an end token (0 here) ends this answer too;
        // another is left to mistral.rs.
        let mut book = ReplayBook::default();
        // Steps 0..3 favour tokens 1, 2, 3, then 0 (certain).
        book.add(recording(&[6], &[2, 1], 2, 60.0, false, Ending::Length));
        assert_eq!(book.walk(&[6], &ask(sampled(1.0), OFF, 100, &[0]), &mut Rng::seeded(2)), Walk::Diverged { tokens: vec![1] });
        book.add(recording(&[6, 6], &[1, 2, 3, 1], 4, 60.0, false, Ending::Length));
        let walk = book.walk(&[6, 6], &ask(sampled(1.0), OFF, 100, &[0]), &mut Rng::seeded(2));
        assert_eq!(walk, Walk::Whole { tokens: vec![1, 2, 3, 0], ending: Ending::EndToken });
        book.add(recording(&[7, 7], &[2], 1, 60.0, false, Ending::Length));
        assert_eq!(book.walk(&[7, 7], &ask(sampled(1.0), OFF, 100, &[1]), &mut Rng::seeded(2)), Walk::Lost);
    }

    #[test]
    fn a_draw_from_the_top_tokens_is_the_draw_from_all_of_them_whenever_it_can_tell() {
        let mut noise = Rng::seeded(11);
        let (mut told, mut cases) = (std::collections::HashMap::new(), 0);
        for case in 0..200usize {
            // Like a language model's: a few likely tokens, then a long tail.
            let logits: Vec<f32> = (0..2000usize)
                .map(|i| if i % 97 == case % 97 { 9.0 } else { 0.0 } + (noise.next_f64() * 6.0) as f32 - i as f32 / 150.0)
                .collect();
            let top = Top::of(&logits, TOP_TOKENS);
            assert_eq!(top.ids.len() + top.rest, 2000);
            for (name, temperature, top_k, top_p, min_p) in [
                ("console defaults", 0.6, 0, 0.9, 0.0),
                ("top-k", 1.0, 40, 1.0, 0.0),
                ("min-p", 0.8, 0, 1.0, 0.05),
                ("plain temperature", 1.0, 0, 1.0, 0.0),
                ("top-k past the tokens kept", 1.5, 200, 0.95, 0.0),
                ("cold nucleus", 0.3, 0, 0.5, 0.1),
            ] {
                let draw = Draw { temperature, top_k, top_p, min_p };
                let seed = (case * 7 + name.len()) as u64;
                let (mut ours, mut all) = (Rng::seeded(seed), Rng::seeded(seed));
                cases += 1;
                if let Some(token) = top.draw(draw, &mut ours) {
                    assert_eq!(Some(token as usize), pick(&logits, draw, &mut all), "{name}, case {case}");
                    *told.entry(name).or_insert(0) += 1;
                }
            }
        }
        assert_eq!(told.get("plain temperature"), None, "the tail's share cannot be known");
        assert_eq!(told.get("top-k"), Some(&200), "top-k within the kept tokens always can");
        for name in ["console defaults", "min-p", "cold nucleus"] {
            assert!(told.get(name).is_some_and(|&n| n > 150), "{name}: {told:?} of {cases}");
        }
    }

    #[test]
    fn the_book_keeps_the_newest_answers_within_its_bytes_and_empties() {
        let mut book = ReplayBook::default();
        let vocab = 32_000;
        let steps = steps_kept(vocab);
        assert_eq!(steps, 32);
        for answer in 0..20u32 {
            let mut r = Recorder::default();
            for step in 0..40 {
                r.step(&vec![0.0; vocab], step, None);
            }
            let recording = r.finish(vec![answer], false, OFF, Ending::Length).unwrap();
            assert_eq!(recording.steps.len(), 40, "every step kept");
            let whole = recording.steps.iter().take_while(|s| matches!(s, StepLogits::Whole(_))).count();
            assert_eq!(whole, steps, "the first ones whole, the others their top tokens");
            book.add(recording);
            assert!(book.bytes() <= BOOK_BYTES, "{}", book.bytes());
        }
        assert!(book.recordings.len() >= 7 && book.recordings.back().unwrap().start == [19], "{}", book.recordings.len());
        book.clear();
        assert_eq!((book.bytes(), book.recordings.len()), (0, 0));
    }

    #[test]
    fn a_recorder_whose_pick_mistral_rs_did_not_take_keeps_nothing() {
        let mut r = Recorder::default();
        r.step(&[0.0; 4], 1, None);
        r.step(&[0.0; 4], 2, Some(1));
        assert!(r.finish(vec![0], true, OFF, Ending::Length).is_some());
        let mut r = Recorder::default();
        r.step(&[0.0; 4], 1, None);
        r.step(&[0.0; 4], 2, Some(3));
        assert!(r.finish(vec![0], true, OFF, Ending::Length).is_none());
    }
}
