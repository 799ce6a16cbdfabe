//! Text-level YAML editing: find the exact bytes of one `key: value` entry so a value can be
//! replaced while every other byte (comments included) stays as it was.
//!
//! Positions of keys come from `locate` (the real parser); this module only works out where a
//! value found there ends, following YAML's rules for each value style.

/// Where an entry's value lies, as byte offsets into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueSpan {
    /// Starts on the key's line (scalar in any style, or a flow collection); may run on.
    Inline { start: usize, end: usize },
    /// Below the key (block sequence or mapping, or a scalar on the next lines).
    /// `key_line_end` is the end of the key's line (after any comment), `end` of the last line.
    Below { key_line_end: usize, end: usize },
    /// Nothing after the colon: a null.
    Empty,
}

/// One `key: value` entry of a block mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Spaces before the key.
    pub indent: usize,
    /// Offset just after the `:`.
    pub colon_end: usize,
    /// Whether a comment follows the colon on the key line (only meaningful for `Below`/`Empty`).
    pub comment_after_colon: bool,
    pub value: ValueSpan,
}

impl Entry {
    /// Offset of the end of the entry's last line (before its newline).
    pub fn last_line_end(&self, lines: &Lines) -> usize {
        let end = match self.value {
            ValueSpan::Inline { end, .. } | ValueSpan::Below { end, .. } => end,
            ValueSpan::Empty => self.colon_end,
        };
        lines.spans[lines.line_of(end)].1
    }
}

/// The text cut into lines: (start, end) byte offsets of each line's content, newline excluded.
pub(crate) struct Lines<'a> {
    text: &'a str,
    spans: Vec<(usize, usize)>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut spans = Vec::new();
        let mut start = 0;
        for piece in text.split_inclusive('\n') {
            let content = piece.trim_end_matches('\n').trim_end_matches('\r');
            spans.push((start, start + content.len()));
            start += piece.len();
        }
        if spans.is_empty() || text.ends_with('\n') {
            spans.push((text.len(), text.len()));
        }
        Self { text, spans }
    }

    fn get(&self, i: usize) -> &'a str {
        let (s, e) = self.spans[i];
        &self.text[s..e]
    }

    fn indent(&self, i: usize) -> usize {
        self.get(i).len() - self.get(i).trim_start_matches(' ').len()
    }

    fn is_blank(&self, i: usize) -> bool {
        self.get(i).trim().is_empty()
    }

    fn is_comment(&self, i: usize) -> bool {
        self.get(i).trim_start().starts_with('#')
    }

    fn line_of(&self, offset: usize) -> usize {
        self.spans.partition_point(|&(start, _)| start <= offset).saturating_sub(1)
    }

    pub fn count(&self) -> usize {
        self.spans.len()
    }
}

/// The entry whose key starts at 1-based `line` and character `column` (as serde_yaml reports).
pub(crate) fn entry_at(lines: &Lines, line: usize, column: usize) -> Result<Entry, String> {
    let row = line.checked_sub(1).filter(|&r| r < lines.count()).ok_or("key line out of range")?;
    let text = lines.get(row);
    let key_start = text.char_indices().nth(column.saturating_sub(1)).map_or(text.len(), |(i, _)| i);
    if !text[..key_start].bytes().all(|b| b == b' ') {
        return Err("only block-style mappings (one `key: value` per line) can be edited in place".into());
    }
    let colon = find_colon(text, key_start).ok_or("no `:` after the key")?;
    let colon_end = colon + 1;
    let after = &text[colon_end..];
    let value_at = colon_end + (after.len() - after.trim_start_matches([' ', '\t']).len());
    let line_start = lines.spans[row].0;
    let abs = |i: usize| line_start + i;
    let first = text[value_at..].chars().next();
    let value = match first {
        None | Some('#') => below(lines, row, key_start),
        Some('|' | '>') => ValueSpan::Inline { start: abs(value_at), end: block_scalar_end(lines, row, key_start) },
        Some('"' | '\'' | '[' | '{') => {
            let end = flow_end(lines.text, abs(value_at)).ok_or("unterminated quoted or flow value")?;
            ValueSpan::Inline { start: abs(value_at), end }
        }
        Some('&' | '*' | '!') => return Err("anchors, aliases and tags cannot be edited in place".into()),
        Some(_) => ValueSpan::Inline { start: abs(value_at), end: plain_end(lines, row, value_at, key_start) },
    };
    Ok(Entry { indent: key_start, colon_end: abs(colon_end), comment_after_colon: first == Some('#'), value })
}

/// The `:` that ends a simple key starting at `key_start` (quoted keys may contain colons).
fn find_colon(text: &str, key_start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = key_start;
    if matches!(bytes.get(i), Some(b'"' | b'\'')) {
        i = quoted_end(bytes, i)?;
        return text[i..].find(':').map(|c| i + c);
    }
    while i < bytes.len() {
        if bytes[i] == b':' && bytes.get(i + 1).is_none_or(|&b| b == b' ' || b == b'\t') {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A value under the key: following lines that are deeper, blank, comments, or `- ` items at the
/// key's own indent (YAML allows those for a sequence in a mapping). Trailing blanks and comments
/// stay outside.
fn below(lines: &Lines, row: usize, key_indent: usize) -> ValueSpan {
    let mut last = None;
    for j in row + 1..lines.count() {
        let t = lines.get(j);
        let item_at_key_indent = lines.indent(j) == key_indent && (t.trim_start().starts_with("- ") || t.trim() == "-");
        if lines.is_blank(j) || lines.is_comment(j) {
            continue;
        }
        if lines.indent(j) > key_indent || item_at_key_indent {
            last = Some(j);
        } else {
            break;
        }
    }
    match last {
        Some(j) => ValueSpan::Below { key_line_end: lines.spans[row].1, end: lines.spans[j].1 },
        None => ValueSpan::Empty,
    }
}

/// End of a `|`/`>` scalar: content lines are at least as deep as the first non-blank one, which
/// must be deeper than the key; trailing blank lines stay outside.
fn block_scalar_end(lines: &Lines, row: usize, key_indent: usize) -> usize {
    let mut content_indent = None;
    let mut last = row;
    for j in row + 1..lines.count() {
        if lines.is_blank(j) {
            continue;
        }
        let indent = lines.indent(j);
        let needed = *content_indent.get_or_insert(indent);
        if indent <= key_indent || indent < needed {
            break;
        }
        last = j;
    }
    lines.spans[last].1
}

/// End of a plain scalar: up to a ` #` comment, continued on deeper non-comment lines.
fn plain_end(lines: &Lines, row: usize, value_at: usize, key_indent: usize) -> usize {
    let content_end = |j: usize, from: usize| {
        let t = lines.get(j);
        let cut = t[from..].find(" #").or_else(|| t[from..].find("\t#")).map_or(t.len(), |c| from + c);
        lines.spans[j].0 + t[..cut].trim_end().len()
    };
    let mut end = content_end(row, value_at);
    for j in row + 1..lines.count() {
        if lines.is_blank(j) {
            continue;
        }
        if lines.is_comment(j) || lines.indent(j) <= key_indent {
            break;
        }
        end = content_end(j, lines.indent(j));
    }
    end
}

/// Offset just past a quoted scalar or flow collection that starts at `start`.
fn flow_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    let mut prev_significant = b'[';
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' | b'\'' if matches!(prev_significant, b'[' | b'{' | b',' | b':' | b'?') => {
                i = quoted_end(bytes, i)?;
                if depth == 0 {
                    return Some(i);
                }
                prev_significant = b;
                continue;
            }
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t' | b'\n') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            prev_significant = b;
        }
        i += 1;
    }
    None
}

/// Offset just past the quoted scalar opening at `start` (`\` escapes in "", `''` in '').
fn quoted_end(bytes: &[u8], start: usize) -> Option<usize> {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// A YAML double-quoted scalar that reads back as exactly `s`, on one line.
pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            // YAML's printable set, minus the characters it treats as line breaks or a BOM.
            ' '..='~' | '\u{A0}'..='\u{2027}' | '\u{202A}'..='\u{D7FF}' | '\u{E000}'..='\u{FEFE}' => out.push(c),
            '\u{FF00}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// `text` as a literal block scalar (`|` keeping one final newline, `|-` none) with its lines
/// indented by `indent` spaces and joined by `newline`, or None when a block cannot hold it
/// exactly (one line, control characters, a leading space, blank lines with spaces, more than
/// one final newline). Checked by reading it back.
pub(crate) fn literal_block(text: &str, indent: usize, newline: &str) -> Option<String> {
    let (body, chomp) = match text.strip_suffix('\n') {
        Some(body) if body.ends_with('\n') => return None,
        Some(body) => (body, "|"),
        None => (text, "|-"),
    };
    let lines: Vec<&str> = body.split('\n').collect();
    let first = lines.iter().find(|l| !l.is_empty())?;
    let awkward = |c: char| (c.is_control() && !matches!(c, '\t' | '\n')) || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}');
    if lines.len() < 2 || first.starts_with([' ', '\t']) || body.chars().any(awkward) {
        return None;
    }
    if lines.iter().any(|l| !l.is_empty() && l.trim().is_empty()) {
        return None;
    }
    let pad = " ".repeat(indent);
    let mut block = chomp.to_string();
    for line in &lines {
        block.push_str(newline);
        if !line.is_empty() {
            block.push_str(&pad);
            block.push_str(line);
        }
    }
    let reads_back = serde_yaml::from_str::<std::collections::BTreeMap<String, String>>(&format!("k: {block}\n"))
        .is_ok_and(|m| m.get("k").map(String::as_str) == Some(text));
    reads_back.then_some(block)
}

#[cfg(test)]
mod tests {
    use super::literal_block;

    #[test]
    fn multi_line_text_becomes_a_block_that_reads_back_and_awkward_text_does_not() {
        assert_eq!(literal_block("One.\n\nTwo.", 4, "\n").as_deref(), Some("|-\n    One.\n\n    Two."));
        assert_eq!(literal_block("One.\nTwo.\n", 2, "\n").as_deref(), Some("|\n  One.\n  Two."));
        assert_eq!(literal_block("a: b # c\n- d", 2, "\n").as_deref(), Some("|-\n  a: b # c\n  - d"));
        for awkward in ["one line", " leading space\nx", "x\n\n", "x\n  \ny", "bell \u{7}\nx", "cr\r\nx", ""] {
            assert_eq!(literal_block(awkward, 4, "\n"), None, "{awkward:?}");
        }
    }
}
