//! Stopping the answer being generated: the partial answer is kept, marked stopped, saved, and
//! the engine is told to cancel. Used by Esc, quit, a new or opened conversation and shutdown.
use crate::app::action::Effect;
use crate::app::saving;
use crate::app::state::State;
use llamadeck_engine::EngineCommand;
use llamadeck_words::chat::{FinishReason, Message, MessageStatus, RequestId};

pub fn stop_answer(state: &mut State) -> Vec<Effect> {
    let Some(id) = state.generating.take() else {
        return Vec::new();
    };
    if let Some(m) = answer_mut(state, id) {
        m.status = MessageStatus::Stopped;
        m.finish = Some(FinishReason::Stopped);
    }
    let mut effects = vec![Effect::Engine(EngineCommand::Cancel(id))];
    effects.extend(saving::save(state));
    effects
}

/// The answer to request `id`, newest first.
pub fn answer_mut(state: &mut State, id: RequestId) -> Option<&mut Message> {
    state.messages.iter_mut().rev().find(|m| m.request == Some(id))
}
