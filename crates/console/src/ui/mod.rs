//! Drawing: one file a pane. `render` only reads the state; where each pane goes comes from
//! `llamadeck_words::layout`, colours from `llamadeck_words::theme`.
pub mod api;
pub mod chat;
pub mod conversations;
pub mod fleet;
pub mod gpu;
pub mod help;
pub mod popup;
pub mod search;
pub mod settings;
pub mod status;

use ratatui::Frame;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::app::state::State;
use llamadeck_words::layout;

pub fn render(frame: &mut Frame, state: &State) {
    let area = frame.area();
    if !layout::fits(area) {
        too_small(frame, state);
        return;
    }
    let areas = layout::areas(area, state.input.lines().len());
    chat::render(frame, areas.chat, state);
    match &state.search {
        Some(search) => search::render(frame, areas.input, state, search),
        None => chat::render_input(frame, areas.input, state),
    }
    // A remote target's GPUs, from its metrics; the model here keeps NVML's.
    match (&state.fleet.target, &state.fleet.target_gpu) {
        (Some(_), Some(gpu)) => gpu::render(frame, areas.gpu, Some(gpu), &state.fleet.target_history, state.theme),
        _ => gpu::render(frame, areas.gpu, state.gpu.as_deref(), &state.gpu_history, state.theme),
    }
    settings::render(frame, areas.settings, state);
    status::render(frame, areas.status, state);
    if let Some(browser) = &state.browser {
        conversations::render(frame, area, state, browser);
    } else if state.resume.is_some() {
        conversations::render_resume(frame, area, state);
    }
    if state.show_help {
        help::render(frame, area, state);
    }
    if state.api.show {
        api::render(frame, area, state);
    }
    if state.fleet.show {
        fleet::render(frame, area, state);
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
        Line::styled("terminal too small", state.theme.warn()),
        Line::from(format!("{}×{}, need {}×{}", area.width, area.height, layout::MIN_WIDTH, layout::MIN_HEIGHT)),
    ];
    let lines: Vec<Line> = text.into_iter().take(area.height as usize).collect();
    let h = lines.len() as u16;
    let rect = layout::centered(area, area.width, h);
    frame.render_widget(Paragraph::new(lines).centered(), rect);
}
