"""Approval thresholds from Python: ``WfloWorkflow(approval_above_usd=…)`` — a call whose worst
case passes the threshold meets a numbered gate ("call #1 over $0.001") and waits for a person
before anything is reserved or sent.

Real components throughout: a SQLite file, the official SDKs against `wflo mock-llm` (whose
request counter says what went out), approvals decided from another thread, from the event
loop, and by `wflo approve ID` in another process. Sync code waits on its own thread; async
code must keep its event loop running while a gate is pending — each async test approves from
a task on that very loop, after seeing another task tick, so a blocked loop cannot pass (a
safety net denies whatever is still pending after a while, so a blocked loop fails instead of
hanging).
"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, List, Optional

import anthropic
import openai
import pytest

import wflo
from conftest import wflo_bin
from lc_support import chat
from wflo.errors import from_details

THRESHOLD = "0.001"
COSTLY = dict(model="gpt-4o", max_tokens=4000)  # up to $0.04 of output: over the threshold
CHEAP = dict(model="gpt-4o-mini", max_tokens=20)  # a fraction of a cent: no gate
MESSAGES = [{"role": "user", "content": "Summarise the quarter in detail."}]


# Every test here leaves the SDKs as it found them (conftest.clean_patches).
pytestmark = pytest.mark.usefixtures("clean_patches")


def completions(mock) -> int:
    return mock.stats().get("chat.completions", 0)


def gated(engine, name: str = "gated") -> wflo.WfloWorkflow:
    return wflo.WfloWorkflow(name, budget_usd="1", approval_above_usd=THRESHOLD, engine=engine)


def next_pending(engine: wflo.Engine, seen: set, timeout: float = 20.0) -> wflo.Approval:
    """The first pending approval not in ``seen`` (polled from this thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [a for a in engine.approvals() if a.id not in seen]
        if fresh:
            seen.add(fresh[0].id)
            return fresh[0]
        time.sleep(0.01)
    raise AssertionError("no approval gate was met")


class Approver(threading.Thread):
    """Another thread: waits for the next gate, notes what the mock and the store held while it
    was pending, then decides it through the engine."""

    def __init__(self, engine: wflo.Engine, mock, wf: wflo.WfloWorkflow, seen: set, approve: bool) -> None:
        super().__init__(daemon=True)
        self.engine, self.mock, self.wf, self.seen, self.approve = engine, mock, wf, seen, approve
        self.asked: Optional[wflo.Approval] = None
        self.sent_while_pending: Optional[int] = None
        self.calls_while_pending: Optional[int] = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.asked = next_pending(self.engine, self.seen)
            self.sent_while_pending = completions(self.mock)
            time.sleep(0.1)  # the caller keeps waiting: nothing goes out meanwhile
            self.sent_while_pending = completions(self.mock) - self.sent_while_pending
            self.calls_while_pending = len(self.wf.calls())
            if self.approve:
                self.engine.approve(self.asked.id, note="one long answer is fine", by="ana")
            else:
                self.engine.deny(self.asked.id, note="too big", by="bo")
        except BaseException as e:  # reported by the test
            self.error = e


def test_a_costly_call_waits_on_its_thread_until_approved_a_denied_one_never_goes_out(mock, tmp_path):
    engine = wflo.Engine.open(str(tmp_path / "threshold.db"))
    try:
        wf = gated(engine)
        api = wflo.instrument(openai.OpenAI(base_url=mock.openai_base(), api_key="test-key", max_retries=0))
        seen: set = set()
        before = completions(mock)
        outcome: dict = {}

        def agent(_: Any) -> None:
            approver = Approver(engine, mock, wf, seen, approve=True)
            approver.start()
            outcome["reply"] = api.chat.completions.create(messages=MESSAGES, extra_headers={"x-mock": "reply=7"},
                                                           **COSTLY)
            approver.join(5)
            outcome["approved"] = approver
            outcome["after_first"] = completions(mock)

            denier = Approver(engine, mock, wf, seen, approve=False)
            denier.start()
            with pytest.raises(wflo.ApprovalDeniedError) as denied:
                api.chat.completions.create(messages=[{"role": "user", "content": "Now the whole report."}],
                                            **COSTLY)
            denier.join(5)
            outcome["denied"], outcome["error"] = denier, denied.value
            outcome["after_denied"] = completions(mock)

            outcome["cheap"] = api.chat.completions.create(messages=[{"role": "user", "content": "Say yes."}],
                                                           **CHEAP)

        wf.execute_sync(agent)

        approved = outcome["approved"]
        assert approved.error is None and approved.asked is not None
        assert (approved.asked.gate, approved.asked.status) == ("call #1 over $0.001", "pending")
        assert "gpt-4o" in approved.asked.what and approved.asked.execution_id == wf.execution_id
        # Pending: nothing sent, nothing recorded; approved: exactly that request went out.
        assert (approved.sent_while_pending, approved.calls_while_pending) == (0, 0)
        assert outcome["after_first"] == before + 1
        assert outcome["reply"].usage.completion_tokens == 7  # the reply the approved request asked for
        decided = engine.approval(approved.asked.id)
        assert (decided.status, decided.decided_by, decided.note) == ("approved", "ana", "one long answer is fine")

        denied, error = outcome["denied"], outcome["error"]
        assert denied.error is None and denied.asked.gate == "call #2 over $0.001"
        assert (error.approval_id, error.gate, error.by, error.note) == (denied.asked.id, "call #2 over $0.001", "bo",
                                                                          "too big")
        assert outcome["after_denied"] == outcome["after_first"]  # the denied call never went out

        # The cheap call met no gate; the denied one is not in the record.
        assert [a.gate for a in engine.approvals(pending_only=False)] == ["call #2 over $0.001",
                                                                          "call #1 over $0.001"]
        assert completions(mock) == before + 2
        calls = wf.calls()
        assert [(c["requested_model"], c["status"]) for c in calls] == [("gpt-4o", "ok"), ("gpt-4o-mini", "ok")]
        assert calls[0]["usage"]["output"] == 7
        assert wf.breakdown_sync()["reserved_nanos"] == 0
        assert wf.approval_above_usd == 0.001
    finally:
        engine.close()


def test_a_resumed_execution_keeps_its_threshold(engine):
    wf = gated(engine)
    wf.start_sync()
    wf.finish_sync()
    again = wflo.WfloWorkflow.resume(wf.execution_id, engine=engine)
    assert again.approval_above_usd == 0.001
    assert wflo.WfloWorkflow("plain", engine=engine).approval_above_usd is None
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.WfloWorkflow("bad", approval_above_usd="-1", engine=engine)


# -- async: the event loop keeps running while a gate is pending ------------------------------------


class Loop:
    """A ticker task on the loop, and the approvals made from another task on it."""

    def __init__(self, engine: wflo.Engine) -> None:
        self.engine = engine
        self.ticks = 0
        self.ticks_while_pending: List[int] = []
        self.gates: List[str] = []

    async def tick(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.005)

    async def decide(self, decide: Callable[[wflo.Approval], Any]) -> None:
        """Waits on the loop for the next gate, sees the ticker run while it is pending, decides."""
        seen = {a.id for a in self.engine.approvals(pending_only=False)}
        while True:
            fresh = [a for a in self.engine.approvals() if a.id not in seen]
            if fresh:
                break
            await asyncio.sleep(0.01)
        start = self.ticks
        await asyncio.sleep(0.1)
        self.ticks_while_pending.append(self.ticks - start)
        self.gates.append(fresh[0].gate)
        result = decide(fresh[0])
        if asyncio.iscoroutine(result):
            await result

    async def run(self, wf: wflo.WfloWorkflow, agent: Callable[[Any], Any],
                  decide: Callable[[wflo.Approval], Any]) -> Any:
        ticker = asyncio.create_task(self.tick())
        decider = asyncio.create_task(self.decide(decide))
        # The safety net: a loop blocked at the gate would never let `decide` run.
        net = threading.Timer(20, lambda: [self.engine.deny(a.id, by="safety-net") for a in self.engine.approvals()])
        net.start()
        try:
            try:
                return await wf.execute(agent)
            finally:
                await asyncio.wait_for(decider, 5)
                assert self.ticks_while_pending and self.ticks_while_pending[0] > 0, \
                    "the event loop was blocked at the gate"
        finally:
            net.cancel()
            ticker.cancel()
            decider.cancel()


async def test_an_async_gate_is_approved_by_the_cli_while_the_loop_runs(mock, tmp_path):
    db = str(tmp_path / "threshold.db")
    engine = wflo.Engine.open(db)
    try:
        wf = gated(engine)
        api = wflo.instrument(openai.AsyncOpenAI(base_url=mock.openai_base(), api_key="test-key", max_retries=0))
        before = completions(mock)
        loop = Loop(engine)

        async def cli_approves(asked: wflo.Approval) -> None:
            cli = await asyncio.create_subprocess_exec(
                wflo_bin(), "approve", asked.id, "--note", "fine", "--by", "ana", "--db", db,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await cli.communicate()
            assert cli.returncode == 0, err.decode()

        async def agent(_: Any) -> Any:
            return await api.chat.completions.create(messages=MESSAGES, extra_headers={"x-mock": "reply=5"}, **COSTLY)

        reply = await loop.run(wf, agent, cli_approves)
        assert reply.usage.completion_tokens == 5
        assert loop.gates == ["call #1 over $0.001"]
        assert completions(mock) == before + 1
        assert [a.decided_by for a in engine.approvals(pending_only=False)] == ["ana"]
        assert [c["status"] for c in wf.calls()] == ["ok"]
    finally:
        engine.close()


async def test_an_async_gate_denied_from_the_loop_sends_nothing(mock, engine):
    wf = gated(engine)
    api = wflo.instrument(openai.AsyncOpenAI(base_url=mock.openai_base(), api_key="test-key", max_retries=0))
    before = completions(mock)
    loop = Loop(engine)

    async def agent(_: Any) -> Any:
        return await api.chat.completions.create(messages=MESSAGES, **COSTLY)

    with pytest.raises(wflo.ApprovalDeniedError) as denied:
        await loop.run(wf, agent, lambda a: engine.deny(a.id, note="no", by="bo"))
    assert (denied.value.by, denied.value.note) == ("bo", "no")
    assert completions(mock) == before
    assert wf.calls() == []


def _anthropic_stream(mock) -> Callable[[Any], Any]:
    api = wflo.instrument(anthropic.AsyncAnthropic(base_url=mock.anthropic_base(), api_key="test-key",
                                                   max_retries=0))

    async def agent(_: Any) -> Any:
        # .stream() is a plain method returning a manager: reserved when the block is entered.
        async with api.messages.stream(model="claude-haiku-4-5", max_tokens=4000, messages=MESSAGES) as stream:
            return (await stream.get_final_message()).usage.output_tokens

    return agent


def _track(mock) -> Callable[[Any], Any]:
    api = openai.AsyncOpenAI(base_url=mock.openai_base(), api_key="test-key", max_retries=0)

    @wflo.track_llm_call(model="gpt-4o", max_tokens=4000)
    async def ask(prompt: str) -> Any:
        return await api.chat.completions.create(model="gpt-4o", max_tokens=4000,
                                                 messages=[{"role": "user", "content": prompt}])

    async def agent(_: Any) -> Any:
        return (await ask("Summarise the quarter in detail.")).usage.completion_tokens

    return agent


def _langchain(mock) -> Callable[[Any], Any]:
    wflo.instrument()  # the SDK call LangChain makes must not be metered (nor gated) twice
    model = chat(mock, model="gpt-4o", max_tokens=4000)

    async def agent(_: Any) -> Any:
        return (await model.ainvoke("Summarise the quarter in detail.")).usage_metadata["output_tokens"]

    return agent


def _reserve_async(mock) -> Callable[[Any], Any]:
    async def agent(_: Any) -> Any:
        wf = wflo.current_workflow()
        reservation = await wf.reserve_async(model="gpt-4o", input_tokens=20, max_output_tokens=4000)
        reservation.settle(input=20, output=3)
        made = await wf.reserve_request_async("openai_chat", {"model": "gpt-4o-mini", "max_tokens": 20,
                                                              "messages": MESSAGES})
        made.reservation.settle(input=10, output=2)  # under the threshold: no second gate
        return 3

    return agent


@pytest.mark.parametrize("path", [_anthropic_stream, _track, _langchain, _reserve_async],
                         ids=["anthropic-stream-helper", "track_llm_call", "langchain-ainvoke", "reserve_async"])
async def test_every_async_path_waits_off_the_loop(mock, engine, path):
    wf = gated(engine, name=path.__name__)
    agent = path(mock)
    before = mock.requests()
    loop = Loop(engine)

    def approve(asked: wflo.Approval) -> None:
        assert mock.requests() == before  # nothing went out while the gate was pending
        engine.approve(asked.id, by="loop")

    output = await loop.run(wf, agent, approve)
    assert output > 0
    assert loop.gates == ["call #1 over $0.001"]
    assert [a.status for a in engine.approvals(pending_only=False)] == ["approved"]  # one gate, once
    calls = wf.calls()
    assert calls and all(c["status"] == "ok" for c in calls)
    assert len([c for c in calls if c["requested_model"] != "gpt-4o-mini"]) == 1  # metered once
    assert wf.breakdown_sync()["reserved_nanos"] == 0


async def test_a_sync_langchain_call_on_the_loop_thread_is_stopped_by_a_denial(mock, engine):
    # LangChain's sync path swallows what a coroutine handler raises: there the handler must
    # stay plain, holding the thread until the gate is decided, so a denial stops the request.
    wflo.instrument()
    model = chat(mock, model="gpt-4o", max_tokens=4000)
    wf = gated(engine, name="sync-on-the-loop")
    before = mock.requests()
    denier = Approver(engine, mock, wf, set(), approve=False)
    denier.start()

    async def agent(_: Any) -> Any:
        return model.invoke("Summarise the quarter in detail.")  # sync, on the loop's own thread

    with pytest.raises(wflo.ApprovalDeniedError):
        await wf.execute(agent)
    denier.join(timeout=30)
    assert denier.error is None and denier.asked is not None
    assert mock.requests() == before
    assert [c for c in wf.calls() if c["status"] == "ok"] == []


# -- the pending error ----------------------------------------------------------------------------


def test_approval_pending_is_typed_and_a_refusal(engine):
    e = from_details({"code": "APPROVAL_PENDING", "message": "pending", "id": "appr-1", "gate": "call #1 over $0.5",
                      "what": "a gpt-4o call that may cost up to $0.6"})
    assert type(e) is wflo.ApprovalPendingError and isinstance(e, wflo.WfloError)
    assert (e.code, e.approval_id, e.gate, e.what) == ("APPROVAL_PENDING", "appr-1", "call #1 over $0.5",
                                                       "a gpt-4o call that may cost up to $0.6")
    assert wflo.errors.is_refusal(e)  # the engine's rule: neither a breaker failure nor retried
    assert "ApprovalPendingError" in wflo.__all__ and "approval" in wflo.__all__
    with pytest.raises(wflo.NotFoundError):
        engine.approval("appr-000000000000")
    with pytest.raises(wflo.InvalidArgumentError):
        engine.approval(7)  # type: ignore[arg-type]
    wf = wflo.WfloWorkflow("asks", engine=engine)
    asked = wf.request_approval("publish")
    assert engine.approval(asked.id) == asked
    assert wflo.approval(asked.id, engine=engine).status == "pending"
