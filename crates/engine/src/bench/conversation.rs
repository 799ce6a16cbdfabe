//! `llamadeck bench --turns N`: one conversation, as the chat pane holds it (a system prompt,
//! then each question with the answers so far), and the time to the first token at each turn:
//! what the prefix cache is for. Each run is a conversation of its own (its system prompt starts
//! with the run's number, so no run reuses another's prefix); the report has the median per
//! turn, and the prefix cache's accounts and the resident set at the end.
use super::{BenchArgs, median, ready, start_with_threads};
use crate::face::{Engine, GenEvent, GenerateRequest, PrefixCacheStats, Priority};
use anyhow::{Context, bail};
use llamadeck_words::chat::{ChatMessage, FinishReason, Role};
use llamadeck_words::sampling::Sampling;
use std::fmt;

/// About 110 tokens with common tokenizers, as a realistic system prompt.
pub const SYSTEM_PROMPT: &str = "You are a careful assistant for the people who run language models on their own GPU \
servers. You answer in plain words, briefly, and you say when you are not sure. You know about GPUs, memory, \
quantization, batching, key and value caches, and the tools operators use: schedulers, monitoring, and the \
command line. When a question is about numbers, give the number first and then one sentence of reasoning. \
Never invent a command or a flag; if one is needed, describe what it should do instead.";

/// The questions, in order; more turns than this go round again.
pub const QUESTIONS: [&str; 8] = [
    "What limits how fast a model answers on one GPU?",
    "And how much memory does a 13B model need in fp16?",
    "What changes if I quantize it to 4 bits?",
    "Why does a long conversation make the first token slower?",
    "How does a prefix cache help with that?",
    "What should I watch on the GPU while it serves?",
    "When is a second GPU worth it?",
    "Summarise the three most important points.",
];

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConversationReport {
    pub model: String,
    pub turns: usize,
    pub runs: usize,
    pub answer_tokens: usize,
    /// Median time to the first token at each turn, over the runs.
    pub ttft_ms: Vec<f64>,
    /// The prompt's tokens at each turn (of the first run).
    pub prompt_tokens: Vec<usize>,
    /// Of those, the tokens taken from the prefix cache.
    pub cached_tokens: Vec<usize>,
    /// Median decode speed at each turn.
    pub decode_tok_s: Vec<f64>,
    pub prefix_cache: Option<PrefixCacheStatsReport>,
    pub rss_after_load_bytes: Option<u64>,
    pub rss_after_bytes: Option<u64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PrefixCacheStatsReport {
    pub setting: String,
    pub budget_bytes: Option<u64>,
    pub bytes_held: u64,
    pub hits: u64,
    pub tokens_reused: u64,
    pub restarts: u64,
}

impl From<PrefixCacheStats> for PrefixCacheStatsReport {
    fn from(s: PrefixCacheStats) -> Self {
        Self {
            setting: s.setting,
            budget_bytes: s.budget_bytes,
            bytes_held: s.bytes_held,
            hits: s.hits,
            tokens_reused: s.tokens_reused,
            restarts: s.restarts,
        }
    }
}

/// `turns` turns, `args.runs` times, answers of `args.gen_tokens` greedy tokens.
pub fn run_conversation(
    args: BenchArgs,
    turns: usize,
    start: impl FnOnce() -> Result<Engine, String>,
) -> anyhow::Result<ConversationReport> {
    if args.runs == 0 || turns == 0 || args.gen_tokens < 2 {
        bail!("runs and turns must be at least 1 and gen-tokens at least 2");
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // A remote engine takes the runtime it is made in.
    let _inside = runtime.enter();
    let started = std::time::Instant::now();
    let engine = start_with_threads(args.threads, start).map_err(anyhow::Error::msg)?;
    runtime.block_on(conversations(engine, started, args, turns))
}

async fn conversations(engine: Engine, started: std::time::Instant, args: BenchArgs, turns: usize) -> anyhow::Result<ConversationReport> {
    let (model, _) = ready(&engine, started).await?;
    let here = args.here();
    let rss = || llamadeck_gpu::resident_bytes().filter(|_| here);
    let rss_after_load = rss();
    let mut ttft = vec![Vec::new(); turns];
    let mut decode = vec![Vec::new(); turns];
    let (mut prompt_tokens, mut cached_tokens) = (Vec::new(), Vec::new());
    let mut all_cached = 0u64;
    for run in 0..args.runs {
        let mut chat = vec![ChatMessage { role: Role::System, content: format!("Session {}. {SYSTEM_PROMPT}", run + 1), tool: None }];
        for turn in 0..turns {
            let question = match turn / QUESTIONS.len() {
                0 => QUESTIONS[turn].to_string(),
                round => format!("{} (again, round {})", QUESTIONS[turn % QUESTIONS.len()], round + 1),
            };
            chat.push(ChatMessage { role: Role::User, content: question, tool: None });
            let id = (run * turns + turn) as u64;
            let sampling = Sampling { temperature: 0.0, max_tokens: args.gen_tokens as u32, ..Sampling::default() };
            let (answer, stats) = answer(
                &engine,
                GenerateRequest { id, messages: chat.clone(), sampling, priority: Priority::Queued, options: Default::default() },
            )
            .await?;
            all_cached += stats.3 as u64;
            ttft[turn].push(stats.0);
            decode[turn].push(stats.1);
            if run == 0 {
                prompt_tokens.push(stats.2);
                cached_tokens.push(stats.3);
            }
            chat.push(ChatMessage { role: Role::Assistant, content: answer, tool: None });
        }
    }
    // The engine publishes the cache's accounts just after each answer ends.
    let mut status = engine.watch_status();
    let settled = status.wait_for(|s| s.cache.as_ref().is_none_or(|c| c.tokens_reused >= all_cached));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), settled).await;
    Ok(ConversationReport {
        model,
        turns,
        runs: args.runs,
        answer_tokens: args.gen_tokens,
        ttft_ms: ttft.into_iter().map(median).collect(),
        decode_tok_s: decode.into_iter().map(median).collect(),
        prompt_tokens,
        cached_tokens,
        prefix_cache: engine.status().cache.map(Into::into),
        rss_after_load_bytes: rss_after_load,
        rss_after_bytes: rss(),
    })
}

/// One answer: its text and (first-token ms, decode tok/s, prompt tokens, cached tokens).
async fn answer(engine: &Engine, request: GenerateRequest) -> anyhow::Result<(String, (f64, f64, usize, usize))> {
    let mut generation = engine.generate(request);
    let mut text = String::new();
    loop {
        match generation.next().await.context("the engine stopped")? {
            GenEvent::Token(t) => text.push_str(&t),
            GenEvent::Finished { reason: FinishReason::Stop | FinishReason::Length, stats } => {
                let ttft = stats.ttft_ms.unwrap_or(0) as f64;
                return Ok((text.trim().to_string(), (ttft, stats.decode_tok_s.unwrap_or(0.0), stats.prompt_tokens, stats.cached_tokens)));
            }
            GenEvent::Finished { reason, .. } => bail!("an answer ended with {}", reason.label()),
            GenEvent::Failed(error) => bail!("an answer failed: {}", error.message),
            GenEvent::Started { .. } | GenEvent::Unsupported(_) | GenEvent::Logprobs(_) | GenEvent::ToolCalls(_) => {}
        }
    }
}

impl fmt::Display for ConversationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "model     {}  (one conversation, {} turns, {}-token answers, greedy)", self.model, self.turns, self.answer_tokens)?;
        writeln!(f, "turn  prompt tok  cached  first token ms  decode tok/s")?;
        let rows = self.ttft_ms.iter().zip(&self.decode_tok_s).zip(self.prompt_tokens.iter().zip(&self.cached_tokens));
        for (i, ((ttft, decode), (prompt, cached))) in rows.enumerate() {
            writeln!(f, "{:>4}  {prompt:>10}  {cached:>6}  {ttft:>14.0}  {decode:>12.1}", i + 1)?;
        }
        if let Some(c) = &self.prefix_cache {
            let mib = |b: u64| b as f64 / (1 << 20) as f64;
            writeln!(
                f,
                "prefix cache ({}): {} hits, {} tokens reused, {:.0} MiB held of {}, {} restarts",
                c.setting,
                c.hits,
                c.tokens_reused,
                mib(c.bytes_held),
                c.budget_bytes.map_or_else(|| "its count".into(), |b| format!("{:.0} MiB", mib(b))),
                c.restarts
            )?;
        }
        if let (Some(load), Some(after)) = (self.rss_after_load_bytes, self.rss_after_bytes) {
            let mib = |b: u64| b as f64 / (1 << 20) as f64;
            writeln!(
                f,
                "RSS       {:.0} MiB after load, {:.0} MiB at the end ({:+.0} MiB)",
                mib(load),
                mib(after),
                mib(after) - mib(load)
            )?;
        }
        write!(f, "(median of {} runs, each a conversation of its own)", self.runs)
    }
}
