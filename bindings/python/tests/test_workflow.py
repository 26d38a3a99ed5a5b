"""WfloWorkflow: execute, budgets refused before the call, checkpoints and rollback, the
breakdown, context in tasks and threads, resuming after a crash, and typed errors for bad input
that leave what was recorded intact."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from decimal import Decimal

import pytest

import wflo
from wflo.sdk.decorators.checkpoint import checkpoint
from wflo.sdk.workflow import BudgetExceededError, WfloWorkflow

MODEL = "gpt-4o-mini"


def call(tokens_in: int = 100, tokens_out: int = 50, max_out: int = 100, wf=None) -> wflo.Settled:
    """One metered call on the running workflow (as an integration makes it)."""
    wf = wf or wflo.current_workflow()
    with wf.reserve(model=MODEL, input_tokens=tokens_in, max_output_tokens=max_out) as r:
        return r.settle(input=tokens_in, output=tokens_out)


async def test_execute_runs_an_execution_and_bills_it(engine):
    wf = WfloWorkflow(name="bill", budget_usd=1.0, engine=engine)
    assert wf.execution_id is None

    async def agent(inputs):
        assert inputs == {"prompt": "hi"}
        call()
        call(200, 10)
        return "done"

    assert await wf.execute(agent, {"prompt": "hi"}) == "done"
    assert wf.execution_id.startswith("exec-") and len(wf.execution_id) == 17
    b = await wf.breakdown()
    want = wflo.cost(MODEL, input=100, output=50) + wflo.cost(MODEL, input=200, output=10)
    assert b["total_nanos"] == want and b["calls"] == 2
    assert b["budget_usd"] == 1.0 and b["remaining_usd"] == pytest.approx(1.0 - want / 1e9)
    assert b["by_model"][0]["model"] == MODEL
    assert engine.execution(wf.execution_id)["execution"]["status"] == "completed"


async def test_a_call_that_could_overspend_is_refused_before_it_is_made(engine):
    wf = WfloWorkflow(name="tight", budget_usd="0.0004", engine=engine)
    made = []

    async def agent(_):
        for _ in range(100):
            with wflo.current_workflow().reserve(model=MODEL, input_tokens=1000, max_output_tokens=500) as r:
                made.append(1)  # the request would be sent here
                r.settle(input=1000, output=500)

    with pytest.raises(BudgetExceededError) as err:
        await wf.execute(agent, None)
    e = err.value
    worst = wflo.cost(MODEL, input=1000, output=500)
    assert len(made) == int(400_000 // worst)  # only the calls that fit were made
    assert e.budget_usd == pytest.approx(0.0004) and e.spent_usd == pytest.approx(len(made) * worst / 1e9)
    assert e.spent_usd + e.requested_usd > e.budget_usd
    b = wf.get_cost_breakdown_sync()
    assert b["total_nanos"] <= 400_000 and b["refused_calls"] == 1
    assert engine.execution(wf.execution_id)["execution"]["status"] == "budget_exceeded"


def test_execute_sync_and_plain_functions(engine):
    wf = WfloWorkflow(name="sync", budget_usd=1, engine=engine)
    assert wf.execute_sync(lambda inputs: call().seq + inputs, 10) == 11
    first = wf.execution_id

    async def agent(_):
        return call().cost_nanos

    # a workflow is one execution: executing again reopens it (same id, budget and spend);
    # an async target gets an event loop of its own
    assert wf.execute_sync(agent) == wflo.cost(MODEL, input=100, output=50)
    assert wf.execution_id == first and len(wf.calls()) == 2
    assert engine.execution(first)["execution"]["status"] == "completed"


async def test_plain_function_runs_off_the_event_loop(engine):
    wf = WfloWorkflow(name="thread", engine=engine)
    loop_thread = threading.get_ident()

    def blocking_agent(_):
        assert threading.get_ident() != loop_thread
        return call().seq

    ticks = []

    async def ticker():
        for _ in range(5):
            ticks.append(1)
            await asyncio.sleep(0)

    seq, _ = await asyncio.gather(wf.execute(blocking_agent), ticker())
    assert seq == 1 and len(ticks) == 5


async def test_checkpoint_decorator_and_rollback_as_the_seed_documents(engine):
    wf = WfloWorkflow(name="ckpt", budget_usd=2.0, engine=engine)

    @checkpoint(name="data_processed")
    async def process_data(data):
        return {"rows": data, "clean": True}

    @checkpoint(name="analysis_complete")
    def analyze_data(processed):
        return {"mean": sum(processed["rows"]) / len(processed["rows"])}

    async def flow(data):
        processed = await process_data(data)
        return await asyncio.to_thread(analyze_data, processed)

    assert await wf.execute(flow, [1, 2, 3]) == {"mean": 2.0}
    names = [(c["name"], c["superseded"]) for c in wf.checkpoints()]
    assert names == [("data_processed", False), ("analysis_complete", False)]
    previous = await wf.rollback_to_checkpoint("data_processed")
    assert previous == {"rows": [1, 2, 3], "clean": True}
    assert [c["superseded"] for c in wf.checkpoints()] == [False, True]
    assert await wf.latest_checkpoint() == previous
    with pytest.raises(wflo.NotFoundError):
        await wf.rollback_to_checkpoint("never-saved")


def test_checkpoints_by_id_sync_and_bad_ids_are_typed(engine):
    wf = WfloWorkflow(name="ckpt-ids", engine=engine)
    first = wf.checkpoint_sync("one", {"n": 1, "text": "é \u0000 ok"})
    second = wf.checkpoint_sync("two", [1, 2.5, None])
    assert second["id"] != first["id"] and second["parent_id"] == first["id"]
    assert wf.checkpoint_state(first["id"]) == {"n": 1, "text": "é \u0000 ok"}
    assert wf.checkpoint_state(second["id"]) == [1, 2.5, None]
    other = WfloWorkflow(name="other", engine=engine)
    other.checkpoint_sync("mine", {})
    with pytest.raises(wflo.NotFoundError):
        other.checkpoint_state(first["id"])  # another execution's checkpoint
    with pytest.raises(wflo.InvalidArgumentError):
        wf.checkpoint_state(-1)
    with pytest.raises(wflo.InvalidArgumentError):
        wf.checkpoint_sync("", {})
    with pytest.raises(wflo.InvalidArgumentError):
        wf.checkpoint_sync("bad\0name", {})
    # Nothing refused above changed what was saved.
    assert [c["name"] for c in wf.checkpoints()] == ["one", "two"]


async def test_steps_attribute_calls_and_have_budgets(engine):
    wf = WfloWorkflow(name="steps", engine=engine)

    async def agent(_):
        async with wf.step("research"):
            call()
            await asyncio.gather(*(asyncio.to_thread(call) for _ in range(3)))  # threads inherit
        with wf.step_sync("write", budget_usd=Decimal("0.00001")):
            with pytest.raises(BudgetExceededError) as err:
                call(10_000, 10, 10_000)
            assert err.value.scope == "write"
        call()

    await wf.execute(agent)
    steps = {s["step"]: s for s in wf.get_cost_breakdown_sync()["by_step"]}
    one = wflo.cost(MODEL, input=100, output=50)
    assert steps["research"]["cost_nanos"] == 4 * one and steps["research"]["calls"] == 4
    assert steps["write"]["cost_nanos"] == 0


async def test_a_step_is_a_scope_object_and_children_nest_under_its_budget(engine):
    wf = WfloWorkflow(name="scopes", budget_usd="1", engine=engine)
    small = {"model": MODEL, "input_tokens": 10, "max_output_tokens": 10}

    async def agent(_):
        async with wf.step("research", budget_usd="0.0001") as research:
            assert isinstance(research, wflo.Scope) and research.label == "research" and research.workflow is wf
            # The parent's budget refuses what the child, with none of its own, asks.
            with research.step_sync("search") as search:
                with pytest.raises(BudgetExceededError) as err:
                    call(100, 10, 1000)
                assert err.value.scope == "research"
            async with research.step("search") as search:
                assert search.label == "search"
                call(10, 5, 10)  # the running step, by default
        write = wf.scope("write")
        assert wf.scope("write") is write  # the same label, the same scope
        made = write.reserve_request("openai_chat", {"model": MODEL, "max_tokens": 5,
                                                     "messages": [{"role": "user", "content": "hi"}]})
        made.reservation.settle(input=8, output=2)
        (await write.reserve_async(**small)).release()
        other = WfloWorkflow(name="other", engine=engine)
        with pytest.raises(wflo.InvalidArgumentError):
            other.reserve(scope=write, **small)
        with pytest.raises(wflo.InvalidArgumentError):
            wf.scope("")

    await wf.execute(agent)
    assert [(c["step"], c["status"]) for c in wf.calls()] == [
        ("search", "refused"), ("search", "ok"), ("write", "ok"), ("write", "error")]
    b = await wf.breakdown()
    assert await wf.get_cost_breakdown() == b  # the seed's name, kept
    assert sorted(s["step"] for s in b["by_step"]) == ["search", "write"]


async def test_twenty_concurrent_executions_never_mix(engine):
    async def agent(n):
        for i in range(n):
            call(10 * n, i + 1)
            await asyncio.sleep(0)
        return wflo.current_workflow()

    async def run(n):
        wf = WfloWorkflow(name=f"task-{n}", budget_usd=1, engine=engine)
        assert await wf.execute(agent, n) is wf
        return n, wf

    for n, wf in await asyncio.gather(*(run(n) for n in range(1, 21))):
        calls = wf.calls()
        assert len(calls) == n
        assert sum(c["cost_nanos"] for c in calls) == sum(wflo.cost(MODEL, input=10 * n, output=i + 1) for i in range(n))


def test_twenty_threads_with_their_own_executions_never_mix(engine):
    results = {}

    def worker(n):
        wf = WfloWorkflow(name=f"thread-{n}", engine=engine)
        wf.execute_sync(lambda k: [call(k, 1) for _ in range(k)], n)
        results[n] = wf

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 21)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, wf in results.items():
        assert wf.get_cost_breakdown_sync()["total_nanos"] == n * wflo.cost(MODEL, input=n, output=1)


def test_context_executor_carries_the_workflow_into_worker_threads(engine):
    wf = WfloWorkflow(name="pool", engine=engine)

    def agent(_):
        with wflo.ContextThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda _: wflo.current_workflow() is wf and call().cost_nanos > 0, range(8)))

    assert wf.execute_sync(agent) == [True] * 8
    assert len(wf.calls()) == 8
    # a plain thread pool does not carry context: its calls are simply outside any workflow
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert wf.execute_sync(lambda _: pool.submit(wflo.current_workflow).result()) is None


async def test_bad_input_gets_typed_errors_and_loses_nothing(engine):
    with pytest.raises(wflo.InvalidArgumentError):
        WfloWorkflow(name="neg", budget_usd=-1)
    with pytest.raises(wflo.InvalidArgumentError):
        WfloWorkflow(name="nan", budget_usd=float("nan"))
    with pytest.raises(wflo.InvalidArgumentError):
        WfloWorkflow(name="text", budget_usd="two dollars")
    with pytest.raises(wflo.InvalidArgumentError):
        WfloWorkflow(name="bool", budget_usd=True)

    wf = WfloWorkflow(name="bad", budget_usd=1, engine=engine)
    await wf.start()
    call(wf=wf)
    await wf.checkpoint("good", {"step": 1})
    with pytest.raises(wflo.InvalidArgumentError, match="not JSON-serialisable"):
        await wf.checkpoint("bad", {"handle": object()})
    with pytest.raises(wflo.InvalidArgumentError):
        wf.checkpoint_sync("nan", {"x": float("nan")})
    with pytest.raises(wflo.UnknownModelError) as err:
        wf.reserve(model="gpt-4o-minii", input_tokens=10)
    assert "gpt-4o-mini" in err.value.suggestions
    with pytest.raises(wflo.InvalidArgumentError):
        wf.reserve(model=MODEL, input_tokens=-3)
    with pytest.raises(wflo.InvalidArgumentError):
        wf.reserve(model=MODEL, input_tokens="many")
    with pytest.raises(wflo.InvalidArgumentError):
        wf.reserve(model=MODEL, cache_write="forever")
    r = wf.reserve(model=MODEL, input_tokens=10, max_output_tokens=10)
    with pytest.raises(wflo.InvalidArgumentError):
        r.settle(input=-1)
    with pytest.raises(wflo.InvalidArgumentError):
        r.settle_json("openai_chat", "{not json")
    r.settle(input=10, output=5)  # still held after the bad attempts
    with pytest.raises(wflo.ConflictError):
        r.settle(input=10, output=5)
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.cost(MODEL, input=-1)
    with pytest.raises(TypeError):  # a misspelt keyword, as for any Python function
        wflo.cost(MODEL, inptu=1)
    with pytest.raises(wflo.InvalidArgumentError):
        await wf.execute(42)
    # what was recorded before the bad input is intact
    assert [c["name"] for c in wf.checkpoints()] == ["good"]
    assert len([c for c in wf.calls() if c["status"] == "ok"]) == 2
    assert await wf.rollback_to_checkpoint("good") == {"step": 1}


def test_errors_are_one_hierarchy_with_stable_codes():
    for cls, code in [(wflo.BudgetExceededError, "BUDGET_EXCEEDED"), (wflo.UnknownModelError, "UNKNOWN_MODEL"),
                      (wflo.InvalidArgumentError, "INVALID_ARGUMENT"), (wflo.NotFoundError, "NOT_FOUND"),
                      (wflo.StorageError, "STORAGE"), (wflo.ClosedError, "CLOSED")]:
        assert issubclass(cls, wflo.WfloError) and cls.code == code
    assert issubclass(wflo.InvalidArgumentError, ValueError)


def test_an_unsettled_reservation_is_released_not_leaked(engine):
    wf = WfloWorkflow(name="leak", budget_usd="0.001", engine=engine).start_sync()
    r = wf.reserve(model=MODEL, input_tokens=1000, max_output_tokens=1000)
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == r.amount_nanos > 0
    del r
    b = wf.get_cost_breakdown_sync()
    assert b["reserved_nanos"] == 0 and b["total_nanos"] == 0
    assert [c["status"] for c in wf.calls()] == ["aborted"]


def test_resume_after_a_crash(tmp_path):
    """A process that dies mid-workflow loses nothing it recorded: another one resumes."""
    db = tmp_path / "crash.db"
    child = f"""
import os, wflo
wf = wflo.WfloWorkflow("crashy", budget_usd=1, engine=wflo.Engine.open({str(db)!r})).start_sync()
for i in range(3):
    with wf.reserve(model={MODEL!r}, input_tokens=100, max_output_tokens=100) as r:
        r.settle(input=100, output=50)
wf.checkpoint_sync("after-3", {{"done": 3}})
print(wf.execution_id, flush=True)
os._exit(1)  # no close, no flush, no finish
"""
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr
    exec_id = out.stdout.strip()
    with wflo.Engine.open(str(db)) as eng:
        wf = WfloWorkflow.resume(exec_id, engine=eng)
        assert wf.name == "crashy" and wf.budget_usd == 1.0
        assert wf.latest_checkpoint_sync() == {"done": 3}
        assert wf.get_cost_breakdown_sync()["total_nanos"] == 3 * wflo.cost(MODEL, input=100, output=50)
        with wf.reserve(model=MODEL, input_tokens=100, max_output_tokens=100) as r:
            assert r.settle(input=100, output=50).seq == 4
        wf.finish_sync()
        assert eng.execution(exec_id)["execution"]["status"] == "completed"


def test_default_engine_comes_from_the_environment(tmp_path):
    db = tmp_path / "env.db"
    code = f"""
import asyncio, wflo
from wflo.sdk.workflow import WfloWorkflow
wf = WfloWorkflow(name="env", budget_usd=1)
asyncio.run(wf.execute(lambda _: None, None))
print(wf.execution_id)
"""
    env = dict(os.environ, DATABASE_URL=f"sqlite://{db}")
    env.pop("WFLO_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    with wflo.Engine.open(str(db)) as eng:
        assert eng.execution(out.stdout.strip())["execution"]["name"] == "env"


def test_pure_helpers():
    assert wflo.count_tokens("gpt-4o", "hello world").tokens == 2
    assert wflo.cost("gpt-4o", wflo.Usage(input=1_000_000)) == 2_500_000_000
    assert wflo.cost_usd("gpt-4o", input=1_000_000, output=1_000_000) == pytest.approx(12.5)
    assert wflo.price("gpt-4o")["resolved"] == "gpt-4o"
    u = wflo.parse_usage({"usage": {"prompt_tokens": 10, "completion_tokens": 3,
                                    "prompt_tokens_details": {"cached_tokens": 4}}})
    assert u == wflo.Usage(input=6, cache_read=4, output=3)
    assert json.loads(json.dumps(wflo.price("claude-sonnet-4-6")))["resolved"].startswith("claude")


def _wrapped(inner: BaseException) -> BaseException:
    """``inner`` as a framework re-raises it: inside its own exception, as the context."""
    try:
        try:
            raise inner
        except BaseException:
            raise RuntimeError("the framework's own error")
    except RuntimeError as e:
        return e


@pytest.mark.parametrize("error, status", [
    (None, "completed"),
    (lambda: RuntimeError("a foreign error"), "failed"),
    (lambda: wflo.BudgetExceededError("refused"), "budget_exceeded"),
    (lambda: _wrapped(wflo.BudgetExceededError("refused")), "budget_exceeded"),
    (lambda: _wrapped(wflo.StorageError("disk full")), "failed"),
])
def test_the_engine_chooses_how_an_execution_ends(engine, error, status):
    wf = WfloWorkflow("ends", engine=engine)
    wf.start_sync()
    assert wf.end_sync(error() if error else None) == status
    assert wf.get_cost_breakdown_sync()["status"] == status
    assert wf.end_sync() is None  # ended once


def test_the_wflo_codes_along_an_error_chain():
    from wflo.errors import codes_of

    error = wflo.InternalError("outer")
    error.__cause__ = _wrapped(wflo.BudgetExceededError("refused"))
    assert codes_of(error) == ["INTERNAL", "BUDGET_EXCEEDED"]
    assert codes_of(ValueError("foreign")) == []
