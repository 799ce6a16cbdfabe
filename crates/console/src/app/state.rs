//! Everything the screen shows and the reducer changes. No I/O handles live here.
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui_textarea::{TextArea, WrapMode};

use crate::app::action::Effect;
pub use crate::app::overlays::{Browser, BrowserMode, ConversationMeta, Search};
use llamadeck_config::Config;
use llamadeck_engine::ModelSpec;
use llamadeck_gpu::GpuHistory;
use llamadeck_gpu::snapshot::GpuSnapshot;
use llamadeck_words::chat::{GenStats, Message, RequestId};
use llamadeck_words::keys::Keymap;
use llamadeck_words::layout::chat_lines::{ChatPlan, Note, Tone};
use llamadeck_words::sampling::{Field, PresetValues, Sampling, builtin_presets};
use llamadeck_words::theme::Theme;

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

impl NoticeLevel {
    /// How long a notice stays in the status bar: errors long enough to be read on return.
    pub fn lifetime(self) -> Duration {
        Duration::from_secs(match self {
            NoticeLevel::Info => 6,
            NoticeLevel::Warn => 12,
            NoticeLevel::Error => 30,
        })
    }
}

/// What a notice is about: a notice about the model goes when the model's state changes (the
/// chat pane then shows that state itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    Model,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub level: NoticeLevel,
    /// A path shown after the text; a narrow status bar shortens it from the left, keeping
    /// the file name.
    pub path: Option<String>,
    pub shown_at: Instant,
    pub about: About,
}

/// The settings pane: which row is selected (0 is the preset, then `Field::ALL`), and the
/// editor when a value is being typed.
#[derive(Debug, Clone)]
pub struct SettingsPane {
    pub selected: usize,
    pub editor: Option<TextArea<'static>>,
    /// Why the last entry was refused; the previous value stayed.
    pub error: Option<String>,
}

impl Default for SettingsPane {
    /// Temperature selected: the value people change most.
    fn default() -> Self {
        Self { selected: 1, editor: None, error: None }
    }
}

impl SettingsPane {
    /// Rows: the preset, then every field.
    pub const ROWS: usize = Field::ALL.len() + 1;

    /// The field on the selected row; None on the preset row.
    pub fn field(&self) -> Option<Field> {
        self.selected.checked_sub(1).and_then(|i| Field::ALL.get(i).copied())
    }

    /// Selects `field`'s row.
    pub fn select(&mut self, field: Field) {
        self.selected = 1 + Field::ALL.iter().position(|f| *f == field).unwrap_or(0);
    }
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
    /// Your own values: what "custom" in the preset row brings back (the config's values until
    /// you change one).
    pub custom: Sampling,
    /// The config file as last read (at start, by F5) or as Ctrl+S saved it: its sampling values
    /// are what a preset leaves alone.
    pub config: Config,
    /// The values the settings pane held when it last agreed with the file: F5 keeps what was
    /// changed since, and takes the file's values for the rest.
    pub settings_origin: Sampling,
    pub settings: SettingsPane,
    /// What mistralrs cannot honour among the current settings, as the engine reported.
    pub unsupported: Vec<String>,
    pub model: ModelState,
    /// The model being loaded or loaded.
    pub model_spec: ModelSpec,
    /// The model that answers now, kept while another loads: a refused load falls back to it.
    pub serving_spec: Option<ModelSpec>,
    /// `--model`, which F5 loads again (with the config's other model settings).
    pub cli_model: Option<String>,
    /// The last `/model` or F5 that the engine refused (source, why), until the next load or send.
    pub load_refused: Option<(String, String)>,
    /// What the loaded model's load warned of (it may not fit), kept in view while it serves.
    pub load_warnings: Vec<String>,
    pub generating: Option<RequestId>,
    pub next_request: RequestId,
    pub gpu: Option<Arc<GpuSnapshot>>,
    pub gpu_history: GpuHistory,
    /// Tokens of the last request's prompt and answer, for the context meter.
    pub context_used: usize,
    /// `context_used` is not the engine's count for this model yet: an answer still streaming
    /// (its tokens counted as they arrive), or a count read from a saved conversation.
    pub context_estimated: bool,
    pub show_help: bool,
    /// First help line on screen (the help scrolls on small terminals).
    pub help_scroll: usize,
    /// The API server as the console sees it (F4 shows its recent requests).
    pub api: crate::app::api::ApiStatus,
    /// The other nodes and which one the chat talks to (F6 shows them).
    pub fleet: crate::app::fleet::FleetView,
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
    pub resume: Option<llamadeck_store::Summary>,
    /// The chat's line plan, kept up to date by `update` so a key press never re-wraps the
    /// whole history (read through `chat_plan`).
    pub plan: ChatPlan,
}

impl State {
    pub fn new(config: &Config, keymap: Keymap, model_spec: ModelSpec, theme: Theme, now: Instant) -> Self {
        let presets = presets_of(config);
        let sampling = starting_sampling(config, &presets);
        // `model_spec` names the config's model unless --model named another.
        let cli_model = (model_spec.source != config.model_spec(None).source).then(|| model_spec.source.clone());
        let gpu_samples = (config.gpu.history_secs * 1000 / config.gpu.interval_ms.max(1)).max(2) as usize;
        Self {
            messages: Vec::new(),
            input: new_input(theme),
            focus: Focus::Input,
            scroll_top: None,
            custom: config.sampling.clone(),
            config: config.clone(),
            settings_origin: sampling.clone(),
            sampling,
            presets,
            preset: config.preset.clone(),
            preset_modified: false,
            settings: SettingsPane::default(),
            unsupported: Vec::new(),
            model: ModelState::Loading { stage: "starting".into(), since: now },
            model_spec,
            serving_spec: None,
            cli_model,
            load_refused: None,
            load_warnings: Vec::new(),
            generating: None,
            next_request: 1,
            gpu: None,
            gpu_history: GpuHistory::new(gpu_samples),
            context_used: 0,
            context_estimated: false,
            show_help: false,
            help_scroll: 0,
            api: Default::default(),
            fleet: Default::default(),
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
            plan: ChatPlan::default(),
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
        let path = path.map(|p| llamadeck_words::text::sanitize(&p).replace('\n', " "));
        self.notice = Some(Notice { text: llamadeck_words::text::sanitize(text), level, path, shown_at: self.now, about });
        Vec::new()
    }

    /// The clock moved on: notices past their time go.
    pub fn expire_notice(&mut self) {
        if self.notice.as_ref().is_some_and(|n| self.now.saturating_duration_since(n.shown_at) >= n.level.lifetime()) {
            self.notice = None;
        }
    }

    /// The first key bound to `command`, as the hint bar writes it.
    pub fn key_for(&self, command: llamadeck_words::keys::Command) -> String {
        self.keymap.keys_for(command).first().map_or_else(|| command.name().to_string(), |k| k.to_string())
    }

    /// The name an answer's header shows: the model that wrote it.
    pub fn model_name(&self) -> Option<&str> {
        match &self.model {
            ModelState::Ready { name, .. } => Some(name),
            _ => None,
        }
    }

    /// What the chat pane shows after the messages: the model's loading stage or failure, or a
    /// first hint in an empty conversation.
    pub fn chat_notes(&self) -> Vec<Note> {
        let note = |text: String, tone| Note { text, tone };
        match &self.model {
            ModelState::Loading { stage, .. } => {
                let secs = self.loading_elapsed().map_or(0, |d| d.as_secs());
                let what = match &self.fleet.target {
                    Some(node) => format!("connecting to {node}"),
                    None => format!("loading {}", self.model_spec.source),
                };
                vec![note(format!("{what}: {stage} · {secs} s"), Tone::Warn)]
            }
            ModelState::Failed { reason } if let Some(node) = &self.fleet.target => vec![
                note(format!("{node} is not serving: {reason}"), Tone::Error),
                note(
                    format!(
                        "{} chooses another node; F5 asks this one again (so does its coming back up)",
                        self.key_for(llamadeck_words::keys::Command::Fleet)
                    ),
                    Tone::Dim,
                ),
            ],
            ModelState::Ready { name, .. } if let Some((source, reason)) = &self.load_refused => vec![
                note(format!("{source} was not loaded: {reason}"), Tone::Error),
                note(format!("{name} is still loaded and answering, here and on the API."), Tone::Dim),
            ],
            ModelState::Failed { reason } => vec![
                note(format!("the model did not load: {reason}"), Tone::Error),
                note("fix the config and press F5 to load again, or type /model PATH and Enter".into(), Tone::Dim),
            ],
            ModelState::Ready { .. } => {
                let mut notes: Vec<Note> = self.load_warnings.iter().map(|w| note(format!("warning: {w}"), Tone::Warn)).collect();
                if self.messages.is_empty() {
                    notes.push(note("Ask anything. Enter sends · Alt+Enter new line · Tab settings · F1 help".into(), Tone::Dim));
                }
                notes
            }
        }
    }

    /// The chat's line plan at the current terminal size: the kept one when it is up to date
    /// (after every `update` it is), else a fresh one.
    pub fn chat_plan(&self) -> Cow<'_, ChatPlan> {
        self.chat_plan_at(llamadeck_words::layout::chat_text_width(self.size))
    }

    /// The line plan at a text width of `width` (the chat pane draws at its own width).
    pub fn chat_plan_at(&self, width: usize) -> Cow<'_, ChatPlan> {
        let (notes, epoch) = (self.chat_notes(), self.conversation.serial);
        if self.plan.is_current(&self.messages, &notes, width, epoch) {
            return Cow::Borrowed(&self.plan);
        }
        let mut plan = self.plan.clone();
        plan.refresh(&self.messages, &notes, width, epoch);
        Cow::Owned(plan)
    }

    /// Brings the kept line plan up to date (wrapping only what changed).
    pub fn refresh_plan(&mut self) {
        let (notes, width, epoch) = (self.chat_notes(), llamadeck_words::layout::chat_text_width(self.size), self.conversation.serial);
        self.plan.refresh(&self.messages, &notes, width, epoch);
    }
}

/// The built-in presets, then the config's own (one of the same name replaces the built-in).
pub fn presets_of(config: &Config) -> Vec<(String, PresetValues)> {
    let mut presets = builtin_presets();
    for (name, values) in &config.presets {
        presets.retain(|(n, _)| n != name);
        presets.push((name.clone(), values.clone()));
    }
    presets
}

/// The values the settings pane starts from: `sampling:` with the `preset:` applied.
pub fn starting_sampling(config: &Config, presets: &[(String, PresetValues)]) -> Sampling {
    let mut sampling = config.sampling.clone();
    if let Some(name) = &config.preset
        && let Some((_, values)) = presets.iter().find(|(n, _)| n == name)
    {
        sampling.apply(values);
    }
    sampling
}

pub fn new_input(theme: Theme) -> TextArea<'static> {
    let mut input = new_editor(theme, "type here · Enter sends · Alt+Enter new line · Tab settings");
    input.set_wrap_mode(WrapMode::WordOrGlyph);
    input
}

/// A text editor in the console's style, showing `placeholder` while empty. Its selection is
/// drawn reversed, so it shows without colour too (NO_COLOR).
pub fn new_editor(theme: Theme, placeholder: &str) -> TextArea<'static> {
    let mut editor = TextArea::default();
    editor.set_cursor_line_style(ratatui::style::Style::new());
    editor.set_selection_style(theme.selected());
    editor.set_placeholder_text(placeholder);
    editor.set_placeholder_style(theme.dim());
    editor
}
