//! Files llamadeck reads and writes for the user: the config, conversations, exports, the log.
//!
//! Reading opens only regular files, without blocking, up to a size limit: a FIFO or
//! `/dev/zero` named by mistake is refused at once instead of hanging a thread or filling memory.
//! Writing replaces a file atomically and keeps what it creates private (0600 files in 0700
//! folders); temp files a crash left behind are removed by `remove_stale_temps`. Logs are
//! appended to (`open_append`).
mod append;
mod read;
mod temps;
mod write;

pub use append::open_append;
pub use read::{open_regular, read_limited, read_text};
pub use temps::{remove_stale_temps, temp_path};
pub use write::{create_private_dir_all, write, write_private};

/// `1.5 GiB`, `64 MiB`, `12 KiB`, `200 bytes`: sizes in messages.
pub fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    let scaled = |unit: u64, name: &str| {
        if bytes.is_multiple_of(unit) { format!("{} {name}", bytes / unit) } else { format!("{:.1} {name}", bytes as f64 / unit as f64) }
    };
    match bytes {
        b if b >= GIB => scaled(GIB, "GiB"),
        b if b >= MIB => scaled(MIB, "MiB"),
        b if b >= KIB => scaled(KIB, "KiB"),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_plainly() {
        assert_eq!(super::human_size(200), "200 bytes");
        assert_eq!(super::human_size(64 << 20), "64 MiB");
        assert_eq!(super::human_size((64 << 20) + (1 << 19)), "64.5 MiB");
        assert_eq!(super::human_size(3 << 30), "3 GiB");
    }
}
