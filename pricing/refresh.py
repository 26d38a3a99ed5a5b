#!/usr/bin/env python3
"""Regenerate pricing/prices.json from LiteLLM's published price data.

The data source is the ``model_prices_and_context_window`` JSON that ships
inside the ``litellm`` wheel on PyPI (MIT licence, (c) Berri AI).  Only price
facts are carried over; they are re-expressed in wflo's own schema (integer
pico-USD per token), see pricing/README.md.

The newest release supplies the live table.  A fixed list of older releases
is merged in as well, so that models LiteLLM has dropped since (but which
callers may still send) keep a price; they are marked ``"deprecated": true``.

Usage:
    python3 pricing/refresh.py [--latest VERSION] [--cache DIR]
                               [--date YYYY-MM-DD] [--out FILE] [--verbose]

Standard library only; wheels are fetched with ``python -m pip download``.
The output depends only on the wheels' contents and the options, so the same
inputs always give a byte-identical file.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import glob
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from decimal import ROUND_CEILING, Decimal

PACKAGE = "litellm"

# One release per minor version (the last one of each minor that has a wheel),
# going back as far as PyPI offers them, plus a few releases from late 2023.
# PyPI offers no litellm release between 1.14.4 and 1.53.1, so there is
# nothing from 1.15 to 1.52 to merge.  1.74.15.post2 is sdist-only, hence
# 1.74.15.  When bumping the latest release, append the previous latest here.
OLDER_RELEASES = [
    "1.0.3", "1.7.12", "1.10.11", "1.14.4",
    "1.53.9", "1.54.1", "1.55.12", "1.56.10", "1.57.11", "1.58.4", "1.59.12",
    "1.60.9", "1.61.20", "1.62.4", "1.63.14", "1.64.1", "1.65.8", "1.66.3",
    "1.67.6", "1.68.2", "1.69.3", "1.70.4", "1.71.3", "1.72.9", "1.73.7",
    "1.74.15", "1.75.9", "1.76.3", "1.77.7", "1.78.7", "1.79.3", "1.80.17",
    "1.81.16", "1.82.6", "1.83.14", "1.84.10", "1.85.7", "1.86.7", "1.87.5",
    "1.88.6", "1.89.7", "1.90.7", "1.91.5", "1.92.2", "1.93.2", "1.94.3",
    "1.95.1", "1.96.2", "1.97.0", "1.98.1", "1.99.4", "1.100.5", "1.101.6",
    "1.102.4", "1.103.11", "1.104.9", "1.105.7", "1.106.12", "1.108.14",
    "1.109.3",
]

# Where the JSON lives inside the wheel; very old releases used the second name.
JSON_NAMES = [
    "litellm/model_prices_and_context_window_backup.json",
    "litellm/model_prices_and_context_window.json",
]

# Pin the wheel tags so every host picks the same files (some releases only
# ship cp311 or abi3 manylinux wheels).  Only the JSON inside is read.
PIP_TAG_ARGS = [
    "--only-binary=:all:",
    "--platform", "manylinux_2_28_x86_64",
    "--python-version", "3.11",
    "--implementation", "cp",
    "--abi", "cp311", "--abi", "abi3", "--abi", "none",
]

# litellm key -> wflo field, for base prices and for tiered_pricing entries.
PRICE_FIELDS = [
    ("input_cost_per_token", "input"),
    ("output_cost_per_token", "output"),
    ("cache_read_input_token_cost", "cache_read"),
    ("cache_creation_input_token_cost", "cache_write_5m"),
    ("cache_creation_input_token_cost_above_1hr", "cache_write_1h"),
    ("output_cost_per_reasoning_token", "reasoning"),
]
PRICE_MAP = dict(PRICE_FIELDS)
PRICE_ORDER = [w for _, w in PRICE_FIELDS]

# "<price key>_above_<N>k_tokens", exactly: service-tier suffixes (_batches,
# _priority, _flex, ...) and audio/image/video/character prices do not match.
TIER_KEY_RE = re.compile(
    r"(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost|cache_creation_input_token_cost_above_1hr"
    r"|output_cost_per_reasoning_token)_above_(\d+)k_tokens"
)

MODEL_FIELD_ORDER = (
    ["name", "provider", "mode"] + PRICE_ORDER
    + ["max_input", "max_output", "tiers", "deprecation_date", "deprecated", "last_seen"]
)
TIER_FIELD_ORDER = ["above"] + PRICE_ORDER


def version_key(v: str):
    """Sort key for plain release versions like 1.74.15 or 1.74.15.post2."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?", v)
    if not m:
        raise SystemExit(f"unsupported version string: {v!r}")
    return tuple(int(g or 0) for g in m.groups())


# ----------------------------------------------------------------------------
# fetching


def pip_download(spec: str, dest: str) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
           "--disable-pip-version-check", *PIP_TAG_ARGS, "-d", dest, spec]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-3000:])
        raise SystemExit(f"pip download failed for {spec}")


def cached_wheel(cache: str, version: str):
    hits = sorted(glob.glob(os.path.join(cache, f"{PACKAGE}-{version}-*.whl")))
    return hits[0] if hits else None


def resolve_latest(cache: str) -> str:
    """Newest final release on the index, as pip sees it."""
    res = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", PACKAGE,
         "--disable-pip-version-check"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(rf"^{PACKAGE} \(([^)]+)\)", res.stdout, re.M)
    if res.returncode == 0 and m:
        return m.group(1)
    # Older pip without "pip index": download the newest wheel and read its name.
    with tempfile.TemporaryDirectory() as tmp:
        pip_download(PACKAGE, tmp)
        whl = glob.glob(os.path.join(tmp, f"{PACKAGE}-*.whl"))[0]
        version = os.path.basename(whl).split("-")[1]
        if not cached_wheel(cache, version):
            os.replace(whl, os.path.join(cache, os.path.basename(whl)))
        return version


def load_release(cache: str, version: str):
    """Return (json name inside the wheel, parsed price table) for a release."""
    whl = cached_wheel(cache, version)
    if not whl:
        print(f"  downloading {PACKAGE}=={version}", file=sys.stderr)
        pip_download(f"{PACKAGE}=={version}", cache)
        whl = cached_wheel(cache, version)
        if not whl:
            raise SystemExit(f"no wheel for {PACKAGE}=={version} after download")
    with zipfile.ZipFile(whl) as zf:
        names = set(zf.namelist())
        for name in JSON_NAMES:
            if name in names:
                return name, json.loads(zf.read(name))
    raise SystemExit(f"{os.path.basename(whl)} carries no model price JSON")


# ----------------------------------------------------------------------------
# conversion


class Stats:
    def __init__(self):
        self.rounded = 0
        self.rounded_float_noise = 0
        self.rounded_examples = []
        self.skipped = collections.Counter()
        self.skipped_examples = []
        self.notes = collections.Counter()
        self.note_examples = collections.defaultdict(list)

    def note(self, kind: str, example: str):
        self.notes[kind] += 1
        if len(self.note_examples[kind]) < 5:
            self.note_examples[kind].append(example)


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def to_pico(x, where: str, stats: Stats):
    """USD per token (JSON number) -> integer pico-USD per token, rounded up."""
    if not is_number(x) or not math.isfinite(x):
        stats.skipped["non-numeric"] += 1
        stats.skipped_examples.append(f"{where}={x!r}")
        return None
    if x < 0:
        stats.skipped["negative"] += 1
        stats.skipped_examples.append(f"{where}={x!r}")
        return None
    # The float's intended decimal value: 15 significant digits drop binary noise such as
    # 1.0000000000000001e-07 (meant: 1e-07), which would otherwise round up a whole pico.
    exact = Decimal(format(x, ".15g")) * 10**12
    whole = exact.to_integral_value(rounding=ROUND_CEILING)
    if Decimal(repr(x)) * 10**12 != exact:
        stats.rounded_float_noise += 1
    if whole != exact:
        stats.rounded += 1
        if len(stats.rounded_examples) < 10:
            stats.rounded_examples.append(f"{where}: {x!r} -> {int(whole)}")
    return int(whole)


def to_count(x, where: str, stats: Stats):
    """A token count: int, or a float holding a whole number (2000000.0)."""
    if is_number(x) and math.isfinite(x) and x >= 0 and x == int(x):
        if isinstance(x, float):
            stats.note("token limit written as float, taken as int", f"{where}={x!r}")
        return int(x)
    stats.skipped["bad token limit"] += 1
    stats.skipped_examples.append(f"{where}={x!r}")
    return None


def token_tiers(entry: dict):
    """Base rows from tiered_pricing: list of (lo, {litellm key: value})."""
    rows = []
    tp = entry.get("tiered_pricing")
    if not isinstance(tp, list):
        return rows
    for item in tp:
        # Entries keyed by max_results_range etc. price search queries, not tokens.
        if not isinstance(item, dict) or "range" not in item:
            continue
        rng = item["range"]
        if not (isinstance(rng, list) and len(rng) == 2 and is_number(rng[0])):
            continue
        rows.append((rng[0], {k: v for k, v in item.items() if k in PRICE_MAP}))
    return rows


def has_token_price(entry: dict) -> bool:
    for key in ("input_cost_per_token", "output_cost_per_token"):
        if is_number(entry.get(key)):
            return True
    for _, prices in token_tiers(entry):
        for key in ("input_cost_per_token", "output_cost_per_token"):
            if is_number(prices.get(key)):
                return True
    return False


def convert(name: str, entry: dict, stats: Stats) -> dict:
    out = {"name": name}
    if isinstance(entry.get("litellm_provider"), str):
        out["provider"] = entry["litellm_provider"]
    mode = entry.get("mode")
    out["mode"] = mode if isinstance(mode, str) and mode else "chat"

    base_src = {k: entry[k] for k in PRICE_MAP if k in entry}
    tiers: dict[int, dict] = {}

    # (b) tiered_pricing: range [0, hi] is the base, range [lo, hi] a tier above lo.
    for lo, prices in token_tiers(entry):
        if lo == 0:
            for key, val in prices.items():
                if key not in base_src:
                    base_src[key] = val
                    stats.note("base price taken from tiered_pricing range 0",
                               f"{name}.{key}")
                elif base_src[key] != val:
                    stats.note("tiered_pricing range 0 differs from top-level (top-level kept)",
                               f"{name}.{key}: {base_src[key]!r} vs {val!r}")
            continue
        if lo < 0 or lo != int(lo):
            stats.note("tiered_pricing range with odd start ignored", f"{name}: {lo!r}")
            continue
        above = int(lo)
        for key, val in prices.items():
            field = PRICE_MAP[key]
            pico = to_pico(val, f"{name}.tiered_pricing[{above}].{key}", stats)
            if pico is not None:
                tiers.setdefault(above, {})[field] = pico

    # (a) explicit "<price>_above_<N>k_tokens" keys.
    for key in sorted(entry):
        m = TIER_KEY_RE.fullmatch(key)
        if not m:
            continue
        above = int(m.group(2)) * 1000
        field = PRICE_MAP[m.group(1)]
        pico = to_pico(entry[key], f"{name}.{key}", stats)
        if pico is None:
            continue
        tier = tiers.setdefault(above, {})
        if field in tier and tier[field] != pico:
            stats.note("tier given twice with different prices (higher kept)",
                       f"{name} above {above} {field}: {tier[field]} vs {pico}")
            pico = max(pico, tier[field])
        tier[field] = pico

    for key, field in PRICE_FIELDS:
        if key in base_src:
            pico = to_pico(base_src[key], f"{name}.{key}", stats)
            if pico is not None:
                out[field] = pico
    out.setdefault("input", 0)
    out.setdefault("output", 0)

    if "max_input_tokens" in entry:
        v = to_count(entry["max_input_tokens"], f"{name}.max_input_tokens", stats)
        if v is not None:
            out["max_input"] = v
    if "max_output_tokens" in entry:
        v = to_count(entry["max_output_tokens"], f"{name}.max_output_tokens", stats)
        if v is not None:
            out["max_output"] = v
    elif "max_tokens" in entry:
        mt = entry["max_tokens"]
        if is_number(mt) and math.isfinite(mt) and mt >= 0 and mt == int(mt):
            out["max_output"] = to_count(mt, f"{name}.max_tokens", stats)

    for above in sorted(tiers):
        for field in tiers[above]:
            if field not in out:
                stats.note("tier prices a field the base does not", f"{name} above {above}: {field}")

    tier_list = []
    for above in sorted(tiers):
        t = {"above": above}
        t.update(tiers[above])
        tier_list.append({k: t[k] for k in TIER_FIELD_ORDER if k in t})
    if tier_list:
        out["tiers"] = tier_list

    if isinstance(entry.get("deprecation_date"), str):
        out["deprecation_date"] = entry["deprecation_date"]
    return out


def is_model(name: str, entry) -> bool:
    return name != "sample_spec" and isinstance(entry, dict) and has_token_price(entry)


# ----------------------------------------------------------------------------
# output


def render(source: dict, models: list) -> str:
    def dump(obj):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)

    lines = [
        '{"schema_version":1,',
        f'"source":{dump(source)},',
        '"units":"pico-USD per token",',
        '"models":[',
    ]
    ordered = [dump({k: m[k] for k in MODEL_FIELD_ORDER if k in m}) for m in models]
    lines.append(",\n".join(ordered))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latest", help="litellm release to take as current "
                    "(default: newest release pip finds)")
    ap.add_argument("--cache", help="directory keeping downloaded wheels "
                    "(default: a temporary directory, removed afterwards)")
    ap.add_argument("--date", help="retrieval date written to the file, YYYY-MM-DD "
                    "(default: today)")
    ap.add_argument("--out", default=os.path.join(here, "prices.json"),
                    help="output file (default: pricing/prices.json)")
    ap.add_argument("--verbose", action="store_true", help="print more examples")
    args = ap.parse_args(argv)

    date = args.date or datetime.date.today().isoformat()
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        raise SystemExit(f"--date must be YYYY-MM-DD, got {date!r}")

    tmp = None
    if args.cache:
        cache = os.path.expanduser(args.cache)
        os.makedirs(cache, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="wflo-pricing-")
        cache = tmp.name
    try:
        latest = args.latest or resolve_latest(cache)
        print(f"latest: {PACKAGE} {latest}", file=sys.stderr)
        older = sorted({v for v in OLDER_RELEASES if version_key(v) < version_key(latest)},
                       key=version_key)
        latest_file, latest_data = load_release(cache, latest)
        releases = {}
        for v in older:
            releases[v] = load_release(cache, v)[1]
    finally:
        if tmp is not None:
            tmp.cleanup()

    stats = Stats()
    models = {}
    for name, entry in latest_data.items():
        if is_model(name, entry):
            models[name] = convert(name, entry, stats)
    n_current = len(models)

    # Deprecated: gone from the latest release; take the newest older entry.
    seen_old = set()
    n_no_price = 0
    for v in reversed(older):
        for name, entry in releases[v].items():
            if name in latest_data or name in seen_old or name == "sample_spec":
                continue
            seen_old.add(name)
            if not is_model(name, entry):
                n_no_price += 1
                continue
            m = convert(name, entry, stats)
            m["deprecated"] = True
            m["last_seen"] = v
            models[name] = m
    n_deprecated = len(models) - n_current

    source = {
        "name": "LiteLLM model_prices_and_context_window.json",
        "package": PACKAGE,
        "version": latest,
        "file": latest_file,
        "license": "MIT",
        "url": "https://github.com/BerriAI/litellm",
        "retrieved": date,
        "older_releases_merged": older,
    }
    ordered = [models[k] for k in sorted(models)]
    text = render(source, ordered)
    json.loads(text)  # must stay valid JSON
    with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)

    n_tiers = sum(1 for m in ordered if "tiers" in m)
    n_tier_rows = sum(len(m.get("tiers", [])) for m in ordered)
    report = [
        f"wrote {args.out} ({len(text.encode())} bytes)",
        f"models: {len(ordered)} ({n_current} current in {latest}, "
        f"{n_deprecated} deprecated from {len(older)} older releases)",
        f"models with tiers: {n_tiers} ({n_tier_rows} tier rows)",
        f"prices rounded up to whole pico-USD: {stats.rounded}; "
        f"float noise removed (e.g. 1.0000000000000001e-07 read as 1e-07): {stats.rounded_float_noise}",
        f"fields skipped: {sum(stats.skipped.values())} {dict(stats.skipped)}",
        f"dropped models (no token price in newest release carrying them): {n_no_price}",
    ]
    for kind, count in sorted(stats.notes.items()):
        report.append(f"note: {kind}: {count}")
    limit = None if args.verbose else 3
    for kind in sorted(stats.note_examples):
        for ex in stats.note_examples[kind][:limit]:
            report.append(f"  e.g. [{kind}] {ex}")
    for ex in stats.rounded_examples[:limit]:
        report.append(f"  e.g. [rounded] {ex}")
    for ex in stats.skipped_examples[:limit]:
        report.append(f"  e.g. [skipped] {ex}")
    print("\n".join(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
