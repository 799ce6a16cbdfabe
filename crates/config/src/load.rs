//! Reading the config: file -> typed `Config` -> checks, every error with file:line:column.
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, from_yaml};
use super::locate::{Seg, Target, locate};
use super::nesting::{MAX_NESTING, too_deep};
use super::paths::default_config_path;
use super::schema::Config;
use super::validate::{check_server_exposure, validate};

/// The documented defaults; parses to exactly `Config::default()`.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../../../config/llamadeck.yaml");

/// The largest config file that is read; the documented one is about 6 KiB.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The config's text: a regular file, read without blocking, up to [`MAX_CONFIG_BYTES`].
pub(crate) fn read_config_text(path: &Path) -> std::io::Result<String> {
    llamadeck_words::files::read_text(path, MAX_CONFIG_BYTES)
}

/// A loaded config and where it came from (also where saving writes).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// False when the default file is absent and the defaults are in use.
    pub existed: bool,
}

impl Loaded {
    /// [`check_server_exposure`] with the file's line and column of `server.host`.
    pub fn check_server_exposure(&self) -> Result<(), ConfigError> {
        check_server_exposure(&self.config).map_err(|message| {
            let text = if self.existed { read_config_text(&self.path).ok() } else { None };
            let place = text.and_then(|t| locate(&t, &[Seg::key("server"), Seg::key("host")], Target::Value));
            ConfigError {
                path: self.path.clone(),
                line: place.map(|p| p.0),
                column: place.map(|p| p.1),
                field: Some("server.host".into()),
                message,
                others: Box::default(),
            }
        })
    }
}

/// Loads `explicit` (which must exist), else the default path (which may be absent: defaults).
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    match explicit {
        Some(path) => load_file(path, true),
        None => {
            // Without a home directory there is nowhere standard; saving then writes here.
            let path = default_config_path().unwrap_or_else(|| PathBuf::from("llamadeck.yaml"));
            load_file(&path, false)
        }
    }
}

/// Reads and parses one file; `must_exist` makes a missing file an error. Temp files a crashed
/// save of this file left beside it are removed first.
pub fn load_file(path: &Path, must_exist: bool) -> Result<Loaded, ConfigError> {
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        llamadeck_words::files::remove_stale_temps(dir, Some(name));
    }
    match read_config_text(path) {
        Ok(text) => Ok(Loaded { config: parse(&text, path)?, path: path.to_path_buf(), existed: true }),
        Err(e) if e.kind() == ErrorKind::NotFound && !must_exist => {
            Ok(Loaded { config: Config::default(), path: path.to_path_buf(), existed: false })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Err(ConfigError::file(path, "no such file")),
        Err(e) => Err(ConfigError::file(path, format!("cannot read: {e}"))),
    }
}

/// Parses and checks config text; `path` is only used in error messages. Every problem found
/// is reported (up to [`MAX_REPORTED`](super::error::MAX_REPORTED), in line order): serde stops
/// at the first type error, so each one found is taken out of the document and the rest read
/// again, then every check runs on what remains. A syntax error that stops the reading is
/// reported alone.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    // The parser's time grows with the square of the nesting: refuse it before parsing.
    if let Some((line, column)) = too_deep(text) {
        let message = format!("nesting deeper than {MAX_NESTING} levels (a llamadeck config nests at most 4)");
        return Err(ConfigError {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            field: None,
            message,
            others: Box::default(),
        });
    }
    let (config, mut errors) = match serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)) {
        Ok(config) => (Some(config), Vec::new()),
        Err(e) => read_past_type_errors(text, path, e),
    };
    if let Some(config) = &config {
        errors.extend(validate(config).into_iter().map(|problem| {
            let place = locate(text, &problem.path, problem.target);
            ConfigError {
                path: path.to_path_buf(),
                line: place.map(|p| p.0),
                column: place.map(|p| p.1),
                field: Some(problem.field()),
                message: problem.message,
                others: Box::default(),
            }
        }));
    }
    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ => Err(ConfigError::all(errors)),
    }
}

/// After serde's first error: the document as a YAML tree, the node that failed taken out
/// (its section's default takes its place), read again, until it reads or
/// [`MAX_REPORTED`](super::error::MAX_REPORTED) errors are found. Returns the config read
/// without the failing nodes, when there is one, and the errors. Later errors have no place
/// from serde (a tree has no lines): they are found in the text by their path.
fn read_past_type_errors(
    text: &str,
    path: &Path,
    first: serde_path_to_error::Error<serde_yaml::Error>,
) -> (Option<Config>, Vec<ConfigError>) {
    let mut at = segments(&first);
    let mut errors = vec![from_yaml(path, text, first)];
    // A syntax error leaves no tree to read further.
    let Ok(mut tree) = serde_yaml::from_str::<serde_yaml::Value>(text) else { return (None, errors) };
    let mut taken = Vec::new();
    while errors.len() < super::error::MAX_REPORTED {
        // The same place failing again, or a place that cannot be taken out, ends the search.
        if at.is_empty() || taken.contains(&at) || !take_out(&mut tree, &at) {
            return (None, errors);
        }
        taken.push(at);
        match serde_path_to_error::deserialize::<_, Config>(tree.clone()) {
            Ok(config) => return (Some(config), errors),
            Err(e) => {
                at = segments(&e);
                let mut error = from_yaml_value(path, e);
                // An unknown key is shown at the key, a wrong value at the value.
                let target = if error.message.starts_with("unknown field") { Target::Key } else { Target::Value };
                if let Some(place) = locate(text, &at, target).or_else(|| locate(text, &at, Target::Key)) {
                    (error.line, error.column) = (Some(place.0), Some(place.1));
                }
                errors.push(error);
            }
        }
    }
    (None, errors)
}

fn segments<E>(e: &serde_path_to_error::Error<E>) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    let mut steps = Vec::new();
    for segment in e.path().iter() {
        match segment {
            Segment::Map { key } => steps.push(Seg::Key(key.clone())),
            Segment::Seq { index } => steps.push(Seg::Index(*index)),
            // A place the tree cannot be walked to: nothing to take out.
            _ => return Vec::new(),
        }
    }
    steps
}

/// Removes the node at `at` from its mapping; false when there is none to remove (a list
/// item: taking it out would renumber the items after it).
fn take_out(tree: &mut serde_yaml::Value, at: &[Seg]) -> bool {
    let Some((Seg::Key(last), parents)) = at.split_last() else { return false };
    let mut node = tree;
    for step in parents {
        let next = match step {
            Seg::Key(k) => node.get_mut(k.as_str()),
            Seg::Index(i) => node.get_mut(*i),
        };
        let Some(next) = next else { return false };
        node = next;
    }
    node.as_mapping_mut().and_then(|m| m.remove(last.as_str())).is_some()
}

/// [`from_yaml`] for an error from reading the tree: the same words, the place found later.
fn from_yaml_value(path: &Path, err: serde_path_to_error::Error<serde_yaml::Error>) -> ConfigError {
    from_yaml(path, "", err)
}
