//! The store on a real folder: round trips, damaged files, ids, rename, delete, exports.
use super::*;
use crate::chat::{FinishReason, GenStats, Message, MessageStatus, Role};
use crate::sampling::Sampling;

fn conversation() -> Conversation {
    let mut answer = Message::new(Role::Assistant, "Use NVML.\x1b]52;c;aGk=\x07", MessageStatus::Complete);
    answer.sampling = Some(Sampling { temperature: 0.2, seed: Some(7), ..Sampling::default() });
    answer.model = Some("llama-2-13b-chat".into());
    answer.finish = Some(FinishReason::Stop);
    answer.stats = Some(GenStats { prompt_tokens: 30, completion_tokens: 3, ttft_ms: Some(90), decode_tok_s: Some(41.5), prefill_tok_s: None });
    let mut stopped = Message::new(Role::Assistant, "partial", MessageStatus::Stopped);
    stopped.finish = Some(FinishReason::Stopped);
    Conversation {
        id: Some("20250102-154312-00aa".into()),
        title: None,
        created: Some(1_735_832_592),
        updated: None,
        messages: vec![
            Message::user("How do I read GPU memory?\nIn Rust."),
            answer,
            Message::user("And power?"),
            stopped,
            Message::user("третий 🦙"),
            Message::new(Role::Assistant, "", MessageStatus::Failed("boom".into())),
        ],
    }
}

#[test]
fn a_saved_conversation_loads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let c = conversation();
    save(dir.path(), &c, 1_735_832_600).unwrap();
    let back = load(dir.path(), "20250102-154312-00aa").unwrap();
    assert_eq!(back.messages, c.messages);
    assert_eq!((back.created, back.updated), (Some(1_735_832_592), Some(1_735_832_600)));
    let text = std::fs::read_to_string(dir.path().join("20250102-154312-00aa.json")).unwrap();
    assert!(text.contains("\"version\": 1") && text.contains("\"temperature\": 0.2"), "{text}");
    assert!(!text.contains('\x1b'));
}

#[test]
fn listing_gives_title_date_model_turns_and_reports_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &conversation(), 1_735_832_600).unwrap();
    let good = std::fs::read(dir.path().join("20250102-154312-00aa.json")).unwrap();
    let damaged = [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("corrupt", b"{\"version\": 1, \"messages\": [}".to_vec()),
        ("future", b"{\"version\": 9, \"messages\": []}".to_vec()),
        ("noversion", b"{\"messages\": []}".to_vec()),
        ("badrole", String::from_utf8(good.clone()).unwrap().replacen("\"user\"", "\"hacker\"", 1).into_bytes()),
        ("binary", vec![0xff, 0xfe, 0x1b, b'[', b'2', b'J']),
        ("hostile", b"{\"version\": \"\x1b]52;c;aGk=\x07\"}".to_vec()),
    ];
    for (name, bytes) in &damaged {
        std::fs::write(dir.path().join(format!("{name}.json")), bytes).unwrap();
    }
    std::fs::write(dir.path().join(".temp.json.1.2.tmp"), b"half").unwrap();
    let listing = list(dir.path());
    assert_eq!(listing.entries.len(), 1);
    let e = &listing.entries[0];
    assert_eq!(e.title, "How do I read GPU memory?");
    assert_eq!((e.turns, e.updated, e.model.as_deref()), (3, 1_735_832_600, Some("llama-2-13b-chat")));
    let reasons: Vec<(&str, &str)> = listing.damaged.iter().map(|d| (d.file.as_str(), d.reason.as_str())).collect();
    assert_eq!(reasons.len(), damaged.len(), "{reasons:?}");
    let reason = |f: &str| reasons.iter().find(|(n, _)| *n == format!("{f}.json")).unwrap().1;
    assert!(reason("truncated").starts_with("truncated"), "{reasons:?}");
    assert!(reason("empty").contains("truncated"));
    assert!(reason("corrupt").starts_with("corrupt"));
    assert!(reason("future").starts_with("unknown version 9"));
    assert!(reason("noversion").contains("no version"));
    assert!(reason("badrole").contains("unknown role"));
    assert!(reason("binary").starts_with("corrupt"));
    for (_, r) in &reasons {
        assert!(!r.chars().any(crate::text::is_neutralised), "{r:?}");
    }
    // Nothing was written over.
    for (name, bytes) in &damaged {
        assert_eq!(&std::fs::read(dir.path().join(format!("{name}.json"))).unwrap(), bytes);
    }
    // A damaged file is never renamed (rewritten) either.
    assert!(rename(dir.path(), "truncated", "x", 1).is_err());
    assert_eq!(std::fs::read(dir.path().join("truncated.json")).unwrap(), damaged[0].1);
}

#[test]
fn latest_skips_damaged_files_and_new_ids_are_fresh() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(latest(dir.path()), None);
    save(dir.path(), &conversation(), 10).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.path().join("20990101-000000-ffff.json"), b"{\"version\": 1, \"mess").unwrap();
    assert_eq!(latest(dir.path()).unwrap().id, "20250102-154312-00aa");
    let id = new_id(dir.path(), 1_735_832_592);
    assert!(id.starts_with("20250102-154312-") && !dir.path().join(format!("{id}.json")).exists());
}

#[test]
fn rename_delete_and_bad_ids() {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &conversation(), 10).unwrap();
    rename(dir.path(), "20250102-154312-00aa", "GPU \x1b[2Jnotes", 20).unwrap();
    let c = load(dir.path(), "20250102-154312-00aa").unwrap();
    assert_eq!(c.title.as_deref(), Some("GPU ␛[2Jnotes"));
    assert_eq!(c.updated, Some(10), "renaming does not reorder");
    assert!(load(dir.path(), "../etc/passwd").is_err());
    assert!(delete(dir.path(), "../x").is_err());
    delete(dir.path(), "20250102-154312-00aa").unwrap();
    assert!(list(dir.path()).entries.is_empty());
}

#[test]
fn exports_markdown_and_openai_json() {
    let c = conversation();
    let md = export::markdown(&c);
    assert!(md.starts_with("# How do I read GPU memory?\n"), "{md}");
    assert!(md.contains("## Llama (llama-2-13b-chat)") && md.contains("temperature 0.2") && md.contains("3 tok · 41.5 tok/s"));
    assert!(md.contains("_failed: boom_"));
    let json = export::openai_json(&c);
    assert_eq!(json["model"], "llama-2-13b-chat");
    assert_eq!(json["temperature"], 0.2);
    assert_eq!(json["seed"], 7);
    let roles: Vec<&str> = json["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    // The failed exchange's question is left as the trailing prompt, as a replay would send it.
    assert_eq!(roles, ["system", "user", "assistant", "user", "assistant", "user"]);
    assert_eq!(json["messages"][1]["content"], "How do I read GPU memory?\nIn Rust.");
    let dir = tempfile::tempdir().unwrap();
    let path = export::write(dir.path(), ExportFormat::Json, &c, 1).unwrap();
    assert!(path.ends_with("20250102-154312-00aa.json"));
    let back: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(back, json);
}

#[test]
fn the_worker_assigns_one_id_per_conversation_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut w = worker::Worker::spawn(dir.path().to_path_buf(), crate::sink::Sink::channel(tx)).unwrap();
    let mut c = conversation();
    c.id = None;
    let save = |serial, c: &Conversation| Request::Save { serial, conversation: Box::new(c.clone()) };
    let Some(Reply::Assigned { id: a, .. }) = w.submit(save(1, &c)) else { panic!() };
    let Some(Reply::Assigned { id: b, .. }) = w.submit(save(1, &c)) else { panic!() };
    let Some(Reply::Assigned { id: other, .. }) = w.submit(save(2, &c)) else { panic!() };
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert!(w.flush(std::time::Duration::from_secs(5)));
    assert_eq!(list(&conversations_dir(dir.path())).entries.len(), 2);
    assert!(rx.try_recv().is_err(), "successful saves are quiet");
}
