"""5. Budget contention: reservations per second on ONE shared budget scope from 1, 2, 4 and 8
threads of one process and from 4 processes, on SQLite and PostgreSQL (core/examples/
shared_bench.rs), the scope booked per call (allowances off: every reservation and every
settlement is a store transaction on the scope); then a fleet of 8 processes x 2 threads with
allowances on and off (issue 18's goals), the spend reached at a limit, and how long money
idle in one process's allowance takes to become usable by another.

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
FLEET = (8, 2)
FLEET_LIMIT_CALLS = 4_000
# Issue 18's goals for the fleet with allowances: reservations/s by store, and p99 latency.
FLEET_GOALS = {"PostgreSQL": 50_000, "SQLite": 100_000}
P99_GOAL_US = 50.0
IDLE_GOAL_MS = 1_500


def contenders(env: Env) -> list[Contender]:
    out = []
    exe = env.example("shared_bench")
    stores = [("SQLite", "rust"), ("PostgreSQL", "rust pg")]
    for store, needs in stores:
        configs = [(p, t, "off") for p, t in CONFIGS] + [(*FLEET, "off"), (*FLEET, "on")]
        for p, t, allowances in configs:
            for mode in ("throughput", "limit"):
                db = env.work / f"shared-{p}x{t}-{allowances}-{mode}.db"
                url = str(db) if store == "SQLite" else (env.pg_url or "")
                argv = [exe, url, str(p), str(t), str(SECONDS)]
                if mode == "limit":
                    # The fleet's limit holds FLEET_LIMIT_CALLS calls, so one call's worst case is
                    # well under 0.1 % of it: what is left at the last refusal is then stranding.
                    calls = FLEET_LIMIT_CALLS if (p, t) == FLEET else LIMIT_CALLS
                    argv = [exe, url, str(p), str(t), "60", str(calls * CALL_NANOS)]
                out.append(Contender(f"{store} {p}x{t} allowances {allowances} {mode}", argv,
                                     env={"WFLO_BENCH_ALLOWANCES": allowances},
                                     missing=env.need(*needs.split()), before=fresh(db), timeout=300,
                                     meta={"store": store, "p": p, "t": t, "mode": mode, "allowances": allowances}))
        db = env.work / "shared-idle.db"
        url = str(db) if store == "SQLite" else (env.pg_url or "")
        out.append(Contender(f"{store} idle to usable", [exe, url], env={"WFLO_BENCH_IDLE": "1"},
                             missing=env.need(*needs.split()), before=fresh(db), timeout=120,
                             meta={"store": store, "mode": "idle"}))
    return out


def fleet(every: list[Contender], runs: dict, rounds: int) -> tuple[str, list[Goal]]:
    """The fleet rows (allowances on and off) and issue 18's goals."""
    by = {(c.meta["store"], c.meta.get("p"), c.meta.get("t"), c.meta.get("allowances"), c.meta["mode"]): c
          for c in every}
    rows, goals = [], []
    for store in ("SQLite", "PostgreSQL"):
        cells = {}
        for allowances in ("off", "on"):
            c = by[(store, *FLEET, allowances, "throughput")]
            lim = by[(store, *FLEET, allowances, "limit")]
            why = c.missing or failure(runs[c.label]) or "no figure"
            per_sec = figure(runs[c.label], lambda r: r.out["per_sec"])
            end = figure(runs[c.label], lambda r: r.out["end_to_end_per_sec"])
            p99 = figure(runs[c.label], lambda r: r.out["p99_us"])
            reached = [r.out["spent_fraction"] for r in runs[lim.label] if r.out]
            cells[allowances] = (per_sec, p99, reached)
            rows.append([store, f"{FLEET[0]} × {FLEET[1]}", allowances, per_sec.fmt(0) if per_sec else why,
                         end.fmt(0) if end else "—", p99.fmt(1) if p99 else "—",
                         f"{min(reached) * 100:.3f} %" if reached else (lim.missing or failure(runs[lim.label]) or "—")])
        on, off = cells["on"], cells["off"]
        if on[0] and off[0]:
            rows[-1].append(f"× {on[0].median / off[0].median:,.0f} over off")
        idle = by[(store, None, None, None, "idle")]
        ms = figure(runs[idle.label], lambda r: r.out["idle_to_usable_ms"])
        goal = FLEET_GOALS[store]
        goals.append(Goal(f"{store}: ≥ {goal:,} reservations/s with allowances, p99 < {P99_GOAL_US:.0f} µs",
                          f"{on[0].fmt(0)}/s, p99 {on[1].fmt(1)} µs" if on[0] and on[1] else "not measured",
                          (on[0].median >= goal and on[1].median < P99_GOAL_US) if on[0] and on[1] else None))
        goals.append(Goal(f"{store}: ≥ 99.9 % of the limit spent before the last refusal",
                          f"{min(on[2]) * 100:.3f} % (worst of {len(on[2])} runs)" if on[2] else "not measured",
                          min(on[2]) >= 0.999 if on[2] else None))
        goals.append(Goal(f"{store}: money idle in one process's allowance usable by another within "
                          f"{IDLE_GOAL_MS:,} ms (it goes back after 1 s without use, or at once when told of a refusal)",
                          f"{ms.fmt(0)} ms" if ms else (idle.missing or failure(runs[idle.label]) or "not measured"),
                          ms.median <= IDLE_GOAL_MS if ms else None))
    text = table(["store", "processes × threads", "allowances", "reservations/s", "end to end/s (every record written)",
                  "reserve p99 (µs)", "spent at the limit", ""], [r + [""] * (8 - len(r)) for r in rows])
    return text, goals


def run(env: Env, rounds: int) -> Section:
    every = contenders(env)
    runs = interleave("contention", every, rounds)
    # The per-call table: the scope booked per call, one process up to eight threads.
    by = {(c.meta["store"], c.meta["p"], c.meta["t"], c.meta["mode"]): c for c in every
          if c.meta["mode"] != "idle" and (c.meta["p"], c.meta["t"]) in CONFIGS}
    rows, groups, overspends, refused_runs, total_runs = [], {}, [], 0, 0
    for c in every:
        for r in runs[c.label]:
            if r.out and "overspend_nanos" in r.out:
                total_runs += 1
                overspends.append(r.out["overspend_nanos"])
                refused_runs += c.meta["mode"] == "limit" and r.out["refused"] > 0
    fleet_table, fleet_goals = fleet(every, runs, rounds)
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
               "left reserved", "most spent at the limit (nano-USD)"], rows)
        + "\n\nA fleet on one shared scope, allowances off (every call booked in the store) and on (local "
        "allowances leased from it); end to end: until every call record was written too; spent at the limit: "
        "the worst run's spend as a share of the limit when every thread was refused.\n\n" + fleet_table,
        notes=[pg_note, "SQLite: one database file shared by the processes (WAL, synchronous=NORMAL)."],
        charts=[("contention.svg", bars("Shared-scope reservations per second, × one thread's",
                                        list(groups.items()), subtitle=f"median of {rounds} rounds; dashed: 1 × 1"))],
        goals=[goal] + fleet_goals,
        raw={c.label: [r.out or {"error": r.error} for r in runs[c.label]] for c in every})
