//! The slash commands typed in the message box, in one list: the commands of the command table
//! that have a `slash` name (they run as their key does), then the slash-only ones that take
//! an argument (`ARGS`). The message box runs them, the list shown on `/`, the help overlay and
//! the README (a test holds it to this list) all read `all()`.
use super::command::{Command, TABLE};

/// A slash-only command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    System,
    Set,
    Save,
    Load,
    Model,
    Export,
}

/// What a slash command does when run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// A command of the command table, as its key runs it.
    Key(Command),
    Arg(Arg),
}

/// What Tab completes in a command's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completes {
    Nothing,
    /// A sampling field's name.
    Field,
    /// A saved conversation's title.
    Conversation,
    /// A file or directory's path.
    Path,
    /// One of a few words.
    Words(&'static [&'static str]),
}

/// One row of the slash list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slash {
    /// The word after `/`.
    pub name: &'static str,
    /// What follows it, as the help shows it ("FIELD VALUE"); "" for none.
    pub args: &'static str,
    pub runs: Runs,
    pub completes: Completes,
    pub describe: &'static str,
}

/// The slash-only commands, with their arguments.
pub const ARGS: &[Slash] = &[
    slash("system", "TEXT", Arg::System, Completes::Nothing, "set the system prompt (empty: none)"),
    slash("set", "FIELD VALUE", Arg::Set, Completes::Field, "set a sampling value, e.g. /set temperature 0.2"),
    slash("save", "NAME", Arg::Save, Completes::Nothing, "name this conversation and save it"),
    slash("load", "NAME", Arg::Load, Completes::Conversation, "open the saved conversation of that name"),
    slash("model", "PATH", Arg::Model, Completes::Path, "load another model; the current one answers meanwhile"),
    slash("export", "md|json", Arg::Export, Completes::Words(&["md", "json"]), "write this conversation under exports/"),
];

const fn slash(name: &'static str, args: &'static str, arg: Arg, completes: Completes, describe: &'static str) -> Slash {
    Slash { name, args, runs: Runs::Arg(arg), completes, describe }
}

/// Every slash command: the command table's first, then `ARGS`.
pub fn all() -> Vec<Slash> {
    let keys = TABLE.iter().filter_map(|row| {
        row.slash.map(|name| Slash { name, args: "", runs: Runs::Key(row.command), completes: Completes::Nothing, describe: row.describe })
    });
    keys.chain(ARGS.iter().copied()).collect()
}

/// The command named `name`.
pub fn find(name: &str) -> Option<Slash> {
    all().into_iter().find(|s| s.name == name)
}

impl Slash {
    /// How it is typed: "/set FIELD VALUE".
    pub fn usage(&self) -> String {
        if self.args.is_empty() { format!("/{}", self.name) } else { format!("/{} {}", self.name, self.args) }
    }
}

/// The longest start every one of `words` shares.
pub fn common_prefix<'a>(mut words: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = words.next() else { return String::new() };
    let mut len = first.len();
    for w in words {
        len = first
            .char_indices()
            .zip(w.chars())
            .take_while(|((_, a), b)| a == b)
            .map(|((i, a), _)| i + a.len_utf8())
            .last()
            .unwrap_or(0)
            .min(len);
    }
    first[..len].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_table_s_come_first() {
        let all = all();
        let mut names: Vec<_> = all.iter().map(|s| s.name).collect();
        assert_eq!(&names[..2], ["clear", "help"]);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(find("clear").unwrap().runs, Runs::Key(Command::ClearConversation));
        assert_eq!(find("set").unwrap().usage(), "/set FIELD VALUE");
    }

    /// The README lists every slash command with what it takes.
    #[test]
    fn the_readme_lists_every_slash_command() {
        let readme = include_str!("../../../../README.md");
        for s in all() {
            // In a table, '|' is written '\|'.
            let row = format!("| `{}` |", s.usage().replace('|', "\\|"));
            assert!(readme.contains(&row), "README.md's slash command table has no row for `{}`", s.usage());
        }
    }

    #[test]
    fn common_prefix_stops_at_the_first_difference() {
        assert_eq!(common_prefix(["top_p", "top_k"].into_iter()), "top_");
        assert_eq!(common_prefix(["seed"].into_iter()), "seed");
        assert_eq!(common_prefix(["é1", "é2"].into_iter()), "é");
        assert_eq!(common_prefix(["a", "b"].into_iter()), "");
        assert_eq!(common_prefix(std::iter::empty()), "");
    }
}
