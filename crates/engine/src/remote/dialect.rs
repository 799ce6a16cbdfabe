//! Which server a node runs, and the sampling fields each one understands. OpenAI's own fields
//! go to every server; `top_k`, `min_p` and `repetition_penalty` go by the names vLLM, SGLang,
//! mistral.rs and llamadeck read, and by llama.cpp's own (`repeat_penalty`) to llama.cpp's
//! servers. A setting a server has no field for is not sent and said in words, so the settings
//! pane can show it, as for the seed.
use serde_json::{Map, Value, json};

use llamadeck_words::sampling::Sampling;

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

/// Adds the sampling fields to a request `body`; returns what could not be sent, in words.
pub fn sampling_fields(dialect: Dialect, s: &Sampling, body: &mut Map<String, Value>) -> Vec<String> {
    let mut put = |name: &str, value: Value| {
        body.insert(name.to_string(), value);
    };
    put("temperature", json!(s.temperature));
    put("top_p", json!(s.top_p));
    put("max_tokens", json!(s.max_tokens));
    put("presence_penalty", json!(s.presence_penalty));
    put("frequency_penalty", json!(s.frequency_penalty));
    if let Some(seed) = s.seed {
        put("seed", json!(seed));
    }
    if !s.stop.is_empty() {
        put("stop", json!(s.stop));
    }
    let (top_k, min_p, repetition) = (s.top_k > 0, s.min_p > 0.0, s.repetition_penalty != 1.0);
    match dialect {
        // Left out, these servers take the model's generation_config.json defaults (vLLM) or
        // their own (llama.cpp: top_k 40, min_p 0.05, repeat_penalty 1.1; llamadeck: its
        // config's): "off" is sent as off. -1 is vLLM's and SGLang's "all tokens".
        Dialect::Vllm | Dialect::Sglang => {
            put("top_k", json!(if top_k { i64::from(s.top_k) } else { -1 }));
            put("min_p", json!(s.min_p));
            put("repetition_penalty", json!(s.repetition_penalty));
        }
        Dialect::Llamadeck => {
            put("top_k", json!(s.top_k));
            put("min_p", json!(s.min_p));
            put("repetition_penalty", json!(s.repetition_penalty));
        }
        Dialect::LlamaCpp => {
            put("top_k", json!(s.top_k));
            put("min_p", json!(s.min_p));
            put("repeat_penalty", json!(s.repetition_penalty));
        }
        // mistral.rs reads top_k as an unsigned count: "off" is left out.
        Dialect::MistralRs => {
            if top_k {
                put("top_k", json!(s.top_k));
            }
            if min_p {
                put("min_p", json!(s.min_p));
            }
            if repetition {
                put("repetition_penalty", json!(s.repetition_penalty));
            }
        }
        Dialect::OpenAi => {
            let unsent: Vec<&str> = [("top_k", top_k), ("min_p", min_p), ("repetition_penalty", repetition)]
                .into_iter()
                .filter_map(|(name, set)| set.then_some(name))
                .collect();
            if !unsent.is_empty() {
                return vec![format!(
                    "{} not sent: this node's server takes OpenAI's fields only (set engine: on the node if it reads more)",
                    unsent.join(", ")
                )];
            }
        }
    }
    Vec::new()
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
