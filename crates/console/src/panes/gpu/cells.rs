//! Fixed-width text pieces for the GPU panel: numbers, bars, sparklines, truncation and
//! wrapping, all measured in terminal columns (unicode-width), so wide names keep columns.

use llamadeck_gpu::Series;
use llamadeck_words::text::{WrapOptions, sanitize, wrap_with};
// Column width and cutting with '…' are the ones every pane uses.
pub(super) use llamadeck_words::text::{str_width as width, truncate};

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;
const SPARK_LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const PARTIAL_BLOCKS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/// Text from outside (GPU and process names, NVML errors) on one line, with control
/// characters made visible so they cannot act on the terminal.
pub(super) fn clean(text: &str) -> String {
    sanitize(text).replace('\n', " ")
}

/// Exactly `cells` columns: cut with '…' or padded with spaces.
pub(super) fn fit(text: &str, cells: usize) -> String {
    let mut out = truncate(text, cells);
    let pad = cells.saturating_sub(width(&out));
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

/// Exactly `cells` columns, right-aligned.
pub(super) fn fit_right(text: &str, cells: usize) -> String {
    let cut = truncate(text, cells);
    format!("{}{cut}", " ".repeat(cells.saturating_sub(width(&cut))))
}

/// Word wrap into at most `rows` lines of `max` columns, whitespace folded; words longer than a
/// line are cut, and the last line ends in '…' when text was left over.
pub(super) fn wrap(text: &str, max: usize, rows: usize) -> Vec<String> {
    wrap_with(text, max, WrapOptions { fold_whitespace: true, max_lines: Some(rows) })
}

/// A bar `cells` wide filled to `percent`, in eighths of a cell: (filled, unfilled).
pub(super) fn bar(percent: f64, cells: usize) -> (String, String) {
    let eighths = ((percent.clamp(0.0, 100.0) / 100.0) * (cells * 8) as f64).round() as usize;
    let full = eighths / 8;
    let partial = PARTIAL_BLOCKS[eighths % 8];
    let used = full + usize::from(!partial.is_empty());
    (format!("{}{partial}", "█".repeat(full)), "░".repeat(cells.saturating_sub(used)))
}

/// The newest readings of `series`, right-aligned in `cells` columns; gaps are blanks.
pub(super) fn sparkline(series: &Series, cells: usize) -> String {
    let pad = cells.saturating_sub(series.len());
    let marks = series.recent(cells).map(|reading| match reading {
        Some(percent) => SPARK_LEVELS[(usize::from(percent.min(100)) * 7 + 50) / 100],
        None => ' ',
    });
    std::iter::repeat_n(' ', pad).chain(marks).collect()
}

/// The binary unit, from GiB up, that keeps `bytes` under 1024 of it (a node's numbers can be
/// anything up to u64::MAX: "16.0E" rather than twenty digits).
fn unit(bytes: u64) -> (f64, char) {
    let mut scale = GIB;
    for unit in ['G', 'T', 'P'] {
        if (bytes as f64) < scale * 1024.0 {
            return (scale, unit);
        }
        scale *= 1024.0;
    }
    (scale, 'E')
}

/// "27.1G" from 1 GiB up, "512M" below, "1.5T" from 1 TiB up.
pub(super) fn size(bytes: u64) -> String {
    let (scale, unit) = unit(bytes);
    let bytes = bytes as f64;
    if bytes >= GIB { format!("{:.1}{unit}", bytes / scale) } else { format!("{:.0}M", bytes / MIB) }
}

/// "61.2/80.0G", in the unit of the larger.
pub(super) fn used_of_total(used: u64, total: u64) -> String {
    let (scale, unit) = unit(total.max(used));
    format!("{:.1}/{:.1}{unit}", used as f64 / scale, total as f64 / scale)
}

pub(super) fn percent(value: Option<u32>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v}%"))
}

pub(super) fn temperature(celsius: Option<u32>) -> String {
    celsius.map_or_else(|| "n/a".to_string(), |c| format!("{c}°C"))
}

/// "312/700W", "312W" without a limit, "n/a" without a reading.
pub(super) fn power(draw_mw: Option<u32>, limit_mw: Option<u32>) -> String {
    let watts = |mw: u32| mw.saturating_add(500) / 1000;
    match (draw_mw, limit_mw) {
        (Some(draw), Some(limit)) => format!("{}/{}W", watts(draw), watts(limit)),
        (Some(draw), None) => format!("{}W", watts(draw)),
        (None, _) => "n/a".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_and_fit_count_columns_not_bytes() {
        assert_eq!(truncate("H100 80GB", 20), "H100 80GB");
        assert_eq!(truncate("H100 80GB", 5), "H100…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(fit("한국어", 5), "한국…");
        assert_eq!(width(&fit("한국어", 4)), 4);
        assert_eq!(fit_right("7", 3), "  7");
    }

    #[test]
    fn wrap_breaks_on_words_cuts_long_words_and_marks_leftovers() {
        assert_eq!(wrap("no NVIDIA driver here", 10, 5), ["no NVIDIA", "driver", "here"]);
        assert_eq!(wrap("libnvidia-ml.so.1", 6, 5), ["libnvi", "dia-ml", ".so.1"]);
        assert_eq!(wrap("one two three four", 9, 1), ["one two…"]);
        assert_eq!(wrap("한국어", 1, 5), ["한", "국", "어"]);
        assert!(wrap("anything", 0, 3).is_empty());
    }

    #[test]
    fn bars_and_sparklines_have_the_requested_width() {
        assert_eq!(bar(50.0, 4), ("██".to_string(), "░░".to_string()));
        assert_eq!(bar(100.0, 3).0, "███");
        let (filled, empty) = bar(30.0, 5);
        assert_eq!(width(&filled) + width(&empty), 5);
        assert_eq!(bar(150.0, 0), (String::new(), String::new()));
    }

    #[test]
    fn numbers_read_like_nvidia_smi() {
        assert_eq!(size(27 << 30), "27.0G");
        assert_eq!(size(300 << 20), "300M");
        assert_eq!(used_of_total(61 << 30, 80 << 30), "61.0/80.0G");
        // Sizes no GPU has today stay short.
        assert_eq!(size(3 << 39), "1.5T");
        assert_eq!(used_of_total(1 << 39, 16 << 40), "0.5/16.0T");
        assert_eq!(size(u64::MAX), "16.0E");
        assert_eq!(used_of_total(u64::MAX, u64::MAX), "16.0/16.0E");
        assert_eq!(power(Some(312_400), Some(700_000)), "312/700W");
        assert_eq!(power(None, Some(700_000)), "n/a");
        assert_eq!(temperature(None), "n/a");
        assert_eq!(percent(Some(94)), "94%");
    }
}
