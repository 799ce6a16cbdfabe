//! GPU panel: per card its name, memory, utilisation, temperature, power, sparklines and
//! processes; or, without NVML, why not and this process's host memory and CPU instead.
//! The layout degrades with height: full blocks, then two lines per GPU, then one line per
//! GPU (process lists and sparklines go first), so 8-GPU servers stay legible.
mod cells;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use cells::{bar, clean, fit, fit_right, percent, power, size, sparkline, temperature, truncate, used_of_total, width, wrap};
use llamadeck_engine::PrefixCacheStats;
use llamadeck_gpu::snapshot::{GpuDevice, GpuProcess, GpuSnapshot, GpuStatus};
use llamadeck_gpu::{GpuHistory, Series};
use llamadeck_words::theme::Theme;

/// Rows a GPU takes in the full layout before its processes.
const FULL_ROWS: usize = 4;
/// "util " before a bar or sparkline.
const LABEL_WIDTH: usize = 5;
/// Room kept right of a bar or sparkline for its numbers ("100.0/141.0G").
const VALUE_WIDTH: usize = 12;
/// Narrower than this, a bar or sparkline says nothing and is left out.
const MIN_GRAPH: usize = 3;
/// Memory use at or above this is drawn in the warning colour.
const MEMORY_HIGH_PERCENT: f64 = 90.0;
const TEMPERATURE_HIGH_C: u32 = 85;

/// The GPU panel: a remote target's GPUs (from its metrics) while the chat talks to a node, else
/// this machine's (NVML). It takes no keys.
pub fn draw_panel(frame: &mut Frame, area: Rect, state: &crate::session::Session) {
    match (&state.fleet.target, &state.fleet.target_gpu) {
        (Some(_), Some(gpu)) => render(frame, area, Some(gpu), &state.fleet.target_history, None, state.theme),
        _ => {
            let cache = state.model.cache.as_ref();
            render(frame, area, state.gpu.latest.as_deref(), &state.gpu.history, cache, state.theme)
        }
    }
}

/// `cache`: the prefix cache of the model in this process, shown under its memory.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    snapshot: Option<&GpuSnapshot>,
    history: &GpuHistory,
    cache: Option<&PrefixCacheStats>,
    theme: Theme,
) {
    let area = area.intersection(frame.area());
    // The border is the first thing to go in a tiny area: the numbers matter more.
    let inner = if area.width >= 8 && area.height >= 3 {
        let block = Block::bordered().border_style(theme.border()).title(Span::styled(title(snapshot), theme.title()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        inner
    } else {
        area
    };
    let lines = match snapshot {
        None => vec![Line::styled("waiting for first reading…", theme.dim())],
        Some(snap) => Panel { snap, history, cache, theme, width: usize::from(inner.width), height: usize::from(inner.height) }.lines(),
    };
    frame.render_widget(Paragraph::new(lines), inner);
}

fn title(snapshot: Option<&GpuSnapshot>) -> String {
    match snapshot.map(|snap| &snap.status) {
        Some(GpuStatus::Nvml { driver: Some(driver) }) => format!(" GPU · driver {} ", clean(driver)),
        _ => " GPU ".to_string(),
    }
}

struct Panel<'a> {
    snap: &'a GpuSnapshot,
    history: &'a GpuHistory,
    cache: Option<&'a PrefixCacheStats>,
    theme: Theme,
    width: usize,
    height: usize,
}

impl Panel<'_> {
    fn lines(&self) -> Vec<Line<'static>> {
        if self.snap.devices.is_empty() {
            return match &self.snap.status {
                GpuStatus::Unavailable { reason } => self.host_lines(reason),
                GpuStatus::Nvml { .. } => self.host_lines("NVML sees no GPU on this machine; showing host memory and CPU"),
            };
        }
        let devices = &self.snap.devices;
        if devices.len() * FULL_ROWS <= self.height {
            self.full_lines()
        } else if devices.len() * 2 <= self.height {
            devices.iter().flat_map(|device| self.two_line_row(device)).collect()
        } else {
            self.one_line_rows()
        }
    }

    /// Width of bars and sparklines so their numbers line up in one column.
    fn graph_width(&self, value_width: usize) -> usize {
        let cells = self.width.saturating_sub(LABEL_WIDTH + 1 + value_width);
        if cells < MIN_GRAPH { 0 } else { cells }
    }

    fn label(&self, text: &str) -> Span<'static> {
        Span::styled(fit(text, LABEL_WIDTH), self.theme.dim())
    }

    /// "label graph value" with the graph `cells` wide (left out when 0).
    fn graph_row(&self, label: &str, graph: Vec<Span<'static>>, cells: usize, value: String) -> Line<'static> {
        let mut spans = vec![self.label(label)];
        if cells > 0 {
            spans.extend(graph);
            spans.push(Span::raw(" "));
        }
        spans.push(Span::raw(value));
        Line::from(spans)
    }

    fn memory_bar(&self, device: &GpuDevice, cells: usize) -> Vec<Span<'static>> {
        let Some(used) = memory_percent(device) else {
            return vec![Span::raw(" ".repeat(cells))];
        };
        let style = if used >= MEMORY_HIGH_PERCENT { self.theme.gauge_high() } else { self.theme.gauge() };
        let (filled, empty) = bar(used, cells);
        vec![Span::styled(filled, style), Span::styled(empty, self.theme.dim())]
    }

    fn spark(&self, series: &Series, cells: usize) -> Vec<Span<'static>> {
        vec![Span::styled(sparkline(series, cells), self.theme.gauge())]
    }

    /// "0 NVIDIA H100 80GB HBM3        52°C 312/700W", or LOST on the right.
    fn header(&self, device: &GpuDevice) -> Line<'static> {
        let right = if device.lost.is_some() {
            vec![Span::styled("LOST", self.theme.error())]
        } else {
            let hot = device.temperature_c.is_some_and(|c| c >= TEMPERATURE_HIGH_C);
            let temperature_style = if hot { self.theme.warn() } else { Style::new() };
            vec![
                Span::styled(labelled("temp", temperature(device.temperature_c)), temperature_style),
                Span::raw(" "),
                Span::raw(labelled("pwr", power(device.power_mw, device.power_limit_mw))),
            ]
        };
        let index = format!("{} ", device.index);
        let right_width: usize = right.iter().map(Span::width).sum();
        let name_width = self.width.saturating_sub(width(&index) + 1 + right_width);
        let mut spans = vec![
            Span::styled(index, self.theme.title()),
            Span::styled(fit(&clean(&device.name), name_width), self.theme.title()),
            Span::raw(" "),
        ];
        spans.extend(right);
        Line::from(spans)
    }

    fn full_lines(&self) -> Vec<Line<'static>> {
        let devices = &self.snap.devices;
        let quotas = process_quotas(devices, self.height.saturating_sub(devices.len() * FULL_ROWS));
        let cells = self.graph_width(VALUE_WIDTH);
        let mut lines = Vec::new();
        for (device, quota) in devices.iter().zip(quotas) {
            lines.push(self.header(device));
            if let Some(reason) = &device.lost {
                let reason = wrap(&clean(reason), self.width, FULL_ROWS - 1);
                lines.extend(reason.into_iter().map(|line| Line::styled(line, self.theme.error())));
                continue;
            }
            let memory = match (device.memory_used, device.memory_total) {
                (Some(used), Some(total)) => used_of_total(used, total),
                _ => "n/a".to_string(),
            };
            lines.push(self.graph_row("mem", self.memory_bar(device, cells), cells, memory));
            let mut used = percent(memory_percent(device).map(|p| p.round() as u32));
            if let Some(reserved) = device.memory_reserved.filter(|&bytes| bytes > 0) {
                used = format!("{used} rsv {}", size(reserved));
            }
            lines.push(self.graph_row("", self.spark(self.history.gpu_memory(device.index), cells), cells, used));
            let util = format!("{} bw {}", percent(device.util_gpu), percent(device.util_memory));
            lines.push(self.graph_row("util", self.spark(self.history.gpu_util(device.index), cells), cells, util));
            lines.extend(self.process_rows(&device.processes, quota));
        }
        lines
    }

    /// Up to `quota` rows; when the list is longer, the last row says how many are hidden.
    fn process_rows(&self, processes: &[GpuProcess], quota: usize) -> Vec<Line<'static>> {
        if processes.len() <= quota {
            return processes.iter().map(|process| self.process_row(process)).collect();
        }
        let shown = quota.saturating_sub(1);
        let mut rows: Vec<_> = processes[..shown].iter().map(|process| self.process_row(process)).collect();
        if quota > 0 {
            let more = format!("{:>9}+{} more processes", "", processes.len() - shown);
            rows.push(Line::styled(more, self.theme.dim()));
        }
        rows
    }

    /// "▸   4121 llamadeck          27.1G"; llamadeck's own process marked and highlighted.
    fn process_row(&self, process: &GpuProcess) -> Line<'static> {
        let (marker, style) = if process.is_self { ('▸', self.theme.own_process()) } else { (' ', Style::new()) };
        let memory = fit_right(&process.memory.map_or_else(|| "n/a".to_string(), size), 6);
        let pid = format!("{marker}{:>7} ", process.pid);
        let name_width = self.width.saturating_sub(width(&pid) + 1 + width(&memory));
        Line::styled(format!("{pid}{} {memory}", fit(&clean(&process.name), name_width)), style)
    }

    /// Header, then "  ██████░░░░ 61.2/80.0G util 94%" (or the LOST reason).
    fn two_line_row(&self, device: &GpuDevice) -> [Line<'static>; 2] {
        if let Some(reason) = &device.lost {
            let reason = truncate(&clean(reason), self.width.saturating_sub(2));
            return [self.header(device), Line::styled(format!("  {reason}"), self.theme.error())];
        }
        let memory = match (device.memory_used, device.memory_total) {
            (Some(used), Some(total)) => used_of_total(used, total),
            _ => "mem n/a".to_string(),
        };
        // Fixed-width numbers keep the bars the same length on every GPU.
        let value = format!("{} util {}", fit_right(&memory, 11), fit_right(&percent(device.util_gpu), 4));
        let cells = self.width.saturating_sub(2 + 1 + width(&value));
        let mut spans = vec![Span::raw("  ")];
        if cells >= MIN_GRAPH {
            spans.extend(self.memory_bar(device, cells));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::raw(value));
        [self.header(device), Line::from(spans)]
    }

    /// "0 H100 80GB ████░░  94%  52°C  312W" per GPU, columns aligned across GPUs; when even
    /// that does not fit, the last row counts the GPUs left out.
    fn one_line_rows(&self) -> Vec<Line<'static>> {
        let devices = &self.snap.devices;
        let index_width = devices.iter().map(|d| width(&d.index.to_string())).max().unwrap_or(1) + 1;
        // util "100%", temperature "100°C", power "1000W", each after a space.
        let tail_width = 5 + 6 + 6;
        let room = self.width.saturating_sub(index_width + tail_width);
        let longest_name = devices.iter().map(|d| width(&short_name(&d.name))).max().unwrap_or(0);
        let mut name_width = longest_name.min(room * 2 / 3);
        let mut bar_width = room.saturating_sub(name_width + 1);
        if bar_width < MIN_GRAPH {
            bar_width = 0;
            name_width = room;
        }
        let fits = if devices.len() <= self.height { devices.len() } else { self.height.saturating_sub(1) };
        let mut lines: Vec<Line<'static>> = devices[..fits]
            .iter()
            .map(|device| {
                let mut spans = vec![
                    Span::styled(fit(&device.index.to_string(), index_width), self.theme.title()),
                    Span::styled(fit(&short_name(&device.name), name_width), self.theme.title()),
                ];
                if let Some(reason) = &device.lost {
                    spans.push(Span::styled(" LOST ", self.theme.error()));
                    spans.push(Span::styled(clean(reason), self.theme.error()));
                    return Line::from(spans);
                }
                if bar_width > 0 {
                    spans.push(Span::raw(" "));
                    spans.extend(self.memory_bar(device, bar_width));
                }
                let power_draw = power(device.power_mw, None);
                spans.push(Span::raw(format!(
                    " {} {} {}",
                    fit_right(&percent(device.util_gpu), 4),
                    fit_right(&temperature(device.temperature_c), 5),
                    fit_right(&power_draw, 5)
                )));
                Line::from(spans)
            })
            .collect();
        if fits < devices.len() {
            lines.push(Line::styled(format!("+{} more GPUs", devices.len() - fits), self.theme.dim()));
        }
        lines
    }

    /// Without GPUs: why (the NVML error, wrapped), then this process on the host. A remote
    /// node's reading has no host (pid 0): only the reason.
    fn host_lines(&self, reason: &str) -> Vec<Line<'static>> {
        let host = &self.snap.host;
        if host.pid == 0 {
            let lines = wrap(&clean(reason), self.width, self.height.max(1));
            return lines.into_iter().map(|line| Line::styled(line, self.theme.warn())).collect();
        }
        let rss = size(host.rss_bytes);
        let cpu = format!("{:.0}% of {} cpus", host.cpu_percent, host.cpus);
        let cells = self.graph_width(width(&rss).max(width(&cpu)));
        let mut stats = vec![
            Line::from(vec![Span::styled(format!("llamadeck pid {}", host.pid), self.theme.title()), Span::raw(" on the host")]),
            self.graph_row("rss", self.spark(self.history.host_memory(), cells), cells, rss),
        ];
        // Most of a growing rss is the prefix cache: say how much, and its budget, so that it
        // does not read as a leak.
        if let Some(cache) = self.cache {
            stats.push(Line::from(vec![self.label("cache"), Span::raw(" "), Span::raw(cache_words(cache))]));
        }
        stats.extend([
            self.graph_row("cpu", self.spark(self.history.host_cpu(), cells), cells, cpu),
            self.graph_row("host", Vec::new(), 0, format!("{} free of {}", size(host.available_memory), size(host.total_memory))),
        ]);
        let reason_rows = self.height.saturating_sub(stats.len()).max(1);
        let mut lines: Vec<Line<'static>> =
            wrap(&clean(reason), self.width, reason_rows).into_iter().map(|line| Line::styled(line, self.theme.warn())).collect();
        lines.extend(stats);
        lines
    }
}

/// What the prefix cache holds of the rss, over its budget: "448M/5.9G", or with a budget in
/// answers "448M · 3/8 answers".
fn cache_words(cache: &PrefixCacheStats) -> String {
    match (cache.budget_bytes, cache.budget_sequences) {
        (Some(budget), _) => format!("{}/{}", size(cache.bytes_held), size(budget)),
        (None, Some(answers)) => format!("{} · {}/{answers} answers", size(cache.bytes_held), cache.sequences_held),
        (None, None) => size(cache.bytes_held),
    }
}

/// "n/a" gets its label so a bare "n/a n/a" never needs guessing.
fn labelled(label: &str, value: String) -> String {
    if value == "n/a" { format!("{label} n/a") } else { value }
}

/// "H100 80GB HBM3": in one-line rows every column counts, and the vendor is the same on all.
fn short_name(name: &str) -> String {
    let name = clean(name);
    name.strip_prefix("NVIDIA ").map_or(name.clone(), str::to_string)
}

fn memory_percent(device: &GpuDevice) -> Option<f64> {
    match (device.memory_used, device.memory_total) {
        (Some(used), Some(total)) if total > 0 => Some(used as f64 * 100.0 / total as f64),
        _ => None,
    }
}

/// Shares `spare` rows among the GPUs' process lists one row at a time, so one busy GPU
/// cannot push the others' processes off the panel.
fn process_quotas(devices: &[GpuDevice], mut spare: usize) -> Vec<usize> {
    let wanted: Vec<usize> = devices.iter().map(|d| if d.lost.is_some() { 0 } else { d.processes.len() }).collect();
    let mut quotas = vec![0; devices.len()];
    while spare > 0 {
        let mut gave = false;
        for (quota, &want) in quotas.iter_mut().zip(&wanted) {
            if spare > 0 && *quota < want {
                *quota += 1;
                spare -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;
    use llamadeck_gpu::snapshot::HostStats;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;

    const GIB: u64 = 1 << 30;
    const OWN_PID: u32 = 4121;

    fn host() -> HostStats {
        HostStats {
            pid: OWN_PID,
            rss_bytes: 9 * GIB + GIB / 2,
            cpu_percent: 1187.0,
            total_memory: 125 * GIB,
            available_memory: 98 * GIB,
            cpus: 16,
        }
    }

    fn process(pid: u32, name: &str, gib_tenths: u64) -> GpuProcess {
        GpuProcess { pid, name: name.into(), memory: Some(gib_tenths * GIB / 10), is_self: pid == OWN_PID }
    }

    fn h100(index: u32, util: u32, used_gib: u64, processes: Vec<GpuProcess>) -> GpuDevice {
        GpuDevice {
            index,
            name: "NVIDIA H100 80GB HBM3".into(),
            lost: None,
            memory_used: Some(used_gib * GIB),
            memory_total: Some(80 * GIB),
            memory_reserved: Some(GIB / 2),
            util_gpu: Some(util),
            util_memory: Some(util / 2),
            temperature_c: Some(40 + util / 3),
            power_mw: Some(90_000 + util * 6_000),
            power_limit_mw: Some(700_000),
            processes,
        }
    }

    fn nvml(devices: Vec<GpuDevice>) -> GpuSnapshot {
        GpuSnapshot { status: GpuStatus::Nvml { driver: Some("550.54.15".into()) }, devices, host: host() }
    }

    fn no_gpu() -> GpuSnapshot {
        let reason = "NVML not available: a libloading error occurred: libnvidia-ml.so.1: cannot open shared object file: \
                      No such file or directory — no NVIDIA driver on this machine; showing host memory and CPU";
        GpuSnapshot { status: GpuStatus::Unavailable { reason: reason.into() }, devices: Vec::new(), host: host() }
    }

    /// The history a panel would have after watching `snap` ramp up over `samples` readings.
    fn history_of(snap: &GpuSnapshot, samples: u32) -> GpuHistory {
        let mut history = GpuHistory::new(120);
        for step in 1..=samples {
            let mut reading = snap.clone();
            for device in &mut reading.devices {
                device.util_gpu = device.util_gpu.map(|u| u * step / samples);
                device.memory_used = device.memory_used.map(|m| m * u64::from(step) / u64::from(samples));
            }
            reading.host.cpu_percent = snap.host.cpu_percent * step as f32 / samples as f32;
            reading.host.rss_bytes = snap.host.rss_bytes * u64::from(step) / u64::from(samples);
            history.record(&reading);
        }
        history
    }

    fn draw(snap: Option<&GpuSnapshot>, history: &GpuHistory, width: u16, height: u16, theme: Theme) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| render(frame, frame.area(), snap, history, None, theme)).unwrap();
        terminal
    }

    fn one_h100() -> GpuSnapshot {
        nvml(vec![h100(0, 94, 61, vec![process(OWN_PID, "llamadeck", 271), process(2231, "python3", 84), process(977, "Xorg", 1)])])
    }

    fn two_h100s() -> GpuSnapshot {
        nvml(vec![
            h100(0, 94, 61, vec![process(OWN_PID, "llamadeck", 271)]),
            h100(1, 12, 9, vec![process(5120, "evil\x1b[2Jname", 84), process(5121, "vllm", 2)]),
        ])
    }

    fn eight_gpus() -> GpuSnapshot {
        nvml((0..8).map(|i| h100(i, 10 + i * 12, 5 + u64::from(i) * 9, vec![process(9000 + i, "worker", 20)])).collect())
    }

    fn lost_among_healthy() -> GpuSnapshot {
        let mut lost = h100(1, 0, 0, Vec::new());
        lost.lost = Some("device fell off the bus or has otherwise become inacessible".into());
        nvml(vec![h100(0, 80, 40, vec![process(OWN_PID, "llamadeck", 271)]), lost, h100(2, 30, 20, Vec::new())])
    }

    fn unsupported_power_and_temperature() -> GpuSnapshot {
        let card = GpuDevice {
            name: "NVIDIA A10G".into(),
            memory_total: Some(24 * GIB),
            memory_reserved: None,
            temperature_c: None,
            power_mw: None,
            power_limit_mw: None,
            ..h100(0, 55, 7, vec![process(OWN_PID, "llamadeck", 65)])
        };
        nvml(vec![card])
    }

    #[test]
    fn waiting_for_first_reading() {
        insta::assert_snapshot!(draw(None, &GpuHistory::default(), 40, 5, Theme::COLOR).backend());
    }

    #[test]
    fn no_gpu_shows_the_reason_and_host_stats() {
        let snap = no_gpu();
        insta::assert_snapshot!(draw(Some(&snap), &history_of(&snap, 30), 40, 12, Theme::COLOR).backend());
    }

    #[test]
    fn one_h100_with_processes() {
        let snap = one_h100();
        insta::assert_snapshot!(draw(Some(&snap), &history_of(&snap, 30), 44, 10, Theme::COLOR).backend());
    }

    #[test]
    fn own_process_is_highlighted() {
        let snap = one_h100();
        let terminal = draw(Some(&snap), &GpuHistory::default(), 44, 10, Theme::COLOR);
        let buffer = terminal.backend().buffer();
        let row_of = |text: &str| (0..buffer.area.height).find(|&y| row_text(buffer, y).contains(text)).unwrap();
        let own = row_of("llamadeck");
        let other = row_of("python3");
        assert_eq!(buffer[(3, own)].fg, Color::Yellow);
        assert_ne!(buffer[(3, other)].fg, Color::Yellow);
    }

    #[test]
    fn processes_beyond_the_area_are_counted() {
        let snap = one_h100();
        insta::assert_snapshot!(draw(Some(&snap), &GpuHistory::default(), 40, 8, Theme::COLOR).backend());
    }

    #[test]
    fn two_gpus() {
        let snap = two_h100s();
        insta::assert_snapshot!(draw(Some(&snap), &history_of(&snap, 30), 40, 14, Theme::COLOR).backend());
    }

    #[test]
    fn eight_gpus_two_lines_each() {
        let snap = eight_gpus();
        insta::assert_snapshot!(draw(Some(&snap), &history_of(&snap, 5), 40, 18, Theme::COLOR).backend());
    }

    #[test]
    fn eight_gpus_in_a_short_area() {
        let snap = eight_gpus();
        insta::assert_snapshot!(draw(Some(&snap), &history_of(&snap, 5), 40, 10, Theme::COLOR).backend());
    }

    #[test]
    fn eight_gpus_in_too_short_an_area_count_the_rest() {
        let snap = eight_gpus();
        insta::assert_snapshot!(draw(Some(&snap), &GpuHistory::default(), 32, 6, Theme::COLOR).backend());
    }

    #[test]
    fn lost_gpu_among_healthy_ones() {
        let snap = lost_among_healthy();
        insta::assert_snapshot!(draw(Some(&snap), &history_of(&snap, 20), 40, 14, Theme::COLOR).backend());
    }

    #[test]
    fn lost_gpu_in_compact_rows() {
        let snap = lost_among_healthy();
        insta::assert_snapshot!(draw(Some(&snap), &GpuHistory::default(), 40, 5, Theme::COLOR).backend());
    }

    #[test]
    fn card_without_power_or_temperature_shows_na() {
        let snap = unsupported_power_and_temperature();
        insta::assert_snapshot!(draw(Some(&snap), &history_of(&snap, 10), 40, 7, Theme::COLOR).backend());
    }

    #[test]
    fn wide_names_keep_the_right_border() {
        let mut snap = two_h100s();
        snap.devices[0].name = "GPU 한국어 テスト 名前がとても長い".into();
        snap.devices[1].processes[0].name = "推理服务器进程".into();
        for (width, height) in [(40, 14), (33, 5), (31, 9)] {
            let terminal = draw(Some(&snap), &GpuHistory::default(), width, height, Theme::PLAIN);
            let buffer = terminal.backend().buffer();
            for y in 1..height - 1 {
                assert_eq!(buffer[(width - 1, y)].symbol(), "│", "row {y} at {width}x{height}: {}", row_text(buffer, y));
            }
        }
    }

    #[test]
    fn any_size_renders_without_panic() {
        let snaps = [no_gpu(), one_h100(), two_h100s(), eight_gpus(), lost_among_healthy(), unsupported_power_and_temperature()];
        let history = history_of(&eight_gpus(), 3);
        let sizes = (0..=120u16).step_by(7).chain([1, 2, 3, 8, 9, 120]);
        for width in sizes {
            for height in (0..=60u16).step_by(5).chain([1, 2, 3, 4, 60]) {
                let terminals = std::iter::once(draw(None, &history, width, height, Theme::PLAIN))
                    .chain(snaps.iter().map(|snap| draw(Some(snap), &history, width, height, Theme::COLOR)));
                for terminal in terminals {
                    let buffer = terminal.backend().buffer();
                    // Text only (a process named with an escape sequence included), inside a
                    // whole border: nothing was drawn past the panel's edges.
                    for cell in buffer.content() {
                        assert!(!cell.symbol().chars().any(char::is_control), "{width}x{height}: {:?}", cell.symbol());
                    }
                    // The border goes first in a tiny area (see `render`).
                    if width >= 8 && height >= 3 {
                        let (right, bottom) = (width - 1, height - 1);
                        let corners = [
                            buffer[(0, 0)].symbol(),
                            buffer[(right, 0)].symbol(),
                            buffer[(0, bottom)].symbol(),
                            buffer[(right, bottom)].symbol(),
                        ];
                        assert_eq!(corners, ["┌", "┐", "└", "┘"], "{width}x{height}");
                        for y in 1..bottom {
                            assert_eq!((buffer[(0, y)].symbol(), buffer[(right, y)].symbol()), ("│", "│"), "{width}x{height} row {y}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_area_larger_than_the_frame_is_clipped() {
        let snap = two_h100s();
        let mut terminal = Terminal::new(TestBackend::new(20, 6)).unwrap();
        terminal.draw(|frame| render(frame, Rect::new(10, 3, 50, 40), Some(&snap), &GpuHistory::default(), None, Theme::COLOR)).unwrap();
        let buffer = terminal.backend().buffer();
        // The panel is drawn in the part of its area inside the frame, border and all; nothing
        // above or left of it.
        let corners = [buffer[(10, 3)].symbol(), buffer[(19, 3)].symbol(), buffer[(10, 5)].symbol(), buffer[(19, 5)].symbol()];
        assert_eq!(corners, ["┌", "┐", "└", "┘"]);
        for y in 0..6 {
            for x in 0..20 {
                if x < 10 || y < 3 {
                    assert_eq!(buffer[(x, y)].symbol(), " ", "({x}, {y})");
                }
            }
        }
        assert_eq!((buffer[(10, 4)].symbol(), buffer[(19, 4)].symbol()), ("│", "│"));
    }

    fn row_text(buffer: &ratatui::buffer::Buffer, y: u16) -> String {
        (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect()
    }
}
