"""What a benchmark section hands to the report: its table, notes, charts and goals."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Goal:
    goal: str  # what the issue asks, e.g. "token counting ≥ 2× tiktoken"
    figure: str  # what this run measured, with how it was taken
    met: Optional[bool]  # None: not measured in this run


@dataclass
class Section:
    key: str
    title: str
    intro: str
    table: str
    notes: list[str] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)  # (file name, SVG text)
    goals: list[Goal] = field(default_factory=list)
    raw: dict = field(default_factory=dict)  # every round's figures, for results.json


def table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def ratio(x: Optional[float]) -> str:
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    return f"{x:.2f}×"
