"""A LangGraph graph run end to end with a checkpointer, one contender per process, for `make bench`:

  graph_runs.py wflo URL DOCUMENTS MESSAGE_BYTES PROSE RUNS              WfloCheckpointSaver (sqlite:///…?synchronous=normal)
  graph_runs.py langgraph-sqlite PATH DOCUMENTS MESSAGE_BYTES PROSE RUNS  LangGraph's SqliteSaver (WAL, synchronous NORMAL)

The graph is an agent's run as LangGraph stores it: a first node retrieves DOCUMENTS (a JSON
file) into the `documents` channel and asks a question; then STEPS nodes each append an
assistant message of MESSAGE_BYTES (paragraphs of the PROSE file) to `messages` and count the
step. `documents` is written once, `messages` at every step. Each run is a new thread, saved with
durability "sync" (every step's checkpoint committed before the next step runs: the setting for
never losing work).

Prints one JSON line: the mean of a whole run (`invoke`, ms) after one warm-up run (the mean: a
WAL checkpoint every few runs makes one run in two or three about twice as long, and a median of
such runs lands on either side by chance — 20 ms or 35 ms for the same saver), the p50 of a
resume (`get_state` of a finished thread through a new saver of the same store, µs: what a new
process does first), the p50 of serving (`get_state` of the runs' threads in turn, SERVE_ROUNDS
times, through one new saver: a server answering several conversations with one checkpointer,
µs) and the store's bytes per run (the database's pages, all runs' threads).
"""
from __future__ import annotations

import json
import operator
import statistics
import sys
import time
from typing import Annotated, TypedDict

STEPS = 20
SERVE_ROUNDS = 20


class AgentState(TypedDict):
    documents: dict
    messages: Annotated[list, operator.add]
    step: int


def graph(documents: dict, replies: list[str]):
    from langgraph.graph import END, START, StateGraph

    def retrieve(state: AgentState) -> dict:
        return {"documents": documents, "messages": [{"role": "user", "content": "What do these say?"}], "step": 0}

    def think(state: AgentState) -> dict:
        n = state["step"]
        return {"messages": [{"role": "assistant", "content": replies[n % len(replies)], "id": f"msg-{n}"}],
                "step": n + 1}

    g = StateGraph(AgentState)
    g.add_node("retrieve", retrieve)
    g.add_node("think", think)
    g.add_edge(START, "retrieve")
    g.add_edge("retrieve", "think")
    g.add_conditional_edges("think", lambda s: END if s["step"] >= STEPS else "think")
    return g


def replies_of(prose: str, size: int) -> list[str]:
    """Messages of ~`size` bytes cut from the prose corpus, in order."""
    text = open(prose, encoding="utf-8").read()
    return [text[i:i + size] for i in range(0, min(len(text), size * STEPS), size)]


def main() -> None:
    contender, target, docs_file, message_bytes, prose, runs = sys.argv[1:7]
    runs = int(runs)
    documents = json.load(open(docs_file, encoding="utf-8"))
    g = graph(documents, replies_of(prose, int(message_bytes)))
    path = target.split("://", 1)[-1].split("?", 1)[0] if contender == "wflo" else target

    if contender == "wflo":
        import wflo
        from wflo.integrations.langgraph import WfloCheckpointSaver

        engine = wflo.Engine.open(target)
        saver = WfloCheckpointSaver(engine=engine)
        workflow = saver.workflow
        fresh_saver = lambda: WfloCheckpointSaver(workflow)  # noqa: E731

        def close():
            engine.close()
    elif contender == "langgraph-sqlite":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        conns = []

        def connect():
            conn = sqlite3.connect(target, check_same_thread=False)
            conns.append(conn)
            s = SqliteSaver(conn)
            s.setup()
            conn.execute("PRAGMA synchronous = NORMAL")
            return s

        saver = connect()
        fresh_saver = connect

        def close():
            for c in conns:
                c.close()
    else:
        sys.exit(f"unknown contender {contender}")

    app = g.compile(checkpointer=saver)
    threads, run_s = [], []
    for i in range(runs + 1):
        config = {"configurable": {"thread_id": f"run-{i}"}}
        start = time.perf_counter()
        final = app.invoke({"messages": [], "step": 0}, config, durability="sync")
        if i:  # the first run warms up
            run_s.append(time.perf_counter() - start)
        assert final["step"] == STEPS and final["documents"] == documents and len(final["messages"]) == STEPS + 1
        threads.append(config)
    resume_s = []
    for config in threads[1:]:
        resumed = g.compile(checkpointer=fresh_saver())
        start = time.perf_counter()
        snapshot = resumed.get_state(config)
        resume_s.append(time.perf_counter() - start)
        assert snapshot.values["step"] == STEPS and snapshot.values["documents"] == documents
    serving, serve_s = g.compile(checkpointer=fresh_saver()), []
    for _ in range(SERVE_ROUNDS):
        for config in threads[1:]:
            start = time.perf_counter()
            snapshot = serving.get_state(config)
            serve_s.append(time.perf_counter() - start)
            assert snapshot.values["step"] == STEPS
    close()
    print(json.dumps({
        "run_ms": statistics.mean(run_s) * 1e3,
        "resume_us": statistics.median(resume_s) * 1e6,
        "serve_us": statistics.median(serve_s) * 1e6,
        "bytes_per_run": stored_bytes(path) / (runs + 1),
        "runs": runs,
        "steps": STEPS,
    }))


def stored_bytes(path: str) -> int:
    """The database's size as a new connection sees it (pages × page size): what was stored,
    whether or not the WAL was copied back into the file yet."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


if __name__ == "__main__":
    main()
