//! Test doubles for the console and the API: a scripted engine behind the engine's face,
//! hand-made GPU snapshots, a terminal backend that records bytes.
//! Only dev-dependencies reach them, so the binary never can.
use std::sync::Arc;
use std::time::{Duration, Instant};

use llamadeck_config::Config;
use llamadeck_console::app::State;
use llamadeck_engine::stop::{StopMatcher, StopStep};
use llamadeck_engine::{
    Backend, ChatFormat, Engine, EngineEvent, EngineStatus, GenError, GenErrorKind, GenEvent, GenerateRequest, GenerationSink, LoadModel,
    LoadState, ModelFacts, ModelSpec,
};
use llamadeck_gpu::snapshot::{GpuDevice, GpuProcess, GpuSnapshot, GpuStatus, HostStats};
use llamadeck_words::chat::{FinishReason, GenStats, Role};
use llamadeck_words::keys::Keymap;
use llamadeck_words::theme::Theme;
use tokio::sync::watch;

pub fn state() -> State {
    let spec = ModelSpec { source: "/models/llama-2-13b-chat".into(), device: "cpu".into(), ..Default::default() };
    State::new(&Config::default(), Keymap::defaults(), spec, Theme::COLOR, Instant::now())
}

pub fn ready_state() -> State {
    let mut s = state();
    llamadeck_console::app::update(
        &mut s,
        llamadeck_console::app::Action::Engine(EngineEvent::Loaded { model: "llama-2-13b-chat".into(), context_len: 4096 }),
    );
    s
}

const GIB: u64 = 1 << 30;

pub fn host() -> HostStats {
    HostStats { pid: 4121, rss_bytes: 812 << 20, cpu_percent: 3.5, total_memory: 24 * GIB, available_memory: 20 * GIB, cpus: 2 }
}

pub fn h100(index: u32) -> GpuDevice {
    GpuDevice {
        index,
        name: "NVIDIA H100 80GB HBM3".into(),
        lost: None,
        memory_used: Some(61 * GIB),
        memory_total: Some(80 * GIB),
        memory_reserved: Some(GIB / 2),
        util_gpu: Some(94),
        util_memory: Some(71),
        temperature_c: Some(52),
        power_mw: Some(312_000),
        power_limit_mw: Some(700_000),
        processes: vec![
            GpuProcess { pid: 4121, name: "llamadeck".into(), memory: Some(27 * GIB), is_self: true },
            GpuProcess { pid: 977, name: "python3".into(), memory: Some(33 * GIB), is_self: false },
        ],
    }
}

pub fn no_gpu() -> GpuSnapshot {
    GpuSnapshot {
        status: GpuStatus::Unavailable { reason: "NVML not available: libnvidia-ml.so: cannot open shared object file".into() },
        devices: vec![],
        host: host(),
    }
}

pub fn gpus(n: u32) -> GpuSnapshot {
    GpuSnapshot { status: GpuStatus::Nvml { driver: Some("580.65.06".into()) }, devices: (0..n).map(h100).collect(), host: host() }
}

pub fn lost_gpu() -> GpuSnapshot {
    let mut s = gpus(2);
    s.devices[1].lost = Some("GPU is lost (fell off the bus)".into());
    s
}

/// What a scripted engine does: every answer is `words`, one per `delay`, cut at `max_tokens`
/// and at stop strings; a prompt (words in the messages, plus one) longer than `context_len` is
/// refused as the real engine refuses it.
#[derive(Debug, Clone)]
pub struct Script {
    pub words: Vec<String>,
    pub delay: Duration,
    pub context_len: usize,
    /// After this many words the answer fails, as an engine error.
    pub fail_after: Option<usize>,
    /// After this many words the answer ends early, as `EarlyEnd` says.
    pub early_end: Option<(usize, EarlyEnd)>,
}

/// How a scripted answer can end before its words run out, other than by failing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EarlyEnd {
    /// The engine lets go of the generation with no last event (a crashed engine thread).
    Vanish,
    /// The engine stops the answer itself (`Finished` with `Stopped`, as a model reload does).
    Aborted,
}

/// The requests a scripted engine was given, in order.
pub type Requests = Arc<std::sync::Mutex<Vec<GenerateRequest>>>;

struct Scripted {
    script: Script,
    status: Arc<watch::Sender<EngineStatus>>,
    requests: Requests,
}

impl LoadModel for Scripted {
    fn load(&self, spec: ModelSpec) {
        let facts = ModelFacts { name: spec.source, context_len: self.script.context_len, format: Some(ChatFormat::Llama2) };
        let load_id = self.status.borrow().load_id + 1;
        let stages = vec!["reading weights".to_string()];
        self.status.send_replace(EngineStatus { load_id, state: LoadState::Ready(facts), stages, ..EngineStatus::default() });
    }
}

impl Backend for Scripted {
    fn refresh(&self) {}

    fn loader(&self) -> Option<&dyn LoadModel> {
        Some(self)
    }

    fn status(&self) -> watch::Receiver<EngineStatus> {
        self.status.subscribe()
    }

    fn generate(&self, request: GenerateRequest, mut sink: GenerationSink) {
        self.requests.lock().unwrap().push(request.clone());
        if self.status.borrow().facts().is_none() {
            return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::NotReady, "the model is not loaded yet")));
        }
        let script = self.script.clone();
        let prompt_tokens = 1 + request.messages.iter().map(|m| m.content.split_whitespace().count()).sum::<usize>();
        if prompt_tokens >= script.context_len {
            let message = format!("the prompt is {prompt_tokens} tokens but the model's context holds {}", script.context_len);
            return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::ContextFull, message)));
        }
        if !request.sampling.raw_mode && request.messages.last().is_none_or(|m| m.role != Role::User) {
            return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Invalid, "the conversation must end with a user message")));
        }
        tokio::spawn(async move {
            sink.send(GenEvent::Started { prompt_tokens, trimmed: 0 });
            let max = (request.sampling.max_tokens as usize).min(script.context_len - prompt_tokens);
            let mut stop = StopMatcher::new(&request.sampling.stop);
            let stats = |n| GenStats {
                prompt_tokens,
                completion_tokens: n,
                ttft_ms: Some(120),
                decode_tok_s: Some(40.0),
                prefill_tok_s: Some(300.0),
                cached_tokens: 0,
            };
            for (n, word) in script.words.iter().take(max).enumerate() {
                if script.fail_after == Some(n) {
                    return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, "the scripted engine failed")));
                }
                match script.early_end {
                    Some((after, EarlyEnd::Vanish)) if after == n => return drop(sink),
                    Some((after, EarlyEnd::Aborted)) if after == n => {
                        return sink.send(GenEvent::Finished { reason: FinishReason::Stopped, stats: stats(n) });
                    }
                    _ => {}
                }
                tokio::select! {
                    _ = sink.cancelled() => return sink.send(GenEvent::Finished { reason: FinishReason::Stopped, stats: stats(n) }),
                    _ = tokio::time::sleep(script.delay) => {}
                }
                let (text, stopped) = match stop.push(word) {
                    StopStep::Emit(text) => (text, false),
                    StopStep::Stop(text) => (text, true),
                };
                if !text.is_empty() {
                    sink.send(GenEvent::Token(text));
                }
                if stopped {
                    return sink.send(GenEvent::Finished { reason: FinishReason::Stop, stats: stats(n + 1) });
                }
            }
            let rest = stop.finish();
            if !rest.is_empty() {
                sink.send(GenEvent::Token(rest));
            }
            let n = script.words.len().min(max);
            let reason = if n == max && n < script.words.len() { FinishReason::Length } else { FinishReason::Stop };
            sink.send(GenEvent::Finished { reason, stats: stats(n) });
        });
    }
}

/// A scripted engine following `script`, and the requests it gets.
pub fn scripted(script: Script) -> (Engine, Requests) {
    let (status, _) = watch::channel(EngineStatus::default());
    let requests = Requests::default();
    (Engine::new(Scripted { script, status: Arc::new(status), requests: requests.clone() }), requests)
}

/// A scripted engine that loads at once (any spec; the model is named after its source) and
/// answers every request with `words`, one per `delay`, honouring cancel.
pub fn scripted_engine(words: Vec<String>, delay: Duration) -> Engine {
    scripted(Script { words, delay, context_len: 4096, fail_after: None, early_end: None }).0
}

pub fn shared(s: GpuSnapshot) -> Arc<GpuSnapshot> {
    Arc::new(s)
}

/// A real crossterm backend writing into memory instead of a tty, with a size the test sets:
/// what it records is exactly the bytes a terminal would receive.
/// A writer whose bytes the test can read while the backend owns it.
#[derive(Clone, Default)]
pub struct SharedBytes(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct BytesBackend {
    inner: ratatui::backend::CrosstermBackend<SharedBytes>,
    out: SharedBytes,
    pub size: std::sync::Arc<std::sync::Mutex<(u16, u16)>>,
    cursor: ratatui::layout::Position,
}

impl BytesBackend {
    pub fn new(w: u16, h: u16) -> Self {
        let out = SharedBytes::default();
        Self {
            inner: ratatui::backend::CrosstermBackend::new(out.clone()),
            out,
            size: std::sync::Arc::new(std::sync::Mutex::new((w, h))),
            cursor: ratatui::layout::Position::ORIGIN,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.out.0.lock().unwrap().clone()
    }
}

impl ratatui::backend::Backend for BytesBackend {
    type Error = std::io::Error;

    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> std::io::Result<()> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> std::io::Result<()> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> std::io::Result<ratatui::layout::Position> {
        Ok(self.cursor)
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(&mut self, position: P) -> std::io::Result<()> {
        self.cursor = position.into();
        self.inner.set_cursor_position(self.cursor)
    }
    fn clear(&mut self) -> std::io::Result<()> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> std::io::Result<()> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> std::io::Result<ratatui::layout::Size> {
        let (width, height) = *self.size.lock().unwrap();
        Ok(ratatui::layout::Size { width, height })
    }
    fn window_size(&mut self) -> std::io::Result<ratatui::backend::WindowSize> {
        let columns_rows = self.size()?;
        Ok(ratatui::backend::WindowSize { columns_rows, pixels: ratatui::layout::Size { width: 0, height: 0 } })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Checks terminal output: printable UTF-8 and CSI sequences (`ESC [ params final`) only, the
/// one exception being OSC 52 when `allow_osc52` (llamadeck's own copy, base64 payload).
/// Returns where and what the first offending byte sequence is.
pub fn terminal_output_problem(bytes: &[u8], allow_osc52: bool) -> Option<String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return Some(format!("not UTF-8: {e}")),
    };
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b {
            if b.get(i + 1) == Some(&b'[') {
                let mut j = i + 2;
                while j < b.len() && (0x30..=0x3f).contains(&b[j]) {
                    j += 1;
                }
                while j < b.len() && (0x20..=0x2f).contains(&b[j]) {
                    j += 1;
                }
                if j >= b.len() || !(0x40..=0x7e).contains(&b[j]) {
                    return Some(format!("bad CSI at {i}: {:?}", &text[i..(i + 12).min(text.len())]));
                }
                i = j + 1;
                continue;
            }
            if allow_osc52 && b[i..].starts_with(b"\x1b]52;c;") {
                let start = i + 7;
                let end = start + b[start..].iter().position(|&c| c == 0x1b).unwrap_or(b.len() - start);
                if !b[start..end].iter().all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(c)) || !b[end..].starts_with(b"\x1b\\") {
                    return Some(format!("bad OSC 52 at {i}"));
                }
                i = end + 2;
                continue;
            }
            return Some(format!("escape sequence at {i}: {:?}", &text[i..(i + 12).min(text.len())]));
        }
        let c = text[i..].chars().next().unwrap();
        if llamadeck_words::text::is_neutralised(c) {
            return Some(format!("control character {c:?} at {i}"));
        }
        i += c.len_utf8();
    }
    None
}

/// What the console's loop runs with in a test: `engine` (and, by name, `nodes`; `local` says
/// whether `engine` is the model here), the config file at `config_path`, no conversation store
/// and no clipboard, 30 frames a second. Must be called inside a tokio runtime.
pub fn loop_io_with_nodes(
    inbox: llamadeck_console::app::Inbox,
    engine: Engine,
    nodes: Vec<(String, Engine)>,
    local: bool,
    config_path: std::path::PathBuf,
) -> llamadeck_console::tui::event_loop::LoopIo {
    use llamadeck_console::tui::effects::Effects;
    use llamadeck_console::tui::engine_link::EngineLink;
    let link = EngineLink::new(engine, inbox.sender()).with_nodes(nodes, local);
    let effects = Effects::new(link, config_path, inbox.sender());
    llamadeck_console::tui::event_loop::LoopIo { inbox, effects, fps: 30 }
}

/// `loop_io_with_nodes` with the model here alone.
pub fn loop_io(
    inbox: llamadeck_console::app::Inbox,
    engine: Engine,
    config_path: std::path::PathBuf,
) -> llamadeck_console::tui::event_loop::LoopIo {
    loop_io_with_nodes(inbox, engine, Vec::new(), true, config_path)
}
