//! Exports: Markdown to read, and JSON in the OpenAI chat format to replay: a
//! `/v1/chat/completions` request body (`model`, `messages` up to the last question, the
//! sampling of the last answer) with that answer beside it as `llamadeck.answer`, a field
//! OpenAI-compatible servers ignore. A body ending with the answer would not replay: a
//! trailing assistant message asks to continue it, which most servers (ours too) refuse.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{Conversation, ExportFormat, time, title_of};
use llamadeck_words::chat::{Message, MessageStatus, Role};
use llamadeck_words::sampling::Sampling;

pub fn markdown(c: &Conversation) -> String {
    let mut out = format!("# {}\n\n", title_of(c));
    if let Some(updated) = c.updated.or(c.created) {
        let _ = writeln!(out, "_{} UTC_\n", time::display(updated));
    }
    for m in &c.messages {
        let who = match m.role {
            Role::User => "You".to_string(),
            Role::System => "System".to_string(),
            // The model that answered, by its name.
            Role::Assistant => m.model.clone().unwrap_or_else(|| "Assistant".into()),
        };
        let _ = writeln!(out, "## {who}\n");
        if let Some(details) = answer_details(m) {
            let _ = writeln!(out, "> {details}\n");
        }
        let _ = writeln!(out, "{}\n", m.text.trim_end());
        if let MessageStatus::Failed(e) = &m.status {
            let _ = writeln!(out, "_failed: {e}_\n");
        }
    }
    out
}

/// "version 2 of 3 · temperature 0.6 · top_p 0.9 · max_tokens 1024 · 42 tok · 31.2 tok/s · stop"
fn answer_details(m: &Message) -> Option<String> {
    let mut parts = Vec::new();
    // Exports keep the chosen version of a regenerated answer and say which it was.
    if m.versions.count() > 1 {
        parts.push(format!("version {} of {}", m.versions.position(), m.versions.count()));
    }
    if let Some(s) = &m.sampling {
        parts.push(format!("temperature {} · top_p {} · top_k {} · max_tokens {}", s.temperature, s.top_p, s.top_k, s.max_tokens));
        if let Some(seed) = s.seed {
            parts.push(format!("seed {seed}"));
        }
    }
    if let Some(stats) = &m.stats {
        parts.push(stats.summary());
    }
    if m.status == MessageStatus::Stopped {
        parts.push("stopped".into());
    } else if let Some(f) = m.finish {
        parts.push(f.label().into());
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The exchanges that got an answer (failed ones left out), with the system prompt the last
/// answer was generated with, and that answer's sampling as request fields. The last answer
/// is not in `messages` (the request asks for it again) but beside them, in `llamadeck.answer`;
/// a question still without an answer (its answer failed) ends `messages` alone.
pub fn openai_json(c: &Conversation) -> Value {
    let last = c.messages.iter().rev().find(|m| m.role == Role::Assistant && m.sampling.is_some());
    let sampling = last.and_then(|m| m.sampling.clone());
    let mut messages = Vec::new();
    if let Some(s) = sampling.as_ref().filter(|s| !s.raw_mode && !s.system_prompt.trim().is_empty()) {
        messages.push(json!({"role": "system", "content": s.system_prompt}));
    }
    let mut pending: Option<&Message> = None;
    let mut answer: Option<&Message> = None;
    for m in &c.messages {
        match m.role {
            Role::User => pending = Some(m),
            Role::Assistant if !m.text.is_empty() && !matches!(m.status, MessageStatus::Failed(_)) => {
                if let Some(user) = pending.take() {
                    if let Some(earlier) = answer.take() {
                        messages.push(json!({"role": "assistant", "content": earlier.text}));
                    }
                    messages.push(json!({"role": "user", "content": user.text}));
                    answer = Some(m);
                }
            }
            _ => {}
        }
    }
    if let Some(user) = pending {
        // An unanswered question last: the answer before it is history, and this is the request.
        if let Some(earlier) = answer.take() {
            messages.push(json!({"role": "assistant", "content": earlier.text}));
        }
        messages.push(json!({"role": "user", "content": user.text}));
    }
    let mut body = Map::new();
    let model = last.and_then(|m| m.model.clone()).unwrap_or_else(|| "llamadeck".into());
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(s) = sampling {
        sampling_fields(&s, &mut body);
    }
    if let Some(a) = answer {
        body.insert("llamadeck".into(), json!({"answer": a.text}));
    }
    Value::Object(body)
}

fn sampling_fields(s: &Sampling, body: &mut Map<String, Value>) {
    body.insert("temperature".into(), json!(s.temperature));
    body.insert("top_p".into(), json!(s.top_p));
    body.insert("max_tokens".into(), json!(s.max_tokens));
    if s.presence_penalty != 0.0 {
        body.insert("presence_penalty".into(), json!(s.presence_penalty));
    }
    if s.frequency_penalty != 0.0 {
        body.insert("frequency_penalty".into(), json!(s.frequency_penalty));
    }
    // The seed makes a replay give the same answer (same model and settings).
    if let Some(seed) = s.seed {
        body.insert("seed".into(), json!(seed));
    }
    if !s.stop.is_empty() {
        body.insert("stop".into(), json!(s.stop));
    }
}

/// Writes the export under `dir` and returns its path: `ID.md` or `ID.json`.
pub fn write(dir: &Path, format: ExportFormat, c: &Conversation, now: u64) -> Result<PathBuf, String> {
    let stem = c.id.clone().unwrap_or_else(|| format!("conversation-{}", time::compact(now)));
    let (ext, bytes) = match format {
        ExportFormat::Markdown => ("md", markdown(c).into_bytes()),
        ExportFormat::Json => {
            let mut b = serde_json::to_vec_pretty(&openai_json(c)).map_err(|e| e.to_string())?;
            b.push(b'\n');
            ("json", b)
        }
    };
    let path = dir.join(format!("{stem}.{ext}"));
    llamadeck_words::files::write_private(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
