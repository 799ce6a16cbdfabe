//! The whole loop with scripted producers: keys through a terminal event stream, a scripted
//! engine and GPU readings into the inbox, frames out of a TestBackend.
use std::io;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use llamadeck_console::app::Inbox;
use llamadeck_console::tui::event_loop::{Exit, run};
use llamadeck_console::tui::producers;
use llamadeck_words::chat::MessageStatus;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, watch};

use super::doubles::*;
use crate::shared_screen::SharedScreen;

fn press(tx: &futures::channel::mpsc::UnboundedSender<io::Result<Event>>, code: KeyCode, mods: KeyModifiers) {
    tx.unbounded_send(Ok(Event::Key(KeyEvent::new(code, mods)))).unwrap();
}

fn type_in(tx: &futures::channel::mpsc::UnboundedSender<io::Result<Event>>, text: &str) {
    text.chars().for_each(|c| press(tx, KeyCode::Char(c), KeyModifiers::NONE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_stream_stop_resize_and_quit_with_capped_redraws() {
    let words: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
    let engine = scripted_engine(words, Duration::from_millis(2));
    let (_gpu_tx, gpu_rx) = watch::channel(shared(gpus(2)));
    let (keys, key_rx) = futures::channel::mpsc::unbounded();
    let dir = tempfile::tempdir().unwrap();
    let mut state = state();
    engine.load(state.session.model.spec.clone()).expect("an in-process engine loads models");
    let inbox = Inbox::new();
    producers::terminal(key_rx, inbox.sender());
    producers::gpu(gpu_rx, inbox.sender());
    let config = dir.path().join("config.yaml");
    let io = loop_io(inbox, engine, config.clone());
    let driver = tokio::spawn(async move {
        let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
        pause(100).await;
        type_in(&keys, "hello");
        press(&keys, KeyCode::Enter, KeyModifiers::NONE);
        pause(1500).await; // 200 tokens at 2 ms each
        keys.unbounded_send(Ok(Event::Resize(1, 1))).unwrap();
        pause(50).await;
        keys.unbounded_send(Ok(Event::Resize(100, 30))).unwrap();
        type_in(&keys, "again");
        press(&keys, KeyCode::Enter, KeyModifiers::NONE);
        pause(60).await;
        press(&keys, KeyCode::Esc, KeyModifiers::NONE);
        pause(100).await;
        press(&keys, KeyCode::Char('s'), KeyModifiers::CONTROL);
        // The save runs off the loop's thread: quit once it is on disk (written atomically).
        let saving = std::time::Instant::now();
        while !config.exists() && saving.elapsed() < Duration::from_secs(10) {
            pause(10).await;
        }
        press(&keys, KeyCode::Char('q'), KeyModifiers::CONTROL);
        keys
    });
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let started = std::time::Instant::now();
    let (exit, stats) =
        tokio::time::timeout(Duration::from_secs(20), run(&mut terminal, &mut state, io)).await.expect("the loop finishes").unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    drop(driver.await.unwrap());

    assert_eq!(exit, Exit::Quit);
    assert_eq!(state.session.chat.messages.len(), 4, "{:#?}", state.session.chat.messages);
    assert_eq!(state.session.chat.messages[1].status, MessageStatus::Complete);
    assert!(state.session.chat.messages[1].text.starts_with("w0 w1 w2") && state.session.chat.messages[1].text.contains("w199"));
    assert_eq!(state.session.chat.messages[3].status, MessageStatus::Stopped);
    assert!(!state.session.chat.messages[3].text.contains("w199"));
    // Redraws are capped: far fewer draws than token events, and no more than the frame rate allows.
    assert!(stats.actions > 200, "{stats:?}");
    assert!((stats.draws as f64) <= elapsed * 30.0 + 10.0, "{stats:?} in {elapsed:.2}s");
    assert!(std::fs::read_to_string(dir.path().join("config.yaml")).unwrap().contains("temperature"));
    let text = format!("{}", terminal.backend());
    assert!(text.contains("llama-2-13b-chat"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_ends_the_loop() {
    let engine = scripted_engine(vec![], Duration::from_millis(1));
    let (_gpu_tx, gpu_rx) = watch::channel(shared(no_gpu()));
    let (signal_tx, signals) = mpsc::unbounded_channel();
    let (_keys, key_rx) = futures::channel::mpsc::unbounded::<io::Result<Event>>();
    let inbox = Inbox::new();
    producers::terminal(key_rx, inbox.sender());
    producers::gpu(gpu_rx, inbox.sender());
    producers::signals(signals, inbox.sender());
    let io = loop_io(inbox, engine, "/nonexistent/config.yaml".into());
    signal_tx.send("SIGHUP").unwrap();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut state = state();
    let (exit, _) = run(&mut terminal, &mut state, io).await.unwrap();
    assert_eq!(exit, Exit::Signal("SIGHUP"));
}

/// An engine whose load never ends (a 26 GB model on a slow disk).
struct NeverLoads(std::sync::Arc<watch::Sender<llamadeck_engine::EngineStatus>>);

impl llamadeck_engine::LoadModel for NeverLoads {
    fn load(&self, _spec: llamadeck_engine::ModelSpec) {
        let stages = vec!["reading weights".to_string()];
        let loading =
            llamadeck_engine::EngineStatus { load_id: 1, state: llamadeck_engine::LoadState::Loading, stages, ..Default::default() };
        self.0.send_replace(loading);
    }
}

impl llamadeck_engine::Backend for NeverLoads {
    fn refresh(&self) {}
    fn loader(&self) -> Option<&dyn llamadeck_engine::LoadModel> {
        Some(self)
    }
    fn status(&self) -> watch::Receiver<llamadeck_engine::EngineStatus> {
        self.0.subscribe()
    }
    fn generate(&self, _request: llamadeck_engine::GenerateRequest, sink: llamadeck_engine::GenerationSink) {
        use llamadeck_engine::{GenError, GenErrorKind, GenEvent};
        sink.send(GenEvent::Failed(GenError::new(GenErrorKind::NotReady, "the model is not loaded yet")));
    }
}

/// GPU readings arrive every 20 ms while the model loads: the loading time on screen still
/// counts up from the clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loading_timer_counts_while_gpu_readings_arrive() {
    let (status, _) = watch::channel(llamadeck_engine::EngineStatus::default());
    let engine = llamadeck_engine::Engine::new(NeverLoads(std::sync::Arc::new(status)));
    let mut state = state();
    engine.load(state.session.model.spec.clone()).expect("an in-process engine loads models");
    let (gpu_tx, gpu_rx) = watch::channel(shared(gpus(1)));
    let (keys, key_rx) = futures::channel::mpsc::unbounded();
    let inbox = Inbox::new();
    producers::terminal(key_rx, inbox.sender());
    producers::gpu(gpu_rx, inbox.sender());
    let dir = tempfile::tempdir().unwrap();
    let io = loop_io(inbox, engine, dir.path().join("config.yaml"));
    let screen = SharedScreen::new(100, 30);
    let watching = screen.clone();
    let driver = tokio::spawn(async move {
        let readings = tokio::spawn(async move {
            for i in 0u64.. {
                let mut snapshot = gpus(1);
                snapshot.devices[0].memory_used = Some(i << 20);
                if gpu_tx.send(shared(snapshot)).is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let counted = watching.wait_for("◌ loading 1 s", Duration::from_secs(5)).await;
        let screen = watching.text();
        press(&keys, KeyCode::Char('q'), KeyModifiers::CONTROL);
        readings.abort();
        (counted, screen)
    });
    let mut terminal = Terminal::new(screen).unwrap();
    let (exit, _) = tokio::time::timeout(Duration::from_secs(20), run(&mut terminal, &mut state, io)).await.unwrap().unwrap();
    let (counted, text) = driver.await.unwrap();
    assert_eq!(exit, Exit::Quit);
    assert!(counted, "the timer never reached 1 s:\n{text}");
    assert!(text.contains("reading weights · 1 s"), "the chat's note counts too:\n{text}");
}

/// F5 loads the model the console was started with (`--model`), not the config's, and takes
/// the file's values as they are now, so a later Ctrl+S keeps a hand edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f5_reloads_the_command_line_model_and_reads_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "model:\n  path: /models/from-config.gguf\nsampling:\n  temperature: 0.3\n").unwrap();
    let config = llamadeck_config::load_file(&path, true).unwrap().config;
    let spec = config.model_spec(Some("/models/from-cli.gguf"));
    let mut state = llamadeck_console::app::State::new(
        &config,
        llamadeck_words::keys::Keymap::defaults(),
        spec.clone(),
        llamadeck_words::theme::Theme::COLOR,
        std::time::Instant::now(),
    );
    let engine = scripted_engine(vec!["ok".into()], Duration::from_millis(1));
    engine.load(spec).expect("an in-process engine loads models");
    let (keys, key_rx) = futures::channel::mpsc::unbounded();
    let inbox = Inbox::new();
    producers::terminal(key_rx, inbox.sender());
    let io = loop_io(inbox, engine, path.clone());
    let screen = SharedScreen::new(120, 30);
    let watching = screen.clone();
    let edited = path.clone();
    let driver = tokio::spawn(async move {
        let wait = Duration::from_secs(10);
        let mut seen = vec![watching.wait_for("● from-cli.gguf", wait).await];
        // Edited by hand while the console runs.
        std::fs::write(&edited, "model:\n  path: /models/from-config.gguf\nsampling:\n  temperature: 0.2\n  top_p: 0.5\n").unwrap();
        press(&keys, KeyCode::F(5), KeyModifiers::NONE);
        seen.push(watching.wait_for("config read again", wait).await);
        press(&keys, KeyCode::Char('s'), KeyModifiers::CONTROL);
        seen.push(watching.wait_for("settings saved to", wait).await);
        let text = watching.text();
        press(&keys, KeyCode::Char('q'), KeyModifiers::CONTROL);
        (seen, text)
    });
    let mut terminal = Terminal::new(screen).unwrap();
    tokio::time::timeout(Duration::from_secs(30), run(&mut terminal, &mut state, io)).await.unwrap().unwrap();
    let (seen, text) = driver.await.unwrap();
    assert_eq!(seen, [true, true, true], "{text}");
    assert_eq!(state.session.model.spec.source, "/models/from-cli.gguf");
    assert_eq!(state.session.model.name(), Some("from-cli.gguf"), "a path shows as its file name");
    let saved = llamadeck_config::load_file(&path, true).unwrap().config;
    assert_eq!((saved.sampling.temperature, saved.sampling.top_p), (0.2, 0.5), "{}", std::fs::read_to_string(&path).unwrap());
    assert_eq!(saved.model.path.as_deref(), Some("/models/from-config.gguf"));
}
