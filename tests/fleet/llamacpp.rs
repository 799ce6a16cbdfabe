//! A third-party engine: llama.cpp's OpenAI server (llama-cpp-python's `llama_cpp.server`) on
//! the demo model, through the remote engine as the console drives it.
use std::time::{Duration, Instant};

use llamadeck_engine::GenEvent;
use llamadeck_engine::remote::{self, NodeSpec};
use llamadeck_fleet::{self as fleet, Health, Target};
use llamadeck_words::chat::FinishReason;
use llamadeck_words::sampling::Sampling;

use super::procs::llama_cpp_server;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_cpp_streams_an_answer_with_stats_and_stops_at_once() {
    let mut server = llama_cpp_server();
    tokio::task::block_in_place(|| server.wait_ready(Duration::from_secs(120)));
    let engine = remote::connect(NodeSpec::new("llamacpp", &server.url()).unwrap()).unwrap();
    let facts = loaded(&engine).await;
    assert!(facts.name.ends_with("SmolLM2-135M-Instruct.Q4_1.gguf"), "{}", facts.name);

    // Every setting goes by llama.cpp's names: nothing is reported unsupported.
    let mut ask = question(1, "What is the capital of France?", 24);
    ask.sampling = Sampling { top_k: 40, min_p: 0.05, repetition_penalty: 1.1, seed: Some(3), ..ask.sampling };
    let mut generation = engine.generate(ask);
    let events = to_the_end(&mut generation, Duration::from_secs(120)).await;
    assert!(matches!(events[0], GenEvent::Started { .. }), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, GenEvent::Unsupported(_))), "{events:?}");
    assert!(!text_of(&events).trim().is_empty(), "{events:?}");
    match events.last() {
        Some(GenEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, stats }) => {
            assert!(stats.ttft_ms.is_some() && stats.decode_tok_s.is_some_and(|r| r > 0.0), "{stats:?}");
            assert!((2..=24).contains(&stats.completion_tokens), "{stats:?}");
        }
        other => panic!("{other:?}\n{}", server.output()),
    }

    // Raw mode goes to /v1/completions.
    let mut raw = question(2, "Once upon a time", 8);
    raw.sampling.raw_mode = true;
    let events = to_the_end(&mut engine.generate(raw), Duration::from_secs(120)).await;
    assert!(matches!(events.last(), Some(GenEvent::Finished { .. })) && !text_of(&events).is_empty(), "{events:?}");

    // Watched by the fleet while it answers: the answer still ends as it should (llama-cpp-python
    // ends an answer when another request needs its model; the poller does not ask it then).
    let mut watched = NodeSpec::new("llamacpp", &server.url()).unwrap();
    watched.timeout = Duration::from_millis(500);
    let target = Target { name: "llamacpp".into(), api: Some(watched), metrics: vec![], timeout: Duration::from_millis(500) };
    let readings = fleet::spawn(vec![target], Duration::from_millis(100));
    until("the node up", Duration::from_secs(10), || (readings.borrow().nodes[0].health == Health::Up).then_some(())).await;
    let events =
        to_the_end(&mut engine.generate(question(4, "Count from one to five hundred in words.", 48)), Duration::from_secs(120)).await;
    match events.last() {
        Some(GenEvent::Finished { reason: FinishReason::Length, stats }) => assert_eq!(stats.completion_tokens, 48, "{stats:?}"),
        other => panic!("{other:?}\n{}", server.output()),
    }
    assert_eq!(readings.borrow().nodes[0].health, Health::Up);
    drop(readings);

    // Cancelled after its first token, a long answer ends at once and the server stops it.
    let mut generation = engine.generate(question(3, "Count from one to five hundred in words.", 500));
    loop {
        if let GenEvent::Token(_) = next(&mut generation, Duration::from_secs(120)).await {
            break;
        }
    }
    let asked = Instant::now();
    generation.cancel();
    let end = loop {
        match next(&mut generation, Duration::from_secs(5)).await {
            GenEvent::Token(_) => continue,
            end => break end,
        }
    };
    assert!(matches!(end, GenEvent::Finished { reason: FinishReason::Stopped, .. }), "{end:?}");
    assert!(asked.elapsed() < Duration::from_millis(500), "stopped after {:?}", asked.elapsed());
    // llama-cpp-python prints this when it sees the client go, and stops generating.
    until("the server to notice", Duration::from_secs(30), || server.output().contains("Disconnected from client").then_some(())).await;
}

/// The console on llama.cpp's server alone (as `--connect` opens it): an answer streams with its
/// stats, and Esc stops the next one at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_chats_with_llama_cpp_and_esc_stops_it() {
    use super::console::{Screen, Tapped, answering, press, type_in};
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use llamadeck_console::app::Inbox;
    use llamadeck_console::session::fleet::FleetView;
    use llamadeck_console::tui::event_loop::run;
    use llamadeck_console::tui::producers;
    use llamadeck_words::chat::MessageStatus;
    use std::sync::{Arc, Mutex};

    let mut server = llama_cpp_server();
    tokio::task::block_in_place(|| server.wait_ready(Duration::from_secs(120)));
    let tap = Arc::new(tokio::sync::Notify::new());
    let node = NodeSpec::new("llamacpp", &server.url()).unwrap();
    let engine = llamadeck_engine::Engine::new(Tapped(remote::connect(node.clone()).unwrap(), tap.clone()));
    let mut state = super::doubles::state();
    state.session.sampling.temperature = 0.0;
    state.session.sampling.max_tokens = 300;
    state.session.sampling.system_prompt.clear();
    state.session.fleet = FleetView::new(&["llamacpp".into()], false, Some("llamacpp".into()));
    engine.refresh();
    let (keys, key_rx) = futures::channel::mpsc::unbounded();
    let inbox = Inbox::new();
    producers::terminal(key_rx, inbox.sender());
    let target = Target { name: "llamacpp".into(), api: Some(node), metrics: vec![], timeout: Duration::from_secs(1) };
    producers::fleet(fleet::spawn(vec![target], Duration::from_millis(300)), inbox.sender());
    let dir = tempfile::tempdir().unwrap();
    let io =
        super::doubles::loop_io_with_nodes(inbox, engine.clone(), vec![("llamacpp".into(), engine)], false, dir.path().join("config.yaml"));
    let screen = Screen(Arc::new(Mutex::new(ratatui::backend::TestBackend::new(100, 30))));
    let watching = screen.clone();
    let driver = tokio::spawn(async move {
        let (s, long) = (&watching, Duration::from_secs(60));
        s.shows("● llamacpp: ", long).await;
        type_in(&keys, "What is the capital of France?");
        press(&keys, KeyCode::Enter);
        s.until("the answer", long, answering).await;
        s.until("the answer's end", long, |t| !answering(t)).await;
        tokio::time::timeout(long, tap.notified()).await.expect("the first answer's piece, heard");
        let first_text = s.text();
        type_in(&keys, "Count from one to five hundred in words.");
        press(&keys, KeyCode::Enter);
        tokio::time::timeout(long, tap.notified()).await.expect("a piece of the second answer");
        let asked = Instant::now();
        press(&keys, KeyCode::Esc);
        s.until("the answer stopped", Duration::from_secs(5), |t| !answering(t)).await;
        let stopped_in = asked.elapsed();
        let text = s.text();
        keys.unbounded_send(Ok(Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)))).unwrap();
        (first_text, text, stopped_in)
    });
    let mut terminal = ratatui::Terminal::new(screen.clone()).unwrap();
    tokio::time::timeout(Duration::from_secs(180), run(&mut terminal, &mut state, io)).await.expect("the loop ends").unwrap();
    let (first_text, text, stopped_in) = driver.await.unwrap_or_else(|e| panic!("{e}\n{}", screen.text()));
    assert!(stopped_in < Duration::from_secs(1), "Esc took {stopped_in:?}");
    let first = &state.session.chat.messages[1];
    assert_eq!(first.status, MessageStatus::Complete, "{text}");
    assert!(!first.text.trim().is_empty(), "{text}");
    let stats = first.stats.as_ref().expect("stats");
    assert!(stats.ttft_ms.is_some() && stats.decode_tok_s.is_some(), "{stats:?}");
    let footer = format!("{:.1} tok/s · ttft {} ms", stats.decode_tok_s.unwrap(), stats.ttft_ms.unwrap());
    assert!(first_text.contains(&footer), "the chat's footer shows them after the answer:\n{first_text}");
    assert_eq!(state.session.chat.messages[3].status, MessageStatus::Stopped);
    until("the server to notice", Duration::from_secs(30), || server.output().contains("Disconnected from client").then_some(())).await;
}
