"""The seed SDK's API beyond its overview page, run from the installed wheel: its constructor
arguments (``per_agent_budgets``, ``max_iterations``, ``enable_checkpointing``,
``enable_observability``), methods (``check_budget``, ``rollback_to_last_checkpoint``,
``list_checkpoints``, ``get_trace_id``), ``checkpoint_after_agent``, ``wflo.sdk.context`` and the
``wflo.sdk`` re-exports — each with its meaning on the engine, checked against the engine's own
records (and the mock's request counter where a call is refused)."""
from __future__ import annotations

import datetime
import re
import types

import openai
import pytest

import wflo

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Say hello."}]
REQUEST = {"model": MODEL, "messages": MESSAGES, "max_tokens": 20}


# Every test here leaves the SDKs as it found them (conftest.clean_patches).
pytestmark = pytest.mark.usefixtures("clean_patches")


def chat_calls(mock) -> int:
    return mock.stats().get("chat.completions", 0)


# -- imports -------------------------------------------------------------------------------------

def test_the_seed_sdks_import_paths():
    from wflo.sdk import BudgetExceededError, WfloWorkflow, checkpoint, track_llm_call
    from wflo.sdk import ExecutionContext as SdkExecutionContext
    from wflo.sdk import checkpoint_after_agent as sdk_after_agent
    from wflo.sdk import get_current_execution_id as sdk_current_id
    from wflo.sdk.context import ExecutionContext, get_current_execution_id
    from wflo.sdk.decorators import checkpoint as deco_checkpoint
    from wflo.sdk.decorators import checkpoint_after_agent
    from wflo.sdk.decorators import track_llm_call as deco_track
    from wflo.sdk.decorators.checkpoint import checkpoint as module_checkpoint
    from wflo.sdk.workflow import BudgetExceededError as workflow_error

    assert WfloWorkflow is wflo.WfloWorkflow and BudgetExceededError is wflo.BudgetExceededError
    assert workflow_error is wflo.BudgetExceededError
    assert track_llm_call is deco_track is wflo.track_llm_call
    assert checkpoint is deco_checkpoint is module_checkpoint is wflo.checkpoint
    import wflo.sdk.decorators as decorators

    # Importing the submodule wflo.sdk.decorators.checkpoint must not hide the decorator.
    assert decorators.checkpoint is wflo.checkpoint
    assert checkpoint_after_agent is sdk_after_agent is wflo.checkpoint_after_agent
    assert ExecutionContext is SdkExecutionContext is wflo.ExecutionContext
    assert get_current_execution_id is sdk_current_id is wflo.get_current_execution_id


# -- CALL_LIMIT ----------------------------------------------------------------------------------

def test_call_limit_is_a_typed_refusal():
    from wflo.errors import from_details, is_refusal

    e = from_details({"code": "CALL_LIMIT", "message": "no more calls", "execution": "exec-000000000001",
                      "max_calls": 3})
    assert type(e) is wflo.CallLimitError and isinstance(e, wflo.WfloError) and e.code == "CALL_LIMIT"
    assert (e.execution, e.max_calls) == ("exec-000000000001", 3)
    assert is_refusal(e)


# -- max_iterations ------------------------------------------------------------------------------

def test_max_iterations_defaults_to_100_and_refuses_the_101st_call(engine):
    wf = wflo.WfloWorkflow("capped", budget_usd=1, engine=engine).start_sync()
    assert wf.max_iterations == 100
    assert engine.execution(wf.execution_id)["execution"]["max_calls"] == 100
    for _ in range(100):
        reservation, _ = wf.reserve_request("openai_chat", REQUEST)
        reservation.settle(wflo.Usage(input=5, output=3))
    with pytest.raises(wflo.CallLimitError) as refused:
        wf.reserve_request("openai_chat", REQUEST)
    assert refused.value.max_calls == 100 and refused.value.execution == wf.execution_id
    b = wf.breakdown_sync()
    assert b["calls"] == 100 and b["reserved_nanos"] == 0


def test_max_iterations_refuses_before_the_request_is_sent(engine, mock):
    wflo.instrument()
    client = openai.OpenAI(base_url=mock.openai_base("reply=3"), api_key="x", max_retries=0)
    wf = wflo.WfloWorkflow("three", budget_usd=1, engine=engine, max_iterations=3)

    def agent(_):
        for _ in range(4):
            client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=10)

    before = chat_calls(mock)
    with pytest.raises(wflo.CallLimitError) as refused:
        wf.execute_sync(agent)
    assert refused.value.max_calls == 3
    assert chat_calls(mock) - before == 3  # the fourth never left
    b = wf.breakdown_sync()
    assert b["reserved_nanos"] == 0 and b["status"] == "failed"
    assert [c["status"] for c in wf.calls()] == ["ok", "ok", "ok", "refused"]


def test_max_iterations_none_is_no_cap_and_a_resumed_execution_keeps_its_cap(engine):
    free = wflo.WfloWorkflow("free", engine=engine, max_iterations=None).start_sync()
    assert "max_calls" not in engine.execution(free.execution_id)["execution"]
    wf = wflo.WfloWorkflow("two", engine=engine, max_iterations=2).start_sync()
    wf.reserve_request("openai_chat", REQUEST).reservation.settle(wflo.Usage(input=5, output=3))
    wf.finish_sync()
    again = wflo.WfloWorkflow.resume(wf.execution_id, engine=engine)
    assert again.max_iterations == 2
    again.reserve_request("openai_chat", REQUEST).reservation.settle(wflo.Usage(input=5, output=3))
    with pytest.raises(wflo.CallLimitError):
        again.reserve_request("openai_chat", REQUEST)
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(wflo.InvalidArgumentError):
            wflo.WfloWorkflow("bad", engine=engine, max_iterations=bad)


# -- per_agent_budgets ---------------------------------------------------------------------------

def test_per_agent_budgets_are_the_agents_scopes(engine):
    wf = wflo.WfloWorkflow("agents", budget_usd=1, engine=engine,
                           per_agent_budgets={"planner": "0.00002", "writer": 0.5})
    assert wf.per_agent_budgets == {"planner": 0.00002, "writer": 0.5}
    planner = dict(REQUEST, max_tokens=20)
    wf.reserve_request("openai_chat", planner, agent="planner").reservation.settle(wflo.Usage(input=8, output=20))
    with pytest.raises(wflo.BudgetExceededError) as refused:
        wf.reserve_request("openai_chat", planner, agent="planner")
    assert refused.value.scope == "agent:planner" and refused.value.limit_nanos == 20_000
    wf.reserve_request("openai_chat", planner, agent="writer").reservation.settle(wflo.Usage(input=8, output=20))
    steps = {s["step"]: s for s in wf.breakdown_sync()["by_step"]}
    assert steps["agent:planner"]["budget_nanos"] == 20_000 and steps["agent:planner"]["refused"] == 1
    assert steps["agent:writer"]["budget_nanos"] == 500_000_000 and steps["agent:writer"]["refused"] == 0
    stored = engine.execution(wf.execution_id)["execution"]["agent_budgets"]
    assert stored == {"planner": 20_000, "writer": 500_000_000}
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.WfloWorkflow("bad", engine=engine, per_agent_budgets={"planner": -1})


# -- enable_checkpointing / enable_observability -------------------------------------------------

async def test_enable_checkpointing_false_makes_checkpoint_calls_no_ops(engine):
    wf = wflo.WfloWorkflow("no-checkpoints", budget_usd=1, engine=engine, enable_checkpointing=False)

    @wflo.checkpoint(name="step")
    async def step(_):
        return {"done": True}

    async def run(_):
        assert await step(None) == {"done": True}  # the function still runs and returns
        assert await wf.checkpoint("manual", {"x": 1}) is None
        assert wf.checkpoint_sync("manual-sync", {"x": 2}) is None
        return "ok"

    assert await wf.execute(run) == "ok"
    assert wf.checkpoints() == [] and wf.list_checkpoints() == []
    assert await wf.rollback_to_last_checkpoint() is None
    assert engine.execution(wf.execution_id)["checkpoints"] == []
    on = wflo.WfloWorkflow("checkpoints", budget_usd=1, engine=engine)
    assert (await on.checkpoint("manual", {"x": 1}))["name"] == "manual"


@pytest.mark.parametrize("observability", [True, False])
def test_enable_observability_is_accepted_and_the_records_kept(engine, observability):
    wf = wflo.WfloWorkflow("observed", budget_usd=1, engine=engine, enable_observability=observability)
    assert wf.enable_observability is observability
    wf.execute_sync(lambda _: wf.reserve_request("openai_chat", REQUEST).reservation.settle(wflo.Usage(5, 3)))
    assert wf.breakdown_sync()["calls"] == 1 and re.fullmatch(r"[0-9a-f]{32}", wf.get_trace_id())


# -- check_budget --------------------------------------------------------------------------------

async def test_check_budget_raises_once_spend_has_passed_the_budget(engine):
    wf = wflo.WfloWorkflow("checked", budget_usd="0.00001", engine=engine)
    await wf.check_budget()  # nothing to check before it starts
    await wf.start()
    await wf.check_budget()
    # A call recorded without a reservation (made outside wflo's view) can pass the budget.
    wf.record_call(MODEL, {"usage": {"prompt_tokens": 10, "completion_tokens": 10}}, "openai_chat")
    await wf.check_budget()  # 7,500 of 10,000 nano-USD: still under
    wf.record_call(MODEL, {"usage": {"prompt_tokens": 10, "completion_tokens": 10}}, "openai_chat")
    b = wf.breakdown_sync()
    assert b["total_nanos"] == 15_000 > b["budget_nanos"]
    with pytest.raises(wflo.BudgetExceededError) as over:
        await wf.check_budget()
    assert (over.value.spent_nanos, over.value.limit_nanos) == (15_000, 10_000)
    assert over.value.spent_usd == pytest.approx(0.000015) and over.value.budget_usd == pytest.approx(0.00001)
    assert over.value.scope == wf.execution_id
    with pytest.raises(wflo.BudgetExceededError):
        wf.check_budget_sync()


# -- checkpoints ---------------------------------------------------------------------------------

async def test_rollback_to_last_checkpoint_and_list_checkpoints(engine):
    wf = wflo.WfloWorkflow("rollbacks", budget_usd=1, engine=engine)
    assert wf.list_checkpoints() == [] and await wf.rollback_to_last_checkpoint() is None
    await wf.start()
    assert await wf.rollback_to_last_checkpoint() is None
    await wf.checkpoint("research", {"step": 1})
    await wf.checkpoint("draft", {"step": 2})
    assert await wf.rollback_to_last_checkpoint() == {"step": 2}
    await wf.checkpoint("review", {"step": 3})
    assert await wf.rollback_to_checkpoint("research") == {"step": 1}
    # draft and review are history now: the newest live one is research.
    assert await wf.rollback_to_last_checkpoint() == {"step": 1}
    listed = wf.list_checkpoints()
    assert [(c["name"], c["version"], c["superseded"]) for c in listed] == [
        ("research", 1, False), ("draft", 2, True), ("review", 3, True)]
    engine_view = wf.checkpoints()
    for mine, theirs in zip(listed, engine_view):
        created = datetime.datetime.fromisoformat(mine["created_at"])
        assert created.tzinfo is not None
        assert round(created.timestamp() * 1000) == theirs["created_at_ms"]
        assert mine["id"] == theirs["id"]
    assert len(engine.execution(wf.execution_id)["rollbacks"]) == 3


def test_checkpoint_after_agent_saves_the_agents_output(engine):
    seen = []
    task = types.SimpleNamespace(callback=seen.append)
    assert wflo.checkpoint_after_agent(task, agent_name="researcher") is task
    wf = wflo.WfloWorkflow("agents", budget_usd=1, engine=engine)
    wf.execute_sync(lambda _: task.callback(types.SimpleNamespace(raw="the findings")))
    assert [c["name"] for c in wf.list_checkpoints()] == ["agent_researcher"]
    state = wf.rollback_to_last_checkpoint_sync()
    assert state["agent"] == "researcher" and state["output"] == "the findings" and state["timestamp"] > 0
    assert len(seen) == 1  # the task's own callback ran too
    # The seed SDK's callbacks were coroutines; outside a workflow nothing is saved.
    awaited = []

    async def original(output):
        awaited.append(output)
        return "done"

    other = wflo.checkpoint_after_agent(types.SimpleNamespace(callback=original), "writer")
    assert other.callback("text") == "done" and awaited == ["text"]
    with pytest.raises(wflo.InvalidArgumentError):
        wflo.checkpoint_after_agent(object(), "x")


def test_checkpoint_without_parentheses(engine):
    @wflo.checkpoint
    def plan(_):
        return {"plan": [1, 2]}

    wf = wflo.WfloWorkflow("bare", budget_usd=1, engine=engine)
    wf.execute_sync(plan)
    assert wf.rollback_to_checkpoint_sync("plan") == {"plan": [1, 2]}


# -- get_trace_id, ExecutionContext --------------------------------------------------------------

def test_get_trace_id(engine):
    chosen = wflo.WfloWorkflow("traced", engine=engine, execution_id="exec-00000000abcd")
    assert chosen.get_trace_id() == "exec-00000000abcd"  # no trace yet: the execution id
    assert wflo.WfloWorkflow("fresh", engine=engine).get_trace_id() is None
    chosen.start_sync()
    assert re.fullmatch(r"[0-9a-f]{32}", chosen.get_trace_id())
    joined = wflo.WfloWorkflow("joined", engine=engine,
                               traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").start_sync()
    assert joined.get_trace_id() == "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_execution_context_and_get_current_execution_id(engine):
    from wflo.sdk.context import ExecutionContext, get_current_execution_id, get_current_workflow_name

    assert get_current_execution_id() is None
    with ExecutionContext("exec-0000000000aa", "outer") as ctx:
        assert ctx.execution_id == "exec-0000000000aa"
        assert (get_current_execution_id(), get_current_workflow_name()) == ("exec-0000000000aa", "outer")
        async with ExecutionContext("exec-0000000000bb"):
            assert get_current_execution_id() == "exec-0000000000bb"
        assert get_current_execution_id() == "exec-0000000000aa"
        wf = wflo.WfloWorkflow("running", engine=engine)
        inside = await wf.execute(lambda _: (get_current_execution_id(), get_current_workflow_name()))
        assert inside == (wf.execution_id, "running")  # the running workflow comes first
    assert get_current_execution_id() is None
