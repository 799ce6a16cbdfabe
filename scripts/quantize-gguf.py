#!/usr/bin/env python3
"""Quantizes a GGUF file with llama.cpp's own quantizer (llama_model_quantize, through the
llama-cpp-python that scripts/python-env builds), as `llama-quantize` would.

    python3 scripts/quantize-gguf.py SRC.gguf DST.gguf --type Q4_K_M|Q8_0 [--threads 2]
"""
import argparse
import ctypes
import sys

import llama_cpp

TYPES = {"Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--type", choices=sorted(TYPES), required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = TYPES[a.type]
    params.nthread = a.threads
    status = llama_cpp.llama_model_quantize(a.src.encode(), a.dst.encode(), ctypes.byref(params))
    if status != 0:
        print(f"quantize-gguf: llama.cpp's quantizer failed ({status}) on {a.src}", file=sys.stderr)
        return 1
    print(a.dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
