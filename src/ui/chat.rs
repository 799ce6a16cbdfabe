//! The chat pane: the conversation, the model's loading state, the stats footer and the
//! message box.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::app::state::{Focus, Message, MessageStatus, ModelState, State};
use crate::engine::protocol::{GenStats, Role};
use crate::ui::theme::Theme;
use crate::ui::wrap::{truncate, wrap};

/// Every chat line for a text width of `width`; the reducer uses its length for paging.
pub fn lines(state: &State, width: usize) -> Vec<Line<'static>> {
    lines_and_starts(state, width).0
}

/// The line each message's header is on, for a text width of `width` (search scrolls there).
pub fn message_starts(state: &State, width: usize) -> Vec<usize> {
    lines_and_starts(state, width).1
}

fn lines_and_starts(state: &State, width: usize) -> (Vec<Line<'static>>, Vec<usize>) {
    let mut out = Vec::new();
    let mut starts = Vec::with_capacity(state.messages.len());
    for index in 0..state.messages.len() {
        if !out.is_empty() {
            out.push(Line::default());
        }
        starts.push(out.len());
        out.extend(message_lines(state, index, width));
    }
    model_lines(state, width, false, &mut out);
    (out, starts)
}

/// The last `height` lines, wrapping only the newest messages: following the tail while an
/// answer streams costs the screen, not the whole history.
fn tail_lines(state: &State, width: usize, height: usize) -> Vec<Line<'static>> {
    let mut tail = Vec::new();
    model_lines(state, width, !state.messages.is_empty(), &mut tail);
    let mut chunks = vec![tail];
    let mut count = chunks[0].len();
    for index in (0..state.messages.len()).rev() {
        if count >= height {
            break;
        }
        let mut chunk = message_lines(state, index, width);
        if index > 0 {
            chunk.insert(0, Line::default());
        }
        count += chunk.len();
        chunks.push(chunk);
    }
    let all: Vec<Line<'static>> = chunks.into_iter().rev().flatten().collect();
    let skip = all.len().saturating_sub(height);
    all.into_iter().skip(skip).collect()
}

/// One message: its header, its wrapped text, and its error if it failed.
fn message_lines(state: &State, index: usize, width: usize) -> Vec<Line<'static>> {
    let theme = state.theme;
    let message = &state.messages[index];
    let mut out = Vec::new();
    let mut head = header(message, theme);
    if state.search.as_ref().and_then(|s| s.current_message()) == Some(index) {
        head.spans.push(Span::styled(" ◆ found", theme.key()));
    }
    out.push(head);
    let mut body = message.text.clone();
    if message.status == MessageStatus::Streaming {
        body.push('▌');
    }
    if !(body.is_empty() && message.role == Role::Assistant) {
        out.extend(wrap(&body, width.saturating_sub(2)).into_iter().map(|l| Line::from(format!("  {l}"))));
    }
    if let MessageStatus::Failed(error) = &message.status {
        for l in wrap(&format!("error: {error}"), width.saturating_sub(2)) {
            out.push(Line::styled(format!("  {l}"), theme.error()));
        }
    }
    out
}

pub fn line_count(state: &State, width: usize) -> usize {
    lines(state, width).len()
}

fn header(message: &Message, theme: Theme) -> Line<'static> {
    let (label, style) = match message.role {
        Role::User => ("you", theme.user()),
        Role::Assistant => ("llama", theme.assistant()),
        Role::System => ("system", theme.dim()),
    };
    let mut spans = vec![Span::styled(label, style)];
    match &message.status {
        MessageStatus::Streaming if message.text.is_empty() => spans.push(Span::styled(" · thinking…", theme.dim())),
        MessageStatus::Stopped => spans.push(Span::styled(" · stopped", theme.warn())),
        MessageStatus::Failed(_) => spans.push(Span::styled(" · failed", theme.error())),
        _ => {}
    }
    if let Some(stats) = &message.stats {
        let reason = message.finish.map(|f| f.label()).unwrap_or("");
        spans.push(Span::styled(format!(" · {} · {reason}", stats_text(stats)), theme.dim()));
    }
    Line::from(spans)
}

/// "42 tok · 31.2 tok/s · ttft 180 ms"
pub fn stats_text(stats: &GenStats) -> String {
    let mut parts = vec![format!("{} tok", stats.completion_tokens)];
    if let Some(rate) = stats.decode_tok_s {
        parts.push(format!("{rate:.1} tok/s"));
    }
    if let Some(ttft) = stats.ttft_ms {
        parts.push(format!("ttft {ttft} ms"));
    }
    parts.join(" · ")
}

/// The model's loading or failure notice after the messages; `after_messages` asks for the
/// blank line that separates it from messages not in `out`.
fn model_lines(state: &State, width: usize, after_messages: bool, out: &mut Vec<Line<'static>>) {
    let theme = state.theme;
    let text_w = width.saturating_sub(2);
    let push = |text: String, style: Style, out: &mut Vec<Line<'static>>| {
        if !out.is_empty() || after_messages {
            out.push(Line::default());
        }
        out.extend(wrap(&text, text_w).into_iter().map(|l| Line::styled(format!("  {l}"), style)));
    };
    match &state.model {
        ModelState::Loading { stage, .. } => {
            let secs = state.loading_elapsed().map_or(0, |d| d.as_secs());
            let source = &state.model_spec.source;
            push(format!("loading {source}: {stage} · {secs}s"), theme.warn(), out);
        }
        ModelState::Failed { reason } => {
            let hint = "fix the config and press F5 to load again, or type /model PATH and Enter";
            push(format!("the model did not load: {reason}"), theme.error(), out);
            push(hint.to_string(), theme.dim(), out);
        }
        ModelState::Ready { .. } if state.messages.is_empty() => {
            push("Ask anything. Enter sends · Alt+Enter new line · Tab settings · F1 help".into(), theme.dim(), out);
        }
        ModelState::Ready { .. } => {}
    }
}

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.theme;
    let block = Block::bordered().border_style(theme.border()).title(Span::styled(" chat ", theme.title()));
    let block = match footer(state, area.width.saturating_sub(4) as usize) {
        Some(footer) => block.title_bottom(Line::styled(footer, theme.dim()).right_aligned()),
        None => block,
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let height = inner.height as usize;
    let visible: Vec<Line> = match state.scroll_top {
        None => tail_lines(state, inner.width as usize, height),
        Some(top) => {
            let all = lines(state, inner.width as usize);
            let top = top.min(all.len().saturating_sub(height));
            all.into_iter().skip(top).take(height).collect()
        }
    };
    frame.render_widget(Paragraph::new(visible), inner);
}

/// "↑ 40 · 31.2 tok/s · ttft 180 ms · ctx 812/4096"
fn footer(state: &State, width: usize) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(stats) = state.last_stats() {
        if let Some(rate) = stats.decode_tok_s {
            parts.push(format!("{rate:.1} tok/s"));
        }
        if let Some(ttft) = stats.ttft_ms {
            parts.push(format!("ttft {ttft} ms"));
        }
    }
    if let Some(ctx) = state.context_len() {
        parts.push(format!("ctx {}/{}", state.context_used, ctx));
    }
    if state.scroll_top.is_some() {
        parts.insert(0, "scrolled · Ctrl+End follows".into());
    }
    (!parts.is_empty()).then(|| format!(" {} ", truncate(&parts.join(" · "), width.saturating_sub(2))))
}

pub fn render_input(frame: &mut Frame, area: Rect, state: &State) {
    let theme = state.theme;
    let focused = state.focus == Focus::Input && state.settings.editor.is_none();
    let title = if state.generating.is_some() { " answering · Esc stops " } else { " message " };
    let block = Block::bordered()
        .border_style(if focused { theme.border_focused() } else { theme.border() })
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(&state.input, inner);
}
