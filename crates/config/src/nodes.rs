//! The `nodes:` section: other inference servers the console chats with and watches. Each has a
//! name, the base URL of its OpenAI API and/or metrics URLs, and perhaps a key, named by an
//! environment variable or a file and read only when the console starts (the config never holds
//! the key itself, so nothing that prints the config can show it).
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use super::load::{Loaded, read_config_text};
use super::locate::{Seg, Target, locate};
use super::validate::Problem;
use llamadeck_engine::remote::{ApiKey, Dialect, NodeSpec, api_base};
use llamadeck_fleet as fleet;

/// The name the in-process model has in the fleet.
pub const LOCAL_NODE: &str = "local";

/// The most nodes the console polls (one line each in the fleet pane).
pub const MAX_NODES: usize = 32;

/// The most metrics URLs of one node: its server's `/metrics` and its DCGM exporter's, with room
/// to spare. Each is read (up to 4 MiB) on every poll, for every node.
pub const MAX_METRICS_URLS: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// What the console calls it.
    pub name: String,
    /// Base URL of its OpenAI API, `http://HOST:PORT/v1`; none for a node only watched.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable that holds its API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// A file that holds its API key (relative to the config file's folder; `~/` is home).
    #[serde(default)]
    pub api_key_file: Option<String>,
    /// Prometheus endpoints: the server's `/metrics`, a DCGM exporter's `:9400/metrics`.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// The model to chat with when the server serves several; none = the first it lists.
    #[serde(default)]
    pub model: Option<String>,
    /// Which server it is (vllm, sglang, llamacpp, llamadeck, mistralrs, openai); none = as the
    /// server says in /v1/models.
    #[serde(default)]
    pub engine: Option<String>,
    /// How long it may take to answer a poll or to start an answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    llamadeck_engine::remote::DEFAULT_TIMEOUT.as_millis() as u64
}

fn at(i: usize, key: &str, message: String) -> Problem {
    Problem { path: vec![Seg::key("nodes"), Seg::Index(i), Seg::key(key)], target: Target::Value, message }
}

/// A metrics URL as a node's `metrics:` (and `--metrics`) takes it: http or https, with a host,
/// and no user name or password (it would be shown on screen).
pub fn metrics_url(text: &str) -> Result<(), String> {
    http_url(text)
}

fn http_url(text: &str) -> Result<(), String> {
    match reqwest::Url::parse(text.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) => {
            if url.username().is_empty() && url.password().is_none() {
                Ok(())
            } else {
                Err("a user name or password in the URL would be shown on screen".into())
            }
        }
        _ => Err(format!("must be an http:// or https:// URL such as http://HOST:9400/metrics (got {text:?})")),
    }
}

/// The section's checks; the first problem, in the file's order.
pub(crate) fn check(nodes: &[NodeConfig]) -> Result<(), Problem> {
    if nodes.len() > MAX_NODES {
        let message = format!("at most {MAX_NODES} nodes (got {})", nodes.len());
        return Err(Problem { path: vec![Seg::key("nodes")], target: Target::Value, message });
    }
    for (i, node) in nodes.iter().enumerate() {
        let name = node.name.trim();
        if name.is_empty() || name.chars().count() > 32 || name.chars().any(|c| c.is_control()) {
            return Err(at(i, "name", format!("must be 1 to 32 printable characters (got {:?})", node.name)));
        }
        if name == LOCAL_NODE {
            return Err(at(i, "name", "\"local\" is the model this console runs itself; give this node another name".into()));
        }
        if nodes[..i].iter().any(|other| other.name.trim() == name) {
            return Err(at(i, "name", format!("{name:?} names two nodes; give each its own name")));
        }
        if let Some(url) = &node.url {
            api_base(url).map_err(|e| at(i, "url", e))?;
        } else if node.metrics.is_empty() {
            return Err(at(i, "name", format!("node {name:?} has neither url (its OpenAI API) nor metrics; give it one or both")));
        }
        metrics_count(i, node)?;
        for (j, url) in node.metrics.iter().enumerate() {
            http_url(url).map_err(|message| Problem {
                path: vec![Seg::key("nodes"), Seg::Index(i), Seg::key("metrics"), Seg::Index(j)],
                target: Target::Value,
                message,
            })?;
        }
        if node.api_key_env.is_some() && node.api_key_file.is_some() {
            return Err(at(i, "api_key_file", "give the key one way: api_key_env or api_key_file, not both".into()));
        }
        if let Some(engine) = &node.engine
            && Dialect::from_name(engine).is_none()
        {
            let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
            return Err(at(i, "engine", format!("must be one of {} (got {engine:?})", names.join(", "))));
        }
        if !(100..=60_000).contains(&node.timeout_ms) {
            return Err(at(i, "timeout_ms", format!("must be between 100 and 60000 (got {})", node.timeout_ms)));
        }
    }
    Ok(())
}

/// At most [`MAX_METRICS_URLS`] metrics URLs; the error points at the list.
fn metrics_count(i: usize, node: &NodeConfig) -> Result<(), Problem> {
    if node.metrics.len() <= MAX_METRICS_URLS {
        return Ok(());
    }
    let message = format!(
        "at most {MAX_METRICS_URLS} metrics URLs a node (got {}): each is read on every poll; keep the server's /metrics and its \
         DCGM exporter's",
        node.metrics.len()
    );
    Err(at(i, "metrics", message))
}

/// What makes `key` unusable as a bearer token, in words that never show it: a key is sent as
/// `Authorization: Bearer KEY`, so it is one line of visible ASCII characters. None: usable.
pub(crate) fn key_fault(key: &str) -> Option<String> {
    let (at, bad) = key.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic())?;
    let what = match bad {
        '\n' | '\r' => return Some("has a line break; a key is one line".into()),
        ' ' => "a space",
        '\t' => "a tab",
        c if c.is_control() => "a control character",
        _ => "a character that is not ASCII",
    };
    Some(format!("has {what} (character {}); a key is visible ASCII characters only", at + 1))
}

/// The key in environment variable `var`, whose value is `value`, exactly: a variable holds no
/// line break of its own. Err says why not, never showing the key.
pub fn key_from_variable(var: &str, value: Option<&str>) -> Result<ApiKey, String> {
    let value = value.unwrap_or_default();
    if value.trim().is_empty() {
        return Err(format!("the environment variable {var} is not set (or empty)"));
    }
    match (key_fault(value), ApiKey::new(value)) {
        (None, Some(key)) => Ok(key),
        (fault, _) => Err(format!("the key in the environment variable {var} {}", fault.unwrap_or_default())),
    }
}

/// The key in a key file read from `path`: the line break that ends the file is not part of
/// it (a file's last line normally has one), and anything else that cannot be a header is
/// refused. Err says why not, never showing the key.
fn key_from_file(path: &Path, text: &str) -> Result<ApiKey, String> {
    let key = text.strip_suffix('\n').map_or(text, |k| k.strip_suffix('\r').unwrap_or(k));
    if key.trim().is_empty() {
        return Err(format!("the key file {} is empty", path.display()));
    }
    match (key_fault(key), ApiKey::new(key)) {
        (None, Some(key)) => Ok(key),
        (fault, _) => Err(format!("the key in {} {}", path.display(), fault.unwrap_or_default())),
    }
}

/// Where the config file says a key file is: relative to the config's folder, `~/` at home.
fn key_path(config: &Path, written: &str) -> PathBuf {
    if let Some(rest) = written.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    let path = Path::new(written);
    match config.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// The nodes to poll and chat with, their keys read now. `env` reads an environment variable
/// (the process's own, or a test's). An unset variable or an unreadable key file is an error at
/// its line: the console would otherwise be refused by the node with a less helpful message.
pub fn fleet_targets(loaded: &Loaded, env: impl Fn(&str) -> Option<String>) -> Result<Vec<fleet::Target>, ConfigError> {
    let error_at = |i: usize, key: &str, message: String| {
        let text = if loaded.existed { read_config_text(&loaded.path).ok() } else { None };
        let place = text.and_then(|t| locate(&t, &[Seg::key("nodes"), Seg::Index(i), Seg::key(key)], Target::Value));
        ConfigError {
            path: loaded.path.clone(),
            line: place.map(|p| p.0),
            column: place.map(|p| p.1),
            field: Some(format!("nodes.{key}")),
            message,
            others: Box::default(),
        }
    };
    let mut targets = Vec::new();
    for (i, node) in loaded.config.nodes.iter().enumerate() {
        let name = node.name.trim();
        // A key that cannot be a header is refused here, at its line: every request would fail.
        let key = match (&node.api_key_env, &node.api_key_file) {
            (Some(var), _) => {
                Some(key_from_variable(var, env(var).as_deref()).map_err(|e| error_at(i, "api_key_env", format!("node {name:?}: {e}")))?)
            }
            (None, Some(file)) => {
                let path = key_path(&loaded.path, file);
                let text = llamadeck_words::files::read_text(&path, 64 * 1024)
                    .map_err(|e| error_at(i, "api_key_file", format!("node {name:?}: cannot read the key file {}: {e}", path.display())))?;
                Some(key_from_file(&path, &text).map_err(|e| error_at(i, "api_key_file", format!("node {name:?}: {e}")))?)
            }
            (None, None) => None,
        };
        let timeout = Duration::from_millis(node.timeout_ms);
        let api = match &node.url {
            Some(url) => Some(NodeSpec {
                name: name.to_string(),
                base_url: api_base(url).map_err(|e| error_at(i, "url", e))?,
                api_key: key,
                model: node.model.clone(),
                dialect: node.engine.as_deref().and_then(Dialect::from_name),
                timeout,
            }),
            None => None,
        };
        let metrics = node.metrics.iter().map(|m| m.trim().to_string()).collect();
        targets.push(fleet::Target { name: name.to_string(), api, metrics, timeout });
    }
    Ok(targets)
}
