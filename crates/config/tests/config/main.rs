//! Config loading, validation errors with file:line:column, the keymap, and saving settings.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use llamadeck_config::{
    self as config, ColorMode, Config, ConfigError, DEFAULT_CONFIG_YAML, check_server_exposure, config_path_from, parse, save_sampling,
};
use llamadeck_words::keys::{Command, KeyBinding, Keymap};
use llamadeck_words::sampling::{LLAMA2_SYSTEM_PROMPT, Sampling};
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config").join(name)
}

fn load_fixture(name: &str) -> Result<Config, ConfigError> {
    config::load(Some(&fixture(name))).map(|l| l.config)
}

/// The full error line for a bad fixture, with the fixture's path cut to its file name.
fn error_of(name: &str) -> String {
    let err = load_fixture(name).expect_err("fixture should be rejected");
    assert_eq!(err.path, fixture(name));
    err.to_string().replacen(&fixture(name).display().to_string(), name, 1)
}

// ---- good files ----

#[test]
fn embedded_defaults_are_exactly_the_default_config() {
    let parsed = parse(DEFAULT_CONFIG_YAML, Path::new("config/llamadeck.yaml")).unwrap();
    assert_eq!(parsed, Config::default());
    assert_eq!(parsed.sampling.system_prompt, LLAMA2_SYSTEM_PROMPT);
}

#[test]
fn every_key_in_the_embedded_defaults_has_a_comment_above_it() {
    let lines: Vec<&str> = DEFAULT_CONFIG_YAML.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let is_key = !t.starts_with('#') && t.contains(':') && line.len() - t.len() <= 2 && !t.is_empty();
        if is_key && (line.starts_with("  ") || !t.ends_with(':')) {
            // A leaf key: the line above (or a comment block ending right above) explains it.
            assert!(lines[i - 1].trim_start().starts_with('#'), "no comment above line {}: {line}", i + 1);
        }
    }
}

#[test]
fn full_file_sets_every_section() {
    let c = load_fixture("full.yaml").unwrap();
    assert_eq!(c.model.path.as_deref(), Some("/models/llama-2-13b-chat"));
    assert_eq!(c.model.isq.as_deref(), Some("q4k"));
    assert_eq!(c.model.device, "cuda:1");
    assert_eq!(c.sampling.temperature, 0.8);
    assert_eq!(c.sampling.top_k, 40);
    assert_eq!(c.sampling.seed, Some(42));
    assert_eq!(c.sampling.stop, vec!["</s>".to_string(), "User:".to_string()]);
    assert_eq!(c.sampling.system_prompt, "You are terse.\nAnswer in one line.\n");
    assert!(c.sampling.raw_mode);
    assert_eq!(c.preset.as_deref(), Some("code"));
    assert_eq!(c.presets["code"].max_tokens, Some(4096));
    assert_eq!((c.gpu.interval_ms, c.gpu.history_secs), (500, 600));
    assert_eq!((c.server.enabled, c.server.port), (false, 9000));
    assert_eq!(c.server.cors_origins, vec!["http://localhost:3000".to_string()]);
    assert_eq!((c.ui.fps, c.ui.color, c.ui.hints), (60, ColorMode::Never, false));
    assert_eq!(c.keys["quit"], vec!["ctrl+x".to_string()]);
    // Disabled server: its address does not matter.
    assert_eq!(check_server_exposure(&c), Ok(()));
}

#[test]
fn minimal_file_keeps_defaults_elsewhere() {
    let c = load_fixture("minimal.yaml").unwrap();
    let mut expected = Config::default();
    expected.sampling.temperature = 0.2;
    assert_eq!(c, expected);
}

#[test]
fn empty_and_comment_only_files_are_defaults() {
    assert_eq!(load_fixture("empty.yaml").unwrap(), Config::default());
    assert_eq!(load_fixture("comments_only.yaml").unwrap(), Config::default());
}

#[test]
fn user_presets_can_be_selected() {
    let c = load_fixture("user_presets.yaml").unwrap();
    assert_eq!(c.preset.as_deref(), Some("focused"));
    assert_eq!(c.presets["focused"].top_k, Some(20));
    assert_eq!(c.presets["long"].max_tokens, Some(8192));
}

#[test]
fn key_overrides_replace_only_their_commands() {
    let c = load_fixture("key_overrides.yaml").unwrap();
    let map = Keymap::from_config(&c.keys).unwrap();
    let key = |s: &str| KeyBinding::parse(s).unwrap();
    assert_eq!(map.keys_for(Command::Quit), vec![key("ctrl+x"), key("ctrl+shift+q")]);
    assert_eq!(map.keys_for(Command::ToggleHelp), vec![key("f2"), key("?")]);
    assert_eq!(map.keys_for(Command::Send), vec![key("ctrl+enter")]);
    assert_eq!(map.keys_for(Command::Stop), vec![key("esc")]);
    assert_eq!(map.lookup(&press(KeyCode::Char('q'), KeyModifiers::CONTROL)), None);
    assert_eq!(map.lookup(&press(KeyCode::Enter, KeyModifiers::NONE)), Some(Command::InsertNewline));
    assert_eq!(map.lookup(&press(KeyCode::F(1), KeyModifiers::NONE)), None);
}

// ---- bad files: the whole message, with line and column ----

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        error_of("unknown_top_level.yaml"),
        "unknown_top_level.yaml:3:1: modle: unknown field `modle`, expected one of `model`, `sampling`, \
         `preset`, `presets`, `gpu`, `server`, `ui`, `keys`, `nodes`"
    );
}

#[test]
fn unknown_nested_key() {
    assert_eq!(
        error_of("unknown_nested.yaml"),
        "unknown_nested.yaml:3:3: sampling.temprature: unknown field `temprature`, expected one of \
         `temperature`, `top_p`, `top_k`, `min_p`, `repetition_penalty`, `presence_penalty`, \
         `frequency_penalty`, `max_tokens`, `seed`, `stop`, `system_prompt`, `raw_mode`"
    );
}

#[test]
fn out_of_range_temperature_in_a_deeply_indented_file() {
    assert_eq!(
        error_of("temperature_out_of_range.yaml"),
        "temperature_out_of_range.yaml:7:26: sampling.temperature: must be between 0 and 2 (got 7.5)"
    );
}

#[test]
fn out_of_range_value_in_a_preset_points_at_that_preset() {
    assert_eq!(
        error_of("preset_out_of_range.yaml"),
        "preset_out_of_range.yaml:8:18: presets.wild.temperature: must be between 0 and 2 (got 9)"
    );
}

#[test]
fn out_of_range_gpu_interval() {
    assert_eq!(
        error_of("gpu_interval_out_of_range.yaml"),
        "gpu_interval_out_of_range.yaml:3:16: gpu.interval_ms: must be between 100 and 60000 (got 50)"
    );
}

#[test]
fn bad_device() {
    assert_eq!(error_of("bad_device.yaml"), "bad_device.yaml:2:11: model.device: must be \"cpu\" or \"cuda:N\" (got \"gpu0\")");
}

#[test]
fn wrong_type() {
    assert_eq!(
        error_of("wrong_type.yaml"),
        "wrong_type.yaml:2:16: gpu.interval_ms: must be a whole number between 100 and 60000 (got \"fast\")"
    );
}

#[test]
fn bad_key_name() {
    assert_eq!(
        error_of("bad_key_name.yaml"),
        "bad_key_name.yaml:3:18: keys.quit: \"ctrl+nope\": unknown key \"nope\" \
         (a character, enter, esc, tab, space, f1..f24, up, pageup, ...)"
    );
}

#[test]
fn unknown_command_under_keys() {
    assert_eq!(
        error_of("unknown_command.yaml"),
        "unknown_command.yaml:3:3: keys.explode: unknown command \"explode\" (known: send, newline, stop, \
         regenerate, edit_last, clear, conversations, search, copy_last, select_up, select_down, older_version, newer_version, scroll_up, scroll_down, page_up, page_down, scroll_top, follow_tail, \
         focus_next, next_preset, save_settings, reload_model, fleet, api_requests, notices, help, quit)"
    );
}

#[test]
fn duplicate_key_binding() {
    assert_eq!(
        error_of("duplicate_binding.yaml"),
        "duplicate_binding.yaml:2:11: keys.clear: Ctrl+Q is already bound to quit by default \
         (give quit other keys under keys: to free it)"
    );
}

#[test]
fn unknown_preset() {
    assert_eq!(
        error_of("unknown_preset.yaml"),
        "unknown_preset.yaml:4:9: preset: unknown preset \"fast\" (built-in: precise, balanced, creative; \
         under presets: mine)"
    );
}

#[test]
fn bad_yaml_syntax() {
    assert_eq!(error_of("bad_syntax.yaml"), "bad_syntax.yaml:3:2: did not find expected key, while parsing a block mapping");
}

#[test]
fn non_loopback_host_needs_an_api_key() {
    let loaded = config::load(Some(&fixture("exposed_server.yaml"))).expect("exposure is not a parse error");
    let message = "\"0.0.0.0\" is not a loopback address: set server.api_key so the API asks for it, \
                   or pass --insecure to serve without a key";
    assert_eq!(check_server_exposure(&loaded.config), Err(message.to_string()));
    let err = loaded.check_server_exposure().unwrap_err();
    assert_eq!(
        err.to_string().replacen(&fixture("exposed_server.yaml").display().to_string(), "exposed_server.yaml", 1),
        format!("exposed_server.yaml:3:9: server.host: {message}")
    );
    let mut keyed = loaded.config.clone();
    keyed.server.api_key = Some("k".into());
    assert_eq!(check_server_exposure(&keyed), Ok(()));
    for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"] {
        let mut c = Config::default();
        c.server.host = host.into();
        assert_eq!(check_server_exposure(&c), Ok(()), "{host}");
    }
}

#[test]
fn other_range_checks() {
    let err = |text: &str| parse(text, Path::new("/etc/x.yaml")).unwrap_err().to_string();
    assert_eq!(err("ui:\n  fps: 0\n"), "/etc/x.yaml:2:8: ui.fps: must be between 1 and 120 (got 0)");
    assert_eq!(err("gpu:\n  history_secs: 5\n"), "/etc/x.yaml:2:17: gpu.history_secs: must be between 10 and 3600 (got 5)");
    assert_eq!(err("server:\n  port: 0\n"), "/etc/x.yaml:2:9: server.port: must be between 1 and 65535 (got 0)");
    assert_eq!(err("server:\n  max_tokens: 0\n"), "/etc/x.yaml:2:15: server.max_tokens: must be between 1 and 1048576 (got 0)");
    assert_eq!(
        err("server:\n  max_queued_per_client: 0\n"),
        "/etc/x.yaml:2:26: server.max_queued_per_client: must be between 1 and 10000 (got 0)"
    );
    assert_eq!(
        err("server:\n  max_connections_per_client: 0\n"),
        "/etc/x.yaml:2:31: server.max_connections_per_client: must be between 1 and 100000 (got 0)"
    );
    assert_eq!(
        err("server:\n  max_tokens: lots\n"),
        "/etc/x.yaml:2:15: server.max_tokens: must be a whole number between 1 and 1048576 (got \"lots\")"
    );
    assert_eq!(
        err("model:\n  isq: q3\n"),
        "/etc/x.yaml:2:8: model.isq: must be one of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2K, Q3K, Q4K, Q5K, Q6K, \
         Q8K, HQQ4, HQQ8 (got \"q3\")"
    );
    assert_eq!(err("sampling:\n  top_k: 500000\n"), "/etc/x.yaml:2:10: sampling.top_k: must be between 0 and 100000 (got 500000)");
    assert_eq!(err("sampling:\n  top_k: 1.5\n"), "/etc/x.yaml:2:10: sampling.top_k: must be a whole number between 0 and 100000 (got 1.5)");
    assert!(parse("model:\n  device: cuda:0\n  isq: hqq8\n", Path::new("x")).is_ok());
    assert_eq!(
        err("model:\n  cpu_weights: fast\n"),
        "/etc/x.yaml:2:16: model.cpu_weights: unknown variant `fast`, expected one of `auto`, `native`, `q8_0`, `f32`"
    );
    let c = parse("model:\n  cpu_weights: f32\n", Path::new("x")).unwrap();
    assert_eq!(c.model.cpu_weights, llamadeck_engine::CpuWeights::F32);
}

#[test]
fn type_errors_say_what_to_write_not_which_rust_type() {
    let err = |text: &str| parse(text, Path::new("/etc/x.yaml")).unwrap_err().to_string();
    assert_eq!(
        err("sampling:\n  temperature: hot\n"),
        "/etc/x.yaml:2:16: sampling.temperature: must be a number between 0 and 2 (got \"hot\")"
    );
    assert_eq!(err("sampling: 5\n"), "/etc/x.yaml:1:11: sampling: must be a mapping (key: value lines) (got 5)");
    assert_eq!(err("server:\n  port: 70000\n"), "/etc/x.yaml:2:9: server.port: must be a whole number between 1 and 65535 (got 70000)");
    assert_eq!(err("ui:\n  hints: maybe\n"), "/etc/x.yaml:2:10: ui.hints: must be true or false (got \"maybe\")");
    assert_eq!(err("- a\n"), "/etc/x.yaml:1:1: the file must be a mapping (key: value lines) (got a list)");
    assert_eq!(err("model:\n  allow_download: yes\n"), "/etc/x.yaml:2:19: model.allow_download: must be true or false (got \"yes\")");
    for text in ["gpu:\n  interval_ms: x\n", "sampling:\n  stop: 3\n", "keys:\n  quit: ctrl+q\n", "sampling:\n  seed: -1\n"] {
        let e = err(text);
        assert!(!["u64", "f64", "u32", "i64", "struct", "a sequence", "expected"].iter().any(|w| e.contains(w)), "{e}");
    }
}

#[test]
fn a_line_indented_into_the_value_above_is_reported_where_it_is() {
    let err = |text: &str| parse(text, Path::new("/etc/x.yaml")).unwrap_err().to_string();
    assert_eq!(
        err("gpu:\n  interval_ms: 500\n    history_secs: 60\n"),
        "/etc/x.yaml:3:5: gpu.interval_ms: must be a whole number between 100 and 60000 (got \"500 history_secs\"): \
         this line is indented more than line 2, so YAML read it as part of that value; indent it like the keys around it"
    );
    assert_eq!(
        err("sampling:\n  system_prompt: hi\n   temperature: 0.7\n"),
        "/etc/x.yaml:3:15: sampling: unexpected `key:` here: indent this line like the keys around it, or put quotes around a \
         value that holds \": \""
    );
}

#[test]
fn a_key_given_twice_is_reported_at_its_second_place() {
    let err = |text: &str| parse(text, Path::new("/etc/x.yaml")).unwrap_err().to_string();
    assert_eq!(
        err("sampling:\n  temperature: 0.5\ngpu: {}\nsampling:\n  top_p: 0.3\n"),
        "/etc/x.yaml:4:1: sampling: given a second time (first on line 1); keep one"
    );
    assert_eq!(
        err("sampling:\n  temperature: 0.5\n  top_p: 0.3\n  temperature: 0.7\n"),
        "/etc/x.yaml:4:3: sampling.temperature: given a second time (first on line 2); keep one"
    );
}

#[test]
fn model_download_memory_and_prefix_cache_keys_reach_the_model_spec() {
    use llamadeck_engine::PrefixCache;
    let defaults = Config::default().model_spec(None);
    assert_eq!((defaults.allow_download, defaults.skip_memory_check, defaults.prefix_cache), (false, false, PrefixCache::Auto));
    let c = parse("model:\n  allow_download: true\n  skip_memory_check: true\n  prefix_cache: 512 MiB\n", Path::new("x")).unwrap();
    let spec = c.model_spec(Some("owner/name"));
    assert_eq!((spec.source.as_str(), spec.allow_download, spec.skip_memory_check), ("owner/name", true, true));
    assert_eq!(spec.prefix_cache, PrefixCache::Bytes(512 << 20));
    for (text, value) in [("off", PrefixCache::Off), ("8 sequences", PrefixCache::Sequences(8)), ("2 GiB", PrefixCache::Bytes(2 << 30))] {
        let c = parse(&format!("model:\n  prefix_cache: {text}\n"), Path::new("x")).unwrap();
        assert_eq!(c.model.prefix_cache, value, "{text}");
    }
    let err = parse("model:\n  prefix_cache: lots\n", Path::new("/etc/x.yaml")).unwrap_err().to_string();
    assert_eq!(
        err,
        "/etc/x.yaml:2:3: model.prefix_cache: \"lots\": expected off, auto, a size such as 512 MiB or 2 GiB, or a count such \
         as 8 sequences"
    );
}

#[test]
fn paged_attention_reaches_the_model_spec_and_a_bad_share_is_named() {
    use llamadeck_engine::PagedAttention;
    assert_eq!(Config::default().model_spec(None).paged_attention, PagedAttention::Auto);
    let c = parse("model:\n  paged_attention: 80%\n", Path::new("x")).unwrap();
    assert_eq!(c.model_spec(None).paged_attention, PagedAttention::Share(0.8));
    let c = parse("model:\n  paged_attention: off\n", Path::new("x")).unwrap();
    assert_eq!(c.model_spec(None).paged_attention, PagedAttention::Off);
    let err = parse("model:\n  paged_attention: 150%\n", Path::new("/etc/x.yaml")).unwrap_err().to_string();
    assert_eq!(err, "/etc/x.yaml:2:3: model.paged_attention: \"150%\": expected auto, off, or a share of the GPU's memory such as 80%");
}

// ---- files that are not what they seem ----

/// Runs `f` on a thread and waits a bounded time: a load that blocks fails the test.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the config load returned instead of blocking")
}

#[test]
fn a_fifo_a_device_or_a_huge_file_as_config_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let huge = dir.path().join("huge.yaml");
    std::fs::File::create(&huge).unwrap().set_len(config::MAX_CONFIG_BYTES + (1 << 20)).unwrap();
    for (file, why) in [
        (fifo, "not a regular file (a named pipe)"),
        (PathBuf::from("/dev/zero"), "not a regular file (a character device)"),
        (huge, "too large (2 MiB; at most 1 MiB is read)"),
    ] {
        let shown = file.display().to_string();
        let err = within_seconds(move || config::load(Some(&file)).unwrap_err());
        assert_eq!(err.to_string(), format!("{shown}: cannot read: {why}"));
    }
}

#[test]
fn deeply_nested_yaml_is_refused_at_its_line_before_the_parser_reads_it() {
    let deep = |n: usize, item: &str| item.repeat(n);
    // Block mappings one a line, each indented one more: as deep as the 1 MiB limit allows.
    let indented: String = (0..1400).map(|level| format!("{}k:\n", " ".repeat(level))).collect();
    assert!(indented.len() as u64 <= config::MAX_CONFIG_BYTES);
    let cases = [
        ("flow sequences", format!("sampling:\n  stop: {}\n", deep(40_000, "[")), "2:71"),
        ("flow mappings", format!("sampling:\n  stop: {}\n", deep(40_000, "{a: ")), "2:257"),
        ("block sequences", format!("nodes:\n{}x\n", deep(40_000, "- ")), "2:127"),
        ("block mappings by explicit keys", format!("keys:\n{}x\n", deep(40_000, "? ")), "2:129"),
        ("block mappings by indentation", indented, "65:65"),
    ];
    for (what, text, place) in cases {
        let started = std::time::Instant::now();
        let err = parse(&text, Path::new("c.yaml")).unwrap_err().to_string();
        let took = started.elapsed();
        assert_eq!(err, format!("c.yaml:{place}: nesting deeper than 64 levels (a llamadeck config nests at most 4)"), "{what}");
        assert!(took < std::time::Duration::from_secs(2), "{what}: {took:?}");
    }
    // From a file, the error names it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    std::fs::write(&path, format!("# a comment\nsampling:\n  stop: {}\n", deep(500_000, "["))).unwrap();
    let err = within_seconds(move || config::load(Some(&path)).unwrap_err());
    assert_eq!(err.to_string(), format!("{}:3:71: nesting deeper than 64 levels (a llamadeck config nests at most 4)", err.path.display()));
}

#[test]
fn brackets_in_comments_quotes_and_block_text_are_not_nesting() {
    let many = "[{".repeat(200);
    let text = format!(
        "# {many}\nsampling:  # {many}\n  system_prompt: |\n    {many}\n    - - - - -\n  stop: [\"{many}\", '{many}']\npresets:\n  terse:\n    temperature: 0.2\n"
    );
    let c = parse(&text, Path::new("c.yaml")).unwrap();
    assert_eq!(c.sampling.system_prompt, format!("{many}\n- - - - -\n"));
    assert_eq!(c.sampling.stop, [many.clone(), many]);
}

#[test]
fn loading_removes_temp_files_a_crashed_save_left_beside_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "ui:\n  fps: 10\n").unwrap();
    // Pid 0 is never a running writer.
    let stale = dir.path().join(".config.yaml.0.1.0.tmp");
    let other = dir.path().join(".other.yaml.0.1.0.tmp");
    std::fs::write(&stale, "half").unwrap();
    std::fs::write(&other, "not ours").unwrap();
    config::load(Some(&path)).unwrap();
    assert!(!stale.exists() && other.exists());
}

// ---- paths and loading ----

#[test]
fn config_path_prefers_xdg_and_falls_back_to_home() {
    let home = Path::new("/home/op");
    assert_eq!(config_path_from(Some("/xdg".as_ref()), Some(home)), Some(PathBuf::from("/xdg/llamadeck/config.yaml")));
    assert_eq!(config_path_from(None, Some(home)), Some(PathBuf::from("/home/op/.config/llamadeck/config.yaml")));
    // Empty or relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
    assert_eq!(config_path_from(Some("".as_ref()), Some(home)), config_path_from(None, Some(home)));
    assert_eq!(config_path_from(Some("rel".as_ref()), Some(home)), config_path_from(None, Some(home)));
    assert_eq!(config_path_from(None, None), None);
}

/// Runs in a child process of its own (this test binary again), with XDG_CONFIG_HOME set for
/// it: setting a variable in this process would race the tests running beside it.
#[test]
fn load_without_a_file_gives_defaults_and_a_missing_explicit_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "load_without_a_file_child", "--test-threads=1"])
        .env("XDG_CONFIG_HOME", dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
#[ignore = "the child process of load_without_a_file_gives_defaults_and_a_missing_explicit_file_is_an_error"]
fn load_without_a_file_child() {
    let dir = PathBuf::from(std::env::var_os("XDG_CONFIG_HOME").expect("set by the parent"));
    let loaded = config::load(None).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(!loaded.existed);
    assert_eq!(loaded.path, dir.join("llamadeck/config.yaml"));
    assert_eq!(config::default_config_path(), Some(dir.join("llamadeck/config.yaml")));

    let missing = dir.join("nope.yaml");
    let err = config::load(Some(&missing)).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: no such file", missing.display()));
}

// ---- keys ----

fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

#[test]
fn key_names_parse_and_display_round_trip() {
    let cases = [
        ("ctrl+q", "Ctrl+Q"),
        ("CTRL+Q", "Ctrl+Q"),
        ("Ctrl+Q", "Ctrl+Q"),
        ("alt+enter", "Alt+Enter"),
        ("shift+enter", "Shift+Enter"),
        ("f1", "F1"),
        ("?", "?"),
        ("esc", "Esc"),
        ("tab", "Tab"),
        ("shift+tab", "Shift+Tab"),
        ("backtab", "Shift+Tab"),
        ("pageup", "PgUp"),
        ("pgup", "PgUp"),
        ("pagedown", "PgDn"),
        ("ctrl+home", "Ctrl+Home"),
        ("ctrl+up", "Ctrl+Up"),
        ("space", "Space"),
        ("ctrl+space", "Ctrl+Space"),
        ("ctrl++", "Ctrl++"),
        ("+", "+"),
        ("ctrl+shift+a", "Ctrl+Shift+A"),
        ("shift+a", "A"),
        ("Q", "Q"),
        ("ctrl+alt+del", "Ctrl+Alt+Del"),
    ];
    for (name, shown) in cases {
        let key = KeyBinding::parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.to_string(), shown, "{name}");
        assert_eq!(KeyBinding::parse(shown), Ok(key), "{shown} reads back");
    }
    for bad in ["", "ctrl+", "hyper+q", "ctrl+nope", "f0", "f25"] {
        assert!(KeyBinding::parse(bad).is_err(), "{bad:?} should fail");
    }
}

#[test]
fn default_keymap_and_lookup() {
    let map = Keymap::defaults();
    let cases = [
        (KeyCode::Enter, KeyModifiers::NONE, Command::Send),
        (KeyCode::Enter, KeyModifiers::ALT, Command::InsertNewline),
        (KeyCode::Enter, KeyModifiers::SHIFT, Command::InsertNewline),
        (KeyCode::Char('j'), KeyModifiers::CONTROL, Command::InsertNewline),
        (KeyCode::Esc, KeyModifiers::NONE, Command::Stop),
        (KeyCode::Char('q'), KeyModifiers::CONTROL, Command::Quit),
        (KeyCode::Char('c'), KeyModifiers::CONTROL, Command::Quit),
        (KeyCode::Tab, KeyModifiers::NONE, Command::FocusNext),
        (KeyCode::F(1), KeyModifiers::NONE, Command::ToggleHelp),
        (KeyCode::Char('?'), KeyModifiers::NONE, Command::ToggleHelp),
        // Terminals report '?' with SHIFT held.
        (KeyCode::Char('?'), KeyModifiers::SHIFT, Command::ToggleHelp),
        (KeyCode::Up, KeyModifiers::CONTROL, Command::ScrollUp),
        (KeyCode::Down, KeyModifiers::CONTROL, Command::ScrollDown),
        (KeyCode::PageUp, KeyModifiers::NONE, Command::PageUp),
        (KeyCode::PageDown, KeyModifiers::NONE, Command::PageDown),
        (KeyCode::Home, KeyModifiers::CONTROL, Command::ScrollTop),
        (KeyCode::End, KeyModifiers::CONTROL, Command::FollowTail),
        (KeyCode::Char('r'), KeyModifiers::CONTROL, Command::Regenerate),
        (KeyCode::Char('e'), KeyModifiers::CONTROL, Command::EditLast),
        (KeyCode::Char('l'), KeyModifiers::CONTROL, Command::ClearConversation),
        (KeyCode::Char('p'), KeyModifiers::CONTROL, Command::NextPreset),
        (KeyCode::Char('s'), KeyModifiers::CONTROL, Command::SaveSettings),
        (KeyCode::F(5), KeyModifiers::NONE, Command::ReloadModel),
    ];
    for (code, mods, command) in cases {
        assert_eq!(map.lookup(&press(code, mods)), Some(command), "{code:?} {mods:?}");
    }
    assert_eq!(map.lookup(&press(KeyCode::Char('q'), KeyModifiers::NONE)), None);
    assert_eq!(map.lookup(&press(KeyCode::Up, KeyModifiers::NONE)), None);
    let mut release = press(KeyCode::F(1), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert_eq!(map.lookup(&release), None);
    for command in Command::ALL {
        assert!(!map.keys_for(command).is_empty(), "{} has a default key", command.name());
    }
    let shown: Vec<String> = map.keys_for(Command::ToggleHelp).iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["F1", "?"]);
}

#[test]
fn backtab_is_shift_tab() {
    let mut keys = BTreeMap::new();
    keys.insert("focus_next".to_string(), vec!["shift+tab".to_string()]);
    let map = Keymap::from_config(&keys).unwrap();
    assert_eq!(map.lookup(&press(KeyCode::BackTab, KeyModifiers::NONE)), Some(Command::FocusNext));
    assert_eq!(map.lookup(&press(KeyCode::BackTab, KeyModifiers::SHIFT)), Some(Command::FocusNext));
    assert_eq!(map.lookup(&press(KeyCode::Tab, KeyModifiers::NONE)), None);
}

#[test]
fn keymap_config_errors_name_the_command() {
    let one = |cmd: &str, keys: &[&str]| {
        let mut m = BTreeMap::new();
        m.insert(cmd.to_string(), keys.iter().map(|k| k.to_string()).collect());
        Keymap::from_config(&m).unwrap_err()
    };
    assert_eq!(one("nuke", &["f9"]).0, "nuke");
    assert_eq!(one("quit", &["ctrl+zz"]).0, "quit");
    let mut both = BTreeMap::new();
    both.insert("clear".to_string(), vec!["f9".to_string()]);
    both.insert("quit".to_string(), vec!["F9".to_string()]);
    assert_eq!(Keymap::from_config(&both).unwrap_err(), ("quit".to_string(), "F9 is already bound to clear".to_string()));
}

// ---- saving ----

fn commented_fixture_in_temp() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let text = std::fs::read_to_string(fixture("save_commented.yaml")).unwrap();
    std::fs::write(&path, &text).unwrap();
    (dir, path, text)
}

/// Lines that are comments. The fixtures indent comments by at most two spaces; a `#` line
/// deeper than that is the text of a block-scalar system prompt (like the fixture's own
/// `# this line is prompt text`), not a comment.
fn comment_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.trim_start().starts_with('#') && l.len() - l.trim_start().len() <= 2).collect()
}

#[test]
fn save_rewrites_values_in_place_and_keeps_comments() {
    let (_dir, path, before) = commented_fixture_in_temp();
    let mut sampling = parse(&before, &path).unwrap().sampling;
    sampling.temperature = 1.25;
    sampling.top_k = 50;
    sampling.seed = Some(7);
    sampling.stop = vec!["\"quoted\"".into(), "line\nbreak".into()];
    sampling.system_prompt = "New prompt.\n\n  indented: yes # not a comment\n".into();
    sampling.raw_mode = true;
    save_sampling(&path, &sampling, Some("creative")).unwrap();

    let after = std::fs::read_to_string(&path).unwrap();
    let config = parse(&after, &path).unwrap();
    assert_eq!(config.sampling, sampling);
    assert_eq!(config.preset.as_deref(), Some("creative"));
    assert_eq!(config.server.port, 8229);
    assert_eq!(comment_lines(&after), comment_lines(&before), "after:\n{after}");
    // The old prompt's `# this line is prompt text` was value, not comment: it is gone.
    assert!(!after.contains("prompt text"), "{after}");
    // Lines whose value changed keep their trailing comments.
    assert!(after.contains("\n  device: cpu   # no GPU on this box\n"), "{after}");
    assert!(after.contains("\n  temperature: 1.25   # trailing comment stays\n"), "{after}");
    assert!(after.contains("\n  seed: 7 # random for now\n"), "{after}");
    assert!(after.contains("\npreset: \"creative\" # was picked in the TUI\n"), "{after}");
    // Keys that were missing are added after the last key, above the section's trailing comment.
    assert!(after.contains("  max_tokens: 512\n  min_p: 0.0\n"), "{after}");
    // Everything outside the sampling section and the preset line is byte-identical.
    let head = |t: &str| t[..t.find("sampling:").unwrap()].to_string();
    let tail = |t: &str| t[t.find("\n\n# Servers.").unwrap()..].to_string();
    assert_eq!(head(&after), head(&before));
    assert_eq!(tail(&after), tail(&before));
}

#[test]
fn save_into_the_documented_defaults_keeps_every_comment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, DEFAULT_CONFIG_YAML).unwrap();
    let sampling = Sampling { system_prompt: "Short.\nTwo lines.".into(), stop: vec!["###".into()], ..Sampling::default() };
    save_sampling(&path, &sampling, Some("balanced")).unwrap();
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(comment_lines(&after), comment_lines(DEFAULT_CONFIG_YAML));
    let config = parse(&after, &path).unwrap();
    assert_eq!(config, Config { sampling, preset: Some("balanced".into()), ..Config::default() });
    // The prompt stays a `|-` block (three lines for the old four); stop and preset changed in place.
    assert!(after.contains("\n  system_prompt: |-\n    Short.\n    Two lines.\n  # true = raw"), "{after}");
    assert_eq!(after.lines().count(), DEFAULT_CONFIG_YAML.lines().count() - 1);
}

#[test]
fn save_refuses_a_file_that_is_not_valid_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let before = std::fs::read(fixture("bad_syntax.yaml")).unwrap();
    std::fs::write(&path, &before).unwrap();
    let err = save_sampling(&path, &Sampling::default(), None).unwrap_err();
    assert!(err.to_string().contains("not valid YAML"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
}

#[test]
fn save_refuses_a_deeply_nested_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let before = format!("sampling:\n  stop: {}\n", "[".repeat(40_000)).into_bytes();
    std::fs::write(&path, &before).unwrap();
    let started = std::time::Instant::now();
    let err = save_sampling(&path, &Sampling::default(), None).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(err.to_string().ends_with("config.yaml: 2:71: nesting deeper than 64 levels, not changing it"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn save_creates_a_missing_file_as_the_documented_defaults_with_the_new_values() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/er/config.yaml");
    let sampling = Sampling { max_tokens: 64, ..Sampling::default() };
    save_sampling(&path, &sampling, Some("precise")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(comment_lines(&text), comment_lines(DEFAULT_CONFIG_YAML), "every documented comment is there");
    assert!(text.contains("\n  max_tokens: 64\n") && text.contains("\npreset: \"precise\"\n"), "{text}");
    assert_eq!(text.lines().count(), DEFAULT_CONFIG_YAML.lines().count());
    let config = parse(&text, &path).unwrap();
    assert_eq!(config, Config { sampling, preset: Some("precise".into()), ..Config::default() });
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700), "private: settings hold the system prompt");
}

#[test]
fn save_keeps_a_multi_line_system_prompt_a_block() {
    let (_dir, path, _) = commented_fixture_in_temp();
    std::fs::write(&path, "sampling:\n  system_prompt: |\n    Old.\n    Prompt.\n  top_p: 0.5\n").unwrap();
    let mut sampling = Sampling { top_p: 0.5, ..Sampling::default() };
    sampling.system_prompt = "You are terse.\n\nAnswer in: one line # really\n".into();
    save_sampling(&path, &sampling, None).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("sampling:\n  system_prompt: |\n    You are terse.\n\n    Answer in: one line # really\n  top_p: 0.5\n"),
        "{text}"
    );
    assert_eq!(parse(&text, &path).unwrap().sampling, sampling);
}

#[test]
fn save_writes_through_a_symlink_and_refuses_a_read_only_file() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, real, before) = commented_fixture_in_temp();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("linked.yaml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let sampling = Sampling { temperature: 1.1, ..Sampling::default() };
    save_sampling(&link, &sampling, None).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert_eq!(parse(&std::fs::read_to_string(&real).unwrap(), &real).unwrap().sampling, sampling);
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640, "its mode is kept");

    std::fs::write(&real, &before).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = save_sampling(&link, &sampling, None).unwrap_err();
    let shown = std::fs::canonicalize(&real).unwrap().display().to_string();
    assert_eq!(err.to_string(), format!("{shown} is read-only (mode 444); it was left as it was"));
    assert_eq!(std::fs::read_to_string(&real).unwrap(), before);
}

#[test]
fn save_adds_a_section_to_a_file_without_one_and_handles_flow_style() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "ui:\n  fps: 10 # slow link").unwrap();
    save_sampling(&path, &Sampling::default(), Some("precise")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("ui:\n  fps: 10 # slow link\nsampling:\n"), "{text}");
    let config = parse(&text, &path).unwrap();
    assert_eq!((config.ui.fps, config.preset.as_deref()), (10, Some("precise")));

    std::fs::write(&path, "sampling: {temperature: 1.5, top_p: 0.5} # compact\npreset: creative\n").unwrap();
    let sampling = Sampling { top_p: 0.25, ..Sampling::default() };
    save_sampling(&path, &sampling, None).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("sampling: # compact\n  temperature: 0.6\n"), "{text}");
    assert!(text.ends_with("preset: null\n"), "{text}");
    let config = parse(&text, &path).unwrap();
    assert_eq!((config.sampling, config.preset), (sampling, None));
}

#[cfg(unix)]
#[test]
fn save_keeps_the_file_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path, _) = commented_fixture_in_temp();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    save_sampling(&path, &Sampling::default(), None).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

fn any_sampling() -> impl Strategy<Value = Sampling> {
    let text = prop_oneof![any::<String>(), "[ -~\n\t]{0,40}", "[\"'#:|>\\\\ \n-]{0,12}"];
    (
        (0.0..=2.0f64, 0.0..=1.0f64, 0..=1000u32, 0.0..=1.0f64, 1.0..=2.0f64),
        (-2.0..=2.0f64, -2.0..=2.0f64, 1..=131072u32, proptest::option::of(any::<u64>())),
        (proptest::collection::vec(text.clone(), 0..=8), text, any::<bool>()),
    )
        .prop_map(|((temperature, top_p, top_k, min_p, rep), (pres, freq, max_tokens, seed), (stop, system_prompt, raw_mode))| {
            Sampling {
                temperature,
                top_p,
                top_k,
                min_p,
                repetition_penalty: rep,
                presence_penalty: pres,
                frequency_penalty: freq,
                max_tokens,
                seed,
                stop,
                system_prompt,
                raw_mode,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn saved_sampling_reads_back_exactly(first in any_sampling(), second in any_sampling()) {
        let (_dir, path, before) = commented_fixture_in_temp();
        // Twice: the second save edits what the first one wrote.
        for sampling in [&first, &second] {
            save_sampling(&path, sampling, None).unwrap();
            let after = std::fs::read_to_string(&path).unwrap();
            let config = parse(&after, &path).unwrap();
            prop_assert_eq!(&config.sampling, sampling);
            prop_assert_eq!(config.preset, None);
            prop_assert!(after.starts_with(&before[..before.find("sampling:").unwrap()]));
            prop_assert!(after.ends_with("\n# Servers.\nserver:\n  port: 8229\n"));
            prop_assert_eq!(comment_lines(&after), comment_lines(&before));
        }
        // Saving the same values again changes nothing.
        let once = std::fs::read(&path).unwrap();
        save_sampling(&path, &second, None).unwrap();
        prop_assert_eq!(std::fs::read(&path).unwrap(), once);
    }
}
mod nodes;

/// Every problem in the file, in line order, one a line: serde's type errors (it stops at the
/// first, so the loader reads on without each) and the range checks together.
#[test]
fn every_problem_is_reported_in_line_order() {
    let text = "model:\n  device: gpu\nsampling:\n  temperature: 5\n  top_k: lots\n  temprature: 1\n\
                gpu:\n  interval_ms: 10\nui:\n  fps: fast\n";
    let err = parse(text, Path::new("c.yaml")).expect_err("six problems");
    let lines: Vec<String> = err.to_string().lines().map(str::to_string).collect();
    let places: Vec<&str> = lines.iter().map(|l| l.split(": ").next().unwrap()).collect();
    assert_eq!(places, ["c.yaml:2:11", "c.yaml:4:16", "c.yaml:5:10", "c.yaml:6:3", "c.yaml:8:16", "c.yaml:10:8"], "{lines:#?}");
    assert!(lines[0].contains("model.device") && lines[2].contains("sampling.top_k") && lines[5].contains("ui.fps"), "{lines:#?}");
    assert!(lines[3].contains("unknown field `temprature`"), "{lines:#?}");
    assert_eq!(err.each().count(), 6);
}

/// More than twenty problems: the first twenty by line.
#[test]
fn at_most_twenty_problems_are_reported() {
    let text = format!("presets:\n{}", (0..30).map(|i| format!("  p{i:02}:\n    temperature: 9\n")).collect::<String>());
    let err = parse(&text, Path::new("c.yaml")).expect_err("thirty problems");
    assert_eq!(err.each().count(), 20);
    assert!(err.to_string().lines().next().unwrap().starts_with("c.yaml:3:18: presets.p00.temperature"), "{err}");
}

/// A syntax error stops the reading: it is reported alone.
#[test]
fn a_syntax_error_is_reported_alone() {
    let err = parse("sampling:\n  temperature: 9\n  top_p: [1\n", Path::new("c.yaml")).expect_err("broken");
    assert_eq!(err.each().count(), 1, "{err}");
}
