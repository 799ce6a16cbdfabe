//! The config file: YAML loading with file:line:column errors, the keymap, saving settings.
//!
//! `schema` is the file's shape (and the model spec it asks for); `load` reads and checks it
//! (`validate` for what serde cannot express, `locate` to find the line of a problem); `save`
//! writes the sampling settings back without disturbing the rest of the file; `nodes` is the
//! fleet (other servers to chat with and watch) and reads their keys when the console starts. The keymap the
//! `keys:` section builds lives in `llamadeck_words::keys`.
mod error;
mod load;
mod locate;
mod nesting;
mod nodes;
mod paths;
mod save;
pub mod schema;
mod validate;
mod words;
mod yaml_edit;

pub use error::ConfigError;
pub use load::{DEFAULT_CONFIG_YAML, Loaded, MAX_CONFIG_BYTES, load, load_file, parse};
pub use nesting::MAX_NESTING;
pub use nodes::{LOCAL_NODE, MAX_METRICS_URLS, MAX_NODES, fleet_targets, key_from_variable, metrics_url};
pub use paths::{config_path_from, default_config_path};
pub use save::save_sampling;
pub use schema::*;
pub use validate::{ISQ_TYPES, check_server_exposure, is_loopback_host};

/// The config at `explicit` (or the default path) and the keymap its `keys:` section makes, or
/// the error to print before the terminal is touched.
pub fn load_with_keymap(explicit: Option<&std::path::Path>) -> Result<(Loaded, llamadeck_words::keys::Keymap), String> {
    let loaded = load(explicit).map_err(|e| e.to_string())?;
    let path = loaded.path.display().to_string();
    let keymap =
        llamadeck_words::keys::Keymap::from_config(&loaded.config.keys).map_err(|(cmd, msg)| format!("{path}: keys.{cmd}: {msg}"))?;
    Ok((loaded, keymap))
}
