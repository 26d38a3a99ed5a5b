"""Writes bench/RESULTS.md (goals, machine, versions, one table per section) and the charts
into bench/charts/; the raw figures of every round go to WORK/results.json."""
from __future__ import annotations

import json
import time
from pathlib import Path

from .section import Goal, Section, table


def mark(g: Goal) -> str:
    return "not measured" if g.met is None else ("**met**" if g.met else "**not met**")


def write(out_dir: Path, raw_path: Path, sections: list[Section], machine: dict, versions: dict, meta: dict) -> None:
    charts = out_dir / "charts"
    charts.mkdir(exist_ok=True)
    for s in sections:
        for name, svg in s.charts:
            (charts / name).write_text(svg)
    goals = [g for s in sections for g in s.goals]
    lines = [
        "# wflo benchmarks",
        "",
        f"Written by `make bench` (bench/run.py) on {time.strftime('%Y-%m-%d %H:%M %Z')}, in "
        f"{meta['minutes']:.1f} minutes, {meta['rounds']}. Every contender runs as its own process; the "
        "contenders of a section take turns round by round (A B C A B C …) so that drift in the machine's "
        "load hits all alike; each figure is the median over rounds, with the min–max in brackets. "
        "Absolute times depend on the machine: quote the ratios.",
        "",
        "## Goals",
        "",
        table(["goal", "this run", "status"], [[g.goal, g.figure, mark(g)] for g in goals]),
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in machine.items()]
              + [["load average (1 min) at start / end", meta["load"]]]),
        "",
        meta["noise"],
        "",
        "## Versions",
        "",
        table(["", "version"], [[k, v] for k, v in versions.items()]),
        "",
    ]
    for s in sections:
        lines += [f"## {s.title}", "", s.intro, "", s.table, ""]
        lines += [f"- {n}" for n in s.notes]
        lines += [""] + [f"![{name}](charts/{name})" for name, _ in s.charts] + [""]
    (out_dir / "RESULTS.md").write_text("\n".join(lines))
    raw_path.write_text(json.dumps({s.key: s.raw for s in sections}, indent=1))
