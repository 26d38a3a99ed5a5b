"""Pydantic AI (pydantic-ai-slim[openai]) through wflo's WrapperModel, against `wflo mock-llm`.

Each model request is reserved before it is sent and settled from the response's usage — the
recorded cost equals wflo.cost() of the usage the mock returned, mapped here by hand —
charged to the agent by name (scope `agent:<name>`); a request that could overspend raises
wflo's BudgetExceededError out of agent.run with no request reaching the mock; a streamed run
settles once.
"""
from __future__ import annotations

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

import wflo
from wflo.integrations.pydantic_ai import WfloModel

MODEL = "gpt-4o-mini"


def model(mock, directives: str = "") -> WfloModel:
    client = AsyncOpenAI(base_url=mock.openai_base(directives), api_key="test-key", max_retries=0)
    return WfloModel(OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client)))


def usage_of(u) -> wflo.Usage:
    reasoning = (u.details or {}).get("reasoning_tokens", 0)
    return wflo.Usage(input=u.input_tokens - u.cache_read_tokens, output=u.output_tokens - reasoning,
                      cache_read=u.cache_read_tokens, reasoning=reasoning)


def workflow(engine, budget="1.00") -> wflo.WfloWorkflow:
    return wflo.WfloWorkflow("pydantic-ai-test", budget_usd=budget, engine=engine)


async def test_a_run_is_metered_and_charged_to_the_agent(mock, engine):
    agent = Agent(model(mock, "cached=3,reasoning=2,reply=8"), name="writer", instructions="Be brief.")
    wf = workflow(engine)
    before = mock.stats().get("chat.completions", 0)

    result = await wf.execute(lambda _: agent.run("Say hello"))

    (call,) = wf.calls()
    assert (call["step"], call["status"], call["estimated"], call["stream"]) == ("agent:writer", "ok", False, False)
    usage = usage_of(result.all_messages()[-1].usage)
    assert call["usage"]["cache_read"] == 3 and call["usage"]["reasoning"] == 2
    assert call["cost_nanos"] == wflo.cost(MODEL, usage) > 0
    assert wf.get_cost_breakdown_sync()["total_nanos"] == call["cost_nanos"]
    assert mock.stats()["chat.completions"] == before + 1


async def test_a_refusal_is_the_typed_error_the_run_raises(mock, engine):
    agent = Agent(model(mock), name="writer")
    wf = workflow(engine, budget="0.00001")
    before = mock.requests()

    with pytest.raises(wflo.BudgetExceededError):
        await wf.execute(lambda _: agent.run("Say hello"))

    assert mock.requests() == before
    assert [(c["status"], c["step"]) for c in wf.calls()] == [("refused", "agent:writer")]


async def test_a_streamed_run_settles_once(mock, engine):
    agent = Agent(model(mock, "reply=12"), name="streamer")
    wf = workflow(engine)

    async def run(_):
        async with agent.run_stream("Say hello") as streamed:
            text = await streamed.get_output()
            return text, streamed.usage

    text, _ = await wf.execute(run)
    assert text
    (call,) = wf.calls()
    assert (call["step"], call["status"], call["stream"], call["estimated"]) == ("agent:streamer", "ok", True, False)
    assert call["usage"]["output"] > 0
    assert call["cost_nanos"] == wflo.cost(MODEL, wflo.Usage(**call["usage"])) > 0


async def test_outside_a_workflow_requests_pass_through(mock, engine):
    agent = Agent(model(mock, "reply=3"), name="free")
    before = mock.stats().get("chat.completions", 0)
    result = await agent.run("hi")
    assert result.output
    assert mock.stats()["chat.completions"] == before + 1
