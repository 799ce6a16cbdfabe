//! Asking a node what it serves: `GET /v1/models` names the model, the server (its `owned_by`)
//! and, where the server says, the context length (vLLM's and SGLang's `max_model_len`,
//! llamadeck's `context_length`, llama-server's `/props`).
use serde_json::Value;

use super::dialect::Dialect;
use super::errors::{error_message, no_answer, redirect};
use super::node::NodeSpec;
use crate::face::ModelFacts;

/// What a node serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub facts: ModelFacts,
    pub dialect: Dialect,
    /// The server's own word for itself (`owned_by`): "me" is llama-cpp-python.
    pub owner: String,
}

impl Served {
    /// llama-cpp-python's server ends the answer it is streaming when any other request needs
    /// its model, its model list included: once known, it is watched without asking that.
    pub fn interrupted_by_questions(&self) -> bool {
        self.owner == "me"
    }
}

/// What asking found.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Ready(Served),
    /// The node answers but has no model to serve yet (llamadeck while loading: 503 or an empty
    /// list); the text says where it stands.
    Loading(String),
    Failed(String),
}

/// The most of a model list or error body that is read.
const MAX_BODY: usize = 1 << 20;

pub async fn probe(client: &reqwest::Client, node: &NodeSpec) -> Probe {
    let list = match get_json(client, node, &node.endpoint("models")).await {
        Ok(list) => list,
        Err(Refusal::Loading(why)) => return Probe::Loading(why),
        Err(Refusal::Failed(why)) => return Probe::Failed(why),
    };
    let Some(models) = list.get("data").and_then(Value::as_array) else {
        return Probe::Failed(format!("{} answered /v1/models without a model list: is it an OpenAI-compatible server?", node.address()));
    };
    let ids: Vec<&str> = models.iter().filter_map(|m| m.get("id")?.as_str()).collect();
    let chosen = match &node.model {
        Some(wanted) => models.iter().find(|m| m.get("id").and_then(Value::as_str) == Some(wanted.as_str())),
        None => models.first(),
    };
    let Some(model) = chosen else { return without_model(node.address(), node.model.as_deref(), &ids) };
    let name = model.get("id").and_then(Value::as_str).unwrap_or("model").to_string();
    let owner = model.get("owned_by").and_then(Value::as_str).unwrap_or("");
    let dialect = node.dialect.unwrap_or_else(|| Dialect::from_owner(owner));
    let mut context_len = context_of(model);
    if owner == "llamacpp"
        && let Ok(props) = get_json(client, node, &format!("{}/props", node.root())).await
        && let Some(n) = props.pointer("/default_generation_settings/n_ctx").and_then(Value::as_u64)
    {
        context_len = Some(n as usize);
    }
    let facts = ModelFacts { name: llamadeck_words::text::sanitize(&name), context_len: context_len.unwrap_or(0), format: None };
    Probe::Ready(Served { facts, dialect, owner: owner.to_string() })
}

/// The context length a model entry states, under any of the names servers use.
fn context_of(model: &Value) -> Option<usize> {
    ["/max_model_len", "/context_length", "/context_window", "/meta/n_ctx", "/meta/n_ctx_train"]
        .iter()
        .find_map(|p| model.pointer(p).and_then(Value::as_u64))
        .filter(|n| *n > 0)
        .map(|n| n as usize)
}

enum Refusal {
    Loading(String),
    Failed(String),
}

async fn get_json(client: &reqwest::Client, node: &NodeSpec, url: &str) -> Result<Value, Refusal> {
    let mut request = client.get(url).timeout(node.timeout);
    if let Some(key) = &node.api_key {
        request = request.header(reqwest::header::AUTHORIZATION, key.header());
    }
    let address = node.address();
    let response = request.send().await.map_err(|e| Refusal::Failed(no_answer(address, &e, node.timeout)))?;
    if let Some(redirect) = redirect(response.status(), response.headers()) {
        return Err(Refusal::Failed(format!("{address} {redirect}")));
    }
    let status = response.status().as_u16();
    let body = read_limited(response).await.map_err(|e| Refusal::Failed(no_answer(address, &e, node.timeout)))?;
    let said = error_message(&body);
    let said = if said.is_empty() { String::new() } else { format!(": {said}") };
    match status {
        200..=299 => serde_json::from_str(&body).map_err(|_| {
            Refusal::Failed(format!("{address} answered {url} with something that is not JSON: is it an OpenAI-compatible server?"))
        }),
        401 | 403 => Err(Refusal::Failed(format!("{address} refused the API key ({status}){said}"))),
        503 => Err(Refusal::Loading(format!("{address} is not ready{said}"))),
        _ => Err(Refusal::Failed(format!("{address} answered {status}{said}"))),
    }
}

/// A model list without the model asked for (or without any): a server that lists none yet is
/// still loading one (`llamadeck serve` while it loads again, llama.cpp's server at start).
fn without_model(address: &str, wanted: Option<&str>, ids: &[&str]) -> Probe {
    match wanted {
        _ if ids.is_empty() => Probe::Loading(format!("{address} is not ready: the model is loading")),
        Some(wanted) => Probe::Failed(format!("{address} does not serve {wanted:?}; it serves {}", ids.join(", "))),
        None => unreachable!("a model list that is not empty has a first entry"),
    }
}

/// The body as text, at most [`MAX_BODY`] bytes of it.
pub async fn read_limited(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY - body.len())]);
        if body.len() >= MAX_BODY {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn context_lengths_under_each_servers_name() {
        assert_eq!(context_of(&json!({"id": "m", "owned_by": "vllm", "max_model_len": 4096})), Some(4096));
        assert_eq!(context_of(&json!({"id": "m", "owned_by": "llamadeck", "context_length": 8192})), Some(8192));
        assert_eq!(context_of(&json!({"id": "m", "owned_by": "llamacpp", "meta": {"n_ctx_train": 2048}})), Some(2048));
        assert_eq!(context_of(&json!({"id": "m", "owned_by": "me"})), None);
        assert_eq!(context_of(&json!({"id": "m", "max_model_len": 0})), None);
    }

    #[test]
    fn an_empty_model_list_reads_as_the_readme_says_a_loading_node_does() {
        let Probe::Loading(why) = without_model("127.0.0.1:8229", None, &[]) else { panic!("not loading") };
        assert_eq!(why, "127.0.0.1:8229 is not ready: the model is loading");
        let readme = include_str!("../../../../README.md");
        assert!(readme.contains(&why), "the README's fleet pane shows a loading node so");
        let Probe::Failed(why) = without_model("h:1", Some("b"), &["a"]) else { panic!("not failed") };
        assert_eq!(why, "h:1 does not serve \"b\"; it serves a");
    }
}
