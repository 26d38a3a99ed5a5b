"""Checkpoint save and load latency from Python, one contender per process, for `make bench`:

  checkpoints.py wflo URL STATE_FILE SAVES                 wflo (sqlite:///…?synchronous=… or postgres://…)
  checkpoints.py wflo-langgraph URL STATE_FILE SAVES       wflo's LangGraph saver (WfloCheckpointSaver), as LangGraph's
  checkpoints.py langgraph-sqlite PATH STATE_FILE SAVES SYNC   LangGraph's SqliteSaver; SYNC: default or NORMAL/FULL
  checkpoints.py sqlite3 PATH STATE_FILE SAVES SYNC        raw sqlite3 INSERTs of the state's bytes (WAL), the floor
  checkpoints.py langgraph-postgres URL STATE_FILE SAVES   LangGraph's PostgresSaver
  checkpoints.py psycopg URL STATE_FILE SAVES              raw psycopg INSERTs of the state's bytes, the floor

A save stores the state (a JSON document list of ~1 KB or ~100 KB, or a ~100 KB chat history) as a new checkpoint of one
thread/execution; a load reads one back by id, after all the saves, and decodes it. Prints one
JSON line: p50/p99 µs of save and load, saves per second, the state's size.
"""
from __future__ import annotations

import json
import sys
import time

WARM_UP = 5
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
SETTING: dict = {}  # the SQLite settings in effect, reported with the figures


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[round((len(s) - 1) * p)] * 1e6


def timed(fn, items, prepare=lambda item: item) -> tuple[list[float], list]:
    """fn(prepare(item)) for each item, timing fn only: what the contender does, not the
    harness making its input."""
    samples, results = [], []
    for item in items:
        arg = prepare(item)
        t = time.perf_counter()
        results.append(fn(arg))
        samples.append(time.perf_counter() - t)
    return samples, results


def wflo_contender(url: str, state: dict, saves: int):
    import wflo

    engine = wflo.Engine.open(url)
    wf = wflo.WfloWorkflow("bench", engine=engine).start_sync()

    def save(i):
        return wf.checkpoint_sync(f"step-{i}", state)["id"]

    def load(cid):
        return wf.checkpoint_state(cid)

    for i in range(WARM_UP):
        save(-1 - i)
    save_s, ids = timed(save, range(saves))
    load_s, back = timed(load, ids)
    assert back[-1] == state
    wf.finish_sync()
    engine.close()
    return save_s, load_s


def langgraph_contender(saver, state: dict, saves: int):
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6

    config = {"configurable": {"thread_id": f"bench-{time.time_ns()}", "checkpoint_ns": ""}}
    step = [0]

    def checkpoint(_):
        """The step's checkpoint as LangGraph's loop hands it to a saver: made before the
        timed put (by LangGraph, not the saver)."""
        step[0] += 1
        n = step[0]
        cp = empty_checkpoint()
        cp["id"] = str(uuid6(clock_seq=n))
        cp["channel_values"] = {"state": state}
        cp["channel_versions"] = {"state": n}
        return cp, {"source": "loop", "step": n, "parents": {}}, {"state": n}

    def save(args):
        saved = saver.put(config, *args)
        config["configurable"]["checkpoint_id"] = saved["configurable"]["checkpoint_id"]
        return saved["configurable"]["checkpoint_id"]

    def config_of(cid):
        return {"configurable": {**config["configurable"], "checkpoint_id": cid}}

    def load(c):
        return saver.get_tuple(c).checkpoint["channel_values"]["state"]

    for _ in range(WARM_UP):
        save(checkpoint(None))
    save_s, ids = timed(save, range(saves), checkpoint)
    load_s, back = timed(load, ids, config_of)
    assert back[-1] == state
    return save_s, load_s


def wflo_langgraph(url: str, state: dict, saves: int):
    """wflo's LangGraph saver through LangGraph's saver calls, as LangGraph's own savers. Loads go
    through a second saver on the same execution: the first keeps what it saved read, which
    LangGraph's savers do not."""
    import wflo
    from wflo.integrations.langgraph import WfloCheckpointSaver

    engine = wflo.Engine.open(url)
    saver = WfloCheckpointSaver(engine=engine)
    reader = []

    class Saver:
        def put(self, *args):
            return saver.put(*args)

        def get_tuple(self, config):
            if not reader:
                reader.append(WfloCheckpointSaver(wflo.WfloWorkflow.resume(saver.workflow.execution_id, engine=engine)))
            return reader[0].get_tuple(config)

    try:
        return langgraph_contender(Saver(), state, saves)
    finally:
        engine.close()


def langgraph_sqlite(path: str, state: dict, saves: int, sync: str):
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    if sync != "default":
        conn.execute(f"PRAGMA synchronous = {sync}")
    SETTING["synchronous"] = SYNCHRONOUS[conn.execute("PRAGMA synchronous").fetchone()[0]]
    SETTING["journal_mode"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
    result = langgraph_contender(saver, state, saves)
    conn.close()
    return result


def langgraph_postgres(url: str, state: dict, saves: int):
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    # The connection from_conn_string would open, in a schema of its own: wflo's tables share
    # the database, and both have a table called checkpoints.
    with psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS langgraph_bench")
        conn.execute("SET search_path TO langgraph_bench")
        saver = PostgresSaver(conn)
        saver.setup()
        return langgraph_contender(saver, state, saves)


def raw_contender(conn, placeholder: str, body: bytes, saves: int, returning: bool):
    insert = (f"INSERT INTO raw_checkpoints (execution_id, name, state) VALUES ({placeholder}, {placeholder}, "
              f"{placeholder})" + (" RETURNING id" if returning else ""))
    select = f"SELECT state FROM raw_checkpoints WHERE id = {placeholder}"

    def save(i):
        cur = conn.execute(insert, ("exec-0123456789ab", f"step-{i}", body))
        return cur.fetchone()[0] if returning else cur.lastrowid

    def load(rid):
        return bytes(conn.execute(select, (rid,)).fetchone()[0]).decode()

    for i in range(WARM_UP):
        save(-1 - i)
    save_s, ids = timed(save, range(saves))
    load_s, back = timed(load, ids)
    assert back[-1] == body.decode()
    return save_s, load_s


def raw_sqlite(path: str, body: bytes, saves: int, sync: str):
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)  # autocommit: one transaction per INSERT
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {sync}")
    SETTING["synchronous"] = SYNCHRONOUS[conn.execute("PRAGMA synchronous").fetchone()[0]]
    conn.execute("CREATE TABLE IF NOT EXISTS raw_checkpoints (id INTEGER PRIMARY KEY, execution_id TEXT NOT NULL, "
                 "name TEXT NOT NULL, state BLOB NOT NULL)")
    result = raw_contender(conn, "?", body, saves, returning=False)
    conn.close()
    return result


def raw_postgres(url: str, body: bytes, saves: int):
    import psycopg

    with psycopg.connect(url, autocommit=True, prepare_threshold=0) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw_checkpoints (id BIGSERIAL PRIMARY KEY, execution_id TEXT NOT NULL, "
                     "name TEXT NOT NULL, state BYTEA NOT NULL)")
        return raw_contender(conn, "%s", body, saves, returning=True)


def main() -> None:
    contender, target, state_file, saves = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sync = sys.argv[5] if len(sys.argv) > 5 else "default"
    with open(state_file, "rb") as f:
        body = f.read()
    state = json.loads(body)
    runs = {
        "wflo": lambda: wflo_contender(target, state, saves),
        "wflo-langgraph": lambda: wflo_langgraph(target, state, saves),
        "langgraph-sqlite": lambda: langgraph_sqlite(target, state, saves, sync),
        "sqlite3": lambda: raw_sqlite(target, body, saves, sync),
        "langgraph-postgres": lambda: langgraph_postgres(target, state, saves),
        "psycopg": lambda: raw_postgres(target, body, saves),
    }
    if contender not in runs:
        raise SystemExit(f"unknown contender {contender}: {', '.join(runs)}")
    save_s, load_s = runs[contender]()
    print(json.dumps({
        "state_bytes": len(body), "saves": saves,
        "save_us": pct(save_s, 0.5), "save_p99_us": pct(save_s, 0.99), "saves_per_s": saves / sum(save_s),
        "load_us": pct(load_s, 0.5), "load_p99_us": pct(load_s, 0.99), **SETTING,
    }))


if __name__ == "__main__":
    main()
