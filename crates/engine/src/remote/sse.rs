//! Server-sent events, read as the bytes arrive. Only what an OpenAI stream uses: `data:` lines
//! (several in one event are joined with newlines), a blank line ending the event, comments
//! (`: keep-alive`) and other fields ignored, any of `\n`, `\r\n` or `\r` ending a line.
//! A line is never cut in the middle of a multi-byte character: bytes are kept until the line
//! ends, then read as UTF-8 (invalid bytes replaced).

/// The longest line kept: a server that sends one endless line is cut off, not buffered forever.
pub const MAX_LINE: usize = 4 << 20;

#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: Option<String>,
    /// The last byte was `\r`: a `\n` right after it ends no second line.
    after_cr: bool,
    overflowed: bool,
}

impl SseDecoder {
    /// The events `bytes` completes, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &b in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => self.end_line(&mut events),
                _ if self.line.len() >= MAX_LINE => self.overflowed = true,
                _ => self.line.push(b),
            }
        }
        events
    }

    /// True once a line longer than [`MAX_LINE`] arrived (the stream is not an SSE stream).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    fn end_line(&mut self, events: &mut Vec<String>) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if line.is_empty() {
            events.extend(self.data.take());
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<String> {
        let mut d = SseDecoder::default();
        chunks.iter().flat_map(|c| d.push(c)).collect()
    }

    #[test]
    fn events_end_at_a_blank_line_whatever_the_line_ends() {
        assert_eq!(all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]), ["{\"a\":1}", "[DONE]"]);
        assert_eq!(all(&[b"data: x\r\n\r\ndata: y\r\rdata:z\n\n"]), ["x", "y", "z"]);
    }

    #[test]
    fn comments_and_other_fields_are_skipped_and_data_lines_join() {
        assert_eq!(all(&[b": keep-alive\n\nevent: message\nid: 3\ndata: a\ndata: b\n\n"]), ["a\nb"]);
    }

    #[test]
    fn a_line_split_anywhere_even_inside_a_character_reads_the_same() {
        let text = "data: {\"content\":\"ß🦙\"}\r\n\r\n".as_bytes();
        for cut in 0..text.len() {
            assert_eq!(all(&[&text[..cut], &text[cut..]]), ["{\"content\":\"ß🦙\"}"], "cut at {cut}");
        }
    }

    #[test]
    fn an_unfinished_event_is_not_reported() {
        assert!(all(&[b"data: half"]).is_empty());
    }

    #[test]
    fn an_endless_line_is_cut_and_flagged() {
        let mut d = SseDecoder::default();
        d.push(b"data: ");
        d.push(&vec![b'x'; MAX_LINE + 10]);
        assert!(d.overflowed());
        assert_eq!(d.push(b"\n\n")[0].len(), MAX_LINE - "data: ".len());
    }
}
