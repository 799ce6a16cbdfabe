//! Markdown in answers as the terminal shows it: the text without its markup, one entry a shown
//! line with what is drawn before it (a bullet, a number, a quote bar, a code block's gutter),
//! the parts that look different (a small `Look` the chat pane maps to the theme) and the code
//! blocks with their language and code (for copying). Pure, below both the line plan and the
//! chat pane, so scrolling, search and drawing all count the same lines.
//!
//! pulldown-cmark parses. A single line break in a paragraph stays a line break (models write
//! lists, tables and poems that way), and what a terminal cannot show (a table's grid, an
//! image) stays as the text the model wrote. Nothing here relies on colour alone: bullets,
//! numbers, bars and gutters are characters; headings are bold and underlined, emphasis is
//! italic, inline code keeps its backticks.
use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// How a part of the shown text looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Look {
    pub strong: bool,
    pub emphasis: bool,
    pub strike: bool,
    /// Inline code, and the lines of a code block.
    pub code: bool,
    pub heading: bool,
    pub link: bool,
    /// Markup kept as a hint (inline code's backticks, a link's address, a code block's language).
    pub dim: bool,
}

impl Look {
    fn is_plain(self) -> bool {
        self == Look::default()
    }
}

/// One shown line: `range` of the text (no line break in it), what is drawn before its first
/// row (`lead`) and before the rows it wraps onto (`hang`, as wide as `lead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownLine {
    pub range: Range<usize>,
    pub lead: String,
    pub hang: String,
    /// Code: wrapped at any character, its spaces kept.
    pub code: bool,
}

/// A fenced or indented code block: its language ("" when none) and its code as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    pub language: String,
    pub code: String,
    /// The shown lines it takes (its heading line included).
    pub lines: Range<usize>,
}

/// A message as shown: text, lines, looks and code blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// The shown text; lines are separated by '\n'.
    pub text: String,
    pub lines: Vec<ShownLine>,
    /// Parts of `text` that look different, in order, not overlapping.
    pub looks: Vec<(Range<usize>, Look)>,
    pub code_blocks: Vec<CodeBlock>,
}

/// Text shown as it is (a question, a note): its own lines, nothing before them.
pub fn plain(text: &str) -> Shown {
    let mut lines = Vec::new();
    let mut start = 0;
    for line in text.split('\n') {
        lines.push(ShownLine { range: start..start + line.len(), lead: String::new(), hang: String::new(), code: false });
        start += line.len() + 1;
    }
    Shown { text: text.to_string(), lines, ..Shown::default() }
}

/// `markdown` (already sanitized) rendered for the terminal.
pub fn render(markdown: &str) -> Shown {
    // Most answers are prose: shown as written, without parsing (a long history is measured
    // once, answer by answer).
    if is_prose(markdown) {
        // The parser drops the spaces that end a paragraph.
        return plain(markdown.trim_end_matches(' '));
    }
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut r = Renderer::default();
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.finish()
}

/// The bytes that can start markup (a table: this runs over every byte of a long history).
const MARKUP: [bool; 256] = {
    let mut table = [false; 256];
    let bytes = b"*_`#>[]<~|&\\!=\t\r";
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
};

/// True when `text` renders as written (but for spaces at its very end): no character that can
/// start markup anywhere, no line that could start a block (a list, a quote, indented code, a
/// heading's underline), end in a hard break, or collapse with blank lines around it.
pub fn is_prose(text: &str) -> bool {
    let text = text.trim_end_matches(' ');
    // A chunk at a time without a branch per byte: this is most of a search's time.
    let markup = |chunk: &[u8]| chunk.iter().fold(false, |found, &b| found | MARKUP[b as usize]);
    if text.is_empty()
        || text.as_bytes().chunks(512).any(markup)
        || text.starts_with('\n')
        || text.ends_with('\n')
        || text.contains("\n\n\n")
    {
        return false;
    }
    text.split('\n').all(|line| {
        let starts_block = line.starts_with(|c: char| c == ' ' || c == '-' || c == '+' || c.is_ascii_digit());
        !starts_block && !line.ends_with(' ')
    })
}

/// A block that puts something before its lines.
#[derive(Debug)]
enum Container {
    Quote,
    /// A list: the next item's number (None: bullets), and how deep it is.
    List {
        next: Option<u64>,
        depth: usize,
    },
    /// A list item: its marker until its first line takes it, then spaces as wide.
    Item {
        marker: Option<String>,
        width: usize,
    },
    Code,
}

#[derive(Debug, Default)]
struct Renderer {
    out: Shown,
    containers: Vec<Container>,
    /// The line being written: where it starts in the text.
    open: Option<usize>,
    /// A blank line goes before the next block.
    gap: bool,
    look: Look,
    in_heading: bool,
    /// A code block being read: its language, code, first line.
    code: Option<(String, String, usize)>,
    /// A link being read: its address and where its text starts.
    links: Vec<(String, usize)>,
}

const BULLETS: [&str; 3] = ["• ", "◦ ", "▪ "];

impl Renderer {
    fn event(&mut self, event: Event) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => {
                if let Some((_, code, _)) = self.code.as_mut() {
                    code.push_str(&text);
                }
                self.push(&text, self.look);
            }
            Event::Code(code) => {
                let tick = Look { dim: true, ..self.look };
                self.push("`", tick);
                self.push(&code, Look { code: true, ..self.look });
                self.push("`", tick);
            }
            Event::InlineMath(text) | Event::DisplayMath(text) | Event::Html(text) | Event::InlineHtml(text) => self.push(&text, self.look),
            Event::FootnoteReference(name) => self.push(&format!("[^{name}]"), self.look),
            Event::SoftBreak | Event::HardBreak => self.end_line(),
            Event::Rule => {
                self.block_start();
                self.push(&"─".repeat(20), Look { dim: true, ..Look::default() });
                self.block_end();
            }
            Event::TaskListMarker(done) => self.push(if done { "[x] " } else { "[ ] " }, Look { dim: true, ..self.look }),
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock | Tag::MetadataBlock(_) => self.block_start(),
            Tag::Heading { level, .. } => {
                self.block_start();
                // Levels past the second are bold only: the underline marks the big ones.
                self.look = Look { strong: true, heading: matches!(level, HeadingLevel::H1 | HeadingLevel::H2), ..Look::default() };
                self.in_heading = true;
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or_default().to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                let first = self.out.lines.len();
                let label = if language.is_empty() { "code".to_string() } else { language.clone() };
                self.open_line_with("╭─ ", "│  ");
                self.push(&label, Look { dim: true, ..Look::default() });
                self.end_line();
                self.containers.push(Container::Code);
                self.code = Some((language, String::new(), first));
                self.look = Look { code: true, ..Look::default() };
            }
            Tag::List(first) => {
                let depth = self.containers.iter().filter(|c| matches!(c, Container::List { .. })).count();
                if depth == 0 {
                    self.block_start();
                } else {
                    self.end_line();
                }
                self.containers.push(Container::List { next: first, depth });
            }
            Tag::Item => {
                self.end_line();
                if self.gap && !self.out.lines.is_empty() {
                    self.blank();
                }
                self.gap = false;
                let marker = match self.containers.iter_mut().rev().find(|c| matches!(c, Container::List { .. })) {
                    Some(Container::List { next: Some(n), .. }) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    Some(Container::List { depth, .. }) => BULLETS[*depth % BULLETS.len()].to_string(),
                    _ => "• ".to_string(),
                };
                let width = crate::text::str_width(&marker);
                self.containers.push(Container::Item { marker: Some(marker), width });
            }
            Tag::Emphasis => self.look.emphasis = true,
            Tag::Strong => self.look.strong = true,
            Tag::Strikethrough => self.look.strike = true,
            Tag::Link { dest_url, .. } => {
                self.links.push((dest_url.to_string(), self.out.text.len()));
                self.look.link = true;
            }
            Tag::Image { .. } => self.push("[image: ", Look { dim: true, ..self.look }),
            // Not enabled: their text is shown as it comes.
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock | TagEnd::MetadataBlock(_) => self.block_end(),
            TagEnd::Heading(_) => {
                self.look = Look::default();
                self.in_heading = false;
                self.block_end();
            }
            TagEnd::BlockQuote(_) => {
                self.end_line();
                self.pop(|c| matches!(c, Container::Quote));
                self.gap = true;
            }
            TagEnd::CodeBlock => {
                // The code's last line break ends its last line, not a blank line after it.
                if self.open.is_some_and(|start| start == self.out.text.len()) {
                    self.open = None;
                }
                self.end_line();
                self.pop(|c| matches!(c, Container::Code));
                if let Some((language, code, first)) = self.code.take() {
                    self.out.code_blocks.push(CodeBlock { language, code, lines: first..self.out.lines.len() });
                }
                self.look = Look::default();
                self.gap = true;
            }
            TagEnd::List(_) => {
                self.end_line();
                self.pop(|c| matches!(c, Container::List { .. }));
                if !self.containers.iter().any(|c| matches!(c, Container::List { .. })) {
                    self.gap = true;
                }
            }
            TagEnd::Item => {
                self.end_line();
                self.pop(|c| matches!(c, Container::Item { .. }));
            }
            TagEnd::Emphasis => self.look.emphasis = false,
            TagEnd::Strong => self.look.strong = self.in_heading,
            TagEnd::Strikethrough => self.look.strike = false,
            TagEnd::Link => {
                self.look.link = false;
                if let Some((url, from)) = self.links.pop() {
                    let text = &self.out.text[from.min(self.out.text.len())..];
                    let same = text == url || url.strip_prefix("mailto:") == Some(text);
                    if !same && !url.is_empty() {
                        self.push(&format!(" ({url})"), Look { dim: true, ..self.look });
                    }
                }
            }
            TagEnd::Image => self.push("]", Look { dim: true, ..self.look }),
            _ => {}
        }
    }

    /// A block begins: after a block that ended, a blank line.
    fn block_start(&mut self) {
        self.end_line();
        if self.gap && !self.out.lines.is_empty() {
            self.blank();
        }
        self.gap = false;
    }

    fn block_end(&mut self) {
        self.end_line();
        self.gap = true;
    }

    /// A blank line, inside the quotes around it.
    fn blank(&mut self) {
        self.open_line();
        self.end_line();
    }

    fn pop(&mut self, which: impl Fn(&Container) -> bool) {
        if let Some(at) = self.containers.iter().rposition(which) {
            self.containers.truncate(at);
        }
    }

    /// `text` in `look`, on as many lines as its line breaks make.
    fn push(&mut self, text: &str, look: Look) {
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                // A line break ends the line; with none open, an empty one.
                if self.open.is_none() {
                    self.open_line();
                }
                self.end_line();
            }
            if part.is_empty() {
                continue;
            }
            if self.open.is_none() {
                self.open_line();
            }
            let start = self.out.text.len();
            self.out.text.push_str(part);
            if !look.is_plain() {
                self.out.looks.push((start..self.out.text.len(), look));
            }
        }
    }

    fn open_line(&mut self) {
        self.open_line_with("", "");
    }

    /// Starts a line: what the containers put before it, then `lead` (before its first row) or
    /// `hang` (before the rows it wraps onto).
    fn open_line_with(&mut self, lead: &str, hang: &str) {
        let (mut first, mut rest) = (String::new(), String::new());
        for c in &mut self.containers {
            match c {
                Container::Quote => {
                    first.push_str("│ ");
                    rest.push_str("│ ");
                }
                Container::List { .. } => {}
                Container::Item { marker, width } => {
                    let pad = " ".repeat(*width);
                    first.push_str(&marker.take().unwrap_or_else(|| pad.clone()));
                    rest.push_str(&pad);
                }
                Container::Code => {
                    first.push_str("│ ");
                    rest.push_str("│ ");
                }
            }
        }
        first.push_str(lead);
        rest.push_str(hang);
        if !self.out.text.is_empty() || !self.out.lines.is_empty() {
            self.out.text.push('\n');
        }
        let start = self.out.text.len();
        let code = self.containers.iter().any(|c| matches!(c, Container::Code));
        self.out.lines.push(ShownLine { range: start..start, lead: first, hang: rest, code });
        self.open = Some(start);
    }

    fn end_line(&mut self) {
        if self.open.take().is_some()
            && let Some(line) = self.out.lines.last_mut()
        {
            line.range.end = self.out.text.len();
        }
    }

    fn finish(mut self) -> Shown {
        self.end_line();
        if let Some((language, code, first)) = self.code.take() {
            // A block still streaming in: its fence is not closed yet.
            self.out.code_blocks.push(CodeBlock { language, code, lines: first..self.out.lines.len() });
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shown lines with what goes before them.
    fn lines(shown: &Shown) -> Vec<String> {
        shown.lines.iter().map(|l| format!("{}{}", l.lead, &shown.text[l.range.clone()])).collect()
    }

    fn looked(shown: &Shown, want: impl Fn(Look) -> bool) -> Vec<&str> {
        shown.looks.iter().filter(|(_, l)| want(*l)).map(|(r, _)| &shown.text[r.clone()]).collect()
    }

    #[test]
    fn code_blocks_are_set_apart_with_their_language_and_code() {
        let shown = render("Try this:\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n\nDone.");
        assert_eq!(lines(&shown), ["Try this:", "", "╭─ rust", "│ fn main() {", "│     println!(\"hi\");", "│ }", "", "Done."]);
        assert_eq!(shown.code_blocks.len(), 1);
        let block = &shown.code_blocks[0];
        assert_eq!((block.language.as_str(), block.code.as_str()), ("rust", "fn main() {\n    println!(\"hi\");\n}\n"));
        assert_eq!(block.lines, 2..6);
        assert!(shown.lines[3].code && !shown.lines[7].code);
        assert_eq!(looked(&shown, |l| l.code), ["fn main() {", "    println!(\"hi\");", "}"]);
    }

    #[test]
    fn a_code_block_still_streaming_is_one_too() {
        let shown = render("```\nls -l");
        assert_eq!(lines(&shown), ["╭─ code", "│ ls -l"]);
        assert_eq!(shown.code_blocks[0].code, "ls -l");
        assert_eq!(shown.code_blocks[0].language, "");
    }

    #[test]
    fn emphasis_headings_and_inline_code_keep_a_mark_without_colour() {
        let shown = render("# Title\n\nSome **bold**, *italic*, ~~gone~~ and `code`.");
        assert_eq!(lines(&shown), ["Title", "", "Some bold, italic, gone and `code`."]);
        assert_eq!(looked(&shown, |l| l.heading), ["Title"]);
        assert_eq!(looked(&shown, |l| l.strong && !l.heading), ["bold"]);
        assert_eq!(looked(&shown, |l| l.emphasis), ["italic"]);
        assert_eq!(looked(&shown, |l| l.strike), ["gone"]);
        assert_eq!(looked(&shown, |l| l.code), ["code"]);
        assert_eq!(looked(&shown, |l| l.dim), ["`", "`"]);
    }

    #[test]
    fn lists_get_bullets_numbers_and_hanging_indents() {
        let shown = render("Steps:\n\n1. one\n2. two\n   - inner\n   - [x] done\n\nAfter.");
        assert_eq!(lines(&shown), ["Steps:", "", "1. one", "2. two", "   ◦ inner", "   ◦ [x] done", "", "After."]);
        assert_eq!(shown.lines[3].hang, "   ");
        assert_eq!(shown.lines[4].hang, "     ");
    }

    #[test]
    fn quotes_links_and_line_breaks() {
        let shown = render("> quoted\n> more\n\nsee [docs](https://x.io) or <https://y.io>\nnext line");
        assert_eq!(lines(&shown), ["│ quoted", "│ more", "", "see docs (https://x.io) or https://y.io", "next line"]);
        assert_eq!(looked(&shown, |l| l.link), ["docs", "https://y.io"]);
    }

    /// Prose skips the parser and comes out as the parser would show it.
    #[test]
    fn prose_is_shown_as_the_parser_would_show_it() {
        let parsed = |text: &str| {
            let mut r = Renderer::default();
            for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS) {
                r.event(event);
            }
            r.finish()
        };
        let prose = ["one line", "ends in spaces  ", "a\nb\n\nc, d; e. Llama-2-13B in fp16: 26 GB", "Émile ▌", "x 1. y - z"];
        for text in prose {
            assert!(is_prose(text), "{text:?}");
            assert_eq!(render(text), parsed(text), "{text:?}");
        }
        let marked = ["**b**", "- item", "1. one", "    code", "a  \nb", "\n\nlead", "a\n\n\nb", "t\n===", "a &amp; b", "> q", " lead"];
        for text in marked {
            assert!(!is_prose(text), "{text:?}");
        }
    }

    #[test]
    fn plain_text_keeps_every_line() {
        let shown = plain("a\n\nb **c**");
        assert_eq!(lines(&shown), ["a", "", "b **c**"]);
        assert!(shown.looks.is_empty());
        assert_eq!(render("").lines.len(), 0);
    }
}
