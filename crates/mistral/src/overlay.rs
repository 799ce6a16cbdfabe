//! Older Llama-2 `config.json` files lack `rope_theta` (and Llama-1 style ones
//! `num_key_value_heads`), which mistral.rs 0.8.1 requires. Rather than touch the user's
//! files, we load from a temporary directory of symlinks with a patched config.json. The
//! directory is made private (0700) under a random name in one step, so another user of the
//! machine cannot create it first and plant links of their own.
use std::path::{Path, PathBuf};

/// A temporary model directory; removed when dropped (the loaded weights stay mapped).
#[derive(Debug)]
pub struct ConfigOverlay {
    pub dir: PathBuf,
    /// Removes the directory when the overlay is dropped.
    _temp: tempfile::TempDir,
}

/// The largest config.json read (they are a few KiB; some carry label maps).
const MAX_CONFIG_JSON_BYTES: u64 = 16 << 20;

/// Llama-2's value, used by Meta's reference and by HF when the field is absent.
const DEFAULT_ROPE_THETA: f64 = 10000.0;

/// The defaults `config` lacks, or `None` when it loads as it is.
pub fn patched_config(config: &serde_json::Value) -> Option<serde_json::Value> {
    let mut patched = config.clone();
    let obj = patched.as_object_mut()?;
    let mut changed = false;
    if !obj.contains_key("rope_theta") {
        obj.insert("rope_theta".into(), DEFAULT_ROPE_THETA.into());
        changed = true;
    }
    if !obj.contains_key("num_key_value_heads")
        && let Some(heads) = obj.get("num_attention_heads").cloned()
    {
        obj.insert("num_key_value_heads".into(), heads);
        changed = true;
    }
    changed.then_some(patched)
}

/// An overlay of `dir` when its config.json needs patching.
pub fn overlay_if_needed(dir: &Path) -> Result<Option<ConfigOverlay>, String> {
    let file = dir.join("config.json");
    let text = llamadeck_words::files::read_text(&file, MAX_CONFIG_JSON_BYTES).map_err(|e| format!("{}: {e}", file.display()))?;
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let Some(patched) = patched_config(&config) else {
        return Ok(None);
    };
    // mkdir with a random name fails if the name exists; tempfile's default mode is 0777 & umask.
    let temp = tempfile::Builder::new()
        .prefix("llamadeck-model-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| format!("preparing a patched config in {}: {e}", std::env::temp_dir().display()))?;
    let overlay = ConfigOverlay { dir: temp.path().to_path_buf(), _temp: temp };
    let io = |e: std::io::Error| format!("preparing a patched config in {}: {e}", overlay.dir.display());
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name() != "config.json" {
            std::os::unix::fs::symlink(entry.path(), overlay.dir.join(entry.file_name())).map_err(io)?;
        }
    }
    let json = serde_json::to_string_pretty(&patched).expect("a JSON value serializes");
    std::fs::write(overlay.dir.join("config.json"), json).map_err(io)?;
    Ok(Some(overlay))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_overlay_is_a_fresh_private_directory_removed_with_it() {
        use std::os::unix::fs::PermissionsExt;
        let model = tempfile::tempdir().unwrap();
        std::fs::write(model.path().join("config.json"), r#"{"num_attention_heads": 4}"#).unwrap();
        std::fs::write(model.path().join("model.safetensors"), b"weights").unwrap();
        // What another user could plant under the names the overlay used to take (pid, counter).
        let planted = tempfile::tempdir().unwrap();
        for n in 0..64 {
            let name = format!("llamadeck-model-{}-{n}", std::process::id());
            let _ = std::os::unix::fs::symlink(planted.path(), std::env::temp_dir().join(name));
        }
        let overlay = overlay_if_needed(model.path()).unwrap().expect("rope_theta is missing");
        for n in 0..64 {
            let _ = std::fs::remove_file(std::env::temp_dir().join(format!("llamadeck-model-{}-{n}", std::process::id())));
        }
        assert_eq!(std::fs::read_dir(planted.path()).unwrap().count(), 0, "nothing written into the planted folder");
        let meta = std::fs::symlink_metadata(&overlay.dir).unwrap();
        assert!(meta.is_dir(), "a real directory, not a link");
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let patched: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(overlay.dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(patched["rope_theta"], json!(10000.0));
        assert_eq!(std::fs::read(overlay.dir.join("model.safetensors")).unwrap(), b"weights");
        let dir = overlay.dir.clone();
        drop(overlay);
        assert!(!dir.exists());
    }

    #[test]
    fn only_missing_fields_are_added() {
        assert_eq!(patched_config(&json!({"rope_theta": 1e6, "num_key_value_heads": 8})), None);
        let p = patched_config(&json!({"num_attention_heads": 40, "rope_theta": 5.0})).unwrap();
        assert_eq!(p, json!({"num_attention_heads": 40, "num_key_value_heads": 40, "rope_theta": 5.0}));
        let p = patched_config(&json!({"num_key_value_heads": 8})).unwrap();
        assert_eq!(p["rope_theta"], json!(10000.0));
    }
}
