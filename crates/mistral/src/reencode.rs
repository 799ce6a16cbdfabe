//! CPU weight formats. candle 0.10.2 (mistral.rs's tensor library) has AVX2 dot products for
//! Q4_0, Q8_0 and the K-quants, but computes Q4_1, Q5_0 and Q5_1 with scalar code
//! (`k_quants.rs`, `BlockQ4_1::vec_dot` calls `vec_dot_unopt`). The demo model is Q4_1, so on
//! CPU we re-encode such weights once as Q8_0 (8 bits hold the 4- or 5-bit values almost
//! exactly) and keep the result in a cache; decode gets about 1.4x faster and prompts
//! 1.7x, for 1.7x the weight memory.
//! `f32` trades more memory for the fastest prompt processing (dense matmuls).
//!
//! The cache names each copy after its source (`stem.Q8_0.<source>-<version>.gguf`: a hash of
//! the source's path, and one of its path, size and mtime), so a changed file replaces only its
//! own older copy, and keeps at most `CACHE_BUDGET` bytes, dropping the least recently used.
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use llamadeck_engine::spec::CpuWeights;
use mistralrs::Device;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Bumped when the output of a re-encoding changes, so old cache files are not reused.
const FORMAT_VERSION: u32 = 1;

/// The most the cache keeps: the re-encoded Llama-2-13B is 14 GB as Q8_0, so two such models.
pub const CACHE_BUDGET: u64 = 32 << 30;

/// What `prepare` decided: the file to load and a line for the loading stages (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub path: PathBuf,
    pub note: Option<String>,
}

/// Types candle computes without SIMD on this CPU, worth re-encoding in `auto` mode.
fn slow_on_this_cpu(t: GgmlDType) -> bool {
    cfg!(target_arch = "x86_64") && matches!(t, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// The file to load for `mode`: `file` itself, or a re-encoded copy under `cache_dir`, made now
/// if it is missing. `free_bytes` guards the conversion, which holds the new weights in memory.
pub fn prepare(file: &Path, mode: CpuWeights, cache_dir: &Path, free_bytes: Option<u64>) -> Result<Prepared, String> {
    prepare_within(file, mode, cache_dir, free_bytes, CACHE_BUDGET)
}

/// [`prepare`] with the cache held to `budget` bytes.
fn prepare_within(file: &Path, mode: CpuWeights, cache_dir: &Path, free_bytes: Option<u64>, budget: u64) -> Result<Prepared, String> {
    let unchanged = Prepared { path: file.to_path_buf(), note: None };
    if mode == CpuWeights::Native {
        return Ok(unchanged);
    }
    let content = read_content(file)?;
    let plan = Plan::new(&content, mode);
    if plan.converted == 0 {
        return Ok(unchanged);
    }
    let target = target_name(plan.target);
    let out = cache_dir.join(cache_name(file, target)?);
    if out.is_file() && usable_copy(&out) {
        mark_used(&out);
        return Ok(Prepared { path: out, note: Some(format!("{} as {target} (cached re-encoding)", plan.sources_text())) });
    }
    // A conversion a crash or kill cut short leaves a temp file as big as the model.
    llamadeck_words::files::remove_stale_temps(cache_dir, None);
    if let Some(free) = free_bytes
        && plan.output_bytes > free
    {
        let message = format!(
            "re-encoding {} as {target} needs {:.1} GB of RAM, {:.1} GB free",
            plan.sources_text(),
            gb(plan.output_bytes),
            gb(free)
        );
        return match mode {
            CpuWeights::Auto => Ok(Prepared { path: file.to_path_buf(), note: Some(format!("{message}: loading the file as it is")) }),
            _ => Err(format!("{message}; set model.cpu_weights: native")),
        };
    }
    let started = std::time::Instant::now();
    write_reencoded(file, &content, &plan, &out)?;
    remove_stale(cache_dir, &out);
    keep_within(cache_dir, budget, &out);
    let note = format!(
        "re-encoded {} as {target} for CPU speed in {:.1} s ({:.0} MB, cached in {})",
        plan.sources_text(),
        started.elapsed().as_secs_f64(),
        plan.output_bytes as f64 / 1e6,
        cache_dir.display()
    );
    Ok(Prepared { path: out, note: Some(note) })
}

/// A copy is loaded as it is, so it is checked like the user's file; a damaged one (cut short,
/// or changed by someone else) is removed, to be made anew.
fn usable_copy(copy: &Path) -> bool {
    match super::gguf_meta::check(copy) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("re-encoding cache: {e}; making it anew");
            let _ = std::fs::remove_file(copy);
            false
        }
    }
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

fn read_content(file: &Path) -> Result<gguf_file::Content, String> {
    super::gguf_meta::check(file)?;
    let mut reader = BufReader::new(llamadeck_words::files::open_regular(file).map_err(|e| format!("{}: {e}", file.display()))?);
    gguf_file::Content::read(&mut reader).map_err(|e| format!("{}: not a readable GGUF file: {e}", file.display()))
}

/// Which tensors change, into what, and how big the result is.
struct Plan {
    target: GgmlDType,
    /// Tensor names in file order, each with the type it is written as.
    tensors: Vec<(String, GgmlDType)>,
    converted: usize,
    /// Distinct source types that change, for messages.
    sources: Vec<GgmlDType>,
    output_bytes: u64,
}

impl Plan {
    fn new(content: &gguf_file::Content, mode: CpuWeights) -> Self {
        let target = if mode == CpuWeights::F32 { GgmlDType::F32 } else { GgmlDType::Q8_0 };
        let mut infos: Vec<_> = content.tensor_infos.iter().collect();
        infos.sort_by_key(|(_, info)| info.offset);
        let mut plan = Plan { target, tensors: Vec::new(), converted: 0, sources: Vec::new(), output_bytes: 0 };
        for (name, info) in infos {
            let dims = info.shape.dims();
            let row = dims.last().copied().unwrap_or(0);
            let changes = match mode {
                CpuWeights::Native => false,
                CpuWeights::Auto => slow_on_this_cpu(info.ggml_dtype),
                CpuWeights::Q8_0 => !matches!(info.ggml_dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 | GgmlDType::Q8_0),
                CpuWeights::F32 => info.ggml_dtype != GgmlDType::F32,
            };
            // Norms and biases (1-D) stay as they are; Q8_0 needs rows of whole 32-value blocks.
            let changes = changes && dims.len() >= 2 && row % target.block_size() == 0;
            let dtype = if changes { target } else { info.ggml_dtype };
            if changes {
                plan.converted += 1;
                if !plan.sources.contains(&info.ggml_dtype) {
                    plan.sources.push(info.ggml_dtype);
                }
            }
            let elems = info.shape.elem_count();
            plan.output_bytes += (elems / dtype.block_size() * dtype.type_size()) as u64;
            plan.tensors.push((name.clone(), dtype));
        }
        plan
    }

    fn sources_text(&self) -> String {
        let names: Vec<String> = self.sources.iter().map(|t| format!("{t:?}")).collect();
        format!("{} weights", names.join("/"))
    }
}

fn target_name(t: GgmlDType) -> &'static str {
    if t == GgmlDType::F32 { "F32" } else { "Q8_0" }
}

/// `stem.Q8_0.<source>-<version>.gguf` for `file` as it is now (see [`cache_key`]).
fn cache_name(file: &Path, target: &str) -> Result<String, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let path = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(format!("{}.{target}.{}.gguf", stem(file), cache_key(path.as_os_str().as_encoded_bytes(), meta.len(), mtime)))
}

/// `<source>-<version>`: SHA-256 (stable across Rust releases, unlike `DefaultHasher`) of the
/// source's path, then of the format version, path, size and mtime. Copies of one source share
/// the first half, so an older copy of the same file can be told from another file's.
fn cache_key(path: &[u8], size: u64, mtime_nanos: u128) -> String {
    let source = Sha256::digest(path);
    let mut version = Sha256::new();
    version.update(FORMAT_VERSION.to_le_bytes());
    version.update((path.len() as u64).to_le_bytes());
    version.update(path);
    version.update(size.to_le_bytes());
    version.update(mtime_nanos.to_le_bytes());
    format!("{}-{}", hex(&source[..6]), hex(&version.finalize()[..8]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn stem(file: &Path) -> String {
    file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
}

fn write_reencoded(file: &Path, content: &gguf_file::Content, plan: &Plan, out: &Path) -> Result<(), String> {
    let fail = |e: String| format!("re-encoding {} for CPU failed: {e}; set model.cpu_weights: native", file.display());
    let dir = out.parent().expect("a cache file has a directory");
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let mut reader = BufReader::new(File::open(file).map_err(|e| fail(e.to_string()))?);
    let mut tensors = Vec::with_capacity(plan.tensors.len());
    for (name, dtype) in &plan.tensors {
        let t = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(|e| format!("{}: tensor {name} cannot be read ({e}): the file is damaged or truncated", file.display()))?;
        let t = if t.dtype() == *dtype { t } else { requantize(&t, *dtype).map_err(|e| fail(format!("{name}: {e}")))? };
        tensors.push((name.as_str(), t));
    }
    // candle's writer aligns tensor data to 32 bytes itself; a different alignment key would lie.
    let mut metadata: Vec<_> = content.metadata.iter().filter(|(k, _)| k.as_str() != "general.alignment").collect();
    metadata.sort_by(|a, b| a.0.cmp(b.0));
    let metadata: Vec<(&str, &gguf_file::Value)> = metadata.into_iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();

    // Written beside the final name, then renamed: a crash never leaves a half file in the cache
    // (and the temp file it leaves is removed by the next conversion).
    let tmp = llamadeck_words::files::temp_path(dir, out);
    let result = (|| -> Result<(), String> {
        let mut w = BufWriter::new(File::create(&tmp).map_err(|e| e.to_string())?);
        gguf_file::write(&mut w, &metadata, &refs).map_err(|e| e.to_string())?;
        let f = w.into_inner().map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, out).map_err(|e| e.to_string())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

fn requantize(t: &QTensor, dtype: GgmlDType) -> candle_core::Result<QTensor> {
    let dense = t.dequantize(&Device::Cpu)?;
    QTensor::quantize(&dense, dtype)
}

/// Removes older copies of the same source file in the same format (it was edited or replaced,
/// or the format version changed): the names that differ from `keep` only after `<source>-`.
fn remove_stale(cache_dir: &Path, keep: &Path) {
    let Some(keep_name) = keep.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let Some(prefix) = keep_name.rsplit_once('-').map(|(p, _)| format!("{p}-")) else { return };
    let Ok(entries) = std::fs::read_dir(cache_dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != keep_name && name.starts_with(&prefix) && name.ends_with(".gguf") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A copy's mtime is when it was last used: the budget drops the copies unused longest.
fn mark_used(copy: &Path) {
    if let Ok(f) = File::open(copy) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Drops the least recently used copies until the cache holds at most `budget` bytes; `keep`
/// (the copy about to be loaded) stays even when it alone is over.
fn keep_within(cache_dir: &Path, budget: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(cache_dir) else { return };
    let mut copies: Vec<(SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".gguf"))
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some((meta.modified().unwrap_or(UNIX_EPOCH), meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = copies.iter().map(|c| c.1).sum();
    copies.sort();
    for (_, size, path) in copies {
        if total <= budget {
            break;
        }
        if path != keep && std::fs::remove_file(&path).is_ok() {
            tracing::info!("re-encoding cache over {}: removed {}", llamadeck_words::files::human_size(budget), path.display());
            total -= size;
        }
    }
}

/// `$XDG_CACHE_HOME/llamadeck/reencoded` (or `~/.cache/...`).
pub fn default_cache_dir() -> PathBuf {
    llamadeck_engine::spec::cache_home().join("llamadeck/reencoded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mistralrs::Tensor;

    /// A small GGUF with one Q4_1 matrix, one Q8_0 matrix and an F32 norm.
    fn sample(dir: &Path) -> (PathBuf, Tensor) {
        let w = Tensor::arange(0f32, 64.0 * 32.0, &Device::Cpu).unwrap().reshape((32, 64)).unwrap();
        let w = ((w / 700.0).unwrap().sin().unwrap() * 0.5).unwrap();
        let q41 = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let q80 = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
        let norm = QTensor::quantize(&Tensor::ones(64, mistralrs::DType::F32, &Device::Cpu).unwrap(), GgmlDType::F32).unwrap();
        let arch = gguf_file::Value::String("llama".into());
        let path = dir.join("m.gguf");
        let mut f = File::create(&path).unwrap();
        let tensors = [("blk.0.ffn_up.weight", &q41), ("blk.0.attn_q.weight", &q80), ("blk.0.attn_norm.weight", &norm)];
        gguf_file::write(&mut f, &[("general.architecture", &arch)], &tensors).unwrap();
        let reference = q41.dequantize(&Device::Cpu).unwrap();
        (path, reference)
    }

    fn dtypes(path: &Path) -> Vec<(String, GgmlDType)> {
        let c = read_content(path).unwrap();
        let mut v: Vec<_> = c.tensor_infos.iter().map(|(n, i)| (n.clone(), i.ggml_dtype)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn auto_reencodes_only_the_types_without_simd_and_keeps_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let (src, reference) = sample(dir.path());
        let cache = dir.path().join("cache");
        let p = prepare(&src, CpuWeights::Auto, &cache, None).unwrap();
        if !cfg!(target_arch = "x86_64") {
            assert_eq!(p.path, src);
            return;
        }
        assert!(p.path.starts_with(&cache), "{p:?}");
        assert!(p.note.as_deref().unwrap().contains("re-encoded Q4_1 weights as Q8_0"), "{p:?}");
        assert_eq!(
            dtypes(&p.path),
            vec![
                ("blk.0.attn_norm.weight".into(), GgmlDType::F32),
                ("blk.0.attn_q.weight".into(), GgmlDType::Q8_0),
                ("blk.0.ffn_up.weight".into(), GgmlDType::Q8_0),
            ]
        );
        let c = read_content(&p.path).unwrap();
        assert!(matches!(c.metadata.get("general.architecture"), Some(gguf_file::Value::String(s)) if s == "llama"));
        let mut r = BufReader::new(File::open(&p.path).unwrap());
        let got = c.tensor(&mut r, "blk.0.ffn_up.weight", &Device::Cpu).unwrap().dequantize(&Device::Cpu).unwrap();
        let err: f32 = (got - &reference).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        let scale: f32 = reference.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(err < scale / 100.0, "max error {err} against max {scale}");
    }

    #[test]
    fn the_cache_is_reused_and_a_changed_source_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let (src, _) = sample(dir.path());
        let cache = dir.path().join("cache");
        let first = prepare(&src, CpuWeights::Q8_0, &cache, None).unwrap();
        let again = prepare(&src, CpuWeights::Q8_0, &cache, None).unwrap();
        assert_eq!(first.path, again.path);
        assert!(again.note.unwrap().contains("cached"));
        // Same name, new contents (32 more bytes): a new copy, and the old one is gone.
        let f = File::options().append(true).open(&src).unwrap();
        f.set_len(f.metadata().unwrap().len() + 32).unwrap();
        let third = prepare(&src, CpuWeights::Q8_0, &cache, None).unwrap();
        assert_ne!(third.path, first.path);
        let left: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, vec![third.path.file_name().unwrap().to_owned()]);
    }

    #[test]
    fn a_damaged_cached_copy_is_made_anew_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let (src, _) = sample(dir.path());
        let cache = dir.path().join("cache");
        let first = prepare(&src, CpuWeights::Q8_0, &cache, None).unwrap();
        let f = File::options().write(true).open(&first.path).unwrap();
        f.set_len(f.metadata().unwrap().len() - 100).unwrap();
        let again = prepare(&src, CpuWeights::Q8_0, &cache, None).unwrap();
        assert_eq!(again.path, first.path);
        assert!(again.note.as_deref().unwrap().starts_with("re-encoded"), "{again:?}");
        assert_eq!(super::super::gguf_meta::check(&again.path), Ok(()));
    }

    #[test]
    fn two_models_with_the_same_file_name_keep_their_own_copies() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let (first, _) = sample(&a);
        let (second, _) = sample(&b);
        assert_eq!(first.file_name(), second.file_name());
        let cache = dir.path().join("cache");
        let one = prepare(&first, CpuWeights::Q8_0, &cache, None).unwrap();
        let two = prepare(&second, CpuWeights::Q8_0, &cache, None).unwrap();
        assert_ne!(one.path, two.path);
        assert!(one.path.exists() && two.path.exists(), "the second did not remove the first's copy");
    }

    #[test]
    fn the_cache_key_is_stable_across_builds() {
        // A fixed value: DefaultHasher may change with any Rust release; SHA-256 does not.
        assert_eq!(cache_key(b"/models/m.gguf", 1234, 1_700_000_000_000_000_000), "000ab54451bd-13e43b824c58bf75");
        assert_ne!(cache_key(b"/models/m.gguf", 1234, 1), cache_key(b"/models/m.gguf", 1234, 2));
        assert_eq!(cache_key(b"/m", 1, 1)[..12], cache_key(b"/m", 2, 2)[..12], "one source, one prefix");
    }

    #[test]
    fn the_cache_keeps_to_its_budget_dropping_the_least_recently_used_copy() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let mut sources = Vec::new();
        for name in ["a", "b", "c"] {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            sources.push(sample(&d).0);
        }
        let one = prepare_within(&sources[0], CpuWeights::Q8_0, &cache, None, u64::MAX).unwrap().path;
        let size = std::fs::metadata(&one).unwrap().len();
        let two = prepare_within(&sources[1], CpuWeights::Q8_0, &cache, None, u64::MAX).unwrap().path;
        // `one` used again, after `two`: `two` is now the least recently used.
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        File::open(&two).unwrap().set_modified(old).unwrap();
        File::open(&one).unwrap().set_modified(old - std::time::Duration::from_secs(60)).unwrap();
        prepare_within(&sources[0], CpuWeights::Q8_0, &cache, None, u64::MAX).unwrap();
        let three = prepare_within(&sources[2], CpuWeights::Q8_0, &cache, None, 2 * size).unwrap().path;
        assert!(one.exists() && three.exists());
        assert!(!two.exists(), "the least recently used copy went");
    }

    #[test]
    fn native_and_already_fast_files_load_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let (src, _) = sample(dir.path());
        let cache = dir.path().join("cache");
        assert_eq!(prepare(&src, CpuWeights::Native, &cache, None).unwrap(), Prepared { path: src.clone(), note: None });
        let f32 = prepare(&src, CpuWeights::F32, &cache, None).unwrap();
        assert!(dtypes(&f32.path).iter().all(|(_, t)| *t == GgmlDType::F32));
        let again = prepare(&f32.path, CpuWeights::Auto, &cache, None).unwrap();
        assert_eq!(again.path, f32.path, "nothing slow is left to re-encode");
    }

    #[test]
    fn a_header_declaring_a_huge_string_is_refused_before_candle_allocates_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.gguf");
        let mut f = b"GGUF".to_vec();
        f.extend(3u32.to_le_bytes());
        f.extend(0u64.to_le_bytes()); // tensors
        f.extend(1u64.to_le_bytes()); // metadata entries
        f.extend((1u64 << 40).to_le_bytes()); // a 1 TiB key
        std::fs::write(&path, &f).unwrap();
        let e = prepare(&path, CpuWeights::Auto, &dir.path().join("cache"), None).unwrap_err();
        assert!(e.contains("not a readable GGUF") && e.contains("implausible string length"), "{e}");
    }

    #[test]
    fn not_enough_memory_falls_back_in_auto_and_refuses_when_asked_explicitly() {
        let dir = tempfile::tempdir().unwrap();
        let (src, _) = sample(dir.path());
        let cache = dir.path().join("cache");
        if cfg!(target_arch = "x86_64") {
            let p = prepare(&src, CpuWeights::Auto, &cache, Some(10)).unwrap();
            assert_eq!(p.path, src);
            assert!(p.note.unwrap().contains("loading the file as it is"));
        }
        let e = prepare(&src, CpuWeights::Q8_0, &cache, Some(10)).unwrap_err();
        assert!(e.contains("needs") && e.contains("cpu_weights: native"), "{e}");
        assert!(!cache.exists(), "nothing written");
    }
}
