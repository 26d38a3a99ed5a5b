"""The parity suite from Python: every scenario of tests/vectors/scenarios.json replayed through
the public API exactly as tests/vectors/README-scenarios.md says, into a ledger that must equal
Rust's byte for byte (tests/parity/compare.py). A Python face that decided anything on its own —
read a request, estimated a result, picked a finish status, parsed a dollar amount — would
show up there as a difference.

With WFLO_PARITY_DIR set the ledger is written to $WFLO_PARITY_DIR/python.json; when Rust's
reference (rust.json) is already there, it is compared here as well.
"""
from __future__ import annotations

import json
import os
import pathlib
from decimal import Decimal
from typing import Any, Dict, List, Optional

import wflo
from conftest import VECTORS
from wflo import _fast
from wflo.errors import from_details
from wflo.integrations.langgraph import _call as langgraph_call
from wflo.resilience import CircuitBreakerOpenError, ResourceLock, Retrier, get_circuit_breaker

CALL_FIELDS = ("seq", "step", "provider", "requested_model", "model", "usage", "cost_nanos", "reserved_nanos",
               "overrun_nanos", "estimated", "usage_missing", "stream", "status", "error")

# The class each code is raised as, to build the error a scenario's body ends with.
ERRORS = {cls.code: cls for cls in (wflo.InvalidArgumentError, wflo.UnknownModelError, wflo.BudgetExceededError,
                                    wflo.NotFoundError, wflo.ConflictError, wflo.StorageError, wflo.ClosedError,
                                    wflo.InternalError, wflo.CircuitOpenError, wflo.ResourceBusyError,
                                    wflo.ApprovalDeniedError, wflo.ApprovalPendingError, wflo.CallLimitError)}


def raised(codes: List[str]) -> BaseException:
    """An exception whose chain of causes holds ``codes``, outermost first (``[]``: a foreign
    error, as a framework's own exception)."""
    if not codes:
        return RuntimeError("a foreign error")
    error: Optional[BaseException] = None
    for code in reversed(codes):
        outer = ERRORS[code](f"{code.lower()} along the chain")
        outer.__cause__ = error
        error = outer
    return error  # type: ignore[return-value]


def call(wf: wflo.WfloWorkflow, step: Dict[str, Any]) -> Dict[str, Any]:
    fmt = step["format"]
    breaker = None
    if step.get("breaker") is not None:
        breaker = get_circuit_breaker(step["breaker"], engine=wf.engine)
        try:
            breaker.check()
        except CircuitBreakerOpenError as e:
            return {"op": "call", "body": None, "error": e.code}
    try:
        reservation, body = wf.reserve_request(fmt, step["request"], **step.get("options", {}))
    except wflo.WfloError as e:
        return {"op": "call", "body": None, "error": e.code}
    outcome = step["outcome"]
    if "result" in outcome:
        reservation.settle_result(fmt, outcome["result"], outcome.get("status", "ok"))
    elif "stream" in outcome:
        stream = wflo.Stream(fmt)
        for event in outcome["stream"]:
            stream.push(json.dumps(event))
        reservation.settle_stream(stream, outcome["status"])
    elif "error" in outcome:
        reservation.release("error", outcome["error"])
    elif "text" in outcome:
        reservation.settle_text(outcome["text"], outcome["status"])
    else:
        raise AssertionError(f"unknown outcome {outcome}")
    if breaker is not None:
        if "error" in outcome:
            breaker.record_failure()
        else:
            breaker.record_success()
    return {"op": "call", "body": body, "error": None}


def breaker_of(wf: wflo.WfloWorkflow, name: str, config: Optional[Dict[str, Any]]) -> Any:
    """The breaker ``name`` of the scenario's engine, through get_circuit_breaker (made with
    ``config`` the first time)."""
    settings = dict(config or {})  # the engine's names, but the timeout in seconds
    if "recovery_timeout_ms" in settings:
        settings["recovery_timeout"] = settings.pop("recovery_timeout_ms") / 1000
    shared = settings.pop("shared", False)  # "shared": true keeps the state in the store
    breaker = get_circuit_breaker(name, engine=wf.engine, shared=shared, **settings)
    if config is not None:
        assert breaker.shared is shared, name
    return breaker


def breaker_step(wf: wflo.WfloWorkflow, step: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The breaker ``name`` of the scenario's engine, through get_circuit_breaker (made with
    ``config`` the first time), one event per action with the state after it."""
    breaker = breaker_of(wf, step["name"], step.get("config"))
    events = []
    for action in step["actions"]:
        error = None
        if action == "check":
            try:
                breaker.check()
            except wflo.CircuitOpenError as e:
                error = e.code
        elif action == "failure":
            breaker.record_failure()
        elif action == "success":
            breaker.record_success()
        elif action == "reset":
            breaker.reset()
        else:
            raise AssertionError(f"unknown breaker action {action}")
        events.append({"op": "breaker", "action": action, "state": breaker.state.value, "error": error})
    return events


def breaker_call(wf: wflo.WfloWorkflow, step: Dict[str, Any]) -> Dict[str, Any]:
    """A function run through the breaker's own wrapper (CircuitBreaker.call_sync): it returns,
    raises wflo's error for the code ``raise`` (the class the face maps that code to), or
    raises a foreign error."""
    breaker = breaker_of(wf, step["name"], step.get("config"))
    raise_ = step["raise"]
    called = []

    def protected() -> None:
        called.append(True)
        if raise_ == "foreign":
            raise RuntimeError("a foreign error")
        if raise_ is not None:
            raise from_details({"code": raise_, "message": f"{raise_.lower()} from the protected call"})

    error = None
    try:
        breaker.call_sync(protected)
    except wflo.WfloError as e:  # the wrapper's refusal (CIRCUIT_OPEN) or what the function raised
        error = e.code
    except RuntimeError:
        error = "foreign"
    return {"op": "breaker_call", "raise": raise_, "error": error, "called": bool(called),
            "state": breaker.state.value}


def breakers_step(wf: wflo.WfloWorkflow) -> Dict[str, Any]:
    """The engine's breakers on its store (Engine.breakers_on_store), without times or holders."""
    on_store = wf.engine.breakers_on_store(limit=100)
    return {"op": "breakers",
            "shared": [{k: b[k] for k in ("name", "state", "failure_count")} for b in on_store["shared"]],
            "transitions": [{k: t[k] for k in ("breaker", "shared", "from", "to", "reason")}
                            for t in on_store["transitions"]]}


def retry_call(wf: wflo.WfloWorkflow, step: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A call retried by the engine's retrier (wflo.resilience.Retrier, the level under
    RetryManager: nothing sleeps here), each attempt reserved on the execution."""
    fmt = step["format"]
    retrier = Retrier(step["policy"], engine=wf.engine)
    events: List[Dict[str, Any]] = []
    for outcome in step["attempts"]:
        attempt = retrier.attempt
        try:
            reservation, _ = wf.reserve_request(fmt, step["request"])
        except wflo.WfloError as e:
            e = retrier.refused(e)
            events.append({"op": "attempt", "attempt": attempt, "error": e.code, "message": str(e)})
            break
        events.append({"op": "attempt", "attempt": attempt, "error": None})
        if "result" in outcome:
            reservation.settle_result(fmt, outcome["result"], "ok")
            break
        failure = outcome["failure"]
        if "text" in outcome:
            reservation.settle_text(outcome["text"], "error")  # a cut stream: its output was billed
        else:
            reservation.release("error", failure["message"])
        decision = retrier.next(failure)
        events.append({**decision, "op": "retry"})
        if decision["decision"] == "give_up":
            break
    return events


def resource_step(wf: wflo.WfloWorkflow, step: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The engine's resource ``name`` through ResourceLock (the config's times in seconds), one
    event per action; each workflow's permit kept until its release."""
    settings = dict(step["config"])
    for key in ("timeout_ms", "contention_threshold_ms", "lease_ms"):
        if key in settings:
            settings[key[:-3]] = settings.pop(key) / 1000
    lock = ResourceLock(step["name"], engine=wf.engine, **settings)
    permits: Dict[str, Any] = {}
    events: List[Dict[str, Any]] = []
    for action in step["actions"]:
        if "acquire" in action:
            w = action["acquire"]
            timeout = action["timeout_ms"] / 1000 if "timeout_ms" in action else None
            error = None
            try:
                permits[w] = lock.acquire_sync(w, timeout=timeout)
            except wflo.ResourceBusyError as e:
                error = e.code
            events.append({"op": "resource", "action": "acquire", "workflow": w, "error": error})
        elif "release" in action:
            permits.pop(action["release"]).release()
            events.append({"op": "resource", "action": "release", "workflow": action["release"]})
        else:
            stats = lock.get_stats()
            events.append({"op": "resource", "action": "stats", "acquisitions": stats["total_acquisitions"],
                           "contentions": stats["contention_count"], "timeouts": stats["timeouts"],
                           "holders": stats["current_holders"]})
    return events


def approval_step(wf: wflo.WfloWorkflow, step: Dict[str, Any]) -> Dict[str, Any]:
    """Asks for approval through WfloWorkflow.request_approval (the request's nano-USD and ms
    given as dollars and seconds), decides it with wflo.approve / wflo.deny when the step says
    so, then waits with a zero wait."""
    request = dict(step["request"])
    gate = request.pop("gate")
    if "worst_case_nanos" in request:
        request["worst_case_usd"] = str(Decimal(request.pop("worst_case_nanos")).scaleb(-9))
    if "timeout_ms" in request:
        request["timeout"] = request.pop("timeout_ms") / 1000
    asked = wf.request_approval(gate, **request)
    decide = step.get("decide")
    if decide is not None:
        decision = wflo.approve if decide["approve"] else wflo.deny
        decision(asked.id, note=decide.get("note"), by=decide.get("by"), engine=wf.engine)
    event: Dict[str, Any] = {"op": "approval", "gate": gate, "asked": asked.status}
    try:
        a = wf.wait_for_approval_sync(asked.id, timeout=0)
        event.update(status=a.status, decided_by=a.decided_by, note=a.note, error=None, timed_out=None)
    except wflo.ApprovalDeniedError as e:
        event.update(status=None, decided_by=e.by, note=e.note, error=e.code, timed_out=e.timed_out)
    return event


def langgraph_step(wf: wflo.WfloWorkflow, saver: int, step: Dict[str, Any]) -> Dict[str, Any]:
    """A request run through the Python saver's one call into the engine
    (wflo_core::langgraph::wire): its values given as (type, bytes), the answer's values kept
    as [type, hex]."""
    request = dict(step["request"])
    values = [(kind, bytes.fromhex(data)) for kind, data in step.get("values", [])]
    try:
        answer, found = langgraph_call(saver, wf._started_c(), request, values)
    except wflo.WfloError as e:
        return {"op": "langgraph", "error": e.code}
    if isinstance(answer, dict) and "values" in answer:
        answer = {**answer, "values": [[kind, bytes(data).hex()] for kind, data in found]}
    return {"op": "langgraph", "answer": answer}


def load_prices(engine: wflo.Engine, scenario: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The scenario's price file (relative to tests/vectors) loaded through Engine.load_prices,
    as the ledger records it: the names it added, changed and skipped (None: no file)."""
    if scenario.get("prices_file") is None:
        return None
    try:
        changes = engine.load_prices(VECTORS / scenario["prices_file"])
    except wflo.WfloError as e:
        return {"error": e.code}
    return {
        "added": list(changes.added),
        "changed": [c.name for c in changes.changed],
        "skipped": [s.name for s in changes.skipped],
    }


# The metrics lines every face must agree on (the duration histogram's timings differ run to run).
METRIC_PREFIXES = ("wflo_cost_usd_total{", "wflo_calls_total{", "wflo_refusals_total{", "wflo_alerts_total{",
                   "wflo_budget_remaining_usd{")


def define_shared_scopes(engine: wflo.Engine, scenario: Dict[str, Any]) -> List[str]:
    """The scenario's shared scopes defined in order through Engine.define_shared_scope; the
    names the execution starts with (each once)."""
    names: List[str] = []
    for d in scenario.get("shared_scopes", []):
        engine.define_shared_scope(d["name"], d["limit_usd"], d.get("period", "none"),
                                   allowances=d.get("allowances"))
        if d["name"] not in names:
            names.append(d["name"])
    return names


def shared_step(engine: wflo.Engine, step: Dict[str, Any]) -> Dict[str, Any]:
    f = engine.shared_scope(step["name"])
    kept = ("name", "limit_nanos", "spent_nanos", "reserved_nanos", "overrun_nanos", "refusing", "allowances",
            "allowance_nanos", "allowance_holders")
    return {"op": "shared", **{k: f[k] for k in kept}}


def replay(index: int, scenario: Dict[str, Any]) -> Dict[str, Any]:
    engine = wflo.Engine.open("memory://")
    saver: List[int] = []  # the scenario's LangGraph checkpointer, made at its first langgraph step
    try:
        prices = load_prices(engine, scenario)
        shared_scopes = define_shared_scopes(engine, scenario)
        alerts: List[Dict[str, Any]] = []

        def on_threshold(a: wflo.Alert) -> None:
            alerts.append({"scope": a.scope, "kind": a.kind, "percent": a.percent, "limit_nanos": a.limit_nanos,
                           "spent_nanos": a.spent_nanos})

        wf = wflo.WfloWorkflow(scenario["name"], budget_usd=scenario["budget_usd"], engine=engine,
                               execution_id=f"exec-{index + 1:012x}", on_threshold=on_threshold,
                               traceparent=scenario.get("traceparent"),
                               alert_thresholds=scenario.get("alert_thresholds"),
                               soft_budget_usd=scenario.get("soft_budget_usd"),
                               approval_above_usd=scenario.get("approval_above_usd"),
                               # absent: no cap (the seed SDK's default of 100 is not the scenario's)
                               max_iterations=scenario.get("max_calls"),
                               per_agent_budgets=scenario.get("agent_budgets_usd"),
                               shared_scopes=shared_scopes)
        events: List[Dict[str, Any]] = []

        def body(_: Any) -> None:
            for step in scenario["steps"]:
                op = step["op"]
                if op == "scope":
                    if step.get("parent") is not None:
                        wf.scope(step["parent"]).child(step["label"], step["budget_usd"])
                    else:
                        with wf.step_sync(step["label"], step["budget_usd"]):
                            pass
                    events.append({"op": "scope", "label": step["label"]})
                elif op == "call":
                    if step.get("scope") is not None:
                        with wf.step_sync(step["scope"]):
                            events.append(call(wf, step))
                    else:
                        events.append(call(wf, step))
                elif op == "checkpoint":
                    wf.checkpoint_sync(step["name"], step["state"])
                    events.append({"op": "checkpoint", "name": step["name"]})
                elif op == "checkpoint_binary":
                    data = bytes.fromhex(step["hex"]) * step.get("repeat", 1)
                    # No content_type: bytes alone (content_type None), named by the engine.
                    state = data if "content_type" not in step else wflo.BinaryState(step["content_type"], data)
                    try:
                        info = wf.checkpoint_sync(step["name"], state)
                    except wflo.WfloError as e:
                        events.append({"op": "checkpoint_binary", "name": step["name"], "error": e.code})
                    else:
                        events.append({"op": "checkpoint_binary", "name": step["name"],
                                       "content_type": info["content_type"], "state_bytes": info["state_bytes"]})
                elif op == "checkpoints_since":
                    checkpoints, rollbacks = wf.checkpoints_since(step["after"])
                    events.append({"op": "checkpoints_since", "names": [c["name"] for c in checkpoints],
                                   "sequences": [c["sequence"] for c in checkpoints],
                                   "superseded": [c["superseded"] for c in checkpoints], "rollbacks": rollbacks})
                elif op == "checkpoints_since_with_state":
                    try:
                        checkpoints, rollbacks, state = wf.checkpoints_since_with_state(step["after"], step["id"])
                    except wflo.WfloError as e:
                        events.append({"op": "checkpoints_since_with_state", "error": e.code})
                    else:
                        events.append({**_state_event("checkpoints_since_with_state", state),
                                       "names": [c["name"] for c in checkpoints],
                                       "sequences": [c["sequence"] for c in checkpoints],
                                       "superseded": [c["superseded"] for c in checkpoints], "rollbacks": rollbacks})
                elif op == "rollback":
                    events.append(_state_event("rollback", wf.rollback_to_checkpoint_sync(step["name"])))
                elif op == "latest":
                    events.append(_state_event("latest", wf.latest_checkpoint_sync()))
                elif op == "breaker":
                    events.extend(breaker_step(wf, step))
                elif op == "breaker_call":
                    events.append(breaker_call(wf, step))
                elif op == "breakers":
                    events.append(breakers_step(wf))
                elif op == "retry_call":
                    events.extend(retry_call(wf, step))
                elif op == "resource":
                    events.extend(resource_step(wf, step))
                elif op == "approval":
                    events.append(approval_step(wf, step))
                elif op == "shared":
                    events.append(shared_step(engine, step))
                elif op == "langgraph":
                    if not saver:
                        saver.append(_fast.langgraph_new())
                    events.append(langgraph_step(wf, saver[0], step))
                else:
                    raise AssertionError(f"unknown op {op}")
            if scenario["end"] is not None:
                raise raised(scenario["end"])

        try:
            wf.execute_sync(body)
        except BaseException as e:  # the scenario's own ending
            assert scenario["end"] is not None, e
        breakdown = wf.breakdown_sync()
        return {
            "name": scenario["name"],
            "events": events,
            "status": breakdown["status"],
            "calls": [{f: c.get(f) for f in CALL_FIELDS} for c in wf.calls()],
            "spent_nanos": breakdown["total_nanos"],
            "reserved_nanos": breakdown["reserved_nanos"],
            "prices": prices,
            "price_table": breakdown["price_table"],
            "alerts": alerts,
            "trace_id": wf.get_trace_id() if scenario.get("traceparent") is not None else None,
            "metrics": [line for line in engine.metrics_text().splitlines() if line.startswith(METRIC_PREFIXES)],
        }
    finally:
        if saver:
            _fast.langgraph_free(saver[0])
        engine.close()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_scenarios_replay_as_in_rust():
    scenarios = json.loads((VECTORS / "scenarios.json").read_text())["scenarios"]
    ledger = {"face": "python", "scenarios": [replay(i, s) for i, s in enumerate(scenarios)]}
    for s in ledger["scenarios"]:
        assert s["reserved_nanos"] == 0, s["name"]  # nothing is left held once a scenario ended
    by_name = {s["name"]: s for s in ledger["scenarios"]}
    assert by_name["refused_before_sending"]["status"] == "budget_exceeded"
    assert by_name["server_error_failed_run"]["status"] == "failed"
    priced = by_name["price_file_new_model"]
    assert priced["prices"] == {"added": ["acme-frontier-9"], "changed": ["gpt-4o"], "skipped": ["acme-image-3"]}
    assert " + next-release.json (LiteLLM, " in priced["price_table"]
    assert by_name["chat_settled"]["prices"] is None
    alerted = by_name["budget_alerts"]
    assert [(a["scope"], a["kind"], a["percent"]) for a in alerted["alerts"]] == [
        ("critic", "threshold", 50), ("", "threshold", 50), ("", "soft_budget", 100), ("", "threshold", 80),
        ("", "threshold", 95)]
    assert alerted["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert by_name["chat_settled"]["alerts"] == [] and by_name["chat_settled"]["trace_id"] is None
    retried = by_name["retry_backoff_then_success"]
    assert [e["op"] for e in retried["events"]] == ["attempt", "retry", "attempt", "retry", "attempt"]
    assert retried["events"][1]["delay_ms"] == 9  # the server's retry-after-ms beat the backoff
    assert [c["status"] for c in retried["calls"]] == ["error", "error", "ok"]
    refused = by_name["retry_refused_by_budget"]["events"][2]
    assert refused["error"] == "BUDGET_EXCEEDED"
    assert "(attempt 2 not sent: attempt 1 failed: connection reset)" in refused["message"]
    fast = by_name["breaker_fails_fast"]
    assert fast["events"][5] == {"op": "call", "body": None, "error": "CIRCUIT_OPEN"}
    assert [c["status"] for c in fast["calls"]] == ["ok"]
    shared = by_name["breaker_shared_fails_fast"]  # the same, its state stepped in the store
    assert [e for e in shared["events"]] == [e for e in fast["events"]]
    assert [c["status"] for c in shared["calls"]] == ["ok"]
    locked = by_name["resource_lock_busy_then_free"]["events"]
    assert locked[1] == {"op": "resource", "action": "acquire", "workflow": "wf-b", "error": "RESOURCE_BUSY"}
    assert locked[2]["holders"] == ["wf-a"] and locked[2]["timeouts"] == 1
    gates = by_name["approval_gates"]["events"]
    assert [(e["gate"], e["status"], e["error"]) for e in gates if e["op"] == "approval"] == [
        ("publish", "approved", None), ("delete-index", None, "APPROVAL_DENIED"), ("publish", "approved", None)]
    assert gates[2]["decided_by"] == "bo" and gates[2]["note"] == "not on a Friday"
    threshold = by_name["approval_threshold_gates_costly_calls"]
    assert [e["error"] for e in threshold["events"]] == [None, None, None, "APPROVAL_DENIED", "APPROVAL_DENIED"]
    assert len(threshold["calls"]) == 2
    wrapped = by_name["breaker_wrapper_counts_failures_not_refusals"]["events"]
    assert [e["state"] for e in wrapped[:8]] == ["closed"] * 7 + ["open"]
    assert wrapped[8] == {"op": "breaker_call", "raise": None, "error": "CIRCUIT_OPEN", "called": False,
                          "state": "open"}
    assert wrapped[11]["shared"] == [{"name": "provider:openai", "state": "open", "failure_count": 1}]
    folder = os.environ.get("WFLO_PARITY_DIR")
    if not folder:
        return
    path = pathlib.Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / "python.json").write_text(json.dumps(ledger, indent=1, ensure_ascii=False))
    reference = path / "rust.json"
    if reference.exists():
        rust = json.loads(reference.read_text())
        rust.pop("face", None)
        mine = dict(ledger)
        mine.pop("face")
        for ref, got in zip(rust["scenarios"], mine["scenarios"]):
            assert canonical(got) == canonical(ref), ref["name"]
        assert canonical(mine) == canonical(rust)


def _state_event(op, state):
    """A returned state as the ledger keeps it: JSON under "state", bytes as hex under "binary"."""
    if isinstance(state, wflo.BinaryState):
        return {"op": op, "binary": {"content_type": state.content_type, "hex": state.data.hex()}}
    return {"op": op, "state": state}
