//! Colours and styles. Only the 16 ANSI colours, so 16-colour terminals render as designed;
//! with NO_COLOR (or `ui.color: never`) every style is plain, with bold/reverse for emphasis.
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub const COLOR: Theme = Theme { color: true };
    pub const PLAIN: Theme = Theme { color: false };

    fn fg(self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    pub fn border(self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn border_focused(self) -> Style {
        if self.color { Style::new().fg(Color::Cyan) } else { Style::new().add_modifier(Modifier::BOLD) }
    }
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn dim(self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new() }
    }
    pub fn user(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn assistant(self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }
    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn error(self) -> Style {
        if self.color { Style::new().fg(Color::Red).add_modifier(Modifier::BOLD) } else { Style::new().add_modifier(Modifier::BOLD) }
    }
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    /// llamadeck's own process in the GPU process list.
    pub fn own_process(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn gauge(self) -> Style {
        self.fg(Color::Green)
    }
    pub fn gauge_high(self) -> Style {
        self.fg(Color::Red)
    }
    pub fn key(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    /// Code in an answer (a block's lines, inline code): set apart by its gutter and backticks
    /// too, so it shows without colour.
    pub fn code(self) -> Style {
        self.fg(Color::Magenta)
    }
    /// A search match in the chat; underlined too, so it shows without colour.
    pub fn found(self) -> Style {
        let style = Style::new().add_modifier(Modifier::UNDERLINED);
        if self.color { style.fg(Color::Black).bg(Color::Yellow) } else { style }
    }
    /// The match Enter, ↑ and ↓ moved to.
    pub fn found_current(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD | Modifier::UNDERLINED)
    }
}
