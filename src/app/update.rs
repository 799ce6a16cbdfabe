//! The whole behaviour of the console as a pure function: `update(state, action) -> effects`.
//! No I/O here, so every hard case is a plain unit test.
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::action::{Action, Effect};
use crate::app::answer::{answer_mut, stop_answer};
use crate::app::overlays::BrowserMode;
use crate::app::saving;
use crate::app::state::{Focus, ModelState, NoticeLevel, State, new_input};
use crate::app::conversations;
use crate::chat::{ChatMessage, FinishReason, Message, MessageStatus, Role};
use crate::engine::{EngineCommand, EngineEvent, GenerateRequest};
use crate::keys::Command;
use crate::sampling::Field;

/// Pastes larger than this are refused whole rather than freezing the input box.
pub const MAX_PASTE_BYTES: usize = 1 << 20;

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => on_key(state, key),
        Action::Paste(text) => on_paste(state, &text),
        Action::Resize(w, h) => {
            state.size = (w, h);
            Vec::new()
        }
        Action::Command(command) => run_command(state, command),
        Action::Engine(event) => on_engine(state, event),
        Action::Server(event) => {
            state.api.apply(event);
            Vec::new()
        }
        Action::Gpu(snapshot) => {
            state.gpu_history.record(&snapshot);
            state.gpu = Some(snapshot);
            Vec::new()
        }
        Action::Tick(now) => {
            state.now = now;
            Vec::new()
        }
        Action::Saved(Ok(path)) => state.notice(NoticeLevel::Info, format!("settings saved to {}", path.display())),
        Action::Saved(Err(e)) => state.notice(NoticeLevel::Error, format!("settings not saved: {e}")),
        Action::ModelChosen(Ok(spec)) => {
            if state.generating.is_some() {
                return state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
            }
            state.model = ModelState::Loading { stage: "starting".into(), since: state.now };
            state.model_spec = spec.clone();
            vec![Effect::Engine(EngineCommand::Load(spec))]
        }
        Action::ModelChosen(Err(e)) => state.notice(NoticeLevel::Error, e),
        Action::Store(reply) => conversations::on_store(state, reply),
        Action::Copied(result) => conversations::on_copied(state, result),
        Action::Shutdown => stop_answer(state),
        Action::Problem(text) => state.notice(NoticeLevel::Error, text),
        // The loop acts on these itself.
        Action::Signal(_) | Action::TerminalClosed(_) => Vec::new(),
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if state.show_help {
        // Any key closes the overlay; the key that closes it does nothing else.
        state.show_help = false;
        return Vec::new();
    }
    if state.api.show {
        // The request log: arrows select, Esc or its own key closes, quit still quits.
        match key.code {
            KeyCode::Up => state.api.select(-1),
            KeyCode::Down => state.api.select(1),
            KeyCode::PageUp => state.api.select(-10),
            KeyCode::PageDown => state.api.select(10),
            KeyCode::Home => state.api.select(isize::MIN),
            KeyCode::End => state.api.select(isize::MAX),
            KeyCode::Esc => state.api.show = false,
            _ => match state.keymap.lookup(&key) {
                Some(Command::ApiRequests) => state.api.show = false,
                Some(Command::Quit) => {
                    state.api.show = false;
                    return run_command(state, Command::Quit);
                }
                _ => {}
            },
        }
        return Vec::new();
    }
    if let KeyCode::Char(c) = key.code
        && crate::text::is_neutralised(c)
    {
        // A control character as a "key" (some terminals pass them through) is never text.
        return Vec::new();
    }
    let bound = state.keymap.lookup(&key);
    if state.resume.is_some()
        && let Some(effects) = conversations::on_resume_key(state, &key, bound)
    {
        return effects;
    }
    if state.browser.is_some()
        && let Some(effects) = conversations::on_browser_key(state, key, bound)
    {
        return effects;
    }
    if state.search.is_some()
        && let Some(effects) = conversations::on_search_key(state, key, bound)
    {
        return effects;
    }
    if state.settings.editor.is_some() {
        return on_editor_key(state, key);
    }
    let command = state.keymap.lookup(&key).filter(|_| !typed_into_input(state, &key));
    if state.focus == Focus::Settings && command != Some(Command::Quit) && on_settings_key(state, &key) {
        return Vec::new();
    }
    if let Some(command) = command {
        return run_command(state, command);
    }
    if state.focus == Focus::Input {
        state.quit_armed = false;
        state.input.input(key);
    }
    Vec::new()
}

/// A printable character bound to a command (like `?`) still types into a non-empty input.
fn typed_into_input(state: &State, key: &KeyEvent) -> bool {
    let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
    matches!(key.code, KeyCode::Char(_)) && plain && state.focus == Focus::Input && !state.input.is_empty()
}

fn on_paste(state: &mut State, text: &str) -> Vec<Effect> {
    if text.len() > MAX_PASTE_BYTES {
        let kib = text.len() / 1024;
        return state.notice(NoticeLevel::Warn, format!("paste refused: {kib} KiB is over the 1024 KiB limit"));
    }
    let clean = crate::text::sanitize(text);
    state.resume = None;
    if let Some(browser) = state.browser.as_mut() {
        if let BrowserMode::Rename(editor) | BrowserMode::Filter(editor) = &mut browser.mode {
            editor.insert_str(clean.replace('\n', " "));
        }
    } else if let Some(search) = state.search.as_mut() {
        search.query.insert_str(clean.replace('\n', " "));
    } else if let Some(editor) = state.settings.editor.as_mut() {
        editor.insert_str(&clean);
    } else {
        state.focus = Focus::Input;
        state.input.insert_str(&clean);
    }
    Vec::new()
}

fn run_command(state: &mut State, command: Command) -> Vec<Effect> {
    if command != Command::Quit {
        state.quit_armed = false;
    }
    let page = crate::layout::chat_page_height(state.size);
    match command {
        Command::Quit => quit(state),
        Command::Send => send(state),
        Command::InsertNewline => {
            if state.focus == Focus::Input {
                state.input.insert_newline();
            }
            Vec::new()
        }
        Command::Stop => stop_answer(state),
        Command::FocusNext => {
            state.focus = match state.focus {
                Focus::Input => Focus::Settings,
                Focus::Settings => Focus::Input,
            };
            Vec::new()
        }
        Command::ToggleHelp => {
            state.show_help = !state.show_help;
            Vec::new()
        }
        Command::ApiRequests => {
            state.api.show = !state.api.show;
            Vec::new()
        }
        Command::ScrollUp => scroll_by(state, -1),
        Command::ScrollDown => scroll_by(state, 1),
        Command::PageUp => scroll_by(state, -(page as isize)),
        Command::PageDown => scroll_by(state, page as isize),
        Command::ScrollTop => {
            state.scroll_top = Some(0);
            Vec::new()
        }
        Command::FollowTail => {
            state.scroll_top = None;
            Vec::new()
        }
        Command::Regenerate => regenerate(state),
        Command::EditLast => edit_last(state),
        Command::ClearConversation => {
            let mut effects = stop_answer(state);
            saving::start_new(state);
            state.notice = None;
            effects.extend(state.notice(NoticeLevel::Info, "new conversation (the last one is saved: F3)"));
            effects
        }
        Command::Conversations => conversations::open_browser(state),
        Command::Search => conversations::open_search(state),
        Command::CopyLast => conversations::copy_last(state),
        Command::NextPreset => next_preset(state),
        Command::SaveSettings => {
            vec![Effect::SaveSettings { sampling: state.sampling.clone(), preset: current_preset(state) }]
        }
        Command::ReloadModel => {
            if state.generating.is_some() {
                return state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
            }
            vec![Effect::ChooseModel { path: None }]
        }
    }
}

fn current_preset(state: &State) -> Option<String> {
    state.preset.clone().filter(|_| !state.preset_modified)
}

fn quit(state: &mut State) -> Vec<Effect> {
    if state.generating.is_some() && !state.quit_armed {
        let mut effects = stop_answer(state);
        state.quit_armed = true;
        effects.extend(state.notice(NoticeLevel::Warn, "answer stopped; press quit again to leave"));
        return effects;
    }
    state.should_quit = true;
    vec![Effect::Quit]
}

fn send(state: &mut State) -> Vec<Effect> {
    let text = state.input.lines().join("\n");
    if text.trim().is_empty() {
        return Vec::new();
    }
    if let Some(effects) = conversations::slash_command(state, &text) {
        state.input = new_input(state.theme);
        return effects;
    }
    if state.generating.is_some() {
        return state.notice(NoticeLevel::Warn, "still answering: Esc stops it");
    }
    if !matches!(state.model, ModelState::Ready { .. }) {
        // Keep the text: nothing typed is lost while the model loads.
        return state.notice(NoticeLevel::Warn, "the model is not loaded yet; your message is kept");
    }
    state.input = new_input(state.theme);
    state.messages.push(Message::user(&text));
    start_answer(state)
}

/// Appends an empty streaming answer and asks the engine for it.
fn start_answer(state: &mut State) -> Vec<Effect> {
    let id = state.next_request;
    state.next_request += 1;
    let messages = conversation(state);
    let mut answer = Message::new(Role::Assistant, "", MessageStatus::Streaming);
    answer.request = Some(id);
    answer.sampling = Some(state.sampling.clone());
    answer.model = match &state.model {
        ModelState::Ready { name, .. } => Some(name.clone()),
        _ => None,
    };
    state.messages.push(answer);
    state.generating = Some(id);
    state.scroll_top = None;
    state.notice = None;
    state.unsupported.clear();
    let mut effects =
        vec![Effect::Engine(EngineCommand::Generate(GenerateRequest { id, messages, sampling: state.sampling.clone() }))];
    // The question is on disk before the answer starts: a crash loses at most the answer.
    effects.extend(saving::save(state));
    effects
}

/// The request's messages: the system prompt, then every exchange that got an answer.
fn conversation(state: &State) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    if !state.sampling.raw_mode && !state.sampling.system_prompt.trim().is_empty() {
        out.push(ChatMessage { role: Role::System, content: state.sampling.system_prompt.clone() });
    }
    let mut pending_user: Option<&Message> = None;
    for m in &state.messages {
        match m.role {
            Role::User => pending_user = Some(m),
            Role::Assistant => {
                let answered = !m.text.is_empty() && !matches!(m.status, MessageStatus::Failed(_));
                if let (Some(user), true) = (pending_user.take(), answered) {
                    out.push(ChatMessage { role: Role::User, content: user.text.clone() });
                    out.push(ChatMessage { role: Role::Assistant, content: m.text.clone() });
                }
            }
            Role::System => {}
        }
    }
    if let Some(user) = pending_user {
        out.push(ChatMessage { role: Role::User, content: user.text.clone() });
    }
    out
}

fn regenerate(state: &mut State) -> Vec<Effect> {
    if state.generating.is_some() {
        return state.notice(NoticeLevel::Warn, "still answering: Esc stops it");
    }
    if !matches!(state.model, ModelState::Ready { .. }) {
        return state.notice(NoticeLevel::Warn, "the model is not loaded yet");
    }
    if state.messages.last().is_some_and(|m| m.role == Role::Assistant) {
        state.messages.pop();
    }
    if state.messages.last().is_none_or(|m| m.role != Role::User) {
        return state.notice(NoticeLevel::Info, "nothing to regenerate");
    }
    start_answer(state)
}

fn edit_last(state: &mut State) -> Vec<Effect> {
    if state.generating.is_some() {
        return state.notice(NoticeLevel::Warn, "still answering: Esc stops it");
    }
    let Some(pos) = state.messages.iter().rposition(|m| m.role == Role::User) else {
        return state.notice(NoticeLevel::Info, "no question to edit");
    };
    let text = state.messages[pos].text.clone();
    state.messages.truncate(pos);
    state.input = new_input(state.theme);
    state.input.insert_str(&text);
    state.focus = Focus::Input;
    Vec::new()
}

fn next_preset(state: &mut State) -> Vec<Effect> {
    if state.presets.is_empty() {
        return Vec::new();
    }
    let current = state.preset.as_ref().and_then(|p| state.presets.iter().position(|(n, _)| n == p));
    let next = current.map_or(0, |i| (i + 1) % state.presets.len());
    let (name, values) = state.presets[next].clone();
    state.sampling.apply(&values);
    state.preset = Some(name.clone());
    state.preset_modified = false;
    state.settings.error = None;
    state.notice(NoticeLevel::Info, format!("preset {name} applied"))
}

fn scroll_by(state: &mut State, delta: isize) -> Vec<Effect> {
    let page = crate::layout::chat_page_height(state.size);
    let max_top = state.chat_plan().last_top(page);
    let top = state.scroll_top.unwrap_or(max_top);
    let new_top = top.saturating_add_signed(delta).min(max_top);
    state.scroll_top = if new_top >= max_top { None } else { Some(new_top) };
    Vec::new()
}

fn on_engine(state: &mut State, event: EngineEvent) -> Vec<Effect> {
    match event {
        EngineEvent::LoadStage { stage } => {
            let since = match &state.model {
                ModelState::Loading { since, .. } => *since,
                _ => state.now,
            };
            state.model = ModelState::Loading { stage: crate::text::sanitize(&stage), since };
        }
        EngineEvent::Loaded { model, context_len } => {
            state.model = ModelState::Ready { name: crate::text::sanitize(&model), context_len };
        }
        EngineEvent::LoadWarning { warning } => return state.notice(NoticeLevel::Warn, warning),
        EngineEvent::LoadRejected { reason, model, context_len } => {
            let model = crate::text::sanitize(&model);
            let text = format!("not loaded: {reason}; still using {model}");
            state.model = ModelState::Ready { name: model, context_len };
            return state.notice(NoticeLevel::Error, text);
        }
        EngineEvent::LoadFailed { reason } => {
            state.model = ModelState::Failed { reason: crate::text::sanitize(&reason) };
        }
        EngineEvent::Token { id, text } => {
            // Tokens for a request the user stopped are dropped.
            if state.generating == Some(id)
                && let Some(m) = answer_mut(state, id)
            {
                m.text.push_str(&crate::text::sanitize(&text));
            }
        }
        EngineEvent::Finished { id, reason, stats } => {
            state.context_used = stats.prompt_tokens + stats.completion_tokens;
            if state.generating == Some(id) {
                state.generating = None;
            }
            if let Some(m) = answer_mut(state, id) {
                if m.status == MessageStatus::Streaming {
                    m.status = MessageStatus::Complete;
                    m.finish = Some(reason);
                }
                m.stats = Some(stats);
                return saving::save(state);
            }
        }
        EngineEvent::Failed { id, error } => {
            if state.generating == Some(id) {
                state.generating = None;
            }
            if let Some(m) = answer_mut(state, id) {
                m.status = MessageStatus::Failed(crate::text::sanitize(&error));
                m.finish = Some(FinishReason::Error);
                return saving::save(state);
            }
        }
        EngineEvent::Trimmed { dropped_messages, .. } => {
            let text = format!("context full: the {dropped_messages} oldest messages were left out of this request");
            return state.notice(NoticeLevel::Warn, text);
        }
        EngineEvent::Unsupported { what, .. } => state.unsupported = what,
    }
    Vec::new()
}

/// Keys the settings pane handles itself; returns false for keys it leaves to the keymap.
fn on_settings_key(state: &mut State, key: &KeyEvent) -> bool {
    if !key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
        return false;
    }
    let count = Field::ALL.len();
    let field = Field::ALL[state.settings.selected.min(count - 1)];
    match key.code {
        KeyCode::Up => state.settings.selected = (state.settings.selected + count - 1) % count,
        KeyCode::Down => state.settings.selected = (state.settings.selected + 1) % count,
        KeyCode::Left | KeyCode::Char('-') => nudge(state, field, -1),
        KeyCode::Right | KeyCode::Char('+') => nudge(state, field, 1),
        KeyCode::Enter => {
            let mut editor = new_input(state.theme);
            editor.insert_str(state.sampling.edit_text(field));
            state.settings.editor = Some(editor);
            state.settings.error = None;
        }
        _ => return false,
    }
    true
}

fn nudge(state: &mut State, field: Field, steps: i32) {
    let before = state.sampling.clone();
    state.sampling.nudge(field, steps);
    if state.sampling != before {
        state.preset_modified = true;
        state.settings.error = None;
    }
}

fn on_editor_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let field = Field::ALL[state.settings.selected.min(Field::ALL.len() - 1)];
    let newline = key.modifiers.intersects(KeyModifiers::ALT | KeyModifiers::SHIFT);
    match key.code {
        KeyCode::Esc => {
            state.settings.editor = None;
            state.settings.error = None;
        }
        KeyCode::Enter if newline && field == Field::SystemPrompt => {
            if let Some(editor) = state.settings.editor.as_mut() {
                editor.insert_newline();
            }
        }
        KeyCode::Enter => {
            let text = state.settings.editor.as_ref().map(|e| e.lines().join("\n")).unwrap_or_default();
            let before = state.sampling.clone();
            match state.sampling.set_from_text(field, &text) {
                Ok(()) => {
                    state.settings.editor = None;
                    state.settings.error = None;
                    if state.sampling != before {
                        state.preset_modified = true;
                    }
                }
                // The editor stays open with the refused text; the old value is still in force.
                Err(e) => state.settings.error = Some(e.message),
            }
        }
        _ => {
            if let Some(editor) = state.settings.editor.as_mut() {
                editor.input(key);
            }
        }
    }
    Vec::new()
}
