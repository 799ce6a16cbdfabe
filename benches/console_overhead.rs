//! What the console costs on top of the bare engine, on the real demo model.
//!
//! A (bare): the engine's face alone: `Engine::generate`, its events drained and counted.
//! B (console): the real event loop (`tui::event_loop::run`) on a 200x60 TestBackend at the
//! configured frame cap, with a scripted key stream that pastes the question and presses Enter,
//! the same engine, the GPU/host sampler and the conversation store, all feeding the inbox as
//! `startup::console` wires them. B's request is the one the console builds; A runs the same
//! request, and the answers must match token for token. B's engine is tapped (one forwarding
//! hop) to see when the answer streams and to close the keyboard once it is done.
//!
//! Decode tok/s is the engine's own figure (tokens after the first / time after the first) in
//! both. A and B alternate (order flipped each run) after one warm-up of each.
//!
//! Run: `cargo bench --bench console_overhead -- --runs 5 --tokens 128`
//! (env: CONSOLE_OVERHEAD_RUNS, CONSOLE_OVERHEAD_TOKENS, LLAMADECK_DEMO_MODEL, RAYON_NUM_THREADS).
use std::convert::Infallible;
use std::io;
use std::time::{Duration, Instant};

use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use llamadeck_config::Config;
use llamadeck_console::app::{Action, Effect, Inbox, State, update};
use llamadeck_console::tui::effects::Effects;
use llamadeck_console::tui::engine_link::EngineLink;
use llamadeck_console::tui::event_loop::{self, Exit, LoopIo};
use llamadeck_console::tui::producers;
use llamadeck_engine::{
    Engine, EngineCommand, EngineEvent, EngineStatus, GenEvent, GenerateRequest, Generation, GenerationSink, ModelSpec,
};
use llamadeck_store::worker::Worker;
use llamadeck_words::chat::{FinishReason, GenStats};
use llamadeck_words::keys::Keymap;
use llamadeck_words::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use tokio::sync::watch;

mod support;
use support::{Opts, median, preview};

/// Asks for a long answer, so that greedy decoding rarely stops before the token limit
/// (mistral.rs 0.8.1 cannot be told to ignore the end-of-sequence token).
const QUESTION: &str = "Write a long, detailed essay about the history of computers, from the abacus and \
    mechanical calculators to modern laptops, smartphones and cloud data centres.";

/// One generation's figures.
struct Sample {
    stats: GenStats,
    /// The streamed text exactly as the engine sent it.
    text: String,
    /// Process CPU (all threads) during the run.
    process_cpu: Duration,
    /// CPU of the thread running the consumer (A: the drain loop; B: the event loop).
    consumer_cpu: Duration,
    /// B only: frames drawn between the first token and the end, per second.
    redraws_per_s: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let opts = support::opts("CONSOLE_OVERHEAD")?;
    opts.pin_threads();
    // The console's own runtime shape (`startup::console::run`): the loop runs on this thread.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(bench(opts))
}

async fn bench(opts: Opts) -> anyhow::Result<()> {
    let mut config = Config::default();
    config.sampling.temperature = 0.0;
    config.sampling.max_tokens = opts.tokens;
    // Every run asks the same question: with the cache on, a greedy repeat is answered from the
    // first answer's recording (`replay`) and nothing would be measured.
    config.model.prefix_cache = llamadeck_engine::PrefixCache::Off;
    let spec = config.model_spec(Some(&opts.model.to_string_lossy()));

    // One engine for both paths, through its face.
    let (engine, loaded) = support::loaded_engine(spec.clone()).await?;
    let request = console_request(&config, &spec, &loaded);
    if request.sampling.temperature != 0.0 || request.sampling.max_tokens != opts.tokens {
        bail!("the console's request is not greedy with {} tokens: {:?}", opts.tokens, request.sampling);
    }
    let data_dir = tempfile::tempdir()?;
    let console = Console { engine: &engine, config: &config, spec: &spec, loaded: &loaded, data_dir: data_dir.path() };

    println!(
        "model {} ({}), threads {}, greedy, max {} tokens, screen 200x60 at {} fps, {} runs after a warm-up",
        opts.model.display(),
        spec.device,
        opts.threads,
        opts.tokens,
        config.ui.fps,
        opts.runs
    );
    let reference = bare(&engine, request.clone()).await?;
    let warm = console.run().await?;
    check_same(&reference, &warm, "warm-up")?;
    println!(
        "answer: {} tokens, {} prompt tokens, starts {:?}",
        reference.stats.completion_tokens,
        reference.stats.prompt_tokens,
        preview(&reference.text)
    );

    let (mut a, mut b) = (Vec::new(), Vec::new());
    for run in 0..opts.runs {
        // Flipping the order cancels slow drift (thermal, page cache) between the two paths.
        if run % 2 == 0 {
            a.push(bare(&engine, request.clone()).await?);
            b.push(console.run().await?);
        } else {
            b.push(console.run().await?);
            a.push(bare(&engine, request.clone()).await?);
        }
        let (sa, sb) = (&a[run], &b[run]);
        check_same(&reference, sa, "bare")?;
        check_same(&reference, sb, "console")?;
        println!(
            "run {}: bare {:6.2} tok/s ({} tok, ttft {} ms, cpu {:.2} s) | console {:6.2} tok/s ({} tok, ttft {} ms, cpu {:.2} s, loop thread {:.0} ms, {:.1} redraws/s)",
            run + 1,
            rate(sa),
            sa.stats.completion_tokens,
            sa.stats.ttft_ms.unwrap_or(0),
            sa.process_cpu.as_secs_f64(),
            rate(sb),
            sb.stats.completion_tokens,
            sb.stats.ttft_ms.unwrap_or(0),
            sb.process_cpu.as_secs_f64(),
            sb.consumer_cpu.as_secs_f64() * 1e3,
            sb.redraws_per_s.unwrap_or(0.0),
        );
    }

    let bare_rate = median(a.iter().map(rate));
    let console_rate = median(b.iter().map(rate));
    let ratio = console_rate / bare_rate;
    let paired = median(a.iter().zip(&b).map(|(a, b)| rate(b) / rate(a)));
    let redraws = median(b.iter().map(|s| s.redraws_per_s.unwrap_or(0.0)));
    let loop_ms = median(b.iter().map(|s| s.consumer_cpu.as_secs_f64() * 1e3));
    let extra_cpu = median(a.iter().zip(&b).map(|(a, b)| b.process_cpu.as_secs_f64() - a.process_cpu.as_secs_f64()));
    // The loop thread's CPU over the decode time: with every core busy decoding, roughly the
    // share of decode time it can take away (an upper bound: it includes the prefill's frames).
    let loop_share = median(b.iter().map(|s| 100.0 * s.consumer_cpu.as_secs_f64() * rate(s) / s.stats.completion_tokens as f64));
    let ttft = |v: &[Sample]| median(v.iter().map(|s| s.stats.ttft_ms.unwrap_or(0) as f64));
    let tokens = reference.stats.completion_tokens;
    println!();
    println!("bare engine   median {bare_rate:.2} tok/s");
    println!("console path  median {console_rate:.2} tok/s");
    println!("console/bare  {ratio:.4} (median of per-run ratios {paired:.4}); overhead {:.2} % (target <= 2 %)", (1.0 - ratio) * 100.0);
    println!("redraws while streaming: median {redraws:.1}/s, cap {} fps", config.ui.fps);
    println!(
        "console loop thread CPU: median {loop_ms:.0} ms per answer = {loop_share:.2} % of the decode time; \
         process CPU console minus bare: median {:+.0} ms",
        extra_cpu * 1e3
    );
    println!();
    // Machine-readable, one `key value` per line.
    println!("tokens {tokens}");
    println!("runs {}", opts.runs);
    println!("threads {}", opts.threads);
    println!("bare_decode_tok_s {bare_rate:.3}");
    println!("console_decode_tok_s {console_rate:.3}");
    println!("console_over_bare {ratio:.4}");
    println!("console_overhead_pct {:.2}", (1.0 - ratio) * 100.0);
    println!("bare_ttft_ms {:.0}", ttft(&a));
    println!("console_ttft_ms {:.0}", ttft(&b));
    println!("console_redraws_per_s {redraws:.2}");
    println!("redraw_cap_fps {}", config.ui.fps);
    println!("console_loop_cpu_ms {loop_ms:.1}");
    println!("console_loop_cpu_pct_of_decode {loop_share:.2}");
    Ok(())
}

fn rate(s: &Sample) -> f64 {
    s.stats.decode_tok_s.unwrap_or(0.0)
}

/// Both paths must have generated the same tokens, or the comparison means nothing.
fn check_same(reference: &Sample, s: &Sample, what: &str) -> anyhow::Result<()> {
    if s.stats.completion_tokens != reference.stats.completion_tokens || s.text != reference.text {
        bail!(
            "{what}: {} tokens {:?}... differs from the reference {} tokens {:?}...",
            s.stats.completion_tokens,
            preview(&s.text),
            reference.stats.completion_tokens,
            preview(&reference.text)
        );
    }
    if s.stats.decode_tok_s.is_none() {
        bail!("{what}: no decode rate ({} tokens)", s.stats.completion_tokens);
    }
    Ok(())
}

/// The request the console sends for QUESTION: a throwaway state fed the same keys.
fn console_request(config: &Config, spec: &ModelSpec, loaded: &EngineEvent) -> GenerateRequest {
    let mut state = State::new(config, Keymap::defaults(), spec.clone(), Theme::COLOR, Instant::now());
    update(&mut state, Action::Engine(loaded.clone()));
    update(&mut state, Action::Paste(QUESTION.into()));
    let effects = update(&mut state, Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    effects
        .into_iter()
        .find_map(|e| match e {
            Effect::Engine(EngineCommand::Generate(req)) => Some(req),
            _ => None,
        })
        .expect("Enter sends the question")
}

/// A: the engine's face alone; the consumer only collects the events.
async fn bare(engine: &Engine, request: GenerateRequest) -> anyhow::Result<Sample> {
    let (cpu, thread_cpu) = (cpu_time(libc::RUSAGE_SELF), cpu_time(libc::RUSAGE_THREAD));
    let mut generation = engine.generate(request);
    let mut text = String::new();
    let stats = loop {
        match generation.next().await.context("the answer ended without Finished")? {
            GenEvent::Token(t) => text.push_str(&t),
            GenEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, stats } => break stats,
            GenEvent::Finished { reason, .. } => bail!("bare run ended with {}", reason.label()),
            GenEvent::Failed(error) => bail!("bare run failed: {}", error.message),
            GenEvent::Started { .. } | GenEvent::Unsupported(_) | GenEvent::Logprobs(_) | GenEvent::ToolCalls(_) => {}
        }
    };
    let (thread_cpu, cpu) = (cpu_time(libc::RUSAGE_THREAD) - thread_cpu, cpu_time(libc::RUSAGE_SELF) - cpu);
    Ok(Sample { stats, text, process_cpu: cpu, consumer_cpu: thread_cpu, redraws_per_s: None })
}

/// B: what `startup::console` builds, with a TestBackend for the terminal.
struct Console<'a> {
    engine: &'a Engine,
    config: &'a Config,
    spec: &'a ModelSpec,
    loaded: &'a EngineEvent,
    data_dir: &'a std::path::Path,
}

impl Console<'_> {
    async fn run(&self) -> anyhow::Result<Sample> {
        // A fresh conversation each run, so the prompt is the same every time.
        let mut state = State::new(self.config, Keymap::defaults(), self.spec.clone(), Theme::COLOR, Instant::now());
        update(&mut state, Action::Engine(self.loaded.clone()));
        let inbox = Inbox::new();
        let gpu_rx = llamadeck_gpu::spawn_sampler(llamadeck_gpu::open_source(), Duration::from_millis(self.config.gpu.interval_ms));
        producers::gpu(gpu_rx, inbox.sender());
        let (keys, key_rx) = futures::channel::mpsc::unbounded::<io::Result<Event>>();
        keys.unbounded_send(Ok(Event::Paste(QUESTION.into())))?;
        keys.unbounded_send(Ok(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))))?;
        producers::terminal(key_rx, inbox.sender());
        let (tap, streamed) = Tap::new(self.engine.clone(), keys);
        let link = EngineLink::new(Engine::new(tap), inbox.sender());
        let store = Worker::spawn(self.data_dir.to_path_buf(), inbox.sender().sink(Action::Store))?;
        let effects = Effects::new(link, self.data_dir.join("config.yaml"), inbox.sender()).store(store);
        let io = LoopIo { inbox, effects, fps: self.config.ui.fps };
        let mut terminal = Terminal::new(FrameClock { inner: TestBackend::new(200, 60), flushes: Vec::new() })?;
        let (cpu, thread_cpu) = (cpu_time(libc::RUSAGE_SELF), cpu_time(libc::RUSAGE_THREAD));
        let (exit, _) = event_loop::run(&mut terminal, &mut state, io).await?;
        let (thread_cpu, cpu) = (cpu_time(libc::RUSAGE_THREAD) - thread_cpu, cpu_time(libc::RUSAGE_SELF) - cpu);
        let streamed = streamed.lock().unwrap().take().context("the tap saw no answer end")??;
        if exit != Exit::InputClosed {
            bail!("the console ended with {exit:?}");
        }
        // The screen's state must hold the whole answer: nothing was skipped.
        let answer = state.session.chat.messages.last().context("no answer in the console")?;
        let shown = answer.stats.as_ref().map(|s| s.completion_tokens);
        if shown != Some(streamed.stats.completion_tokens) || answer.text != llamadeck_words::text::sanitize(&streamed.text) {
            bail!("the console's answer ({shown:?} tokens) is not what the engine sent");
        }
        let frames = terminal.backend().flushes.iter().filter(|&&t| (streamed.first..=streamed.end).contains(&t)).count();
        let window = streamed.end.duration_since(streamed.first).as_secs_f64();
        Ok(Sample {
            stats: streamed.stats,
            text: streamed.text,
            process_cpu: cpu,
            consumer_cpu: thread_cpu,
            redraws_per_s: Some(frames as f64 / window),
        })
    }
}

struct Streamed {
    stats: GenStats,
    text: String,
    first: Instant,
    end: Instant,
}

type Outcome = Arc<Mutex<Option<anyhow::Result<Streamed>>>>;

/// The engine with a listener on its one answer: notes when it streams and how it ends, and
/// closes the keyboard once it is over (after a pause that lets the loop take in the end first).
struct Tap {
    engine: Engine,
    keys: Mutex<Option<futures::channel::mpsc::UnboundedSender<io::Result<Event>>>>,
    outcome: Outcome,
}

impl Tap {
    fn new(engine: Engine, keys: futures::channel::mpsc::UnboundedSender<io::Result<Event>>) -> (Self, Outcome) {
        let outcome = Outcome::default();
        (Self { engine, keys: Mutex::new(Some(keys)), outcome: outcome.clone() }, outcome)
    }
}

impl llamadeck_engine::LoadModel for Tap {
    fn load(&self, spec: ModelSpec) {
        let _ = self.engine.load(spec);
    }
}

impl llamadeck_engine::Backend for Tap {
    fn refresh(&self) {
        self.engine.refresh()
    }

    fn loader(&self) -> Option<&dyn llamadeck_engine::LoadModel> {
        self.engine.loads_models().then_some(self as &dyn llamadeck_engine::LoadModel)
    }

    fn status(&self) -> watch::Receiver<EngineStatus> {
        self.engine.watch_status()
    }

    fn generate(&self, request: GenerateRequest, sink: GenerationSink) {
        let generation = self.engine.generate(request);
        let keys = self.keys.lock().unwrap().take();
        tokio::spawn(relay(generation, sink, keys, self.outcome.clone()));
    }
}

async fn relay(
    mut generation: Generation,
    mut sink: GenerationSink,
    keys: Option<futures::channel::mpsc::UnboundedSender<io::Result<Event>>>,
    outcome: Outcome,
) {
    let mut text = String::new();
    let mut first = None;
    let result = loop {
        let event = tokio::select! {
            event = generation.next() => event,
            _ = sink.cancelled() => {
                generation.cancel();
                generation.next().await
            }
        };
        let Some(event) = event else { break Err(anyhow::anyhow!("the engine stopped")) };
        let end = match &event {
            GenEvent::Token(t) => {
                first.get_or_insert_with(Instant::now);
                text.push_str(t);
                None
            }
            GenEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, stats } => Some(Ok(stats.clone())),
            GenEvent::Finished { reason, .. } => Some(Err(anyhow::anyhow!("console run ended with {}", reason.label()))),
            GenEvent::Failed(error) => Some(Err(anyhow::anyhow!("console run failed: {}", error.message))),
            GenEvent::Started { .. } | GenEvent::Unsupported(_) | GenEvent::Logprobs(_) | GenEvent::ToolCalls(_) => None,
        };
        sink.send(event);
        if let Some(end) = end {
            let at = Instant::now();
            break end.map(|stats| Streamed { stats, text, first: first.unwrap_or(at), end: at });
        }
    };
    *outcome.lock().unwrap() = Some(result);
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(keys);
}

/// CPU time used by the process or by the calling thread.
fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A TestBackend that notes when each frame is flushed: `Terminal::draw` flushes once per
/// frame, so this counts redraws without touching the loop.
struct FrameClock {
    inner: TestBackend,
    flushes: Vec<Instant>,
}

impl Backend for FrameClock {
    type Error = Infallible;

    fn draw<'a, I: Iterator<Item = (u16, u16, &'a Cell)>>(&mut self, content: I) -> Result<(), Infallible> {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Infallible> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Infallible> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Infallible> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Infallible> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Infallible> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Infallible> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Infallible> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Infallible> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        self.flushes.push(Instant::now());
        self.inner.flush()
    }
}
