//! Which server a node runs, and the sampling fields each one understands. OpenAI's own fields
//! go to every server; `top_k`, `min_p` and `repetition_penalty` go by the names vLLM, SGLang,
//! mistral.rs and llamadeck read, and by llama.cpp's own (`repeat_penalty`) to llama.cpp's
//! servers. A setting a server has no field for is not sent and said in words, so the settings
//! pane can show it, as for the seed.
use serde_json::{Map, Value, json};

use llamadeck_words::sampling::{Field, Sampling};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Vllm,
    Sglang,
    /// llama.cpp's `llama-server` and llama-cpp-python's server.
    LlamaCpp,
    Llamadeck,
    MistralRs,
    /// Any other OpenAI-compatible server: OpenAI's fields only.
    OpenAi,
}

impl Dialect {
    pub const ALL: [Dialect; 6] =
        [Dialect::Vllm, Dialect::Sglang, Dialect::LlamaCpp, Dialect::Llamadeck, Dialect::MistralRs, Dialect::OpenAi];

    /// The name in the config (`engine: vllm`).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Vllm => "vllm",
            Dialect::Sglang => "sglang",
            Dialect::LlamaCpp => "llamacpp",
            Dialect::Llamadeck => "llamadeck",
            Dialect::MistralRs => "mistralrs",
            Dialect::OpenAi => "openai",
        }
    }

    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// From a `/v1/models` entry's `owned_by`: vLLM says "vllm", SGLang "sglang", llama-server
    /// "llamacpp", llama-cpp-python "me", llamadeck "llamadeck". Anything else gets OpenAI's
    /// fields only (set `engine:` on the node to say more).
    pub fn from_owner(owned_by: &str) -> Dialect {
        match owned_by {
            "vllm" => Dialect::Vllm,
            "sglang" => Dialect::Sglang,
            "llamacpp" | "me" => Dialect::LlamaCpp,
            "llamadeck" => Dialect::Llamadeck,
            _ => Dialect::OpenAi,
        }
    }
}

/// What a server of `dialect` reads for `field`: its name in the request, and the value to send
/// for `s` (None: not sent). One exhaustive `match`, so a new field does not compile until it
/// says what each server gets.
fn wire(dialect: Dialect, field: Field, s: &Sampling) -> Wire {
    use Dialect::*;
    let (top_k, min_p, repetition) = (s.top_k > 0, s.min_p > 0.0, s.repetition_penalty != 1.0);
    match field {
        // OpenAI's own fields go to every server.
        Field::Temperature => Wire::Send("temperature", json!(s.temperature)),
        Field::TopP => Wire::Send("top_p", json!(s.top_p)),
        Field::MaxTokens => Wire::Send("max_tokens", json!(s.max_tokens)),
        Field::PresencePenalty => Wire::Send("presence_penalty", json!(s.presence_penalty)),
        Field::FrequencyPenalty => Wire::Send("frequency_penalty", json!(s.frequency_penalty)),
        Field::Seed => s.seed.map_or(Wire::Skip, |seed| Wire::Send("seed", json!(seed))),
        Field::Stop if s.stop.is_empty() => Wire::Skip,
        Field::Stop => Wire::Send("stop", json!(s.stop)),
        // Left out, these servers take the model's generation_config.json defaults (vLLM) or
        // their own (llama.cpp: top_k 40, min_p 0.05, repeat_penalty 1.1; llamadeck: its
        // config's): "off" is sent as off. -1 is vLLM's and SGLang's "all tokens"; mistral.rs
        // reads top_k as an unsigned count, so there "off" is left out.
        Field::TopK => match dialect {
            Vllm | Sglang => Wire::Send("top_k", json!(if top_k { i64::from(s.top_k) } else { -1 })),
            Llamadeck | LlamaCpp => Wire::Send("top_k", json!(s.top_k)),
            MistralRs if top_k => Wire::Send("top_k", json!(s.top_k)),
            MistralRs => Wire::Skip,
            OpenAi => Wire::Unsent(top_k),
        },
        Field::MinP => match dialect {
            Vllm | Sglang | Llamadeck | LlamaCpp => Wire::Send("min_p", json!(s.min_p)),
            MistralRs if min_p => Wire::Send("min_p", json!(s.min_p)),
            MistralRs => Wire::Skip,
            OpenAi => Wire::Unsent(min_p),
        },
        Field::RepetitionPenalty => match dialect {
            Vllm | Sglang | Llamadeck => Wire::Send("repetition_penalty", json!(s.repetition_penalty)),
            LlamaCpp => Wire::Send("repeat_penalty", json!(s.repetition_penalty)),
            MistralRs if repetition => Wire::Send("repetition_penalty", json!(s.repetition_penalty)),
            MistralRs => Wire::Skip,
            OpenAi => Wire::Unsent(repetition),
        },
        // The prompt: the system prompt is a message, raw mode the completions endpoint.
        Field::SystemPrompt | Field::RawMode => Wire::Skip,
        #[cfg(feature = "example-field")]
        Field::Example => Wire::Send("example", json!(s.example)),
    }
}

/// What `wire` decided for one field.
enum Wire {
    Send(&'static str, Value),
    Skip,
    /// The server has no field for it; true when the setting is not "off" (so it matters).
    Unsent(bool),
}

/// Adds the sampling fields to a request `body`; returns what could not be sent, in words.
pub fn sampling_fields(dialect: Dialect, s: &Sampling, body: &mut Map<String, Value>) -> Vec<String> {
    let mut unsent = Vec::new();
    for field in Field::ALL {
        match wire(dialect, field, s) {
            Wire::Send(name, value) => {
                body.insert(name.to_string(), value);
            }
            Wire::Unsent(true) => unsent.push(field.name()),
            Wire::Skip | Wire::Unsent(false) => {}
        }
    }
    if unsent.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{} not sent: this node's server takes OpenAI's fields only (set engine: on the node if it reads more)",
        unsent.join(", ")
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(dialect: Dialect, s: &Sampling) -> (Value, Vec<String>) {
        let mut map = Map::new();
        let notes = sampling_fields(dialect, s, &mut map);
        (Value::Object(map), notes)
    }

    fn tuned() -> Sampling {
        Sampling { top_k: 40, min_p: 0.05, repetition_penalty: 1.2, seed: Some(7), stop: vec!["###".into()], ..Sampling::default() }
    }

    #[test]
    fn each_server_gets_its_own_names() {
        let (vllm, notes) = body(Dialect::Vllm, &tuned());
        assert!(notes.is_empty());
        assert_eq!((&vllm["top_k"], &vllm["min_p"], &vllm["repetition_penalty"]), (&json!(40), &json!(0.05), &json!(1.2)));
        assert_eq!((&vllm["seed"], &vllm["stop"]), (&json!(7), &json!(["###"])));
        let (llama, _) = body(Dialect::LlamaCpp, &tuned());
        assert_eq!(llama["repeat_penalty"], json!(1.2));
        assert!(llama.get("repetition_penalty").is_none());
    }

    #[test]
    fn off_is_sent_as_off_where_a_server_has_its_own_defaults() {
        let plain = Sampling::default();
        let (vllm, _) = body(Dialect::Vllm, &plain);
        assert_eq!((&vllm["top_k"], &vllm["repetition_penalty"]), (&json!(-1), &json!(1.0)));
        let (llama, _) = body(Dialect::LlamaCpp, &plain);
        assert_eq!((&llama["top_k"], &llama["min_p"], &llama["repeat_penalty"]), (&json!(0), &json!(0.0), &json!(1.0)));
        let (mistral, _) = body(Dialect::MistralRs, &plain);
        assert!(mistral.get("top_k").is_none() && mistral.get("seed").is_none() && mistral.get("stop").is_none());
    }

    #[test]
    fn a_plain_openai_server_is_told_only_openai_fields_and_the_rest_is_reported() {
        let (openai, notes) = body(Dialect::OpenAi, &tuned());
        assert!(openai.get("top_k").is_none() && openai.get("min_p").is_none());
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("top_k, min_p, repetition_penalty not sent"), "{notes:?}");
        assert!(body(Dialect::OpenAi, &Sampling::default()).1.is_empty());
    }

    #[test]
    fn names_and_owners() {
        for d in Dialect::ALL {
            assert_eq!(Dialect::from_name(d.name()), Some(d));
        }
        assert_eq!(Dialect::from_owner("me"), Dialect::LlamaCpp);
        assert_eq!(Dialect::from_owner("openai"), Dialect::OpenAi);
    }
}
