//! One event of an OpenAI stream: a piece of text, how the answer ended, the token counts, or
//! the server's error. Chat chunks carry `choices[0].delta.content`, completion chunks
//! `choices[0].text`; the usage chunk (`stream_options.include_usage`) has no choices.
use serde_json::Value;

use crate::face::TokenLogprob;

/// The largest token count a node is believed: no model's context comes near a billion, and
/// a count past it (2^64-1 from a broken or hostile server) reads as unknown, not as a number
/// that overflows the sums made of it.
pub const MAX_BELIEVED_TOKENS: u64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// `prompt_tokens_details.cached_tokens`: the part of the prompt the server's prefix cache
    /// held (vLLM with `--enable-prompt-tokens-details`, llamadeck serve); 0 when not sent.
    pub cached_tokens: usize,
}

#[derive(Debug, Default, PartialEq)]
pub struct Chunk {
    pub text: Option<String>,
    pub finish: Option<String>,
    pub usage: Option<Usage>,
    /// The server ended the stream with an error (`{"error": {...}}`).
    pub error: Option<String>,
    /// `choices[0].logprobs.content`: the log probabilities of this chunk's tokens, when asked.
    pub logprobs: Vec<TokenLogprob>,
    /// `choices[0].delta.tool_calls`: pieces of the calls the answer makes.
    pub tool_calls: Vec<ToolCallPiece>,
}

/// A piece of a streamed tool call: the first names the call, the rest add to its arguments.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ToolCallPiece {
    pub index: usize,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
}

fn tool_call_piece(entry: &Value) -> Option<ToolCallPiece> {
    let text = |pointer: &str| entry.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    Some(ToolCallPiece {
        index: usize::try_from(entry.get("index").and_then(Value::as_u64).unwrap_or(0)).ok()?,
        id: text("/id"),
        name: text("/function/name"),
        arguments: text("/function/arguments"),
    })
}

/// The most alternatives a token's log probability is believed to come with (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// One entry of `logprobs.content` (`{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}`).
fn token_logprob(entry: &Value) -> Option<TokenLogprob> {
    let pair = |v: &Value| Some((v.get("token")?.as_str()?.to_string(), v.get("logprob")?.as_f64()? as f32));
    let (token, logprob) = pair(entry)?;
    let top = entry
        .get("top_logprobs")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |top| top.iter().take(MAX_TOP_LOGPROBS).filter_map(pair).collect());
    Some(TokenLogprob { token, logprob, top })
}

#[derive(Debug, PartialEq)]
pub enum Event {
    /// `data: [DONE]`
    Done,
    Chunk(Chunk),
    /// Not JSON: the text, cut short, to name in the error.
    Garbage(String),
}

pub fn read(data: &str) -> Event {
    if data.trim() == "[DONE]" {
        return Event::Done;
    }
    let Ok(value) = serde_json::from_str::<Value>(data) else {
        return Event::Garbage(data.chars().take(80).collect());
    };
    let mut chunk = Chunk::default();
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let message = error.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| error.to_string());
        chunk.error = Some(llamadeck_words::text::sanitize(&message));
    }
    if let Some(choice) = value.pointer("/choices/0") {
        let text = choice.pointer("/delta/content").or_else(|| choice.get("text")).and_then(Value::as_str);
        chunk.text = text.filter(|t| !t.is_empty()).map(str::to_string);
        chunk.finish = choice.get("finish_reason").and_then(Value::as_str).map(str::to_string);
        if let Some(entries) = choice.pointer("/logprobs/content").and_then(Value::as_array) {
            chunk.logprobs = entries.iter().filter_map(token_logprob).collect();
        }
        if let Some(calls) = choice.pointer("/delta/tool_calls").and_then(Value::as_array) {
            chunk.tool_calls = calls.iter().filter_map(tool_call_piece).collect();
        }
    }
    if let Some(usage) = value.get("usage").filter(|u| !u.is_null()) {
        let count =
            |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).filter(|n| *n <= MAX_BELIEVED_TOKENS).map(|n| n as usize);
        if let (Some(prompt_tokens), Some(completion_tokens)) = (count("/prompt_tokens"), count("/completion_tokens")) {
            let cached = count("/prompt_tokens_details/cached_tokens");
            chunk.usage = Some(Usage { prompt_tokens, completion_tokens, cached_tokens: cached.unwrap_or(0) });
        }
    }
    Event::Chunk(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(data: &str) -> Chunk {
        match read(data) {
            Event::Chunk(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chat_and_completion_pieces() {
        let c =
            chunk(r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#);
        assert_eq!((c.text.as_deref(), c.finish), (Some("Hi"), None));
        let c = chunk(r#"{"object":"text_completion","choices":[{"index":0,"text":" there","logprobs":null,"finish_reason":"length"}]}"#);
        assert_eq!((c.text.as_deref(), c.finish.as_deref()), (Some(" there"), Some("length")));
        let role = chunk(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#);
        assert_eq!(role, Chunk::default());
    }

    #[test]
    fn logprobs_of_a_chat_chunk_with_their_alternatives_at_most_twenty() {
        let top: Vec<String> = (0..25).map(|i| format!(r#"{{"token":"t{i}","logprob":-{i}.5}}"#)).collect();
        let data = format!(
            r#"{{"choices":[{{"delta":{{"content":"Hi"}},"logprobs":{{"content":[{{"token":"Hi","logprob":-0.25,"bytes":[72,105],"top_logprobs":[{}]}},{{"token":"bad"}}]}}}}]}}"#,
            top.join(",")
        );
        let c = chunk(&data);
        assert_eq!(c.logprobs.len(), 1, "an entry without a logprob is left out");
        assert_eq!((c.logprobs[0].token.as_str(), c.logprobs[0].logprob), ("Hi", -0.25));
        assert_eq!(c.logprobs[0].top.len(), MAX_TOP_LOGPROBS);
        assert_eq!(c.logprobs[0].top[1], ("t1".to_string(), -1.5));
        assert!(chunk(r#"{"choices":[{"delta":{"content":"Hi"},"logprobs":null}]}"#).logprobs.is_empty());
    }

    #[test]
    fn pieces_of_streamed_tool_calls() {
        let c = chunk(
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}},{"index":1,"function":{"arguments":"{\"a\""}}]}}]}"#,
        );
        assert_eq!(
            c.tool_calls[0],
            ToolCallPiece { index: 0, id: Some("call_1".into()), name: Some("f".into()), arguments: Some(String::new()) }
        );
        assert_eq!(c.tool_calls[1], ToolCallPiece { index: 1, arguments: Some("{\"a\"".into()), ..ToolCallPiece::default() });
    }

    #[test]
    fn usage_error_and_the_end() {
        let c = chunk(r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#);
        assert_eq!(c.usage, Some(Usage { prompt_tokens: 12, completion_tokens: 5, cached_tokens: 0 }));
        let c = chunk(r#"{"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":32}}}"#);
        assert_eq!(c.usage, Some(Usage { prompt_tokens: 40, completion_tokens: 5, cached_tokens: 32 }), "the server's prefix cache");
        let c = chunk(r#"{"error":{"message":"the engine failed","type":"server_error"}}"#);
        assert_eq!(c.error.as_deref(), Some("the engine failed"));
        assert_eq!(read("[DONE]"), Event::Done);
        assert!(matches!(read("<html>"), Event::Garbage(_)));
        assert_eq!(chunk(r#"{"choices":[{"delta":{"content":"x"}}],"usage":null}"#).usage, None);
    }

    #[test]
    fn counts_past_belief_read_as_unknown() {
        let usage = |prompt: u64, completion: u64, cached: u64| {
            let data = format!(
                r#"{{"choices":[],"usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"prompt_tokens_details":{{"cached_tokens":{cached}}}}}}}"#
            );
            chunk(&data).usage
        };
        let max = u64::MAX;
        assert_eq!(usage(max, max, 0), None, "2^64-1 tokens is not a count");
        assert_eq!(usage(12, max, 0), None);
        assert_eq!(usage(1_000_000_001, 5, 0), None);
        let most = MAX_BELIEVED_TOKENS as usize;
        assert_eq!(usage(MAX_BELIEVED_TOKENS, 5, 3), Some(Usage { prompt_tokens: most, completion_tokens: 5, cached_tokens: 3 }));
        assert_eq!(usage(40, 5, max), Some(Usage { prompt_tokens: 40, completion_tokens: 5, cached_tokens: 0 }), "cached: unknown is none");
    }
}
