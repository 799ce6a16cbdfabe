//! The header check on files built by hand: a valid one (which candle reads too) and one crafted
//! field at a time.
use super::*;
use candle_core::quantized::gguf_file;
use mistralrs::Device;

/// A GGUF file built by hand: metadata entries, tensor infos, padding to 32 bytes (when there
/// are tensors), data.
#[derive(Default, Clone)]
struct Gguf {
    kv: Vec<u8>,
    kv_count: u64,
    infos: Vec<u8>,
    tensor_count: u64,
    data: Vec<u8>,
}

impl Gguf {
    fn kv_str(mut self, key: &str, v: &str) -> Self {
        self.key(key, 8);
        self.kv.extend((v.len() as u64).to_le_bytes());
        self.kv.extend(v.as_bytes());
        self
    }

    fn kv_u32(mut self, key: &str, v: u32) -> Self {
        self.key(key, 4);
        self.kv.extend(v.to_le_bytes());
        self
    }

    fn key(&mut self, key: &str, ty: u32) {
        self.kv_count += 1;
        self.kv.extend((key.len() as u64).to_le_bytes());
        self.kv.extend(key.as_bytes());
        self.kv.extend(ty.to_le_bytes());
    }

    /// One tensor info as the file spells it.
    fn tensor(mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> Self {
        self.tensor_count += 1;
        self.infos.extend((name.len() as u64).to_le_bytes());
        self.infos.extend(name.as_bytes());
        self.infos.extend((dims.len() as u32).to_le_bytes());
        dims.iter().for_each(|d| self.infos.extend(d.to_le_bytes()));
        self.infos.extend(ty.to_le_bytes());
        self.infos.extend(offset.to_le_bytes());
        self
    }

    fn data(mut self, bytes: &[u8]) -> Self {
        self.data.extend(bytes);
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut f = b"GGUF".to_vec();
        f.extend(3u32.to_le_bytes());
        f.extend(self.tensor_count.to_le_bytes());
        f.extend(self.kv_count.to_le_bytes());
        f.extend(&self.kv);
        f.extend(&self.infos);
        if self.tensor_count > 0 {
            f.resize(f.len().next_multiple_of(32), 0);
        }
        f.extend(&self.data);
        f
    }
}

/// A llama-shaped file with one F32 tensor of four values.
fn valid() -> Gguf {
    Gguf::default()
        .kv_str("general.architecture", "llama")
        .kv_u32("llama.block_count", 30)
        .tensor("blk.0.attn_q.weight", &[4], 0, 0)
        .data(&[1f32, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())
}

fn check_bytes(bytes: &[u8]) -> Checked<()> {
    read_header(&mut Bounded::new(bytes, bytes.len() as u64)).map(|_| ())
}

fn refusal(g: &Gguf) -> String {
    check_bytes(&g.bytes()).expect_err("refused")
}

#[test]
fn a_valid_file_passes_and_candle_reads_it_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    std::fs::write(&path, valid().bytes()).unwrap();
    assert_eq!(check(&path), Ok(()));
    let mut reader = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut reader).unwrap();
    let tensor = content.tensor(&mut reader, "blk.0.attn_q.weight", &Device::Cpu).unwrap().dequantize(&Device::Cpu).unwrap();
    assert_eq!(tensor.to_vec1::<f32>().unwrap(), [1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn the_tensor_types_are_the_ones_candle_reads() {
    for ty in 0..64u32 {
        let known = TENSOR_TYPES.iter().find(|(id, _)| *id == ty).map(|(_, dtype)| *dtype);
        let (block, bytes) = known.map_or((1, 4), |d| (d.block_size() as u64, d.type_size()));
        let file = Gguf::default().tensor("t", &[block], ty, 0).data(&vec![0u8; bytes]).bytes();
        let candle = gguf_file::Content::read(&mut std::io::Cursor::new(&file)).ok().map(|c| c.tensor_infos["t"].ggml_dtype);
        assert_eq!(candle, known, "type {ty}");
        match known {
            Some(_) => assert_eq!(check_bytes(&file), Ok(()), "type {ty}"),
            None => assert_eq!(check_bytes(&file), Err(format!("tensor 0 (t): unknown tensor type {ty}"))),
        }
    }
}

#[test]
fn a_huge_tensor_count_is_refused() {
    let g = Gguf { tensor_count: 1 << 40, ..valid() };
    assert_eq!(refusal(&g), "1099511627776 tensors cannot fit in the file");
}

#[test]
fn a_huge_tensor_name_is_refused_before_it_is_allocated() {
    let mut g = valid();
    g.infos[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert_eq!(refusal(&g), "implausible string length 1099511627776 for the name of tensor 0 (at most 256)");
    g.infos[..8].copy_from_slice(&200u64.to_le_bytes());
    assert_eq!(refusal(&g), "the name of tensor 0: string length 200 is larger than the file");
}

#[test]
fn more_than_four_dimensions_are_refused() {
    let g = Gguf::default().tensor("t", &[1, 1, 1, 1, 4], 0, 0).data(&[0u8; 16]);
    assert_eq!(refusal(&g), "tensor 0 (t): 5 dimensions (GGUF allows at most 4)");
    let mut g = Gguf::default().tensor("t", &[4], 0, 0).data(&[0u8; 16]);
    g.infos[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(refusal(&g), "tensor 0 (t): 4294967295 dimensions (GGUF allows at most 4)");
}

#[test]
fn a_huge_dimension_is_refused() {
    let g = Gguf::default().tensor("blk.0.attn_q.weight", &[4, 1 << 40], 0, 0).data(&[0u8; 16]);
    assert_eq!(refusal(&g), "tensor 0 (blk.0.attn_q.weight): dimension 1099511627776 is larger than the file");
    // Each dimension fits but together they need more than the file holds.
    let g = Gguf::default().tensor("t", &[20, 20], 0, 0).data(&[0u8; 16]);
    assert_eq!(refusal(&g), "tensor 0 (t): 400 elements of F32 are larger than the file");
}

#[test]
fn dimensions_that_overflow_or_hold_nothing_are_refused() {
    let big = 1u64 << 20;
    assert_eq!(tensor_bytes(&[big; 4], GgmlDType::F32, 1 << 40), Err("dimensions 1048576 x 1048576 x 1048576 x 1048576 overflow".into()));
    assert_eq!(tensor_bytes(&[4, 0], GgmlDType::F32, 1 << 40), Err("dimensions 4 x 0 hold no elements".into()));
    assert_eq!(tensor_bytes(&[16], GgmlDType::Q4_0, 1 << 40), Err("16 elements are not whole blocks of Q4_0 (32 each)".into()));
    assert_eq!(tensor_bytes(&[64, 2], GgmlDType::Q4_0, 1 << 40), Ok(4 * 18));
    assert_eq!(tensor_bytes(&[], GgmlDType::F32, 4), Ok(4), "no dimensions: one value");
}

#[test]
fn offsets_must_be_aligned_and_the_bytes_inside_the_file() {
    let misaligned = Gguf::default().tensor("t", &[4], 0, 4).data(&[0u8; 32]);
    assert_eq!(refusal(&misaligned), "tensor 0 (t): offset 4 is not a multiple of the alignment 32");
    let past_end = Gguf::default().tensor("t", &[4], 0, 32).data(&[0u8; 16]);
    assert_eq!(refusal(&past_end), "tensor 0 (t): bytes 32 to 48 lie past the end of the file (its tensor data holds 16 bytes)");
    let truncated = Gguf::default().tensor("t", &[4], 0, 0).data(&[0u8; 15]);
    assert_eq!(refusal(&truncated), "tensor 0 (t): bytes 0 to 16 lie past the end of the file (its tensor data holds 15 bytes)");
    let wraps = Gguf::default().tensor("t", &[4], 0, u64::MAX - 31).data(&[0u8; 16]);
    assert!(refusal(&wraps).contains("lie past the end of the file"), "{}", refusal(&wraps));
    let no_data = Gguf::default().tensor("t", &[4], 0, 0).bytes();
    let cut = &no_data[..no_data.len() - 4];
    assert_eq!(check_bytes(cut).unwrap_err(), format!("the tensor data would start at byte {}, past the end of the file", no_data.len()));
}

#[test]
fn general_alignment_is_honoured_and_must_be_a_power_of_two() {
    let g = Gguf::default().kv_u32("general.alignment", 64).tensor("a", &[4], 0, 0).tensor("b", &[4], 0, 32).data(&[0u8; 96]);
    assert_eq!(refusal(&g), "tensor 1 (b): offset 32 is not a multiple of the alignment 64");
    for bad in [0, 3, 48] {
        let g = Gguf::default().kv_u32("general.alignment", bad).tensor("t", &[4], 0, 0).data(&[0u8; 16]);
        assert_eq!(refusal(&g), format!("general.alignment {bad} is not a power of two"));
    }
}

#[test]
fn overlapping_tensors_are_refused() {
    let g = Gguf::default().tensor("a", &[16], 0, 0).tensor("b", &[4], 0, 32).data(&[0u8; 64]);
    assert_eq!(refusal(&g), "tensor 1 (b) overlaps tensor 0 (a)");
    let apart = Gguf::default().tensor("a", &[8], 0, 0).tensor("b", &[4], 0, 32).data(&[0u8; 48]);
    assert_eq!(check_bytes(&apart.bytes()), Ok(()));
}

#[test]
fn a_tensor_name_is_made_safe_to_show() {
    let g = Gguf::default().tensor("t\x1b[2J", &[4], 0, 4).data(&[0u8; 32]);
    assert_eq!(refusal(&g), "tensor 0 (t\u{241b}[2J): offset 4 is not a multiple of the alignment 32");
}

#[test]
fn a_huge_array_is_refused_before_candle_reserves_it() {
    let array = |len: u64| {
        let mut g = Gguf::default();
        g.key("tokenizer.ggml.scores", 9);
        g.kv.extend(6u32.to_le_bytes());
        g.kv.extend(len.to_le_bytes());
        g.kv.extend([0u8; 16]);
        g
    };
    assert_eq!(check_bytes(&array(4).bytes()), Ok(()));
    assert_eq!(refusal(&array(1000)), "an array of 1000 values is larger than the file");
    assert_eq!(refusal(&array(1 << 40)), "the metadata's arrays hold more than 16777216 values");
}

/// A llama-shaped header: two blocks of one tensor each, the rest as `keys` say.
fn llama(keys: &[(&str, u32)]) -> Vec<u8> {
    let mut g = Gguf::default().kv_str("general.architecture", "llama");
    for (key, value) in keys {
        g = g.kv_u32(&format!("llama.{key}"), *value);
    }
    g.tensor("blk.0.attn_q.weight", &[4], 0, 0).tensor("blk.1.attn_q.weight", &[4], 0, 32).data(&[0u8; 48]).bytes()
}

const SMALL: [(&str, u32); 5] =
    [("block_count", 2), ("context_length", 8192), ("embedding_length", 576), ("attention.head_count", 9), ("attention.head_count_kv", 3)];

#[test]
fn reads_llama_shape_and_rejects_garbage() {
    let f = llama(&SMALL);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    std::fs::write(&path, &f).unwrap();
    let shape = read_shape(&path).unwrap();
    assert_eq!(shape, GgufShape { arch: "llama".into(), layers: 2, context_len: 8192, hidden: 576, heads: 9, kv_heads: 3 });
    std::fs::write(&path, &f[..f.len() - 3]).unwrap();
    assert!(read_shape(&path).unwrap_err().contains("not a readable GGUF"));
    std::fs::write(&path, b"hello world, not a model").unwrap();
    assert!(read_shape(&path).unwrap_err().contains("bad magic"));
}

/// What mistral.rs allocates by before it reads a tensor: billions of layers (a list of them,
/// built for minutes), a head dimension of 0 (the estimate's KV cache then came to nothing),
/// rotary tables wider than a head.
#[test]
fn a_shape_that_makes_no_sense_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let shape_error = |changes: &[(&'static str, u32)]| {
        let mut keys: Vec<(&str, u32)> = SMALL.iter().filter(|(k, _)| !changes.iter().any(|(c, _)| c == k)).copied().collect();
        keys.extend(changes);
        std::fs::write(&path, llama(&keys)).unwrap();
        let error = read_shape(&path).unwrap_err();
        error.strip_prefix(&format!("{} is not a readable GGUF file: ", path.display())).unwrap_or_else(|| panic!("{error}")).to_string()
    };
    assert_eq!(shape_error(&[("block_count", u32::MAX)]), "llama.block_count 4294967295 is not between 1 and the file's 2 tensors");
    assert_eq!(shape_error(&[("block_count", 0)]), "llama.block_count 0 is not between 1 and the file's 2 tensors");
    assert_eq!(
        shape_error(&[("attention.head_count", 1 << 31)]),
        "llama.attention.head_count 2147483648 is not between 1 and llama.embedding_length (576)"
    );
    assert_eq!(
        shape_error(&[("attention.head_count_kv", 10)]),
        "llama.attention.head_count_kv 10 is not between 1 and llama.attention.head_count (9)"
    );
    assert_eq!(shape_error(&[("context_length", 0)]), "llama.context_length is 0");
    assert_eq!(
        shape_error(&[("attention.key_length", 1 << 20)]),
        "llama.attention.key_length 1048576 is not between 1 and llama.embedding_length (576)"
    );
    assert_eq!(shape_error(&[("rope.dimension_count", 1 << 31)]), "llama.rope.dimension_count 2147483648 is wider than a head (64)");
    // A head wider than the width's share (as Gemma's) allows rotary tables as wide.
    std::fs::write(&path, llama(&[SMALL.as_slice(), &[("attention.key_length", 128), ("rope.dimension_count", 128)]].concat())).unwrap();
    assert!(read_shape(&path).is_ok());
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
    assert_eq!(check_bytes(&f).unwrap_err(), "arrays nested more than 8 deep");
    // One level of nesting, as real files have, still reads.
    let mut ok = f[..f.len() - 12 * 1_000_000].to_vec();
    ok.extend(9u32.to_le_bytes());
    ok.extend(1u64.to_le_bytes());
    ok.extend(4u32.to_le_bytes());
    ok.extend(2u64.to_le_bytes());
    ok.extend([0u8; 8]);
    assert_eq!(check_bytes(&ok), Ok(()));
}
