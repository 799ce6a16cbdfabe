//! The log probabilities of the tokens an answer draws, as OpenAI's `logprobs` reports them.
//! The answer's logits processor sees each step's logits (after mistral.rs's repetition and
//! frequency penalties, before the temperature) and knows the token drawn; it keeps that
//! token's log-softmax and the likeliest tokens beside it. The answer's stream sends them on
//! as its chunks of text arrive, each token spelled as it reads in the answer.
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use llamadeck_engine::face::{GenEvent, GenerationSink, TokenLogprob};
use tokenizers::Tokenizer;

/// One step of an answer, as the processor saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The tokens before this one, as the processor was shown them: a second look at the same
    /// step (a constraint's re-draw, when the first token drawn breaks the format) has the same
    /// `at` and replaces the first.
    pub at: usize,
    pub token: u32,
    pub logprob: f32,
    /// The likeliest tokens, most likely first.
    pub top: Vec<(u32, f32)>,
}

/// The steps noted so far, shared by the processor (which notes them) and the stream (which
/// sends them on).
#[derive(Debug, Clone)]
pub struct Scores {
    top: usize,
    steps: Arc<Mutex<Vec<Step>>>,
}

impl Scores {
    /// Keeps `top` alternatives a step.
    pub fn new(top: usize) -> Self {
        Self { top, steps: Arc::default() }
    }

    /// Notes the step after `at` tokens: its logits as the processor saw them and the token drawn.
    pub fn note(&self, at: usize, logits: &[f32], token: usize) {
        let Some((logprob, top)) = score(logits, token, self.top) else { return };
        let step = Step { at, token: token as u32, logprob, top };
        let mut steps = lock(&self.steps);
        if steps.last().is_some_and(|last| last.at == at) {
            steps.pop();
        }
        steps.push(step);
    }

    /// The steps noted and not taken yet: all of them, or all but the newest, which a re-draw
    /// may still replace.
    fn take(&self, all: bool) -> Vec<Step> {
        let mut steps = lock(&self.steps);
        let keep = usize::from(!all).min(steps.len());
        let settled = steps.len() - keep;
        steps.drain(..settled).collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The log-softmax of `logits` at `token` and the `top` likeliest tokens with theirs (ties in
/// token order). `None` when nothing is possible (every logit minus infinity) or `token` is
/// out of range.
pub fn score(logits: &[f32], token: usize, top: usize) -> Option<(f32, Vec<(u32, f32)>)> {
    let max = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() || token >= logits.len() {
        return None;
    }
    let sum: f64 = logits.iter().filter(|l| l.is_finite()).map(|&l| (f64::from(l) - f64::from(max)).exp()).sum();
    let log_total = f64::from(max) + sum.ln();
    let logprob = |l: f32| if l.is_finite() { (f64::from(l) - log_total) as f32 } else { f32::NEG_INFINITY };
    // The `top` largest, kept sorted in a short list: one pass over the vocabulary.
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(top + 1);
    for (i, &l) in logits.iter().enumerate() {
        if top == 0 || !l.is_finite() || (best.len() == top && best[top - 1].1 >= l) {
            continue;
        }
        let at = best.partition_point(|&(_, b)| b >= l);
        best.insert(at, (i as u32, l));
        best.truncate(top);
    }
    Some((logprob(logits[token]), best.into_iter().map(|(i, l)| (i, logprob(l))).collect()))
}

/// Sends an answer's steps on, spelled as text.
pub struct Scorer {
    scores: Scores,
    tokenizer: Arc<Tokenizer>,
    /// A token that decodes to plain text, put before each token decoded so that a leading
    /// space (SentencePiece's `▁`) is kept: decoders drop it at the start of a text.
    anchor: Option<(u32, String)>,
    /// Control tokens (the end of the answer) are not part of its text and not reported.
    specials: HashSet<u32>,
}

impl Scorer {
    /// `controls`: the tokenizer's control tokens, left out.
    pub fn new(scores: Scores, tokenizer: &Arc<Tokenizer>, plain: &Tokenizer, controls: &[u32]) -> Self {
        let anchor = plain.encode_fast("a", false).ok().and_then(|e| e.get_ids().first().copied());
        let anchor = anchor.and_then(|id| Some((id, tokenizer.decode(&[id], false).ok()?)));
        Self { scores, tokenizer: tokenizer.clone(), anchor, specials: controls.iter().copied().collect() }
    }

    /// Sends the steps no re-draw can change any more.
    pub fn send_settled(&self, sink: &GenerationSink) {
        self.send(self.scores.take(false), sink);
    }

    /// Sends every step left: the answer has ended.
    pub fn send_rest(&self, sink: &GenerationSink) {
        self.send(self.scores.take(true), sink);
    }

    fn send(&self, steps: Vec<Step>, sink: &GenerationSink) {
        let tokens: Vec<TokenLogprob> = steps
            .into_iter()
            .filter(|step| !self.specials.contains(&step.token))
            .map(|step| TokenLogprob {
                token: self.text(step.token),
                logprob: step.logprob,
                top: step.top.into_iter().map(|(id, logprob)| (self.text(id), logprob)).collect(),
            })
            .collect();
        if !tokens.is_empty() {
            sink.send(GenEvent::Logprobs(tokens));
        }
    }

    /// How `id` reads in an answer, its leading space included.
    fn text(&self, id: u32) -> String {
        if let Some((anchor, alone)) = &self.anchor
            && let Ok(both) = self.tokenizer.decode(&[*anchor, id], false)
            && let Some(text) = both.strip_prefix(alone.as_str())
        {
            return text.to_string();
        }
        self.tokenizer.decode(&[id], false).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawn_tokens_log_softmax_and_the_likeliest_first() {
        let logits = [1.0f32, 3.0, f32::NEG_INFINITY, 2.0, 3.0];
        let (logprob, top) = score(&logits, 3, 3).unwrap();
        let total: f64 = [1.0f64, 3.0, 2.0, 3.0].iter().map(|l| l.exp()).sum();
        assert!((f64::from(logprob) - (2.0 - total.ln())).abs() < 1e-5, "{logprob}");
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 4, 3], "ties in token order");
        assert!((top[0].1 - top[1].1).abs() < 1e-6 && top[0].1 > top[2].1);
        let probs: f64 = (0..5).filter_map(|i| score(&logits, i, 0)).map(|(l, _)| f64::from(l).exp()).sum();
        assert!((probs - 1.0).abs() < 1e-5, "the probabilities sum to one: {probs}");
        assert_eq!(score(&logits, 2, 0).unwrap().0, f32::NEG_INFINITY, "an impossible token");
        assert!(score(&[f32::NEG_INFINITY; 3], 0, 2).is_none());
        assert!(score(&logits, 9, 2).is_none());
        assert!(score(&logits, 0, 0).unwrap().1.is_empty());
    }

    /// A re-draw at the same step replaces the first look; the newest step waits until the
    /// answer has moved past it or ended.
    #[test]
    fn a_redraw_replaces_its_step_and_the_newest_is_held_until_settled() {
        let scores = Scores::new(1);
        scores.note(10, &[0.0, 1.0], 1);
        scores.note(11, &[0.0, 1.0], 1);
        scores.note(11, &[0.0, f32::NEG_INFINITY], 0);
        let settled = scores.take(false);
        assert_eq!(settled.iter().map(|s| (s.at, s.token)).collect::<Vec<_>>(), vec![(10, 1)]);
        let rest = scores.take(true);
        assert_eq!(rest.iter().map(|s| (s.at, s.token, s.logprob)).collect::<Vec<_>>(), vec![(11, 0, 0.0)]);
        assert!(scores.take(true).is_empty());
    }
}
