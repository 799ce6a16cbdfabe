//! The terminal side: full-screen setup and restore, the event loop, and the producers it is fed
//! by (`engine_link` drives the engine's face for the loop).
pub mod clipboard;
pub mod effects;
pub mod engine_link;
pub mod event_loop;
pub mod producers;
pub mod terminal;
