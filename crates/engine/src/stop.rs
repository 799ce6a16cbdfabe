//! Stop sequences, matched on the streamed text. Doing it here (not in mistral.rs) means the
//! text of a stop sequence never reaches the screen, even when it spans several tokens, and
//! the match does not depend on how the tokenizer splits the stop string.

/// Holds back just enough text to see a stop sequence arrive across chunks.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum StopStep {
    /// Text that is safe to show.
    Emit(String),
    /// A stop sequence matched: show this text (what came before it) and finish.
    Stop(String),
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), pending: String::new() }
    }

    pub fn push(&mut self, text: &str) -> StopStep {
        self.pending.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|s| self.pending.find(s.as_str())).min() {
            let before = self.pending[..at].to_string();
            self.pending.clear();
            return StopStep::Stop(before);
        }
        let keep = self.longest_stop_prefix_suffix();
        let emit_to = self.pending.len() - keep;
        let emitted = self.pending[..emit_to].to_string();
        self.pending.drain(..emit_to);
        StopStep::Emit(emitted)
    }

    /// What is still held back when the answer ends without a stop sequence.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    /// Length of the longest tail of `pending` that could start a stop sequence.
    fn longest_stop_prefix_suffix(&self) -> usize {
        let p = &self.pending;
        (1..=p.len())
            .rev()
            .filter(|&n| p.is_char_boundary(p.len() - n))
            .find(|&n| self.stops.iter().any(|s| s.len() > n && s.starts_with(&p[p.len() - n..])))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_passes_through_without_stops() {
        let mut m = StopMatcher::new(&[]);
        assert_eq!(m.push("hello"), StopStep::Emit("hello".into()));
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn a_stop_across_chunks_is_held_back_and_cut() {
        let mut m = StopMatcher::new(&["User:".into()]);
        assert_eq!(m.push("fine. Us"), StopStep::Emit("fine. ".into()));
        assert_eq!(m.push("er: next"), StopStep::Stop("".into()));
        let mut m = StopMatcher::new(&["User:".into()]);
        assert_eq!(m.push("Us"), StopStep::Emit("".into()));
        assert_eq!(m.push("ually"), StopStep::Emit("Usually".into()));
        assert_eq!(m.push(" U"), StopStep::Emit(" ".into()));
        assert_eq!(m.finish(), "U");
    }

    #[test]
    fn the_earliest_stop_wins_and_unicode_is_safe() {
        let mut m = StopMatcher::new(&["ß!".into(), "b".into()]);
        assert_eq!(m.push("aßxb ß!"), StopStep::Stop("aßx".into()));
        let mut m = StopMatcher::new(&["éé".into()]);
        assert_eq!(m.push("né"), StopStep::Emit("n".into()));
    }
}
