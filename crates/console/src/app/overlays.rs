//! The conversation overlays' state: which saved conversation the chat is, the conversations
//! view, and `/` search in the current conversation. Data only; `conversations` changes it.
use ratatui_textarea::TextArea;

use crate::app::search::Hit;
use llamadeck_store::{Listing, Summary};

/// Which conversation the chat shows, as far as the store is concerned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationMeta {
    /// The file it is saved in; none until the store gives it one.
    pub id: Option<String>,
    pub title: Option<String>,
    pub created: Option<u64>,
    /// Changes whenever the chat starts another conversation, so a late id from the store
    /// is never given to the wrong one.
    pub serial: u64,
}

#[derive(Debug, Clone)]
pub enum BrowserMode {
    List,
    Rename(TextArea<'static>),
    ConfirmDelete,
    Filter(TextArea<'static>),
}

/// The conversations view.
#[derive(Debug, Clone)]
pub struct Browser {
    /// None until the store has listed the folder.
    pub listing: Option<Listing>,
    /// Index into `visible()`.
    pub selected: usize,
    /// Search over all conversations (title and text), lower-cased.
    pub filter: String,
    pub mode: BrowserMode,
}

impl Browser {
    pub fn visible(&self) -> Vec<&Summary> {
        let Some(listing) = &self.listing else { return Vec::new() };
        let filter = self.filter.trim().to_lowercase();
        listing
            .entries
            .iter()
            .filter(|e| filter.is_empty() || e.title.to_lowercase().contains(&filter) || e.text.contains(&filter))
            .collect()
    }

    pub fn selected_entry(&self) -> Option<&Summary> {
        self.visible().get(self.selected).copied()
    }
}

/// `/` search in the current conversation.
#[derive(Debug, Clone)]
pub struct Search {
    pub query: TextArea<'static>,
    /// Every match, in order (see `app::search`).
    pub hits: Vec<Hit>,
    /// More matches exist than `hits` keeps.
    pub capped: bool,
    /// Index into `hits`.
    pub current: Option<usize>,
}

impl Search {
    pub fn text(&self) -> String {
        self.query.lines().join(" ")
    }

    pub fn current_hit(&self) -> Option<Hit> {
        self.current.and_then(|i| self.hits.get(i).copied())
    }

    pub fn current_message(&self) -> Option<usize> {
        self.current_hit().map(|h| h.message)
    }
}
