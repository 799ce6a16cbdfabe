//! The fleet pane (F6): one line per node, the model here first: whether it serves (and why
//! not), its model, requests running/waiting, KV cache in use, generated tokens per second, and
//! each GPU's memory and utilisation as two small bars. Under the lines, everything about the
//! selected node. The chat's target is marked ▸. ↑↓ select a node, Enter makes it the chat's
//! target, Esc or F6 closes. Every number from a node goes through [`figure`]: at most six
//! columns, "–" where unknown (`prom` already made nonsense unknown).
use std::cell::Cell;

use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Hint, Hints, ListSpot, Outcome, Pane, Panes, is_click, passes_through};
use crate::session::fleet::{has_api, switch};
use crate::session::{ModelState, NoticeLevel, Session};
use llamadeck_fleet::{Health, NodeReading};
use llamadeck_gpu::snapshot::GpuSnapshot;
use llamadeck_words::keys::Command;
use llamadeck_words::layout::Areas;
use llamadeck_words::prom::{EngineKind, GpuStats, MAX_GPUS};
use llamadeck_words::text::{sanitize, str_width, truncate, wrap};
use llamadeck_words::theme::Theme;

/// The pane's widest.
const WIDTH: u16 = 110;
const NAME: usize = 10;
const STATE: usize = 8;
const MODEL: usize = 18;
const BARS: &[char] = &['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// What an unknown number shows.
const UNKNOWN: &str = "–";
/// The widest a number is drawn.
const FIGURE: usize = 6;

/// What one line shows, whichever node it is.
struct Row {
    target: bool,
    name: String,
    state: &'static str,
    /// The reason when it does not serve; else model, load and GPUs.
    reason: Option<String>,
    model: String,
    running: String,
    kv: String,
    tok_s: String,
    gpus: String,
}

/// The fleet pane; `selected` is its row: the model here first when there is one, then the nodes.
#[derive(Debug)]
pub struct FleetPane {
    pub selected: usize,
    /// Where the node rows were last drawn (a click picks one).
    spot: Cell<ListSpot>,
}

impl FleetPane {
    /// The pane with the chat's target selected.
    pub fn new(state: &Session) -> Self {
        FleetPane { selected: state.fleet.target_row(), spot: Cell::default() }
    }

    /// Enter: the selected node becomes the chat's target (the pane closes).
    fn choose(&self, state: &mut Session) -> Outcome {
        let Some(row) = state.fleet.node_at(self.selected) else { return Outcome::done() };
        let target = row.map(|n| n.name.clone());
        if row.is_some_and(|n| !has_api(state, &n.name)) {
            let name = target.unwrap_or_default();
            return Outcome::Done(state.notice(NoticeLevel::Warn, format!("{name} has no url in the config: it is watched, not asked")));
        }
        if target == state.fleet.target && !matches!(state.model.state, ModelState::Failed { .. }) {
            return Outcome::close();
        }
        if state.answering() {
            return Outcome::Close(state.notice(NoticeLevel::Warn, "stop the answer first (Esc), then choose another node"));
        }
        let name = target.clone().unwrap_or_else(|| "local".into());
        let mut effects = switch(state, target);
        effects.extend(state.notice(NoticeLevel::Info, format!("chatting with {name}")));
        Outcome::Close(effects)
    }
}

impl Pane for FleetPane {
    fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, state: &mut Session) -> Outcome {
        let last = state.fleet.rows().saturating_sub(1);
        match key.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => self.selected = (self.selected + 1).min(last),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = last,
            KeyCode::Esc => return Outcome::close(),
            KeyCode::Enter => return self.choose(state),
            _ if command == Some(Command::Fleet) => return Outcome::close(),
            _ if passes_through(command) => return Outcome::Pass,
            _ => {}
        }
        Outcome::done()
    }

    /// The wheel selects; a click selects a node, and a click on the selected one chats with
    /// it (as Enter).
    fn on_mouse(&mut self, mouse: &MouseEvent, _areas: &Areas, state: &mut Session) -> Outcome {
        if !is_click(mouse) {
            return super::covering_mouse(self, mouse, state);
        }
        match self.spot.get().item_at(mouse.column, mouse.row) {
            Some(row) if row == self.selected => self.choose(state),
            Some(row) => {
                self.selected = row;
                Outcome::done()
            }
            None => Outcome::done(),
        }
    }

    fn hints(&self, _state: &Session) -> Hints {
        Hints { keys: vec![Hint::new("Enter", "chat"), Hint::new("Esc", "close"), Hint::new("↑↓", "select")], help: true }
    }

    fn draw(&self, frame: &mut Frame, _areas: &Areas, state: &Session, _panes: &Panes) {
        self.spot.set(render(frame, state, self.selected));
    }
}

/// Draws the pane; returns where its node rows went.
fn render(frame: &mut Frame, state: &Session, selected: usize) -> ListSpot {
    let area = super::overlay_area(frame);
    let theme = state.theme;
    let fleet = &state.fleet;
    let inner_width = WIDTH.min(area.width).saturating_sub(2).max(1) as usize;
    let inner_height = area.height.saturating_sub(2) as usize;
    let rows: Vec<Row> = (0..fleet.rows()).filter_map(|r| fleet.node_at(r)).map(|node| row(state, node)).collect();
    let header =
        format!("  {:<NAME$} {:<STATE$} {:<MODEL$} {:>7} {:>4} {:>6}  GPUs mem·util", "node", "state", "model", "run/wait", "KV", "tok/s");
    let mut content = vec![Line::styled(truncate(&header, inner_width), theme.dim())];
    // The rows first; the selected one's details in what room is left.
    let room = inner_height.saturating_sub(1);
    let first = (selected + 1).saturating_sub(room.max(1));
    for (i, r) in rows.iter().enumerate().skip(first).take(room.max(1)) {
        content.push(line(r, i == selected, inner_width, theme));
    }
    let shown = content.len() - 1;
    let left = inner_height.saturating_sub(content.len() + 1);
    let detail: Vec<String> = fleet
        .node_at(selected)
        .map(|node| details(state, node))
        .unwrap_or_default()
        .iter()
        .flat_map(|d| wrap(&sanitize(d), inner_width))
        .take(left)
        .collect();
    if !detail.is_empty() {
        content.push(Line::default());
        content.extend(detail.into_iter().map(Line::from));
    }
    // Where popup::render puts the box: the rows start under its border and the header.
    let popup = llamadeck_words::layout::centered(area, WIDTH, content.len().saturating_add(2).min(u16::MAX as usize) as u16);
    let list = ratatui::layout::Rect { x: popup.x + 1, y: popup.y + 2, width: popup.width.saturating_sub(2), height: shown as u16 };
    super::popup::render(frame, area, WIDTH, " fleet · ↑↓ select · Enter chats with it · Esc closes ", content, theme);
    ListSpot { area: list.intersection(popup), first, count: shown }
}

fn line(r: &Row, selected: bool, width: usize, theme: Theme) -> Line<'static> {
    let state_style = match r.state {
        "up" => theme.good(),
        "loading" | "…" => theme.warn(),
        _ => theme.error(),
    };
    let head = format!("{} {:<NAME$} ", if r.target { "▸" } else { " " }, truncate(&sanitize(&r.name), NAME));
    let rest = match &r.reason {
        Some(reason) => sanitize(reason).replace('\n', " "),
        None => format!("{:<MODEL$} {:>7} {:>4} {:>6}  {}", truncate(&sanitize(&r.model), MODEL), r.running, r.kv, r.tok_s, r.gpus),
    };
    let used = str_width(&head) + STATE + 1;
    let spans = vec![
        Span::raw(head),
        Span::styled(format!("{:<STATE$} ", r.state), state_style),
        Span::styled(truncate(&rest, width.saturating_sub(used)), if r.reason.is_some() { theme.dim() } else { Style::default() }),
    ];
    let line = Line::from(spans);
    if selected { line.style(theme.selected()) } else { line }
}

fn row(state: &Session, node: Option<&NodeReading>) -> Row {
    let fleet = &state.fleet;
    let Some(node) = node else { return local_row(state) };
    let engine = node.engine.as_ref();
    Row {
        target: fleet.target.as_deref() == Some(node.name.as_str()),
        name: node.name.clone(),
        state: node.health.word(),
        reason: node.health.reason().map(str::to_string),
        model: node.model.as_deref().map_or_else(|| UNKNOWN.into(), crate::session::model::model_name),
        running: format!("{}/{}", figure(engine.and_then(|e| e.running), 0), figure(engine.and_then(|e| e.waiting), 0)),
        kv: percent(engine.and_then(|e| e.kv_cache_usage).map(|k| k * 100.0)),
        tok_s: figure(node.rates.generated_per_second, 1),
        gpus: node
            .gpus
            .iter()
            .map(|g| bars(fraction(g.memory_used_bytes, g.memory_total_bytes), g.utilization_percent.map(|u| u / 100.0)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn local_row(state: &Session) -> Row {
    let (word, reason, model) = match state.fleet.local_state(&state.model.state) {
        Some(ModelState::Ready { name, .. }) => ("up", None, name.clone()),
        Some(ModelState::Loading { stage, .. }) => ("loading", Some(stage.clone()), String::new()),
        Some(ModelState::Failed { reason }) => ("down", Some(reason.clone()), String::new()),
        None => ("…", None, String::new()),
    };
    let local_answering = state.fleet.target.is_none() && state.answering();
    Row {
        target: state.fleet.target.is_none(),
        name: "local".into(),
        state: word,
        reason,
        model,
        running: format!("{}/0", u8::from(local_answering)),
        kv: UNKNOWN.into(),
        tok_s: figure(state.chat.last_stats().and_then(|s| s.decode_tok_s).filter(|_| state.fleet.target.is_none()), 1),
        gpus: local_gpus(state.gpu.latest.as_deref()),
    }
}

fn local_gpus(gpu: Option<&GpuSnapshot>) -> String {
    let Some(gpu) = gpu else { return String::new() };
    let devices = gpu.devices.iter().filter(|d| d.lost.is_none());
    devices.map(|d| bars(fraction(d.memory_used, d.memory_total), d.util_gpu.map(|u| f64::from(u) / 100.0))).collect::<Vec<_>>().join(" ")
}

fn fraction(used: Option<u64>, total: Option<u64>) -> Option<f64> {
    let (used, total) = (used?, total?);
    (total > 0).then(|| used as f64 / total as f64)
}

/// `value` with `decimals` in at most [`FIGURE`] columns: as it is where it fits, else in
/// thousands ("12.3k", "456M", up to E), and [`UNKNOWN`] where unknown, negative or beyond.
pub fn figure(value: Option<f64>, decimals: usize) -> String {
    let Some(value) = value.filter(|v| v.is_finite() && *v >= 0.0) else { return UNKNOWN.into() };
    let plain = format!("{value:.decimals$}");
    if plain.len() <= FIGURE {
        return plain;
    }
    let mut scaled = value;
    for unit in ['k', 'M', 'G', 'T', 'P', 'E'] {
        scaled /= 1000.0;
        if scaled < 99.95 {
            return format!("{scaled:.1}{unit}");
        }
        if scaled < 999.5 {
            return format!("{scaled:.0}{unit}");
        }
    }
    UNKNOWN.into()
}

/// A percentage, 0 to 100, without decimals.
fn percent(value: Option<f64>) -> String {
    match value.filter(|p| (0.0..=100.0).contains(p)) {
        Some(p) => format!("{p:.0}%"),
        None => UNKNOWN.into(),
    }
}

/// Memory and utilisation, one block character each (`·` where unknown).
pub fn bars(memory: Option<f64>, util: Option<f64>) -> String {
    let bar = |f: Option<f64>| match f.filter(|f| f.is_finite()) {
        Some(f) => BARS[((f.clamp(0.0, 1.0) * (BARS.len() - 1) as f64).round()) as usize],
        None => '·',
    };
    format!("{}{}", bar(memory), bar(util))
}

fn engine_name(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Vllm => "vLLM",
        EngineKind::Sglang => "SGLang",
        EngineKind::LlamaCpp => "llama.cpp",
        EngineKind::Llamadeck => "llamadeck",
    }
}

fn gib(bytes: u64) -> String {
    figure(Some(bytes as f64 / (1u64 << 30) as f64), 1)
}

fn gpu_line(g: &GpuStats) -> String {
    let mut parts = vec![format!("gpu {}", g.index.map_or("?".into(), |i| figure(Some(f64::from(i)), 0)))];
    if let Some(mig) = &g.mig_instance {
        parts[0].push_str(&format!(" (MIG {})", truncate(mig, FIGURE)));
    }
    parts.extend(g.model.clone());
    match (g.memory_used_bytes, g.memory_total_bytes) {
        (Some(u), Some(t)) => parts.push(format!("{}/{} GiB", gib(u), gib(t))),
        (Some(u), None) => parts.push(format!("{} GiB used", gib(u))),
        _ => {}
    }
    parts.extend(g.utilization_percent.map(|u| percent(Some(u))));
    parts.extend(g.temperature_celsius.map(|t| format!("{}°C", figure(Some(t), 0))));
    parts.extend(g.power_watts.map(|p| format!("{} W", figure(Some(p), 0))));
    parts.join(" · ")
}

/// Everything about one node, for under the lines.
fn details(state: &Session, node: Option<&NodeReading>) -> Vec<String> {
    let Some(node) = node else {
        let mut out = vec!["local · the model this console runs (its GPUs in the GPU panel, from NVML)".to_string()];
        if let Some(ModelState::Failed { reason }) = state.fleet.local_state(&state.model.state) {
            out.push(reason.clone());
        }
        return out;
    };
    let mut head = vec![node.name.clone(), node.address.clone()];
    head.extend(node.model.clone());
    if node.context_len > 0 {
        head.push(format!("ctx {}", figure(Some(node.context_len as f64), 0)));
    }
    let mut out = vec![head.join(" · ")];
    if let Health::Down(why) | Health::Loading(why) = &node.health {
        out.push(why.clone());
    }
    if let Some(e) = &node.engine {
        let mut parts = vec![engine_name(e.kind).to_string()];
        parts.extend(e.running.map(|r| format!("{} running", figure(Some(r), 0))));
        parts.extend(e.waiting.map(|w| format!("{} waiting", figure(Some(w), 0))));
        parts.extend(e.kv_cache_usage.map(|k| format!("KV cache {}", percent(Some(k * 100.0)))));
        parts.extend(node.rates.prompt_per_second.map(|r| format!("prompt {} tok/s", figure(Some(r), 1))));
        parts.extend(node.rates.generated_per_second.map(|r| format!("generated {} tok/s", figure(Some(r), 1))));
        parts.extend(e.ttft_mean_seconds().map(|s| {
            if s < 10.0 {
                format!("first token {} ms on average", figure(Some(s * 1000.0), 0))
            } else {
                format!("first token {} s on average", figure(Some(s), 1))
            }
        }));
        out.push(parts.join(" · "));
    }
    if node.gpus_dropped > 0 {
        let dropped = figure(Some(node.gpus_dropped as f64), 0);
        out.push(format!("GPUs: the first {} shown, {dropped} more left out (llamadeck keeps {MAX_GPUS} a node)", node.gpus.len()));
    }
    out.extend(node.gpus.iter().map(gpu_line));
    out.extend(node.problems.iter().map(|p| format!("metrics: {p}")));
    out
}

#[cfg(test)]
mod tests {
    use super::{FIGURE, bars, figure};

    #[test]
    fn figures_keep_to_six_columns() {
        let cases = [
            (Some(0.0), 0, "0"),
            (Some(41.25), 1, "41.2"),
            (Some(9999.9), 1, "9999.9"),
            (Some(131_072.0), 0, "131072"),
            (Some(12_345.6), 1, "12.3k"),
            (Some(4_194_304.0), 0, "4.2M"),
            (Some(99_960.0), 1, "100k"),
            (Some(999_600.0), 1, "1.0M"),
            (Some(512e15), 0, "512P"),
            (Some(999e18), 0, "999E"),
            (Some(1e308), 0, "–"),
            (Some(f64::INFINITY), 0, "–"),
            (Some(f64::NAN), 0, "–"),
            (Some(-5.0), 0, "–"),
            (None, 1, "–"),
        ];
        for (value, decimals, shown) in cases {
            assert_eq!(figure(value, decimals), shown, "{value:?}");
        }
        for exponent in 0..=30 {
            let value = 10f64.powi(exponent) * 9.9996;
            assert!(figure(Some(value), 1).chars().count() <= FIGURE, "{value}: {}", figure(Some(value), 1));
        }
    }

    #[test]
    fn bars_show_memory_and_utilisation() {
        assert_eq!(bars(Some(0.0), Some(1.0)), "▁█");
        assert_eq!(bars(Some(0.5), None), "▅·");
        assert_eq!(bars(Some(f64::NAN), Some(7.0)), "·█");
    }
}
