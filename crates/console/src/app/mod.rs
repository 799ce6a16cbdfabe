//! The console's behaviour as one pure function: `update(state, action) -> effects`. The state is
//! the session (what it holds, `crate::session`) and the panes (`crate::panes`). `update` does no
//! I/O and asks no view for geometry (it reads `llamadeck_words::layout`); `Effect`s are plain
//! data the loop carries out.
pub mod update;

use std::time::Instant;

use crate::panes::Panes;
pub use crate::session::answer::MAX_ANSWER_BYTES;
pub use crate::session::model::MAX_MODEL_NAME_CHARS;
pub use crate::session::{Action, Effect, Inbox, Session};
use llamadeck_config::Config;
use llamadeck_engine::ModelSpec;
use llamadeck_words::keys::Keymap;
use llamadeck_words::theme::Theme;
pub use update::update;

/// Everything the screen shows and the reducer changes.
#[derive(Debug)]
pub struct State {
    pub session: Session,
    pub panes: Panes,
}

impl State {
    pub fn new(config: &Config, keymap: Keymap, model_spec: ModelSpec, theme: Theme, now: Instant) -> Self {
        State { session: Session::new(config, keymap, model_spec, theme, now), panes: Panes::new(theme) }
    }
}
