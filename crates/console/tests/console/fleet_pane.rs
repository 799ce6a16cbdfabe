//! The fleet pane and the chat's target in the reducer and on screen: readings arrive, F6
//! opens the pane, Enter switches the chat's engine (news of the engine left is dropped), a
//! target that comes back is asked again, a remote target's GPUs fill the GPU panel. Eight
//! nodes fit at 80×24.
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use llamadeck_config::Config;
use llamadeck_console::app::{Action, Effect, State, update};
use llamadeck_console::panes::fleet::FleetPane;
use llamadeck_console::session::ModelState;
use llamadeck_console::session::fleet::FleetView;
use llamadeck_engine::{EngineEvent, ModelSpec};
use llamadeck_fleet::{Fleet, Health, NodeReading};
use llamadeck_gpu::snapshot::{GpuDevice, GpuSnapshot, GpuStatus};
use llamadeck_words::keys::Keymap;
use llamadeck_words::prom::{self, EngineKind, EngineStats, GpuStats, TokenRates};
use llamadeck_words::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const GIB: u64 = 1 << 30;

fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn h100(index: u32, used_gib: u64, util: f64) -> GpuStats {
    GpuStats {
        index: Some(index),
        model: Some("NVIDIA H100 80GB HBM3".into()),
        memory_used_bytes: Some(used_gib * GIB),
        memory_total_bytes: Some(80 * GIB),
        utilization_percent: Some(util),
        temperature_celsius: Some(52.0),
        power_watts: Some(312.0),
        ..GpuStats::default()
    }
}

fn up(name: &str, gpus: usize) -> NodeReading {
    NodeReading {
        name: name.into(),
        address: format!("127.0.0.1:80{:02}", name.len()),
        health: Health::Up,
        model: Some("meta-llama/Llama-2-13b-chat-hf".into()),
        context_len: 4096,
        engine: Some(EngineStats {
            kind: EngineKind::Vllm,
            running: Some(3.0),
            waiting: Some(1.0),
            kv_cache_usage: Some(0.43),
            prompt_tokens: Some(1000.0),
            generated_tokens: Some(5000.0),
            ttft_sum_seconds: Some(1.8),
            ttft_count: Some(10.0),
        }),
        rates: TokenRates { prompt_per_second: Some(310.0), generated_per_second: Some(41.2) },
        gpus: (0..gpus).map(|i| h100(i as u32, 20 + 10 * i as u64, 15.0 * i as f64)).collect(),
        gpus_dropped: 0,
        problems: Vec::new(),
    }
}

fn down(name: &str, why: &str) -> NodeReading {
    NodeReading { name: name.into(), address: "127.0.0.1:9".into(), health: Health::Down(why.into()), ..NodeReading::default() }
}

/// A console whose model here is loaded, with nodes `names` (none polled yet).
fn console(names: &[&str]) -> State {
    let spec = ModelSpec { source: "/models/llama-2-13b-chat.Q4_K_M.gguf".into(), ..ModelSpec::default() };
    let mut state = State::new(&Config::default(), Keymap::defaults(), spec, Theme::PLAIN, std::time::Instant::now());
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    state.session.fleet = FleetView::new(&names, true, None);
    update(&mut state, Action::Status { epoch: 0, event: EngineEvent::Loaded { model: "llama-2-13b-chat".into(), context_len: 4096 } });
    let mut local = GpuSnapshot { status: GpuStatus::Nvml { driver: None }, ..GpuSnapshot::default() };
    local.devices.push(GpuDevice {
        index: 0,
        name: "NVIDIA L4".into(),
        memory_used: Some(9 * GIB),
        memory_total: Some(24 * GIB),
        util_gpu: Some(50),
        ..GpuDevice::default()
    });
    update(&mut state, Action::Gpu(Arc::new(local)));
    state
}

fn readings(state: &mut State, nodes: Vec<NodeReading>) -> Vec<Effect> {
    update(state, Action::Fleet(Arc::new(Fleet { nodes })))
}

fn screen(state: &State, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| llamadeck_console::ui::render(f, state)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..h).map(|y| (0..w).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>() + "\n").collect()
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!($name, $value));
    }};
}

#[test]
fn enter_switches_the_chat_to_the_node_and_news_of_the_engine_left_is_dropped() {
    let mut state = console(&["gpu-a", "gpu-b"]);
    readings(&mut state, vec![up("gpu-a", 2), down("gpu-b", "cannot connect to 127.0.0.1:9: Connection refused")]);
    assert!(update(&mut state, key(KeyCode::F(6))).is_empty());
    assert!(state.panes.is_open::<FleetPane>());
    assert_eq!(state.panes.find::<FleetPane>().map_or(0, |p| p.selected), 0, "the pane opens on the chat's target: the model here");
    update(&mut state, key(KeyCode::Down));
    let effects = update(&mut state, key(KeyCode::Enter));
    assert_eq!(effects, [Effect::UseEngine { node: Some("gpu-a".into()), epoch: 1 }]);
    assert!(!state.panes.is_open::<FleetPane>());
    assert!(matches!(&state.session.model.state, ModelState::Loading { stage, .. } if stage == "asking gpu-a"));
    // The model here said it is loaded just before the switch: that news is not about gpu-a.
    update(&mut state, Action::Status { epoch: 0, event: EngineEvent::Loaded { model: "llama-2-13b-chat".into(), context_len: 4096 } });
    assert!(matches!(state.session.model.state, ModelState::Loading { .. }));
    update(
        &mut state,
        Action::Status { epoch: 1, event: EngineEvent::Loaded { model: "meta-llama/Llama-2-13b-chat-hf".into(), context_len: 4096 } },
    );
    assert_eq!(state.session.model.name(), Some("meta-llama/Llama-2-13b-chat-hf"));
    // The GPU panel shows gpu-a's GPUs, from its metrics.
    let gpu = state.session.fleet.target_gpu.clone().expect("gpu-a's GPUs");
    assert_eq!(gpu.devices.len(), 2);
    assert_eq!((gpu.devices[1].memory_used, gpu.devices[1].util_gpu), (Some(30 * GIB), Some(15)));
    // Back to the model here: its state as it was left, until its own news comes.
    update(&mut state, key(KeyCode::F(6)));
    assert_eq!(state.panes.find::<FleetPane>().map_or(0, |p| p.selected), 1, "the pane opens on gpu-a");
    update(&mut state, key(KeyCode::Home));
    assert_eq!(update(&mut state, key(KeyCode::Enter)), [Effect::UseEngine { node: None, epoch: 2 }]);
}

#[test]
fn switching_while_answering_is_refused_and_watched_only_nodes_cannot_be_chosen() {
    let mut state = console(&["gpu-a", "dcgm"]);
    state.session.config.nodes =
        serde_yaml::from_str("[{name: gpu-a, url: 'http://127.0.0.1:1/v1'}, {name: dcgm, metrics: ['http://127.0.0.1:9400/metrics']}]")
            .unwrap();
    readings(&mut state, vec![up("gpu-a", 1), up("dcgm", 4)]);
    for c in "hello".chars() {
        update(&mut state, key(KeyCode::Char(c)));
    }
    update(&mut state, key(KeyCode::Enter));
    assert!(state.session.chat.generating.is_some());
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::Down));
    assert!(update(&mut state, key(KeyCode::Enter)).is_empty());
    assert!(state.session.notice.as_ref().unwrap().text.contains("stop the answer first"));
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::End));
    assert!(update(&mut state, key(KeyCode::Enter)).is_empty());
    assert!(state.session.notice.as_ref().unwrap().text.contains("dcgm has no url"), "{:?}", state.session.notice);
}

#[test]
fn a_target_that_comes_back_up_is_asked_again() {
    let mut state = console(&["gpu-a"]);
    readings(&mut state, vec![up("gpu-a", 1)]);
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::Down));
    update(&mut state, key(KeyCode::Enter));
    update(&mut state, Action::Status { epoch: 1, event: EngineEvent::LoadFailed { reason: "cannot connect to 127.0.0.1:8005".into() } });
    assert!(screen(&state, 100, 30).contains("gpu-a is not serving: cannot connect"));
    assert!(readings(&mut state, vec![down("gpu-a", "cannot connect")]).is_empty());
    assert_eq!(readings(&mut state, vec![up("gpu-a", 1)]), [Effect::UseEngine { node: Some("gpu-a".into()), epoch: 2 }]);
    // Once: the next reading, still up, asks nothing.
    assert!(readings(&mut state, vec![up("gpu-a", 1)]).is_empty());
}

#[test]
fn model_from_the_command_box_is_refused_while_the_chat_talks_to_a_node() {
    let mut state = console(&["gpu-a"]);
    readings(&mut state, vec![up("gpu-a", 1)]);
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::Down));
    update(&mut state, key(KeyCode::Enter));
    assert!(update(&mut state, Action::ModelChosen(ModelSpec { source: "/m.gguf".into(), ..ModelSpec::default() })).is_empty());
    assert!(state.session.notice.as_ref().unwrap().text.contains("choose local in the fleet pane (F6) first"));
}

/// The local node, seven up or down, one loading: eight nodes and the model here at 80×24.
fn eight_nodes() -> State {
    let names = ["gpu-a", "gpu-b", "gpu-c", "gpu-d", "vllm-tp8", "dead-1", "dead-2", "starting"];
    let mut state = console(&names);
    let mut nodes: Vec<NodeReading> = names[..5].iter().enumerate().map(|(i, n)| up(n, [1, 2, 4, 0, 8][i])).collect();
    nodes[3].engine = None;
    nodes[3].rates = TokenRates::default();
    nodes[3].problems.push("http://127.0.0.1:8004/metrics: answered 404".into());
    nodes.push(down("dead-1", "cannot connect to 127.0.0.1:9: Connection refused (os error 111)"));
    nodes.push(down("dead-2", "127.0.0.1:7 did not answer within 2 s"));
    nodes.push(NodeReading {
        name: "starting".into(),
        health: Health::Loading("127.0.0.1:8229 is not ready: the model is loading".into()),
        ..NodeReading::default()
    });
    readings(&mut state, nodes);
    state
}

#[test]
fn screen_fleet_pane_with_eight_nodes_at_80x24() {
    let mut state = eight_nodes();
    update(&mut state, Action::Resize(80, 24));
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::Down));
    let text = screen(&state, 80, 24);
    for name in ["local", "gpu-a", "vllm-tp8", "dead-2", "starting"] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    snapshot!("fleet_pane_80x24", text);
}

#[test]
fn screen_chatting_with_a_remote_node_shows_its_gpus() {
    let mut state = eight_nodes();
    update(&mut state, Action::Resize(100, 30));
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::Down));
    update(&mut state, key(KeyCode::Down));
    update(&mut state, key(KeyCode::Enter));
    update(
        &mut state,
        Action::Status { epoch: 1, event: EngineEvent::Loaded { model: "meta-llama/Llama-2-13b-chat-hf".into(), context_len: 4096 } },
    );
    let text = screen(&state, 100, 30);
    assert!(text.contains("● gpu-b: meta-llama") && text.contains("fleet 6/9 up"), "{text}");
    snapshot!("remote_target_100x30", text);
}

#[test]
fn a_remote_target_without_gpu_metrics_says_how_to_get_them_and_nothing_about_this_host() {
    let mut state = console(&["bare"]);
    readings(&mut state, vec![up("bare", 0)]);
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::Down));
    update(&mut state, key(KeyCode::Enter));
    let text = screen(&state, 100, 30);
    assert!(text.contains("bare publishes no GPU metrics"), "{text}");
    // Advice --connect can follow: the exporter given with --metrics (its words may wrap).
    let reason = match llamadeck_console::session::fleet::gpu_snapshot(&up("bare", 0)).status {
        GpuStatus::Unavailable { reason } => reason,
        other => panic!("{other:?}"),
    };
    assert!(reason.contains("--metrics http://HOST:9400/metrics"), "{reason}");
    assert!(!text.contains("on the host") && !text.contains("pid 0"), "{text}");
}

#[test]
fn the_fleet_pane_draws_at_any_size() {
    let mut state = eight_nodes();
    update(&mut state, key(KeyCode::F(6)));
    for (w, h) in [(1, 1), (20, 5), (60, 16), (80, 24), (61, 40), (300, 100)] {
        update(&mut state, Action::Resize(w, h));
        let _ = screen(&state, w, h);
    }
}

/// A node as the poller reads it from `scrape`, its rates from a first reading `before` taken
/// a millisecond earlier.
fn scraped(name: &str, before: &str, scrape: &str) -> NodeReading {
    let (before, now) = (prom::snapshot(&prom::parse(before)), prom::snapshot(&prom::parse(scrape)));
    NodeReading {
        name: name.into(),
        address: "127.0.0.1:8009".into(),
        health: Health::Up,
        model: Some("hostile".into()),
        context_len: 4096,
        rates: prom::token_rates(&before, &now, 0.001),
        engine: now.engine,
        gpus: now.gpus,
        gpus_dropped: now.gpus_dropped,
        problems: Vec::new(),
    }
}

#[test]
fn values_without_sense_show_as_unknown_and_numbers_stay_short() {
    // The node: inf and -5 requests, an infinite KV cache, 1e308 tokens and seconds, a
    // GPU whose every reading is nonsense; then one that writes a series 100,000 times and lists
    // 60,000 GPUs.
    let hostile = concat!(
        "vllm:num_requests_running{engine=\"0\"} +Inf\n",
        "vllm:num_requests_waiting{engine=\"0\"} -5\n",
        "vllm:kv_cache_usage_perc{engine=\"0\"} +Inf\n",
        "vllm:prompt_tokens_total 1e308\n",
        "vllm:generation_tokens_total 9e15\n",
        "vllm:time_to_first_token_seconds_sum 1e308\n",
        "vllm:time_to_first_token_seconds_count 1\n",
        "DCGM_FI_DEV_GPU_TEMP{gpu=\"0\",modelName=\"NVIDIA H100\"} 1e308\n",
        "DCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} -5\n",
        "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} +Inf\n",
        "DCGM_FI_DEV_FB_USED{gpu=\"0\"} 1e308\n",
        "DCGM_FI_DEV_FB_FREE{gpu=\"0\"} 1e308\n",
    );
    let mut copies = "vllm:num_requests_running 1\n".repeat(100_000);
    copies.extend((0..20_000).map(|gpu| format!("DCGM_FI_DEV_GPU_TEMP{{gpu=\"{gpu}\"}} 40\n")));
    assert!(copies.len() < prom::parse::MAX_BYTES);
    let mut state = console(&["hostile", "copies"]);
    readings(&mut state, vec![scraped("hostile", "vllm:generation_tokens_total 0\n", hostile), scraped("copies", "", &copies)]);
    update(&mut state, Action::Resize(100, 30));
    update(&mut state, key(KeyCode::F(6)));
    update(&mut state, key(KeyCode::Down));
    let pane = screen(&state, 100, 30);
    let line =
        |name: &str| pane.lines().find(|l| l.contains(&format!(" {name} "))).unwrap_or_else(|| panic!("{name}:\n{pane}")).to_string();
    assert!(line("hostile").contains("hostile                –/–    –      –  ··"), "{pane}");
    assert!(line("copies").contains(" 1/– "), "{pane}");
    assert!(pane.contains("│vLLM        ") && pane.contains("│gpu 0 · NVIDIA H100     "), "nothing but the names:\n{pane}");
    update(&mut state, key(KeyCode::Down));
    let copies_pane = screen(&state, 100, 30);
    // Of the 20,000, the parser keeps a metric's first 4096 series; of those, 64 are shown.
    let dropped = prom::parse::MAX_PER_FAMILY - prom::MAX_GPUS;
    assert!(
        copies_pane.contains(&format!("GPUs: the first 64 shown, {dropped} more left out (llamadeck keeps 64 a node)")),
        "{copies_pane}"
    );
    // The GPU panel, chatting with the hostile node.
    update(&mut state, key(KeyCode::Up));
    update(&mut state, key(KeyCode::Enter));
    let panel = screen(&state, 100, 30);
    assert!(panel.contains("temp n/a pwr n/a") && panel.contains("n/a bw n/a"), "{panel}");
    for text in [&pane, &copies_pane, &panel] {
        for nonsense in ["inf", "NaN", "-5", "100000", "4294967295"] {
            assert!(!text.to_lowercase().contains(&nonsense.to_lowercase()), "{nonsense} on screen:\n{text}");
        }
        let longest = text.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0);
        assert!(longest <= 6, "a number {longest} digits long on screen:\n{text}");
    }
}
