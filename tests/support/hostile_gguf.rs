//! A copy of a real GGUF with one 8-byte field of its `token_embd.weight` tensor info set to
//! 2^40: what made candle allocate a terabyte and abort the process.
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The field to change.
#[derive(Clone, Copy)]
pub enum Field {
    /// The length of the tensor's name.
    NameLength,
    /// The tensor's second dimension.
    Dimension,
}

pub const HUGE: u64 = 1 << 40;

/// `model` copied into `dir` as `hostile.gguf`, with `field` set to [`HUGE`].
pub fn copy_with(model: &Path, dir: &Path, field: Field) -> PathBuf {
    const NAME: &[u8] = b"token_embd.weight";
    let mut spelled = (NAME.len() as u64).to_le_bytes().to_vec();
    spelled.extend(NAME);
    spelled.extend(2u32.to_le_bytes()); // two dimensions
    let bytes = std::fs::read(model).unwrap();
    let at = bytes[..bytes.len().min(16 << 20)]
        .windows(spelled.len())
        .position(|w| w == spelled)
        .unwrap_or_else(|| panic!("{} has no 2-D token_embd.weight tensor info", model.display()));
    let offset = match field {
        Field::NameLength => at,
        // After the name and the dimension count: the first dimension, then the second.
        Field::Dimension => at + spelled.len() + 8,
    };
    let hostile = dir.join("hostile.gguf");
    std::fs::write(&hostile, &bytes).unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(&hostile).unwrap();
    file.seek(SeekFrom::Start(offset as u64)).unwrap();
    file.write_all(&HUGE.to_le_bytes()).unwrap();
    hostile
}
