//! The whole behaviour of the console as a pure function: `update(state, action) -> effects`.
//! No I/O here, so every hard case is a plain unit test.
//!
//! A key goes down the pane stack (`Panes::route`: the overlays from the top, then the focused
//! tiled pane); what no pane takes runs its command here, from the command table. Producers'
//! news changes the session; the few pieces of news a pane waits for (the store's listing for the
//! conversations view, the offer to resume, a new request under F4) are handed to it here.
use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::State;
use crate::panes::conversations::Browser;
use crate::panes::fleet::FleetPane;
use crate::panes::help::Help;
use crate::panes::notices::Notices;
use crate::panes::requests::Requests;
use crate::panes::resume::Resume;
use crate::panes::search::SearchBar;
use crate::panes::slash;
use crate::panes::{Event, Focus, Pane, Panes};
use crate::session::answer::stop_answer;
use crate::session::conversations::{self, Slash};
use crate::session::{Action, Effect, ModelState, NoticeLevel, Quit, Session, fleet, model, presets, saving, selection};
use llamadeck_engine::{EngineCommand, GenerateRequest, Priority};
use llamadeck_store::{Reply, Request};
use llamadeck_words::chat::{ChatMessage, Message, MessageStatus, Role};
use llamadeck_words::keys::Command;

/// Pastes larger than this are refused whole rather than freezing the input box.
pub const MAX_PASTE_BYTES: usize = 1 << 20;

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let serial = state.session.chat.meta.serial;
    let mut effects = apply(state, action);
    // Another conversation: a search over the one left would point at the wrong messages.
    if state.session.chat.meta.serial != serial {
        state.panes.close::<SearchBar>();
    }
    // The slash list shows while a command is typed in the message box.
    effects.extend(slash::sync(&mut state.panes));
    // The line plan is kept only while something reads it (a scrolled chat, a search):
    // following the tail, tokens and resizes never wrap the whole history.
    if state.session.chat.scroll_top.is_some() || state.panes.is_open::<SearchBar>() {
        state.session.refresh_plan();
    }
    effects
}

fn apply(state: &mut State, action: Action) -> Vec<Effect> {
    let State { session, panes } = state;
    match action {
        Action::Key(key) => on_key(state, key),
        Action::Mouse(mouse) => on_mouse(state, &mouse),
        Action::Paste(text) => on_paste(state, &text),
        Action::Resize(w, h) => {
            session.size = (w, h);
            Vec::new()
        }
        Action::Command(command) => run_command(state, command),
        Action::Engine(event) => model::on_engine(session, event),
        Action::Status { epoch, event } if epoch == session.fleet.epoch => model::on_engine(session, event),
        Action::Status { .. } => Vec::new(),
        Action::Fleet(fleet) => fleet::on_fleet(session, fleet),
        Action::Server(event) => {
            if session.api.apply(event)
                && let Some(requests) = panes.find_mut::<Requests>()
            {
                requests.arrived(&session.api);
            }
            Vec::new()
        }
        Action::Gpu(snapshot) => {
            session.gpu.history.record(&snapshot);
            session.gpu.latest = Some(snapshot);
            Vec::new()
        }
        Action::Tick(now) => {
            // Ticks come from more than one place; the clock never goes back.
            session.now = session.now.max(now);
            session.expire_notice();
            Vec::new()
        }
        Action::Saved { result: Ok(path), sampling, preset } => {
            presets::saved(session, sampling, preset);
            session.path_notice(NoticeLevel::Info, "settings saved to ", &path)
        }
        Action::Saved { result: Err(e), .. } => session.notice(NoticeLevel::Error, format!("settings not saved: {e}")),
        Action::ModelChosen(_) if let Some(node) = &session.fleet.target => {
            let key = session.key_for(Command::Fleet);
            let text = format!("/model loads a model here, and the chat talks to {node}: choose local in the fleet pane ({key}) first");
            session.notice(NoticeLevel::Warn, text)
        }
        Action::ModelChosen(spec) => {
            if session.answering() {
                return session.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
            }
            model::choose(session, spec)
        }
        Action::ConfigReread(Ok(reread)) => {
            if !session.answering() {
                panes.settings.reset();
            }
            model::on_config_reread(session, *reread)
        }
        Action::ConfigReread(Err(e)) => {
            session.notice(NoticeLevel::Error, format!("{e} · nothing was changed or reloaded; fix it and press F5 again"))
        }
        Action::Store(reply) => on_store(session, panes, reply),
        Action::PathsFound { typed, found } => {
            slash::paths_found(panes, session, &typed, found);
            Vec::new()
        }
        Action::Copied(result) => conversations::on_copied(session, result),
        Action::Shutdown => stop_answer(&mut session.chat),
        Action::Problem(text) => session.notice(NoticeLevel::Error, text),
        // The loop acts on these itself.
        Action::Signal(_) | Action::TerminalClosed(_) => Vec::new(),
    }
}

/// The store's reply: the session's part, and what the conversations view and the resume offer
/// wait for.
fn on_store(session: &mut Session, panes: &mut Panes, reply: Reply) -> Vec<Effect> {
    let serial = session.chat.meta.serial;
    let mut effects = Vec::new();
    match reply {
        Reply::Listed(listing) => {
            effects.extend(conversations::listed(session, &listing));
            if let Some(list) = panes.find_mut::<slash::SlashList>() {
                list.titles = listing.entries.iter().map(|s| s.title.clone()).collect();
            }
            if let Some(browser) = panes.find_mut::<Browser>() {
                browser.listed(listing);
            }
            return effects;
        }
        Reply::Latest(Some(summary)) if session.chat.messages.is_empty() && !panes.is_open::<Browser>() => {
            panes.open(Resume { summary });
            return effects;
        }
        ref reply if conversations::relists(reply) && panes.is_open::<Browser>() => effects.push(Effect::Store(Request::List)),
        _ => {}
    }
    effects.extend(conversations::on_store(session, reply));
    if session.chat.meta.serial != serial {
        // A conversation was opened: typing goes to it.
        panes.focus = Focus::Chat;
    }
    effects
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if let crossterm::event::KeyCode::Char(c) = key.code
        && llamadeck_words::text::is_neutralised(c)
    {
        // A control character as a "key" (some terminals pass them through) is never text.
        return Vec::new();
    }
    let command = state.session.keymap.lookup(&key);
    if let Some(effects) = state.panes.route(&mut state.session, Event::Key(&key, command)) {
        return effects;
    }
    match command {
        // The notice names the key that was pressed (Ctrl+C or Ctrl+Q).
        Some(Command::Quit) => quit(&mut state.session, Some(&key)),
        Some(command) => run_command(state, command),
        None => Vec::new(),
    }
}

/// Lines the wheel scrolls the chat by.
const WHEEL_LINES: isize = 3;

/// The wheel or a click: the overlays from the top first (one that covers the screen takes
/// it), then the tiled pane under the pointer. A click focuses the chat or the settings.
fn on_mouse(state: &mut State, mouse: &MouseEvent) -> Vec<Effect> {
    let size = state.session.size;
    let rows = state.panes.chat.input_rows(llamadeck_words::layout::input_text_width(size));
    let areas = llamadeck_words::layout::areas(Rect::new(0, 0, size.0, size.1), rows);
    if let Some(effects) = state.panes.route_mouse(&mut state.session, mouse, &areas) {
        return effects;
    }
    let at = Position { x: mouse.column, y: mouse.row };
    let click = crate::panes::is_click(mouse);
    let page = page_height(&state.session, &state.panes);
    if areas.settings.contains(at) {
        if click {
            state.panes.focus = Focus::Settings;
        }
        let State { session, panes } = state;
        panes.settings.on_mouse(mouse, &areas, session);
    } else if areas.chat.contains(at) || areas.input.contains(at) {
        if click && !state.panes.settings.editing() {
            state.panes.focus = Focus::Chat;
        }
        match mouse.kind {
            MouseEventKind::ScrollUp if areas.chat.contains(at) => return scroll_by(&mut state.session, -WHEEL_LINES, page),
            MouseEventKind::ScrollDown if areas.chat.contains(at) => return scroll_by(&mut state.session, WHEEL_LINES, page),
            _ => {}
        }
    }
    Vec::new()
}

fn on_paste(state: &mut State, text: &str) -> Vec<Effect> {
    if text.len() > MAX_PASTE_BYTES {
        // Rounded up, so the size shown is always over the limit.
        let kib = text.len().div_ceil(1024);
        let limit = MAX_PASTE_BYTES / 1024;
        return state
            .session
            .notice(NoticeLevel::Warn, format!("paste refused: {kib} KiB is over the {limit} KiB (1 MiB) limit; nothing was pasted"));
    }
    let clean = llamadeck_words::text::sanitize(&llamadeck_words::text::normalize_newlines(text));
    if let Some(effects) = state.panes.route(&mut state.session, Event::Paste(&clean)) {
        return effects;
    }
    // Nothing took it (the settings pane, no value being typed): the message box does.
    state.panes.focus = Focus::Chat;
    state.panes.chat.on_paste(&clean, &mut state.session);
    Vec::new()
}

/// Opens the overlay `P` (made by `make`), or closes it when it is open.
fn toggle<P: Pane>(panes: &mut Panes, make: impl FnOnce() -> P) -> Vec<Effect> {
    if !panes.close::<P>() {
        panes.open(make());
    }
    Vec::new()
}

fn run_command(state: &mut State, command: Command) -> Vec<Effect> {
    let State { session, panes } = state;
    if command != Command::Quit && session.quit == Quit::Armed {
        session.quit = Quit::No;
    }
    let page = page_height(session, panes);
    match command {
        Command::Quit => quit(session, None),
        Command::Send => send(state),
        Command::InsertNewline => {
            if panes.focus == Focus::Chat {
                panes.chat.input.insert_newline();
            }
            Vec::new()
        }
        Command::Stop if !session.answering() && session.chat.selected.is_some() => {
            // Nothing to stop: Esc lets go of the selection.
            session.chat.selected = None;
            Vec::new()
        }
        Command::Stop => stop_answer(&mut session.chat),
        Command::FocusNext if let Some(effects) = slash::tab(panes, session) => effects,
        Command::FocusNext => {
            panes.focus = match panes.focus {
                Focus::Chat => Focus::Settings,
                Focus::Settings => Focus::Chat,
            };
            Vec::new()
        }
        Command::ToggleHelp => toggle(panes, Help::default),
        Command::ApiRequests => toggle(panes, Requests::default),
        Command::Notices => toggle(panes, Notices::default),
        Command::Fleet => toggle(panes, || FleetPane::new(session)),
        Command::ScrollUp => scroll_by(session, -1, page),
        Command::ScrollDown => scroll_by(session, 1, page),
        Command::PageUp => scroll_by(session, -(page as isize), page),
        Command::PageDown => scroll_by(session, page as isize, page),
        Command::ScrollTop => {
            session.chat.scroll_top = Some(0);
            Vec::new()
        }
        Command::FollowTail => {
            session.chat.scroll_top = None;
            Vec::new()
        }
        Command::Regenerate => regenerate(state),
        Command::EditLast => edit_last(state),
        Command::ClearConversation => {
            let mut effects = stop_answer(&mut session.chat);
            saving::start_new(&mut session.chat);
            session.notice = None;
            effects.extend(session.notice(NoticeLevel::Info, "new conversation (the last one is saved: F3)"));
            effects
        }
        Command::Conversations => {
            panes.close::<Resume>();
            panes.close::<SearchBar>();
            panes.open(Browser::default());
            vec![Effect::Store(Request::List)]
        }
        Command::Search => {
            panes.open(SearchBar::new(session.theme));
            Vec::new()
        }
        Command::CopyLast => selection::copy(session),
        Command::SelectUp => selection::step(session, true),
        Command::SelectDown => selection::step(session, false),
        Command::OlderVersion => selection::flip(session, true),
        Command::NewerVersion => selection::flip(session, false),
        Command::NextPreset => {
            panes.settings.error = None;
            presets::next_preset(session)
        }
        Command::SaveSettings => vec![Effect::SaveSettings { sampling: session.sampling.clone(), preset: session.presets.current() }],
        Command::ReloadModel => {
            if session.answering() {
                return session.notice(NoticeLevel::Warn, "stop the answer first (Esc), then load again");
            }
            vec![Effect::ReloadConfig]
        }
    }
}

/// The first quit while an answer is generated stops it; the next one leaves. `pressed` is
/// the key that asked, which the notice names (none: the command's first key).
fn quit(session: &mut Session, pressed: Option<&KeyEvent>) -> Vec<Effect> {
    if session.answering() && session.quit != Quit::Armed {
        let mut effects = stop_answer(&mut session.chat);
        session.quit = Quit::Armed;
        let key = match pressed {
            Some(key) => llamadeck_words::keys::KeyBinding::new(key.code, key.modifiers).to_string(),
            None => session.key_for(Command::Quit),
        };
        effects.extend(session.notice(NoticeLevel::Warn, format!("answer stopped (kept); press {key} again to leave")));
        return effects;
    }
    session.quit = Quit::Now;
    vec![Effect::Quit]
}

fn send(state: &mut State) -> Vec<Effect> {
    let State { session, panes } = state;
    let text = panes.chat.text();
    if text.trim().is_empty() {
        return Vec::new();
    }
    match conversations::slash_command(session, &text) {
        Slash::Ran(effects) => {
            panes.chat.clear(session.theme);
            return effects;
        }
        Slash::Refused(effects) => return effects,
        Slash::Key(command) => {
            panes.chat.clear(session.theme);
            return run_command(state, command);
        }
        Slash::Text => {}
    }
    if session.answering() {
        return session.notice(NoticeLevel::Warn, "still answering: Esc stops it");
    }
    if !session.model.is_ready() {
        // Keep the text: nothing typed is lost while the model loads or the node is down.
        let text = not_ready(session);
        return session.model_notice(NoticeLevel::Warn, text);
    }
    session.model.refused = None;
    panes.chat.clear(session.theme);
    session.chat.messages.push(Message::user(&text));
    start_answer(session, Vec::new())
}

/// Why a message cannot be sent yet, and what to do: the chosen node's state when the chat
/// talks to a node, else the local model's.
fn not_ready(session: &Session) -> String {
    let Some(node) = &session.fleet.target else { return "the model is not loaded yet; your message is kept".into() };
    match &session.model.state {
        ModelState::Loading { .. } => format!("still connecting to {node}; your message is kept"),
        ModelState::Failed { reason } => format!(
            "{node} is down ({reason}); your message is kept · {} chooses another node, {} asks {node} again",
            session.key_for(Command::Fleet),
            session.key_for(Command::ReloadModel)
        ),
        ModelState::Ready { .. } => String::new(),
    }
}

/// Appends an empty streaming answer (after `earlier` versions of it) and asks the engine for it.
fn start_answer(session: &mut Session, earlier: Vec<Message>) -> Vec<Effect> {
    let id = session.chat.next_request;
    session.chat.next_request += 1;
    let messages = conversation(session);
    let mut answer = Message::new(Role::Assistant, "", MessageStatus::Streaming);
    answer.request = Some(id);
    answer.sampling = Some(session.sampling.clone());
    answer.model = session.model.name().map(str::to_string);
    answer.versions.earlier = earlier;
    answer.node = session.fleet.target.clone();
    let chat = &mut session.chat;
    chat.messages.push(answer);
    chat.generating = Some(id);
    chat.scroll_top = None;
    // The meter counts the answer's tokens as they come; the engine's count replaces it.
    chat.context_estimated = true;
    session.notice = None;
    session.model.unsupported.clear();
    // The operator is watching: the answer goes before API requests that wait.
    let request =
        GenerateRequest { id, messages, sampling: session.sampling.clone(), priority: Priority::Interactive, options: Default::default() };
    let mut effects = vec![Effect::Engine(EngineCommand::Generate(request))];
    // The question is on disk before the answer starts: a crash loses at most the answer.
    effects.extend(saving::save(&session.chat));
    effects
}

/// The request's messages: the system prompt, then every exchange that got an answer.
fn conversation(session: &Session) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    if !session.sampling.raw_mode && !session.sampling.system_prompt.trim().is_empty() {
        out.push(ChatMessage { role: Role::System, content: session.sampling.system_prompt.clone(), tool: None });
    }
    let mut pending_user: Option<&Message> = None;
    for m in &session.chat.messages {
        match m.role {
            Role::User => pending_user = Some(m),
            Role::Assistant => {
                let answered = !m.text.is_empty() && !matches!(m.status, MessageStatus::Failed(_));
                if let (Some(user), true) = (pending_user.take(), answered) {
                    out.push(ChatMessage { role: Role::User, content: user.text.clone(), tool: None });
                    out.push(ChatMessage { role: Role::Assistant, content: m.text.clone(), tool: None });
                }
            }
            Role::System => {}
        }
    }
    if let Some(user) = pending_user {
        out.push(ChatMessage { role: Role::User, content: user.text.clone(), tool: None });
    }
    out
}

fn regenerate(state: &mut State) -> Vec<Effect> {
    let session = &mut state.session;
    if session.answering() {
        return session.notice(NoticeLevel::Warn, "still answering: Esc stops it");
    }
    if !matches!(session.model.state, ModelState::Ready { .. }) {
        return session.model_notice(NoticeLevel::Warn, "the model is not loaded yet");
    }
    let messages = &session.chat.messages;
    let asked = messages.len().checked_sub(if messages.last().is_some_and(|m| m.role == Role::Assistant) { 2 } else { 1 });
    if asked.is_none_or(|i| messages[i].role != Role::User) {
        return session.notice(NoticeLevel::Info, "nothing to regenerate");
    }
    // The answer regenerated stays, as an earlier version of the new one (Alt+← shows it).
    let earlier = match session.chat.messages.last() {
        Some(m) if m.role == Role::Assistant => session.chat.messages.pop().map(Message::into_versions),
        _ => None,
    };
    start_answer(session, earlier.unwrap_or_default())
}

fn edit_last(state: &mut State) -> Vec<Effect> {
    let State { session, panes } = state;
    if session.answering() {
        return session.notice(NoticeLevel::Warn, "still answering: Esc stops it");
    }
    let Some(pos) = session.chat.messages.iter().rposition(|m| m.role == Role::User) else {
        return session.notice(NoticeLevel::Info, "no question to edit");
    };
    let text = session.chat.messages[pos].text.clone();
    session.chat.messages.truncate(pos);
    panes.chat.clear(session.theme);
    panes.chat.input.insert_str(&text);
    panes.focus = Focus::Chat;
    Vec::new()
}

/// Lines of chat on screen: the terminal less the message box as tall as its text makes it.
fn page_height(session: &Session, panes: &Panes) -> usize {
    let rows = panes.chat.input_rows(llamadeck_words::layout::input_text_width(session.size));
    llamadeck_words::layout::chat_page_height_with(session.size, rows, 1)
}

fn scroll_by(session: &mut Session, delta: isize, page: usize) -> Vec<Effect> {
    session.refresh_plan();
    let max_top = session.chat.plan.last_top(page);
    let top = session.chat.scroll_top.unwrap_or(max_top);
    let new_top = top.saturating_add_signed(delta).min(max_top);
    session.chat.scroll_top = if new_top >= max_top { None } else { Some(new_top) };
    Vec::new()
}
