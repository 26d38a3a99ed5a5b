#!/usr/bin/env python3
"""`wflo serve`'s /metrics scraped by the real Prometheus server (Debian's package).

    python3 tests/serve/test_prometheus.py

Two `wflo demo` runs fill a SQLite file; `wflo serve` serves it twice, once open on loopback
and once behind --token; a Prometheus server in a temporary directory scrapes both every
second (the second with its bearer token). Prometheus's HTTP API must then answer
sum(wflo_cost_usd_total) with the spend the store holds, to the nano-USD, and
sum(wflo_refusals_total) with its refused calls — and follow a third demo run made while
everything is up. Needs tests/serve/install-prometheus.sh first; builds nothing.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from common import WFLO, check, free_port, get_json, need, run, serve, spawn, stop_all, summary, wait_for

TOKEN = "prometheus-test-token"


def store_figures(db):
    """(spent nanos, refused calls, executions) as `wflo executions` and `wflo show` read them."""
    executions = json.loads(run([WFLO, "executions", "--db", db, "--limit", "1000", "--json"]))
    spent = sum(e["spent_nanos"] for e in executions)
    refused = sum(
        json.loads(run([WFLO, "show", e["id"], "--db", db, "--json"]))["breakdown"]["refused_calls"]
        for e in executions
    )
    return spent, refused, len(executions)


def query(prom, expr):
    """A PromQL instant query's single value, or None."""
    url = f"{prom}/api/v1/query?query={urllib.parse.quote(expr)}"
    answer = get_json(url)
    result = answer.get("data", {}).get("result", [])
    if answer.get("status") != "success" or len(result) != 1:
        return None
    return result[0]["value"][1]


def main():
    print("wflo serve scraped by Prometheus")
    need(WFLO, "build it with `cargo build -p wflo-cli`, or set WFLO_BIN")
    prometheus = shutil.which("prometheus")
    if not prometheus:
        print("FAIL: prometheus is missing (tests/serve/install-prometheus.sh)")
        return 1
    print(run([prometheus, "--version"]).splitlines()[0])
    tmp = Path(tempfile.mkdtemp(prefix="wflo-serve-prom-"))
    try:
        db = tmp / "demo.db"
        for i in range(2):
            run([WFLO, "demo", "--db", db, "--report", tmp / f"r{i}.html", "--json"])
        spent, refused, n = store_figures(db)
        check(n == 2 and spent > 0 and refused >= 2, f"the store holds {n} executions, {spent} nano-USD, {refused} refusals")

        _, open_url = serve(db, "--poll-ms", "200")
        _, token_url = serve(db, "--poll-ms", "200", "--token", TOKEN)
        port = free_port()
        prom = f"http://127.0.0.1:{port}"
        (tmp / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            f"  - job_name: wflo\n    static_configs:\n      - targets: ['{open_url.removeprefix('http://')}']\n"
            f"  - job_name: wflo-token\n    authorization:\n      type: Bearer\n      credentials: {TOKEN}\n"
            f"    static_configs:\n      - targets: ['{token_url.removeprefix('http://')}']\n"
        )
        log = open(tmp / "prometheus.log", "w")
        spawn(
            [
                prometheus,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        up = wait_for("both targets up", lambda: query(prom, "sum(up)") == "2", timeout=60)
        if not check(up, "Prometheus scrapes both wflo serve targets (up == 1, the token one with its bearer token)"):
            print((tmp / "prometheus.log").read_text()[-3000:])
            return summary()

        for job in ("wflo", "wflo-token"):
            cost = wait_for(f"{job} cost", lambda: query(prom, f'sum(wflo_cost_usd_total{{job="{job}"}})'))
            check(
                cost is not None and round(float(cost) * 1e9) == spent,
                f'{job}: sum(wflo_cost_usd_total) = {cost} USD, the store spent {spent} nano-USD',
            )
            refusals = query(prom, f'sum(wflo_refusals_total{{job="{job}"}})')
            check(refusals is not None and int(float(refusals)) == refused, f"{job}: sum(wflo_refusals_total) = {refusals}, the store refused {refused}")
        cost = query(prom, "sum(wflo_cost_usd_total)")
        check(cost is not None and round(float(cost) * 1e9) == 2 * spent, "sum(wflo_cost_usd_total) over both jobs")
        series = get_json(f"{prom}/api/v1/series?match[]=" + urllib.parse.quote("{__name__=~\"wflo_.*\"}"))
        labels = {k for s in series.get("data", []) for k, v in s.items() if "exec-" in str(v)}
        check(not labels, f"no label carries an execution id {sorted(labels)}")

        # A run made while everything is up shows in Prometheus within a few scrapes.
        run([WFLO, "demo", "--db", db, "--report", tmp / "r2.html", "--json"])
        spent3, refused3, _ = store_figures(db)
        moved = wait_for(
            "the third run",
            lambda: round(float(query(prom, 'sum(wflo_cost_usd_total{job="wflo"})') or 0) * 1e9) == spent3,
            timeout=30,
        )
        check(moved, f"after a third demo run the scraped cost follows the store: {spent3} nano-USD")
        refusals = query(prom, 'sum(wflo_refusals_total{job="wflo"})')
        check(refusals is not None and int(float(refusals)) == refused3, f"and the refusals: {refusals} of {refused3}")
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"({time.monotonic() - started:.1f} s)")
    sys.exit(code)
