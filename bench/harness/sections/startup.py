"""3. Import / start-up: the wall time of importing each package in a fresh process (timed
inside it, around the import alone), the whole process's wall time, and its peak RSS (VmHWM).
The bare rows import nothing of note: the interpreter's own floor."""
from __future__ import annotations

from ..build import Env
from ..measure import Contender, figure, failure, interleave
from ..section import Goal, Section, ratio, table
from ..svg import Bar, bars

PYTHON = [("(bare interpreter)", "sys"), ("wflo", "wflo"), ("tiktoken", "tiktoken"), ("tokencost", "tokencost"),
          ("litellm", "litellm"), ("LangGraph SqliteSaver", "langgraph.checkpoint.sqlite")]
NODE = [("(bare node)", "node:fs"), ("wflo", "wflo"), ("js-tiktoken", "js-tiktoken"), ("gpt-tokenizer", "gpt-tokenizer")]


def contenders(env: Env) -> list[Contender]:
    out = [Contender(f"Python {label}", [env.python, "bench/python/bench.py", "--json", "import", module],
                     cwd=str(env.root), missing=env.need("python"), meta={"lang": "Python", "name": label})
           for label, module in PYTHON]
    out.append(Contender("Python wflo + first cost", [env.python, "bench/python/bench.py", "--json", "first-cost"],
                         cwd=str(env.root), missing=env.need("python"),
                         meta={"lang": "Python", "name": "wflo: import + first cost (what import defers)"}))
    out += [Contender(f"Node {label}", ["node", "bindings/node/bench/bench.cjs", "--json", "import", module],
                      cwd=str(env.root), missing=env.need("node"), meta={"lang": "Node", "name": label})
            for label, module in NODE]
    out.append(Contender("Rust wflo cold start", [env.example("cold_start")], missing=env.need("rust"),
                         meta={"lang": "Rust", "name": "wflo: engine + price table + first cost"}))
    return out


def run(env: Env, rounds: int) -> Section:
    every = contenders(env)
    runs = interleave("startup", every, rounds)

    def ms(r):
        return r.out.get("import_ms", r.out.get("first_cost_ms"))

    imp = {c.label: figure(runs[c.label], ms) for c in every}
    rows, groups = [], {}
    for c in every:
        lang, name = c.meta["lang"], c.meta["name"]
        why = c.missing or failure(runs[c.label]) or "no figure"
        t = imp[c.label]
        wall = figure(runs[c.label], lambda r: r.wall_s * 1e3)
        rss = figure(runs[c.label], lambda r: r.out.get("peak_rss_mib") or 0)
        base = imp.get(f"{lang} wflo")
        x = t.median / base.median if t and base and lang != "Rust" and not name.startswith("(") else None
        rows.append([lang, name, t.fmt(1) if t else why, wall.fmt(0) if wall else "—",
                     rss.fmt(1) if rss else "—", ratio(x)])
        if x is not None:
            groups.setdefault(lang, []).append(Bar(name, x, name == "wflo", why))
    py, tc = imp.get("Python wflo"), imp.get("Python tokencost")
    x = tc.median / py.median if py and tc else None
    goal = Goal("`import wflo` ≤ 40 ms and ≤ 1/25 of `import tokencost`",
                f"import wflo {py.median:.1f} ms, import tokencost ÷ import wflo: {ratio(x)}" if x else "not measured",
                None if x is None else x >= 25 and py.median <= 40)
    return Section(
        "startup", "3. Import / start-up",
        f"A fresh process per measurement, median of {rounds} interleaved rounds (min–max). import ms: timed inside "
        "the process around the import alone (for Rust: engine + built-in price table + first cost). process ms: "
        "the whole process as the driver saw it (interpreter start-up included). Peak RSS: the process's VmHWM.",
        table(["language", "package", "import ms", "process ms", "peak RSS MiB", "import ÷ wflo's"], rows),
        notes=["Python imports run with LITELLM_LOCAL_MODEL_COST_MAP=True (no network); the measuring script's own "
               "imports (json, os, subprocess, statistics, timeit) are in every Python row, the bare one included."],
        charts=[("startup.svg", bars("Import time, × wflo's (same language)", list(groups.items()),
                                     subtitle=f"median of {rounds} fresh processes; dashed: wflo"))],
        goals=[goal],
        raw={c.label: [dict(r.out or {"error": r.error}, wall_s=r.wall_s) for r in runs[c.label]] for c in every})
