//! Loading a model with mistral.rs's lower-level loaders, so that we choose the device and the
//! activation dtype ourselves (the 0.8.1 SDK builders ignore `with_device` and always use
//! `ModelDType::Auto` for GGUF, which means slow BF16 on CPU).
use super::estimate::{MemoryEstimate, estimate, free_memory, gib, gpu_total_memory, paged_room};
use super::overlay::{ConfigOverlay, overlay_if_needed};
use super::prefix::PrefixBudget;
use super::reencode;
use super::render::Renderer;
use super::source::{ModelSource, resolve};
use super::stages::{LoadingScope, StageFn};
use super::template::{PromptFormat, is_llama2_template};
use llamadeck_engine::face::{ChatFormat, ModelFacts};
use llamadeck_engine::spec::{CpuWeights, ModelSpec};
use mistralrs::core::{
    ChatTemplate, DefaultSchedulerMethod, DeviceMapSetting, GGUFLoaderBuilder, GGUFSpecificConfig, IsqType, Loader, MemoryGpuConfig,
    MistralRs, MistralRsBuilder, ModelDType, NormalLoaderBuilder, NormalSpecificConfig, PagedAttentionConfig, PagedCacheType, Pipeline,
    SchedulerConfig, TokenSource, parse_isq_value,
};
use mistralrs::{Device, Model};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Weak};
use tokenizers::Tokenizer;

/// Concurrent sequences the scheduler runs at most (chat pane plus API clients); fewer when
/// their KV caches would not fit.
const MAX_NUM_SEQS: usize = 16;

/// Under paged attention: the block pool, not a full context per answer, bounds how many run
/// (mistral.rs's scheduler waits or preempts when blocks run out), as in mistral.rs's server.
const PAGED_MAX_NUM_SEQS: usize = 32;

/// How many answers may decode together on `device`. On the CPU, one: mistral.rs 0.8.1's CPU
/// attention for a one-token step (`flash_attn_cpu_single_q`) keeps its scratch per tile and
/// head, not per sequence, so the answers of one batch read each other's keys and values and
/// turn to nonsense (seen as words of one answer inside another). Answers then queue instead.
fn batch_limit(on_cpu: bool) -> usize {
    if on_cpu { 1 } else { MAX_NUM_SEQS }
}

/// A loaded model and what the worker needs to build prompts for it. Cheap to clone.
#[derive(Clone)]
pub struct LoadedModel {
    pub runner: Arc<MistralRs>,
    pub model: Arc<Model>,
    pub tokenizer: Arc<Tokenizer>,
    /// The same tokenizer reading special tokens' spellings as plain text: for message text.
    pub plain: Arc<Tokenizer>,
    /// The model's own chat template (for `PromptFormat::ModelTemplate`).
    pub renderer: Option<Arc<Renderer>>,
    /// How the tokenizer's special tokens are spelled.
    pub specials: Arc<Vec<String>>,
    /// The same tokens' ids: the tokenizer's control tokens.
    pub controls: Arc<Vec<u32>>,
    /// What loading found worth keeping in view (a model loaded although it may not fit).
    pub warnings: Vec<String>,
    pub format: PromptFormat,
    pub bos: Option<u32>,
    /// The tokens mistral.rs ends an answer at.
    pub ends: Arc<Vec<u32>>,
    pub context_len: usize,
    pub name: String,
    /// Answers mistral.rs runs at once (its scheduler's limit); the worker admits no more.
    pub batch: usize,
    /// The prefix cache's accounts (`None` when it is off).
    pub prefix: Arc<std::sync::Mutex<Option<PrefixBudget>>>,
    pub on_cpu: bool,
    /// The weights: alive until mistral.rs's engine thread has let go of them.
    pub pipeline: Weak<tokio::sync::Mutex<dyn Pipeline + Send + Sync>>,
    /// Keeps a patched-config directory alive as long as the model.
    _overlay: Option<Arc<ConfigOverlay>>,
}

impl LoadedModel {
    pub fn facts(&self) -> ModelFacts {
        let format = match self.format {
            PromptFormat::Llama2 { .. } => ChatFormat::Llama2,
            PromptFormat::ModelTemplate => ChatFormat::Template,
        };
        ModelFacts { name: self.name.clone(), context_len: self.context_len, format: Some(format) }
    }
}

/// "cpu" (or empty) is `None`; "cuda" / "cuda:N" is the ordinal.
pub fn cuda_ordinal(s: &str) -> Result<Option<usize>, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("cpu") {
        return Ok(None);
    }
    s.strip_prefix("cuda")
        .and_then(|rest| if rest.is_empty() { Some(0) } else { rest.strip_prefix(':')?.parse::<usize>().ok() })
        .map(Some)
        .ok_or_else(|| format!("device {s:?}: expected \"cpu\" or \"cuda:N\""))
}

/// The candle device for "cpu" or "cuda:N"; a clear error when CUDA is missing, the driver finds
/// no such GPU, or the CUDA libraries panic (the load then fails; the console keeps running).
pub fn parse_device(s: &str) -> Result<Device, String> {
    let Some(ordinal) = cuda_ordinal(s)? else {
        return Ok(Device::Cpu);
    };
    if !cfg!(feature = "cuda") {
        return Err(format!(
            "device cuda:{ordinal} is not available: this llamadeck was built for the CPU only; \
             build the GPU binary with scripts/build-cuda, or set device: cpu"
        ));
    }
    match std::panic::catch_unwind(|| Device::new_cuda(ordinal)) {
        Ok(Ok(device)) => Ok(device),
        // The first line only: with RUST_BACKTRACE set, candle appends a backtrace to the error.
        Ok(Err(e)) => Err(format!(
            "device cuda:{ordinal} is not available: {} (nvidia-smi lists the GPUs the driver sees)",
            e.to_string().lines().next().unwrap_or_default()
        )),
        Err(panic) => Err(format!("device cuda:{ordinal} is not available: CUDA failed: {}", panic_message(panic.as_ref()))),
    }
}

/// The template override: `.jinja` files are used as they are, `.json` files like a
/// tokenizer_config.json. mistral.rs panics on other names, so they are refused here.
fn template_override(path: Option<&str>) -> Result<(Option<String>, Option<String>), String> {
    let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok((None, None));
    };
    let p = std::fs::canonicalize(path).map_err(|_| format!("chat template {path} does not exist"))?;
    let s = p.to_string_lossy().into_owned();
    match p.extension().and_then(|e| e.to_str()) {
        Some("jinja") => Ok((None, Some(s))),
        Some("json") => Ok((Some(s), None)),
        _ => Err(format!("chat template {path}: expected a .jinja or .json file")),
    }
}

fn token_source(source: &ModelSource) -> TokenSource {
    let has_env_token = ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"].iter().any(|v| std::env::var_os(v).is_some_and(|t| !t.is_empty()));
    match source {
        ModelSource::Hub(_) if has_env_token => TokenSource::CacheToken,
        _ => TokenSource::None,
    }
}

/// The checks that need no memory: what the model string names, the device, the template file.
/// A load that fails them is refused before the serving model is unloaded.
pub fn precheck(spec: &ModelSpec) -> Result<(), String> {
    resolve(&spec.source, spec.allow_download)?;
    parse_device(&spec.device)?;
    template_override(spec.chat_template.as_deref())?;
    Ok(())
}

/// Loads `spec`, reporting stages through `stage`. Blocking work runs on the blocking pool;
/// a panic inside mistral.rs's loader comes back as an error.
pub async fn load(spec: &ModelSpec, stage: StageFn) -> Result<LoadedModel, String> {
    let _scope = LoadingScope::enter(stage.clone());
    let source = resolve(&spec.source, spec.allow_download)?;
    let device = parse_device(&spec.device)?;
    let on_cpu = device.is_cpu();
    if on_cpu {
        crate::stages::say_paged_attention_is_off();
    }
    let is_gguf = matches!(source, ModelSource::Gguf(_));
    let mut isq_name = spec.isq.as_deref().map(str::trim).filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("none"));
    if is_gguf && let Some(name) = isq_name.take() {
        stage(format!("isq {name} ignored: a GGUF file is already quantized"));
    }
    let isq: Option<IsqType> = isq_name.map(|n| parse_isq_value(n, Some(&device)).map_err(|e| format!("isq {n}: {e}"))).transpose()?;
    // F32 on CPU, always. For GGUF and ISQ it is ~20% faster decode than BF16 activations
    // (measured on SmolLM2). For plain safetensors it is what `Auto` ends at anyway: candle's CPU
    // matmul has no BF16/F16 kernel. Named here because the CUDA build's `Auto` runs nvidia-smi
    // (and panics without it) even for a CPU device.
    let dtype = if on_cpu { ModelDType::F32 } else { ModelDType::Auto };
    let kv_elem_bytes = if dtype == ModelDType::F32 { 4 } else { 2 };
    // Paged attention (GPU only): the weights and one pool of key/value blocks fill a share of
    // the card; what the estimate may count on is what that share leaves free.
    let paged_share = if on_cpu { None } else { spec.paged_attention.share() };
    let place = match (on_cpu, paged_share) {
        (true, _) => "RAM".to_string(),
        (false, Some(share)) => format!("on {} within paged_attention's {:.0}%", spec.device.trim(), share * 100.0),
        (false, None) => format!("on {}", spec.device.trim()),
    };
    // The name stays the user's file even when a re-encoded copy is loaded.
    let name = source.display_name();
    let source = match source {
        ModelSource::Gguf(file) if on_cpu => ModelSource::Gguf(cpu_weights(file, spec.cpu_weights, &*stage).await?),
        other => other,
    };
    // Before any weight is read: a model that cannot fit stops here, with the figures.
    let mut warnings = Vec::new();
    let ordinal = cuda_ordinal(&spec.device).ok().flatten();
    let room = |free: u64| match (paged_share, ordinal.and_then(gpu_total_memory)) {
        (Some(share), Some(total)) => paged_room(free, total, share),
        _ => free,
    };
    let plan = estimate(&source, isq_name, kv_elem_bytes)?.map(|e| (e, free_memory(ordinal).map(room)));
    if let Some((e, free)) = &plan {
        let (e, free) = (e, *free);
        let limit = batch_limit(on_cpu);
        stage(e.message(free, &place, free.map_or(limit, |f| e.answers_that_fit(f, limit))));
        if let Some(free) = free.filter(|&f| !e.fits(f)) {
            if !spec.skip_memory_check {
                let smaller: Vec<(String, MemoryEstimate)> = match &source {
                    ModelSource::HfDir(_) => ["Q4K", "Q5K", "Q6K", "Q8_0"]
                        .into_iter()
                        .filter_map(|n| estimate(&source, Some(n), kv_elem_bytes).ok().flatten().map(|e| (n.to_string(), e)))
                        .collect(),
                    _ => Vec::new(),
                };
                return Err(e.refusal(free, &place, &smaller));
            }
            warnings.push(format!(
                "this model needs about {} and only {} is free {place}: loading anyway (model.skip_memory_check); it may run out of memory",
                gib(e.total()),
                gib(free)
            ));
        }
    }
    let (chat_template, jinja_explicit) = template_override(spec.chat_template.as_deref())?;

    let mut overlay = None;
    let loader: Box<dyn Loader> = match &source {
        ModelSource::Gguf(file) => {
            let dir = file.parent().unwrap_or(Path::new("/")).to_string_lossy().into_owned();
            let name = file.file_name().expect("a resolved file has a name").to_string_lossy().into_owned();
            GGUFLoaderBuilder::new(chat_template, None, dir, vec![name], GGUFSpecificConfig::default(), false, jinja_explicit).build()
        }
        ModelSource::HfDir(dir) => {
            overlay = overlay_if_needed(dir)?;
            if overlay.is_some() {
                stage("config.json lacks rope_theta: loading with Llama-2's default 10000 (your file is unchanged)".into());
            }
            let id = overlay.as_ref().map_or(dir.as_path(), |o| o.dir.as_path());
            normal_loader(id.to_string_lossy().into_owned(), chat_template, jinja_explicit)?
        }
        ModelSource::Hub(id) => {
            stage(format!("downloading {id} from the Hugging Face hub if not cached"));
            normal_loader(id.clone(), chat_template, jinja_explicit)?
        }
    };

    let tokens = token_source(&source);
    let paged_config = paged_share
        .map(|share| PagedAttentionConfig::new(None, MemoryGpuConfig::Utilization(share), PagedCacheType::Auto))
        .transpose()
        .map_err(|e| format!("paged attention: {e}"))?;
    let load_device = device.clone();
    let pipeline = tokio::task::spawn_blocking(move || {
        // silent = true: mistral.rs hides its progress bars and never prints the GGUF metadata.
        loader.load_model_from_hf(None, tokens, &dtype, &load_device, true, DeviceMapSetting::dummy(), isq, paged_config)
    })
    .await
    .map_err(|e| panic_text("loading", e))?
    .map_err(|e| format!("{e:#}"))?;

    let (tokenizer, template, metadata) = {
        let p = pipeline.lock().await;
        (p.tokenizer(), p.get_chat_template(), p.get_metadata())
    };
    let tokenizer = tokenizer.ok_or("the model has no tokenizer")?;
    let token_id = |t: Option<String>| t.and_then(|t| tokenizer.token_to_id(&t));
    let bos = token_id(template.as_ref().and_then(|t| special_tokens(t).0));
    let eos = token_id(template.as_ref().and_then(|t| special_tokens(t).1)).or(metadata.eos_tok.first().copied());
    let (format, renderer) = match template.as_deref().and_then(|t| template_source(t).map(|source| (t, source))) {
        Some((t, source)) if !is_llama2_template(&source) => {
            let (bos, eos, unk) = special_tokens(t);
            (PromptFormat::ModelTemplate, Some(Arc::new(Renderer::new(&source, bos, eos, unk)?)))
        }
        _ => match (bos, eos) {
            (Some(bos), Some(eos)) => (PromptFormat::Llama2 { bos, eos }, None),
            _ => {
                return Err(
                    "the model has no chat template and no BOS/EOS tokens for the built-in Llama-2 one; give a chat_template file".into()
                );
            }
        },
    };
    let mut plain = (*tokenizer).clone();
    plain.set_encode_special_tokens(true);
    let (controls, specials): (Vec<u32>, Vec<String>) =
        tokenizer.get_added_tokens_decoder().into_iter().filter(|(_, t)| t.special).map(|(id, t)| (id, t.content)).unzip();

    // The prefix cache's budget comes out of the memory left after the weights, and so do the
    // answers that can run at once, each with a KV cache that may grow to the context.
    // Key and value bytes a token takes in the KV cache, from the model's shape and dtype.
    let from_shape = metadata.model_metadata.as_ref().map(|m| {
        let per_layer = m.num_kv_heads() * (m.k_head_dim() + m.v_head_dim());
        (m.num_layers() * per_layer * metadata.activation_dtype.size_in_bytes()) as u64
    });
    let bytes_per_token = from_shape.or_else(|| plan.as_ref().map(|(e, _)| e.kv_cache_bytes / e.context_len.max(1)));
    let left = plan.as_ref().and_then(|(e, free)| free.map(|f| f.saturating_sub(e.weights_bytes)));
    // Under paged attention the block pool is the prefix cache (mistral.rs reuses blocks there and
    // evicts the least recently used): there are no accounts of ours to keep.
    let paged = metadata.cache_config.clone().filter(|_| paged_share.is_some());
    let prefix = bytes_per_token
        .filter(|_| paged.is_none())
        .and_then(|b| PrefixBudget::new(spec.prefix_cache, b, metadata.max_seq_len, left, on_cpu));
    let prefix = prefix.map(|p| {
        let entries = p.gpu_entries(metadata.max_seq_len);
        if on_cpu { p } else { p.evicting_beyond(entries) }
    });
    let mut answers = batch_limit(on_cpu);
    if let Some((e, Some(free))) = &plan {
        let cache_bytes = prefix.as_ref().and_then(|p| p.account().budget_bytes).unwrap_or(0);
        answers = e.answers_that_fit(free.saturating_sub(cache_bytes), answers);
    }
    let at_once = super::estimate::at_once(answers);
    let reuse = spec.prefix_cache != llamadeck_engine::PrefixCache::Off;
    stage(match (&paged, &prefix) {
        (Some(pool), _) => paged_words(pool.num_gpu_blocks, pool.block_size, bytes_per_token, reuse),
        (None, Some(p)) => format!("prefix cache: up to {} ({}); {at_once}", budget_words(p.account()), p.account().setting),
        (None, None) => format!("prefix cache off; {at_once}"),
    });
    if paged_share.is_some() && paged.is_none() {
        stage("paged attention is not available for this model: answers of equal length batch, others queue".into());
    }
    stage("starting the engine".into());
    let weights = Arc::downgrade(&pipeline);
    let scheduler = match &paged {
        Some(pool) => SchedulerConfig::PagedAttentionMeta { max_num_seqs: PAGED_MAX_NUM_SEQS, config: pool.clone() },
        None => scheduler(answers),
    };
    let mut builder = MistralRsBuilder::new(pipeline, scheduler, false, None);
    builder = match &prefix {
        None if paged.is_some() => builder.with_no_prefix_cache(!reuse),
        None => builder.with_no_prefix_cache(true),
        // mistral.rs evicts on a GPU itself (the oldest first); on the CPU only our budget does.
        Some(p) if !on_cpu => builder.with_prefix_cache_n(p.gpu_entries(metadata.max_seq_len)),
        Some(_) => builder,
    };
    let runner = builder.build().await;
    Ok(LoadedModel {
        model: Arc::new(Model::new(runner.clone())),
        runner,
        tokenizer,
        plain: Arc::new(plain),
        renderer,
        specials: Arc::new(specials),
        controls: Arc::new(controls),
        warnings,
        format,
        bos,
        ends: Arc::new(metadata.eos_tok.clone()),
        context_len: metadata.max_seq_len,
        name,
        batch: if paged.is_some() { PAGED_MAX_NUM_SEQS } else { answers.max(1) },
        prefix: Arc::new(std::sync::Mutex::new(prefix)),
        on_cpu,
        pipeline: weights,
        _overlay: overlay.map(Arc::new),
    })
}

/// The GGUF file to load on CPU: the user's, or a re-encoded copy (see `reencode`).
async fn cpu_weights(
    file: std::path::PathBuf,
    mode: CpuWeights,
    stage: &(dyn Fn(String) + Send + Sync),
) -> Result<std::path::PathBuf, String> {
    if mode != CpuWeights::Native {
        stage(format!("checking the weight formats for CPU (cpu_weights: {})", mode.label()));
    }
    let free = free_memory(None);
    let prepared = tokio::task::spawn_blocking(move || reencode::prepare(&file, mode, &reencode::default_cache_dir(), free))
        .await
        .map_err(|e| panic_text("re-encoding", e))??;
    if let Some(note) = prepared.note {
        stage(note);
    }
    Ok(prepared.path)
}

fn normal_loader(id: String, chat_template: Option<String>, jinja: Option<String>) -> Result<Box<dyn Loader>, String> {
    NormalLoaderBuilder::new(NormalSpecificConfig::default(), chat_template, None, Some(id), false, jinja)
        .build(None)
        .map_err(|e| format!("{e:#}"))
}

fn budget_words(stats: &llamadeck_engine::PrefixCacheStats) -> String {
    match (stats.budget_bytes, stats.budget_sequences) {
        (Some(bytes), _) => gib(bytes),
        (None, Some(n)) => format!("{n} sequences"),
        (None, None) => "nothing".into(),
    }
}

impl LoadedModel {
    /// Restarts mistral.rs's engine over the same weights: its prefix cache starts empty and
    /// nothing is reloaded. Only while no answer runs (a running one would be cut short).
    pub async fn restart_engine(&self) -> Result<(), String> {
        let old = self.runner.get_sender(None).map_err(|e| e.to_string())?;
        old.send(mistralrs::core::Request::Terminate).await.map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        loop {
            // mistral.rs starts a new engine thread once it finds the old one finished.
            let sender = self.runner.get_sender(None).map_err(|e| e.to_string())?;
            if !sender.same_channel(&old) {
                return Ok(());
            }
            if started.elapsed() > std::time::Duration::from_secs(10) {
                return Err("the engine did not restart within 10 s".into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
}

/// The stage line of a paged-attention load: the pool, in blocks, tokens and bytes.
fn paged_words(blocks: usize, block_size: usize, bytes_per_token: Option<u64>, reuse: bool) -> String {
    let tokens = blocks * block_size;
    let size = bytes_per_token.map_or(String::new(), |b| format!(", {}", gib(b * tokens as u64)));
    let reuse = if reuse { "prefixes reused from the pool" } else { "prefix reuse off" };
    format!(
        "paged attention: {blocks} blocks of {block_size} tokens ({tokens} tokens{size}) shared by every answer; up to {PAGED_MAX_NUM_SEQS} answers at once; {reuse}"
    )
}

/// At most `answers` sequences at once: each keeps a KV cache that grows to the context.
fn scheduler(answers: usize) -> SchedulerConfig {
    SchedulerConfig::DefaultScheduler { method: DefaultSchedulerMethod::Fixed(NonZeroUsize::new(answers.max(1)).expect("non-zero")) }
}

/// The BOS, EOS and UNK strings a template file declares (plain strings or HF AddedToken objects).
fn special_tokens(t: &ChatTemplate) -> (Option<String>, Option<String>, Option<String>) {
    let bos = t.bos_token.as_ref().map(|b| b.0.as_ref().either(|s| s.clone(), |d| d.content.clone()));
    let eos = t.eos_token.as_ref().map(|b| b.0.as_ref().either(|s| s.clone(), |d| d.content.clone()));
    let unk = t.unk_token.as_ref().map(|b| b.0.as_ref().either(|s| s.clone(), |d| d.content.clone()));
    (bos, eos, unk)
}

/// The template text: the only one, or, of named ones, the one called "default" (as mistral.rs
/// chooses without tools).
fn template_source(t: &ChatTemplate) -> Option<String> {
    let value = t.chat_template.as_ref()?;
    value.0.as_ref().either(
        |s| Some(s.clone()),
        |named| {
            let default = named.iter().find(|m| m.get("name").is_some_and(|n| n == "default"));
            default.and_then(|m| m.get("template").cloned()).or_else(|| named.iter().find_map(|m| m.get("default").cloned()))
        },
    )
}

/// A panic inside mistral.rs, as a message.
pub fn panic_text(what: &str, e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => format!("mistral.rs failed while {what}: {}", panic_message(payload.as_ref())),
        Err(e) => format!("{what} was cancelled: {e}"),
    }
}

/// The text a panic carries (`panic!` gives a String or a &str).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_cuda_is_refused_clearly_without_it() {
        assert!(parse_device("cpu").unwrap().is_cpu());
        assert!(parse_device("").unwrap().is_cpu());
        assert!(parse_device("gpu0").unwrap_err().contains("expected"));
        if !cfg!(feature = "cuda") {
            let error = parse_device("cuda:1").unwrap_err();
            assert!(error.contains("cuda:1 is not available"), "{error}");
            assert!(error.contains("scripts/build-cuda"), "{error}");
        }
    }

    /// With the `cuda` feature on a machine without that GPU: an error, never a panic.
    #[test]
    fn a_missing_gpu_is_an_error_not_a_panic() {
        if let Err(error) = parse_device("cuda:4095") {
            assert!(error.starts_with("device cuda:4095 is not available: "), "{error}");
        }
    }

    #[test]
    fn template_files_must_exist_and_be_jinja_or_json() {
        assert_eq!(template_override(None), Ok((None, None)));
        assert!(template_override(Some("/nope/x.jinja")).unwrap_err().contains("does not exist"));
        let cargo = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        assert!(template_override(Some(cargo)).unwrap_err().contains(".jinja or .json"));
    }
}
