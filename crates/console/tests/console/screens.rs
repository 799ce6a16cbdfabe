//! Screens: the whole console drawn on a TestBackend at several sizes and states, as insta
//! snapshots (the files under tests/snapshots/).
use crossterm::event::KeyCode;
use llamadeck_console::app::{Action, update};
use llamadeck_engine::EngineEvent;
use llamadeck_words::keys::Command;

use super::doubles::*;
use super::*;

#[test]
fn screen_loading_without_gpu() {
    let mut s = state();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    update(&mut s, Action::Engine(EngineEvent::LoadStage { stage: "reading weights".into() }));
    snapshot!("console__screen_loading_without_gpu", screen(&s, 100, 30).backend());
}

/// On a CPU the panel shows how much of the process's memory the prefix cache holds, and its
/// budget: a growing rss is the cache, not a leak.
#[test]
fn screen_memory_shows_the_prefix_cache_and_its_budget() {
    let mut s = ready_state();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    let cache = llamadeck_engine::PrefixCacheStats {
        setting: "auto".into(),
        budget_bytes: Some(1536 << 20),
        bytes_held: 448 << 20,
        sequences_held: 30,
        ..Default::default()
    };
    update(&mut s, Action::Engine(EngineEvent::Cache(Some(cache))));
    for (w, h) in [(80, 24), (120, 35)] {
        let terminal = screen(&s, w, h);
        let text: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        assert!(text.contains("cache 448M/1.5G"), "{w}x{h}: {}", terminal.backend());
        snapshot!(format!("console__screen_memory_with_prefix_cache_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn screen_streaming_with_two_gpus() {
    snapshot!("console__screen_streaming_with_two_gpus", screen(&conversation(), 120, 34).backend());
}

#[test]
fn screen_lost_gpu() {
    let mut s = conversation();
    update(&mut s, Action::Gpu(shared(lost_gpu())));
    snapshot!("console__screen_lost_gpu", screen(&s, 120, 34).backend());
}

#[test]
fn screen_settings_error() {
    let mut s = conversation();
    update(&mut s, Action::Command(Command::FocusNext));
    update(&mut s, key(KeyCode::Enter));
    for _ in 0..4 {
        update(&mut s, key(KeyCode::Backspace));
    }
    type_text(&mut s, "9");
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.session.sampling.temperature, 0.6);
    snapshot!("console__screen_settings_error", screen(&s, 100, 30).backend());
}

#[test]
fn screen_load_failed() {
    let mut s = state();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    update(&mut s, Action::Engine(EngineEvent::LoadFailed { reason: "model path /models/llama does not exist".into() }));
    snapshot!("console__screen_load_failed", screen(&s, 80, 24).backend());
}

#[test]
fn screen_long_history_scrolled() {
    let mut s = ready_state();
    update(&mut s, Action::Resize(100, 30));
    update(&mut s, Action::Gpu(shared(gpus(1))));
    for i in 0..40 {
        let id = ask(&mut s, &format!("question number {i}"));
        update(&mut s, token(id, &format!("answer number {i}, with enough words to wrap once in the pane.")));
        update(&mut s, finish(id));
    }
    update(&mut s, key(KeyCode::PageUp));
    snapshot!("console__screen_long_history_scrolled", screen(&s, 100, 30).backend());
}

#[test]
fn screen_help_overlay() {
    let mut s = ready_state();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    update(&mut s, key(KeyCode::F(1)));
    snapshot!("console__screen_help_overlay", screen(&s, 100, 36).backend());
}

#[test]
fn screen_too_small_and_minimum() {
    let s = conversation();
    snapshot!("console__too_small", screen(&s, 40, 10).backend());
    snapshot!("console__minimum", screen(&s, 60, 16).backend());
}

#[test]
fn screen_eight_gpus() {
    let mut s = conversation();
    update(&mut s, Action::Gpu(shared(gpus(8))));
    snapshot!("console__screen_eight_gpus", screen(&s, 140, 40).backend());
}

#[test]
fn renders_the_same_without_colour() {
    let mut s = conversation();
    s.session.theme = llamadeck_words::theme::Theme::PLAIN;
    s.panes.chat.input = llamadeck_console::panes::chat::new_input(s.session.theme);
    let buffer = screen(&s, 100, 30).backend().buffer().clone();
    for cell in buffer.content() {
        assert_eq!((cell.fg, cell.bg), (ratatui::style::Color::Reset, ratatui::style::Color::Reset), "plain theme sets no colours");
    }
}

#[test]
fn the_theme_follows_no_color() {
    use llamadeck_config::ColorMode;
    use llamadeck_words::theme::Theme;
    assert_eq!(ColorMode::Auto.theme(Some("1")), Theme::PLAIN);
    assert_eq!(ColorMode::Auto.theme(Some("")), Theme::COLOR);
    assert_eq!(ColorMode::Auto.theme(None), Theme::COLOR);
    assert_eq!(ColorMode::Always.theme(Some("1")), Theme::COLOR);
    assert_eq!(ColorMode::Never.theme(None), Theme::PLAIN);
}

/// Following the tail wraps only the newest messages; it must show exactly what scrolling to
/// the last page shows.
#[test]
fn the_tail_fast_path_matches_the_full_layout() {
    for (w, h, n) in [(100, 30, 0), (100, 30, 1), (120, 40, 25), (61, 16, 7), (200, 60, 60)] {
        let mut s = conversation();
        if n > 0 {
            update(&mut s, Action::Command(Command::Stop));
        }
        for i in 0..n {
            let id = ask(&mut s, &format!("question {i} with some words to wrap around the pane edge"));
            update(&mut s, token(id, &"answer text that wraps ".repeat(i % 5 + 1)));
            update(&mut s, finish(id));
        }
        update(&mut s, Action::Resize(w, h));
        let following = format!("{}", screen(&s, w, h).backend());
        let page = llamadeck_words::layout::chat_page_height((w, h));
        s.session.chat.scroll_top = Some(s.session.chat_plan().total.saturating_sub(page));
        let mut pinned = format!("{}", screen(&s, w, h).backend());
        // The footer says "scrolled" when pinned; compare everything else.
        pinned = pinned.replace("scrolled · Ctrl+End follows · ", "");
        assert_eq!(
            following.lines().take(h as usize - 5).collect::<Vec<_>>(),
            pinned.lines().take(h as usize - 5).collect::<Vec<_>>(),
            "{w}x{h} with {n} more"
        );
    }
}

fn row_texts(s: &llamadeck_console::app::State, w: u16, h: u16) -> Vec<String> {
    let terminal = screen(s, w, h);
    let buffer = terminal.backend().buffer();
    (0..h).map(|y| (0..w).map(|x| buffer[(x, y)].symbol()).collect()).collect()
}

#[test]
fn screen_load_refused() {
    let mut s = conversation();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    update(&mut s, key(KeyCode::Esc));
    let wanted = llamadeck_engine::ModelSpec { source: "/nonexistent.gguf".into(), ..s.session.model.spec.clone() };
    update(&mut s, Action::ModelChosen(wanted));
    let reason = "model path /nonexistent.gguf does not exist".into();
    update(&mut s, Action::Engine(EngineEvent::LoadRejected { reason, model: "llama-2-13b-chat".into(), context_len: 4096 }));
    snapshot!("console__screen_load_refused", screen(&s, 80, 24).backend());
}

#[test]
fn screen_help_at_80x24_scrolled_to_the_end() {
    let mut s = ready_state();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    update(&mut s, Action::Resize(80, 24));
    update(&mut s, key(KeyCode::F(1)));
    update(&mut s, key(KeyCode::End));
    let rows = row_texts(&s, 80, 24);
    assert!(rows.iter().any(|r| r.contains("again searches instead")), "the last help line is reachable");
    snapshot!("console__screen_help_80x24_end", screen(&s, 80, 24).backend());
}

#[test]
fn the_hint_bar_keeps_help_and_quit_beside_a_long_notice() {
    let mut s = ready_state();
    // As the loop reports it: the file's name, where, and what is wrong.
    let error = "config.yaml:4:16: sampling.temperature: must be between 0 and 2 (got 7.5)";
    update(&mut s, Action::ConfigReread(Err(error.into())));
    for width in [60, 80, 120] {
        let mut rows = row_texts(&s, width, 24);
        let bar = rows.pop().unwrap();
        assert!(bar.trim_end().ends_with("F1 help  Ctrl+Q quit"), "{width}: {bar:?}");
        // Too long for the bar's line, the notice is wrapped above it, whole.
        let above: Vec<&str> = rows.iter().rev().take(3).rev().map(|r| r.trim_end()).collect();
        assert!(above.join(" ").contains("config.yaml:4:16: sampling.temperature"), "{width}: {above:?}");
    }
}

#[test]
fn a_long_export_path_keeps_its_file_name() {
    let mut s = ready_state();
    let path = "/home/operator/.local/share/llamadeck/exports/20250102-154312-00aa.md";
    update(&mut s, Action::Store(llamadeck_store::Reply::Exported(Ok(path.into()))));
    let mut rows = row_texts(&s, 80, 24);
    let bar = rows.pop().unwrap();
    assert!(bar.contains("F1 help  Ctrl+Q quit"), "{bar:?}");
    // The whole path, readable: above the bar when the bar cannot hold it.
    let above: Vec<String> = rows.iter().rev().take(2).rev().map(|r| r.trim_end().to_string()).collect();
    assert_eq!(above, ["exported to", path], "wrapped at the space, the path on a line of its own");
}

/// Header fields as the chat shows them; a narrow pane leaves some out, never half of one.
#[test]
fn answer_headers_drop_whole_fields_and_say_stopped_once() {
    let mut s = ready_state();
    let id = ask(&mut s, "q");
    update(&mut s, token(id, "partial"));
    update(&mut s, key(KeyCode::Esc));
    let stats = llamadeck_words::chat::GenStats {
        prompt_tokens: 30,
        completion_tokens: 706,
        ttft_ms: Some(1234),
        decode_tok_s: Some(41.5),
        prefill_tok_s: None,
        cached_tokens: 0,
    };
    update(&mut s, Action::Engine(EngineEvent::Finished { id, reason: llamadeck_words::chat::FinishReason::Stopped, stats }));
    let fields = ["llama-2-13b-chat", "stopped", "706 tok", "41.5 tok/s", "ttft 1234 ms"];
    for width in 60..=120 {
        let rows = row_texts(&s, width, 20);
        let header = rows.iter().find(|r| r.starts_with("│llama-2-13b-chat")).unwrap_or_else(|| panic!("{width}: {rows:#?}"));
        let inner = header.trim_start_matches('│').split('│').next().unwrap().trim_end();
        let shown: Vec<&str> = inner.split(" · ").collect();
        assert!(shown.iter().all(|f| fields.contains(f)), "{width}: {inner:?}");
        assert_eq!(shown[..2], fields[..2], "{width}: the model and what happened come first");
        assert_eq!(inner.matches("stopped").count(), 1, "{width}: {inner:?}");
    }
}

#[test]
fn the_settings_editor_says_what_an_empty_value_means_and_the_hints_follow_the_focus() {
    let mut s = ready_state();
    update(&mut s, Action::Command(Command::FocusNext));
    let bar = row_texts(&s, 120, 34).pop().unwrap();
    assert!(bar.contains("↑↓ choose") && !bar.contains("send"), "{bar:?}");
    s.panes.settings.select(llamadeck_words::sampling::Field::Seed);
    update(&mut s, key(KeyCode::Enter));
    let rows = row_texts(&s, 120, 34);
    assert!(rows.iter().any(|r| r.contains("empty: a random seed")), "{rows:#?}");
    let placeholders = rows.iter().filter(|r| r.contains("type here")).count();
    assert_eq!(placeholders, 1, "the message box's placeholder, not in the value editor: {rows:#?}");
    let bar = rows.last().unwrap();
    assert!(bar.contains("Enter save") && bar.contains("Esc cancel") && !bar.contains("send"), "{bar:?}");
}

#[test]
fn search_matches_are_highlighted_and_counted() {
    use ratatui::style::Modifier;
    let mut s = ready_state();
    update(&mut s, Action::Resize(100, 30));
    let id = ask(&mut s, "gpu or GPU?");
    update(&mut s, token(id, "Every gpu counts."));
    update(&mut s, finish(id));
    type_text(&mut s, "//gpu");
    let terminal = screen(&s, 100, 30);
    let buffer = terminal.backend().buffer();
    let chat = llamadeck_words::layout::areas(ratatui::layout::Rect::new(0, 0, 100, 30), 1).chat;
    let cells = move || (chat.y..chat.bottom()).flat_map(move |y| (chat.x..chat.right()).map(move |x| (x, y)));
    let styled = |m: Modifier| cells().filter(|&p| buffer[p].modifier.contains(m)).count();
    let rows = row_texts(&s, 100, 30);
    assert_eq!(styled(Modifier::UNDERLINED), 9, "three matches of three letters: {rows:#?}");
    assert_eq!(styled(Modifier::REVERSED), 3, "the current one stands out");
    let rows = row_texts(&s, 100, 30);
    assert!(rows.iter().any(|r| r.contains("search · 3 of 3")), "{rows:#?}");
}

#[test]
fn without_colour_the_input_selection_is_still_shown() {
    let mut s = ready_state();
    s.session.theme = llamadeck_words::theme::Theme::PLAIN;
    s.panes.chat.input = llamadeck_console::panes::chat::new_input(s.session.theme);
    type_text(&mut s, "select me");
    s.panes.chat.input.select_all();
    let terminal = screen(&s, 100, 30);
    let buffer = terminal.backend().buffer();
    let mut reversed = 0;
    for cell in buffer.content() {
        assert_eq!((cell.fg, cell.bg), (ratatui::style::Color::Reset, ratatui::style::Color::Reset), "{:?}", cell.symbol());
        reversed += usize::from(cell.modifier.contains(ratatui::style::Modifier::REVERSED));
    }
    assert!(reversed >= "select me".len(), "the selection shows as reversed text");
}

#[test]
fn the_resume_offer_counts_one_turn() {
    let mut s = ready_state();
    let summary =
        llamadeck_store::Summary { id: "c".into(), title: "t".into(), updated: 1_735_689_599, model: None, turns: 1, text: String::new() };
    update(&mut s, Action::Store(llamadeck_store::Reply::Latest(Some(summary))));
    let rows = row_texts(&s, 100, 30);
    assert!(rows.iter().any(|r| r.contains("· 1 turn ·")), "{rows:#?}");
}

/// Every overlay at 80×24, with the hint bar showing that overlay's own keys (and help only
/// where F1 opens it there). The fleet pane's is `fleet_pane_80x24`.
#[test]
fn every_overlay_at_80x24_shows_its_own_keys() {
    use llamadeck_console::app::State;
    use llamadeck_console::session::api::{RequestRecord, ServerEvent};
    use llamadeck_store::{Listing, Reply, Summary};
    let summary = |id: &str, title: &str| Summary {
        id: id.into(),
        title: title.into(),
        updated: 1_700_000_000,
        model: Some("llama-2-13b-chat".into()),
        turns: 3,
        text: String::new(),
    };
    let at_80x24 = |mut s: State| {
        update(&mut s, Action::Resize(80, 24));
        s
    };
    let mut help = at_80x24(conversation());
    update(&mut help, key(KeyCode::F(1)));
    let mut requests = at_80x24(conversation());
    for at in 0..3 {
        let record = RequestRecord { at: 3600 * at, status: 200, outcome: "stop".into(), ..RequestRecord::default() };
        update(&mut requests, Action::Server(ServerEvent::Finished(record)));
    }
    update(&mut requests, key(KeyCode::F(4)));
    let mut conversations = at_80x24(conversation());
    update(&mut conversations, key(KeyCode::F(3)));
    let entries = vec![summary("c2", "Quantising 13B"), summary("c1", "On-premise trade-offs")];
    update(&mut conversations, Action::Store(Reply::Listed(Listing { entries, damaged: Vec::new() })));
    // The offer to resume is made only to an empty chat.
    let mut resume = at_80x24(ready_state());
    update(&mut resume, Action::Gpu(shared(gpus(2))));
    update(&mut resume, Action::Store(Reply::Latest(Some(summary("c1", "On-premise trade-offs")))));
    let mut search = at_80x24(conversation());
    update(&mut search, ctrl('f'));
    type_text(&mut search, "GB");
    let mut notices = at_80x24(conversation());
    update(&mut notices, Action::Store(Reply::Exported(Ok("/home/operator/.local/share/llamadeck/exports/c1.md".into()))));
    update(&mut notices, key(KeyCode::F(7)));
    let overlays = [
        ("help", help),
        ("requests", requests),
        ("conversations", conversations),
        ("resume", resume),
        ("search", search),
        ("notices", notices),
    ];
    for (name, s) in overlays {
        let hints = s.panes.top().unwrap_or_else(|| panic!("{name} is open")).hints(&s.session);
        let rows = row_texts(&s, 80, 24);
        let bar = rows.last().unwrap();
        for hint in &hints.keys[..2.min(hints.keys.len())] {
            assert!(bar.contains(&format!("{} {}", hint.key, hint.label)), "{name}: {hint:?} in {bar:?}");
        }
        assert_eq!(bar.contains("F1 help"), hints.help, "{name}: {bar:?}");
        assert!(bar.contains("Ctrl+Q quit"), "{name}: {bar:?}");
        snapshot!(format!("console__overlay_{name}_80x24"), screen(&s, 80, 24).backend());
    }
}
