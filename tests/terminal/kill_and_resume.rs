//! SIGKILL in the middle of a real answer (tiny Llama-2 on CPU): the saved conversation stays
//! intact and the next start offers it back.
use super::pty::*;
use std::time::{Duration, Instant};

fn conversations(home: &std::path::Path) -> std::path::PathBuf {
    llamadeck_store::conversations_dir(&home.join("data/llamadeck"))
}

fn only_id(home: &std::path::Path) -> Option<String> {
    let listing = llamadeck_store::list(&conversations(home));
    assert!(listing.damaged.is_empty(), "{:?}", listing.damaged);
    listing.entries.first().map(|e| e.id.clone())
}

/// A real generation (the SmolLM2 demo model, CPU) in a pseudo-terminal, killed with SIGKILL
/// while it answers the second question (a long story, so the kill lands mid-answer): the file
/// holds the first exchange and the second question intact, and the next start offers it back.
#[test]
fn sigkill_mid_generation_leaves_an_intact_resumable_conversation() {
    let home = tempfile::tempdir().unwrap();
    let model = std::env::var_os("LLAMADECK_DEMO_MODEL").map(std::path::PathBuf::from).unwrap_or_else(llamadeck_engine::demo_model_path);
    assert!(model.is_file(), "run scripts/fetch-demo-model");
    let config = home.path().join("config/llamadeck/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let settings = "server:\n  enabled: false\nsampling:\n  temperature: 0.0\n  max_tokens: 300\n  system_prompt: \"\"\n";
    std::fs::write(&config, settings).unwrap();
    let start = |home: &std::path::Path| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_llamadeck"));
        command
            .args(["--model", model.to_str().unwrap()])
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("HOME", home)
            .env("TERM", "xterm-256color");
        spawn_in_pty(command)
    };

    let mut pty = start(home.path());
    // One word: ratatui skips cells that did not change, so a space may be a cursor move.
    assert!(pty.wait_for(b"anything", Duration::from_secs(120)), "the model loaded");
    pty.type_bytes(b"zebra: one word?\r");
    let dir = conversations(home.path());
    let first_done = Instant::now();
    let id = loop {
        assert!(first_done.elapsed() < Duration::from_secs(120), "the first answer was saved");
        if let Some(id) = only_id(home.path()) {
            let c = llamadeck_store::load(&dir, &id).unwrap();
            if c.messages.len() == 2 {
                break id;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mark = pty.output_len();
    pty.type_bytes(b"Write a long story about a lighthouse keeper.\r");
    // The answer's header says "thinking…" once the question is sent (the screen is drawn as a diff,
    // so the end of the first answer and the start of this one may share a frame: look for a word
    // only the new answer draws), then the question reaches the file before any of its answer.
    assert!(pty.wait_for_after(mark, b"thinking", Duration::from_secs(10)), "the second answer started");
    let asked = Instant::now();
    while llamadeck_store::load(&dir, &id).unwrap().messages.len() < 3 {
        assert!(asked.elapsed() < Duration::from_secs(10), "the second question was saved");
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe { libc::kill(pty.child.id() as i32, libc::SIGKILL) };
    pty.wait_exit(Duration::from_secs(10)).expect("killed");

    let c = llamadeck_store::load(&dir, &id).expect("the file is intact");
    assert_eq!(c.messages[0].text, "zebra: one word?");
    assert_eq!(c.messages[1].status, llamadeck_words::chat::MessageStatus::Complete);
    assert!(c.messages[1].sampling.as_ref().is_some_and(|s| s.temperature == 0.0 && s.max_tokens == 300));
    assert!(c.messages[1].stats.is_some() && c.messages[1].model.is_some());
    assert_eq!(c.messages[2].text, "Write a long story about a lighthouse keeper.", "the question was saved before its answer");
    assert_eq!(c.messages.len(), 3, "the kill landed while the answer was being written: {:?}", c.messages.get(3));

    // A restart offers the conversation back; Enter resumes it.
    // (The screen is drawn as a diff: words, not whole lines, are what can be looked for.)
    let mut pty = start(home.path());
    assert!(pty.wait_for(b"Resume", Duration::from_secs(30)), "{}", pty.text());
    let mark = pty.output_len();
    pty.type_bytes(b"\r");
    assert!(pty.wait_for_after(mark, b"zebra", Duration::from_secs(10)), "resumed");
    unsafe { libc::kill(pty.child.id() as i32, libc::SIGTERM) };
    assert!(pty.wait_exit(Duration::from_secs(20)).expect("exits on SIGTERM").success());
    assert_eq!(only_id(home.path()).as_deref(), Some(id.as_str()), "still one conversation, not a copy");
}
