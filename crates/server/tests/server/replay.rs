//! What llamadeck writes, used the way the README says: an `/export json` file is an OpenAI
//! request body, "ready to replay" against our own API.
use std::time::Duration;

use llamadeck_engine::ModelSpec;
use llamadeck_store::{Conversation, ExportFormat, export};
use llamadeck_words::chat::{FinishReason, Message, MessageStatus, Role};
use llamadeck_words::sampling::Sampling;

use super::doubles::scripted_engine;
use super::http::post;
use super::served::options;

/// A conversation whose last answer used every sampling field an export can carry.
fn conversation() -> Conversation {
    let sampling = Sampling {
        temperature: 0.3,
        top_p: 0.8,
        top_k: 40,
        presence_penalty: 0.5,
        frequency_penalty: -0.5,
        max_tokens: 16,
        seed: Some(7),
        stop: vec!["###".into()],
        system_prompt: "Be brief.".into(),
        ..Sampling::default()
    };
    let mut answer = Message::new(Role::Assistant, "NVML reads it.", MessageStatus::Complete);
    answer.sampling = Some(sampling);
    answer.model = Some("scripted-13b".into());
    answer.finish = Some(FinishReason::Stop);
    Conversation {
        id: Some("20250102-154312-00aa".into()),
        title: None,
        created: Some(1_735_832_592),
        updated: None,
        messages: vec![Message::user("How do I read GPU memory?"), answer, Message::user("And power?")],
    }
}

#[test]
fn an_exported_conversation_replays_against_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let file = export::write(dir.path(), ExportFormat::Json, &conversation(), 1).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let engine = scripted_engine(vec!["Power ".into(), "too.".into()], Duration::from_millis(1));
    engine.load(ModelSpec { source: "scripted-13b".into(), ..ModelSpec::default() }).expect("an in-process engine loads models");
    let server = runtime.block_on(llamadeck_server::start(engine, &options(), None, None)).expect("binds port 0");

    let reply = post(server.addr, "/v1/chat/completions", body.clone());
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "Power too.");
    assert_eq!(body["seed"], 7, "the replay draws as the answer did");
}
