//! The slash list: while the message box holds one line starting with `/`, a small list over it
//! shows the slash commands that match what is typed (`keys::slash`, the one list), and Tab
//! completes the command's name, then its argument: a sampling field for `/set`, a saved
//! conversation's title for `/load` (the store lists them when `/load` is typed), a path for
//! `/model` (read off the loop: `Effect::CompletePath`, answered with `Action::PathsFound`).
//! It takes no key itself: typing goes on in the message box below it.
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::search::SearchBar;
use super::{Focus, Hint, Hints, Outcome, Pane, Panes};
use crate::session::{Effect, Session};
use llamadeck_store::Request;
use llamadeck_words::keys::Command;
use llamadeck_words::keys::slash::{self, Completes, common_prefix};
use llamadeck_words::layout::Areas;
use llamadeck_words::sampling::Field;
use llamadeck_words::text::{str_width, truncate};

/// Rows the list shows at most.
const MAX_ROWS: usize = 8;

#[derive(Debug, Default)]
pub struct SlashList {
    /// Saved conversations' titles, newest first, once the store listed them.
    pub titles: Vec<String>,
    /// The store was asked for the titles.
    asked: bool,
    /// What the last Tab found when there was more than one, and the box text it was for.
    pub candidates: Vec<String>,
    for_text: String,
}

/// The message box's text when it is a command being typed: one line starting with `/`.
fn typing(panes: &Panes) -> Option<String> {
    let lines = panes.chat.input.lines();
    (panes.focus == Focus::Chat && lines.len() == 1 && lines[0].starts_with('/') && !panes.is_open::<SearchBar>()).then(|| lines[0].clone())
}

/// Opens the list while a command is typed and closes it after; asks the store for the titles
/// the first time `/load` is typed.
pub fn sync(panes: &mut Panes) -> Vec<Effect> {
    let Some(text) = typing(panes) else {
        panes.close::<SlashList>();
        return Vec::new();
    };
    if !panes.is_open::<SlashList>() {
        panes.open(SlashList::default());
    }
    let list = panes.find_mut::<SlashList>().expect("just opened");
    if text.starts_with("/load") && !list.asked {
        list.asked = true;
        return vec![Effect::Store(Request::List)];
    }
    Vec::new()
}

/// Tab while a command is typed; false when none is (Tab then does what it always does).
pub fn tab(panes: &mut Panes, session: &Session) -> Option<Vec<Effect>> {
    let text = typing(panes)?;
    let titles = panes.find::<SlashList>().map(|l| l.titles.clone()).unwrap_or_default();
    let rest = &text[1..];
    let Some((word, arg)) = rest.split_once(' ') else {
        // The command's name.
        let names: Vec<String> = slash::all().iter().map(|s| s.name.to_string()).collect();
        let (done, found) = extend(rest, &names);
        let one = found.len() == 1 && slash::find(&done).is_some_and(|s| !s.args.is_empty());
        set_box(panes, session, format!("/{done}{}", if one { " " } else { "" }), found);
        return Some(Vec::new());
    };
    let Some(command) = slash::find(word) else { return Some(Vec::new()) };
    let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let choices = match command.completes {
        Completes::Nothing => return Some(Vec::new()),
        Completes::Path => return Some(vec![Effect::CompletePath { typed: text.clone() }]),
        Completes::Field if arg.contains(' ') => return Some(Vec::new()),
        Completes::Field => words(&Field::ALL.map(Field::name)),
        Completes::Words(list) => words(list),
        Completes::Conversation => titles,
    };
    let (done, found) = extend(arg, &choices);
    let space = found.len() == 1 && command.completes == Completes::Field;
    set_box(panes, session, format!("/{word} {done}{}", if space { " " } else { "" }), found);
    Some(Vec::new())
}

/// The paths a Tab on `/model` found (`typed` was the box's text then): the box is completed
/// as far as they agree, and the list shows them when there are several.
pub fn paths_found(panes: &mut Panes, session: &Session, typed: &str, found: Vec<String>) {
    if typing(panes).as_deref() != Some(typed) {
        return;
    }
    let Some((word, arg)) = typed[1..].split_once(' ') else { return };
    let (done, found) = extend(arg, &found);
    set_box(panes, session, format!("/{word} {done}"), found);
}

/// `typed` extended as far as the `choices` that start with it agree (letters compared
/// without case, the choice's own spelling kept), and those choices.
fn extend(typed: &str, choices: &[String]) -> (String, Vec<String>) {
    let lower = typed.to_lowercase();
    let found: Vec<String> = choices.iter().filter(|c| c.to_lowercase().starts_with(&lower)).cloned().collect();
    let common = common_prefix(found.iter().map(String::as_str));
    let done = if found.is_empty() || common.chars().count() < typed.chars().count() { typed.to_string() } else { common };
    (done, found)
}

/// Puts `text` in the message box; with several `found`, the list shows them.
fn set_box(panes: &mut Panes, session: &Session, text: String, found: Vec<String>) {
    if panes.chat.text() != text {
        panes.chat.clear(session.theme);
        panes.chat.input.insert_str(&text);
    }
    if let Some(list) = panes.find_mut::<SlashList>() {
        list.candidates = if found.len() > 1 { found } else { Vec::new() };
        list.for_text = text;
    }
}

impl SlashList {
    /// The rows shown for the box's `text`: what Tab found, else the commands that match.
    fn rows(&self, text: &str) -> Vec<(String, String)> {
        if !self.candidates.is_empty() && text == self.for_text {
            return self.candidates.iter().map(|c| (c.clone(), String::new())).collect();
        }
        let word = text.trim_start_matches('/').split(' ').next().unwrap_or_default();
        let typed_whole = text.contains(' ');
        slash::all()
            .into_iter()
            .filter(|s| if typed_whole { s.name == word } else { s.name.starts_with(word) })
            .map(|s| (s.usage(), s.describe.to_string()))
            .collect()
    }
}

impl Pane for SlashList {
    /// Every key goes on to the message box (Tab reaches `tab` as the focus command).
    fn on_key(&mut self, _key: &KeyEvent, _command: Option<Command>, _state: &mut Session) -> Outcome {
        Outcome::Pass
    }

    fn on_paste(&mut self, _text: &str, _state: &mut Session) -> Outcome {
        Outcome::Pass
    }

    fn hints(&self, state: &Session) -> Hints {
        let keys = [Some(Hint::new("Tab", "complete")), Hint::bound(state, Command::Send, "run")];
        Hints { keys: keys.into_iter().flatten().collect(), help: false }
    }

    fn draw(&self, frame: &mut Frame, areas: &Areas, state: &Session, panes: &Panes) {
        let theme = state.theme;
        let text = panes.chat.text();
        let rows = self.rows(&text);
        if rows.is_empty() {
            return;
        }
        let shown = rows.len().min(MAX_ROWS);
        // Just above the message box, over the chat's last lines.
        let height = (shown as u16 + 2).min(areas.chat.height);
        let area = Rect { x: areas.input.x, y: areas.input.y.saturating_sub(height), width: areas.input.width, height };
        let more = rows.len().saturating_sub(shown);
        let title = match more {
            0 => " Tab completes ".to_string(),
            n => format!(" Tab completes · {n} more "),
        };
        let block = Block::bordered().border_style(theme.border_focused()).title(Span::styled(title, theme.title()));
        let inner = block.inner(area);
        let width = inner.width as usize;
        let usage_width = rows.iter().map(|(u, _)| str_width(u)).max().unwrap_or(0).min(width / 2);
        let lines: Vec<Line> = rows
            .into_iter()
            .take(shown)
            .map(|(usage, what)| {
                let usage = truncate(&usage, usage_width.max(1));
                let pad = " ".repeat(usage_width.saturating_sub(str_width(&usage)) + 2);
                let what = truncate(&what, width.saturating_sub(usage_width + 2));
                Line::from(vec![Span::styled(usage, theme.key()), Span::raw(pad), Span::styled(what, theme.dim())])
            })
            .collect();
        frame.render_widget(Clear, area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
