//! The config file: YAML loading with file:line:column errors, the keymap, saving settings.
//!
//! `schema` is the file's shape; `load` reads and checks it (`validate` for what serde cannot
//! express, `locate` to find the line of a problem); `keys` turns `keys:` into a keymap; `save`
//! writes the sampling settings back without disturbing the rest of the file.
mod error;
mod keys;
mod load;
mod locate;
mod paths;
mod save;
pub mod schema;
mod validate;
mod yaml_edit;

pub use error::ConfigError;
pub use keys::{KeyBinding, Keymap};
pub use load::{load, load_file, parse, Loaded, DEFAULT_CONFIG_YAML};
pub use paths::{config_path_from, default_config_path};
pub use save::save_sampling;
pub use schema::*;
pub use validate::{check_server_exposure, is_loopback_host, ISQ_TYPES};
