//! Nodes that do not behave: one that accepts and never answers, one that stalls in the middle
//! of an answer, one that answers garbage, an address where nothing listens. Each shows why,
//! within its own timeout, and none delays the others.
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use llamadeck_engine::remote::{self, NodeSpec};
use llamadeck_engine::{GenEvent, LoadState};
use llamadeck_fleet::{self as fleet, Health, Target};
use llamadeck_words::chat::FinishReason;
use llamadeck_words::prom::EngineKind;

use super::procs::free_port;
use super::stub::{Behaviour, Stub};
use super::*;

fn target(name: &str, url: &str, metrics: &[String], timeout: Duration) -> Target {
    let mut api = NodeSpec::new(name, url).unwrap();
    api.timeout = timeout;
    Target { name: name.into(), api: Some(api), metrics: metrics.to_vec(), timeout }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_down_within_its_timeout_and_delays_no_other_node() {
    let silent = Stub::start(Behaviour::Silent);
    let healthy = Stub::start(Behaviour::StallsMidAnswer);
    let timeout = Duration::from_millis(300);
    let targets = vec![
        target("silent", &silent.url(), &[format!("http://{}/metrics", silent.addr)], timeout),
        target("healthy", &healthy.url(), &[format!("http://{}/metrics", healthy.addr)], timeout),
    ];
    let started = Instant::now();
    let readings = fleet::spawn(targets, Duration::from_millis(200));
    let why = until("the silent node down", Duration::from_secs(5), || match &readings.borrow().nodes[0].health {
        Health::Down(why) => Some(why.clone()),
        _ => None,
    })
    .await;
    assert!(started.elapsed() < Duration::from_millis(1500), "down only after {:?}", started.elapsed());
    assert!(why.contains("did not answer within 0.3 s"), "{why}");
    let healthy_reading = readings.borrow().nodes[1].clone();
    assert_eq!((&healthy_reading.health, healthy_reading.model.as_deref()), (&Health::Up, Some("stub-model")));
    let engine = healthy_reading.engine.expect("the healthy node's metrics");
    assert_eq!((engine.kind, engine.running), (EngineKind::Vllm, Some(1.0)));
    // While the silent node keeps timing out, the healthy one is polled every 200 ms.
    let before = healthy.requests();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(healthy.requests() - before >= 6, "{} requests in a second", healthy.requests() - before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_answer_ends_at_once_when_cancelled_and_its_connection_closes() {
    for behaviour in [Behaviour::StallsMidAnswer, Behaviour::StallsBeforeAnswering] {
        let stub = Stub::start(behaviour);
        let engine = remote::connect(NodeSpec::new("stub", &stub.url()).unwrap()).unwrap();
        assert_eq!(loaded(&engine).await.context_len, 1024);
        let mut generation = engine.generate(question(1, "Hello?", 64));
        if behaviour == Behaviour::StallsMidAnswer {
            assert!(matches!(next(&mut generation, Duration::from_secs(5)).await, GenEvent::Started { .. }));
            assert_eq!(next(&mut generation, Duration::from_secs(5)).await, GenEvent::Token("Hello".into()));
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(300), generation.next()).await.is_err(),
            "{behaviour:?}: the stub says nothing more"
        );
        let asked = Instant::now();
        generation.cancel();
        match next(&mut generation, Duration::from_secs(5)).await {
            GenEvent::Finished { reason: FinishReason::Stopped, .. } => {}
            other => panic!("{behaviour:?}: {other:?}"),
        }
        assert!(asked.elapsed() < Duration::from_millis(500), "{behaviour:?}: stopped after {:?}", asked.elapsed());
        until("the stub to see the connection closed", Duration::from_secs(5), || stub.answer_dropped.load(Ordering::SeqCst).then_some(()))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_ends_without_a_finish_reason_is_an_error_not_an_answer() {
    let stub = Stub::start(Behaviour::EndsWithoutFinishing);
    let engine = remote::connect(NodeSpec::new("cut", &stub.url()).unwrap()).unwrap();
    loaded(&engine).await;
    let events = to_the_end(&mut engine.generate(question(1, "Hello?", 64)), Duration::from_secs(5)).await;
    assert_eq!(text_of(&events), "Un");
    match events.last() {
        Some(GenEvent::Failed(e)) => assert!(e.message.starts_with("cut ended the stream without finishing the answer"), "{}", e.message),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_dead_addresses_show_why() {
    let babbler = Stub::start(Behaviour::Babbles);
    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let timeout = Duration::from_millis(500);
    let targets = vec![
        target("babbler", &babbler.url(), &[format!("http://{}/metrics", babbler.addr)], timeout),
        target("dead", &dead, &[], timeout),
    ];
    let readings = fleet::spawn(targets, Duration::from_millis(200));
    let (babble, gone) = until("both nodes down", Duration::from_secs(5), || {
        let fleet = readings.borrow();
        match (&fleet.nodes[0].health, &fleet.nodes[1].health) {
            (Health::Down(a), Health::Down(b)) => Some((a.clone(), b.clone())),
            _ => None,
        }
    })
    .await;
    assert!(babble.contains("not JSON"), "{babble}");
    assert!(gone.contains("cannot connect") && gone.contains("refused"), "{gone}");
    let problems = readings.borrow().nodes[0].problems.clone();
    assert!(problems[0].contains("not Prometheus metrics"), "{problems:?}");

    let engine = remote::connect(NodeSpec::new("babbler", &babbler.url()).unwrap()).unwrap();
    engine.refresh();
    let mut status = engine.watch_status();
    let state = status.wait_for(|s| matches!(s.state, LoadState::Failed { .. })).await.unwrap().state.clone();
    assert!(matches!(&state, LoadState::Failed { reason } if reason.contains("not JSON")), "{state:?}");
    // A question to a node that is not serving says why, at once, as "not ready".
    let mut generation = engine.generate(question(1, "Hello?", 8));
    match next(&mut generation, Duration::from_secs(5)).await {
        GenEvent::Failed(e) => assert!(e.message.starts_with("babbler: ") && e.message.contains("not JSON"), "{}", e.message),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_never_ends_fails_the_answer_at_its_cap_and_is_read_no_further() {
    let stub = Stub::start(Behaviour::EndlessEvent);
    let engine = remote::connect(NodeSpec::new("endless", &stub.url()).unwrap()).unwrap();
    loaded(&engine).await;
    let started = Instant::now();
    let events = to_the_end(&mut engine.generate(question(1, "Hello?", 64)), Duration::from_secs(20)).await;
    match events.last() {
        Some(GenEvent::Failed(e)) => assert_eq!(
            e.message,
            "endless sent more than 4 MiB in one server-sent event without ending it; llamadeck reads at most that much of one \
             event, so the answer stops here"
        ),
        other => panic!("{other:?}"),
    }
    // The connection closes with the answer: the stub's next write fails. What it could send
    // is what the decoder read to reach its cap (4 bytes of "data: x\n" for each byte of the
    // event, 16 MiB), and what the sockets' buffers (Linux grows a receiving one up to
    // tcp_rmem's maximum, often 32 MiB) and the HTTP client hold on the way.
    until("the stub to see the connection closed", Duration::from_secs(10), || stub.answer_dropped.load(Ordering::SeqCst).then_some(()))
        .await;
    let sent = stub.sent.load(Ordering::SeqCst);
    println!("failed after {:?}; the node sent {} MiB in all", started.elapsed(), sent >> 20);
    assert!((16 << 20..80 << 20).contains(&sent), "{sent} bytes sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_an_error_naming_where_it_points_and_the_other_server_hears_nothing() {
    let elsewhere = Stub::start(Behaviour::StallsMidAnswer);
    let moved = Stub::start(Behaviour::Redirects(elsewhere.addr));
    let answers_moved = Stub::start(Behaviour::RedirectsAnswers(elsewhere.addr));
    let advice = "llamadeck does not follow redirects: put the final URL in the config";
    let to = |path: &str| format!("answered 307 Temporary Redirect to http://{}{path}; {advice}", elsewhere.addr);

    // The poller: the model list and the metrics.
    let timeout = Duration::from_millis(500);
    let metrics = [format!("http://{}/metrics", moved.addr)];
    let readings = fleet::spawn(vec![target("node-a", &moved.url(), &metrics, timeout)], Duration::from_millis(200));
    let (why, problems) = until("node-a down", Duration::from_secs(5), || {
        let node = readings.borrow().nodes[0].clone();
        match node.health {
            Health::Down(why) => Some((why, node.problems)),
            _ => None,
        }
    })
    .await;
    assert_eq!(why, format!("{} {}", moved.addr, to("/v1/models")));
    assert_eq!(problems, [format!("{}: {}", metrics[0], to("/metrics"))]);

    // The remote engine asking what node-a serves.
    let engine = remote::connect(NodeSpec::new("node-a", &moved.url()).unwrap()).unwrap();
    engine.refresh();
    let mut status = engine.watch_status();
    let state = status.wait_for(|s| matches!(s.state, LoadState::Failed { .. })).await.unwrap().state.clone();
    assert_eq!(state, LoadState::Failed { reason: format!("{} {}", moved.addr, to("/v1/models")) });

    // An answer, from a node whose model list is served where it should be.
    let engine = remote::connect(NodeSpec::new("node-b", &answers_moved.url()).unwrap()).unwrap();
    loaded(&engine).await;
    let events = to_the_end(&mut engine.generate(question(1, "Hello?", 8)), Duration::from_secs(5)).await;
    match events.last() {
        Some(GenEvent::Failed(e)) => assert_eq!(e.message, format!("node-b {}", to("/v1/chat/completions"))),
        other => panic!("{other:?}"),
    }

    // A few polls more, and nothing of any of it reached the other server.
    let polled = moved.requests();
    until("more polls", Duration::from_secs(5), || (moved.requests() >= polled + 4).then_some(())).await;
    assert_eq!(elsewhere.requests(), 0);
}
