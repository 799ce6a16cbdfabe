//! The request log: one JSON line per finished API request, appended to
//! `$XDG_STATE_HOME/llamadeck/requests.jsonl` (the binary names the file), for the operator's
//! own accounting and for whatever reads JSONL.
//!
//! - Private: the file is 0600 in a 0700 folder (it names clients and models).
//! - No message text: counts, timings and outcomes only.
//! - Rotated by size: past [`RequestLog::MAX_BYTES`] the file becomes `requests.jsonl.1` (the
//!   older `.1` becomes `.2`, the older `.2` goes), so three files at most.
//! - Each line is one `write(2)` to a file opened for appending, with nothing buffered in this
//!   process: a `kill -9` loses at most the line being written.
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use llamadeck_words::requests::RequestRecord;
use serde_json::json;

pub struct RequestLog {
    path: PathBuf,
    max_bytes: u64,
    /// The open file and its size, once the first line is written.
    file: Mutex<Option<(File, u64)>>,
}

impl RequestLog {
    /// Past this size the file is rotated.
    pub const MAX_BYTES: u64 = 10 << 20;
    /// The current file and the rotated ones.
    pub const FILES: usize = 3;

    pub fn new(path: PathBuf) -> Self {
        Self::with_max_bytes(path, Self::MAX_BYTES)
    }

    pub fn with_max_bytes(path: PathBuf, max_bytes: u64) -> Self {
        Self { path, max_bytes, file: Mutex::new(None) }
    }

    /// Appends `record`'s line; a failure (a full disk, a folder made unwritable) is logged,
    /// once per failure, and never reaches the client.
    pub fn write(&self, record: &RequestRecord) {
        if let Err(e) = self.append(&line(record)) {
            tracing::warn!("request log {}: {e}", self.path.display());
        }
    }

    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.as_ref().is_some_and(|(_, size)| *size > 0 && size + line.len() as u64 > self.max_bytes) {
            *file = None;
            rotate(&self.path)?;
        }
        if file.is_none() {
            *file = Some(open(&self.path)?);
        }
        let (f, size) = file.as_mut().expect("opened above");
        if let Err(e) = f.write_all(line) {
            // Opened again next time: the folder may have been moved or the disk freed.
            *file = None;
            return Err(e);
        }
        *size += line.len() as u64;
        Ok(())
    }
}

/// One record as a line: what happened and how long it took, never what was said.
fn line(r: &RequestRecord) -> Vec<u8> {
    let value = json!({
        "at": r.at,
        "endpoint": r.endpoint,
        "status": r.status,
        "client": r.client,
        "model": r.model,
        "prompt_tokens": r.prompt_tokens,
        "cached_tokens": r.cached_tokens,
        "completion_tokens": r.completion_tokens,
        "ttft_ms": r.ttft_ms,
        "total_ms": r.total_ms,
        "decode_tok_s": r.decode_tok_s,
        "outcome": r.outcome,
        "reason": r.reason,
    });
    let mut bytes = serde_json::to_vec(&value).expect("a record serializes");
    bytes.push(b'\n');
    bytes
}

/// Opens `path` for appending, private, with its size.
fn open(path: &Path) -> std::io::Result<(File, u64)> {
    let file = llamadeck_words::files::open_append(path, true)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// `path` becomes `path.1`, `path.1` becomes `path.2`, and the oldest goes.
fn rotate(path: &Path) -> std::io::Result<()> {
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    for n in (1..RequestLog::FILES).rev() {
        let from = if n == 1 { path.to_path_buf() } else { numbered(n - 1) };
        match std::fs::rename(&from, numbered(n)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;

    fn record(n: usize) -> RequestRecord {
        RequestRecord {
            at: 1_700_000_000 + n as u64,
            endpoint: "POST /v1/chat/completions".into(),
            status: 200,
            client: "127.0.0.1:5000 OpenAI/Python".into(),
            model: "llama-2-13b-chat".into(),
            prompt_tokens: 100 + n,
            cached_tokens: 90,
            completion_tokens: 20,
            ttft_ms: Some(80),
            total_ms: Some(900),
            outcome: "stop".into(),
            ..RequestRecord::default()
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn each_request_is_one_private_json_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/llamadeck/requests.jsonl");
        let log = RequestLog::new(path.clone());
        log.write(&record(1));
        log.write(&record(2));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["prompt_tokens"], 102);
        assert_eq!((lines[1]["cached_tokens"].as_u64(), lines[1]["total_ms"].as_u64()), (Some(90), Some(900)));
        assert_eq!((lines[0]["model"].as_str(), lines[0]["outcome"].as_str()), (Some("llama-2-13b-chat"), Some("stop")));
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
    }

    #[test]
    fn past_its_size_the_log_rotates_and_keeps_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        let one = line(&record(0)).len() as u64;
        let log = RequestLog::with_max_bytes(path.clone(), 10 * one);
        for n in 0..45 {
            log.write(&record(n));
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let (now, one_back, two_back) =
            (read(&path), read(Path::new(&format!("{}.1", path.display()))), read(Path::new(&format!("{}.2", path.display()))));
        assert!(!Path::new(&format!("{}.3", path.display())).exists(), "three files at most");
        for text in [&now, &one_back, &two_back] {
            assert!(text.len() as u64 <= 10 * one, "{}", text.len());
        }
        assert_eq!((now.lines().count(), one_back.lines().count(), two_back.lines().count()), (5, 10, 10));
        // The newest lines are in the file itself, in order.
        let last: serde_json::Value = serde_json::from_str(now.lines().last().unwrap()).unwrap();
        assert_eq!(last["prompt_tokens"], 144);
        assert_eq!(mode(Path::new(&format!("{}.1", path.display()))), 0o600);
    }

    #[test]
    fn a_log_made_readable_by_others_is_made_private_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        RequestLog::new(path.clone()).write(&record(1));
        assert_eq!(mode(&path), 0o600);
    }
}
