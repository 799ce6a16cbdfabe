//! What to save and when: the conversation as it should be on disk, the effect that saves it,
//! and switching the chat to another conversation. Pure; the store does the writing.
use crate::app::action::Effect;
use crate::app::overlays::ConversationMeta;
use crate::app::state::{Focus, NoticeLevel, State};
use llamadeck_store::{Conversation, Request, TooLarge};
use llamadeck_words::chat::MessageStatus;
use llamadeck_words::keys::Command;

/// The conversation as it should be on disk: an answer still streaming is left out (a crash
/// loses at most that answer). None when there is nothing to save.
pub fn snapshot(state: &State) -> Option<Conversation> {
    let messages: Vec<_> = state.messages.iter().filter(|m| m.status != MessageStatus::Streaming).cloned().collect();
    if messages.is_empty() {
        return None;
    }
    Some(Conversation {
        id: state.conversation.id.clone(),
        title: state.conversation.title.clone(),
        created: state.conversation.created,
        updated: None,
        messages,
    })
}

/// The effect that saves the current conversation (none when it is empty).
pub fn save(state: &State) -> Vec<Effect> {
    snapshot(state)
        .map(|c| Effect::Store(Request::Save { serial: state.conversation.serial, conversation: Box::new(c) }))
        .into_iter()
        .collect()
}

/// The store refused to save: the conversation has grown past what a saved one may hold. The
/// file keeps it as it was last saved; the notice says how to keep the rest.
pub fn too_large(state: &mut State, refused: &TooLarge) -> Vec<Effect> {
    let new = state.key_for(Command::ClearConversation);
    let text = format!(
        "conversation not saved: {refused}; the file keeps it as last saved. /export md keeps all of it; {new} starts a new conversation"
    );
    state.notice(NoticeLevel::Error, text)
}

/// Leaves the current conversation (already saved) for an empty one.
pub fn start_new(state: &mut State) {
    state.messages.clear();
    state.scroll_top = None;
    state.context_used = 0;
    state.context_estimated = false;
    state.search = None;
    let serial = state.conversation.serial + 1;
    state.conversation = ConversationMeta { serial, ..ConversationMeta::default() };
}

pub fn load_into(state: &mut State, c: Conversation) {
    let title = llamadeck_store::title_of(&c);
    start_new(state);
    state.messages = c.messages;
    for m in &mut state.messages {
        // Nothing from a file is still streaming.
        if m.status == MessageStatus::Streaming {
            m.status = MessageStatus::Stopped;
        }
        m.request = None;
    }
    // The saved count is the engine's at the time, perhaps for another model, and a question
    // saved without its answer is not in it: shown as an estimate until the next answer.
    // Counts from a file can be anything: never wrap.
    state.context_used = state.last_stats().map_or(0, |s| s.prompt_tokens.saturating_add(s.completion_tokens));
    state.context_estimated = true;
    state.conversation.id = c.id;
    state.conversation.title = c.title;
    state.conversation.created = c.created;
    state.focus = Focus::Input;
    state.notice(NoticeLevel::Info, format!("opened \"{title}\""));
}
