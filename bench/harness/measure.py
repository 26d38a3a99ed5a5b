"""Runs contenders as processes, interleaved round by round, and summarises their figures.

A contender is one command that prints its figures as one JSON line (the last line of its
standard output). The driver runs every contender once per round, in the same order each round
(A B C A B C …), so drift in the machine's load hits all of them alike; a figure's summary is
the median over rounds with the min–max beside it. The driver also times each whole process,
so start-up cost is measured the same way for every language. (Peak RSS is reported by the
process itself, from /proc/self/status VmHWM: a child's rusage would include the driver's own
memory, which Linux carries across fork and exec.)
A contender that cannot run (not built, not installable) carries the reason instead of a
command, and every table shows that reason rather than leaving the row out.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class Contender:
    label: str
    argv: Optional[list[str]] = None
    env: dict[str, str] = field(default_factory=dict)
    missing: Optional[str] = None  # why it cannot run; shown in the table
    cwd: Optional[str] = None
    parse: Optional[Callable[[str], dict]] = None  # default: the last stdout line as JSON
    timeout: float = 600.0
    meta: dict = field(default_factory=dict)  # what the section needs to place the row
    before: Optional[Callable[[], None]] = None  # run before each round's process (e.g. a fresh database)


@dataclass
class Run:
    out: Optional[dict]
    wall_s: float
    error: Optional[str] = None


def last_json_line(text: str) -> dict:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("printed nothing")
    return json.loads(lines[-1])


def run_once(c: Contender) -> Run:
    """Runs one contender's process; never raises (a failure is a Run with .error)."""
    env = {**os.environ, "WFLO_BENCH_JSON": "1", **c.env}
    if c.before:
        c.before()
    start = time.perf_counter()
    try:
        proc = subprocess.run(c.argv, cwd=c.cwd, env=env, capture_output=True, text=True, timeout=c.timeout)
    except subprocess.TimeoutExpired:
        return Run(None, c.timeout, f"timed out after {c.timeout:.0f} s")
    except OSError as e:
        return Run(None, 0.0, f"cannot start: {e}")
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return Run(None, wall, f"exit {proc.returncode}: {' | '.join(tail)[:300]}")
    try:
        out = (c.parse or last_json_line)(proc.stdout)
    except (ValueError, KeyError, IndexError) as e:
        return Run(None, wall, f"unreadable output ({e}): {proc.stdout.strip()[-200:]}")
    return Run(out, wall)


def interleave(name: str, contenders: list[Contender], rounds: int) -> dict[str, list[Run]]:
    """Every runnable contender once per round, in order; prints progress to stderr."""
    runs: dict[str, list[Run]] = {c.label: [] for c in contenders}
    runnable = [c for c in contenders if c.missing is None]
    for r in range(rounds):
        t = time.perf_counter()
        for c in runnable:
            run = run_once(c)
            runs[c.label].append(run)
            if run.error:
                print(f"  [{name}] {c.label}: FAILED {run.error}", file=sys.stderr)
        print(f"  [{name}] round {r + 1}/{rounds}: {len(runnable)} contenders, {time.perf_counter() - t:.1f} s",
              file=sys.stderr, flush=True)
    return runs


@dataclass
class Summary:
    median: float
    low: float
    high: float
    n: int
    rounds: int = 0  # rounds run; more than n when some failed

    def fmt(self, digits: int = 2) -> str:
        text = f"{self.median:.{digits}f}"
        if self.n > 1:
            text += f" ({self.low:.{digits}f}–{self.high:.{digits}f})"
        if self.rounds > self.n:
            text += f", {self.n} of {self.rounds} rounds"
        return text


def summarise(values: list[float]) -> Optional[Summary]:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return Summary(statistics.median(values), min(values), max(values), len(values))


def figure(runs: list[Run], key: Callable[[Run], float]) -> Optional[Summary]:
    """The summary over rounds of one figure of the successful runs."""
    s = summarise([key(r) for r in runs if r.out is not None])
    if s is not None:
        s.rounds = len(runs)
    return s


def failure(runs: list[Run]) -> Optional[str]:
    """Why a contender has no figure: its first error, if every round failed."""
    if runs and all(r.error for r in runs):
        return runs[0].error
    return None

