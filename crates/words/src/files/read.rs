//! Reading a file the user named (or put in one of our folders): regular files only, opened
//! without blocking, read up to a limit.
use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::OFlags;

/// Opens `path` (following symlinks) for reading if it is a regular file. O_NONBLOCK makes
/// opening a FIFO return at once instead of waiting for a writer; the type is checked on the
/// open file, so a path swapped in between cannot slip through. O_NOCTTY: a terminal device
/// named by mistake never becomes our controlling terminal.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let flags = (OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32;
    let file = OpenOptions::new().read(true).custom_flags(flags).open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        // O_NONBLOCK changes nothing for a regular file's reads.
        Ok(file)
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a regular file ({})", kind_name(kind))))
    }
}

/// The whole of `path`, refused when it is larger than `limit` bytes or not a regular file.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(size, limit));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // The file may grow while it is read: never take more than the limit.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_limited(path, limit)?).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text (invalid byte at offset {at})"))
    })
}

fn too_large(size: u64, limit: u64) -> io::Error {
    let (size, limit) = (super::human_size(size), super::human_size(limit));
    io::Error::new(io::ErrorKind::InvalidData, format!("too large ({size}; at most {limit} is read)"))
}

fn kind_name(kind: FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on a thread and waits for it a bounded time: a read that blocks fails the test.
    fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(10)).expect("the read returned instead of blocking")
    }

    #[test]
    fn a_fifo_and_a_device_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.json");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR, 0)
            .unwrap();
        let err = within_seconds(move || read_limited(&fifo, 1 << 20).unwrap_err());
        assert_eq!(err.to_string(), "not a regular file (a named pipe)");
        let zero = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let err = within_seconds(move || read_limited(&zero, 1 << 20).unwrap_err());
        assert_eq!(err.to_string(), "not a regular file (a character device)");
        assert_eq!(read_limited(dir.path(), 10).unwrap_err().to_string(), "not a regular file (a directory)");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_limited(&path, 2048).unwrap().len(), 2048);
        assert_eq!(read_limited(&path, 1024).unwrap_err().to_string(), "too large (2 KiB; at most 1 KiB is read)");
        std::fs::write(&path, b"ok \xff").unwrap();
        assert_eq!(read_text(&path, 10).unwrap_err().to_string(), "not UTF-8 text (invalid byte at offset 3)");
        let missing = read_limited(&dir.path().join("nope"), 10).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
