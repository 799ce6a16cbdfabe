#!/usr/bin/env python3
"""Repeats through the API (`llamadeck serve` on the demo model): the same ~75-token prompt sent
three times, and on a ~360-token history an answer, its regenerate (the same messages again) and
a new turn, each the median of 3 sessions; temperature 0.7. Prints each one's first-token time
(at the client) and the prompt and cached token counts the server reports.

    scripts/repeat-bench.py          (one-off figures in BENCHMARKS.md section 5)
"""
import http.client, json, os, re, statistics, subprocess, tempfile, threading, time, urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/llamadeck-target")) / "release" / "llamadeck"
demo = subprocess.run([ROOT / "scripts/fetch-demo-model"], capture_output=True, text=True, check=True).stdout.strip()
home = tempfile.mkdtemp()
env = {**os.environ, "RAYON_NUM_THREADS": "2", "XDG_CONFIG_HOME": home + "/c", "XDG_DATA_HOME": home + "/d", "XDG_STATE_HOME": home + "/s"}
proc = subprocess.Popen([BIN, "serve", "--model", demo, "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
url = None
for line in proc.stderr:
    m = re.search(r"API on (http://\S+/v1)", line); url = m[1] if m else url
    if re.search(r"loaded .*context", line) and url: break
threading.Thread(target=proc.stderr.read, daemon=True).start()
p = urllib.parse.urlsplit(url)
def ask(messages, temperature=0.7, max_tokens=32):
    c = http.client.HTTPConnection(p.hostname, p.port, timeout=600)
    body = json.dumps({"model": "x", "messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": True, "stream_options": {"include_usage": True}})
    t0 = time.perf_counter(); c.request("POST", p.path + "/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse(); first = None; text = []; usage = None
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]": continue
        ch = json.loads(line[6:])
        if ch.get("usage"): usage = ch["usage"]
        for choice in ch.get("choices", []):
            piece = choice.get("delta", {}).get("content")
            if piece:
                first = first or time.perf_counter(); text.append(piece)
    return (first - t0) * 1000, usage["prompt_tokens"], (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0), "".join(text)
words = "the server room was quiet while every fan kept the cards cool and the logs grew".split()
short = [{"role": "user", "content": " ".join(words[i % len(words)] for i in range(62))}]
print("same ~75-token prompt three times (temperature 0.7):")
for i in range(3):
    t, pt, ct, _ = ask(short); print(f"  send {i+1}: first token {t:.0f} ms, prompt {pt}, cached {ct}")
hist = [{"role": "system", "content": "You are a helpful assistant."}]
for q in ["What does a GPU do that a CPU does not?", "Why does that matter for language models?", "And memory?", "What about bandwidth?", "And the key and value cache?"]:
    hist.append({"role": "user", "content": q})
    t, pt, ct, text = ask(hist, 0.0, 48)
    hist.append({"role": "assistant", "content": text.strip()})
hist.append({"role": "user", "content": "So which card should I buy?"})
rows = {"answer": [], "regenerate": [], "new turn": []}
for rnd in range(3):
    h = [dict(m) for m in hist]; h[0]["content"] = f"Session {rnd}. " + h[0]["content"]
    t, pt, ct, text = ask(h); rows["answer"].append((t, pt, ct))
    t, pt, ct, _ = ask(h); rows["regenerate"].append((t, pt, ct))
    nt = h + [{"role": "assistant", "content": text.strip()}, {"role": "user", "content": "Thanks."}]
    t, pt, ct, _ = ask(nt); rows["new turn"].append((t, pt, ct))
print("history, median of 3 sessions (temperature 0.7):")
for k, v in rows.items():
    print(f"  {k}: first token {statistics.median(x[0] for x in v):.0f} ms, prompt {statistics.median(x[1] for x in v):.0f}, cached {statistics.median(x[2] for x in v):.0f}")
proc.terminate(); proc.wait()
