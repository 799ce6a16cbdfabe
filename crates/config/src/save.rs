//! Writing the sampling settings back into the user's file, in place: only the values of the
//! `sampling:` keys (and `preset:`) change; comments and other sections stay byte-for-byte.
use std::io;
use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::load::{DEFAULT_CONFIG_YAML, read_config_text};
use super::locate::{Seg, Target, locate};
use super::yaml_edit::{Entry, Lines, ValueSpan, double_quoted, entry_at, literal_block};
use llamadeck_words::sampling::{Field, Sampling, Value as SamplingValue};

/// Saves `sampling` (and the `preset:` line; `None` clears an existing one) into `path`.
/// A missing file is created as the documented default file with these values in it (its
/// folders 0700, the file 0600). Refuses, changing nothing, when the file is not valid YAML,
/// cannot be edited in place safely, or is read-only. A symlink is written through to its
/// target. The write is atomic.
pub fn save_sampling(path: &Path, sampling: &Sampling, preset: Option<&str>) -> io::Result<()> {
    sampling.validate().map_err(|e| invalid(format!("not saved: {e}")))?;
    let old = match read_config_text(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => DEFAULT_CONFIG_YAML.to_string(),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    let new = rewrite(&old, sampling, preset).map_err(|m| invalid(format!("{}: {m}", path.display())))?;
    llamadeck_words::files::write(path, new.as_bytes())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The new text of a config file, checked to read back as intended.
pub(crate) fn rewrite(text: &str, sampling: &Sampling, preset: Option<&str>) -> Result<String, String> {
    if let Some((line, column)) = super::nesting::too_deep(text) {
        return Err(format!("{line}:{column}: nesting deeper than {} levels, not changing it", super::nesting::MAX_NESTING));
    }
    let before = top_mapping(text).map_err(|e| format!("not valid YAML, not changing it: {e}"))?;
    let new = Rewriter::new(text).run(&before, sampling, preset)?;
    verify(&before, &new, sampling, preset)?;
    Ok(new)
}

fn top_mapping(text: &str) -> Result<Mapping, String> {
    match serde_yaml::from_str::<Value>(text).map_err(|e| e.to_string())? {
        Value::Mapping(m) => Ok(m),
        Value::Null => Ok(Mapping::new()),
        _ => Err("the top level is not a mapping".into()),
    }
}

/// The file must read back with the new values, and everything else unchanged.
fn verify(before: &Mapping, new: &str, sampling: &Sampling, preset: Option<&str>) -> Result<(), String> {
    let fail = |why: &str| Err(format!("could not edit the file safely ({why}); it was left as it was"));
    let Ok(mut after) = top_mapping(new) else { return fail("result does not parse") };
    let written: Option<Sampling> = after.remove("sampling").and_then(|v| serde_yaml::from_value(v).ok());
    if written.as_ref() != Some(sampling) {
        return fail("sampling values do not read back");
    }
    let written_preset = after.remove("preset");
    let preset_ok = match (preset, &written_preset) {
        (Some(name), Some(Value::String(s))) => s == name,
        (None, None | Some(Value::Null)) => true,
        _ => false,
    };
    let mut others = before.clone();
    others.remove("sampling");
    others.remove("preset");
    if !preset_ok || after != others {
        return fail("other settings would change");
    }
    Ok(())
}

/// A value as written into the file, reading back exactly: one line, except a multi-line
/// system prompt, which stays a `|` block (lines at `block_indent`) where YAML can hold it so.
fn yaml_value(sampling: &Sampling, field: Field, block_indent: Option<usize>, newline: &str) -> String {
    match sampling.get(field) {
        // Debug keeps a decimal point ("1.0"), so a number reads back as the number it was.
        SamplingValue::Number(n) if field.is_integer() => format!("{}", n as u64),
        SamplingValue::Number(n) => format!("{n:?}"),
        SamplingValue::Seed(seed) => seed.map_or_else(|| "null".into(), |s| s.to_string()),
        SamplingValue::Stops(stops) => {
            let items: Vec<String> = stops.iter().map(|s| double_quoted(s)).collect();
            format!("[{}]", items.join(", "))
        }
        SamplingValue::Text(text) => {
            block_indent.and_then(|indent| literal_block(&text, indent, newline)).unwrap_or_else(|| double_quoted(&text))
        }
        SamplingValue::Toggle(on) => on.to_string(),
    }
}

/// Byte-range replacements, applied back to front so earlier offsets stay valid.
struct Rewriter<'a> {
    text: &'a str,
    lines: Lines<'a>,
    newline: &'static str,
    edits: Vec<(usize, usize, String)>,
}

impl<'a> Rewriter<'a> {
    fn new(text: &'a str) -> Self {
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        Self { text, lines: Lines::new(text), newline, edits: Vec::new() }
    }

    fn entry(&self, path: &[Seg]) -> Result<Option<Entry>, String> {
        let Some((line, column)) = locate(self.text, path, Target::Key) else { return Ok(None) };
        entry_at(&self.lines, line, column).map(Some)
    }

    /// Replaces an entry's value with the one-line `value`, keeping any comment on the key line.
    fn set_value(&mut self, entry: &Entry, value: &str) {
        let edit = match entry.value {
            ValueSpan::Inline { start, end } => (start, end, value.to_string()),
            ValueSpan::Below { key_line_end, end } if entry.comment_after_colon => {
                let indent = " ".repeat(entry.indent + 2);
                (key_line_end, end, format!("{}{indent}{value}", self.newline))
            }
            ValueSpan::Below { end, .. } => (entry.colon_end, end, format!(" {value}")),
            ValueSpan::Empty => (entry.colon_end, entry.colon_end, format!(" {value}")),
        };
        self.edits.push(edit);
    }

    fn run(mut self, before: &Mapping, sampling: &Sampling, preset: Option<&str>) -> Result<String, String> {
        let section = self.entry(&[Seg::key("sampling")])?;
        let block_keys = match (&section, before.get("sampling")) {
            (Some(e), Some(Value::Mapping(m))) if matches!(e.value, ValueSpan::Below { .. }) => Some(m.clone()),
            _ => None,
        };
        let nl = self.newline;
        // Where new lines go: after the section's last line (or at the end of the file).
        let (insert_at, key_indent, top_indent) = match (&section, &block_keys) {
            (Some(sec), Some(keys)) => {
                let mut last = *sec;
                let mut indent = sec.indent + 2;
                for (i, key) in keys.keys().enumerate() {
                    let Some(name) = key.as_str() else { continue };
                    let entry = self.entry(&[Seg::key("sampling"), Seg::key(name)])?.ok_or("sampling key not found")?;
                    if i == 0 {
                        indent = entry.indent;
                    }
                    if entry.last_line_end(&self.lines) > last.last_line_end(&self.lines) {
                        last = entry;
                    }
                    if let Some(field) = Field::from_name(name) {
                        // A block may not start on its own line below a `key: # comment` line.
                        let below_comment = matches!(entry.value, ValueSpan::Below { .. }) && entry.comment_after_colon;
                        let block_indent = (!below_comment).then_some(entry.indent + 2);
                        self.set_value(&entry, &yaml_value(sampling, field, block_indent, nl));
                    }
                }
                (last.last_line_end(&self.lines), indent, sec.indent)
            }
            (Some(sec), None) => {
                // `sampling:` holds a flow mapping or null: its value is replaced by a block.
                let end = match sec.value {
                    ValueSpan::Inline { end, .. } => end,
                    _ => sec.colon_end,
                };
                self.edits.push((sec.colon_end, end, String::new()));
                (sec.last_line_end(&self.lines), sec.indent + 2, sec.indent)
            }
            (None, _) => (self.text.len(), 2, 0),
        };
        let mut added = String::new();
        if section.is_none() {
            if !self.text.is_empty() && !self.text.ends_with('\n') {
                added.push_str(nl);
            }
            added.push_str("sampling:");
        }
        let present = |name: &str| block_keys.as_ref().is_some_and(|m| m.contains_key(name));
        for field in Field::ALL.into_iter().filter(|f| !present(f.name())) {
            let pad = " ".repeat(key_indent);
            added.push_str(&format!("{nl}{pad}{}: {}", field.name(), yaml_value(sampling, field, Some(key_indent + 2), nl)));
        }
        match (self.entry(&[Seg::key("preset")])?, preset) {
            (Some(entry), _) => self.set_value(&entry, &preset.map_or_else(|| "null".into(), double_quoted)),
            (None, Some(name)) => {
                let pad = " ".repeat(top_indent);
                added.push_str(&format!("{nl}{pad}preset: {}", double_quoted(name)));
            }
            (None, None) => {}
        }
        if section.is_none() {
            added.push_str(nl);
        }
        // Pushed last, so among edits at the same offset it is applied first and ends up after.
        self.edits.push((insert_at, insert_at, added));
        Ok(self.apply())
    }

    fn apply(mut self) -> String {
        let mut out = self.text.to_string();
        let order: Vec<usize> = {
            let mut idx: Vec<usize> = (0..self.edits.len()).collect();
            idx.sort_by_key(|&i| (std::cmp::Reverse(self.edits[i].0), std::cmp::Reverse(i)));
            idx
        };
        for i in order {
            let (start, end, replacement) = std::mem::take(&mut self.edits[i]);
            out.replace_range(start..end, &replacement);
        }
        out
    }
}
