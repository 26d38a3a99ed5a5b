"""Horizontal bar charts as hand-written SVG (no plotting library): one group of bars per
case, wflo's bars coloured, the others grey, a dashed line at the reference (1×), a log scale
when the values span more than a factor of 30."""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Optional

LABEL_W, PLOT_W, RIGHT_W, ROW_H, TOP = 250, 460, 90, 18, 48
WFLO, OTHER, MISSING = "#2f6fb3", "#9aa3ad", "#b04a4a"


@dataclass
class Bar:
    label: str
    value: Optional[float]  # None: not measured, `why` is shown instead
    wflo: bool = False
    why: str = ""


def _scale(values: list[float], reference: Optional[float]):
    lo, hi = min(values), max(values)
    if reference is not None:
        lo, hi = min(lo, reference), max(hi, reference)
    if hi / max(lo, 1e-12) > 30:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        if a == b:
            b += 1
        ticks = [10.0 ** e for e in range(a, b + 1)]
        return (lambda v: (math.log10(v) - a) / (b - a) * PLOT_W), ticks, True
    top = hi * 1.1
    step = 10 ** math.floor(math.log10(top / 2)) if top > 0 else 1
    for m in (1, 2, 5, 10):
        if top / (step * m) <= 6:
            step *= m
            break
    ticks = [i * step for i in range(int(top / step) + 2) if i * step <= top * 1.05]
    return (lambda v: v / top * PLOT_W), ticks, False


def _num(v: float, unit: str) -> str:
    if v >= 100:
        s = f"{v:.0f}"
    elif v >= 10:
        s = f"{v:.1f}"
    elif v >= 1:
        s = f"{v:.2f}"
    else:
        s = f"{v:.3g}"
    return s + unit


def bars(title: str, groups: list[tuple[str, list[Bar]]], *, unit: str = "×", reference: Optional[float] = 1.0,
         subtitle: str = "") -> str:
    values = [b.value for _, bs in groups for b in bs if b.value]
    rows = sum(len(bs) + 1 for _, bs in groups)
    height = TOP + rows * ROW_H + 30
    width = LABEL_W + PLOT_W + RIGHT_W
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="10" y="38" fill="#555">{escape(subtitle)}</text>']
    if not values:
        out.append(f'<text x="10" y="{TOP + 12}">no figures in this run</text></svg>')
        return "\n".join(out)
    x, ticks, log = _scale(values, reference)
    plot_bottom = TOP + rows * ROW_H
    for t in ticks:
        tx = LABEL_W + x(t)
        out.append(f'<line x1="{tx:.1f}" y1="{TOP}" x2="{tx:.1f}" y2="{plot_bottom}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{tx:.1f}" y="{plot_bottom + 14}" text-anchor="middle" fill="#555">{t:g}{unit}</text>')
    y = TOP
    for group, bs in groups:
        out.append(f'<text x="10" y="{y + 13}" font-weight="bold">{escape(group)}</text>')
        y += ROW_H
        for b in bs:
            out.append(f'<text x="{LABEL_W - 8}" y="{y + 13}" text-anchor="end">{escape(b.label)}</text>')
            if b.value:
                w = max(x(b.value), 1.0)
                colour = WFLO if b.wflo else OTHER
                out.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" fill="{colour}"/>')
                out.append(f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 13}">{_num(b.value, unit)}</text>')
            else:
                out.append(f'<text x="{LABEL_W + 4}" y="{y + 13}" fill="{MISSING}">{escape(b.why or "no figure")}</text>')
            y += ROW_H
    if reference is not None:
        rx = LABEL_W + x(reference)
        out.append(f'<line x1="{rx:.1f}" y1="{TOP}" x2="{rx:.1f}" y2="{plot_bottom}" stroke="#333" '
                   f'stroke-dasharray="4 3"/>')
    if log:
        out.append(f'<text x="{width - 10}" y="{plot_bottom + 28}" text-anchor="end" fill="#555">log scale</text>')
    out.append("</svg>")
    return "\n".join(out)
