//! The terminal side: full-screen setup and restore, and the event loop.
pub mod clipboard;
pub mod event_loop;
pub mod terminal;
