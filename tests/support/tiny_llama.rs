//! A tiny random-weight Llama-2-shaped model in HF layout, written into a temp dir: config.json
//! (without `rope_theta`, like older Llama-2 configs), model.safetensors written by hand,
//! a Llama-style tokenizer.json (BPE with byte fallback, `<s>` added by its post-processor as
//! in Meta's HF release) and a tokenizer_config.json without a chat template.
//!
//! The vocabulary is one token per printable ASCII character plus `▁` and the 256 byte
//! tokens, with no merges: the ids of any text can be worked out by hand, which is what
//! `reference_ids` does, independently of the `tokenizers` crate.
use serde_json::{Value, json};
use std::path::Path;

pub const UNK: u32 = 0;
pub const BOS: u32 = 1;
pub const EOS: u32 = 2;
const FIRST_BYTE: u32 = 3;
const FIRST_CHAR: u32 = FIRST_BYTE + 256;
pub const HIDDEN: usize = 64;
pub const LAYERS: usize = 2;
pub const CONTEXT: usize = 256;

/// `▁` then the printable ASCII characters.
fn chars() -> Vec<char> {
    std::iter::once('▁').chain('!'..='~').collect()
}

pub fn vocab_size() -> usize {
    FIRST_CHAR as usize + chars().len()
}

/// SentencePiece's encoding of `text` with this vocabulary: a `▁` prefix, spaces as `▁`,
/// each character its own token, anything else as its UTF-8 bytes.
pub fn reference_ids(text: &str) -> Vec<u32> {
    let normalized = format!("▁{}", text.replace(' ', "▁"));
    let chars = chars();
    let mut ids = Vec::new();
    for c in normalized.chars() {
        match chars.iter().position(|&v| v == c) {
            Some(i) => ids.push(FIRST_CHAR + i as u32),
            None => ids.extend(c.to_string().bytes().map(|b| FIRST_BYTE + b as u32)),
        }
    }
    ids
}

pub fn write(dir: &Path) {
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&config()).unwrap()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), serde_json::to_string(&tokenizer()).unwrap()).unwrap();
    let tokenizer_config =
        json!({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true, "model_max_length": CONTEXT});
    std::fs::write(dir.join("tokenizer_config.json"), tokenizer_config.to_string()).unwrap();
    write_safetensors(&dir.join("model.safetensors"), &tensors());
}

fn config() -> Value {
    // No rope_theta: the engine has to supply Llama-2's default without touching this file.
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "vocab_size": vocab_size(),
        "rms_norm_eps": 1e-5,
        "max_position_embeddings": CONTEXT,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "tie_word_embeddings": false,
        "torch_dtype": "float32"
    })
}

fn tokenizer() -> Value {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["<unk>", "<s>", "</s>"].iter().enumerate() {
        vocab.insert(t.to_string(), json!(i));
    }
    for b in 0..256u32 {
        vocab.insert(format!("<0x{b:02X}>"), json!(FIRST_BYTE + b));
    }
    for (i, c) in chars().into_iter().enumerate() {
        vocab.insert(c.to_string(), json!(FIRST_CHAR as usize + i));
    }
    let special = |id: u32, content: &str| json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true});
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(UNK, "<unk>"), special(BOS, "<s>"), special(EOS, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
        ]},
        "pre_tokenizer": null,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}
            ],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [BOS], "tokens": ["<s>"]}}
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": vocab, "merges": []
        }
    })
}

/// HF tensor names (mistral.rs models/llama.rs) with small random values; norms are 1.
/// The lm_head row of EOS is zero, so greedy decoding never ends the answer early.
fn tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ((rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
            })
            .collect()
    };
    let (v, h, i) = (vocab_size(), HIDDEN, 2 * HIDDEN);
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, h], random(v * h))];
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        for proj in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            out.push((format!("{p}.self_attn.{proj}.weight"), vec![h, h], random(h * h)));
        }
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h], random(i * h)));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![i, h], random(i * h)));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![h, i], random(h * i)));
        out.push((format!("{p}.input_layernorm.weight"), vec![h], vec![1.0; h]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h], vec![1.0; h]));
    }
    out.push(("model.norm.weight".to_string(), vec![h], vec![1.0; h]));
    let mut lm_head = random(v * h);
    lm_head[EOS as usize * h..(EOS as usize + 1) * h].fill(0.0);
    out.push(("lm_head.weight".to_string(), vec![v, h], lm_head));
    out
}

/// safetensors: u64 LE header length, JSON header (offsets into the data), raw LE data.
fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape, data) in tensors {
        let end = offset + data.len() * 4;
        header.insert(name.clone(), json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}));
        offset = end;
    }
    let mut header = Value::Object(header).to_string().into_bytes();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    for (_, _, data) in tensors {
        bytes.extend(data.iter().flat_map(|x| x.to_le_bytes()));
    }
    std::fs::write(path, bytes).unwrap();
}
