//! OpenAI request bodies and how they become an engine request. Fields clients commonly send
//! and we cannot honour are refused with a 400 naming the field; unknown fields are ignored.
use serde::Deserialize;

use super::error::ApiError;
use llamadeck_words::chat::{ChatMessage, Role};
use llamadeck_words::sampling::{Api, FIELDS, FieldRow, Kind, Sampling, Value};

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct InMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// What chat and text completions share.
#[derive(Debug, Default, Deserialize)]
pub struct Common {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Another name for `max_tokens` (OpenAI's newer one); the smaller wins.
    #[serde(default)]
    pub max_completion_tokens: Option<i64>,
    #[serde(default)]
    pub n: Option<i64>,
    #[serde(default)]
    pub logprobs: Option<serde_json::Value>,
    #[serde(default)]
    pub logit_bias: Option<serde_json::Map<String, serde_json::Value>>,
    /// Every other field: the sampling fields among them are read by their rows of the
    /// sampling table (`FIELDS`), the rest ignored.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub messages: Option<Vec<InMessage>>,
    #[serde(default)]
    pub tools: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub functions: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub response_format: Option<serde_json::Value>,
    #[serde(flatten)]
    pub common: Common,
}

#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    pub prompt: Option<serde_json::Value>,
    #[serde(default)]
    pub echo: Option<bool>,
    #[serde(default)]
    pub suffix: Option<String>,
    #[serde(default)]
    pub best_of: Option<i64>,
    #[serde(flatten)]
    pub common: Common,
}

/// Parses a body as `T`: invalid UTF-8, malformed JSON and wrong types are 400s naming the field.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::invalid("", format!("the request body is not valid UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid("", "the request body is empty; send a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // Fields of the flattened `Common` lose their path; reading it alone finds it.
        let path = match e.path().to_string() {
            p if p == "." => {
                let mut de = serde_json::Deserializer::from_str(text);
                let common = serde_path_to_error::deserialize::<_, Common>(&mut de).err().map(|e| e.path().to_string());
                common.filter(|c| c != "." && !c.starts_with('[')).unwrap_or(p)
            }
            p => p,
        };
        let inner = e.into_inner();
        let what = if inner.is_syntax() || inner.is_eof() { "malformed JSON" } else { "invalid value" };
        let param = if path == "." { String::new() } else { path };
        ApiError::invalid(
            param.clone(),
            format!("{what}{}: {inner}", if param.is_empty() { String::new() } else { format!(" at `{param}`") }),
        )
    })
}

/// A validated request: the sampling to use and how to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub sampling: Sampling,
    pub stream: bool,
    pub include_usage: bool,
}

/// The bounds a request's value of a numeric row must keep: the API's own where the row gives
/// them, else the settings pane's. `(min, max, min_exclusive)`.
fn api_bounds(row: &FieldRow) -> Option<(f64, f64, bool)> {
    match (row.api, row.kind) {
        (Api::Range { min, max, min_exclusive, .. }, _) => Some((min, max, min_exclusive)),
        (_, Kind::Number { range, .. }) => Some((range.min, range.max, false)),
        _ => None,
    }
}

/// A request's JSON value for one row of the sampling table, checked against the row.
fn read_field(row: &FieldRow, json: &serde_json::Value) -> Result<Value, ApiError> {
    let key = row.key;
    let bounds = api_bounds(row);
    let refuse = |what: String| ApiError::invalid(key, format!("`{key}` must be {what} (got {json})"));
    let span = |(min, max, exclusive): (f64, f64, bool)| match (exclusive, max.is_finite()) {
        (false, true) => format!("between {min} and {max}"),
        (true, true) => format!("greater than {min} and at most {max}"),
        (false, false) => format!("at least {min}"),
        (true, false) => format!("greater than {min}"),
    };
    match row.kind {
        Kind::Number { decimals, .. } => {
            let (min, max, exclusive) = bounds.unwrap_or((f64::MIN, f64::MAX, false));
            let whole = decimals == 0;
            let what = || format!("{} {}", if whole { "a whole number" } else { "a number" }, span((min, max, exclusive)));
            // A whole-number field takes a JSON integer only (`1e300` and `2.0` are not), as the
            // typed fields of other servers do.
            let integer = json.is_i64() || json.is_u64();
            let n = json.as_f64().filter(|_| integer || !whole).ok_or_else(|| refuse(what()))?;
            if !n.is_finite() || n < min || n > max || (exclusive && n == min) {
                return Err(refuse(what()));
            }
            Ok(Value::Number(n))
        }
        // Any integer: a negative one is a seed too (its bits), as other servers read it.
        Kind::Seed => match json {
            serde_json::Value::Null => Ok(Value::Seed(None)),
            _ => json
                .as_u64()
                .or_else(|| json.as_i64().map(|n| n as u64))
                .map(|n| Value::Seed(Some(n)))
                .ok_or_else(|| refuse("an integer".into())),
        },
        Kind::Stops { max } => {
            let max = bounds.map_or(max, |(_, max, _)| max as usize);
            let stops = match json {
                serde_json::Value::Null => Vec::new(),
                serde_json::Value::String(one) => vec![one.clone()],
                serde_json::Value::Array(many) => many
                    .iter()
                    .map(|s| s.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| refuse("a string or a list of strings".into()))?,
                _ => return Err(refuse("a string or a list of strings".into())),
            };
            if stops.len() > max {
                return Err(ApiError::invalid(key, format!("at most {max} stop strings (got {})", stops.len())));
            }
            Ok(Value::Stops(stops))
        }
        Kind::Text { .. } => json.as_str().map(|t| Value::Text(t.to_string())).ok_or_else(|| refuse("a string".into())),
        Kind::Toggle { .. } => json.as_bool().map(Value::Toggle).ok_or_else(|| refuse("true or false".into())),
    }
}

impl Common {
    /// The sampling for this request: the server's defaults (config `sampling:`) overridden by
    /// what the request says, field by field as the sampling table's rows say (`Api::No` rows are
    /// the console's own). `max_tokens` is at most `cap` (`server.max_tokens`), and `cap` when
    /// the request names none; a larger ask is cut to it, not refused (the answer's usage and
    /// finish reason say what it got), as one larger than the context is by the engine.
    pub fn plan(&self, defaults: &Sampling, raw_mode: bool, cap: u32) -> Result<Plan, ApiError> {
        // A seed reproduces a sampled answer (same model, prompt and settings); left out, every
        // answer draws anew (the config's seed is the console's), and stops are the request's.
        let mut s = Sampling { seed: None, stop: Vec::new(), raw_mode, max_tokens: cap.max(1), ..defaults.clone() };
        for row in FIELDS.iter().filter(|row| row.api != Api::No) {
            if let Some(json) = self.rest.get(row.key) {
                s.set(row.field, read_field(row, json)?);
            }
        }
        if let Some(v) = self.max_completion_tokens {
            if v < 1 {
                return Err(ApiError::invalid("max_completion_tokens", format!("`max_completion_tokens` must be at least 1 (got {v})")));
            }
            s.max_tokens = s.max_tokens.min(u32::try_from(v).unwrap_or(u32::MAX));
        }
        s.max_tokens = s.max_tokens.min(cap.max(1));
        if let Some(n) = self.n
            && n != 1
        {
            return Err(ApiError::invalid("n", format!("only n = 1 is supported (got {n})")).code("unsupported_parameter"));
        }
        if self.logprobs.as_ref().is_some_and(|v| !(v.is_null() || *v == false || *v == 0)) {
            return Err(ApiError::invalid("logprobs", "`logprobs` is not supported").code("unsupported_parameter"));
        }
        if self.logit_bias.as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(ApiError::invalid("logit_bias", "`logit_bias` is not supported").code("unsupported_parameter"));
        }
        let stream = self.stream.unwrap_or(false);
        let include_usage = stream && self.stream_options.as_ref().is_some_and(|o| o.include_usage);
        Ok(Plan { sampling: s, stream, include_usage })
    }
}

fn content_text(i: usize, content: &Option<Content>) -> Result<String, ApiError> {
    let param = format!("messages[{i}].content");
    match content {
        None => Ok(String::new()),
        Some(Content::Text(t)) => Ok(t.clone()),
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                match (part.kind.as_str(), &part.text) {
                    ("text", Some(t)) => text.push_str(t),
                    ("text", None) => {
                        return Err(ApiError::invalid(format!("{param}[{j}].text"), "a text content part needs a `text` string"));
                    }
                    (kind, _) => {
                        return Err(ApiError::invalid(
                            format!("{param}[{j}]"),
                            format!("content part type {kind:?} is not supported: this model reads text only"),
                        )
                        .code("unsupported_parameter"));
                    }
                }
            }
            Ok(text)
        }
    }
}

impl ChatRequest {
    /// The conversation for the engine: leading system (or developer) messages become one
    /// system prompt; the rest must alternate user/assistant and end with a user message.
    pub fn conversation(&self) -> Result<Vec<ChatMessage>, ApiError> {
        if self.tools.as_ref().is_some_and(|t| !t.is_empty()) || self.functions.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(ApiError::invalid("tools", "tool and function calling are not supported").code("unsupported_parameter"));
        }
        if let Some(format) = &self.response_format {
            let kind = format.get("type").and_then(|t| t.as_str()).unwrap_or("");
            if kind != "text" {
                return Err(ApiError::invalid("response_format", format!("response_format {kind:?} is not supported; only \"text\""))
                    .code("unsupported_parameter"));
            }
        }
        let Some(messages) = &self.messages else {
            return Err(ApiError::invalid("messages", "`messages` is required"));
        };
        if messages.is_empty() {
            return Err(ApiError::invalid("messages", "`messages` must hold at least one message"));
        }
        let mut out: Vec<ChatMessage> = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "tool" | "function" => {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].role"),
                        format!("role {:?} is not supported (no tool calling)", m.role),
                    ));
                }
                other => {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].role"),
                        format!("unknown role {other:?}: expected system, user or assistant"),
                    ));
                }
            };
            let content = content_text(i, &m.content)?;
            if role == Role::User && content.trim().is_empty() {
                return Err(ApiError::invalid(format!("messages[{i}].content"), "a user message must not be empty"));
            }
            let only_system_so_far = out.len() == 1;
            match out.last_mut() {
                Some(prev) if role == Role::System && prev.role == Role::System && only_system_so_far => {
                    prev.content = format!("{}\n\n{content}", prev.content);
                }
                _ => out.push(ChatMessage { role, content }),
            }
        }
        if out.iter().skip(1).any(|m| m.role == Role::System) {
            return Err(ApiError::invalid("messages", "system messages must come before the conversation"));
        }
        // OpenAI reads a trailing assistant message as "continue this answer". The engine would
        // render it as a finished turn and answer anew, which is not that: refuse it plainly.
        match out.last().map(|m| m.role) {
            Some(Role::Assistant) => {
                return Err(ApiError::invalid(
                    "messages",
                    "the last message is the assistant's: continuing an answer from there (\"continue from here\") \
                     is not supported; send the conversation up to a user message",
                ));
            }
            Some(Role::System) => {
                return Err(ApiError::invalid("messages", "the conversation has no user message: end it with one"));
            }
            _ => {}
        }
        Ok(out)
    }
}

impl CompletionRequest {
    pub fn prompt_text(&self) -> Result<String, ApiError> {
        if self.echo == Some(true) {
            return Err(ApiError::invalid("echo", "`echo` is not supported").code("unsupported_parameter"));
        }
        if self.suffix.as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(ApiError::invalid("suffix", "`suffix` is not supported").code("unsupported_parameter"));
        }
        if self.best_of.is_some_and(|b| b != 1) {
            return Err(ApiError::invalid("best_of", "only best_of = 1 is supported").code("unsupported_parameter"));
        }
        let text = match &self.prompt {
            None => return Err(ApiError::invalid("prompt", "`prompt` is required")),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
                items[0].as_str().unwrap_or_default().to_string()
            }
            Some(serde_json::Value::Array(_)) => {
                return Err(ApiError::invalid("prompt", "`prompt` must be one string (batches and token arrays are not supported)")
                    .code("unsupported_parameter"));
            }
            Some(_) => return Err(ApiError::invalid("prompt", "`prompt` must be a string")),
        };
        if text.is_empty() {
            return Err(ApiError::invalid("prompt", "`prompt` must not be empty"));
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<ChatRequest, ApiError> {
        parse(body.as_bytes())
    }

    /// `server.max_tokens` in these tests.
    const CAP: u32 = 2048;

    #[test]
    fn max_completion_tokens_is_max_tokens_and_the_smaller_wins() {
        let r = chat(r#"{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":7}"#).unwrap();
        assert_eq!(r.common.plan(&Sampling::default(), false, CAP).unwrap().sampling.max_tokens, 7);
        let r = chat(r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":7,"max_completion_tokens":9}"#).unwrap();
        assert_eq!(r.common.plan(&Sampling::default(), false, CAP).unwrap().sampling.max_tokens, 7);
        let r = chat(r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":-3}"#).unwrap();
        assert_eq!(r.common.plan(&Sampling::default(), false, CAP).unwrap_err().param.as_deref(), Some("max_tokens"));
    }

    /// `server.max_tokens` caps what a request asks for and is what it gets when it asks for
    /// nothing (the console's `sampling.max_tokens` is not the API's).
    #[test]
    fn server_max_tokens_caps_the_ask_and_is_the_default() {
        let defaults = Sampling { max_tokens: 64, ..Sampling::default() };
        let plan = |body: &str| chat(body).unwrap().common.plan(&defaults, false, CAP).unwrap().sampling.max_tokens;
        assert_eq!(plan(r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":99999999999}"#), CAP);
        assert_eq!(plan(r#"{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5000}"#), CAP);
        assert_eq!(plan(r#"{"messages":[{"role":"user","content":"hi"}]}"#), CAP);
        assert_eq!(plan(r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":100}"#), 100);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = chat(r#"{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#)
            .unwrap()
            .common
            .plan(&Sampling::default(), false, CAP)
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("temperature"));
        assert_eq!(e.message, r#"`temperature` must be a number between 0 and 2 (got "hot")"#);
        let e = chat(r#"{"messages":[{"role":"user","content":"hi"}"#).unwrap_err();
        assert!(e.message.contains("malformed JSON"), "{}", e.message);
        let e = parse::<ChatRequest>(b"{\"messages\": \"\xff\"}").unwrap_err();
        assert!(e.message.contains("UTF-8"));
    }

    #[test]
    fn roles_and_content() {
        let r = chat(r#"{"messages":[{"role":"system","content":"a"},{"role":"developer","content":"b"},{"role":"user","content":[{"type":"text","text":"q"}]}]}"#).unwrap();
        let c = r.conversation().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].content, "a\n\nb");
        assert_eq!(c[1].content, "q");
        let e = chat(r#"{"messages":[{"role":"wizard","content":"x"}]}"#).unwrap().conversation().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        assert!(chat(r#"{"messages":[]}"#).unwrap().conversation().is_err());
        assert!(chat(r#"{"model":"x"}"#).unwrap().conversation().is_err());
        assert!(chat(r#"{"messages":[{"role":"user","content":"  "}]}"#).unwrap().conversation().is_err());
    }

    #[test]
    fn stop_one_or_many_and_refusals() {
        let r = chat(r#"{"messages":[{"role":"user","content":"hi"}],"stop":"\n"}"#).unwrap();
        assert_eq!(r.common.plan(&Sampling::default(), false, CAP).unwrap().sampling.stop, vec!["\n"]);
        let r = chat(r#"{"messages":[{"role":"user","content":"hi"}],"stop":["a","b"],"seed":7}"#).unwrap();
        assert_eq!(r.common.plan(&Sampling::default(), false, CAP).unwrap().sampling.seed, Some(7));
        let r = chat(r#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        assert_eq!(r.common.plan(&Sampling { seed: Some(3), ..Sampling::default() }, false, CAP).unwrap().sampling.seed, None);
        let r = chat(r#"{"messages":[{"role":"user","content":"hi"}],"temperature":9}"#).unwrap();
        assert!(r.common.plan(&Sampling::default(), false, CAP).is_err());
    }

    #[test]
    fn a_text_part_without_text_is_malformed_not_unsupported() {
        let e = chat(r#"{"messages":[{"role":"user","content":[{"type":"text"}]}]}"#).unwrap().conversation().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].text"));
        assert!(!e.message.contains("not supported"), "{}", e.message);
        assert_eq!(e.code, None);
    }

    #[test]
    fn images_and_prompt_batches_are_unsupported_parameters() {
        let image = r#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}]}"#;
        let e = chat(image).unwrap().conversation().unwrap_err();
        assert_eq!((e.param.as_deref(), e.code), (Some("messages[0].content[0]"), Some("unsupported_parameter")));
        for prompt in [r#"["a","b"]"#, "[1,2,3]"] {
            let r: CompletionRequest = parse(format!(r#"{{"prompt":{prompt}}}"#).as_bytes()).unwrap();
            let e = r.prompt_text().unwrap_err();
            assert_eq!((e.param.as_deref(), e.code), (Some("prompt"), Some("unsupported_parameter")), "{prompt}");
        }
    }
}
