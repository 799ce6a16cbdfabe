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

/// Parses and checks config text; `path` is only used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    // The parser's time grows with the square of the nesting: refuse it before parsing.
    if let Some((line, column)) = too_deep(text) {
        let message = format!("nesting deeper than {MAX_NESTING} levels (a llamadeck config nests at most 4)");
        return Err(ConfigError { path: path.to_path_buf(), line: Some(line), column: Some(column), field: None, message });
    }
    let config: Config =
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| from_yaml(path, text, e))?;
    validate(&config).map_err(|problem| {
        let place = locate(text, &problem.path, problem.target);
        ConfigError {
            path: path.to_path_buf(),
            line: place.map(|p| p.0),
            column: place.map(|p| p.1),
            field: Some(problem.field()),
            message: problem.message,
        }
    })?;
    Ok(config)
}
