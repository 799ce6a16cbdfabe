//! Everything the screen shows and the reducer changes. No I/O handles live here.
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui_textarea::{TextArea, WrapMode};

pub use crate::app::conversations::{Browser, BrowserMode, ConversationMeta, Search};
use crate::app::sampling::{PresetValues, Sampling, builtin_presets};
use crate::config::{Config, Keymap};
use crate::engine::protocol::{FinishReason, GenStats, ModelSpec, RequestId, Role};
use crate::gpu::GpuHistory;
use crate::gpu::snapshot::GpuSnapshot;
use crate::ui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    Settings,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MessageStatus {
    Complete,
    Streaming,
    /// Stopped by the user; the partial answer is kept.
    Stopped,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    /// Already sanitized: safe to draw.
    pub text: String,
    pub status: MessageStatus,
    pub request: Option<RequestId>,
    pub stats: Option<GenStats>,
    pub finish: Option<FinishReason>,
    /// For an answer: the settings and the model it was generated with (saved with it).
    pub sampling: Option<Sampling>,
    pub model: Option<String>,
}

impl Message {
    pub fn user(text: &str) -> Self {
        Self::new(Role::User, text, MessageStatus::Complete)
    }

    pub fn new(role: Role, text: &str, status: MessageStatus) -> Self {
        Self {
            role,
            text: crate::text::sanitize(text),
            status,
            request: None,
            stats: None,
            finish: None,
            sampling: None,
            model: None,
        }
    }
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
    pub api: crate::server::status::ApiStatus,
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
}

pub fn new_input(theme: Theme) -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_wrap_mode(WrapMode::WordOrGlyph);
    input.set_cursor_line_style(ratatui::style::Style::new());
    input.set_placeholder_text("type here · Enter sends · Alt+Enter new line · Tab settings");
    input.set_placeholder_style(theme.dim());
    input
}
