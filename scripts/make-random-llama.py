#!/usr/bin/env python3
"""Writes a Llama-2-shaped model with random fp16 weights in Hugging Face layout, for measuring
speed where no real weights can be downloaded (GPU servers without network, this repo's tests).

    scripts/make-random-llama.py --shape 13b|tiny OUT_DIR
    scripts/make-random-llama.py --gguf 1.1b|7b --tokenizer-from DEMO.gguf OUT.gguf

--gguf writes one F16 GGUF file of a real model's shape instead (TinyLlama-1.1B's: 2048 wide,
22 layers, 32 query and 4 key/value heads; or Llama-2-7B's), with the tokenizer and chat template
of --tokenizer-from (the demo model's), for scripts/bench to quantize with llama.cpp's own
quantizer (scripts/quantize-gguf.py) and run in both engines. That mode needs numpy and the
`gguf` package (scripts/python-env has them).

Python's standard library only. The layout follows tests/support/tiny_llama.rs, which mistral.rs
0.8.1 is known to load: HF tensor names, config.json with rope_theta, a Llama-style tokenizer.json
(BPE with byte fallback, one token per printable ASCII character, `<s>` added by the
post-processor; the vocabulary is padded with filler tokens up to the model's), tokenizer_config.json
with `<s>`/`</s>` and a Llama-2 [INST] chat template, and model-0000N-of-0000M.safetensors with
model.safetensors.index.json.

Speed: one block of random fp16 values is made once and written over and over (13B: 26 GB, about
as fast as the disk writes). The block length is a prime, so no two rows of a matrix are equal.
Norm weights are 1; the lm_head row of `</s>` is zero so greedy decoding never stops early.
"""
import argparse
import json
import os
import random
import struct
import sys

SHAPES = {
    # Meta's Llama-2-13b-hf config.
    "13b": dict(hidden=5120, layers=40, heads=40, intermediate=13824, vocab=32000, context=4096, shard_bytes=10 << 30),
    # The same as tests/support/tiny_llama.rs, in fp16.
    "tiny": dict(hidden=64, layers=2, heads=4, intermediate=128, vocab=None, context=256, shard_bytes=64 << 10),
}
# Real shapes for --gguf (the tokenizer, and so the vocabulary, come from --tokenizer-from).
GGUF_SHAPES = {
    # TinyLlama-1.1B: grouped-query attention, 32 query heads over 4 key/value heads.
    "1.1b": dict(hidden=2048, layers=22, heads=32, kv_heads=4, intermediate=5632, context=2048),
    # Meta's Llama-2-7b-hf.
    "7b": dict(hidden=4096, layers=32, heads=32, kv_heads=32, intermediate=11008, context=4096),
}
UNK, BOS, EOS = 0, 1, 2
FIRST_BYTE = 3
CHARS = ["\u2581"] + [chr(c) for c in range(ord("!"), ord("~") + 1)]
FIRST_CHAR = FIRST_BYTE + 256
BASE_VOCAB = FIRST_CHAR + len(CHARS)

BLOCK_LEN = 1_048_573  # a prime (2**20 - 3)
FP16_ONE = struct.pack("<e", 1.0)
FP16_ZERO = struct.pack("<e", 0.0)

LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set system = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% set turns = messages[1:] %}"
    "{% else %}{% set system = '' %}{% set turns = messages %}{% endif %}"
    "{% for m in turns %}"
    "{% if m['role'] == 'user' %}{{ bos_token + '[INST] ' + (system if loop.first else '') + m['content'].strip() + ' [/INST]' }}"
    "{% else %}{{ ' ' + m['content'].strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)


def config(s, vocab):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": s["hidden"],
        "intermediate_size": s["intermediate"],
        "num_hidden_layers": s["layers"],
        "num_attention_heads": s["heads"],
        "num_key_value_heads": s["heads"],
        "vocab_size": vocab,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "max_position_embeddings": s["context"],
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
    }


def tokenizer(vocab_size):
    vocab = {"<unk>": UNK, "<s>": BOS, "</s>": EOS}
    vocab.update({f"<0x{b:02X}>": FIRST_BYTE + b for b in range(256)})
    vocab.update({c: FIRST_CHAR + i for i, c in enumerate(CHARS)})
    # Unreachable by encoding (no merges), but every id the model can emit decodes to something.
    vocab.update({f"\u2581w{i}": i for i in range(BASE_VOCAB, vocab_size)})

    def special(id, content):
        return {"id": id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True}

    bos = {"SpecialToken": {"id": "<s>", "type_id": 0}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(UNK, "<unk>"), special(BOS, "<s>"), special(EOS, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        ]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [BOS], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": vocab, "merges": [],
        },
    }


def tensors(s, vocab):
    """(name, shape, fill) in HF order; fill is 'random', 'ones' or 'lm_head'."""
    h, i = s["hidden"], s["intermediate"]
    out = [("model.embed_tokens.weight", [vocab, h], "random")]
    for layer in range(s["layers"]):
        p = f"model.layers.{layer}"
        out += [(f"{p}.self_attn.{proj}.weight", [h, h], "random") for proj in ("q_proj", "k_proj", "v_proj", "o_proj")]
        out += [(f"{p}.mlp.gate_proj.weight", [i, h], "random"), (f"{p}.mlp.up_proj.weight", [i, h], "random"),
                (f"{p}.mlp.down_proj.weight", [h, i], "random")]
        out += [(f"{p}.input_layernorm.weight", [h], "ones"), (f"{p}.post_attention_layernorm.weight", [h], "ones")]
    out += [("model.norm.weight", [h], "ones"), ("lm_head.weight", [vocab, h], "lm_head")]
    return out


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Writer:
    """Writes fp16 elements from one random block, continuing where the last tensor stopped."""

    def __init__(self, hidden):
        rng = random.Random(20240607)
        # Uniform in +-0.03 (std ~0.017, like Llama's init): activations stay far from fp16's range.
        self.block = struct.pack(f"<{BLOCK_LEN}e", *(rng.uniform(-0.03, 0.03) for _ in range(BLOCK_LEN)))
        self.pos = 0
        self.hidden = hidden

    def random(self, f, n):
        while n:
            take = min(n, BLOCK_LEN - self.pos)
            f.write(self.block[2 * self.pos:2 * (self.pos + take)])
            self.pos = (self.pos + take) % BLOCK_LEN
            n -= take

    def tensor(self, f, shape, fill):
        n = count(shape)
        if fill == "ones":
            f.write(FP16_ONE * n)
        elif fill == "lm_head":
            self.random(f, EOS * self.hidden)
            f.write(FP16_ZERO * self.hidden)
            self.random(f, n - (EOS + 1) * self.hidden)
        else:
            self.random(f, n)


def shards(items, shard_bytes):
    groups, current, size = [], [], 0
    for item in items:
        nbytes = 2 * count(item[1])
        if current and size + nbytes > shard_bytes:
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += nbytes
    groups.append(current)
    return groups


def write_shard(path, items, writer):
    header, offset = {}, 0
    for name, shape, _ in items:
        end = offset + 2 * count(shape)
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, end]}
        offset = end
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path + ".partial"
    with open(tmp, "wb", buffering=16 << 20) as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _, shape, fill in items:
            writer.tensor(f, shape, fill)
    os.replace(tmp, path)
    return offset


def write_gguf(shape, tokenizer_from, out):
    """One F16 GGUF of `shape` with random weights and --tokenizer-from's tokenizer and template."""
    import gguf
    import numpy as np

    s = GGUF_SHAPES[shape]
    source = gguf.GGUFReader(tokenizer_from)
    vocab = len(source.fields["tokenizer.ggml.tokens"].data)
    ends = {int(source.fields[k].contents()) for k in ("tokenizer.ggml.eos_token_id",) if k in source.fields}
    h, kv = s["hidden"], s["hidden"] // s["heads"] * s["kv_heads"]
    w = gguf.GGUFWriter(out, "llama")
    w.add_name(f"random-llama-{shape}")
    w.add_context_length(s["context"])
    w.add_embedding_length(h)
    w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["intermediate"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv_heads"])
    w.add_rope_dimension_count(h // s["heads"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for name, field in source.fields.items():
        if name.startswith("tokenizer."):
            vtype = field.types[0]
            sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            w.add_key_value(name, field.contents(), vtype, sub)
    # (name, numpy shape (rows, columns), dtype): GGUF stores the dimensions the other way round.
    plan = [("token_embd.weight", (vocab, h), np.float16)]
    for i in range(s["layers"]):
        b = f"blk.{i}."
        plan += [(b + "attn_norm.weight", (h,), np.float32), (b + "attn_q.weight", (h, h), np.float16),
                 (b + "attn_k.weight", (kv, h), np.float16), (b + "attn_v.weight", (kv, h), np.float16),
                 (b + "attn_output.weight", (h, h), np.float16), (b + "ffn_norm.weight", (h,), np.float32),
                 (b + "ffn_gate.weight", (s["intermediate"], h), np.float16),
                 (b + "ffn_up.weight", (s["intermediate"], h), np.float16),
                 (b + "ffn_down.weight", (h, s["intermediate"]), np.float16)]
    plan += [("output_norm.weight", (h,), np.float32), ("output.weight", (vocab, h), np.float16)]
    for name, shape_, dtype in plan:
        w.add_tensor_info(name, shape_, np.dtype(dtype), int(np.prod(shape_)) * np.dtype(dtype).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    # One block of random values (a prime length, so no two rows are equal), written over and over.
    block = (np.random.default_rng(7).standard_normal(BLOCK_LEN) * 0.02).astype(np.float16)
    for name, shape_, dtype in plan:
        if dtype == np.float32:
            data = np.ones(shape_, dtype=np.float32)
        else:
            data = np.resize(block, shape_)
            if name == "output.weight":
                # Greedy decoding never ends early: the end tokens can never win.
                for end in ends:
                    data[end] = 0
                    data[end, 0] = -1
        w.write_tensor_data(data)
    w.close()
    print(f"wrote {out} ({os.path.getsize(out) / 1e9:.2f} GB)", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES))
    parser.add_argument("--gguf", choices=sorted(GGUF_SHAPES), help="write one F16 GGUF of this shape instead")
    parser.add_argument("--tokenizer-from", help="the GGUF whose tokenizer and chat template --gguf takes")
    parser.add_argument("out_dir", help="the directory to write (with --gguf: the file)")
    args = parser.parse_args()
    if args.gguf:
        if not args.tokenizer_from:
            parser.error("--gguf needs --tokenizer-from DEMO.gguf")
        write_gguf(args.gguf, args.tokenizer_from, args.out_dir)
        print(args.out_dir)
        return
    if not args.shape:
        parser.error("--shape or --gguf is required")
    s = SHAPES[args.shape]
    vocab = s["vocab"] or BASE_VOCAB
    os.makedirs(args.out_dir, exist_ok=True)

    def write_json(name, value):
        with open(os.path.join(args.out_dir, name), "w", encoding="utf-8") as f:
            json.dump(value, f, ensure_ascii=False, indent=1)

    write_json("config.json", config(s, vocab))
    write_json("tokenizer.json", tokenizer(vocab))
    write_json("tokenizer_config.json", {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
        "add_eos_token": False, "model_max_length": s["context"], "chat_template": LLAMA2_TEMPLATE,
    })
    writer = Writer(s["hidden"])
    groups = shards(tensors(s, vocab), s["shard_bytes"])
    weight_map, total = {}, 0
    for n, items in enumerate(groups, 1):
        name = f"model-{n:05d}-of-{len(groups):05d}.safetensors"
        total += write_shard(os.path.join(args.out_dir, name), items, writer)
        weight_map.update({t[0]: name for t in items})
        print(f"wrote {name} ({total / 1e9:.2f} GB so far)", file=sys.stderr)
    write_json("model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
    print(args.out_dir)


if __name__ == "__main__":
    main()
