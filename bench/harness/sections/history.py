"""6. Growth with history: the commands people run against a store that has been in use for
months stay fast — `wflo executions`, `wflo show`, the breakdown, `wflo report`, `wflo serve`'s
execution list, checkpoint list and rollback — and a tracked call is as fast as on an empty store.

The stores (SQLite, and PostgreSQL in a server of our own whose data directory is kept) are
filled by bench/history/generate.py at the current schema: WFLO_BENCH_HISTORY_EXECUTIONS
executions (default 1,000,000) with WFLO_BENCH_HISTORY_CALLS call records (20,000,000) and one
execution with WFLO_BENCH_HISTORY_CHECKPOINTS checkpoints (100,000), under
WFLO_BENCH_HISTORY_DIR (/tmp/wflo-history). They are reused while the scale is the same (a
store takes minutes to fill and gigabytes of disk: delete the directory to reclaim it).

CLI commands are timed as whole processes (wall time, median of the rounds, after one unmeasured
run); serve's list as HTTP requests to a running `wflo serve`; the engine's paths in-process by
core/examples/history_bench.rs. The section prints the plan of every statement behind them
(EXPLAIN QUERY PLAN in SQLite, EXPLAIN ANALYZE in PostgreSQL) and fails the goal on a full scan
of a table that grows with history.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Optional

from ..build import Env, step
from ..section import Goal, Section, table

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "history"))
import pgserver  # noqa: E402

LIMIT_MS = 100.0
TRACKED_CALLS = 5000
# "No slower than on an empty store", with room for a shared machine's noise.
TRACKED_SLACK = 1.15


def scale() -> tuple[int, int, int]:
    g = lambda k, d: int(os.environ.get(f"WFLO_BENCH_HISTORY_{k}", d))  # noqa: E731
    return g("EXECUTIONS", 1_000_000), g("CALLS", 20_000_000), g("CHECKPOINTS", 100_000)


def log(msg: str) -> None:
    print(f"  history: {msg}", file=sys.stderr, flush=True)


def generated(wflo: str, kind: str, target: str, marker: Path, n: int, m: int, k: int) -> dict:
    """The generator's summary, generating the store first unless the marker says it is there."""
    if marker.exists():
        return json.loads(marker.read_text())
    log(f"generating the {kind} store ({n:,} executions, {m:,} calls, {k:,} checkpoints) …")
    out = subprocess.run([sys.executable, "bench/history/generate.py", "--wflo", wflo, "--executions", str(n),
                          "--calls", str(m), "--checkpoints", str(k), kind, target],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out.strip().splitlines()[-1])
    marker.write_text(json.dumps(info))
    log(f"generated in {info['seconds']:.0f} s")
    return info


def wall(argv: list[str], runs: int) -> float:
    """Median wall ms of a command (one unmeasured run first)."""
    times = []
    for r in range(runs + 1):
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        if r:
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def get_ms(url: str, runs: int) -> float:
    times = []
    for r in range(runs + 1):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as resp:
            resp.read()
        if r:
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def serve(wflo: str, url: str, exec_id: str, runs: int) -> dict:
    """serve's execution list (the API and the page) and one execution, over HTTP."""
    proc = subprocess.Popen([wflo, "serve", "--db", url, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        t = time.perf_counter()
        first = proc.stdout.readline()
        port = re.search(r":(\d+)", first)
        if not port:
            raise RuntimeError(f"serve said {first!r}")
        base = f"http://127.0.0.1:{port.group(1)}"
        with urllib.request.urlopen(f"{base}/api/executions?limit=1", timeout=600) as resp:
            resp.read()
        ready = (time.perf_counter() - t) * 1e3
        return {"serve_ready_ms": ready,
                "serve_api_list_ms": get_ms(f"{base}/api/executions?limit=100", runs),
                "serve_page_ms": get_ms(f"{base}/", runs),
                "serve_api_execution_ms": get_ms(f"{base}/api/executions/{exec_id}", runs)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def engine_paths(env: Env, url: str, info: Optional[dict], runs: int) -> dict:
    exe = str(env.target / "release" / "examples" / "history_bench")
    args = [info["exec_id"], info["checkpoint_exec_id"], str(info["checkpoints"])] if info else ["-", "-", "0"]
    out = subprocess.run([exe, url, *args, str(TRACKED_CALLS), str(runs)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# The statements behind the commands, as core/src/store/{sqlite,postgres} issue them.
def sqlite_plans(path: str, info: dict) -> list[tuple[str, list[str]]]:
    e, cp = info["exec_id"], info["checkpoint_exec_id"]
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rowid = db.execute("SELECT rowid FROM workflow_executions WHERE id = ?", (cp,)).fetchone()[0]
    lo, hi = rowid << 32, (rowid << 32) | 0xFFFFFFFF
    # A rollback as the benchmark makes them: 100 checkpoints back from the latest live one.
    live = db.execute("SELECT MAX(sequence) FROM checkpoints WHERE id BETWEEN ? AND ? AND superseded = 0 AND "
                      "name LIKE 'cp-%'", (lo, hi)).fetchone()[0] or 1
    back = max(1, live - 100)
    qs = [
        ("list executions", "SELECT * FROM workflow_executions ORDER BY created_at_ms DESC, id LIMIT 100", ()),
        ("one execution", "SELECT * FROM workflow_executions WHERE id = ?", (e,)),
        ("its calls (show, breakdown, report)", "SELECT * FROM llm_calls WHERE execution_id = ? ORDER BY seq", (e,)),
        ("its rollbacks", "SELECT * FROM checkpoint_rollbacks WHERE execution_id = ? ORDER BY id", (e,)),
        ("breakers during it", "SELECT * FROM breaker_transitions WHERE (?1 IS NULL OR breaker = ?1) AND "
         "(?2 IS NULL OR at_ms >= ?2) AND (?3 IS NULL OR at_ms <= ?3) ORDER BY id DESC LIMIT 50", (None, 0, None)),
        ("tracked call: next seq", "SELECT COALESCE(MAX(seq), 0) + 1 FROM llm_calls WHERE execution_id = ?", (e,)),
        ("checkpoint list", "SELECT * FROM checkpoints WHERE id BETWEEN ? AND ? ORDER BY id", (lo, hi)),
        ("checkpoint save: next id", "SELECT COALESCE(MAX(id), ?1) + 1, (SELECT id FROM checkpoints WHERE id "
         "BETWEEN ?1 AND ?2 AND superseded = 0 ORDER BY id DESC LIMIT 1) FROM checkpoints WHERE id BETWEEN ?1 AND ?2",
         (lo, hi)),
        ("rollback: target", "SELECT * FROM checkpoints WHERE id BETWEEN ? AND ? AND name = ? AND superseded = 0 "
         "ORDER BY id DESC LIMIT 1", (lo, hi, f"cp-{back}")),
        ("rollback: supersede", "UPDATE checkpoints SET superseded = 1 WHERE id > ? AND id <= ? AND superseded = 0",
         (lo | back, hi)),
    ]
    out = [(name, [r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]) for name, sql, params in qs]
    db.close()
    return out


def pg_plans(url: str, info: dict) -> list[tuple[str, list[str]]]:
    e, cp = info["exec_id"], info["checkpoint_exec_id"]
    # A rollback as the benchmark makes them: 100 checkpoints back from the latest live one.
    live = subprocess.run(["psql", "-X", "-qAt", url, "-c", f"SELECT MAX(sequence) FROM checkpoints WHERE "
                           f"execution_id = '{cp}' AND NOT superseded AND name LIKE 'cp-%'"],
                          capture_output=True, text=True, check=True).stdout.strip()
    back = max(1, int(live or 1) - 100)
    qs = [
        ("list executions", "SELECT * FROM workflow_executions ORDER BY created_at_ms DESC, id LIMIT 100"),
        ("one execution", f"SELECT * FROM workflow_executions WHERE id = '{e}'"),
        ("its calls (show, breakdown, report)", f"SELECT * FROM llm_calls WHERE execution_id = '{e}' ORDER BY seq"),
        ("its rollbacks", f"SELECT * FROM checkpoint_rollbacks WHERE execution_id = '{e}' ORDER BY id"),
        ("breakers during it", "SELECT * FROM breaker_transitions WHERE (NULL::TEXT IS NULL OR breaker = NULL) AND "
         "(0::BIGINT IS NULL OR at_ms >= 0) AND (NULL::BIGINT IS NULL OR at_ms <= NULL) ORDER BY id DESC LIMIT 50"),
        ("tracked call: next seq", f"SELECT COALESCE(MAX(seq), 0) + 1 FROM llm_calls WHERE execution_id = '{e}'"),
        ("checkpoint list", f"SELECT id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, "
         f"superseded, state_bytes FROM checkpoints WHERE execution_id = '{cp}' ORDER BY sequence"),
        # The reads of a save's INSERT (store/postgres.rs, CHECKPOINT_SQL): the latest checkpoint,
        # and after a rollback the parent, from the execution's rollbacks.
        ("checkpoint save: latest", f"SELECT id, sequence, superseded FROM checkpoints WHERE execution_id = '{cp}' "
         "ORDER BY sequence DESC LIMIT 1"),
        ("checkpoint save after a rollback: parent", "SELECT c.id FROM checkpoint_rollbacks r CROSS JOIN LATERAL "
         "(SELECT id, sequence FROM checkpoints WHERE id = r.checkpoint_id AND NOT superseded LIMIT 1) c "
         f"WHERE r.execution_id = '{cp}' ORDER BY c.sequence DESC LIMIT 1"),
        ("rollback: target", f"SELECT * FROM checkpoints WHERE execution_id = '{cp}' AND name = 'cp-{back}' AND NOT "
         "superseded ORDER BY sequence DESC LIMIT 1"),
        ("rollback: supersede", f"UPDATE checkpoints SET superseded = TRUE WHERE execution_id = '{cp}' AND "
         f"sequence > {back} AND NOT superseded"),
    ]
    out = []
    for name, sql in qs:
        # ANALYZE runs the statement: the UPDATE inside a transaction rolled back.
        script = f"BEGIN;\nEXPLAIN (ANALYZE, COSTS OFF) {sql};\nROLLBACK;\n"
        text = subprocess.run(["psql", "-X", "-qAt", url], input=script, text=True, capture_output=True,
                              check=True).stdout
        out.append((name, [line for line in text.splitlines() if line.strip()]))
    return out


# A full scan of a table that grows with history (executions, calls, checkpoints, rollbacks).
GROWING = r"(workflow_executions|llm_calls|checkpoints|checkpoint_rollbacks)"


def full_scans(kind: str, plans: list[tuple[str, list[str]]]) -> list[str]:
    bad = []
    for name, lines in plans:
        for line in lines:
            if kind == "SQLite" and re.match(rf"\s*SCAN {GROWING}\b", line) and "INDEX" not in line:
                bad.append(f"{name}: {line.strip()}")
            if kind == "PostgreSQL" and re.search(rf"Seq Scan on {GROWING}\b", line):
                # The planner reads a small table whole rather than through an index, rightly:
                # a scan counts when it reads past many rows it does not want.
                after = lines[lines.index(line) + 1:][:3]
                removed = [int(x) for a in after for x in re.findall(r"Rows Removed by Filter: (\d+)", a)]
                if not removed or max(removed) >= 1000:
                    bad.append(f"{name}: {line.strip()}")
    return bad


ROWS = [
    # (label, key, has a 100 ms goal)
    ("`wflo executions` (process)", "cli_executions_ms", True),
    ("`wflo show ID` (process)", "cli_show_ms", True),
    ("`wflo show ID --json` (process, with the breakdown)", "cli_show_json_ms", True),
    ("`wflo report ID --html` (process)", "cli_report_ms", True),
    ("`wflo checkpoints CP` (process, prints every checkpoint)", "cli_checkpoints_ms", False),
    ("serve: GET /api/executions?limit=100", "serve_api_list_ms", True),
    ("serve: GET / (the execution list page)", "serve_page_ms", True),
    ("serve: GET /api/executions/ID", "serve_api_execution_ms", True),
    ("serve: start to first answer (first poll reads 10,000 executions' calls)", "serve_ready_ms", False),
    ("engine: list_executions(100)", "list_executions_ms", True),
    ("engine: execution(ID)", "execution_ms", True),
    ("engine: calls(ID)", "calls_ms", True),
    ("engine: breakdown(ID)", "breakdown_ms", True),
    ("engine: checkpoints of the execution with many (list)", "checkpoint_list_ms", True),
    ("engine: checkpoint save on it", "checkpoint_save_ms", True),
    ("engine: rollback on it (each supersedes 100)", "rollback_ms", True),
    ("engine: its rollbacks", "rollbacks_ms", True),
]


def measure(env: Env, kind: str, url: str, target: str, info: dict, empty_url: str, runs: int) -> dict:
    wflo = str(env.target / "release" / "wflo")
    e, cp = info["exec_id"], info["checkpoint_exec_id"]
    html = Path(tempfile.mkdtemp(prefix="wflo-history-")) / "report.html"
    f = {
        "cli_executions_ms": wall([wflo, "executions", "--db", url], runs),
        "cli_show_ms": wall([wflo, "show", e, "--db", url], runs),
        "cli_show_json_ms": wall([wflo, "show", e, "--db", url, "--json"], runs),
        "cli_report_ms": wall([wflo, "report", e, "--db", url, "--html", str(html)], runs),
        "cli_checkpoints_ms": wall([wflo, "checkpoints", cp, "--db", url], max(1, runs // 2)),
    }
    shutil.rmtree(html.parent, ignore_errors=True)
    f.update(serve(wflo, url, e, runs))
    f.update(engine_paths(env, url, info, runs))
    # The tracked call again, alternating this store and an empty one, a process each: the
    # comparison is of medians over the rounds, so one noisy process does not decide it.
    pairs = [(engine_paths(env, url, None, 1), engine_paths(env, empty_url, None, 1)) for _ in range(runs)]
    for metric in ("tracked_call_p50_us", "tracked_call_mean_with_flush_us"):
        f[metric] = statistics.median(big[metric] for big, _ in pairs)
        f[f"empty_{metric}"] = statistics.median(empty[metric] for _, empty in pairs)
    f["plans"] = sqlite_plans(target, info) if kind == "SQLite" else pg_plans(url, info)
    f["full_scans"] = full_scans(kind, f["plans"])
    return f


def build(env: Env) -> bool:
    return step(env, "history", [
        (["cargo", "build", "-q", "--release", "-p", "wflo-cli"], {}),
        (["cargo", "build", "-q", "--release", "-p", "wflo-core", "--example", "history_bench"], {}),
    ])


def run(env: Env, rounds: int) -> Section:
    n, m, k = scale()
    root = Path(os.environ.get("WFLO_BENCH_HISTORY_DIR", "/tmp/wflo-history"))
    root.mkdir(parents=True, exist_ok=True)
    key = f"{n}-{m}-{k}"
    results: dict[str, dict] = {}
    missing: dict[str, str] = {}
    if "history" not in env.built and not build(env):
        missing["SQLite"] = missing["PostgreSQL"] = env.missing["history"]
    else:
        env.built["history"] = env.target / "release" / "wflo"
    wflo = str(env.target / "release" / "wflo")
    if "SQLite" not in missing:
        path = root / f"sqlite-{key}.db"
        try:
            if not Path(f"{path}.json").exists():  # a store left half-filled starts again
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            info = generated(wflo, "sqlite", str(path), Path(f"{path}.json"), n, m, k)
            empty = root / "sqlite-empty.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{empty}{suffix}").unlink(missing_ok=True)
            results["SQLite"] = {**measure(env, "SQLite", f"sqlite://{path}", str(path), info, f"sqlite://{empty}",
                                           rounds), "info": info, "bytes": sum(p.stat().st_size for p in
                                                                               root.glob(f"sqlite-{key}.db*"))}
        except (subprocess.CalledProcessError, RuntimeError, OSError) as err:
            missing["SQLite"] = f"failed: {err}"
    if pgserver.pg_bin() is None:
        missing["PostgreSQL"] = "no PostgreSQL server under /usr/lib/postgresql/*/bin"
    elif "PostgreSQL" not in missing:
        pgdir = root / "pg"
        try:
            server = pgserver.start(pgdir)
            try:
                base = server.rsplit("/", 1)[0]
                db = f"h_{key.replace('-', '_')}"
                fresh = ["empty"] + ([] if (pgdir / f"{db}.json").exists() else [db])
                for name in fresh:
                    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
                        subprocess.run(["psql", "-X", "-q", f"{base}/postgres", "-c", sql], check=True,
                                       stdout=subprocess.DEVNULL)
                url = f"{base}/{db}"
                info = generated(wflo, "postgres", url, pgdir / f"{db}.json", n, m, k)
                size = subprocess.run(["psql", "-X", "-qAt", url, "-c", "SELECT pg_database_size(current_database())"],
                                      capture_output=True, text=True, check=True).stdout.strip()
                results["PostgreSQL"] = {**measure(env, "PostgreSQL", url, url, info, f"{base}/empty", rounds),
                                         "info": info, "bytes": int(size)}
            finally:
                pgserver.stop(pgdir)
        except (subprocess.CalledProcessError, RuntimeError, OSError) as err:
            missing["PostgreSQL"] = f"failed: {err}"
    return section(results, missing, rounds, n, m, k)


def fmt(x: Optional[float], goal: bool) -> str:
    if x is None:
        return "—"
    text = f"{x:.1f}" if x < 100 else f"{x:,.0f}"
    return f"**{text}**" if goal and x >= LIMIT_MS else text


def section(results: dict, missing: dict, rounds: int, n: int, m: int, k: int) -> Section:
    stores = ["SQLite", "PostgreSQL"]
    rows = []
    for label, key, goal in ROWS:
        rows.append([label, *(fmt(results[s].get(key), goal) if s in results else missing.get(s, "—")
                              for s in stores), "< 100 ms" if goal else "(shown)"])
    for label, big, small in (("tracked call p50 µs: this store / empty store", "tracked_call_p50_us",
                               "empty_tracked_call_p50_us"),
                              ("tracked call µs incl. writing the records: this store / empty store",
                               "tracked_call_mean_with_flush_us", "empty_tracked_call_mean_with_flush_us")):
        rows.append([label, *(f"{results[s][big]:.2f} / {results[s][small]:.2f}" if s in results else "—"
                              for s in stores), f"≤ {TRACKED_SLACK}× empty"])
    plans = []
    for s in stores:
        if s not in results:
            continue
        plans.append(f"{s} ({'EXPLAIN QUERY PLAN' if s == 'SQLite' else 'EXPLAIN (ANALYZE, COSTS OFF)'}):")
        for name, lines in results[s]["plans"]:
            plans.append(f"  {name}")
            plans += [f"    {line}" for line in lines]
    plan_text = "\n".join(plans)
    print(plan_text, file=sys.stderr)
    slow = [f"{s} {label}" for s in results for label, key, goal in ROWS
            if goal and results[s].get(key) is not None and results[s][key] >= LIMIT_MS]
    scans = [f"{s} {x}" for s in results for x in results[s]["full_scans"]]
    ratios = {s: results[s]["tracked_call_p50_us"] / results[s]["empty_tracked_call_p50_us"] for s in results}
    measured = bool(results) and not missing
    sizes = "; ".join(f"{s} {results[s]['bytes'] / 1e9:.1f} GB" for s in results)
    goals = [
        Goal(f"History ({n:,} executions, {m:,} calls): every command and list < 100 ms, no full scans",
             ("slowest: " + ", ".join(slow) if slow else "all under 100 ms")
             + ("; full scans: " + "; ".join(scans) if scans else "; no full scans")
             + ("" if not missing else "; not measured: " + ", ".join(missing)),
             (not slow and not scans) if measured else None),
        Goal("A tracked call on that store no slower than on an empty one",
             ", ".join(f"{s} {r:.2f}× (p50)" for s, r in ratios.items()) or "not measured",
             all(r <= TRACKED_SLACK for r in ratios.values()) if measured else None),
    ]
    cores = len(os.sched_getaffinity(0))
    return Section(
        "history", "6. Growth with history",
        f"Milliseconds (median of {rounds} runs after one unmeasured run) on stores holding {n:,} executions, "
        f"{m:,} call records ({m // max(n, 1)} per execution) and one execution with {k:,} checkpoints, generated by "
        f"bench/history/generate.py. Processes are timed whole (start, open the store, read, print); serve's pages "
        f"over HTTP on loopback; the engine's paths in-process (core/examples/history_bench.rs). Bold: over "
        f"100 ms. A tracked call: reserve + settle, {TRACKED_CALLS:,} in a new execution, on the same store and on "
        f"an empty one.",
        table(["", *stores, "goal"], rows) + "\n\n<details><summary>Query plans</summary>\n\n```\n" + plan_text
        + "\n```\n</details>",
        notes=[f"Store sizes: {sizes or 'not measured'}. PostgreSQL: a server of the section's own (fsync off, "
               "loopback), data kept under WFLO_BENCH_HISTORY_DIR between runs at the same scale; VACUUM ANALYZE "
               "after filling. SQLite: WAL, no ANALYZE (as the engine leaves it).",
               f"The machine has {cores} cores shared with other work: absolute figures are noisy.",
               "serve's first poll reads the calls of the 10,000 most recent executions (its /metrics and "
               "alerts), so it starts in the time shown; later polls read only what changed."],
        goals=goals,
        raw={s: {key: v for key, v in r.items() if key != "plans"} | {"plans": r["plans"]} for s, r in results.items()}
        | {"missing": missing})
