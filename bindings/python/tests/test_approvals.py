"""Approval gates from Python: WfloWorkflow.require_approval / request_approval /
wait_for_approval, and wflo.approvals / approve / deny — the engine's gates in the store.

The first test is the real shape: a workflow awaits a gate in one task while `wflo approve ID`
— the CLI, a separate process — decides it on the same SQLite file.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

import pytest

import wflo
from conftest import ROOT, wflo_bin
from wflo.errors import from_details
from wflo.resilience import RetryManager


async def test_a_gate_awaited_in_a_task_is_approved_by_the_cli_in_another_process(tmp_path):
    db = str(tmp_path / "gates.db")
    engine = wflo.Engine.open(db)
    try:
        wf = wflo.WfloWorkflow("newsletter", budget_usd="1.00", engine=engine)
        gate = asyncio.create_task(wf.require_approval("publish", why="emails 12,000 customers",
                                                       worst_case_usd="0.25", timeout=30.0))
        pending = []
        for _ in range(200):  # the event loop runs while the task waits at the gate
            pending = wflo.approvals(engine=engine)
            if pending:
                break
            await asyncio.sleep(0.01)
        assert len(pending) == 1 and not gate.done()
        asked = pending[0]
        assert (asked.gate, asked.status, asked.why, asked.what) == ("publish", "pending", "emails 12,000 customers",
                                                                     "run publish")
        assert asked.worst_case_nanos == 250_000_000 and asked.worst_case_usd == 0.25
        assert asked.execution_id == wf.execution_id and asked.on_timeout == "deny"

        cli = await asyncio.create_subprocess_exec(
            wflo_bin(), "approve", asked.id, "--note", "checked the copy", "--by", "ana", "--db", db,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await cli.communicate()
        assert cli.returncode == 0, err.decode()

        approved = await asyncio.wait_for(gate, 10)
        assert isinstance(approved, wflo.Approval)
        assert (approved.id, approved.status, approved.decided_by, approved.note) == (
            asked.id, "approved", "ana", "checked the copy")
        assert wflo.approvals(engine=engine) == []
        assert [a.id for a in wflo.approvals(pending_only=False, engine=engine)] == [asked.id]
    finally:
        engine.close()


async def test_deny_raises_approval_denied_with_who_and_why(engine):
    wf = wflo.WfloWorkflow("cleanup", engine=engine)
    asked = wf.request_approval("delete-index", why="drops the search index")
    denied = wflo.deny(asked.id, note="not on a Friday", by="bo", engine=engine)
    assert (denied.status, denied.decided_by, denied.note) == ("denied", "bo", "not on a Friday")
    with pytest.raises(wflo.ApprovalDeniedError) as caught:
        await wf.wait_for_approval(asked.id)
    e = caught.value
    assert isinstance(e, wflo.WfloError) and e.code == "APPROVAL_DENIED"
    assert (e.approval_id, e.gate, e.timed_out, e.by, e.note) == (asked.id, "delete-index", False, "bo",
                                                                   "not on a Friday")
    with pytest.raises(wflo.ConflictError):  # decided once
        wflo.approve(asked.id, engine=engine)
    # Asked again (a restarted workflow), the gate finds the same decision.
    with pytest.raises(wflo.ApprovalDeniedError):
        await wf.require_approval("delete-index")
    # A denial is wflo's refusal: never retried.
    calls = []

    def gated() -> None:
        calls.append(1)
        wf.require_approval_sync("delete-index")

    with pytest.raises(wflo.ApprovalDeniedError):
        RetryManager(max_retries=3, base_delay=0).execute_sync(gated)
    assert calls == [1]


async def test_an_unanswered_gate_times_out(engine):
    wf = wflo.WfloWorkflow("deploy", engine=engine)
    with pytest.raises(wflo.ApprovalDeniedError) as caught:
        await wf.require_approval("deploy-prod", timeout=0.1)
    assert caught.value.timed_out is True and caught.value.by == "timeout"
    expired = wflo.approvals(pending_only=False, engine=engine)[0]
    assert expired.status == "expired"
    # on_timeout="approve": no answer means go on.
    went = wf.require_approval_sync("deploy-staging", timeout=0.1, on_timeout="approve")
    assert (went.status, went.on_timeout) == ("expired", "approve")


async def test_a_second_request_for_the_same_gate_returns_the_same_approval(engine):
    wf = wflo.WfloWorkflow("publisher", engine=engine)
    first = wf.request_approval("publish", why="emails customers", timeout=5.0)
    again = wf.request_approval("publish", why="emails customers")
    assert again.id == first.id and again.status == "pending"
    assert [a.id for a in wflo.approvals(engine=engine)] == [first.id]
    # A zero wait returns it still pending; a short one too.
    assert (await wf.wait_for_approval(first.id, timeout=0)).status == "pending"
    assert wf.wait_for_approval_sync(first.id, timeout=0.05).status == "pending"
    # Approved from another thread while this one waits.
    threading.Timer(0.05, wflo.approve, (first.id,), {"by": "ana", "engine": engine}).start()
    assert wf.wait_for_approval_sync(first.id, timeout=5.0).decided_by == "ana"
    assert (await wf.require_approval("publish")).id == first.id


def test_bad_requests_and_the_error_from_the_c_abi_path(engine):
    wf = wflo.WfloWorkflow("checks", engine=engine)
    for bad in (dict(gate=""), dict(gate="g", on_timeout="maybe"), dict(gate="g", timeout=-1),
                dict(gate="g", worst_case_usd="-3"), dict(gate="g", why=7)):
        with pytest.raises(wflo.InvalidArgumentError):
            wf.request_approval(**bad)
    with pytest.raises(wflo.NotFoundError):
        wflo.approve("appr-000000000000", engine=engine)
    e = from_details({"code": "APPROVAL_DENIED", "message": "denied", "id": "appr-1", "gate": "g",
                      "timed_out": True, "by": "timeout", "note": "no decision in time: deny"})
    assert type(e) is wflo.ApprovalDeniedError
    assert (e.approval_id, e.gate, e.timed_out, e.by, e.note) == ("appr-1", "g", True, "timeout",
                                                                   "no decision in time: deny")


def test_the_gates_example_runs_as_the_readme_shows():
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python" / "gates.py")], capture_output=True,
                          text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "WFLO_LOG"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "3 acquisitions, holders now []", "asked: run publish (emails customers, up to $0.25)",
        "publish: approved by ana (copy checked)"]
