//! Stopping the answer being generated: the partial answer is kept, marked stopped, saved, and
//! the engine is told to cancel. Used by Esc, quit, a new or opened conversation and shutdown.
use super::chat::Chat;
use super::{Effect, saving};
use llamadeck_engine::EngineCommand;
use llamadeck_words::chat::{FinishReason, Message, MessageStatus, RequestId};

pub fn stop_answer(chat: &mut Chat) -> Vec<Effect> {
    let Some(id) = chat.generating.take() else {
        return Vec::new();
    };
    if let Some(m) = answer_mut(chat, id) {
        m.status = MessageStatus::Stopped;
        m.finish = Some(FinishReason::Stopped);
    }
    let mut effects = vec![Effect::Engine(EngineCommand::Cancel(id))];
    effects.extend(saving::save(chat));
    effects
}

/// The answer to request `id`, newest first.
pub fn answer_mut(chat: &mut Chat, id: RequestId) -> Option<&mut Message> {
    chat.messages.iter_mut().rev().find(|m| m.request == Some(id))
}
