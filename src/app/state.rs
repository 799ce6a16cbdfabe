//! Everything the screen shows and the reducer changes. No I/O handles live here.
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui_textarea::{TextArea, WrapMode};

pub use crate::app::overlays::{Browser, BrowserMode, ConversationMeta, Search};
use crate::app::action::Effect;
use crate::chat::{GenStats, Message, RequestId};
use crate::config::Config;
use crate::engine::ModelSpec;
use crate::gpu::GpuHistory;
use crate::gpu::snapshot::GpuSnapshot;
use crate::keys::Keymap;
use crate::layout::chat_lines::{ChatPlan, Note, Tone};
use crate::sampling::{PresetValues, Sampling, builtin_presets};
use crate::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    Settings,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Loading { stage: String, since: Instant },
    Ready { name: String, context_len: usize },
    Failed { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub level: NoticeLevel,
}

/// The settings pane: which row is selected, and the editor when a value is being typed.
#[derive(Debug, Clone, Default)]
pub struct SettingsPane {
    pub selected: usize,
    pub editor: Option<TextArea<'static>>,
    /// Why the last entry was refused; the previous value stayed.
    pub error: Option<String>,
}

#[derive(Debug)]
pub struct State {
    pub messages: Vec<Message>,
    pub input: TextArea<'static>,
    pub focus: Focus,
    /// First wrapped chat line on screen when the user scrolled away; `None` follows the tail.
    pub scroll_top: Option<usize>,
    pub sampling: Sampling,
    pub presets: Vec<(String, PresetValues)>,
    /// The preset last applied, and whether a value was changed by hand since.
    pub preset: Option<String>,
    pub preset_modified: bool,
    pub settings: SettingsPane,
    /// What mistralrs cannot honour among the current settings, as the engine reported.
    pub unsupported: Vec<String>,
    pub model: ModelState,
    pub model_spec: ModelSpec,
    pub generating: Option<RequestId>,
    pub next_request: RequestId,
    pub gpu: Option<Arc<GpuSnapshot>>,
    pub gpu_history: GpuHistory,
    /// Tokens of the last request's prompt and answer, for the context meter.
    pub context_used: usize,
    pub show_help: bool,
    /// The API server as the console sees it (F4 shows its recent requests).
    pub api: crate::app::api::ApiStatus,
    pub keymap: Keymap,
    pub notice: Option<Notice>,
    pub quit_armed: bool,
    pub should_quit: bool,
    pub now: Instant,
    /// Terminal size, so paging knows the page height.
    pub size: (u16, u16),
    pub theme: Theme,
    pub show_hints: bool,
    /// Which saved conversation this is (none until its first save).
    pub conversation: ConversationMeta,
    /// The conversations view, when open.
    pub browser: Option<Browser>,
    /// `/` search in the current conversation, when open.
    pub search: Option<Search>,
    /// The last conversation, offered for resuming at start.
    pub resume: Option<crate::store::Summary>,
}

impl State {
    pub fn new(config: &Config, keymap: Keymap, model_spec: ModelSpec, theme: Theme, now: Instant) -> Self {
        let mut presets = builtin_presets();
        for (name, values) in &config.presets {
            presets.retain(|(n, _)| n != name);
            presets.push((name.clone(), values.clone()));
        }
        let mut sampling = config.sampling.clone();
        if let Some(name) = &config.preset
            && let Some((_, values)) = presets.iter().find(|(n, _)| n == name)
        {
            sampling.apply(values);
        }
        let gpu_samples = (config.gpu.history_secs * 1000 / config.gpu.interval_ms.max(1)).max(2) as usize;
        Self {
            messages: Vec::new(),
            input: new_input(theme),
            focus: Focus::Input,
            scroll_top: None,
            sampling,
            presets,
            preset: config.preset.clone(),
            preset_modified: false,
            settings: SettingsPane::default(),
            unsupported: Vec::new(),
            model: ModelState::Loading { stage: "starting".into(), since: now },
            model_spec,
            generating: None,
            next_request: 1,
            gpu: None,
            gpu_history: GpuHistory::new(gpu_samples),
            context_used: 0,
            show_help: false,
            api: Default::default(),
            keymap,
            notice: None,
            quit_armed: false,
            should_quit: false,
            now,
            size: (0, 0),
            theme,
            show_hints: config.ui.hints,
            conversation: ConversationMeta::default(),
            browser: None,
            search: None,
            resume: None,
        }
    }

    pub fn context_len(&self) -> Option<usize> {
        match &self.model {
            ModelState::Ready { context_len, .. } => Some(*context_len),
            _ => None,
        }
    }

    pub fn loading_elapsed(&self) -> Option<Duration> {
        match &self.model {
            ModelState::Loading { since, .. } => Some(self.now.saturating_duration_since(*since)),
            _ => None,
        }
    }

    /// The stats of the newest answer that has them, for the chat pane's footer.
    pub fn last_stats(&self) -> Option<&GenStats> {
        self.messages.iter().rev().find_map(|m| m.stats.as_ref())
    }

    /// Shows `text` in the status bar. Notices quote paths and error messages: they are drawn,
    /// so they are sanitized too.
    /// Returns no effects, so a reducer branch can end with it.
    pub fn notice(&mut self, level: NoticeLevel, text: impl AsRef<str>) -> Vec<Effect> {
        self.notice = Some(Notice { text: crate::text::sanitize(text.as_ref()), level });
        Vec::new()
    }

    /// What the chat pane shows after the messages: the model's loading stage or failure, or a
    /// first hint in an empty conversation.
    pub fn chat_notes(&self) -> Vec<Note> {
        let note = |text: String, tone| Note { text, tone };
        match &self.model {
            ModelState::Loading { stage, .. } => {
                let secs = self.loading_elapsed().map_or(0, |d| d.as_secs());
                vec![note(format!("loading {}: {stage} · {secs}s", self.model_spec.source), Tone::Warn)]
            }
            ModelState::Failed { reason } => vec![
                note(format!("the model did not load: {reason}"), Tone::Error),
                note("fix the config and press F5 to load again, or type /model PATH and Enter".into(), Tone::Dim),
            ],
            ModelState::Ready { .. } if self.messages.is_empty() => {
                vec![note("Ask anything. Enter sends · Alt+Enter new line · Tab settings · F1 help".into(), Tone::Dim)]
            }
            ModelState::Ready { .. } => Vec::new(),
        }
    }

    /// The chat's line plan at the current terminal size.
    pub fn chat_plan(&self) -> ChatPlan {
        ChatPlan::new(&self.messages, &self.chat_notes(), crate::layout::chat_text_width(self.size))
    }
}

pub fn new_input(theme: Theme) -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_wrap_mode(WrapMode::WordOrGlyph);
    input.set_cursor_line_style(ratatui::style::Style::new());
    input.set_placeholder_text("type here · Enter sends · Alt+Enter new line · Tab settings");
    input.set_placeholder_style(theme.dim());
    input
}
