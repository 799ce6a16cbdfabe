//! What to save and when: the conversation as it should be on disk, the effect that saves it,
//! and switching the chat to another conversation. Pure; the store does the writing.
use super::chat::{Chat, ConversationMeta};
use super::{Effect, NoticeLevel, Session};
use llamadeck_store::{Conversation, Request, TooLarge};
use llamadeck_words::chat::{Message, MessageStatus, Versions};
use llamadeck_words::keys::Command;

/// The conversation as it should be on disk: an answer still streaming is left out (a crash
/// loses at most that answer), but not the versions it regenerates. None when there is nothing
/// to save.
pub fn snapshot(chat: &Chat) -> Option<Conversation> {
    let messages: Vec<_> = chat.messages.iter().filter_map(settled).collect();
    if messages.is_empty() {
        return None;
    }
    Some(Conversation { id: chat.meta.id.clone(), title: chat.meta.title.clone(), created: chat.meta.created, updated: None, messages })
}

/// `m` as it is saved: a streaming answer is not, and one that regenerates an answer leaves
/// that answer's versions in its place, the newest of them chosen.
fn settled(m: &Message) -> Option<Message> {
    if m.status != MessageStatus::Streaming {
        return Some(m.clone());
    }
    let mut earlier = m.versions.earlier.clone();
    let mut chosen = earlier.pop()?;
    chosen.versions = Versions { earlier, later: m.versions.later.clone() };
    Some(chosen)
}

/// The effect that saves the current conversation (none when it is empty).
pub fn save(chat: &Chat) -> Vec<Effect> {
    snapshot(chat).map(|c| Effect::Store(Request::Save { serial: chat.meta.serial, conversation: Box::new(c) })).into_iter().collect()
}

/// The store refused to save: the conversation has grown past what a saved one may hold. The
/// file keeps it as it was last saved; the notice says how to keep the rest.
pub fn too_large(session: &mut Session, refused: &TooLarge) -> Vec<Effect> {
    let new = session.key_for(Command::ClearConversation);
    let text = format!(
        "conversation not saved: {refused}; the file keeps it as last saved. /export md keeps all of it; {new} starts a new conversation"
    );
    session.notice(NoticeLevel::Error, text)
}

/// Leaves the current conversation (already saved) for an empty one.
pub fn start_new(chat: &mut Chat) {
    let serial = chat.meta.serial + 1;
    *chat = Chat { next_request: chat.next_request, meta: ConversationMeta { serial, ..ConversationMeta::default() }, ..Chat::default() };
}

/// Opens conversation `c` in the chat.
pub fn load_into(session: &mut Session, c: Conversation) {
    let title = llamadeck_store::title_of(&c);
    let chat = &mut session.chat;
    start_new(chat);
    chat.messages = c.messages;
    for m in &mut chat.messages {
        // Nothing from a file is still streaming.
        if m.status == MessageStatus::Streaming {
            m.status = MessageStatus::Stopped;
        }
        m.request = None;
    }
    // The saved count is the engine's at the time, perhaps for another model, and a question
    // saved without its answer is not in it: shown as an estimate until the next answer.
    // Counts from a file can be anything: never wrap.
    chat.context_used = chat.last_stats().map_or(0, |s| s.prompt_tokens.saturating_add(s.completion_tokens));
    chat.context_estimated = true;
    chat.meta.id = c.id;
    chat.meta.title = c.title;
    chat.meta.created = c.created;
    session.notice(NoticeLevel::Info, format!("opened \"{title}\""));
}
