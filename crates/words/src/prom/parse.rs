//! A reader of the Prometheus text exposition format (0.0.4) that also takes OpenMetrics text.
//!
//! Scrapes come from servers we do not run, so nothing here fails as a whole: a line that does
//! not parse is skipped and counted, and a scrape over [`MAX_BYTES`] or [`MAX_SAMPLES`] is cut
//! and flagged, as is a metric with more than [`MAX_PER_FAMILY`] series. A series written twice
//! (same name, same labels in any order) is one sample, with the last value, as Prometheus reads
//! it. Every step is a single pass over the line, so the time is linear in the input.
//! Metric names keep their colons (`vllm:num_requests_running`): the inference engines all use
//! them, and the `prometheus-parse` crate drops every such line.
//!
//! Tolerated beyond 0.0.4: OpenMetrics `# EOF` (reading stops), `# UNIT` (ignored), exemplars
//! after ` # ` (ignored), `_created` series (kept as ordinary samples), blanks around labels
//! (`{gpu="0", UUID="…"}` as in dcgm-exporter's README), `\r\n` line ends, a trailing comma in
//! the label set, label names outside `[a-zA-Z_][a-zA-Z0-9_]*`, and unknown escapes in label
//! values (kept as written).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

/// Bytes of a scrape that are read; after that only whole lines count and `truncated` is set.
pub const MAX_BYTES: usize = 4 << 20;
/// Samples kept from one scrape; a scrape with more is flagged `truncated`.
pub const MAX_SAMPLES: usize = 100_000;
/// Series kept of one metric name (a histogram's `_bucket`, `_sum` and `_count` each count
/// apart), so that one family cannot fill the scrape. Real servers publish far fewer: vLLM about
/// 30 buckets per engine and model, DCGM one series per GPU or MIG instance.
pub const MAX_PER_FAMILY: usize = 4096;

/// A family's `# TYPE`. OpenMetrics' `unknown` and 0.0.4's `untyped` are both `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl MetricType {
    fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "untyped" | "unknown" => Self::Unknown,
            _ => return None,
        })
    }
}

/// One line of data: `name{labels} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// As written: milliseconds in the Prometheus format, seconds in OpenMetrics.
    pub timestamp: Option<f64>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn has(&self, filter: &[(&str, &str)]) -> bool {
        filter.iter().all(|(k, v)| self.label(k) == Some(*v))
    }
}

/// Everything read from one scrape.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// `# TYPE` per family name.
    pub types: HashMap<String, MetricType>,
    /// `# HELP` per family name, unescaped.
    pub help: HashMap<String, String>,
    /// Lines that could not be read: malformed data, or a `# HELP` or `# TYPE` that does not parse.
    pub skipped: usize,
    /// The scrape was longer than [`MAX_BYTES`] or held more than [`MAX_SAMPLES`] samples, or
    /// some metric more than [`MAX_PER_FAMILY`] series.
    pub truncated: bool,
    /// Series left out because their metric already had [`MAX_PER_FAMILY`].
    pub dropped: usize,
    /// Lines that wrote a series again (its last value counts).
    pub duplicates: usize,
}

/// A histogram's series added up over the matching label sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub sum: Option<f64>,
    pub count: Option<f64>,
    /// `(le, cumulative count)`, sorted by `le`.
    pub buckets: Vec<(f64, f64)>,
}

impl Histogram {
    pub fn mean(&self) -> Option<f64> {
        let (sum, count) = (self.sum?, self.count?);
        (count > 0.0).then(|| sum / count)
    }

    /// The q-quantile, interpolated within its bucket as PromQL's `histogram_quantile` does: a
    /// rank in the `+Inf` bucket gives the highest finite bound. None without a `+Inf` bucket
    /// and a finite one, without observations, or for q outside 0..=1.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) || self.buckets.len() < 2 {
            return None;
        }
        // Counts are cumulative; a dip (series added up from scrapes taken apart) is flattened.
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        let mut highest = 0.0_f64;
        for &(le, count) in &self.buckets {
            highest = highest.max(count);
            cumulative.push((le, highest));
        }
        let &(top, total) = cumulative.last()?;
        if top != f64::INFINITY || total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for (i, &(le, count)) in cumulative.iter().enumerate() {
            if count >= rank {
                if le == f64::INFINITY {
                    return Some(lower);
                }
                if i == 0 && le <= 0.0 {
                    return Some(le);
                }
                if count == below {
                    return Some(lower);
                }
                return Some(lower + (le - lower) * (rank - below) / (count - below));
            }
            (lower, below) = (le, count);
        }
        None
    }
}

impl Scrape {
    /// The samples called `name` whose labels include every pair of `filter`.
    pub fn series<'a>(&'a self, name: &'a str, filter: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| s.name == name && s.has(filter))
    }

    /// The first matching sample's value.
    pub fn value(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        self.series(name, filter).next().map(|s| s.value)
    }

    /// The matching values added up, NaN left out; None when there is none.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        self.numbers(name, filter).reduce(|a, b| a + b)
    }

    /// The matching values' mean, NaN left out; None when there is none.
    pub fn mean(&self, name: &str, filter: &[(&str, &str)]) -> Option<f64> {
        let (sum, n) = self.numbers(name, filter).fold((0.0, 0_usize), |(sum, n), v| (sum + v, n + 1));
        (n > 0).then(|| sum / n as f64)
    }

    /// The histogram `base` (`base_sum`, `base_count`, `base_bucket{le}`), its matching series
    /// added up. None when none of them is there.
    pub fn histogram(&self, base: &str, filter: &[(&str, &str)]) -> Option<Histogram> {
        let sum = self.sum(&format!("{base}_sum"), filter);
        let count = self.sum(&format!("{base}_count"), filter);
        let bucket = format!("{base}_bucket");
        let mut buckets: Vec<(f64, f64)> = self
            .series(&bucket, filter)
            .filter_map(|s| Some((s.label("le")?.parse::<f64>().ok()?, s.value)))
            .filter(|(le, count)| !le.is_nan() && !count.is_nan())
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        (sum.is_some() || count.is_some() || !buckets.is_empty()).then_some(Histogram { sum, count, buckets })
    }

    fn numbers<'a>(&'a self, name: &'a str, filter: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = f64> {
        self.series(name, filter).map(|s| s.value).filter(|v| !v.is_nan())
    }
}

/// Reads exposition text; see the module comment for what is tolerated.
pub fn parse(text: &str) -> Scrape {
    if text.len() <= MAX_BYTES {
        return read(text, false);
    }
    let mut end = MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    read(&text[..end], true)
}

/// Reads a response body as it came; bytes that are not UTF-8 become U+FFFD (and their line is
/// most likely skipped).
pub fn parse_bytes(body: &[u8]) -> Scrape {
    let cut = body.len() > MAX_BYTES;
    read(&String::from_utf8_lossy(&body[..body.len().min(MAX_BYTES)]), cut)
}

fn read(text: &str, cut: bool) -> Scrape {
    let mut scrape = Scrape { truncated: cut, ..Scrape::default() };
    let mut kept = Kept::default();
    // A cut text ends inside a line; a partial line could read as a wrong value, so it goes.
    let text = if cut { text.rfind('\n').map_or("", |end| &text[..end]) } else { text };
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line).trim_start_matches(BLANKS);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            match read_comment(comment, &mut scrape) {
                Comment::Fine => {}
                Comment::Malformed => scrape.skipped += 1,
                Comment::Eof => break,
            }
            continue;
        }
        let Some((name, rest)) = split_name(line) else {
            scrape.skipped += 1;
            continue;
        };
        // Checked before the line is read: a family over its cap costs a lookup a line, no more.
        if kept.family_full(name) {
            scrape.dropped += 1;
            scrape.truncated = true;
            continue;
        }
        let Some(sample) = read_sample(name, rest) else {
            scrape.skipped += 1;
            continue;
        };
        match kept.place(&scrape.samples, &sample) {
            Place::Again(i) => {
                scrape.duplicates += 1;
                scrape.samples[i] = sample;
            }
            Place::New if scrape.samples.len() == MAX_SAMPLES => {
                scrape.truncated = true;
                break;
            }
            Place::New => {
                kept.add(&sample, scrape.samples.len());
                scrape.samples.push(sample);
            }
        }
    }
    scrape
}

/// The series read so far: where each is (by a hash of its name and labels), and how many each
/// metric name has.
#[derive(Default)]
struct Kept {
    series: HashMap<u64, usize>,
    per_name: HashMap<String, usize>,
    hasher: RandomState,
}

enum Place {
    /// A series not read before.
    New,
    /// The series at this index, written again.
    Again(usize),
}

impl Kept {
    /// Whether `name` has its [`MAX_PER_FAMILY`] series. Its lines are left out from then on, a
    /// series already kept written again included: the family is cut short either way.
    fn family_full(&self, name: &str) -> bool {
        self.per_name.get(name).is_some_and(|n| *n >= MAX_PER_FAMILY)
    }

    fn place(&self, samples: &[Sample], sample: &Sample) -> Place {
        match self.series.get(&self.key(sample)) {
            Some(&i) if same_series(&samples[i], sample) => Place::Again(i),
            _ => Place::New,
        }
    }

    fn add(&mut self, sample: &Sample, index: usize) {
        // A different series with the same 64-bit hash is kept, only not found again.
        self.series.entry(self.key(sample)).or_insert(index);
        match self.per_name.get_mut(&sample.name) {
            Some(n) => *n += 1,
            None => {
                self.per_name.insert(sample.name.clone(), 1);
            }
        }
    }

    /// The name's hash plus each label's: the same whatever order the labels come in.
    fn key(&self, sample: &Sample) -> u64 {
        let labels = sample.labels.iter().fold(0u64, |sum, label| sum.wrapping_add(self.hasher.hash_one(label)));
        self.hasher.hash_one(&sample.name).wrapping_add(labels.rotate_left(1))
    }
}

/// Same name, same labels (in any order).
fn same_series(a: &Sample, b: &Sample) -> bool {
    if a.name != b.name || a.labels.len() != b.labels.len() {
        return false;
    }
    if a.labels == b.labels {
        return true;
    }
    sorted_labels(a) == sorted_labels(b)
}

fn sorted_labels(sample: &Sample) -> Vec<&(String, String)> {
    let mut labels: Vec<&(String, String)> = sample.labels.iter().collect();
    labels.sort_unstable();
    labels
}

const BLANKS: [char; 2] = [' ', '\t'];

enum Comment {
    Fine,
    Malformed,
    Eof,
}

fn read_comment(comment: &str, scrape: &mut Scrape) -> Comment {
    let (keyword, rest) = token(comment.trim_start_matches(BLANKS));
    match keyword {
        "HELP" => {
            let (name, doc) = token(rest);
            if !is_metric_name(name) {
                return Comment::Malformed;
            }
            scrape.help.insert(name.to_string(), unescape_help(doc));
        }
        "TYPE" => {
            let (name, rest) = token(rest);
            let (word, extra) = token(rest);
            match MetricType::from_word(word) {
                Some(kind) if is_metric_name(name) && extra.is_empty() => {
                    scrape.types.insert(name.to_string(), kind);
                }
                _ => return Comment::Malformed,
            }
        }
        "EOF" if rest.is_empty() => return Comment::Eof,
        _ => {}
    }
    Comment::Fine
}

/// The text up to the first blank, and what follows the blanks after it.
fn token(text: &str) -> (&str, &str) {
    let end = text.find(BLANKS).unwrap_or(text.len());
    (&text[..end], text[end..].trim_start_matches(BLANKS))
}

fn unescape_help(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut chars = doc.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A data line's metric name and what follows it.
fn split_name(line: &str) -> Option<(&str, &str)> {
    let name_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(line.len());
    let name = &line[..name_end];
    is_metric_name(name).then(|| (name, &line[name_end..]))
}

/// The sample of a data line whose name is read: `rest` is what follows it.
fn read_sample(name: &str, mut rest: &str) -> Option<Sample> {
    let mut labels = Vec::new();
    if let Some(inside) = rest.strip_prefix('{') {
        rest = read_labels(inside, &mut labels)?;
    }
    if !rest.starts_with(BLANKS) {
        return None;
    }
    let mut words = rest.split(BLANKS).filter(|w| !w.is_empty());
    let value = words.next()?.parse::<f64>().ok()?;
    let timestamp = match words.next() {
        None | Some("#") => None,
        Some(word) => {
            let ts = word.parse::<f64>().ok().filter(|t| t.is_finite())?;
            // Only an OpenMetrics exemplar (" # {…} v") may follow a timestamp.
            if words.next().is_some_and(|w| w != "#") {
                return None;
            }
            Some(ts)
        }
    };
    Some(Sample { name: name.to_string(), labels, value, timestamp })
}

/// Reads `name="value", …}` (the `{` already taken) and returns what follows the `}`.
fn read_labels<'a>(mut text: &'a str, labels: &mut Vec<(String, String)>) -> Option<&'a str> {
    loop {
        text = text.trim_start_matches(BLANKS);
        if let Some(after) = text.strip_prefix('}') {
            return Some(after);
        }
        let end = text.find(['=', ',', '{', '}', '"', ' ', '\t']).unwrap_or(text.len());
        if end == 0 {
            return None;
        }
        let name = &text[..end];
        let after_eq = text[end..].trim_start_matches(BLANKS).strip_prefix('=')?;
        let quoted = after_eq.trim_start_matches(BLANKS).strip_prefix('"')?;
        let (value, after) = read_quoted(quoted)?;
        labels.push((name.to_string(), value));
        text = after.trim_start_matches(BLANKS);
        match text.strip_prefix(',') {
            Some(after_comma) => text = after_comma,
            None if text.starts_with('}') => {}
            None => return None,
        }
    }
}

/// Reads up to the closing quote, undoing `\\`, `\"` and `\n`; returns the value and the rest.
fn read_quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                '\\' => value.push('\\'),
                '"' => value.push('"'),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    fn fixture(name: &str) -> &'static str {
        match name {
            "vllm-design-doc" => include_str!("../../tests/fixtures/metrics/vllm-design-doc.txt"),
            "vllm-issue-318" => include_str!("../../tests/fixtures/metrics/vllm-issue-318.txt"),
            "sglang" => include_str!("../../tests/fixtures/metrics/sglang.txt"),
            "llamacpp-ik-pr695" => include_str!("../../tests/fixtures/metrics/llamacpp-ik-pr695.txt"),
            "llamacpp-pr13196" => include_str!("../../tests/fixtures/metrics/llamacpp-pr13196.txt"),
            "dcgm-kops-l4" => include_str!("../../tests/fixtures/metrics/dcgm-kops-l4.txt"),
            "dcgm-exporter-readme" => include_str!("../../tests/fixtures/metrics/dcgm-exporter-readme.txt"),
            "llamadeck" => include_str!("../../tests/fixtures/metrics/llamadeck.txt"),
            _ => unreachable!("no fixture {name}"),
        }
    }

    #[test]
    fn every_fixture_parses_with_its_counts() {
        // (fixture, samples, TYPE lines, skipped lines: the "..." of elided documentation)
        for (name, samples, types, skipped) in [
            ("vllm-design-doc", 14, 4, 3),
            ("vllm-issue-318", 7, 8, 0),
            ("sglang", 91, 12, 0),
            ("llamacpp-ik-pr695", 10, 10, 0),
            ("llamacpp-pr13196", 4, 4, 0),
            ("dcgm-kops-l4", 23, 23, 0),
            ("dcgm-exporter-readme", 3, 3, 2),
            ("llamadeck", 24, 11, 0),
        ] {
            let scrape = parse(fixture(name));
            assert_eq!((scrape.samples.len(), scrape.types.len(), scrape.skipped), (samples, types, skipped), "{name}");
            assert!(!scrape.truncated, "{name}");
            assert_eq!(scrape.help.len(), types, "{name}: a HELP for each TYPE");
        }
    }

    #[test]
    fn colon_names_survive() {
        let scrape = parse(fixture("sglang"));
        assert_eq!(scrape.value("sglang:num_running_reqs", &[]), Some(162.0));
        assert_eq!(scrape.types["sglang:time_to_first_token_seconds"], MetricType::Histogram);
        assert_eq!(scrape.help["sglang:token_usage"], "The token usage");
        let vllm = parse(fixture("vllm-design-doc"));
        assert_eq!(vllm.value("vllm:request_success_total", &[("finished_reason", "length")]), Some(131.0));
        assert_eq!(vllm.sum("vllm:request_success_total", &[]), Some(132.0));
        assert_eq!(parse("a:b:c 1\n:leading 2\n").samples.len(), 2);
    }

    #[test]
    fn labels_read_as_written_by_the_engines() {
        let scrape = parse(fixture("dcgm-kops-l4"));
        let temp = scrape.series("DCGM_FI_DEV_GPU_TEMP", &[]).next().unwrap();
        assert_eq!(temp.labels.len(), 7);
        assert_eq!(temp.label("modelName"), Some("NVIDIA L4"));
        assert_eq!(temp.label("DCGM_FI_DRIVER_VERSION"), Some("580.105.08"));
        assert_eq!(scrape.value("DCGM_FI_DEV_POWER_USAGE", &[("gpu", "0")]), Some(16.365));
        // A blank after the comma, as dcgm-exporter's README prints it.
        let readme = parse(fixture("dcgm-exporter-readme"));
        assert_eq!(readme.value("DCGM_FI_DEV_SM_CLOCK", &[("UUID", "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52")]), Some(139.0));
        assert_eq!(readme.value("DCGM_FI_DEV_MEMORY_TEMP", &[]), Some(9_223_372_036_854_775_794.0));
    }

    #[test]
    fn escapes_in_label_values_and_help() {
        let scrape = parse(concat!(
            "# HELP m A \\\\ backslash\\nand a second line, \\\"kept\\\"\n",
            "m{path=\"C:\\\\models\\\\llama\",quote=\"say \\\"hi\\\"\",nl=\"a\\nb\",odd=\"\\t\"} 1\n",
        ));
        let m = &scrape.samples[0];
        assert_eq!(m.label("path"), Some(r"C:\models\llama"));
        assert_eq!(m.label("quote"), Some(r#"say "hi""#));
        assert_eq!(m.label("nl"), Some("a\nb"));
        assert_eq!(m.label("odd"), Some(r"\t"), "an unknown escape is kept as written");
        assert_eq!(scrape.help["m"], "A \\ backslash\nand a second line, \\\"kept\\\"");
    }

    #[test]
    fn values_and_timestamps() {
        let scrape =
            parse(concat!("a NaN\nb +Inf\nc -Inf\nd 1.5e-3\ne 7E+2\nf -0\ng 42 1712345678901\n", "h{x=\"y\"}\t3\t1712345678.5\n",));
        let v: Vec<f64> = scrape.samples.iter().map(|s| s.value).collect();
        assert!(v[0].is_nan());
        assert_eq!(&v[1..], &[f64::INFINITY, f64::NEG_INFINITY, 0.0015, 700.0, 0.0, 42.0, 3.0]);
        assert_eq!(scrape.samples[6].timestamp, Some(1_712_345_678_901.0));
        assert_eq!(scrape.samples[7].timestamp, Some(1_712_345_678.5));
        assert_eq!(scrape.skipped, 0);
    }

    #[test]
    fn malformed_lines_are_skipped_and_counted() {
        let bad = [
            "{",
            "{a=\"b\"} 1",
            "m{",
            "m{a=\"unterminated} 1",
            "m{a=b} 1",
            "m{=\"x\"} 1",
            "m{a=\"1\" b=\"2\"} 1",
            "m{a=\"1\"}1",
            "m",
            "m ",
            "m one",
            "m 1,5",
            "m 1 2 3",
            "m 1 soon",
            "1m 1",
            "m-x 1",
            "m{a=\"\\",
            "...",
            "$ curl localhost:9400/metrics",
            "# TYPE m",
            "# TYPE m countr",
            "# TYPE m counter extra",
            "# HELP",
            "# HELP 1m x",
        ];
        let text = format!("ok 1\n{}\nalso_ok{{a=\"b\",}} 2\n", bad.join("\n"));
        let scrape = parse(&text);
        assert_eq!(scrape.skipped, bad.len());
        let names: Vec<&str> = scrape.samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ok", "also_ok"]);
    }

    #[test]
    fn comments_and_openmetrics() {
        let scrape = parse(concat!(
            "# a plain comment\n",
            "#TYPE tight counter\n",
            "# TYPE vllm:prompt_tokens counter\n",
            "# UNIT vllm:prompt_tokens tokens\n",
            "vllm:prompt_tokens_total{engine=\"0\"} 17 # {trace_id=\"abc\"} 1.0 1712345678.1\n",
            "vllm:prompt_tokens_created{engine=\"0\"} 1.7123456e+09\n",
            "ttft_bucket{le=\"0.5\"} 3 # {trace_id=\"def\"} 0.2\n",
            "\r\n",
            "crlf 5\r\n",
            "   indented 6\n",
            "# EOF\n",
            "after_eof 1\n",
        ));
        assert_eq!(scrape.types["tight"], MetricType::Counter);
        assert_eq!(scrape.types["vllm:prompt_tokens"], MetricType::Counter);
        assert_eq!(scrape.value("vllm:prompt_tokens_total", &[]), Some(17.0));
        assert_eq!(scrape.samples[0].timestamp, None, "the exemplar's timestamp is not the sample's");
        assert_eq!(scrape.value("vllm:prompt_tokens_created", &[]), Some(1.712_345_6e9));
        assert_eq!(scrape.value("ttft_bucket", &[("le", "0.5")]), Some(3.0));
        assert_eq!(scrape.value("crlf", &[]), Some(5.0));
        assert_eq!(scrape.value("indented", &[]), Some(6.0));
        assert_eq!(scrape.value("after_eof", &[]), None);
        assert_eq!(scrape.skipped, 0);
    }

    #[test]
    fn sum_and_mean_leave_nan_out() {
        let scrape = parse("g{e=\"0\"} 1\ng{e=\"1\"} NaN\ng{e=\"2\"} 3\nn NaN\n");
        assert_eq!(scrape.sum("g", &[]), Some(4.0));
        assert_eq!(scrape.mean("g", &[]), Some(2.0));
        assert_eq!(scrape.sum("n", &[]), None);
        assert!(scrape.value("n", &[]).unwrap().is_nan());
        assert_eq!(scrape.sum("absent", &[]), None);
        assert_eq!(scrape.sum("g", &[("e", "2")]), Some(3.0));
    }

    #[test]
    fn histograms_from_real_scrapes() {
        let sglang = parse(fixture("sglang"));
        let ttft = sglang.histogram("sglang:time_to_first_token_seconds", &[]).unwrap();
        assert_eq!(ttft.buckets.len(), 21);
        assert_eq!(ttft.count, Some(11008.0));
        assert!((ttft.mean().unwrap() - 2_351_897.947_411_775_6 / 11008.0).abs() < 1e-9);
        // Most first tokens took longer than the last finite bound, 30 s.
        assert_eq!(ttft.quantile(0.5), Some(30.0));
        // 1% of 11228 is 112.28, between 14 (<= 20 s) and 247 (<= 30 s).
        let e2e = sglang.histogram("sglang:e2e_request_latency_seconds", &[]).unwrap();
        let p1 = e2e.quantile(0.01).unwrap();
        assert!((p1 - (20.0 + 10.0 * (112.28 - 14.0) / (247.0 - 14.0))).abs() < 1e-9, "{p1}");
        assert_eq!(e2e.quantile(1.5), None);
        assert_eq!(e2e.quantile(f64::NAN), None);
        // vLLM's documentation shows the histogram without +Inf bucket and without _sum.
        let vllm = parse(fixture("vllm-design-doc"));
        let partial = vllm.histogram("vllm:time_to_first_token_seconds", &[]).unwrap();
        assert_eq!((partial.sum, partial.count, partial.buckets.len()), (None, Some(140.0), 8));
        assert_eq!((partial.mean(), partial.quantile(0.5)), (None, None));
        let llamadeck = parse(fixture("llamadeck"));
        let own = llamadeck.histogram("llamadeck_time_to_first_token_seconds", &[]).unwrap();
        assert_eq!(own.mean(), Some(2.51 / 4.0));
        // Rank 2 of 4 lies in (0.25, 0.5], where the count goes from 1 to 3.
        assert_eq!(own.quantile(0.5), Some(0.375));
        assert_eq!(vllm.histogram("absent", &[]), None);
    }

    #[test]
    fn histogram_series_add_up_by_bound() {
        let scrape = parse(concat!(
            "h_bucket{engine=\"0\",le=\"1.0\"} 1\nh_bucket{engine=\"0\",le=\"+Inf\"} 2\n",
            "h_bucket{engine=\"1\",le=\"1\"} 3\nh_bucket{engine=\"1\",le=\"+Inf\"} 4\n",
            "h_sum{engine=\"0\"} 2\nh_sum{engine=\"1\"} 4\nh_count{engine=\"0\"} 2\nh_count{engine=\"1\"} 4\n",
        ));
        let h = scrape.histogram("h", &[]).unwrap();
        assert_eq!(h.buckets, [(1.0, 4.0), (f64::INFINITY, 6.0)]);
        assert_eq!(h.mean(), Some(1.0));
        assert_eq!(scrape.histogram("h", &[("engine", "1")]).unwrap().buckets, [(1.0, 3.0), (f64::INFINITY, 4.0)]);
    }

    /// `n` samples, each a metric of its own.
    fn distinct(n: usize) -> String {
        (0..n).map(|i| format!("x{i} 1\n")).collect()
    }

    #[test]
    fn too_many_samples_are_cut_and_flagged() {
        let scrape = parse(&distinct(MAX_SAMPLES + 5));
        assert_eq!(scrape.samples.len(), MAX_SAMPLES);
        assert!(scrape.truncated);
        let exact = parse(&distinct(MAX_SAMPLES));
        assert!(!exact.truncated);
    }

    #[test]
    fn a_series_written_again_counts_once_with_its_last_value() {
        let scrape = parse(concat!(
            "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 1\n",
            "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 2\n",
            "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3\n",
            "vllm:num_requests_running{model_name=\"m\",engine=\"0\"} 4\n",
            "vllm:num_requests_running{engine=\"0\"} 5\n",
            "other{engine=\"0\",model_name=\"m\"} 6\n",
        ));
        let values: Vec<(f64, Option<&str>)> = scrape.samples.iter().map(|s| (s.value, s.label("engine"))).collect();
        // The same labels in another order are the same series; fewer labels or another name are not.
        assert_eq!(values, [(4.0, Some("0")), (2.0, Some("1")), (5.0, Some("0")), (6.0, Some("0"))]);
        assert_eq!(scrape.duplicates, 2);
        assert_eq!(scrape.sum("vllm:num_requests_running", &[]), Some(11.0));
        // The issue's case: 100,000 copies of one line are one request running, not 100,000.
        let copies = parse(&"vllm:num_requests_running 1\n".repeat(100_000));
        assert_eq!((copies.samples.len(), copies.duplicates, copies.truncated), (1, 99_999, false));
        assert_eq!(copies.sum("vllm:num_requests_running", &[]), Some(1.0));
    }

    #[test]
    fn each_metric_keeps_at_most_its_share_of_series() {
        let mut text: String = (0..MAX_PER_FAMILY + 10).map(|i| format!("DCGM_FI_DEV_GPU_TEMP{{gpu=\"{i}\"}} 40\n")).collect();
        text.push_str("vllm:num_requests_running 1\n");
        let scrape = parse(&text);
        assert_eq!(scrape.series("DCGM_FI_DEV_GPU_TEMP", &[]).count(), MAX_PER_FAMILY);
        assert_eq!((scrape.dropped, scrape.truncated), (10, true));
        // Other metrics still fit.
        assert_eq!(scrape.value("vllm:num_requests_running", &[]), Some(1.0));
    }

    /// The scrape of `text` and the best time of three.
    fn timed(text: &str) -> (Scrape, Duration) {
        let time = parse_time(text, 1);
        (parse(text), time)
    }

    /// 4 MiB scrapes as a hostile node sends them: a DCGM exporter with 56,000 GPUs, each with
    /// its own label, and one series written over and over. The times are printed for the record,
    /// not asserted (machines differ); what is kept is asserted.
    #[test]
    fn a_4_mib_scrape_keeps_a_bounded_number_of_samples() {
        let mut text = String::new();
        let mut gpu = 0;
        while text.len() < MAX_BYTES {
            text.push_str(&format!("DCGM_FI_DEV_GPU_TEMP{{gpu=\"{gpu}\"}} 40\nDCGM_FI_DEV_FB_USED{{gpu=\"{gpu}\"}} 1024\n"));
            gpu += 1;
        }
        assert!(gpu > 55_000, "{gpu} GPUs");
        let (scrape, time) = timed(&text);
        println!("parsed {} bytes with {gpu} gpu labels in {time:?}", text.len());
        assert_eq!(scrape.samples.len(), 2 * MAX_PER_FAMILY);
        assert!(scrape.truncated && scrape.dropped > 100_000, "{} dropped", scrape.dropped);

        let line = "vllm:num_requests_running{engine=\"0\",model_name=\"meta-llama/Llama-2-13b-chat-hf\"} 1\n";
        let text = line.repeat(MAX_BYTES / line.len());
        let (scrape, time) = timed(&text);
        println!("parsed {} bytes of one series written {} times in {time:?}", text.len(), MAX_BYTES / line.len());
        assert_eq!(scrape.samples.len(), 1);
    }

    #[test]
    fn too_many_bytes_are_cut_at_a_whole_line() {
        // A comment fills the text so that the cap falls inside "m 123456789", whose first
        // bytes would read as a smaller number.
        let filler = "x".repeat(MAX_BYTES - 13);
        let text = format!("ok 1\n# {filler}\nm 123456789\n");
        for scrape in [parse(&text), parse_bytes(text.as_bytes())] {
            assert!(scrape.truncated);
            assert_eq!((scrape.samples.len(), scrape.skipped), (1, 0));
            assert_eq!(scrape.value("m", &[]), None);
        }
        let one_line = "m".repeat(MAX_BYTES + 1);
        let scrape = parse(&one_line);
        assert!(scrape.truncated && scrape.samples.is_empty() && scrape.skipped == 0);
    }

    #[test]
    fn bytes_that_are_not_utf8() {
        let scrape = parse_bytes(b"ok 1\nbad{a=\"\xff\xfe\"} 2\n\xc3\x28 3\nok2 4\n");
        assert_eq!(scrape.samples.len(), 3);
        assert_eq!(scrape.value("bad", &[]), Some(2.0));
        assert_eq!(scrape.samples[1].label("a"), Some("\u{fffd}\u{fffd}"));
        assert_eq!(scrape.skipped, 1);
    }

    /// Seconds to parse `unit` repeated `n` times, the best of three runs.
    fn parse_time(unit: &str, n: usize) -> Duration {
        let text = unit.repeat(n);
        (0..3)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(parse(&text));
                start.elapsed()
            })
            .min()
            .unwrap()
    }

    /// 16 times the input may take far more than 16 times as long (noise, allocation), but
    /// nowhere near the 256 times of a quadratic step.
    fn assert_linear(unit: &str) {
        let small = parse_time(unit, 2_000);
        let large = parse_time(unit, 32_000);
        assert!(large <= small * 64 + Duration::from_millis(250), "{unit:?}: {small:?} then {large:?}");
    }

    #[test]
    fn pathological_inputs_parse_in_linear_time() {
        for unit in
            ["{", "\"", "\\", "m{a=\"", "m{a=\"\\\"", "m{a=\"1\",", "# HELP m \\\\\\n", "m 1 ", "#", "m{a=\"x\"} 1 2 # {b=\"c\"} 3\n"]
        {
            assert_linear(unit);
        }
    }

    fn metric_name() -> impl Strategy<Value = String> {
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,30}"
    }

    fn label_value() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[\"\\\\\\n a{}=,#]{0,12}"]
    }

    fn escape(value: &str) -> String {
        value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panic(text in any::<String>()) {
            let scrape = parse(&text);
            prop_assert!(scrape.samples.len() + scrape.skipped <= text.split('\n').count());
            prop_assert!(scrape.samples.iter().all(|s| is_metric_name(&s.name)));
        }

        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let scrape = parse_bytes(&bytes);
            prop_assert!(scrape.samples.len() + scrape.skipped <= bytes.split(|b| *b == b'\n').count());
        }

        #[test]
        fn exposition_shaped_garbage_parses_without_panic(
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("\""), Just("\\"), Just("="), Just(","), Just(" "),
                    Just("\t"), Just("#"), Just("\n"), Just("\r"), Just("m"), Just(":"), Just("le"),
                    Just("1"), Just("-"), Just("e"), Just("."), Just("NaN"), Just("+Inf"), Just("# TYPE"),
                    Just("# HELP"), Just("# EOF"), Just("counter"), Just("é"),
                ],
                0..200,
            )
        ) {
            let text = pieces.concat();
            let scrape = parse(&text);
            prop_assert!(scrape.samples.len() + scrape.skipped <= text.split('\n').count());
            for s in &scrape.samples {
                let _ = scrape.histogram(&s.name, &[]).and_then(|h| h.quantile(0.9));
            }
        }

        #[test]
        fn written_samples_read_back(
            samples in proptest::collection::vec(
                (metric_name(), proptest::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,10}", label_value()), 0..4), -1e300..1e300_f64, proptest::option::of(0..i64::MAX / 2)),
                1..20,
            )
        ) {
            let mut text = String::new();
            for (name, labels, value, ts) in &samples {
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                text.push_str(&format!("{name}{{{}}} {value:e}", labels.join(",")));
                if let Some(ts) = ts {
                    text.push_str(&format!(" {ts}"));
                }
                text.push('\n');
            }
            let scrape = parse(&text);
            prop_assert_eq!(scrape.skipped, 0);
            // A series written again (the generator may repeat one) is read once, last value in
            // the first one's place.
            let series = |i: usize| {
                let mut labels = samples[i].1.clone();
                labels.sort();
                (samples[i].0.clone(), labels)
            };
            let mut expected: Vec<usize> = Vec::new();
            for i in 0..samples.len() {
                match expected.iter().position(|&e| series(e) == series(i)) {
                    Some(at) => expected[at] = i,
                    None => expected.push(i),
                }
            }
            prop_assert_eq!(scrape.samples.len(), expected.len());
            for (read, (name, labels, value, ts)) in scrape.samples.iter().zip(expected.iter().map(|&i| &samples[i])) {
                prop_assert_eq!(&read.name, name);
                prop_assert_eq!(&read.labels, labels);
                prop_assert_eq!(read.value, *value);
                prop_assert_eq!(read.timestamp, ts.map(|t| t as f64));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn parse_time_stays_linear(unit in "[{}\"\\\\=, a#\\n1]{1,40}") {
            assert_linear(&unit);
        }
    }
}
