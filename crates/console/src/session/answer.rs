//! Ending the answer being generated before the engine does: stopped (Esc, quit, a new or
//! opened conversation, shutdown) or cut for its size. The partial answer is kept, marked,
//! saved, and the engine is told to cancel.
use super::chat::Chat;
use super::{Effect, saving};
use llamadeck_engine::EngineCommand;
use llamadeck_words::chat::{FinishReason, Message, MessageStatus, RequestId};

/// The most text one answer keeps (after sanitising), far past any real answer: the longest
/// `max_tokens` (131,072) of English is about 512 KiB. A saved conversation holds at most
/// `llamadeck_store::MAX_CONVERSATION_BYTES` (64 MiB); JSON at most doubles an answer's text
/// (a quote, a backslash or a line break is escaped to two bytes), so an answer cut here takes
/// at most 2 MiB on disk and 31 of them still read back. Past that the store refuses the save
/// and says so, keeping the file as last saved: the number of answers is not bounded.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

pub fn stop_answer(chat: &mut Chat) -> Vec<Effect> {
    end_answer(chat, MessageStatus::Stopped, FinishReason::Stopped)
}

/// The answer reached [`MAX_ANSWER_BYTES`]: the engine is stopped, as Esc stops it, and the
/// answer says why it ends there. As a failed exchange it is left out of the next request.
pub fn cut_answer(chat: &mut Chat) -> Vec<Effect> {
    let mib = MAX_ANSWER_BYTES >> 20;
    let why = format!("answer cut at {mib} MiB: more than an answer may hold, so the rest was not kept");
    end_answer(chat, MessageStatus::Failed(why), FinishReason::Length)
}

fn end_answer(chat: &mut Chat, status: MessageStatus, finish: FinishReason) -> Vec<Effect> {
    let Some(id) = chat.generating.take() else {
        return Vec::new();
    };
    if let Some(m) = answer_mut(chat, id) {
        m.status = status;
        m.finish = Some(finish);
    }
    let mut effects = vec![Effect::Engine(EngineCommand::Cancel(id))];
    effects.extend(saving::save(chat));
    effects
}

/// The answer to request `id`, newest first.
pub fn answer_mut(chat: &mut Chat, id: RequestId) -> Option<&mut Message> {
    chat.messages.iter_mut().rev().find(|m| m.request == Some(id))
}
