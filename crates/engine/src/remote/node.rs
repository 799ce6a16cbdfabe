//! Where a remote engine is and how to ask it: the base URL of its OpenAI API, its key (never
//! shown), the model to use when it serves several, and how long to wait for it.
use std::time::Duration;

use super::dialect::Dialect;

/// A bearer key. It is never printed: `Debug` hides it and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key as read from its variable or file, surrounding blanks (a file's last newline) cut.
    pub fn new(key: &str) -> Option<ApiKey> {
        let key = key.trim();
        (!key.is_empty()).then(|| ApiKey(key.to_string()))
    }

    /// The `Authorization` header's value.
    pub fn header(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(hidden)")
    }
}

/// How long a node may take before it counts as not answering.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// One OpenAI-compatible server.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// What the operator calls it ("gpu-a").
    pub name: String,
    /// `http://host:port/v1`, without a trailing slash (see [`api_base`]).
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    /// The model id to ask for; None takes the first the node lists.
    pub model: Option<String>,
    /// Which server it is, when the operator says so; None reads it from `/v1/models`.
    pub dialect: Option<Dialect>,
    /// For connecting, for the model list, and for the first byte of an answer's headers.
    pub timeout: Duration,
}

impl NodeSpec {
    pub fn new(name: &str, base_url: &str) -> Result<NodeSpec, String> {
        Ok(NodeSpec {
            name: name.to_string(),
            base_url: api_base(base_url)?,
            api_key: None,
            model: None,
            dialect: None,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// `{base}/{path}`, e.g. `endpoint("chat/completions")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    /// The server's root (the base without its `/v1`), where `/metrics` and `/health` live.
    pub fn root(&self) -> &str {
        self.base_url.strip_suffix("/v1").unwrap_or(&self.base_url)
    }

    /// `host:port`, for the screen.
    pub fn address(&self) -> &str {
        let rest = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// Whether `text` is written as a URL rather than a node's name: it has a scheme (`://`), or a
/// dot or a colon (`127.0.0.1`, `gpu-a:8000`, `gpu-a.lan/v1`). A bare word is a name.
pub fn looks_like_url(text: &str) -> bool {
    text.contains("://") || text.contains('.') || text.contains(':')
}

/// The URL `text` means: without a scheme, `http://` (as curl reads `host:port`).
pub fn with_scheme(text: &str) -> String {
    let text = text.trim();
    if text.contains("://") { text.to_string() } else { format!("http://{text}") }
}

/// The base URL of an OpenAI API as clients write it: `http://host:port/v1`. A URL with no path
/// gets `/v1`; a trailing slash goes; one without a scheme (`host:port`, `host.lan/v1`) means
/// `http://`. Only http and https; a user name or password in the URL is refused (it would
/// show wherever the URL does: put the key in the config's api_key_env).
pub fn api_base(text: &str) -> Result<String, String> {
    if !looks_like_url(text) {
        return Err(format!("{text:?} is not a URL; write it as HOST:PORT or http://HOST:PORT/v1"));
    }
    let url =
        reqwest::Url::parse(&with_scheme(text)).map_err(|e| format!("{text:?} is not a URL ({e}); write it as http://HOST:PORT/v1"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?}: only http:// and https:// addresses are served"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} names no host; write it as http://HOST:PORT/v1"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a user name or password in the URL would be shown on screen; give the key with api_key_env or api_key_file".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text:?}: leave out the ?query and #fragment; the base URL ends at /v1"));
    }
    let mut base = url.as_str().trim_end_matches('/').to_string();
    if url.path() == "/" || url.path().is_empty() {
        base.push_str("/v1");
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_written_one_way() {
        assert_eq!(api_base("http://127.0.0.1:8000/v1").unwrap(), "http://127.0.0.1:8000/v1");
        assert_eq!(api_base("http://127.0.0.1:8000/v1/").unwrap(), "http://127.0.0.1:8000/v1");
        assert_eq!(api_base("http://gpu-a:8000").unwrap(), "http://gpu-a:8000/v1");
        assert_eq!(api_base(" https://h/openai/v1 ").unwrap(), "https://h/openai/v1");
        // Without a scheme, http:// (as curl reads it).
        assert_eq!(api_base("127.0.0.1:8000").unwrap(), "http://127.0.0.1:8000/v1");
        assert_eq!(api_base("gpu-a:8000/v1").unwrap(), "http://gpu-a:8000/v1");
        assert_eq!(api_base("gpu-a.lan").unwrap(), "http://gpu-a.lan/v1");
        for bad in ["ftp://h/v1", "http://u:p@h/v1", "http://h/v1?x=1", "nonsense", "u:p@h:1/v1"] {
            assert!(api_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_node_knows_its_root_and_address() {
        let node = NodeSpec::new("a", "http://gpu-a.lan:8229").unwrap();
        assert_eq!((node.root(), node.address()), ("http://gpu-a.lan:8229", "gpu-a.lan:8229"));
        assert_eq!(node.endpoint("models"), "http://gpu-a.lan:8229/v1/models");
    }

    #[test]
    fn a_key_never_shows_in_debug() {
        let key = ApiKey::new(" s3cret\n").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(hidden)");
        assert_eq!(key.header(), "Bearer s3cret");
        assert!(ApiKey::new("  \n").is_none());
    }
}
