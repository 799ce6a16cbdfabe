//! The README's key table and the config file's list of commands are the command table's, and
//! the README's table of API ranges is the sampling table's: each is generated from its table,
//! and these tests hold the files to what it generates.
use std::path::Path;

use llamadeck_words::keys::command::{config_comment, readme_table};
use llamadeck_words::sampling::readme_api_ranges;

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The part of `text` between the line holding `start` and the line holding `end` (empty when
/// the markers are missing, so the test says what the part should be).
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let Some(from) = text.find(start).and_then(|at| text[at..].find('\n').map(|nl| at + nl + 1)) else { return "" };
    text[from..].find(end).map_or("", |to| &text[from..from + to])
}

#[test]
fn the_readme_key_table_is_the_command_table() {
    let readme = repo_file("README.md");
    let table = between(&readme, "<!-- keys: generated from the command table -->", "<!-- keys: end -->");
    assert_eq!(table.trim(), readme_table().trim(), "README.md's key table; it should read:\n{}", readme_table());
}

#[test]
fn the_config_file_lists_every_command_with_its_default_keys() {
    let config = repo_file("config/llamadeck.yaml");
    let list = between(&config, "# Commands and their default keys:", "# Example: keys:");
    assert_eq!(list, config_comment(), "config/llamadeck.yaml's list of commands; it should read:\n{}", config_comment());
}

#[test]
fn the_readme_says_where_the_api_ranges_differ_and_why() {
    let readme = repo_file("README.md");
    let table = between(&readme, "<!-- api ranges: generated from the sampling table -->", "<!-- api ranges: end -->");
    assert_eq!(table.trim(), readme_api_ranges().trim(), "README.md's table of API ranges; it should read:\n{}", readme_api_ranges());
}
