#!/usr/bin/env python3
"""`make bench`: wflo measured against what users would pick instead, as ratios, with charts.

Builds every contender (bench/harness/build.py), runs the sections below with their
contenders interleaved round by round, and writes bench/RESULTS.md and bench/charts/*.svg.

  1. tokens       token counting: wflo (Rust, Python, Node) vs tiktoken, js-tiktoken, gpt-tokenizer
  2. cost         cost computation and tracked call: every face vs litellm, tokencost
  3. startup      import time and peak RSS in a fresh process
  4. checkpoints  save/load vs LangGraph's SqliteSaver / PostgresSaver and raw INSERTs
  5. contention   shared-scope reservations/s with threads and processes, overspend
  6. history      commands and the tracked call on a store of 1 M executions / 20 M calls
  7. graphs       a LangGraph graph run end to end with wflo's saver and with SqliteSaver

Run from the bench's Python environment (the Makefile makes it from bench/python/requirements.txt)
inside tests/pg/with-postgres.sh for PostgreSQL. Options:
  --sections a,b   only these (their results go to $WFLO_CACHE/bench/partial/ unless --out)
  --rounds N       rounds for every section (default: per section, see ROUNDS)
  --no-build       reuse what the last run built
  --out DIR        where RESULTS.md and charts/ go (default: bench/)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from harness import build, machine, report  # noqa: E402
from harness.sections import checkpoints, contention, cost, graphs, history, startup, tokens  # noqa: E402

SECTIONS = {"tokens": tokens, "cost": cost, "startup": startup, "checkpoints": checkpoints, "contention": contention,
            "history": history, "graphs": graphs}
ROUNDS = {"tokens": 3, "cost": 5, "startup": 5, "checkpoints": 5, "contention": 3, "history": 5, "graphs": 5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        sys.exit(f"unknown sections {unknown}: choose from {', '.join(SECTIONS)}")
    started, load_start = time.time(), os.getloadavg()[0]
    os.chdir(ROOT)
    env = build.make_env(ROOT)
    if not (env.corpus / "prose.txt").exists():
        subprocess.run([sys.executable, "bench/corpus.py", str(env.corpus)], check=True)
    if args.no_build:
        build.reuse(env)
    else:
        build.build_all(env)
    results = []
    for name in chosen:
        rounds = args.rounds or ROUNDS[name]
        t = time.time()
        print(f"{name} ({rounds} rounds)", file=sys.stderr, flush=True)
        results.append(SECTIONS[name].run(env, rounds))
        print(f"  done in {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    out = Path(args.out) if args.out else (ROOT / "bench" if chosen == list(SECTIONS) else env.work / "partial")
    out.mkdir(parents=True, exist_ok=True)
    load_end = os.getloadavg()[0]
    rounds = args.rounds and f"{args.rounds} rounds per section" or "rounds per section: " + ", ".join(
        f"{k} {v}" for k, v in ROUNDS.items() if k in chosen)
    # Only the load at the start tells of other work: the benchmark's own processes raise the end's.
    noise = (f"The load average was {load_start:.1f} at the start on {len(os.sched_getaffinity(0))} cores: other "
             "work shared the machine, so absolute figures are noisy." if load_start > 1.0 else
             f"The machine was otherwise idle at the start (load average {load_start:.1f}; the benchmark's own "
             "processes raise it by the end).")
    report.write(out, env.work / "results.json", results, machine.machine(),
                 machine.versions(ROOT, os.environ.get("WFLO_TEST_PG_BIN"), os.environ.get("WFLO_BENCH_NODE_MODULES")),
                 {"minutes": (time.time() - started) / 60, "rounds": rounds,
                  "load": f"{load_start:.2f} / {load_end:.2f}", "noise": noise})
    print(f"wrote {out / 'RESULTS.md'} and {out / 'charts'}/ in {(time.time() - started) / 60:.1f} min; "
          f"raw figures: {env.work / 'results.json'}", file=sys.stderr)
    for s in results:
        for g in s.goals:
            status = "not measured" if g.met is None else ("met" if g.met else "NOT met")
            print(f"  {g.goal}: {g.figure} — {status}", file=sys.stderr)


if __name__ == "__main__":
    main()
