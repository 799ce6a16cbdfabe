//! The whole behaviour of the console as a pure function: `update(state, action) -> effects`.
//! No I/O here, so every hard case is a plain unit test.
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::action::{Action, Effect};
use crate::app::answer::stop_answer;
use crate::app::conversations::{self, Slash};
use crate::app::model;
use crate::app::overlays::BrowserMode;
use crate::app::saving;
use crate::app::settings;
use crate::app::state::{Focus, ModelState, NoticeLevel, State, new_input};
use llamadeck_engine::{EngineCommand, GenerateRequest, Priority};
use llamadeck_words::chat::{ChatMessage, Message, MessageStatus, Role};
use llamadeck_words::keys::Command;

/// Pastes larger than this are refused whole rather than freezing the input box.
pub const MAX_PASTE_BYTES: usize = 1 << 20;

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let effects = apply(state, action);
    // The line plan is kept only while something reads it (a scrolled chat, a search):
    // following the tail, tokens and resizes never wrap the whole history.
    if state.scroll_top.is_some() || state.search.is_some() {
        state.refresh_plan();
    }
    effects
}

fn apply(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => on_key(state, key),
        Action::Paste(text) => on_paste(state, &text),
        Action::Resize(w, h) => {
            state.size = (w, h);
            Vec::new()
        }
        Action::Command(command) => run_command(state, command),
        Action::Engine(event) => model::on_engine(state, event),
        Action::Status { epoch, event } if epoch == state.fleet.epoch => model::on_engine(state, event),
        Action::Status { .. } => Vec::new(),
        Action::Fleet(fleet) => crate::app::fleet::on_fleet(state, fleet),
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
            // Ticks come from more than one place; the clock never goes back.
            state.now = state.now.max(now);
            state.expire_notice();
            Vec::new()
        }
        Action::Saved { result: Ok(path), sampling, preset } => {
            settings::saved(state, sampling, preset);
            state.path_notice(NoticeLevel::Info, "settings saved to ", &path)
        }
        Action::Saved { result: Err(e), .. } => state.notice(NoticeLevel::Error, format!("settings not saved: {e}")),
        Action::ModelChosen(_) if let Some(node) = &state.fleet.target => {
            let key = state.key_for(Command::Fleet);
            let text = format!("/model loads a model here, and the chat talks to {node}: choose local in the fleet pane ({key}) first");
            state.notice(NoticeLevel::Warn, text)
        }
        Action::ModelChosen(spec) => {
            if state.generating.is_some() {
                return state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
            }
            model::start_load(state, spec)
        }
        Action::ConfigReread(Ok(reread)) => model::on_config_reread(state, *reread),
        Action::ConfigReread(Err(e)) => {
            state.notice(NoticeLevel::Error, format!("{e} · nothing was changed or reloaded; fix it and press F5 again"))
        }
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
        on_help_key(state, &key);
        return Vec::new();
    }
    if state.fleet.show
        && let Some(effects) = crate::app::fleet::on_key(state, &key, state.keymap.lookup(&key))
    {
        return effects;
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
        && llamadeck_words::text::is_neutralised(c)
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
        return settings::on_editor_key(state, key);
    }
    if bound == Some(Command::Search)
        && let Some(effects) = slash_key(state, &key)
    {
        return effects;
    }
    let command = bound.filter(|_| !typed_into_input(state, &key));
    if state.focus == Focus::Settings && command != Some(Command::Quit) && settings::on_key(state, &key) {
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

/// Help scrolls with the arrows, pages and Home/End; any other key closes it and does nothing else.
fn on_help_key(state: &mut State, key: &KeyEvent) {
    let rows = crate::app::help::rows(&state.keymap).len();
    let page = crate::app::help::page_height(rows, state.size.1).max(1);
    let max = rows.saturating_sub(page);
    let top = state.help_scroll.min(max);
    state.help_scroll = match key.code {
        KeyCode::Up => top.saturating_sub(1),
        KeyCode::Down => (top + 1).min(max),
        KeyCode::PageUp => top.saturating_sub(page),
        KeyCode::PageDown | KeyCode::Char(' ') => (top + page).min(max),
        KeyCode::Home => 0,
        KeyCode::End => max,
        _ => {
            state.show_help = false;
            return;
        }
    };
}

/// A printable key bound to search (`/`) in the message box: in an empty box it starts a
/// command (`/model`, `/export`); pressed again at once, it opens the search instead.
/// None: the key does what it always does.
fn slash_key(state: &mut State, key: &KeyEvent) -> Option<Vec<Effect>> {
    let KeyCode::Char(c) = key.code else { return None };
    let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
    if !plain || state.focus != Focus::Input {
        return None;
    }
    if state.input.is_empty() {
        state.quit_armed = false;
        state.input.input(*key);
        return Some(Vec::new());
    }
    if state.input.lines() == [c.to_string()] {
        state.input = new_input(state.theme);
        return Some(conversations::open_search(state));
    }
    None
}

/// A printable character bound to a command (like `?`) still types into a non-empty input.
fn typed_into_input(state: &State, key: &KeyEvent) -> bool {
    let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
    matches!(key.code, KeyCode::Char(_)) && plain && state.focus == Focus::Input && !state.input.is_empty()
}

fn on_paste(state: &mut State, text: &str) -> Vec<Effect> {
    if text.len() > MAX_PASTE_BYTES {
        // Rounded up, so the size shown is always over the limit.
        let kib = text.len().div_ceil(1024);
        let limit = MAX_PASTE_BYTES / 1024;
        return state
            .notice(NoticeLevel::Warn, format!("paste refused: {kib} KiB is over the {limit} KiB (1 MiB) limit; nothing was pasted"));
    }
    let clean = llamadeck_words::text::sanitize(&llamadeck_words::text::normalize_newlines(text));
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
    let page = llamadeck_words::layout::chat_page_height(state.size);
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
            state.help_scroll = 0;
            Vec::new()
        }
        Command::ApiRequests => {
            state.api.show = !state.api.show;
            Vec::new()
        }
        Command::Fleet => crate::app::fleet::toggle(state),
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
        Command::NextPreset => settings::next_preset(state),
        Command::SaveSettings => {
            vec![Effect::SaveSettings { sampling: state.sampling.clone(), preset: settings::current_preset(state) }]
        }
        Command::ReloadModel => {
            if state.generating.is_some() {
                return state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
            }
            vec![Effect::ReloadConfig]
        }
    }
}

fn quit(state: &mut State) -> Vec<Effect> {
    if state.generating.is_some() && !state.quit_armed {
        let mut effects = stop_answer(state);
        state.quit_armed = true;
        let key = state.keymap.keys_for(Command::Quit).first().map_or("quit".to_string(), |k| k.to_string());
        effects.extend(state.notice(NoticeLevel::Warn, format!("answer stopped (kept); press {key} again to leave")));
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
    match conversations::slash_command(state, &text) {
        Slash::Ran(effects) => {
            state.input = new_input(state.theme);
            return effects;
        }
        Slash::Refused(effects) => return effects,
        Slash::Text => {}
    }
    if state.generating.is_some() {
        return state.notice(NoticeLevel::Warn, "still answering: Esc stops it");
    }
    if !matches!(state.model, ModelState::Ready { .. }) {
        // Keep the text: nothing typed is lost while the model loads.
        return state.model_notice(NoticeLevel::Warn, "the model is not loaded yet; your message is kept");
    }
    state.load_refused = None;
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
    // The meter counts the answer's tokens as they come; the engine's count replaces it.
    state.context_estimated = true;
    let mut effects = vec![Effect::Engine(EngineCommand::Generate(GenerateRequest {
        id,
        messages,
        sampling: state.sampling.clone(),
        // The operator is watching: the answer goes before API requests that wait.
        priority: Priority::Interactive,
    }))];
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
        return state.model_notice(NoticeLevel::Warn, "the model is not loaded yet");
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

fn scroll_by(state: &mut State, delta: isize) -> Vec<Effect> {
    let page = llamadeck_words::layout::chat_page_height(state.size);
    state.refresh_plan();
    let max_top = state.plan.last_top(page);
    let top = state.scroll_top.unwrap_or(max_top);
    let new_top = top.saturating_add_signed(delta).min(max_top);
    state.scroll_top = if new_top >= max_top { None } else { Some(new_top) };
    Vec::new()
}
