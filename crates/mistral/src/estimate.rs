//! Memory a model will need, worked out from its files before loading, so the console can
//! compare it with free VRAM/RAM and warn before a long load ends in an out-of-memory error.
use super::gguf_meta;
use super::source::{ModelSource, safetensors_files};
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    pub weights_bytes: u64,
    /// KV cache for one sequence at the full context length.
    pub kv_cache_bytes: u64,
    pub context_len: u64,
}

impl MemoryEstimate {
    /// The weights and one answer at the full context: the least a load needs.
    pub fn total(&self) -> u64 {
        self.weights_bytes.saturating_add(self.kv_cache_bytes)
    }

    pub fn fits(&self, free: u64) -> bool {
        self.total() <= free
    }

    /// How many answers at the full context fit beside the weights in `free` (each answer in
    /// flight keeps its own KV cache), from 1 to `most`.
    pub fn answers_that_fit(&self, free: u64, most: usize) -> usize {
        let room = free.saturating_sub(self.weights_bytes) / self.kv_cache_bytes.max(1);
        usize::try_from(room).unwrap_or(usize::MAX).clamp(1, most)
    }

    /// One line for the chat pane: what the model needs, what is free and how many answers can
    /// run at once; a warning when it does not fit.
    pub fn message(&self, free: Option<u64>, place: &str, answers: usize) -> String {
        let mut line = format!(
            "needs about {} ({} weights + {} KV cache for one answer at {} tokens)",
            gib(self.total()),
            gib(self.weights_bytes),
            gib(self.kv_cache_bytes),
            self.context_len
        );
        match free {
            Some(free) if !self.fits(free) => line.push_str(&format!("; will not fit: only {} free {place}", gib(free))),
            Some(free) => line.push_str(&format!("; {} free {place}, {}", gib(free), at_once(answers))),
            None => {}
        }
        line
    }

    /// Why the load stops before reading the weights, with the figures and what would fit.
    pub fn refusal(&self, free: u64, place: &str, smaller: &[(String, MemoryEstimate)]) -> String {
        let fitting: Vec<String> =
            smaller.iter().filter(|(_, e)| e.fits(free)).map(|(name, e)| format!("isq: {name} (about {})", gib(e.total()))).collect();
        let instead = if fitting.is_empty() {
            "a more strongly quantized model (fewer bits per weight)".to_string()
        } else {
            format!("in-situ quantization, e.g. {}", fitting.join(" or "))
        };
        format!(
            "the model will not fit: it needs about {} ({} weights + {} KV cache for one answer at {} tokens) and only {} is free {place}; \
             what would fit: {instead}; to load it anyway set model.skip_memory_check: true",
            gib(self.total()),
            gib(self.weights_bytes),
            gib(self.kv_cache_bytes),
            self.context_len,
            gib(free)
        )
    }
}

/// How many answers can decode together, in words.
pub fn at_once(answers: usize) -> String {
    if answers == 1 { "one answer at a time".into() } else { format!("room for {answers} answers at once") }
}

/// Free memory where the model will live: available RAM for the CPU, free VRAM (from NVML)
/// for a GPU. NVML numbers GPUs by PCI bus, CUDA by speed unless CUDA_DEVICE_ORDER=PCI_BUS_ID,
/// so on mixed machines this is a hint. `cuda_ordinal` is `None` for the CPU; the result is
/// `None` when it cannot be read.
pub fn free_memory(cuda_ordinal: Option<usize>) -> Option<u64> {
    match cuda_ordinal {
        None => {
            let mut sys = sysinfo::System::new();
            sys.refresh_memory();
            Some(sys.available_memory()).filter(|&b| b > 0)
        }
        Some(index) => {
            let nvml = nvml_wrapper::Nvml::init().ok()?;
            Some(nvml.device_by_index(index as u32).ok()?.memory_info().ok()?.free)
        }
    }
}

/// A GPU's whole memory (NVML), `None` when it cannot be read.
pub fn gpu_total_memory(cuda_ordinal: usize) -> Option<u64> {
    let nvml = nvml_wrapper::Nvml::init().ok()?;
    Some(nvml.device_by_index(cuda_ordinal as u32).ok()?.memory_info().ok()?.total)
}

/// What paged attention leaves for the weights and its block pool on a card with `free` of
/// `total` bytes free, filling `share` of it: mistral.rs sizes the pool as `share` of the
/// whole card less what is in use (by anyone).
pub fn paged_room(free: u64, total: u64, share: f32) -> u64 {
    // The share as written (an f32 holds 0.9 as 0.899999976).
    let share = (f64::from(share) * 1e6).round() / 1e6;
    free.saturating_sub(((1.0 - share).max(0.0) * total as f64).round() as u64)
}

pub fn gib(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g >= 10.0 {
        format!("{g:.0} GiB")
    } else if g >= 0.1 {
        format!("{g:.1} GiB")
    } else {
        format!("{:.0} MiB", g * 1024.0)
    }
}

/// Effective bits per weight of an in-situ quantization type (block scales included).
pub fn isq_bits(isq: &str) -> Option<f64> {
    Some(match isq.to_ascii_lowercase().as_str() {
        "q4_0" | "q4_1" | "q4k" | "hqq4" | "4" => 4.5,
        "q5_0" | "q5_1" | "q5k" | "5" => 5.5,
        "q6k" | "6" => 6.5625,
        "q8_0" | "q8_1" | "q8k" | "hqq8" | "8" => 8.5,
        "fp8" | "f8e4m3" | "f8q8" => 8.0,
        "q2k" | "2" => 2.625,
        "q3k" | "3" => 3.4375,
        _ => return None,
    })
}

/// `kv_elem_bytes`: bytes per cached value (4 with F32 activations on CPU, 2 in BF16/F16).
/// `None` for hub ids, whose files are not here yet.
pub fn estimate(source: &ModelSource, isq: Option<&str>, kv_elem_bytes: u64) -> Result<Option<MemoryEstimate>, String> {
    match source {
        ModelSource::Hub(_) => Ok(None),
        ModelSource::Gguf(path) => {
            let shape = gguf_meta::read_shape(path)?;
            let weights_bytes = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
            let head_dim = shape.hidden / shape.heads.max(1);
            Ok(Some(MemoryEstimate {
                weights_bytes,
                kv_cache_bytes: kv_cache_bytes(shape.layers, shape.kv_heads, head_dim, shape.context_len, kv_elem_bytes),
                context_len: shape.context_len,
            }))
        }
        ModelSource::HfDir(dir) => hf_estimate(dir, isq, kv_elem_bytes).map(Some),
    }
}

fn hf_estimate(dir: &Path, isq: Option<&str>, kv_elem_bytes: u64) -> Result<MemoryEstimate, String> {
    let text = std::fs::read_to_string(dir.join("config.json")).map_err(|e| format!("config.json: {e}"))?;
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("config.json: {e}"))?;
    let num = |key: &str| config.get(key).and_then(serde_json::Value::as_u64);
    let need = |key: &str| num(key).ok_or_else(|| format!("config.json lacks {key}"));
    let (layers, hidden, heads) = (need("num_hidden_layers")?, need("hidden_size")?, need("num_attention_heads")?);
    let kv_heads = num("num_key_value_heads").unwrap_or(heads);
    let context_len = need("max_position_embeddings")?;
    let file_bytes: u64 = safetensors_files(dir).iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    let stored_bits = match config.get("torch_dtype").and_then(|v| v.as_str()) {
        Some("float32") => 32.0,
        _ => 16.0,
    };
    let weights_bytes = match isq.and_then(isq_bits) {
        Some(bits) => (file_bytes as f64 * bits / stored_bits) as u64,
        None => file_bytes,
    };
    Ok(MemoryEstimate {
        weights_bytes,
        kv_cache_bytes: kv_cache_bytes(layers, kv_heads, hidden / heads.max(1), context_len, kv_elem_bytes),
        context_len,
    })
}

/// Keys and values of every layer for `context_len` tokens; a file's figures that overflow
/// make it "more than there is", never a small number that would pass the memory check.
fn kv_cache_bytes(layers: u64, kv_heads: u64, head_dim: u64, context_len: u64, elem_bytes: u64) -> u64 {
    [layers, kv_heads, head_dim, context_len, elem_bytes].into_iter().fold(2, u64::saturating_mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama2_13b_kv_cache_matches_the_known_figure() {
        // 2 x 40 layers x 5120 x 2 bytes = 0.8 MB/token; 4096 tokens = 3.125 GiB.
        let kv = 2 * 40 * 40 * 128 * 4096 * 2u64;
        assert_eq!(kv, 3_355_443_200);
        let e = MemoryEstimate { weights_bytes: 7 << 30, kv_cache_bytes: kv, context_len: 4096 };
        assert!(e.message(Some(8 << 30), "on cuda:0", 1).contains("will not fit"));
        assert!(!e.message(Some(80 << 30), "on cuda:0", 16).contains("will not fit"));
        assert!(e.message(None, "", 16).starts_with("needs about 10 GiB"));
    }

    #[test]
    fn paged_attention_counts_only_its_share_of_the_card() {
        let gib = 1u64 << 30;
        // An 80 GiB card with 79 GiB free, 90 %: 8 GiB stay out of reach.
        assert_eq!(paged_room(79 * gib, 80 * gib, 0.9), 71 * gib);
        // Someone else holds 20 GiB: the share is of the whole card, what they hold counts against it.
        assert_eq!(paged_room(60 * gib, 80 * gib, 0.9), 52 * gib);
        assert_eq!(paged_room(5 * gib, 80 * gib, 0.9), 0, "nothing left within the share");
        assert_eq!(paged_room(79 * gib, 80 * gib, 1.0), 79 * gib);
        // Llama-2-13B (26 GiB in f16, 3 GiB per answer at 4096 tokens) fits within 90 % of an H100.
        let e = MemoryEstimate { weights_bytes: 26 * gib, kv_cache_bytes: 3 * gib, context_len: 4096 };
        assert!(e.fits(paged_room(79 * gib, 80 * gib, 0.9)));
        assert_eq!(e.answers_that_fit(paged_room(79 * gib, 80 * gib, 0.9), 32), 15);
    }

    #[test]
    fn answers_at_once_are_what_fits_beside_the_weights() {
        let e = MemoryEstimate { weights_bytes: 26 << 30, kv_cache_bytes: 3 << 30, context_len: 4096 };
        assert_eq!(e.answers_that_fit(80 << 30, 16), 16);
        assert_eq!(e.answers_that_fit(41 << 30, 16), 5);
        assert_eq!(e.answers_that_fit(20 << 30, 16), 1, "never none: the load itself is refused then");
        let q4 = MemoryEstimate { weights_bytes: 7 << 30, ..e.clone() };
        let refusal = e.refusal(20 << 30, "on cuda:0", &[("Q4K".into(), q4), ("Q8_0".into(), e.clone())]);
        assert!(refusal.contains("needs about 29 GiB") && refusal.contains("only 20 GiB is free on cuda:0"), "{refusal}");
        assert!(refusal.contains("isq: Q4K (about 10 GiB)") && !refusal.contains("Q8_0"), "{refusal}");
        assert!(refusal.contains("model.skip_memory_check: true"), "{refusal}");
    }

    #[test]
    fn figures_that_overflow_never_fit() {
        assert_eq!(kv_cache_bytes(40, 40, 128, 4096, 2), 3_355_443_200);
        // 2 x 2^16 x 2^16 x 2^16 x 2^16 x 4 wraps to 0 in plain arithmetic.
        let huge = kv_cache_bytes(1 << 16, 1 << 16, 1 << 16, 1 << 16, 4);
        assert_eq!(huge, u64::MAX);
        let e = MemoryEstimate { weights_bytes: 1 << 30, kv_cache_bytes: huge, context_len: 1 << 16 };
        assert!(!e.fits(u64::MAX - 1) && e.total() == u64::MAX);
    }

    #[test]
    fn isq_names_have_bits() {
        assert_eq!(isq_bits("Q4K"), Some(4.5));
        assert_eq!(isq_bits("q8_0"), Some(8.5));
        assert_eq!(isq_bits("nonsense"), None);
    }
}
