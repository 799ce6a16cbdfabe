//! Loading stages in the console's words. The engine reports its own stages ("checking the
//! weight formats for CPU", "starting the engine") and the lines mistral.rs logs while loading
//! ("DType selected is F32.", "Loading `tokenizer.json` at …"): the log file keeps those as they
//! are; the screen says what they mean.

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

/// What the screen shows for a stage the engine reported: ours as they are, mistral.rs's own
/// log lines as the step they belong to.
pub fn stage_words(stage: &str) -> String {
    if let Some((_, words)) = THEIRS.iter().find(|(start, _)| stage.starts_with(start)) {
        return format!("{words}…");
    }
    if THEIRS_TOO.iter().any(|start| stage.starts_with(start)) {
        return "reading the weights…".into();
    }
    stage.to_string()
}

#[cfg(test)]
mod tests {
    use super::stage_words;

    #[test]
    fn mistral_rs_lines_become_words_and_ours_stay() {
        assert_eq!(stage_words("DType selected is F32."), "reading the weights…");
        assert_eq!(stage_words("Loading `tokenizer.json` at `/models/x`"), "reading the tokenizer…");
        assert_eq!(stage_words("Loading `config.json` at `/models/x`"), "reading the model's settings…");
        assert_eq!(stage_words("Applying in-situ quantization into Q4K to 282 tensors."), "quantizing the weights…");
        assert_eq!(stage_words("Dummy run completed in 0.5s."), "warming up…");
        assert_eq!(stage_words("Model config: Config { hidden_size: 576 }"), "reading the weights…");
        for ours in [
            "checking the weight formats for CPU (cpu_weights: auto)",
            "Q4_1 weights as Q8_0 (cached re-encoding)",
            "needs about 0.2 GiB (0.1 GiB weights + 0.1 GiB KV cache at 8192 tokens); 20.0 GiB free RAM",
            "starting the engine",
            "downloading meta-llama/Llama-2-13b-chat-hf from the Hugging Face hub if not cached",
        ] {
            assert_eq!(stage_words(ours), ours);
        }
    }
}
