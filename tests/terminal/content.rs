//! What the console shows of a conversation, through the real binary (issue 21, items 14-16):
//! a saved answer's markdown rendered, its versions flipped with Alt+←, and a slash command
//! run from the message box. No model is needed: the conversation is read from its file.
use std::time::Duration;

use super::lifecycle::console_command;
use super::pty::spawn_in_pty;
use llamadeck_store::Conversation;
use llamadeck_words::chat::{Message, MessageStatus, Role};

/// The screen is drawn as a diff: words, not whole lines, are what can be looked for.
#[test]
fn a_saved_answer_shows_its_markdown_flips_versions_and_slash_commands_run() {
    let home = tempfile::tempdir().unwrap();
    let dir = llamadeck_store::conversations_dir(&home.path().join("data/llamadeck"));
    let answer = |text: &str| Message::new(Role::Assistant, text, MessageStatus::Complete);
    let mut chosen = answer("Run **this**:\n\n```python\nimport pynvml\n```");
    chosen.versions.earlier = vec![answer("an earlier zebra answer")];
    let c = Conversation {
        id: Some("20250102-154312-00aa".into()),
        title: Some("gpu check".into()),
        created: Some(1_735_832_592),
        updated: None,
        messages: vec![Message::user("How do I check my GPU?"), chosen],
    };
    llamadeck_store::save(&dir, &c, 1_735_832_600).unwrap();

    let mut pty = spawn_in_pty(console_command(home.path()));
    assert!(pty.wait_for(b"Resume", Duration::from_secs(30)), "{}", pty.text());
    let mark = pty.output_len();
    pty.type_bytes(b"\r");
    assert!(pty.wait_for_after(mark, b"pynvml", Duration::from_secs(10)), "resumed: {}", pty.text());
    let text = pty.text();
    assert!(text.contains("python") && text.contains("2/2"), "the code block's language and the version: {text}");
    assert!(!text.contains("```") && !text.contains("**this**"), "markdown rendered: {text}");

    let mark = pty.output_len();
    pty.type_bytes(b"\x1b[1;3D"); // Alt+Left
    assert!(pty.wait_for_after(mark, b"zebra", Duration::from_secs(10)), "the earlier version: {}", pty.text());

    let mark = pty.output_len();
    pty.type_bytes(b"/set temperature 0.25\r");
    assert!(pty.wait_for_after(mark, b"0.25", Duration::from_secs(10)), "/set ran: {}", pty.text());

    pty.type_bytes(b"\x11"); // Ctrl+Q
    assert!(pty.wait_exit(Duration::from_secs(10)).expect("exits on Ctrl+Q").success());
    // The version shown was saved as the chosen one, the other kept.
    let back = llamadeck_store::load(&dir, "20250102-154312-00aa").unwrap();
    assert_eq!(back.messages[1].text, "an earlier zebra answer");
    assert_eq!(back.messages[1].versions.count(), 2);
}
