//! Finds where a node sits in YAML text, by path.
//!
//! serde_yaml keeps positions only on errors, so the locator walks the document with serde and
//! fails on purpose at the wanted node: serde_yaml then stamps the error with that node's line and
//! column. Walking by exact path (not by searching text for a key name) gives the right place for
//! nested keys and for names that also appear in other sections.
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

impl Seg {
    pub(crate) fn key(name: &str) -> Self {
        Seg::Key(name.to_string())
    }
}

/// Whether the position of the key itself or of its value is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Key,
    Value,
}

const MARKER: &str = "__llamadeck_locate_here__";

/// 1-based (line, column) of the node at `path`, or None when the path is not in the document.
/// With `Target::Key` the last step must be a `Seg::Key`.
pub(crate) fn locate(text: &str, path: &[Seg], target: Target) -> Option<(usize, usize)> {
    locate_walk(text, Walk { path, target, skip: 0 })
}

/// 1-based (line, column) of the key at `path` the `nth` time (from 0) it appears in its
/// mapping: where a key given twice is given again.
pub(crate) fn locate_nth_key(text: &str, path: &[Seg], nth: usize) -> Option<(usize, usize)> {
    locate_walk(text, Walk { path, target: Target::Key, skip: nth })
}

fn locate_walk(text: &str, walker: Walk) -> Option<(usize, usize)> {
    match walker.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Ok(()) => None,
        Err(err) if err.to_string().contains(MARKER) => err.location().map(|l| (l.line(), l.column())),
        Err(_) => None,
    }
}

fn found<E: de::Error>() -> E {
    E::custom(MARKER)
}

/// Walks down `path`; at its end, fails inside the deserializer so the error carries the mark.
struct Walk<'a> {
    path: &'a [Seg],
    target: Target,
    /// Matches of the last key to pass over first (a key given more than once).
    skip: usize,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.path.first() {
            None => deserializer.deserialize_any(FailHere),
            Some(Seg::Key(_)) => deserializer.deserialize_map(self),
            Some(Seg::Index(_)) => deserializer.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping or sequence on the path")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(wanted), rest)) = self.path.split_first() else { return Ok(()) };
        let last = rest.is_empty();
        let mut skip = if last { self.skip } else { 0 };
        loop {
            let probe_key = last && self.target == Target::Key && skip == 0;
            let Some(matched) = map.next_key_seed(KeyProbe { wanted, fail_on_match: probe_key })? else { return Ok(()) };
            if matched && skip == 0 {
                return map.next_value_seed(Walk { path: rest, target: self.target, skip: self.skip });
            }
            skip -= usize::from(matched);
            map.next_value::<IgnoredAny>()?;
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(wanted), rest)) = self.path.split_first() else { return Ok(()) };
        for _ in 0..*wanted {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Walk { path: rest, target: self.target, skip: self.skip })?;
        Ok(())
    }
}

/// Reads a key; says whether it is the wanted one, or fails right on it when its place is wanted.
struct KeyProbe<'a> {
    wanted: &'a str,
    fail_on_match: bool,
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        if key == self.wanted && self.fail_on_match { Err(found()) } else { Ok(key == self.wanted) }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// Fails on whatever node it is given; serde's default messages include `expecting`.
struct FailHere;

impl<'de> Visitor<'de> for FailHere {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(MARKER)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(found())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_and_keys_by_path_not_by_name() {
        let text = "gpu:\n  interval_ms: 5\nsampling:\n    temperature: 7.5\n    stop: [a, \"b\"]\npresets:\n  x:\n    temperature: 3\n";
        let at = |path: &[Seg], target| locate(text, path, target);
        let key = Seg::key;
        assert_eq!(at(&[key("sampling"), key("temperature")], Target::Value), Some((4, 18)));
        assert_eq!(at(&[key("sampling"), key("temperature")], Target::Key), Some((4, 5)));
        assert_eq!(at(&[key("presets"), key("x"), key("temperature")], Target::Value), Some((8, 18)));
        assert_eq!(at(&[key("sampling"), key("stop"), Seg::Index(1)], Target::Value), Some((5, 15)));
        assert_eq!(at(&[key("sampling"), key("nope")], Target::Value), None);
        assert_eq!(at(&[key("gpu")], Target::Key), Some((1, 1)));
    }

    #[test]
    fn finds_a_key_given_again() {
        let text = "sampling:\n  top_p: 0.5\n  top_p: 0.6\ngpu: {}\nsampling:\n  x: 1\n";
        assert_eq!(locate_nth_key(text, &[Seg::key("sampling")], 1), Some((5, 1)));
        assert_eq!(locate_nth_key(text, &[Seg::key("sampling"), Seg::key("top_p")], 0), Some((2, 3)));
        assert_eq!(locate_nth_key(text, &[Seg::key("sampling"), Seg::key("top_p")], 1), Some((3, 3)));
        assert_eq!(locate_nth_key(text, &[Seg::key("gpu")], 1), None);
    }
}
