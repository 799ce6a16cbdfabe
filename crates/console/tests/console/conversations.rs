//! Conversations: autosave, the view, resume, search, export, copy, hostile text, and the whole
//! loop with a real store.
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use llamadeck_console::app::{Action, Effect, State, update};
use llamadeck_console::panes::conversations::{Browser, BrowserMode};
use llamadeck_console::panes::resume::Resume;
use llamadeck_console::panes::search::SearchBar;
use llamadeck_engine::EngineCommand;
use llamadeck_store::{Conversation, Damaged, ExportFormat, Listing, Reply, Request, Summary};
use llamadeck_words::chat::{GenStats, Message, MessageStatus, Role};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::doubles::*;
use super::*;

fn saves(effects: &[Effect]) -> Vec<&Conversation> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Store(Request::Save { conversation, .. }) => Some(conversation.as_ref()),
            _ => None,
        })
        .collect()
}

fn summary(id: &str, title: &str, updated: u64, turns: usize, text: &str) -> Summary {
    Summary { id: id.into(), title: title.into(), updated, model: Some("llama-2-13b-chat".into()), turns, text: text.into() }
}

fn listing() -> Listing {
    Listing {
        entries: vec![
            summary(
                "20250102-154312-00aa",
                "What are the trade-offs of deploying models on-premise?",
                1_735_832_650,
                2,
                "on-premise gpu power",
            ),
            summary("20250101-090000-0b0b", "Explain NVML 🦙 and MIG", 1_735_722_000, 5, "nvml mig slices"),
            summary("20241231-235959-cccc", "שלום עולם: right-to-left e\u{301} 日本語", 1_735_689_599, 1, "hebrew"),
        ],
        damaged: vec![
            Damaged {
                file: "20241230-120000-dddd.json".into(),
                reason: "truncated (EOF while parsing a string at line 9 column 40)".into(),
            },
            Damaged { file: "20241229-120000-eeee.json".into(), reason: "unknown version 3 (this llamadeck reads version 1)".into() },
        ],
    }
}

#[test]
fn every_exchange_is_saved_with_its_settings_model_and_stats() {
    let mut s = ready_state();
    s.session.sampling.temperature = 0.3;
    type_text(&mut s, "hi");
    let effects = update(&mut s, key(KeyCode::Enter));
    let saved = saves(&effects);
    assert_eq!(saved.len(), 1, "the question is saved when sent");
    assert_eq!(saved[0].messages.len(), 1, "the streaming answer is not");
    assert_eq!(saved[0].id, None);
    let serial = s.session.chat.meta.serial;
    update(&mut s, Action::Store(Reply::Assigned { serial, id: "c1".into(), created: 5 }));
    assert_eq!(s.session.chat.meta.id.as_deref(), Some("c1"));
    let id = s.session.chat.generating.unwrap();
    update(&mut s, token(id, "hello"));
    let effects = update(&mut s, finish(id));
    let saved = saves(&effects);
    let answer = &saved[0].messages[1];
    assert_eq!(saved[0].id.as_deref(), Some("c1"));
    assert_eq!((answer.text.as_str(), &answer.status), ("hello", &MessageStatus::Complete));
    assert_eq!(answer.sampling.as_ref().unwrap().temperature, 0.3);
    assert_eq!(answer.model.as_deref(), Some("llama-2-13b-chat"));
    assert_eq!(answer.stats.as_ref().unwrap().completion_tokens, 2);
}

#[test]
fn stop_saves_the_partial_answer_and_a_new_conversation_gets_a_new_file() {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    let serial = s.session.chat.meta.serial;
    update(&mut s, Action::Store(Reply::Assigned { serial, id: "c1".into(), created: 5 }));
    update(&mut s, token(id, "part"));
    let effects = update(&mut s, key(KeyCode::Esc));
    let saved = saves(&effects);
    assert_eq!(saved[0].messages[1].status, MessageStatus::Stopped);
    assert_eq!(saved[0].messages[1].text, "part");
    let old_serial = s.session.chat.meta.serial;
    update(&mut s, ctrl('l'));
    assert_eq!(s.session.chat.meta.id, None);
    assert_ne!(s.session.chat.meta.serial, old_serial);
    // An id meant for the old conversation that arrives late is not taken.
    update(&mut s, Action::Store(Reply::Assigned { serial: old_serial, id: "c1".into(), created: 5 }));
    assert_eq!(s.session.chat.meta.id, None);
    // Shutdown with nothing streaming writes nothing new.
    assert!(update(&mut s, Action::Shutdown).is_empty());
}

#[test]
fn shutdown_mid_answer_stops_and_saves_it() {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    update(&mut s, token(id, "half an ans"));
    let effects = update(&mut s, Action::Shutdown);
    assert_eq!(effects[0], Effect::Engine(EngineCommand::Cancel(id)));
    assert_eq!(saves(&effects)[0].messages[1].text, "half an ans");
}

#[test]
fn resume_offer_enter_loads_esc_dismisses() {
    let mut s = ready_state();
    update(&mut s, Action::Store(Reply::Latest(Some(listing().entries[0].clone()))));
    assert!(s.panes.is_open::<Resume>());
    assert_eq!(update(&mut s, key(KeyCode::Enter)), vec![Effect::Store(Request::Load("20250102-154312-00aa".into()))]);
    assert!(!s.panes.is_open::<Resume>());
    let mut answer = Message::new(Role::Assistant, "loaded \x1b[2J answer", MessageStatus::Complete);
    answer.stats = Some(GenStats { prompt_tokens: 100, completion_tokens: 20, ..Default::default() });
    let c = Conversation {
        id: Some("20250102-154312-00aa".into()),
        title: None,
        created: Some(1),
        updated: Some(2),
        messages: vec![Message::user("old question"), answer],
    };
    update(&mut s, Action::Store(Reply::Loaded(Ok(c))));
    assert_eq!(s.session.chat.messages.len(), 2);
    assert_eq!(s.session.chat.meta.id.as_deref(), Some("20250102-154312-00aa"));
    assert_eq!(s.session.chat.context_used, 120);
    // The next exchange is saved into the same file.
    let effects = update(&mut s, Action::Paste("more".into()));
    assert!(effects.is_empty());
    let effects = update(&mut s, key(KeyCode::Enter));
    assert_eq!(saves(&effects)[0].id.as_deref(), Some("20250102-154312-00aa"));

    let mut s = ready_state();
    update(&mut s, Action::Store(Reply::Latest(Some(listing().entries[0].clone()))));
    update(&mut s, key(KeyCode::Esc));
    assert!(!s.panes.is_open::<Resume>() && s.session.chat.messages.is_empty());
    let mut s = ready_state();
    update(&mut s, Action::Store(Reply::Latest(Some(listing().entries[0].clone()))));
    type_text(&mut s, "hi");
    assert!(!s.panes.is_open::<Resume>(), "typing dismisses the offer");
    assert_eq!(s.panes.chat.input.lines(), ["hi"]);
}

#[test]
fn browse_open_rename_delete_filter() {
    let mut s = ready_state();
    assert_eq!(update(&mut s, key(KeyCode::F(3))), vec![Effect::Store(Request::List)]);
    update(&mut s, Action::Store(Reply::Listed(listing())));
    update(&mut s, key(KeyCode::Down));
    assert_eq!(s.panes.find::<Browser>().unwrap().selected, 1);
    // rename
    update(&mut s, key(KeyCode::Char('r')));
    assert!(matches!(s.panes.find::<Browser>().unwrap().mode, BrowserMode::Rename(_)));
    for _ in 0..40 {
        update(&mut s, key(KeyCode::Backspace));
    }
    type_text(&mut s, "MIG notes");
    let effects = update(&mut s, key(KeyCode::Enter));
    assert_eq!(effects, vec![Effect::Store(Request::Rename { id: "20250101-090000-0b0b".into(), title: "MIG notes".into() })]);
    assert_eq!(s.panes.find::<Browser>().unwrap().selected_entry().unwrap().title, "MIG notes");
    // delete asks first; n keeps it
    update(&mut s, key(KeyCode::Char('d')));
    assert!(update(&mut s, key(KeyCode::Char('n'))).is_empty());
    assert_eq!(s.panes.find::<Browser>().unwrap().visible().len(), 3);
    update(&mut s, key(KeyCode::Char('d')));
    assert_eq!(update(&mut s, key(KeyCode::Char('y'))), vec![Effect::Store(Request::Delete("20250101-090000-0b0b".into()))]);
    assert_eq!(s.panes.find::<Browser>().unwrap().visible().len(), 2);
    // search over all conversations
    update(&mut s, key(KeyCode::Char('/')));
    type_text(&mut s, "GPU");
    assert_eq!(s.panes.find::<Browser>().unwrap().visible().len(), 1);
    update(&mut s, key(KeyCode::Enter));
    let effects = update(&mut s, key(KeyCode::Enter));
    assert_eq!(effects, vec![Effect::Store(Request::Load("20250102-154312-00aa".into()))]);
    assert!(!s.panes.is_open::<Browser>());
    // n starts a new conversation
    update(&mut s, key(KeyCode::F(3)));
    update(&mut s, key(KeyCode::Char('n')));
    assert!(!s.panes.is_open::<Browser>() && s.session.chat.messages.is_empty());
    // Esc closes; quit still quits from the view
    update(&mut s, key(KeyCode::F(3)));
    update(&mut s, key(KeyCode::Esc));
    assert!(!s.panes.is_open::<Browser>());
    update(&mut s, key(KeyCode::F(3)));
    assert_eq!(update(&mut s, ctrl('q')), vec![Effect::Quit]);
}

/// Thirty exchanges; answer 3 holds "NEEDLE" (message 7).
fn haystack() -> State {
    let mut s = ready_state();
    update(&mut s, Action::Resize(100, 30));
    for i in 0..30 {
        let id = ask(&mut s, &format!("question {i}"));
        update(&mut s, token(id, if i == 3 { "the NEEDLE is here, a needle" } else { "hay" }));
        update(&mut s, finish(id));
    }
    s
}

#[test]
fn slash_twice_searches_the_conversation_and_only_from_an_empty_box() {
    let mut s = haystack();
    type_text(&mut s, "a/b");
    assert_eq!(s.panes.chat.input.lines(), ["a/b"]);
    assert!(!s.panes.is_open::<SearchBar>());
    s.panes.chat.input = llamadeck_console::panes::chat::new_input(s.session.theme);
    update(&mut s, key(KeyCode::Char('/')));
    assert!(!s.panes.is_open::<SearchBar>(), "one / starts a command");
    assert_eq!(s.panes.chat.input.lines(), ["/"]);
    update(&mut s, key(KeyCode::Char('/')));
    assert!(s.panes.is_open::<SearchBar>(), "a second / searches");
    assert!(s.panes.chat.input.is_empty());
    type_text(&mut s, "needle");
    let search = s.panes.find::<SearchBar>().unwrap();
    assert_eq!(search.hits.len(), 2, "every occurrence counts, not every message");
    assert_eq!(search.current_message(), Some(7));
    assert!(s.session.chat.scroll_top.is_some(), "scrolled to the match");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.panes.find::<SearchBar>().unwrap().current, Some(0), "Enter goes to the older match");
    update(&mut s, key(KeyCode::Esc));
    assert!(!s.panes.is_open::<SearchBar>());
}

#[test]
fn the_search_bar_only_searches() {
    let mut s = haystack();
    type_text(&mut s, "//");
    for query in ["export json", "model /models/a/b.gguf"] {
        type_text(&mut s, query);
        assert!(update(&mut s, key(KeyCode::Enter)).is_empty(), "{query}: Enter in the search bar ran something");
        let search = s.panes.find::<SearchBar>().expect("the search stays open");
        assert_eq!(search.text(), query);
        assert!(search.hits.is_empty());
        for _ in query.chars() {
            update(&mut s, key(KeyCode::Backspace));
        }
    }
}

#[test]
fn commands_run_from_the_message_box() {
    let mut s = haystack();
    type_text(&mut s, "/export json");
    assert!(!s.panes.is_open::<SearchBar>(), "typing a command never opens the search");
    let effects = update(&mut s, key(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::Store(Request::Export { format: ExportFormat::Json, .. })]), "{effects:?}");
    assert!(s.panes.chat.input.is_empty());
    update(&mut s, Action::Store(Reply::Exported(Ok("/data/exports/c.json".into()))));
    assert_eq!(s.session.notice.as_ref().unwrap().path.as_deref(), Some("/data/exports/c.json"));
    update(&mut s, Action::Paste("/export md".into()));
    let effects = update(&mut s, key(KeyCode::Enter));
    assert!(matches!(&effects[..], [Effect::Store(Request::Export { format: ExportFormat::Markdown, .. })]), "{effects:?}");
    // A mistyped or incomplete command is refused and kept, never sent to the model.
    for typed in ["/exprot md", "/model"] {
        type_text(&mut s, typed);
        assert!(update(&mut s, key(KeyCode::Enter)).is_empty(), "{typed}");
        assert_eq!(s.panes.chat.input.lines(), [typed]);
        assert!(s.session.notice.as_ref().unwrap().level == llamadeck_console::session::NoticeLevel::Warn);
        s.panes.chat.input = llamadeck_console::panes::chat::new_input(s.session.theme);
    }
    // Text that only starts with a slash is a message.
    type_text(&mut s, "/etc/hosts: what is it for?");
    generated_id(&update(&mut s, key(KeyCode::Enter)));
}

#[test]
fn ctrl_y_copies_the_last_answer() {
    let mut s = ready_state();
    assert!(update(&mut s, ctrl('y')).is_empty());
    let id = ask(&mut s, "q");
    update(&mut s, token(id, "answer text"));
    update(&mut s, finish(id));
    assert_eq!(update(&mut s, ctrl('y')), vec![Effect::Clipboard("answer text".into())]);
    update(&mut s, Action::Copied(Ok(11)));
    assert!(s.session.notice.as_ref().unwrap().text.contains("copied"));
}

#[test]
fn control_characters_typed_as_keys_are_ignored() {
    let mut s = ready_state();
    for c in ['\x1b', '\u{9b}', '\u{202e}', '\x07'] {
        update(&mut s, key(KeyCode::Char(c)));
    }
    assert!(s.panes.chat.input.is_empty());
}

fn browsing() -> State {
    let mut s = conversation();
    let serial = s.session.chat.meta.serial;
    update(&mut s, Action::Store(Reply::Assigned { serial, id: "20250102-154312-00aa".into(), created: 1 }));
    update(&mut s, key(KeyCode::F(3)));
    update(&mut s, Action::Store(Reply::Listed(listing())));
    s
}

#[test]
fn screen_conversations_view() {
    snapshot!("console__conversations__screen_conversations_view", screen(&browsing(), 120, 30).backend());
}

#[test]
fn screen_conversations_confirm_delete_and_small() {
    let mut s = browsing();
    update(&mut s, key(KeyCode::Down));
    update(&mut s, key(KeyCode::Char('d')));
    snapshot!("console__conversations__confirm_delete", screen(&s, 80, 20).backend());
    update(&mut s, key(KeyCode::Esc));
    update(&mut s, key(KeyCode::Char('/')));
    type_text(&mut s, "zzz");
    snapshot!("console__conversations__filter_no_match", screen(&s, 60, 16).backend());
}

#[test]
fn screen_resume_offer_and_search() {
    let mut s = ready_state();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    update(&mut s, Action::Store(Reply::Latest(Some(listing().entries[1].clone()))));
    snapshot!("console__conversations__resume_offer", screen(&s, 100, 30).backend());
    let mut s = conversation();
    update(&mut s, Action::Resize(100, 30));
    update(&mut s, key(KeyCode::Esc));
    type_text(&mut s, "//trade");
    snapshot!("console__conversations__search", screen(&s, 100, 30).backend());
}

#[test]
fn wide_rtl_and_combining_text_keeps_the_borders() {
    let mut s = ready_state();
    let id = ask(&mut s, "שלום עולם مرحبا بالعالم e\u{301}\u{302}\u{303} 🦙🦙👩‍👩‍👧‍👦 日本語のテキスト ＡＢＣ");
    update(&mut s, token(id, &"🦙日本\u{200f}ا\u{64b}e\u{301}".repeat(40)));
    for (w, h) in [(60, 16), (61, 17), (97, 30), (120, 34)] {
        let t = screen(&s, w, h);
        let buf = t.backend().buffer();
        let chat_w = llamadeck_words::layout::areas(ratatui::layout::Rect::new(0, 0, w, h), 1).chat.width;
        for y in 1..h - 5 {
            let left = buf[(0, y)].symbol();
            let right = buf[(chat_w - 1, y)].symbol();
            assert!(left == "│" && right == "│", "{w}x{h} row {y}: {left:?} {right:?}\n{}", t.backend());
        }
    }
}

#[test]
fn a_one_megabyte_paste_is_accepted_without_freezing() {
    let mut s = ready_state();
    let paste: String = "0123456789 abcdefghij 🦙 日本語\n".repeat((1 << 20) / 40);
    assert!(paste.len() <= llamadeck_console::app::update::MAX_PASTE_BYTES);
    let start = std::time::Instant::now();
    update(&mut s, Action::Paste(paste.clone()));
    let pasted = start.elapsed();
    let t0 = std::time::Instant::now();
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| llamadeck_console::ui::render(f, &s)).unwrap();
    let drawn = t0.elapsed();
    let t1 = std::time::Instant::now();
    update(&mut s, key(KeyCode::Enter));
    terminal.draw(|f| llamadeck_console::ui::render(f, &s)).unwrap();
    let sent_and_drawn = t1.elapsed();
    eprintln!("1 MB paste: insert {pasted:?}, draw {drawn:?}, send + draw {sent_and_drawn:?}");
    assert_eq!(s.session.chat.messages[0].text, paste, "sent whole, line breaks and all");
    for d in [pasted, drawn, sent_and_drawn] {
        assert!(d < Duration::from_secs(2), "{d:?}");
    }
}

// ---- the whole loop with a real store ------------------------------------------------

mod whole_loop {
    use super::*;
    use crossterm::event::Event;
    use llamadeck_console::app::Inbox;
    use llamadeck_console::tui::event_loop::{Exit, LoopIo, run};
    use llamadeck_console::tui::producers;
    use llamadeck_store::worker::Worker;
    use std::io;
    use std::sync::{Arc, Mutex};

    type Keys = futures::channel::mpsc::UnboundedSender<io::Result<Event>>;

    fn press(tx: &Keys, code: KeyCode, mods: KeyModifiers) {
        tx.unbounded_send(Ok(Event::Key(KeyEvent::new(code, mods)))).unwrap();
    }

    fn type_in(tx: &Keys, text: &str) {
        text.chars().for_each(|c| press(tx, KeyCode::Char(c), KeyModifiers::NONE));
    }

    /// The loop's inputs with a scripted engine, no GPU, a real store in `data` and a clipboard
    /// that records; keys go in through the returned terminal stream.
    fn loop_io(data: &std::path::Path, words: Vec<String>, clipboard: Arc<Mutex<Vec<u8>>>) -> (LoopIo, Keys) {
        let engine = scripted_engine(words, Duration::from_millis(1));
        engine.load(state().session.model.spec.clone()).expect("an in-process engine loads models");
        let inbox = Inbox::new();
        inbox.sender().send(Action::Gpu(shared(no_gpu())));
        let (keys, key_rx) = futures::channel::mpsc::unbounded();
        producers::terminal(key_rx, inbox.sender());
        let mut io = super::doubles::loop_io(inbox, engine, data.join("config.yaml"));
        let store = Worker::spawn(data.to_path_buf(), io.inbox.sender().sink(Action::Store)).unwrap();
        io.effects = io.effects.store(store).clipboard(Box::new(move |b: &[u8]| {
            clipboard.lock().unwrap().extend_from_slice(b);
            Ok(())
        }));
        io.fps = 60;
        (io, keys)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saves_exports_copies_and_resumes_across_runs() {
        let data = tempfile::tempdir().unwrap();
        let words: Vec<String> = ["Hello", " \x1b]52;c;ZXZpbA==\x07", " \x1b[2J", " world"].map(String::from).to_vec();
        let clip = Arc::new(Mutex::new(Vec::new()));
        let (io, keys) = loop_io(data.path(), words.clone(), clip.clone());
        let driver = tokio::spawn(async move {
            let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
            pause(100).await;
            type_in(&keys, "first question");
            press(&keys, KeyCode::Enter, KeyModifiers::NONE);
            pause(300).await;
            press(&keys, KeyCode::Char('y'), KeyModifiers::CONTROL);
            type_in(&keys, "/export md");
            press(&keys, KeyCode::Enter, KeyModifiers::NONE);
            type_in(&keys, "/export json");
            press(&keys, KeyCode::Enter, KeyModifiers::NONE);
            pause(200).await;
            drop(keys); // input closes: the loop ends as when the terminal goes away
        });
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let mut s = state();
        let (exit, _) = tokio::time::timeout(Duration::from_secs(20), run(&mut terminal, &mut s, io)).await.unwrap().unwrap();
        driver.await.unwrap();
        assert_eq!(exit, Exit::InputClosed);
        assert_eq!(s.session.chat.messages.len(), 2, "{:#?}", s.session.chat.messages);
        let id = s.session.chat.meta.id.clone().expect("saved under an id");
        let dir = llamadeck_store::conversations_dir(data.path());
        let saved = llamadeck_store::load(&dir, &id).unwrap();
        assert_eq!(
            saved.messages,
            s.session
                .chat
                .messages
                .iter()
                .cloned()
                .map(|mut m| {
                    m.request = None;
                    m
                })
                .collect::<Vec<_>>()
        );
        assert!(saved.messages[1].sampling.is_some() && saved.messages[1].stats.is_some());
        // The copy went out as OSC 52 with a base64 payload, the exports under exports/.
        let clip = clip.lock().unwrap().clone();
        assert!(clip.starts_with(b"\x1b]52;c;") && terminal_output_problem(&clip, true).is_none(), "{clip:?}");
        let exports = llamadeck_store::exports_dir(data.path());
        let md = std::fs::read_to_string(exports.join(format!("{id}.md"))).unwrap();
        assert!(md.contains("first question") && !md.contains('\x1b'), "{md}");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(exports.join(format!("{id}.json"))).unwrap()).unwrap();
        assert_eq!(json["messages"][1]["content"], "first question");

        // A second run offers the conversation back; Enter resumes it.
        let (io, keys) = loop_io(data.path(), words, Arc::new(Mutex::new(Vec::new())));
        let driver = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            press(&keys, KeyCode::Enter, KeyModifiers::NONE);
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(keys);
        });
        let mut s2 = state();
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        tokio::time::timeout(Duration::from_secs(20), run(&mut terminal, &mut s2, io)).await.unwrap().unwrap();
        driver.await.unwrap();
        assert_eq!(s2.session.chat.meta.id.as_deref(), Some(id.as_str()));
        assert_eq!(s2.session.chat.messages.len(), 2);
        assert!(format!("{}", terminal.backend()).contains("first question"));
    }

    #[derive(Debug, Clone)]
    enum Input {
        Key(KeyCode, KeyModifiers),
        Paste(String),
        Resize(u16, u16),
    }

    fn arb_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            "\\PC{0,30}",
            any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            Just("\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b[?1049l\u{9b}31m\u{202e}\r\n\t".to_string()),
            Just("שלום 🦙 e\u{301} 日本語 ＡＢＣ \u{2028}".to_string()),
        ]
    }

    fn arb_input() -> impl proptest::strategy::Strategy<Value = Input> {
        use proptest::prelude::*;
        let code = prop_oneof![
            any::<char>().prop_map(KeyCode::Char),
            Just(KeyCode::Enter),
            Just(KeyCode::Esc),
            Just(KeyCode::Tab),
            Just(KeyCode::Up),
            Just(KeyCode::Down),
            Just(KeyCode::Backspace),
            Just(KeyCode::PageUp),
            Just(KeyCode::F(1)),
            Just(KeyCode::F(3)),
            Just(KeyCode::Char('/')),
            Just(KeyCode::Char('y')),
            Just(KeyCode::Char('d')),
            Just(KeyCode::Char('r')),
            Just(KeyCode::Char('n')),
        ];
        let mods = prop_oneof![Just(KeyModifiers::NONE), Just(KeyModifiers::CONTROL), Just(KeyModifiers::ALT)];
        prop_oneof![
            6 => (code, mods).prop_map(|(c, m)| Input::Key(c, m)),
            2 => arb_text().prop_map(Input::Paste),
            1 => (1u16..200, 1u16..60).prop_map(|(w, h)| Input::Resize(w, h)),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]
        /// Random keys, pastes and resizes through the real loop, a hostile scripted model and
        /// a real store: no panic, and nothing but text and the renderer's own CSI sequences
        /// (and llamadeck's own OSC 52 copy) in the bytes the terminal gets.
        #[test]
        fn random_input_never_panics_or_leaks_control_sequences(
            inputs in proptest::collection::vec(arb_input(), 1..60),
            words in proptest::collection::vec(arb_text(), 1..8),
        ) {
            let data = tempfile::tempdir().unwrap();
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let clip = Arc::new(Mutex::new(Vec::new()));
            let bytes = runtime.block_on(async {
                let (io, keys) = loop_io(data.path(), words, clip.clone());
                let backend = BytesBackend::new(100, 30);
                let size = backend.size.clone();
                let mut terminal = Terminal::new(backend).unwrap();
                let mut s = state();
                // The model is ready before the first key, so Enter really sends.
                let driver = tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    for input in inputs {
                        let event = match input {
                            Input::Key(c, m) => Event::Key(KeyEvent::new(c, m)),
                            Input::Paste(t) => Event::Paste(t),
                            Input::Resize(w, h) => {
                                *size.lock().unwrap() = (w, h);
                                Event::Resize(w, h)
                            }
                        };
                        // A random quit key ends the loop early; the rest of the input has nowhere to go.
                        if keys.unbounded_send(Ok(event)).is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                });
                let result = tokio::time::timeout(Duration::from_secs(30), run(&mut terminal, &mut s, io)).await;
                driver.await.unwrap();
                result.expect("the loop ends when input closes").expect("no error");
                terminal.backend().bytes()
            });
            runtime.shutdown_timeout(Duration::from_millis(100));
            proptest::prop_assert!(!bytes.is_empty());
            let problem = terminal_output_problem(&bytes, false);
            proptest::prop_assert!(problem.is_none(), "{:?}", problem);
            let clip = clip.lock().unwrap().clone();
            proptest::prop_assert!(terminal_output_problem(&clip, true).is_none());
        }
    }
}

/// CPU time of this thread: what a key costs, whatever else the machine is running.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A long history (20 MB here; `LLAMADECK_BIG_MB=100` for the 100 MB): a key, a scroll
/// and a search key, each with its frame, stay quick because nothing re-wraps or re-reads the
/// whole history per key (the first scroll measures it once). Timed in CPU time, the search's
/// keys at their fastest of three, so a busy machine does not fail it.
#[test]
fn a_long_conversation_keeps_keys_and_frames_fast() {
    let megabytes: usize = std::env::var("LLAMADECK_BIG_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let mut s = ready_state();
    update(&mut s, Action::Resize(120, 40));
    let question = "How do I size the KV cache for a 13B model on one GPU with room to spare? ".repeat(3);
    let answer = "The KV cache grows with layers, heads and context; for Llama-2-13B in fp16 each token takes about 800 KB. ".repeat(16);
    let mut messages = Vec::new();
    let mut bytes = 0;
    while bytes < megabytes << 20 {
        messages.push(Message::user(&question));
        let mut m = Message::new(Role::Assistant, &answer, MessageStatus::Complete);
        m.stats = Some(GenStats { prompt_tokens: 100, completion_tokens: 20, ..Default::default() });
        messages.push(m);
        bytes += question.len() + answer.len();
    }
    messages[1001].text.push_str(" the needle is here");
    let c = Conversation { id: Some("big".into()), title: None, created: Some(1), updated: Some(2), messages };
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut timed = |what: &str, s: &mut State, actions: Vec<Action>| {
        let started = thread_cpu();
        for a in actions {
            update(s, a);
        }
        terminal.draw(|f| llamadeck_console::ui::render(f, s)).unwrap();
        let took = thread_cpu() - started;
        eprintln!("{megabytes} MB: {what}: {took:?} CPU");
        took
    };
    timed("open it + frame", &mut s, vec![Action::Store(Reply::Loaded(Ok(c)))]);
    let mut keys = vec![timed("type a key + frame", &mut s, vec![key(KeyCode::Char('a'))])];
    let first_scroll = timed("first PageUp (measures the history once) + frame", &mut s, vec![key(KeyCode::PageUp)]);
    keys.push(timed("PageUp again + frame", &mut s, vec![key(KeyCode::PageUp)]));
    keys.push(timed("Ctrl+Home + frame", &mut s, vec![Action::Command(llamadeck_words::keys::Command::ScrollTop)]));
    // The search three times over, each key's fastest counting: a busy machine slows even a
    // thread's own CPU time (shared caches), but not three times in a row at the same key.
    let mut searches: Vec<Vec<Duration>> = Vec::new();
    for _ in 0..3 {
        let mut steps = vec![timed("open search + frame", &mut s, vec![Action::Command(llamadeck_words::keys::Command::Search)])];
        for c in "needle".chars() {
            steps.push(timed(&format!("search key {c:?} + frame"), &mut s, vec![key(KeyCode::Char(c))]));
        }
        assert_eq!(s.panes.find::<SearchBar>().unwrap().hits.len(), 1);
        steps.push(timed("Esc + frame", &mut s, vec![key(KeyCode::Esc)]));
        searches.push(steps);
    }
    keys.extend((0..searches[0].len()).map(|i| searches.iter().map(|steps| steps[i]).min().unwrap()));
    keys.push(timed("Ctrl+End + frame", &mut s, vec![Action::Command(llamadeck_words::keys::Command::FollowTail)]));
    let per_mb = |d: Duration| d / megabytes as u32;
    let slowest = *keys.iter().max().unwrap();
    // Per megabyte of history: 100 MB may take 100 times this, once, for the first scroll.
    assert!(per_mb(first_scroll) < Duration::from_millis(5), "first scroll {first_scroll:?}");
    assert!(per_mb(slowest) < Duration::from_millis(3), "slowest key + frame {slowest:?}");
}

#[test]
fn a_conversation_too_large_to_save_says_what_is_kept_and_what_to_do() {
    let mut s = conversation_with_an_answer();
    let refused = llamadeck_store::TooLarge { bytes: 70 << 20, limit: llamadeck_store::MAX_CONVERSATION_BYTES };
    let effects = update(&mut s, Action::Store(Reply::TooLarge(refused)));
    assert!(effects.is_empty());
    let notice = s.session.notice.as_ref().unwrap();
    assert_eq!(notice.level, llamadeck_console::session::NoticeLevel::Error);
    assert_eq!(
        notice.text,
        "conversation not saved: too large to save (70 MiB; a saved conversation holds at most 64 MiB); \
         the file keeps it as last saved. /export md keeps all of it; Ctrl+L starts a new conversation"
    );
    assert_eq!(s.session.chat.messages.len(), 2, "nothing is taken from the console");
}

#[test]
fn counts_read_from_a_file_saturate_instead_of_wrapping() {
    let mut s = ready_state();
    let mut answer = Message::new(Role::Assistant, "a", MessageStatus::Complete);
    answer.stats = Some(GenStats { prompt_tokens: usize::MAX, completion_tokens: usize::MAX, ..Default::default() });
    let c = Conversation { id: Some("x".into()), title: None, created: None, updated: None, messages: vec![Message::user("q"), answer] };
    update(&mut s, Action::Store(Reply::Loaded(Ok(c))));
    assert_eq!((s.session.chat.context_used, s.session.chat.context_estimated), (usize::MAX, true), "not usize::MAX - 1, wrapped");
}

fn conversation_with_an_answer() -> State {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    update(&mut s, token(id, "a"));
    update(&mut s, finish(id));
    s
}
