//! One row added to the sampling table (`example`, 0 to 1, built only with the words crate's
//! `example-field` feature) and nothing else: each reader of the table must take it up.
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use llamadeck_console::app::{Action, update};
use llamadeck_console::panes::Focus;
use llamadeck_engine::remote::{Dialect, dialect::sampling_fields};
use llamadeck_server::api::{ChatRequest, parse};
use llamadeck_testkit::doubles::ready_state;
use llamadeck_words::keys::Command;
use llamadeck_words::sampling::{Field, Sampling};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn the_settings_pane_lists_it_and_edits_it_within_its_range() {
    let mut s = ready_state();
    update(&mut s, Action::Command(Command::FocusNext));
    assert_eq!(s.panes.focus, Focus::Settings);
    s.panes.settings.select(Field::Example);
    update(&mut s, key(KeyCode::Enter));
    for _ in 0..6 {
        update(&mut s, key(KeyCode::Backspace));
    }
    update(&mut s, key(KeyCode::Char('3')));
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.panes.settings.error.as_deref(), Some("must be between 0 and 1"));
    update(&mut s, key(KeyCode::Esc));
    update(&mut s, key(KeyCode::Right));
    assert_eq!(s.session.sampling.example, 0.6, "one step of 0.1 from the default 0.5");
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| llamadeck_console::ui::render(f, &s)).unwrap();
    let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    assert!(screen.contains("example"), "the settings pane shows the row:\n{screen}");
    assert!(screen.contains("0.6"), "with its value, shown with one decimal:\n{screen}");
}

#[test]
fn the_config_checks_it_and_reads_it() {
    let path = Path::new("/tmp/llamadeck-fieldcheck.yaml");
    let good = llamadeck_config::parse("sampling:\n  example: 0.3\n", path).expect("a value in range");
    assert_eq!(good.sampling.example, 0.3);
    let bad = llamadeck_config::parse("sampling:\n  temperature: 0.5\n  example: 3\n", path).unwrap_err();
    let said = bad.to_string();
    assert!(said.contains(":3:") && said.contains("sampling.example") && said.contains("between 0 and 1"), "{said}");
}

#[test]
fn saving_writes_it_and_it_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamadeck.yaml");
    let sampling = Sampling { example: 0.7, temperature: 0.2, ..Sampling::default() };
    llamadeck_config::save_sampling(&path, &sampling, None).expect("saved into a new file");
    let loaded = llamadeck_config::load_file(&path, true).expect("reads back");
    assert_eq!(loaded.config.sampling.example, 0.7);
    let sampling = Sampling { example: 0.9, ..loaded.config.sampling };
    llamadeck_config::save_sampling(&path, &sampling, None).expect("saved again, in place");
    assert_eq!(llamadeck_config::load_file(&path, true).unwrap().config.sampling.example, 0.9);
}

#[test]
fn the_api_reads_it_by_its_row_and_refuses_it_out_of_range() {
    let plan = |body: &str| parse::<ChatRequest>(body.as_bytes()).unwrap().common.plan(&Sampling::default(), false, 64);
    let asked = plan(r#"{"messages":[{"role":"user","content":"hi"}],"example":0.25}"#).expect("in range");
    assert_eq!(asked.sampling.example, 0.25);
    let left_out = plan(r#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
    assert_eq!(left_out.sampling.example, Sampling::default().example, "the server's default");
    let refused = plan(r#"{"messages":[{"role":"user","content":"hi"}],"example":2}"#).unwrap_err();
    assert_eq!((refused.status.as_u16(), refused.param.as_deref()), (400, Some("example")));
}

#[test]
fn the_remote_backend_sends_it_as_its_mapping_says() {
    let mut body = serde_json::Map::new();
    let unsent = sampling_fields(Dialect::Vllm, &Sampling { example: 0.4, ..Sampling::default() }, &mut body);
    assert!(unsent.is_empty(), "{unsent:?}");
    assert_eq!(body.get("example"), Some(&serde_json::json!(0.4)));
}
