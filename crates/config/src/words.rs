//! serde's messages in the user's words. serde names Rust types ("invalid type: string
//! \"fast\", expected u64"); the user wants to know what to write ("must be a whole number
//! between 100 and 60000 (got \"fast\")").
use llamadeck_words::sampling::Field;

/// Whole-number keys and their ranges, in the file's order; `validate` checks the same ones.
pub(crate) const WHOLE_NUMBER_RANGES: [(&str, u64, u64); 10] = [
    ("gpu.interval_ms", 100, 60_000),
    ("gpu.history_secs", 10, 3600),
    ("server.port", 1, 65_535),
    ("server.max_connections", 1, 100_000),
    ("server.max_connections_per_client", 1, 100_000),
    ("server.header_timeout_secs", 1, 3600),
    ("server.body_timeout_secs", 1, 3600),
    ("server.max_queued_per_client", 1, 10_000),
    ("server.max_tokens", 1, 1_048_576),
    ("ui.fps", 1, 120),
];

/// `message` from serde about `field` (a dotted path, empty for the whole file), reworded when
/// it is one of serde's type or value complaints; other messages are already plain.
pub(crate) fn rephrase(message: &str, field: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((got, expected)) = message.strip_prefix(prefix).and_then(|rest| rest.rsplit_once(", expected ")) {
            let subject = if field.is_empty() { "the file must be" } else { "must be" };
            return format!("{subject} {} (got {})", expectation(field, expected), got_text(got));
        }
    }
    if message.starts_with("mapping values are not allowed in this context") {
        // libyaml's words for a `key:` deeper than the keys above it, or an unquoted ": ".
        return "unexpected `key:` here: indent this line like the keys around it, or put quotes around a \
                value that holds \": \""
            .into();
    }
    message.to_string()
}

/// What a value at `field` must be; `rust` is what serde expected, to fall back on.
fn expectation(field: &str, rust: &str) -> String {
    if let Some((_, min, max)) = WHOLE_NUMBER_RANGES.iter().find(|(f, _, _)| *f == field) {
        return format!("a whole number between {min} and {max}");
    }
    if field == "model.prefix_cache" {
        return "off, auto, a size such as 512 MiB, or a count such as 8 sequences".into();
    }
    if field == "model.paged_attention" {
        return "auto, off, or a share of the GPU's memory such as 80%".into();
    }
    let mut keys = field.split('.');
    let sampling_field = match (keys.next(), keys.next_back()) {
        (Some("sampling" | "presets"), Some(last)) => Field::from_name(last),
        _ => None,
    };
    if let Some(f) = sampling_field {
        match (f, f.range()) {
            (Field::Seed, _) => return "a whole number from 0, or null".into(),
            (_, Some(r)) if f.is_integer() => return format!("a whole number between {} and {}", r.min, r.max),
            (_, Some(r)) => return format!("a number between {} and {}", r.min, r.max),
            _ => {}
        }
    }
    match rust {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" | "a borrowed string" | "a character" => "text".into(),
        "a map" => "a mapping (key: value lines)".into(),
        "a sequence" => "a list, such as [a, b]".into(),
        r if r.starts_with("struct ") => "a mapping (key: value lines)".into(),
        other => other.to_string(),
    }
}

/// serde's description of what it found, as the user wrote it.
fn got_text(got: &str) -> String {
    let quoted = |kind: &str| got.strip_prefix(kind).and_then(|v| v.strip_prefix('`')).and_then(|v| v.strip_suffix('`'));
    if let Some(value) = ["integer ", "floating point ", "boolean ", "character "].iter().find_map(|k| quoted(k)) {
        return value.to_string();
    }
    if let Some(text) = got.strip_prefix("string ") {
        return text.to_string();
    }
    match got {
        "map" => "a mapping".into(),
        "sequence" => "a list".into(),
        "unit value" => "nothing".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::rephrase;

    #[test]
    fn type_names_become_words_with_the_range_of_the_key() {
        let cases = [
            (
                "invalid type: string \"fast\", expected u64",
                "gpu.interval_ms",
                "must be a whole number between 100 and 60000 (got \"fast\")",
            ),
            ("invalid value: integer `70000`, expected u16", "server.port", "must be a whole number between 1 and 65535 (got 70000)"),
            ("invalid type: string \"hot\", expected f64", "sampling.temperature", "must be a number between 0 and 2 (got \"hot\")"),
            (
                "invalid type: floating point `1.5`, expected u32",
                "presets.mine.top_k",
                "must be a whole number between 0 and 100000 (got 1.5)",
            ),
            ("invalid value: integer `-1`, expected u64", "sampling.seed", "must be a whole number from 0, or null (got -1)"),
            ("invalid type: integer `5`, expected struct Sampling", "sampling", "must be a mapping (key: value lines) (got 5)"),
            ("invalid type: sequence, expected struct Config", "", "the file must be a mapping (key: value lines) (got a list)"),
            ("invalid type: map, expected a boolean", "ui.hints", "must be true or false (got a mapping)"),
            (
                "invalid type: integer `0`, expected a string",
                "model.prefix_cache",
                "must be off, auto, a size such as 512 MiB, or a count such as 8 sequences (got 0)",
            ),
            ("invalid type: unit value, expected a sequence", "keys.quit", "must be a list, such as [a, b] (got nothing)"),
            ("unknown field `x`, expected one of `a`, `b`", "gpu", "unknown field `x`, expected one of `a`, `b`"),
        ];
        for (serde, field, plain) in cases {
            assert_eq!(rephrase(serde, field), plain, "{serde}");
        }
    }
}
