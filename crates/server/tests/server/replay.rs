//! What llamadeck writes, used the way the README says: an `/export json` file is an OpenAI
//! request body, "ready to replay" against our own API: the history up to the last question,
//! with the last answer beside it (`llamadeck.answer`), which the API ignores.
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
    let answer = |text: &str| {
        let mut answer = Message::new(Role::Assistant, text, MessageStatus::Complete);
        answer.sampling = Some(sampling.clone());
        answer.model = Some("scripted-13b".into());
        answer.finish = Some(FinishReason::Stop);
        answer
    };
    Conversation {
        id: Some("20250102-154312-00aa".into()),
        title: None,
        created: Some(1_735_832_592),
        updated: None,
        messages: vec![
            Message::user("How do I read GPU memory?"),
            answer("NVML reads it."),
            Message::user("And power?"),
            answer("nvmlDeviceGetPowerUsage."),
        ],
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
    assert_eq!(body["llamadeck"]["answer"], "nvmlDeviceGetPowerUsage.", "the answer travels beside the request");
    let last = body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["role"].as_str(), last["content"].as_str()), (Some("user"), Some("And power?")));
}

/// A trailing assistant message would mean "continue this answer", which the engine cannot do
/// right: a 400 naming `messages` that says so, not the engine's failure.
#[test]
fn a_trailing_assistant_message_is_refused_with_what_it_would_mean() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let engine = scripted_engine(vec!["never".into()], Duration::from_millis(1));
    engine.load(ModelSpec { source: "scripted-13b".into(), ..ModelSpec::default() }).expect("an in-process engine loads models");
    let server = runtime.block_on(llamadeck_server::start(engine, &options(), None, None)).expect("binds port 0");

    let body = serde_json::json!({"model": "scripted-13b", "messages": [
        {"role": "user", "content": "How do I read GPU memory?"},
        {"role": "assistant", "content": "NVML"},
    ]});
    let reply = post(server.addr, "/v1/chat/completions", body);
    assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(&reply.body));
    let error = &reply.json()["error"];
    assert_eq!(error["param"], "messages");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("continue") && message.contains("up to a user message"), "{message}");
}
