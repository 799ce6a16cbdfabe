//! `/` search in the current conversation: every place the words occur in the text as shown
//! (an answer's markdown rendered, as the chat pane draws it; letters compared without case), newest kept first when there are very many, in order, so the chat pane can
//! highlight them and Enter, ↑ and ↓ step through them one by one.
use llamadeck_words::chat::Message;
use llamadeck_words::layout::chat_lines::{self, ChatPlan};

/// More matches than this are not kept: the bar then says "10000+".
pub const MAX_HITS: usize = 10_000;

/// One match: bytes `start..end` of message `message`'s shown text (`chat_lines::shown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub message: usize,
    pub start: usize,
    pub end: usize,
}

/// Every match of `query` in `messages`, in order, and whether more than `MAX_HITS` exist
/// (then the newest are the ones kept). Matches do not overlap.
/// `plan` says which messages show as written (any plan: one that is not up to date is asked
/// only about the messages it measured as they are).
pub fn find(messages: &[Message], plan: &ChatPlan, query: &str) -> (Vec<Hit>, bool) {
    let needle: Vec<char> = query.chars().map(fold).collect();
    if needle.iter().all(|c| c.is_whitespace()) {
        return (Vec::new(), false);
    }
    let mut newest_first = Vec::new();
    for (index, message) in messages.iter().enumerate().rev() {
        let found = in_text(&chat_lines::shown_text_known(message, plan.as_written(index, message)), &needle);
        let room = MAX_HITS + 1 - newest_first.len();
        newest_first.extend(found.into_iter().rev().take(room).map(|(start, end)| Hit { message: index, start, end }));
        if newest_first.len() > MAX_HITS {
            newest_first.truncate(MAX_HITS);
            newest_first.reverse();
            return (newest_first, true);
        }
    }
    newest_first.reverse();
    (newest_first, false)
}

/// The matches within one message, from a list `find` made.
pub fn in_message(hits: &[Hit], message: usize) -> &[Hit] {
    let from = hits.partition_point(|h| h.message < message);
    let to = hits.partition_point(|h| h.message <= message);
    &hits[from..to]
}

/// Letters compared without case (the first char of the lower case, so positions stay put).
fn fold(c: char) -> char {
    if c.is_ascii() { c.to_ascii_lowercase() } else { c.to_lowercase().next().unwrap_or(c) }
}

/// Non-overlapping matches of `needle` (folded) in `text`, as byte ranges.
fn in_text(text: &str, needle: &[char]) -> Vec<(usize, usize)> {
    if needle.iter().all(char::is_ascii) {
        let bytes: Vec<u8> = needle.iter().map(|&c| c as u8).collect();
        return in_ascii(text, &bytes);
    }
    in_unicode(text, needle)
}

/// `in_text` for an ASCII needle: its rarest byte (by English letter frequency) is looked for
/// with `str::find`, which skips through the text a word at a time, in both cases, and each
/// place it occurs is compared whole. ASCII bytes never occur inside a multi-byte char, so
/// every match starts and ends on a char boundary.
fn in_ascii(text: &str, needle: &[u8]) -> Vec<(usize, usize)> {
    const COMMON_FIRST: &[u8] = b" etaoinshrdlcumwfgypbvkjxqz";
    let rank = |b: u8| COMMON_FIRST.iter().position(|&c| c == b).unwrap_or(COMMON_FIRST.len());
    let (anchor, _) = needle.iter().enumerate().max_by_key(|(_, b)| rank(**b)).expect("a needle is never empty");
    let m = needle.len();
    let cases = [needle[anchor] as char, needle[anchor].to_ascii_uppercase() as char];
    let find = |c: char, from: usize| text.get(from..).and_then(|t| t.find(c)).map(|i| from + i);
    let mut next = cases.map(|c| find(c, anchor));
    if cases[0] == cases[1] {
        next[1] = None;
    }
    let mut out = Vec::new();
    let mut free_from = 0;
    while let Some((case, at)) = next.iter().enumerate().filter_map(|(i, p)| p.map(|p| (i, p))).min_by_key(|(_, p)| *p) {
        next[case] = find(cases[case], at + 1);
        let start = at - anchor;
        if start >= free_from && text.as_bytes().get(start..start + m).is_some_and(|w| w.eq_ignore_ascii_case(needle)) {
            out.push((start, start + m));
            free_from = start + m;
        }
    }
    out
}

/// `in_text` for a needle with other letters, a char at a time.
fn in_unicode(text: &str, needle: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let Some(&first) = needle.first() else { return out };
    let mut from = 0;
    while let Some(start) = next_candidate(text, from, first) {
        match match_at(text, start, needle) {
            Some(end) => {
                out.push((start, end));
                from = end;
            }
            None => from = start + text[start..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

/// The next position at or after `from` whose char folds to `first`.
fn next_candidate(text: &str, from: usize, first: char) -> Option<usize> {
    let rest = text.get(from..)?;
    rest.char_indices().find(|(_, c)| fold(*c) == first).map(|(i, _)| from + i)
}

/// Where a match of `needle` starting at `start` ends, if it matches there.
fn match_at(text: &str, start: usize, needle: &[char]) -> Option<usize> {
    let mut end = start;
    let mut chars = text[start..].chars();
    for &want in needle {
        let c = chars.next()?;
        if fold(c) != want {
            return None;
        }
        end += c.len_utf8();
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(texts: &[&str], query: &str) -> Vec<(usize, usize, usize)> {
        let messages: Vec<Message> = texts.iter().map(|t| Message::user(t)).collect();
        find(&messages, &ChatPlan::default(), query).0.into_iter().map(|h| (h.message, h.start, h.end)).collect()
    }

    #[test]
    fn every_occurrence_without_case_in_order() {
        assert_eq!(hits(&["GPU gpu", "no", "a Gpu"], "gpu"), [(0, 0, 3), (0, 4, 7), (2, 2, 5)]);
        assert_eq!(hits(&["aaaa"], "aa"), [(0, 0, 2), (0, 2, 4)]);
        assert_eq!(hits(&["Émile émile"], "émile"), [(0, 0, 6), (0, 7, 13)]);
        assert_eq!(hits(&["日本語と日本"], "日本"), [(0, 0, 6), (0, 12, 18)]);
        assert_eq!(hits(&["Ünïcode ünïcode UNÏCODE"], "ünï"), [(0, 0, 5), (0, 10, 15)]);
        assert_eq!(hits(&["NVML, nvml; NvMl"], "nvml"), [(0, 0, 4), (0, 6, 10), (0, 12, 16)]);
        assert!(hits(&["anything"], "  ").is_empty());
    }

    /// An answer is searched as it is shown: "**GPU** memory" reads "GPU memory".
    #[test]
    fn answers_are_searched_as_rendered() {
        let answer = Message::new(llamadeck_words::chat::Role::Assistant, "**GPU** memory", llamadeck_words::chat::MessageStatus::Complete);
        let (found, _) = find(&[answer], &ChatPlan::default(), "gpu memory");
        assert_eq!(found, [Hit { message: 0, start: 0, end: 10 }]);
    }

    #[test]
    fn very_many_matches_keep_the_newest() {
        let messages = vec![Message::user(&"x ".repeat(MAX_HITS)), Message::user("x x")];
        let (found, capped) = find(&messages, &ChatPlan::default(), "x");
        assert!(capped);
        assert_eq!(found.len(), MAX_HITS);
        assert_eq!(found.last().unwrap().message, 1);
        assert!(found.windows(2).all(|w| (w[0].message, w[0].start) < (w[1].message, w[1].start)));
        assert_eq!(in_message(&found, 1).len(), 2);
    }
}
