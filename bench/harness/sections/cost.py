"""2. Cost computation and tracked call, µs per call, from every face of wflo beside
litellm.cost_per_token and tokencost.calculate_cost_by_tokens.

A cost: gpt-4o, 1,000 input + 200 output tokens (tokencost prices one token type per call, so a
usage is two calls). A tracked call: reserve gpt-4o-mini (1,200 in, at most 400 out) BEFORE the
call + settle (1,000 in, 200 cache read, 350 out) + record, a fresh execution every 10,000.

Adding a face is one entry in faces(): (label, what it needs built, cost argv, tracked argv,
parser); an argv may be a string instead: why that figure is not measured, shown in the table.
Every command prints {"calls": N, "ns_per_call": X} as its last line (WFLO_BENCH_JSON is set).
Kotlin: bindings/kotlin/bench.sh --run N [cost] (the JVM runs every loop once untimed first)."""
from __future__ import annotations

import re

from ..build import Env
from ..measure import Contender, figure, failure, interleave
from ..section import Goal, Section, ratio, table
from ..svg import Bar, bars

FAST, TRACKED = 1_000_000, 200_000


def go_bench(out: str) -> dict:
    m = re.search(r"^Benchmark\S+\s+(\d+)\s+([\d.]+) ns/op", out, re.M)
    if not m:
        raise ValueError("no benchmark line")
    return {"calls": int(m.group(1)), "ns_per_call": float(m.group(2))}


def faces(env: Env) -> list[tuple[str, tuple, list, list, object]]:
    py = [env.python, "bench/python/bench.py", "--json"]
    js = ["node", "bindings/node/bench/bench.cjs", "--json"]
    go = [str(env.work / "wflo_go_bench.test"), "-test.run", "^$", "-test.bench"]
    kt = [str(env.root / "bindings" / "kotlin" / "bench.sh"), "--run"]
    c = str(env.work / "tracked_call_c")
    return [
        ("wflo (Rust)", ("rust",), [env.example("hot_loop"), str(FAST), "cost"],
         [env.example("hot_loop"), str(TRACKED), "tracked"], None),
        ("wflo (C)", ("c",), [c, str(FAST), "cost"], [c, str(TRACKED), "tracked"], None),
        ("wflo (Go)", ("go",), [*go, "^BenchmarkCost$", "-test.benchtime", f"{FAST}x"],
         [*go, "^BenchmarkTrackedCall$", "-test.benchtime", f"{TRACKED}x"], go_bench),
        ("wflo (Node)", ("node",), [*js, "cost", "500000"], [*js, "tracked", str(TRACKED)], None),
        ("wflo (Python)", ("python",), [*py, "cost", "wflo", "300000"], [*py, "tracked", "100000"], None),
        ("wflo (Kotlin)", ("kotlin",), [*kt, str(FAST), "cost"], [*kt, str(TRACKED)], None),
        ("litellm (Python)", ("python",), [*py, "cost", "litellm", "3000"], None, None),
        ("tokencost (Python)", ("python",), [*py, "cost", "tokencost", "50000"], None, None),
    ]


def run(env: Env, rounds: int) -> Section:
    every = []
    for label, needs, cost_argv, tracked_argv, parse in faces(env):
        missing = env.need(*needs)
        for what, argv in (("cost", cost_argv), ("tracked", tracked_argv)):
            if argv is None:
                continue
            why = missing or (argv if isinstance(argv, str) else None)
            every.append(Contender(f"{label} {what}", None if why else argv, cwd=str(env.root), missing=why,
                                   parse=parse, meta={"face": label, "what": what}))
    runs = interleave("cost", every, rounds)
    by = {(c.meta["face"], c.meta["what"]): c for c in every}
    us = {k: figure(runs[c.label], lambda r: r.out["ns_per_call"] / 1e3) for k, c in by.items()}

    def why(key):
        c = by.get(key)
        return (c.missing or failure(runs[c.label]) or "no figure") if c else "n/a"

    lite, tc, rust = us[("litellm (Python)", "cost")], us[("tokencost (Python)", "cost")], us[("wflo (Rust)", "tracked")]
    rows, cost_bars, tracked_bars = [], [], []
    for label, *_ in faces(env):
        cost, tracked = us[(label, "cost")], us.get((label, "tracked"))
        faster = lite.median / cost.median if lite and cost else None
        rows.append([label, cost.fmt(3) if cost else why((label, "cost")), ratio(faster),
                     ratio(tc.median / cost.median) if tc and cost else "—",
                     tracked.fmt(3) if tracked else ("—" if (label, "tracked") not in by else
                                                     "not built" if by[(label, "tracked")].missing == why((label, "cost"))
                                                     else why((label, "tracked"))),
                     ratio(tracked.median / rust.median) if tracked and rust else "—"])
        cost_bars.append(Bar(label, faster, label.startswith("wflo"), why((label, "cost"))))
        if (label, "tracked") in by:
            tracked_bars.append(Bar(label, tracked.median / rust.median if tracked and rust else None, True,
                                    why((label, "tracked"))))
    usd = {c.meta["face"]: runs[c.label][0].out.get("usd") for c in every
           if c.meta["what"] == "cost" and runs[c.label] and runs[c.label][0].out and "usd" in runs[c.label][0].out}
    py = us[("wflo (Python)", "cost")]
    x = lite.median / py.median if lite and py else None
    goal = Goal("Python cost ≥ 50× litellm", f"litellm.cost_per_token ÷ wflo.cost: {ratio(x)}" if x else "not measured",
                None if x is None else x >= 50)
    return Section(
        "cost", "2. Cost computation and tracked call",
        f"µs per call, median of {rounds} interleaved rounds (min–max); each process makes many calls "
        "(Rust, C, Go 1,000,000 costs / 200,000 tracked calls; Kotlin 1,000,000 / 200,000; Node 500,000 / 200,000; Python 300,000 / 100,000; "
        "litellm 3,000; tokencost 50,000). A cost: gpt-4o, 1,000 in + 200 out. A tracked call: reserve BEFORE "
        "(gpt-4o-mini, 1,200 in, ≤ 400 out) + settle (1,000 in, 200 cache read, 350 out) + record.",
        table(["face", "cost µs", "litellm ÷ this", "tokencost ÷ this", "tracked call µs", "÷ Rust"], rows),
        notes=["litellm and tokencost have no reservation or record: they only price, so they have no tracked call. "
               "tokencost prices one token type per call: its row is input + output, two calls.",
               "the same cost from each Python package: " + ", ".join(f"{k} ${v:.6f}" for k, v in usd.items())
               if usd else "no Python cost figures in this run"],
        charts=[("cost.svg", bars("One cost computation: litellm.cost_per_token's time ÷ each",
                                  [("gpt-4o, 1,000 in + 200 out", cost_bars)],
                                  subtitle=f"higher is faster; median of {rounds} rounds; dashed: litellm")),
                ("tracked.svg", bars("One tracked call: each face's time ÷ Rust's",
                                     [("reserve + settle + record", tracked_bars)],
                                     subtitle=f"lower is closer to the engine; median of {rounds} rounds"))],
        goals=[goal],
        raw={c.label: [r.out or {"error": r.error} for r in runs[c.label]] for c in every})
