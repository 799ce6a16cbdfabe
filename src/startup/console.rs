//! The console: config, logging, the engine, the GPU sampler, the API server, signals and the
//! terminal, all feeding one inbox, and the loop over it.
use std::time::Duration;

use crate::cli::Cli;
use llamadeck_config::Loaded;
use llamadeck_console::app::{Action, Inbox, State};
use llamadeck_console::tui::effects::Effects;
use llamadeck_console::tui::engine_link::EngineLink;
use llamadeck_console::tui::event_loop::{self, Exit, LoopIo};
use llamadeck_engine::Run;
use llamadeck_fleet::Target;
use llamadeck_words::keys::Keymap;

/// Opens the console. Returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        super::say("no terminal: the console needs one (for the API alone, use `llamadeck serve`)");
        return 2;
    }
    // Before the runtime's and the engine's threads exist (rayon reads it once).
    llamadeck_engine::bench::use_threads(cli.threads);
    let (loaded, keymap) = match llamadeck_config::load_with_keymap(cli.config.as_deref()) {
        Ok(ok) => ok,
        Err(e) => {
            super::say(&e);
            return 2;
        }
    };
    let nodes = match super::fleet::targets(&loaded) {
        Ok(nodes) => nodes,
        Err(e) => {
            super::say(&e);
            return 2;
        }
    };
    let connect =
        match cli.connect.as_deref().map(|given| super::fleet::connect_target(given, &cli.metrics, &nodes, |v| std::env::var(v).ok())) {
            None => None,
            Some(Ok(target)) => Some(target),
            Some(Err(e)) => {
                super::say(&e);
                return 2;
            }
        };
    let log = super::logging::log_path();
    let _log_guard = match super::logging::to_file(&log) {
        Ok(guard) => guard,
        Err(e) => {
            super::say(&format!("cannot open the log file {}: {e}", log.display()));
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            super::say(&format!("cannot start the runtime: {e}"));
            return 1;
        }
    };
    let inbox = Inbox::new();
    let problems = inbox.sender();
    let report = Box::new(move |text: String| {
        problems.send(Action::Problem(text));
    });
    llamadeck_console::tui::terminal::install_panic_hook(log.display().to_string(), Some(report));
    let result = runtime.block_on(console(cli, loaded, keymap, nodes, connect, inbox));
    llamadeck_console::tui::terminal::restore();
    // The engine thread may still be loading; don't wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(Exit::Quit | Exit::InputClosed) => 0,
        Ok(Exit::Signal(name)) => {
            tracing::info!("exiting on {name}");
            0
        }
        Err(e) => {
            super::say(&format!("{e:#}"));
            1
        }
    }
}

async fn console(
    cli: Cli,
    loaded: Loaded,
    keymap: Keymap,
    mut nodes: Vec<Target>,
    connect: Option<Target>,
    inbox: Inbox,
) -> anyhow::Result<Exit> {
    let mut launch = cli.launch();
    // --host, --port and --no-api over the file's server section (F5 keeps them: see `Launch`).
    let config = loaded.config.with_launch(&launch);
    let theme = config.ui.color.theme(std::env::var("NO_COLOR").ok().as_deref());
    let to_inbox = inbox.sender();

    // The server --connect names is one of the fleet's nodes; the fleet polls them all, each on
    // its own task.
    if let Some(target) = connect.as_ref().filter(|t| !nodes.iter().any(|n| n.name == t.name)) {
        nodes.push(target.clone());
    }
    // Each node with an API gets an engine, asked what it serves when the chat turns to it.
    let mut engines = Vec::new();
    for node in &nodes {
        if let Some(api) = &node.api {
            engines.push((node.name.clone(), super::engine::open(&Run::Node(api.clone())).map_err(anyhow::Error::msg)?));
        }
    }
    if !nodes.is_empty() {
        llamadeck_console::tui::producers::fleet(
            llamadeck_fleet::spawn(nodes.clone(), llamadeck_fleet::DEFAULT_INTERVAL),
            to_inbox.clone(),
        );
    }
    // What the chat runs on: the node --connect names (no model here, and no API of its own:
    // it has no model to share), else the model here.
    let target = connect.as_ref().map(|t| t.name.clone());
    launch.connect = connect.as_ref().and_then(|t| t.api.as_ref()).map(|api| api.base_url.clone());
    // The console's model row: the model here, or (with --connect) the node's URL.
    let spec = config.launch_spec(&launch);
    let run = match connect.as_ref().and_then(|t| t.api.clone()) {
        Some(api) => Run::Node(api),
        None => Run::Local(spec.clone()),
    };
    let engine = match engines.iter().find(|(name, _)| Some(name) == target.as_ref()) {
        Some((_, engine)) => engine.clone(),
        None => super::engine::open(&run).map_err(anyhow::Error::msg)?,
    };
    super::engine::start(&engine, &run);
    let gpu = llamadeck_gpu::spawn_sampler(llamadeck_gpu::open_source(), Duration::from_millis(config.gpu.interval_ms));
    llamadeck_console::tui::producers::gpu(gpu.clone(), to_inbox.clone());
    // Kept until the console exits; a port in use is shown in the status bar.
    let _api = match connect {
        Some(_) => None,
        None => {
            let log = Some(super::logging::request_log_path());
            llamadeck_server::start_for_console(&config, cli.insecure, engine.clone(), gpu, to_inbox.sink(Action::Server), log).await
        }
    };
    llamadeck_console::tui::producers::signals(llamadeck_console::signals::shutdown_signals()?, to_inbox.clone());

    let mut state = State::new(&config, keymap, spec, theme, std::time::Instant::now());
    state.session.model.launch = launch;
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    state.session.fleet = llamadeck_console::session::fleet::FleetView::new(&names, connect.is_none(), target);
    let mut terminal = llamadeck_console::tui::terminal::enter(config.ui.mouse)?;
    llamadeck_console::tui::producers::terminal(crossterm::event::EventStream::new(), to_inbox);
    let link = EngineLink::new(engine, inbox.sender()).with_nodes(engines, connect.is_none());
    let mut effects = Effects::new(link, loaded.path, inbox.sender()).clipboard(Box::new(|bytes: &[u8]| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }));
    if let Some(dir) = llamadeck_store::data_dir() {
        effects = effects.store(llamadeck_store::worker::Worker::spawn(dir, inbox.sender().sink(Action::Store))?);
    }
    let io = LoopIo { inbox, effects, fps: config.ui.fps };
    let result = event_loop::run(&mut terminal, &mut state, io).await;
    llamadeck_console::tui::terminal::restore();
    result.map(|(exit, _)| exit)
}
