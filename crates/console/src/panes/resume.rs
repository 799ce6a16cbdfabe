//! The offer to resume the last conversation, at start: Enter opens it, Esc starts a new one,
//! F3 lists them all; any other key dismisses it and does what it always does.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{Hint, Hints, Outcome, Pane, Panes};
use crate::session::{Effect, NoticeLevel, Session};
use llamadeck_store::{Request, Summary, time};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::{Areas, centered};
use llamadeck_words::text::truncate;

#[derive(Debug)]
pub struct Resume {
    pub summary: Summary,
}

impl Pane for Resume {
    fn on_key(&mut self, key: &KeyEvent, _command: Option<Command>, state: &mut Session) -> Outcome {
        let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
        match key.code {
            KeyCode::Enter if plain => Outcome::Close(vec![Effect::Store(Request::Load(self.summary.id.clone()))]),
            KeyCode::Esc => Outcome::Close(state.notice(NoticeLevel::Info, "new conversation (F3 lists the saved ones)")),
            _ => Outcome::CloseAndPass,
        }
    }

    fn on_paste(&mut self, _text: &str, _state: &mut Session) -> Outcome {
        Outcome::CloseAndPass
    }

    fn hints(&self, state: &Session) -> Hints {
        let keys = [Some(Hint::new("Enter", "resume")), Some(Hint::new("Esc", "new")), Hint::bound(state, Command::Conversations, "all")];
        Hints { keys: keys.into_iter().flatten().collect(), help: true }
    }

    fn draw(&self, frame: &mut Frame, _areas: &Areas, state: &Session, _panes: &Panes) {
        let summary = &self.summary;
        let theme = state.theme;
        let popup = centered(super::overlay_area(frame), 64, 7);
        let block = Block::bordered().border_style(theme.border_focused()).title(Span::styled(" resume? ", theme.title()));
        let inner = block.inner(popup);
        let width = inner.width as usize;
        let turns = if summary.turns == 1 { "1 turn".to_string() } else { format!("{} turns", summary.turns) };
        let details = format!("{} UTC · {turns} · {}", time::display(summary.updated), summary.model.as_deref().unwrap_or("no answer yet"));
        let lines = vec![
            Line::from("Resume your last conversation?"),
            Line::styled(truncate(&format!("“{}”", summary.title), width), theme.user()),
            Line::styled(truncate(&details, width), theme.dim()),
            Line::styled(truncate("Enter resumes · Esc starts a new one · F3 all", width), theme.key()),
        ];
        frame.render_widget(Clear, popup);
        frame.render_widget(block, popup);
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
