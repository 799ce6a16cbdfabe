//! A fleet of two `llamadeck serve` processes on the demo model: both polled with their
//! metrics, a question to each, one killed in the middle of an answer (the answer ends with a
//! clear error, the node shows down, the other still answers), and the killed one started again
//! on its port shows up again and answers.
use std::time::Duration;

use llamadeck_engine::remote::{self, NodeSpec};
use llamadeck_engine::{AnswerFormat, AnswerOptions, Engine, GenEvent};
use llamadeck_fleet::{self as fleet, Fleet, Health, Target};
use llamadeck_words::chat::FinishReason;
use llamadeck_words::prom::EngineKind;
use tokio::sync::watch;

use super::procs::{Proc, llamadeck_serve};
use super::*;

fn target(name: &str, node: &Proc) -> Target {
    let mut api = NodeSpec::new(name, &node.url()).unwrap();
    api.timeout = Duration::from_secs(1);
    Target { name: name.into(), metrics: vec![format!("{}/metrics", api.root())], timeout: api.timeout, api: Some(api) }
}

async fn health(readings: &watch::Receiver<std::sync::Arc<Fleet>>, node: usize, up: bool) -> Health {
    until(if up { "the node up" } else { "the node down" }, Duration::from_secs(60), || {
        let health = readings.borrow().nodes[node].health.clone();
        (matches!(health, Health::Up) == up && !matches!(health, Health::Waiting | Health::Loading(_))).then_some(health)
    })
    .await
}

async fn answers(engine: &Engine, id: u64) -> usize {
    let events = to_the_end(&mut engine.generate(question(id, "Say hello.", 8)), Duration::from_secs(120)).await;
    match events.last() {
        Some(GenEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, stats }) => {
            // The server's usage chunk: its own count of the prompt.
            assert!(stats.prompt_tokens > 0 && (1..=8).contains(&stats.completion_tokens), "{stats:?}");
            stats.completion_tokens
        }
        other => panic!("{other:?}"),
    }
}

/// Issue 21.19: what a client asks of the answer reaches the node (a JSON Schema, log
/// probabilities) and the node's log probabilities come back as the face's events.
async fn format_and_logprobs_pass_through(engine: &Engine) {
    let schema =
        serde_json::json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false});
    let mut ask = question(9, "Is the sky blue?", 16);
    ask.options =
        AnswerOptions { format: AnswerFormat::JsonSchema { name: "yes".into(), schema }, logprobs: Some(2), ..AnswerOptions::default() };
    let events = to_the_end(&mut engine.generate(ask), Duration::from_secs(120)).await;
    let text: String = events.iter().filter_map(|e| if let GenEvent::Token(t) = e { Some(t.as_str()) } else { None }).collect();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    assert!(answer["ok"].is_boolean(), "{answer}");
    let scored: Vec<_> = events.iter().filter_map(|e| if let GenEvent::Logprobs(l) = e { Some(l) } else { None }).flatten().collect();
    // Where the schema leaves one token possible, it is the only alternative (log probability 0).
    assert!(!scored.is_empty() && scored.iter().all(|t| (1..=2).contains(&t.top.len())), "{scored:?}");
    assert!(scored.iter().any(|t| t.top.len() == 2), "{scored:?}");
    assert_eq!(scored.iter().map(|t| t.token.as_str()).collect::<String>(), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_nodes_polled_asked_one_killed_mid_answer_and_back() {
    let (mut a, mut b) = (llamadeck_serve(0), llamadeck_serve(0));
    tokio::task::block_in_place(|| {
        a.wait_ready(Duration::from_secs(120));
        b.wait_ready(Duration::from_secs(120));
    });
    let readings = fleet::spawn(vec![target("a", &a), target("b", &b)], Duration::from_millis(300));
    let (ea, eb) = (remote::connect(target("a", &a).api.unwrap()).unwrap(), remote::connect(target("b", &b).api.unwrap()).unwrap());
    for (engine, node) in [(&ea, 0), (&eb, 1)] {
        let facts = loaded(engine).await;
        assert!(facts.context_len > 0, "llamadeck says its context length: {facts:?}");
        health(&readings, node, true).await;
        let reading = readings.borrow().nodes[node].clone();
        assert_eq!(reading.model.as_deref(), Some(facts.name.as_str()));
        assert_eq!(reading.engine.as_ref().map(|e| e.kind), Some(EngineKind::Llamadeck), "{reading:?}");
    }
    let said = answers(&ea, 1).await;
    answers(&eb, 2).await;
    format_and_logprobs_pass_through(&eb).await;
    // Its metrics count what it generated.
    until("a's metrics to count the answer", Duration::from_secs(10), || {
        readings.borrow().nodes[0].engine.as_ref()?.generated_tokens.filter(|n| *n >= said as f64)
    })
    .await;

    // b dies in the middle of an answer.
    let mut long = eb.generate(question(3, "Count from one to five hundred in words.", 500));
    let mut tokens = 0;
    while tokens < 3 {
        match next(&mut long, Duration::from_secs(120)).await {
            GenEvent::Token(_) => tokens += 1,
            GenEvent::Started { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    let port = b.addr.port();
    b.kill();
    let end = loop {
        match next(&mut long, Duration::from_secs(10)).await {
            GenEvent::Token(_) => continue,
            end => break end,
        }
    };
    match end {
        GenEvent::Failed(e) => assert!(e.message.contains("b ") || e.message.starts_with("lost b"), "{}", e.message),
        other => panic!("the answer must end in an error, not {other:?}"),
    }
    health(&readings, 1, false).await;
    // (A poll the kill landed in may read "connection reset" first; the polls after find no one.)
    until("b down with nothing listening", Duration::from_secs(10), || {
        let health = readings.borrow().nodes[1].health.clone();
        health.reason().is_some_and(|r| r.contains("cannot connect")).then_some(())
    })
    .await;
    // a still answers.
    answers(&ea, 4).await;

    // b again, on the same port: it shows up and answers.
    let mut b = llamadeck_serve(port);
    tokio::task::block_in_place(|| b.wait_ready(Duration::from_secs(120)));
    health(&readings, 1, true).await;
    answers(&eb, 5).await;
}
