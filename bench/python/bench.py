"""wflo from Python beside litellm, tokencost and tiktoken, in one run on one machine.

  - import: wall time of `import X` in a fresh interpreter (median of several) and the process's
    peak RSS after it;
  - one cost computation (1,000 input + 200 output tokens on gpt-4o): wflo.cost beside
    litellm.cost_per_token and tokencost.calculate_cost_by_tokens (which prices ONE token type
    per call, so a usage takes two calls — both figures are printed);
  - one tracked call: wflo's reserve BEFORE + settle after, recorded in the execution.

`make bench-python` prints this summary (a release wheel in its own environment). `make bench`
(bench/run.py) runs one measurement per process instead and reads one JSON line:

  bench.py --json import MODULE           {"import_ms", "peak_rss_mib"}
  bench.py --json cost NAME N             {"calls", "ns_per_call", "usd"}   NAME: wflo, wflo-engine, litellm, tokencost
  bench.py --json tracked N               {"calls", "ns_per_call"}
  bench.py --json tokens NAME FILE        {"o200k_base": {"tokens", "mb_s"}, "cl100k_base": …}   NAME: wflo, tiktoken

tiktoken's vocabularies come from TIKTOKEN_CACHE_DIR (bench/python/tiktoken_cache.py fills it
from files on this machine: nothing here may use the network).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import timeit

# litellm fetches its price map from GitHub at import unless told to use the bundled copy;
# tokencost likewise reads its bundled table. Nothing here may use the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MODEL, TOKENS_IN, TOKENS_OUT = "gpt-4o", 1000, 200
ENCODING_MODEL = {"o200k_base": "gpt-4o", "cl100k_base": "gpt-4"}

PROBE = """
import resource, sys, time
t = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def import_cost(module: str, runs: int = 7) -> tuple[float, float]:
    """(median seconds, peak RSS MiB) of importing ``module`` in a fresh interpreter."""
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True,
                             check=True, env=os.environ)
        t, r = out.stdout.split()
        times.append(float(t))
        rss.append(float(r))
    return statistics.median(times), statistics.median(rss)


def cost_call(name: str):
    """(a function computing one usage's cost, its USD) for a contender."""
    if name in ("wflo", "wflo-engine"):
        import wflo

        if name == "wflo":
            def fn():
                return wflo.cost(MODEL, input=TOKENS_IN, output=TOKENS_OUT)
        else:
            engine = wflo.Engine.open("memory://")

            def fn():
                return engine.cost(MODEL, input=TOKENS_IN, output=TOKENS_OUT)
        return fn, fn() / 1e9
    if name == "litellm":
        import litellm

        def fn():
            return litellm.cost_per_token(model=MODEL, prompt_tokens=TOKENS_IN, completion_tokens=TOKENS_OUT)
        return fn, sum(fn())
    if name in ("tokencost", "tokencost-one-type"):
        import tokencost

        if name == "tokencost":  # a usage: input and output, two calls
            def fn():
                return (tokencost.calculate_cost_by_tokens(TOKENS_IN, MODEL, "input")
                        + tokencost.calculate_cost_by_tokens(TOKENS_OUT, MODEL, "output"))
        else:
            def fn():
                return tokencost.calculate_cost_by_tokens(TOKENS_IN, MODEL, "input")
        return fn, float(fn())
    raise SystemExit(f"unknown cost contender {name}")


def tracked_calls(n: int) -> float:
    """Seconds per tracked call (reserve + settle + record), a fresh execution every 10,000."""
    import wflo

    engine = wflo.Engine.open("memory://")
    total, done = 0.0, 0
    while done < n:
        batch = min(10_000, n - done)
        wf = wflo.WfloWorkflow("bench", engine=engine, max_iterations=None).start_sync()
        t = time.perf_counter()
        for _ in range(batch):
            wf.reserve(model="gpt-4o-mini", input_tokens=1200, max_output_tokens=400).settle(
                input=1000, cache_read=200, output=350)
        total += time.perf_counter() - t
        done += batch
    return total / n


def counters(name: str) -> dict:
    """encoding -> a function counting a text's tokens, for one contender."""
    if name == "wflo":
        import wflo

        return {enc: (lambda text, m=m: wflo.count_tokens(m, text).tokens) for enc, m in ENCODING_MODEL.items()}
    if name == "tiktoken":
        import tiktoken

        encoders = {enc: tiktoken.get_encoding(enc) for enc in ENCODING_MODEL}
        # encode_ordinary: the text as plain text (special-token strings counted as text), as
        # wflo's count does.
        return {enc: (lambda text, e=e: len(e.encode_ordinary(text))) for enc, e in encoders.items()}
    raise SystemExit(f"unknown token contender {name}")


def count_once(name: str, path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    mb = len(text.encode()) / 1e6
    out = {}
    for enc, count in counters(name).items():
        count(text[:20_000])
        t = time.perf_counter()
        tokens = count(text)
        out[enc] = {"tokens": tokens, "mb_s": mb / (time.perf_counter() - t)}
    return out


def peak_rss_mib() -> float:
    """This process's peak RSS since it started (VmHWM; rusage would count the parent's memory
    carried across fork and exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def per_call(fn, number: int) -> float:
    """Best of 5 repeats, seconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def json_mode(mode: str, args: list[str]) -> dict:
    if mode == "import":
        t = time.perf_counter()
        __import__(args[0])
        return {"import_ms": (time.perf_counter() - t) * 1e3, "peak_rss_mib": peak_rss_mib()}
    if mode == "first-cost":
        # `import wflo` defers the native library, the price table and asyncio to first use:
        # this is the import with that first use (one cost), what a program pays before its
        # first answer.
        t = time.perf_counter()
        import wflo

        wflo.cost(MODEL, input=TOKENS_IN, output=TOKENS_OUT)
        return {"import_ms": (time.perf_counter() - t) * 1e3, "peak_rss_mib": peak_rss_mib()}
    if mode == "cost":
        fn, usd = cost_call(args[0])
        n = int(args[1])
        fn()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        return {"calls": n, "ns_per_call": (time.perf_counter() - t) / n * 1e9, "usd": usd}
    if mode == "tracked":
        n = int(args[0])
        return {"calls": n, "ns_per_call": tracked_calls(n) * 1e9}
    if mode == "tokens":
        return count_once(args[0], args[1])
    raise SystemExit(f"unknown mode {mode}: import, first-cost, cost, tracked or tokens")


def main() -> None:
    print("import (fresh interpreter; median of 7)")
    _, baseline_rss = import_cost("sys")
    for module in ("wflo", "tiktoken", "tokencost", "litellm"):
        t, rss = import_cost(module, 7 if module != "litellm" else 3)
        print(f"  {module:<10} {t * 1000:9.1f} ms   {rss:7.1f} MiB peak RSS")
    print(f"  (bare interpreter: {baseline_rss:.1f} MiB)")

    figures = {}
    for name, number in (("wflo-engine", 200_000), ("wflo", 200_000), ("litellm", 2_000),
                         ("tokencost-one-type", 100_000), ("tokencost", 100_000)):
        fn, usd = cost_call(name)
        figures[name] = (per_call(fn, number), usd)
    print(f"\none cost: {TOKENS_IN} in + {TOKENS_OUT} out on {MODEL}: "
          + ", ".join(f"{k} ${v[1]:.6f}" for k, v in figures.items()))
    w = figures["wflo-engine"][0]
    print("\none cost computation (best of 5)")
    for name, label in (("wflo-engine", "wflo engine.cost"), ("wflo", "wflo.cost (module)"),
                        ("litellm", "litellm.cost_per_token"), ("tokencost-one-type", "tokencost, one token type"),
                        ("tokencost", "tokencost, input + output")):
        s = figures[name][0]
        print(f"  {label:<27} {s * 1e6:8.2f} µs   wflo engine is {s / w:6.1f}x as fast")

    tc = tracked_calls(50_000)
    print("\none tracked call (reserve before + settle after + record)")
    print(f"  wflo                        {tc * 1e6:8.2f} µs   "
          f"({figures['litellm'][0] / tc:.1f}x faster than litellm pricing alone)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--json":
        print(json.dumps(json_mode(sys.argv[2], sys.argv[3:])))
    else:
        main()
