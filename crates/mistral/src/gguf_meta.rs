//! Reads the few GGUF header values the memory estimate needs, before mistral.rs opens the file.
//! Also the first check that a `.gguf` is one: a truncated or foreign file fails here with a
//! plain message instead of deep inside the loader.
use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

/// Shape of a GGUF model, from its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufShape {
    pub arch: String,
    pub layers: u64,
    pub context_len: u64,
    pub hidden: u64,
    pub heads: u64,
    pub kv_heads: u64,
}

pub fn read_shape(path: &Path) -> Result<GgufShape, String> {
    let ints = metadata(path)?;
    let arch = ints.arch.ok_or_else(|| format!("{}: GGUF metadata has no general.architecture", path.display()))?;
    let get = |key: &str| ints.values.get(&format!("{arch}.{key}")).copied();
    let need = |key: &str| get(key).ok_or_else(|| format!("{}: GGUF metadata lacks {arch}.{key}", path.display()));
    let heads = need("attention.head_count")?;
    Ok(GgufShape {
        layers: need("block_count")?,
        context_len: need("context_length")?,
        hidden: need("embedding_length")?,
        kv_heads: get("attention.head_count_kv").unwrap_or(heads),
        heads,
        arch,
    })
}

/// Checks that `path` is a GGUF file whose header lengths are plausible. candle's reader
/// allocates whatever a header declares, so a damaged file must be refused here first.
pub fn check(path: &Path) -> Result<(), String> {
    metadata(path).map(|_| ())
}

fn metadata(path: &Path) -> Result<Metadata, String> {
    // A FIFO or a device named `.gguf` is refused here instead of blocking or reading forever.
    let file = llamadeck_words::files::open_regular(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    read_metadata(&mut BufReader::new(file)).map_err(|e| format!("{} is not a readable GGUF file: {e}", path.display()))
}

#[derive(Default)]
struct Metadata {
    arch: Option<String>,
    values: HashMap<String, u64>,
}

/// Walks the key/value section, keeping the architecture and every integer value.
fn read_metadata(r: &mut impl Read) -> std::io::Result<Metadata> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    if &magic != b"GGUF" {
        return Err(bad("bad magic (not GGUF)"));
    }
    let version = u32_le(r)?;
    if !(2..=3).contains(&version) {
        return Err(bad(&format!("unsupported GGUF version {version}")));
    }
    let _tensors = u64_le(r)?;
    let kv_count = u64_le(r)?;
    if kv_count > 1_000_000 {
        return Err(bad("implausible metadata count"));
    }
    let mut meta = Metadata::default();
    for _ in 0..kv_count {
        let key = string(r)?;
        let ty = u32_le(r)?;
        match ty {
            8 if key == "general.architecture" => meta.arch = Some(string(r)?),
            _ => {
                if let Some(v) = value(r, ty, 0)? {
                    meta.values.insert(key, v);
                }
            }
        }
    }
    Ok(meta)
}

/// Arrays of arrays deeper than this are refused: real files nest one level (token lists), and
/// each level costs a stack frame, so a crafted file could otherwise overflow the stack.
const MAX_ARRAY_DEPTH: usize = 8;

/// Reads one value of GGUF type `ty` inside `depth` arrays; integers are returned, everything
/// else skipped.
fn value(r: &mut impl Read, ty: u32, depth: usize) -> std::io::Result<Option<u64>> {
    let int = |v: i128| Some(v.max(0) as u64);
    Ok(match ty {
        0 => int(bytes::<1>(r)?[0] as i128),
        1 => int(bytes::<1>(r)?[0] as i8 as i128),
        2 => int(u16::from_le_bytes(bytes(r)?) as i128),
        3 => int(i16::from_le_bytes(bytes(r)?) as i128),
        4 => int(u32_le(r)? as i128),
        5 => int(i32::from_le_bytes(bytes(r)?) as i128),
        6 => skip(r, 4).map(|_| None)?,
        7 => skip(r, 1).map(|_| None)?,
        8 => string(r).map(|_| None)?,
        9 => {
            if depth >= MAX_ARRAY_DEPTH {
                let message = format!("arrays nested more than {MAX_ARRAY_DEPTH} deep");
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, message));
            }
            let item_ty = u32_le(r)?;
            let len = u64_le(r)?;
            for _ in 0..len {
                value(r, item_ty, depth + 1)?;
            }
            None
        }
        10 => int(u64_le(r)? as i128),
        11 => int(i64::from_le_bytes(bytes(r)?) as i128),
        12 => skip(r, 8).map(|_| None)?,
        _ => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unknown value type {ty}"))),
    })
}

fn bytes<const N: usize>(r: &mut impl Read) -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn u32_le(r: &mut impl Read) -> std::io::Result<u32> {
    Ok(u32::from_le_bytes(bytes(r)?))
}

fn u64_le(r: &mut impl Read) -> std::io::Result<u64> {
    Ok(u64::from_le_bytes(bytes(r)?))
}

fn skip(r: &mut impl Read, n: u64) -> std::io::Result<()> {
    let copied = std::io::copy(&mut r.take(n), &mut std::io::sink())?;
    if copied < n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn string(r: &mut impl Read) -> std::io::Result<String> {
    let len = u64_le(r)?;
    if len > 1 << 24 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "implausible string length"));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv_str(out: &mut Vec<u8>, key: &str, v: &str) {
        out.extend((key.len() as u64).to_le_bytes());
        out.extend(key.as_bytes());
        out.extend(8u32.to_le_bytes());
        out.extend((v.len() as u64).to_le_bytes());
        out.extend(v.as_bytes());
    }

    fn kv_u32(out: &mut Vec<u8>, key: &str, v: u32) {
        out.extend((key.len() as u64).to_le_bytes());
        out.extend(key.as_bytes());
        out.extend(4u32.to_le_bytes());
        out.extend(v.to_le_bytes());
    }

    #[test]
    fn reads_llama_shape_and_rejects_garbage() {
        let mut f = b"GGUF".to_vec();
        f.extend(3u32.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        f.extend(6u64.to_le_bytes());
        kv_str(&mut f, "general.architecture", "llama");
        kv_u32(&mut f, "llama.block_count", 30);
        kv_u32(&mut f, "llama.context_length", 8192);
        kv_u32(&mut f, "llama.embedding_length", 576);
        kv_u32(&mut f, "llama.attention.head_count", 9);
        kv_u32(&mut f, "llama.attention.head_count_kv", 3);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, &f).unwrap();
        let shape = read_shape(&path).unwrap();
        assert_eq!(shape, GgufShape { arch: "llama".into(), layers: 30, context_len: 8192, hidden: 576, heads: 9, kv_heads: 3 });
        std::fs::write(&path, &f[..f.len() - 3]).unwrap();
        assert!(read_shape(&path).unwrap_err().contains("not a readable GGUF"));
        std::fs::write(&path, b"hello world, not a model").unwrap();
        assert!(read_shape(&path).unwrap_err().contains("bad magic"));
    }

    #[test]
    fn deeply_nested_arrays_are_refused_without_exhausting_the_stack() {
        let mut f = b"GGUF".to_vec();
        f.extend(3u32.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        f.extend(1u64.to_le_bytes());
        f.extend(1u64.to_le_bytes());
        f.push(b'k');
        f.extend(9u32.to_le_bytes());
        // An array of one array of one array ... a million levels (12 bytes a level).
        for _ in 0..1_000_000 {
            f.extend(9u32.to_le_bytes());
            f.extend(1u64.to_le_bytes());
        }
        let err = read_metadata(&mut &f[..]).err().expect("refused");
        assert_eq!(err.to_string(), "arrays nested more than 8 deep");
        // One level of nesting, as real files have, still reads.
        let mut ok = f[..f.len() - 12 * 1_000_000].to_vec();
        ok.extend(9u32.to_le_bytes());
        ok.extend(1u64.to_le_bytes());
        ok.extend(4u32.to_le_bytes());
        ok.extend(2u64.to_le_bytes());
        ok.extend([0u8; 8]);
        assert!(read_metadata(&mut &ok[..]).is_ok());
    }
}
