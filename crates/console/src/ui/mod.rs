//! Drawing, reading only: the tiled panes (chat with its message box, the GPU panel, settings),
//! the status bar, then the open overlays from the bottom of the stack up. Each pane draws itself
//! (`crate::panes`); where each goes comes from `llamadeck_words::layout`.
pub mod status;

use ratatui::Frame;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::app::State;
use crate::panes::Pane;
use llamadeck_words::layout;

pub fn render(frame: &mut Frame, state: &State) {
    let State { session, panes } = state;
    let area = frame.area();
    if !layout::fits(area) {
        too_small(frame, state);
        return;
    }
    let input_width = layout::input_text_width((area.width, area.height));
    let areas = layout::areas_with(area, panes.chat.input_rows(input_width), status::rows(state, area.width));
    panes.chat.draw(frame, &areas, session, panes);
    crate::panes::gpu::draw_panel(frame, areas.gpu, session);
    panes.settings.draw(frame, &areas, session, panes);
    status::render(frame, areas.status, state);
    for overlay in panes.stack() {
        overlay.draw(frame, &areas, session, panes);
    }
    neutralise(frame);
}

/// The backstop: whatever a pane drew, no cell may carry a control character to the terminal.
fn neutralise(frame: &mut Frame) {
    for cell in frame.buffer_mut().content.iter_mut() {
        if cell.symbol().chars().any(llamadeck_words::text::is_neutralised) {
            let clean: String =
                cell.symbol().chars().map(|c| if llamadeck_words::text::is_neutralised(c) { '\u{fffd}' } else { c }).collect();
            cell.set_symbol(&clean);
        }
    }
}

fn too_small(frame: &mut Frame, state: &State) {
    let area = frame.area();
    let text = vec![
        Line::styled("terminal too small", state.session.theme.warn()),
        Line::from(format!("{}×{}, need {}×{}", area.width, area.height, layout::MIN_WIDTH, layout::MIN_HEIGHT)),
    ];
    let lines: Vec<Line> = text.into_iter().take(area.height as usize).collect();
    let h = lines.len() as u16;
    let rect = layout::centered(area, area.width, h);
    frame.render_widget(Paragraph::new(lines).centered(), rect);
}
