#!/usr/bin/env python3
"""The peer for `llamadeck bench`: llama.cpp (llama-cpp-python) on the same GGUF, same raw
prompt words, greedy, same thread count; prints the median TTFT and decode tok/s.

    python3 scripts/llamacpp-bench.py MODEL.gguf --threads 2 --prompt-tokens 128 --gen-tokens 64 --runs 3

--json prints one object (what scripts/bench reads), with the greedy text of the first run.
"""
import argparse
import json
import resource
import statistics
import time

import llama_cpp
from llama_cpp import Llama

# The same words, in the same order, as `llamadeck bench` (crates/engine/src/bench/mod.rs), and
# the same run number in front of each run's prompt.
WORDS = "the server room was quiet while every fan kept the cards cool and the logs grew".split()


def prompt_text(tokens):
    return " ".join(WORDS[i % len(WORDS)] for i in range(max(tokens, 1)))


def run_prompt(a, run):
    """Run `run`'s prompt (0: the warm-up), as `llamadeck bench` words it (crates/engine/src/bench/mod.rs)."""
    if a.prompt is not None:
        return a.prompt if run == 1 else prompt_text(8) if run == 0 else f"({run}) {a.prompt}"
    return f"{run} {prompt_text(a.prompt_tokens)}"


def one_run(llm, prompt, gen_tokens):
    llm.reset()  # no KV reuse between runs: every run pays its prefill, as in llamadeck
    start = time.perf_counter()
    stamps = []
    text = []
    for chunk in llm.create_completion(prompt, max_tokens=gen_tokens, temperature=0.0, top_k=1, stream=True):
        stamps.append(time.perf_counter())
        text.append(chunk["choices"][0]["text"])
    ttft = stamps[0] - start
    decode = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return ttft, decode, len(stamps), "".join(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompt", help="a prompt of your own instead of --prompt-tokens words")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    llm = Llama(model_path=a.model, n_threads=a.threads, n_ctx=2048, verbose=False)
    load = time.perf_counter() - t0
    n_prompt = len(llm.tokenize(run_prompt(a, 1).encode()))
    one_run(llm, run_prompt(a, 0), a.gen_tokens)  # warm-up
    runs = [one_run(llm, run_prompt(a, run), a.gen_tokens) for run in range(1, a.runs + 1)]
    ttft_ms = statistics.median(r[0] for r in runs) * 1000
    decode = statistics.median(r[1] for r in runs)
    if a.json:
        print(json.dumps({"engine": "llama.cpp", "version": llama_cpp.__version__, "load": load, "threads": a.threads,
                          "prompt_tokens": n_prompt, "ttft_ms": ttft_ms, "decode_tok_s": decode, "runs": a.runs,
                          "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "text": runs[0][3]}))
        return
    print(f"llama.cpp  load {load:.2f} s  prompt {n_prompt} tokens  threads {a.threads}")
    print(f"ttft_ms {statistics.median(r[0] for r in runs) * 1000:.0f}")
    print(f"decode_tok_s {statistics.median(r[1] for r in runs):.1f}  ({statistics.median(r[2] for r in runs):.0f} chunks)")


if __name__ == "__main__":
    main()
