#!/usr/bin/env python3
"""One conversation, turn by turn, and the time to the first token at each turn: the peer half
of `llamadeck bench --turns` (which measures the console's path through the engine).

    python3 scripts/multiturn.py --server http://127.0.0.1:PORT/v1 --turns 8 --runs 3 --json
    python3 scripts/multiturn.py --llama-cpp MODEL.gguf --threads 2 --turns 8 --runs 3 --json

--server streams each turn from an OpenAI-compatible server (`llamadeck serve`, llama.cpp's
server): first-token time is measured at the client, from the request to the first text.
--llama-cpp runs llama.cpp in-process (llama-cpp-python), which reuses the longest common
prefix of consecutive prompts, as `llama-server` does with `cache_prompt`.
The system prompt and questions are `llamadeck bench --turns`'s (crates/engine/src/bench/conversation.rs);
each run is a conversation of its own, its system prompt starting with the run's number. Each
engine continues the conversation with its own answers (greedy, --answer-tokens tokens).
"""
import argparse
import http.client
import json
import re
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "crates/engine/src/bench/conversation.rs"


def conversation_text():
    """The system prompt and the questions, read from the Rust source so both halves agree."""
    text = SOURCE.read_text()
    system = re.search(r'SYSTEM_PROMPT: &str = "(.*?)";', text, re.S)[1]
    system = re.sub(r"\\\n\s*", "", system)
    questions = re.findall(r'^\s+"(.*?)",$', text.split("QUESTIONS")[1].split("];")[0], re.M)
    return system, questions


def question(questions, turn):
    q = questions[turn % len(questions)]
    rounds = turn // len(questions)
    return q if rounds == 0 else f"{q} (again, round {rounds + 1})"


def stream_server(url, messages, answer_tokens):
    """One streamed answer from an OpenAI-compatible server: (text, ttft s, decode tok/s)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    body = json.dumps({"model": "any", "messages": messages, "max_tokens": answer_tokens, "temperature": 0.0,
                       "stream": True, "stream_options": {"include_usage": True}})
    start = time.perf_counter()
    conn.request("POST", parts.path.rstrip("/") + "/chat/completions", body,
                 {"Content-Type": "application/json", "Accept": "text/event-stream"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"{url}: HTTP {response.status}: {response.read()[:300]!r}")
    stamps, text, completion = [], [], None
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            completion = chunk["usage"].get("completion_tokens")
        for choice in chunk.get("choices", []):
            piece = choice.get("delta", {}).get("content")
            if piece:
                stamps.append(time.perf_counter())
                text.append(piece)
    conn.close()
    if not stamps:
        raise SystemExit(f"{url}: no text came back")
    tokens = completion or len(stamps)
    decode = (tokens - 1) / (stamps[-1] - stamps[0]) if tokens > 1 and stamps[-1] > stamps[0] else 0.0
    return "".join(text), stamps[0] - start, decode


def stream_llama_cpp(llm, messages, answer_tokens):
    start = time.perf_counter()
    stamps, text = [], []
    for chunk in llm.create_chat_completion(messages, max_tokens=answer_tokens, temperature=0.0, top_k=1, stream=True):
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            stamps.append(time.perf_counter())
            text.append(piece)
    decode = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return "".join(text), stamps[0] - start, decode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    peer = ap.add_mutually_exclusive_group(required=True)
    peer.add_argument("--server", help="an OpenAI-compatible base URL, e.g. http://127.0.0.1:8229/v1")
    peer.add_argument("--llama-cpp", metavar="MODEL", help="a GGUF file for llama-cpp-python")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--answer-tokens", type=int, default=48)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    system, questions = conversation_text()
    if a.llama_cpp:
        from llama_cpp import Llama
        llm = Llama(model_path=a.llama_cpp, n_threads=a.threads, n_ctx=4096, verbose=False)
        ask = lambda messages: stream_llama_cpp(llm, messages, a.answer_tokens)
        engine = "llama.cpp"
    else:
        ask = lambda messages: stream_server(a.server, messages, a.answer_tokens)
        engine = a.server
    ttft = [[] for _ in range(a.turns)]
    decode = [[] for _ in range(a.turns)]
    for run in range(a.runs):
        messages = [{"role": "system", "content": f"Session {run + 1}. {system}"}]
        for turn in range(a.turns):
            messages.append({"role": "user", "content": question(questions, turn)})
            text, first, rate = ask(messages)
            ttft[turn].append(first * 1000)
            decode[turn].append(rate)
            messages.append({"role": "assistant", "content": text.strip()})
    result = {"engine": engine, "turns": a.turns, "runs": a.runs, "answer_tokens": a.answer_tokens,
              "ttft_ms": [statistics.median(t) for t in ttft], "decode_tok_s": [statistics.median(d) for d in decode]}
    if a.json:
        print(json.dumps(result))
        return
    print(f"{engine}: one conversation, {a.turns} turns, {a.answer_tokens}-token answers, median of {a.runs} runs")
    for i, (t, d) in enumerate(zip(result["ttft_ms"], result["decode_tok_s"]), 1):
        print(f"turn {i}: first token {t:.0f} ms, decode {d:.1f} tok/s")


if __name__ == "__main__":
    sys.exit(main())
