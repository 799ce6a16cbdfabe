//! Where a model comes from: a local HF directory, a local `.gguf` file, or a hub id the user
//! asked for. A path that does not exist is an error here, so mistral.rs never mistakes a typo
//! for a hub id and goes to the network.
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

/// Decides what `s` names. Never touches the network.
pub fn resolve_source(s: &str) -> Result<ModelSource, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("no model given".into());
    }
    let expanded = expand_home(s);
    let path = expanded.as_path();
    if path.exists() {
        let path = std::fs::canonicalize(path).map_err(|e| format!("model path {}: {e}", path.display()))?;
        return if path.is_dir() { check_hf_dir(&path).map(|_| ModelSource::HfDir(path)) } else { check_gguf(&path) };
    }
    if looks_like_hub_id(s) {
        return Ok(ModelSource::Hub(s.to_string()));
    }
    Err(format!("model path {} does not exist", path.display()))
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

fn check_gguf(path: &Path) -> Result<ModelSource, String> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
        Ok(ModelSource::Gguf(path.to_path_buf()))
    } else {
        Err(format!("model file {} is not a .gguf file (give a .gguf file or a model directory)", path.display()))
    }
}

fn check_hf_dir(dir: &Path) -> Result<(), String> {
    let mut missing: Vec<&str> =
        ["config.json", "tokenizer.json"].into_iter().filter(|f| !dir.join(f).is_file()).collect();
    if safetensors_files(dir).is_empty() {
        missing.push("*.safetensors");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("model directory {} lacks {}", dir.display(), missing.join(", ")))
    }
}

/// The weight files of an HF directory, sorted.
pub fn safetensors_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
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
        assert!(resolve_source("models/llama-2.gguf").unwrap_err().contains("does not exist"));
    }

    #[test]
    fn owner_name_is_a_hub_id() {
        assert_eq!(resolve_source("meta-llama/Llama-2-13b-chat-hf"), Ok(ModelSource::Hub("meta-llama/Llama-2-13b-chat-hf".into())));
        assert!(resolve_source("a/b/c").is_err());
        assert!(resolve_source("~/x").is_err());
    }

    #[test]
    fn directory_must_hold_the_hf_files() {
        let dir = std::env::temp_dir().join(format!("llamadeck-source-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = resolve_source(dir.to_str().unwrap()).unwrap_err();
        assert!(err.contains("config.json") && err.contains("*.safetensors"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
