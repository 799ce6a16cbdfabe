//! Commands and the keys that run them: one vocabulary for the reducer, the config's `keys:`
//! section, the hint bar and the help overlay (television reads its keymap into the same enum).
pub mod command;
pub mod keymap;
pub mod slash;

pub use command::{Command, CommandRow, Scope, TABLE as COMMANDS};
pub use keymap::{KeyBinding, Keymap};
