"""5. Budget contention: reservations per second on ONE shared budget scope from 1, 2, 4 and 8
threads of one process and from 4 processes, on SQLite and PostgreSQL (core/examples/
shared_bench.rs: every reservation and every settlement is a store transaction on the scope).

Each round also runs every configuration against a scope with a small limit (LIMIT_CALLS
calls' worth) until the scope refuses each thread: the settled spend must never pass the limit,
however the threads and processes race. Overspend is counted over every run."""
from __future__ import annotations

from ..build import Env
from ..measure import Contender, figure, failure, interleave
from ..section import Goal, Section, ratio, table
from ..svg import Bar, bars
from .checkpoints import fresh

CONFIGS = [(1, 1), (1, 2), (1, 4), (1, 8), (4, 1)]  # (processes, threads per process)
SECONDS = 2
CALL_NANOS = 135_000  # gpt-4o-mini, 500 in + 100 out: what each settled reservation spends
LIMIT_CALLS = 400


def contenders(env: Env) -> list[Contender]:
    out = []
    exe = env.example("shared_bench")
    stores = [("SQLite", "rust"), ("PostgreSQL", "rust pg")]
    for store, needs in stores:
        for p, t in CONFIGS:
            for mode in ("throughput", "limit"):
                db = env.work / f"shared-{p}x{t}-{mode}.db"
                url = str(db) if store == "SQLite" else (env.pg_url or "")
                argv = [exe, url, str(p), str(t), str(SECONDS)]
                if mode == "limit":
                    argv = [exe, url, str(p), str(t), "60", str(LIMIT_CALLS * CALL_NANOS)]
                out.append(Contender(f"{store} {p}x{t} {mode}", argv, missing=env.need(*needs.split()),
                                     before=fresh(db), timeout=120,
                                     meta={"store": store, "p": p, "t": t, "mode": mode}))
    return out


def run(env: Env, rounds: int) -> Section:
    every = contenders(env)
    runs = interleave("contention", every, rounds)
    by = {(c.meta["store"], c.meta["p"], c.meta["t"], c.meta["mode"]): c for c in every}
    rows, groups, overspends, refused_runs, total_runs = [], {}, [], 0, 0
    for c in every:
        for r in runs[c.label]:
            if r.out:
                total_runs += 1
                overspends.append(r.out["overspend_nanos"])
                refused_runs += c.meta["mode"] == "limit" and r.out["refused"] > 0
    for (store, p, t, mode), c in by.items():
        if mode != "throughput":
            continue
        lim = by[(store, p, t, "limit")]
        why = c.missing or failure(runs[c.label]) or "no figure"
        per_sec = figure(runs[c.label], lambda r: r.out["per_sec"])
        one = figure(runs[by[(store, 1, 1, "throughput")].label], lambda r: r.out["per_sec"])
        x = per_sec.median / one.median if per_sec and one else None
        done = [r.out for r in runs[c.label] + runs[lim.label] if r.out]
        over = max((o["overspend_nanos"] for o in done), default=None)
        left = max((o["reserved_nanos"] for o in done), default=None)
        limited = [r.out for r in runs[lim.label] if r.out]
        spent = max((o["spent_nanos"] for o in limited), default=0)
        rows.append([store, f"{p} × {t}", per_sec.fmt(0) if per_sec else why, ratio(x),
                     "—" if over is None else f"{over}", "—" if left is None else f"{left}",
                     f"{spent:,} of {LIMIT_CALLS * CALL_NANOS:,} ({len(limited)} runs)" if limited else
                     (lim.missing or failure(runs[lim.label]) or "—")])
        groups.setdefault(store, []).append(Bar(f"{p} process{'es' if p > 1 else ''} × {t} thread{'s' if t > 1 else ''}",
                                                x, True, why))
    ok = bool(overspends) and max(overspends) == 0
    goal = Goal("0 overspend everywhere",
                f"max overspend {max(overspends) if overspends else '—'} nano-USD over {total_runs} runs "
                f"({refused_runs} of them driven to refusal at a ${LIMIT_CALLS * CALL_NANOS / 1e9:.3f} limit)"
                if overspends else "not measured", ok if overspends else None)
    pg_note = ("PostgreSQL: the throwaway server of tests/pg/with-postgres.sh (fsync=off, loopback)."
               if env.pg_url else f"PostgreSQL: not measured ({env.missing.get('pg')}).")
    return Section(
        "contention", "5. Budget contention",
        f"Reservations per second (each one settled) on one shared scope, {SECONDS} s per run, median of {rounds} "
        "interleaved rounds (min–max); × 1 thread: over one process with one thread on the same store. Overspend: "
        "settled spend beyond the scope's limit, the worst over every run of the configuration (throughput runs and "
        f"runs at a limit of {LIMIT_CALLS} calls' worth, each thread reserving until refused); left reserved: "
        "reservations not released at the end (must be 0).",
        table(["store", "processes × threads", "reservations/s", "× 1 thread", "overspend (nano-USD)",
               "left reserved", "most spent at the limit (nano-USD)"], rows),
        notes=[pg_note, "SQLite: one database file shared by the processes (WAL, synchronous=NORMAL)."],
        charts=[("contention.svg", bars("Shared-scope reservations per second, × one thread's",
                                        list(groups.items()), subtitle=f"median of {rounds} rounds; dashed: 1 × 1"))],
        goals=[goal],
        raw={c.label: [r.out or {"error": r.error} for r in runs[c.label]] for c in every})
