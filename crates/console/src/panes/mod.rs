//! The panes: the tiled ones (the chat with its message box, the settings, the GPU panel) and
//! the overlays that open over them (help, requests, fleet, conversations, the resume offer,
//! search, the slash list), on one stack. Each pane is one module holding its own state, its keys and pastes,
//! its hints and its drawing.
//!
//! A key goes to the top of the stack first, then down the stack, then to the focused tiled
//! pane, then to the global commands (`app::update`); drawing walks the tiled panes, then the
//! stack from the bottom up; the hint bar asks the top pane. Keys and pastes change the pane and
//! the session and answer with effects as data, as the rest of the reducer does.
pub mod chat;
pub mod conversations;
pub mod editing;
pub mod fleet;
pub mod gpu;
pub mod help;
pub mod notices;
pub mod popup;
pub mod requests;
pub mod resume;
pub mod search;
pub mod settings;
pub mod slash;

use std::any::Any;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;

use crate::session::{Effect, Session};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::Areas;

/// What a pane did with a key or a paste.
#[derive(Debug)]
pub enum Outcome {
    /// Handled: nothing below sees it.
    Done(Vec<Effect>),
    /// Handled, and the pane leaves the stack.
    Close(Vec<Effect>),
    /// Not this pane's: the layer below gets it.
    Pass,
    /// The pane leaves the stack and the layer below gets the key too (the resume offer: any
    /// key dismisses it and does what it always does).
    CloseAndPass,
}

impl Outcome {
    /// Handled, with nothing to do.
    pub fn done() -> Self {
        Outcome::Done(Vec::new())
    }

    pub fn close() -> Self {
        Outcome::Close(Vec::new())
    }
}

/// A key the hint bar shows, and what it does there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub key: String,
    pub label: &'static str,
}

impl Hint {
    pub fn new(key: &str, label: &'static str) -> Self {
        Hint { key: key.to_string(), label }
    }

    /// `command`'s first key, labelled with the command table's hint word; none when unbound.
    pub fn command(session: &Session, command: Command) -> Option<Self> {
        Self::bound(session, command, command.hint())
    }

    /// `command`'s first key with a label of the pane's own.
    pub fn bound(session: &Session, command: Command, label: &'static str) -> Option<Self> {
        session.keymap.keys_for(command).first().map(|k| Hint { key: k.to_string(), label })
    }
}

/// What the hint bar shows for the pane on top: its own keys, and whether the help key works
/// there (an editor takes every key but quit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hints {
    pub keys: Vec<Hint>,
    pub help: bool,
}

/// One pane: its keys, pastes, hints and drawing. Every method but `draw` may change the pane
/// and the session; `draw` only reads (it also sees the other panes, so the chat can mark the
/// search's matches).
pub trait Pane: Any + std::fmt::Debug {
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, session: &mut Session) -> Outcome;

    /// A paste (CR and CRLF already made LF, control characters neutralised).
    fn on_paste(&mut self, _text: &str, _session: &mut Session) -> Outcome {
        Outcome::Pass
    }

    /// The wheel or a click (`areas`: where the tiled panes are). An overlay that covers the
    /// screen takes every mouse event; one that does not passes them to the panes under it.
    fn on_mouse(&mut self, _mouse: &MouseEvent, _areas: &Areas, _session: &mut Session) -> Outcome {
        Outcome::Pass
    }

    fn hints(&self, session: &Session) -> Hints;

    fn draw(&self, frame: &mut Frame, areas: &Areas, session: &Session, panes: &Panes);
}

/// Which tiled pane takes the keys the stack leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Chat,
    Settings,
}

/// The tiled panes with the focus, and the stack of open overlays (the last is on top).
#[derive(Debug)]
pub struct Panes {
    pub focus: Focus,
    pub chat: chat::ChatPane,
    pub settings: settings::SettingsPane,
    stack: Vec<Box<dyn Pane>>,
}

impl Panes {
    pub fn new(theme: llamadeck_words::theme::Theme) -> Self {
        Panes { focus: Focus::Chat, chat: chat::ChatPane::new(theme), settings: settings::SettingsPane::default(), stack: Vec::new() }
    }

    /// Opens `pane` on top; one already open of its kind goes first.
    pub fn open<P: Pane>(&mut self, pane: P) {
        self.close::<P>();
        self.stack.push(Box::new(pane));
    }

    /// Closes the open pane of kind `P`; false when none was open.
    pub fn close<P: Pane>(&mut self) -> bool {
        let before = self.stack.len();
        self.stack.retain(|p| !is::<P>(p.as_ref()));
        self.stack.len() != before
    }

    pub fn is_open<P: Pane>(&self) -> bool {
        self.find::<P>().is_some()
    }

    pub fn find<P: Pane>(&self) -> Option<&P> {
        self.stack.iter().rev().find_map(|p| (p.as_ref() as &dyn Any).downcast_ref::<P>())
    }

    pub fn find_mut<P: Pane>(&mut self) -> Option<&mut P> {
        self.stack.iter_mut().rev().find_map(|p| (p.as_mut() as &mut dyn Any).downcast_mut::<P>())
    }

    /// The overlay on top, if any.
    pub fn top(&self) -> Option<&dyn Pane> {
        self.stack.last().map(|p| p.as_ref())
    }

    pub fn top_is<P: Pane>(&self) -> bool {
        self.top().is_some_and(is::<P>)
    }

    /// The open overlays, bottom first.
    pub fn stack(&self) -> impl Iterator<Item = &dyn Pane> {
        self.stack.iter().map(|p| p.as_ref())
    }

    /// The focused tiled pane.
    pub fn focused(&self) -> &dyn Pane {
        match self.focus {
            Focus::Chat => &self.chat,
            Focus::Settings => &self.settings,
        }
    }

    /// The hints of the pane on top: the top overlay, else the focused tiled pane.
    pub fn hints(&self, session: &Session) -> Hints {
        self.top().unwrap_or_else(|| self.focused()).hints(session)
    }

    /// Hands a key (or, with `paste`, a paste) down the stack from the top, then to the focused
    /// tiled pane. `Some(effects)` when a pane handled it; `None` leaves it to the global commands.
    pub fn route(&mut self, session: &mut Session, event: Event) -> Option<Vec<Effect>> {
        let mut at = self.stack.len();
        while at > 0 {
            at -= 1;
            match event.send(self.stack[at].as_mut(), session) {
                Outcome::Done(effects) => return Some(effects),
                Outcome::Close(effects) => {
                    self.stack.remove(at);
                    return Some(effects);
                }
                Outcome::Pass => {}
                Outcome::CloseAndPass => {
                    self.stack.remove(at);
                }
            }
        }
        let focused: &mut dyn Pane = match self.focus {
            Focus::Chat => &mut self.chat,
            Focus::Settings => &mut self.settings,
        };
        match event.send(focused, session) {
            Outcome::Done(effects) | Outcome::Close(effects) => Some(effects),
            Outcome::Pass | Outcome::CloseAndPass => None,
        }
    }
}

impl Panes {
    /// Hands a mouse event down the stack from the top; `None` when every overlay passed it, so
    /// the tiled pane under the pointer takes it.
    pub fn route_mouse(&mut self, session: &mut Session, mouse: &MouseEvent, areas: &Areas) -> Option<Vec<Effect>> {
        let mut at = self.stack.len();
        while at > 0 {
            at -= 1;
            match self.stack[at].on_mouse(mouse, areas, session) {
                Outcome::Done(effects) => return Some(effects),
                Outcome::Close(effects) => {
                    self.stack.remove(at);
                    return Some(effects);
                }
                Outcome::Pass => {}
                Outcome::CloseAndPass => {
                    self.stack.remove(at);
                }
            }
        }
        None
    }
}

/// The wheel as the arrow keys (up: ↑), for panes that scroll or select with them.
pub fn wheel_key(mouse: &MouseEvent) -> Option<KeyEvent> {
    match mouse.kind {
        MouseEventKind::ScrollUp => Some(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
        MouseEventKind::ScrollDown => Some(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
        _ => None,
    }
}

/// A press of the left button.
pub fn is_click(mouse: &MouseEvent) -> bool {
    matches!(mouse.kind, MouseEventKind::Down(MouseButton::Left))
}

/// Where a pane last drew a list, for the mouse: the rows it took on screen and the item on
/// the first of them. Drawing records it (`draw` reads only, so it is kept in a `Cell`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListSpot {
    pub area: ratatui::layout::Rect,
    pub first: usize,
    pub count: usize,
}

impl ListSpot {
    /// The item drawn at (`column`, `row`), if any.
    pub fn item_at(&self, column: u16, row: u16) -> Option<usize> {
        let inside = self.area.contains(ratatui::layout::Position { x: column, y: row });
        let index = usize::from(row.saturating_sub(self.area.y));
        (inside && index < self.count).then_some(self.first + index)
    }
}

/// An overlay covering the screen: the wheel works as its arrows, a click elsewhere does
/// nothing behind it.
pub fn covering_mouse(pane: &mut dyn Pane, mouse: &MouseEvent, session: &mut Session) -> Outcome {
    match wheel_key(mouse) {
        Some(key) => pane.on_key(&key, None, session),
        None => Outcome::done(),
    }
}

/// What `Panes::route` hands down.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Key(&'a KeyEvent, Option<Command>),
    Paste(&'a str),
}

impl Event<'_> {
    fn send(self, pane: &mut dyn Pane, session: &mut Session) -> Outcome {
        match self {
            Event::Key(key, command) => pane.on_key(key, command, session),
            Event::Paste(text) => pane.on_paste(text, session),
        }
    }
}

/// Where an overlay may draw: the whole screen but the status bar, which keeps showing the
/// overlay's own keys.
pub fn overlay_area(frame: &Frame) -> ratatui::layout::Rect {
    let area = frame.area();
    ratatui::layout::Rect { height: area.height.saturating_sub(1), ..area }
}

fn is<P: Pane>(pane: &dyn Pane) -> bool {
    (pane as &dyn Any).is::<P>()
}

/// Keys an overlay that is not an editor lets through: quit, and help (which opens over it).
/// Everything else it takes, so nothing is typed or run behind it.
pub fn passes_through(command: Option<Command>) -> bool {
    matches!(command, Some(Command::Quit | Command::ToggleHelp))
}
