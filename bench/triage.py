"""Benchmark the triage engine: load time, throughput, per-message latency, peak memory.

    .venv/bin/python bench/triage.py [--repeat N]

Messages are the 30–200 character texts of tests/data/*.jsonl (falling back to a built-in
sample), analysed N times each after one warm-up pass. Prints numbers; never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = [
    "先月会社をクビになって、来月の家賃が払えるかわかりません。何か制度はありますか",
    "母の物忘れがひどくなってきて、同じことを何度も聞いてきます。認知症の相談はどこですか",
    "30歳の息子が10年以上部屋から出てきません。家族が集まる会があると聞きました",
    "リボ払いが膨らんで毎月の支払いが利息ばっかり。どう返していけばいいかわからない",
    "ｼﾆﾀｲ もうむり 家賃も払えないし生きてる意味ない",
    "近所の一人暮らしのおばあさん、最近姿を見ないし新聞がたまってる。ちょっと心配です",
]


def messages() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "tests" / "data").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                text = json.loads(line).get("text", "")
                if 30 <= len(text) <= 200:
                    texts.append(text)
    return texts or SAMPLE


def _two_hundred_characters(engine: object, texts: list[str], repeat: int) -> list[float]:
    """CPU time per analysis of 200-character messages (the issue's yardstick), made by
    joining the sets' messages in order and cutting at 200 characters."""
    joined: list[str] = []
    current = ""
    for text in texts:
        current += text + "。"
        if len(current) >= 200:
            joined.append(current[:200])
            current = ""
    cpu: list[float] = []
    analyse = engine.analyse  # type: ignore[attr-defined]
    for _ in range(repeat):
        for text in joined:
            c0 = time.thread_time()
            analyse(text)
            cpu.append(time.thread_time() - c0)
    return sorted(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    from sudachipy import Dictionary

    Dictionary(dict="core").tokenizer()
    dictionary_s = time.perf_counter() - started

    started = time.perf_counter()
    from knowledge.lexicon import load_lexicon
    from triage.engine import Engine

    engine = Engine(load_lexicon())
    engine_s = time.perf_counter() - started

    texts = messages()
    for text in texts:  # warm-up
        engine.analyse(text)
    latencies: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    for _ in range(args.repeat):
        for text in texts:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            engine.analyse(text)
            latencies.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
    total = time.perf_counter() - started
    long_cpu = _two_hundred_characters(engine, texts, args.repeat)
    # Memory on a separate pass: tracemalloc slows Python down and would distort the timings.
    tracemalloc.start()
    Engine(load_lexicon())
    for text in texts:
        engine.analyse(text)
    _, peak_py = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    latencies.sort()
    cpu.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    cpu50 = statistics.median(cpu) * 1000
    cpu99 = cpu[min(len(cpu) - 1, int(len(cpu) * 0.99))] * 1000
    mean_chars = statistics.mean(len(t) for t in texts)
    print(f"dictionary load (SudachiPy core)   {dictionary_s * 1000:8.1f} ms")
    print(f"engine load (dictionary + lexicon) {engine_s * 1000:8.1f} ms")
    print(
        f"messages                           {len(latencies):8d} ({len(texts)} distinct,"
        f" mean {mean_chars:.0f} chars)"
    )
    print(f"throughput                         {len(latencies) / total:8.0f} messages/s")
    print(f"latency p50                        {p50:8.3f} ms")
    print(f"latency p99                        {p99:8.3f} ms")
    print(f"CPU time p50 / p99                 {cpu50:8.3f} / {cpu99:.3f} ms (CPU only)")
    print(f"latency max                        {latencies[-1] * 1000:8.3f} ms")
    lp50 = statistics.median(long_cpu) * 1000
    lp99 = long_cpu[min(len(long_cpu) - 1, int(len(long_cpu) * 0.99))] * 1000
    print(f"200-char messages CPU p50 / p99    {lp50:8.3f} / {lp99:.3f} ms ({len(long_cpu)} runs)")
    print(f"peak Python heap (engine build)    {peak_py / 1e6:8.1f} MB")
    print(f"peak RSS (incl. dictionary)        {rss_mb:8.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
