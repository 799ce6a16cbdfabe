//! Word wrapping and cutting by display width (unicode-width), so wide characters and emoji
//! never overflow a line. One wrapper serves every pane: the chat keeps the text's own spaces and
//! line breaks; the GPU panel folds whitespace and caps the number of lines.
use std::ops::Range;

use unicode_width::UnicodeWidthChar;

/// How `wrap_with` treats the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WrapOptions {
    /// Fold every run of whitespace (line breaks included) into one space; lines carry no
    /// trailing space and empty text gives no line at all.
    pub fold_whitespace: bool,
    /// At most this many lines; the last one ends in '…' when text was left over.
    pub max_lines: Option<usize>,
}

/// Wraps `text` to `width` columns: breaks at spaces, splits words longer than a line,
/// keeps explicit newlines. Always returns at least one line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    wrap_ranges(text, width).into_iter().map(|r| text[r].to_string()).collect()
}

/// `wrap` as byte ranges of `text`, one a line (a space run at a break and the newlines are
/// in no range): a search match can be found on the lines it was wrapped onto.
pub fn wrap_ranges(text: &str, width: usize) -> Vec<Range<usize>> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    for paragraph in text.split('\n') {
        wrap_paragraph(paragraph, start, width, &mut out);
        start += paragraph.len() + 1;
    }
    out
}

/// How many lines `wrap` makes of `text`, without making them: printable ASCII (most chat
/// text) is counted a byte a column, so a long history is measured quickly.
pub fn line_count(text: &str, width: usize) -> usize {
    let width = width.max(1);
    text.split('\n')
        .map(|paragraph| match is_printable_ascii(paragraph) {
            true => ascii_line_count(paragraph.as_bytes(), width),
            false => {
                let mut lines = Vec::new();
                wrap_paragraph(paragraph, 0, width, &mut lines);
                lines.len()
            }
        })
        .sum()
}

fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// `wrap_paragraph`'s line count for text of one-column bytes, a line at a time: from a line's
/// start, the first byte that does not fit decides where the next line starts.
fn ascii_line_count(p: &[u8], width: usize) -> usize {
    let (mut lines, mut start) = (1, 0);
    while start + width < p.len() {
        let over = start + width;
        start = if p[over] == b' ' {
            // The spaces at the break are dropped.
            over + p[over..].iter().position(|&b| b != b' ').unwrap_or(p.len() - over)
        } else {
            // The word that does not fit starts the next line; one longer than a line is split.
            let word = p[start..over].iter().rposition(|&b| b == b' ').map_or(start, |i| start + i + 1);
            if word > start { word } else { over }
        };
        lines += 1;
    }
    lines
}

/// `wrap` with options; a width or line cap of 0 gives no lines.
pub fn wrap_with(text: &str, width: usize, options: WrapOptions) -> Vec<String> {
    if width == 0 || options.max_lines == Some(0) {
        return Vec::new();
    }
    let mut lines = if options.fold_whitespace {
        let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut ranges = Vec::new();
        if !folded.is_empty() {
            wrap_paragraph(&folded, 0, width, &mut ranges);
        }
        ranges.into_iter().map(|r| folded[r].trim_end().to_string()).collect()
    } else {
        wrap(text, width)
    };
    if let Some(max) = options.max_lines
        && lines.len() > max
    {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            *last = truncate(&format!("{last}…"), width);
        }
    }
    lines
}

/// The lines of one paragraph (no newline in it) as ranges, offset by `base`.
fn wrap_paragraph(paragraph: &str, base: usize, width: usize, out: &mut Vec<Range<usize>>) {
    let (mut start, mut end, mut line_w) = (0, 0, 0);
    let mut pos = 0;
    for word in split_keep_spaces(paragraph) {
        let word_start = pos;
        pos += word.len();
        let word_w = str_width(word);
        if line_w + word_w <= width {
            end = pos;
            line_w += word_w;
            continue;
        }
        if word.trim().is_empty() {
            // A space at the break point is dropped rather than starting the next line.
            out.push(base + start..base + end);
            (start, end, line_w) = (pos, pos, 0);
            continue;
        }
        if line_w > 0 {
            out.push(base + start..base + end);
            (start, end, line_w) = (word_start, word_start, 0);
        }
        for (i, c) in word.char_indices() {
            let cw = c.width().unwrap_or(0);
            if line_w + cw > width && line_w > 0 {
                out.push(base + start..base + end);
                (start, line_w) = (word_start + i, 0);
            }
            end = word_start + i + c.len_utf8();
            line_w += cw;
        }
    }
    out.push(base + start..base + end);
}

/// Splits into alternating runs of non-space and space characters.
fn split_keep_spaces(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let is_space = *rest.as_bytes().first()? == b' ';
        // A space is one byte and never part of another char, so bytes find the run's end.
        let end = rest.bytes().position(|b| (b == b' ') != is_space).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

pub fn str_width(s: &str) -> usize {
    // Printable ASCII is one column a byte: the common case, counted without decoding.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.len();
    }
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Cuts `s` to at most `width` columns, ending in "…" when something was cut.
pub fn truncate(s: &str, width: usize) -> String {
    if str_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Cuts `s` to at most `width` columns from the left, starting with "…" when something was
/// cut: a path keeps its file name.
pub fn truncate_left(s: &str, width: usize) -> String {
    if str_width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut tail = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        tail.push(c);
        w += cw;
    }
    std::iter::once('…').chain(tail.into_iter().rev()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("hello world foo", 11), vec!["hello world", "foo"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("a\n\nb", 5), vec!["a", "", "b"]);
        assert_eq!(wrap("", 5), vec![""]);
    }

    #[test]
    fn wide_characters_count_double() {
        let lines = wrap("日本語のテキスト", 6);
        assert!(lines.iter().all(|l| str_width(l) <= 6), "{lines:?}");
        assert_eq!(lines.concat(), "日本語のテキスト");
        assert!(wrap("🦙🦙🦙", 4).iter().all(|l| str_width(l) <= 4));
    }

    #[test]
    fn folded_wrapping_drops_spaces_at_breaks_and_caps_lines() {
        let fold = |rows| WrapOptions { fold_whitespace: true, max_lines: Some(rows) };
        assert_eq!(wrap_with("no NVIDIA driver here", 10, fold(5)), ["no NVIDIA", "driver", "here"]);
        assert_eq!(wrap_with("libnvidia-ml.so.1", 6, fold(5)), ["libnvi", "dia-ml", ".so.1"]);
        assert_eq!(wrap_with("one two three four", 9, fold(1)), ["one two…"]);
        assert_eq!(wrap_with("한국어", 1, fold(5)), ["한", "국", "어"]);
        assert_eq!(wrap_with("a\n\n  b", 5, fold(5)), ["a b"]);
        assert!(wrap_with("anything", 0, fold(3)).is_empty());
        assert!(wrap_with("   ", 4, fold(3)).is_empty());
        assert_eq!(wrap_with("a\n\nb", 5, WrapOptions::default()), wrap("a\n\nb", 5));
    }

    #[test]
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("temperature", 6), "tempe…");
        assert_eq!(truncate("ok", 6), "ok");
    }

    #[test]
    fn truncate_left_keeps_the_end() {
        assert_eq!(truncate_left("/home/op/.local/share/llamadeck/exports/c1.md", 12), "…ports/c1.md");
        assert_eq!(truncate_left("short", 12), "short");
        assert_eq!(truncate_left("日本語のテキスト", 5), "…スト");
        assert_eq!(truncate_left("abc", 0), "");
    }

    #[test]
    fn line_count_counts_what_wrap_makes() {
        let texts = [
            "",
            "a",
            "hello world foo",
            "abcdefghijklmnop qr",
            "a  b   c    d",
            "   lead and trail   ",
            "x\n\ny z",
            "日本語 のテキスト ab",
        ];
        for text in texts {
            for width in 1..20 {
                assert_eq!(line_count(text, width), wrap(text, width).len(), "{text:?} at {width}");
            }
        }
        // Random printable text, spaces often.
        let mut seed = 7u64;
        for _ in 0..500 {
            let text: String = (0..(seed % 90))
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    match (seed >> 33) % 7 {
                        0 | 1 => ' ',
                        2 => '\n',
                        n => (b'a' + n as u8) as char,
                    }
                })
                .collect();
            let width = 1 + (seed >> 40) as usize % 12;
            assert_eq!(line_count(&text, width), wrap(&text, width).len(), "{text:?} at {width}");
        }
    }

    #[test]
    fn ranges_are_the_wrapped_lines() {
        for (text, width) in [("hello world foo", 11), ("abcdefgh", 3), ("a\n\nb  c", 2), ("", 5), ("日本語 のテキスト e\u{301}", 4)]
        {
            let lines: Vec<&str> = wrap_ranges(text, width).into_iter().map(|r| &text[r]).collect();
            assert_eq!(lines, wrap(text, width), "{text:?} at {width}");
        }
        assert_eq!(wrap_ranges("ab cd", 2), [0..2, 3..5]);
    }
}
