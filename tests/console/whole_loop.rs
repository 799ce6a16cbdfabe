//! The whole loop with scripted producers: keys through a terminal event stream, a scripted
//! engine and GPU readings into the inbox, frames out of a TestBackend.
use std::io;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use llamadeck::app::Inbox;
use llamadeck::chat::MessageStatus;
use llamadeck::tui::event_loop::{Exit, LoopIo, run};
use llamadeck::tui::producers;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, watch};

use super::doubles::*;

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
    engine.load(state.model_spec.clone());
    let inbox = Inbox::new();
    producers::terminal(key_rx, inbox.sender());
    producers::gpu(gpu_rx, inbox.sender());
    let io = LoopIo::new(inbox, engine, dir.path().join("config.yaml"));
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
        pause(50).await;
        press(&keys, KeyCode::Char('q'), KeyModifiers::CONTROL);
        keys
    });
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let started = std::time::Instant::now();
    let (exit, stats) = tokio::time::timeout(Duration::from_secs(20), run(&mut terminal, &mut state, io))
        .await
        .expect("the loop finishes")
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    drop(driver.await.unwrap());

    assert_eq!(exit, Exit::Quit);
    assert_eq!(state.messages.len(), 4, "{:#?}", state.messages);
    assert_eq!(state.messages[1].status, MessageStatus::Complete);
    assert!(state.messages[1].text.starts_with("w0 w1 w2") && state.messages[1].text.contains("w199"));
    assert_eq!(state.messages[3].status, MessageStatus::Stopped);
    assert!(!state.messages[3].text.contains("w199"));
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
    let io = LoopIo::new(inbox, engine, "/nonexistent/config.yaml".into());
    signal_tx.send("SIGHUP").unwrap();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut state = state();
    let (exit, _) = run(&mut terminal, &mut state, io).await.unwrap();
    assert_eq!(exit, Exit::Signal("SIGHUP"));
}
