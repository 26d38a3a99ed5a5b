"""AutoGen teams and agents run by `workflow.execute`, their model client wrapped in
WfloChatCompletionClient, against `wflo mock-llm` through the real OpenAIChatCompletionClient:
costs are the mock's usage priced by wflo, a call that could overspend is refused before any
request leaves, the caller gets BudgetExceededError (not the team's RuntimeError), streams
settle from their usage (or are estimated without it), and concurrent executions stay apart."""
from __future__ import annotations

import asyncio

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core.models import ChatCompletionClient, UserMessage
from autogen_ext.models.openai import OpenAIChatCompletionClient

import wflo
from wflo.integrations.autogen import WfloChatCompletionClient

MODEL = "gpt-4o-mini"
# The mock answers as "gpt-4o-mini"; AutoGen expected the dated name and says so on every call.
pytestmark = pytest.mark.filterwarnings("ignore:Resolved model mismatch")

INFO = {"vision": False, "function_calling": True, "json_output": True, "family": "gpt-4o",
        "structured_output": True}


def client(mock, directives: str = "", **config) -> WfloChatCompletionClient:
    inner = OpenAIChatCompletionClient(model=MODEL, base_url=mock.openai_base(directives), api_key="x",
                                       model_info=INFO, max_retries=0, **config)
    return WfloChatCompletionClient(inner)


def team_of(model_client, agents: int = 2, turns: int = 2, **agent_args) -> RoundRobinGroupChat:
    members = [AssistantAgent(f"agent{i}", model_client=model_client, **agent_args) for i in range(agents)]
    return RoundRobinGroupChat(members, termination_condition=MaxMessageTermination(turns + 1))


def billed(messages) -> int:
    """What the replies' usage (as AutoGen read it from the mock) costs at wflo's prices."""
    return sum(wflo.cost(MODEL, input=m.models_usage.prompt_tokens, output=m.models_usage.completion_tokens)
               for m in messages if getattr(m, "models_usage", None))


async def test_a_team_is_billed_the_mocks_usage(mock, engine):
    wf = wflo.WfloWorkflow("team", budget_usd=1.0, engine=engine)
    before = mock.requests()
    result = await wf.execute(team_of(client(mock, "reply=12")), "Plan a trip.")

    replies = [m for m in result.messages if m.models_usage]
    assert len(replies) == 2 and mock.requests() - before == 2
    calls = wf.calls()
    assert [c["status"] for c in calls] == ["ok", "ok"]
    assert not any(c["estimated"] for c in calls)
    # Each call is the reply it produced: the mock's prompt count and its 12 reply tokens.
    assert [(c["usage"]["input"], c["usage"]["output"]) for c in calls] == [
        (m.models_usage.prompt_tokens, m.models_usage.completion_tokens) for m in replies]
    assert all(c["usage"]["output"] == 12 for c in calls)
    assert wf.get_cost_breakdown_sync()["total_nanos"] == billed(result.messages) > 0
    assert engine.execution(wf.execution_id)["execution"]["status"] == "completed"


async def test_a_call_that_could_overspend_is_refused_before_the_request(mock, engine):
    # The first reply (150 tokens) leaves less than the second call's worst case (200 output
    # tokens): the second call is refused, and only one request reaches the mock.
    wf = wflo.WfloWorkflow("tight", budget_usd="0.0002", engine=engine)
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError) as err:
        await wf.execute(team_of(client(mock, "reply=150", max_tokens=200), turns=3), "Write at length.")

    assert mock.requests() - before == 1
    calls = wf.calls()
    assert [c["status"] for c in calls] == ["ok", "refused"]
    assert err.value.budget_usd == pytest.approx(0.0002)
    assert err.value.spent_nanos == calls[0]["cost_nanos"] > 0
    assert err.value.requested_nanos > err.value.limit_nanos - err.value.spent_nanos
    assert engine.execution(wf.execution_id)["execution"]["status"] == "budget_exceeded"


async def test_a_budget_too_small_for_any_call_sends_nothing(mock, engine):
    wf = wflo.WfloWorkflow("broke", budget_usd="0.000001", engine=engine)
    agent = AssistantAgent("solo", model_client=client(mock))
    before = mock.requests()
    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(agent, "Hello?")
    assert mock.requests() == before
    assert [c["status"] for c in wf.calls()] == ["refused"]
    assert engine.execution(wf.execution_id)["execution"]["status"] == "budget_exceeded"


async def test_a_streamed_call_settles_from_the_usage_wflo_asks_for(mock, engine):
    wf = wflo.WfloWorkflow("stream", budget_usd=1.0, engine=engine)
    agent = AssistantAgent("streamer", model_client=client(mock, "reply=30"), model_client_stream=True)
    result = await wf.execute(agent, "Stream me something.")

    [call] = wf.calls()
    assert call["stream"] and call["status"] == "ok" and not call["estimated"]
    assert call["usage"]["output"] == 30
    assert call["cost_nanos"] == billed(result.messages) > 0


async def test_a_stream_that_ends_without_usage_is_estimated_not_free(mock, engine):
    wf = wflo.WfloWorkflow("cut", budget_usd=1.0, engine=engine)
    agent = AssistantAgent("streamer", model_client=client(mock, "reply=30,cut=usage"), model_client_stream=True)
    await wf.execute(agent, "Stream me something.")

    [call] = wf.calls()
    assert call["estimated"] and call["status"] == "ok"
    assert call["usage"]["output"] > 0 and call["cost_nanos"] > 0


async def test_concurrent_executions_keep_their_own_calls(mock, engine):
    small = wflo.WfloWorkflow("small", budget_usd=1.0, engine=engine)
    large = wflo.WfloWorkflow("large", budget_usd=1.0, engine=engine)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    tick = asyncio.create_task(ticker())
    try:
        a, b = await asyncio.gather(
            small.execute(team_of(client(mock, "reply=5,latency=150"), turns=3), "short"),
            large.execute(team_of(client(mock, "reply=40,latency=150"), turns=3), "long"))
    finally:
        tick.cancel()

    assert ticks > 20  # both teams waited on the mock at the same time, the loop kept running
    assert [c["usage"]["output"] for c in small.calls()] == [5, 5, 5]
    assert [c["usage"]["output"] for c in large.calls()] == [40, 40, 40]
    assert small.get_cost_breakdown_sync()["total_nanos"] == billed(a.messages)
    assert large.get_cost_breakdown_sync()["total_nanos"] == billed(b.messages)


def test_execute_sync_runs_an_agent_in_its_own_loop(mock, engine):
    wf = wflo.WfloWorkflow("sync", budget_usd=1.0, engine=engine)
    result = wf.execute_sync(AssistantAgent("solo", model_client=client(mock, "reply=7")), "Hi")
    [call] = wf.calls()
    assert call["usage"]["output"] == 7 and call["cost_nanos"] == billed(result.messages)


async def test_outside_a_workflow_the_client_is_the_inner_client(mock, engine):
    wrapped = client(mock, "reply=9")
    result = await wrapped.create([UserMessage(content="Hello", source="user")])
    assert result.usage.completion_tokens == 9
    assert wrapped.total_usage().completion_tokens == 9 == wrapped.inner.total_usage().completion_tokens
    assert wrapped.model_info["family"] == "gpt-4o"

    # It serialises as a component holding the inner client's, and loads back.
    loaded = ChatCompletionClient.load_component(wrapped.dump_component())
    assert isinstance(loaded, WfloChatCompletionClient)
    assert isinstance(loaded.inner, OpenAIChatCompletionClient)
    await wrapped.close()
