//! The store on a real folder: round trips, damaged files, ids, rename, delete, exports.
use super::*;
use llamadeck_words::chat::{FinishReason, GenStats, Message, MessageStatus, Role};
use llamadeck_words::sampling::Sampling;

fn conversation() -> Conversation {
    let mut answer = Message::new(Role::Assistant, "Use NVML.\x1b]52;c;aGk=\x07", MessageStatus::Complete);
    answer.sampling = Some(Sampling { temperature: 0.2, seed: Some(7), ..Sampling::default() });
    answer.model = Some("llama-2-13b-chat".into());
    answer.node = Some("node-a".into());
    answer.finish = Some(FinishReason::Stop);
    answer.stats = Some(GenStats {
        prompt_tokens: 30,
        completion_tokens: 3,
        ttft_ms: Some(90),
        decode_tok_s: Some(41.5),
        prefill_tok_s: None,
        cached_tokens: 0,
    });
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
        assert!(!r.chars().any(llamadeck_words::text::is_neutralised), "{r:?}");
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

/// A regenerated answer keeps its other versions on disk, the chosen one in its place.
#[test]
fn every_version_of_an_answer_is_saved_and_exports_keep_the_chosen_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = conversation();
    let first = Message::new(Role::Assistant, "first try", MessageStatus::Complete);
    let third = Message::new(Role::Assistant, "third try", MessageStatus::Stopped);
    c.messages[1].versions.earlier = vec![first];
    c.messages[1].versions.later = vec![third];
    save(dir.path(), &c, 1_735_832_600).unwrap();
    let back = load(dir.path(), "20250102-154312-00aa").unwrap();
    assert_eq!(back.messages, c.messages);
    assert_eq!((back.messages[1].versions.position(), back.messages[1].versions.count()), (2, 3));
    let md = export::markdown(&c);
    assert!(md.contains("Use NVML.") && md.contains("version 2 of 3") && !md.contains("first try"), "{md}");
    let json = export::openai_json(&c).to_string();
    assert!(json.contains("Use NVML.") && !json.contains("first try") && !json.contains("third try"), "{json}");
}

/// A conversation that ends with an answer exports the request that asked for it, ending with
/// the question, and the answer beside it: a trailing assistant message would not replay.
#[test]
fn a_json_export_ends_with_the_last_question_and_keeps_the_answer_beside() {
    let mut c = conversation();
    c.messages.truncate(4);
    let json = export::openai_json(&c);
    let roles: Vec<&str> = json["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(json["messages"][3]["content"], "And power?");
    assert_eq!(json["llamadeck"]["answer"], "partial");
}

/// A file from before answers had versions reads as answers with one version each.
#[test]
fn a_file_without_versions_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let old = r#"{"version": 1, "created": 1, "updated": 2, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "status": "complete", "finish": "stop"}]}"#;
    std::fs::write(dir.path().join("old-1.json"), old).unwrap();
    let back = load(dir.path(), "old-1").unwrap();
    assert_eq!(back.messages[1].text, "hello");
    assert_eq!(back.messages[1].versions.count(), 1);
}

#[test]
fn exports_markdown_and_openai_json() {
    let c = conversation();
    let md = export::markdown(&c);
    assert!(md.starts_with("# How do I read GPU memory?\n"), "{md}");
    assert!(md.contains("## llama-2-13b-chat\n") && md.contains("temperature 0.2") && md.contains("3 tok · 41.5 tok/s"));
    assert!(md.contains("_failed: boom_"));
    let json = export::openai_json(&c);
    assert_eq!(json["model"], "llama-2-13b-chat");
    assert_eq!(json["temperature"], 0.2);
    assert_eq!(json["seed"], 7, "a replay draws as the answer did");
    assert!(md.contains("seed 7"));
    let roles: Vec<&str> = json["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    // The failed exchange's question is left as the trailing prompt, as a replay would send it.
    assert_eq!(roles, ["system", "user", "assistant", "user", "assistant", "user"]);
    assert_eq!(json["messages"][1]["content"], "How do I read GPU memory?\nIn Rust.");
    assert!(json.get("llamadeck").is_none(), "the unanswered question is the request: no answer beside it");
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
    let mut w = worker::Worker::spawn(dir.path().to_path_buf(), llamadeck_words::sink::Sink::channel(tx)).unwrap();
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

/// Runs `f` on a thread and waits a bounded time: a store call that blocks fails the test.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the store answered instead of blocking")
}

#[test]
fn a_fifo_a_device_link_and_an_oversized_file_are_listed_as_damaged_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &conversation(), 10).unwrap();
    let mode = rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR;
    rustix::fs::mknodat(rustix::fs::CWD, dir.path().join("pipe.json"), rustix::fs::FileType::Fifo, mode, 0).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.json")).unwrap();
    // Sparse: takes no disk space, reads as zeros.
    std::fs::File::create(dir.path().join("huge.json")).unwrap().set_len(MAX_CONVERSATION_BYTES + (1 << 20)).unwrap();
    let path = dir.path().to_path_buf();
    let (listing, latest) = within_seconds(move || (list(&path), latest(&path)));
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(latest.map(|l| l.id).as_deref(), Some("20250102-154312-00aa"));
    let mut reasons: Vec<String> =
        listing.damaged.iter().map(|d| format!("{}: {}", d.file, d.reason.rsplit(": ").next().unwrap())).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "huge.json: too large (65 MiB; at most 64 MiB is read)",
            "pipe.json: not a regular file (a named pipe)",
            "zero.json: not a regular file (a character device)",
        ]
    );
}

#[test]
fn conversations_and_exports_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let data = tempfile::tempdir().unwrap();
    let dir = conversations_dir(data.path());
    save(&dir, &conversation(), 10).unwrap();
    assert_eq!(mode(&dir), 0o700);
    let file = dir.join("20250102-154312-00aa.json");
    assert_eq!(mode(&file), 0o600);
    // A file an older version left world-readable is made private when it is next written.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    rename(&dir, "20250102-154312-00aa", "GPU", 11).unwrap();
    assert_eq!(mode(&file), 0o600);
    let exported = export::write(&exports_dir(data.path()), ExportFormat::Markdown, &conversation(), 1).unwrap();
    assert_eq!((mode(&exported), mode(exported.parent().unwrap())), (0o600, 0o700));
}

#[test]
fn the_worker_removes_temp_files_a_crash_left_and_keeps_everything_else() {
    let data = tempfile::tempdir().unwrap();
    let dir = conversations_dir(data.path());
    std::fs::create_dir_all(&dir).unwrap();
    // Pid 0 never runs a writer: these were left by a process that is gone.
    let stale = [dir.join(".20250102-154312-00aa.json.0.1.0.tmp"), dir.join(".x.json.0.2.1.tmp")];
    let kept = [dir.join("notes.txt"), dir.join(".hidden")];
    for p in stale.iter().chain(&kept) {
        std::fs::write(p, b"half").unwrap();
    }
    let w = worker::Worker::spawn(data.path().to_path_buf(), llamadeck_words::sink::Sink::discard()).unwrap();
    assert!(w.flush(std::time::Duration::from_secs(5)));
    assert!(stale.iter().all(|p| !p.exists()), "stale temp files removed");
    assert!(kept.iter().all(|p| p.exists()), "other files untouched");
}

#[test]
fn a_conversation_too_large_to_read_back_is_not_written_and_the_file_keeps_the_last_save() {
    let data = tempfile::tempdir().unwrap();
    let dir = conversations_dir(data.path());
    let mut c = conversation();
    save(&dir, &c, 10).unwrap();
    let file = dir.join("20250102-154312-00aa.json");
    let good = std::fs::read(&file).unwrap();
    // Symbols a node's control characters became: three bytes each, past the read limit.
    let huge = "␁".repeat((MAX_CONVERSATION_BYTES / 3 + 1) as usize);
    c.messages.push(Message::user("and more?"));
    c.messages.push(Message::new(Role::Assistant, &huge, MessageStatus::Complete));
    let err = save(&dir, &c, 20).unwrap_err();
    let too_large = TooLarge::of(&err).expect("refused as too large");
    assert!(too_large.bytes > MAX_CONVERSATION_BYTES && too_large.limit == MAX_CONVERSATION_BYTES, "{too_large:?}");
    assert_eq!(err.to_string(), format!("too large to save ({}; a saved conversation holds at most 64 MiB)", files_size(too_large.bytes)));
    assert_eq!(std::fs::read(&file).unwrap(), good, "the last good save is kept");
    assert_eq!(load(&dir, "20250102-154312-00aa").unwrap().messages, conversation().messages);

    // Through the worker, the console hears why (and that nothing on disk changed).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut w = worker::Worker::spawn(data.path().to_path_buf(), llamadeck_words::sink::Sink::channel(tx)).unwrap();
    w.submit(Request::Save { serial: 1, conversation: Box::new(c) });
    assert!(w.flush(std::time::Duration::from_secs(30)));
    assert!(matches!(rx.try_recv(), Ok(Reply::TooLarge(TooLarge { limit: MAX_CONVERSATION_BYTES, .. }))));
    assert_eq!(std::fs::read(&file).unwrap(), good);
}

fn files_size(bytes: u64) -> String {
    llamadeck_words::files::human_size(bytes)
}

/// Messages as the console holds them: texts sanitized (as `Message::new` does), answers with
/// a model and a status that a file keeps.
fn messages() -> impl proptest::strategy::Strategy<Value = Vec<Message>> {
    use proptest::prelude::*;
    let message = (any::<bool>(), ".{0,60}", proptest::option::of(".{0,20}"), 0..3u8).prop_map(|(user, text, model, status)| {
        if user {
            return Message::user(&text);
        }
        let sanitize = llamadeck_words::text::sanitize;
        let status = match status {
            0 => MessageStatus::Complete,
            1 => MessageStatus::Stopped,
            _ => MessageStatus::Failed(sanitize(&text)),
        };
        let mut answer = Message::new(Role::Assistant, &text, status);
        answer.model = model.as_deref().map(sanitize);
        answer
    });
    proptest::collection::vec(message, 1..8)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The writer and the reader share one bound: whatever the writer writes reads back the
    /// same, and what it refuses is exactly what the reader would refuse, the file on disk kept.
    #[test]
    fn the_writer_refuses_exactly_what_the_reader_would_refuse(messages in messages(), slack in -3i64..=3) {
        let dir = tempfile::tempdir().unwrap();
        let id = "20250102-154312-00aa";
        let path = dir.path().join(format!("{id}.json"));
        let c = Conversation { id: Some(id.into()), title: None, created: Some(5), updated: None, messages };
        // The size of its file, and a bound just around it.
        let bytes = encode(&c, 7).unwrap();
        let limit = (bytes.len() as i64 + slack).max(0) as u64;
        let earlier = encode(&Conversation { messages: Vec::new(), ..c.clone() }, 6).unwrap();
        std::fs::write(&path, &earlier).unwrap();
        match save_within(dir.path(), &c, 7, limit) {
            Ok(()) => {
                proptest::prop_assert!(bytes.len() as u64 <= limit);
                proptest::prop_assert_eq!(load_within(dir.path(), id, limit).unwrap().messages, c.messages.clone());
            }
            Err(e) => {
                proptest::prop_assert_eq!(TooLarge::of(&e), Some(&TooLarge { bytes: bytes.len() as u64, limit }));
                proptest::prop_assert_eq!(std::fs::read(&path).unwrap(), earlier);
                // Written anyway, the reader would not take it.
                std::fs::write(&path, &bytes).unwrap();
                proptest::prop_assert!(load_within(dir.path(), id, limit).unwrap_err().contains("too large"));
            }
        }
    }
}
