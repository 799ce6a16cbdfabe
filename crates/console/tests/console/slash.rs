//! Slash commands typed in the message box (issue 21, item 15): one list (`keys::slash`), run
//! with Enter, listed over the box while typed, Tab completing names and arguments.
use crossterm::event::KeyCode;
use llamadeck_console::app::{Action, Effect, State, update};
use llamadeck_console::panes::help::Help;
use llamadeck_console::panes::slash::SlashList;
use llamadeck_console::session::NoticeLevel;
use llamadeck_store::{Listing, Reply, Request, Summary};

use super::doubles::*;
use super::*;

fn typed(s: &mut State, text: &str) -> Vec<Effect> {
    type_text(s, text);
    update(s, key(KeyCode::Enter))
}

fn box_text(s: &State) -> String {
    s.panes.chat.text()
}

fn empty_box(s: &mut State) {
    s.panes.chat.input = llamadeck_console::panes::chat::new_input(s.session.theme);
}

fn notice(s: &State) -> String {
    s.session.notice.as_ref().map(|n| n.text.clone()).unwrap_or_default()
}

#[test]
fn set_changes_any_sampling_field_and_refuses_out_of_range_values_keeping_the_text() {
    let mut s = ready_state();
    assert!(typed(&mut s, "/set temperature 0.2").is_empty());
    assert_eq!(s.session.sampling.temperature, 0.2);
    assert!(box_text(&s).is_empty());
    assert!(notice(&s).starts_with("temperature 0.20"), "{}", notice(&s));
    typed(&mut s, "/set top_k 40");
    assert_eq!(s.session.sampling.top_k, 40);
    typed(&mut s, "/set seed 7");
    assert_eq!(s.session.sampling.seed, Some(7));
    typed(&mut s, "/set stop ###|END");
    assert_eq!(s.session.sampling.stop, ["###", "END"]);
    // The settings pane's range message, and nothing changed.
    typed(&mut s, "/set temperature 9");
    assert_eq!(s.session.sampling.temperature, 0.2);
    assert_eq!(box_text(&s), "/set temperature 9");
    assert!(notice(&s).contains("temperature: must be between 0 and 2"), "{}", notice(&s));
    empty_box(&mut s);
    typed(&mut s, "/set warmth 1");
    assert!(notice(&s).contains("no field \"warmth\"") && notice(&s).contains("top_p"), "{}", notice(&s));
    assert_eq!(s.session.notice.as_ref().unwrap().level, NoticeLevel::Warn);
}

#[test]
fn system_help_and_clear_run_from_the_box() {
    let mut s = ready_state();
    typed(&mut s, "/system Answer in French.");
    assert_eq!(s.session.sampling.system_prompt, "Answer in French.");
    typed(&mut s, "/help");
    assert!(s.panes.is_open::<Help>());
    update(&mut s, key(KeyCode::Esc));
    let id = ask(&mut s, "hello");
    update(&mut s, finish(id));
    let serial = s.session.chat.meta.serial;
    typed(&mut s, "/clear");
    assert!(s.session.chat.messages.is_empty());
    assert_ne!(s.session.chat.meta.serial, serial);
    // A key's command takes nothing after it.
    typed(&mut s, "/clear all");
    assert_eq!(box_text(&s), "/clear all");
}

fn summary(id: &str, title: &str) -> Summary {
    Summary { id: id.into(), title: title.into(), updated: 1, model: None, turns: 1, text: String::new() }
}

fn listing() -> Listing {
    Listing { entries: vec![summary("c1", "GPU sizing"), summary("c2", "GPU power"), summary("c3", "Fleet notes")], damaged: vec![] }
}

#[test]
fn save_names_the_conversation_and_load_opens_one_by_name() {
    let mut s = ready_state();
    let id = ask(&mut s, "hello");
    update(&mut s, finish(id));
    let effects = typed(&mut s, "/save my notes");
    let Some(Effect::Store(Request::Save { conversation, .. })) = effects.first() else { panic!("{effects:?}") };
    assert_eq!(conversation.title.as_deref(), Some("my notes"));
    assert_eq!(typed(&mut s, "/load gpu sizing"), vec![Effect::Store(Request::List)]);
    let effects = update(&mut s, Action::Store(Reply::Listed(listing())));
    assert_eq!(effects, vec![Effect::Store(Request::Load("c1".into()))]);
    // A unique start is enough; two matches are named, none is said.
    typed(&mut s, "/load fleet");
    assert_eq!(update(&mut s, Action::Store(Reply::Listed(listing()))), vec![Effect::Store(Request::Load("c3".into()))]);
    typed(&mut s, "/load gpu");
    assert!(update(&mut s, Action::Store(Reply::Listed(listing()))).is_empty());
    assert!(notice(&s).contains("several"), "{}", notice(&s));
    typed(&mut s, "/load nothing like it");
    update(&mut s, Action::Store(Reply::Listed(listing())));
    assert!(notice(&s).contains("no saved conversation"), "{}", notice(&s));
}

#[test]
fn typing_a_slash_lists_the_commands_and_tab_completes_names_and_arguments() {
    let mut s = ready_state();
    update(&mut s, key(KeyCode::Char('/')));
    assert!(s.panes.is_open::<SlashList>());
    type_text(&mut s, "se");
    update(&mut s, key(KeyCode::Tab));
    assert_eq!(box_text(&s), "/set ", "only /set starts with 'se'; it takes arguments");
    assert!(s.panes.is_open::<SlashList>(), "Tab stays in the box");
    type_text(&mut s, "max");
    update(&mut s, key(KeyCode::Tab));
    assert_eq!(box_text(&s), "/set max_tokens ");
    type_text(&mut s, "64");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.session.sampling.max_tokens, 64);
    assert!(!s.panes.is_open::<SlashList>(), "an empty box has no list");
    // Several fields that start alike: as far as they agree, and the list shows them.
    type_text(&mut s, "/set to");
    update(&mut s, key(KeyCode::Tab));
    assert_eq!(box_text(&s), "/set top_");
    assert_eq!(s.panes.find::<SlashList>().unwrap().candidates, ["top_p", "top_k"]);
    empty_box(&mut s);
    update(&mut s, key(KeyCode::Left));
    assert!(!s.panes.is_open::<SlashList>());
    // /load asks the store for the titles once, and Tab completes them.
    let effects: Vec<Effect> = "/load ".chars().flat_map(|c| update(&mut s, key(KeyCode::Char(c)))).collect();
    assert_eq!(effects, vec![Effect::Store(Request::List)]);
    update(&mut s, Action::Store(Reply::Listed(listing())));
    type_text(&mut s, "fl");
    update(&mut s, key(KeyCode::Tab));
    assert_eq!(box_text(&s), "/load Fleet notes");
}

#[test]
fn tab_on_model_asks_for_paths_and_completes_with_what_comes_back() {
    let mut s = ready_state();
    type_text(&mut s, "/model /models/ll");
    let effects = update(&mut s, key(KeyCode::Tab));
    assert_eq!(effects, vec![Effect::CompletePath { typed: "/model /models/ll".into() }]);
    let found = vec!["/models/llama-2-13b.gguf".to_string(), "/models/llama-3-8b/".to_string()];
    update(&mut s, Action::PathsFound { typed: "/model /models/ll".into(), found: found.clone() });
    assert_eq!(box_text(&s), "/model /models/llama-");
    // Paths for a text no longer in the box are dropped.
    update(&mut s, Action::PathsFound { typed: "/model /other".into(), found });
    assert_eq!(box_text(&s), "/model /models/llama-");
    // Without a command being typed, Tab switches to the settings as always.
    empty_box(&mut s);
    update(&mut s, key(KeyCode::Tab));
    assert_eq!(s.panes.focus, llamadeck_console::panes::Focus::Settings);
}

#[test]
fn screen_slash_list_over_the_message_box() {
    let mut s = conversation();
    let id = s.session.chat.generating.unwrap();
    update(&mut s, finish(id));
    update(&mut s, key(KeyCode::Char('/')));
    snapshot!("slash_list_80x24", screen(&s, 80, 24).backend());
    type_text(&mut s, "set to");
    update(&mut s, key(KeyCode::Tab));
    snapshot!("slash_list_completing_120x35", screen(&s, 120, 35).backend());
}
