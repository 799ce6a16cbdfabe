//! The model in the session: loading it (`/model`, F5 with the config read again), what the
//! engine reports about loads, and each answer's tokens and end.
use std::time::{Duration, Instant};

use super::answer::{MAX_ANSWER_BYTES, answer_mut, cut_answer};
use super::saving;
use super::{About, Effect, NoticeLevel, Reread, Session};
use llamadeck_config::Launch;
use llamadeck_engine::{EngineCommand, EngineEvent, ModelSpec, PrefixCacheStats};
use llamadeck_words::chat::{FinishReason, MessageStatus};

/// The longest model name kept, in characters: the name is stored in every answer, and a
/// node's model id of a million characters made each answer a megabyte.
pub const MAX_MODEL_NAME_CHARS: usize = 200;

/// A model's name as the console shows and saves it: a path as its file name (llama.cpp's
/// server names its model by the path it loaded), sanitised, and past
/// [`MAX_MODEL_NAME_CHARS`] cut, ending in an ellipsis that says so.
pub fn model_name(name: &str) -> String {
    let clean = llamadeck_words::text::sanitize(file_name_of_path(name));
    if clean.chars().count() <= MAX_MODEL_NAME_CHARS {
        return clean;
    }
    clean.chars().take(MAX_MODEL_NAME_CHARS - 1).chain(['…']).collect()
}

/// The file name when `name` is a path (`/models/x.gguf`, `./x.gguf`, `~/x`, `C:\\m\\x.gguf`);
/// a Hugging Face id (`meta-llama/Llama-2-7b-hf`) is not a path and stays whole.
fn file_name_of_path(name: &str) -> &str {
    let drive = name.as_bytes().get(1..3) == Some(b":\\") && name.as_bytes()[0].is_ascii_alphabetic();
    let is_path = name.starts_with(['/', '~', '\\']) || name.starts_with("./") || name.starts_with("../") || drive;
    match name.rsplit(['/', '\\']).next() {
        Some(file) if is_path && !file.is_empty() => file,
        _ => name,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Loading { stage: String, since: Instant },
    Ready { name: String, context_len: usize },
    Failed { reason: String },
}

/// The model as the console knows it.
#[derive(Debug, Clone)]
pub struct ModelView {
    pub state: ModelState,
    /// The model being loaded or loaded.
    pub spec: ModelSpec,
    /// The model that answers now, kept while another loads: a refused load falls back to it.
    pub serving: Option<ModelSpec>,
    /// What the command line chose (`--model`, `--allow-download`, `--connect`): F5 reads the
    /// config again and keeps each of these.
    pub launch: Launch,
    /// The last `/model` or F5 that the engine refused (source, why), until the next load or send.
    pub refused: Option<(String, String)>,
    /// What the loaded model's load warned of (it may not fit), kept in view while it serves.
    pub warnings: Vec<String>,
    /// What the engine cannot honour among the current settings, as it reported.
    pub unsupported: Vec<String>,
    /// The prefix cache of the model here (what it holds of the process's memory, its budget).
    pub cache: Option<PrefixCacheStats>,
}

impl ModelView {
    pub fn new(spec: ModelSpec, launch: Launch, now: Instant) -> Self {
        ModelView {
            state: ModelState::Loading { stage: "starting".into(), since: now },
            spec,
            serving: None,
            launch,
            refused: None,
            warnings: Vec::new(),
            unsupported: Vec::new(),
            cache: None,
        }
    }

    pub fn context_len(&self) -> Option<usize> {
        match &self.state {
            ModelState::Ready { context_len, .. } => Some(*context_len),
            _ => None,
        }
    }

    pub fn loading_elapsed(&self, now: Instant) -> Option<Duration> {
        match &self.state {
            ModelState::Loading { since, .. } => Some(now.saturating_duration_since(*since)),
            _ => None,
        }
    }

    /// The name an answer's header shows: the model that wrote it.
    pub fn name(&self) -> Option<&str> {
        match &self.state {
            ModelState::Ready { name, .. } => Some(name),
            _ => None,
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.state, ModelState::Ready { .. })
    }
}

/// Starts loading `spec`; the model that answers now keeps answering until it is replaced.
pub fn start_load(session: &mut Session, spec: ModelSpec) -> Vec<Effect> {
    let model = &mut session.model;
    model.state = ModelState::Loading { stage: "starting".into(), since: session.now };
    model.spec = spec.clone();
    model.refused = None;
    model.warnings.clear();
    vec![Effect::Engine(EngineCommand::Load(spec))]
}

/// F5: the config file as it is now. Everything the console can change while it runs is
/// taken (model, sampling, presets, keys, hints); the notice says what changed and what waits
/// for a restart. The model is loaded again only when the model section (or `--model`) now
/// names a different model than the one loaded or loading: a reload empties the prefix cache,
/// and the next turn reads the whole conversation again (15 s instead of 0.4 s).
pub fn on_config_reread(session: &mut Session, reread: Reread) -> Vec<Effect> {
    if session.answering() {
        return session.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
    }
    let Reread { config, keymap } = reread;
    // The command line's --host, --port and --no-api stay over the file's server section.
    let config = config.with_launch(&session.model.launch);
    let spec = config.launch_spec(&session.model.launch);
    let kept = super::presets::take_from_file(session, &config);
    session.keymap = keymap;
    let old = &session.config;
    let ui_now = {
        let mut ui = config.ui.clone();
        (ui.fps, ui.color) = (old.ui.fps, old.ui.color);
        old.ui != ui
    };
    let taken: Vec<&str> = [
        ("sampling", old.sampling != config.sampling || old.preset != config.preset),
        ("presets", old.presets != config.presets),
        ("keys", old.keys != config.keys),
        ("ui", ui_now),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    let waiting: Vec<&str> = [
        ("server", old.server != config.server),
        ("gpu", old.gpu != config.gpu),
        ("ui.fps and ui.color", old.ui.fps != config.ui.fps || old.ui.color != config.ui.color),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    session.config = config;
    let reload = spec != session.model.spec || matches!(session.model.state, ModelState::Failed { .. });
    let read = if taken.is_empty() { "nothing changed".to_string() } else { taken.join(", ") };
    let mut text = if reload {
        format!("config read again: {read}; loading {}", spec.source)
    } else {
        format!("config read again: {read}; the model is unchanged and stays loaded")
    };
    if !kept.is_empty() {
        text.push_str(&format!("; your unsaved {} kept (Ctrl+S saves)", kept.join(", ")));
    }
    if !waiting.is_empty() {
        text.push_str(&format!("; {} apply at the next start", waiting.join(", ")));
    }
    let mut effects = if reload { start_load(session, spec) } else { Vec::new() };
    effects.extend(session.notice(NoticeLevel::Info, text));
    effects
}

/// `/model PATH`: the model named, unless it is the one already loaded (or loading): then
/// nothing is read again, and the notice says so.
pub fn choose(session: &mut Session, spec: ModelSpec) -> Vec<Effect> {
    if spec == session.model.spec && !matches!(session.model.state, ModelState::Failed { .. }) {
        let text = format!("{} is already loaded; nothing was read again", spec.source);
        return session.notice(NoticeLevel::Info, text);
    }
    start_load(session, spec)
}

/// A notice about the model goes once the model's state has changed: the chat shows the new one.
fn clear_model_notice(session: &mut Session) {
    if session.notice.as_ref().is_some_and(|n| n.about == About::Model) {
        session.notice = None;
    }
}

pub fn on_engine(session: &mut Session, event: EngineEvent) -> Vec<Effect> {
    let sanitize = llamadeck_words::text::sanitize;
    match event {
        EngineEvent::LoadStage { stage } => {
            // A stage after the load ended is stale: it must not put the console back to loading.
            if let ModelState::Loading { since, .. } = session.model.state {
                session.model.state = ModelState::Loading { stage: sanitize(&stage), since };
            }
        }
        EngineEvent::Loaded { model, context_len } => {
            session.model.state = ModelState::Ready { name: model_name(&model), context_len };
            session.model.serving = Some(session.model.spec.clone());
            session.model.refused = None;
            clear_model_notice(session);
        }
        EngineEvent::LoadWarning { warning } => {
            // It comes just before `Loaded`, and stays in the chat while this model serves.
            session.model.warnings.push(sanitize(&warning));
        }
        EngineEvent::LoadRejected { reason, model, context_len } => {
            let (reason, model) = (sanitize(&reason), model_name(&model));
            let view = &mut session.model;
            // The refused spec goes; the one that still answers is the console's model again.
            let refused = match view.serving.clone() {
                Some(serving) => std::mem::replace(&mut view.spec, serving),
                None => view.spec.clone(),
            };
            let text = format!("{} was not loaded: {reason}; {model} is still loaded", refused.source);
            view.refused = Some((refused.source, reason));
            view.state = ModelState::Ready { name: model, context_len };
            return session.notice(NoticeLevel::Error, text);
        }
        EngineEvent::LoadFailed { reason } => {
            session.model.warnings.clear();
            session.model.state = ModelState::Failed { reason: sanitize(&reason) };
            session.model.serving = None;
            clear_model_notice(session);
        }
        EngineEvent::Token { id, text } => {
            // Tokens for a request the user stopped are dropped.
            if session.chat.generating == Some(id)
                && let Some(m) = answer_mut(&mut session.chat, id)
            {
                let clean = sanitize(&text);
                let room = MAX_ANSWER_BYTES.saturating_sub(m.text.len());
                if clean.len() > room {
                    // What fits is kept; the rest would make a conversation too large to save.
                    m.text.push_str(&clean[..clean.floor_char_boundary(room)]);
                    return cut_answer(&mut session.chat);
                }
                m.text.push_str(&clean);
                session.chat.context_used = session.chat.context_used.saturating_add(1);
            }
        }
        EngineEvent::Finished { id, reason, stats } => {
            let chat = &mut session.chat;
            // A node's counts can be anything: never wrap (nor panic with overflow checks).
            chat.context_used = stats.prompt_tokens.saturating_add(stats.completion_tokens);
            chat.context_estimated = false;
            if chat.generating == Some(id) {
                chat.generating = None;
            }
            if let Some(m) = answer_mut(chat, id) {
                if m.status == MessageStatus::Streaming {
                    m.status = MessageStatus::Complete;
                    m.finish = Some(reason);
                }
                m.stats = Some(stats);
                return saving::save(&session.chat);
            }
        }
        EngineEvent::Failed { id, error } => {
            let chat = &mut session.chat;
            if chat.generating == Some(id) {
                chat.generating = None;
            }
            // An answer already ended here (stopped, cut) keeps the reason it ended.
            if let Some(m) = answer_mut(chat, id).filter(|m| m.status == MessageStatus::Streaming) {
                m.status = MessageStatus::Failed(sanitize(&error));
                m.finish = Some(FinishReason::Error);
                return saving::save(&session.chat);
            }
        }
        EngineEvent::Started { id, prompt_tokens, trimmed } => {
            // The meter starts from the prompt as the engine built it; tokens add to it.
            if session.chat.generating == Some(id) {
                session.chat.context_used = prompt_tokens;
            }
            if trimmed > 0 {
                let text = format!("context full: the {trimmed} oldest messages were left out of this request");
                return session.notice(NoticeLevel::Warn, text);
            }
        }
        EngineEvent::Unsupported { what, .. } => session.model.unsupported = what,
        EngineEvent::Cache(cache) => session.model.cache = cache,
    }
    Vec::new()
}
