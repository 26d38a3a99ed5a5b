#!/usr/bin/env python3
"""Fills a wflo store with a long history for the "growth with history" benchmark
(bench/harness/sections/history.py): N executions with M call records spread evenly over them,
a rollback every 100 executions, three checkpoints in every tenth, and one more execution
holding K checkpoints.

  generate.py --wflo PATH/TO/wflo [--executions 1000000] [--calls 20000000] [--checkpoints 100000]
              sqlite FILE | postgres URL

The store is first opened with `wflo executions --db …`, so the engine's migrations create the
current schema; the rows are then inserted in bulk by the database itself (a recursive CTE in
SQLite, generate_series in PostgreSQL), a few statements in all — minutes for the full scale,
where inserting rows one by one through a driver would take hours. The rows follow the tables
in migrations/{sqlite,postgres}: generated execution ids are `exec-0b…` (12 hex digits), in
creation order; SQLite checkpoint ids are (rowid of the execution << 32) | sequence, as
core/src/store/sqlite/checkpoints.rs makes them. Prints one JSON line naming the execution the
benchmark reads (the middle one) and the one with the checkpoints (named cp-1 … cp-K).
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time

ID_OFFSET = 0x0B0000000000  # generated ids: exec-0b0000000001 …
COST = 375_000  # gpt-4o-mini, 1,000 in + 200 cache read + 350 out, in nano-USD


def exec_id(i: int) -> str:
    return f"exec-{ID_OFFSET + i:012x}"


def migrate(wflo: str, url: str) -> None:
    subprocess.run([wflo, "executions", "--db", url, "--limit", "1"], check=True, stdout=subprocess.DEVNULL)


def sqlite(path: str, n: int, per: int, k: int, base: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    # No journal while filling (a WAL would grow to the size of the data): the file is
    # scratch until this finishes; WAL again at the end, as the engine keeps it.
    db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000; "
                     "PRAGMA temp_store = MEMORY;")
    p = {"n": n, "per": per, "off": ID_OFFSET, "base": base, "cost": COST, "k": k}
    db.execute("BEGIN")
    db.execute(
        "WITH RECURSIVE e(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM e WHERE i < :n) "
        "INSERT INTO workflow_executions (id, name, status, budget_nanos, spent_nanos, overrun_nanos, calls, "
        "created_at_ms, updated_at_ms, finished_at_ms) "
        "SELECT printf('exec-%012x', :off + i), 'agent-' || (i % 50), "
        "CASE WHEN i % 97 = 0 THEN 'failed' WHEN i % 89 = 0 THEN 'budget_exceeded' ELSE 'completed' END, "
        "CASE WHEN i % 3 = 0 THEN 5000000000 END, :per * :cost, 0, :per, :base + i * 1000, "
        ":base + i * 1000 + 60000, :base + i * 1000 + 60000 FROM e", p)
    print(f"  executions: {time.time() - T0:.0f} s", file=sys.stderr, flush=True)
    # CROSS JOIN keeps e the outer loop: rows arrive in (execution_id, seq) order, so the
    # primary key's b-tree is appended to rather than split all over.
    db.execute(
        "WITH RECURSIVE e(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM e WHERE i < :n), "
        "s(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM s WHERE j < :per) "
        "INSERT INTO llm_calls (execution_id, seq, step, provider, requested_model, model, input_tokens, "
        "output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, "
        "cost_nanos, reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms, "
        "started_at_ms, finished_at_ms, attempt, retry_reason) "
        "SELECT printf('exec-%012x', :off + i), j, 'step-' || (j % 5), 'openai', 'gpt-4o-mini', "
        "'gpt-4o-mini-2024-07-18', 1000, 350, 200, 0, 0, 0, :cost, 400000, 0, 0, 0, 0, "
        "CASE WHEN (i + j) % 211 = 0 THEN 'error' ELSE 'ok' END, NULL, 800, :base + i * 1000 + j * 100, "
        ":base + i * 1000 + j * 100 + 800, 1, NULL FROM e CROSS JOIN s", p)
    print(f"  calls: {time.time() - T0:.0f} s", file=sys.stderr, flush=True)
    db.execute(
        "WITH RECURSIVE e(i) AS (SELECT 100 UNION ALL SELECT i + 100 FROM e WHERE i + 100 <= :n) "
        "INSERT INTO checkpoint_rollbacks (execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, "
        "at_ms) SELECT printf('exec-%012x', :off + i), NULL, 'plan', 1, :cost, :base + i * 1000 + 30000 FROM e", p)
    # Three checkpoints in every tenth execution: the big one's are not the whole table.
    db.execute(
        "WITH s(j) AS (VALUES (1), (2), (3)) "
        "INSERT INTO checkpoints (id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, "
        "superseded, state, state_encoding, state_bytes) "
        "SELECT (w.rowid << 32) | j, w.id, CASE j WHEN 1 THEN 'plan' WHEN 2 THEN 'draft' ELSE 'final' END, j, "
        "CASE WHEN j > 1 THEN (w.rowid << 32) | (j - 1) END, w.spent_nanos * j / 3, w.created_at_ms + j * 10000, 0, "
        "CAST('{\"documents\":[]}' AS BLOB), 'json', 16 FROM workflow_executions w CROSS JOIN s "
        "WHERE w.id BETWEEN 'exec-0b' AND 'exec-0c' AND w.rowid % 10 = 0", p)
    cp = exec_id(n + 1)
    db.execute(
        "INSERT INTO workflow_executions (id, name, status, spent_nanos, overrun_nanos, calls, created_at_ms, "
        "updated_at_ms, finished_at_ms) VALUES (?, 'long-running', 'completed', 0, 0, 0, ?, ?, ?)",
        (cp, base + (n + 1) * 1000, base + (n + 1) * 1000 + 60000, base + (n + 1) * 1000 + 60000))
    rowid = db.execute("SELECT rowid FROM workflow_executions WHERE id = ?", (cp,)).fetchone()[0]
    db.execute(
        "WITH RECURSIVE s(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM s WHERE j < :k) "
        "INSERT INTO checkpoints (id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, "
        "superseded, state, state_encoding, state_bytes) "
        "SELECT (:lo | j), :cp, 'cp-' || j, j, CASE WHEN j > 1 THEN (:lo | (j - 1)) END, 0, :base + j, 0, "
        "CAST('{\"step\":' || j || '}' AS BLOB), 'json', length('{\"step\":' || j || '}') FROM s",
        {**p, "lo": rowid << 32, "cp": cp})
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()


def postgres(url: str, n: int, per: int, k: int, base: int) -> None:
    off, hexid = ID_OFFSET, "'exec-' || lpad(to_hex({off}::bigint + {i}), 12, '0')"
    e = hexid.format(off=off, i="i")
    cp = exec_id(n + 1)
    sql = f"""
\\set ON_ERROR_STOP on
\\timing on
-- Foreign keys are not checked row by row while filling (the rows are consistent by construction).
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
INSERT INTO workflow_executions (id, name, status, budget_nanos, spent_nanos, overrun_nanos, calls,
    created_at_ms, updated_at_ms, finished_at_ms)
SELECT {e}, 'agent-' || (i % 50),
    CASE WHEN i % 97 = 0 THEN 'failed' WHEN i % 89 = 0 THEN 'budget_exceeded' ELSE 'completed' END,
    CASE WHEN i % 3 = 0 THEN 5000000000 END, {per} * {COST}, 0, {per}, {base} + i * 1000,
    {base} + i * 1000 + 60000, {base} + i * 1000 + 60000
FROM generate_series(1, {n}) i;
INSERT INTO llm_calls (execution_id, seq, step, provider, requested_model, model, input_tokens,
    output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens,
    cost_nanos, reserved_nanos, overrun_nanos, estimated, usage_missing, stream, status, error, latency_ms,
    started_at_ms, finished_at_ms, attempt, retry_reason)
SELECT {e}, j, 'step-' || (j % 5), 'openai', 'gpt-4o-mini', 'gpt-4o-mini-2024-07-18', 1000, 350, 200, 0, 0, 0,
    {COST}, 400000, 0, false, false, false, CASE WHEN (i + j) % 211 = 0 THEN 'error' ELSE 'ok' END, NULL, 800,
    {base} + i * 1000 + j * 100, {base} + i * 1000 + j * 100 + 800, 1, NULL
FROM generate_series(1, {n}) i CROSS JOIN LATERAL generate_series(1, {per}) j;
INSERT INTO checkpoint_rollbacks (execution_id, checkpoint_id, checkpoint_name, superseded, spent_nanos, at_ms)
SELECT {e}, NULL, 'plan', 1, {COST}, {base} + i * 1000 + 30000 FROM generate_series(100, {n}, 100) i;
-- Three checkpoints in every tenth execution: the big one's are not the whole table.
INSERT INTO checkpoints (id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, superseded,
    state, state_encoding, state_bytes)
SELECT lo + (i / 10 - 1) * 3 + j, {e}, CASE j WHEN 1 THEN 'plan' WHEN 2 THEN 'draft' ELSE 'final' END, j,
    CASE WHEN j > 1 THEN lo + (i / 10 - 1) * 3 + j - 1 END, {per} * {COST} * j / 3, {base} + i * 1000 + j * 10000,
    false, convert_to('{{"documents":[]}}', 'UTF8'), 'json', 16
FROM (SELECT COALESCE(MAX(id), 0) AS lo FROM checkpoints) f, generate_series(10, {n}, 10) i,
    generate_series(1, 3) j;
INSERT INTO workflow_executions (id, name, status, spent_nanos, overrun_nanos, calls, created_at_ms,
    updated_at_ms, finished_at_ms)
VALUES ('{cp}', 'long-running', 'completed', 0, 0, 0, {base + (n + 1) * 1000}, {base + (n + 1) * 1000 + 60000},
    {base + (n + 1) * 1000 + 60000});
CREATE TEMP TABLE first_id AS SELECT COALESCE(MAX(id), 0) AS lo FROM checkpoints;
INSERT INTO checkpoints (id, execution_id, name, sequence, parent_id, spent_nanos, created_at_ms, superseded,
    state, state_encoding, state_bytes)
SELECT lo + j, '{cp}', 'cp-' || j, j, CASE WHEN j > 1 THEN lo + j - 1 END, 0, {base} + j, false,
    convert_to('{{"step":' || j || '}}', 'UTF8'), 'json', octet_length('{{"step":' || j || '}}')
FROM first_id, generate_series(1, {k}) j;
SELECT setval(pg_get_serial_sequence('checkpoints', 'id'), (SELECT MAX(id) FROM checkpoints));
COMMIT;
VACUUM ANALYZE;
"""
    subprocess.run(["psql", "-q", url], input=sql, text=True, check=True, stdout=sys.stderr)


T0 = time.time()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wflo", required=True, help="the wflo command (its migrations create the schema)")
    ap.add_argument("--executions", type=int, default=1_000_000)
    ap.add_argument("--calls", type=int, default=20_000_000)
    ap.add_argument("--checkpoints", type=int, default=100_000)
    ap.add_argument("kind", choices=["sqlite", "postgres"])
    ap.add_argument("target", help="the SQLite file, or the PostgreSQL URL")
    a = ap.parse_args()
    n, k = a.executions, a.checkpoints
    per = max(1, a.calls // n)
    # Created over the last n seconds, the newest a minute ago: anything the benchmark then
    # creates is newer, as it would be in a live store.
    base = int(time.time() * 1000) - (n + 60) * 1000
    url = f"sqlite://{a.target}" if a.kind == "sqlite" else a.target
    migrate(a.wflo, url)
    (sqlite if a.kind == "sqlite" else postgres)(a.target, n, per, k, base)
    print(json.dumps({"executions": n + 1, "calls": n * per, "calls_per_execution": per, "checkpoints": k,
                      "exec_id": exec_id(n // 2 + 1), "checkpoint_exec_id": exec_id(n + 1),
                      "seconds": round(time.time() - T0, 1)}))


if __name__ == "__main__":
    main()
