"""CrewAI crews run by `workflow.execute(crew, inputs)`, real Agents on `crewai.LLM` (CrewAI's
own OpenAI provider, openai 2.x) against `wflo mock-llm`: every call is billed at the mock's
usage (streamed too, or estimated without it), a call that could overspend is refused before
any request leaves and the caller gets BudgetExceededError — even when the crew swallowed it —,
kickoff never blocks the event loop, concurrent executions stay apart, the budget a call sees no
longer holds the previous call's worst case, and a failed kickoff still books what it spent."""
from __future__ import annotations

import asyncio
import time

import pytest
from crewai import LLM, Agent, Crew, Task
from crewai.events import LLMCallCompletedEvent, crewai_event_bus
from crewai.hooks import clear_before_llm_call_hooks
from crewai.tools import tool

import wflo
import wflo.integrations.crewai as wcrew

MODEL = "gpt-4o-mini"
BUDGET_FOR_ONE = "0.00012"
# CrewAI's deprecation notices about its own fields.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def crew_of(mock, directives: str = "", tasks: int = 1, **llm_args) -> Crew:
    """`tasks` agents, one task each, in sequence: one LLM call per task."""
    llm = LLM(model=f"openai/{MODEL}", base_url=mock.openai_base(directives), api_key="x", max_retries=0, **llm_args)
    agents = [Agent(role=f"Writer {i}", goal="Write one sentence", backstory="Terse.", llm=llm, max_iter=1)
              for i in range(tasks)]
    work = [Task(description=f"Describe {{topic}}, part {i}.", expected_output="One sentence.", agent=a)
            for i, a in enumerate(agents)]
    return Crew(agents=agents, tasks=work)


class Reported:
    """The usage CrewAI read from the mock's responses (its own LLMCallCompletedEvent)."""

    def __init__(self) -> None:
        self.usages: list = []

    def __call__(self, source, event) -> None:
        self.usages.append(dict(event.usage))

    def cost(self) -> int:
        """What they cost, the mock's OpenAI usage parsed by wflo's own OpenAI parser."""
        return sum(wflo.cost(MODEL, wflo.parse_usage({"usage": {
            "prompt_tokens": u["prompt_tokens"], "completion_tokens": u["completion_tokens"],
            "prompt_tokens_details": {"cached_tokens": u.get("cached_prompt_tokens", 0)},
            "completion_tokens_details": {"reasoning_tokens": u.get("reasoning_tokens", 0)}}}, "openai_chat"))
            for u in self.usages)


@pytest.fixture
def reported():
    r = Reported()
    crewai_event_bus.on(LLMCallCompletedEvent)(r)
    yield r
    crewai_event_bus.off(LLMCallCompletedEvent, r)


def status(engine, wf) -> str:
    return engine.execution(wf.execution_id)["execution"]["status"]


async def test_each_call_is_billed_the_mocks_usage(mock, engine, reported):
    wf = wflo.WfloWorkflow("crew", budget_usd=1.0, engine=engine)
    before = mock.requests()
    result = await wf.execute(crew_of(mock, "reply=10,cached=4,reasoning=3", tasks=2), {"topic": "tokens"})

    assert "mock" in str(result)
    calls = wf.calls()
    assert mock.requests() - before == len(calls) == len(reported.usages) == 2
    assert all(c["status"] == "ok" and not c["estimated"] for c in calls)
    # Disjoint fields: the 4 cached prompt tokens and the 3 reasoning tokens are each counted once.
    assert all((c["usage"]["cache_read"], c["usage"]["reasoning"], c["usage"]["output"]) == (4, 3, 10) for c in calls)
    assert wf.get_cost_breakdown_sync()["total_nanos"] == reported.cost() > 0
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0
    assert status(engine, wf) == "completed"


async def test_with_instrument_active_each_call_is_billed_once(mock, engine, reported):
    """CrewAI's provider calls the openai SDK, which `wflo.instrument()` also meters: the hook
    marks the request as its own, so it is not billed twice — while an SDK call the agent's
    code makes itself is still metered."""
    import openai

    wflo.instrument()
    try:
        wf = wflo.WfloWorkflow("crew+instrument", budget_usd=1.0, engine=engine)
        await wf.execute(crew_of(mock, "reply=10", tasks=2), {"topic": "tokens"})
        calls = wf.calls()
        assert len(calls) == len(reported.usages) == 2
        assert wf.get_cost_breakdown_sync()["total_nanos"] == reported.cost()

        def direct(_):
            client = openai.OpenAI(base_url=mock.openai_base("reply=5"), api_key="x", max_retries=0)
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=20)

        wf.execute_sync(direct)
        assert len(wf.calls()) == 3
    finally:
        wflo.uninstrument()


async def test_a_call_that_could_overspend_is_refused_before_the_request(mock, engine):
    # The first reply (150 tokens) leaves less than the second call's worst case (200 output
    # tokens): the second agent's call is refused and never reaches the mock.
    wf = wflo.WfloWorkflow("tight", budget_usd="0.0002", engine=engine)
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError) as err:
        await wf.execute(crew_of(mock, "reply=150", tasks=2, max_tokens=200), {"topic": "budgets"})

    assert mock.requests() - before == 1
    calls = wf.calls()
    assert [c["status"] for c in calls] == ["ok", "refused"]
    assert err.value.budget_usd == pytest.approx(0.0002)
    assert err.value.spent_nanos == calls[0]["cost_nanos"] > 0
    assert err.value.spent_usd == pytest.approx(calls[0]["cost_nanos"] / 1e9)
    assert status(engine, wf) == "budget_exceeded"


async def test_a_refusal_the_crew_swallowed_still_reaches_the_caller(mock, engine):
    # A step of the crew (here a before-kickoff callback) catches the refusal of a large call
    # (no max_tokens: up to 16384 output tokens) and carries on; the crew completes, and the
    # caller still learns that the budget refused a call.
    big = LLM(model=f"openai/{MODEL}", base_url=mock.openai_base(), api_key="x", max_retries=0)
    caught = []

    def summarise_first(inputs):
        try:
            big.call("Summarise everything first.")
        except wflo.BudgetExceededError as e:
            caught.append(e)
        return inputs

    crew = crew_of(mock, "reply=5", max_tokens=50)
    crew.before_kickoff_callbacks.append(summarise_first)
    wf = wflo.WfloWorkflow("swallowed", budget_usd="0.001", engine=engine)
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError) as err:
        await wf.execute(crew, {"topic": "anything"})
    assert caught and err.value is caught[0]
    assert mock.requests() - before == 1  # the agent's small call only
    assert sorted(c["status"] for c in wf.calls()) == ["ok", "refused"]
    assert status(engine, wf) == "budget_exceeded"


async def test_a_budget_too_small_for_any_call_sends_nothing(mock, engine):
    wf = wflo.WfloWorkflow("broke", budget_usd="0.000001", engine=engine)
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(crew_of(mock), {"topic": "nothing"})
    assert mock.requests() == before
    assert [c["status"] for c in wf.calls()] == ["refused"]
    assert status(engine, wf) == "budget_exceeded"


@pytest.mark.parametrize("directives, estimated", [("reply=9", False), ("reply=9,cut=usage", True)])
async def test_a_streamed_call_settles_from_its_usage_or_is_estimated(mock, engine, directives, estimated):
    wf = wflo.WfloWorkflow("stream", budget_usd=1.0, engine=engine)
    await wf.execute(crew_of(mock, directives, stream=True), {"topic": "streams"})
    [call] = wf.calls()
    assert call["stream"] and call["status"] == "ok" and call["estimated"] is estimated
    assert call["usage"]["output"] > 0 and call["cost_nanos"] > 0
    if not estimated:
        assert call["usage"]["output"] == 9


async def test_a_model_wflo_cannot_price_is_not_called(mock, engine):
    llm = LLM(model="openai/no-such-model-7", base_url=mock.openai_base(), api_key="x", max_retries=0)
    agent = Agent(role="Writer", goal="Write", backstory="Terse.", llm=llm, max_iter=1)
    crew = Crew(agents=[agent], tasks=[Task(description="Write.", expected_output="Text.", agent=agent)])
    wf = wflo.WfloWorkflow("unknown", budget_usd=1.0, engine=engine)
    before = mock.requests()
    with pytest.raises(wflo.UnknownModelError):
        await wf.execute(crew, {})
    assert mock.requests() == before
    assert status(engine, wf) == "failed"


async def test_kickoff_does_not_block_the_event_loop(mock, engine):
    wf = wflo.WfloWorkflow("loop", budget_usd=1.0, engine=engine)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    started = time.monotonic()
    try:
        await wf.execute(crew_of(mock, "latency=600"), {"topic": "waiting"})
    finally:
        tick.cancel()
    assert time.monotonic() - started >= 0.6
    assert ticks >= 30  # the loop ran all along the 600 ms the mock took to answer


async def test_concurrent_executions_keep_their_own_calls(mock, engine):
    small = wflo.WfloWorkflow("small", budget_usd=1.0, engine=engine)
    large = wflo.WfloWorkflow("large", budget_usd=1.0, engine=engine)
    await asyncio.gather(small.execute(crew_of(mock, "reply=5,latency=200", tasks=2), {"topic": "a"}),
                         large.execute(crew_of(mock, "reply=40,latency=200", tasks=2), {"topic": "b"}))
    assert [c["usage"]["output"] for c in small.calls()] == [5, 5]
    assert [c["usage"]["output"] for c in large.calls()] == [40, 40]
    assert status(engine, small) == status(engine, large) == "completed"


@pytest.fixture
def slow_settling(monkeypatch):
    """CrewAI settles wflo's calls on its handler pool: here that takes a whole second."""
    def slow(source, event):
        time.sleep(1.0)
        wcrew._on_completed(source, event)

    crewai_event_bus.off(LLMCallCompletedEvent, wcrew._on_completed)
    monkeypatch.setattr(wcrew, "install", lambda: None)
    crewai_event_bus.on(LLMCallCompletedEvent)(slow)
    yield
    crewai_event_bus.off(LLMCallCompletedEvent, slow)
    crewai_event_bus.on(LLMCallCompletedEvent)(wcrew._on_completed)


@tool("lookup")
def lookup(query: str) -> str:
    """Looks a fact up."""
    return "forty-two"


async def test_an_agents_next_call_sees_its_previous_one_settled(mock, engine, slow_settling):
    # The mock answers with a tool call every time: the agent calls the tool and the LLM again,
    # then (max_iter) CrewAI forces a final answer with a third call. The budget holds one worst
    # case (100 output tokens) but not two: the second call fits only once the first is settled
    # at its real, small cost; the third, after the second is settled, no longer fits.
    wf = wflo.WfloWorkflow("settled", budget_usd=BUDGET_FOR_ONE, engine=engine)
    crew = crew_of(mock, "tool=lookup,reply=5", max_tokens=100)
    crew.agents[0].tools = [lookup]
    crew.agents[0].max_iter = 2
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(crew, {"topic": "order"})
    assert mock.requests() - before == 2
    calls = wf.calls()  # in the order they were settled or refused
    assert [c["status"] for c in calls] == ["ok", "ok", "refused"]
    assert calls[1]["usage"]["input"] > calls[0]["usage"]["input"]  # the tool's result was sent
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0


async def test_a_failed_kickoff_still_books_the_calls_it_made(mock, engine, slow_settling):
    # A call made outside any agent, then the kickoff fails at once: CrewAI does not drain its
    # bus on that path, so the runner must wait for the call's event before ending the execution.
    llm = LLM(model=f"openai/{MODEL}", base_url=mock.openai_base("reply=7"), api_key="x", max_retries=0)

    def prepare_then_give_up(inputs):
        llm.call("Prepare the ground.")
        raise RuntimeError("the crew gave up")

    crew = crew_of(mock)
    crew.before_kickoff_callbacks.append(prepare_then_give_up)
    wf = wflo.WfloWorkflow("failed", budget_usd=1.0, engine=engine)
    with pytest.raises(RuntimeError, match="gave up"):
        await wf.execute(crew, {"topic": "nothing"})
    [call] = wf.calls()
    assert call["status"] == "ok" and call["usage"]["output"] == 7
    assert wf.get_cost_breakdown_sync()["reserved_nanos"] == 0
    assert status(engine, wf) == "failed"


async def test_an_agent_that_ran_before_wflo_was_installed_is_still_metered(mock, engine):
    crew = crew_of(mock, "reply=6")
    clear_before_llm_call_hooks()  # as if wflo had been imported after the crew first ran
    await asyncio.to_thread(crew.kickoff, inputs={"topic": "unmetered"})  # outside any workflow

    wf = wflo.WfloWorkflow("late", budget_usd=1.0, engine=engine)
    await wf.execute(crew, {"topic": "metered"})
    [call] = wf.calls()
    assert call["status"] == "ok" and call["usage"]["output"] == 6


def test_execute_sync_runs_the_crew_in_the_calling_thread(mock, engine):
    wf = wflo.WfloWorkflow("sync", budget_usd=1.0, engine=engine)
    wf.execute_sync(crew_of(mock, "reply=8"), {"topic": "sync"})
    [call] = wf.calls()
    assert call["usage"]["output"] == 8 and call["cost_nanos"] > 0
    assert status(engine, wf) == "completed"
