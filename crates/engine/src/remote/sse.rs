//! Server-sent events, read as the bytes arrive. Only what an OpenAI stream uses: `data:` lines
//! (several in one event are joined with newlines), a blank line ending the event, comments
//! (`: keep-alive`) and other fields ignored, any of `\n`, `\r\n` or `\r` ending a line.
//! A line is never cut in the middle of a multi-byte character: bytes are kept until the line
//! ends, then read as UTF-8 (invalid bytes replaced). A line and an event each have a cap, so a
//! server can make this hold a few MiB at most, whatever it sends.

/// The longest line kept: a server that sends one endless line is cut off, not buffered forever.
pub const MAX_LINE: usize = 4 << 20;
/// The most data one event may hold (its `data:` lines joined). An answer's chunk is a few
/// hundred bytes; a server that sends `data:` lines without the blank line that ends an event
/// would otherwise be buffered without end.
pub const MAX_EVENT: usize = 4 << 20;

/// What went over a cap; the stream is not an answer once either happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// A line longer than [`MAX_LINE`]: the event got its first bytes.
    Line,
    /// An event whose data grew past [`MAX_EVENT`]: it is dropped, and so is every later one.
    Event,
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: Option<String>,
    /// The last byte was `\r`: a `\n` right after it ends no second line.
    after_cr: bool,
    line_too_long: bool,
    /// Sticky: once an event went over the cap, no later one is read either.
    event_too_long: bool,
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
                _ if self.line.len() >= MAX_LINE => self.line_too_long = true,
                _ => self.line.push(b),
            }
        }
        events
    }

    /// Which cap the stream went over, if any (an event's before a line's).
    pub fn overflow(&self) -> Option<Overflow> {
        if self.event_too_long {
            Some(Overflow::Event)
        } else if self.line_too_long {
            Some(Overflow::Line)
        } else {
            None
        }
    }

    /// The bytes this decoder holds now: at most about [`MAX_LINE`] + [`MAX_EVENT`] (each buffer
    /// rounded up by its allocation), whatever the server sends.
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        self.line.capacity() + self.data.as_ref().map_or(0, String::capacity)
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
        if field != "data" || self.event_too_long {
            return;
        }
        let held = self.data.as_ref().map_or(0, |data| data.len() + 1);
        if held + value.len() > MAX_EVENT {
            self.event_too_long = true;
            self.data = None;
            return;
        }
        match &mut self.data {
            Some(data) => {
                data.push('\n');
                data.push_str(value);
            }
            None => self.data = Some(value.to_string()),
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
        assert_eq!(d.overflow(), Some(Overflow::Line));
        assert_eq!(d.push(b"\n\n")[0].len(), MAX_LINE - "data: ".len());
    }

    #[test]
    fn an_event_that_never_ends_is_dropped_and_its_memory_stays_bounded() {
        let mut d = SseDecoder::default();
        let lines = b"data: x\n".repeat(64 * 1024);
        // Small lines, the way a hostile node sends them: each adds 2 bytes ("\nx") to the event,
        // so the cap is reached after 4 times its size, and then as much again is sent.
        let mut fed = 0;
        while fed < 8 * MAX_EVENT {
            assert!(d.push(&lines).is_empty());
            fed += lines.len();
            assert!(d.held_bytes() <= 2 * (MAX_LINE + MAX_EVENT), "{} bytes held after {fed}", d.held_bytes());
        }
        assert_eq!(d.overflow(), Some(Overflow::Event));
        assert_eq!(d.held_bytes(), d.line.capacity(), "the event's data is let go");
        // Its end does not make it an event, and the stream stays flagged.
        assert!(d.push(b"\ndata: {}\n\n").is_empty());
        assert_eq!(d.overflow(), Some(Overflow::Event));
    }

    #[test]
    fn an_event_of_exactly_the_cap_is_read() {
        let mut d = SseDecoder::default();
        let half = "y".repeat(MAX_EVENT / 2);
        let text = format!("data: {half}\ndata: {}\n\n", &half[1..]);
        assert_eq!(d.push(text.as_bytes())[0].len(), MAX_EVENT);
        assert_eq!(d.overflow(), None);
    }
}
