//! Word wrapping and cutting by display width (unicode-width), so wide characters and emoji
//! never overflow a line. One wrapper serves every pane: the chat keeps the text's own spaces and
//! line breaks; the GPU panel folds whitespace and caps the number of lines.
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
    let width = width.max(1);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        wrap_paragraph(paragraph, width, &mut out);
    }
    out
}

/// `wrap` with options; a width or line cap of 0 gives no lines.
pub fn wrap_with(text: &str, width: usize, options: WrapOptions) -> Vec<String> {
    if width == 0 || options.max_lines == Some(0) {
        return Vec::new();
    }
    let mut lines = if options.fold_whitespace {
        let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut out = Vec::new();
        if !folded.is_empty() {
            wrap_paragraph(&folded, width, &mut out);
        }
        out.iter_mut().for_each(|l| l.truncate(l.trim_end().len()));
        out
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

fn wrap_paragraph(paragraph: &str, width: usize, out: &mut Vec<String>) {
    let mut line = String::new();
    let mut line_w = 0;
    for word in split_keep_spaces(paragraph) {
        let word_w = str_width(word);
        if line_w + word_w <= width {
            line.push_str(word);
            line_w += word_w;
            continue;
        }
        if word.trim().is_empty() {
            // A space at the break point is dropped rather than starting the next line.
            out.push(std::mem::take(&mut line));
            line_w = 0;
            continue;
        }
        if line_w > 0 {
            out.push(std::mem::take(&mut line));
            line_w = 0;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if line_w + cw > width && line_w > 0 {
                out.push(std::mem::take(&mut line));
                line_w = 0;
            }
            line.push(c);
            line_w += cw;
        }
    }
    out.push(line);
}

/// Splits into alternating runs of non-space and space characters.
fn split_keep_spaces(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let is_space = first == ' ';
        let end = rest.find(|c: char| (c == ' ') != is_space).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        rest = tail;
        Some(run)
    })
}

pub fn str_width(s: &str) -> usize {
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
}
