//! The console with a fleet, through the whole loop (keys in, a TestBackend out): two
//! `llamadeck serve` nodes and one that hangs. The pane shows them, a question goes to each,
//! one is killed mid-answer (the answer ends with its error, the node shows down, the console
//! keeps drawing and the other still answers), and the killed one started again shows up.
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use llamadeck_console::app::Inbox;
use llamadeck_console::session::fleet::FleetView;
use llamadeck_console::tui::event_loop::{Exit, run};
use llamadeck_console::tui::producers;
use llamadeck_engine::remote::{self, NodeSpec};
use llamadeck_engine::{Backend, Engine, EngineStatus, GenEvent, GenerateRequest, GenerationSink};
use llamadeck_fleet::{self as fleet, Target};
use llamadeck_words::chat::MessageStatus;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{Notify, watch};

use super::doubles;
use super::procs::{Proc, llamadeck_serve};
use super::stub::{Behaviour, Stub};

pub type Keys = futures::channel::mpsc::UnboundedSender<io::Result<Event>>;

pub fn press(keys: &Keys, code: KeyCode) {
    keys.unbounded_send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))).unwrap();
}

pub fn type_in(keys: &Keys, text: &str) {
    text.chars().for_each(|c| press(keys, KeyCode::Char(c)));
}

pub use crate::shared_screen::SharedScreen as Screen;

/// A node's engine with a tap: the test hears when an answer's first piece arrives (one permit
/// an answer; a `Notify` keeps one permit, so a test consumes an answer's before the next).
pub struct Tapped(pub Engine, pub Arc<Notify>);

impl Backend for Tapped {
    fn refresh(&self) {
        self.0.refresh()
    }
    fn status(&self) -> watch::Receiver<EngineStatus> {
        self.0.watch_status()
    }
    fn generate(&self, request: GenerateRequest, mut sink: GenerationSink) {
        let (mut generation, tap) = (self.0.generate(request), self.1.clone());
        tokio::spawn(async move {
            let mut first = true;
            loop {
                tokio::select! {
                    _ = sink.cancelled() => generation.cancel(),
                    event = generation.next() => match event {
                        Some(event) => {
                            if first && matches!(event, GenEvent::Token(_)) {
                                first = false;
                                tap.notify_one();
                            }
                            sink.send(event);
                        }
                        None => return,
                    },
                }
            }
        });
    }
}

fn target(name: &str, url: &str, timeout: Duration) -> Target {
    let mut api = NodeSpec::new(name, url).unwrap();
    api.timeout = timeout;
    Target { name: name.into(), metrics: vec![format!("{}/metrics", api.root())], timeout, api: Some(api) }
}

pub fn answering(text: &str) -> bool {
    text.contains("answering · Esc stops")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_chats_with_two_serve_nodes_and_survives_losing_one() {
    let (mut a, mut b) = (llamadeck_serve(0), llamadeck_serve(0));
    let hung = Stub::start(Behaviour::Silent);
    tokio::task::block_in_place(|| {
        a.wait_ready(Duration::from_secs(120));
        b.wait_ready(Duration::from_secs(120));
    });
    let second = Duration::from_secs(1);
    let targets =
        vec![target("a", &a.url(), second), target("b", &b.url(), second), target("hung", &hung.url(), Duration::from_millis(500))];
    let b_tap = Arc::new(Notify::new());
    let engines = vec![
        ("a".to_string(), remote::connect(targets[0].api.clone().unwrap()).unwrap()),
        ("b".to_string(), Engine::new(Tapped(remote::connect(targets[1].api.clone().unwrap()).unwrap(), b_tap.clone()))),
        ("hung".to_string(), remote::connect(targets[2].api.clone().unwrap()).unwrap()),
    ];
    let (keys, key_rx) = futures::channel::mpsc::unbounded();
    let inbox = Inbox::new();
    producers::terminal(key_rx, inbox.sender());
    producers::fleet(fleet::spawn(targets, Duration::from_millis(300)), inbox.sender());
    let local = doubles::scripted_engine(vec!["local ".into()], Duration::from_millis(1));
    let mut state = doubles::state();
    local.load(state.session.model.spec.clone()).expect("the scripted engine loads models");
    state.session.sampling.temperature = 0.0;
    state.session.sampling.max_tokens = 40;
    state.session.sampling.system_prompt.clear();
    state.session.fleet = FleetView::new(&["a".into(), "b".into(), "hung".into()], true, None);
    let dir = tempfile::tempdir().unwrap();
    let io = doubles::loop_io_with_nodes(inbox, local, engines, true, dir.path().join("config.yaml"));
    let screen = Screen(Arc::new(Mutex::new(TestBackend::new(100, 30))));
    let watching = screen.clone();
    let driver = tokio::spawn(async move {
        let (s, long) = (&watching, Duration::from_secs(60));
        s.shows("fleet 3/4 up", long).await;
        // The hung node costs the loop nothing: a key shows at once.
        let typed = Instant::now();
        type_in(&keys, "x");
        s.shows("\"│x  ", Duration::from_secs(2)).await;
        assert!(typed.elapsed() < Duration::from_millis(500), "a key took {:?} to show", typed.elapsed());
        press(&keys, KeyCode::Backspace);
        // To a, and a question.
        press(&keys, KeyCode::F(6));
        s.shows("hung       down", long).await;
        press(&keys, KeyCode::Down);
        press(&keys, KeyCode::Enter);
        s.shows("● a: ", long).await;
        type_in(&keys, "Say hello.");
        press(&keys, KeyCode::Enter);
        s.until("a's answer", long, |t| !answering(t) && t.contains("tok/s")).await;
        // To b, a long answer, and b dies in the middle of it.
        press(&keys, KeyCode::F(6));
        press(&keys, KeyCode::Down);
        press(&keys, KeyCode::Enter);
        s.shows("● b: ", long).await;
        type_in(&keys, "Count from one to five hundred in words.");
        press(&keys, KeyCode::Enter);
        tokio::time::timeout(long, b_tap.notified()).await.expect("b starts answering");
        let port = b.addr.port();
        b.kill();
        s.until("the answer to end", long, |t| !answering(t)).await;
        press(&keys, KeyCode::F(6));
        s.until("b down", long, |t| t.contains("b          down") || t.contains("b          loading")).await;
        s.shows("b          down     cannot connect", long).await;
        // Back to a, which still answers.
        press(&keys, KeyCode::Up);
        press(&keys, KeyCode::Enter);
        s.shows("● a: ", long).await;
        type_in(&keys, "Say hi.");
        press(&keys, KeyCode::Enter);
        s.until("a's second answer", long, answering).await;
        s.until("a's second answer", long, |t| !answering(t)).await;
        // b again, on its port: it shows up.
        let b = llamadeck_serve(port);
        s.shows("fleet 3/4 up", Duration::from_secs(120)).await;
        press(&keys, KeyCode::Char('q'));
        let text = s.text();
        keys.unbounded_send(Ok(Event::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)))).unwrap();
        (text, b)
    });
    let mut terminal = Terminal::new(screen.clone()).unwrap();
    let (exit, _) =
        tokio::time::timeout(Duration::from_secs(400), run(&mut terminal, &mut state, io)).await.expect("the loop ends").unwrap();
    let (text, _b): (String, Proc) = match driver.await {
        Ok(done) => done,
        Err(e) => panic!("{e}\n{}", screen.text()),
    };
    assert_eq!(exit, Exit::Quit, "{text}");
    let answers: Vec<&MessageStatus> = state.session.chat.messages.iter().skip(1).step_by(2).map(|m| &m.status).collect();
    assert_eq!(answers.len(), 3, "{:#?}", state.session.chat.messages);
    assert_eq!(answers[0], &MessageStatus::Complete);
    match answers[1] {
        MessageStatus::Failed(why) => assert!(why.contains("lost b") || why.contains("b closed"), "{why}"),
        other => panic!("b's answer must end in an error, not {other:?}"),
    }
    assert_eq!(answers[2], &MessageStatus::Complete);
    assert!(
        state.session.chat.messages[1].model.as_deref().is_some_and(|m| m.ends_with(".gguf")),
        "{:?}",
        state.session.chat.messages[1].model
    );
}
