#!/usr/bin/env python3
"""Re-encode the quantized tensors of a GGUF file into another ggml type (Q8_0, Q4_0, Q4_1, Q5_0,
Q5_1: the types the `gguf` PyPI package can write), keeping every metadata key and the F32/F16
tensors as they are. The benchmark uses it to measure both engines on a second quantisation of the
same weights.

    python3 scripts/gguf-requant.py SRC.gguf DST.gguf --type Q8_0
"""
import argparse
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

WRITABLE = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"}
KEEP = {T.F32, T.F16, T.BF16}
# The writer sets these itself; copying them would duplicate the keys.
WRITER_KEYS = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count", "general.architecture"}


def copy_metadata(reader, writer):
    for name, field in reader.fields.items():
        if name in WRITER_KEYS or name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), vtype, sub)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--type", default="Q8_0", choices=sorted(WRITABLE))
    a = ap.parse_args()
    target = T[a.type]

    reader = gguf.GGUFReader(a.src)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(a.dst, arch)
    copy_metadata(reader, writer)
    counts = {}
    for t in reader.tensors:
        shape = [int(d) for d in reversed(t.shape)]  # numpy order: rows first
        if t.tensor_type in KEEP or t.tensor_type == target or shape[-1] % 32:
            writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
            counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
            continue
        weights = quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        # Quantized data goes in as bytes (rows, bytes per row); the writer derives the shape.
        writer.add_tensor(t.name, quants.quantize(weights, target), raw_dtype=target)
        counts[f"{t.tensor_type.name}->{a.type}"] = counts.get(f"{t.tensor_type.name}->{a.type}", 0) + 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{a.dst}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
