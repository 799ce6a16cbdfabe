//! Our own sampling step, run as mistral.rs's logits processor. mistral.rs 0.8.1 samples with one
//! engine-wide RNG seeded with 0 at start, so every process gives the same "random" answers and
//! no request can ask for a seed. Here each answer draws from its own generator: seeded from
//! the request's `seed` (the same prompt, model and settings give the same answer) or from the
//! operating system (random across restarts). mistral.rs applies its penalties first; this
//! processor then applies temperature, top-k, top-p and min-p, picks one token and leaves only
//! that token possible, so mistral.rs's own (argmax) pick is ours.
use llamadeck_words::sampling::Sampling;

/// What `pick` needs of the request's sampling settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub temperature: f64,
    /// 0 = off.
    pub top_k: usize,
    /// 1.0 = off.
    pub top_p: f64,
    /// 0.0 = off.
    pub min_p: f64,
}

impl Draw {
    /// `None` for greedy decoding (temperature 0), which mistral.rs does deterministically itself.
    pub fn from_sampling(s: &Sampling) -> Option<Draw> {
        (s.temperature > 1e-7).then_some(Draw { temperature: s.temperature, top_k: s.top_k as usize, top_p: s.top_p, min_p: s.min_p })
    }
}

/// A small, fast generator (xoshiro256**, seeded through SplitMix64): statistically sound for
/// sampling, identical on every platform and Rust release.
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn seeded(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    /// Seeded from the operating system's entropy.
    pub fn random() -> Self {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            // No entropy source: the clock still differs between runs.
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            bytes = (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
        }
        Rng::seeded(u64::from_le_bytes(bytes))
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Picks a token from `logits` the way the settings say: temperature, then the top-k most
/// likely, then the smallest set reaching top-p, then those at least min-p times the most
/// likely; `None` when no token is possible at all.
pub fn pick(logits: &[f32], draw: Draw, rng: &mut Rng) -> Option<usize> {
    let max = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return None;
    }
    let t = draw.temperature.max(1e-7);
    // Softmax over the finite logits, most likely first.
    let mut probs: Vec<(usize, f64)> =
        logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, &l)| (i, ((f64::from(l) - f64::from(max)) / t).exp())).collect();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if draw.top_k > 0 {
        probs.truncate(draw.top_k);
    }
    let total: f64 = probs.iter().map(|p| p.1).sum();
    if draw.top_p > 0.0 && draw.top_p < 1.0 {
        let mut kept = 0.0;
        let cut = probs.iter().position(|p| {
            kept += p.1 / total;
            kept >= draw.top_p
        });
        probs.truncate(cut.map_or(probs.len(), |i| i + 1));
    }
    if draw.min_p > 0.0 {
        let floor = probs[0].1 * draw.min_p;
        probs.retain(|p| p.1 >= floor);
    }
    weighted(&probs, rng)
}

/// The most likely token (the lowest id among equals), as mistral.rs's greedy decoding takes it;
/// `None` when every logit is NaN.
pub fn greedy(logits: &[f32]) -> Option<usize> {
    logits.iter().enumerate().filter(|(_, l)| !l.is_nan()).max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map(|(i, _)| i)
}

/// One of `candidates` (most likely first), each as likely as its weight, with one uniform draw
/// of `rng`. `replay` draws with it too, so that its draws are this module's, number for number.
pub fn weighted<T: Copy>(candidates: &[(T, f64)], rng: &mut Rng) -> Option<T> {
    let total: f64 = candidates.iter().map(|p| p.1).sum();
    let mut target = rng.next_f64() * total;
    for &(item, p) in candidates {
        if target < p {
            return Some(item);
        }
        target -= p;
    }
    candidates.last().map(|p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(temperature: f64) -> Draw {
        Draw { temperature, top_k: 0, top_p: 1.0, min_p: 0.0 }
    }

    #[test]
    fn the_same_seed_draws_the_same_tokens_and_others_differ() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let run = |seed| {
            let mut rng = Rng::seeded(seed);
            (0..40).map(|_| pick(&logits, draw(1.0), &mut rng).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        let mut a = Rng::random();
        let mut b = Rng::random();
        assert_ne!((a.next_u64(), a.next_u64()), (b.next_u64(), b.next_u64()));
    }

    #[test]
    fn draws_follow_the_distribution() {
        // Two tokens at logits 0 and ln 3: about 1 in 4 and 3 in 4.
        let logits = [0.0f32, 3f32.ln(), f32::NEG_INFINITY];
        let mut rng = Rng::seeded(7);
        let n = 20_000;
        let ones = (0..n).filter(|_| pick(&logits, draw(1.0), &mut rng) == Some(1)).count();
        let share = ones as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.02, "{share}");
        assert!(!(0..1000).any(|_| pick(&logits, draw(1.0), &mut rng) == Some(2)), "an impossible token is never drawn");
    }

    #[test]
    fn top_k_top_p_and_min_p_narrow_the_choice() {
        let logits = [4.0f32, 3.0, 2.0, 1.0, 0.0];
        let mut rng = Rng::seeded(1);
        let seen = |d: Draw, rng: &mut Rng| {
            let mut s: Vec<usize> = (0..2000).filter_map(|_| pick(&logits, d, rng)).collect();
            s.sort();
            s.dedup();
            s
        };
        assert_eq!(seen(Draw { top_k: 2, ..draw(1.0) }, &mut rng), [0, 1]);
        assert_eq!(seen(Draw { top_p: 0.5, ..draw(1.0) }, &mut rng), [0]);
        assert_eq!(seen(Draw { min_p: 0.3, ..draw(1.0) }, &mut rng), [0, 1]);
        assert_eq!(seen(draw(1e-9), &mut rng), [0], "a tiny temperature is greedy");
        assert_eq!(pick(&[f32::NEG_INFINITY; 3], draw(1.0), &mut rng), None);
    }
}
