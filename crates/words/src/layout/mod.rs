//! Geometry, without drawing: where each pane goes for a terminal size (`panes`) and how the
//! chat's messages fall into lines (`chat_lines`). Pure, and below both the reducer (paging,
//! jumping to a search match) and the panes that draw, so the two always agree.
pub mod chat_lines;
pub mod markdown;
pub mod panes;

pub use panes::{Areas, MIN_HEIGHT, MIN_WIDTH, SETTINGS_HEIGHT, areas, centered, chat_page_height, chat_text_width, fits};
