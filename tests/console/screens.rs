//! Screens: the whole console drawn on a TestBackend at several sizes and states, as insta
//! snapshots (the files under tests/snapshots/).
use crossterm::event::KeyCode;
use llamadeck::app::{Action, update};
use llamadeck::engine::EngineEvent;
use llamadeck::keys::Command;

use super::doubles::*;
use super::*;

#[test]
fn screen_loading_without_gpu() {
    let mut s = state();
    update(&mut s, Action::Gpu(shared(no_gpu())));
    update(&mut s, Action::Engine(EngineEvent::LoadStage { stage: "reading weights".into() }));
    snapshot!("console__screen_loading_without_gpu", screen(&s, 100, 30).backend());
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
    assert_eq!(s.sampling.temperature, 0.6);
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
    s.theme = llamadeck::theme::Theme::PLAIN;
    s.input = llamadeck::app::state::new_input(s.theme);
    let buffer = screen(&s, 100, 30).backend().buffer().clone();
    for cell in buffer.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "plain theme sets no colours");
    }
}

#[test]
fn the_theme_follows_no_color() {
    use llamadeck::config::ColorMode;
    use llamadeck::startup::theme;
    use llamadeck::theme::Theme;
    assert_eq!(theme(ColorMode::Auto, Some("1")), Theme::PLAIN);
    assert_eq!(theme(ColorMode::Auto, Some("")), Theme::COLOR);
    assert_eq!(theme(ColorMode::Auto, None), Theme::COLOR);
    assert_eq!(theme(ColorMode::Always, Some("1")), Theme::COLOR);
    assert_eq!(theme(ColorMode::Never, None), Theme::PLAIN);
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
        let page = llamadeck::layout::chat_page_height((w, h));
        s.scroll_top = Some(s.chat_plan().total.saturating_sub(page));
        let mut pinned = format!("{}", screen(&s, w, h).backend());
        // The footer says "scrolled" when pinned; compare everything else.
        pinned = pinned.replace("scrolled · Ctrl+End follows · ", "");
        assert_eq!(following.lines().take(h as usize - 5).collect::<Vec<_>>(), pinned.lines().take(h as usize - 5).collect::<Vec<_>>(), "{w}x{h} with {n} more");
    }
}

