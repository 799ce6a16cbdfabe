//! Checks a GGUF file's whole header against the file before anything else reads it, and reads
//! the few header values the memory estimate needs. candle's reader allocates whatever a header
//! declares (a string, an array, a tensor's dimensions and bytes), so one crafted field could
//! otherwise abort the process; a truncated or foreign file fails here with a plain message
//! instead of deep inside the loader. Every read is bounded by what is left of the file.
use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use candle_core::quantized::GgmlDType;

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

/// The model's shape, from its metadata, checked for sense (see [`plausible`]).
pub fn read_shape(path: &Path) -> Result<GgufShape, String> {
    let header = header(path)?;
    let arch = header.arch.ok_or_else(|| format!("{}: GGUF metadata has no general.architecture", path.display()))?;
    let get = |key: &str| header.values.get(&format!("{arch}.{key}")).copied();
    let need = |key: &str| get(key).ok_or_else(|| format!("{}: GGUF metadata lacks {arch}.{key}", path.display()));
    let heads = need("attention.head_count")?;
    let shape = GgufShape {
        layers: need("block_count")?,
        context_len: need("context_length")?,
        hidden: need("embedding_length")?,
        kv_heads: get("attention.head_count_kv").unwrap_or(heads),
        heads,
        arch: arch.clone(),
    };
    plausible(&shape, header.tensors, &get).map_err(|e| format!("{} is not a readable GGUF file: {e}", path.display()))?;
    Ok(shape)
}

/// mistral.rs sizes what it allocates by these values (a list of layers, the rotary tables)
/// before it reads a tensor, and the memory estimate works from them: a file must not claim
/// billions of layers, or more heads than its width (a head dimension of 0, which made the
/// estimate's KV cache nothing), or heads wider than the model.
fn plausible(s: &GgufShape, tensors: u64, get: &dyn Fn(&str) -> Option<u64>) -> Checked<()> {
    let a = &s.arch;
    if !(1..=tensors).contains(&s.layers) {
        return Err(format!("{a}.block_count {} is not between 1 and the file's {tensors} tensors", s.layers));
    }
    if !(1..=s.hidden).contains(&s.heads) {
        return Err(format!("{a}.attention.head_count {} is not between 1 and {a}.embedding_length ({})", s.heads, s.hidden));
    }
    if !(1..=s.heads).contains(&s.kv_heads) {
        return Err(format!("{a}.attention.head_count_kv {} is not between 1 and {a}.attention.head_count ({})", s.kv_heads, s.heads));
    }
    if s.context_len == 0 {
        return Err(format!("{a}.context_length is 0"));
    }
    for key in ["attention.key_length", "attention.value_length"] {
        if let Some(v) = get(key).filter(|v| !(1..=s.hidden).contains(v)) {
            return Err(format!("{a}.{key} {v} is not between 1 and {a}.embedding_length ({})", s.hidden));
        }
    }
    let head = (s.hidden / s.heads).max(get("attention.key_length").unwrap_or(0));
    match get("rope.dimension_count") {
        Some(rope) if rope > head => Err(format!("{a}.rope.dimension_count {rope} is wider than a head ({head})")),
        _ => Ok(()),
    }
}

/// Checks that `path` is a GGUF file whose whole header (metadata and tensor infos) fits the
/// file. Every path that hands a GGUF to candle or mistral.rs runs this first.
pub fn check(path: &Path) -> Result<(), String> {
    header(path).map(|_| ())
}

fn header(path: &Path) -> Result<Header, String> {
    // A FIFO or a device named `.gguf` is refused here instead of blocking or reading forever.
    let file = llamadeck_words::files::open_regular(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = file.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
    read_header(&mut Bounded::new(BufReader::new(file), len)).map_err(|e| format!("{} is not a readable GGUF file: {e}", path.display()))
}

/// What the rest of the crate needs from a checked header.
#[derive(Default)]
struct Header {
    arch: Option<String>,
    values: HashMap<String, u64>,
    tensors: u64,
}

/// The most metadata entries, tensors and array values a header may declare. Real files have
/// hundreds of entries, about a thousand tensors and a few million values (a 256k-token
/// vocabulary with its scores, types and merges); candle keeps each value in 32 bytes, so the
/// cap on values is also a cap on what the metadata can cost in memory.
const MAX_ENTRIES: u64 = 1_000_000;
const MAX_TENSORS: u64 = 1 << 20;
const MAX_ARRAY_VALUES: u64 = 1 << 24;
/// Longest string (a key, a value, a template) and tensor name (ggml's own limit is 64).
const MAX_STRING: u64 = 1 << 24;
const MAX_NAME: u64 = 256;
/// ggml's limit on a tensor's dimensions.
const MAX_DIMS: u32 = 4;
/// Arrays of arrays deeper than this are refused: real files nest one level (token lists), and
/// each level costs a stack frame, so a crafted file could otherwise overflow the stack.
const MAX_ARRAY_DEPTH: usize = 8;
/// Where tensor data is aligned when `general.alignment` does not say (as candle reads it).
const DEFAULT_ALIGNMENT: u64 = 32;
/// The fewest bytes a tensor info takes: name length, dimension count, type and offset.
const MIN_TENSOR_INFO: u64 = 8 + 4 + 4 + 8;

type Checked<T> = Result<T, String>;

/// Walks the metadata (keeping the architecture and every integer value), then the tensor
/// infos, and checks every tensor's bytes lie inside the data section.
fn read_header<R: Read>(r: &mut Bounded<R>) -> Checked<Header> {
    if &r.bytes::<4>()? != b"GGUF" {
        return Err("bad magic (not GGUF)".into());
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(format!("unsupported GGUF version {version}"));
    }
    let tensor_count = r.u64()?;
    let kv_count = r.u64()?;
    if kv_count > MAX_ENTRIES {
        return Err(format!("implausible metadata count {kv_count}"));
    }
    let mut header = Header::default();
    let mut alignment = DEFAULT_ALIGNMENT;
    let mut array_values = 0;
    for _ in 0..kv_count {
        let key = r.string(MAX_STRING, "a metadata key")?;
        let ty = r.u32()?;
        if ty == 8 && key == "general.architecture" {
            header.arch = Some(r.string(MAX_STRING, "general.architecture")?);
            continue;
        }
        let value = value(r, ty, 0, &mut array_values)?;
        if key == "general.alignment" {
            alignment = candle_alignment(ty, value);
        }
        if let Some(v) = value {
            header.values.insert(key, v.max(0) as u64);
        }
    }
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(format!("general.alignment {alignment} is not a power of two"));
    }
    let tensors = tensor_infos(r, tensor_count)?;
    check_data(&tensors, r.pos.next_multiple_of(alignment), r.len, alignment)?;
    header.tensors = tensor_count;
    Ok(header)
}

/// The alignment candle uses: a small integer type's value when it is not negative, else 32.
fn candle_alignment(ty: u32, value: Option<i128>) -> u64 {
    match (ty, value) {
        (0..=5, Some(v)) if v >= 0 => v as u64,
        _ => DEFAULT_ALIGNMENT,
    }
}

/// Reads one value of GGUF type `ty` inside `depth` arrays; integers are returned, everything
/// else skipped. `array_values` counts the values of every array so far.
fn value<R: Read>(r: &mut Bounded<R>, ty: u32, depth: usize, array_values: &mut u64) -> Checked<Option<i128>> {
    Ok(match ty {
        0 => Some(r.bytes::<1>()?[0] as i128),
        1 => Some(r.bytes::<1>()?[0] as i8 as i128),
        2 => Some(u16::from_le_bytes(r.bytes()?) as i128),
        3 => Some(i16::from_le_bytes(r.bytes()?) as i128),
        4 => Some(r.u32()? as i128),
        5 => Some(i32::from_le_bytes(r.bytes()?) as i128),
        6 => r.skip(4).map(|_| None)?,
        7 => r.skip(1).map(|_| None)?,
        8 => r.skip_string().map(|_| None)?,
        9 => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(format!("arrays nested more than {MAX_ARRAY_DEPTH} deep"));
            }
            let item_ty = r.u32()?;
            let len = r.u64()?;
            let smallest = min_value_size(item_ty).ok_or_else(|| format!("unknown value type {item_ty}"))?;
            *array_values = array_values.saturating_add(len);
            if *array_values > MAX_ARRAY_VALUES {
                return Err(format!("the metadata's arrays hold more than {MAX_ARRAY_VALUES} values"));
            }
            if len.saturating_mul(smallest) > r.left() {
                return Err(format!("an array of {len} values is larger than the file"));
            }
            for _ in 0..len {
                value(r, item_ty, depth + 1, array_values)?;
            }
            None
        }
        10 => Some(r.u64()? as i128),
        11 => Some(i64::from_le_bytes(r.bytes()?) as i128),
        12 => r.skip(8).map(|_| None)?,
        _ => return Err(format!("unknown value type {ty}")),
    })
}

/// The fewest bytes a value of GGUF type `ty` takes in the file (`None`: no such type).
fn min_value_size(ty: u32) -> Option<u64> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10..=12 => 8,
        9 => 4 + 8,
        _ => return None,
    })
}

/// The ggml tensor types candle reads, by their number in the file; candle gives each one's
/// block size (elements) and bytes per block. Any other type is refused here, as candle would.
const TENSOR_TYPES: [(u32, GgmlDType); 15] = [
    (0, GgmlDType::F32),
    (1, GgmlDType::F16),
    (2, GgmlDType::Q4_0),
    (3, GgmlDType::Q4_1),
    (6, GgmlDType::Q5_0),
    (7, GgmlDType::Q5_1),
    (8, GgmlDType::Q8_0),
    (9, GgmlDType::Q8_1),
    (10, GgmlDType::Q2K),
    (11, GgmlDType::Q3K),
    (12, GgmlDType::Q4K),
    (13, GgmlDType::Q5K),
    (14, GgmlDType::Q6K),
    (15, GgmlDType::Q8K),
    (30, GgmlDType::BF16),
];

/// One tensor as its info declares it, checked against the file's size.
struct TensorInfo {
    name: String,
    offset: u64,
    bytes: u64,
}

impl TensorInfo {
    /// "tensor 3 (blk.0.attn_q.weight)", its name made safe to show.
    fn label(&self, index: usize) -> String {
        format!("tensor {index} ({})", llamadeck_words::text::sanitize(&self.name))
    }
}

fn tensor_infos<R: Read>(r: &mut Bounded<R>, count: u64) -> Checked<Vec<TensorInfo>> {
    if count > MAX_TENSORS || count.saturating_mul(MIN_TENSOR_INFO) > r.left() {
        return Err(format!("{count} tensors cannot fit in the file"));
    }
    let mut tensors = Vec::new();
    for index in 0..count as usize {
        let name = r.string(MAX_NAME, &format!("the name of tensor {index}"))?;
        let mut info = TensorInfo { name, offset: 0, bytes: 0 };
        let fail = |info: &TensorInfo, what: String| format!("{}: {what}", info.label(index));
        let n_dims = r.u32()?;
        if n_dims > MAX_DIMS {
            return Err(fail(&info, format!("{n_dims} dimensions (GGUF allows at most {MAX_DIMS})")));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(r.u64()?);
        }
        let ty = r.u32()?;
        let Some(&(_, dtype)) = TENSOR_TYPES.iter().find(|(id, _)| *id == ty) else {
            return Err(fail(&info, format!("unknown tensor type {ty}")));
        };
        info.bytes = tensor_bytes(&dims, dtype, r.len).map_err(|what| fail(&info, what))?;
        info.offset = r.u64()?;
        tensors.push(info);
    }
    Ok(tensors)
}

/// The bytes a tensor of `dims` in `dtype` takes, refused when they cannot be in a file of
/// `file_len` bytes.
fn tensor_bytes(dims: &[u64], dtype: GgmlDType, file_len: u64) -> Checked<u64> {
    let (block, block_bytes) = (dtype.block_size() as u64, dtype.type_size() as u64);
    let bytes_of = |elements: u64| elements.div_ceil(block).checked_mul(block_bytes).filter(|&b| b <= file_len);
    if let Some(&dim) = dims.iter().find(|&&d| bytes_of(d).is_none()) {
        return Err(format!("dimension {dim} is larger than the file"));
    }
    let elements = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
    let shape = || dims.iter().map(u64::to_string).collect::<Vec<_>>().join(" x ");
    match elements {
        None => Err(format!("dimensions {} overflow", shape())),
        Some(0) => Err(format!("dimensions {} hold no elements", shape())),
        Some(n) if n % block != 0 => Err(format!("{n} elements are not whole blocks of {dtype:?} ({block} each)")),
        Some(n) => bytes_of(n).ok_or_else(|| format!("{n} elements of {dtype:?} are larger than the file")),
    }
}

/// Every tensor's bytes start aligned, lie inside the data section (from `data_start` to the
/// end of the file) and overlap no other tensor's: so candle reads at most the file's size.
fn check_data(tensors: &[TensorInfo], data_start: u64, file_len: u64, alignment: u64) -> Checked<()> {
    if tensors.is_empty() {
        return Ok(());
    }
    let data = file_len
        .checked_sub(data_start)
        .ok_or_else(|| format!("the tensor data would start at byte {data_start}, past the end of the file"))?;
    for (index, t) in tensors.iter().enumerate() {
        if t.offset % alignment != 0 {
            return Err(format!("{}: offset {} is not a multiple of the alignment {alignment}", t.label(index), t.offset));
        }
        if t.offset.checked_add(t.bytes).is_none_or(|end| end > data) {
            let message = format!(
                "bytes {} to {} lie past the end of the file (its tensor data holds {data} bytes)",
                t.offset,
                t.offset as u128 + t.bytes as u128
            );
            return Err(format!("{}: {message}", t.label(index)));
        }
    }
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| tensors[i].offset);
    for pair in order.windows(2) {
        let (a, b) = (&tensors[pair[0]], &tensors[pair[1]]);
        if a.offset + a.bytes > b.offset {
            return Err(format!("{} overlaps {}", b.label(pair[1]), a.label(pair[0])));
        }
    }
    Ok(())
}

/// A reader that knows the file's length and how far it has read, so nothing is read or
/// allocated for more bytes than are left.
struct Bounded<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Bounded<R> {
    fn new(inner: R, len: u64) -> Self {
        Bounded { inner, pos: 0, len }
    }

    fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn read_into(&mut self, buf: &mut [u8]) -> Checked<()> {
        if buf.len() as u64 > self.left() {
            return Err(format!("the file ends inside its header (at byte {})", self.len));
        }
        self.inner.read_exact(buf).map_err(|e| format!("reading the header: {e}"))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn bytes<const N: usize>(&mut self) -> Checked<[u8; N]> {
        let mut b = [0u8; N];
        self.read_into(&mut b)?;
        Ok(b)
    }

    fn u32(&mut self) -> Checked<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Checked<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn skip(&mut self, n: u64) -> Checked<()> {
        if n > self.left() {
            return Err(format!("the file ends inside its header (at byte {})", self.len));
        }
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(|e| format!("reading the header: {e}"))?;
        self.pos += copied;
        if copied < n {
            return Err(format!("the file ends inside its header (at byte {})", self.pos));
        }
        Ok(())
    }

    /// A string's length, checked against `max` and what is left of the file.
    fn string_len(&mut self, max: u64, what: &str) -> Checked<u64> {
        let len = self.u64()?;
        if len > max {
            return Err(format!("implausible string length {len} for {what} (at most {max})"));
        }
        if len > self.left() {
            return Err(format!("{what}: string length {len} is larger than the file"));
        }
        Ok(len)
    }

    fn string(&mut self, max: u64, what: &str) -> Checked<String> {
        let mut buf = vec![0u8; self.string_len(max, what)? as usize];
        self.read_into(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn skip_string(&mut self) -> Checked<()> {
        let len = self.string_len(MAX_STRING, "a string value")?;
        self.skip(len)
    }
}

#[cfg(test)]
#[path = "gguf_meta_tests.rs"]
mod tests;
