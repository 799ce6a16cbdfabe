//! Geometry, without drawing: where each pane goes for a terminal size (`panes`) and how the
//! chat's messages fall into lines (`chat_lines`). Pure, and below both the reducer (paging,
//! jumping to a search match) and the panes that draw, so the two always agree.
pub mod chat_lines;
pub mod markdown;
pub mod panes;

pub use panes::{
    Areas, MAX_INPUT_ROWS, MAX_STATUS_ROWS, MIN_HEIGHT, MIN_WIDTH, SETTINGS_HEIGHT, areas, areas_with, centered, chat_page_height,
    chat_page_height_with, chat_text_width, fits, input_rows_cap, input_text_width,
};
