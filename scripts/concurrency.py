#!/usr/bin/env python3
"""Several API clients at once against one server: total tokens per second, and whether each
answer is the one its question gets when asked alone (greedy). Standard library only, so it
runs on a GPU machine without network (scripts/gpu-check step 4).

    python3 scripts/concurrency.py --server http://127.0.0.1:PORT/v1 --clients "1 4 16" --tokens 64

Questions differ in length on purpose: without paged attention mistral.rs batches only answers
whose sequences have the same length, so a mix of lengths is what shows whether answers batch.
Prints one line per client count: clients, wall seconds, total tok/s, tok/s per client, and
how many answers matched the same question asked alone.
"""
import argparse
import json
import sys
import threading
import time
import urllib.request

TOPICS = [
    "GPUs", "the key and value cache", "quantization", "tensor parallelism", "prefix caching",
    "batching", "paged attention", "speculative decoding", "HBM bandwidth", "NVLink",
    "rotary position embeddings", "grouped-query attention", "sampling temperature",
    "the softmax", "layer normalization", "the tokenizer",
]


def question(i):
    # Lengths from a few words to a few sentences.
    detail = " Please mention what limits it in practice and one number an operator should watch." * (i % 4)
    return f"In two sentences, explain {TOPICS[i % len(TOPICS)]}.{detail}"


def ask(server, i, tokens, model):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": question(i)}],
        "max_tokens": tokens,
        "temperature": 0,
        "stream": False,
    }
    req = urllib.request.Request(f"{server}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        answer = json.load(r)
    return answer["choices"][0]["message"]["content"], answer["usage"]["completion_tokens"]


def model_id(server):
    with urllib.request.urlopen(f"{server}/models", timeout=30) as r:
        return json.load(r)["data"][0]["id"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, help="base URL, e.g. http://127.0.0.1:8229/v1")
    p.add_argument("--clients", default="1 4 16")
    p.add_argument("--tokens", type=int, default=64)
    args = p.parse_args()
    counts = [int(c) for c in args.clients.split()]
    model = model_id(args.server)
    # Each question once on its own: the reference answers.
    alone = [ask(args.server, i, args.tokens, model)[0] for i in range(max(counts))]
    print(f"{'clients':>7} {'wall_s':>7} {'tok/s':>8} {'per_client':>10} {'same_as_alone':>13}")
    for n in counts:
        results = [None] * n
        errors = []

        def client(i):
            try:
                results[i] = ask(args.server, i, args.tokens, model)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"client {i}: {e}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        if errors:
            print(f"{n:>7} failed: {'; '.join(errors)}")
            continue
        total = sum(tokens for _, tokens in results)
        same = sum(text == alone[i] for i, (text, _) in enumerate(results))
        print(f"{n:>7} {wall:>7.2f} {total / wall:>8.1f} {total / wall / n:>10.1f} {same:>9}/{n}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
