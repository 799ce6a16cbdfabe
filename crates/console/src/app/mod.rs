//! The console's behaviour: state, what can happen, and the pure reducer. `update` does no I/O
//! and asks no view for geometry (it reads `llamadeck_words::layout`); `Effect`s are plain data the loop
//! carries out. `api` is what the console knows of the API server, `conversations` the reducer's
//! part of saving, browsing and searching conversations (`search` finds the matches), `model`
//! loading and answers, `settings` the settings pane and presets, `help` what F1 lists, `fleet`
//! the other nodes and which one the chat talks to.
pub mod action;
mod answer;
pub mod api;
pub mod conversations;
pub mod fleet;
pub mod help;
pub mod inbox;
mod model;
pub mod overlays;
mod saving;
pub mod search;
mod settings;
pub mod state;
pub mod update;

pub use action::{Action, Effect};
pub use answer::MAX_ANSWER_BYTES;
pub use inbox::Inbox;
pub use model::MAX_MODEL_NAME_CHARS;
pub use state::State;
pub use update::update;
