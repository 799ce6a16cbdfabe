//! The console's behaviour: state, what can happen, and the pure reducer.
pub mod action;
pub mod command;
pub mod conversations;
pub mod sampling;
pub mod state;
pub mod update;

pub use action::{Action, Effect};
pub use state::State;
pub use update::update;
