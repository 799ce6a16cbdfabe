//! OpenAI request bodies and how they become an engine request. Fields clients commonly send
//! and we cannot honour are refused with a 400 naming the field; unknown fields are ignored.
use serde::Deserialize;

use super::error::ApiError;
use llamadeck_engine::{AnswerFormat, AnswerOptions, ToolChoice, ToolSpec};
use llamadeck_words::chat::{ChatMessage, Role, ToolCall, ToolTurn};
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
    /// An assistant message's calls.
    #[serde(default)]
    pub tool_calls: Option<Vec<InToolCall>>,
    /// A tool message's call.
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct InToolCall {
    #[serde(default)]
    pub id: Option<String>,
    pub function: InFunction,
}

#[derive(Debug, Deserialize)]
pub struct InFunction {
    pub name: String,
    /// JSON text as OpenAI writes it; an object is taken too.
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
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
    #[serde(default)]
    pub top_logprobs: Option<serde_json::Value>,
    #[serde(default)]
    pub tool_choice: Option<serde_json::Value>,
    #[serde(flatten)]
    pub common: Common,
}

/// The most alternatives a token's log probability may come with (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u64 = 20;

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
    /// What the client asks of the answer: its format (`response_format`) and log probabilities
    /// (`logprobs`, `top_logprobs`).
    pub fn options(&self) -> Result<AnswerOptions, ApiError> {
        let (tools, tool_choice) = self.tools()?;
        Ok(AnswerOptions { format: self.format()?, logprobs: self.logprobs()?, tools, tool_choice })
    }

    /// `tools` (functions only) and `tool_choice`: "auto" (the default), "none", "required" or
    /// one function by name, which must be among the tools.
    fn tools(&self) -> Result<(Vec<ToolSpec>, ToolChoice), ApiError> {
        let mut tools = Vec::new();
        for (i, tool) in self.tools.iter().flatten().enumerate() {
            let param = format!("tools[{i}]");
            let kind = tool.get("type").and_then(|t| t.as_str()).unwrap_or("function");
            if kind != "function" {
                return Err(
                    ApiError::invalid(param, format!("tool type {kind:?} is not supported: only functions")).code("unsupported_parameter")
                );
            }
            let function = tool
                .get("function")
                .filter(|f| f.is_object())
                .ok_or_else(|| ApiError::invalid(format!("{param}.function"), "a tool needs a `function` object with a `name`"))?;
            let name = function.get("name").and_then(|n| n.as_str()).unwrap_or("");
            if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(ApiError::invalid(
                    format!("{param}.function.name"),
                    format!("a function's name is 1 to 64 letters, digits, _ or - (got {name:?})"),
                ));
            }
            if tools.iter().any(|t: &ToolSpec| t.name == name) {
                return Err(ApiError::invalid(format!("{param}.function.name"), format!("two tools are named {name:?}")));
            }
            let description = function.get("description").and_then(|d| d.as_str()).unwrap_or("").to_string();
            let parameters = match function.get("parameters") {
                None | Some(serde_json::Value::Null) => serde_json::json!({"type": "object", "properties": {}}),
                Some(p) if p.is_object() => p.clone(),
                Some(other) => {
                    return Err(ApiError::invalid(
                        format!("{param}.function.parameters"),
                        format!("`parameters` must be a JSON Schema object (got {other})"),
                    ));
                }
            };
            tools.push(ToolSpec { name: name.to_string(), description, parameters });
        }
        let choice = match &self.tool_choice {
            None | Some(serde_json::Value::Null) => ToolChoice::Auto,
            Some(serde_json::Value::String(s)) => match s.as_str() {
                "auto" => ToolChoice::Auto,
                "none" => ToolChoice::None,
                "required" => ToolChoice::Required,
                other => {
                    return Err(ApiError::invalid(
                        "tool_choice",
                        format!("tool_choice {other:?} is not known: expected \"auto\", \"none\", \"required\" or a function"),
                    ));
                }
            },
            Some(v) => match v.pointer("/function/name").and_then(|n| n.as_str()) {
                Some(name) => ToolChoice::Named(name.to_string()),
                None => {
                    return Err(ApiError::invalid(
                        "tool_choice",
                        "a tool_choice object names a function: {\"type\": \"function\", \"function\": {\"name\": ...}}",
                    ));
                }
            },
        };
        match &choice {
            ToolChoice::Named(name) if !tools.iter().any(|t| &t.name == name) => {
                Err(ApiError::invalid("tool_choice", format!("tool_choice names {name:?}, which is not among the tools")))
            }
            ToolChoice::Required | ToolChoice::Named(_) if tools.is_empty() => {
                Err(ApiError::invalid("tool_choice", "tool_choice needs `tools`"))
            }
            _ => Ok((tools, choice)),
        }
    }

    fn format(&self) -> Result<AnswerFormat, ApiError> {
        let Some(format) = self.response_format.as_ref().filter(|f| !f.is_null()) else { return Ok(AnswerFormat::Text) };
        let kind = format.get("type").and_then(|t| t.as_str());
        match kind {
            Some("text") => Ok(AnswerFormat::Text),
            Some("json_object") => Ok(AnswerFormat::JsonObject),
            Some("json_schema") => {
                let spec = format.get("json_schema").filter(|s| s.is_object()).ok_or_else(|| {
                    ApiError::invalid("response_format.json_schema", "a json_schema response format needs a `json_schema` object")
                })?;
                let name = spec.get("name").and_then(|n| n.as_str()).unwrap_or("response").to_string();
                let schema = match spec.get("schema") {
                    Some(schema) if schema.is_object() => schema.clone(),
                    // OpenAI's default: a schema left out allows any JSON object.
                    None | Some(serde_json::Value::Null) => serde_json::json!({"type": "object"}),
                    Some(other) => {
                        return Err(ApiError::invalid(
                            "response_format.json_schema.schema",
                            format!("`schema` must be a JSON Schema object (got {other})"),
                        ));
                    }
                };
                Ok(AnswerFormat::JsonSchema { name, schema })
            }
            _ => Err(ApiError::invalid(
                "response_format.type",
                format!(
                    "response_format type {} is not known: expected \"text\", \"json_object\" or \"json_schema\"",
                    kind.map_or_else(|| "(none)".to_string(), |k| format!("{k:?}"))
                ),
            )),
        }
    }

    /// `logprobs: true` asks for the drawn tokens' log probabilities, `top_logprobs` (0–20)
    /// for that many alternatives beside each.
    fn logprobs(&self) -> Result<Option<u8>, ApiError> {
        let asked = match &self.common.logprobs {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(other) => return Err(ApiError::invalid("logprobs", format!("`logprobs` must be true or false (got {other})"))),
        };
        let top = match &self.top_logprobs {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => match v.as_u64().filter(|n| *n <= MAX_TOP_LOGPROBS) {
                Some(n) => Some(n as u8),
                None => {
                    return Err(ApiError::invalid(
                        "top_logprobs",
                        format!("`top_logprobs` must be a whole number between 0 and {MAX_TOP_LOGPROBS} (got {v})"),
                    ));
                }
            },
        };
        match (asked, top) {
            (true, top) => Ok(Some(top.unwrap_or(0))),
            (false, Some(n)) if n > 0 => Err(ApiError::invalid("top_logprobs", "`top_logprobs` needs `logprobs: true`")),
            (false, _) => Ok(None),
        }
    }

    /// The conversation for the engine: leading system (or developer) messages become one
    /// system prompt; the rest must alternate user/assistant and end with a user message.
    pub fn conversation(&self) -> Result<Vec<ChatMessage>, ApiError> {
        if self.functions.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(ApiError::invalid("functions", "the legacy `functions` are not supported: send them as `tools`")
                .code("unsupported_parameter"));
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
                // A tool's result stands on the user's side of the conversation.
                "tool" => Role::User,
                "function" => {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].role"),
                        "the legacy role \"function\" is not supported: send a \"tool\" message with its tool_call_id",
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
            let tool = tool_turn(i, m)?;
            if role == Role::User && tool.is_none() && content.trim().is_empty() {
                return Err(ApiError::invalid(format!("messages[{i}].content"), "a user message must not be empty"));
            }
            let only_system_so_far = out.len() == 1;
            match out.last_mut() {
                Some(prev) if role == Role::System && prev.role == Role::System && only_system_so_far => {
                    prev.content = format!("{}\n\n{content}", prev.content);
                }
                _ => out.push(ChatMessage { role, content, tool }),
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

/// The tool turn of message `i`: an assistant's calls, or the call a tool message answers.
fn tool_turn(i: usize, m: &InMessage) -> Result<Option<ToolTurn>, ApiError> {
    match m.role.as_str() {
        "tool" => match m.tool_call_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => Ok(Some(ToolTurn::Result { call_id: id.to_string() })),
            None => Err(ApiError::invalid(format!("messages[{i}].tool_call_id"), "a tool message needs the `tool_call_id` it answers")),
        },
        "assistant" => {
            let Some(calls) = m.tool_calls.as_ref().filter(|c| !c.is_empty()) else { return Ok(None) };
            let calls = calls
                .iter()
                .enumerate()
                .map(|(j, c)| ToolCall {
                    id: c.id.clone().unwrap_or_else(|| format!("call_{i}_{j}")),
                    name: c.function.name.clone(),
                    arguments: match &c.function.arguments {
                        Some(serde_json::Value::String(text)) => text.clone(),
                        None | Some(serde_json::Value::Null) => "{}".into(),
                        Some(other) => other.to_string(),
                    },
                })
                .collect();
            Ok(Some(ToolTurn::Calls(calls)))
        }
        _ => Ok(None),
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
        if self.common.logprobs.as_ref().is_some_and(|v| !(v.is_null() || *v == false || *v == 0)) {
            return Err(ApiError::invalid(
                "logprobs",
                "`logprobs` on /v1/completions is not supported; /v1/chat/completions reports them (`logprobs: true`)",
            )
            .code("unsupported_parameter"));
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

    /// `response_format` as OpenAI spells it; a type or schema that is not one is the client's 400.
    #[test]
    fn response_formats_read_as_openai_writes_them() {
        let format =
            |f: &str| chat(&format!(r#"{{"messages":[{{"role":"user","content":"hi"}}],"response_format":{f}}}"#)).unwrap().options();
        assert_eq!(format("null").unwrap().format, AnswerFormat::Text);
        assert_eq!(format(r#"{"type":"text"}"#).unwrap().format, AnswerFormat::Text);
        assert_eq!(format(r#"{"type":"json_object"}"#).unwrap().format, AnswerFormat::JsonObject);
        let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let f = format(&format!(r#"{{"type":"json_schema","json_schema":{{"name":"thing","strict":true,"schema":{schema}}}}}"#));
        assert_eq!(f.unwrap().format, AnswerFormat::JsonSchema { name: "thing".into(), schema });
        let f = format(r#"{"type":"json_schema","json_schema":{"name":"any"}}"#).unwrap().format;
        assert_eq!(f.schema(), Some(serde_json::json!({"type": "object"})), "no schema: any object, as OpenAI reads it");
        for (f, param) in [
            (r#"{"type":"xml"}"#, "response_format.type"),
            (r#"{}"#, "response_format.type"),
            (r#"{"type":"json_schema"}"#, "response_format.json_schema"),
            (r#"{"type":"json_schema","json_schema":{"name":"x","schema":"object"}}"#, "response_format.json_schema.schema"),
        ] {
            assert_eq!(format(f).unwrap_err().param.as_deref(), Some(param), "{f}");
        }
    }

    #[test]
    fn logprobs_and_their_alternatives() {
        let ask = |extra: &str| chat(&format!(r#"{{"messages":[{{"role":"user","content":"hi"}}]{extra}}}"#)).unwrap().options();
        assert_eq!(ask("").unwrap().logprobs, None);
        assert_eq!(ask(r#","logprobs":false,"top_logprobs":0"#).unwrap().logprobs, None);
        assert_eq!(ask(r#","logprobs":true"#).unwrap().logprobs, Some(0));
        assert_eq!(ask(r#","logprobs":true,"top_logprobs":20"#).unwrap().logprobs, Some(20));
        for (extra, param) in [
            (r#","logprobs":true,"top_logprobs":21"#, "top_logprobs"),
            (r#","logprobs":true,"top_logprobs":-1"#, "top_logprobs"),
            (r#","top_logprobs":2"#, "top_logprobs"),
            (r#","logprobs":3"#, "logprobs"),
        ] {
            assert_eq!(ask(extra).unwrap_err().param.as_deref(), Some(param), "{extra}");
        }
        // The legacy completions form is refused by name.
        let r: CompletionRequest = parse(br#"{"prompt":"a","logprobs":2}"#).unwrap();
        assert_eq!(r.prompt_text().unwrap_err().code, Some("unsupported_parameter"));
    }

    const WEATHER: &str = r#"{"type":"function","function":{"name":"get_weather","description":"Weather.","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}"#;

    #[test]
    fn tools_and_the_choice_of_one() {
        let ask = |extra: &str| {
            chat(&format!(r#"{{"messages":[{{"role":"user","content":"hi"}}],"tools":[{WEATHER}]{extra}}}"#)).unwrap().options()
        };
        let o = ask("").unwrap();
        assert_eq!(
            (o.tools[0].name.as_str(), o.tools[0].description.as_str(), &o.tool_choice),
            ("get_weather", "Weather.", &ToolChoice::Auto)
        );
        assert_eq!(o.tools[0].parameters["properties"]["city"]["type"], "string");
        assert_eq!(ask(r#","tool_choice":"required""#).unwrap().tool_choice, ToolChoice::Required);
        assert_eq!(ask(r#","tool_choice":"none""#).unwrap().tool_choice, ToolChoice::None);
        let named = ask(r#","tool_choice":{"type":"function","function":{"name":"get_weather"}}"#).unwrap();
        assert_eq!(named.tool_choice, ToolChoice::Named("get_weather".into()));
        for (extra, param) in [
            (r#","tool_choice":{"type":"function","function":{"name":"other"}}"#, "tool_choice"),
            (r#","tool_choice":"sometimes""#, "tool_choice"),
        ] {
            assert_eq!(ask(extra).unwrap_err().param.as_deref(), Some(param), "{extra}");
        }
        let refused = |tools: &str| {
            chat(&format!(r#"{{"messages":[{{"role":"user","content":"hi"}}],"tools":{tools}}}"#)).unwrap().options().unwrap_err().param
        };
        assert_eq!(refused(r#"[{"type":"retrieval"}]"#).as_deref(), Some("tools[0]"));
        assert_eq!(refused(r#"[{"type":"function","function":{"name":"no spaces"}}]"#).as_deref(), Some("tools[0].function.name"));
        assert_eq!(refused(&format!("[{WEATHER},{WEATHER}]")).as_deref(), Some("tools[1].function.name"));
        let no_tools = chat(r#"{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}"#).unwrap().options();
        assert_eq!(no_tools.unwrap_err().param.as_deref(), Some("tool_choice"));
    }

    /// An assistant's calls and a tool's result reach the engine as tool turns.
    #[test]
    fn tool_turns_in_the_conversation() {
        let body = r#"{"messages":[{"role":"user","content":"Weather in Oslo?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
            {"role":"tool","tool_call_id":"call_9","content":"rain"}]}"#;
        let c = chat(body).unwrap().conversation().unwrap();
        let call = ToolCall { id: "call_9".into(), name: "get_weather".into(), arguments: r#"{"city":"Oslo"}"#.into() };
        assert_eq!(c[1], ChatMessage { role: Role::Assistant, content: String::new(), tool: Some(ToolTurn::Calls(vec![call])) });
        assert_eq!(
            c[2],
            ChatMessage { role: Role::User, content: "rain".into(), tool: Some(ToolTurn::Result { call_id: "call_9".into() }) }
        );
        let e =
            chat(r#"{"messages":[{"role":"user","content":"x"},{"role":"tool","content":"rain"}]}"#).unwrap().conversation().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[1].tool_call_id"));
        let e = chat(r#"{"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]}"#).unwrap().conversation().unwrap_err();
        assert_eq!(e.code, Some("unsupported_parameter"));
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
