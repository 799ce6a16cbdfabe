//! mistral.rs's loading log lines in our words. While a model loads, mistral.rs logs lines such
//! as "DType selected is F32." or "Loading `tokenizer.json` at …": the log file keeps them as they
//! are; the loading stages the console and `serve` show say which step they belong to.

/// How mistral.rs 0.8.1's loading log lines begin (its `info!` calls), and what each means.
const THEIRS: [(&str, &str); 38] = [
    ("Loading `tokenizer", "reading the tokenizer"),
    ("Loading `tekken", "reading the tokenizer"),
    ("Using tokenizer", "reading the tokenizer"),
    ("Tokenizer", "reading the tokenizer"),
    ("Loading `", "reading the model's settings"),
    ("Loading specified", "reading the model's settings"),
    ("Using chat template", "reading the model's settings"),
    ("Using literal chat template", "reading the model's settings"),
    ("No chat template", "reading the model's settings"),
    ("`tokenizer_config.json`", "reading the model's settings"),
    ("bos_toks", "reading the model's settings"),
    ("Applying in-situ", "quantizing the weights"),
    ("Applied in-situ", "quantizing the weights"),
    ("Finished quantization", "quantizing the weights"),
    ("Quantizing", "quantizing the weights"),
    ("Serializing", "quantizing the weights"),
    ("Writing", "quantizing the weights"),
    ("Collecting imatrix", "quantizing the weights"),
    ("Processed chunk", "quantizing the weights"),
    ("Finished collecting", "quantizing the weights"),
    ("Beginning dummy run", "warming up"),
    ("Dummy run", "warming up"),
    ("Engine", "starting the engine"),
    ("Successfully", "starting the engine"),
    ("First model", "starting the engine"),
    ("Loading model", "reading the weights"),
    ("Loading adapter", "reading the weights"),
    ("Loaded gating", "reading the weights"),
    ("DType", "reading the weights"),
    ("Detected", "reading the weights"),
    ("Skipping", "reading the weights"),
    ("Prompt chunk", "reading the weights"),
    ("Model", "reading the weights"),
    ("GGUF", "reading the weights"),
    ("Found", "reading the weights"),
    ("Pipeline", "reading the weights"),
    ("Using", "reading the weights"),
    ("Could not load token", "reading the weights"),
];

/// Further beginnings of mistral.rs lines, all meaning it is reading the weights.
const THEIRS_TOO: [&str; 4] = ["git revision", "Resolved UQFF", "Auto-discovered", "Debug is enabled"];

/// mistral.rs 0.8.1's warning on every load that uses the CPU (its GGUF loader says "a mix of
/// GPU and CPU" even when there is no GPU): nothing to act on, so the logs leave it out and
/// say [`PAGED_ATTENTION_ON_CPU`] once instead.
const PAGED_ATTENTION_WARNING: &str = "Device mapping contains a mix of GPU and CPU. There is no CPU support for PagedAttention";

/// What the logs say, once a process, when a model loads on the CPU.
pub const PAGED_ATTENTION_ON_CPU: &str =
    "running on the CPU: mistral.rs's PagedAttention needs a GPU, so answers use its plain attention (nothing to change)";

/// Whether a mistral.rs log line is one the logs leave out (said once in our words instead).
pub fn quieted(line: &str) -> bool {
    line.starts_with(PAGED_ATTENTION_WARNING)
}

/// The step a mistral.rs loading log line belongs to, in words ("reading the tokenizer…").
pub fn their_words(line: &str) -> String {
    if let Some((_, words)) = THEIRS.iter().find(|(start, _)| line.starts_with(start)) {
        return format!("{words}…");
    }
    if THEIRS_TOO.iter().any(|start| line.starts_with(start)) {
        return "reading the weights…".into();
    }
    "loading…".into()
}

#[cfg(test)]
mod tests {
    use super::{quieted, their_words};

    #[test]
    fn mistral_rs_lines_become_words() {
        assert_eq!(their_words("DType selected is F32."), "reading the weights…");
        assert_eq!(their_words("Loading `tokenizer.json` at `/models/x`"), "reading the tokenizer…");
        assert_eq!(their_words("Loading `config.json` at `/models/x`"), "reading the model's settings…");
        assert_eq!(their_words("Applying in-situ quantization into Q4K to 282 tensors."), "quantizing the weights…");
        assert_eq!(their_words("Dummy run completed in 0.5s."), "warming up…");
        assert_eq!(their_words("Model config: Config { hidden_size: 576 }"), "reading the weights…");
        assert_eq!(their_words("something new in a later mistral.rs"), "loading…");
    }

    #[test]
    fn the_paged_attention_warning_of_a_cpu_load_is_quieted() {
        assert!(quieted(
            "Device mapping contains a mix of GPU and CPU. There is no CPU support for PagedAttention, disabling PagedAttention."
        ));
        assert!(!quieted("Device mapping contains a mix of GPU and CPU."));
        assert!(!quieted("DType selected is F32."));
    }
}
