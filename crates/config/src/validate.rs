//! Checks that serde cannot express: ranges, names that must exist, formats.
//! Each problem carries the path of the offending node so the loader can find its line.
use std::net::IpAddr;

use super::locate::{Seg, Target};
use super::schema::Config;
use super::words::WHOLE_NUMBER_RANGES;
use llamadeck_words::keys::Keymap;
use llamadeck_words::sampling::{Field, Sampling, builtin_presets};

/// One problem: where (path, key or value) and what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub path: Vec<Seg>,
    pub target: Target,
    pub message: String,
}

impl Problem {
    fn at_value(path: &[&str], message: String) -> Self {
        Self { path: path.iter().map(|k| Seg::key(k)).collect(), target: Target::Value, message }
    }

    /// The dotted field name shown to the user: keys only, list indexes left out.
    pub fn field(&self) -> String {
        let keys: Vec<&str> = self.path.iter().filter_map(|s| if let Seg::Key(k) = s { Some(k.as_str()) } else { None }).collect();
        keys.join(".")
    }
}

pub const ISQ_TYPES: [&str; 13] = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2K", "Q3K", "Q4K", "Q5K", "Q6K", "Q8K", "HQQ4", "HQQ8"];

/// Every problem the checks find (each check's list in its own order; the loader sorts them
/// by line). Keys and nodes report their first problem each: what follows a bad key list or
/// node is often the same mistake again.
pub(crate) fn validate(config: &Config) -> Vec<Problem> {
    let mut problems = check_model(config);
    problems.extend(check_sampling(&config.sampling));
    problems.extend(check_presets(config));
    problems.extend(check_gpu_ui_server(config));
    problems.extend(check_server_key(config).err());
    problems.extend(check_keys(config).err());
    problems.extend(super::nodes::check(&config.nodes).err());
    problems
}

/// The API's own key is compared with what clients send in a header: one that cannot be a
/// header (a line break from a `|` block, a space) would refuse every request.
fn check_server_key(config: &Config) -> Result<(), Problem> {
    let Some(key) = config.server.api_key.as_deref().filter(|k| !k.trim().is_empty()) else { return Ok(()) };
    match super::nodes::key_fault(key) {
        Some(fault) => Err(Problem::at_value(&["server", "api_key"], format!("the key {fault}"))),
        None => Ok(()),
    }
}

fn check_model(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let device = config.model.device.as_str();
    let cuda_ok = device.strip_prefix("cuda:").is_some_and(|n| !n.is_empty() && n.parse::<u32>().is_ok());
    if device != "cpu" && !cuda_ok {
        problems.push(Problem::at_value(&["model", "device"], format!("must be \"cpu\" or \"cuda:N\" (got {device:?})")));
    }
    if let Some(isq) = &config.model.isq
        && !ISQ_TYPES.iter().any(|t| t.eq_ignore_ascii_case(isq))
    {
        let message = format!("must be one of {} (got {isq:?})", ISQ_TYPES.join(", "));
        problems.push(Problem::at_value(&["model", "isq"], message));
    }
    problems
}

fn check_sampling(sampling: &Sampling) -> Vec<Problem> {
    Field::ALL
        .into_iter()
        .filter_map(|field| sampling.get(field).check(field).err())
        .map(|e| {
            let message = match e.field.range() {
                Some(_) => format!("{} (got {})", e.message, sampling.edit_text(e.field)),
                None => e.message,
            };
            Problem::at_value(&["sampling", e.field.name()], message)
        })
        .collect()
}

fn check_presets(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (name, values) in &config.presets {
        for field in Field::in_presets() {
            if let Some(value) = values.get(field)
                && let Err(e) = value.check(field)
            {
                problems.push(Problem::at_value(&["presets", name, field.name()], format!("{} (got {})", e.message, value.edit_text())));
            }
        }
    }
    if let Some(name) = &config.preset {
        let builtin: Vec<String> = builtin_presets().into_iter().map(|(n, _)| n).collect();
        if !builtin.contains(name) && !config.presets.contains_key(name) {
            let mut message = format!("unknown preset {name:?} (built-in: {}", builtin.join(", "));
            if !config.presets.is_empty() {
                let yours: Vec<&str> = config.presets.keys().map(String::as_str).collect();
                message.push_str(&format!("; under presets: {}", yours.join(", ")));
            }
            message.push(')');
            problems.push(Problem::at_value(&["preset"], message));
        }
    }
    problems
}

fn check_between(path: &[&str], value: u64, min: u64, max: u64) -> Result<(), Problem> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(Problem::at_value(path, format!("must be between {min} and {max} (got {value})")))
}

/// The whole-number keys against their ranges (the same table words type errors with).
fn check_gpu_ui_server(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (field, min, max) in WHOLE_NUMBER_RANGES {
        let value = match field {
            "gpu.interval_ms" => config.gpu.interval_ms,
            "gpu.history_secs" => config.gpu.history_secs,
            "ui.fps" => config.ui.fps.into(),
            "server.port" => config.server.port.into(),
            "server.max_connections" => config.server.max_connections as u64,
            "server.max_connections_per_client" => config.server.max_connections_per_client as u64,
            "server.header_timeout_secs" => config.server.header_timeout_secs,
            "server.body_timeout_secs" => config.server.body_timeout_secs,
            "server.max_queued_per_client" => config.server.max_queued_per_client as u64,
            "server.max_tokens" => config.server.max_tokens.into(),
            other => unreachable!("{other} has a range but no value here"),
        };
        let path: Vec<&str> = field.split('.').collect();
        problems.extend(check_between(&path, value, min, max).err());
    }
    problems
}

fn check_keys(config: &Config) -> Result<(), Problem> {
    Keymap::build(&config.keys).map(drop).map_err(|e| {
        let mut path = vec![Seg::key("keys"), Seg::Key(e.command)];
        let target = match e.index {
            Some(i) => {
                path.push(Seg::Index(i));
                Target::Value
            }
            None => Target::Key,
        };
        Problem { path, target, message: e.message }
    })
}

/// Whether `host` only accepts connections from this machine.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An API reachable from other machines must ask for a key. Kept out of `parse` because the
/// CLI's `--insecure` flag lets the operator skip it.
pub fn check_server_exposure(config: &Config) -> Result<(), String> {
    let server = &config.server;
    let has_key = server.api_key.as_deref().is_some_and(|k| !k.trim().is_empty());
    if !server.enabled || is_loopback_host(&server.host) || has_key {
        return Ok(());
    }
    Err(format!(
        "{:?} is not a loopback address: set server.api_key so the API asks for it, \
         or pass --insecure to serve without a key",
        server.host
    ))
}
