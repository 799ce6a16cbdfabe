//! The model in the reducer: loading it (`/model`, F5 with the config read again), what the
//! engine reports about loads, and each answer's tokens and end.
use crate::app::action::{Effect, Reread};
use crate::app::answer::{MAX_ANSWER_BYTES, answer_mut, cut_answer};
use crate::app::saving;
use crate::app::settings;
use crate::app::state::{About, ModelState, NoticeLevel, State, presets_of, starting_sampling};
use llamadeck_engine::{EngineCommand, EngineEvent, ModelSpec};
use llamadeck_words::chat::{FinishReason, MessageStatus};

/// The longest model name kept, in characters: the name is stored in every answer, and a
/// node's model id of a million characters made each answer a megabyte.
pub const MAX_MODEL_NAME_CHARS: usize = 200;

/// A model's name as the console shows and saves it: sanitised, and past
/// [`MAX_MODEL_NAME_CHARS`] cut, ending in an ellipsis that says so.
pub fn model_name(name: &str) -> String {
    let clean = llamadeck_words::text::sanitize(name);
    if clean.chars().count() <= MAX_MODEL_NAME_CHARS {
        return clean;
    }
    clean.chars().take(MAX_MODEL_NAME_CHARS - 1).chain(['…']).collect()
}

/// Starts loading `spec`; the model that answers now keeps answering until it is replaced.
pub fn start_load(state: &mut State, spec: ModelSpec) -> Vec<Effect> {
    state.model = ModelState::Loading { stage: "starting".into(), since: state.now };
    state.model_spec = spec.clone();
    state.load_refused = None;
    state.load_warnings.clear();
    vec![Effect::Engine(EngineCommand::Load(spec))]
}

/// F5: the config file as it is now. Everything the console can change while it runs is
/// taken (model, sampling, presets, keys, hints); the notice says what waits for a restart.
pub fn on_config_reread(state: &mut State, reread: Reread) -> Vec<Effect> {
    if state.generating.is_some() {
        return state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
    }
    let Reread { config, keymap, spec } = reread;
    let presets = presets_of(&config);
    let from_file = starting_sampling(&config, &presets);
    state.presets = presets;
    let kept = settings::take_from_file(state, from_file, config.preset.clone());
    state.custom = if kept.is_empty() { config.sampling.clone() } else { state.sampling.clone() };
    state.keymap = keymap;
    state.show_hints = config.ui.hints;
    let old = &state.config;
    let waiting: Vec<&str> = [
        ("server", old.server != config.server),
        ("gpu", old.gpu != config.gpu),
        ("ui.fps and ui.color", old.ui.fps != config.ui.fps || old.ui.color != config.ui.color),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect();
    state.config = config;
    let mut text = format!("config read again (model, sampling, presets, keys); loading {}", spec.source);
    if !kept.is_empty() {
        text.push_str(&format!("; your unsaved {} kept (Ctrl+S saves)", kept.join(", ")));
    }
    if !waiting.is_empty() {
        text.push_str(&format!("; {} apply at the next start", waiting.join(", ")));
    }
    let mut effects = start_load(state, spec);
    effects.extend(state.notice(NoticeLevel::Info, text));
    effects
}

/// A notice about the model goes once the model's state has changed: the chat shows the new one.
fn clear_model_notice(state: &mut State) {
    if state.notice.as_ref().is_some_and(|n| n.about == About::Model) {
        state.notice = None;
    }
}

pub fn on_engine(state: &mut State, event: EngineEvent) -> Vec<Effect> {
    match event {
        EngineEvent::LoadStage { stage } => {
            // A stage after the load ended is stale: it must not put the console back to loading.
            if let ModelState::Loading { since, .. } = state.model {
                let stage = llamadeck_words::text::sanitize(&stage);
                state.model = ModelState::Loading { stage, since };
            }
        }
        EngineEvent::Loaded { model, context_len } => {
            state.model = ModelState::Ready { name: model_name(&model), context_len };
            state.serving_spec = Some(state.model_spec.clone());
            state.load_refused = None;
            clear_model_notice(state);
        }
        EngineEvent::LoadWarning { warning } => {
            // It comes just before `Loaded`, and stays in the chat while this model serves.
            state.load_warnings.push(llamadeck_words::text::sanitize(&warning));
        }
        EngineEvent::LoadRejected { reason, model, context_len } => {
            let reason = llamadeck_words::text::sanitize(&reason);
            let model = model_name(&model);
            // The refused spec goes; the one that still answers is the console's model again.
            let refused = match state.serving_spec.clone() {
                Some(serving) => std::mem::replace(&mut state.model_spec, serving),
                None => state.model_spec.clone(),
            };
            let text = format!("{} was not loaded: {reason}; {model} is still loaded", refused.source);
            state.load_refused = Some((refused.source, reason));
            state.model = ModelState::Ready { name: model, context_len };
            return state.notice(NoticeLevel::Error, text);
        }
        EngineEvent::LoadFailed { reason } => {
            state.load_warnings.clear();
            state.model = ModelState::Failed { reason: llamadeck_words::text::sanitize(&reason) };
            state.serving_spec = None;
            clear_model_notice(state);
        }
        EngineEvent::Token { id, text } => {
            // Tokens for a request the user stopped are dropped.
            if state.generating == Some(id)
                && let Some(m) = answer_mut(state, id)
            {
                let clean = llamadeck_words::text::sanitize(&text);
                let room = MAX_ANSWER_BYTES.saturating_sub(m.text.len());
                if clean.len() > room {
                    // What fits is kept; the rest would make a conversation too large to save.
                    m.text.push_str(&clean[..clean.floor_char_boundary(room)]);
                    return cut_answer(state);
                }
                m.text.push_str(&clean);
                state.context_used = state.context_used.saturating_add(1);
            }
        }
        EngineEvent::Finished { id, reason, stats } => {
            // A node's counts can be anything: never wrap (nor panic with overflow checks).
            state.context_used = stats.prompt_tokens.saturating_add(stats.completion_tokens);
            state.context_estimated = false;
            if state.generating == Some(id) {
                state.generating = None;
            }
            if let Some(m) = answer_mut(state, id) {
                if m.status == MessageStatus::Streaming {
                    m.status = MessageStatus::Complete;
                    m.finish = Some(reason);
                }
                m.stats = Some(stats);
                return saving::save(state);
            }
        }
        EngineEvent::Failed { id, error } => {
            if state.generating == Some(id) {
                state.generating = None;
            }
            // An answer already ended here (stopped, cut) keeps the reason it ended.
            if let Some(m) = answer_mut(state, id).filter(|m| m.status == MessageStatus::Streaming) {
                m.status = MessageStatus::Failed(llamadeck_words::text::sanitize(&error));
                m.finish = Some(FinishReason::Error);
                return saving::save(state);
            }
        }
        EngineEvent::Started { id, prompt_tokens, trimmed } => {
            // The meter starts from the prompt as the engine built it; tokens add to it.
            if state.generating == Some(id) {
                state.context_used = prompt_tokens;
            }
            if trimmed > 0 {
                let text = format!("context full: the {trimmed} oldest messages were left out of this request");
                return state.notice(NoticeLevel::Warn, text);
            }
        }
        EngineEvent::Unsupported { what, .. } => state.unsupported = what,
    }
    Vec::new()
}
