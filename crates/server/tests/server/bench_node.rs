//! `llamadeck bench --connect` measures a node as `bench` measures the model here: through the
//! engine's face, here a remote engine on a served scripted engine.
use llamadeck_engine::Run;
use llamadeck_engine::bench::{BenchArgs, run};
use llamadeck_engine::remote::{self, NodeSpec};

use super::served::{api, script, words};

#[test]
fn bench_measures_a_node_through_the_face() {
    let api = api(script(words(6)), true);
    let node = NodeSpec::new("scripted", &format!("http://{}/v1", api.addr())).unwrap();
    let args = BenchArgs { run: Run::Node(node.clone()), prompt_tokens: 8, prompt: None, gen_tokens: 4, runs: 2, threads: None, soak: 0 };
    let start = || {
        let engine = remote::connect(node.clone())?;
        engine.refresh();
        Ok(engine)
    };
    let report = run(args, start).expect("the node answers");
    assert_eq!(report.model, "scripted-13b", "the node's model, from its /v1/models");
    assert_eq!(report.device, format!("node scripted at {}", api.addr()));
    assert_eq!(report.runs, 2);
    assert!(report.completion_tokens >= 2, "{report:?}");
    assert!(report.decode_tok_s > 0.0 && report.ttft_ms >= 0.0, "{report:?}");
    // The warm-up and two measured runs reached the node, each a raw prompt (/v1/completions).
    let asked = api.requests.lock().unwrap();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(asked.iter().all(|r| r.sampling.raw_mode && r.sampling.max_tokens == 4));
    // This process's memory is not the node's: none is reported.
    assert_eq!((report.peak_rss_bytes, report.rss_after_load_bytes, report.vram_bytes), (None, None, None));
}
