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

/// The most rows of text the message box shows before it scrolls.
pub const MAX_INPUT_ROWS: usize = 8;

/// The most rows the status bar takes: its line, and a long notice wrapped above it.
pub const MAX_STATUS_ROWS: u16 = 4;

/// `input_rows` is the number of rows the message box's text takes, wrapped (it grows up to
/// [`MAX_INPUT_ROWS`], and never past half the screen); the status bar is one line.
pub fn areas(area: Rect, input_rows: usize) -> Areas {
    areas_with(area, input_rows, 1)
}

/// `areas` with a status bar `status_rows` high (a long notice wraps above its line).
pub fn areas_with(area: Rect, input_rows: usize, status_rows: u16) -> Areas {
    // The panes keep at least MIN_HEIGHT - 1 rows, whatever the notice.
    let status_h = status_rows.clamp(1, MAX_STATUS_ROWS).min(area.height.saturating_sub(MIN_HEIGHT - 1).max(1)).min(area.height);
    let status = Rect { y: area.y + area.height - status_h, height: status_h, ..area };
    let body_h = area.height - status_h;
    let side_w = side_width(area.width).min(area.width);
    let left_w = area.width - side_w;
    let input_h = (input_rows.clamp(1, input_cap(body_h)) as u16 + 2).min(body_h / 2);
    let chat = Rect { x: area.x, y: area.y, width: left_w, height: body_h - input_h };
    let input = Rect { x: area.x, y: area.y + chat.height, width: left_w, height: input_h };
    let settings_h = SETTINGS_HEIGHT.min(body_h.saturating_sub(6));
    let gpu = Rect { x: area.x + left_w, y: area.y, width: side_w, height: body_h - settings_h };
    let settings = Rect { x: gpu.x, y: area.y + gpu.height, width: side_w, height: settings_h };
    Areas { chat, input, gpu, settings, status }
}

/// The most rows of text the message box shows in a body (the screen but the status bar)
/// `body_h` rows high: [`MAX_INPUT_ROWS`], and the box never takes more than half of it.
fn input_cap(body_h: u16) -> usize {
    ((body_h / 2).saturating_sub(2) as usize).clamp(1, MAX_INPUT_ROWS)
}

/// The most rows of text the message box shows on a terminal of `size` before it scrolls.
pub fn input_rows_cap(size: (u16, u16)) -> usize {
    input_cap(size.1.saturating_sub(1))
}

/// Columns of text in the message box on a terminal of `size` (its border aside).
pub fn input_text_width(size: (u16, u16)) -> u16 {
    areas(Rect::new(0, 0, size.0, size.1), 1).input.width.saturating_sub(2)
}

/// Lines of chat text on screen for a terminal of `size` (one-line message box).
pub fn chat_page_height(size: (u16, u16)) -> usize {
    chat_page_height_with(size, 1, 1)
}

/// Lines of chat text on screen for a terminal of `size` with a message box of `input_rows`
/// rows of text and a status bar of `status_rows`.
pub fn chat_page_height_with(size: (u16, u16), input_rows: usize, status_rows: u16) -> usize {
    let a = areas_with(Rect::new(0, 0, size.0, size.1), input_rows, status_rows);
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
    fn the_message_box_grows_to_its_cap_and_the_status_bar_takes_its_rows() {
        let screen = Rect::new(0, 0, 80, 24);
        assert_eq!(areas(screen, 1).input.height, 3);
        assert_eq!(areas(screen, 5).input.height, 7);
        assert_eq!(areas(screen, 40).input.height, MAX_INPUT_ROWS as u16 + 2);
        assert_eq!(input_rows_cap((80, 24)), MAX_INPUT_ROWS);
        // A short terminal keeps half its body for the chat.
        assert_eq!(areas(Rect::new(0, 0, 60, 16), 40).input.height, 7);
        assert_eq!(input_rows_cap((60, 16)), 5);
        for (w, h) in [(60, 16), (80, 24), (120, 35)] {
            for status_rows in 1..=6 {
                let a = areas_with(Rect::new(0, 0, w, h), 3, status_rows);
                assert_eq!(a.status.y + a.status.height, h);
                assert_eq!(a.chat.height + a.input.height + a.status.height, h, "{w}x{h} {status_rows}");
                assert!(a.status.height <= MAX_STATUS_ROWS && a.chat.height >= 3, "{w}x{h} {status_rows}: {a:?}");
            }
        }
        assert_eq!(chat_page_height_with((80, 24), 1, 1), chat_page_height((80, 24)));
        assert_eq!(chat_page_height_with((80, 24), 4, 3), chat_page_height((80, 24)) - 5);
    }

    #[test]
    fn the_widest_terminal_still_tiles() {
        let a = areas(Rect::new(0, 0, u16::MAX, 100), 1);
        assert_eq!(a.gpu.width, 56);
        assert_eq!(a.chat.width + a.gpu.width, u16::MAX);
    }
}
