//! Temp files: named so that listings skip them and so that the ones a crash left behind can be
//! told from the ones another running llamadeck is writing at this moment.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `.NAME.PID.NANOS.N.tmp` beside `path`: hidden, unique, and carrying the writer's pid.
pub fn temp_path(dir: &Path, path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.{}.{nanos}.{n}.tmp", std::process::id()))
}

/// Removes the temp files in `dir` whose writer is no longer running (a crash or `kill -9`
/// mid-write); with `for_file`, only those of that file name. Returns how many went.
pub fn remove_stale_temps(dir: &Path, for_file: Option<&str>) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((file, pid)) = name.to_str().and_then(parse) else { continue };
        if for_file.is_some_and(|f| f != file) || is_running(pid) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file()) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// (NAME, PID) of a name `temp_path` made.
fn parse(name: &str) -> Option<(&str, u32)> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(4, '.');
    let (n, nanos, pid, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(n) && digits(nanos) && !file.is_empty()).then_some(())?;
    Some((file, pid.parse().ok()?))
}

/// Whether a process with this pid exists (Linux's /proc). Without /proc, assume it does:
/// better to leave a stale temp file than to delete one being written.
fn is_running(pid: u32) -> bool {
    pid == std::process::id() || !Path::new("/proc/self").exists() || Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temp_files_of_writers_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let ours = temp_path(dir.path(), Path::new("a.json"));
        // Pid 0 is never a process that could be writing.
        let stale = dir.path().join(".a.json.0.123.4.tmp");
        let stale_other_file = dir.path().join(".config.yaml.0.123.4.tmp");
        let not_ours = dir.path().join(".notes.tmp");
        for p in [&ours, &stale, &stale_other_file, &not_ours] {
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_temps(dir.path(), Some("a.json")), 1);
        assert!(!stale.exists() && ours.exists() && stale_other_file.exists() && not_ours.exists());
        assert_eq!(remove_stale_temps(dir.path(), None), 1);
        assert!(!stale_other_file.exists() && ours.exists() && not_ours.exists());
        assert_eq!(parse(".my.file.json.77.5.0.tmp"), Some(("my.file.json", 77)));
    }
}
