#!/usr/bin/env python3
"""The cross-language OTLP test (issue 15): every face's spans and metrics reach a real OTLP/HTTP
receiver (receiver.py, on PyPI's opentelemetry-proto) and say what the ledger says.

For each face a workload runs with OTEL_EXPORTER_OTLP_ENDPOINT on the receiver and a service
name of its own: Rust `wflo demo` (its built-in mock), and Python, Node and Go applications
(apps/, go/) calling `wflo mock-llm` through the real openai/anthropic clients inside an
OpenTelemetry span of their own, with a budget that refuses one call. Then, per face:

- the execution span (`invoke_workflow {name}`) and one CLIENT span per call in the ledger
  (`wflo show ID --json`), every attribute name one of the GenAI/wflo list and every value the
  ledger's (tokens, model, provider, step, status, reserved, cost to the nano-USD, the USD
  amount); the sum of the spans' costs equals the execution's spend;
- a refused call is a span with error.type=budget_exceeded, status ERROR and no usage, and the
  mock counted exactly the calls that were not refused;
- the execution span joins the application's span (same trace id, parent = the app span;
  the face's trace id says the same); the demo, with no host span, starts a trace of its own;
- checkpoints, rollbacks and budget alerts as span events, alerts equal to the face's callback;
- metrics: token usage, duration, cost, refusals, budget remaining — units, kinds, and values
  against the ledger; labels bounded (no execution id);
- resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), instrumentation scope, protobuf
  bodies; and no planted secret (prompt, checkpoint state, API key) in any body received.

Then the endpoint down (a closed port): every workload still succeeds with the same ledger,
and the faces' metrics text counts the drops (wflo_telemetry_dropped_total > 0); and
OTEL_SDK_DISABLED=true sends nothing.

Usage: run.py [--faces rust,python,node,go] [--python PY] [--node-dir DIR] [--go-bin BIN]
(tests/otel/run.sh builds what it needs and calls this). Exits non-zero on any failure; the
last line is "otel: N passed, N failed".
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any, Dict, List, Optional

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from receiver import Receiver  # noqa: E402

SECRETS = [b"sk-SECRET-PLANTED-OTEL", b"sk-otel-PLANTED-API-KEY-0123456789", b"draft a plan",
           # the demo's key and prompts
           b"mock-key", b"byte-pair encoding", b"Write the full survey"]
SCHEMA_URL = "https://opentelemetry.io/schemas/1.42.0"
# Every attribute a call span may carry (GenAI semantic conventions 1.42 and wflo's own).
CALL_ATTRIBUTES = {
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
    "gen_ai.request.max_tokens", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.cost.amount", "gen_ai.usage.cost.currency",
    "wflo.cost.nanos", "wflo.reserved.nanos", "wflo.estimated", "wflo.execution.id", "wflo.step",
    "wflo.status", "error.type",
}
# What a call that was sent always has; a refused one has none of USAGE.
USAGE = {
    "gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.cost.amount", "gen_ai.usage.cost.currency",
    "wflo.cost.nanos", "wflo.estimated",
}
EXECUTION_ATTRIBUTES = {"gen_ai.operation.name", "wflo.workflow.name", "wflo.execution.id", "wflo.status", "error.type"}
METRICS = {  # name: (kind, unit)
    "gen_ai.client.token.usage": ("histogram", "{token}"),
    "gen_ai.client.operation.duration": ("histogram", "s"),
    "wflo.cost": ("sum", "USD"),
    "wflo.refusals": ("sum", "{call}"),
    "wflo.budget.remaining": ("gauge", "USD"),
}
# The demo's steps and the max_tokens each asks (the retried write is clamped below its 8000).
DEMO_MAX_TOKENS = {"plan": 300, "research": 400, "analyse": 300, "outline": 200, "write": 8000}


class Checks:
    """Prints each check as it goes; counts them."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: List[str] = []
        self.section = ""

    def start(self, section: str) -> None:
        self.section = section
        print(f"\n== {section}", flush=True)

    def check(self, ok: Any, what: str, detail: Any = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  ok    {what}", flush=True)
        else:
            self.failed.append(f"{self.section}: {what}")
            print(f"  FAIL  {what}" + (f"\n        {detail}" if detail != "" else ""), flush=True)
        return bool(ok)

    def equal(self, got: Any, want: Any, what: str) -> bool:
        return self.check(got == want, f"{what} = {want!r}", f"got {got!r}")


C = Checks()


# -- the processes --------------------------------------------------------------------------

def wflo_bin() -> str:
    if os.environ.get("WFLO_BIN"):
        return os.environ["WFLO_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(pathlib.Path(target) / "debug" / "wflo")


class Mock:
    """`wflo mock-llm --port 0` and its request counter."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([wflo_bin(), "mock-llm", "--port", "0"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("wflo mock-llm listening on http://127.0.0.1:"):
            raise SystemExit(f"the mock did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[1]

    def requests(self) -> int:
        with urllib.request.urlopen(f"{self.url}/__mock/stats", timeout=10) as r:
            return json.loads(r.read()).get("total", 0)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def face_env(face: str, service: str, endpoint: str, db: pathlib.Path, mock: Optional[Mock],
             **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "WFLO_LOG"}
    env.update({
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": service,
        "OTEL_RESOURCE_ATTRIBUTES": f"wflo.test.face={face},deployment.environment.name=otel-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "250",
        # A dead endpoint must cost a dropped batch quickly, never a stuck call or exit.
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
        "WFLO_DB": str(db),
    })
    if mock is not None:
        env["MOCK_URL"] = mock.url
    env.update(extra)
    return env


def run(cmd: List[str], env: Dict[str, str], cwd: pathlib.Path, timeout: float = 180) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    proc.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return proc


def result_of(proc: subprocess.CompletedProcess) -> Optional[Dict[str, Any]]:
    for line in proc.stdout.splitlines():
        if line.startswith("OTEL-RESULT "):
            return json.loads(line[len("OTEL-RESULT "):])
    return None


def ledger(execution_id: str, db: pathlib.Path) -> Dict[str, Any]:
    out = subprocess.run([wflo_bin(), "show", execution_id, "--db", str(db), "--json"], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def dropped_total(metrics_text: str) -> Optional[int]:
    m = re.search(r"^wflo_telemetry_dropped_total (\d+)\s*$", metrics_text or "", re.M)
    return int(m.group(1)) if m else None


# -- the workloads --------------------------------------------------------------------------

class Workload:
    """One face's run: how to start it, and what it reported."""

    def __init__(self, face: str, cmd: List[str], cwd: pathlib.Path, uses_mock: bool, extra_env: Dict[str, str]):
        self.face, self.cmd, self.cwd, self.uses_mock, self.extra_env = face, cmd, cwd, uses_mock, extra_env

    def start(self, service: str, endpoint: str, db: pathlib.Path, mock: Mock, **extra: str):
        env = face_env(self.face, service, endpoint, db, mock if self.uses_mock else None, **self.extra_env, **extra)
        cmd = [c.replace("{db}", str(db)).replace("{dir}", str(db.parent)) for c in self.cmd]
        before = mock.requests() if self.uses_mock else 0
        proc = run(cmd, env, self.cwd)
        sent = (mock.requests() - before) if self.uses_mock else None
        if self.face == "rust":
            try:
                res = json.loads(proc.stdout) if proc.returncode == 0 else None
            except json.JSONDecodeError:
                res = None
            if res is not None:
                sent = res.get("mock_requests", {}).get("total")
                res = {"face": "rust", "execution_id": res["execution_id"], "workflow": "demo-research-agent",
                       "demo": res}
        else:
            res = result_of(proc) if proc.returncode == 0 else None
        return proc, res, sent


def workloads(args: argparse.Namespace) -> Dict[str, Workload]:
    w = {
        "rust": Workload("rust", [wflo_bin(), "demo", "--db", "{db}", "--json", "--report", "{dir}/report.html"],
                         ROOT, False, {}),
        "python": Workload("python", [args.python, str(HERE / "apps" / "python_app.py")], ROOT, True, {}),
        "node": Workload("node", ["node", str(HERE / "apps" / "node_app.cjs")], ROOT, True,
                         {"WFLO_NODE_DIR": str(args.node_dir)}),
    }
    if args.go_bin:
        w["go"] = Workload("go", [args.go_bin], ROOT, True, {})
    return w


# -- the checks -----------------------------------------------------------------------------

def latest_points(metrics: List[Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    """The last exported point of each attribute set (cumulative temporality: the totals)."""
    best: Dict[str, Dict[str, Any]] = {}
    for m in metrics:
        if m["name"] != name:
            continue
        for p in m["points"]:
            key = json.dumps(p["attributes"], sort_keys=True)
            if key not in best or p["time_ns"] >= best[key]["time_ns"]:
                best[key] = p
    return list(best.values())


def check_face(face: str, service: str, rx: Receiver, res: Dict[str, Any], db: pathlib.Path,
               sent: Optional[int]) -> None:
    exec_id, workflow = res["execution_id"], res["workflow"]
    book = ledger(exec_id, db)
    calls = sorted(book["calls"], key=lambda c: c["seq"])
    breakdown, execution = book["breakdown"], book["execution"]
    ok_calls = [c for c in calls if c["status"] != "refused"]
    refused_calls = [c for c in calls if c["status"] == "refused"]

    if "package" in res:
        C.check("site-packages" in res["package"], f"the {face} package is the installed one ({res['package']})")

    # Everything of this execution that was exported: the exporter flushes when the engine
    # closes, so it has all arrived by the time the process exited; wait a little anyway.
    want_spans = len(calls) + 1
    rx.wait_for(lambda r: len([s for s in r.spans(service) if s["attributes"].get("wflo.execution.id") == exec_id])
                >= want_spans and {m["name"] for m in r.metrics(service)} >= set(METRICS), timeout=15)
    spans = [s for s in rx.spans(service) if s["attributes"].get("wflo.execution.id") == exec_id]
    metrics = rx.metrics(service)

    # The execution span.
    roots = [s for s in spans if s["name"] == f"invoke_workflow {workflow}"]
    if not C.equal(len(roots), 1, f"execution spans named 'invoke_workflow {workflow}'"):
        return
    root = roots[0]
    C.equal(root["kind"], "INTERNAL", "the execution span's kind")
    C.equal(root["attributes"].get("gen_ai.operation.name"), "invoke_workflow", "the execution span's gen_ai.operation.name")
    C.equal(root["attributes"].get("wflo.workflow.name"), workflow, "the execution span's wflo.workflow.name")
    C.equal(root["attributes"].get("wflo.status"), execution["status"], "the execution span's wflo.status (the ledger's)")
    C.check(set(root["attributes"]) <= EXECUTION_ATTRIBUTES, "the execution span has only known attributes",
            sorted(set(root["attributes"]) - EXECUTION_ATTRIBUTES))
    C.equal(root["start_ns"], execution["created_at_ms"] * 1_000_000, "the execution span starts when the ledger's execution does (ns)")
    C.check(re.fullmatch(r"[0-9a-f]{32}", root["trace_id"]) and set(root["trace_id"]) != {"0"},
            f"the execution span has a trace id ({root['trace_id']})")

    # The host's trace.
    if "app_trace_id" in res:
        C.equal(root["trace_id"], res["app_trace_id"], "the execution span's trace id is the application span's")
        C.equal(root["parent_span_id"], res["app_span_id"], "the execution span's parent is the application span")
        C.equal(res.get("trace_id"), res["app_trace_id"], f"the {face} face's trace id (get_trace_id) is the application's")
        C.check("handle-request" in res.get("app_spans", []), "the application's own span was recorded by its SDK",
                res.get("app_spans"))
    else:
        C.equal(root["parent_span_id"], "", "no host span: the execution span is a root")

    # One CLIENT span per call in the ledger, matched to it.
    call_spans = [s for s in spans if s is not root]
    C.equal(len(call_spans), len(calls), "call spans (one per call in the ledger)")
    C.check(all(s["kind"] == "CLIENT" for s in call_spans), "every call span is kind CLIENT",
            [s["kind"] for s in call_spans])
    C.check(all(s["trace_id"] == root["trace_id"] and s["parent_span_id"] == root["span_id"] for s in call_spans),
            "every call span is a child of the execution span, in its trace")
    unknown = sorted({k for s in call_spans for k in s["attributes"]} - CALL_ATTRIBUTES)
    C.check(not unknown, "call spans carry only the GenAI/wflo attributes listed", unknown)

    asked = res.get("asked")
    if asked is not None:
        C.equal([a[0] for a in asked], [c["step"] for c in calls], "the calls the application made, by step, in order")
    unmatched = list(call_spans)
    mismatches = []
    for i, c in enumerate(calls):
        want = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": c["requested_model"],
            "wflo.execution.id": exec_id,
            "wflo.step": c["step"],
            "wflo.status": c["status"],
            "wflo.reserved.nanos": c["reserved_nanos"],
        }
        if c["provider"]:
            want["gen_ai.provider.name"] = c["provider"]
        if asked is not None and i < len(asked):
            want["gen_ai.request.max_tokens"] = asked[i][1]
        elif face == "rust" and not (c["step"] == "write" and c["status"] == "ok"):
            want["gen_ai.request.max_tokens"] = DEMO_MAX_TOKENS.get(c["step"])
        if c["status"] == "refused":
            want["error.type"] = "budget_exceeded"
        else:
            u = c["usage"]
            want.update({
                "gen_ai.response.model": c["model"],
                "gen_ai.usage.input_tokens": u["input"] + u["cache_read"] + u["cache_write_5m"] + u["cache_write_1h"],
                "gen_ai.usage.output_tokens": u["output"] + u["reasoning"],
                "gen_ai.usage.cache_read.input_tokens": u["cache_read"],
                "gen_ai.usage.cache_creation.input_tokens": u["cache_write_5m"] + u["cache_write_1h"],
                "gen_ai.usage.reasoning.output_tokens": u["reasoning"],
                "gen_ai.usage.cost.currency": "USD",
                "wflo.cost.nanos": c["cost_nanos"],
                "wflo.estimated": c["estimated"],
            })
        name = f"chat {c['model'] or c['requested_model']}"
        start_ns = c["started_at_ms"] * 1_000_000
        end_ns = max(c["finished_at_ms"], c["started_at_ms"]) * 1_000_000

        def diff(s: Dict[str, Any]) -> List[str]:
            a = s["attributes"]
            d = [f"{k}: {a.get(k, '<absent>')!r} != {v!r}" for k, v in want.items() if a.get(k, "<absent>") != v
                 or type(a.get(k)) is not type(v)]
            if s["name"] != name:
                d.append(f"name {s['name']!r} != {name!r}")
            if (s["start_ns"], s["end_ns"]) != (start_ns, end_ns):
                d.append(f"times {(s['start_ns'], s['end_ns'])} != {(start_ns, end_ns)}")
            if c["status"] == "refused":
                present = sorted(USAGE & set(a))
                if present:
                    d.append(f"a refused call carries {present}")
                if s["status"] != "ERROR":
                    d.append(f"status {s['status']} != ERROR")
            else:
                missing = sorted(USAGE - set(a))
                if missing:
                    d.append(f"missing {missing}")
                amount = a.get("gen_ai.usage.cost.amount")
                if not isinstance(amount, float) or round(amount * 1e9) != c["cost_nanos"] \
                        or not math.isclose(amount, c["cost_nanos"] / 1e9, rel_tol=1e-12, abs_tol=1e-18):
                    d.append(f"gen_ai.usage.cost.amount {amount!r} is not {c['cost_nanos']} nano-USD")
                if "gen_ai.request.max_tokens" not in a or not isinstance(a["gen_ai.request.max_tokens"], int) \
                        or a["gen_ai.request.max_tokens"] <= 0:
                    d.append(f"gen_ai.request.max_tokens {a.get('gen_ai.request.max_tokens')!r}")
            return d

        found = next((s for s in unmatched if not diff(s)), None)
        if found is None:
            closest = min(unmatched, key=lambda s: len(diff(s)), default=None)
            mismatches.append(f"call #{c['seq']} ({c['step']}, {c['status']}): "
                              + ("; ".join(diff(closest)) if closest else "no span left"))
        else:
            unmatched.remove(found)
    C.check(not mismatches, f"each of the {len(calls)} calls has a span whose attributes are the ledger's "
            "(model, provider, step, status, tokens, reserved, cost to the nano-USD, times)", "\n        ".join(mismatches))
    span_total = sum(s["attributes"].get("wflo.cost.nanos", 0) for s in call_spans)
    C.equal(span_total, breakdown["total_nanos"], "the sum of the call spans' wflo.cost.nanos (the breakdown's total)")
    C.equal(span_total, execution["spent_nanos"], "the sum of the call spans' wflo.cost.nanos (the execution's spend)")
    if face == "rust":
        clamped = [s for s in call_spans if s["attributes"].get("wflo.step") == "write"
                   and s["attributes"].get("wflo.status") == "ok"]
        C.check(clamped and 0 < clamped[0]["attributes"].get("gen_ai.request.max_tokens", 0) < 8000,
                "the demo's clamped write call sends (and reports) less than the 8000 max_tokens asked",
                [s["attributes"].get("gen_ai.request.max_tokens") for s in clamped])

    # Refusals: a span, and no request at the mock.
    C.check(len(refused_calls) >= 1, f"the workload had a refused call ({len(refused_calls)})")
    if "refused" in res:
        C.equal(len(refused_calls), res["refused"], "refused calls in the ledger (those the application saw refused)")
    C.equal(len([s for s in call_spans if s["attributes"].get("error.type") == "budget_exceeded"]), len(refused_calls),
            "spans with error.type=budget_exceeded (the ledger's refused calls)")
    C.equal(sent, len(ok_calls), "requests the mock served during the run (the calls not refused)")

    # Span events.
    events = root["events"]
    cps = [e for e in events if e["name"] == "wflo.checkpoint"]
    C.equal([e["attributes"].get("wflo.checkpoint.name") for e in cps], [c["name"] for c in book["checkpoints"]],
            "wflo.checkpoint events (the ledger's checkpoints, in order)")
    C.equal(len([e for e in events if e["name"] == "wflo.rollback"]), len(book["rollbacks"]),
            "wflo.rollback events (the ledger's rollbacks)")
    alerts = [{"scope": e["attributes"].get("wflo.scope"), "kind": e["attributes"].get("wflo.alert.kind"),
               "percent": e["attributes"].get("wflo.alert.percent"), "limit_nanos": e["attributes"].get("wflo.limit.nanos"),
               "spent_nanos": e["attributes"].get("wflo.spent.nanos")} for e in events if e["name"] == "wflo.budget.alert"]
    C.equal(alerts, res.get("alerts", []), "wflo.budget.alert events (the alerts the face's callback received)")
    C.check(all(e["time_ns"] >= root["start_ns"] and e["time_ns"] <= root["end_ns"] for e in events),
            "span events fall within the execution span")

    # Resource and scope.
    everything = spans + metrics
    C.check(all(x["resource"].get("service.name") == service for x in everything), f"resource service.name = {service}")
    C.check(all(x["resource"].get("wflo.test.face") == face and x["resource"].get("deployment.environment.name") == "otel-test"
                for x in everything), "resource attributes from OTEL_RESOURCE_ATTRIBUTES")
    C.check(all(x["scope"]["name"] == "wflo" and x["scope"]["schema_url"] == SCHEMA_URL for x in everything),
            f"instrumentation scope 'wflo', schema {SCHEMA_URL}")

    # Metrics.
    for name, (kind, unit) in METRICS.items():
        ms = [m for m in metrics if m["name"] == name]
        C.check(ms and all(m["kind"] == kind and m["unit"] == unit for m in ms), f"metric {name}: {kind}, unit {unit}",
                [(m["kind"], m["unit"]) for m in ms])
    for name in ("wflo.cost", "wflo.refusals"):
        C.check(all(m["monotonic"] is True for m in metrics if m["name"] == name), f"{name} is a monotonic counter")
    sums = {kind: sum(s["attributes"].get(f"gen_ai.usage.{kind}_tokens", 0) for s in call_spans) for kind in ("input", "output")}
    tokens = latest_points(metrics, "gen_ai.client.token.usage")
    for kind in ("input", "output"):
        pts = [p for p in tokens if p["attributes"].get("gen_ai.token.type") == kind]
        C.equal((sum(p["count"] for p in pts), sum(p["sum"] for p in pts)), (len(ok_calls), float(sums[kind])),
                f"gen_ai.client.token.usage {{gen_ai.token.type={kind}}} (count, sum) = the spans'")
    C.equal(sum(p["count"] for p in latest_points(metrics, "gen_ai.client.operation.duration")), len(ok_calls),
            "gen_ai.client.operation.duration count (calls sent)")
    by_label: Dict[tuple, int] = defaultdict(int)
    for c in ok_calls:
        by_label[(c["model"] or c["requested_model"], c["step"] or "(execution)")] += c["cost_nanos"]
    cost = {(p["attributes"].get("gen_ai.request.model"), p["attributes"].get("wflo.scope")): p["value"]
            for p in latest_points(metrics, "wflo.cost")}
    C.check(set(cost) == set(by_label) and all(math.isclose(cost[k], by_label[k] / 1e9, rel_tol=1e-9, abs_tol=1e-15)
                                               for k in cost),
            "wflo.cost by (model, scope) = the ledger's cost in USD", f"{cost} vs { {k: v / 1e9 for k, v in by_label.items()} }")
    C.equal(sum(p["value"] for p in latest_points(metrics, "wflo.refusals")), len(refused_calls),
            "wflo.refusals (the ledger's refused calls)")
    remaining = [p for p in latest_points(metrics, "wflo.budget.remaining")
                 if p["attributes"].get("wflo.scope.kind") == "execution" and p["attributes"].get("wflo.scope") == workflow]
    want_left = (execution["budget_nanos"] - execution["spent_nanos"]) / 1e9
    C.check(len(remaining) == 1 and math.isclose(remaining[0]["value"], want_left, rel_tol=1e-9),
            f"wflo.budget.remaining {{execution {workflow}}} = budget - spend = {want_left}", remaining)
    labels = [v for m in metrics for p in m["points"] for v in p["attributes"].values()]
    C.check(not any(isinstance(v, str) and ("exec-" in v or v == exec_id) for v in labels),
            "metric labels are bounded: no execution id")

    # The face's own metrics text.
    text = res.get("metrics_text")
    if text is not None:
        C.equal(dropped_total(text), 0, "the face's metrics text: wflo_telemetry_dropped_total (endpoint up)")
        costs = [float(m.group(1)) for m in re.finditer(r"^wflo_cost_usd_total\{[^}]*\} (\S+)$", text, re.M)]
        C.check(math.isclose(sum(costs), breakdown["total_nanos"] / 1e9, rel_tol=1e-9, abs_tol=1e-12),
                "the face's metrics text: wflo_cost_usd_total adds up to the spend", costs)


def check_down(face: str, wl: Workload, mock: Mock, tmp: pathlib.Path, up_seconds: Optional[float]) -> None:
    """The endpoint is a closed port: the workload succeeds, its ledger is whole, drops are counted."""
    port = closed_port()
    db = tmp / f"{face}-down" / "wflo.db"
    db.parent.mkdir()
    proc, res, sent = wl.start(f"wflo-otel-{face}-down", f"http://127.0.0.1:{port}", db, mock, OTEL_TEST_WAIT_DROPPED="1")
    if not C.check(proc.returncode == 0 and res is not None, f"endpoint down (127.0.0.1:{port}): the {face} workload succeeds",
                   proc.stderr[-2000:]):
        return
    book = ledger(res["execution_id"], db)
    ok = [c for c in book["calls"] if c["status"] != "refused"]
    C.check(book["execution"]["status"] == "completed" and len(ok) >= 2 and sent == len(ok)
            and book["breakdown"]["total_nanos"] == sum(c["cost_nanos"] for c in ok) > 0,
            f"endpoint down: the ledger is whole ({len(book['calls'])} calls, {len(ok)} sent, "
            f"${book['breakdown']['total_nanos'] / 1e9:.9f})")
    if up_seconds is not None:
        C.check(proc.elapsed < up_seconds + 15, f"endpoint down: it took {proc.elapsed:.1f}s "
                f"(endpoint up: {up_seconds:.1f}s): nothing waits on the dead endpoint beyond the exporter's timeout")
    if "metrics_text" in res:
        n = dropped_total(res["metrics_text"])
        C.check(n is not None and n > 0, f"endpoint down: the {face} face's metrics text counts the drops "
                f"(wflo_telemetry_dropped_total {n})")


def check_receiver(rx: Receiver) -> None:
    """The receiver itself: a gzip-compressed OTLP protobuf request, made with the proto classes,
    comes back decoded; an undecodable body is refused and reported."""
    import gzip
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "receiver-self-check"
    span = rs.scope_spans.add().spans.add()
    span.name, span.kind = "probe", 3
    span.trace_id, span.span_id = bytes(range(1, 17)), bytes(range(1, 9))
    a = span.attributes.add()
    a.key, a.value.int_value = "n", 7
    post = urllib.request.Request(f"{rx.url}/v1/traces", data=gzip.compress(req.SerializeToString()), method="POST",
                                  headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    with urllib.request.urlopen(post, timeout=10) as r:
        status = r.status
    got = rx.spans("receiver-self-check")
    C.check(status == 200 and len(got) == 1 and got[0]["kind"] == "CLIENT" and got[0]["attributes"] == {"n": 7}
            and got[0]["trace_id"] == bytes(range(1, 17)).hex(), "a gzip-compressed OTLP protobuf request is decoded", got)
    bad = urllib.request.Request(f"{rx.url}/v1/metrics", data=b"\xff\xff not protobuf", method="POST",
                                 headers={"Content-Type": "application/x-protobuf"})
    try:
        urllib.request.urlopen(bad, timeout=10)
        code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    C.check(code == 400 and len(rx.errors) == 1, "an undecodable body is answered 400 and recorded", rx.errors)
    rx.errors.clear()
    rx.requests.clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", default=os.environ.get("OTEL_FACES", "rust,python,node,go"))
    parser.add_argument("--python", default=sys.executable, help="a Python with wflo, openai, anthropic and the OTel SDK")
    parser.add_argument("--node-dir", default=str(ROOT / "bindings" / "node"), help="bindings/node, built")
    parser.add_argument("--go-bin", default=None, help="the Go workload, built from tests/otel/go")
    args = parser.parse_args()
    faces = [f for f in args.faces.split(",") if f]
    started = time.monotonic()
    all_workloads = workloads(args)
    missing = [f for f in faces if f not in all_workloads]
    if missing:
        print(f"otel: no workload for {missing} (the Go workload needs --go-bin)")
        return 2

    mock = Mock()
    rx = Receiver()
    print(f"otel: receiver at {rx.url}, mock at {mock.url}, faces {', '.join(faces)}")
    up_seconds: Dict[str, float] = {}
    try:
        C.start("the receiver")
        check_receiver(rx)
        with tempfile.TemporaryDirectory(prefix="wflo-otel-") as t:
            tmp = pathlib.Path(t)
            for face in faces:
                C.start(f"{face}: spans and metrics at the receiver")
                service = f"wflo-otel-{face}"
                db = tmp / face / "wflo.db"
                db.parent.mkdir()
                proc, res, sent = all_workloads[face].start(service, rx.url, db, mock)
                up_seconds[face] = proc.elapsed
                if not C.check(proc.returncode == 0 and res is not None,
                               f"the {face} workload ran ({proc.elapsed:.1f}s)",
                               f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"):
                    continue
                check_face(face, service, rx, res, db, sent)

            C.start("every body received")
            C.check(rx.requests and all(r["content_type"] == "application/x-protobuf" for r in rx.requests),
                    f"{len(rx.requests)} OTLP requests, all application/x-protobuf",
                    {r["content_type"] for r in rx.requests})
            C.equal(rx.errors, [], "bodies the receiver could not decode")
            leaks = sorted({s.decode() for body in rx.bodies for s in SECRETS if s in body})
            C.check(not leaks, f"no planted secret, API key or prompt in any of the {len(rx.bodies)} bodies", leaks)

            for face in faces:
                C.start(f"{face}: the endpoint down")
                check_down(face, all_workloads[face], mock, tmp, up_seconds.get(face))

            if "rust" in faces:
                C.start("OTEL_SDK_DISABLED=true")
                db = tmp / "disabled" / "wflo.db"
                db.parent.mkdir()
                proc, res, _ = all_workloads["rust"].start("wflo-otel-disabled", rx.url, db, mock, OTEL_SDK_DISABLED="true")
                C.check(proc.returncode == 0 and res is not None, "the demo runs", proc.stderr[-2000:])
                time.sleep(1.0)
                C.equal(len(rx.spans("wflo-otel-disabled")) + len(rx.metrics("wflo-otel-disabled")), 0,
                        "spans and metrics received with the SDK disabled")
    finally:
        rx.close()
        mock.stop()
    print(f"\notel: {time.monotonic() - started:.1f}s")
    for f in C.failed:
        print(f"  failed: {f}")
    print(f"otel: {C.passed} passed, {len(C.failed)} failed")
    return 1 if C.failed else 0


if __name__ == "__main__":
    sys.exit(main())
