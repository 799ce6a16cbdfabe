//! Floor 1 of llamadeck: the words every floor above shares, using nothing above them.
//! `text` (sanitize, wrap), `files` (crash-safe private writes; bounded reads of regular files),
//! `sink` (how a producer reports without knowing who listens), `sampling` (each field's range),
//! `keys` (Command, Keymap), `chat` (Role, Message, GenStats), `theme`, `layout` (pane
//! rectangles and the chat's line plan) and `prom` (the Prometheus text format, read and written) and `requests` (what the API server
//! reports of each request).
pub mod chat;
pub mod files;
pub mod keys;
pub mod layout;
pub mod prom;
pub mod requests;
pub mod sampling;
pub mod sink;
pub mod text;
pub mod theme;
