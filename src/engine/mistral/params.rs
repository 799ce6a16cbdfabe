//! `Sampling` as mistral.rs `SamplingParams`, and the settings 0.8.1 cannot honour.
use crate::sampling::Sampling;
use mistralrs::SamplingParams;

/// Every value is passed through; "off" values (top_k 0, min_p 0, repetition 1) become `None`.
/// Temperature 0 is greedy (mistral.rs takes argmax below 1e-7). Stop strings are matched by
/// the worker itself (see `stop.rs`), so they are not given to mistral.rs.
pub fn sampling_params(s: &Sampling) -> SamplingParams {
    SamplingParams {
        temperature: Some(s.temperature),
        top_k: (s.top_k > 0).then_some(s.top_k as usize),
        top_p: Some(s.top_p),
        min_p: (s.min_p > 0.0).then_some(s.min_p),
        frequency_penalty: (s.frequency_penalty != 0.0).then_some(s.frequency_penalty as f32),
        presence_penalty: (s.presence_penalty != 0.0).then_some(s.presence_penalty as f32),
        repetition_penalty: (s.repetition_penalty != 1.0).then_some(s.repetition_penalty as f32),
        max_len: Some(s.max_tokens.max(1) as usize),
        ..SamplingParams::neutral()
    }
}

/// Settings this request asks for that mistral.rs 0.8.1 cannot give, in words for the user.
pub fn unsupported(s: &Sampling) -> Vec<String> {
    let mut what = Vec::new();
    if let Some(seed) = s.seed {
        what.push(format!(
            "seed {seed}: mistral.rs 0.8.1 has no per-request seed; sampling uses the engine's own RNG, \
             seeded once at load, so answers are not reproducible by seed (temperature 0 is)"
        ));
    }
    what
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_values_become_none_and_the_rest_pass_through() {
        let s = Sampling { top_k: 0, min_p: 0.0, repetition_penalty: 1.0, temperature: 0.0, max_tokens: 7, ..Sampling::default() };
        let p = sampling_params(&s);
        assert_eq!((p.top_k, p.min_p, p.repetition_penalty), (None, None, None));
        assert_eq!((p.temperature, p.max_len), (Some(0.0), Some(7)));
        let s = Sampling { top_k: 40, min_p: 0.05, repetition_penalty: 1.1, presence_penalty: 0.5, ..Sampling::default() };
        let p = sampling_params(&s);
        assert_eq!((p.top_k, p.min_p, p.presence_penalty), (Some(40), Some(0.05), Some(0.5)));
        assert!((p.repetition_penalty.unwrap() - 1.1).abs() < 1e-6);
        assert_eq!(p.top_p, Some(s.top_p));
    }

    #[test]
    fn a_seed_is_reported_unsupported() {
        assert!(unsupported(&Sampling::default()).is_empty());
        let what = unsupported(&Sampling { seed: Some(42), ..Sampling::default() });
        assert_eq!(what.len(), 1);
        assert!(what[0].contains("seed 42"));
    }
}
