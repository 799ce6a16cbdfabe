//! Frame render time of the whole screen at 200×60 with a 1,000-message history and an answer
//! streaming in: the median of many frames, printed with the frame budget it must stay under.
//! Run: `cargo bench --bench render`.
use std::time::{Duration, Instant};

use llamadeck_config::Config;
use llamadeck_console::app::{Action, State, update};
use llamadeck_engine::{EngineCommand, EngineEvent, ModelSpec};
use llamadeck_gpu::snapshot::{GpuDevice, GpuSnapshot, GpuStatus};
use llamadeck_words::chat::{FinishReason, GenStats};
use llamadeck_words::keys::{Command, Keymap};
use llamadeck_words::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const FRAMES: usize = 300;

fn main() {
    let mut state = State::new(&Config::default(), Keymap::defaults(), ModelSpec::default(), Theme::COLOR, Instant::now());
    update(&mut state, Action::Engine(EngineEvent::Loaded { model: "llama-2-13b-chat".into(), context_len: 4096 }));
    let gpu = GpuDevice {
        index: 0,
        name: "NVIDIA H100 80GB HBM3".into(),
        memory_used: Some(60 << 30),
        memory_total: Some(80 << 30),
        util_gpu: Some(90),
        ..Default::default()
    };
    update(
        &mut state,
        Action::Gpu(GpuSnapshot { status: GpuStatus::Nvml { driver: None }, devices: vec![gpu], host: Default::default() }.into()),
    );
    update(&mut state, Action::Resize(200, 60));
    let answer =
        "On-premise deployment gives you control over data, latency and cost, at the price of running the hardware yourself. ".repeat(3);
    for i in 0..500 {
        let id = ask(&mut state, &format!("question {i}: what about trade-offs of deploying models on-premise?"));
        update(&mut state, Action::Engine(EngineEvent::Token { id, text: answer.clone() }));
        let stats = GenStats {
            prompt_tokens: 100,
            completion_tokens: 60,
            ttft_ms: Some(150),
            decode_tok_s: Some(40.0),
            prefill_tok_s: None,
            cached_tokens: 0,
        };
        update(&mut state, Action::Engine(EngineEvent::Finished { id, reason: FinishReason::Stop, stats }));
    }
    let streaming = ask(&mut state, "and one more");
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut times = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        update(&mut state, Action::Engine(EngineEvent::Token { id: streaming, text: format!("tok{i} ") }));
        let start = Instant::now();
        terminal.draw(|f| llamadeck_console::ui::render(f, &state)).unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[FRAMES / 2];
    let p95 = times[FRAMES * 95 / 100];
    println!(
        "render 200x60, {} messages, streaming: median {:?}, p95 {:?} over {FRAMES} frames",
        state.session.chat.messages.len(),
        median,
        p95
    );
    println!("render_median_ms {:.3}\nrender_p95_ms {:.3}", median.as_secs_f64() * 1e3, p95.as_secs_f64() * 1e3);
    println!(
        "frame budget at 30 fps: {:?}; median is {:.1}% of it",
        Duration::from_secs_f64(1.0 / 30.0),
        100.0 * median.as_secs_f64() * 30.0
    );
}

fn ask(state: &mut State, text: &str) -> u64 {
    update(state, Action::Paste(text.to_string()));
    let effects = update(state, Action::Command(Command::Send));
    effects
        .iter()
        .find_map(|e| match e {
            llamadeck_console::app::Effect::Engine(EngineCommand::Generate(req)) => Some(req.id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no request in {effects:?}"))
}
