//! What the session holds: the conversation, the model, the sampling values and presets, the
//! config, the readings (GPU, API, fleet), the notice, the keymap and theme, the clock and the
//! terminal's size. Plain data and the reactions that touch only it (an engine event, a store
//! reply, new readings); the panes keep their own state. No I/O handles here.
pub mod action;
pub mod answer;
pub mod api;
pub mod chat;
pub mod conversations;
pub mod fleet;
pub mod inbox;
pub mod model;
pub mod notice;
pub mod presets;
pub mod saving;
pub mod search;
pub mod selection;

use std::sync::Arc;
use std::time::Instant;

pub use action::{Action, Effect, Reread};
pub use chat::{Chat, ConversationMeta};
pub use inbox::Inbox;
use llamadeck_config::Config;
use llamadeck_engine::ModelSpec;
use llamadeck_gpu::GpuHistory;
use llamadeck_gpu::snapshot::GpuSnapshot;
use llamadeck_words::keys::{Command, Keymap};
use llamadeck_words::layout::chat_lines::{Note, Tone};
use llamadeck_words::sampling::Sampling;
use llamadeck_words::theme::Theme;
pub use model::{ModelState, ModelView};
pub use notice::{About, Notice, NoticeLevel, NoticeLog};
pub use presets::Presets;

/// The GPU panel's readings: the newest snapshot and the history its sparklines draw.
#[derive(Debug, Clone)]
pub struct Readings {
    pub latest: Option<Arc<GpuSnapshot>>,
    pub history: GpuHistory,
}

/// Whether the console is on its way out: the first quit during an answer only stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quit {
    #[default]
    No,
    /// The answer was stopped by a quit key; the next one leaves.
    Armed,
    Now,
}

#[derive(Debug)]
pub struct Session {
    pub chat: Chat,
    pub model: ModelView,
    /// The values the next request uses.
    pub sampling: Sampling,
    pub presets: Presets,
    /// The config file as last read (at start, by F5) or as Ctrl+S saved it.
    pub config: Config,
    pub gpu: Readings,
    /// The API server as the console sees it (F4 shows its recent requests).
    pub api: api::ApiStatus,
    /// The other nodes and which one the chat talks to (F6 shows them).
    pub fleet: fleet::FleetView,
    pub notice: Option<Notice>,
    /// Every notice shown, the last 100, for the notices overlay.
    pub notices: NoticeLog,
    pub keymap: Keymap,
    pub theme: Theme,
    pub now: Instant,
    /// Terminal size, so paging knows the page height.
    pub size: (u16, u16),
    pub quit: Quit,
}

impl Session {
    pub fn new(config: &Config, keymap: Keymap, model_spec: ModelSpec, theme: Theme, now: Instant) -> Self {
        let presets = Presets::new(config);
        let sampling = presets.starting_sampling(config);
        // `model_spec` names the config's model unless --model named another (the composition
        // root sets the whole `launch` when it knows more).
        let model = (model_spec.source != config.model_spec(None).source).then(|| model_spec.source.clone());
        let launch = llamadeck_config::Launch { model, ..Default::default() };
        let gpu_samples = (config.gpu.history_secs * 1000 / config.gpu.interval_ms.max(1)).max(2) as usize;
        Self {
            chat: Chat::default(),
            model: ModelView::new(model_spec, launch, now),
            presets: presets.with_origin(sampling.clone()),
            sampling,
            config: config.clone(),
            gpu: Readings { latest: None, history: GpuHistory::new(gpu_samples) },
            api: Default::default(),
            fleet: Default::default(),
            notice: None,
            notices: NoticeLog::default(),
            keymap,
            theme,
            now,
            size: (0, 0),
            quit: Quit::No,
        }
    }

    /// Shows `text` in the status bar until it expires or another notice replaces it. Notices
    /// quote paths and error messages: they are drawn, so they are sanitized too.
    /// Returns no effects, so a reducer branch can end with it.
    pub fn notice(&mut self, level: NoticeLevel, text: impl AsRef<str>) -> Vec<Effect> {
        self.show_notice(level, text.as_ref(), None, About::Other)
    }

    /// A notice about the model, gone when the model's state changes.
    pub fn model_notice(&mut self, level: NoticeLevel, text: impl AsRef<str>) -> Vec<Effect> {
        self.show_notice(level, text.as_ref(), None, About::Model)
    }

    /// A notice ending in a path ("exported to /…/c1.md").
    pub fn path_notice(&mut self, level: NoticeLevel, text: impl AsRef<str>, path: &std::path::Path) -> Vec<Effect> {
        let path = path.display().to_string();
        self.show_notice(level, text.as_ref(), Some(path), About::Other)
    }

    fn show_notice(&mut self, level: NoticeLevel, text: &str, path: Option<String>, about: About) -> Vec<Effect> {
        let notice = Notice::new(level, text, path, about, self.now);
        self.notices.push(notice.clone());
        self.notice = Some(notice);
        Vec::new()
    }

    /// The clock moved on: notices past their time go.
    pub fn expire_notice(&mut self) {
        if self.notice.as_ref().is_some_and(|n| n.expired(self.now)) {
            self.notice = None;
        }
    }

    /// The first key bound to `command`, as the hint bar writes it.
    pub fn key_for(&self, command: Command) -> String {
        self.keymap.keys_for(command).first().map_or_else(|| command.name().to_string(), |k| k.to_string())
    }

    /// Whether an answer is being generated.
    pub fn answering(&self) -> bool {
        self.chat.generating.is_some()
    }

    /// What the chat pane shows after the messages: the model's loading stage or failure, or a
    /// first hint in an empty conversation.
    pub fn chat_notes(&self) -> Vec<Note> {
        let note = |text: String, tone| Note { text, tone };
        match &self.model.state {
            ModelState::Loading { stage, .. } => {
                let secs = self.model.loading_elapsed(self.now).map_or(0, |d| d.as_secs());
                let what = match &self.fleet.target {
                    Some(node) => format!("connecting to {node}"),
                    None => format!("loading {}", self.model.spec.source),
                };
                vec![note(format!("{what}: {stage} · {secs} s"), Tone::Warn)]
            }
            ModelState::Failed { reason } if let Some(node) = &self.fleet.target => vec![
                note(format!("{node} is not serving: {reason}"), Tone::Error),
                note(
                    format!("{} chooses another node; F5 asks this one again (so does its coming back up)", self.key_for(Command::Fleet)),
                    Tone::Dim,
                ),
            ],
            ModelState::Ready { name, .. } if let Some((source, reason)) = &self.model.refused => vec![
                note(format!("{source} was not loaded: {reason}"), Tone::Error),
                note(format!("{name} is still loaded and answering, here and on the API."), Tone::Dim),
            ],
            ModelState::Failed { reason } => vec![
                note(format!("the model did not load: {reason}"), Tone::Error),
                note("fix the config and press F5 to load again, or type /model PATH and Enter".into(), Tone::Dim),
            ],
            ModelState::Ready { .. } => {
                let mut notes: Vec<Note> = self.model.warnings.iter().map(|w| note(format!("warning: {w}"), Tone::Warn)).collect();
                if self.chat.messages.is_empty() {
                    notes.push(note("Ask anything. Enter sends · Alt+Enter new line · Tab settings · F1 help".into(), Tone::Dim));
                }
                notes
            }
        }
    }

    /// The chat's line plan at the current terminal size: the kept one when it is up to date
    /// (after every `update` it is), else a fresh one.
    pub fn chat_plan(&self) -> std::borrow::Cow<'_, llamadeck_words::layout::chat_lines::ChatPlan> {
        self.chat_plan_at(llamadeck_words::layout::chat_text_width(self.size))
    }

    /// The line plan at a text width of `width` (the chat pane draws at its own width).
    pub fn chat_plan_at(&self, width: usize) -> std::borrow::Cow<'_, llamadeck_words::layout::chat_lines::ChatPlan> {
        self.chat.plan_at(&self.chat_notes(), width)
    }

    /// Brings the kept line plan up to date (wrapping only what changed).
    pub fn refresh_plan(&mut self) {
        let (notes, width) = (self.chat_notes(), llamadeck_words::layout::chat_text_width(self.size));
        self.chat.refresh_plan(&notes, width);
    }
}
