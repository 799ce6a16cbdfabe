//! The console's fleet: the nodes the config lists (their keys read now), and the server
//! `--connect` names: a node of the config by its name, or a URL (its key from
//! `LLAMADECK_API_KEY`, its metrics the `--metrics` URLs, else guessed at the server's `/metrics`).
use llamadeck_config::{Loaded, fleet_targets, key_from_variable};
use llamadeck_engine::remote::NodeSpec;
use llamadeck_fleet::Target;

/// The environment variable that holds the key of a server given to `--connect` as a URL.
pub const CONNECT_KEY_ENV: &str = "LLAMADECK_API_KEY";

/// Every node of the config, or the config error to print before the terminal is touched.
pub fn targets(loaded: &Loaded) -> Result<Vec<Target>, String> {
    fleet_targets(loaded, |name| std::env::var(name).ok()).map_err(|e| e.to_string())
}

/// The node `--connect` names, as a target of the fleet (its API is the console's engine), with
/// `metrics` (`--metrics`), when given, instead of its own list.
pub fn connect_target(
    given: &str,
    metrics: &[String],
    configured: &[Target],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Target, String> {
    let mut target = named_or_url(given, configured, env)?;
    if !metrics.is_empty() {
        target.metrics = metrics.to_vec();
    }
    Ok(target)
}

fn named_or_url(given: &str, configured: &[Target], env: impl Fn(&str) -> Option<String>) -> Result<Target, String> {
    if let Some(node) = configured.iter().find(|t| t.name == given) {
        return match &node.api {
            Some(_) => Ok(node.clone()),
            None => Err(format!("--connect {given}: that node has no url in the config (only metrics), so there is nothing to chat with")),
        };
    }
    if !llamadeck_engine::remote::looks_like_url(given) {
        let names: Vec<&str> = configured.iter().map(|t| t.name.as_str()).collect();
        let known =
            if names.is_empty() { "the config lists no nodes".to_string() } else { format!("the config lists {}", names.join(", ")) };
        return Err(format!("--connect {given}: not a URL (HOST:PORT or http://HOST:PORT/v1) and not a node's name ({known})"));
    }
    let mut api = NodeSpec::new("", given).map_err(|e| format!("--connect: {e}"))?;
    api.name = api.address().to_string();
    // A key that cannot be a header would make every request fail: refused now, never shown.
    api.api_key = match env(CONNECT_KEY_ENV).filter(|v| !v.trim().is_empty()) {
        Some(value) => Some(key_from_variable(CONNECT_KEY_ENV, Some(&value)).map_err(|e| format!("--connect {given}: {e}"))?),
        None => None,
    };
    let metrics = vec![format!("{}/metrics", api.root())];
    Ok(Target { name: api.name.clone(), metrics, timeout: api.timeout, api: Some(api) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, url: Option<&str>) -> Target {
        let api = url.map(|u| NodeSpec::new(name, u).unwrap());
        Target { name: name.into(), api, metrics: vec![], timeout: llamadeck_engine::remote::DEFAULT_TIMEOUT }
    }

    #[test]
    fn connect_names_a_configured_node_or_a_url() {
        let configured = [node("gpu-a", Some("http://127.0.0.1:8001/v1")), node("dcgm", None)];
        let none = |_: &str| None;
        assert_eq!(connect_target("gpu-a", &[], &configured, none).unwrap(), configured[0]);
        assert!(connect_target("dcgm", &[], &configured, none).unwrap_err().contains("has no url"));
        let err = connect_target("gpu-b", &[], &configured, none).unwrap_err();
        assert!(err.contains("not a node's name (the config lists gpu-a, dcgm)"), "{err}");
        let url = connect_target("http://127.0.0.1:9/v1", &[], &[], |v| (v == CONNECT_KEY_ENV).then(|| "k".to_string())).unwrap();
        assert_eq!((url.name.as_str(), url.metrics.as_slice()), ("127.0.0.1:9", ["http://127.0.0.1:9/metrics".to_string()].as_slice()));
        assert!(url.api.unwrap().api_key.is_some());
    }

    #[test]
    fn a_url_without_a_scheme_is_http_and_metrics_replace_the_guess() {
        let none = |_: &str| None;
        let url = connect_target("127.0.0.1:9", &[], &[], none).unwrap();
        assert_eq!(url.api.unwrap().base_url, "http://127.0.0.1:9/v1");
        assert_eq!(connect_target("gpu-a.lan:8000/v1", &[], &[], none).unwrap().name, "gpu-a.lan:8000");
        // A bare word is a node's name, never a host.
        assert!(connect_target("gpu-a", &[], &[], none).unwrap_err().contains("not a URL (HOST:PORT or http://HOST:PORT/v1)"));
        let dcgm = vec!["http://127.0.0.1:9400/metrics".to_string(), "http://127.0.0.1:9/metrics".to_string()];
        assert_eq!(connect_target("127.0.0.1:9", &dcgm, &[], none).unwrap().metrics, dcgm);
        let configured = [node("gpu-a", Some("http://127.0.0.1:8001/v1"))];
        assert_eq!(connect_target("gpu-a", &dcgm[..1], &configured, none).unwrap().metrics, dcgm[..1]);
    }

    #[test]
    fn a_connect_key_that_cannot_be_a_header_is_refused_unshown() {
        let key = |value: &'static str| connect_target("http://127.0.0.1:9/v1", &[], &[], move |_| Some(value.to_string()));
        let err = key("hunter2\r\n").unwrap_err();
        assert_eq!(
            err,
            "--connect http://127.0.0.1:9/v1: the key in the environment variable LLAMADECK_API_KEY has a line break; a key is one line"
        );
        assert!(key("hunter 2").unwrap_err().ends_with("has a space (character 7); a key is visible ASCII characters only"));
        assert!(key("").unwrap().api.unwrap().api_key.is_none(), "an empty variable is no key");
    }
}
