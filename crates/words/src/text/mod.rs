//! Text as the screen takes it. Model output, pasted input and loaded files are text, never
//! terminal control: control characters are replaced before anything reaches the screen
//! (`ui::render` checks every cell once more before a frame goes out, as a backstop). `wrap`
//! measures and breaks lines by display width.
pub mod wrap;

pub use wrap::{WrapOptions, line_count, str_width, truncate, truncate_left, wrap, wrap_ranges, wrap_with};

/// Replaces control characters (C0 except newline and tab, DEL, C1) with visible stand-ins,
/// so an `ESC [2J` from a model is shown as text instead of clearing the screen.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push_str("    "),
            '\r' => {}
            // Control Pictures block: U+2400 + code for C0, U+2421 for DEL.
            c if (c as u32) < 0x20 => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7f}' => out.push('\u{2421}'),
            c if ('\u{80}'..='\u{9f}').contains(&c) => out.push('\u{fffd}'),
            // Bidi overrides and isolates could reorder the rest of the line.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            // Line and paragraph separators: some terminals move the cursor on them.
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

/// Line breaks as LF: terminals send CR (or CRLF) for each line of a bracketed paste, which
/// `sanitize` alone would drop, joining the lines.
pub fn normalize_newlines(input: &str) -> String {
    input.replace("\r\n", "\n").replace('\r', "\n")
}

/// True for the characters `sanitize` never lets through as themselves (a typed key that is
/// one of these is ignored).
pub fn is_neutralised(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::{is_neutralised, sanitize};

    #[test]
    fn every_control_and_reordering_character_is_neutralised() {
        for code in (0..0x30000u32).filter_map(char::from_u32) {
            let s = sanitize(&format!("a{code}b"));
            assert!(!s.chars().any(|c| c != '\n' && is_neutralised(c)), "U+{:04X} -> {s:?}", code as u32);
        }
        assert_eq!(sanitize("\u{2028}x\u{202e}y"), "\nxy");
    }

    #[test]
    fn escape_sequences_become_visible_text() {
        let s = sanitize("a\x1b[2Jb\x1b]52;c;aGk=\x07c");
        assert!(!s.chars().any(|c| c.is_control() && c != '\n'));
        assert!(s.starts_with('a') && s.contains("[2J"));
    }

    #[test]
    fn pasted_line_breaks_become_newlines() {
        assert_eq!(super::normalize_newlines("one\rtwo\r\nthree\n\rfour"), "one\ntwo\nthree\n\nfour");
    }

    #[test]
    fn newlines_kept_tabs_expanded_c1_replaced() {
        assert_eq!(sanitize("x\ny\tz\u{9b}"), "x\ny    z\u{fffd}");
    }
}
