//! Where each pane goes for a terminal size. Shared by `ui::render` and by the reducer (paging
//! needs the page height).
use ratatui::layout::Rect;

/// Below this the screen shows "terminal too small".
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// The settings pane's height when the side column has room for it.
pub const SETTINGS_HEIGHT: u16 = 17;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub chat: Rect,
    pub input: Rect,
    pub gpu: Rect,
    pub settings: Rect,
    pub status: Rect,
}

pub fn fits(area: Rect) -> bool {
    area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT
}

fn side_width(width: u16) -> u16 {
    // In u32: a u16 width times 36 overflows from 1821 columns.
    (u32::from(width) * 36 / 100).clamp(30, 56) as u16
}

/// `input_lines` is the number of lines in the message box (it grows up to 6).
pub fn areas(area: Rect, input_lines: usize) -> Areas {
    let status = Rect { y: area.y + area.height.saturating_sub(1), height: area.height.min(1), ..area };
    let body_h = area.height.saturating_sub(1);
    let side_w = side_width(area.width).min(area.width);
    let left_w = area.width - side_w;
    let input_h = (input_lines.clamp(1, 6) as u16 + 2).min(body_h / 2);
    let chat = Rect { x: area.x, y: area.y, width: left_w, height: body_h - input_h };
    let input = Rect { x: area.x, y: area.y + chat.height, width: left_w, height: input_h };
    let settings_h = SETTINGS_HEIGHT.min(body_h.saturating_sub(6));
    let gpu = Rect { x: area.x + left_w, y: area.y, width: side_w, height: body_h - settings_h };
    let settings = Rect { x: gpu.x, y: area.y + gpu.height, width: side_w, height: settings_h };
    Areas { chat, input, gpu, settings, status }
}

/// Lines of chat text on screen for a terminal of `size` (one-line message box).
pub fn chat_page_height(size: (u16, u16)) -> usize {
    let a = areas(Rect::new(0, 0, size.0, size.1), 1);
    a.chat.height.saturating_sub(2).max(1) as usize
}

/// Columns of chat text for a terminal of `size`.
pub fn chat_text_width(size: (u16, u16)) -> usize {
    let a = areas(Rect::new(0, 0, size.0, size.1), 1);
    a.chat.width.saturating_sub(2).max(1) as usize
}

/// A rectangle of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_tile_the_screen_without_overlap() {
        for (w, h) in [(60, 16), (80, 24), (200, 60), (61, 17)] {
            let a = areas(Rect::new(0, 0, w, h), 3);
            assert_eq!(a.chat.width + a.gpu.width, w);
            assert_eq!(a.chat.height + a.input.height + a.status.height, h);
            assert_eq!(a.gpu.height + a.settings.height + a.status.height, h);
            assert!(a.settings.height >= 6, "{w}x{h}: {a:?}");
        }
    }

    #[test]
    fn the_widest_terminal_still_tiles() {
        let a = areas(Rect::new(0, 0, u16::MAX, 100), 1);
        assert_eq!(a.gpu.width, 56);
        assert_eq!(a.chat.width + a.gpu.width, u16::MAX);
    }
}
