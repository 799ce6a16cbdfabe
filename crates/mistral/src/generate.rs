//! One answer: build the prompt (fitting the context), send it to mistral.rs as token ids,
//! and forward the stream to the generation's sink. mistral.rs's response channel is drained as
//! fast as it fills (the sink is unbounded), so a slow screen or client never stalls the engine.
use super::leading_space::{FirstToken, LeadRestorer, drawn_text};
use super::load::LoadedModel;
use super::logprobs::{Scorer, Scores};
use super::params::sampling_params;
use super::render::{encode_shielded, specials_in};
use super::replay::{Ask, Ending, Recorder, Shaping, Walk};
use super::sampler::{Draw, Rng, greedy, pick};
use super::template::{PromptFormat, check_alternation, dedup_leading_bos, llama2_prompt};
use super::tools::{self, Reading};
use llamadeck_engine::face::{GenError, GenErrorKind, GenEvent, GenerateRequest, GenerationSink};
use llamadeck_engine::stats::StatsClock;
use llamadeck_engine::stop::{StopMatcher, StopStep};
use llamadeck_words::chat::{ChatMessage, FinishReason, Role};
use mistralrs::core::RequestMessage;
use mistralrs::{Constraint, CustomLogitsProcessor, NormalRequest, Request, Response, StopTokens, Tensor};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc::channel;
use tokio::sync::oneshot;

/// Room kept for the answer when trimming old exchanges: max_tokens, at most a quarter of
/// the context (a long answer still runs until the context is full, then stops with "length").
pub fn prompt_budget(context_len: usize, max_tokens: u32) -> usize {
    context_len.saturating_sub((max_tokens as usize).min(context_len / 4).max(1))
}

/// The prompt's token ids and how many old messages were left out to fit.
pub fn build_prompt(model: &LoadedModel, req: &GenerateRequest) -> Result<(Vec<u32>, usize), GenError> {
    let context = model.context_len;
    let invalid = |message: String| GenError::new(GenErrorKind::Invalid, message);
    if req.sampling.raw_mode {
        let text = req.messages.iter().rev().find(|m| m.role == Role::User).ok_or_else(|| invalid("raw mode needs a prompt".into()))?;
        let ids = raw_prompt(model, &text.content).map_err(invalid)?;
        return if ids.len() < context { Ok((ids, 0)) } else { Err(too_long(ids.len(), context)) };
    }
    // A user message that already is a whole Llama-2 prompt is the prompt: not wrapped again.
    if let (PromptFormat::Llama2 { bos, eos }, Some(last)) = (model.format, req.messages.last())
        && last.role == Role::User
        && is_llama2_prompt(&last.content)
    {
        let mut ids = encode_with_markers(&model.plain, &last.content, bos, eos).map_err(invalid)?;
        if ids.first() != Some(&bos) {
            ids.insert(0, bos);
        }
        return if ids.len() < context { Ok((ids, 0)) } else { Err(too_long(ids.len(), context)) };
    }
    check_alternation(&req.messages).map_err(invalid)?;
    let budget = prompt_budget(context, req.sampling.max_tokens);
    let build = |messages: &[ChatMessage]| chat_prompt(model, messages).map_err(invalid);
    let cost = |m: &ChatMessage| model.plain.encode_fast(m.content.as_str(), false).map_or(0, |e| e.len());
    fit(&req.messages, budget, context, build, cost)
}

/// The prompt for `messages` within `budget` tokens: whole old exchanges after the system
/// prompt are left out, and when some must go, enough go to bring the prompt to three
/// quarters of the budget, so the next turns find the same prefix (and a prefix cache hit)
/// instead of losing one more exchange each time. The number of exchanges to leave out is
/// estimated from each message's own tokens, so a long history costs a few builds, not one per
/// exchange. The newest message alone is sent if it fits the context at all; it is never cut.
fn fit(
    messages: &[ChatMessage],
    budget: usize,
    context: usize,
    build: impl Fn(&[ChatMessage]) -> Result<Vec<u32>, GenError>,
    cost: impl Fn(&ChatMessage) -> usize,
) -> Result<(Vec<u32>, usize), GenError> {
    let ids = build(messages)?;
    if ids.len() <= budget {
        return Ok((ids, 0));
    }
    let first = usize::from(messages.first().is_some_and(|m| m.role == Role::System));
    let exchanges = (messages.len() - first) / 2;
    let costs: Vec<usize> = messages.iter().map(cost).collect();
    let overhead = ids.len().saturating_sub(costs.iter().sum()) / messages.len().max(1);
    let target = budget * 3 / 4;
    let (mut estimate, mut dropped) = (ids.len(), 0);
    while dropped < exchanges && estimate > target {
        let at = first + 2 * dropped;
        estimate = estimate.saturating_sub(costs[at] + costs[at + 1] + 2 * overhead);
        dropped += 1;
    }
    loop {
        let kept = [&messages[..first], &messages[first + 2 * dropped..]].concat();
        let ids = build(&kept)?;
        if ids.len() <= budget {
            return Ok((ids, 2 * dropped));
        }
        if dropped < exchanges {
            dropped += 1;
        } else if ids.len() < context {
            return Ok((ids, 2 * dropped));
        } else {
            return Err(too_long(ids.len(), context));
        }
    }
}

fn too_long(tokens: usize, context: usize) -> GenError {
    GenError::new(
        GenErrorKind::ContextFull,
        format!("the prompt is {tokens} tokens but the model's context holds {context}; shorten the message"),
    )
}

/// A raw completion's prompt: the text as it is. Its special tokens' spellings are read as the
/// tokens (a raw prompt is the whole prompt, control tokens included).
fn raw_prompt(model: &LoadedModel, text: &str) -> Result<Vec<u32>, String> {
    let encode = |special| model.tokenizer.encode_fast(text, special).map(|e| e.get_ids().to_vec()).map_err(|e| e.to_string());
    match model.format {
        // A prompt that spells out its own `<s>`: those markers are the BOS/EOS ids, not text.
        PromptFormat::Llama2 { bos, eos } if text.trim_start().starts_with("<s>") => encode_with_markers(&model.plain, text, bos, eos),
        // Meta's text_completion: BOS + tokenize(prompt).
        PromptFormat::Llama2 { bos, .. } => {
            let text = model.plain.encode_fast(text, false).map_err(|e| e.to_string())?;
            Ok([vec![bos], text.get_ids().to_vec()].concat())
        }
        PromptFormat::ModelTemplate => encode(true),
    }
}

/// True for text already in Llama-2-chat form: `<s>[INST] ... [/INST]` (the `<s>` optional).
pub fn is_llama2_prompt(text: &str) -> bool {
    let t = text.trim_start();
    let t = t.strip_prefix("<s>").unwrap_or(t).trim_start();
    t.starts_with("[INST]") && text.contains("[/INST]")
}

/// Encodes text that spells out `<s>` and `</s>`: each marker becomes the BOS/EOS id and the
/// text between them is tokenized on its own, as Meta's reference does (whitespace-only gaps,
/// such as the newline in `</s>\n<s>`, are left out). `plain` reads no other special token.
pub fn encode_with_markers(plain: &tokenizers::Tokenizer, text: &str, bos: u32, eos: u32) -> Result<Vec<u32>, String> {
    let mut ids = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let next = [("<s>", bos), ("</s>", eos)].into_iter().filter_map(|(m, id)| rest.find(m).map(|at| (at, m, id))).min();
        let (piece, marker) = match next {
            Some((at, m, id)) => (&rest[..at], Some((m, id))),
            None => (rest, None),
        };
        if !piece.trim().is_empty() {
            let encoded = plain.encode_fast(piece, false).map_err(|e| format!("tokenizer: {e}"))?;
            ids.extend_from_slice(encoded.get_ids());
        }
        match marker {
            Some((m, id)) => {
                ids.push(id);
                rest = &rest[piece.len() + m.len()..];
            }
            None => break,
        }
    }
    Ok(ids)
}

/// A chat prompt: Llama-2's built by hand, token by token; other models' through their own
/// template, rendered and tokenized here. Message text is never read as control tokens.
fn chat_prompt(model: &LoadedModel, messages: &[ChatMessage]) -> Result<Vec<u32>, String> {
    match model.format {
        PromptFormat::Llama2 { bos, eos } => llama2_prompt(messages, &model.plain, bos, eos),
        PromptFormat::ModelTemplate => {
            let renderer = model.renderer.as_ref().ok_or("the model has no chat template")?;
            let text = renderer.render(messages)?;
            let literals = specials_in(messages, &model.specials);
            let mut ids = if literals.is_empty() {
                model.tokenizer.encode_fast(text.as_str(), true).map(|e| e.get_ids().to_vec()).map_err(|e| format!("tokenizer: {e}"))?
            } else {
                encode_shielded(&text, messages, &literals, &model.tokenizer, &model.plain)?
            };
            dedup_leading_bos(&mut ids, model.bos);
            Ok(ids)
        }
    }
}

/// Runs one request to the end, a stop sequence, an error, the caller's cancel or the worker's
/// `abort` (a new model is loading). The prompt is built at once; it goes to mistral.rs when
/// the worker sends on `admitted` (see `worker`). `max_tokens` larger than what is left of the
/// context is clamped to fit.
pub async fn run(
    model: LoadedModel,
    mut req: GenerateRequest,
    mut sink: GenerationSink,
    mut admitted: oneshot::Receiver<()>,
    mut abort: oneshot::Receiver<()>,
) {
    // Tools on any model (`tools`): the conversation written plainly, the answer held to a call
    // or words and read when it is complete.
    if tools::involved(&req.messages, &req.options) {
        req.messages = tools::plain_conversation(&req.messages, &req.options);
    }
    let mut held = req.options.tools_on().then(String::new);
    let (ids, trimmed) = match build_prompt(&model, &req) {
        Ok(p) => p,
        Err(error) => return sink.send(GenEvent::Failed(error)),
    };
    sink.send(GenEvent::Started { prompt_tokens: ids.len(), trimmed });
    let room = model.context_len.saturating_sub(ids.len()).max(1);
    req.sampling.max_tokens = req.sampling.max_tokens.min(u32::try_from(room).unwrap_or(u32::MAX));
    let finish = |reason, clock: &StatsClock| GenEvent::Finished { reason, stats: clock.stats() };
    // Waiting for a slot costs nothing: a request whose client leaves meanwhile never reaches
    // mistral.rs (which cannot stop a prompt it has started reading).
    let go = tokio::select! {
        biased;
        _ = sink.cancelled() => false,
        _ = &mut abort => false,
        go = &mut admitted => go.is_ok(),
    };
    if !go || sink.is_cancelled() {
        return sink.send(finish(FinishReason::Stopped, &StatsClock::start(ids.len())));
    }
    let draw = Draw::from_sampling(&req.sampling);
    let mut rng = req.sampling.seed.map_or_else(Rng::random, Rng::seeded);
    let scores = req.options.logprobs.map(|top| Scores::new(usize::from(top)));
    let schema = tools::answer_schema(&req.options).or_else(|| req.options.format.schema());
    let shaping = Shaping::new(req.sampling.repetition_penalty, req.sampling.presence_penalty, req.sampling.frequency_penalty);
    // Answers held to nothing but their settings are recorded, and may be drawn again from
    // what was recorded (`replay`): mistral.rs reads nothing of a prompt a cached entry covers.
    let plain = schema.is_none() && scores.is_none() && held.is_none();
    let mut clock = StatsClock::start(ids.len());
    // An answer held for its tool calls is JSON: stop strings would cut it.
    let stops: &[String] = if held.is_some() { &[] } else { &req.sampling.stop };
    let mut stop = StopMatcher::new(stops);
    // Read now: the cache may have been emptied while this answer waited.
    let book = lock(&model.prefix).as_ref().filter(|cache| plain && cache.covers(&ids)).map(|cache| cache.replays.clone());
    let ask = Ask { draw, shaping, max_tokens: req.sampling.max_tokens as usize, ends: &model.ends, controls: &model.controls };
    // A lost walk leaves the generator as it found it: a seeded answer is then the one a fresh
    // run gives (the walk's draws are the fresh run's first draws only when they are used).
    let before_walk = rng.clone();
    let walk = book.map_or(Walk::Lost, |book| book.walk(&ids, &ask, &mut rng));
    let raw_last = if req.sampling.raw_mode { ids.last().copied() } else { None };
    let drawn = match &walk {
        Walk::Whole { tokens, .. } | Walk::Diverged { tokens } => drawn_text(&model.tokenizer, raw_last, tokens),
        Walk::Lost => String::new(),
    };
    let (drawn_tokens, ending) = match walk {
        // Text that ends inside a character would be cut where mistral.rs goes on: sent whole.
        Walk::Diverged { .. } if drawn.contains('\u{FFFD}') => (Vec::new(), None),
        Walk::Whole { tokens, ending } => (tokens, Some(ending)),
        Walk::Diverged { tokens } => (tokens, None),
        Walk::Lost => (Vec::new(), None),
    };
    if drawn_tokens.is_empty() {
        rng = before_walk;
    } else {
        // Nothing of the prompt is read again.
        clock.cached(ids.len());
        note_hit(&model, ids.len());
        clock.token();
        clock.sampled(drawn_tokens.len());
        if forward(&mut stop, &drawn, &sink, &mut held) {
            return finished(&sink, None, held, finish(FinishReason::Stop, &clock));
        }
        if let Some(ending) = ending {
            token(&sink, &mut held, stop.finish());
            let reason = if ending == Ending::EndToken { FinishReason::Stop } else { FinishReason::Length };
            return finished(&sink, None, held, finish(reason, &clock));
        }
    }
    // What goes to mistral.rs: the prompt, and the tokens drawn here.
    let send = [ids.as_slice(), &drawn_tokens].concat();
    let offset = drawn_tokens.len();
    let max_tokens = req.sampling.max_tokens;
    req.sampling.max_tokens = req.sampling.max_tokens.saturating_sub(offset as u32).max(1);
    let first_token = FirstToken::default();
    let sequence = Arc::new(std::sync::Mutex::new(send.clone()));
    let recorder = plain.then(|| Arc::new(std::sync::Mutex::new(Recorder::default())));
    let first_context = Arc::new(AtomicUsize::new(usize::MAX));
    let step =
        Step { sequence: sequence.clone(), first: first_token.clone(), first_context: first_context.clone(), recorder: recorder.clone() };
    let (sampled, step) = step_processor(step, draw.map(|d| (d, rng)), scores.clone());
    // Control tokens are left out of an answer's log probabilities.
    let scorer = scores.map(|scores| Scorer::new(scores, &model.tokenizer, &model.plain, &model.controls));
    // mistral.rs caches the sequences it finishes itself (not those cancelled): count them, and
    // keep how this one was drawn.
    let cached = |reason: FinishReason| {
        if let Some(cache) = lock(&model.prefix).as_mut() {
            cache.added(&lock(&sequence));
            let ending = if reason == FinishReason::Stop { Ending::EndToken } else { Ending::Length };
            let recording =
                recorder.as_ref().and_then(|r| std::mem::take(&mut *lock(r)).finish(send.clone(), draw.is_none(), shaping, ending));
            if let Some(recording) = recording {
                cache.replays.add(recording);
            }
        }
    };
    // What mistral.rs skipped of the prompt, as its first step shows (on a prefix-cache hit the
    // sampler's first context is the part of the prompt it read), once.
    let mut measured = false;
    let mut measure = |clock: &mut StatsClock| {
        let seen = first_context.load(Ordering::Relaxed);
        if measured || seen == usize::MAX || offset > 0 {
            return;
        }
        measured = true;
        let skipped = send.len().saturating_sub(seen);
        clock.cached(skipped);
        note_hit(&model, skipped);
    };
    // The first text mistral.rs sends after tokens drawn here is trimmed like any first text:
    // its whitespace is put back as after a raw prompt.
    let lead_last = if offset > 0 { send.last().copied() } else { raw_last };
    let mut lead = LeadRestorer::new(model.tokenizer.clone(), lead_last, first_token);
    // A few chunks of slack so the engine never waits on us between polls.
    let (tx, mut rx) = channel(64);
    let mut params = sampling_params(&req.sampling);
    if schema.is_some() {
        // A finished JSON is ended with the token llguidance takes for the end, which need not
        // be the chat's (SmolLM2's `<|endoftext|>`, not `<|im_end|>`): any control token ends it.
        params.stop_toks = Some(StopTokens::Ids(model.controls.to_vec()));
    }
    let request = Request::Normal(Box::new(NormalRequest {
        messages: RequestMessage::CompletionTokens(send.clone()),
        sampling_params: params,
        response: tx,
        return_logprobs: false,
        is_streaming: true,
        id: model.runner.next_request_id(),
        constraint: constraint(schema),
        suffix: None,
        tools: None,
        tool_choice: None,
        logits_processors: Some(vec![step]),
        return_raw_logits: false,
        web_search_options: None,
        model_id: None,
        truncate_sequence: false,
    }));
    let sender = match model.runner.get_sender(None) {
        Ok(sender) => sender,
        Err(e) => return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, format!("the engine is not running: {e}")))),
    };
    if let Err(error) = sender.send(request).await {
        return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, format!("the engine is not running: {error}"))));
    }

    loop {
        let response = tokio::select! {
            biased;
            _ = sink.cancelled() => None,
            _ = &mut abort => None,
            r = rx.recv() => Some(r),
        };
        clock.sampled(offset + sampled.load(Ordering::Relaxed));
        measure(&mut clock);
        let Some(response) = response else {
            // Dropping `rx` makes mistral.rs cancel the sequence at its next token.
            return sink.send(finish(FinishReason::Stopped, &clock));
        };
        let Some(response) = response else {
            if sender.is_closed() {
                // mistral.rs's engine thread ended (it panicked): this answer is cut short.
                let error = "the engine stopped in the middle of this answer (see the log); ask again";
                return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, error)));
            }
            // mistral.rs ends a stream without a final chunk when the last token leaves an
            // incomplete UTF-8 character (no text to send); errors always arrive as responses.
            if let Some(held_back) = lead.flush()
                && forward(&mut stop, &held_back, &sink, &mut held)
            {
                return finished(&sink, scorer.as_ref(), held, finish(FinishReason::Stop, &clock));
            }
            token(&sink, &mut held, stop.finish());
            let stats = clock.stats();
            let full = stats.completion_tokens >= max_tokens as usize || stats.prompt_tokens + stats.completion_tokens >= model.context_len;
            let reason = if full { FinishReason::Length } else { FinishReason::Stop };
            cached(reason);
            return finished(&sink, scorer.as_ref(), held, GenEvent::Finished { reason, stats });
        };
        match response {
            Response::CompletionChunk(chunk) => {
                clock.token();
                if let Some(scorer) = &scorer {
                    scorer.send_settled(&sink);
                }
                let Some(choice) = chunk.choices.into_iter().next() else { continue };
                let mut text = lead.push(choice.text);
                if choice.finish_reason.is_some() {
                    // The last chunk: nothing may stay held.
                    text = text.into_iter().chain(lead.flush()).reduce(|a, b| a + &b);
                }
                if let Some(text) = text
                    && forward(&mut stop, &text, &sink, &mut held)
                {
                    return finished(&sink, scorer.as_ref(), held, finish(FinishReason::Stop, &clock));
                }
                if let Some(reason) = choice.finish_reason {
                    token(&sink, &mut held, stop.finish());
                    let reason = finish_reason(&reason);
                    if matches!(reason, FinishReason::Stop | FinishReason::Length) {
                        cached(reason);
                    }
                    return finished(&sink, scorer.as_ref(), held, finish(reason, &clock));
                }
            }
            // A schema llguidance cannot read ("Invalid grammar"): the request's fault.
            Response::ValidationError(e) => {
                return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Invalid, e.to_string())));
            }
            Response::InternalError(e) => {
                return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, e.to_string())));
            }
            Response::CompletionModelError(error, _) | Response::ModelError(error, _) => {
                return sink.send(GenEvent::Failed(GenError::new(GenErrorKind::Engine, error)));
            }
            _ => {}
        }
    }
}

/// The answer's end: what a held answer says (its tool calls, or its words), the log
/// probabilities not sent yet, then `end`.
fn finished(sink: &GenerationSink, scorer: Option<&Scorer>, held: Option<String>, end: GenEvent) {
    if let Some(answer) = held {
        match tools::read_answer(&answer) {
            Reading::Calls(calls) => sink.send(GenEvent::ToolCalls(calls)),
            Reading::Text(text) => token(sink, &mut None, text),
        }
    }
    if let Some(scorer) = scorer {
        scorer.send_rest(sink);
    }
    sink.send(end);
}

/// What mistral.rs holds the answer to: a JSON Schema (the tools' or the format's), as
/// llguidance reads it. Unless
/// the client's schema says otherwise (`x-guidance`), the JSON is written without free
/// whitespace between its tokens, which a small model can otherwise fill until its length runs
/// out, and keywords llguidance does not know (`format`, `examples`) are passed over, as
/// OpenAI's own strict mode reads a schema, not refused.
fn constraint(schema: Option<serde_json::Value>) -> Constraint {
    let Some(mut schema) = schema else { return Constraint::None };
    if let Some(object) = schema.as_object_mut()
        && !object.contains_key("x-guidance")
    {
        object.insert("x-guidance".into(), serde_json::json!({"whitespace_flexible": false, "lenient": true}));
    }
    Constraint::JsonSchema(schema)
}

/// What an answer's logits processor keeps for the answer's task.
struct Step {
    /// Starts as the prompt sent and is extended with the tokens generated, as far as the
    /// processor sees them (for the prefix cache's accounts).
    sequence: Arc<std::sync::Mutex<Vec<u32>>>,
    /// The first generated token, for `LeadRestorer`.
    first: FirstToken,
    /// The length of the first step's context: on a prefix-cache hit, the part of the prompt
    /// mistral.rs read (`usize::MAX` until the first step).
    first_context: Arc<AtomicUsize>,
    /// Where the answer is written down to be drawn again (`replay`), if it is.
    recorder: Option<Arc<std::sync::Mutex<Recorder>>>,
}

/// The logits processor every answer runs. It counts the tokens sampled (completion chunks carry
/// no usage, and one chunk may hold several tokens), fills in `Step`, and, unless decoding is
/// greedy, draws the next token with the answer's own generator (see `sampler`), leaving only
/// that token possible.
fn step_processor(step: Step, draw: Option<(Draw, Rng)>, scores: Option<Scores>) -> (Arc<AtomicUsize>, Arc<dyn CustomLogitsProcessor>) {
    let Step { sequence, first, first_context, recorder } = step;
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let prompt_len = lock(&sequence).len();
    let draw = draw.map(|(d, rng)| (d, std::sync::Mutex::new(rng)));
    let processor = move |logits: &Tensor, context: &[u32]| -> mistralrs::Result<Tensor> {
        let _ = first_context.compare_exchange(usize::MAX, context.len(), Ordering::Relaxed, Ordering::Relaxed);
        seen.fetch_max((context.len() + 1).saturating_sub(prompt_len), Ordering::Relaxed);
        if let Some(&id) = context.get(prompt_len) {
            let _ = first.set(id);
        }
        {
            // On a prefix-cache hit the first step sees only the prompt's new part.
            let mut sequence = lock(&sequence);
            if context.len() > sequence.len() && context.len() > prompt_len {
                let known = sequence.len();
                sequence.extend_from_slice(&context[known..]);
            }
        }
        if draw.is_none() && scores.is_none() && recorder.is_none() {
            return Ok(logits.clone());
        }
        let values: Vec<f32> = logits.to_dtype(mistralrs::DType::F32)?.to_vec1()?;
        // Ours to draw, or greedy: mistral.rs takes the largest logit, which is this one.
        let chosen = match &draw {
            Some((draw, rng)) => pick(&values, *draw, &mut rng.lock().unwrap_or_else(|e| e.into_inner())),
            None => greedy(&values),
        };
        if let Some(recorder) = &recorder {
            // The previous step's token, as mistral.rs took it (the context's last).
            let taken = if context.len() > prompt_len { context.last().copied() } else { None };
            let mut recorder = lock(recorder);
            match chosen {
                Some(chosen) => recorder.step(&values, chosen as u32, taken),
                None => recorder.spoil(),
            }
        }
        if let (Some(scores), Some(chosen)) = (&scores, chosen) {
            scores.note(context.len(), &values, chosen);
        }
        let (Some(_), Some(chosen)) = (&draw, chosen) else { return Ok(logits.clone()) };
        let mut only = vec![f32::NEG_INFINITY; values.len()];
        only[chosen] = 0.0;
        Tensor::from_vec(only, values.len(), logits.device())?.to_dtype(logits.dtype())
    };
    (count, Arc::new(processor))
}

/// An answer that started with `reused` of its prompt tokens already cached, in the accounts.
fn note_hit(model: &LoadedModel, reused: usize) {
    if let Some(cache) = lock(&model.prefix).as_mut() {
        cache.note_hit(reused);
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Passes streamed text through the stop matcher to the sink (or to `held`); true when a stop
/// string ended the answer.
fn forward(stop: &mut StopMatcher, text: &str, sink: &GenerationSink, held: &mut Option<String>) -> bool {
    match stop.push(text) {
        StopStep::Emit(text) => {
            token(sink, held, text);
            false
        }
        StopStep::Stop(text) => {
            token(sink, held, text);
            true
        }
    }
}

/// Text for the sink, or for the answer held until it is complete.
fn token(sink: &GenerationSink, held: &mut Option<String>, text: String) {
    if let Some(held) = held {
        held.push_str(&text);
    } else if !text.is_empty() {
        sink.send(GenEvent::Token(text));
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "canceled" => FinishReason::Stopped,
        _ => FinishReason::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_room_for_the_answer() {
        assert_eq!(prompt_budget(4096, 1024), 3072);
        assert_eq!(prompt_budget(4096, 100), 3996);
        assert_eq!(prompt_budget(4096, 100_000), 3072);
        assert_eq!(prompt_budget(256, 0), 255);
    }

    #[test]
    fn finish_reasons_map() {
        assert_eq!(finish_reason("stop"), FinishReason::Stop);
        assert_eq!(finish_reason("length"), FinishReason::Length);
        assert_eq!(finish_reason("canceled"), FinishReason::Stopped);
    }
}

#[cfg(test)]
mod fit_tests {
    use super::*;
    use std::cell::Cell;

    fn msg(role: Role, content: &str) -> ChatMessage {
        ChatMessage { role, content: content.into(), tool: None }
    }

    /// A conversation of `exchanges` exchanges after a system prompt, then a question.
    fn conversation(exchanges: usize) -> Vec<ChatMessage> {
        let mut m = vec![msg(Role::System, "sys")];
        for i in 0..exchanges {
            m.push(msg(Role::User, &format!("question {i}")));
            m.push(msg(Role::Assistant, &format!("answer {i}")));
        }
        m.push(msg(Role::User, "newest"));
        m
    }

    /// Two tokens a message plus one for the template's share: what `build` and `cost` count.
    fn tokens(messages: &[ChatMessage]) -> usize {
        messages.iter().map(|m| m.content.split_whitespace().count() + 1).sum()
    }

    #[test]
    fn a_long_history_is_trimmed_in_a_few_builds_keeping_the_system_prompt() {
        let messages = conversation(1500);
        let builds = Cell::new(0);
        let build = |m: &[ChatMessage]| {
            builds.set(builds.get() + 1);
            Ok(vec![0; tokens(m)])
        };
        let cost = |m: &ChatMessage| m.content.split_whitespace().count();
        let (ids, dropped) = fit(&messages, 400, 4096, build, cost).unwrap();
        assert!(builds.get() <= 3, "{} builds", builds.get());
        assert!(ids.len() <= 400 && ids.len() >= 250, "{}", ids.len());
        assert_eq!(dropped % 2, 0);
        assert!(dropped >= 2 * 1400, "{dropped}");
    }

    #[test]
    fn trimming_leaves_room_for_the_next_turns_and_never_cuts_the_newest_message() {
        let messages = conversation(20);
        let build = |m: &[ChatMessage]| Ok(vec![0; tokens(m)]);
        let cost = |m: &ChatMessage| m.content.split_whitespace().count();
        let full = tokens(&messages);
        let (ids, dropped) = fit(&messages, full - 1, 4096, build, cost).unwrap();
        assert!(ids.len() <= (full - 1) * 3 / 4, "dropped down to three quarters: {} of {}", ids.len(), full);
        assert!(dropped > 2);
        // Only the newest message and the system prompt left, still too long for the budget but
        // within the context: sent as it is; beyond the context: refused.
        let lone = vec![msg(Role::System, "sys"), msg(Role::User, &"w ".repeat(50))];
        assert_eq!(fit(&lone, 10, 100, build, cost).unwrap().1, 0);
        let error = fit(&lone, 10, 20, build, cost).unwrap_err();
        assert_eq!(error.kind, GenErrorKind::ContextFull);
    }
}
