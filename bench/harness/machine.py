"""What machine and which versions a run measured: CPU, cores, memory, OS, load, and the version
of every contender and toolchain (RESULTS.md prints them above the figures)."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import subprocess
from pathlib import Path

PY_PACKAGES = ["wflo", "litellm", "tokencost", "tiktoken", "langgraph-checkpoint", "langgraph-checkpoint-sqlite",
               "langgraph-checkpoint-postgres", "psycopg", "langchain-core"]
NODE_PACKAGES = ["js-tiktoken", "gpt-tokenizer"]


def first_line(argv: list[str], cwd: Path | None = None) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=cwd)
        return (r.stdout or r.stderr).strip().splitlines()[0] if r.returncode == 0 else "—"
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "—"


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    os_name = "—"
    if Path("/etc/os-release").exists():
        m = re.search(r'^PRETTY_NAME="?([^"\n]+)', Path("/etc/os-release").read_text(), re.M)
        os_name = m.group(1) if m else os_name
    return {
        "CPU": model.group(1) if model else platform.processor() or "—",
        "cores (nproc)": str(len(os.sched_getaffinity(0))),
        "memory": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "—",
        "OS": f"{os_name}, Linux {platform.release()}",
    }


def versions(root: Path, pg_bin: str | None, node_modules: str | None) -> dict[str, str]:
    cargo_toml = (root / "Cargo.toml").read_text()
    wflo = re.search(r'^version\s*=\s*"([^"]+)"', cargo_toml, re.M)
    out = {
        "wflo": f"{wflo.group(1) if wflo else '?'} ({first_line(['git', 'describe', '--always', '--dirty'], root)})",
        "rustc": first_line(["rustc", "-V"]),
        "gcc": first_line(["gcc", "--version"]),
        "go": first_line(["go", "version"]),
        "node": first_line(["node", "--version"]),
        "Python": platform.python_version(),
        "SQLite (Python's sqlite3)": __import__("sqlite3").sqlite_version,
    }
    lock = (root / "Cargo.lock").read_text()
    m = re.search(r'name = "libsqlite3-sys"\nversion = "([^"]+)"', lock)
    if m:
        out["SQLite (rusqlite, bundled)"] = f"libsqlite3-sys {m.group(1)}"
    if pg_bin:
        out["PostgreSQL"] = first_line([os.path.join(pg_bin, "postgres"), "--version"])
    for p in PY_PACKAGES:
        try:
            out[f"{p} (PyPI)"] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[f"{p} (PyPI)"] = "not installed"
    for p in NODE_PACKAGES:
        f = Path(node_modules or "/nonexistent") / "node_modules" / p / "package.json"
        out[f"{p} (npm)"] = json.loads(f.read_text())["version"] if f.exists() else "not installed"
    return out
