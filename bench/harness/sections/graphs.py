"""7. Graph runs: a LangGraph graph run end to end with wflo's saver and with LangGraph's SqliteSaver.

The checkpoints section times one put and one get_tuple of one channel that changes at every
save: the case where a saver that stores whole checkpoints (SqliteSaver) and one that stores
only the channels a step changed (WfloCheckpointSaver, as PostgresSaver) do the same work. A
real graph has channels that change at some steps and not others; here a 20-step agent run
(bench/python/graph_runs.py): documents retrieved once, a message appended at every step. The
figures are what a user sees: the whole run, the first load of a new process (resume) and the
store's size — and one saver answering the runs' threads in turn, as a server does."""
from __future__ import annotations

from ..build import Env
from ..measure import Contender, failure, figure, interleave
from ..section import Section, ratio, table
from .checkpoints import fresh, state

# Graph runs per process, after one warm-up run: enough that the runs a WAL checkpoint
# lengthens (one in two or three) weigh in the mean as they come.
RUNS = 30
# (workload, documents' bytes, message bytes, what it stands for)
WORKLOADS = [
    ("small", 1024, 300, "1 KB of documents, 300-byte messages (~7 KB of messages at the end)"),
    ("long messages", 1024, 5000, "1 KB of documents, 5 KB messages (~100 KB of messages at the end)"),
    ("large documents", 100 * 1024, 300, "100 KB of documents retrieved once, 300-byte messages"),
]
WFLO = "wflo WfloCheckpointSaver"
LANGGRAPH = "LangGraph SqliteSaver"


def contenders(env: Env) -> list[Contender]:
    out = []
    prose = str(env.corpus / "prose.txt")
    for workload, doc_bytes, message_bytes, _ in WORKLOADS:
        docs = env.work / f"graph-documents-{doc_bytes}.json"
        docs.write_text(state(doc_bytes))
        argv = lambda who, target, d=str(docs), m=str(message_bytes): [  # noqa: E731
            env.python, "bench/python/graph_runs.py", who, target, d, m, prose, str(RUNS)]
        for name, needs in ((WFLO, "python"), (LANGGRAPH, "python")):
            db = env.work / f"graph-{len(out)}.db"
            target = f"sqlite://{db}?synchronous=normal" if name == WFLO else str(db)
            out.append(Contender(f"{workload} {name}", argv("wflo" if name == WFLO else "langgraph-sqlite", target),
                                 cwd=str(env.root), missing=env.need(needs), before=fresh(db),
                                 meta={"workload": workload, "name": name}))
    return out


def run(env: Env, rounds: int) -> Section:
    every = contenders(env)
    runs = interleave("graphs", every, rounds)
    fig = {key: {c.label: figure(runs[c.label], lambda r, k=key: r.out[k]) for c in every}
           for key in ("run_ms", "resume_us", "serve_us", "bytes_per_run")}
    by = {(c.meta["workload"], c.meta["name"]): c for c in every}
    rows = []
    for workload, _, _, what in WORKLOADS:
        w, lg = by[(workload, WFLO)], by[(workload, LANGGRAPH)]
        for c in (w, lg):
            why = c.missing or failure(runs[c.label]) or "no figure"
            keys = ("run_ms", "resume_us", "serve_us", "bytes_per_run")
            run_ms, resume, serve, size = (fig[k][c.label] for k in keys)
            versus = ["—"] * len(keys)
            if c is w:
                versus = [ratio(fig[k][lg.label].median / fig[k][w.label].median)
                          if fig[k][lg.label] and fig[k][w.label] else "—"
                          for k in keys]
            rows.append([f"{workload}: {what}" if c is w else "", c.meta["name"],
                         run_ms.fmt(1) if run_ms else why, resume.fmt(0) if resume else "—",
                         serve.fmt(0) if serve else "—",
                         f"{size.median / 1024:.0f}" if size else "—", " / ".join(versus)])
    return Section(
        "graphs", "7. Graph runs",
        f"A LangGraph graph of 21 steps (a node retrieving documents, then 20 steps each appending a message), "
        f"{RUNS} runs per process after one warm-up run, each a new thread, durability \"sync\" (each step's "
        f"checkpoint committed before the next step runs); median of {rounds} interleaved rounds (min–max). "
        "run ms: one whole `invoke`, LangGraph's own work included, the mean of the process's runs (a WAL "
        "checkpoint every few runs makes one run in two or three about twice as long: a median would fall on "
        "either side by chance). resume µs: `get_state` of a finished thread "
        "through a new saver of the same store (what a new process does first). serve µs: `get_state` of the "
        "runs' threads in turn through one new saver (a server answering several conversations). KB per run: "
        "the SQLite file "
        "after the savers closed, divided by the runs. SqliteSaver ÷ wflo: its figure over wflo's (above 1×: wflo "
        "is faster, or smaller).",
        table(["workload", "saver", "run ms", "resume µs", "serve µs", "KB per run",
               "SqliteSaver ÷ wflo (run / resume / serve / KB)"],
              rows),
        notes=["Both savers on SQLite in WAL mode at synchronous NORMAL, from Python, with LangGraph's default "
               "serializer (msgpack). SqliteSaver stores every channel's value in every checkpoint; "
               "WfloCheckpointSaver stores the channels a step changed, and records where the others are "
               "(the checkpoint that stored them), so a load reads those records directly.",
               "A new WfloCheckpointSaver's first load of a thread reads the names of that thread's records "
               "(over an index of the saver's names, migration 0016), then the records it returns; SqliteSaver "
               "reads the thread's latest row and its writes."],
        raw={c.label: [r.out or {"error": r.error} for r in runs[c.label]] for c in every})
