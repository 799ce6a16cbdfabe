//! Where the config file lives.
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// `$XDG_CONFIG_HOME/llamadeck/config.yaml`, else `~/.config/llamadeck/config.yaml`.
/// None when neither variable gives a place (no home directory).
pub fn default_config_path() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME");
    config_path_from(xdg.as_deref(), dirs::home_dir().as_deref())
}

/// The path logic of [`default_config_path`] with the environment passed in, so tests need not
/// touch process-wide variables. Per the XDG spec an empty or relative `XDG_CONFIG_HOME` is ignored.
pub fn config_path_from(xdg_config_home: Option<&OsStr>, home: Option<&Path>) -> Option<PathBuf> {
    let base = match xdg_config_home.map(Path::new) {
        Some(xdg) if xdg.is_absolute() => xdg.to_path_buf(),
        _ => home?.join(".config"),
    };
    Some(base.join("llamadeck").join("config.yaml"))
}
