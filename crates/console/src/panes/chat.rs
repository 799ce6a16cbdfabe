//! The chat pane: the conversation (search matches highlighted), the model's loading state,
//! the stats footer, and the message box with its keys (typing, the `/` that starts a command or,
//! pressed twice, a search).
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui_textarea::{TextArea, WrapMode};

use super::search::SearchBar;
use super::{Focus, Hint, Hints, Outcome, Pane, Panes};
use crate::session::search::{Hit, in_message};
use crate::session::{Quit, Session, selection};
use llamadeck_words::chat::{FinishReason, Message, MessageStatus, Role};
use llamadeck_words::keys::Command;
use llamadeck_words::layout::Areas;
use llamadeck_words::layout::chat_lines::{INDENT, Tone, note_lines, wrapped};
use llamadeck_words::layout::markdown::Look;
use llamadeck_words::text::{str_width, truncate};
use llamadeck_words::theme::Theme;

/// The lines from chat line `top`, `height` of them, wrapping only the messages on screen
/// (the line plan says where each starts).
fn window(state: &Session, search: Option<&SearchBar>, width: usize, top: usize, height: usize) -> Vec<Line<'static>> {
    let plan = state.chat_plan_at(width);
    let top = top.min(plan.total.saturating_sub(height));
    let Some(first) = plan.message_at(top) else {
        return notes(state, width, false).into_iter().skip(top).take(height).collect();
    };
    let first_line = plan.starts[first];
    let mut out = Vec::new();
    let mut index = first;
    let count = state.chat.messages.len();
    while index < count && first_line + out.len() < top + height {
        if index > first {
            out.push(Line::default());
        }
        out.extend(message_lines(state, search, index, width));
        index += 1;
    }
    if index == count {
        out.extend(notes(state, width, true));
    }
    out.into_iter().skip(top - first_line).take(height).collect()
}

/// The last `height` lines, wrapping only the newest messages: following the tail while an
/// answer streams costs the screen, not the whole history.
fn tail_lines(state: &Session, search: Option<&SearchBar>, width: usize, height: usize) -> Vec<Line<'static>> {
    let tail = notes(state, width, !state.chat.messages.is_empty());
    let mut count = tail.len();
    let mut chunks = vec![tail];
    for index in (0..state.chat.messages.len()).rev() {
        if count >= height {
            break;
        }
        let mut chunk = message_lines(state, search, index, width);
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

/// One message: its header, then its body as the line plan wraps it (an answer's markdown
/// rendered), search matches marked, the selection (Alt+↑/↓) reversed.
fn message_lines(state: &Session, search: Option<&SearchBar>, index: usize, width: usize) -> Vec<Line<'static>> {
    let theme = state.theme;
    let message = &state.chat.messages[index];
    let (hits, current) = match search {
        Some(search) => (in_message(&search.hits, index), search.current_hit()),
        None => (&[][..], None),
    };
    let selected = selection::current(&state.chat).filter(|s| s.message == index);
    let body = wrapped(message, width);
    let shown = &body.shown;
    let mut head = header(message, theme, width);
    if selected.is_some_and(|s| s.block.is_none()) {
        head = head.patch_style(theme.selected());
    }
    // The selected code block's first line (its language) is reversed.
    let selected_line = selected.and_then(|s| s.block).and_then(|b| shown.code_blocks.get(b)).map(|b| b.lines.start);
    let mut out = vec![head];
    for row in &body.rows {
        let mut spans = vec![Span::raw(INDENT)];
        let prefix = body.prefix(row);
        if !prefix.is_empty() {
            spans.push(Span::styled(prefix.to_string(), if shown.lines[row.line].code { theme.code() } else { theme.dim() }));
        }
        spans.extend(styled(&shown.text, row.range.clone(), &shown.looks, hits, current, theme));
        let mut line = Line::from(spans);
        if selected_line == Some(row.line) && row.first {
            line = line.patch_style(theme.selected());
        }
        out.push(line);
    }
    out.extend(body.error.into_iter().map(|l| Line::styled(l, theme.error())));
    out
}

/// How a part of an answer looks on this terminal; with NO_COLOR the modifiers remain (bold,
/// italic, underline) and code keeps its gutter and backticks.
fn look_style(look: Look, theme: Theme) -> Style {
    let mut style = if look.code { theme.code() } else { Style::new() };
    if look.dim {
        style = style.patch(theme.dim());
    }
    let mut add = Modifier::empty();
    for (on, modifier) in [
        (look.strong, Modifier::BOLD),
        (look.emphasis, Modifier::ITALIC),
        (look.strike, Modifier::CROSSED_OUT),
        (look.heading, Modifier::BOLD | Modifier::UNDERLINED),
        (look.link, Modifier::UNDERLINED),
    ] {
        if on {
            add |= modifier;
        }
    }
    style.add_modifier(add)
}

/// `text[range]` as spans: each part in its look, the parts inside `hits` styled as matches.
fn styled(
    text: &str,
    range: std::ops::Range<usize>,
    looks: &[(std::ops::Range<usize>, Look)],
    hits: &[Hit],
    current: Option<Hit>,
    theme: Theme,
) -> Vec<Span<'static>> {
    let looks = &looks[looks.partition_point(|(r, _)| r.end <= range.start)..];
    let looks: Vec<_> = looks.iter().take_while(|(r, _)| r.start < range.end).collect();
    let hits = &hits[hits.partition_point(|h| h.end <= range.start)..];
    let hits: Vec<_> = hits.iter().take_while(|h| h.start < range.end).collect();
    // Every place where the style may change.
    let mut cuts = vec![range.start, range.end];
    let inside = |at: usize| at.clamp(range.start, range.end);
    cuts.extend(looks.iter().flat_map(|(r, _)| [inside(r.start), inside(r.end)]));
    cuts.extend(hits.iter().flat_map(|h| [inside(h.start), inside(h.end)]));
    cuts.sort_unstable();
    cuts.dedup();
    let mut spans: Vec<Span<'static>> = Vec::new();
    for pair in cuts.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        // A match found before the text changed may no longer fall on char boundaries.
        let Some(part) = text.get(from..to) else { continue };
        let mut style = looks.iter().find(|(r, _)| r.start <= from && from < r.end).map_or(Style::new(), |(_, l)| look_style(*l, theme));
        if let Some(hit) = hits.iter().find(|h| h.start <= from && from < h.end) {
            style = style.patch(if current == Some(**hit) { theme.found_current() } else { theme.found() });
        }
        match spans.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(part),
            _ => spans.push(Span::styled(part.to_string(), style)),
        }
    }
    spans
}

/// Who wrote the message, then what happened to it, as whole fields: when the pane is narrow
/// the least useful go first ("ttft", then the speed...), never half a word.
fn header(message: &Message, theme: Theme, width: usize) -> Line<'static> {
    let (label, style) = match message.role {
        Role::User => ("you".to_string(), theme.user()),
        Role::Assistant => (answer_label(message), theme.assistant()),
        Role::System => ("system".to_string(), theme.dim()),
    };
    // (drop order: higher goes first, text, style)
    let mut fields: Vec<(u8, String, Style)> = Vec::new();
    // Which version of a regenerated answer this is (Alt+←/→ flip): the last field to go.
    if message.versions.count() > 1 {
        fields.push((0, format!("{}/{}", message.versions.position(), message.versions.count()), theme.title()));
    }
    match &message.status {
        MessageStatus::Streaming if message.text.is_empty() => fields.push((1, "thinking…".into(), theme.dim())),
        MessageStatus::Stopped => fields.push((1, "stopped".into(), theme.warn())),
        MessageStatus::Failed(_) => fields.push((1, "failed".into(), theme.error())),
        _ => {}
    }
    if let Some(stats) = &message.stats {
        fields.push((2, format!("{} tok", stats.completion_tokens), theme.dim()));
        if let Some(rate) = stats.decode_tok_s {
            fields.push((4, format!("{rate:.1} tok/s"), theme.dim()));
        }
        if let Some(ttft) = stats.ttft_ms {
            fields.push((5, format!("ttft {ttft} ms"), theme.dim()));
        }
        // Why this first token came quickly: the prompt's start was already read.
        if stats.cached_tokens > 0 {
            fields.push((6, format!("{} cached", stats.cached_tokens), theme.dim()));
        }
    }
    // How a finished answer ended; "stopped" and "failed" already say it.
    if message.status == MessageStatus::Complete
        && let Some(reason @ (FinishReason::Stop | FinishReason::Length)) = message.finish
    {
        fields.push((3, reason.label().into(), theme.dim()));
    }
    let fits = |fields: &[(u8, String, Style)]| str_width(&label) + fields.iter().map(|f| 3 + str_width(&f.1)).sum::<usize>() <= width;
    while !fits(&fields) {
        let Some(drop) = fields.iter().enumerate().max_by_key(|(_, f)| f.0).map(|(i, _)| i) else { break };
        fields.remove(drop);
    }
    let mut spans = vec![Span::styled(truncate(&label, width), style)];
    spans.extend(fields.into_iter().map(|(_, text, style)| Span::styled(format!(" · {text}"), style)));
    Line::from(spans)
}

/// Who wrote an answer: its model, after its node when another node wrote it ("node-a · model").
fn answer_label(message: &Message) -> String {
    let model = message.model.as_deref().unwrap_or("assistant");
    match &message.node {
        Some(node) => format!("{node} · {model}"),
        None => model.to_string(),
    }
}

/// The model's loading or failure notice (or the first hint) after the messages.
fn notes(state: &Session, width: usize, after_messages: bool) -> Vec<Line<'static>> {
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

fn render(frame: &mut Frame, area: Rect, state: &Session, search: Option<&SearchBar>) {
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
    let (width, height) = (inner.width as usize, inner.height as usize);
    let visible: Vec<Line> = match state.chat.scroll_top {
        None => tail_lines(state, search, width, height),
        Some(top) => window(state, search, width, top, height),
    };
    frame.render_widget(Paragraph::new(visible), inner);
}

/// "scrolled · 31.2 tok/s · ttft 180 ms · ctx 812/4096" ("~" while the count is an estimate).
fn footer(state: &Session, width: usize) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(stats) = state.chat.newest_answer_stats() {
        if let Some(rate) = stats.decode_tok_s {
            parts.push(format!("{rate:.1} tok/s"));
        }
        if let Some(ttft) = stats.ttft_ms {
            parts.push(format!("ttft {ttft} ms"));
        }
    }
    if let Some(ctx) = state.model.context_len() {
        let about = if state.chat.context_estimated { "~" } else { "" };
        // A server that does not say its context length (llama-cpp-python) gets no limit.
        let limit = if ctx > 0 { format!("/{ctx}") } else { String::new() };
        parts.push(format!("ctx {about}{}{limit}", state.chat.context_used));
    }
    if state.chat.scroll_top.is_some() {
        parts.insert(0, "scrolled · Ctrl+End follows".into());
    }
    (!parts.is_empty()).then(|| format!(" {} ", truncate(&parts.join(" · "), width.saturating_sub(2))))
}

/// The message box: a wrapping editor, with a title that says what Enter will do.
#[derive(Debug)]
pub struct ChatPane {
    pub input: TextArea<'static>,
}

impl ChatPane {
    pub fn new(theme: llamadeck_words::theme::Theme) -> Self {
        ChatPane { input: new_input(theme) }
    }

    /// Empties the message box.
    pub fn clear(&mut self, theme: llamadeck_words::theme::Theme) {
        self.input = new_input(theme);
    }

    /// The message box's text.
    pub fn text(&self) -> String {
        self.input.lines().join("\n")
    }

    /// Rows the message box's text takes wrapped at `width` columns: the box grows with them
    /// (up to `layout::MAX_INPUT_ROWS`, then its text scrolls). A line that fills the width
    /// takes one more row for the cursor after it.
    pub fn input_rows(&self, width: u16) -> usize {
        editor_rows(&self.input, width)
    }

    fn draw_input(&self, frame: &mut Frame, area: Rect, state: &Session, focused: bool) {
        let theme = state.theme;
        let title = if state.answering() {
            " answering · Esc stops "
        } else if self.input.lines().first().is_some_and(|l| l.starts_with('/')) && self.input.lines().len() == 1 {
            " command · Tab completes · Enter runs · / again searches "
        } else {
            " message "
        };
        let block = Block::bordered()
            .border_style(if focused { theme.border_focused() } else { theme.border() })
            .title(Span::styled(truncate(title, area.width.saturating_sub(2) as usize), theme.title()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(&self.input, inner);
    }

    /// The key bound to search (`/`) in the message box: in an empty box it starts a command
    /// (`/model`, `/export`); pressed again at once, the box empties and the search opens (the
    /// global command does that). None: the key does what it always does.
    fn slash_key(&mut self, key: &KeyEvent, state: &mut Session) -> Option<Outcome> {
        let KeyCode::Char(c) = key.code else { return None };
        if !plain(key) {
            return None;
        }
        if self.input.is_empty() {
            state.quit = Quit::No;
            self.input.input(*key);
            return Some(Outcome::done());
        }
        if self.input.lines() == [c.to_string()] {
            self.clear(state.theme);
            return Some(Outcome::Pass);
        }
        None
    }
}

fn plain(key: &KeyEvent) -> bool {
    key.modifiers.difference(KeyModifiers::SHIFT).is_empty()
}

impl Pane for ChatPane {
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        if command == Some(Command::Search)
            && let Some(outcome) = self.slash_key(key, state)
        {
            return outcome;
        }
        // A printable character bound to a command (like `?`) still types into a non-empty box.
        let typed = matches!(key.code, KeyCode::Char(_)) && plain(key) && !self.input.is_empty();
        if command.is_some() && !typed {
            return Outcome::Pass;
        }
        state.quit = Quit::No;
        super::editing::edit(&mut self.input, key);
        Outcome::done()
    }

    fn on_paste(&mut self, text: &str, _state: &mut Session) -> Outcome {
        self.input.insert_str(text);
        Outcome::done()
    }

    fn hints(&self, state: &Session) -> Hints {
        let keys = if state.answering() {
            vec![Hint::command(state, Command::Stop)]
        } else if let Some(s) = selection::current(&state.chat) {
            // An answer or code block is selected: what can be done with it.
            let versions = state.chat.messages[s.message].versions.count() > 1;
            let flip = versions.then(|| Hint::bound(state, Command::OlderVersion, "older")).flatten();
            let newer = versions.then(|| Hint::bound(state, Command::NewerVersion, "newer")).flatten();
            vec![Hint::command(state, Command::CopyLast), flip, newer, Hint::bound(state, Command::Stop, "let go")]
        } else {
            let fleet = (!state.fleet.nodes.is_empty()).then(|| Hint::command(state, Command::Fleet)).flatten();
            vec![Hint::command(state, Command::Send), Hint::bound(state, Command::FocusNext, "settings"), fleet]
        };
        Hints { keys: keys.into_iter().flatten().collect(), help: true }
    }

    fn draw(&self, frame: &mut Frame, areas: &Areas, state: &Session, panes: &Panes) {
        render(frame, areas.chat, state, panes.find::<SearchBar>());
        let focused = panes.focus == Focus::Chat && !panes.settings.editing();
        self.draw_input(frame, areas.input, state, focused);
    }
}

/// Rows `editor`'s text takes wrapped at `width` columns (a full line leaves a row for the
/// cursor after it).
pub fn editor_rows(editor: &TextArea<'static>, width: u16) -> usize {
    let width = usize::from(width.max(1));
    editor.lines().iter().map(|line| llamadeck_words::text::line_count(line, width).max(str_width(line) / width + 1)).sum::<usize>().max(1)
}

pub fn new_input(theme: llamadeck_words::theme::Theme) -> TextArea<'static> {
    let mut input = new_editor(theme, "type here · Enter sends · Alt+Enter new line · Tab settings");
    input.set_wrap_mode(WrapMode::WordOrGlyph);
    input
}

/// A text editor in the console's style, showing `placeholder` while empty. Its selection is
/// drawn reversed, so it shows without colour too (NO_COLOR).
pub fn new_editor(theme: llamadeck_words::theme::Theme, placeholder: &str) -> TextArea<'static> {
    let mut editor = TextArea::default();
    editor.set_cursor_line_style(ratatui::style::Style::new());
    editor.set_selection_style(theme.selected());
    editor.set_placeholder_text(placeholder);
    editor.set_placeholder_style(theme.dim());
    editor
}
