//! The `nodes:` section: each mistake reported at its file, line and column in plain words; keys
//! read from a variable or a file when the console starts, and never shown.
use std::path::Path;

use llamadeck_config::{self as config, fleet_targets};

fn error(yaml: &str) -> String {
    config::parse(yaml, Path::new("c.yaml")).expect_err("refused").to_string()
}

#[test]
fn mistakes_in_nodes_are_reported_at_their_line_and_column() {
    let cases = [
        (
            "nodes:\n  - name: a\n    url: gpu-a\n",
            "c.yaml:3:10: nodes.url: \"gpu-a\" is not a URL; write it as HOST:PORT or http://HOST:PORT/v1",
        ),
        (
            "nodes:\n  - name: a\n    url: http://u:secret@h/v1\n",
            "c.yaml:3:10: nodes.url: a user name or password in the URL would be shown on screen",
        ),
        (
            "nodes:\n  - name: a\n    url: http://h/v1\n  - name: a\n    url: http://i/v1\n",
            "c.yaml:4:11: nodes.name: \"a\" names two nodes",
        ),
        ("nodes:\n  - name: local\n    url: http://h/v1\n", "c.yaml:2:11: nodes.name: \"local\" is the model this console runs itself"),
        ("nodes:\n  - name: a\n", "c.yaml:2:11: nodes.name: node \"a\" has neither url (its OpenAI API) nor metrics"),
        (
            "nodes:\n  - name: a\n    metrics: [http://h:9400/metrics, 'h:9400']\n",
            "c.yaml:3:38: nodes.metrics: must be an http:// or https:// URL",
        ),
        (
            "nodes:\n  - name: a\n    url: http://h/v1\n    api_key_env: K\n    api_key_file: k.txt\n",
            "c.yaml:5:19: nodes.api_key_file: give the key one way",
        ),
        (
            "nodes:\n  - name: a\n    url: http://h/v1\n    engine: tgi\n",
            "c.yaml:4:13: nodes.engine: must be one of vllm, sglang, llamacpp, llamadeck, mistralrs, openai (got \"tgi\")",
        ),
        (
            "nodes:\n  - name: a\n    url: http://h/v1\n    timeout_ms: 5\n",
            "c.yaml:4:17: nodes.timeout_ms: must be between 100 and 60000 (got 5)",
        ),
        (
            "nodes:\n  - name: a\n    url: http://h/v1\n    api_key: hunter2\n",
            "c.yaml:4:5: nodes[0].api_key: unknown field `api_key`, expected one of `name`, `url`, `api_key_env`, `api_key_file`",
        ),
    ];
    for (yaml, expected) in cases {
        let got = error(yaml);
        assert!(got.starts_with(expected), "{yaml}\n got: {got}\nwant: {expected}");
        assert!(!got.contains("hunter2") && !got.contains("secret@"), "a key in the file is never repeated: {got}");
    }
}

#[test]
fn keys_come_from_a_variable_or_a_file_beside_the_config_and_never_show() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(dir.path().join("b.key"), "file-secret\n").unwrap();
    let yaml = "nodes:\n  - name: a\n    url: http://127.0.0.1:8001\n    api_key_env: A_KEY\n    metrics: [http://127.0.0.1:9401/metrics]\n  - name: b\n    url: http://127.0.0.1:8002/v1\n    api_key_file: b.key\n";
    std::fs::write(&path, yaml).unwrap();
    let loaded = config::load_file(&path, true).unwrap();
    let targets = fleet_targets(&loaded, |name| (name == "A_KEY").then(|| "env-secret".to_string())).unwrap();
    let (a, b) = (targets[0].api.as_ref().unwrap(), targets[1].api.as_ref().unwrap());
    assert_eq!(
        (a.base_url.as_str(), targets[0].metrics.as_slice()),
        ("http://127.0.0.1:8001/v1", ["http://127.0.0.1:9401/metrics".to_string()].as_slice())
    );
    assert_eq!(a.api_key.as_ref().unwrap().header(), "Bearer env-secret");
    assert_eq!(b.api_key.as_ref().unwrap().header(), "Bearer file-secret");
    let shown = format!("{targets:?} {:?}", loaded.config);
    assert!(!shown.contains("secret"), "{shown}");

    let unset = fleet_targets(&loaded, |_| None).unwrap_err().to_string();
    assert!(
        unset.ends_with("config.yaml:4:18: nodes.api_key_env: node \"a\": the environment variable A_KEY is not set (or empty)"),
        "{unset}"
    );
    std::fs::remove_file(dir.path().join("b.key")).unwrap();
    let missing = fleet_targets(&loaded, |_| Some("k".into())).unwrap_err().to_string();
    assert!(missing.contains("config.yaml:8:19: nodes.api_key_file: node \"b\": cannot read the key file"), "{missing}");
}

#[test]
fn a_node_url_without_a_scheme_means_http() {
    let yaml = "nodes:\n  - name: a\n    url: gpu-a:8000\n  - name: b\n    url: 10.0.0.2:8080/v1\n";
    let config = config::parse(yaml, Path::new("c.yaml")).unwrap();
    let loaded = config::Loaded { config, path: "c.yaml".into(), existed: false };
    let targets = fleet_targets(&loaded, |_| None).unwrap();
    let bases: Vec<&str> = targets.iter().map(|t| t.api.as_ref().unwrap().base_url.as_str()).collect();
    assert_eq!(bases, ["http://gpu-a:8000/v1", "http://10.0.0.2:8080/v1"]);
}

#[test]
fn the_command_lines_server_choices_go_over_the_files() {
    let file = config::parse("server:\n  host: 0.0.0.0\n  port: 9000\n  api_key: k\n", Path::new("c.yaml")).unwrap();
    let none = file.clone().with_launch(&config::Launch::default());
    assert_eq!((none.server.host.as_str(), none.server.port, none.server.enabled), ("0.0.0.0", 9000, true));
    let launch = config::Launch { host: Some("127.0.0.2".into()), port: Some(0), no_api: true, ..Default::default() };
    let given = file.with_launch(&launch);
    assert_eq!((given.server.host.as_str(), given.server.port, given.server.enabled), ("127.0.0.2", 0, false));
}

#[test]
fn a_node_has_at_most_four_metrics_urls() {
    let urls = |n: usize| (0..n).map(|i| format!("http://h:{}/metrics", 9400 + i)).collect::<Vec<_>>().join(", ");
    let four = format!("nodes:\n  - name: a\n    metrics: [{}]\n", urls(4));
    assert!(config::parse(&four, Path::new("c.yaml")).is_ok());
    let five = format!("nodes:\n  - name: a\n    url: http://h/v1\n    metrics: [{}]\n", urls(5));
    let got = error(&five);
    assert!(got.starts_with("c.yaml:4:14: nodes.metrics: at most 4 metrics URLs a node (got 5)"), "{got}");
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_at_its_line_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "nodes:\n  - name: a\n    url: http://127.0.0.1:8001/v1\n    api_key_file: node.key\n").unwrap();
    let key_file = dir.path().join("node.key");
    let loaded = config::load_file(&path, true).unwrap();
    let from_file = |text: &str| {
        std::fs::write(&key_file, text).unwrap();
        fleet_targets(&loaded, |_| None).map(|t| t[0].api.as_ref().unwrap().api_key.as_ref().unwrap().header())
    };
    // The line break that ends a file is not part of the key.
    for text in ["hunter2", "hunter2\n", "hunter2\r\n"] {
        assert_eq!(from_file(text).unwrap(), "Bearer hunter2", "{text:?}");
    }
    let at = format!("config.yaml:4:19: nodes.api_key_file: node \"a\": the key in {}", key_file.display());
    for (text, why) in [
        ("hunter2\nhunter3\n", "has a line break; a key is one line"),
        ("hunter2\n\n", "has a line break; a key is one line"),
        ("hun\rter2\n", "has a line break; a key is one line"),
        ("hunter2 \n", "has a space (character 8); a key is visible ASCII characters only"),
        (" hunter2\n", "has a space (character 1); a key is visible ASCII characters only"),
        ("hun\tter2", "has a tab (character 4); a key is visible ASCII characters only"),
        ("hunter2\x1b[2J", "has a control character (character 8); a key is visible ASCII characters only"),
        ("hünter2", "has a character that is not ASCII (character 2); a key is visible ASCII characters only"),
    ] {
        let err = from_file(text).unwrap_err().to_string();
        assert!(err.ends_with(&format!("{at} {why}")), "{text:?}\n got: {err}\nwant: {at} {why}");
        assert!(!err.contains("hunter") && !err.contains("ter2"), "the key is never shown: {err}");
    }
    let empty = from_file("\n").unwrap_err().to_string();
    assert!(empty.ends_with(&format!("the key file {} is empty", key_file.display())), "{empty}");

    std::fs::write(&path, "nodes:\n  - name: a\n    url: http://127.0.0.1:8001/v1\n    api_key_env: A_KEY\n").unwrap();
    let loaded = config::load_file(&path, true).unwrap();
    let from_variable = |value: &str| {
        let value = value.to_string();
        fleet_targets(&loaded, move |_| Some(value.clone())).map(|t| t[0].api.as_ref().unwrap().api_key.as_ref().unwrap().header())
    };
    assert_eq!(from_variable("hunter2").unwrap(), "Bearer hunter2");
    let at = "config.yaml:4:18: nodes.api_key_env: node \"a\": the key in the environment variable A_KEY";
    for (value, why) in [
        ("hunter2\r\n", "has a line break; a key is one line"),
        ("hunter2\n", "has a line break; a key is one line"),
        ("hunter 2", "has a space (character 7); a key is visible ASCII characters only"),
    ] {
        let err = from_variable(value).unwrap_err().to_string();
        assert!(err.ends_with(&format!("{at} {why}")), "{value:?}\n got: {err}\nwant: {at} {why}");
        assert!(!err.contains("hunter"), "the key is never shown: {err}");
    }
}

#[test]
fn the_servers_own_key_must_be_able_to_be_a_header() {
    for (yaml, expected) in [
        ("server:\n  api_key: |\n    hunter2\n", "c.yaml:2:12: server.api_key: the key has a line break; a key is one line"),
        ("server:\n  api_key: \"hunter2\\r\\n\"\n", "c.yaml:2:12: server.api_key: the key has a line break; a key is one line"),
        (
            "server:\n  api_key: \"hunter 2\"\n",
            "c.yaml:2:12: server.api_key: the key has a space (character 7); a key is visible ASCII characters only",
        ),
    ] {
        let got = error(yaml);
        assert_eq!(got, expected, "{yaml}");
        assert!(!got.contains("hunter"), "{got}");
    }
    let ok = config::parse("server:\n  host: 0.0.0.0\n  api_key: hunter2\n", Path::new("c.yaml")).unwrap();
    assert_eq!(ok.server.api_key.as_deref(), Some("hunter2"));
}
