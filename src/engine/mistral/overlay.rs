//! Older Llama-2 `config.json` files lack `rope_theta` (and Llama-1 style ones
//! `num_key_value_heads`), which mistral.rs 0.8.1 requires. Rather than touch the user's
//! files, we load from a temporary directory of symlinks with a patched config.json.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary model directory; removed when dropped (the loaded weights stay mapped).
#[derive(Debug)]
pub struct ConfigOverlay {
    pub dir: PathBuf,
}

impl Drop for ConfigOverlay {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
    let text = std::fs::read_to_string(dir.join("config.json")).map_err(|e| format!("config.json: {e}"))?;
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", dir.join("config.json").display()))?;
    let Some(patched) = patched_config(&config) else {
        return Ok(None);
    };
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = format!("llamadeck-model-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let overlay = ConfigOverlay { dir: std::env::temp_dir().join(name) };
    let io = |e: std::io::Error| format!("preparing a patched config in {}: {e}", overlay.dir.display());
    std::fs::create_dir_all(&overlay.dir).map_err(io)?;
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
    fn only_missing_fields_are_added() {
        assert_eq!(patched_config(&json!({"rope_theta": 1e6, "num_key_value_heads": 8})), None);
        let p = patched_config(&json!({"num_attention_heads": 40, "rope_theta": 5.0})).unwrap();
        assert_eq!(p, json!({"num_attention_heads": 40, "num_key_value_heads": 40, "rope_theta": 5.0}));
        let p = patched_config(&json!({"num_key_value_heads": 8})).unwrap();
        assert_eq!(p["rope_theta"], json!(10000.0));
    }
}
