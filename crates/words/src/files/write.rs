//! Crash-safe file replacement, for the config file and saved conversations alike: a temp file
//! beside the target, fsync, rename over it, fsync the folder. A `kill -9` at any moment leaves
//! either the old file or the new one, never a mix.
//!
//! What is created is private: files 0600, folders 0700 (conversations and settings are the
//! user's text). A symlink is written through to its target, so a config kept elsewhere and
//! linked into place stays linked; a file without its owner's write bit is refused, not replaced.
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PRIVATE_FILE: u32 = 0o600;
const PRIVATE_DIR: u32 = 0o700;

/// Replaces `path` with `contents`. An existing file keeps its mode; a new one is 0600.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace(path, contents, false)
}

/// As [`write`], and the file ends up 0600 whatever it was before (conversations, exports).
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace(path, contents, true)
}

/// Creates `dir` and any missing parents as 0700; existing folders keep their mode.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(PRIVATE_DIR).create(dir)
}

fn replace(path: &Path, contents: &[u8], private: bool) -> io::Result<()> {
    let target = link_target(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir_all(&dir)?;
    let existing = match fs::metadata(&target) {
        Ok(meta) => Some(meta.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(p) = &existing
        && p.mode() & 0o200 == 0
    {
        let message = format!("{} is read-only (mode {:o}); it was left as it was", target.display(), p.mode() & 0o7777);
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, message));
    }
    let mode = match existing {
        Some(p) if !private => p,
        _ => Permissions::from_mode(PRIVATE_FILE),
    };
    let temp = super::temp_path(&dir, &target);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(PRIVATE_FILE).open(&temp)?;
        file.write_all(contents)?;
        file.set_permissions(mode)?;
        file.sync_all()?;
        fs::rename(&temp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    fs::File::open(&dir)?.sync_all()
}

/// The file a write to `path` should replace: `path` itself, or where its symlink points.
fn link_target(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path).map_err(|e| {
            let to = fs::read_link(path).map_or_else(|_| "?".into(), |t| t.display().to_string());
            io::Error::new(e.kind(), format!("{} is a link to {to}, which cannot be followed: {e}", path.display()))
        }),
        _ => Ok(path.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn new_files_and_folders_are_private_and_existing_files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/deeper/a.json");
        write(&path, b"x").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write(&path, b"y").unwrap();
        assert_eq!(mode(&path), 0o640, "kept");
        write_private(&path, b"z").unwrap();
        assert_eq!(mode(&path), 0o600, "made private");
    }

    #[test]
    fn a_symlink_is_written_through_and_a_read_only_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        fs::write(&real, b"old").unwrap();
        fs::set_permissions(&real, Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("real.yaml", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "still a link");
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(mode(&real), 0o640);

        fs::set_permissions(&real, Permissions::from_mode(0o444)).unwrap();
        let err = write(&link, b"newer").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().ends_with("real.yaml is read-only (mode 444); it was left as it was"), "{err}");
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "no temp file left");
    }
}
