//! Files written a line at a time (the logs): opened for appending, private when they are ours.
use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::write::create_private_dir_all;

/// Opens `path` for appending, creating it 0600 (and missing folders 0700). `ours`: a file
/// llamadeck names itself (the console's log, the request log), which earlier versions or other
/// tools may have left readable by others, is made private too; a file the operator named keeps
/// the mode they gave it.
pub fn open_append(path: &Path, ours: bool) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    let mode = file.metadata()?.permissions().mode();
    if ours && mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(mode & 0o700))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn log_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("state/llamadeck/llamadeck.log");
        open_append(&log, true).unwrap();
        assert_eq!((mode(&log), mode(log.parent().unwrap())), (0o600, 0o700));
        std::fs::set_permissions(&log, Permissions::from_mode(0o644)).unwrap();
        open_append(&log, true).unwrap();
        assert_eq!(mode(&log), 0o600, "an old world-readable log is made private");
        let named = dir.path().join("serve.log");
        open_append(&named, false).unwrap();
        assert_eq!(mode(&named), 0o600);
        std::fs::set_permissions(&named, Permissions::from_mode(0o640)).unwrap();
        open_append(&named, false).unwrap();
        assert_eq!(mode(&named), 0o640, "the operator's choice is kept");
    }
}
