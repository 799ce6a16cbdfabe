//! Refusing YAML nested deeper than a config ever needs, before the parser reads it: the YAML
//! parser takes time quadratic in the depth (8 s for 40,000 levels, and the 1 MiB file limit
//! allows about 500,000). A small scan counts flow nesting (`[`, `{`) and block nesting
//! (deeper indentation, and the `- `, `? `, `: ` indicators that nest on one line), leaving out
//! comments, quoted strings, block scalars (`|`, `>`) and the lines that continue a plain
//! scalar. Where it cannot tell, it counts: a false level only matters past the limit.

/// The deepest nesting read; the documented config nests at most 4 levels.
pub const MAX_NESTING: usize = 64;

/// Where the nesting of `text` first goes past [`MAX_NESTING`]: (line, column), both 1-based,
/// the column in characters.
pub(crate) fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut scan = Scan::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    lines(text).enumerate().find_map(|(i, line)| scan.line(line).err().map(|column| (i + 1, column + 1)))
}

/// YAML's line breaks: LF, CR LF, CR, and (as libyaml reads them) NEL, LS and PS.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.char_indices().find(|(_, c)| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')) {
            Some((i, c)) => {
                let after = if text[i..].starts_with("\r\n") { i + 2 } else { i + c.len_utf8() };
                rest = Some(&text[after..]);
                Some(&text[..i])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

#[derive(Clone, Copy)]
struct Block {
    column: usize,
    sequence: bool,
}

#[derive(Default)]
struct Scan {
    /// The open block nodes, innermost last: their column, and whether it is a sequence (a
    /// sequence may sit at its key's column, one level below the mapping there).
    blocks: Vec<Block>,
    /// Open `[` and `{`.
    flow: usize,
    /// Inside a quoted scalar (which may span lines): its quote.
    quote: Option<char>,
    /// Inside a block scalar: its parent's column, and its content's indentation once known.
    scalar: Option<(isize, Option<usize>)>,
    /// The line before ended in a plain scalar: a line indented more than this continues it.
    plain: Option<isize>,
    /// A node may start here (a `[` opens a collection, a quote a quoted scalar).
    at_node: bool,
    /// The column a `- `, `? ` or `: ` on this line put its node at.
    indicated: Option<usize>,
}

impl Scan {
    /// Reads one line; Err is the column (0-based) where the nesting went past the limit.
    fn line(&mut self, line: &str) -> Result<(), usize> {
        let chars: Vec<char> = line.chars().collect();
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let blank = chars[indent..].iter().all(|c| matches!(c, ' ' | '\t'));
        if let Some((parent, content)) = self.scalar {
            if blank {
                return Ok(());
            }
            match content {
                None if indent as isize > parent => {
                    self.scalar = Some((parent, Some(indent)));
                    return Ok(());
                }
                Some(content) if indent >= content => return Ok(()),
                _ => self.scalar = None,
            }
        }
        self.indicated = None;
        let mut plain = None;
        let mut j = 0;
        if self.quote.is_none() && self.flow == 0 {
            if blank {
                return Ok(());
            }
            if chars[indent] == '#' || (indent == 0 && chars[0] == '%') {
                self.plain = None;
                return Ok(());
            }
            j = indent;
            let marker = |m: &str| line.starts_with(m) && chars.get(3).is_none_or(|c| matches!(c, ' ' | '\t'));
            if indent == 0 && (marker("---") || marker("...")) {
                // A new document.
                self.blocks.clear();
                self.plain = None;
                self.at_node = true;
                j = 3;
            } else if let Some(parent) = self.plain.filter(|p| indent as isize > *p) {
                // More of the plain scalar above: text, not structure.
                plain = Some(parent);
                self.at_node = false;
            } else {
                self.plain = None;
                let entry = chars[indent] == '-' && chars.get(indent + 1).is_none_or(|c| matches!(c, ' ' | '\t'));
                let outside = |b: &Block| b.column > indent || (b.column == indent && b.sequence && !entry);
                while self.blocks.last().is_some_and(outside) {
                    self.blocks.pop();
                }
                match self.blocks.last() {
                    Some(top) if top.column == indent && (top.sequence || !entry) => {}
                    _ => self.push(Block { column: indent, sequence: entry }, indent)?,
                }
                self.at_node = true;
            }
        }
        let mut after_quote = false;
        let mut after_blank = true;
        while j < chars.len() {
            let c = chars[j];
            if let Some(quote) = self.quote {
                if quote == '"' && c == '\\' {
                    j += 2;
                    continue;
                }
                if c == quote {
                    if quote == '\'' && chars.get(j + 1) == Some(&'\'') {
                        j += 2;
                        continue;
                    }
                    self.quote = None;
                    self.at_node = false;
                    after_quote = true;
                }
                j += 1;
                continue;
            }
            if matches!(c, ' ' | '\t') {
                after_blank = true;
                j += 1;
                continue;
            }
            if c == '#' && after_blank {
                plain = None;
                break;
            }
            after_blank = false;
            let next_blank = chars.get(j + 1).is_none_or(|n| matches!(n, ' ' | '\t'));
            if self.at_node {
                match c {
                    '"' | '\'' => self.quote = Some(c),
                    '[' | '{' => {
                        self.flow += 1;
                        self.check(j)?;
                    }
                    ']' | '}' if self.flow > 0 => {
                        self.flow -= 1;
                        self.at_node = false;
                    }
                    ',' | '?' | ':' if self.flow > 0 => {}
                    '-' | '?' | ':' if next_blank => {
                        // The node after the indicator is a level deeper, at its own column.
                        if let Some(k) = (j + 1..chars.len()).find(|k| !matches!(chars[*k], ' ' | '\t'))
                            && chars[k] != '#'
                        {
                            self.push(Block { column: k, sequence: false }, k)?;
                            self.indicated = Some(k);
                        }
                    }
                    '|' | '>' if self.flow == 0 => {
                        // The rest of the line is the scalar's header; its text follows, indented.
                        let parent = self.parent(j);
                        let step = chars[j + 1..].iter().take_while(|c| !matches!(c, ' ' | '\t')).find_map(|c| c.to_digit(10));
                        let content = step.map(|d| (parent.max(0) + d as isize) as usize);
                        self.scalar = Some((parent, content));
                        self.plain = None;
                        return Ok(());
                    }
                    '&' | '!' => {
                        // An anchor or a tag: the node comes after it.
                        while j < chars.len() && !matches!(chars[j], ' ' | '\t' | ',' | '[' | ']' | '{' | '}') {
                            j += 1;
                        }
                        continue;
                    }
                    _ => {
                        self.at_node = false;
                        if self.flow == 0 {
                            plain = Some(self.parent(j));
                        }
                    }
                }
            } else {
                match c {
                    ':' if next_blank || after_quote || self.flow > 0 => {
                        self.at_node = true;
                        plain = None;
                    }
                    ',' if self.flow > 0 => self.at_node = true,
                    ']' | '}' if self.flow > 0 => self.flow -= 1,
                    // Not YAML inside a plain scalar, but counted: the parser may read it so.
                    '[' | '{' if self.flow > 0 => {
                        self.flow += 1;
                        self.check(j)?;
                    }
                    _ => {}
                }
            }
            after_quote = false;
            j += 1;
        }
        self.plain = if self.flow == 0 && self.quote.is_none() { plain } else { None };
        Ok(())
    }

    fn push(&mut self, block: Block, column: usize) -> Result<(), usize> {
        self.blocks.push(block);
        self.check(column)
    }

    fn check(&self, column: usize) -> Result<(), usize> {
        if self.blocks.len() + self.flow > MAX_NESTING { Err(column) } else { Ok(()) }
    }

    /// The column of the collection a scalar starting at `column` belongs to: the entry's
    /// indicator when a `- ` (or `? `, `: `) put it there, else the innermost block node.
    /// A scalar's continuation lines and a block scalar's text are indented more than this.
    fn parent(&self, column: usize) -> isize {
        match self.blocks.split_last() {
            Some((_, outer)) if self.indicated == Some(column) => outer.last().map_or(-1, |b| b.column as isize),
            Some((top, _)) => top.column as isize,
            None => -1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(text: &str) -> bool {
        too_deep(text).is_none()
    }

    /// `n` block mappings, each in the one above.
    fn mappings(n: usize) -> String {
        (0..n).map(|level| format!("{}k:\n", " ".repeat(level))).collect()
    }

    #[test]
    fn flow_nesting_is_counted_to_the_limit_and_refused_past_it() {
        assert!(depth_ok(&format!("a: {}{}", "[".repeat(MAX_NESTING - 1), "]".repeat(MAX_NESTING - 1))));
        let deep = format!("a: {}", "[".repeat(MAX_NESTING));
        assert_eq!(too_deep(&deep), Some((1, 3 + MAX_NESTING)), "the mapping is one level, the 64th [ the 65th");
        assert_eq!(too_deep(&format!("a:\n  b: {}", "{x: ".repeat(100))), Some((2, 6 + 4 * 62)));
        // Across lines, as a flow collection may be written.
        assert_eq!(too_deep(&format!("a: [\n{}", "  [\n".repeat(70))).map(|p| p.0), Some(64));
    }

    #[test]
    fn block_nesting_by_indentation_and_by_indicators() {
        assert!(depth_ok(&mappings(MAX_NESTING)));
        assert_eq!(too_deep(&mappings(MAX_NESTING + 1)), Some((MAX_NESTING + 1, MAX_NESTING + 1)));
        assert_eq!(too_deep(&"- ".repeat(100)), Some((1, 2 * MAX_NESTING + 1)));
        assert_eq!(too_deep(&format!("a:\n  {}", "? ".repeat(100))).map(|p| p.0), Some(2));
        // Siblings and dedents do not add up.
        let wide = "a:\n  b:\n    c: 1\n  d: 2\ne:\n  - f: 1\n    g: [1, {h: 2}]\n  - 3\n".repeat(1000);
        assert!(depth_ok(&wide));
    }

    #[test]
    fn comments_quotes_block_scalars_and_plain_text_do_not_count() {
        let brackets = "[{".repeat(100);
        for text in [
            format!("a: 1 # {brackets}\n# {brackets}\n"),
            format!("a: \"{brackets}\\\" {brackets}\"\nb: '{brackets}'' {brackets}'\n"),
            format!("a: \"multi\n  {brackets}\n  line\"\nb: 1\n"),
            format!("a: it's {brackets}\nb: x {brackets}\n"),
            format!("a: |\n  {brackets}\n  - - - - - -\n\n  more\nb: >-\n   {brackets}\n"),
            format!("- a: |2\n    {brackets}\n  b: 1\n"),
            format!("a: plain\n  continued {brackets}\n  {brackets}\n"),
            format!("a: [\"{brackets}\", '{brackets}', x # {brackets}\n  ]\n"),
            format!("a: &anchor plain {brackets}\n"),
        ] {
            assert!(depth_ok(&text), "{text}");
        }
    }

    #[test]
    fn what_the_parser_would_read_as_structure_is_counted() {
        let deep = "[".repeat(100);
        for text in [
            // A quote inside a plain scalar is text: it hides nothing after it.
            format!("a: it's\n{deep}"),
            // A block scalar ends where a line is indented no more than its key.
            format!("a: |\n  text\nb: {deep}"),
            format!("- a: |\n    text\n  b: {deep}"),
            // A comment ends a plain scalar; a new document starts anew.
            format!("a: b # c\n  {deep}"),
            format!("a: b\n--- {deep}"),
            // CR alone, and NEL, break lines as LF does.
            format!("a:\r {deep}"),
            format!("a: b\u{85}{deep}"),
            format!("a: &x {deep}"),
            format!("\"a\":{deep}"),
        ] {
            assert!(!depth_ok(&text), "{text:?}");
        }
    }

    /// A chain of `levels` collections (a mapping or a sequence each, with a sibling beside
    /// the next), as serde_yaml writes it, and its depth.
    fn chain(levels: &[(bool, String)]) -> (String, usize) {
        use serde_yaml::{Mapping, Value};
        let mut value = Value::String("leaf".into());
        for (mapping, text) in levels.iter().rev() {
            let sibling = Value::String(text.clone());
            value = if *mapping {
                let mut m = Mapping::new();
                m.insert(Value::String(format!("k{text}")), value);
                m.insert(Value::String(format!("s{text}")), sibling);
                Value::Mapping(m)
            } else {
                Value::Sequence(vec![value, sibling])
            };
        }
        (serde_yaml::to_string(&value).unwrap(), levels.len())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Block YAML as a program writes it, scalars with every kind of punctuation (quoted,
        /// block scalars): past the limit it is always refused, and well under it never.
        #[test]
        fn written_yaml_is_counted_to_its_depth(levels in proptest::collection::vec((proptest::bool::ANY, "[ -~\n\u{85}é]{0,12}"), 1..90)) {
            let (text, depth) = chain(&levels);
            let refused = too_deep(&text).is_some();
            if depth > MAX_NESTING {
                proptest::prop_assert!(refused, "{depth} levels passed:\n{text}");
            } else if depth + 2 <= MAX_NESTING {
                proptest::prop_assert!(!refused, "{depth} levels refused at {:?}:\n{text}", too_deep(&text));
            }
        }

        #[test]
        fn any_text_is_scanned_without_a_panic(text in "[ -~\t\n\r\u{85}é]{0,300}") {
            let _ = too_deep(&text);
        }
    }

    #[test]
    fn lines_break_as_yaml_breaks_them() {
        let got: Vec<&str> = lines("a\nb\r\nc\rd\u{85}e\u{2028}f").collect();
        assert_eq!(got, ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(lines("").collect::<Vec<_>>(), [""]);
    }
}
