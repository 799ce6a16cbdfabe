//! The chat pane: the conversation, the model's loading state, the stats footer and the
//! message box.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::app::state::{Focus, State};
use crate::chat::{Message, MessageStatus, Role};
use crate::layout::chat_lines::{Tone, body, note_lines};
use crate::text::truncate;
use crate::theme::Theme;

/// Every chat line for a text width of `width` (the scrolled-away view).
pub fn lines(state: &State, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for index in 0..state.messages.len() {
        if !out.is_empty() {
            out.push(Line::default());
        }
        out.extend(message_lines(state, index, width));
    }
    out.extend(notes(state, width, !state.messages.is_empty()));
    out
}

/// The last `height` lines, wrapping only the newest messages: following the tail while an
/// answer streams costs the screen, not the whole history.
fn tail_lines(state: &State, width: usize, height: usize) -> Vec<Line<'static>> {
    let tail = notes(state, width, !state.messages.is_empty());
    let mut count = tail.len();
    let mut chunks = vec![tail];
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

/// One message: its header, then its body as the line plan wraps it.
fn message_lines(state: &State, index: usize, width: usize) -> Vec<Line<'static>> {
    let theme = state.theme;
    let message = &state.messages[index];
    let mut head = header(message, theme);
    if state.search.as_ref().and_then(|s| s.current_message()) == Some(index) {
        head.spans.push(Span::styled(" ◆ found", theme.key()));
    }
    let body = body(message, width);
    let mut out = vec![head];
    out.extend(body.text.into_iter().map(Line::from));
    out.extend(body.error.into_iter().map(|l| Line::styled(l, theme.error())));
    out
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
        spans.push(Span::styled(format!(" · {} · {reason}", stats.summary()), theme.dim()));
    }
    Line::from(spans)
}

/// The model's loading or failure notice (or the first hint) after the messages.
fn notes(state: &State, width: usize, after_messages: bool) -> Vec<Line<'static>> {
    let theme = state.theme;
    let style = |tone| match tone {
        Tone::Warn => theme.warn(),
        Tone::Error => theme.error(),
        Tone::Dim => theme.dim(),
    };
    note_lines(&state.chat_notes(), width, after_messages)
        .into_iter()
        .map(|line| match line {
            Some((text, tone)) => Line::styled(text, style(tone)),
            None => Line::default(),
        })
        .collect()
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
