//! `Sampling` as mistral.rs `SamplingParams`. Penalties and the length limit are mistral.rs's;
//! the draw itself (temperature, top-k, top-p, min-p, seed) is ours (`sampler`), so mistral.rs
//! is told to take the one token our processor leaves possible.
use super::sampler::Draw;
use llamadeck_words::sampling::{Field, Sampling};
use mistralrs::SamplingParams;

/// Who does what with each sampling field in this backend: one exhaustive `match`, so a new
/// field does not compile until it says.
fn apply(field: Field, s: &Sampling, params: &mut SamplingParams) {
    match field {
        // "Off" values (penalties 0, repetition 1) become `None`.
        Field::FrequencyPenalty => params.frequency_penalty = (s.frequency_penalty != 0.0).then_some(s.frequency_penalty as f32),
        Field::PresencePenalty => params.presence_penalty = (s.presence_penalty != 0.0).then_some(s.presence_penalty as f32),
        Field::RepetitionPenalty => params.repetition_penalty = (s.repetition_penalty != 1.0).then_some(s.repetition_penalty as f32),
        Field::MaxTokens => params.max_len = Some(s.max_tokens.max(1) as usize),
        // Our own draw (`sampler`), seeded per answer: set below from `Draw`.
        Field::Temperature | Field::TopP | Field::TopK | Field::MinP | Field::Seed => {}
        // Matched on the stream by the worker itself (see `engine::stop`), never given to mistral.rs.
        Field::Stop => {}
        // The prompt, which this backend builds as token ids (`render`, `template`).
        Field::SystemPrompt | Field::RawMode => {}
    }
}

pub fn sampling_params(s: &Sampling) -> SamplingParams {
    let mut params = SamplingParams::neutral();
    for field in Field::ALL {
        apply(field, s, &mut params);
    }
    match Draw::from_sampling(s) {
        // Our processor has drawn: mistral.rs's argmax takes that token.
        Some(_) => SamplingParams { temperature: None, top_k: None, top_p: None, min_p: None, ..params },
        // Greedy: mistral.rs takes the argmax below a temperature of 1e-7.
        None => SamplingParams { temperature: Some(s.temperature), ..params },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_pass_through_and_off_values_become_none() {
        let s = Sampling { top_k: 0, min_p: 0.0, repetition_penalty: 1.0, temperature: 0.0, max_tokens: 7, ..Sampling::default() };
        let p = sampling_params(&s);
        assert_eq!((p.repetition_penalty, p.presence_penalty, p.frequency_penalty), (None, None, None));
        assert_eq!((p.temperature, p.max_len), (Some(0.0), Some(7)));
        let s = Sampling { repetition_penalty: 1.1, presence_penalty: 0.5, frequency_penalty: -0.5, ..Sampling::default() };
        let p = sampling_params(&s);
        assert_eq!((p.presence_penalty, p.frequency_penalty), (Some(0.5), Some(-0.5)));
        assert!((p.repetition_penalty.unwrap() - 1.1).abs() < 1e-6);
    }

    #[test]
    fn a_sampled_answer_leaves_the_draw_to_our_processor() {
        let s = Sampling { temperature: 0.8, top_k: 40, top_p: 0.9, min_p: 0.05, ..Sampling::default() };
        let p = sampling_params(&s);
        assert_eq!((p.temperature, p.top_k, p.top_p, p.min_p), (None, None, None, None));
    }
}
